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

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration view_migrations[] = {
    {.sqlite = view_schema,
     .postgres =
    "CREATE TABLE IF NOT EXISTS mypage("
    "  order_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, product_name TEXT,"
    "  qty BIGINT, amount BIGINT NOT NULL DEFAULT 0,"
    "  order_status TEXT, order_version BIGINT NOT NULL DEFAULT 0,"
    "  payment_status TEXT, payment_version BIGINT NOT NULL DEFAULT 0,"
    "  delivery_status TEXT, delivery_version BIGINT NOT NULL DEFAULT 0,"
    "  notified BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS mypage_by_user ON mypage(user_id);"},
};

struct source_fields {
    int64_t order_id;
    int64_t user_id;
    int64_t version;
    const char *status;
};

/* Reads the fields every versioned event carries. */
static hb_err_t read_fields(struct hb_ctx *ctx, const struct hb_event *ev,
                            struct source_fields *f)
{
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &f->order_id) != HB_OK ||
        hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &f->user_id) != HB_OK ||
        hb_json_int(ev->data, "version", 1, INT64_MAX, &f->version) != HB_OK ||
        hb_json_str(ev->data, "status", 20, &f->status) != HB_OK) {
        return hb_ctx_reject(ctx, "event needs orderId, userId, version and status");
    }
    return HB_OK;
}

/* Each source's event below is one statement that creates the row or, for a newer
 * version, updates it (an insert that did nothing and an update cost two). In DO UPDATE
 * the row's own columns are named mypage.<column>: PostgreSQL finds a bare name ambiguous
 * beside excluded.<column>. */
hb_err_t view_on_order_event(struct hb_ctx *ctx, const struct hb_event *ev,
                             struct hb_reply *reply)
{
    (void)reply;
    struct source_fields f;
    int64_t qty = 0, amount = 0;
    const char *name = "";
    HB_RETURN_ON_ERR(read_fields(ctx, ev, &f));
    hb_json_int(ev->data, "qty", 1, 1000000, &qty);
    hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount);
    hb_json_str(ev->data, "productName", 100, &name);
    return hb_store_run(
        ctx->store,
        "INSERT INTO mypage(order_id, user_id, order_status, order_version, amount, qty,"
        " product_name) VALUES(?6, ?7, ?1, ?2, CASE WHEN ?3 > 0 THEN ?3 ELSE 0 END, ?4,"
        " NULLIF(?5, ''))"
        " ON CONFLICT(order_id) DO UPDATE SET order_status = ?1, order_version = ?2,"
        " amount = CASE WHEN ?3 > 0 THEN ?3 ELSE mypage.amount END, qty = ?4,"
        " product_name = COALESCE(NULLIF(?5, ''), mypage.product_name)"
        " WHERE mypage.order_version < ?2",
        HB_ARGS(HB_TEXT(f.status), HB_INT(f.version), HB_INT(amount), HB_INT(qty),
                HB_TEXT(name), HB_INT(f.order_id), HB_INT(f.user_id)));
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
    HB_RETURN_ON_ERR(read_fields(ctx, ev, &f));
    hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount);
    return hb_store_run(ctx->store,
                        "INSERT INTO mypage(order_id, user_id, payment_status, payment_version,"
                        " amount) VALUES(?4, ?5, ?1, ?2, ?3)"
                        " ON CONFLICT(order_id) DO UPDATE SET payment_status = ?1,"
                        " payment_version = ?2,"
                        " amount = CASE WHEN mypage.amount = 0 THEN ?3 ELSE mypage.amount END"
                        " WHERE mypage.payment_version < ?2",
                        HB_ARGS(HB_TEXT(f.status), HB_INT(f.version), HB_INT(amount),
                                HB_INT(f.order_id), HB_INT(f.user_id)));
}

hb_err_t view_on_delivery_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                struct hb_reply *reply)
{
    (void)reply;
    struct source_fields f;
    HB_RETURN_ON_ERR(read_fields(ctx, ev, &f));
    return hb_store_run(ctx->store,
                        "INSERT INTO mypage(order_id, user_id, delivery_status, delivery_version)"
                        " VALUES(?3, ?4, ?1, ?2) ON CONFLICT(order_id) DO UPDATE SET"
                        " delivery_status = ?1, delivery_version = ?2"
                        " WHERE mypage.delivery_version < ?2",
                        HB_ARGS(HB_TEXT(f.status), HB_INT(f.version), HB_INT(f.order_id),
                                HB_INT(f.user_id)));
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
    return hb_store_run(ctx->store,
                        "INSERT INTO mypage(order_id, user_id, notified) VALUES(?, ?, 1)"
                        " ON CONFLICT(order_id) DO UPDATE SET notified = 1",
                        HB_ARGS(HB_INT(order_id), HB_INT(user_id)));
}

hb_err_t view_mypage(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    HB_RETURN_ON_ERR(hb_reply_list(
        ctx, ev, reply, "userId",
        "SELECT order_id AS orderId, product_name AS productName, qty, amount,"
        " order_status AS orderStatus, payment_status AS paymentStatus,"
        " delivery_status AS deliveryStatus, notified"
        " FROM mypage WHERE user_id = ? ORDER BY order_id LIMIT " HB_STR(HB_LIST_MAX),
        NULL));
    /* notified is stored as INTEGER 0/1, the one boolean every backend of ours shares:
     * the row's 0/1 becomes the record's false/true. */
    cJSON *row = NULL;
    cJSON_ArrayForEach(row, reply->body)
    {
        cJSON *notified = cJSON_GetObjectItemCaseSensitive(row, "notified");
        cJSON *flag = cJSON_CreateBool(cJSON_IsNumber(notified) && notified->valuedouble != 0);
        if (!flag || !cJSON_ReplaceItemInObjectCaseSensitive(row, "notified", flag)) {
            cJSON_Delete(flag);
            return HB_ERR_NOMEM;
        }
    }
    return HB_OK;
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
    HB_MIGRATIONS(view_migrations),
    .routes = view_routes,
    .n_routes = sizeof(view_routes) / sizeof(view_routes[0]),
};
