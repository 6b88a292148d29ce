/* Unit tests of the order state machine (components/order/src/handlers.c) on a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "hausbus/bus.h"
#include "hb_test_util.h"

#define PLACE HB_CMD_TOPIC("order", "place")
#define CANCEL HB_CMD_TOPIC("order", "cancel")
#define GET HB_CMD_TOPIC("order", "get")
#define LIST HB_CMD_TOPIC("order", "list")
#define STOCK_RESERVED HB_EVT_TOPIC("product", "StockReserved")
#define STOCK_REJECTED HB_EVT_TOPIC("product", "StockRejected")
#define STOCK_RELEASED HB_EVT_TOPIC("product", "StockReleased")
#define PAYMENT_APPROVED HB_EVT_TOPIC("payment", "PaymentApproved")
#define PAYMENT_DECLINED HB_EVT_TOPIC("payment", "PaymentDeclined")
#define PAYMENT_REFUNDED HB_EVT_TOPIC("payment", "PaymentRefunded")
#define PAYMENT_VOIDED HB_EVT_TOPIC("payment", "PaymentVoided")
#define DELIVERY_EVT(type) HB_TOPIC_PREFIX "evt/delivery/" type

#define USER_ID 7
#define AMOUNT 258000 /* 2 x 129000 */
/* Product 1 is a "TV"; the client claims a "Sofa" with every order it places. The order
 * must carry the product's name only (the product component is the authority). */
#define PRODUCT_NAME "TV"
#define CLIENT_NAME "Sofa"

static int setup(void **state)
{
    *state = hbt_open(&order_component);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

static const char *status_of(struct hbt *t, int64_t id)
{
    return hbt_db_text(t, "SELECT status FROM orders WHERE id = %lld", (long long)id);
}

static const char *reason_of(struct hbt *t, int64_t id)
{
    return hbt_db_text(t, "SELECT reason FROM orders WHERE id = %lld", (long long)id);
}

/* Places an order of 2 x product 1 for user_id, naming it CLIENT_NAME, and returns its id. */
static int64_t place(struct hbt *t, int64_t user_id)
{
    assert_int_equal(hbt_send(t, PLACE,
                              "{\"productId\":1,\"qty\":2,\"userId\":%lld,"
                              "\"productName\":\"" CLIENT_NAME "\"}",
                              (long long)user_id),
                     HB_OK);
    assert_int_equal(t->reply.code, 202);
    int64_t id = hbt_json_int(t->reply.body, "id");
    HBT_EXPECT(t, "OrderPlaced");
    return id;
}

static void stock_reserved(struct hbt *t, int64_t id)
{
    assert_int_equal(hbt_send(t, STOCK_RESERVED,
                              "{\"orderId\":%lld,\"productId\":1,"
                              "\"productName\":\"" PRODUCT_NAME "\","
                              "\"qty\":2,\"price\":129000,\"amount\":%d,\"userId\":%d,"
                              "\"reason\":null,\"status\":\"RESERVED\"}",
                              (long long)id, AMOUNT, USER_ID),
                     HB_OK);
}

static void payment_approved(struct hbt *t, int64_t id)
{
    assert_int_equal(hbt_send(t, PAYMENT_APPROVED,
                              "{\"paymentId\":1,\"orderId\":%lld,\"userId\":%d,\"amount\":%d,"
                              "\"status\":\"APPROVED\",\"reason\":null,\"version\":1}",
                              (long long)id, USER_ID, AMOUNT),
                     HB_OK);
}

/* Sends the delivery event on topic for order id, as delivery 1 at version. */
static hb_err_t delivery_event(struct hbt *t, const char *topic, int64_t id, const char *status,
                               int version)
{
    return hbt_send(t, topic,
                    "{\"deliveryId\":1,\"orderId\":%lld,\"userId\":%d,\"productName\":\"Sofa\","
                    "\"qty\":2,\"status\":\"%s\",\"version\":%d}",
                    (long long)id, USER_ID, status, version);
}

static void cancel(struct hbt *t, int64_t id, int expected_code)
{
    assert_int_equal(hbt_send(t, CANCEL, "{\"id\":%lld}", (long long)id), HB_OK);
    assert_int_equal(t->reply.code, expected_code);
}

/* Drives a fresh order to status along the forward path and returns its id; the
 * outbox is empty afterwards. */
static int64_t order_at(struct hbt *t, const char *status)
{
    int64_t id = place(t, USER_ID);
    if (strcmp(status, "PLACED") == 0) {
        return id;
    }
    if (strcmp(status, "REJECTED") == 0) {
        assert_int_equal(hbt_send(t, STOCK_REJECTED,
                                  "{\"orderId\":%lld,\"reason\":\"out_of_stock\"}", (long long)id),
                         HB_OK);
        HBT_EXPECT(t, "OrderRejected");
        return id;
    }
    stock_reserved(t, id);
    HBT_EXPECT(t, "OrderStockReserved");
    if (strcmp(status, "STOCK_RESERVED") == 0) {
        return id;
    }
    payment_approved(t, id);
    HBT_EXPECT(t, "OrderPaid");
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCreated"), id, "RECEIVED", 1), HB_OK);
    hbt_expect_none(t);
    if (strcmp(status, "PAID") == 0) {
        return id;
    }
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), id, "PREPARING", 2),
                     HB_OK);
    HBT_EXPECT(t, "OrderPreparing");
    if (strcmp(status, "PREPARING") == 0) {
        return id;
    }
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryStarted"), id, "SHIPPING", 3), HB_OK);
    HBT_EXPECT(t, "OrderShipping");
    if (strcmp(status, "SHIPPING") == 0) {
        return id;
    }
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCompleted"), id, "DELIVERED", 4),
                     HB_OK);
    HBT_EXPECT(t, "OrderDelivered");
    assert_string_equal(status_of(t, id), status);
    return id;
}

static void place_creates_placed_order_and_emits_order_placed(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, PLACE,
                              "{\"productId\":3,\"qty\":2,\"userId\":7,\"productName\":\"Sofa\"}"),
                     HB_OK);
    assert_int_equal(t->reply.code, 202);
    int64_t id = hbt_json_int(t->reply.body, "id");
    assert_true(id >= 1);
    assert_string_equal(hbt_json_str(t->reply.body, "status"), "PLACED");
    char location[64];
    snprintf(location, sizeof(location), "/orders/%lld", (long long)id);
    assert_string_equal(t->reply.location, location);

    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM orders"), 1);
    assert_string_equal(status_of(t, id), "PLACED");
    assert_int_equal(hbt_db_int(t, "SELECT amount FROM orders WHERE id = %lld", (long long)id), 0);
    /* The inserted row is the first state as it is: version 1, the re-drive clock set. */
    assert_int_equal(hbt_db_int(t, "SELECT version FROM orders WHERE id = %lld", (long long)id), 1);
    assert_int_equal(hbt_db_int(t, "SELECT redrives FROM orders WHERE id = %lld", (long long)id), 0);
    assert_int_equal(
        hbt_db_int(t, "SELECT updated_at FROM orders WHERE id = %lld", (long long)id), HBT_NOW_MS);
    assert_int_equal(
        hbt_db_int(t, "SELECT next_redrive_at FROM orders WHERE id = %lld", (long long)id),
        HBT_NOW_MS + HBT_REDRIVE_MS);
    assert_int_equal(hbt_db_int(t, "SELECT at FROM order_steps WHERE order_id = %lld"
                                   " AND step = 'PLACED'",
                                (long long)id),
                     HBT_NOW_MS);

    HBT_EXPECT(t, "OrderPlaced");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_int_equal(hbt_out_int(t, 0, "productId"), 3);
    assert_int_equal(hbt_out_int(t, 0, "qty"), 2);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    /* The client's name is not the product's: nothing is named until product answers. */
    assert_string_equal(hbt_out_str(t, 0, "productName"), HBT_NULL);
    assert_string_equal(hbt_out_str(t, 0, "status"), "PLACED");
    assert_int_equal(hbt_out_int(t, 0, "version"), 1);
    assert_string_equal(t->out[0].subject, location + strlen("/orders/"));
}

