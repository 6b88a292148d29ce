/* Unit tests of the mypage read model (components/view/src/handlers.c). */
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

#define MYPAGE HB_CMD_TOPIC("view", "mypage")
#define ORDER_EVT(type) HB_TOPIC_PREFIX "evt/order/" type
#define PAYMENT_EVT(type) HB_TOPIC_PREFIX "evt/payment/" type
#define DELIVERY_EVT(type) HB_TOPIC_PREFIX "evt/delivery/" type
#define CUSTOMER_NOTIFIED HB_EVT_TOPIC("notification", "CustomerNotified")

#define AMOUNT 258000

static int setup(void **state)
{
    *state = hbt_open(&view_component);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

/* An order snapshot event as order emits it (amount 0 until stock is reserved). */
static void order_event(struct hbt *t, const char *topic, int64_t order_id, int64_t user_id,
                        const char *status, int64_t amount, int version)
{
    assert_int_equal(hbt_send(t, topic,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"Sofa\","
                              "\"qty\":2,\"userId\":%lld,\"amount\":%lld,\"status\":\"%s\","
                              "\"reason\":null,\"deliveryId\":null,\"version\":%d}",
                              (long long)order_id, (long long)user_id, (long long)amount, status,
                              version),
                     HB_OK);
}

static void payment_event(struct hbt *t, const char *topic, int64_t order_id, const char *status,
                          int version)
{
    assert_int_equal(hbt_send(t, topic,
                              "{\"paymentId\":3,\"orderId\":%lld,\"userId\":7,\"amount\":%d,"
                              "\"status\":\"%s\",\"reason\":null,\"version\":%d}",
                              (long long)order_id, AMOUNT, status, version),
                     HB_OK);
}

static void delivery_event(struct hbt *t, const char *topic, int64_t order_id,
                           const char *status, int version)
{
    assert_int_equal(hbt_send(t, topic,
                              "{\"deliveryId\":4,\"orderId\":%lld,\"userId\":7,"
                              "\"productName\":\"Sofa\",\"qty\":2,\"status\":\"%s\","
                              "\"version\":%d}",
                              (long long)order_id, status, version),
                     HB_OK);
}

static void customer_notified(struct hbt *t, int64_t order_id)
{
    assert_int_equal(hbt_send(t, CUSTOMER_NOTIFIED,
                              "{\"notificationId\":1,\"orderId\":%lld,\"deliveryId\":4,"
                              "\"userId\":7,\"channel\":\"kakaotalk\",\"text\":\"...\","
                              "\"status\":\"SENT\",\"attempts\":1,\"error\":null}",
                              (long long)order_id),
                     HB_OK);
}

/* Asks mypage of user_id and returns its row for order_id (owned by t->reply). */
static const cJSON *mypage_row(struct hbt *t, int64_t user_id, int64_t order_id)
{
    assert_int_equal(hbt_send(t, MYPAGE, "{\"userId\":%lld}", (long long)user_id), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_true(cJSON_IsArray(t->reply.body));
    const cJSON *row;
    cJSON_ArrayForEach(row, t->reply.body)
    {
        if (hbt_json_int(row, "orderId") == order_id) {
            return row;
        }
    }
    fail_msg("mypage of user %lld has no order %lld", (long long)user_id, (long long)order_id);
    return NULL;
}

static bool is_null(const cJSON *row, const char *field)
{
    return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(row, field));
}

static void saga_events_build_the_mypage_row(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_EVT("OrderPlaced"), 1, 7, "PLACED", 0, 1);
    const cJSON *row = mypage_row(t, 7, 1);
    assert_string_equal(hbt_json_str(row, "orderStatus"), "PLACED");
    assert_string_equal(hbt_json_str(row, "productName"), "Sofa");
    assert_int_equal(hbt_json_int(row, "qty"), 2);
    assert_int_equal(hbt_json_int(row, "amount"), 0);
    assert_true(is_null(row, "paymentStatus"));
    assert_true(is_null(row, "deliveryStatus"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(row, "notified")));

    order_event(t, ORDER_EVT("OrderStockReserved"), 1, 7, "STOCK_RESERVED", AMOUNT, 2);
    payment_event(t, PAYMENT_EVT("PaymentApproved"), 1, "APPROVED", 1);
    order_event(t, ORDER_EVT("OrderPaid"), 1, 7, "PAID", AMOUNT, 3);
    delivery_event(t, DELIVERY_EVT("DeliveryCreated"), 1, "RECEIVED", 1);
    delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), 1, "PREPARING", 2);
    order_event(t, ORDER_EVT("OrderPreparing"), 1, 7, "PREPARING", AMOUNT, 4);
    delivery_event(t, DELIVERY_EVT("DeliveryStarted"), 1, "SHIPPING", 3);
    order_event(t, ORDER_EVT("OrderShipping"), 1, 7, "SHIPPING", AMOUNT, 5);
    customer_notified(t, 1);

    row = mypage_row(t, 7, 1);
    assert_string_equal(hbt_json_str(row, "orderStatus"), "SHIPPING");
    assert_string_equal(hbt_json_str(row, "paymentStatus"), "APPROVED");
    assert_string_equal(hbt_json_str(row, "deliveryStatus"), "SHIPPING");
    assert_int_equal(hbt_json_int(row, "amount"), AMOUNT);
    assert_int_equal(hbt_json_int(row, "qty"), 2);
    assert_string_equal(hbt_json_str(row, "productName"), "Sofa");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "notified")));
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM mypage"), 1);
    hbt_expect_none(t); /* a read model emits nothing */
}

