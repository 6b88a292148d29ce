/* Unit tests of charging, declining, refunding and voiding (components/payment/src/handlers.c). */
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

#define LIST HB_CMD_TOPIC("payment", "list")
#define STOCK_RESERVED HB_EVT_TOPIC("product", "StockReserved")
#define ORDER_WITHDRAWN HB_EVT_TOPIC("order", "OrderWithdrawn")

static int setup(void **state)
{
    *state = hbt_open(&payment_component);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

static void stock_reserved(struct hbt *t, int64_t order_id, int64_t amount)
{
    assert_int_equal(hbt_send(t, STOCK_RESERVED,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"Sofa\","
                              "\"qty\":1,\"price\":%lld,\"amount\":%lld,\"userId\":7,"
                              "\"reason\":null,\"status\":\"RESERVED\"}",
                              (long long)order_id, (long long)amount, (long long)amount),
                     HB_OK);
}

static void order_withdrawn(struct hbt *t, int64_t order_id)
{
    assert_int_equal(hbt_send(t, ORDER_WITHDRAWN,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"Sofa\","
                              "\"qty\":1,\"userId\":7,\"amount\":0,\"status\":\"CANCELLING\","
                              "\"reason\":null,\"version\":2}",
                              (long long)order_id),
                     HB_OK);
}

static const char *payment_status(struct hbt *t, int64_t order_id)
{
    return hbt_db_text(t, "SELECT status FROM payments WHERE order_id = %lld",
                       (long long)order_id);
}

static void amount_within_the_limit_is_approved(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 258000);
    stock_reserved(t, 2, HBT_PAYMENT_LIMIT); /* the limit itself is allowed */
    assert_string_equal(payment_status(t, 1), "APPROVED");
    assert_string_equal(payment_status(t, 2), "APPROVED");
    assert_int_equal(hbt_db_int(t, "SELECT amount FROM payments WHERE order_id = 1"), 258000);
    HBT_EXPECT(t, "PaymentApproved", "PaymentApproved");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_int_equal(hbt_out_int(t, 0, "amount"), 258000);
    assert_string_equal(hbt_out_str(t, 0, "status"), "APPROVED");
    assert_int_equal(hbt_out_int(t, 0, "version"), 1);
    assert_true(hbt_out_int(t, 0, "paymentId") >= 1);
    assert_string_equal(t->out[0].subject, "1");
    assert_int_equal(hbt_out_int(t, 1, "amount"), HBT_PAYMENT_LIMIT);
}

/* A free item (a product created without a price) is charged 0: approved like any other
 * amount within the limit, so its saga goes on to PAID, and a cancel refunds 0. */
static void free_item_is_charged_0_and_approved(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 0);
    assert_string_equal(payment_status(t, 1), "APPROVED");
    assert_int_equal(hbt_db_int(t, "SELECT amount FROM payments WHERE order_id = 1"), 0);
    HBT_EXPECT(t, "PaymentApproved");
    assert_int_equal(hbt_out_int(t, 0, "amount"), 0);
    order_withdrawn(t, 1);
    assert_string_equal(payment_status(t, 1), "REFUNDED");
}

static void amount_over_the_limit_is_declined(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, HBT_PAYMENT_LIMIT + 1);
    assert_string_equal(payment_status(t, 1), "DECLINED");
    assert_string_equal(hbt_db_text(t, "SELECT reason FROM payments WHERE order_id = 1"),
                        "payment_declined");
    HBT_EXPECT(t, "PaymentDeclined");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_string_equal(hbt_out_str(t, 0, "status"), "DECLINED");
    assert_string_equal(hbt_out_str(t, 0, "reason"), "payment_declined");
}

/* Product caps price at 1e9 and qty at 1e6, so no amount it reserves exceeds 2^53; an
 * event claiming one is forged or corrupt and goes to the dead-letter topic uncharged. */
static void amount_beyond_json_integers_is_dead_lettered(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, STOCK_RESERVED,
                              "{\"orderId\":1,\"productId\":1,\"qty\":10000,"
                              "\"price\":1000000000000,\"amount\":10000000000000000,"
                              "\"userId\":7,\"status\":\"RESERVED\"}"),
                     HB_ERR_DECODE);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 0);
    hbt_expect_none(t);
}

