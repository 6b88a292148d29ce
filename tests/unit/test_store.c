/* Unit tests of the sqlite store: transactions, inbox, outbox, query helpers (lib/src/store.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hausbus/envelope.h"
#include "hausbus/store.h"

static const char widget_schema[] =
    "CREATE TABLE IF NOT EXISTS widgets(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " weight INTEGER NOT NULL DEFAULT 0);";

static const struct hb_migration widget_migrations[] = {{.sqlite = widget_schema}};
#define WIDGET_MIGRATIONS widget_migrations, 1

static struct hb_store *open_memory(void)
{
    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(":memory:", "widget", WIDGET_MIGRATIONS, &st), HB_OK);
    assert_non_null(st);
    return st;
}

static int64_t widget_count(struct hb_store *st)
{
    int64_t n = -1;
    assert_int_equal(hb_store_query_int(st, "SELECT count(*) FROM widgets", NULL, 0, -1, &n),
                     HB_OK);
    return n;
}

static void open_memory_runs_the_schema(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_string_equal(hb_store_component(st), "widget");
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(name) VALUES('bolt')"), HB_OK);
    assert_int_equal(widget_count(st), 1);
    assert_int_equal(hb_store_outbox_count(st), 0);
    hb_store_close(st);
}

static void open_with_a_broken_schema_fails_and_leaves_out_unset(void **state)
{
    (void)state;
    struct hb_store *st = NULL;
    static const struct hb_migration broken[] = {{.sqlite = "CREATE TABLE ("}};
    assert_int_equal(hb_store_open(":memory:", "widget", broken, 1, &st), HB_ERR_DB);
    assert_null(st);
    hb_store_close(NULL); /* accepts NULL */
}

static void open_without_a_schema_still_has_inbox_and_outbox(void **state)
{
    (void)state;
    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(":memory:", "bare", NULL, 0, &st), HB_OK);
    bool fresh = false;
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_true(fresh);
    assert_int_equal(hb_store_outbox_count(st), 0);
    hb_store_close(st);
}

static void committed_rows_stay(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(name) VALUES('bolt')"), HB_OK);
    assert_int_equal(hb_store_emit(st, "WidgetCreated", 0, NULL), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    assert_false(hb_store_in_tx(st));
    assert_int_equal(widget_count(st), 1);
    assert_int_equal(hb_store_outbox_count(st), 1);
    hb_store_close(st);
}

static void rolled_back_rows_and_events_are_gone(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(name) VALUES('bolt')"), HB_OK);
    assert_int_equal(hb_store_emit(st, "WidgetCreated", 0, NULL), HB_OK);
    assert_int_equal(widget_count(st), 1); /* visible inside the transaction */
    hb_store_rollback(st);
    assert_false(hb_store_in_tx(st));
    assert_int_equal(widget_count(st), 0);
    assert_int_equal(hb_store_outbox_count(st), 0);
    hb_store_rollback(st); /* nothing open: harmless */
    assert_int_equal(hb_store_begin(st), HB_OK); /* the store is usable again */
    hb_store_rollback(st);
    hb_store_close(st);
}

static void inbox_claim_is_fresh_once_per_event_id(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    bool fresh = false;
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_true(fresh);
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_false(fresh);
    assert_int_equal(hb_store_inbox_claim(st, "e2", &fresh), HB_OK);
    assert_true(fresh);
    assert_int_equal(hb_store_duplicates(st), 1); /* for the metrics snapshot */
    hb_store_close(st);
}

static void inbox_claim_survives_its_transaction(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    bool fresh = false;
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_true(fresh);
    assert_int_equal(hb_store_commit(st), HB_OK);

    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_false(fresh);
    assert_int_equal(hb_store_commit(st), HB_OK);
    hb_store_close(st);
}

static void rolled_back_inbox_claim_can_be_claimed_again(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    bool fresh = false;
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_true(fresh);
    hb_store_rollback(st);

    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_inbox_claim(st, "e1", &fresh), HB_OK);
    assert_true(fresh);
    assert_int_equal(hb_store_commit(st), HB_OK);
    hb_store_close(st);
}