static void older_version_never_overwrites_a_newer_one(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_EVT("OrderPaid"), 1, 7, "PAID", AMOUNT, 3);
    order_event(t, ORDER_EVT("OrderPlaced"), 1, 7, "PLACED", 0, 1);
    order_event(t, ORDER_EVT("OrderStockReserved"), 1, 7, "STOCK_RESERVED", AMOUNT, 2);
    payment_event(t, PAYMENT_EVT("PaymentRefunded"), 1, "REFUNDED", 2);
    payment_event(t, PAYMENT_EVT("PaymentApproved"), 1, "APPROVED", 1);
    delivery_event(t, DELIVERY_EVT("DeliveryStarted"), 1, "SHIPPING", 3);
    delivery_event(t, DELIVERY_EVT("DeliveryCreated"), 1, "RECEIVED", 1);
    delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), 1, "PREPARING", 2);

    const cJSON *row = mypage_row(t, 7, 1);
    assert_string_equal(hbt_json_str(row, "orderStatus"), "PAID");
    assert_int_equal(hbt_json_int(row, "amount"), AMOUNT);
    assert_string_equal(hbt_json_str(row, "paymentStatus"), "REFUNDED");
    assert_string_equal(hbt_json_str(row, "deliveryStatus"), "SHIPPING");
    assert_int_equal(hbt_db_int(t, "SELECT order_version FROM mypage WHERE order_id = 1"), 3);

    /* The same version again (a redelivery) changes nothing either. */
    order_event(t, ORDER_EVT("OrderCancelling"), 1, 7, "CANCELLING", AMOUNT, 3);
    row = mypage_row(t, 7, 1);
    assert_string_equal(hbt_json_str(row, "orderStatus"), "PAID");
    hbt_expect_none(t);
}

static void events_before_order_placed_still_create_the_row(void **state)
{
    struct hbt *t = *state;
    payment_event(t, PAYMENT_EVT("PaymentApproved"), 1, "APPROVED", 1);
    const cJSON *row = mypage_row(t, 7, 1);
    assert_true(is_null(row, "orderStatus"));
    assert_string_equal(hbt_json_str(row, "paymentStatus"), "APPROVED");
    assert_int_equal(hbt_json_int(row, "amount"), AMOUNT);

    delivery_event(t, DELIVERY_EVT("DeliveryCreated"), 2, "RECEIVED", 1);
    customer_notified(t, 3);
    row = mypage_row(t, 7, 2);
    assert_string_equal(hbt_json_str(row, "deliveryStatus"), "RECEIVED");
    row = mypage_row(t, 7, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "notified")));
    assert_true(is_null(row, "orderStatus"));

    order_event(t, ORDER_EVT("OrderPlaced"), 1, 7, "PLACED", 0, 1);
    row = mypage_row(t, 7, 1);
    assert_string_equal(hbt_json_str(row, "orderStatus"), "PLACED");
    assert_string_equal(hbt_json_str(row, "paymentStatus"), "APPROVED");
    assert_string_equal(hbt_json_str(row, "productName"), "Sofa");
    assert_int_equal(hbt_json_int(row, "qty"), 2);
    assert_int_equal(hbt_json_int(row, "amount"), AMOUNT); /* not reset by amount 0 */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM mypage"), 3);
    hbt_expect_none(t);
}

static void payment_voided_shows_no_payment(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_EVT("OrderPlaced"), 1, 7, "PLACED", 0, 1);
    assert_int_equal(hbt_send(t, PAYMENT_EVT("PaymentVoided"),
                              "{\"orderId\":1,\"userId\":7,\"status\":\"VOIDED\"}"),
                     HB_OK);
    const cJSON *row = mypage_row(t, 7, 1);
    assert_true(is_null(row, "paymentStatus"));
}

static void mypage_lists_only_that_users_rows(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_EVT("OrderPlaced"), 2, 7, "PLACED", 0, 1);
    order_event(t, ORDER_EVT("OrderPlaced"), 1, 7, "PLACED", 0, 1);
    order_event(t, ORDER_EVT("OrderPlaced"), 3, 8, "PLACED", 0, 1);
    customer_notified(t, 2);

    assert_int_equal(hbt_send(t, MYPAGE, "{\"userId\":7}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    const cJSON *first = cJSON_GetArrayItem(t->reply.body, 0);
    const cJSON *second = cJSON_GetArrayItem(t->reply.body, 1);
    assert_int_equal(hbt_json_int(first, "orderId"), 1);
    assert_int_equal(hbt_json_int(second, "orderId"), 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(first, "notified")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(second, "notified")));

    assert_int_equal(hbt_send(t, MYPAGE, "{\"userId\":8}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 1);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 0), "orderId"), 3);

    assert_int_equal(hbt_send(t, MYPAGE, "{\"userId\":99}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_true(cJSON_IsArray(t->reply.body));
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 0);

    assert_int_equal(hbt_send(t, MYPAGE, "{}"), HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "userId") != NULL);
}

static void event_without_version_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, ORDER_EVT("OrderPlaced"),
                              "{\"orderId\":1,\"userId\":7,\"status\":\"PLACED\"}"),
                     HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "version") != NULL);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM mypage"), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(saga_events_build_the_mypage_row),
        T(older_version_never_overwrites_a_newer_one),
        T(events_before_order_placed_still_create_the_row),
        T(payment_voided_shows_no_payment),
        T(mypage_lists_only_that_users_rows),
        T(event_without_version_is_a_decode_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
