/* Unit tests of the live board's state (gateway/src/board.c): folding and rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "board.h"
#include "status.h"

/* The status table the board shows, as the gateway keeps it: one per test. */
static struct gateway_status *status_table;

static int make_status(void **state)
{
    (void)state;
    return gateway_status_create(&status_table) == HB_OK ? 0 : -1;
}

static int drop_status(void **state)
{
    (void)state;
    gateway_status_destroy(status_table);
    status_table = NULL;
    return 0;
}

static struct gateway_board *make_board(void)
{
    struct gateway_board *board = NULL;
    assert_int_equal(gateway_board_create(4, status_table, &board), HB_OK);
    return board;
}

/* Delivers a message as the gateway does: a status goes into the status table first. */
static bool feed_len(struct gateway_board *board, const char *topic, const char *payload,
                     size_t len)
{
    if (strncmp(topic, "hausbus/v1/status/", 18) == 0 &&
        !gateway_status_on_message(status_table, topic, payload, len)) {
        return false;
    }
    return gateway_board_on_message(board, topic, payload, len);
}

static bool feed(struct gateway_board *board, const char *topic, const char *payload)
{
    return feed_len(board, topic, payload, strlen(payload));
}

/* The rendered parts in mask as a cJSON tree (the caller deletes it). */
static cJSON *render(struct gateway_board *board, unsigned mask)
{
    char *text = gateway_board_render(board, mask, NULL);
    assert_non_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    return root;
}

static const char *component_status(struct gateway_board *board, const char *name)
{
    static char status[16];
    cJSON *root = render(board, GATEWAY_BOARD_COMPONENTS_PART);
    const cJSON *c;
    snprintf(status, sizeof(status), "absent");
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "components"))
    {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name) == 0) {
            snprintf(status, sizeof(status), "%s", cJSON_GetObjectItem(c, "status")->valuestring);
        }
    }
    cJSON_Delete(root);
    return status;
}

static void order_event(struct gateway_board *board, const char *type, int id, const char *status,
                        int version, const char *reason)
{
    char topic[128];
    char payload[512];
    snprintf(topic, sizeof(topic), "hausbus/v1/evt/order/%s", type);
    snprintf(payload, sizeof(payload),
             "{\"specversion\":\"1.0\",\"type\":\"order.%s\",\"time\":\"2026-11-25T12:00:0%d.000Z\","
             "\"data\":{\"orderId\":%d,\"status\":\"%s\",\"version\":%d,\"reason\":%s}}",
             type, version % 10, id, status, version, reason ? reason : "null");
    assert_true(feed(board, topic, payload));
}

static void metrics(struct gateway_board *board, const char *name, const char *started,
                    const char *time, const char *handled)
{
    char topic[128];
    char payload[1024];
    snprintf(topic, sizeof(topic), "hausbus/v1/metrics/%s", name);
    snprintf(payload, sizeof(payload),
             "{\"component\":\"%s\",\"time\":\"%s\",\"startedAt\":\"%s\",\"handled\":%s,"
             "\"published\":{},\"deadLetters\":0,\"handlerErrors\":0,\"duplicates\":0,"
             "\"outboxPending\":0}",
             name, time, started, handled);
    assert_true(feed(board, topic, payload));
}

/* The edge from -> to as rendered, NULL when absent (valid until root is deleted). */
static const cJSON *edge(const cJSON *root, const char *from, const char *to)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "edges"))
    {
        if (strcmp(cJSON_GetObjectItem(e, "from")->valuestring, from) == 0 &&
            strcmp(cJSON_GetObjectItem(e, "to")->valuestring, to) == 0) {
            return e;
        }
    }
    return NULL;
}

static void the_seven_processes_are_shown_before_any_status(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    cJSON *root = render(board, GATEWAY_BOARD_ALL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "components")), 7);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "orders")), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "edges")), 0);
    cJSON_Delete(root);
    assert_string_equal(component_status(board, "payment"), "unknown");
    gateway_board_destroy(board);
}