/* Collects the outbox rows a walk visits; stops the walk after stop_after rows (0: never). */
struct walk {
    int64_t ids[16];
    char topics[16][160];
    char *payloads[16];
    int n;
    int stop_after;
};

static int collect_row(void *ctx, const struct hb_outbox_row *row)
{
    struct walk *w = ctx;
    assert_true(w->n < 16);
    w->ids[w->n] = row->id;
    snprintf(w->topics[w->n], sizeof(w->topics[w->n]), "%s", row->topic);
    w->payloads[w->n] = strdup(row->payload);
    assert_non_null(w->payloads[w->n]);
    w->n++;
    return w->stop_after > 0 && w->n >= w->stop_after;
}

static void walk_free(struct walk *w)
{
    for (int i = 0; i < w->n; i++) {
        free(w->payloads[i]);
    }
    memset(w, 0, sizeof(*w));
}

static void emitted_event_is_an_outbox_row_on_the_component_topic(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    cJSON *data = cJSON_CreateObject();
    assert_non_null(cJSON_AddNumberToObject(data, "widgetId", 7));
    assert_non_null(cJSON_AddStringToObject(data, "name", "bolt \"M6\""));
    cJSON *expected = cJSON_Duplicate(data, true);
    assert_non_null(expected);

    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_emit(st, "WidgetCreated", 42, data), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);

    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 10, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.topics[0], "hausbus/v1/evt/widget/WidgetCreated");

    struct hb_event ev;
    const char *reason = NULL;
    assert_int_equal(hb_envelope_decode(w.payloads[0], strlen(w.payloads[0]), &ev, &reason),
                     HB_OK);
    assert_string_equal(ev.type, "WidgetCreated");
    assert_string_equal(ev.source, "/hausbus/widget");
    assert_string_equal(ev.subject, "42");
    assert_int_equal(strlen(ev.id), 36);
    assert_true(cJSON_Compare(ev.data, expected, true));
    hb_event_clear(&ev);
    cJSON_Delete(expected);
    walk_free(&w);
    hb_store_close(st);
}

static void emit_without_data_carries_an_empty_object(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_emit(st, "WidgetPinged", 0, NULL), HB_OK);
    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 10, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 1);
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(w.payloads[0], strlen(w.payloads[0]), &ev, NULL), HB_OK);
    assert_string_equal(ev.subject, "");
    assert_true(cJSON_IsObject(ev.data));
    assert_null(ev.data->child);
    hb_event_clear(&ev);
    walk_free(&w);
    hb_store_close(st);
}

static void emit_with_an_oversized_type_fails_and_frees_data(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    char type[HB_EVENT_TYPE_MAX + 1];
    memset(type, 'T', sizeof(type) - 1);
    type[sizeof(type) - 1] = '\0';
    /* data is owned by the store also on failure; valgrind reports a leak otherwise */
    assert_int_not_equal(hb_store_emit(st, type, 1, cJSON_CreateObject()), HB_OK);
    assert_int_equal(hb_store_outbox_count(st), 0);
    hb_store_close(st);
}

/* Puts n raw rows "t/<i>" with payload "p<i>" and returns the first id in *first. */
static void put_rows(struct hb_store *st, int n, int64_t *first)
{
    for (int i = 0; i < n; i++) {
        char topic[32];
        char payload[32];
        snprintf(topic, sizeof(topic), "t/%d", i);
        snprintf(payload, sizeof(payload), "p%d", i);
        assert_int_equal(hb_store_outbox_put(st, topic, payload), HB_OK);
        if (i == 0) {
            assert_int_equal(hb_store_query_int(st, "SELECT max(id) FROM hb_outbox", HB_NO_ARGS,
                                                -1, first),
                             HB_OK);
        }
    }
}

