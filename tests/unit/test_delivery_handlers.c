/* Unit tests of deliveries and the cancel arbiter (components/delivery/src/handlers.c). */
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

#define CONFIRM HB_CMD_TOPIC("delivery", "confirm")
#define START HB_CMD_TOPIC("delivery", "start")
#define COMPLETE HB_CMD_TOPIC("delivery", "complete")
#define GET HB_CMD_TOPIC("delivery", "get")
#define LIST HB_CMD_TOPIC("delivery", "list")
#define ORDER_PAID HB_EVT_TOPIC("order", "OrderPaid")
#define ORDER_CANCELLING HB_EVT_TOPIC("order", "OrderCancelling")

static int setup(void **state)
{
    *state = hbt_open(&delivery_component);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    hbt_close(*state);
    return 0;
}

/* Sends an order snapshot event (OrderPaid, OrderCancelling) for order_id. */
static void order_event(struct hbt *t, const char *topic, int64_t order_id, const char *status)
{
    assert_int_equal(hbt_send(t, topic,
                              "{\"orderId\":%lld,\"productId\":1,\"productName\":\"Sofa\","
                              "\"qty\":2,\"userId\":7,\"amount\":258000,\"status\":\"%s\","
                              "\"reason\":null,\"deliveryId\":null,\"version\":3}",
                              (long long)order_id, status),
                     HB_OK);
}

static const char *status_of(struct hbt *t, int64_t order_id)
{
    return hbt_db_text(t, "SELECT status FROM deliveries WHERE order_id = %lld",
                       (long long)order_id);
}

/* Creates the delivery of a paid order and returns its id. */
static int64_t created(struct hbt *t, int64_t order_id)
{
    order_event(t, ORDER_PAID, order_id, "PAID");
    HBT_EXPECT(t, "DeliveryCreated");
    return hbt_out_int(t, 0, "deliveryId");
}

/* Runs a brand action on delivery id and checks the answer code. */
static void brand(struct hbt *t, const char *topic, int64_t id, int expected_code)
{
    assert_int_equal(hbt_send(t, topic, "{\"id\":%lld}", (long long)id), HB_OK);
    assert_int_equal(t->reply.code, expected_code);
}

/* Creates a delivery for order_id and moves it to status; the outbox is empty after. */
static int64_t delivery_at(struct hbt *t, int64_t order_id, const char *status)
{
    static const struct {
        const char *topic;
        const char *status;
        const char *event;
    } path[] = {
        {CONFIRM, "PREPARING", "DeliveryConfirmed"},
        {START, "SHIPPING", "DeliveryStarted"},
        {COMPLETE, "DELIVERED", "DeliveryCompleted"},
    };
    int64_t id = created(t, order_id);
    for (size_t i = 0; strcmp(status_of(t, order_id), status) != 0; i++) {
        assert_true(i < sizeof(path) / sizeof(path[0]));
        brand(t, path[i].topic, id, 200);
        HBT_EXPECT(t, path[i].event);
    }
    return id;
}

/* A replay request re-emits each delivery's current-state event. */
static void replay_announces_each_delivery_in_its_current_state(void **state)
{
    struct hbt *t = *state;
    int64_t id = created(t, 1);
    brand(t, CONFIRM, id, 200);
    HBT_EXPECT(t, "DeliveryConfirmed");
    assert_int_equal(hbt_send(t, HB_CMD_TOPIC("delivery", "replay"), "{\"since\":0}"), HB_OK);
    HBT_EXPECT(t, "DeliveryConfirmed");
    assert_string_equal(hbt_out_str(t, 0, "status"), "PREPARING");
}

static void order_paid_creates_one_received_delivery(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_PAID, 5, "PAID");
    assert_string_equal(status_of(t, 5), "RECEIVED");
    assert_string_equal(hbt_db_text(t, "SELECT product_name FROM deliveries WHERE order_id = 5"),
                        "Sofa");
    HBT_EXPECT(t, "DeliveryCreated");
    int64_t id = hbt_out_int(t, 0, "deliveryId");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 5);
    assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
    assert_int_equal(hbt_out_int(t, 0, "qty"), 2);
    assert_string_equal(hbt_out_str(t, 0, "productName"), "Sofa");
    assert_string_equal(hbt_out_str(t, 0, "status"), "RECEIVED");
    assert_int_equal(hbt_out_int(t, 0, "version"), 1);
    assert_string_equal(t->out[0].subject, "5");

    order_event(t, ORDER_PAID, 5, "PAID"); /* re-driven, new event id */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM deliveries"), 1);
    HBT_EXPECT(t, "DeliveryCreated");
    assert_int_equal(hbt_out_int(t, 0, "deliveryId"), id);
    assert_int_equal(hbt_out_int(t, 0, "version"), 1);

    /* Once the brand moved on, a replay tells the current state. */
    brand(t, CONFIRM, id, 200);
    HBT_EXPECT(t, "DeliveryConfirmed");
    order_event(t, ORDER_PAID, 5, "PAID");
    HBT_EXPECT(t, "DeliveryConfirmed");
    assert_int_equal(hbt_out_int(t, 0, "version"), 2);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM deliveries"), 1);
}