static void status_messages_set_online_and_offline(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    assert_true(feed(board, "hausbus/v1/status/order", "online"));
    assert_string_equal(component_status(board, "order"), "online");
    assert_true(feed(board, "hausbus/v1/status/order", "offline"));
    assert_string_equal(component_status(board, "order"), "offline");
    /* A cleared retained status: one of ours is unknown again, another one is gone. */
    assert_true(feed_len(board, "hausbus/v1/status/order", "", 0));
    assert_string_equal(component_status(board, "order"), "unknown");
    assert_true(feed(board, "hausbus/v1/status/extra-1", "online"));
    assert_string_equal(component_status(board, "extra-1"), "online");
    assert_true(feed_len(board, "hausbus/v1/status/extra-1", "", 0));
    assert_string_equal(component_status(board, "extra-1"), "absent");
    assert_false(feed(board, "hausbus/v1/status/order", "maybe"));
    assert_false(feed(board, "hausbus/v1/status/Bad\"Name", "online"));
    assert_false(feed(board, "hausbus/v1/other/order", "online"));
    gateway_board_destroy(board);
}

static void components_beyond_the_bound_are_ignored(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    char topic[64];
    for (int i = 0; i < GATEWAY_STATUS_MAX - 7; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/status/extra%d", i);
        assert_true(feed(board, topic, "online"));
    }
    assert_false(feed(board, "hausbus/v1/status/onetoomany", "online"));
    assert_string_equal(component_status(board, "onetoomany"), "absent");
    gateway_board_destroy(board);
}

static void orders_follow_their_events_newest_first(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    order_event(board, "OrderPlaced", 5, "PLACED", 1, NULL);
    order_event(board, "OrderPlaced", 6, "PLACED", 1, NULL);
    order_event(board, "OrderPaid", 5, "PAID", 3, NULL);
    order_event(board, "OrderRejected", 6, "REJECTED", 2, "\"OUT_OF_STOCK\"");
    /* A replayed older event does not take order 5 back. */
    order_event(board, "OrderPlaced", 5, "PLACED", 1, NULL);
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_null(cJSON_GetObjectItem(root, "components"));
    const cJSON *orders = cJSON_GetObjectItem(root, "orders");
    assert_int_equal(cJSON_GetArraySize(orders), 2);
    const cJSON *first = cJSON_GetArrayItem(orders, 0);
    const cJSON *second = cJSON_GetArrayItem(orders, 1);
    assert_int_equal(cJSON_GetObjectItem(first, "orderId")->valueint, 6);
    assert_string_equal(cJSON_GetObjectItem(first, "status")->valuestring, "REJECTED");
    assert_string_equal(cJSON_GetObjectItem(first, "reason")->valuestring, "OUT_OF_STOCK");
    assert_string_equal(cJSON_GetObjectItem(first, "event")->valuestring, "OrderRejected");
    assert_int_equal(cJSON_GetObjectItem(second, "orderId")->valueint, 5);
    assert_string_equal(cJSON_GetObjectItem(second, "status")->valuestring, "PAID");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(second, "reason")));
    assert_string_equal(cJSON_GetObjectItem(second, "time")->valuestring,
                        "2026-11-25T12:00:03.000Z");
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

/* A CloudEvents batch of order events (docs/PROTOCOL.md, "Batches") shows each of them. */
static void each_event_of_a_batch_is_shown(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    assert_true(gateway_board_join(board)); /* a stream is open: events are read at once */
    assert_true(feed(board, "hausbus/v1/evt/order/OrderPlaced",
                     "[{\"specversion\":\"1.0\",\"type\":\"OrderPlaced\","
                     "\"time\":\"2026-11-25T12:00:01.000Z\","
                     "\"data\":{\"orderId\":7,\"status\":\"PLACED\",\"version\":1}},"
                     "{\"specversion\":\"1.0\",\"type\":\"OrderPlaced\","
                     "\"time\":\"2026-11-25T12:00:02.000Z\","
                     "\"data\":{\"orderId\":8,\"status\":\"PLACED\",\"version\":1}}]"));
    assert_false(feed(board, "hausbus/v1/evt/order/OrderPlaced", "[1,2]"));
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    const cJSON *orders = cJSON_GetObjectItem(root, "orders");
    assert_int_equal(cJSON_GetArraySize(orders), 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(orders, 0), "orderId")->valueint, 8);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(orders, 1), "orderId")->valueint, 7);
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

static void only_the_latest_orders_are_kept(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    for (int id = 1; id <= GATEWAY_BOARD_ORDERS + 5; id++) {
        order_event(board, "OrderPlaced", id, "PLACED", 1, NULL);
    }
    order_event(board, "OrderPaid", 2, "PAID", 2, NULL); /* older than every order shown */
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    const cJSON *orders = cJSON_GetObjectItem(root, "orders");
    assert_int_equal(cJSON_GetArraySize(orders), GATEWAY_BOARD_ORDERS);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(orders, 0), "orderId")->valueint,
                     GATEWAY_BOARD_ORDERS + 5);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(orders, GATEWAY_BOARD_ORDERS - 1), "orderId")
            ->valueint,
        6);
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

