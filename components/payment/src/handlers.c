/* Payments: charge on reserved stock, decline over the limit, refund or void on withdrawal. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"


static const char payment_schema[] =
    "CREATE TABLE IF NOT EXISTS payments("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL UNIQUE,"
    "  user_id INTEGER NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL,"
    "  reason TEXT, version INTEGER NOT NULL DEFAULT 1, updated_at INTEGER NOT NULL,"
    "  product_name TEXT);" /* as product named it in StockReserved; see payment_setup */
    "CREATE INDEX IF NOT EXISTS payments_by_change ON payments(updated_at);"
    /* Orders withdrawn before any charge: a late StockReserved must not charge them. */
    "CREATE TABLE IF NOT EXISTS voided_orders(order_id INTEGER PRIMARY KEY, user_id INTEGER,"
    "  updated_at INTEGER NOT NULL);";

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration payment_migrations[] = {
    {.sqlite = payment_schema},
};

/* A payment's fields as JSON names (hb_store_query_object builds the JSON). */
#define PAYMENT_FIELDS(id_key)                                                                 \
    "id AS " id_key ", order_id AS orderId, user_id AS userId, amount,"                        \
    " product_name AS productName, status, reason, version"

static hb_err_t emit_payment(struct hb_ctx *ctx, int64_t order_id, const char *type)
{
    cJSON *data = NULL;
    HB_RETURN_ON_ERR(hb_store_query_object(
        ctx->store, "SELECT " PAYMENT_FIELDS("paymentId") " FROM payments WHERE order_id = ?", HB_ARGS(HB_INT(order_id)), &data));
    HB_LOGI(order_id, "%s", type);
    return hb_store_emit(ctx->store, type, order_id, data);
}

static hb_err_t emit_voided(struct hb_ctx *ctx, int64_t order_id, int64_t user_id)
{
    cJSON *data = cJSON_CreateObject();
    if (!data || !cJSON_AddNumberToObject(data, "orderId", (double)order_id) ||
        !cJSON_AddNumberToObject(data, "userId", (double)user_id) ||
        !cJSON_AddStringToObject(data, "status", "VOIDED")) {
        cJSON_Delete(data);
        return HB_ERR_NOMEM;
    }
    HB_LOGI(order_id, "PaymentVoided");
    return hb_store_emit(ctx->store, "PaymentVoided", order_id, data);
}

/* The payment status of order_id ("" when none, "VOIDED" when voided). */
static hb_err_t payment_status(struct hb_ctx *ctx, int64_t order_id, char *status, size_t cap)
{
    return hb_store_query_text(ctx->store,
                               "SELECT status FROM payments WHERE order_id = ?1 UNION ALL"
                               " SELECT 'VOIDED' FROM voided_orders WHERE order_id = ?1", HB_ARGS(HB_INT(order_id)), status, cap);
}

static const char *event_for(const char *status)
{
    if (strcmp(status, "APPROVED") == 0) {
        return "PaymentApproved";
    }
    if (strcmp(status, "DECLINED") == 0) {
        return "PaymentDeclined";
    }
    return "PaymentRefunded";
}

hb_err_t payment_on_stock_reserved(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, user_id, amount;
    const char *product_name = ""; /* relayed to the order (see PAYMENT_FIELDS); optional */
    hb_json_str(ev->data, "productName", 100, &product_name);
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK ||
        hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount) != HB_OK) {
        return hb_ctx_reject(ctx, "StockReserved needs orderId, userId and amount");
    }
    char status[16];
    HB_RETURN_ON_ERR(payment_status(ctx, order_id, status, sizeof(status)));
    if (strcmp(status, "VOIDED") == 0) {
        return HB_OK; /* withdrawn first: never charge it */
    }
    if (status[0] != '\0') {
        return emit_payment(ctx, order_id, event_for(status)); /* a re-drive: answer again */
    }
    bool approved = amount <= ctx->cfg->payment_limit;
    HB_RETURN_ON_ERR(hb_store_run(
        ctx->store,
        "INSERT INTO payments(order_id, user_id, amount, status, reason, updated_at,"
        " product_name) VALUES(?, ?, ?, ?, ?, ?, NULLIF(?, ''))",
        HB_ARGS(HB_INT(order_id), HB_INT(user_id), HB_INT(amount),
                HB_TEXT(approved ? "APPROVED" : "DECLINED"),
                HB_TEXT(approved ? NULL : "payment_declined"), HB_INT(ctx->now_ms),
                HB_TEXT(product_name))));
    return emit_payment(ctx, order_id, approved ? "PaymentApproved" : "PaymentDeclined");
}

