/* Unit tests of the gateway's Prometheus page (gateway/src/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "status.h"

#define ORDER_SNAPSHOT                                                                          \
    "{\"component\":\"order\",\"time\":\"2026-11-25T12:00:00.000Z\","                           \
    "\"startedAt\":\"2026-11-25T11:00:00.000Z\","                                               \
    "\"handled\":{\"hausbus/v1/cmd/order/place\":20,\"hausbus/v1/evt/product/StockReserved\":12}," \
    "\"published\":{\"hausbus/v1/evt/order/OrderPlaced\":20},"                                  \
    "\"deadLetters\":1,\"handlerErrors\":0,\"duplicates\":3,\"outboxPending\":2,"               \
    "\"saga\":{\"placed\":20,\"paid\":18,\"cancelled\":1,\"delivered\":10,"                     \
    "\"rejected\":{\"OUT_OF_STOCK\":1,\"payment_declined\":1},"                                 \
    "\"stepLatencyMs\":{\"placed_to_paid\":{\"le\":[5,10,25],\"counts\":[1,3,18],"              \
    "\"count\":18,\"sum\":250}}}}"

static int setup(void **state)
{
    struct gateway_metrics *m = NULL;
    assert_int_equal(gateway_metrics_create(&m), HB_OK);
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    gateway_metrics_destroy(*state);
    return 0;
}

/* Renders m; the caller frees the page. */
static char *render(struct gateway_metrics *m)
{
    size_t len = 0;
    char *page = gateway_metrics_render(m, &len);
    assert_non_null(page);
    assert_int_equal(strlen(page), len);
    return page;
}

/* The value of the sample line that starts with series (name plus labels, exactly). */
static double sample(const char *page, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = page; line && *line; line = strchr(line, '\n'), line += line ? 1 : 0) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            return strtod(line + n + 1, NULL);
        }
    }
    fail_msg("no sample %s in:\n%s", series, page);
    return -1;
}

static bool has_line(const char *page, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *line = page; line && *line; line = strchr(line, '\n'), line += line ? 1 : 0) {
        if (strncmp(line, prefix, n) == 0) {
            return true;
        }
    }
    return false;
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    char out[64];
    assert_true(gateway_metrics_escape("a\\b\"c\nd", out, sizeof(out)));
    assert_string_equal(out, "a\\\\b\\\"c\\nd");
    assert_true(gateway_metrics_escape("tab\there\x7f", out, sizeof(out)));
    assert_string_equal(out, "tab?here?");
    assert_true(gateway_metrics_escape(NULL, out, sizeof(out)));
    assert_string_equal(out, "");
    /* Cut before an escape sequence would be split. */
    assert_false(gateway_metrics_escape("abc\"", out, 5));
    assert_string_equal(out, "abc");
    assert_false(gateway_metrics_escape("x", out, 0));
}

static void http_requests_are_counted_by_route_method_and_code(void **state)
{
    struct gateway_metrics *m = *state;
    gateway_metrics_observe_http(m, "/orders/{id}", "GET", 200, 0.002);
    gateway_metrics_observe_http(m, "/orders/{id}", "GET", 200, 0.02);
    gateway_metrics_observe_http(m, "/orders/{id}", "GET", 404, 0.003);
    gateway_metrics_observe_http(m, NULL, "BREW", 404, 0.001);
    gateway_metrics_observe_http(m, "/orders", "POST", 1000, 0.001);
    char *page = render(m);
    assert_true(has_line(page, "# TYPE hausbus_http_requests_total counter"));
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"/orders/{id}\","
                                  "method=\"GET\",code=\"200\"}"), 2);
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"/orders/{id}\","
                                  "method=\"GET\",code=\"404\"}"), 1);
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"unmatched\","
                                  "method=\"other\",code=\"404\"}"), 1);
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"/orders\","
                                  "method=\"POST\",code=\"0\"}"), 1);
    free(page);
}

