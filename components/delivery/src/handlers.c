/* Deliveries: created for paid orders, moved on by the brand, cancelled unless shipping. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"


static const char delivery_schema[] =
    "CREATE TABLE IF NOT EXISTS deliveries("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL, product_name TEXT, qty INTEGER NOT NULL,"
    "  status TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS deliveries_by_change ON deliveries(updated_at);";

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration delivery_migrations[] = {
    {.sqlite = delivery_schema},
};

/* A delivery's fields as JSON names (hb_store_query_object builds the JSON). */
#define DELIVERY_FIELDS(id_key)                                                                \
    "id AS " id_key ", order_id AS orderId, user_id AS userId,"                                \
    " product_name AS productName, qty, status, version"

/* The event that announces each delivery status. */
static const struct {
    const char *status;
    const char *event;
} status_events[] = {
    {"RECEIVED", "DeliveryCreated"},     {"PREPARING", "DeliveryConfirmed"},
    {"SHIPPING", "DeliveryStarted"},     {"DELIVERED", "DeliveryCompleted"},
    {"CANCELLED", "DeliveryCancelled"},
};

static const char *event_for(const char *status)
{
    for (size_t i = 0; i < sizeof(status_events) / sizeof(status_events[0]); i++) {
        if (strcmp(status_events[i].status, status) == 0) {
            return status_events[i].event;
        }
    }
    return NULL;
}

static hb_err_t emit_delivery(struct hb_ctx *ctx, int64_t order_id, const char *type)
{
    cJSON *data = NULL;
    HB_RETURN_ON_ERR(hb_store_query_object(
        ctx->store, "SELECT " DELIVERY_FIELDS("deliveryId") " FROM deliveries WHERE order_id = ?", HB_ARGS(HB_INT(order_id)), &data));
    HB_LOGI(order_id, "%s", type);
    return hb_store_emit(ctx->store, type, order_id, data);
}

/* The queries for delivery_status: by the delivery's id, by its order's id. */
static const char status_by_id_sql[] = "SELECT order_id, status FROM deliveries WHERE id = ?";
static const char status_by_order_sql[] =
    "SELECT order_id, status FROM deliveries WHERE order_id = ?";

/* Reads one delivery's order id and status through sql (status_by_id_sql or
 * status_by_order_sql, for value) into *order_id and status (0 and "" when none). */
static hb_err_t delivery_status(struct hb_ctx *ctx, const char *sql, int64_t value,
                                int64_t *order_id, char *status, size_t cap)
{
    struct hb_rows rows;
    HB_RETURN_ON_ERR(hb_store_select(ctx->store, sql, HB_ARGS(HB_INT(value)), &rows));
    bool row = false;
    hb_err_t rc = hb_rows_next(&rows, &row);
    *order_id = row ? hb_rows_int(&rows, 0) : 0;
    snprintf(status, cap, "%s", row ? hb_rows_text(&rows, 1) : "");
    hb_rows_close(&rows);
    return rc;
}

static hb_err_t set_status(struct hb_ctx *ctx, int64_t order_id, const char *status)
{
    return hb_store_run(ctx->store,
                        "UPDATE deliveries SET status = ?, version = version + 1,"
                        " updated_at = ? WHERE order_id = ?",
                        HB_ARGS(HB_TEXT(status), HB_INT(ctx->now_ms), HB_INT(order_id)));
}

static hb_err_t insert_delivery(struct hb_ctx *ctx, const struct hb_event *ev, int64_t order_id,
                                const char *status)
{
    int64_t user_id, qty;
    const char *name = "";
    if (hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK ||
        hb_json_int(ev->data, "qty", 1, 1000000, &qty) != HB_OK) {
        return hb_ctx_reject(ctx, "order event needs userId and qty");
    }
    hb_json_str(ev->data, "productName", 100, &name); /* optional */
    return hb_store_run(ctx->store,
                        "INSERT INTO deliveries(order_id, user_id, product_name, qty, status,"
                        " updated_at) VALUES(?, ?, NULLIF(?, ''), ?, ?, ?)",
                        HB_ARGS(HB_INT(order_id), HB_INT(user_id), HB_TEXT(name), HB_INT(qty),
                                HB_TEXT(status), HB_INT(ctx->now_ms)));
}

hb_err_t delivery_on_order_paid(struct hb_ctx *ctx, const struct hb_event *ev,
                                struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, known;
    char status[16];
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK) {
        return hb_ctx_reject(ctx, "OrderPaid needs orderId");
    }
    HB_RETURN_ON_ERR(
        delivery_status(ctx, status_by_order_sql, order_id, &known, status, sizeof(status)));
    if (status[0] != '\0') {
        return emit_delivery(ctx, order_id, event_for(status)); /* a re-drive: answer again */
    }
    HB_RETURN_ON_ERR(insert_delivery(ctx, ev, order_id, "RECEIVED"));
    return emit_delivery(ctx, order_id, "DeliveryCreated");
}

