/* Unit tests of the catalogue and stock reservations (components/product/src/handlers.c). */
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

#define CREATE HB_CMD_TOPIC("product", "create")
#define GET HB_CMD_TOPIC("product", "get")
#define LIST HB_CMD_TOPIC("product", "list")
#define ORDER_PLACED HB_EVT_TOPIC("order", "OrderPlaced")
#define ORDER_REJECTED HB_EVT_TOPIC("order", "OrderRejected")
#define ORDER_WITHDRAWN HB_EVT_TOPIC("order", "OrderWithdrawn")

#define PRICE 129000

static int setup(void **state)
{
    *state = hbt_open(&product_component);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

/* Creates a product "Sofa" with stock at PRICE and returns its id. */
static int64_t create(struct hbt *t, int64_t stock)
{
    assert_int_equal(hbt_send(t, CREATE, "{\"productName\":\"Sofa\",\"stock\":%lld,\"price\":%d}",
                              (long long)stock, PRICE),
                     HB_OK);
    assert_int_equal(t->reply.code, 201);
    int64_t id = hbt_json_int(t->reply.body, "id");
    HBT_EXPECT(t, "ProductCreated");
    return id;
}

static int64_t stock_of(struct hbt *t, int64_t product_id)
{
    return hbt_db_int(t, "SELECT stock FROM products WHERE id = %lld", (long long)product_id);
}

static const char *reservation_of(struct hbt *t, int64_t order_id)
{
    return hbt_db_text(t, "SELECT status FROM reservations WHERE order_id = %lld",
                       (long long)order_id);
}

/* Sends an order event (OrderPlaced, OrderRejected, OrderWithdrawn) as order would. */
static void order_event(struct hbt *t, const char *topic, int64_t order_id, int64_t product_id,
                        int64_t qty)
{
    assert_int_equal(hbt_send(t, topic,
                              "{\"orderId\":%lld,\"productId\":%lld,\"productName\":\"Sofa\","
                              "\"qty\":%lld,\"userId\":7,\"amount\":0,\"status\":\"PLACED\","
                              "\"reason\":null,\"version\":1}",
                              (long long)order_id, (long long)product_id, (long long)qty),
                     HB_OK);
}

/* A replay request re-emits each reservation's outcome; nothing is reserved again. */
static void replay_announces_reservations_again(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 5);
    order_event(t, ORDER_PLACED, 1, product, 2);
    order_event(t, ORDER_PLACED, 2, product, 9);
    HBT_EXPECT(t, "StockReserved", "StockRejected");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("product", "replay"), "{\"since\":0}"), HB_OK);
    assert_int_equal(hbt_take(t), 2);
    assert_int_equal(stock_of(t, product), 3);
}

static void create_answers_201_with_the_product(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(
        hbt_send(t, CREATE, "{\"productName\":\"Oak table\",\"stock\":5,\"price\":349000}"),
        HB_OK);
    assert_int_equal(t->reply.code, 201);
    int64_t id = hbt_json_int(t->reply.body, "id");
    char location[64];
    snprintf(location, sizeof(location), "/products/%lld", (long long)id);
    assert_string_equal(t->reply.location, location);
    assert_string_equal(hbt_json_str(t->reply.body, "productName"), "Oak table");
    assert_int_equal(hbt_json_int(t->reply.body, "stock"), 5);
    assert_int_equal(hbt_json_int(t->reply.body, "price"), 349000);
    assert_int_equal(stock_of(t, id), 5);
    HBT_EXPECT(t, "ProductCreated");
    assert_int_equal(hbt_out_int(t, 0, "id"), id);
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Oak table");
}

static void get_and_list_show_products_and_unknown_id_is_404(void **state)
{
    struct hbt *t = *state;
    int64_t a = create(t, 3);
    int64_t b = create(t, 0);
    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)b), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(hbt_json_int(t->reply.body, "id"), b);
    assert_int_equal(hbt_json_int(t->reply.body, "stock"), 0);
    assert_int_equal(hbt_json_int(t->reply.body, "price"), PRICE);

    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 0), "id"), a);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 1), "id"), b);

    assert_int_equal(hbt_send(t, GET, "{\"id\":%lld}", (long long)b + 1), HB_OK);
    assert_int_equal(t->reply.code, 404);
    assert_string_equal(hbt_json_str(t->reply.body, "error"), "product not found");
    assert_int_equal(hbt_send(t, GET, "{\"id\":\"1\"}"), HB_ERR_DECODE);
    hbt_expect_none(t);
}