hb_err_t payment_on_order_withdrawn(struct hb_ctx *ctx, const struct hb_event *ev,
                                    struct hb_reply *reply)
{
    (void)reply;
    int64_t order_id, user_id;
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "OrderWithdrawn needs orderId and userId");
    }
    char status[16];
    HB_RETURN_ON_ERR(payment_status(ctx, order_id, status, sizeof(status)));
    if (strcmp(status, "APPROVED") == 0) {
        HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                      "UPDATE payments SET status = 'REFUNDED',"
                                      " version = version + 1, updated_at = ? WHERE order_id = ?",
                                      HB_ARGS(HB_INT(ctx->now_ms), HB_INT(order_id))));
        return emit_payment(ctx, order_id, "PaymentRefunded");
    }
    if (strcmp(status, "REFUNDED") == 0) {
        return emit_payment(ctx, order_id, "PaymentRefunded");
    }
    if (status[0] == '\0') {
        HB_RETURN_ON_ERR(hb_store_run(
            ctx->store, "INSERT INTO voided_orders(order_id, user_id, updated_at) VALUES(?, ?, ?)",
            HB_ARGS(HB_INT(order_id), HB_INT(user_id), HB_INT(ctx->now_ms))));
    }
    return emit_voided(ctx, order_id, user_id); /* DECLINED, VOIDED or new: nothing to refund */
}

#define PAYMENT_LIST_SQL(where)                                                                \
    "SELECT " PAYMENT_FIELDS("id") " FROM payments " where                                     \
    " ORDER BY id LIMIT " HB_STR(HB_LIST_MAX)

hb_err_t payment_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, "orderId", PAYMENT_LIST_SQL("WHERE order_id = ?"),
                         PAYMENT_LIST_SQL(""));
}

hb_err_t payment_announce(struct hb_ctx *ctx, const struct hb_rows *row)
{
    int64_t order_id = hb_rows_int(row, 0);
    const char *status = hb_rows_text(row, 1);
    return strcmp(status, "VOIDED") == 0 ? emit_voided(ctx, order_id, hb_rows_int(row, 2))
                                         : emit_payment(ctx, order_id, event_for(status));
}

/* A database from before payments named their product lacks payments.product_name, and
 * sqlite has no ADD COLUMN IF NOT EXISTS for schema_sql to say it with: add it here, once.
 * Its old payments stay unnamed (null).
 * sqlite-only: moves to the sqlite migrations. */
static hb_err_t payment_setup(struct hb_ctx *ctx)
{
    int64_t named = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "SELECT count(*) FROM pragma_table_info('payments')"
                                        " WHERE name = 'product_name'",
                                        NULL, 0, 0, &named));
    return named ? HB_OK
                 : hb_store_exec(ctx->store, "ALTER TABLE payments ADD COLUMN product_name TEXT");
}

static const struct hb_route payment_routes[] = {
    {HB_CMD_TOPIC("payment", "list"), payment_list, true},
    {HB_EVT_TOPIC("product", "StockReserved"), payment_on_stock_reserved, false},
    {HB_EVT_TOPIC("order", "OrderWithdrawn"), payment_on_order_withdrawn, false},
};

const struct hb_component payment_component = {
    .name = "payment",
    HB_MIGRATIONS(payment_migrations),
    .routes = payment_routes,
    .n_routes = sizeof(payment_routes) / sizeof(payment_routes[0]),
    .replay_sql = "SELECT order_id, status, user_id, updated_at FROM payments"
                  " WHERE updated_at >= ?1 UNION ALL"
                  " SELECT order_id, 'VOIDED', user_id, updated_at FROM voided_orders"
                  " WHERE updated_at >= ?1 ORDER BY 4 DESC LIMIT ?2",
    .announce = payment_announce,
    .setup = payment_setup,
};