static void invalid_place_data_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    static const struct {
        const char *data;
        const char *mentions;
    } bad[] = {
        {"{\"productId\":1,\"qty\":0,\"userId\":7}", "qty"},
        {"{\"productId\":1,\"qty\":2}", "userId"},
        {"{\"productId\":1,\"qty\":1.5,\"userId\":7}", "qty"},
        {"{\"productId\":1,\"qty\":1000001,\"userId\":7}", "qty"},
        {"{\"productId\":0,\"qty\":1,\"userId\":7}", "productId"},
        {"{\"productId\":1,\"qty\":\"2\",\"userId\":7}", "qty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(hbt_send(t, PLACE, "%s", bad[i].data), HB_ERR_DECODE);
        if (!strstr(t->ctx.error, bad[i].mentions)) {
            fail_msg("%s: error \"%s\" does not mention %s", bad[i].data, t->ctx.error,
                     bad[i].mentions);
        }
    }
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM orders"), 0);
    hbt_expect_none(t);
}

static void stock_reserved_moves_order_to_stock_reserved_with_amount(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID);
    stock_reserved(t, id);
    assert_string_equal(status_of(t, id), "STOCK_RESERVED");
    assert_int_equal(hbt_db_int(t, "SELECT amount FROM orders WHERE id = %lld", (long long)id),
                     AMOUNT);
    HBT_EXPECT(t, "OrderStockReserved");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_int_equal(hbt_out_int(t, 0, "amount"), AMOUNT);
    assert_string_equal(hbt_out_str(t, 0, "status"), "STOCK_RESERVED");
    assert_int_equal(hbt_out_int(t, 0, "version"), 2);
}

static void payment_approved_marks_order_paid(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    payment_approved(t, id);
    assert_string_equal(status_of(t, id), "PAID");
    HBT_EXPECT(t, "OrderPaid");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_int_equal(hbt_out_int(t, 0, "amount"), AMOUNT);
    assert_int_equal(hbt_out_int(t, 0, "userId"), USER_ID);
    assert_int_equal(hbt_out_int(t, 0, "qty"), 2);
    assert_string_equal(hbt_out_str(t, 0, "status"), "PAID");
    assert_int_equal(hbt_out_int(t, 0, "version"), 3);
}

static void stock_rejected_rejects_order_with_reason(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID);
    assert_int_equal(hbt_send(t, STOCK_REJECTED,
                              "{\"orderId\":%lld,\"productId\":1,\"qty\":2,\"userId\":7,"
                              "\"reason\":\"out_of_stock\",\"status\":\"REJECTED\"}",
                              (long long)id),
                     HB_OK);
    assert_string_equal(status_of(t, id), "REJECTED");
    assert_string_equal(reason_of(t, id), "out_of_stock");
    HBT_EXPECT(t, "OrderRejected");
    assert_string_equal(hbt_out_str(t, 0, "status"), "REJECTED");
    assert_string_equal(hbt_out_str(t, 0, "reason"), "out_of_stock");
}

static void payment_declined_rejects_order(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    assert_int_equal(hbt_send(t, PAYMENT_DECLINED,
                              "{\"paymentId\":1,\"orderId\":%lld,\"userId\":7,\"amount\":%d,"
                              "\"status\":\"DECLINED\",\"reason\":\"payment_declined\","
                              "\"version\":1}",
                              (long long)id, AMOUNT),
                     HB_OK);
    assert_string_equal(status_of(t, id), "REJECTED");
    assert_string_equal(reason_of(t, id), "payment_declined");
    HBT_EXPECT(t, "OrderRejected");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_int_equal(hbt_out_int(t, 0, "productId"), 1);
    assert_string_equal(hbt_out_str(t, 0, "reason"), "payment_declined");
}

/* Cancel before any payment: withdraw at once, CANCELLED when stock and payment settle. */
static void cancel_before_payment_withdraws_then_cancels(void **state)
{
    struct hbt *t = *state;
    static const char *const statuses[] = {"PLACED", "STOCK_RESERVED"};
    static const char *const settled_by[] = {PAYMENT_VOIDED, PAYMENT_REFUNDED};
    for (size_t i = 0; i < 2; i++) {
        int64_t id = order_at(t, statuses[i]);
        cancel(t, id, 202);
        assert_string_equal(hbt_json_str(t->reply.body, "status"), "CANCELLING");
        assert_string_equal(status_of(t, id), "CANCELLING");
        HBT_EXPECT(t, "OrderWithdrawn");
        assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
        assert_int_equal(hbt_out_int(t, 0, "productId"), 1);
        assert_int_equal(hbt_out_int(t, 0, "userId"), USER_ID);

        assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld,\"status\":\"RELEASED\"}",
                                  (long long)id),
                         HB_OK);
        assert_string_equal(status_of(t, id), "CANCELLING");
        hbt_expect_none(t);
        assert_int_equal(hbt_send(t, settled_by[i], "{\"orderId\":%lld,\"userId\":7}",
                                  (long long)id),
                         HB_OK);
        assert_string_equal(status_of(t, id), "CANCELLED");
        HBT_EXPECT(t, "OrderCancelled");
        assert_string_equal(hbt_out_str(t, 0, "status"), "CANCELLED");
    }
}

static void payment_settled_before_stock_release_still_cancels(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderWithdrawn");
    assert_int_equal(hbt_send(t, PAYMENT_VOIDED, "{\"orderId\":%lld,\"userId\":7}", (long long)id),
                     HB_OK);
    hbt_expect_none(t);
    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)id), HB_OK);
    assert_string_equal(status_of(t, id), "CANCELLED");
    HBT_EXPECT(t, "OrderCancelled");
}

static void payment_approved_after_cancel_does_not_pay(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderWithdrawn");
    payment_approved(t, id);
    assert_string_equal(status_of(t, id), "CANCELLING");
    hbt_expect_none(t);
}

