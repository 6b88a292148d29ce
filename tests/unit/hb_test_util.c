/* Shared fixture of the handler tests: a real in-memory store, dispatch, outbox read-back. */
#include "hb_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"
#include "hausbus/store.h"
#include "hausbus/text.h"

struct hbt *hbt_open(const struct hb_component *def)
{
    struct hbt *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    hb_log_init(def->name, getenv("HAUSBUS_LOG_LEVEL") ? getenv("HAUSBUS_LOG_LEVEL") : "error");
    t->def = def;
    snprintf(t->cfg.mqtt_host, sizeof(t->cfg.mqtt_host), "127.0.0.1");
    t->cfg.mqtt_port = 1883;
    t->cfg.http_port = 8080;
    snprintf(t->cfg.data_dir, sizeof(t->cfg.data_dir), "./var");
    snprintf(t->cfg.log_level, sizeof(t->cfg.log_level), "error");
    t->cfg.payment_limit = HBT_PAYMENT_LIMIT;
    t->cfg.redrive_ms = HBT_REDRIVE_MS;
    t->cfg.request_timeout_ms = 5000;
    if (hb_store_open(":memory:", def->name, def->migrations, def->n_migrations, &t->store) != HB_OK) {
        free(t);
        return NULL;
    }
    t->ctx.store = t->store;
    t->ctx.cfg = &t->cfg;
    t->ctx.now_ms = HBT_NOW_MS;
    if (def->setup && def->setup(&t->ctx) != HB_OK) {
        hb_store_close(t->store);
        free(t);
        return NULL;
    }
    return t;
}

static void clear_taken(struct hbt *t)
{
    for (size_t i = 0; i < t->n_out; i++) {
        cJSON_Delete(t->out[i].data);
    }
    memset(t->out, 0, sizeof(t->out));
    t->n_out = 0;
}

void hbt_close(struct hbt *t)
{
    if (!t) {
        return;
    }
    if (t->def->teardown) {
        t->def->teardown(&t->ctx);
    }
    clear_taken(t);
    hb_reply_clear(&t->reply);
    hb_store_close(t->store);
    free(t);
}

/* Splits topic into the event's source component and type (see hbt_send). */
static void split_topic(const char *topic, char *source, size_t source_cap, char *type,
                        size_t type_cap)
{
    size_t prefix_len = strlen(HB_TOPIC_PREFIX);
    assert_int_equal(strncmp(topic, HB_TOPIC_PREFIX, prefix_len), 0);
    const char *kind = topic + prefix_len;
    const char *component = strchr(kind, '/');
    assert_non_null(component);
    component++;
    const char *name = strchr(component, '/');
    assert_non_null(name);
    int component_len = (int)(name - component);
    name++;
    if (strncmp(kind, "evt/", 4) == 0) {
        snprintf(source, source_cap, "%.*s", component_len, component);
        snprintf(type, type_cap, "%s", name);
    } else {
        assert_int_equal(strncmp(kind, "cmd/", 4), 0);
        snprintf(source, source_cap, "gateway");
        snprintf(type, type_cap, "%.*s.%s", component_len, component, name);
    }
}

static hb_err_t send_v(struct hbt *t, const char *topic, const char *event_id,
                       const char *data_fmt, va_list ap)
{
    char json[4096];
    char source[64];
    char type[HB_EVENT_TYPE_MAX];
    int n = vsnprintf(json, sizeof(json), data_fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof(json));
    cJSON *data = cJSON_Parse(json);
    if (!data) {
        fail_msg("test data is not JSON: %s", json);
    }
    split_topic(topic, source, sizeof(source), type, sizeof(type));
    const cJSON *order_id = cJSON_GetObjectItemCaseSensitive(data, "orderId");
    struct hb_event ev;
    assert_int_equal(hb_event_init(&ev, source, type,
                                   cJSON_IsNumber(order_id) ? (int64_t)order_id->valuedouble : 0,
                                   data),
                     HB_OK);
    if (event_id) {
        snprintf(ev.id, sizeof(ev.id), "%s", event_id);
    }
    hb_reply_clear(&t->reply);
    hb_err_t rc = hb_component_dispatch(t->def, &t->ctx, topic, &ev, &t->reply);
    hb_event_clear(&ev);
    return rc;
}

hb_err_t hbt_send(struct hbt *t, const char *topic, const char *data_fmt, ...)
{
    va_list ap;
    va_start(ap, data_fmt);
    hb_err_t rc = send_v(t, topic, NULL, data_fmt, ap);
    va_end(ap);
    return rc;
}

hb_err_t hbt_send_id(struct hbt *t, const char *topic, const char *event_id,
                     const char *data_fmt, ...)
{
    va_list ap;
    va_start(ap, data_fmt);
    hb_err_t rc = send_v(t, topic, event_id, data_fmt, ap);
    va_end(ap);
    return rc;
}

hb_err_t hbt_tick(struct hbt *t)
{
    assert_non_null(t->def->tick);
    HB_RETURN_ON_ERR(hb_store_begin(t->store));
    hb_err_t rc = t->def->tick(&t->ctx);
    if (rc != HB_OK) {
        hb_store_rollback(t->store);
        return rc;
    }
    return hb_store_commit(t->store);
}

