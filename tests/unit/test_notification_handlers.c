/* Unit tests of the delivery-start notifications: the pure handler, the message state
 * machine (claim, record, recover, unclaim) and the inline tick (components/notification). */
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

/* A notifier that answers retry (or fail) for its first failures_left sends. */
struct flaky_notifier {
    struct notifier notifier;
    int failures_left; /* < 0: fails forever */
    enum notifier_outcome failure;
    int sends;
    int64_t last_order_id;
};

/* The fixture's state, with the flaky notifier and a known policy. */
static struct notification_state flaky_state;

static enum notifier_outcome flaky_send(void *self, const struct notification_msg *msg,
                                        char *error, size_t error_len)
{
    struct flaky_notifier *flaky = self;
    flaky->sends++;
    flaky->last_order_id = msg->order_id;
    if (flaky->failures_left != 0) {
        if (flaky->failures_left > 0) {
            flaky->failures_left--;
        }
        snprintf(error, error_len, "kakaotalk answered 503");
        return flaky->failure;
    }
    error[0] = '\0';
    return NOTIFIER_SENT;
}

#define BACKOFF_MS 2000
#define BACKOFF_MAX_MS 5000
#define MAX_ATTEMPTS 4

static void use_flaky(struct hbt *t, struct flaky_notifier *flaky, int failures,
                      enum notifier_outcome failure)
{
    memset(flaky, 0, sizeof(*flaky));
    flaky->notifier.channel = "kakaotalk";
    flaky->notifier.send = flaky_send;
    flaky->notifier.self = flaky;
    flaky->failures_left = failures;
    flaky->failure = failure;
    flaky_state = (struct notification_state){
        .channel = "kakaotalk",
        .policy = {.max_attempts = MAX_ATTEMPTS, .backoff_ms = BACKOFF_MS,
                   .backoff_max_ms = BACKOFF_MAX_MS},
        .notifier = &flaky->notifier,
    };
    t->ctx.user = &flaky_state;
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

static const char *status_of(struct hbt *t, int64_t delivery_id)
{
    return hbt_db_text(t, "SELECT status FROM notifications WHERE delivery_id = %lld",
                       (long long)delivery_id);
}

/* The handler only records: the message goes out on the next tick, not in the handler. */
static void delivery_started_records_a_pending_message_and_sends_nothing(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0, NOTIFIER_RETRY);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(flaky.sends, 0);
    hbt_expect_none(t);
    assert_string_equal(status_of(t, 4), "PENDING");
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), 0);
    assert_int_equal(hbt_db_int(t, "SELECT next_attempt_at FROM notifications"), HBT_NOW_MS);
    const char *text = hbt_db_text(t, "SELECT text FROM notifications");
    if (!strstr(text, "주문 #12 배송이 시작되었습니다") || !strstr(text, "Sofa x2")) {
        fail_msg("message does not tell which order: %s", text);
    }
}

static void tick_sends_one_kakaotalk_message(void **state)
{
    struct hbt *t = *state;
    assert_non_null(t->ctx.user);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_tick(t), HB_OK); /* the log notifier */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
    assert_string_equal(status_of(t, 4), "SENT");
    assert_string_equal(hbt_db_text(t, "SELECT channel FROM notifications"), "kakaotalk");
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), 1);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 12);
    assert_int_equal(hbt_out_int(t, 0, "deliveryId"), 4);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_int_equal(hbt_out_int(t, 0, "attempts"), 1);
    assert_string_equal(hbt_out_str(t, 0, "channel"), "kakaotalk");
    assert_string_equal(hbt_out_str(t, 0, "status"), "SENT");
    assert_string_equal(hbt_out_str(t, 0, "lastError"), HBT_NULL);
    assert_string_equal(t->out[0].subject, "12");
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_expect_none(t);
}

/* A replay request re-emits CustomerNotified; the customer is not messaged again. */
static void replay_announces_sent_notifications_without_sending_again(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0, NOTIFIER_RETRY);
    delivery_started(t, 3, 1, 7);
    t->ctx.now_ms += 1;
    delivery_started(t, 4, 2, 7); /* still PENDING: not announced */
    t->ctx.now_ms -= 1;
    assert_int_equal(hbt_tick(t), HB_OK); /* only delivery 3 is due */
    assert_int_equal(flaky.sends, 1);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("notification", "replay"), "{\"since\":0}"),
                     HB_OK);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(flaky.sends, 1);
}

static void same_delivery_started_again_does_not_notify_twice(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0, NOTIFIER_RETRY);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "CustomerNotified");
    delivery_started(t, 4, 12, 7); /* redelivered with a new event id, late */
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
    hbt_expect_none(t);

    delivery_started(t, 5, 13, 7); /* another delivery is another message */
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 2);
    HBT_EXPECT(t, "CustomerNotified");
}