/* Cancel after payment: the delivery decides first, then stock and payment settle. */
static void cancel_after_payment_asks_delivery_first(void **state)
{
    struct hbt *t = *state;
    static const char *const statuses[] = {"PAID", "PREPARING"};
    for (size_t i = 0; i < 2; i++) {
        int64_t id = order_at(t, statuses[i]);
        int64_t delivery_version = i == 0 ? 1 : 2;
        cancel(t, id, 202);
        assert_string_equal(hbt_json_str(t->reply.body, "status"), "CANCELLING");
        assert_string_equal(status_of(t, id), "CANCELLING");
        HBT_EXPECT(t, "OrderCancelling");
        assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
        assert_int_equal(hbt_out_int(t, 0, "deliveryId"), 1);

        /* Only the delivery was asked; its answer asks stock and payment. */
        assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCancelled"), id, "CANCELLED",
                                        (int)delivery_version + 1),
                         HB_OK);
        assert_string_equal(status_of(t, id), "CANCELLING");
        HBT_EXPECT(t, "OrderWithdrawn");
        assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
        assert_int_equal(hbt_out_int(t, 0, "userId"), USER_ID);

        assert_int_equal(hbt_send(t, PAYMENT_REFUNDED,
                                  "{\"paymentId\":1,\"orderId\":%lld,\"userId\":7,\"amount\":%d,"
                                  "\"status\":\"REFUNDED\",\"version\":2}",
                                  (long long)id, AMOUNT),
                         HB_OK);
        hbt_expect_none(t);
        assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)id), HB_OK);
        assert_string_equal(status_of(t, id), "CANCELLED");
        HBT_EXPECT(t, "OrderCancelled");
    }
}

static void settlements_before_delivery_answer_do_not_cancel(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "PAID");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderCancelling");
    /* Redelivered settlements from elsewhere must not finish a cancel the delivery has
     * not agreed to yet. */
    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)id), HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_REFUNDED, "{\"orderId\":%lld}", (long long)id), HB_OK);
    assert_string_equal(status_of(t, id), "CANCELLING");
    hbt_expect_none(t);
}

/* delivery_on_order_cancelling refuses without a new delivery version: the refusal
 * carries the version of the delivery's last change (DeliveryStarted, v3 here). */
static void delivery_cancel_refused_returns_order_to_shipping(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "PREPARING");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderCancelling");
    assert_int_equal(
        delivery_event(t, DELIVERY_EVT("DeliveryCancelRefused"), id, "SHIPPING", 3), HB_OK);
    assert_string_equal(status_of(t, id), "SHIPPING");
    assert_string_equal(reason_of(t, id), "cancel_refused");
    HBT_EXPECT(t, "OrderCancelRefused");
    assert_string_equal(hbt_out_str(t, 0, "status"), "SHIPPING");
    assert_string_equal(hbt_out_str(t, 0, "reason"), "cancel_refused");
    /* The DeliveryStarted it overtook changes nothing; the brand can still complete. */
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryStarted"), id, "SHIPPING", 3), HB_OK);
    hbt_expect_none(t);
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCompleted"), id, "DELIVERED", 4),
                     HB_OK);
    assert_string_equal(status_of(t, id), "DELIVERED");
    HBT_EXPECT(t, "OrderDelivered");
}

/* The usual order of the race: the brand's start reaches the order (quietly, since the
 * order is CANCELLING) before the refusal, which carries that same delivery version. */
static void cancel_refused_after_delivery_started_returns_order_to_shipping(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "PREPARING");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderCancelling");
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryStarted"), id, "SHIPPING", 3), HB_OK);
    assert_string_equal(status_of(t, id), "CANCELLING");
    hbt_expect_none(t);
    assert_int_equal(
        delivery_event(t, DELIVERY_EVT("DeliveryCancelRefused"), id, "SHIPPING", 3), HB_OK);
    assert_string_equal(status_of(t, id), "SHIPPING");
    assert_string_equal(reason_of(t, id), "cancel_refused");
    HBT_EXPECT(t, "OrderCancelRefused");
}

static void cancel_after_shipping_is_refused(void **state)
{
    struct hbt *t = *state;
    static const char *const statuses[] = {"SHIPPING", "DELIVERED", "REJECTED"};
    for (size_t i = 0; i < 3; i++) {
        int64_t id = order_at(t, statuses[i]);
        int64_t version =
            hbt_db_int(t, "SELECT version FROM orders WHERE id = %lld", (long long)id);
        cancel(t, id, 409);
        const char *error = hbt_json_str(t->reply.body, "error");
        if (!strstr(error, statuses[i])) {
            fail_msg("409 error \"%s\" does not name %s", error, statuses[i]);
        }
        assert_string_equal(status_of(t, id), statuses[i]);
        assert_int_equal(hbt_db_int(t, "SELECT version FROM orders WHERE id = %lld",
                                    (long long)id),
                         version);
        hbt_expect_none(t);
    }
}

static void second_cancel_is_accepted_without_new_compensation(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderWithdrawn");
    cancel(t, id, 202);
    assert_string_equal(hbt_json_str(t->reply.body, "status"), "CANCELLING");
    hbt_expect_none(t);

    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)id), HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_REFUNDED, "{\"orderId\":%lld}", (long long)id), HB_OK);
    HBT_EXPECT(t, "OrderCancelled");
    cancel(t, id, 202);
    assert_string_equal(hbt_json_str(t->reply.body, "status"), "CANCELLED");
    assert_string_equal(status_of(t, id), "CANCELLED");
    hbt_expect_none(t);
}

static void same_event_id_is_applied_once(void **state)
{
    struct hbt *t = *state;
    const char *id = "0b6f0e0c-5d1b-4d53-9c4e-3f1f2a6b7c8d";
    const char *data = "{\"productId\":1,\"qty\":2,\"userId\":7}";
    assert_int_equal(hbt_send_id(t, PLACE, id, "%s", data), HB_OK);
    assert_int_equal(t->reply.code, 202);
    assert_int_equal(hbt_send_id(t, PLACE, id, "%s", data), HB_OK);
    assert_int_equal(t->reply.code, 0); /* the runtime sends no second answer */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM orders"), 1);
    HBT_EXPECT(t, "OrderPlaced");

    /* An event redelivered with its id is not applied again either. */
    const char *cancel_id = "5a1c9a3e-2f4b-4e0e-8b7d-6c5e4d3c2b1a";
    assert_int_equal(hbt_send_id(t, CANCEL, cancel_id, "{\"id\":1}"), HB_OK);
    HBT_EXPECT(t, "OrderWithdrawn");
    assert_int_equal(hbt_send_id(t, CANCEL, cancel_id, "{\"id\":1}"), HB_OK);
    hbt_expect_none(t);
    assert_int_equal(hbt_db_int(t, "SELECT version FROM orders WHERE id = 1"), 2);
}


/* The saga object of the metrics hook; fails the test when there is none. */
static cJSON *saga_metrics(struct hbt *t)
{
    cJSON *extra = order_metrics(&t->ctx);
    assert_non_null(extra);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(extra, "saga"));
    return extra;
}

static int64_t saga_int(const cJSON *extra, const char *key)
{
    return hbt_json_int(cJSON_GetObjectItemCaseSensitive(extra, "saga"), key);
}

static const cJSON *saga_latency(const cJSON *extra, const char *step)
{
    const cJSON *saga = cJSON_GetObjectItemCaseSensitive(extra, "saga");
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(saga, "stepLatencyMs");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(all, step);
    assert_non_null(h);
    return h;
}

