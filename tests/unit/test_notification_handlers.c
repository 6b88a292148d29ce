/* Unit tests of the delivery-start notifications and their retries (components/notification). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "hausbus/bus.h"
#include "hb_test_util.h"

#define LIST HB_CMD_TOPIC("notification", "list")
#define DELIVERY_STARTED HB_EVT_TOPIC("delivery", "DeliveryStarted")

#define FIRST_RETRY_MS 4000 /* 2000 ms << 1 attempt */

/* A KakaoTalk notifier that fails its first failures_left sends. */
struct flaky_notifier {
    struct notifier notifier;
    int failures_left; /* < 0: fails forever */
    int sends;
    int64_t last_order_id;
};

static hb_err_t flaky_send(void *self, const struct notification_msg *msg, char *error,
                           size_t error_len)
{
    struct flaky_notifier *flaky = self;
    flaky->sends++;
    flaky->last_order_id = msg->order_id;
    if (flaky->failures_left != 0) {
        if (flaky->failures_left > 0) {
            flaky->failures_left--;
        }
        snprintf(error, error_len, "kakaotalk answered 503");
        return HB_ERR_IO;
    }
    error[0] = '\0';
    return HB_OK;
}

static void use_flaky(struct hbt *t, struct flaky_notifier *flaky, int failures)
{
    memset(flaky, 0, sizeof(*flaky));
    flaky->notifier.channel = "kakaotalk";
    flaky->notifier.send = flaky_send;
    flaky->notifier.self = flaky;
    flaky->failures_left = failures;
    t->ctx.user = &flaky->notifier;
}

static int setup(void **state)
{
    *state = hbt_open(&notification_component); /* its setup installs the log notifier */
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

static void delivery_started(struct hbt *t, int64_t delivery_id, int64_t order_id,
                             int64_t user_id)
{
    assert_int_equal(hbt_send(t, DELIVERY_STARTED,
                              "{\"deliveryId\":%lld,\"orderId\":%lld,\"userId\":%lld,"
                              "\"productName\":\"Sofa\",\"qty\":2,\"status\":\"SHIPPING\","
                              "\"version\":3}",
                              (long long)delivery_id, (long long)order_id, (long long)user_id),
                     HB_OK);
}

/* A replay request re-emits CustomerNotified; the customer is not messaged again. */
static void replay_announces_sent_notifications_without_sending_again(void **state)
{
    struct hbt *t = *state;
    delivery_started(t, 3, 1, 7);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("notification", "replay"), "{\"since\":0}"),
                     HB_OK);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
}

static void delivery_started_sends_one_kakaotalk_message(void **state)
{
    struct hbt *t = *state;
    assert_non_null(t->ctx.user);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
    assert_string_equal(hbt_db_text(t, "SELECT status FROM notifications"), "SENT");
    assert_string_equal(hbt_db_text(t, "SELECT channel FROM notifications"), "kakaotalk");
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), 1);
    assert_int_equal(hbt_db_int(t, "SELECT user_id FROM notifications"), 7);
    const char *text = hbt_db_text(t, "SELECT text FROM notifications");
    if (!strstr(text, "#12") || !strstr(text, "Sofa") || !strstr(text, "/orders/12")) {
        fail_msg("message does not tell which order: %s", text);
    }
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 12);
    assert_int_equal(hbt_out_int(t, 0, "deliveryId"), 4);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_string_equal(hbt_out_str(t, 0, "channel"), "kakaotalk");
    assert_string_equal(hbt_out_str(t, 0, "status"), "SENT");
    assert_string_equal(hbt_out_str(t, 0, "error"), HBT_NULL);
    assert_string_equal(t->out[0].subject, "12");
}

static void same_delivery_started_again_does_not_notify_twice(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0);
    delivery_started(t, 4, 12, 7);
    HBT_EXPECT(t, "CustomerNotified");
    delivery_started(t, 4, 12, 7); /* redelivered with a new event id */
    assert_int_equal(flaky.sends, 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
    hbt_expect_none(t);

    delivery_started(t, 5, 13, 7); /* another delivery is another message */
    assert_int_equal(flaky.sends, 2);
    HBT_EXPECT(t, "CustomerNotified");
}

static void failed_notification_is_recorded_and_retried(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 1);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(flaky.sends, 1);
    assert_int_equal(flaky.last_order_id, 12);
    assert_string_equal(hbt_db_text(t, "SELECT status FROM notifications"), "FAILED");
    assert_string_equal(hbt_db_text(t, "SELECT last_error FROM notifications"),
                        "kakaotalk answered 503");
    HBT_EXPECT(t, "NotificationFailed");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 12);
    assert_string_equal(hbt_out_str(t, 0, "status"), "FAILED");
    assert_string_equal(hbt_out_str(t, 0, "error"), "kakaotalk answered 503");

    t->ctx.now_ms = HBT_NOW_MS + FIRST_RETRY_MS - 1;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    hbt_expect_none(t);

    t->ctx.now_ms = HBT_NOW_MS + FIRST_RETRY_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 2);
    assert_string_equal(hbt_db_text(t, "SELECT status FROM notifications"), "SENT");
    assert_string_equal(hbt_db_text(t, "SELECT last_error FROM notifications"), HBT_NULL);
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), 2);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 12);

    t->ctx.now_ms += 3600 * 1000;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 2);
    hbt_expect_none(t);
}

static void retries_stop_after_the_last_attempt(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, -1);
    delivery_started(t, 4, 12, 7);
    HBT_EXPECT(t, "NotificationFailed");
    for (int i = 0; i < 2 * NOTIFICATION_MAX_ATTEMPTS; i++) {
        t->ctx.now_ms += 3600 * 1000;
        assert_int_equal(hbt_tick(t), HB_OK);
        hbt_take(t);
    }
    assert_int_equal(flaky.sends, NOTIFICATION_MAX_ATTEMPTS);
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"),
                     NOTIFICATION_MAX_ATTEMPTS);
    assert_string_equal(hbt_db_text(t, "SELECT status FROM notifications"), "FAILED");
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"
                                   " WHERE next_attempt_at IS NULL"),
                     1);
}

static void list_filters_by_user(void **state)
{
    struct hbt *t = *state;
    delivery_started(t, 4, 12, 7);
    delivery_started(t, 5, 13, 8);
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":8}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 1);
    const cJSON *row = cJSON_GetArrayItem(t->reply.body, 0);
    assert_int_equal(hbt_json_int(row, "orderId"), 13);
    assert_int_equal(hbt_json_int(row, "deliveryId"), 5);
    assert_string_equal(hbt_json_str(row, "channel"), "kakaotalk");
    assert_string_equal(hbt_json_str(row, "status"), "SENT");
    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":\"8\"}"), HB_ERR_DECODE);
}

static void delivery_started_without_ids_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, DELIVERY_STARTED, "{\"orderId\":12,\"userId\":7}"),
                     HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "deliveryId") != NULL);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 0);
    hbt_expect_none(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(delivery_started_sends_one_kakaotalk_message),
        T(replay_announces_sent_notifications_without_sending_again),
        T(same_delivery_started_again_does_not_notify_twice),
        T(failed_notification_is_recorded_and_retried),
        T(retries_stop_after_the_last_attempt),
        T(list_filters_by_user),
        T(delivery_started_without_ids_is_a_decode_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