/* A DeliveryStarted lost in a broker restart comes back in the replay as the delivery's
 * current state: DeliveryCompleted still gets the customer the one message, and once. */
static void completed_delivery_without_a_start_still_notifies_once(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0, NOTIFIER_RETRY);
    assert_int_equal(hbt_send(t, HB_EVT_TOPIC("delivery", "DeliveryCompleted"),
                              "{\"deliveryId\":6,\"orderId\":14,\"userId\":7,"
                              "\"productName\":\"Sofa\",\"qty\":1,\"status\":\"DELIVERED\","
                              "\"version\":4}"),
                     HB_OK);
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "CustomerNotified");
    assert_int_equal(flaky.sends, 1);
    delivery_started(t, 6, 14, 7); /* the start, late after all */
    assert_int_equal(hbt_send(t, HB_EVT_TOPIC("delivery", "DeliveryCompleted"),
                              "{\"deliveryId\":6,\"orderId\":14,\"userId\":7,"
                              "\"status\":\"DELIVERED\",\"version\":4}"),
                     HB_OK);
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"), 1);
    hbt_expect_none(t);
}

/* A retryable failure waits PENDING with its error and a backoff, silently on the bus. */
static void retryable_failure_is_pending_with_backoff_then_sent(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 1, NOTIFIER_RETRY);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    assert_int_equal(flaky.last_order_id, 12);
    assert_string_equal(status_of(t, 4), "PENDING");
    assert_string_equal(hbt_db_text(t, "SELECT last_error FROM notifications"),
                        "kakaotalk answered 503");
    assert_int_equal(hbt_db_int(t, "SELECT next_attempt_at FROM notifications"),
                     HBT_NOW_MS + BACKOFF_MS);
    hbt_expect_none(t);

    assert_int_equal(hbt_send(t, LIST, "{\"userId\":7}"), HB_OK);
    const cJSON *row = cJSON_GetArrayItem(t->reply.body, 0);
    assert_string_equal(hbt_json_str(row, "status"), "PENDING");
    assert_int_equal(hbt_json_int(row, "attempts"), 1);
    assert_string_equal(hbt_json_str(row, "lastError"), "kakaotalk answered 503");
    assert_int_equal(hbt_json_int(row, "nextAttemptAt"), HBT_NOW_MS + BACKOFF_MS);

    t->ctx.now_ms = HBT_NOW_MS + BACKOFF_MS - 1;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    t->ctx.now_ms = HBT_NOW_MS + BACKOFF_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 2);
    assert_string_equal(status_of(t, 4), "SENT");
    assert_string_equal(hbt_db_text(t, "SELECT last_error FROM notifications"), HBT_NULL);
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), 2);
    HBT_EXPECT(t, "CustomerNotified");

    t->ctx.now_ms += 3600 * 1000;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 2);
    hbt_expect_none(t);
}

/* A permanent failure (401 and the like) is final at once: FAILED, NotificationFailed. */
static void permanent_failure_is_failed_at_once(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 1, NOTIFIER_FAILED);
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_string_equal(status_of(t, 4), "FAILED");
    HBT_EXPECT(t, "NotificationFailed");
    assert_string_equal(hbt_out_str(t, 0, "status"), "FAILED");
    assert_string_equal(hbt_out_str(t, 0, "lastError"), "kakaotalk answered 503");
    assert_int_equal(hbt_out_int(t, 0, "attempts"), 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM notifications"
                                   " WHERE next_attempt_at IS NULL"),
                     1);
    t->ctx.now_ms += 3600 * 1000;
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1);
    hbt_expect_none(t);
}

static void retries_stop_after_the_last_attempt(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, -1, NOTIFIER_RETRY);
    delivery_started(t, 4, 12, 7);
    for (int i = 0; i < 2 * MAX_ATTEMPTS; i++) {
        assert_int_equal(hbt_tick(t), HB_OK);
        if (i < MAX_ATTEMPTS - 1) {
            hbt_expect_none(t);
        } else if (i == MAX_ATTEMPTS - 1) {
            HBT_EXPECT(t, "NotificationFailed");
        }
        t->ctx.now_ms += 3600 * 1000;
    }
    assert_int_equal(flaky.sends, MAX_ATTEMPTS);
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications"), MAX_ATTEMPTS);
    assert_string_equal(status_of(t, 4), "FAILED");
}