static void latency_histogram_is_cumulative_with_inf_sum_and_count(void **state)
{
    struct gateway_metrics *m = *state;
    gateway_metrics_observe_http(m, "/orders", "GET", 200, 0.004);
    gateway_metrics_observe_http(m, "/orders", "GET", 200, 0.005); /* on a bound: in it */
    gateway_metrics_observe_http(m, "/orders", "GET", 200, 0.3);
    gateway_metrics_observe_http(m, "/orders", "GET", 200, 60);   /* only in +Inf */
    char *page = render(m);
    assert_true(has_line(page, "# TYPE hausbus_http_request_duration_seconds histogram"));
#define BUCKET(le) "hausbus_http_request_duration_seconds_bucket{route=\"/orders\",le=\"" le "\"}"
    assert_int_equal(sample(page, BUCKET("0.001")), 0);
    assert_int_equal(sample(page, BUCKET("0.0025")), 0);
    assert_int_equal(sample(page, BUCKET("0.005")), 2);
    assert_int_equal(sample(page, BUCKET("0.25")), 2);
    assert_int_equal(sample(page, BUCKET("0.5")), 3);
    assert_int_equal(sample(page, BUCKET("10")), 3);
    assert_int_equal(sample(page, BUCKET("+Inf")), 4);
#undef BUCKET
    assert_int_equal(sample(page, "hausbus_http_request_duration_seconds_count{route=\"/orders\"}"),
                     4);
    double sum = sample(page, "hausbus_http_request_duration_seconds_sum{route=\"/orders\"}");
    assert_true(sum > 60.308 && sum < 60.310);
    free(page);
}

static void the_board_stream_is_counted_but_not_timed(void **state)
{
    struct gateway_metrics *m = *state;
    gateway_metrics_observe_http(m, "/board/events", "GET", 200, 181.0);
    gateway_metrics_observe_http(m, "/board", "GET", 200, 0.0004);
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"/board/events\","
                                  "method=\"GET\",code=\"200\"}"), 1);
    assert_false(
        has_line(page, "hausbus_http_request_duration_seconds_count{route=\"/board/events\"}"));
    assert_int_equal(sample(page, "hausbus_http_request_duration_seconds_count{route=\"/board\"}"),
                     1);
    /* Sub-millisecond answers still add up: the sum is not rounded to milliseconds. */
    double sum = sample(page, "hausbus_http_request_duration_seconds_sum{route=\"/board\"}");
    assert_true(sum > 0.00039 && sum < 0.00041);
    assert_int_equal(sample(page, "hausbus_metrics_dropped_total"), 0);
    free(page);
}

static void route_labels_come_from_the_route_table(void **state)
{
    struct gateway_metrics *m = *state;
    gateway_metrics_observe_http(m, "/orders/7", "GET", 200, 0.001); /* a path, not a pattern */
    gateway_metrics_observe_http(m, "/no/such/route", "GET", 200, 0.001);
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_http_requests_total{route=\"unmatched\","
                                  "method=\"GET\",code=\"200\"}"), 2);
    assert_false(has_line(page, "hausbus_http_requests_total{route=\"/orders/7\""));
    free(page);
}

static void request_batches_and_their_items_are_counted(void **state)
{
    struct gateway_metrics *m = *state;
    char *page = render(m);
    assert_true(has_line(page, "# TYPE hausbus_gateway_request_batches_total counter"));
    assert_int_equal(sample(page, "hausbus_gateway_request_batches_total"), 0);
    assert_int_equal(sample(page, "hausbus_gateway_request_batch_items_total"), 0);
    free(page);
    gateway_metrics_count_batch(m, 2);
    gateway_metrics_count_batch(m, 64);
    page = render(m);
    assert_int_equal(sample(page, "hausbus_gateway_request_batches_total"), 2);
    assert_int_equal(sample(page, "hausbus_gateway_request_batch_items_total"), 66);
    free(page);
}