static void outbox_walk_is_in_id_order_from_after_id(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t first = 0;
    put_rows(st, 5, &first);

    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 100, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 5);
    for (int i = 0; i < 5; i++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "t/%d", i);
        assert_int_equal(w.ids[i], first + i);
        assert_string_equal(w.topics[i], topic);
    }
    walk_free(&w);

    assert_int_equal(hb_store_outbox_each(st, first + 1, 2, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[0], first + 2);
    assert_int_equal(w.ids[1], first + 3);
    assert_string_equal(w.payloads[0], "p2");
    assert_string_equal(w.payloads[1], "p3");
    walk_free(&w);

    assert_int_equal(hb_store_outbox_each(st, first + 4, 100, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 0);
    hb_store_close(st);
}

static void outbox_walk_stops_when_the_callback_says_so(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t first = 0;
    put_rows(st, 5, &first);
    struct walk w = {.stop_after = 2};
    assert_int_equal(hb_store_outbox_each(st, 0, 100, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[1], first + 1);
    walk_free(&w);

    /* the cached statement was reset: a second walk starts over */
    assert_int_equal(hb_store_outbox_each(st, 0, 100, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 5);
    walk_free(&w);
    hb_store_close(st);
}

static void outbox_delete_removes_one_row_and_ignores_unknown_ids(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t first = 0;
    put_rows(st, 3, &first);
    assert_int_equal(hb_store_outbox_count(st), 3);
    int64_t second = first + 1, unknown = 999999;
    assert_int_equal(hb_store_outbox_delete_many(st, &second, 1), HB_OK);
    assert_int_equal(hb_store_outbox_count(st), 2);
    assert_int_equal(hb_store_outbox_delete_many(st, &second, 1), HB_OK);
    assert_int_equal(hb_store_outbox_delete_many(st, &unknown, 1), HB_OK);
    assert_int_equal(hb_store_outbox_count(st), 2);

    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 100, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.ids[0], first);
    assert_int_equal(w.ids[1], first + 2);
    walk_free(&w);
    hb_store_close(st);
}

static void outbox_ids_are_not_reused_after_delete(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t first = 0;
    put_rows(st, 2, &first);
    int64_t second = first + 1;
    assert_int_equal(hb_store_outbox_delete_many(st, &second, 1), HB_OK);
    int64_t next = 0;
    put_rows(st, 1, &next);
    /* a publisher's cursor past a deleted row must not skip a new one */
    assert_true(next > first + 1);
    hb_store_close(st);
}

static void query_object_is_null_without_a_row(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    cJSON *out = (cJSON *)1;
    assert_int_equal(hb_store_query_object(st, "SELECT id FROM widgets WHERE id = ?",
                                           HB_ARGS(HB_INT(12345)), &out),
                     HB_OK);
    assert_null(out);
    hb_store_close(st);
}

static void query_object_names_columns_by_alias_and_types_them(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(id, name, weight) VALUES"
                                       "(3, 'washer \"w\"', 123456789012)"),
                     HB_OK);
    cJSON *obj = NULL;
    int64_t id = 3;
    assert_int_equal(hb_store_query_object(st,
                                           "SELECT id AS widgetId, name, weight, NULL AS gone,"
                                           " 0.5 AS half FROM widgets WHERE id = ?", HB_ARGS(HB_INT(id)), &obj),
                     HB_OK);
    /* the columns in order, under their aliases, each with its JSON type */
    char *text = cJSON_PrintUnformatted(obj);
    assert_string_equal(text, "{\"widgetId\":3,\"name\":\"washer \\\"w\\\"\","
                              "\"weight\":123456789012,\"gone\":null,\"half\":0.5}");
    free(text);
    cJSON_Delete(obj);
    hb_store_close(st);
}

static void query_object_refuses_a_blob(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    cJSON *out = (cJSON *)1;
    assert_int_equal(hb_store_query_object(st, "SELECT 1 AS id, x'00ff' AS raw", NULL, 0, &out),
                     HB_ERR_DB);
    assert_null(out);
    out = (cJSON *)1;
    assert_int_equal(hb_store_query_objects(st, "SELECT 1 AS id UNION ALL SELECT x'00ff'", NULL,
                                            0, &out),
                     HB_ERR_DB);
    assert_null(out);
    hb_store_close(st);
}

