/* Product catalogue and stock: reservations per order, never below zero, released once. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"

#define STOCK_MAX 1000000000LL
/* With qty <= 1e6 the amount stays below 2^52, the largest integer every JSON reader
 * of ours (and JavaScript's) carries exactly. */
#define PRICE_MAX 1000000000LL

static const char product_schema[] =
    "CREATE TABLE IF NOT EXISTS products("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    "  stock INTEGER NOT NULL CHECK (stock >= 0), price INTEGER NOT NULL);"
    /* One row per order ever seen: RESERVED, REJECTED, RELEASED (after RESERVED) or
     * WITHDRAWN (cancelled before we saw it; a late OrderPlaced must not reserve). */
    "CREATE TABLE IF NOT EXISTS reservations("
    "  order_id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, qty INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL, amount INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL, reason TEXT, updated_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS reservations_by_change ON reservations(updated_at);";

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration product_migrations[] = {
    {.sqlite = product_schema},
};

/* A product's fields as JSON names (hb_store_query_object builds the JSON). */
#define PRODUCT_FIELDS "id, name AS productName, stock, price"

static const char reservation_event_sql[] =
    "SELECT r.order_id AS orderId, r.product_id AS productId,"
    " p.name AS productName, r.qty AS qty, p.price AS price, r.amount AS amount,"
    " r.user_id AS userId, r.reason AS reason, r.status AS status"
    " FROM reservations r LEFT JOIN products p ON p.id = r.product_id WHERE r.order_id = ?";

static hb_err_t emit_reservation(struct hb_ctx *ctx, int64_t order_id, const char *type)
{
    cJSON *data = NULL;
    HB_RETURN_ON_ERR(hb_store_query_object(ctx->store, reservation_event_sql, HB_ARGS(HB_INT(order_id)), &data));
    HB_LOGI(order_id, "%s", type);
    return hb_store_emit(ctx->store, type, order_id, data);
}

/* The event that announces a reservation's state. */
static const char *reservation_event(const char *status)
{
    if (strcmp(status, "RESERVED") == 0) {
        return "StockReserved";
    }
    return strcmp(status, "REJECTED") == 0 ? "StockRejected" : "StockReleased";
}

/* The reservation status of order_id into status ("" when none). */
static hb_err_t reservation_status(struct hb_ctx *ctx, int64_t order_id, char *status,
                                   size_t cap)
{
    return hb_store_query_text(ctx->store, "SELECT status FROM reservations WHERE order_id = ?",
                               HB_ARGS(HB_INT(order_id)), status, cap);
}

static hb_err_t insert_reservation(struct hb_ctx *ctx, int64_t order_id, int64_t product_id,
                                   int64_t qty, int64_t user_id, int64_t amount,
                                   const char *status, const char *reason)
{
    return hb_store_run(ctx->store,
                        "INSERT INTO reservations(order_id, product_id, qty, user_id, amount,"
                        " status, reason, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                        HB_ARGS(HB_INT(order_id), HB_INT(product_id), HB_INT(qty),
                                HB_INT(user_id), HB_INT(amount), HB_TEXT(status), HB_TEXT(reason),
                                HB_INT(ctx->now_ms)));
}

hb_err_t product_create(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    const char *name = NULL;
    int64_t stock, price;
    if (hb_json_str(ev->data, "productName", 100, &name) != HB_OK) {
        return hb_ctx_reject(ctx, "productName must be a string of 1 to 100 bytes");
    }
    if (hb_json_int(ev->data, "stock", 0, STOCK_MAX, &stock) != HB_OK) {
        return hb_ctx_reject(ctx, "stock must be an integer between 0 and 1000000000");
    }
    if (hb_json_int(ev->data, "price", 0, PRICE_MAX, &price) != HB_OK) {
        return hb_ctx_reject(ctx, "price must be an integer between 0 and 1000000000");
    }
    int64_t id = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(
        ctx->store, "INSERT INTO products(name, stock, price) VALUES(?, ?, ?) RETURNING id",
        HB_ARGS(HB_TEXT(name), HB_INT(stock), HB_INT(price)), 0, &id));
    HB_RETURN_ON_ERR(hb_store_query_object(ctx->store,
                                           "SELECT " PRODUCT_FIELDS " FROM products WHERE id = ?",
                                           HB_ARGS(HB_INT(id)), &reply->body));
    reply->code = 201;
    snprintf(reply->location, sizeof(reply->location), "/products/%lld", (long long)id);
    return hb_store_emit(ctx->store, "ProductCreated", 0, cJSON_Duplicate(reply->body, true));
}