static void brand_actions_move_the_delivery_forward(void **state)
{
    struct hbt *t = *state;
    int64_t id = created(t, 5);
    static const struct {
        const char *topic;
        const char *status;
        const char *event;
    } steps[] = {
        {CONFIRM, "PREPARING", "DeliveryConfirmed"},
        {START, "SHIPPING", "DeliveryStarted"},
        {COMPLETE, "DELIVERED", "DeliveryCompleted"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        brand(t, steps[i].topic, id, 200);
        assert_int_equal(hbt_json_int(t->reply.body, "id"), id);
        assert_int_equal(hbt_json_int(t->reply.body, "orderId"), 5);
        assert_string_equal(hbt_json_str(t->reply.body, "status"), steps[i].status);
        assert_string_equal(status_of(t, 5), steps[i].status);
        HBT_EXPECT(t, steps[i].event);
        assert_int_equal(hbt_out_int(t, 0, "deliveryId"), id);
        assert_int_equal(hbt_out_int(t, 0, "orderId"), 5);
        assert_int_equal(hbt_out_int(t, 0, "userId"), 7);
        assert_string_equal(hbt_out_str(t, 0, "status"), steps[i].status);
        assert_int_equal(hbt_out_int(t, 0, "version"), (int64_t)i + 2);
    }
}

static void brand_action_out_of_order_is_409(void **state)
{
    struct hbt *t = *state;
    int64_t id = created(t, 5);
    brand(t, START, id, 409);
    assert_string_equal(hbt_json_str(t->reply.body, "error"),
                        "delivery is RECEIVED; start needs PREPARING");
    brand(t, COMPLETE, id, 409);
    assert_true(strstr(hbt_json_str(t->reply.body, "error"), "complete needs SHIPPING") != NULL);
    assert_string_equal(status_of(t, 5), "RECEIVED");
    hbt_expect_none(t);

    brand(t, CONFIRM, id, 200);
    HBT_EXPECT(t, "DeliveryConfirmed");
    brand(t, CONFIRM, id, 409); /* confirmed twice */
    assert_true(strstr(hbt_json_str(t->reply.body, "error"), "PREPARING") != NULL);
    assert_string_equal(status_of(t, 5), "PREPARING");
    assert_int_equal(hbt_db_int(t, "SELECT version FROM deliveries WHERE id = %lld", (long long)id),
                     2);
    hbt_expect_none(t);
}

static void unknown_delivery_is_404(void **state)
{
    struct hbt *t = *state;
    int64_t id = created(t, 5);
    const char *const topics[] = {CONFIRM, START, COMPLETE, GET};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        brand(t, topics[i], id + 1, 404);
        assert_string_equal(hbt_json_str(t->reply.body, "error"), "delivery not found");
    }
    assert_int_equal(hbt_send(t, CONFIRM, "{\"id\":0}"), HB_ERR_DECODE);
    assert_true(t->ctx.error[0] != '\0');
    assert_string_equal(status_of(t, 5), "RECEIVED");
    hbt_expect_none(t);
}