static void build_info_and_the_process_family_are_rendered(void **state)
{
    struct gateway_metrics *m = *state;
    char *page = render(m);
    assert_true(has_line(page, "# TYPE hausbus_build_info gauge"));
    assert_true(has_line(page, "hausbus_build_info{version=\"" HAUSBUS_VERSION "\",revision=\""));
    assert_false(has_line(page, "process_cpu_seconds_total")); /* not read: left out */
    free(page);
    struct gateway_process_stats stats;
    assert_int_equal(gateway_process_stats_read(&stats), HB_OK);
    gateway_metrics_set_process(m, &stats);
    page = render(m);
    assert_true(has_line(page, "# TYPE process_cpu_seconds_total counter"));
    assert_true(sample(page, "process_resident_memory_bytes") > 1e5);
    assert_true(sample(page, "process_virtual_memory_bytes") >=
                sample(page, "process_resident_memory_bytes"));
    assert_true(sample(page, "process_open_fds") >= 3);
    assert_true(sample(page, "process_max_fds") >= sample(page, "process_open_fds"));
    free(page);
    gateway_metrics_set_process(m, NULL);
    page = render(m);
    assert_false(has_line(page, "process_open_fds"));
    free(page);
}

static void process_stats_are_this_process(void **state)
{
    (void)state;
    struct gateway_process_stats stats;
    assert_int_equal(gateway_process_stats_read(&stats), HB_OK);
    time_t now = time(NULL);
    /* This test process started moments ago (the clock ticks allow 10 ms of slack). */
    assert_true(stats.start_time_seconds <= (double)now + 1);
    assert_true(stats.start_time_seconds > (double)now - 600);
    assert_true(stats.cpu_seconds >= 0 && stats.cpu_seconds < 600);
    FILE *f = fopen("/proc/self/status", "r"); /* one more descriptor is seen */
    assert_non_null(f);
    struct gateway_process_stats more;
    assert_int_equal(gateway_process_stats_read(&more), HB_OK);
    assert_true(more.open_fds == stats.open_fds + 1);
    fclose(f);
    assert_int_equal(gateway_process_stats_read(NULL), HB_ERR_INVAL);
}

static void http_series_beyond_the_cap_are_dropped_and_counted(void **state)
{
    struct gateway_metrics *m = *state;
    for (int code = 100; code < 100 + GATEWAY_METRICS_HTTP_SERIES_MAX + 3; code++) {
        gateway_metrics_observe_http(m, "/orders", "GET", code, 0.001);
    }
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_metrics_dropped_total"), 3);
    free(page);
}

static void snapshots_become_saga_and_component_metrics(void **state)
{
    struct gateway_metrics *m = *state;
    const char *snapshot = ORDER_SNAPSHOT;
    assert_true(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/order", snapshot,
                                            strlen(snapshot)));
    struct gateway_status *status = NULL;
    assert_int_equal(gateway_status_create(&status), HB_OK);
    gateway_metrics_use_status(m, status);
    assert_true(gateway_status_on_message(status, "hausbus/v1/status/order", "online", 6));
    assert_true(gateway_status_on_message(status, "hausbus/v1/status/payment", "offline", 7));
    char *page = render(m);
    gateway_metrics_use_status(m, NULL);
    gateway_status_destroy(status);
    assert_int_equal(sample(page, "hausbus_orders_placed_total"), 20);
    assert_int_equal(sample(page, "hausbus_orders_paid_total"), 18);
    assert_int_equal(sample(page, "hausbus_orders_cancelled_total"), 1);
    assert_int_equal(sample(page, "hausbus_orders_delivered_total"), 10);
    assert_int_equal(sample(page, "hausbus_orders_rejected_total{reason=\"OUT_OF_STOCK\"}"), 1);
    assert_int_equal(sample(page, "hausbus_orders_rejected_total{reason=\"payment_declined\"}"),
                     1);
#define STEP(le) "hausbus_saga_step_duration_seconds_bucket{step=\"placed_to_paid\",le=\"" le "\"}"
    assert_int_equal(sample(page, STEP("0.005")), 1);
    assert_int_equal(sample(page, STEP("0.01")), 3);
    assert_int_equal(sample(page, STEP("0.025")), 18);
    assert_int_equal(sample(page, STEP("+Inf")), 18);