static void saga_metrics_count_each_order_once(void **state)
{
    struct hbt *t = *state;
    int64_t delivered = place(t, USER_ID);
    t->ctx.now_ms += 40; /* placed_to_paid: 40 ms */
    stock_reserved(t, delivered);
    payment_approved(t, delivered);
    t->ctx.now_ms += 3000; /* paid_to_preparing: 3 s */
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), delivered,
                                    "PREPARING", 2), HB_OK);
    (void)hbt_take(t);
    int64_t rejected = order_at(t, "REJECTED");
    int64_t cancelled = order_at(t, "PLACED");
    cancel(t, cancelled, 202);
    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)cancelled),
                     HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_VOIDED, "{\"orderId\":%lld}", (long long)cancelled),
                     HB_OK);
    assert_string_equal(status_of(t, cancelled), "CANCELLED");
    (void)rejected;

    /* The same outcomes again under new event ids (a replay): nothing moves. */
    payment_approved(t, delivered);
    assert_int_equal(hbt_send(t, STOCK_REJECTED, "{\"orderId\":%lld,\"reason\":\"out_of_stock\"}",
                              (long long)rejected), HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_VOIDED, "{\"orderId\":%lld}", (long long)cancelled),
                     HB_OK);

    cJSON *extra = saga_metrics(t);
    assert_int_equal(saga_int(extra, "placed"), 3);
    assert_int_equal(saga_int(extra, "paid"), 1);
    assert_int_equal(saga_int(extra, "cancelled"), 1);
    assert_int_equal(saga_int(extra, "delivered"), 0);
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(extra, "saga"), "rejected");
    assert_int_equal(hbt_json_int(reasons, "out_of_stock"), 1);
    assert_int_equal(cJSON_GetArraySize(reasons), 1);

    const cJSON *to_paid = saga_latency(extra, "placed_to_paid");
    assert_int_equal(hbt_json_int(to_paid, "count"), 1);
    assert_int_equal(hbt_json_int(to_paid, "sum"), 40);
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(to_paid, "counts");
    assert_int_equal(cJSON_GetArraySize(counts), 23);
    assert_int_equal((int)cJSON_GetArrayItem(counts, 2)->valuedouble, 0); /* le 25 */
    assert_int_equal((int)cJSON_GetArrayItem(counts, 3)->valuedouble, 1); /* le 50 */
    assert_int_equal((int)cJSON_GetArrayItem(counts, 10)->valuedouble, 1); /* cumulative */
    const cJSON *to_preparing = saga_latency(extra, "paid_to_preparing");
    assert_int_equal(hbt_json_int(to_preparing, "sum"), 3000);
    assert_int_equal(hbt_json_int(saga_latency(extra, "shipping_to_delivered"), "count"), 0);
    cJSON_Delete(extra);
}

static void saga_latency_buckets_match_their_bounds(void **state)
{
    struct hbt *t = *state;
    /* placed_to_paid of 5 ms (on the first bound), 6 ms and 10001 ms (over the last). */
    const int64_t latencies[] = {5, 6, 10001};
    for (size_t i = 0; i < 3; i++) {
        int64_t id = place(t, USER_ID);
        t->ctx.now_ms += latencies[i];
        payment_approved(t, id);
        (void)hbt_take(t);
    }
    cJSON *extra = saga_metrics(t);
    const cJSON *h = saga_latency(extra, "placed_to_paid");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
    assert_int_equal((int)cJSON_GetArrayItem(counts, 0)->valuedouble, 1);  /* le 5 */
    assert_int_equal((int)cJSON_GetArrayItem(counts, 1)->valuedouble, 2);  /* le 10 */
    assert_int_equal((int)cJSON_GetArrayItem(counts, 10)->valuedouble, 2); /* le 10000 */
    assert_int_equal(hbt_json_int(h, "count"), 3);
    assert_int_equal(hbt_json_int(h, "sum"), 10012);
    cJSON_Delete(extra);
}

#define DAY_MS (24LL * 3600 * 1000)

/* The cumulative count of bucket i of h. */
static int64_t bucket_count(const cJSON *h, int i)
{
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
    const cJSON *count = cJSON_GetArrayItem(counts, i);
    assert_non_null(count);
    return (int64_t)count->valuedouble;
}

static void saga_latency_sql_buckets_match_every_bound(void **state)
{
    struct hbt *t = *state;
    cJSON *extra = saga_metrics(t);
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(saga_latency(extra, "placed_to_paid"),
                                                       "le");
    int n = cJSON_GetArraySize(le);
    assert_true(n >= 20);
    /* One placed_to_paid exactly on each bound, and one just over the last. */
    int64_t last = 0;
    for (int i = 0; i <= n; i++) {
        int64_t latency = i < n ? (int64_t)cJSON_GetArrayItem(le, i)->valuedouble : last + 1;
        int64_t id = place(t, USER_ID);
        t->ctx.now_ms += latency;
        payment_approved(t, id);
        (void)hbt_take(t);
        last = latency;
    }
    cJSON_Delete(extra);
    extra = saga_metrics(t);
    const cJSON *h = saga_latency(extra, "placed_to_paid");
    for (int i = 0; i < n; i++) {
        if (bucket_count(h, i) != i + 1) {
            fail_msg("bucket %d (le %.0f ms) counts %lld, expected %d", i,
                     cJSON_GetArrayItem(le, i)->valuedouble, (long long)bucket_count(h, i),
                     i + 1);
        }
    }
    assert_int_equal(hbt_json_int(h, "count"), n + 1);
    cJSON_Delete(extra);
}

/* The steps that wait on people take days: a 3-day paid_to_preparing is in a finite
 * bucket, not only in +Inf. */
static void a_step_of_days_lands_in_a_finite_bucket(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "PAID");
    t->ctx.now_ms += 3 * DAY_MS;
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), id, "PREPARING", 2),
                     HB_OK);
    cJSON *extra = saga_metrics(t);
    const cJSON *h = saga_latency(extra, "paid_to_preparing");
    int last = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "le")) - 1;
    assert_int_equal(bucket_count(h, last), 1);
    assert_int_equal(hbt_json_int(h, "sum"), 3 * DAY_MS);
    cJSON_Delete(extra);
}

/* The trigger of the buckets that stopped at 10 s, as the schema before the day-long
 * buckets created it (a fixture: an order database made by that version has it). */
static const char ten_second_trigger[] =
    "CREATE TRIGGER order_step_latency_on_step AFTER INSERT ON order_steps"
    "  WHEN NEW.at IS NOT NULL AND NEW.step IN ('PAID', 'PREPARING', 'SHIPPING', 'DELIVERED')"
    "  BEGIN INSERT INTO order_step_latency(name, bucket, n, sum_ms)"
    "  SELECT lower(prev.step) || '_to_' || lower(NEW.step),"
    "    CASE WHEN d <= 5 THEN 0 WHEN d <= 10 THEN 1 WHEN d <= 25 THEN 2 WHEN d <= 50 THEN 3"
    "    WHEN d <= 100 THEN 4 WHEN d <= 250 THEN 5 WHEN d <= 500 THEN 6 WHEN d <= 1000 THEN 7"
    "    WHEN d <= 2500 THEN 8 WHEN d <= 5000 THEN 9 WHEN d <= 10000 THEN 10 ELSE 11 END, 1, d"
    "  FROM (SELECT step, max(NEW.at - at, 0) AS d FROM order_steps"
    "    WHERE order_id = NEW.order_id AND at IS NOT NULL AND step = CASE NEW.step"
    "    WHEN 'PAID' THEN 'PLACED' WHEN 'PREPARING' THEN 'PAID' WHEN 'SHIPPING' THEN 'PREPARING'"
    "    ELSE 'SHIPPING' END) AS prev WHERE true"
    "  ON CONFLICT(name, bucket) DO UPDATE SET n = n + 1, sum_ms = sum_ms + excluded.sum_ms;"
    "  END;";

