/* Shared fixture of the handler tests: a real in-memory store, dispatch, outbox read-back. */
#ifndef HB_TEST_UTIL_H
#define HB_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hausbus/component.h"

#define HBT_NOW_MS 1700000000000LL /* the fixture's fixed wall clock */
#define HBT_REDRIVE_MS 5000
#define HBT_PAYMENT_LIMIT 10000000
#define HBT_OUTBOX_MAX 32
#define HBT_NULL "<null>" /* what the string readers return for a JSON/SQL null or nothing */

/* One event taken from the outbox. */
struct hbt_emitted {
    char topic[160];
    char type[HB_EVENT_TYPE_MAX];
    char subject[HB_EVENT_SUBJECT_MAX];
    cJSON *data; /* owned by the fixture */
};

struct hbt {
    const struct hb_component *def;
    struct hb_store *store;
    struct hb_config cfg;
    struct hb_ctx ctx;
    struct hb_reply reply; /* of the last hbt_send, cleared by the next one */
    struct hbt_emitted out[HBT_OUTBOX_MAX];
    size_t n_out; /* events taken by the last hbt_take */
    char text[512];
};

/* Opens def's schema on ":memory:" with a config filled by hand (payment limit 10000000,
 * re-drive 5000 ms) and now_ms = HBT_NOW_MS. Returns NULL on failure; free with hbt_close. */
struct hbt *hbt_open(const struct hb_component *def);

/* Closes the store and frees everything, including the taken events. Accepts NULL. */
void hbt_close(struct hbt *t);

/* Builds a CloudEvent for topic (evt/<source>/<Type>, or cmd/<component>/<name> which
 * becomes type "<component>.<name>" from the gateway) with data from the printf-formatted
 * JSON object, dispatches it through hb_component_dispatch and returns its result.
 * The subject is data.orderId when present. The reply stays in t->reply. */
hb_err_t hbt_send(struct hbt *t, const char *topic, const char *data_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like hbt_send with a fixed event id, to dispatch the same event twice. */
hb_err_t hbt_send_id(struct hbt *t, const char *topic, const char *event_id,
                     const char *data_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Runs the component's tick in its own transaction, as the runtime does. */
hb_err_t hbt_tick(struct hbt *t);

/* Moves the whole outbox (oldest first) into t->out, deleting it from the table, and
 * checks each topic is hausbus/v1/evt/<component>/<type>. Returns the count. */
size_t hbt_take(struct hbt *t);

/* Takes the outbox and asserts it holds exactly the event types given, in order
 * (NULL-terminated); use HBT_EXPECT / hbt_expect_none. */
void hbt_expect(struct hbt *t, ...);
#define HBT_EXPECT(t, ...) hbt_expect((t), __VA_ARGS__, (const char *)NULL)
#define hbt_expect_none(t) hbt_expect((t), (const char *)NULL)

/* Field readers on taken event i; the integer one fails the test when the field is not
 * an integer, the string one returns HBT_NULL for a missing or null field. */
int64_t hbt_out_int(const struct hbt *t, size_t i, const char *field);
const char *hbt_out_str(const struct hbt *t, size_t i, const char *field);

/* The same on any JSON object (a reply body, an array element). */
int64_t hbt_json_int(const cJSON *obj, const char *field);
const char *hbt_json_str(const cJSON *obj, const char *field);

/* First column of the first row of a printf-formatted query on the component's
 * database: as an integer (-1 when there is no row), or as text (HBT_NULL for no row or
 * NULL; the text lives in t->text until the next call). */
int64_t hbt_db_int(struct hbt *t, const char *sql_fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *hbt_db_text(struct hbt *t, const char *sql_fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
