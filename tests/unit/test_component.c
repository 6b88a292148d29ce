/* Unit tests of the component runtime's dispatch, dedupe and replies (lib/src/component.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/component.h"

/* A tiny component of our own: widgets, created by command, listed by query, and a
 * wildcard route counting order events. */
struct widget_state {
    int create_calls;
    int list_calls;
    int order_event_calls;
    int fail_calls;
    bool create_saw_transaction;
    bool list_saw_transaction;
};

static const char widget_schema[] =
    "CREATE TABLE IF NOT EXISTS widgets(id INTEGER PRIMARY KEY, name TEXT NOT NULL);";

static bool in_transaction(struct hb_ctx *ctx)
{
    return hb_store_in_tx(ctx->store);
}

/* Inserts a widget named name; its id into *id. */
static hb_err_t widget_insert(struct hb_ctx *ctx, const char *name, int64_t *id)
{
    return hb_store_query_int(ctx->store, "INSERT INTO widgets(name) VALUES(?) RETURNING id",
                              HB_ARGS(HB_TEXT(name)), 0, id);
}

/* Creates a widget from data.name, emits WidgetCreated and answers 201. */
static hb_err_t widget_create(struct hb_ctx *ctx, const struct hb_event *ev,
                              struct hb_reply *reply)
{
    struct widget_state *ws = ctx->user;
    ws->create_calls++;
    ws->create_saw_transaction = in_transaction(ctx);
    const char *name = NULL;
    if (hb_json_str(ev->data, "name", 40, &name) != HB_OK) {
        return hb_ctx_reject(ctx, "name must be a string of 1 to 40 bytes");
    }
    int64_t id = 0;
    HB_RETURN_ON_ERR(widget_insert(ctx, name, &id));
    cJSON *data = cJSON_CreateObject();
    if (!data || !cJSON_AddNumberToObject(data, "widgetId", (double)id) ||
        !cJSON_AddStringToObject(data, "name", name)) {
        cJSON_Delete(data);
        return HB_ERR_NOMEM;
    }
    HB_RETURN_ON_ERR(hb_store_emit(ctx->store, "WidgetCreated", 0, data));
    reply->code = 201;
    snprintf(reply->location, sizeof(reply->location), "/widgets/%lld", (long long)id);
    return HB_OK;
}

/* Writes and emits, then refuses: everything it did must be rolled back. */
static hb_err_t widget_break(struct hb_ctx *ctx, const struct hb_event *ev,
                             struct hb_reply *reply)
{
    (void)ev;
    (void)reply;
    struct widget_state *ws = ctx->user;
    ws->fail_calls++;
    int64_t id = 0;
    HB_RETURN_ON_ERR(widget_insert(ctx, "doomed", &id));
    HB_RETURN_ON_ERR(hb_store_emit(ctx->store, "WidgetCreated", 0, NULL));
    return hb_ctx_reject(ctx, "widget is broken");
}

/* Writes and emits, then fails with an internal error. */
static hb_err_t widget_jam(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    (void)ev;
    (void)reply;
    struct widget_state *ws = ctx->user;
    ws->fail_calls++;
    int64_t id = 0;
    HB_RETURN_ON_ERR(widget_insert(ctx, "jammed", &id));
    HB_RETURN_ON_ERR(hb_store_emit(ctx->store, "WidgetCreated", 0, NULL));
    return HB_ERR_CONFLICT;
}

/* A query: answers 200 with the number of widgets. */
static hb_err_t widget_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    (void)ev;
    struct widget_state *ws = ctx->user;
    ws->list_calls++;
    ws->list_saw_transaction = in_transaction(ctx);
    int64_t count = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store, "SELECT count(*) FROM widgets", NULL, 0, 0,
                                        &count));
    reply->code = 200;
    reply->body = cJSON_CreateObject();
    if (!reply->body || !cJSON_AddNumberToObject(reply->body, "count", (double)count)) {
        return HB_ERR_NOMEM;
    }
    return HB_OK;
}