hb_err_t product_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_record(ctx, ev, reply, "id",
                           "SELECT " PRODUCT_FIELDS " FROM products WHERE id = ?",
                           "product not found");
}

hb_err_t product_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, NULL, NULL,
                         "SELECT " PRODUCT_FIELDS
                         " FROM products ORDER BY id LIMIT " HB_STR(HB_LIST_MAX));
}

hb_err_t product_on_order_placed(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, product_id, qty, user_id;
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "productId", 1, HB_ID_MAX, &product_id) != HB_OK ||
        hb_json_int(ev->data, "qty", 1, 1000000, &qty) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "OrderPlaced needs orderId, productId, qty and userId");
    }
    char status[16];
    HB_RETURN_ON_ERR(reservation_status(ctx, order_id, status, sizeof(status)));
    if (strcmp(status, "RESERVED") == 0 || strcmp(status, "REJECTED") == 0) {
        return emit_reservation(ctx, order_id, reservation_event(status)); /* answer again */
    }
    if (status[0] != '\0') {
        return HB_OK; /* RELEASED or WITHDRAWN: the order moved on, nothing to reserve */
    }
    int64_t stock = -1, price = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store, "SELECT stock FROM products WHERE id = ?",
                                        HB_ARGS(HB_INT(product_id)), -1, &stock));
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store, "SELECT price FROM products WHERE id = ?",
                                        HB_ARGS(HB_INT(product_id)), 0, &price));
    if (stock < 0 || stock < qty) {
        const char *reason = stock < 0 ? "unknown_product" : "out_of_stock";
        HB_RETURN_ON_ERR(
            insert_reservation(ctx, order_id, product_id, qty, user_id, 0, "REJECTED", reason));
        return emit_reservation(ctx, order_id, "StockRejected");
    }
    HB_RETURN_ON_ERR(hb_store_run(ctx->store, "UPDATE products SET stock = stock - ? WHERE id = ?",
                                  HB_ARGS(HB_INT(qty), HB_INT(product_id))));
    HB_RETURN_ON_ERR(insert_reservation(ctx, order_id, product_id, qty, user_id, price * qty,
                                        "RESERVED", NULL));
    return emit_reservation(ctx, order_id, "StockReserved");
}

hb_err_t product_on_order_released(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, product_id, user_id;
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "productId", 1, HB_ID_MAX, &product_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "order event needs orderId, productId and userId");
    }
    char status[16];
    HB_RETURN_ON_ERR(reservation_status(ctx, order_id, status, sizeof(status)));
    if (strcmp(status, "REJECTED") == 0 && strcmp(ev->type, "OrderRejected") == 0) {
        return HB_OK; /* product itself rejected it: nothing held, order knows */
    }
    if (strcmp(status, "RESERVED") == 0) {
        HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                      "UPDATE products SET stock = stock +"
                                      " (SELECT qty FROM reservations WHERE order_id = ?1)"
                                      " WHERE id = (SELECT product_id FROM reservations"
                                      " WHERE order_id = ?1)",
                                      HB_ARGS(HB_INT(order_id))));
        HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                      "UPDATE reservations SET status = 'RELEASED',"
                                      " updated_at = ? WHERE order_id = ?",
                                      HB_ARGS(HB_INT(ctx->now_ms), HB_INT(order_id))));
    } else if (status[0] == '\0') {
        HB_RETURN_ON_ERR(insert_reservation(ctx, order_id, product_id, 0, user_id, 0,
                                            "WITHDRAWN", "withdrawn_before_reserved"));
    }
    return emit_reservation(ctx, order_id, "StockReleased");
}

hb_err_t product_announce(struct hb_ctx *ctx, const struct hb_rows *row)
{
    return emit_reservation(ctx, hb_rows_int(row, 0), reservation_event(hb_rows_text(row, 1)));
}

#define CMD(name) HB_CMD_TOPIC("product", name)

static const struct hb_route product_routes[] = {
    {CMD("create"), product_create, false},
    {CMD("get"), product_get, true},
    {CMD("list"), product_list, true},
    {HB_EVT_TOPIC("order", "OrderPlaced"), product_on_order_placed, false},
    {HB_EVT_TOPIC("order", "OrderRejected"), product_on_order_released, false},
    {HB_EVT_TOPIC("order", "OrderWithdrawn"), product_on_order_released, false},
};

const struct hb_component product_component = {
    .name = "product",
    HB_MIGRATIONS(product_migrations),
    .routes = product_routes,
    .n_routes = sizeof(product_routes) / sizeof(product_routes[0]),
    .replay_sql = "SELECT order_id, status FROM reservations WHERE updated_at >= ?1"
                  " ORDER BY updated_at DESC LIMIT ?2",
    .announce = product_announce,
};