static void list_of_an_empty_catalogue_is_an_empty_array(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_true(cJSON_IsArray(t->reply.body));
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 0);
}

static void invalid_product_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    static const struct {
        const char *data;
        const char *mentions;
    } bad[] = {
        {"{\"stock\":1,\"price\":1}", "productName"},
        {"{\"productName\":\"\",\"stock\":1,\"price\":1}", "productName"},
        {"{\"productName\":7,\"stock\":1,\"price\":1}", "productName"},
        {"{\"productName\":\"Sofa\",\"stock\":-1,\"price\":1}", "stock"},
        {"{\"productName\":\"Sofa\",\"stock\":1000000001,\"price\":1}", "stock"},
        {"{\"productName\":\"Sofa\",\"stock\":1,\"price\":1.5}", "price"},
        {"{\"productName\":\"Sofa\",\"stock\":1}", "price"},
        {"{\"productName\":\"Sofa\",\"stock\":1,\"price\":1000000001}", "price"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(hbt_send(t, CREATE, "%s", bad[i].data), HB_ERR_DECODE);
        if (!strstr(t->ctx.error, bad[i].mentions)) {
            fail_msg("%s: error \"%s\" does not mention %s", bad[i].data, t->ctx.error,
                     bad[i].mentions);
        }
    }
    char long_name[102];
    memset(long_name, 'x', 101);
    long_name[101] = '\0';
    assert_int_equal(hbt_send(t, CREATE, "{\"productName\":\"%s\",\"stock\":1,\"price\":1}",
                              long_name),
                     HB_ERR_DECODE);
    long_name[100] = '\0';
    assert_int_equal(hbt_send(t, CREATE, "{\"productName\":\"%s\",\"stock\":0,\"price\":0}",
                              long_name),
                     HB_OK);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM products"), 1);
    HBT_EXPECT(t, "ProductCreated");
}

static void order_placed_reserves_stock(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_PLACED, 1, product, 3);
    assert_int_equal(stock_of(t, product), 7);
    assert_string_equal(reservation_of(t, 1), "RESERVED");
    HBT_EXPECT(t, "StockReserved");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "productId"), product);
    assert_int_equal(hbt_out_int(t, 0, "qty"), 3);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_int_equal(hbt_out_int(t, 0, "price"), PRICE);
    assert_int_equal(hbt_out_int(t, 0, "amount"), 3 * PRICE);
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
    assert_string_equal(hbt_out_str(t, 0, "status"), "RESERVED");
    assert_string_equal(t->out[0].subject, "1");
}

static void order_beyond_stock_is_rejected_out_of_stock(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_PLACED, 1, product, 11);
    assert_int_equal(stock_of(t, product), 10);
    assert_string_equal(reservation_of(t, 1), "REJECTED");
    HBT_EXPECT(t, "StockRejected");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_string_equal(hbt_out_str(t, 0, "reason"), "out_of_stock");
    assert_int_equal(hbt_out_int(t, 0, "amount"), 0);
}

static void order_for_unknown_product_is_rejected(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_PLACED, 1, product + 1, 1);
    assert_int_equal(stock_of(t, product), 10);
    HBT_EXPECT(t, "StockRejected");
    assert_string_equal(hbt_out_str(t, 0, "reason"), "unknown_product");
    /* A re-drive of the rejected order answers the same again. */
    order_event(t, ORDER_PLACED, 1, product + 1, 1);
    HBT_EXPECT(t, "StockRejected");
    assert_string_equal(hbt_out_str(t, 0, "reason"), "unknown_product");
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM reservations"), 1);
}

static void redriven_order_placed_reserves_once_and_answers_again(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_PLACED, 1, product, 4);
    HBT_EXPECT(t, "StockReserved");
    order_event(t, ORDER_PLACED, 1, product, 4); /* same order, new event id */
    assert_int_equal(stock_of(t, product), 6);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM reservations"), 1);
    HBT_EXPECT(t, "StockReserved");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "amount"), 4 * PRICE);
}

static void order_withdrawn_releases_stock_once(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_PLACED, 1, product, 4);
    HBT_EXPECT(t, "StockReserved");
    order_event(t, ORDER_WITHDRAWN, 1, product, 4);
    assert_int_equal(stock_of(t, product), 10);
    assert_string_equal(reservation_of(t, 1), "RELEASED");
    HBT_EXPECT(t, "StockReleased");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);
    assert_int_equal(hbt_out_int(t, 0, "qty"), 4);

    order_event(t, ORDER_WITHDRAWN, 1, product, 4); /* a second withdrawal, new event id */
    assert_int_equal(stock_of(t, product), 10);
    HBT_EXPECT(t, "StockReleased"); /* answered again, released once */

    /* A re-drive of OrderPlaced after the release reserves nothing. */
    order_event(t, ORDER_PLACED, 1, product, 4);
    assert_int_equal(stock_of(t, product), 10);
    hbt_expect_none(t);
}