hb_err_t delivery_on_order_cancelling(struct hb_ctx *ctx, const struct hb_event *ev,
                                      struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, known;
    char status[16];
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK) {
        return hb_ctx_reject(ctx, "OrderCancelling needs orderId");
    }
    HB_RETURN_ON_ERR(
        delivery_status(ctx, status_by_order_sql, order_id, &known, status, sizeof(status)));
    if (status[0] == '\0') {
        /* Cancelled before OrderPaid reached us: record it so a late one creates nothing. */
        HB_RETURN_ON_ERR(insert_delivery(ctx, ev, order_id, "CANCELLED"));
    } else if (strcmp(status, "SHIPPING") == 0 || strcmp(status, "DELIVERED") == 0) {
        return emit_delivery(ctx, order_id, "DeliveryCancelRefused");
    } else if (strcmp(status, "CANCELLED") != 0) {
        HB_RETURN_ON_ERR(set_status(ctx, order_id, "CANCELLED"));
    }
    return emit_delivery(ctx, order_id, "DeliveryCancelled");
}

/* A brand action: moves delivery data.id from `from` to `to`, or answers 404/409. */
static hb_err_t brand_action(struct hb_ctx *ctx, const struct hb_event *ev,
                             struct hb_reply *reply, const char *action, const char *from,
                             const char *to)
{
    int64_t id, order_id;
    char status[16];
    if (hb_json_int(ev->data, "id", 1, HB_ID_MAX, &id) != HB_OK) {
        return hb_ctx_reject(ctx, "id must be a positive integer");
    }
    HB_RETURN_ON_ERR(
        delivery_status(ctx, status_by_id_sql, id, &order_id, status, sizeof(status)));
    if (status[0] == '\0') {
        return hb_reply_error(reply, 404, "delivery not found");
    }
    if (strcmp(status, from) != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "delivery is %s; %s needs %s", status, action, from);
        return hb_reply_error(reply, 409, msg);
    }
    HB_RETURN_ON_ERR(set_status(ctx, order_id, to));
    HB_RETURN_ON_ERR(emit_delivery(ctx, order_id, event_for(to)));
    reply->code = 200;
    return hb_store_query_object(ctx->store,
                                 "SELECT " DELIVERY_FIELDS("id") " FROM deliveries WHERE id = ?", HB_ARGS(HB_INT(id)), &reply->body);
}

hb_err_t delivery_confirm(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return brand_action(ctx, ev, reply, "confirm", "RECEIVED", "PREPARING");
}

hb_err_t delivery_start(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return brand_action(ctx, ev, reply, "start", "PREPARING", "SHIPPING");
}

hb_err_t delivery_complete(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return brand_action(ctx, ev, reply, "complete", "SHIPPING", "DELIVERED");
}

#define DELIVERY_LIST_SQL(where)                                                               \
    "SELECT " DELIVERY_FIELDS("id") " FROM deliveries " where                                  \
    " ORDER BY id LIMIT " HB_STR(HB_LIST_MAX)

hb_err_t delivery_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_record(ctx, ev, reply, "id",
                           "SELECT " DELIVERY_FIELDS("id") " FROM deliveries WHERE id = ?",
                           "delivery not found");
}

hb_err_t delivery_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, "orderId", DELIVERY_LIST_SQL("WHERE order_id = ?"),
                         DELIVERY_LIST_SQL(""));
}

hb_err_t delivery_announce(struct hb_ctx *ctx, const struct hb_rows *row)
{
    return emit_delivery(ctx, hb_rows_int(row, 0), event_for(hb_rows_text(row, 1)));
}

#define CMD(name) HB_CMD_TOPIC("delivery", name)

static const struct hb_route delivery_routes[] = {
    {CMD("confirm"), delivery_confirm, false},
    {CMD("start"), delivery_start, false},
    {CMD("complete"), delivery_complete, false},
    {CMD("get"), delivery_get, true},
    {CMD("list"), delivery_list, true},
    {HB_EVT_TOPIC("order", "OrderPaid"), delivery_on_order_paid, false},
    {HB_EVT_TOPIC("order", "OrderCancelling"), delivery_on_order_cancelling, false},
};

const struct hb_component delivery_component = {
    .name = "delivery",
    HB_MIGRATIONS(delivery_migrations),
    .routes = delivery_routes,
    .n_routes = sizeof(delivery_routes) / sizeof(delivery_routes[0]),
    .replay_sql = "SELECT order_id, status FROM deliveries WHERE updated_at >= ?1"
                  " ORDER BY updated_at DESC LIMIT ?2",
    .announce = delivery_announce,
};
