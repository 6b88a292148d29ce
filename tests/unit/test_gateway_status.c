/* Unit tests of the gateway's one process status table (gateway/src/status.c), no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

static bool feed(struct gateway_status *status, const char *topic, const char *payload)
{
    return gateway_status_on_message(status, topic, payload, strlen(payload));
}

static void the_seven_processes_are_known_and_unknown_at_start(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    struct gateway_process_status rows[GATEWAY_STATUS_MAX];
    static const char *const names[] = {"gateway",  "order",        "product", "payment",
                                        "delivery", "notification", "view"};
    assert_int_equal(gateway_status_list(status, rows, GATEWAY_STATUS_MAX), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(rows[i].name, names[i]);
        assert_int_equal(rows[i].state, GATEWAY_PROCESS_UNKNOWN);
        /* The gateway's own readiness is its broker link, not a retained status. */
        assert_int_equal(rows[i].required, i != 0);
    }
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_UNKNOWN);
    assert_int_equal(gateway_status_of(status, "nobody"), GATEWAY_PROCESS_UNKNOWN);
    assert_int_equal(gateway_status_of(status, NULL), GATEWAY_PROCESS_UNKNOWN);
    gateway_status_destroy(status);
    gateway_status_destroy(NULL);
}

static void online_offline_and_cleared_status(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    assert_true(feed(status, "hausbus/v1/status/order", "online"));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_ONLINE);
    assert_true(feed(status, "hausbus/v1/status/order", "offline")); /* a stop or its will */
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_OFFLINE);
    assert_true(feed(status, "hausbus/v1/status/order", "")); /* retained status cleared */
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_UNKNOWN);
    assert_true(feed(status, "hausbus/v1/status/extra-1", "online"));
    assert_int_equal(gateway_status_of(status, "extra-1"), GATEWAY_PROCESS_ONLINE);
    struct gateway_process_status rows[GATEWAY_STATUS_MAX];
    assert_int_equal(gateway_status_list(status, rows, GATEWAY_STATUS_MAX), 8);
    assert_string_equal(rows[7].name, "extra-1");
    assert_false(rows[7].required);
    assert_true(feed(status, "hausbus/v1/status/extra-1", "")); /* others are forgotten */
    assert_int_equal(gateway_status_list(status, rows, GATEWAY_STATUS_MAX), 7);
    assert_int_equal(gateway_status_list(status, rows, 3), 3); /* cap respected */
    gateway_status_destroy(status);
}

static void foreign_topics_and_payloads_are_refused(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    assert_false(feed(status, "hausbus/v1/evt/order/OrderPlaced", "online"));
    assert_false(feed(status, "hausbus/v1/status/", "online"));
    assert_false(feed(status, "hausbus/v1/status/Order", "online"));
    assert_false(feed(status, "hausbus/v1/status/a/b/c", "online")); /* a/b: a replica */
    assert_false(feed(status, "hausbus/v1/status/x\"y", "online"));
    assert_false(feed(status, "hausbus/v1/status/order", "ONLINE"));
    assert_false(feed(status, "hausbus/v1/status/order", "online\n"));
    assert_false(gateway_status_on_message(status, NULL, "online", 6));
    assert_false(gateway_status_on_message(status, "hausbus/v1/status/order", NULL, 6));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_UNKNOWN);
    gateway_status_destroy(status);
}

static void table_is_bounded(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    char topic[64];
    for (int i = 0; i < GATEWAY_STATUS_MAX - 7; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/status/c%02d", i);
        assert_true(feed(status, topic, "online"));
    }
    assert_false(feed(status, "hausbus/v1/status/one-too-many", "online"));
    assert_int_equal(gateway_status_of(status, "one-too-many"), GATEWAY_PROCESS_UNKNOWN);
    assert_true(feed(status, "hausbus/v1/status/c00", "offline")); /* known names update */
    assert_true(feed(status, "hausbus/v1/status/view", "online"));
    assert_int_equal(gateway_status_of(status, "view"), GATEWAY_PROCESS_ONLINE);
    gateway_status_destroy(status);
}

/* Replicas report as "<component>/<instance>": the component is online while any of them
 * is, offline once all that reported are offline; a cleared one is forgotten. */
static void a_component_is_online_while_any_replica_is(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    assert_true(feed(status, "hausbus/v1/status/order/pod-a", "online"));
    assert_true(feed(status, "hausbus/v1/status/order/Pod.b_2", "online"));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_ONLINE);
    assert_true(feed(status, "hausbus/v1/status/order/pod-a", "offline"));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_ONLINE);
    struct gateway_process_status rows[GATEWAY_STATUS_MAX];
    size_t n = gateway_status_list(status, rows, GATEWAY_STATUS_MAX);
    assert_int_equal(n, 7); /* replicas are not rows of their own */
    assert_string_equal(rows[1].name, "order");
    assert_int_equal(rows[1].state, GATEWAY_PROCESS_ONLINE);
    assert_true(feed(status, "hausbus/v1/status/order/Pod.b_2", "offline"));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_OFFLINE);
    assert_true(gateway_status_on_message(status, "hausbus/v1/status/order/pod-a", "", 0));
    assert_true(gateway_status_on_message(status, "hausbus/v1/status/order/Pod.b_2", "", 0));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_UNKNOWN);
    /* bad instance names and deeper topics are refused */
    assert_false(feed(status, "hausbus/v1/status/order/", "online"));
    assert_false(feed(status, "hausbus/v1/status/order/a/b", "online"));
    assert_false(feed(status, "hausbus/v1/status/order/a b", "online"));
    assert_false(feed(status, "hausbus/v1/status/Order/a", "online"));
    assert_int_equal(gateway_status_of(status, "order"), GATEWAY_PROCESS_UNKNOWN);
    gateway_status_destroy(status);
}

/* The replica table is bounded; when full, a new replica takes an offline one's place. */
static void replica_table_is_bounded_and_gone_replicas_make_room(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    char topic[96];
    for (int i = 0; i < GATEWAY_INSTANCES_MAX; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/status/view/old-%d", i);
        assert_true(feed(status, topic, i == 0 ? "offline" : "online"));
    }
    assert_true(feed(status, "hausbus/v1/status/payment/new", "online")); /* old-0's place */
    assert_int_equal(gateway_status_of(status, "payment"), GATEWAY_PROCESS_ONLINE);
    assert_false(feed(status, "hausbus/v1/status/payment/newer", "online")); /* none offline */
    gateway_status_destroy(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_seven_processes_are_known_and_unknown_at_start),
        cmocka_unit_test(online_offline_and_cleared_status),
        cmocka_unit_test(foreign_topics_and_payloads_are_refused),
        cmocka_unit_test(table_is_bounded),
        cmocka_unit_test(a_component_is_online_while_any_replica_is),
        cmocka_unit_test(replica_table_is_bounded_and_gone_replicas_make_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