static void query_objects_gives_every_row_in_order_and_empty_when_none(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(id, name, weight) VALUES"
                                       "(1, 'bolt', 5), (2, 'nut', 3), (3, 'washer', 1)"),
                     HB_OK);
    cJSON *arr = NULL;
    /* bound in order: weight BETWEEN 1 AND 3 */
    assert_int_equal(hb_store_query_objects(st,
                                            "SELECT id, name FROM widgets"
                                            " WHERE weight BETWEEN ? AND ? ORDER BY id",
                                            HB_ARGS(HB_INT(1), HB_INT(3)), &arr),
                     HB_OK);
    char *text = cJSON_PrintUnformatted(arr);
    assert_string_equal(text, "[{\"id\":2,\"name\":\"nut\"},{\"id\":3,\"name\":\"washer\"}]");
    free(text);
    cJSON_Delete(arr);

    assert_int_equal(hb_store_query_objects(st, "SELECT id FROM widgets WHERE weight < ?",
                                            HB_ARGS(HB_INT(-1)), &arr),
                     HB_OK);
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), 0);
    cJSON_Delete(arr);
    hb_store_close(st);
}

static void query_with_bad_sql_is_a_db_error(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    cJSON *out = (cJSON *)1;
    assert_int_equal(hb_store_query_object(st, "SELECT FROM nowhere", NULL, 0, &out), HB_ERR_DB);
    assert_null(out);
    out = (cJSON *)1;
    assert_int_equal(hb_store_query_objects(st, "SELECT FROM nowhere", NULL, 0, &out), HB_ERR_DB);
    assert_null(out);
    /* a failure after some rows (here: an integer overflow in the third) frees them */
    assert_int_equal(hb_store_query_objects(st,
                                            "SELECT abs(v) AS a FROM (SELECT 1 AS v UNION ALL"
                                            " SELECT 2 UNION ALL SELECT -9223372036854775808)",
                                            NULL, 0, &out),
                     HB_ERR_DB);
    assert_null(out);
    hb_store_close(st);
}

static void run_and_query_int_bind_int64_arguments(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    const int64_t big = 5000000000LL; /* beyond 32 bits */
    assert_int_equal(hb_store_run(st, "INSERT INTO widgets(id, weight, name) VALUES(?, ? + ?, 'w')",
                                  HB_ARGS(HB_INT(HB_ID_MAX), HB_INT(big), HB_INT(-7))),
                     HB_OK);
    int64_t weight = 0;
    assert_int_equal(hb_store_query_int(st, "SELECT weight FROM widgets WHERE id = ?",
                                        HB_ARGS(HB_INT(HB_ID_MAX)), -1, &weight),
                     HB_OK);
    assert_int_equal(weight, big - 7);

    assert_int_equal(hb_store_run(st, "UPDATE widgets SET weight = ? WHERE id = ?",
                                  HB_ARGS(HB_INT(INT64_MAX), HB_INT(HB_ID_MAX))),
                     HB_OK);
    assert_int_equal(hb_store_query_int(st, "SELECT weight FROM widgets WHERE id = ?",
                                        HB_ARGS(HB_INT(HB_ID_MAX)), -1, &weight),
                     HB_OK);
    assert_int_equal(weight, INT64_MAX);
    hb_store_close(st);
}

static void query_int_gives_the_fallback_without_a_row_or_value(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t out = 0;
    assert_int_equal(hb_store_query_int(st, "SELECT weight FROM widgets WHERE id = ?",
                                        HB_ARGS(HB_INT(1)), -99, &out),
                     HB_OK);
    assert_int_equal(out, -99);
    assert_int_equal(hb_store_query_int(st, "SELECT max(weight) FROM widgets", NULL, 0, -98, &out),
                     HB_OK);
    assert_int_equal(out, -98);
    assert_int_equal(hb_store_run(st, "INSERT INTO nowhere VALUES(1)", NULL, 0), HB_ERR_DB);
    hb_store_close(st);
}