/* The triggers through which releases before record_step wrote the steps. */
static const char step_triggers[] =
    "CREATE TRIGGER order_steps_on_insert AFTER INSERT ON orders BEGIN"
    "  INSERT OR IGNORE INTO order_steps VALUES(NEW.id, NEW.status, NEW.updated_at); END;"
    "CREATE TRIGGER order_steps_on_update AFTER UPDATE OF status ON orders"
    "  WHEN NEW.status IS NOT OLD.status BEGIN"
    "  INSERT OR IGNORE INTO order_steps VALUES(NEW.id, NEW.status, NEW.updated_at); END;";

/* The latency trigger of the release before record_step (day-long buckets). */
static const char day_bucket_trigger[] =
    "CREATE TRIGGER order_step_latency_on_step_v2 AFTER INSERT ON order_steps"
    "  WHEN NEW.at IS NOT NULL AND NEW.step IN ('PAID', 'PREPARING', 'SHIPPING', 'DELIVERED')"
    "  BEGIN INSERT INTO order_step_latency(name, bucket, n, sum_ms)"
    "  SELECT lower(prev.step) || '_to_' || lower(NEW.step),"
    "    CASE WHEN d <= 5 THEN 0 WHEN d <= 10 THEN 1 WHEN d <= 25 THEN 2 WHEN d <= 50 THEN 3"
    "    WHEN d <= 100 THEN 4 WHEN d <= 250 THEN 5 WHEN d <= 500 THEN 6 WHEN d <= 1000 THEN 7"
    "    WHEN d <= 2500 THEN 8 WHEN d <= 5000 THEN 9 WHEN d <= 10000 THEN 10"
    "    WHEN d <= 30000 THEN 11 WHEN d <= 60000 THEN 12 WHEN d <= 300000 THEN 13"
    "    WHEN d <= 900000 THEN 14 WHEN d <= 3600000 THEN 15 WHEN d <= 10800000 THEN 16"
    "    WHEN d <= 21600000 THEN 17 WHEN d <= 43200000 THEN 18 WHEN d <= 86400000 THEN 19"
    "    WHEN d <= 172800000 THEN 20 WHEN d <= 345600000 THEN 21 WHEN d <= 604800000 THEN 22"
    "    ELSE 23 END, 1, d"
    "  FROM (SELECT step, max(NEW.at - at, 0) AS d FROM order_steps"
    "    WHERE order_id = NEW.order_id AND at IS NOT NULL AND step = CASE NEW.step"
    "    WHEN 'PAID' THEN 'PLACED' WHEN 'PREPARING' THEN 'PAID' WHEN 'SHIPPING' THEN 'PREPARING'"
    "    ELSE 'SHIPPING' END) AS prev WHERE true"
    "  ON CONFLICT(name, bucket) DO UPDATE SET n = n + 1, sum_ms = sum_ms + excluded.sum_ms;"
    "  END;";

/* Steps after the database of an older release was opened count once: by record_step
 * alone, with every trigger of the old schema gone. */
static void assert_steps_count_once_after_the_upgrade(struct hbt *t, int64_t paid_before)
{
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"),
                     0);
    int64_t next = order_at(t, "PAID");
    t->ctx.now_ms += 2 * 3600 * 1000;
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), next, "PREPARING", 2),
                     HB_OK);
    cJSON *extra = saga_metrics(t);
    const cJSON *h = saga_latency(extra, "paid_to_preparing");
    assert_int_equal(hbt_json_int(h, "count"), paid_before + 1);
    assert_int_equal(hbt_json_int(saga_latency(extra, "placed_to_paid"), "count"),
                     paid_before + 1);
    assert_int_equal(saga_int(extra, "paid"), paid_before + 1);
    assert_int_equal(saga_int(extra, "placed"), paid_before + 1);
    cJSON_Delete(extra);
}

/* An order database of an older release: its step triggers and latency_trigger, and an
 * order paid, then confirmed 3 days later, counted by them (record_step finds the steps
 * recorded and adds nothing, so the fixture counts as that release did). */
static void older_release_counts_a_three_day_confirmation(struct hbt *t,
                                                          const char *latency_trigger)
{
    assert_int_equal(hb_store_exec(t->store, step_triggers), HB_OK);
    assert_int_equal(hb_store_exec(t->store, latency_trigger), HB_OK);
    int64_t id = order_at(t, "PAID");
    t->ctx.now_ms += 3 * DAY_MS;
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), id, "PREPARING", 2),
                     HB_OK);
    (void)hbt_take(t);
}

/* This release's schema on the database, twice: a start and a restart. */
static void open_with_this_release_twice(struct hbt *t)
{
    assert_int_equal(hb_store_exec(t->store, order_component.migrations[0].sqlite), HB_OK);
    assert_int_equal(hb_store_exec(t->store, order_component.migrations[0].sqlite), HB_OK);
}

static void a_database_of_the_release_with_step_triggers_drops_them(void **state)
{
    struct hbt *t = *state;
    /* As the release before record_step left it. */
    older_release_counts_a_three_day_confirmation(t, day_bucket_trigger);
    assert_int_equal(hbt_db_int(t, "SELECT n FROM order_step_latency"
                                   " WHERE name = 'paid_to_preparing'"), 1);
    open_with_this_release_twice(t); /* nothing counted is lost */
    cJSON *extra = saga_metrics(t);
    assert_int_equal(hbt_json_int(saga_latency(extra, "paid_to_preparing"), "sum"), 3 * DAY_MS);
    cJSON_Delete(extra);
    assert_steps_count_once_after_the_upgrade(t, 1);
}

static void a_database_with_ten_second_buckets_is_rebuilt_in_day_buckets(void **state)
{
    struct hbt *t = *state;
    /* An order database as the 10 s version left it: its triggers, and a 3-day
     * paid_to_preparing counted in bucket 11 ("over 10 s"). */
    older_release_counts_a_three_day_confirmation(t, ten_second_trigger);
    assert_int_equal(hbt_db_int(t, "SELECT bucket FROM order_step_latency"
                                   " WHERE name = 'paid_to_preparing'"), 11);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM order_step_latency"
                                   " WHERE name = 'placed_to_paid'"), 1);
    open_with_this_release_twice(t);
    cJSON *extra = saga_metrics(t);
    const cJSON *h = saga_latency(extra, "paid_to_preparing");
    int last = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "le")) - 1;
    assert_int_equal(bucket_count(h, last), 1);
    assert_int_equal(bucket_count(h, last - 2), 0); /* le 2 days */
    assert_int_equal(hbt_json_int(h, "count"), 1);
    assert_int_equal(hbt_json_int(h, "sum"), 3 * DAY_MS);
    assert_int_equal(hbt_json_int(saga_latency(extra, "placed_to_paid"), "count"), 1);
    cJSON_Delete(extra);
    assert_steps_count_once_after_the_upgrade(t, 1);
}