static int take_row(void *arg, const struct hb_outbox_row *row)
{
    struct hbt *t = arg;
    if (t->n_out >= HBT_OUTBOX_MAX) {
        return 1;
    }
    struct hb_event ev;
    const char *reason = NULL;
    if (hb_envelope_decode(row->payload, strlen(row->payload), &ev, &reason) != HB_OK) {
        fail_msg("outbox row %lld is not a CloudEvent (%s): %s", (long long)row->id, reason,
                 row->payload);
    }
    struct hbt_emitted *e = &t->out[t->n_out++];
    snprintf(e->topic, sizeof(e->topic), "%s", row->topic);
    snprintf(e->type, sizeof(e->type), "%s", ev.type);
    snprintf(e->subject, sizeof(e->subject), "%s", ev.subject);
    e->data = ev.data;
    ev.data = NULL;
    hb_event_clear(&ev);
    return 0;
}

size_t hbt_take(struct hbt *t)
{
    clear_taken(t);
    assert_int_equal(hb_store_outbox_each(t->store, 0, HBT_OUTBOX_MAX + 1, take_row, t), HB_OK);
    assert_true(hb_store_outbox_count(t->store) == (int64_t)t->n_out);
    assert_int_equal(hb_store_exec(t->store, "DELETE FROM hb_outbox"), HB_OK);
    for (size_t i = 0; i < t->n_out; i++) {
        char topic[160];
        snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "evt/%s/%s", t->def->name,
                 t->out[i].type);
        assert_string_equal(t->out[i].topic, topic);
    }
    return t->n_out;
}

void hbt_expect(struct hbt *t, ...)
{
    const char *expected[HBT_OUTBOX_MAX];
    size_t n_expected = 0;
    va_list ap;
    va_start(ap, t);
    const char *type;
    while ((type = va_arg(ap, const char *)) != NULL && n_expected < HBT_OUTBOX_MAX) {
        expected[n_expected++] = type;
    }
    va_end(ap);
    hbt_take(t);
    bool same = n_expected == t->n_out;
    for (size_t i = 0; same && i < n_expected; i++) {
        same = strcmp(expected[i], t->out[i].type) == 0;
    }
    if (!same) {
        char want[512] = "", got[512] = "";
        size_t w = 0, g = 0;
        for (size_t i = 0; i < n_expected && w < sizeof(want); i++) {
            w += (size_t)snprintf(want + w, sizeof(want) - w, "%s ", expected[i]);
        }
        for (size_t i = 0; i < t->n_out && g < sizeof(got); i++) {
            g += (size_t)snprintf(got + g, sizeof(got) - g, "%s ", t->out[i].type);
        }
        fail_msg("outbox: expected [ %s], got [ %s]", want, got);
    }
}

int64_t hbt_json_int(const cJSON *obj, const char *field)
{
    int64_t value = 0;
    if (hb_json_int(obj, field, INT64_MIN, INT64_MAX, &value) != HB_OK) {
        char *text = cJSON_PrintUnformatted(obj);
        fail_msg("\"%s\" is not an integer in %s", field, text ? text : "(nothing)");
    }
    return value;
}

const char *hbt_json_str(const cJSON *obj, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, field);
    return cJSON_IsString(item) ? item->valuestring : HBT_NULL;
}

int64_t hbt_out_int(const struct hbt *t, size_t i, const char *field)
{
    assert_true(i < t->n_out);
    return hbt_json_int(t->out[i].data, field);
}

const char *hbt_out_str(const struct hbt *t, size_t i, const char *field)
{
    assert_true(i < t->n_out);
    return hbt_json_str(t->out[i].data, field);
}

/* Runs the formatted query and moves to its first row: *row says whether there is one.
 * The caller closes rows. */
static void query_v(struct hbt *t, struct hb_rows *rows, bool *row, const char *sql_fmt,
                    va_list ap)
{
    char sql[1024];
    int n = vsnprintf(sql, sizeof(sql), sql_fmt, ap);
    assert_true(n > 0 && (size_t)n < sizeof(sql));
    if (hb_store_select(t->store, sql, HB_NO_ARGS, rows) != HB_OK ||
        hb_rows_next(rows, row) != HB_OK) {
        fail_msg("bad test query %s", sql);
    }
}

int64_t hbt_db_int(struct hbt *t, const char *sql_fmt, ...)
{
    struct hb_rows rows;
    bool row = false;
    va_list ap;
    va_start(ap, sql_fmt);
    query_v(t, &rows, &row, sql_fmt, ap);
    va_end(ap);
    int64_t value = row ? hb_rows_int(&rows, 0) : -1;
    hb_rows_close(&rows);
    return value;
}

const char *hbt_db_text(struct hbt *t, const char *sql_fmt, ...)
{
    struct hb_rows rows;
    bool row = false;
    va_list ap;
    va_start(ap, sql_fmt);
    query_v(t, &rows, &row, sql_fmt, ap);
    va_end(ap);
    const char *text = row ? hb_rows_text(&rows, 0) : NULL;
    hb_strlcpy(t->text, text ? text : HBT_NULL, sizeof(t->text));
    hb_rows_close(&rows);
    return t->text;
}