static void withdrawal_before_order_placed_leaves_a_tombstone(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 10);
    order_event(t, ORDER_WITHDRAWN, 1, product, 4);
    assert_string_equal(reservation_of(t, 1), "WITHDRAWN");
    assert_int_equal(stock_of(t, product), 10);
    HBT_EXPECT(t, "StockReleased");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 1);

    order_event(t, ORDER_PLACED, 1, product, 4); /* the late original */
    assert_int_equal(stock_of(t, product), 10);
    assert_string_equal(reservation_of(t, 1), "WITHDRAWN");
    hbt_expect_none(t);
}

static void order_rejected_after_product_rejection_emits_nothing(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 1);
    order_event(t, ORDER_PLACED, 1, product, 2);
    HBT_EXPECT(t, "StockRejected");
    order_event(t, ORDER_REJECTED, 1, product, 2);
    assert_int_equal(stock_of(t, product), 1);
    assert_string_equal(reservation_of(t, 1), "REJECTED");
    hbt_expect_none(t);
}

static void order_rejected_after_payment_decline_releases_stock(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 5);
    order_event(t, ORDER_PLACED, 1, product, 2);
    HBT_EXPECT(t, "StockReserved");
    order_event(t, ORDER_REJECTED, 1, product, 2);
    assert_int_equal(stock_of(t, product), 5);
    assert_string_equal(reservation_of(t, 1), "RELEASED");
    HBT_EXPECT(t, "StockReleased");
    order_event(t, ORDER_REJECTED, 1, product, 2); /* the order's re-drive */
    assert_int_equal(stock_of(t, product), 5);
    HBT_EXPECT(t, "StockReleased");
}

static void stock_never_goes_negative(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 5);
    static const struct {
        int64_t qty;
        const char *answer;
        int64_t stock_after;
    } steps[] = {
        {3, "StockReserved", 2}, {3, "StockRejected", 2}, {2, "StockReserved", 0},
        {1, "StockRejected", 0}, {1000000, "StockRejected", 0},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        order_event(t, ORDER_PLACED, (int64_t)i + 1, product, steps[i].qty);
        HBT_EXPECT(t, steps[i].answer);
        assert_int_equal(stock_of(t, product), steps[i].stock_after);
    }
    /* stock + units still reserved = stock ever added */
    assert_int_equal(stock_of(t, product) + hbt_db_int(t, "SELECT sum(qty) FROM reservations"
                                                          " WHERE status = 'RESERVED'"),
                     5);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM products WHERE stock < 0"), 0);
}

static void order_event_without_required_fields_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    int64_t product = create(t, 5);
    assert_int_equal(hbt_send(t, ORDER_PLACED, "{\"orderId\":1,\"productId\":%lld,\"qty\":0,"
                                               "\"userId\":7}",
                              (long long)product),
                     HB_ERR_DECODE);
    assert_true(t->ctx.error[0] != '\0');
    assert_int_equal(hbt_send(t, ORDER_WITHDRAWN, "{\"orderId\":1,\"userId\":7}"), HB_ERR_DECODE);
    assert_true(t->ctx.error[0] != '\0');
    assert_int_equal(stock_of(t, product), 5);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM reservations"), 0);
    hbt_expect_none(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(create_answers_201_with_the_product),
        T(replay_announces_reservations_again),
        T(get_and_list_show_products_and_unknown_id_is_404),
        T(list_of_an_empty_catalogue_is_an_empty_array),
        T(invalid_product_is_a_decode_error),
        T(order_placed_reserves_stock),
        T(order_beyond_stock_is_rejected_out_of_stock),
        T(order_for_unknown_product_is_rejected),
        T(redriven_order_placed_reserves_once_and_answers_again),
        T(order_withdrawn_releases_stock_once),
        T(withdrawal_before_order_placed_leaves_a_tombstone),
        T(order_rejected_after_product_rejection_emits_nothing),
        T(order_rejected_after_payment_decline_releases_stock),
        T(stock_never_goes_negative),
        T(order_event_without_required_fields_is_a_decode_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