#undef STEP
    assert_true(sample(page, "hausbus_saga_step_duration_seconds_sum{step=\"placed_to_paid\"}") ==
                0.25);
    assert_int_equal(
        sample(page, "hausbus_saga_step_duration_seconds_count{step=\"placed_to_paid\"}"), 18);
    assert_int_equal(sample(page, "hausbus_messages_handled_total{component=\"order\","
                                  "topic=\"hausbus/v1/cmd/order/place\"}"), 20);
    assert_int_equal(sample(page, "hausbus_messages_published_total{component=\"order\","
                                  "topic=\"hausbus/v1/evt/order/OrderPlaced\"}"), 20);
    assert_int_equal(sample(page, "hausbus_dead_letters_total{component=\"order\"}"), 1);
    assert_int_equal(sample(page, "hausbus_duplicates_total{component=\"order\"}"), 3);
    assert_int_equal(sample(page, "hausbus_outbox_pending{component=\"order\"}"), 2);
    assert_int_equal(sample(page, "hausbus_component_up{component=\"order\"}"), 1);
    assert_int_equal(sample(page, "hausbus_component_up{component=\"payment\"}"), 0);
    assert_true(has_line(page, "# TYPE hausbus_outbox_pending gauge"));
    free(page);
}

static void a_newer_snapshot_replaces_the_older_and_empty_forgets_it(void **state)
{
    struct gateway_metrics *m = *state;
    const char *first = "{\"deadLetters\":1}";
    const char *second = "{\"deadLetters\":5}";
    assert_true(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/product", first, strlen(first)));
    assert_true(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/product", second,
                                            strlen(second)));
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_dead_letters_total{component=\"product\"}"), 5);
    assert_false(has_line(page, "hausbus_orders_placed_total ")); /* no saga: absent */
    free(page);
    assert_true(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/product", "", 0));
    page = render(m);
    assert_false(has_line(page, "hausbus_dead_letters_total{"));
    free(page);
}

static void bad_snapshots_are_refused(void **state)
{
    struct gateway_metrics *m = *state;
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/order", "[1]", 3));
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/order", "{", 1));
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/or\"der", "{}", 2));
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/", "{}", 2));
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/a/b", "{}", 2));
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/status/order", "{}", 2));
    static char big[GATEWAY_METRICS_SNAPSHOT_MAX + 2];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/order", big, sizeof(big)));
}

static void components_beyond_the_cap_are_dropped(void **state)
{
    struct gateway_metrics *m = *state;
    char topic[64];
    for (int i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/metrics/c%d", i);
        assert_true(gateway_metrics_on_snapshot(m, topic, "{}", 2));
    }
    assert_false(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/onemore", "{}", 2));
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_metrics_dropped_total"), 1);
    free(page);
}

static void topics_beyond_the_cap_are_omitted_and_label_values_escaped(void **state)
{
    struct gateway_metrics *m = *state;
    size_t cap = 64 + 48 * (GATEWAY_METRICS_TOPICS_MAX + 2);
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = (size_t)snprintf(json, cap, "{\"handled\":{\"we\\\"ird\\\\topic\":1");
    for (int i = 0; i < GATEWAY_METRICS_TOPICS_MAX + 1; i++) {
        n += (size_t)snprintf(json + n, cap - n, ",\"t/%d\":1", i);
    }
    n += (size_t)snprintf(json + n, cap - n, "}}");
    assert_true(gateway_metrics_on_snapshot(m, "hausbus/v1/metrics/view", json, n));
    free(json);
    char *page = render(m);
    assert_int_equal(sample(page, "hausbus_messages_handled_total{component=\"view\","
                                  "topic=\"we\\\"ird\\\\topic\"}"), 1);
    assert_int_equal(sample(page, "hausbus_metrics_omitted_series"), 2);
    free(page);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_are_escaped),
        T(http_requests_are_counted_by_route_method_and_code),
        T(the_board_stream_is_counted_but_not_timed),
        T(build_info_and_the_process_family_are_rendered),
        T(request_batches_and_their_items_are_counted),
        cmocka_unit_test(process_stats_are_this_process),
        T(route_labels_come_from_the_route_table),
        T(latency_histogram_is_cumulative_with_inf_sum_and_count),
        T(http_series_beyond_the_cap_are_dropped_and_counted),
        T(snapshots_become_saga_and_component_metrics),
        T(a_newer_snapshot_replaces_the_older_and_empty_forgets_it),
        T(bad_snapshots_are_refused),
        T(components_beyond_the_cap_are_dropped),
        T(topics_beyond_the_cap_are_omitted_and_label_values_escaped),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