static void saga_metrics_count_delivered_and_payment_declined(void **state)
{
    struct hbt *t = *state;
    (void)order_at(t, "DELIVERED");
    int64_t declined = place(t, USER_ID);
    assert_int_equal(hbt_send(t, PAYMENT_DECLINED,
                              "{\"paymentId\":2,\"orderId\":%lld,\"userId\":%d,\"amount\":1,"
                              "\"status\":\"DECLINED\",\"reason\":\"limit\",\"version\":1}",
                              (long long)declined, USER_ID),
                     HB_OK);
    cJSON *extra = saga_metrics(t);
    assert_int_equal(saga_int(extra, "placed"), 2);
    assert_int_equal(saga_int(extra, "paid"), 1);
    assert_int_equal(saga_int(extra, "delivered"), 1);
    const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(extra, "saga"), "rejected");
    assert_int_equal(hbt_json_int(reasons, "payment_declined"), 1);
    assert_int_equal(hbt_json_int(saga_latency(extra, "shipping_to_delivered"), "count"), 1);
    cJSON_Delete(extra);
}

static void saga_metrics_backfill_a_database_from_before_order_steps(void **state)
{
    struct hbt *t = *state;
    (void)order_at(t, "SHIPPING");
    (void)order_at(t, "REJECTED");
    /* As an older version left it: orders, but no step rows. */
    assert_int_equal(hb_store_exec(t->store, "DELETE FROM order_steps;"
                                             "DELETE FROM order_step_latency"), HB_OK);
    assert_int_equal(hb_store_exec(t->store, order_component.migrations[0].sqlite), HB_OK);
    assert_int_equal(hb_store_exec(t->store, order_component.migrations[0].sqlite), HB_OK); /* restart */
    cJSON *extra = saga_metrics(t);
    assert_int_equal(saga_int(extra, "placed"), 2);
    assert_int_equal(saga_int(extra, "paid"), 1);
    assert_int_equal(hbt_json_int(saga_latency(extra, "placed_to_paid"), "count"), 0);
    cJSON_Delete(extra);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM order_steps WHERE at IS NULL"), 5);
}

static void older_delivery_version_is_ignored(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "PAID");
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryStarted"), id, "SHIPPING", 3), HB_OK);
    assert_string_equal(status_of(t, id), "SHIPPING");
    HBT_EXPECT(t, "OrderShipping");
    /* DeliveryConfirmed (v2) overtaken by DeliveryStarted (v3) arrives late. */
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), id, "PREPARING", 2),
                     HB_OK);
    assert_string_equal(status_of(t, id), "SHIPPING");
    assert_string_equal(
        hbt_db_text(t, "SELECT delivery_status FROM orders WHERE id = %lld", (long long)id),
        "SHIPPING");
    assert_int_equal(
        hbt_db_int(t, "SELECT delivery_version FROM orders WHERE id = %lld", (long long)id), 3);
    hbt_expect_none(t);
    /* A redelivered DeliveryStarted (same version) changes nothing either. */
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryStarted"), id, "SHIPPING", 3), HB_OK);
    hbt_expect_none(t);
}

/* The data of the last event taken is the order as GET shows it: the same fields in the
 * same order with the same values, "orderId" for "id" (events are built in C from the
 * order just written, GET reads the row). */
static void assert_last_event_is_the_record(struct hbt *t, int64_t id)
{
    assert_true(t->n_out > 0);
    char *event = hb_json_print(t->out[t->n_out - 1].data);
    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)id), HB_OK);
    assert_int_equal(t->reply.code, 200);
    char *record = hb_json_print(t->reply.body);
    static const char event_head[] = "{\"orderId\":";
    assert_non_null(event);
    assert_non_null(record);
    assert_memory_equal(event, event_head, sizeof(event_head) - 1);
    char expected[1024];
    snprintf(expected, sizeof(expected), "{\"id\":%s", event + sizeof(event_head) - 1);
    assert_string_equal(record, expected);
    free(event);
    free(record);
}

static void every_event_carries_the_order_as_get_shows_it(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID); /* unnamed, no amount, no delivery */
    assert_last_event_is_the_record(t, id);
    stock_reserved(t, id);
    HBT_EXPECT(t, "OrderStockReserved");
    assert_last_event_is_the_record(t, id);
    payment_approved(t, id);
    HBT_EXPECT(t, "OrderPaid");
    assert_last_event_is_the_record(t, id);
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCreated"), id, "RECEIVED", 1), HB_OK);
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryConfirmed"), id, "PREPARING", 2),
                     HB_OK);
    HBT_EXPECT(t, "OrderPreparing"); /* with its delivery */
    assert_last_event_is_the_record(t, id);
    /* with a reason */
    int64_t rejected = order_at(t, "REJECTED");
    assert_last_event_is_the_record(t, rejected);
    /* re-driven (the order as loaded, not as just written) */
    int64_t waiting = place(t, USER_ID);
    t->ctx.now_ms += HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderPlaced");
    assert_last_event_is_the_record(t, waiting);
    int64_t cancelled = order_at(t, "STOCK_RESERVED");
    cancel(t, cancelled, 202);
    HBT_EXPECT(t, "OrderWithdrawn");
    assert_last_event_is_the_record(t, cancelled);
}

static void get_returns_order_and_unknown_id_is_404(void **state)
{
    struct hbt *t = *state;
    int64_t id = order_at(t, "STOCK_RESERVED");
    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)id), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(hbt_json_int(t->reply.body, "id"), id);
    assert_int_equal(hbt_json_int(t->reply.body, "productId"), 1);
    assert_string_equal(hbt_json_str(t->reply.body, "productName"), PRODUCT_NAME);
    assert_int_equal(hbt_json_int(t->reply.body, "qty"), 2);
    assert_int_equal(hbt_json_int(t->reply.body, "userId"), USER_ID);
    assert_int_equal(hbt_json_int(t->reply.body, "amount"), AMOUNT);
    assert_string_equal(hbt_json_str(t->reply.body, "status"), "STOCK_RESERVED");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t->reply.body, "reason")));

    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)id + 100), HB_OK);
    assert_int_equal(t->reply.code, 404);
    assert_string_equal(hbt_json_str(t->reply.body, "error"), "order not found");
    cancel(t, id + 100, 404);
    assert_int_equal(hbt_send(t, GET, "{\"id\":0}"), HB_ERR_DECODE);
    hbt_expect_none(t);
}

static void list_filters_by_user(void **state)
{
    struct hbt *t = *state;
    int64_t a = place(t, 7);
    int64_t b = place(t, 8);
    int64_t c = place(t, 7);
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":7}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_true(cJSON_IsArray(t->reply.body));
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 0), "id"), a);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 1), "id"), c);

    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 3);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 1), "id"), b);

    assert_int_equal(hbt_send(t, LIST, "{\"userId\":99}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_true(cJSON_IsArray(t->reply.body));
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 0);

    assert_int_equal(hbt_send(t, LIST, "{\"userId\":-1}"), HB_ERR_DECODE);
}

/* A reply must fit one MQTT message the gateway can take: lists stop at HB_LIST_MAX. */
static void list_stops_at_the_list_bound(void **state)
{
    struct hbt *t = *state;
    for (int i = 0; i < HB_LIST_MAX + 5; i++) {
        place(t, 7);
    }
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":7}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), HB_LIST_MAX);
    char *json = cJSON_PrintUnformatted(t->reply.body);
    assert_true(strlen(json) < HB_REPLY_MAX / 2);
    cJSON_free(json);
}