/* A replay request re-emits every payment's event and every voided order's. */
static void replay_announces_payments_and_voided_orders(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    order_withdrawn(t, 2);
    HBT_EXPECT(t, "PaymentApproved", "PaymentVoided");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("payment", "replay"), "{\"since\":0}"), HB_OK);
    assert_int_equal(hbt_take(t), 2);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 1);
}

static void repeated_stock_reserved_replays_the_outcome(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    HBT_EXPECT(t, "PaymentApproved");
    int64_t payment_id = hbt_out_int(t, 0, "paymentId");
    stock_reserved(t, 1, 1000); /* re-driven, new event id */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 1);
    HBT_EXPECT(t, "PaymentApproved");
    assert_int_equal(hbt_out_int(t, 0, "paymentId"), payment_id);

    stock_reserved(t, 2, HBT_PAYMENT_LIMIT + 1);
    HBT_EXPECT(t, "PaymentDeclined");
    stock_reserved(t, 2, HBT_PAYMENT_LIMIT + 1);
    HBT_EXPECT(t, "PaymentDeclined");
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 2);
}

static void order_withdrawn_refunds_an_approved_payment_once(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    HBT_EXPECT(t, "PaymentApproved");
    order_withdrawn(t, 1);
    assert_string_equal(payment_status(t, 1), "REFUNDED");
    assert_int_equal(hbt_db_int(t, "SELECT version FROM payments WHERE order_id = 1"), 2);
    HBT_EXPECT(t, "PaymentRefunded");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "amount"), 1000);
    assert_string_equal(hbt_out_str(t, 0, "status"), "REFUNDED");
    assert_int_equal(hbt_out_int(t, 0, "version"), 2);

    order_withdrawn(t, 1); /* a second withdrawal, new event id */
    assert_string_equal(payment_status(t, 1), "REFUNDED");
    assert_int_equal(hbt_db_int(t, "SELECT version FROM payments WHERE order_id = 1"), 2);
    HBT_EXPECT(t, "PaymentRefunded"); /* answered again, refunded once */
    assert_int_equal(hbt_out_int(t, 0, "version"), 2);

    stock_reserved(t, 1, 1000); /* a late re-drive charges nothing */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 1);
    assert_string_equal(payment_status(t, 1), "REFUNDED");
    HBT_EXPECT(t, "PaymentRefunded");
}

static void withdrawal_before_any_charge_voids_the_order(void **state)
{
    struct hbt *t = *state;
    order_withdrawn(t, 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM voided_orders WHERE order_id = 1"), 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 0);
    HBT_EXPECT(t, "PaymentVoided");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_string_equal(hbt_out_str(t, 0, "status"), "VOIDED");

    stock_reserved(t, 1, 1000); /* the late reservation */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 0);
    hbt_expect_none(t);

    order_withdrawn(t, 1);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM voided_orders"), 1);
    HBT_EXPECT(t, "PaymentVoided");
}

static void withdrawal_of_a_declined_payment_refunds_nothing(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, HBT_PAYMENT_LIMIT + 1);
    HBT_EXPECT(t, "PaymentDeclined");
    order_withdrawn(t, 1);
    assert_string_equal(payment_status(t, 1), "DECLINED");
    HBT_EXPECT(t, "PaymentVoided");
}

static void list_filters_by_order(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    stock_reserved(t, 2, HBT_PAYMENT_LIMIT + 1);
    assert_int_equal(hbt_send(t, LIST, "{\"orderId\":2}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 1);
    const cJSON *payment = cJSON_GetArrayItem(t->reply.body, 0);
    assert_int_equal(hbt_json_int(payment, "orderId"), 2);
    assert_int_equal(hbt_json_int(payment, "userId"), 7);
    assert_int_equal(hbt_json_int(payment, "amount"), HBT_PAYMENT_LIMIT + 1);
    assert_string_equal(hbt_json_str(payment, "status"), "DECLINED");
    assert_true(hbt_json_int(payment, "id") >= 1);

    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 0), "orderId"), 1);

    assert_int_equal(hbt_send(t, LIST, "{\"orderId\":3}"), HB_OK);
    assert_true(cJSON_IsArray(t->reply.body));
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 0);
    assert_int_equal(hbt_send(t, LIST, "{\"orderId\":0}"), HB_ERR_DECODE);
}

