/* Notifications: the customer hears once when the delivery starts; failures retry. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"

#define RETRY_BASE_MS 2000

static const char notification_schema[] =
    "CREATE TABLE IF NOT EXISTS notifications("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL UNIQUE,"
    "  order_id INTEGER NOT NULL, user_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  text TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, next_attempt_at INTEGER, updated_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS notifications_by_change ON notifications(updated_at);"
    "CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications(user_id);";

#define NOTIFICATION_FIELDS(id_key)                                                            \
    "json_object('" id_key "', id, 'orderId', order_id, 'deliveryId', delivery_id,"           \
    " 'userId', user_id, 'channel', channel, 'text', text, 'status', status,"                 \
    " 'attempts', attempts, 'error', last_error)"

/* Emits CustomerNotified (sent) or NotificationFailed with the notification's record. */
static hb_err_t emit_notification(struct hb_ctx *ctx, int64_t id, int64_t order_id, bool sent)
{
    cJSON *data = NULL;
    HB_RETURN_ON_ERR(hb_store_query_json(
        ctx->store,
        "SELECT " NOTIFICATION_FIELDS("notificationId") " FROM notifications WHERE id = ?", &id,
        1, &data));
    return hb_store_emit(ctx->store, sent ? "CustomerNotified" : "NotificationFailed", order_id,
                         data);
}

/* Sends notification id through the notifier and records the outcome and its event. */
static hb_err_t send_and_record(struct hb_ctx *ctx, int64_t id)
{
    const struct notifier *notifier = ctx->user;
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(hb_store_prepare(ctx->store,
                                      "SELECT order_id, delivery_id, user_id, text, attempts"
                                      " FROM notifications WHERE id = ?",
                                      &s));
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return HB_ERR_NOT_FOUND;
    }
    struct notification_msg msg = {
        .notification_id = id,
        .order_id = sqlite3_column_int64(s, 0),
        .delivery_id = sqlite3_column_int64(s, 1),
        .user_id = sqlite3_column_int64(s, 2),
        .text = (const char *)sqlite3_column_text(s, 3),
    };
    int64_t attempts = sqlite3_column_int64(s, 4) + 1;
    char error[160];
    hb_err_t sent = notifier->send(notifier->self, &msg, error, sizeof(error));
    sqlite3_finalize(s); /* msg.text is not used past here */
    int64_t order_id = msg.order_id;

    HB_RETURN_ON_ERR(hb_store_prepare(ctx->store,
                                      "UPDATE notifications SET status = ?, attempts = ?,"
                                      " last_error = NULLIF(?, ''), next_attempt_at = ?,"
                                      " updated_at = ?6 WHERE id = ?5",
                                      &s));
    bool retry = sent != HB_OK && attempts < NOTIFICATION_MAX_ATTEMPTS;
    sqlite3_bind_text(s, 1, sent == HB_OK ? "SENT" : "FAILED", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, attempts);
    sqlite3_bind_text(s, 3, sent == HB_OK ? "" : error, -1, SQLITE_TRANSIENT);
    if (retry) {
        sqlite3_bind_int64(s, 4, ctx->now_ms + ((int64_t)RETRY_BASE_MS << attempts));
    } else {
        sqlite3_bind_null(s, 4);
    }
    sqlite3_bind_int64(s, 5, id);
    sqlite3_bind_int64(s, 6, ctx->now_ms);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step != SQLITE_DONE) {
        return HB_ERR_DB;
    }
    if (sent != HB_OK) {
        HB_LOGW(order_id, "notification %lld failed (attempt %lld): %s", (long long)id,
                (long long)attempts, error);
    }
    return emit_notification(ctx, id, order_id, sent == HB_OK);
}

