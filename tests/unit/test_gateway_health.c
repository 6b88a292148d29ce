/* Unit tests of GET /healthz and GET /readyz (gateway/src/health.c), no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

#define EVERY_UNKNOWN                                                                         \
    "\"components\":{\"gateway\":\"unknown\",\"order\":\"unknown\",\"product\":\"unknown\","  \
    "\"payment\":\"unknown\",\"delivery\":\"unknown\",\"notification\":\"unknown\","         \
    "\"view\":\"unknown\"}"
#define EVERY_MISSING                                                                          \
    "\"missing\":[\"order\",\"product\",\"payment\",\"delivery\",\"notification\",\"view\"]"

static const char *const components[] = {"order",    "product",      "payment",
                                         "delivery", "notification", "view"};

static void set(struct gateway_status *status, const char *name, const char *payload)
{
    char topic[64];
    snprintf(topic, sizeof(topic), "hausbus/v1/status/%s", name);
    assert_true(gateway_status_on_message(status, topic, payload, strlen(payload)));
}

static void expect_render(struct gateway_status *status, enum gateway_probe probe,
                          const char *auth, bool connected, int code, const char *json)
{
    int got_code = 0;
    char *text = gateway_health_render(status, probe, auth, connected, &got_code);
    assert_non_null(text);
    assert_string_equal(text, json);
    assert_int_equal(got_code, code);
    free(text);
}

static struct gateway_status *all_online(void)
{
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    for (size_t i = 0; i < sizeof(components) / sizeof(components[0]); i++) {
        set(status, components[i], "online");
    }
    return status;
}

static void healthz_is_200_and_lists_what_is_missing(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    expect_render(status, GATEWAY_PROBE_LIVE, "on", true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"auth\":\"on\"," EVERY_UNKNOWN
                  "," EVERY_MISSING "}");
    gateway_status_destroy(status);
    status = all_online();
    set(status, "payment", "offline");
    set(status, "gateway", "online");
    expect_render(status, GATEWAY_PROBE_LIVE, NULL, true, 200,
                  "{\"status\":\"ok\",\"broker\":\"connected\",\"components\":{"
                  "\"gateway\":\"online\",\"order\":\"online\",\"product\":\"online\","
                  "\"payment\":\"offline\",\"delivery\":\"online\",\"notification\":\"online\","
                  "\"view\":\"online\"},\"missing\":[\"payment\"]}");
    gateway_status_destroy(status);
}

static void healthz_is_503_degraded_without_the_broker(void **state)
{
    (void)state;
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    expect_render(status, GATEWAY_PROBE_LIVE, "open", false, 503,
                  "{\"status\":\"degraded\",\"broker\":\"disconnected\",\"auth\":\"open\","
                  EVERY_UNKNOWN "," EVERY_MISSING "}");
    gateway_status_destroy(status);
}

static void readyz_is_200_only_when_every_component_is_online(void **state)
{
    (void)state;
    struct gateway_status *status = all_online();
    /* The gateway's retained status is not needed: that is any replica's. */
    expect_render(status, GATEWAY_PROBE_READY, "on", true, 200,
                  "{\"status\":\"ready\",\"broker\":\"connected\",\"missing\":[]}");
    expect_render(status, GATEWAY_PROBE_READY, "on", false, 503,
                  "{\"status\":\"not ready\",\"broker\":\"disconnected\",\"missing\":[]}");
    set(status, "view", "offline");
    expect_render(status, GATEWAY_PROBE_READY, "on", true, 503,
                  "{\"status\":\"not ready\",\"broker\":\"connected\",\"missing\":[\"view\"]}");
    set(status, "view", "");
    expect_render(status, GATEWAY_PROBE_READY, "on", true, 503,
                  "{\"status\":\"not ready\",\"broker\":\"connected\",\"missing\":[\"view\"]}");
    set(status, "view", "online");
    set(status, "extra", "offline"); /* not one of ours: not waited for */
    expect_render(status, GATEWAY_PROBE_READY, "on", true, 200,
                  "{\"status\":\"ready\",\"broker\":\"connected\",\"missing\":[]}");
    gateway_status_destroy(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz_is_200_and_lists_what_is_missing),
        cmocka_unit_test(healthz_is_503_degraded_without_the_broker),
        cmocka_unit_test(readyz_is_200_only_when_every_component_is_online),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