static hb_err_t widget_on_order_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                      struct hb_reply *reply)
{
    (void)ev;
    (void)reply;
    struct widget_state *ws = ctx->user;
    ws->order_event_calls++;
    return HB_OK;
}

static const struct hb_route widget_routes[] = {
    {.topic = HB_CMD_TOPIC("widget", "create"), .handler = widget_create},
    {.topic = HB_CMD_TOPIC("widget", "break"), .handler = widget_break},
    {.topic = HB_CMD_TOPIC("widget", "jam"), .handler = widget_jam},
    {.topic = HB_CMD_TOPIC("widget", "list"), .handler = widget_list, .read_only = true},
    {.topic = HB_EVT_TOPIC("order", "+"), .handler = widget_on_order_event},
};

static const struct hb_migration widget_migrations[] = {{.sqlite = widget_schema}};

static const struct hb_component widget_component = {
    .name = "widget",
    HB_MIGRATIONS(widget_migrations),
    .routes = widget_routes,
    .n_routes = sizeof(widget_routes) / sizeof(widget_routes[0]),
};

/* Per-case fixture: a store in memory, a ctx and the component's state. */
struct fixture {
    struct hb_config cfg;
    struct hb_ctx ctx;
    struct widget_state ws;
    struct hb_reply reply;
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->ctx.cfg = &f->cfg;
    f->ctx.user = &f->ws;
    f->ctx.now_ms = 1700000000000LL;
    assert_int_equal(hb_store_open(":memory:", widget_component.name, widget_component.migrations,
                                   widget_component.n_migrations, &f->ctx.store),
                     HB_OK);
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    hb_reply_clear(&f->reply);
    hb_store_close(f->ctx.store);
    free(f);
    return 0;
}

/* An incoming command or event with the given id and data JSON (NULL for {}). */
static void make_event(struct hb_event *ev, const char *id, const char *type,
                       const char *data_json)
{
    cJSON *data = data_json ? cJSON_Parse(data_json) : NULL;
    assert_true(!data_json || data);
    assert_int_equal(hb_event_init(ev, "gateway", type, 0, data), HB_OK);
    snprintf(ev->id, sizeof(ev->id), "%s", id);
}

static hb_err_t dispatch(struct fixture *f, const char *topic, const char *id,
                         const char *data_json)
{
    struct hb_event ev;
    make_event(&ev, id, "widget.cmd", data_json);
    hb_reply_clear(&f->reply);
    hb_err_t rc = hb_component_dispatch(&widget_component, &f->ctx, topic, &ev, &f->reply);
    hb_event_clear(&ev);
    return rc;
}

static int64_t count_of(struct fixture *f, const char *sql)
{
    int64_t n = -1;
    assert_int_equal(hb_store_query_int(f->ctx.store, sql, NULL, 0, -1, &n), HB_OK);
    return n;
}

static bool inbox_has(struct fixture *f, const char *event_id)
{
    int64_t found = 0;
    assert_int_equal(hb_store_query_int(f->ctx.store, "SELECT 1 FROM hb_inbox WHERE event_id = ?",
                                        HB_ARGS(HB_TEXT(event_id)), 0, &found),
                     HB_OK);
    return found == 1;
}

/* Copies the topic of the first outbox row into ctx (a char[160]). */
static int first_topic(void *ctx, const struct hb_outbox_row *row)
{
    snprintf(ctx, 160, "%s", row->topic);
    return 1;
}