static void malformed_order_events_are_refused(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    const char *bad[] = {
        "not json",
        "[]",
        "{\"data\":{\"status\":\"PAID\"}}",
        "{\"data\":{\"orderId\":0,\"status\":\"PAID\"}}",
        "{\"data\":{\"orderId\":1.5,\"status\":\"PAID\"}}",
        "{\"data\":{\"orderId\":1,\"status\":7}}",
        "{\"data\":{\"orderId\":1,\"status\":\"\"}}",
        "{\"data\":{\"orderId\":1,\"status\":\"PAID\",\"version\":-1}}",
    };
    /* With no stream open they are kept unread, and dropped when somebody looks. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_true(feed(board, "hausbus/v1/evt/order/OrderPaid", bad[i]));
    }
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "orders")), 0);
    cJSON_Delete(root);
    /* With a stream open they are read, and refused, at once. */
    assert_true(gateway_board_join(board));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(feed(board, "hausbus/v1/evt/order/OrderPaid", bad[i]));
    }
    gateway_board_leave(board);
    /* Topics and empty payloads are refused before anything is kept. */
    assert_false(feed(board, "hausbus/v1/evt/order/a/b", "{\"data\":{\"orderId\":1,\"status\":\"PAID\"}}"));
    assert_false(gateway_board_on_message(board, "hausbus/v1/evt/order/OrderPaid", "", 0));
    root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "orders")), 0);
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

/* The order id of row i of the rendered orders, -1 when there is none. */
static int order_at(const cJSON *root, int i)
{
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "orders"), i);
    return row ? cJSON_GetObjectItem(row, "orderId")->valueint : -1;
}

static void events_wait_unread_until_a_stream_joins(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    struct gateway_board_cursor cursor;
    free(gateway_board_render(board, GATEWAY_BOARD_ALL, &cursor));
    order_event(board, "OrderPlaced", 5, "PLACED", 1, NULL);
    order_event(board, "OrderPaid", 5, "PAID", 3, NULL);
    order_event(board, "OrderPlaced", 6, "PLACED", 1, NULL);
    /* Nobody watches: nothing is read (not even parsed: text that is not JSON is taken
     * as well, and dropped only when read), so nothing has moved yet. Then a stream
     * joins and finds what came before it, in order. */
    assert_true(feed(board, "hausbus/v1/evt/order/OrderPaid", "{not json"));
    assert_true(gateway_board_join(board));
    assert_int_equal(gateway_board_wait(board, &cursor, 0), GATEWAY_BOARD_ORDERS_PART);
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_int_equal(order_at(root, 0), 6);
    assert_int_equal(order_at(root, 1), 5);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "orders"), 1),
                                            "status")
                            ->valuestring,
                        "PAID");
    cJSON_Delete(root);
    /* While it watches, an event moves the board at once. */
    free(gateway_board_render(board, GATEWAY_BOARD_ALL, &cursor));
    order_event(board, "OrderPaid", 6, "PAID", 3, NULL);
    assert_int_equal(gateway_board_wait(board, &cursor, 0), GATEWAY_BOARD_ORDERS_PART);
    gateway_board_leave(board);
    gateway_board_destroy(board);
}

/* An order event of about 1 KiB: the backlog holds some 128 of them. */
static void big_order_event(struct gateway_board *board, int id, int version)
{
    char payload[1400];
    char pad[1001];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(payload, sizeof(payload),
             "{\"time\":\"2026-11-25T12:00:00.000Z\",\"data\":{\"orderId\":%d,"
             "\"status\":\"PREPARING\",\"version\":%d,\"pad\":\"%s\"}}",
             id, version, pad);
    assert_true(feed(board, "hausbus/v1/evt/order/OrderPreparing", payload));
}

static void a_backlog_that_overflowed_shows_only_current_orders(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    order_event(board, "OrderPlaced", 1, "PLACED", 1, NULL);
    order_event(board, "OrderPlaced", 2, "PLACED", 1, NULL);
    cJSON *root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_int_equal(order_at(root, 0), 2);
    cJSON_Delete(root);
    /* Order 2 moves on, then more events than the backlog holds push that one out
     * unread: order 2 must not be shown as PLACED any more. */
    order_event(board, "OrderPaid", 2, "PAID", 3, NULL);
    for (int version = 1; version <= 200; version++) {
        big_order_event(board, 1, version);
    }
    root = render(board, GATEWAY_BOARD_ORDERS_PART);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "orders")), 1);
    assert_int_equal(order_at(root, 0), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "orders"), 0),
                                            "status")
                            ->valuestring,
                        "PREPARING");
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

