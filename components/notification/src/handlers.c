/* Notifications: one message per delivery start, recorded PENDING by the pure handler,
 * then claimed, attempted and recorded by a tick (docs/ARCHITECTURE.md, "Notifications"). */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"

static const char notification_schema[] =
    "CREATE TABLE IF NOT EXISTS notifications("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL UNIQUE,"
    "  order_id INTEGER NOT NULL, user_id INTEGER NOT NULL, channel TEXT NOT NULL,"
    "  text TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT, next_attempt_at INTEGER, updated_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS notifications_by_change ON notifications(updated_at);"
    "CREATE INDEX IF NOT EXISTS notifications_by_user ON notifications(user_id);"
    "CREATE INDEX IF NOT EXISTS notifications_due ON notifications(status, next_attempt_at);";

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration notification_migrations[] = {
    {.sqlite = notification_schema},
};

/* A notification's fields as JSON names (hb_store_query_object builds the JSON). */
#define NOTIFICATION_FIELDS(id_key)                                                            \
    "id AS " id_key ", order_id AS orderId, delivery_id AS deliveryId,"                        \
    " user_id AS userId, channel, text, status,"                                               \
    " attempts, last_error AS lastError, next_attempt_at AS nextAttemptAt"

/* Emits CustomerNotified (sent) or NotificationFailed with the notification's record. */
static hb_err_t emit_notification(struct hb_ctx *ctx, int64_t id, int64_t order_id, bool sent)
{
    cJSON *data = NULL;
    HB_RETURN_ON_ERR(hb_store_query_object(
        ctx->store,
        "SELECT " NOTIFICATION_FIELDS("notificationId") " FROM notifications WHERE id = ?", HB_ARGS(HB_INT(id)), &data));
    return hb_store_emit(ctx->store, sent ? "CustomerNotified" : "NotificationFailed", order_id,
                         data);
}

hb_err_t notification_on_delivery_started(struct hb_ctx *ctx, const struct hb_event *ev,
                                          struct hb_reply *reply)
{
    (void)reply;
    const struct notification_state *state = ctx->user;
    int64_t delivery_id, order_id, user_id, qty = 0;
    const char *product = NULL;
    if (hb_json_int(ev->data, "deliveryId", 1, HB_ID_MAX, &delivery_id) != HB_OK ||
        hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "a delivery event needs deliveryId, orderId and userId");
    }
    hb_json_str(ev->data, "productName", 100, &product); /* optional */
    hb_json_int(ev->data, "qty", 1, 1000000, &qty);      /* optional */
    int64_t known = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "SELECT count(*) FROM notifications WHERE delivery_id = ?", HB_ARGS(HB_INT(delivery_id)), 0, &known));
    if (known) {
        return HB_OK; /* one message per delivery start, however often the event comes */
    }
    /* "[Today's House] Delivery of your order #N has started." The bounds (product name
     * 100 bytes, ids 16 digits) keep it well inside the buffer, so no UTF-8 is ever cut. */
    char text[NOTIFICATION_TEXT_MAX];
    int n = product && qty > 0
                ? snprintf(text, sizeof(text),
                           "[오늘의집] 주문 #%lld 배송이 시작되었습니다. (%s x%lld, 배송 #%lld)",
                           (long long)order_id, product, (long long)qty, (long long)delivery_id)
                : snprintf(text, sizeof(text),
                           "[오늘의집] 주문 #%lld 배송이 시작되었습니다. (배송 #%lld)",
                           (long long)order_id, (long long)delivery_id);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        return hb_ctx_reject(ctx, "DeliveryStarted: message text too long");
    }
    return hb_store_run(ctx->store,
                        "INSERT INTO notifications(delivery_id, order_id, user_id, channel, text,"
                        " status, next_attempt_at, updated_at)"
                        " VALUES(?, ?, ?, ?, ?, 'PENDING', ?6, ?6)",
                        HB_ARGS(HB_INT(delivery_id), HB_INT(order_id), HB_INT(user_id),
                                HB_TEXT(state->channel), HB_TEXT(text), HB_INT(ctx->now_ms)));
}