static void text_and_null_parameters_bind_as_given(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_exec(st, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT,"
                                       " mark TEXT)"),
                     HB_OK);
    const char *quoted = "it's \"quoted\"; DROP TABLE notes; -- é";
    assert_int_equal(hb_store_run(st, "INSERT INTO notes(id, body, mark) VALUES(?, ?, ?)",
                                  HB_ARGS(HB_INT(1), HB_TEXT(quoted), HB_NULL_PARAM)),
                     HB_OK);
    assert_int_equal(hb_store_run(st, "INSERT INTO notes(id, body, mark) VALUES(?, ?, ?)",
                                  HB_ARGS(HB_INT(2), HB_TEXT(NULL), HB_TEXT("x"))),
                     HB_OK);
    char body[64];
    assert_int_equal(hb_store_query_text(st, "SELECT body FROM notes WHERE id = ?",
                                         HB_ARGS(HB_INT(1)), body, sizeof(body)),
                     HB_OK);
    assert_string_equal(body, quoted);
    int64_t nulls = -1;
    assert_int_equal(hb_store_query_int(st,
                                        "SELECT count(*) FROM notes WHERE (id = 1 AND mark IS NULL)"
                                        " OR (id = 2 AND body IS NULL)",
                                        HB_NO_ARGS, -1, &nulls),
                     HB_OK);
    assert_int_equal(nulls, 2);
    /* ?N names a parameter by number, so one value can serve twice */
    int64_t twice = 0;
    assert_int_equal(hb_store_query_int(st, "SELECT ?1 + ?1 * ?2", HB_ARGS(HB_INT(3), HB_INT(5)),
                                        0, &twice),
                     HB_OK);
    assert_int_equal(twice, 18);
    hb_store_close(st);
}

static void select_walks_rows_and_reads_typed_columns(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(id, name, weight) VALUES"
                                       "(1, 'bolt', 5), (2, 'nut', 3), (3, 'washer', 1)"),
                     HB_OK);
    struct hb_rows rows;
    assert_int_equal(hb_store_select(st,
                                     "SELECT id, name, NULLIF(weight, 3) FROM widgets"
                                     " WHERE weight >= ? ORDER BY id",
                                     HB_ARGS(HB_INT(3)), &rows),
                     HB_OK);
    bool row = false;
    assert_int_equal(hb_rows_next(&rows, &row), HB_OK);
    assert_true(row);
    assert_int_equal(hb_rows_int(&rows, 0), 1);
    assert_string_equal(hb_rows_text(&rows, 1), "bolt");
    assert_false(hb_rows_null(&rows, 2));
    assert_int_equal(hb_rows_int(&rows, 2), 5);
    assert_int_equal(hb_rows_next(&rows, &row), HB_OK);
    assert_true(row);
    assert_int_equal(hb_rows_int(&rows, 0), 2);
    assert_true(hb_rows_null(&rows, 2));
    assert_null(hb_rows_text(&rows, 2));
    assert_int_equal(hb_rows_int(&rows, 2), 0);
    assert_int_equal(hb_rows_next(&rows, &row), HB_OK);
    assert_false(row);
    hb_rows_close(&rows);
    hb_rows_close(&rows); /* twice is harmless */

    /* a query that cannot run leaves rows closed */
    assert_int_equal(hb_store_select(st, "SELECT nothing FROM nowhere", HB_NO_ARGS, &rows),
                     HB_ERR_DB);
    hb_rows_close(&rows);
    hb_store_close(st);
}

