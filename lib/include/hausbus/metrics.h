/* Per-process counters and the JSON snapshot every component publishes, retained, on
 * hausbus/v1/metrics/<name> (docs/PROTOCOL.md, "Metrics"). Pure: no I/O, no clock. */
#ifndef HAUSBUS_METRICS_H
#define HAUSBUS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hausbus/err.h"

#define HB_METRICS_TOPICS_MAX 64     /* topics counted per direction; more go to overflow */
#define HB_METRICS_TOPIC_LEN 128     /* bytes with the NUL; longer topics go to overflow */
#define HB_HISTOGRAM_BUCKETS_MAX 32 /* bounds per histogram; the saga steps use 23 */

/* Message counts per exact topic, in a fixed table: a component's topics are a small
 * known set, and the cap keeps a stray publisher from growing the snapshot. */
struct hb_topic_counts {
    size_t n;
    uint64_t overflow; /* messages on topics that did not fit */
    struct {
        char topic[HB_METRICS_TOPIC_LEN];
        uint64_t count;
    } rows[HB_METRICS_TOPICS_MAX];
};

struct hb_metrics {
    char component[32];
    int64_t started_ms; /* wall clock at process start: a change means counters reset */
    struct hb_topic_counts handled;   /* messages taken in, per topic */
    struct hb_topic_counts published; /* outbox messages the broker acknowledged, per topic */
    uint64_t dead_letters;
    uint64_t handler_errors; /* handlers that failed with something else than a bad message */
    uint64_t batches_in;       /* batch messages taken in (a lone event is not a batch) */
    uint64_t batch_events_in;  /* the events in them */
    uint64_t batches_out;      /* batch messages the broker acknowledged */
    uint64_t batch_events_out; /* the events in them */
    uint64_t commits;          /* transactions that applied messages (group commits) */
    uint64_t events_committed; /* the events those transactions applied */
};

/* A cumulative histogram with fixed upper bounds (ascending) and an implicit +Inf. */
struct hb_histogram {
    size_t n_le;
    double le[HB_HISTOGRAM_BUCKETS_MAX];
    uint64_t counts[HB_HISTOGRAM_BUCKETS_MAX]; /* observations <= le[i] (cumulative) */
    uint64_t count;                            /* all observations, the +Inf bucket */
    double sum;
};

/* Zeroes m and sets its name (cut at 31 bytes) and start time. Can't fail. */
void hb_metrics_init(struct hb_metrics *m, const char *component, int64_t started_ms);

/* The row index of topic, adding it when there is room; -1 when the table is full or
 * the topic too long (the caller then counts it as overflow). Can't fail otherwise. */
int hb_topic_counts_slot(struct hb_topic_counts *t, const char *topic);

/* Adds one message on row slot (from hb_topic_counts_slot), or to overflow for -1. */
void hb_topic_counts_bump(struct hb_topic_counts *t, int slot);

/* Adds one message on topic: hb_topic_counts_slot then hb_topic_counts_bump. */
void hb_topic_counts_add(struct hb_topic_counts *t, const char *topic);

/* Writes ms (unix epoch milliseconds) as "YYYY-MM-DDTHH:MM:SS.mmmZ". Returns
 * HB_ERR_INVAL when cap is under 25 bytes or the time cannot be represented. */
hb_err_t hb_iso8601_ms(int64_t ms, char *out, size_t cap);

/* Builds the snapshot {"component","time","startedAt","handled","published",
 * "deadLetters","handlerErrors","duplicates","outboxPending","topicOverflow","batches"} at
 * now_ms; "batches" is {"in","eventsIn","out","eventsOut","commits","eventsCommitted"}.
 * Returns a new object the caller owns, NULL on allocation failure. */
cJSON *hb_metrics_json(const struct hb_metrics *m, int64_t now_ms, int64_t duplicates,
                       int64_t outbox_pending);

/* Sets up h with n_le ascending bounds (n_le is cut to HB_HISTOGRAM_BUCKETS_MAX). */
void hb_histogram_init(struct hb_histogram *h, const double *le, size_t n_le);

/* Records one value: every bucket whose bound is >= value, and count and sum. */
void hb_histogram_observe(struct hb_histogram *h, double value);

/* Adds n observations summing to sum that fell into bucket index (the first bound they
 * are <= to; n_le or more for over every bound): for aggregates kept elsewhere. */
void hb_histogram_add_bucket(struct hb_histogram *h, size_t index, uint64_t n, double sum);

/* {"le":[...],"counts":[...cumulative...],"count":n,"sum":s}; NULL on allocation failure. */
cJSON *hb_histogram_json(const struct hb_histogram *h);

#endif