/* A replay request re-emits the current-state event of every order changed since then. */
static void replay_announces_orders_changed_since_then(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, 7);
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("order", "replay"), "{\"since\":%lld}",
                              (long long)HBT_NOW_MS),
                     HB_OK);
    HBT_EXPECT(t, "OrderPlaced");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_string_equal(hbt_out_str(t, 0, "status"), "PLACED");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("order", "replay"), "{\"since\":%lld}",
                              (long long)HBT_NOW_MS + 1),
                     HB_OK);
    hbt_expect_none(t);
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("order", "replay"), "{}"), HB_ERR_DECODE);
}

static void redrive_reemits_order_placed_after_timeout(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID);
    t->ctx.now_ms = HBT_NOW_MS + HBT_REDRIVE_MS - 1;
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_expect_none(t);

    t->ctx.now_ms = HBT_NOW_MS + HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderPlaced");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), id);
    assert_int_equal(hbt_out_int(t, 0, "version"), 1);
    assert_string_equal(hbt_out_str(t, 0, "status"), "PLACED");
    assert_string_equal(status_of(t, id), "PLACED");

    /* The next attempt waits longer (backoff) instead of firing every tick. */
    t->ctx.now_ms += 1000;
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_expect_none(t);
    t->ctx.now_ms += 2 * HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderPlaced");
}

static void redrive_reemits_order_paid_without_delivery(void **state)
{
    struct hbt *t = *state;
    int64_t paid = place(t, USER_ID);
    int64_t delivered_to = place(t, USER_ID);
    t->ctx.now_ms = HBT_NOW_MS + 1000;
    for (int i = 0; i < 2; i++) {
        int64_t id = i == 0 ? paid : delivered_to;
        stock_reserved(t, id);
        payment_approved(t, id);
    }
    HBT_EXPECT(t, "OrderStockReserved", "OrderPaid", "OrderStockReserved", "OrderPaid");
    assert_int_equal(
        delivery_event(t, DELIVERY_EVT("DeliveryCreated"), delivered_to, "RECEIVED", 1), HB_OK);
    hbt_expect_none(t);

    t->ctx.now_ms = HBT_NOW_MS + 1000 + HBT_REDRIVE_MS - 1;
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_expect_none(t);
    t->ctx.now_ms = HBT_NOW_MS + 1000 + HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderPaid"); /* only the order no delivery answered for */
    assert_int_equal(hbt_out_int(t, 0, "orderId"), paid);
    assert_string_equal(hbt_out_str(t, 0, "status"), "PAID");
    assert_int_equal(hbt_out_int(t, 0, "amount"), AMOUNT);

    /* Once the delivery exists, nothing more is re-driven. */
    assert_int_equal(delivery_event(t, DELIVERY_EVT("DeliveryCreated"), paid, "RECEIVED", 1),
                     HB_OK);
    t->ctx.now_ms += 100 * HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    hbt_expect_none(t);
}

static void redrive_repeats_a_pending_compensation(void **state)
{
    struct hbt *t = *state;
    int64_t withdrawn = order_at(t, "STOCK_RESERVED");
    int64_t cancelling = order_at(t, "PAID");
    int64_t declined = order_at(t, "STOCK_RESERVED");
    cancel(t, withdrawn, 202);
    cancel(t, cancelling, 202);
    assert_int_equal(hbt_send(t, PAYMENT_DECLINED, "{\"orderId\":%lld}", (long long)declined),
                     HB_OK);
    HBT_EXPECT(t, "OrderWithdrawn", "OrderCancelling", "OrderRejected");

    t->ctx.now_ms = HBT_NOW_MS + HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderWithdrawn", "OrderCancelling", "OrderRejected");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), withdrawn);
    assert_int_equal(hbt_out_int(t, 1, "orderId"), cancelling);
    assert_int_equal(hbt_out_int(t, 2, "orderId"), declined);

    /* Once answered, nothing is re-driven any more. */
    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)withdrawn),
                     HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_REFUNDED, "{\"orderId\":%lld}", (long long)withdrawn),
                     HB_OK);
    assert_int_equal(hbt_send(t, STOCK_RELEASED, "{\"orderId\":%lld}", (long long)declined),
                     HB_OK);
    HBT_EXPECT(t, "OrderCancelled");
    assert_string_equal(status_of(t, declined), "REJECTED");
    t->ctx.now_ms += 100 * HBT_REDRIVE_MS;
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderCancelling"); /* only the cancel the delivery has not answered */
    assert_int_equal(hbt_out_int(t, 0, "orderId"), cancelling);
}

static const char *name_of(struct hbt *t, int64_t id)
{
    return hbt_db_text(t, "SELECT product_name FROM orders WHERE id = %lld", (long long)id);
}

/* Asserts every taken event names the product as product did (or nothing, for NULL). */
static void expect_names(const struct hbt *t, const char *name)
{
    for (size_t i = 0; i < t->n_out; i++) {
        assert_string_equal(hbt_out_str(t, i, "productName"), name ? name : HBT_NULL);
    }
}

/* Whatever the client calls the product (a lie, an empty or non-string name, none at
 * all), the order is placed unnamed: the name is the product component's to give. */
static void client_product_name_is_ignored(void **state)
{
    struct hbt *t = *state;
    static const char *const names[] = {"\"" CLIENT_NAME "\"", "\"\"", "7", "null"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(hbt_send(t, PLACE, "{\"productId\":1,\"qty\":2,\"userId\":7,"
                                            "\"productName\":%s}",
                                  names[i]),
                         HB_OK);
        assert_int_equal(t->reply.code, 202);
        int64_t id = hbt_json_int(t->reply.body, "id");
        assert_string_equal(name_of(t, id), HBT_NULL);
        HBT_EXPECT(t, "OrderPlaced");
        expect_names(t, NULL);
        assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)id), HB_OK);
        assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(t->reply.body, "productName")));
    }
}

/* An order for a TV that the client called a Sofa is a TV from the reservation on: in
 * the order, in every event it emits after that (the delivery and the view are built
 * from those), in its answers, re-drives and replays. */
