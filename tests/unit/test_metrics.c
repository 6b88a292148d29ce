/* Unit tests of the metrics counters and snapshot (lib/src/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hausbus/metrics.h"

#define T0_MS 1764072000123LL /* 2025-11-25T12:00:00.123Z */

static double num(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsNumber(item));
    return item->valuedouble;
}

static void iso8601_has_milliseconds_in_utc(void **state)
{
    (void)state;
    char text[32];
    assert_int_equal(hb_iso8601_ms(T0_MS, text, sizeof(text)), HB_OK);
    assert_string_equal(text, "2025-11-25T12:00:00.123Z");
    assert_int_equal(hb_iso8601_ms(T0_MS, text, 24), HB_ERR_INVAL);
    assert_int_equal(hb_iso8601_ms(-1, text, sizeof(text)), HB_ERR_INVAL);
}

static void topics_are_counted_per_exact_topic(void **state)
{
    (void)state;
    static struct hb_topic_counts t;
    memset(&t, 0, sizeof(t));
    hb_topic_counts_add(&t, "hausbus/v1/cmd/order/place");
    hb_topic_counts_add(&t, "hausbus/v1/cmd/order/place");
    hb_topic_counts_add(&t, "hausbus/v1/evt/product/StockReserved");
    assert_int_equal(t.n, 2);
    assert_int_equal(t.rows[0].count, 2);
    assert_int_equal(t.rows[1].count, 1);
    assert_int_equal(t.overflow, 0);
}

static void topics_beyond_the_table_go_to_overflow(void **state)
{
    (void)state;
    static struct hb_topic_counts t;
    memset(&t, 0, sizeof(t));
    char topic[64];
    for (int i = 0; i < HB_METRICS_TOPICS_MAX + 5; i++) {
        snprintf(topic, sizeof(topic), "t/%d", i);
        hb_topic_counts_add(&t, topic);
    }
    assert_int_equal(t.n, HB_METRICS_TOPICS_MAX);
    assert_int_equal(t.overflow, 5);
    char long_topic[HB_METRICS_TOPIC_LEN + 1];
    memset(long_topic, 'a', sizeof(long_topic) - 1);
    long_topic[sizeof(long_topic) - 1] = '\0';
    memset(&t, 0, sizeof(t));
    assert_int_equal(hb_topic_counts_slot(&t, long_topic), -1);
    assert_int_equal(hb_topic_counts_slot(&t, NULL), -1);
    hb_topic_counts_bump(&t, -1);
    hb_topic_counts_bump(&t, 7); /* a slot that does not exist counts as overflow too */
    assert_int_equal(t.overflow, 2);
}

static void snapshot_has_the_contract_fields(void **state)
{
    (void)state;
    static struct hb_metrics m;
    hb_metrics_init(&m, "order", T0_MS);
    hb_topic_counts_add(&m.handled, "hausbus/v1/cmd/order/place");
    hb_topic_counts_add(&m.published, "hausbus/v1/evt/order/OrderPlaced");
    hb_topic_counts_add(&m.published, "hausbus/v1/evt/order/OrderPlaced");
    m.dead_letters = 3;
    m.handler_errors = 1;
    cJSON *j = hb_metrics_json(&m, T0_MS + 5000, 4, 2);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "component")->valuestring, "order");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "time")->valuestring,
                        "2025-11-25T12:00:05.123Z");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "startedAt")->valuestring,
                        "2025-11-25T12:00:00.123Z");
    const cJSON *handled = cJSON_GetObjectItemCaseSensitive(j, "handled");
    assert_int_equal((int)num(handled, "hausbus/v1/cmd/order/place"), 1);
    const cJSON *published = cJSON_GetObjectItemCaseSensitive(j, "published");
    assert_int_equal((int)num(published, "hausbus/v1/evt/order/OrderPlaced"), 2);
    assert_int_equal((int)num(j, "deadLetters"), 3);
    assert_int_equal((int)num(j, "handlerErrors"), 1);
    assert_int_equal((int)num(j, "duplicates"), 4);
    assert_int_equal((int)num(j, "outboxPending"), 2);
    assert_int_equal((int)num(j, "topicOverflow"), 0);
    cJSON_Delete(j);
}

static void histogram_is_cumulative_with_count_and_sum(void **state)
{
    (void)state;
    const double le[] = {5, 10, 25};
    struct hb_histogram h;
    hb_histogram_init(&h, le, 3);
    hb_histogram_observe(&h, 5);   /* on a bound: counts in it */
    hb_histogram_observe(&h, 7);
    hb_histogram_observe(&h, 100); /* only in +Inf */
    cJSON *j = hb_histogram_json(&h);
    assert_non_null(j);
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(j, "counts");
    assert_int_equal(cJSON_GetArraySize(counts), 3);
    assert_int_equal((int)cJSON_GetArrayItem(counts, 0)->valuedouble, 1);
    assert_int_equal((int)cJSON_GetArrayItem(counts, 1)->valuedouble, 2);
    assert_int_equal((int)cJSON_GetArrayItem(counts, 2)->valuedouble, 2);
    assert_int_equal((int)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "le"), 2)
                         ->valuedouble, 25);
    assert_int_equal((int)num(j, "count"), 3);
    assert_int_equal((int)num(j, "sum"), 112);
    cJSON_Delete(j);
}

static void aggregated_buckets_add_up_cumulatively(void **state)
{
    (void)state;
    const double le[] = {5, 10, 25};
    struct hb_histogram h;
    hb_histogram_init(&h, le, 3);
    hb_histogram_add_bucket(&h, 1, 2, 15); /* two of 7 and 8 */
    hb_histogram_add_bucket(&h, 3, 1, 90); /* over every bound */
    hb_histogram_add_bucket(&h, 9, 1, 60); /* any index past the end is +Inf too */
    assert_int_equal(h.counts[0], 0);
    assert_int_equal(h.counts[1], 2);
    assert_int_equal(h.counts[2], 2);
    assert_int_equal(h.count, 4);
    assert_true(h.sum == 165);
}

static void histogram_bounds_are_capped(void **state)
{
    (void)state;
    double le[HB_HISTOGRAM_BUCKETS_MAX + 4];
    for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
        le[i] = (double)i;
    }
    struct hb_histogram h;
    hb_histogram_init(&h, le, sizeof(le) / sizeof(le[0]));
    assert_int_equal(h.n_le, HB_HISTOGRAM_BUCKETS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso8601_has_milliseconds_in_utc),
        cmocka_unit_test(topics_are_counted_per_exact_topic),
        cmocka_unit_test(topics_beyond_the_table_go_to_overflow),
        cmocka_unit_test(snapshot_has_the_contract_fields),
        cmocka_unit_test(histogram_is_cumulative_with_count_and_sum),
        cmocka_unit_test(aggregated_buckets_add_up_cumulatively),
        cmocka_unit_test(histogram_bounds_are_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