static void write_route_runs_in_a_transaction_and_commits_its_events(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":\"bolt\"}"),
                     HB_OK);
    assert_int_equal(f->ws.create_calls, 1);
    assert_true(f->ws.create_saw_transaction);
    assert_false(hb_store_in_tx(f->ctx.store)); /* committed, closed */
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 1);
    assert_int_equal(hb_store_outbox_count(f->ctx.store), 1);
    char topic[160] = "";
    assert_int_equal(hb_store_outbox_each(f->ctx.store, 0, 10, first_topic, topic), HB_OK);
    assert_string_equal(topic, "hausbus/v1/evt/widget/WidgetCreated");
    assert_true(inbox_has(f, "c1"));
    assert_int_equal(f->reply.code, 201);
    assert_string_equal(f->reply.location, "/widgets/1");
    assert_string_equal(f->ctx.error, "");
}

static void rejecting_handler_rolls_back_and_leaves_the_reason(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/break", "b1", NULL), HB_ERR_DECODE);
    assert_int_equal(f->ws.fail_calls, 1);
    assert_string_equal(f->ctx.error, "widget is broken");
    assert_false(hb_store_in_tx(f->ctx.store));
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 0);
    assert_int_equal(hb_store_outbox_count(f->ctx.store), 0);
    assert_false(inbox_has(f, "b1")); /* a rolled-back event is not marked handled */

    /* the store is left usable: the next command commits */
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":\"bolt\"}"),
                     HB_OK);
    assert_string_equal(f->ctx.error, ""); /* cleared for the next message */
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 1);
}

static void invalid_command_data_is_rejected_without_changes(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":42}"),
                     HB_ERR_DECODE);
    assert_string_equal(f->ctx.error, "name must be a string of 1 to 40 bytes");
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 0);
    assert_int_equal(hb_store_outbox_count(f->ctx.store), 0);
}

static void internal_error_rolls_back_too(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/jam", "j1", NULL), HB_ERR_CONFLICT);
    assert_false(hb_store_in_tx(f->ctx.store));
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 0);
    assert_int_equal(hb_store_outbox_count(f->ctx.store), 0);
    assert_false(inbox_has(f, "j1"));
}

static void same_event_id_twice_runs_the_handler_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":\"bolt\"}"),
                     HB_OK);
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":\"bolt\"}"),
                     HB_OK);
    assert_int_equal(f->ws.create_calls, 1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 1);
    assert_int_equal(hb_store_outbox_count(f->ctx.store), 1);
    assert_false(hb_store_in_tx(f->ctx.store));

    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c2", "{\"name\":\"nut\"}"),
                     HB_OK);
    assert_int_equal(f->ws.create_calls, 2);
    assert_int_equal(count_of(f, "SELECT count(*) FROM widgets"), 2);
}

static void rejected_event_is_handled_when_redelivered(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/break", "b1", NULL), HB_ERR_DECODE);
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/break", "b1", NULL), HB_ERR_DECODE);
    assert_int_equal(f->ws.fail_calls, 2);
}

static void read_only_route_runs_without_a_transaction_or_inbox_entry(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create", "c1", "{\"name\":\"bolt\"}"),
                     HB_OK);
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/list", "q1", NULL), HB_OK);
    assert_int_equal(f->ws.list_calls, 1);
    assert_false(f->ws.list_saw_transaction);
    assert_false(inbox_has(f, "q1"));
    assert_int_equal(f->reply.code, 200);
    int64_t count = 0;
    assert_int_equal(hb_json_int(f->reply.body, "count", 0, 100, &count), HB_OK);
    assert_int_equal(count, 1);

    /* a repeated query id is answered again, not deduplicated */
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/list", "q1", NULL), HB_OK);
    assert_int_equal(f->ws.list_calls, 2);
    assert_int_equal(f->reply.code, 200);
}

static void unknown_topic_is_a_decode_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/explode", "x1", NULL), HB_ERR_DECODE);
    assert_true(f->ctx.error[0] != '\0');
    assert_false(inbox_has(f, "x1"));
    assert_int_equal(f->ws.create_calls + f->ws.list_calls + f->ws.fail_calls +
                         f->ws.order_event_calls,
                     0);
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/creat", "x2", NULL), HB_ERR_DECODE);
    assert_int_equal(dispatch(f, "hausbus/v1/cmd/widget/create/more", "x3", NULL),
                     HB_ERR_DECODE);
    assert_int_equal(dispatch(f, "", "x4", NULL), HB_ERR_DECODE);
    assert_int_equal(f->ws.create_calls, 0);
}