static void edges_come_from_handled_topics_with_rates(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    const char *started = "2026-11-25T11:00:00.000Z";
    metrics(board, "product", started, "2026-11-25T12:00:00.000Z",
            "{\"hausbus/v1/evt/order/OrderPlaced\":10,\"hausbus/v1/evt/order/OrderRejected\":2,"
            "\"hausbus/v1/cmd/product/create\":4,\"hausbus/v1/other\":9}");
    cJSON *root = render(board, GATEWAY_BOARD_EDGES_PART);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "edges")), 2);
    const cJSON *e = edge(root, "order", "product");
    assert_non_null(e);
    assert_int_equal(cJSON_GetObjectItem(e, "total")->valueint, 12);
    assert_true(cJSON_GetObjectItem(e, "rate")->valuedouble == 0); /* one snapshot: no rate */
    assert_non_null(edge(root, "gateway", "product"));
    cJSON_Delete(root);

    /* 2.5 s later: 5 + 0 more from order, 1 more command, a new topic with 1. */
    metrics(board, "product", started, "2026-11-25T12:00:02.500Z",
            "{\"hausbus/v1/evt/order/OrderPlaced\":15,\"hausbus/v1/evt/order/OrderRejected\":2,"
            "\"hausbus/v1/cmd/product/create\":5,\"hausbus/v1/evt/order/OrderWithdrawn\":1}");
    root = render(board, GATEWAY_BOARD_EDGES_PART);
    e = edge(root, "order", "product");
    assert_int_equal(cJSON_GetObjectItem(e, "total")->valueint, 18);
    assert_true(cJSON_GetObjectItem(e, "rate")->valuedouble == 2.4); /* 6 in 2.5 s */
    e = edge(root, "gateway", "product");
    assert_true(cJSON_GetObjectItem(e, "rate")->valuedouble == 0.4);
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

static void a_restarted_process_has_no_rate_until_its_next_snapshot(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    metrics(board, "payment", "2026-11-25T11:00:00.000Z", "2026-11-25T12:00:00.000Z",
            "{\"hausbus/v1/evt/product/StockReserved\":100}");
    metrics(board, "payment", "2026-11-25T12:00:01.000Z", "2026-11-25T12:00:02.000Z",
            "{\"hausbus/v1/evt/product/StockReserved\":3}");
    cJSON *root = render(board, GATEWAY_BOARD_EDGES_PART);
    const cJSON *e = edge(root, "product", "payment");
    assert_int_equal(cJSON_GetObjectItem(e, "total")->valueint, 3);
    assert_true(cJSON_GetObjectItem(e, "rate")->valuedouble == 0);
    cJSON_Delete(root);
    /* An older snapshot (a late retained one) gives no rate either. */
    metrics(board, "payment", "2026-11-25T12:00:01.000Z", "2026-11-25T12:00:01.500Z",
            "{\"hausbus/v1/evt/product/StockReserved\":1}");
    root = render(board, GATEWAY_BOARD_EDGES_PART);
    assert_true(cJSON_GetObjectItem(edge(root, "product", "payment"), "rate")->valuedouble == 0);
    cJSON_Delete(root);
    gateway_board_destroy(board);
}

static void malformed_metrics_are_refused(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    const char *bad[] = {
        "{\"time\":\"2026-11-25T12:00:00.000Z\",\"startedAt\":\"x\"}",
        "{\"time\":\"yesterday\",\"startedAt\":\"x\",\"handled\":{}}",
        "{\"time\":\"2026-13-25T12:00:00.000Z\",\"startedAt\":\"x\",\"handled\":{}}",
        "{\"time\":\"2026-11-25T12:00:00.00Z\",\"startedAt\":\"x\",\"handled\":{}}",
        "{\"startedAt\":\"x\",\"handled\":{}}",
        "{\"time\":\"2026-11-25T12:00:00Z\",\"handled\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(feed(board, "hausbus/v1/metrics/order", bad[i]));
    }
    assert_true(feed(board, "hausbus/v1/metrics/order",
                     "{\"time\":\"2026-11-25T12:00:00Z\",\"handled\":{}}"));
    gateway_board_destroy(board);
}