static void run_counts_changed_rows_and_returning_gives_the_new_id(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    int64_t id = 0;
    assert_int_equal(hb_store_query_int(st, "INSERT INTO widgets(name) VALUES(?) RETURNING id",
                                        HB_ARGS(HB_TEXT("bolt")), 0, &id),
                     HB_OK);
    assert_int_equal(id, 1);
    assert_int_equal(hb_store_query_int(st, "INSERT INTO widgets(name) VALUES(?) RETURNING id",
                                        HB_ARGS(HB_TEXT("nut")), 0, &id),
                     HB_OK);
    assert_int_equal(id, 2);
    assert_int_equal(widget_count(st), 2);
    assert_int_equal(hb_store_run(st, "UPDATE widgets SET weight = ?", HB_ARGS(HB_INT(4))), HB_OK);
    assert_int_equal(hb_store_changes(st), 2);
    assert_int_equal(hb_store_run(st,
                                  "INSERT INTO widgets(id, name) VALUES(?, 'again')"
                                  " ON CONFLICT(id) DO NOTHING",
                                  HB_ARGS(HB_INT(1))),
                     HB_OK);
    assert_int_equal(hb_store_changes(st), 0);
    assert_int_equal(hb_store_run(st, "DELETE FROM widgets WHERE id = ?", HB_ARGS(HB_INT(1))),
                     HB_OK);
    assert_int_equal(hb_store_changes(st), 1);
    hb_store_close(st);
}

/* Makes a fresh directory for a file database; the caller removes it with remove_db_dir. */
static void make_db_dir(char *dir, size_t dir_len, char *path, size_t path_len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, dir_len, "%s/hb_store_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    int n = snprintf(path, path_len, "%s/widget.db", dir);
    assert_true(n > 0 && (size_t)n < path_len);
}

static void remove_db_dir(const char *dir)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char file[600];
        snprintf(file, sizeof(file), "%s/widget.db%s", dir, suffixes[i]);
        unlink(file);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void file_database_keeps_outbox_rows_across_close_and_reopen(void **state)
{
    (void)state;
    char dir[512];
    char path[600];
    make_db_dir(dir, sizeof(dir), path, sizeof(path));

    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(path, "widget", WIDGET_MIGRATIONS, &st), HB_OK);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_exec(st, "INSERT INTO widgets(name) VALUES('bolt')"), HB_OK);
    cJSON *data = cJSON_CreateObject();
    assert_non_null(cJSON_AddNumberToObject(data, "widgetId", 1));
    assert_int_equal(hb_store_emit(st, "WidgetCreated", 0, data), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    hb_store_close(st);

    st = NULL;
    assert_int_equal(hb_store_open(path, "widget", WIDGET_MIGRATIONS, &st), HB_OK);
    assert_int_equal(widget_count(st), 1);
    assert_int_equal(hb_store_outbox_count(st), 1);
    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 10, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.topics[0], "hausbus/v1/evt/widget/WidgetCreated");
    walk_free(&w);
    hb_store_close(st);
    remove_db_dir(dir);
}