hb_err_t notification_on_delivery_started(struct hb_ctx *ctx, const struct hb_event *ev,
                                          struct hb_reply *reply)
{
    (void)reply;
    const struct notifier *notifier = ctx->user;
    int64_t delivery_id, order_id, user_id, qty = 0;
    const char *product = "your furniture";
    if (hb_json_int(ev->data, "deliveryId", 1, HB_ID_MAX, &delivery_id) != HB_OK ||
        hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "DeliveryStarted needs deliveryId, orderId and userId");
    }
    hb_json_str(ev->data, "productName", 100, &product); /* optional */
    hb_json_int(ev->data, "qty", 1, 1000000, &qty);      /* optional */
    int64_t known = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "SELECT count(*) FROM notifications WHERE delivery_id = ?",
                                        &delivery_id, 1, 0, &known));
    if (known) {
        return HB_OK; /* one message per delivery start, however often the event comes */
    }
    char text[256];
    snprintf(text, sizeof(text),
             "[Today's House] Your order #%lld (%s x%lld) is on its way: delivery #%lld has "
             "started. Track it at /orders/%lld",
             (long long)order_id, product, (long long)qty, (long long)delivery_id,
             (long long)order_id);
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(hb_store_prepare(ctx->store,
                                      "INSERT INTO notifications(delivery_id, order_id, user_id,"
                                      " channel, text, status, updated_at)"
                                      " VALUES(?, ?, ?, ?, ?, 'PENDING', ?)",
                                      &s));
    sqlite3_bind_int64(s, 1, delivery_id);
    sqlite3_bind_int64(s, 2, order_id);
    sqlite3_bind_int64(s, 3, user_id);
    sqlite3_bind_text(s, 4, notifier->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, ctx->now_ms);
    int step = sqlite3_step(s);
    sqlite3_finalize(s);
    if (step != SQLITE_DONE) {
        return HB_ERR_DB;
    }
    return send_and_record(ctx, sqlite3_last_insert_rowid(hb_store_db(ctx->store)));
}

hb_err_t notification_retry(struct hb_ctx *ctx)
{
    int64_t id = 0;
    /* One per tick is plenty: failures are rare and the channel is slow. */
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "SELECT id FROM notifications WHERE status = 'FAILED'"
                                        " AND next_attempt_at <= ? ORDER BY next_attempt_at"
                                        " LIMIT 1",
                                        &ctx->now_ms, 1, 0, &id));
    return id ? send_and_record(ctx, id) : HB_OK;
}

#define NOTIFICATION_LIST_SQL(where)                                                           \
    "SELECT json_group_array(json(j)) FROM (SELECT " NOTIFICATION_FIELDS("id")                 \
    " AS j FROM notifications " where " ORDER BY id LIMIT " HB_STR(HB_LIST_MAX) ")"

hb_err_t notification_list(struct hb_ctx *ctx, const struct hb_event *ev,
                           struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, "userId", NOTIFICATION_LIST_SQL("WHERE user_id = ?"),
                         NOTIFICATION_LIST_SQL(""));
}

hb_err_t notification_announce(struct hb_ctx *ctx, sqlite3_stmt *row)
{
    return emit_notification(ctx, sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                             strcmp((const char *)sqlite3_column_text(row, 2), "SENT") == 0);
}

static hb_err_t notification_setup(struct hb_ctx *ctx)
{
    ctx->user = (void *)notifier_log();
    return HB_OK;
}

static const struct hb_route notification_routes[] = {
    {HB_CMD_TOPIC("notification", "list"), notification_list, true},
    {HB_EVT_TOPIC("delivery", "DeliveryStarted"), notification_on_delivery_started, false},
};

const struct hb_component notification_component = {
    .name = "notification",
    .schema_sql = notification_schema,
    .routes = notification_routes,
    .n_routes = sizeof(notification_routes) / sizeof(notification_routes[0]),
    .tick = notification_retry,
    .setup = notification_setup,
    .replay_sql = "SELECT id, order_id, status FROM notifications"
                  " WHERE updated_at >= ?1 AND status <> 'PENDING'"
                  " ORDER BY updated_at DESC LIMIT ?2",
    .announce = notification_announce,
};