static void stock_reserved_without_amount_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, STOCK_RESERVED, "{\"orderId\":1,\"userId\":7}"), HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "amount") != NULL);
    assert_int_equal(hbt_send(t, STOCK_RESERVED, "{\"orderId\":1,\"userId\":7,\"amount\":-1}"),
                     HB_ERR_DECODE);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM payments"), 0);
    hbt_expect_none(t);
}

/* Payment relays the name product gave with StockReserved: the order component takes it
 * from PaymentApproved when that overtook StockReserved (a lost message, a replay), so
 * OrderPaid, and the delivery made from it, still name the product. */
static void payment_events_name_the_product_as_product_did(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    stock_reserved(t, 2, HBT_PAYMENT_LIMIT + 1);
    HBT_EXPECT(t, "PaymentApproved", "PaymentDeclined");
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
    assert_string_equal(hbt_out_str(t, 1, "productName"), "Sofa");
    order_withdrawn(t, 1);
    HBT_EXPECT(t, "PaymentRefunded");
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("payment", "replay"), "{\"since\":0}"), HB_OK);
    assert_int_equal(hbt_take(t), 2);
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
    assert_string_equal(hbt_out_str(t, 1, "productName"), "Sofa");
    /* A StockReserved without a name (an older product component) charges all the same. */
    assert_int_equal(hbt_send(t, STOCK_RESERVED,
                              "{\"orderId\":3,\"productId\":1,\"qty\":1,\"amount\":5,"
                              "\"userId\":7,\"status\":\"RESERVED\"}"),
                     HB_OK);
    HBT_EXPECT(t, "PaymentApproved");
    assert_string_equal(hbt_out_str(t, 0, "productName"), HBT_NULL);
}

/* A payments table from before product names gets the column from migration 1's sqlite
 * legacy step (which runs when a database from before versions opens); running it again
 * changes nothing, and the old payments still replay. */
static void database_from_before_product_names_gets_the_column(void **state)
{
    struct hbt *t = *state;
    stock_reserved(t, 1, 1000);
    HBT_EXPECT(t, "PaymentApproved");
    assert_int_equal(hb_store_exec(t->store, "ALTER TABLE payments DROP COLUMN product_name"),
                     HB_OK);
    hb_err_t (*legacy)(struct hb_store *) = payment_component.migrations[0].sqlite_legacy;
    assert_non_null(legacy);
    assert_int_equal(legacy(t->store), HB_OK);
    assert_int_equal(legacy(t->store), HB_OK); /* twice: nothing more */
    assert_string_equal(hbt_db_text(t, "SELECT product_name FROM payments WHERE order_id = 1"),
                        HBT_NULL);
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("payment", "replay"), "{\"since\":0}"), HB_OK);
    HBT_EXPECT(t, "PaymentApproved");
    stock_reserved(t, 2, 1000);
    HBT_EXPECT(t, "PaymentApproved");
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(amount_within_the_limit_is_approved),
        T(free_item_is_charged_0_and_approved),
        T(amount_over_the_limit_is_declined),
        T(amount_beyond_json_integers_is_dead_lettered),
        T(replay_announces_payments_and_voided_orders),
        T(repeated_stock_reserved_replays_the_outcome),
        T(order_withdrawn_refunds_an_approved_payment_once),
        T(withdrawal_before_any_charge_voids_the_order),
        T(withdrawal_of_a_declined_payment_refunds_nothing),
        T(list_filters_by_order),
        T(stock_reserved_without_amount_is_a_decode_error),
        T(payment_events_name_the_product_as_product_did),
        T(database_from_before_product_names_gets_the_column),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
