/* The mypage read model (CQRS): one row per order, folded from order, payment,
 * delivery and notification events. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"


static const char view_schema[] =
    "CREATE TABLE IF NOT EXISTS mypage("
    "  order_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, product_name TEXT,"
    "  qty INTEGER, amount INTEGER NOT NULL DEFAULT 0,"
    "  order_status TEXT, order_version INTEGER NOT NULL DEFAULT 0,"
    "  payment_status TEXT, payment_version INTEGER NOT NULL DEFAULT 0,"
    "  delivery_status TEXT, delivery_version INTEGER NOT NULL DEFAULT 0,"
    "  notified INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS mypage_by_user ON mypage(user_id);";

struct source_fields {
    int64_t order_id;
    int64_t user_id;
    int64_t version;
    const char *status;
};

/* Reads the fields every versioned event carries and makes sure the row exists. */
static hb_err_t begin_row(struct hb_ctx *ctx, const struct hb_event *ev,
                          struct source_fields *f)
{
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &f->order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &f->user_id) != HB_OK ||
        hb_json_int(ev->data, "version", 1, INT64_MAX, &f->version) != HB_OK ||
        hb_json_str(ev->data, "status", 20, &f->status) != HB_OK) {
        return hb_ctx_reject(ctx, "event needs orderId, userId, version and status");
    }
    int64_t args[2] = {f->order_id, f->user_id};
    return hb_store_run(ctx->store,
                        "INSERT INTO mypage(order_id, user_id) VALUES(?, ?)"
                        " ON CONFLICT(order_id) DO NOTHING",
                        args, 2);
}

/* Runs sql with ?1 status, ?2 version, ?3 amount, ?4 order id. */
static hb_err_t update_status(struct hb_ctx *ctx, const char *sql, const struct source_fields *f,
                              int64_t amount)
{
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(hb_store_cached(ctx->store, sql, &s));
    sqlite3_bind_text(s, 1, f->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f->version);
    sqlite3_bind_int64(s, 3, amount);
    sqlite3_bind_int64(s, 4, f->order_id);
    int step = sqlite3_step(s);
    hb_store_release(ctx->store, s);
    return step == SQLITE_DONE ? HB_OK : HB_ERR_DB;
}

hb_err_t view_on_order_event(struct hb_ctx *ctx, const struct hb_event *ev,
                             struct hb_reply *reply)
{
    (void)reply;
    struct source_fields f;
    int64_t qty = 0, amount = 0;
    const char *name = "";
    HB_RETURN_ON_ERR(begin_row(ctx, ev, &f));
    hb_json_int(ev->data, "qty", 1, 1000000, &qty);
    hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount);
    hb_json_str(ev->data, "productName", 100, &name);
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(hb_store_cached(ctx->store,
                                     "UPDATE mypage SET order_status = ?1, order_version = ?2,"
                                     " amount = CASE WHEN ?3 > 0 THEN ?3 ELSE amount END,"
                                     " qty = ?4, product_name = COALESCE(NULLIF(?5, ''),"
                                     " product_name) WHERE order_id = ?6 AND order_version < ?2",
                                     &s));
    sqlite3_bind_text(s, 1, f.status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, f.version);
    sqlite3_bind_int64(s, 3, amount);
    sqlite3_bind_int64(s, 4, qty);
    sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, f.order_id);
    int step = sqlite3_step(s);
    hb_store_release(ctx->store, s);
    return step == SQLITE_DONE ? HB_OK : HB_ERR_DB;
}

hb_err_t view_on_payment_event(struct hb_ctx *ctx, const struct hb_event *ev,
                               struct hb_reply *reply)
{
    (void)reply;
    if (strcmp(ev->type, "PaymentVoided") == 0) {
        return HB_OK; /* nothing was charged: the row shows no payment */
    }
    struct source_fields f;
    int64_t amount = 0;
    HB_RETURN_ON_ERR(begin_row(ctx, ev, &f));
    hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount);
    return update_status(ctx,
                         "UPDATE mypage SET payment_status = ?1, payment_version = ?2,"
                         " amount = CASE WHEN amount = 0 THEN ?3 ELSE amount END"
                         " WHERE order_id = ?4 AND payment_version < ?2",
                         &f, amount);
}

hb_err_t view_on_delivery_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                struct hb_reply *reply)
{
    (void)reply;
    struct source_fields f;
    HB_RETURN_ON_ERR(begin_row(ctx, ev, &f));
    return update_status(ctx,
                         "UPDATE mypage SET delivery_status = ?1, delivery_version = ?2"
                         " WHERE order_id = ?4 AND delivery_version < ?2 AND ?3 >= 0",
                         &f, 0);
}

hb_err_t view_on_customer_notified(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, user_id;
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "CustomerNotified needs orderId and userId");
    }
    int64_t args[2] = {order_id, user_id};
    HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                  "INSERT INTO mypage(order_id, user_id) VALUES(?, ?)"
                                  " ON CONFLICT(order_id) DO NOTHING",
                                  args, 2));
    return hb_store_run(ctx->store, "UPDATE mypage SET notified = 1 WHERE order_id = ?",
                        &order_id, 1);
}

hb_err_t view_mypage(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_list(
        ctx, ev, reply, "userId",
        "SELECT json_group_array(json(j)) FROM (SELECT json_object('orderId', order_id,"
        " 'productName', product_name, 'qty', qty, 'amount', amount,"
        " 'orderStatus', order_status, 'paymentStatus', payment_status,"
        " 'deliveryStatus', delivery_status,"
        " 'notified', json(CASE WHEN notified THEN 'true' ELSE 'false' END)) AS j"
        " FROM mypage WHERE user_id = ? ORDER BY order_id LIMIT " HB_STR(HB_LIST_MAX) ")",
        NULL);
}

static const struct hb_route view_routes[] = {
    {HB_CMD_TOPIC("view", "mypage"), view_mypage, true},
    {HB_TOPIC_PREFIX "evt/order/+", view_on_order_event, false},
    {HB_TOPIC_PREFIX "evt/payment/+", view_on_payment_event, false},
    {HB_TOPIC_PREFIX "evt/delivery/+", view_on_delivery_event, false},
    {HB_EVT_TOPIC("notification", "CustomerNotified"), view_on_customer_notified, false},
};

const struct hb_component view_component = {
    .name = "view",
    .schema_sql = view_schema,
    .routes = view_routes,
    .n_routes = sizeof(view_routes) / sizeof(view_routes[0]),
};