static void product_name_comes_from_the_product_not_the_client(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID);
    stock_reserved(t, id);
    assert_string_equal(name_of(t, id), PRODUCT_NAME);
    HBT_EXPECT(t, "OrderStockReserved");
    expect_names(t, PRODUCT_NAME);
    payment_approved(t, id);
    HBT_EXPECT(t, "OrderPaid");
    expect_names(t, PRODUCT_NAME);
    t->ctx.now_ms = HBT_NOW_MS + HBT_REDRIVE_MS; /* no delivery yet: OrderPaid again */
    assert_int_equal(hbt_tick(t), HB_OK);
    HBT_EXPECT(t, "OrderPaid");
    expect_names(t, PRODUCT_NAME);
    static const struct {
        const char *type;
        const char *status;
        const char *emits;
    } steps[] = {{"DeliveryCreated", "RECEIVED", NULL},
                 {"DeliveryConfirmed", "PREPARING", "OrderPreparing"},
                 {"DeliveryStarted", "SHIPPING", "OrderShipping"},
                 {"DeliveryCompleted", "DELIVERED", "OrderDelivered"}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char topic[128];
        snprintf(topic, sizeof(topic), "%s%s", DELIVERY_EVT(""), steps[i].type);
        /* The delivery echoes the client's name here: it must not stick either. */
        assert_int_equal(delivery_event(t, topic, id, steps[i].status, (int)i + 1), HB_OK);
        hbt_expect(t, steps[i].emits, (const char *)NULL);
        expect_names(t, PRODUCT_NAME);
    }
    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)id), HB_OK);
    assert_string_equal(hbt_json_str(t->reply.body, "productName"), PRODUCT_NAME);
    assert_int_equal(hbt_send(t, LIST, "{\"userId\":%d}", USER_ID), HB_OK);
    assert_string_equal(hbt_json_str(cJSON_GetArrayItem(t->reply.body, 0), "productName"),
                        PRODUCT_NAME);
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("order", "replay"), "{\"since\":0}"), HB_OK);
    HBT_EXPECT(t, "OrderDelivered");
    expect_names(t, PRODUCT_NAME);
}

/* A rejected order is named by product's answer: the product's name when it exists
 * (out of stock), none for an unknown product; never the client's. */
static void rejected_order_carries_the_products_name_or_none(void **state)
{
    struct hbt *t = *state;
    int64_t out_of_stock = place(t, USER_ID);
    int64_t unknown = place(t, USER_ID);
    assert_int_equal(hbt_send(t, STOCK_REJECTED,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"" PRODUCT_NAME
                              "\",\"qty\":2,\"userId\":7,\"reason\":\"out_of_stock\","
                              "\"status\":\"REJECTED\"}",
                              (long long)out_of_stock),
                     HB_OK);
    HBT_EXPECT(t, "OrderRejected");
    expect_names(t, PRODUCT_NAME);
    assert_int_equal(hbt_send(t, STOCK_REJECTED,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":null,"
                              "\"qty\":2,\"userId\":7,\"reason\":\"unknown_product\","
                              "\"status\":\"REJECTED\"}",
                              (long long)unknown),
                     HB_OK);
    HBT_EXPECT(t, "OrderRejected");
    expect_names(t, NULL);
    assert_string_equal(name_of(t, out_of_stock), PRODUCT_NAME);
    assert_string_equal(name_of(t, unknown), HBT_NULL);
}

/* Cancelled before product answered: product's StockReleased (its tombstone) names the
 * product, so the cancelled order does too. */
static void order_cancelled_before_reservation_is_named_by_stock_released(void **state)
{
    struct hbt *t = *state;
    int64_t id = place(t, USER_ID);
    cancel(t, id, 202);
    HBT_EXPECT(t, "OrderWithdrawn");
    expect_names(t, NULL);
    assert_int_equal(hbt_send(t, STOCK_RELEASED,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"" PRODUCT_NAME
                              "\",\"qty\":0,\"userId\":7,\"status\":\"WITHDRAWN\"}",
                              (long long)id),
                     HB_OK);
    assert_int_equal(hbt_send(t, PAYMENT_VOIDED, "{\"orderId\":%lld,\"userId\":7}", (long long)id),
                     HB_OK);
    HBT_EXPECT(t, "OrderCancelled");
    expect_names(t, PRODUCT_NAME);
}

/* A payment event overtook StockReserved (a lost message, answered again later): the name
 * payment relays from product's StockReserved names the order, so OrderPaid (and the
 * delivery made from it) or OrderRejected does; the late StockReserved changes nothing. */
static void payment_before_stock_reserved_names_the_order(void **state)
{
    struct hbt *t = *state;
    static const struct {
        const char *topic;
        const char *status;
        const char *emits;
    } outcomes[] = {{PAYMENT_APPROVED, "APPROVED", "OrderPaid"},
                    {PAYMENT_DECLINED, "DECLINED", "OrderRejected"}};
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        int64_t id = place(t, USER_ID);
        assert_int_equal(hbt_send(t, outcomes[i].topic,
                                  "{\"paymentId\":%lld,\"orderId\":%lld,\"userId\":%d,"
                                  "\"amount\":%d,\"productName\":\"" PRODUCT_NAME "\","
                                  "\"status\":\"%s\",\"version\":1}",
                                  (long long)id, (long long)id, USER_ID, AMOUNT,
                                  outcomes[i].status),
                         HB_OK);
        hbt_expect(t, outcomes[i].emits, (const char *)NULL);
        expect_names(t, PRODUCT_NAME);
        stock_reserved(t, id);
        hbt_expect_none(t);
        assert_string_equal(name_of(t, id), PRODUCT_NAME);
    }
}

static void stock_reserved_for_unknown_order_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, STOCK_RESERVED, "{\"orderId\":42,\"amount\":1000}"),
                     HB_ERR_DECODE);
    assert_string_equal(t->ctx.error, "unknown order");
    assert_int_equal(hbt_send(t, STOCK_RESERVED, "{\"amount\":1000}"), HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "orderId") != NULL);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM hb_inbox"), 0); /* rolled back */
    hbt_expect_none(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(place_creates_placed_order_and_emits_order_placed),
        T(invalid_place_data_is_a_decode_error),
        T(stock_reserved_moves_order_to_stock_reserved_with_amount),
        T(payment_approved_marks_order_paid),
        T(stock_rejected_rejects_order_with_reason),
        T(payment_declined_rejects_order),
        T(cancel_before_payment_withdraws_then_cancels),
        T(payment_settled_before_stock_release_still_cancels),
        T(payment_approved_after_cancel_does_not_pay),
        T(cancel_after_payment_asks_delivery_first),
        T(settlements_before_delivery_answer_do_not_cancel),
        T(delivery_cancel_refused_returns_order_to_shipping),
        T(cancel_refused_after_delivery_started_returns_order_to_shipping),
        T(cancel_after_shipping_is_refused),
        T(second_cancel_is_accepted_without_new_compensation),
        T(same_event_id_is_applied_once),
        T(older_delivery_version_is_ignored),
        T(get_returns_order_and_unknown_id_is_404),
        T(every_event_carries_the_order_as_get_shows_it),
        T(list_filters_by_user),
        T(list_stops_at_the_list_bound),
        T(replay_announces_orders_changed_since_then),
        T(redrive_reemits_order_placed_after_timeout),
        T(redrive_reemits_order_paid_without_delivery),
        T(redrive_repeats_a_pending_compensation),
        T(stock_reserved_for_unknown_order_is_a_decode_error),
        T(client_product_name_is_ignored),
        T(product_name_comes_from_the_product_not_the_client),
        T(rejected_order_carries_the_products_name_or_none),
        T(order_cancelled_before_reservation_is_named_by_stock_released),
        T(payment_before_stock_reserved_names_the_order),
        T(saga_metrics_count_each_order_once),
        T(saga_metrics_count_delivered_and_payment_declined),
        T(saga_metrics_backfill_a_database_from_before_order_steps),
        T(saga_latency_sql_buckets_match_every_bound),
        T(a_step_of_days_lands_in_a_finite_bucket),
        T(a_database_with_ten_second_buckets_is_rebuilt_in_day_buckets),
        T(a_database_of_the_release_with_step_triggers_drops_them),
        T(saga_latency_buckets_match_their_bounds),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
