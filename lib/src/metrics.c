/* Counting messages per topic and building the metrics snapshot (see metrics.h). */
#include "hausbus/metrics.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void hb_metrics_init(struct hb_metrics *m, const char *component, int64_t started_ms)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->component, sizeof(m->component), "%s", component ? component : "");
    m->started_ms = started_ms;
}

int hb_topic_counts_slot(struct hb_topic_counts *t, const char *topic)
{
    if (!topic) {
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->rows[i].topic, topic) == 0) {
            return (int)i;
        }
    }
    size_t len = strlen(topic);
    if (t->n >= HB_METRICS_TOPICS_MAX || len == 0 || len >= HB_METRICS_TOPIC_LEN) {
        return -1;
    }
    memcpy(t->rows[t->n].topic, topic, len + 1);
    t->rows[t->n].count = 0;
    return (int)t->n++;
}

void hb_topic_counts_bump(struct hb_topic_counts *t, int slot)
{
    if (slot >= 0 && (size_t)slot < t->n) {
        t->rows[slot].count++;
    } else {
        t->overflow++;
    }
}

void hb_topic_counts_add(struct hb_topic_counts *t, const char *topic)
{
    hb_topic_counts_bump(t, hb_topic_counts_slot(t, topic));
}

hb_err_t hb_iso8601_ms(int64_t ms, char *out, size_t cap)
{
    if (!out || cap < 25 || ms < 0) {
        return HB_ERR_INVAL;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        return HB_ERR_INVAL;
    }
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ms % 1000));
    return n > 0 && (size_t)n < cap ? HB_OK : HB_ERR_INVAL;
}

/* {"<topic>": count, ...}; NULL on allocation failure. */
static cJSON *topics_json(const struct hb_topic_counts *t)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < t->n; i++) {
        if (!cJSON_AddNumberToObject(obj, t->rows[i].topic, (double)t->rows[i].count)) {
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

cJSON *hb_metrics_json(const struct hb_metrics *m, int64_t now_ms, int64_t duplicates,
                       int64_t outbox_pending)
{
    char now[32], started[32];
    if (hb_iso8601_ms(now_ms, now, sizeof(now)) != HB_OK ||
        hb_iso8601_ms(m->started_ms, started, sizeof(started)) != HB_OK) {
        return NULL;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *handled = topics_json(&m->handled);
    cJSON *published = topics_json(&m->published);
    if (!root || !handled || !published) {
        goto err;
    }
    cJSON_AddItemToObject(root, "handled", handled);
    handled = NULL;
    cJSON_AddItemToObject(root, "published", published);
    published = NULL;
    if (!cJSON_AddStringToObject(root, "component", m->component) ||
        !cJSON_AddStringToObject(root, "time", now) ||
        !cJSON_AddStringToObject(root, "startedAt", started) ||
        !cJSON_AddNumberToObject(root, "deadLetters", (double)m->dead_letters) ||
        !cJSON_AddNumberToObject(root, "handlerErrors", (double)m->handler_errors) ||
        !cJSON_AddNumberToObject(root, "duplicates", (double)duplicates) ||
        !cJSON_AddNumberToObject(root, "outboxPending", (double)outbox_pending) ||
        !cJSON_AddNumberToObject(root, "topicOverflow",
                                 (double)(m->handled.overflow + m->published.overflow))) {
        goto err;
    }
    cJSON *batches = cJSON_AddObjectToObject(root, "batches");
    if (!batches || !cJSON_AddNumberToObject(batches, "in", (double)m->batches_in) ||
        !cJSON_AddNumberToObject(batches, "eventsIn", (double)m->batch_events_in) ||
        !cJSON_AddNumberToObject(batches, "out", (double)m->batches_out) ||
        !cJSON_AddNumberToObject(batches, "eventsOut", (double)m->batch_events_out) ||
        !cJSON_AddNumberToObject(batches, "commits", (double)m->commits) ||
        !cJSON_AddNumberToObject(batches, "eventsCommitted", (double)m->events_committed)) {
        goto err;
    }
    return root;
err:
    cJSON_Delete(root);
    cJSON_Delete(handled);
    cJSON_Delete(published);
    return NULL;
}

void hb_histogram_init(struct hb_histogram *h, const double *le, size_t n_le)
{
    memset(h, 0, sizeof(*h));
    h->n_le = n_le < HB_HISTOGRAM_BUCKETS_MAX ? n_le : HB_HISTOGRAM_BUCKETS_MAX;
    for (size_t i = 0; i < h->n_le; i++) {
        h->le[i] = le[i];
    }
}

void hb_histogram_observe(struct hb_histogram *h, double value)
{
    for (size_t i = 0; i < h->n_le; i++) {
        if (value <= h->le[i]) {
            h->counts[i]++;
        }
    }
    h->count++;
    h->sum += value;
}

void hb_histogram_add_bucket(struct hb_histogram *h, size_t index, uint64_t n, double sum)
{
    for (size_t i = index; i < h->n_le; i++) {
        h->counts[i] += n;
    }
    h->count += n;
    h->sum += sum;
}

cJSON *hb_histogram_json(const struct hb_histogram *h)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON *le = cJSON_AddArrayToObject(obj, "le");
    cJSON *counts = cJSON_AddArrayToObject(obj, "counts");
    if (!obj || !le || !counts) {
        cJSON_Delete(obj);
        return NULL;
    }
    for (size_t i = 0; i < h->n_le; i++) {
        cJSON *bound = cJSON_CreateNumber(h->le[i]);
        cJSON *count = cJSON_CreateNumber((double)h->counts[i]);
        if (!bound || !count) {
            cJSON_Delete(bound);
            cJSON_Delete(count);
            cJSON_Delete(obj);
            return NULL;
        }
        cJSON_AddItemToArray(le, bound);
        cJSON_AddItemToArray(counts, count);
    }
    if (!cJSON_AddNumberToObject(obj, "count", (double)h->count) ||
        !cJSON_AddNumberToObject(obj, "sum", h->sum)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}