/* Claim makes messages SENDING with one more attempt; due ones only, oldest first. */
static void claim_takes_due_messages_and_marks_them_sending(void **state)
{
    struct hbt *t = *state;
    delivery_started(t, 4, 12, 7);
    t->ctx.now_ms += 10;
    delivery_started(t, 5, 13, 7);
    t->ctx.now_ms += 10;
    delivery_started(t, 6, 14, 7);
    t->ctx.now_ms -= 5; /* delivery 6 is not due yet */
    struct notification_job jobs[4];
    size_t n = 0;
    assert_int_equal(notification_claim(&t->ctx, jobs, 1, &n), HB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].delivery_id, 4);
    assert_int_equal(jobs[0].attempts, 1);
    assert_string_equal(status_of(t, 4), "SENDING");
    assert_int_equal(notification_claim(&t->ctx, jobs, 4, &n), HB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].delivery_id, 5);
    assert_int_equal(jobs[0].order_id, 13);
    assert_int_equal(jobs[0].user_id, 7);
    assert_non_null(strstr(jobs[0].text, "#13"));
    assert_string_equal(status_of(t, 6), "PENDING");
    assert_int_equal(notification_claim(&t->ctx, jobs, 0, &n), HB_OK);
    assert_int_equal(n, 0);

    /* A clean stop returns an unstarted claim; its attempt does not count. */
    assert_int_equal(notification_unclaim(&t->ctx, jobs[0].id), HB_OK);
    assert_string_equal(status_of(t, 5), "PENDING");
    assert_int_equal(hbt_db_int(t, "SELECT attempts FROM notifications WHERE delivery_id = 5"),
                     0);
}

/* A message found SENDING at start may have reached the customer: FAILED, never resent. */
static void recovery_fails_messages_left_sending_and_never_resends_them(void **state)
{
    struct hbt *t = *state;
    struct flaky_notifier flaky;
    use_flaky(t, &flaky, 0, NOTIFIER_RETRY);
    delivery_started(t, 4, 12, 7);
    delivery_started(t, 5, 13, 7);
    struct notification_job jobs[1];
    size_t n = 0;
    assert_int_equal(notification_claim(&t->ctx, jobs, 1, &n), HB_OK); /* then "crash" */
    assert_int_equal(hb_store_begin(t->store), HB_OK);
    assert_int_equal(notification_recover(&t->ctx), HB_OK);
    assert_int_equal(hb_store_commit(t->store), HB_OK);
    assert_string_equal(status_of(t, 4), "FAILED");
    assert_non_null(strstr(hbt_db_text(t, "SELECT last_error FROM notifications"
                                          " WHERE delivery_id = 4"),
                           "outcome unknown"));
    HBT_EXPECT(t, "NotificationFailed");
    assert_int_equal(hbt_out_int(t, 0, "deliveryId"), 4);
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(flaky.sends, 1); /* delivery 5 only */
    assert_string_equal(status_of(t, 5), "SENT");
    assert_string_equal(status_of(t, 4), "FAILED");
}

/* A result for a message that is not SENDING (recorded already) changes nothing. */
static void record_ignores_a_message_not_sending(void **state)
{
    struct hbt *t = *state;
    delivery_started(t, 4, 12, 7);
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_take(t);
    int64_t id = hbt_db_int(t, "SELECT id FROM notifications");
    struct notification_result late = {.id = id, .attempts = 2, .outcome = NOTIFIER_FAILED};
    assert_int_equal(notification_record(&t->ctx, &late), HB_OK);
    assert_string_equal(status_of(t, 4), "SENT");
    hbt_expect_none(t);
}

static void list_filters_by_user(void **state)
{
    struct hbt *t = *state;
    delivery_started(t, 4, 12, 7);
    delivery_started(t, 5, 13, 8);
    assert_int_equal(hbt_tick(t), HB_OK);
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":8}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 1);
    const cJSON *row = cJSON_GetArrayItem(t->reply.body, 0);
    assert_int_equal(hbt_json_int(row, "orderId"), 13);
    assert_int_equal(hbt_json_int(row, "deliveryId"), 5);
    assert_string_equal(hbt_json_str(row, "channel"), "kakaotalk");
    assert_string_equal(hbt_json_str(row, "status"), "SENT");
    assert_int_equal(hbt_json_int(row, "attempts"), 1);
    assert_string_equal(hbt_json_str(row, "lastError"), HBT_NULL);
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
        T(delivery_started_records_a_pending_message_and_sends_nothing),
        T(tick_sends_one_kakaotalk_message),
        T(replay_announces_sent_notifications_without_sending_again),
        T(same_delivery_started_again_does_not_notify_twice),
        T(completed_delivery_without_a_start_still_notifies_once),
        T(retryable_failure_is_pending_with_backoff_then_sent),
        T(permanent_failure_is_failed_at_once),
        T(retries_stop_after_the_last_attempt),
        T(claim_takes_due_messages_and_marks_them_sending),
        T(recovery_fails_messages_left_sending_and_never_resends_them),
        T(record_ignores_a_message_not_sending),
        T(list_filters_by_user),
        T(delivery_started_without_ids_is_a_decode_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