/* Copies dir/widget.db<suffix> to copy_dir when it exists. */
static void copy_db_file(const char *dir, const char *copy_dir, const char *suffix)
{
    char from[600];
    char to[600];
    snprintf(from, sizeof(from), "%s/widget.db%s", dir, suffix);
    snprintf(to, sizeof(to), "%s/widget.db%s", copy_dir, suffix);
    FILE *in = fopen(from, "rb");
    if (!in) {
        return;
    }
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    assert_false(ferror(in));
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* A crash leaves the database and its WAL as they are on disk while the process still
 * runs: the copies taken here, without commit or close, are what a restart finds. (An
 * in-process snapshot rather than a killed child keeps the test valgrind-clean.) */
static void committed_outbox_rows_outlive_a_crash_and_open_work_does_not(void **state)
{
    (void)state;
    char dir[512];
    char path[600];
    char crash_dir[512];
    char crash_path[600];
    make_db_dir(dir, sizeof(dir), path, sizeof(path));
    make_db_dir(crash_dir, sizeof(crash_dir), crash_path, sizeof(crash_path));

    struct hb_store *running = NULL;
    bool fresh = false;
    cJSON *data = cJSON_CreateObject();
    assert_non_null(cJSON_AddNumberToObject(data, "widgetId", 1));
    assert_int_equal(hb_store_open(path, "widget", WIDGET_MIGRATIONS, &running), HB_OK);
    assert_int_equal(hb_store_begin(running), HB_OK);
    assert_int_equal(hb_store_inbox_claim(running, "cmd-1", &fresh), HB_OK);
    assert_int_equal(hb_store_emit(running, "WidgetCreated", 0, data), HB_OK);
    assert_int_equal(hb_store_commit(running), HB_OK);
    assert_int_equal(hb_store_begin(running), HB_OK);
    assert_int_equal(hb_store_exec(running, "INSERT INTO widgets(name) VALUES('lost')"), HB_OK);
    assert_int_equal(hb_store_emit(running, "WidgetLost", 0, NULL), HB_OK);

    copy_db_file(dir, crash_dir, "");
    copy_db_file(dir, crash_dir, "-wal"); /* the -shm index is rebuilt by recovery */
    hb_store_rollback(running);
    hb_store_close(running);

    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(crash_path, "widget", WIDGET_MIGRATIONS, &st), HB_OK);
    assert_int_equal(widget_count(st), 0);
    assert_int_equal(hb_store_outbox_count(st), 1);
    struct walk w = {0};
    assert_int_equal(hb_store_outbox_each(st, 0, 10, collect_row, &w), HB_OK);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.topics[0], "hausbus/v1/evt/widget/WidgetCreated");
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(w.payloads[0], strlen(w.payloads[0]), &ev, NULL), HB_OK);
    int64_t widget_id = 0;
    assert_int_equal(hb_json_int(ev.data, "widgetId", 1, 10, &widget_id), HB_OK);
    hb_event_clear(&ev);
    walk_free(&w);

    fresh = true;
    assert_int_equal(hb_store_inbox_claim(st, "cmd-1", &fresh), HB_OK);
    assert_false(fresh); /* the redelivered command is recognised after restart */
    hb_store_close(st);
    remove_db_dir(crash_dir);
    remove_db_dir(dir);
}

/* Opens path with the first n of three widget migrations; the store in *out. */
static hb_err_t open_widget_version(const char *path, size_t n, struct hb_store **out)
{
    static const struct hb_migration versions[] = {
        {.sqlite = "CREATE TABLE IF NOT EXISTS gadgets(id INTEGER PRIMARY KEY, name TEXT);"},
        {.sqlite = "ALTER TABLE gadgets ADD COLUMN colour TEXT NOT NULL DEFAULT 'grey';"},
        {.sqlite = "UPDATE gadgets SET colour = 'blue' WHERE name = 'old';"
                   "CREATE INDEX gadgets_by_colour ON gadgets(colour);"},
    };
    return hb_store_open(path, "gadget", versions, n, out);
}

static void migrations_run_once_each_in_order_and_record_the_version(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_db_dir(dir, sizeof(dir), path, sizeof(path));
    struct hb_store *st = NULL;
    assert_int_equal(open_widget_version(path, 1, &st), HB_OK);
    int64_t version = -1;
    assert_int_equal(hb_store_schema_version(st, "gadget", &version), HB_OK);
    assert_int_equal(version, 1);
    assert_int_equal(hb_store_schema_version(st, "hausbus", &version), HB_OK);
    assert_int_equal(version, 3); /* lib's own tables: 3 migrations */
    assert_int_equal(hb_store_exec(st, "INSERT INTO gadgets(name) VALUES('old')"), HB_OK);
    hb_store_close(st);

    /* a newer program: the two new migrations run, on the data the old one left */
    assert_int_equal(open_widget_version(path, 3, &st), HB_OK);
    assert_int_equal(hb_store_schema_version(st, "gadget", &version), HB_OK);
    assert_int_equal(version, 3);
    char colour[16];
    assert_int_equal(hb_store_query_text(st, "SELECT colour FROM gadgets WHERE name = 'old'",
                                         HB_NO_ARGS, colour, sizeof(colour)),
                     HB_OK);
    assert_string_equal(colour, "blue");
    assert_int_equal(hb_store_exec(st, "INSERT INTO gadgets(name) VALUES('new')"), HB_OK);
    hb_store_close(st);

    /* again: nothing runs twice (migration 3's CREATE INDEX would fail a second time) */
    assert_int_equal(open_widget_version(path, 3, &st), HB_OK);
    assert_int_equal(hb_store_query_text(st, "SELECT colour FROM gadgets WHERE name = 'new'",
                                         HB_NO_ARGS, colour, sizeof(colour)),
                     HB_OK);
    assert_string_equal(colour, "grey");
    hb_store_close(st);

    /* an older program refuses the newer database instead of misreading it */
    st = NULL;
    assert_int_equal(open_widget_version(path, 2, &st), HB_ERR_DB);
    assert_null(st);
    remove_db_dir(dir);
}

