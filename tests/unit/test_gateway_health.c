/* Unit tests of the gateway's /healthz status table (gateway/src/health.c), no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

static bool status(struct gateway_health *health, const char *topic, const char *payload)
{
    return gateway_health_on_status(health, topic, payload, strlen(payload));
}

static void expect_render(struct gateway_health *health, bool connected, int code,
                          const char *json)
{
    int got_code = 0;
    char *text = gateway_health_render(health, connected, &got_code);
    assert_non_null(text);
    assert_int_equal(got_code, code);
    assert_string_equal(text, json);
    free(text);
}

static void status_messages_are_reported_by_name(void **state)
{
    (void)state;
    struct gateway_health *health = NULL;
    assert_int_equal(gateway_health_create(&health), HB_OK);
    expect_render(health, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"components\":{}}");
    assert_true(status(health, "hausbus/v1/status/product", "online"));
    assert_true(status(health, "hausbus/v1/status/order", "online"));
    assert_true(status(health, "hausbus/v1/status/payment", "offline"));
    expect_render(health, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"components\":{"
                  "\"order\":\"online\",\"payment\":\"offline\",\"product\":\"online\"}}");
    assert_true(status(health, "hausbus/v1/status/payment", "online"));
    assert_true(status(health, "hausbus/v1/status/order", "")); /* retained status cleared */
    expect_render(health, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"components\":{"
                  "\"payment\":\"online\",\"product\":\"online\"}}");
    gateway_health_destroy(health);
}

static void disconnected_broker_is_503_degraded(void **state)
{
    (void)state;
    struct gateway_health *health = NULL;
    assert_int_equal(gateway_health_create(&health), HB_OK);
    assert_true(status(health, "hausbus/v1/status/view", "online"));
    expect_render(health, false, 503,
                  "{\"status\":\"degraded\",\"broker\":\"disconnected\",\"components\":{"
                  "\"view\":\"online\"}}");
    gateway_health_destroy(health);
}

static void foreign_topics_and_payloads_are_ignored(void **state)
{
    (void)state;
    struct gateway_health *health = NULL;
    assert_int_equal(gateway_health_create(&health), HB_OK);
    assert_false(status(health, "hausbus/v1/evt/order/OrderPlaced", "online"));
    assert_false(status(health, "hausbus/v1/status/", "online"));
    assert_false(status(health, "hausbus/v1/status/Order", "online"));
    assert_false(status(health, "hausbus/v1/status/a/b", "online"));
    assert_false(status(health, "hausbus/v1/status/x\"y", "online"));
    assert_false(status(health, "hausbus/v1/status/order", "ONLINE"));
    assert_false(status(health, "hausbus/v1/status/order", "online\n"));
    assert_false(gateway_health_on_status(health, NULL, "online", 6));
    expect_render(health, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"components\":{}}");
    gateway_health_destroy(health);
}

static void table_is_bounded(void **state)
{
    (void)state;
    struct gateway_health *health = NULL;
    assert_int_equal(gateway_health_create(&health), HB_OK);
    char topic[64];
    for (int i = 0; i < GATEWAY_HEALTH_MAX_COMPONENTS; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/status/c%02d", i);
        assert_true(status(health, topic, "online"));
    }
    assert_false(status(health, "hausbus/v1/status/one-too-many", "online"));
    assert_true(status(health, "hausbus/v1/status/c00", "offline")); /* known names update */
    gateway_health_destroy(health);
    gateway_health_destroy(NULL);
}

static void auth_mode_is_reported_once_set(void **state)
{
    (void)state;
    struct gateway_health *health = NULL;
    assert_int_equal(gateway_health_create(&health), HB_OK);
    gateway_health_set_auth(health, "open");
    expect_render(health, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"auth\":\"open\","
                  "\"components\":{}}");
    gateway_health_set_auth(health, "on");
    expect_render(health, false, 503,
                  "{\"status\":\"degraded\",\"broker\":\"disconnected\",\"auth\":\"on\","
                  "\"components\":{}}");
    gateway_health_destroy(health);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_messages_are_reported_by_name),
        cmocka_unit_test(disconnected_broker_is_503_degraded),
        cmocka_unit_test(foreign_topics_and_payloads_are_ignored),
        cmocka_unit_test(table_is_bounded),
        cmocka_unit_test(auth_mode_is_reported_once_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