hb_err_t notification_claim(struct hb_ctx *ctx, struct notification_job *jobs, size_t cap,
                            size_t *n)
{
    *n = 0;
    if (cap == 0) {
        return HB_OK;
    }
    struct hb_rows rows;
    HB_RETURN_ON_ERR(hb_store_select(ctx->store,
                                     "SELECT id, order_id, delivery_id, user_id, text, attempts"
                                     " FROM notifications WHERE status = 'PENDING'"
                                     " AND next_attempt_at <= ? ORDER BY next_attempt_at, id"
                                     " LIMIT ?",
                                     HB_ARGS(HB_INT(ctx->now_ms), HB_INT(cap)), &rows));
    bool row = false;
    hb_err_t rc = HB_OK;
    while (*n < cap && (rc = hb_rows_next(&rows, &row)) == HB_OK && row) {
        struct notification_job *job = &jobs[(*n)++];
        job->id = hb_rows_int(&rows, 0);
        job->order_id = hb_rows_int(&rows, 1);
        job->delivery_id = hb_rows_int(&rows, 2);
        job->user_id = hb_rows_int(&rows, 3);
        snprintf(job->text, sizeof(job->text), "%s", hb_rows_text(&rows, 4));
        job->attempts = hb_rows_int(&rows, 5) + 1;
    }
    hb_rows_close(&rows);
    HB_RETURN_ON_ERR(rc);
    for (size_t i = 0; i < *n; i++) {
        HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                      "UPDATE notifications SET status = 'SENDING',"
                                      " attempts = ?, next_attempt_at = NULL, updated_at = ?"
                                      " WHERE id = ?",
                                      HB_ARGS(HB_INT(jobs[i].attempts), HB_INT(ctx->now_ms), HB_INT(jobs[i].id))));
    }
    return HB_OK;
}

hb_err_t notification_record(struct hb_ctx *ctx, const struct notification_result *result)
{
    const struct notification_state *state = ctx->user;
    const char *status =
        notification_next_status(&state->policy, result->outcome, result->attempts);
    bool sent = strcmp(status, "SENT") == 0;
    bool retry = strcmp(status, "PENDING") == 0;
    int64_t order_id = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "SELECT order_id FROM notifications WHERE id = ?"
                                        " AND status = 'SENDING'", HB_ARGS(HB_INT(result->id)), 0, &order_id));
    if (order_id == 0) {
        HB_LOGW(0, "notification %lld is not SENDING; its result is ignored",
                (long long)result->id);
        return HB_OK;
    }
    struct hb_param next_attempt_at =
        retry ? HB_INT(ctx->now_ms + notification_backoff_ms(&state->policy, result->attempts))
              : HB_NULL_PARAM;
    HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                  "UPDATE notifications SET status = ?, attempts = ?,"
                                  " last_error = NULLIF(?, ''), next_attempt_at = ?,"
                                  " updated_at = ? WHERE id = ?",
                                  HB_ARGS(HB_TEXT(status), HB_INT(result->attempts),
                                          HB_TEXT(sent ? "" : result->error), next_attempt_at,
                                          HB_INT(ctx->now_ms), HB_INT(result->id))));
    if (!sent) {
        HB_LOGW(order_id, "notification %lld attempt %lld failed (%s): %s",
                (long long)result->id, (long long)result->attempts, status, result->error);
    }
    /* A retry is visible in GET /notifications (PENDING, attempts, lastError); the bus
     * hears only the final outcome. */
    return retry ? HB_OK : emit_notification(ctx, result->id, order_id, sent);
}

hb_err_t notification_unclaim(struct hb_ctx *ctx, int64_t id)
{
    return hb_store_run(ctx->store,
                        "UPDATE notifications SET status = 'PENDING', attempts = attempts - 1,"
                        " next_attempt_at = ?1, updated_at = ?1"
                        " WHERE id = ?2 AND status = 'SENDING'",
                        HB_ARGS(HB_INT(ctx->now_ms), HB_INT(id)));
}