static void a_change_wakes_a_waiting_stream_with_its_part(void **state)
{
    (void)state;
    struct gateway_board *board = make_board();
    struct gateway_board_cursor cursor;
    assert_true(gateway_board_join(board)); /* a stream waits once it has joined */
    char *text = gateway_board_render(board, GATEWAY_BOARD_ALL, &cursor);
    assert_non_null(text);
    free(text);
    assert_int_equal(gateway_board_wait(board, &cursor, 10), 0);
    assert_true(feed(board, "hausbus/v1/status/view", "online"));
    order_event(board, "OrderPlaced", 1, "PLACED", 1, NULL);
    assert_int_equal(gateway_board_wait(board, &cursor, 0),
                     GATEWAY_BOARD_COMPONENTS_PART | GATEWAY_BOARD_ORDERS_PART);
    text = gateway_board_render(board, GATEWAY_BOARD_ORDERS_PART, &cursor);
    free(text);
    assert_int_equal(gateway_board_wait(board, &cursor, 0), GATEWAY_BOARD_COMPONENTS_PART);
    gateway_board_wake(board); /* nobody waits: harmless */
    gateway_board_leave(board);
    gateway_board_destroy(board);
}

static void streams_are_capped(void **state)
{
    (void)state;
    struct gateway_board *board = NULL;
    assert_int_equal(gateway_board_create(2, status_table, &board), HB_OK);
    assert_true(gateway_board_join(board));
    assert_true(gateway_board_join(board));
    assert_false(gateway_board_join(board));
    gateway_board_leave(board);
    assert_true(gateway_board_join(board));
    gateway_board_destroy(board);
    assert_int_equal(gateway_board_create(0, status_table, &board), HB_OK); /* the board is off */
    assert_false(gateway_board_join(board));
    gateway_board_destroy(board);
    assert_int_equal(gateway_board_create(-1, status_table, &board), HB_ERR_INVAL);
    assert_int_equal(gateway_board_create(GATEWAY_BOARD_CLIENTS_MAX + 1, status_table, &board), HB_ERR_INVAL);
}

static void clients_setting_is_parsed(void **state)
{
    (void)state;
    int n = 0;
    assert_int_equal(gateway_board_clients_parse(NULL, &n), HB_OK);
    assert_int_equal(n, GATEWAY_BOARD_CLIENTS_DEFAULT);
    assert_int_equal(gateway_board_clients_parse("", &n), HB_OK);
    assert_int_equal(n, GATEWAY_BOARD_CLIENTS_DEFAULT);
    assert_int_equal(gateway_board_clients_parse("9", &n), HB_OK);
    assert_int_equal(n, 9);
    assert_int_equal(gateway_board_clients_parse("0", &n), HB_OK);
    assert_int_equal(n, 0);
    assert_int_equal(gateway_board_clients_parse("-1", &n), HB_ERR_INVAL);
    assert_int_equal(gateway_board_clients_parse("65", &n), HB_ERR_INVAL);
    assert_int_equal(gateway_board_clients_parse("4x", &n), HB_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_seven_processes_are_shown_before_any_status, make_status, drop_status),
        cmocka_unit_test_setup_teardown(status_messages_set_online_and_offline, make_status, drop_status),
        cmocka_unit_test_setup_teardown(components_beyond_the_bound_are_ignored, make_status, drop_status),
        cmocka_unit_test_setup_teardown(orders_follow_their_events_newest_first, make_status, drop_status),
        cmocka_unit_test_setup_teardown(each_event_of_a_batch_is_shown, make_status, drop_status),
        cmocka_unit_test_setup_teardown(only_the_latest_orders_are_kept, make_status, drop_status),
        cmocka_unit_test_setup_teardown(malformed_order_events_are_refused, make_status, drop_status),
        cmocka_unit_test_setup_teardown(events_wait_unread_until_a_stream_joins, make_status, drop_status),
        cmocka_unit_test_setup_teardown(a_backlog_that_overflowed_shows_only_current_orders, make_status, drop_status),
        cmocka_unit_test_setup_teardown(edges_come_from_handled_topics_with_rates, make_status, drop_status),
        cmocka_unit_test_setup_teardown(a_restarted_process_has_no_rate_until_its_next_snapshot, make_status, drop_status),
        cmocka_unit_test_setup_teardown(malformed_metrics_are_refused, make_status, drop_status),
        cmocka_unit_test_setup_teardown(a_change_wakes_a_waiting_stream_with_its_part, make_status, drop_status),
        cmocka_unit_test_setup_teardown(streams_are_capped, make_status, drop_status),
        cmocka_unit_test_setup_teardown(clients_setting_is_parsed, make_status, drop_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