static void wildcard_route_matches_exactly_one_level(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispatch(f, "hausbus/v1/evt/order/OrderPlaced", "o1", NULL), HB_OK);
    assert_int_equal(dispatch(f, "hausbus/v1/evt/order/x", "o2", NULL), HB_OK);
    assert_int_equal(f->ws.order_event_calls, 2);
    assert_true(inbox_has(f, "o1"));

    static const char *const misses[] = {
        "hausbus/v1/evt/order/a/b", /* two levels */
        "hausbus/v1/evt/order/",    /* empty level */
        "hausbus/v1/evt/order",     /* no level */
        "hausbus/v1/evt/orders/OrderPlaced",
        "hausbus/v1/evt/orde/OrderPlaced",
        "hausbus/v1/evt/product/OrderPlaced",
        "hausbus/v1/evt/order/+/",
    };
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        char id[16];
        snprintf(id, sizeof(id), "m%zu", i);
        hb_err_t rc = dispatch(f, misses[i], id, NULL);
        if (rc != HB_ERR_DECODE) {
            fail_msg("\"%s\" matched the wildcard route (%s)", misses[i], hb_strerror(rc));
        }
    }
    assert_int_equal(f->ws.order_event_calls, 2);
}

static void reply_error_sets_code_and_error_body(void **state)
{
    (void)state;
    struct hb_reply reply = {0};
    reply.body = cJSON_CreateObject(); /* replaced without leaking */
    snprintf(reply.location, sizeof(reply.location), "/widgets/1");
    assert_int_equal(hb_reply_error(&reply, 409, "widget \"w\" is taken"), HB_OK);
    assert_int_equal(reply.code, 409);
    assert_string_equal(reply.location, "");
    assert_true(cJSON_IsObject(reply.body));
    assert_int_equal(cJSON_GetArraySize(reply.body), 1);
    const char *msg = NULL;
    assert_int_equal(hb_json_str(reply.body, "error", 100, &msg), HB_OK);
    assert_string_equal(msg, "widget \"w\" is taken");

    hb_reply_clear(&reply);
    assert_int_equal(reply.code, 0);
    assert_null(reply.body);
    assert_string_equal(reply.location, "");
    hb_reply_clear(&reply); /* a cleared reply can be cleared again */
}

static void reject_sets_the_reason_and_truncates_it(void **state)
{
    (void)state;
    struct hb_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    assert_int_equal(hb_ctx_reject(&ctx, "qty must be positive"), HB_ERR_DECODE);
    assert_string_equal(ctx.error, "qty must be positive");
    char long_reason[400];
    memset(long_reason, 'r', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    assert_int_equal(hb_ctx_reject(&ctx, long_reason), HB_ERR_DECODE);
    assert_int_equal(strlen(ctx.error), sizeof(ctx.error) - 1);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(write_route_runs_in_a_transaction_and_commits_its_events),
        FIXTURE_TEST(rejecting_handler_rolls_back_and_leaves_the_reason),
        FIXTURE_TEST(invalid_command_data_is_rejected_without_changes),
        FIXTURE_TEST(internal_error_rolls_back_too),
        FIXTURE_TEST(same_event_id_twice_runs_the_handler_once),
        FIXTURE_TEST(rejected_event_is_handled_when_redelivered),
        FIXTURE_TEST(read_only_route_runs_without_a_transaction_or_inbox_entry),
        FIXTURE_TEST(unknown_topic_is_a_decode_error),
        FIXTURE_TEST(wildcard_route_matches_exactly_one_level),
        cmocka_unit_test(reply_error_sets_code_and_error_body),
        cmocka_unit_test(reject_sets_the_reason_and_truncates_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