static void get_and_list_show_deliveries(void **state)
{
    struct hbt *t = *state;
    int64_t a = created(t, 5);
    int64_t b = created(t, 6);
    brand(t, GET, a, 200);
    assert_int_equal(hbt_json_int(t->reply.body, "id"), a);
    assert_int_equal(hbt_json_int(t->reply.body, "orderId"), 5);
    assert_int_equal(hbt_json_int(t->reply.body, "userId"), 7);
    assert_string_equal(hbt_json_str(t->reply.body, "productName"), "Sofa");
    assert_int_equal(hbt_json_int(t->reply.body, "qty"), 2);
    assert_string_equal(hbt_json_str(t->reply.body, "status"), "RECEIVED");

    assert_int_equal(hbt_send(t, LIST, "{\"orderId\":6}"), HB_OK);
    assert_int_equal(t->reply.code, 200);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 1);
    assert_int_equal(hbt_json_int(cJSON_GetArrayItem(t->reply.body, 0), "id"), b);
    assert_int_equal(hbt_send(t, LIST, "{}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 2);
    assert_int_equal(hbt_send(t, LIST, "{\"orderId\":9}"), HB_OK);
    assert_int_equal(cJSON_GetArraySize(t->reply.body), 0);
    hbt_expect_none(t);
}

static void order_cancelling_cancels_a_delivery_not_yet_shipping(void **state)
{
    struct hbt *t = *state;
    static const char *const statuses[] = {"RECEIVED", "PREPARING"};
    for (int64_t i = 0; i < 2; i++) {
        int64_t order_id = 5 + i;
        int64_t id = delivery_at(t, order_id, statuses[i]);
        order_event(t, ORDER_CANCELLING, order_id, "CANCELLING");
        assert_string_equal(status_of(t, order_id), "CANCELLED");
        HBT_EXPECT(t, "DeliveryCancelled");
        assert_int_equal(hbt_out_int(t, 0, "deliveryId"), id);
        assert_int_equal(hbt_out_int(t, 0, "orderId"), order_id);
        assert_string_equal(hbt_out_str(t, 0, "status"), "CANCELLED");
        assert_int_equal(hbt_out_int(t, 0, "version"), i + 2);

        order_event(t, ORDER_CANCELLING, order_id, "CANCELLING"); /* re-driven */
        HBT_EXPECT(t, "DeliveryCancelled");
        assert_int_equal(hbt_out_int(t, 0, "version"), i + 2);

        /* The brand can no longer act on it. */
        brand(t, CONFIRM, id, 409);
        brand(t, START, id, 409);
        assert_string_equal(status_of(t, order_id), "CANCELLED");
        hbt_expect_none(t);
    }
}

static void order_cancelling_is_refused_once_shipping(void **state)
{
    struct hbt *t = *state;
    static const char *const statuses[] = {"SHIPPING", "DELIVERED"};
    for (int64_t i = 0; i < 2; i++) {
        int64_t order_id = 5 + i;
        int64_t id = delivery_at(t, order_id, statuses[i]);
        int64_t version =
            hbt_db_int(t, "SELECT version FROM deliveries WHERE id = %lld", (long long)id);
        order_event(t, ORDER_CANCELLING, order_id, "CANCELLING");
        assert_string_equal(status_of(t, order_id), statuses[i]);
        assert_int_equal(
            hbt_db_int(t, "SELECT version FROM deliveries WHERE id = %lld", (long long)id),
            version);
        HBT_EXPECT(t, "DeliveryCancelRefused");
        assert_int_equal(hbt_out_int(t, 0, "deliveryId"), id);
        assert_string_equal(hbt_out_str(t, 0, "status"), statuses[i]);
    }
    brand(t, COMPLETE, hbt_db_int(t, "SELECT id FROM deliveries WHERE order_id = 5"), 200);
    HBT_EXPECT(t, "DeliveryCompleted");
}

static void order_cancelling_without_delivery_leaves_a_tombstone(void **state)
{
    struct hbt *t = *state;
    order_event(t, ORDER_CANCELLING, 5, "CANCELLING");
    assert_string_equal(status_of(t, 5), "CANCELLED");
    HBT_EXPECT(t, "DeliveryCancelled");
    assert_int_equal(hbt_out_int(t, 0, "orderId"), 5);
    assert_string_equal(hbt_out_str(t, 0, "status"), "CANCELLED");
    int64_t id = hbt_out_int(t, 0, "deliveryId");

    order_event(t, ORDER_PAID, 5, "PAID"); /* the late OrderPaid */
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM deliveries"), 1);
    assert_string_equal(status_of(t, 5), "CANCELLED");
    HBT_EXPECT(t, "DeliveryCancelled"); /* not DeliveryCreated */
    assert_int_equal(hbt_out_int(t, 0, "deliveryId"), id);
    brand(t, CONFIRM, id, 409);
    hbt_expect_none(t);
}

static void order_paid_without_order_id_is_a_decode_error(void **state)
{
    struct hbt *t = *state;
    assert_int_equal(hbt_send(t, ORDER_PAID, "{\"userId\":7,\"qty\":2}"), HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "orderId") != NULL);
    assert_int_equal(hbt_send(t, ORDER_PAID, "{\"orderId\":5,\"qty\":2}"), HB_ERR_DECODE);
    assert_true(strstr(t->ctx.error, "userId") != NULL);
    assert_int_equal(hbt_db_int(t, "SELECT count(*) FROM deliveries"), 0);
    hbt_expect_none(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(order_paid_creates_one_received_delivery),
        T(replay_announces_each_delivery_in_its_current_state),
        T(brand_actions_move_the_delivery_forward),
        T(brand_action_out_of_order_is_409),
        T(unknown_delivery_is_404),
        T(get_and_list_show_deliveries),
        T(order_cancelling_cancels_a_delivery_not_yet_shipping),
        T(order_cancelling_is_refused_once_shipping),
        T(order_cancelling_without_delivery_leaves_a_tombstone),
        T(order_paid_without_order_id_is_a_decode_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