static void a_failed_migration_changes_nothing_and_is_tried_again(void **state)
{
    (void)state;
    char dir[256], path[300];
    make_db_dir(dir, sizeof(dir), path, sizeof(path));
    static const struct hb_migration failing[] = {
        {.sqlite = "CREATE TABLE kept(id INTEGER PRIMARY KEY);"},
        {.sqlite = "CREATE TABLE half(id INTEGER PRIMARY KEY); INSERT INTO nowhere VALUES(1);"},
    };
    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(path, "part", failing, 2, &st), HB_ERR_DB);
    assert_null(st);
    static const struct hb_migration fixed[] = {
        {.sqlite = "CREATE TABLE kept(id INTEGER PRIMARY KEY);"},
        {.sqlite = "CREATE TABLE half(id INTEGER PRIMARY KEY);"},
    };
    assert_int_equal(hb_store_open(path, "part", fixed, 2, &st), HB_OK);
    int64_t version = -1;
    assert_int_equal(hb_store_schema_version(st, "part", &version), HB_OK);
    assert_int_equal(version, 2);
    hb_store_close(st);
    remove_db_dir(dir);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_memory_runs_the_schema),
        cmocka_unit_test(migrations_run_once_each_in_order_and_record_the_version),
        cmocka_unit_test(a_failed_migration_changes_nothing_and_is_tried_again),
        cmocka_unit_test(text_and_null_parameters_bind_as_given),
        cmocka_unit_test(select_walks_rows_and_reads_typed_columns),
        cmocka_unit_test(run_counts_changed_rows_and_returning_gives_the_new_id),
        cmocka_unit_test(open_with_a_broken_schema_fails_and_leaves_out_unset),
        cmocka_unit_test(open_without_a_schema_still_has_inbox_and_outbox),
        cmocka_unit_test(committed_rows_stay),
        cmocka_unit_test(rolled_back_rows_and_events_are_gone),
        cmocka_unit_test(inbox_claim_is_fresh_once_per_event_id),
        cmocka_unit_test(inbox_claim_survives_its_transaction),
        cmocka_unit_test(rolled_back_inbox_claim_can_be_claimed_again),
        cmocka_unit_test(emitted_event_is_an_outbox_row_on_the_component_topic),
        cmocka_unit_test(emit_without_data_carries_an_empty_object),
        cmocka_unit_test(emit_with_an_oversized_type_fails_and_frees_data),
        cmocka_unit_test(outbox_walk_is_in_id_order_from_after_id),
        cmocka_unit_test(outbox_walk_stops_when_the_callback_says_so),
        cmocka_unit_test(outbox_delete_removes_one_row_and_ignores_unknown_ids),
        cmocka_unit_test(outbox_ids_are_not_reused_after_delete),
        cmocka_unit_test(query_object_is_null_without_a_row),
        cmocka_unit_test(query_object_names_columns_by_alias_and_types_them),
        cmocka_unit_test(query_object_refuses_a_blob),
        cmocka_unit_test(query_objects_gives_every_row_in_order_and_empty_when_none),
        cmocka_unit_test(query_with_bad_sql_is_a_db_error),
        cmocka_unit_test(run_and_query_int_bind_int64_arguments),
        cmocka_unit_test(query_int_gives_the_fallback_without_a_row_or_value),
        cmocka_unit_test(file_database_keeps_outbox_rows_across_close_and_reopen),
        cmocka_unit_test(committed_outbox_rows_outlive_a_crash_and_open_work_does_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