hb_err_t notification_recover(struct hb_ctx *ctx)
{
    for (;;) {
        int64_t id = 0;
        HB_RETURN_ON_ERR(hb_store_query_int(
            ctx->store, "SELECT id FROM notifications WHERE status = 'SENDING' LIMIT 1", NULL, 0,
            0, &id));
        if (id == 0) {
            return HB_OK;
        }
        struct notification_result result = {.id = id, .outcome = NOTIFIER_UNKNOWN};
        HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                            "SELECT attempts FROM notifications WHERE id = ?", HB_ARGS(HB_INT(id)), 1, &result.attempts));
        snprintf(result.error, sizeof(result.error),
                 "outcome unknown: the process stopped during attempt %lld; not sent again"
                 " (at most once)",
                 (long long)result.attempts);
        HB_RETURN_ON_ERR(notification_record(ctx, &result));
    }
}

hb_err_t notification_tick_inline(struct hb_ctx *ctx)
{
    const struct notification_state *state = ctx->user;
    static struct notification_job jobs[NOTIFICATION_INLINE_BATCH]; /* ~25 KiB: not on the stack */
    size_t n = 0;
    HB_RETURN_ON_ERR(notification_claim(ctx, jobs, NOTIFICATION_INLINE_BATCH, &n));
    for (size_t i = 0; i < n; i++) {
        struct notification_msg msg = {
            .notification_id = jobs[i].id,
            .order_id = jobs[i].order_id,
            .delivery_id = jobs[i].delivery_id,
            .user_id = jobs[i].user_id,
            .text = jobs[i].text,
        };
        struct notification_result result = {.id = jobs[i].id, .attempts = jobs[i].attempts};
        result.outcome =
            state->notifier->send(state->notifier->self, &msg, result.error, sizeof(result.error));
        HB_RETURN_ON_ERR(notification_record(ctx, &result));
    }
    return HB_OK;
}

#define NOTIFICATION_LIST_SQL(where)                                                           \
    "SELECT " NOTIFICATION_FIELDS("id") " FROM notifications " where                           \
    " ORDER BY id LIMIT " HB_STR(HB_LIST_MAX)

hb_err_t notification_list(struct hb_ctx *ctx, const struct hb_event *ev,
                           struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, "userId", NOTIFICATION_LIST_SQL("WHERE user_id = ?"),
                         NOTIFICATION_LIST_SQL(""));
}

hb_err_t notification_announce(struct hb_ctx *ctx, const struct hb_rows *row)
{
    return emit_notification(ctx, hb_rows_int(row, 0), hb_rows_int(row, 1),
                             strcmp(hb_rows_text(row, 2), "SENT") == 0);
}

/* The inline setup: the log notifier, the default policy, and the recovery of messages a
 * previous process left SENDING (it may have run the KakaoTalk notifier). */
static hb_err_t notification_setup(struct hb_ctx *ctx)
{
    static struct notification_state state;
    state = (struct notification_state){
        .channel = notifier_log()->channel,
        .policy = notification_policy_default(),
        .notifier = notifier_log(),
    };
    ctx->user = &state;
    HB_RETURN_ON_ERR(hb_store_begin(ctx->store));
    hb_err_t rc = notification_recover(ctx);
    if (rc != HB_OK) {
        hb_store_rollback(ctx->store);
        return rc;
    }
    return hb_store_commit(ctx->store);
}

static const struct hb_route notification_routes[] = {
    {HB_CMD_TOPIC("notification", "list"), notification_list, true},
    {HB_EVT_TOPIC("delivery", "DeliveryStarted"), notification_on_delivery_started, false},
    /* A completed delivery was started: if its DeliveryStarted was lost (a broker restart
     * before we had it), the replay announces only the current state, DeliveryCompleted,
     * and the customer must still get the one message. */
    {HB_EVT_TOPIC("delivery", "DeliveryCompleted"), notification_on_delivery_started, false},
};

const struct hb_component notification_component = {
    .name = "notification",
    HB_MIGRATIONS(notification_migrations),
    .routes = notification_routes,
    .n_routes = sizeof(notification_routes) / sizeof(notification_routes[0]),
    .tick = notification_tick_inline,
    .setup = notification_setup,
    /* Only final outcomes: a message being attempted or waiting to retry is not news. */
    .replay_sql = "SELECT id, order_id, status FROM notifications"
                  " WHERE updated_at >= ?1 AND status IN ('SENT', 'FAILED')"
                  " ORDER BY updated_at DESC LIMIT ?2",
    .announce = notification_announce,
};
