/* Order state machine: places orders, follows the other steps' outcomes, drives
 * compensations on cancel, and re-drives steps that got no answer. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"
#include "hausbus/metrics.h"
#include "hausbus/text.h"

#define REDRIVE_BATCH 100
#define REDRIVE_BACKOFF_MAX_SHIFT 6

/* The bucket of a step latency d (ms): the index of the first bound of
 * saga_latency_le_ms that d is not over, 23 when it is over them all. The people steps
 * (paid_to_preparing, shipping_to_delivered) take hours or days, so the bounds reach a
 * week. Keep in step with saga_latency_le_ms (a unit test checks every bound). */
#define LATENCY_BUCKET_SQL                                                                     \
    "CASE WHEN d <= 5 THEN 0 WHEN d <= 10 THEN 1 WHEN d <= 25 THEN 2 WHEN d <= 50 THEN 3"      \
    " WHEN d <= 100 THEN 4 WHEN d <= 250 THEN 5 WHEN d <= 500 THEN 6 WHEN d <= 1000 THEN 7"    \
    " WHEN d <= 2500 THEN 8 WHEN d <= 5000 THEN 9 WHEN d <= 10000 THEN 10"                     \
    " WHEN d <= 30000 THEN 11 WHEN d <= 60000 THEN 12 WHEN d <= 300000 THEN 13"                \
    " WHEN d <= 900000 THEN 14 WHEN d <= 3600000 THEN 15 WHEN d <= 10800000 THEN 16"           \
    " WHEN d <= 21600000 THEN 17 WHEN d <= 43200000 THEN 18 WHEN d <= 86400000 THEN 19"        \
    " WHEN d <= 172800000 THEN 20 WHEN d <= 345600000 THEN 21 WHEN d <= 604800000 THEN 22"     \
    " ELSE 23 END"

/* The saga step before step (an SQL expression): the pairs whose latency is measured. */
#define PREVIOUS_STEP_SQL(step)                                                                \
    "CASE " step " WHEN 'PAID' THEN 'PLACED' WHEN 'PREPARING' THEN 'PAID'"                     \
    " WHEN 'SHIPPING' THEN 'PREPARING' ELSE 'SHIPPING' END"

/* Saga step pairs whose latency the metrics report, as "<from>_to_<to>" in lower case
 * (the names order_step_latency's trigger builds). */
static const struct {
    const char *name;
    const char *from;
    const char *to;
} saga_steps[] = {
    {"placed_to_paid", "PLACED", "PAID"},
    {"paid_to_preparing", "PAID", "PREPARING"},
    {"preparing_to_shipping", "PREPARING", "SHIPPING"},
    {"shipping_to_delivered", "SHIPPING", "DELIVERED"},
};

/* The bounds of order_step_latency's buckets (ms): 5 ms .. 10 s for the machine steps, on
 * to 7 days for the steps that wait on people. Keep in step with LATENCY_BUCKET_SQL. */
static const double saga_latency_le_ms[] = {
    5,       10,      25,       50,       100,      250,      500,       1000,
    2500,    5000,    10000,    30000,    60000,    300000,   900000,    3600000,
    10800000, 21600000, 43200000, 86400000, 172800000, 345600000, 604800000};
_Static_assert(sizeof(saga_latency_le_ms) / sizeof(saga_latency_le_ms[0]) <=
                   HB_HISTOGRAM_BUCKETS_MAX,
               "saga latency bounds fit one hb_histogram");

static const char order_schema[] =
    "CREATE TABLE IF NOT EXISTS orders("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  product_id INTEGER NOT NULL, product_name TEXT, qty INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL, amount INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL, reason TEXT,"
    "  delivery_id INTEGER NOT NULL DEFAULT 0, delivery_status TEXT,"
    "  delivery_version INTEGER NOT NULL DEFAULT 0,"
    "  cancel_phase INTEGER NOT NULL DEFAULT 0," /* 1: waiting for delivery, 2: for stock+payment */
    "  stock_released INTEGER NOT NULL DEFAULT 0, payment_settled INTEGER NOT NULL DEFAULT 0,"
    "  version INTEGER NOT NULL DEFAULT 1, updated_at INTEGER NOT NULL,"
    "  redrives INTEGER NOT NULL DEFAULT 0, next_redrive_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id);"
    "CREATE INDEX IF NOT EXISTS orders_by_redrive ON orders(next_redrive_at)"
    "  WHERE next_redrive_at IS NOT NULL;"
    /* Each status an order reached, once, with when (ms): the saga metrics count these
     * rows, so a redelivered or replayed event can never count twice. record_step writes
     * them in the transaction of the status change itself. */
    "CREATE TABLE IF NOT EXISTS order_steps("
    "  order_id INTEGER NOT NULL, step TEXT NOT NULL, at INTEGER,"
    "  PRIMARY KEY(order_id, step)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS order_steps_by_step ON order_steps(step, order_id);"
    /* Step latencies, aggregated as the steps happen so a snapshot costs the same with a
     * million orders as with ten: per "<from>_to_<to>" and bucket (index into
     * saga_latency_le_ms, 23 = over the last bound), how many and their sum (ms). */
    "CREATE TABLE IF NOT EXISTS order_step_latency("
    "  name TEXT NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL, sum_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(name, bucket)) WITHOUT ROWID;"
    /* A database from before the buckets reached days has the first trigger, whose
     * bucket 11 meant "over 10 s": forget that aggregate and the trigger; the rebuild
     * below counts it again, exactly, from order_steps, which keeps every step's time. */
    "DELETE FROM order_step_latency WHERE EXISTS (SELECT 1 FROM sqlite_master"
    "  WHERE type = 'trigger' AND name = 'order_step_latency_on_step');"
    "DROP TRIGGER IF EXISTS order_step_latency_on_step;"
    /* Until this release triggers wrote the steps and their latencies; record_step does it
     * in C now (a trigger program cost more than the rest of a status change), so a
     * database from before drops them instead of counting twice. */
    "DROP TRIGGER IF EXISTS order_step_latency_on_step_v2;"
    "DROP TRIGGER IF EXISTS order_steps_on_insert;"
    "DROP TRIGGER IF EXISTS order_steps_on_update;"
    /* An empty aggregate is rebuilt from the steps (a no-op on a new database). */
    "INSERT INTO order_step_latency(name, bucket, n, sum_ms)"
    "  SELECT name, " LATENCY_BUCKET_SQL ", count(*), sum(d) FROM ("
    "    SELECT lower(prev.step) || '_to_' || lower(cur.step) AS name,"
    "      max(cur.at - prev.at, 0) AS d"
    "    FROM order_steps AS cur JOIN order_steps AS prev ON prev.order_id = cur.order_id"
    "      AND prev.step = " PREVIOUS_STEP_SQL("cur.step")
    "    WHERE cur.step IN ('PAID', 'PREPARING', 'SHIPPING', 'DELIVERED')"
    "      AND cur.at IS NOT NULL AND prev.at IS NOT NULL)"
    "  WHERE NOT EXISTS (SELECT 1 FROM order_step_latency) GROUP BY 1, 2;"
    /* A database from before order_steps: what each order evidently went through, without
     * times (no latencies). Runs on every start but inserts only while the table is empty,
     * which after the first new order it never is again. */
    "INSERT OR IGNORE INTO order_steps(order_id, step, at)"
    "  SELECT id, step, NULL FROM ("
    "    SELECT id, 'PLACED' AS step FROM orders"
    "    UNION ALL SELECT id, status FROM orders"
    "    UNION ALL SELECT id, 'PAID' FROM orders"
    "      WHERE status IN ('PREPARING', 'SHIPPING', 'DELIVERED'))"
    "  WHERE NOT EXISTS (SELECT 1 FROM order_steps);";

/* Numbered: a change is a new entry at the end (hb_migration). */
static const struct hb_migration order_migrations[] = {
    {.sqlite = order_schema,
     .postgres =
    "CREATE TABLE IF NOT EXISTS orders("
    "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  product_id BIGINT NOT NULL, product_name TEXT, qty BIGINT NOT NULL,"
    "  user_id BIGINT NOT NULL, amount BIGINT NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL, reason TEXT,"
    "  delivery_id BIGINT NOT NULL DEFAULT 0, delivery_status TEXT,"
    "  delivery_version BIGINT NOT NULL DEFAULT 0,"
    "  cancel_phase BIGINT NOT NULL DEFAULT 0,"
    "  stock_released BIGINT NOT NULL DEFAULT 0, payment_settled BIGINT NOT NULL DEFAULT 0,"
    "  version BIGINT NOT NULL DEFAULT 1, updated_at BIGINT NOT NULL,"
    "  redrives BIGINT NOT NULL DEFAULT 0, next_redrive_at BIGINT);"
    "CREATE INDEX IF NOT EXISTS orders_by_user ON orders(user_id);"
    "CREATE INDEX IF NOT EXISTS orders_by_redrive ON orders(next_redrive_at)"
    "  WHERE next_redrive_at IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS order_steps("
    "  order_id BIGINT NOT NULL, step TEXT NOT NULL, at BIGINT,"
    "  PRIMARY KEY(order_id, step));"
    "CREATE INDEX IF NOT EXISTS order_steps_by_step ON order_steps(step, order_id);"
    "CREATE TABLE IF NOT EXISTS order_step_latency("
    "  name TEXT NOT NULL, bucket BIGINT NOT NULL, n BIGINT NOT NULL, sum_ms BIGINT NOT NULL,"
    "  PRIMARY KEY(name, bucket));"},
};

/* The order as the API shows it (GET, lists); events carry the same fields with "orderId"
 * for "id", like every other event of the saga, built from struct order by
 * order_snapshot in the same order (a unit test holds the two to each other). Column
 * names are the JSON names (hb_store_query_object builds the JSON). */
#define ORDER_FIELDS(id_key)                                                                   \
    "SELECT id AS " id_key ", product_id AS productId,"                                        \
    " product_name AS productName, qty, user_id AS userId, amount,"                            \
    " status, reason, NULLIF(delivery_id, 0) AS deliveryId, version"

struct order {
    int64_t id;
    int64_t product_id;
    int64_t qty;
    int64_t user_id;
    int64_t amount;
    int64_t delivery_id;
    int64_t delivery_version;
    int64_t version;
    int64_t redrives;
    int cancel_phase;
    bool stock_released;
    bool payment_settled;
    char status[20];
    char stored_status[20]; /* status as loaded: a change is a saga step (record_step) */
    char reason[32];
    char delivery_status[20];
    char product_name[101];
};

static bool is(const struct order *o, const char *status)
{
    return strcmp(o->status, status) == 0;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    hb_strlcpy(dst, src ? src : "", cap);
}

/* Loads order id into o; with HB_LOCK_WAIT locked until the transaction ends: two replicas
 * handling two events of one order at once take turns, the second seeing the first's
 * change. HB_ERR_NOT_FOUND when there is no such order. */
static hb_err_t order_load_as(struct hb_ctx *ctx, int64_t id, enum hb_lock lock,
                              struct order *o)
{
    struct hb_rows rows;
    bool found = false;
    HB_RETURN_ON_ERR(hb_store_select_locked(
        ctx->store,
        "SELECT amount, delivery_id, delivery_version, version, redrives, cancel_phase,"
        " stock_released, payment_settled, status, reason, delivery_status, product_name,"
        " product_id, qty, user_id FROM orders WHERE id = ?",
        HB_ARGS(HB_INT(id)), lock, &rows));
    hb_err_t rc = hb_rows_next(&rows, &found);
    if (rc == HB_OK && !found) {
        rc = HB_ERR_NOT_FOUND;
    }
    if (rc == HB_OK) {
        memset(o, 0, sizeof(*o));
        o->id = id;
        o->amount = hb_rows_int(&rows, 0);
        o->delivery_id = hb_rows_int(&rows, 1);
        o->delivery_version = hb_rows_int(&rows, 2);
        o->version = hb_rows_int(&rows, 3);
        o->redrives = hb_rows_int(&rows, 4);
        o->cancel_phase = (int)hb_rows_int(&rows, 5);
        o->stock_released = hb_rows_int(&rows, 6) != 0;
        o->payment_settled = hb_rows_int(&rows, 7) != 0;
        copy_text(o->status, sizeof(o->status), hb_rows_text(&rows, 8));
        memcpy(o->stored_status, o->status, sizeof(o->status));
        copy_text(o->reason, sizeof(o->reason), hb_rows_text(&rows, 9));
        copy_text(o->delivery_status, sizeof(o->delivery_status), hb_rows_text(&rows, 10));
        copy_text(o->product_name, sizeof(o->product_name), hb_rows_text(&rows, 11));
        o->product_id = hb_rows_int(&rows, 12);
        o->qty = hb_rows_int(&rows, 13);
        o->user_id = hb_rows_int(&rows, 14);
    }
    hb_rows_close(&rows);
    return rc;
}

/* order_load_as, locked: what a handler that changes the order reads. */
static hb_err_t order_load(struct hb_ctx *ctx, int64_t id, struct order *o)
{
    return order_load_as(ctx, id, HB_LOCK_WAIT, o);
}

/* The bucket of a step latency of d ms: the first bound of saga_latency_le_ms that d is
 * not over, the count of bounds when it is over them all (as LATENCY_BUCKET_SQL). */
static int64_t latency_bucket(int64_t d)
{
    size_t n = sizeof(saga_latency_le_ms) / sizeof(saga_latency_le_ms[0]);
    for (size_t i = 0; i < n; i++) {
        if ((double)d <= saga_latency_le_ms[i]) {
            return (int64_t)i;
        }
    }
    return (int64_t)n;
}

/* Adds the latency from the step before `step` (saga_steps) to `step` at `at` to
 * order_step_latency, when the order has that earlier step with a time. */
static hb_err_t record_step_latency(struct hb_ctx *ctx, int64_t order_id, const char *step,
                                    int64_t at)
{
    size_t i = 0;
    size_t n = sizeof(saga_steps) / sizeof(saga_steps[0]);
    while (i < n && strcmp(saga_steps[i].to, step) != 0) {
        i++;
    }
    if (i == n) {
        return HB_OK; /* a step whose latency is not measured */
    }
    /* A select rather than hb_store_query_int: no row and any time at all stay apart. */
    struct hb_rows rows;
    bool found = false;
    HB_RETURN_ON_ERR(hb_store_select(
        ctx->store, "SELECT at FROM order_steps WHERE order_id = ? AND step = ? AND at IS NOT NULL",
        HB_ARGS(HB_INT(order_id), HB_TEXT(saga_steps[i].from)), &rows));
    hb_err_t rc = hb_rows_next(&rows, &found);
    int64_t from_at = found ? hb_rows_int(&rows, 0) : 0;
    hb_rows_close(&rows);
    if (rc != HB_OK || !found) {
        return rc;
    }
    int64_t d = at > from_at ? at - from_at : 0;
    /* The old row's columns are named by the table: PostgreSQL finds a bare `n` ambiguous
     * next to excluded.n. */
    return hb_store_run(ctx->store,
                        "INSERT INTO order_step_latency(name, bucket, n, sum_ms)"
                        " VALUES(?, ?, 1, ?) ON CONFLICT(name, bucket) DO UPDATE"
                        " SET n = order_step_latency.n + 1,"
                        " sum_ms = order_step_latency.sum_ms + excluded.sum_ms",
                        HB_ARGS(HB_TEXT(saga_steps[i].name), HB_INT(latency_bucket(d)),
                                HB_INT(d)));
}

/* Records that the order reached `step` at `at` (ms), once: a step seen again (a replay,
 * a refused cancel that keeps SHIPPING) changes nothing, so nothing counts twice. */
static hb_err_t record_step(struct hb_ctx *ctx, int64_t order_id, const char *step, int64_t at)
{
    HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                  "INSERT INTO order_steps(order_id, step, at) VALUES(?, ?, ?)"
                                  " ON CONFLICT(order_id, step) DO NOTHING",
                                  HB_ARGS(HB_INT(order_id), HB_TEXT(step), HB_INT(at))));
    bool fresh = hb_store_changes(ctx->store) == 1;
    return fresh ? record_step_latency(ctx, order_id, step, at) : HB_OK;
}

/* Adds text under key, a literal, or null for "" (the columns store NULLIF(text, '')). */
static bool add_text_or_null(cJSON *obj, const char *key, const char *text)
{
    return text[0] ? hb_json_put_text(obj, key, text) : hb_json_put_null(obj, key);
}

/* The order's snapshot as its events carry it: ORDER_FIELDS("orderId") in its order,
 * from o, which holds what was just written, so nothing is read back. NULL when out of
 * memory. */
static cJSON *order_snapshot(const struct order *o)
{
    cJSON *d = cJSON_CreateObject();
    bool ok = d && hb_json_put_int(d, "orderId", o->id) &&
              hb_json_put_int(d, "productId", o->product_id) &&
              add_text_or_null(d, "productName", o->product_name) &&
              hb_json_put_int(d, "qty", o->qty) && hb_json_put_int(d, "userId", o->user_id) &&
              hb_json_put_int(d, "amount", o->amount) &&
              hb_json_put_text(d, "status", o->status) &&
              add_text_or_null(d, "reason", o->reason) &&
              (o->delivery_id ? hb_json_put_int(d, "deliveryId", o->delivery_id)
                              : hb_json_put_null(d, "deliveryId")) &&
              hb_json_put_int(d, "version", o->version);
    if (!ok) {
        cJSON_Delete(d);
        return NULL;
    }
    return d;
}

/* Emits event_type carrying the order's current snapshot. */
static hb_err_t emit_snapshot(struct hb_ctx *ctx, const struct order *o, const char *event_type)
{
    cJSON *snapshot = order_snapshot(o);
    if (!snapshot) {
        return HB_ERR_NOMEM;
    }
    return hb_store_emit(ctx->store, event_type, o->id, snapshot);
}

/* True while the order waits for another component's answer (and may need a re-drive). */
static bool is_waiting(const struct order *o)
{
    return is(o, "PLACED") || is(o, "STOCK_RESERVED") || is(o, "CANCELLING") ||
           (is(o, "PAID") && o->delivery_id == 0) || (is(o, "REJECTED") && !o->stock_released);
}

/* Writes o back. A changed status bumps the version, resets the re-drive clock and emits
 * event_type with the order's snapshot; event_type NULL stores quietly. */
static hb_err_t order_store(struct hb_ctx *ctx, struct order *o, const char *event_type)
{
    if (event_type) {
        o->version++;
        o->redrives = 0;
    }
    /* ?13 (announced) and ?15 (waiting) are 0/1 integers, compared rather than used as
     * conditions: PostgreSQL takes no integer for a boolean. */
    HB_RETURN_ON_ERR(hb_store_run(
        ctx->store,
        "UPDATE orders SET amount = ?1, delivery_id = ?2, delivery_version = ?3, version = ?4,"
        " redrives = ?5, cancel_phase = ?6, stock_released = ?7, payment_settled = ?8,"
        " status = ?9, reason = NULLIF(?10, ''), delivery_status = NULLIF(?11, ''),"
        " product_name = NULLIF(?12, ''),"
        " updated_at = CASE WHEN ?13 <> 0 THEN ?14 ELSE updated_at END,"
        " next_redrive_at = CASE WHEN ?15 = 0 THEN NULL WHEN ?13 <> 0 THEN ?16"
        " ELSE COALESCE(next_redrive_at, ?16) END"
        " WHERE id = ?17",
        HB_ARGS(HB_INT(o->amount), HB_INT(o->delivery_id), HB_INT(o->delivery_version),
                HB_INT(o->version), HB_INT(o->redrives), HB_INT(o->cancel_phase),
                HB_INT(o->stock_released), HB_INT(o->payment_settled), HB_TEXT(o->status),
                HB_TEXT(o->reason), HB_TEXT(o->delivery_status), HB_TEXT(o->product_name),
                HB_INT(event_type != NULL), HB_INT(ctx->now_ms), HB_INT(is_waiting(o)),
                HB_INT(ctx->now_ms + ctx->cfg->redrive_ms), HB_INT(o->id))));
    if (strcmp(o->status, o->stored_status) != 0) {
        /* updated_at moves with every announced change, and only they change the status */
        HB_RETURN_ON_ERR(record_step(ctx, o->id, o->status, ctx->now_ms));
        memcpy(o->stored_status, o->status, sizeof(o->status));
    }
    if (!event_type) {
        return HB_OK;
    }
    HB_LOGI(o->id, "order %s (%s)", o->status, event_type);
    return emit_snapshot(ctx, o, event_type);
}

static hb_err_t transition(struct hb_ctx *ctx, struct order *o, const char *status,
                           const char *event_type)
{
    hb_strlcpy(o->status, status, sizeof(o->status));
    return order_store(ctx, o, event_type);
}

/* Reads data.orderId and loads that order; an event about an unknown order is rejected
 * (dead-lettered) since nothing here can apply it. */
static hb_err_t load_from_event(struct hb_ctx *ctx, const struct hb_event *ev, struct order *o)
{
    int64_t id = 0;
    if (hb_json_int(ev->data, "orderId", 1, HB_ID_MAX, &id) != HB_OK) {
        return hb_ctx_reject(ctx, "data.orderId must be a positive integer");
    }
    hb_err_t rc = order_load(ctx, id, o);
    if (rc == HB_ERR_NOT_FOUND) {
        return hb_ctx_reject(ctx, "unknown order");
    }
    return rc;
}

/* The product component is the authority on what a product is called: an answer of
 * product's that names it (StockReserved, StockRejected, StockReleased), or a payment
 * event relaying the name StockReserved gave (PaymentApproved or PaymentDeclined can
 * overtake it), sets the order's productName, even over one already stored (an order
 * placed before this rule stored the client's). The client's name never does (order_place
 * ignores it), nor does a delivery's (it only repeats ours). Can't fail; an event
 * without a name changes nothing. */
static void take_product_name(struct order *o, const struct hb_event *ev)
{
    const char *name = NULL;
    if (hb_json_str(ev->data, "productName", sizeof(o->product_name) - 1, &name) == HB_OK) {
        hb_strlcpy(o->product_name, name, sizeof(o->product_name));
    }
}

static hb_err_t reply_status(struct hb_reply *reply, int code, const struct order *o)
{
    reply->code = code;
    reply->body = cJSON_CreateObject();
    if (!reply->body || !hb_json_put_int(reply->body, "id", o->id) ||
        !hb_json_put_text(reply->body, "status", o->status)) {
        return HB_ERR_NOMEM;
    }
    snprintf(reply->location, sizeof(reply->location), "/orders/%lld", (long long)o->id);
    return HB_OK;
}

/* A client-sent productName is ignored: the order stays unnamed (productName null) until
 * product answers with the product's own name (take_product_name). */
hb_err_t order_place(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    int64_t product_id, qty, user_id;
    if (hb_json_int(ev->data, "productId", 1, HB_ID_MAX, &product_id) != HB_OK) {
        return hb_ctx_reject(ctx, "productId must be a positive integer");
    }
    if (hb_json_int(ev->data, "qty", 1, 1000000, &qty) != HB_OK) {
        return hb_ctx_reject(ctx, "qty must be an integer between 1 and 1000000");
    }
    if (hb_json_int(ev->data, "userId", 1, HB_ID_MAX, &user_id) != HB_OK) {
        return hb_ctx_reject(ctx, "userId must be a positive integer");
    }
    int64_t id = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                        "INSERT INTO orders(product_id, qty, user_id, status,"
                                        " updated_at, next_redrive_at)"
                                        " VALUES(?, ?, ?, 'PLACED', ?, ?) RETURNING id",
                                        HB_ARGS(HB_INT(product_id), HB_INT(qty), HB_INT(user_id),
                                                HB_INT(ctx->now_ms),
                                                HB_INT(ctx->now_ms + ctx->cfg->redrive_ms)),
                                        0, &id));
    /* The row as inserted is the order's first state (version 1, its re-drive clock set):
     * it is announced as it is, without order_store's load and UPDATE, which would only
     * write the same values again. */
    struct order o = {.id = id,
                      .product_id = product_id,
                      .qty = qty,
                      .user_id = user_id,
                      .version = 1};
    snprintf(o.status, sizeof(o.status), "PLACED");
    HB_RETURN_ON_ERR(record_step(ctx, o.id, o.status, ctx->now_ms));
    HB_LOGI(o.id, "order %s (%s)", o.status, "OrderPlaced");
    HB_RETURN_ON_ERR(emit_snapshot(ctx, &o, "OrderPlaced"));
    return reply_status(reply, 202, &o);
}

hb_err_t order_cancel(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    int64_t id;
    struct order o;
    if (hb_json_int(ev->data, "id", 1, HB_ID_MAX, &id) != HB_OK) {
        return hb_ctx_reject(ctx, "id must be a positive integer");
    }
    hb_err_t rc = order_load(ctx, id, &o);
    if (rc == HB_ERR_NOT_FOUND) {
        return hb_reply_error(reply, 404, "order not found");
    }
    HB_RETURN_ON_ERR(rc);
    if (is(&o, "PLACED") || is(&o, "STOCK_RESERVED")) {
        /* No delivery can exist yet: release the stock and settle the payment at once. */
        o.cancel_phase = 2;
        HB_RETURN_ON_ERR(transition(ctx, &o, "CANCELLING", "OrderWithdrawn"));
    } else if (is(&o, "PAID") || is(&o, "PREPARING")) {
        /* The delivery component arbitrates the race with the brand's "start" first. */
        o.cancel_phase = 1;
        HB_RETURN_ON_ERR(transition(ctx, &o, "CANCELLING", "OrderCancelling"));
    } else if (!is(&o, "CANCELLING") && !is(&o, "CANCELLED")) {
        char msg[96];
        snprintf(msg, sizeof(msg), "order is %s and can no longer be cancelled", o.status);
        return hb_reply_error(reply, 409, msg);
    }
    return reply_status(reply, 202, &o);
}

#define ORDER_LIST_SQL(where)                                                                  \
    ORDER_FIELDS("id") " FROM orders " where " ORDER BY id LIMIT " HB_STR(HB_LIST_MAX)

hb_err_t order_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_record(ctx, ev, reply, "id", ORDER_FIELDS("id") " FROM orders WHERE id = ?",
                           "order not found");
}

hb_err_t order_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    return hb_reply_list(ctx, ev, reply, "userId", ORDER_LIST_SQL("WHERE user_id = ?"),
                         ORDER_LIST_SQL(""));
}

/* Finishes a cancel once stock is released and the payment is settled. */
static hb_err_t finish_cancel_if_done(struct hb_ctx *ctx, struct order *o)
{
    if (is(o, "CANCELLING") && o->cancel_phase == 2 && o->stock_released &&
        o->payment_settled) {
        o->cancel_phase = 0;
        return transition(ctx, o, "CANCELLED", "OrderCancelled");
    }
    return order_store(ctx, o, NULL);
}

hb_err_t order_on_stock_reserved(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    int64_t amount;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    if (hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount) != HB_OK) {
        return hb_ctx_reject(ctx, "data.amount must be a non-negative integer");
    }
    o.amount = amount;
    take_product_name(&o, ev);
    if (is(&o, "PLACED")) {
        return transition(ctx, &o, "STOCK_RESERVED", "OrderStockReserved");
    }
    return order_store(ctx, &o, NULL); /* late or replayed: CANCELLING releases it anyway */
}

hb_err_t order_on_stock_rejected(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    const char *reason = NULL;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    if (hb_json_str(ev->data, "reason", sizeof(o.reason) - 1, &reason) != HB_OK) {
        return hb_ctx_reject(ctx, "data.reason must be a short string");
    }
    if (!is(&o, "PLACED")) {
        return HB_OK;
    }
    snprintf(o.reason, sizeof(o.reason), "%s", reason);
    take_product_name(&o, ev); /* none for an unknown product */
    o.stock_released = true; /* nothing was held */
    return transition(ctx, &o, "REJECTED", "OrderRejected");
}

hb_err_t order_on_stock_released(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    o.stock_released = true;
    take_product_name(&o, ev); /* an order withdrawn before product answered had none */
    return finish_cancel_if_done(ctx, &o);
}

hb_err_t order_on_payment_approved(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    int64_t amount;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    if (hb_json_int(ev->data, "amount", 0, INT64_MAX, &amount) != HB_OK) {
        return hb_ctx_reject(ctx, "data.amount must be a non-negative integer");
    }
    /* PLACED too: payment answers product directly, so its event may overtake ours. */
    if (is(&o, "PLACED") || is(&o, "STOCK_RESERVED")) {
        o.amount = amount;
        take_product_name(&o, ev);
        return transition(ctx, &o, "PAID", "OrderPaid");
    }
    return HB_OK; /* CANCELLING: the withdrawal refunds it */
}

hb_err_t order_on_payment_declined(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    if (is(&o, "PLACED") || is(&o, "STOCK_RESERVED")) {
        snprintf(o.reason, sizeof(o.reason), "payment_declined");
        take_product_name(&o, ev);
        o.payment_settled = true;
        /* OrderRejected tells product to release the reservation. */
        return transition(ctx, &o, "REJECTED", "OrderRejected");
    }
    return HB_OK;
}

hb_err_t order_on_payment_settled(struct hb_ctx *ctx, const struct hb_event *ev,
                                  struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    o.payment_settled = true;
    return finish_cancel_if_done(ctx, &o);
}

/* Applies a delivery event: deliveries move the order forward, and decide a cancel. */
hb_err_t order_on_delivery_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply)
{
    (void)reply;
    struct order o;
    int64_t delivery_id, version;
    const char *status = NULL;
    HB_RETURN_ON_ERR(load_from_event(ctx, ev, &o));
    if (hb_json_int(ev->data, "deliveryId", 1, HB_ID_MAX, &delivery_id) != HB_OK ||
        hb_json_int(ev->data, "version", 1, INT64_MAX, &version) != HB_OK ||
        hb_json_str(ev->data, "status", 15, &status) != HB_OK) {
        return hb_ctx_reject(ctx, "delivery event needs deliveryId, version and status");
    }
    bool deciding_cancel = is(&o, "CANCELLING") && o.cancel_phase == 1;
    bool cancel_answer = strcmp(ev->type, "DeliveryCancelled") == 0 ||
                         strcmp(ev->type, "DeliveryCancelRefused") == 0;
    /* A refusal does not change the delivery, so it carries the version of the
     * DeliveryStarted we may already have: answers to our cancel skip the version check. */
    if (version <= o.delivery_version && !(deciding_cancel && cancel_answer)) {
        return HB_OK; /* older than what we know: redelivered or overtaken */
    }
    o.delivery_id = delivery_id;
    if (version > o.delivery_version) {
        o.delivery_version = version;
        snprintf(o.delivery_status, sizeof(o.delivery_status), "%s", status);
    }

    bool forward = is(&o, "PAID") || is(&o, "PREPARING") || is(&o, "SHIPPING");
    if (strcmp(ev->type, "DeliveryConfirmed") == 0 && is(&o, "PAID")) {
        return transition(ctx, &o, "PREPARING", "OrderPreparing");
    }
    if (strcmp(ev->type, "DeliveryStarted") == 0 && forward && !is(&o, "SHIPPING")) {
        return transition(ctx, &o, "SHIPPING", "OrderShipping");
    }
    if (strcmp(ev->type, "DeliveryCompleted") == 0 && forward) {
        return transition(ctx, &o, "DELIVERED", "OrderDelivered");
    }
    if (strcmp(ev->type, "DeliveryCancelled") == 0 && deciding_cancel) {
        o.cancel_phase = 2;
        return order_store(ctx, &o, "OrderWithdrawn");
    }
    if (strcmp(ev->type, "DeliveryCancelRefused") == 0 && deciding_cancel) {
        o.cancel_phase = 0;
        snprintf(o.reason, sizeof(o.reason), "cancel_refused");
        return transition(ctx, &o, strcmp(status, "DELIVERED") == 0 ? "DELIVERED" : "SHIPPING",
                          "OrderCancelRefused");
    }
    return order_store(ctx, &o, NULL);
}

/* The event that announces the order's current state again; for a waiting order it is
 * the one that asks again for the step it waits on. */
static const char *announce_event(const struct order *o)
{
    static const struct {
        const char *status;
        const char *event;
    } events[] = {
        {"PLACED", "OrderPlaced"}, /* product replays its answer, payment replays its own */
        {"STOCK_RESERVED", "OrderPlaced"}, {"PAID", "OrderPaid"},
        {"PREPARING", "OrderPreparing"},   {"SHIPPING", "OrderShipping"},
        {"DELIVERED", "OrderDelivered"},   {"CANCELLED", "OrderCancelled"},
    };
    if (is(o, "CANCELLING")) {
        return o->cancel_phase == 1 ? "OrderCancelling" : "OrderWithdrawn";
    }
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        if (is(o, events[i].status)) {
            return events[i].event;
        }
    }
    return "OrderRejected";
}

hb_err_t order_redrive(struct hb_ctx *ctx)
{
    struct hb_rows rows;
    int64_t ids[REDRIVE_BATCH];
    int n = 0;
    bool row = false;
    /* The ids are read and the query closed first: the UPDATE below changes the rows it
     * scans. Rows another replica holds are left to it (its handler or its own re-drive). */
    HB_RETURN_ON_ERR(hb_store_select_locked(
        ctx->store,
        "SELECT id FROM orders WHERE next_redrive_at IS NOT NULL AND next_redrive_at <= ?"
        " ORDER BY next_redrive_at LIMIT ?",
        HB_ARGS(HB_INT(ctx->now_ms), HB_INT(REDRIVE_BATCH)), HB_LOCK_SKIP, &rows));
    hb_err_t rc = HB_OK;
    while (n < REDRIVE_BATCH && (rc = hb_rows_next(&rows, &row)) == HB_OK && row) {
        ids[n++] = hb_rows_int(&rows, 0);
    }
    hb_rows_close(&rows);
    HB_RETURN_ON_ERR(rc);
    for (int i = 0; i < n; i++) {
        struct order o;
        HB_RETURN_ON_ERR(order_load(ctx, ids[i], &o));
        int shift = o.redrives < REDRIVE_BACKOFF_MAX_SHIFT ? (int)o.redrives
                                                           : REDRIVE_BACKOFF_MAX_SHIFT;
        int64_t next = ctx->now_ms + ((int64_t)ctx->cfg->redrive_ms << (shift + 1));
        const char *type = announce_event(&o);
        HB_LOGW(o.id, "no answer while %s, re-driving with %s (attempt %lld)", o.status, type,
                (long long)o.redrives + 1);
        HB_RETURN_ON_ERR(hb_store_run(ctx->store,
                                      "UPDATE orders SET redrives = redrives + 1,"
                                      " next_redrive_at = ? WHERE id = ?",
                                      HB_ARGS(HB_INT(next), HB_INT(o.id))));
        HB_RETURN_ON_ERR(emit_snapshot(ctx, &o, type));
    }
    return HB_OK;
}

hb_err_t order_announce(struct hb_ctx *ctx, const struct hb_rows *row)
{
    struct order o;
    /* Unlocked: a replay announces up to HB_REPLAY_LIMIT orders in one transaction, and
     * holding them all would stall every replica's handlers on them. */
    HB_RETURN_ON_ERR(order_load_as(ctx, hb_rows_int(row, 0), HB_LOCK_NONE, &o));
    return emit_snapshot(ctx, &o, announce_event(&o));
}

#define SAGA_REASONS_MAX 32 /* rejection reasons reported; they come from our own code */

/* Adds {"placed","paid","cancelled","delivered"} counts of order_steps to saga. */
static hb_err_t saga_counts(struct hb_ctx *ctx, cJSON *saga)
{
    static const struct {
        const char *key;
        const char *step;
    } counted[] = {{"placed", "PLACED"}, {"paid", "PAID"}, {"cancelled", "CANCELLED"},
                   {"delivered", "DELIVERED"}};
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
        int64_t n = 0;
        HB_RETURN_ON_ERR(hb_store_query_int(ctx->store,
                                            "SELECT count(*) FROM order_steps WHERE step = ?",
                                            HB_ARGS(HB_TEXT(counted[i].step)), 0, &n));
        if (!cJSON_AddNumberToObject(saga, counted[i].key, (double)n)) {
            return HB_ERR_NOMEM;
        }
    }
    return HB_OK;
}

/* Adds "rejected": {reason: count} (an order without a reason counts as "unknown"). */
static hb_err_t saga_rejected(struct hb_ctx *ctx, cJSON *saga)
{
    cJSON *rejected = cJSON_AddObjectToObject(saga, "rejected");
    struct hb_rows rows;
    bool row = false;
    if (!rejected) {
        return HB_ERR_NOMEM;
    }
    HB_RETURN_ON_ERR(hb_store_select(
        ctx->store,
        "SELECT COALESCE(o.reason, 'unknown'), count(*) FROM order_steps AS st"
        " JOIN orders AS o ON o.id = st.order_id WHERE st.step = 'REJECTED'"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT " HB_STR(SAGA_REASONS_MAX),
        HB_NO_ARGS, &rows));
    hb_err_t rc;
    while ((rc = hb_rows_next(&rows, &row)) == HB_OK && row) {
        const char *reason = hb_rows_text(&rows, 0);
        if (!cJSON_AddNumberToObject(rejected, reason ? reason : "unknown",
                                     (double)hb_rows_int(&rows, 1))) {
            rc = HB_ERR_NOMEM;
            break;
        }
    }
    hb_rows_close(&rows);
    return rc;
}

/* Adds "stepLatencyMs": a histogram per saga_steps pair from order_step_latency. */
static hb_err_t saga_latencies(struct hb_ctx *ctx, cJSON *saga)
{
    cJSON *latencies = cJSON_AddObjectToObject(saga, "stepLatencyMs");
    if (!latencies) {
        return HB_ERR_NOMEM;
    }
    for (size_t i = 0; i < sizeof(saga_steps) / sizeof(saga_steps[0]); i++) {
        struct hb_histogram h;
        hb_histogram_init(&h, saga_latency_le_ms,
                          sizeof(saga_latency_le_ms) / sizeof(saga_latency_le_ms[0]));
        struct hb_rows rows;
        bool row = false;
        HB_RETURN_ON_ERR(hb_store_select(
            ctx->store, "SELECT bucket, n, sum_ms FROM order_step_latency WHERE name = ?",
            HB_ARGS(HB_TEXT(saga_steps[i].name)), &rows));
        hb_err_t rc;
        while ((rc = hb_rows_next(&rows, &row)) == HB_OK && row) {
            int64_t bucket = hb_rows_int(&rows, 0);
            int64_t n = hb_rows_int(&rows, 1);
            hb_histogram_add_bucket(&h, bucket < 0 ? 0 : (size_t)bucket, n < 0 ? 0 : (uint64_t)n,
                                    (double)hb_rows_int(&rows, 2));
        }
        hb_rows_close(&rows);
        HB_RETURN_ON_ERR(rc);
        cJSON *json = hb_histogram_json(&h);
        if (!json) {
            return HB_ERR_NOMEM;
        }
        cJSON_AddItemToObject(latencies, saga_steps[i].name, json);
    }
    return HB_OK;
}

cJSON *order_metrics(struct hb_ctx *ctx)
{
    cJSON *extra = cJSON_CreateObject();
    cJSON *saga = cJSON_AddObjectToObject(extra, "saga");
    if (!saga || saga_counts(ctx, saga) != HB_OK || saga_rejected(ctx, saga) != HB_OK ||
        saga_latencies(ctx, saga) != HB_OK) {
        HB_LOGW(0, "could not compute the saga metrics");
        cJSON_Delete(extra);
        return NULL;
    }
    return extra;
}

#define EVT HB_EVT_TOPIC
#define CMD(name) HB_CMD_TOPIC("order", name)

static const struct hb_route order_routes[] = {
    {CMD("place"), order_place, false},
    {CMD("cancel"), order_cancel, false},
    {CMD("get"), order_get, true},
    {CMD("list"), order_list, true},
    {EVT("product", "StockReserved"), order_on_stock_reserved, false},
    {EVT("product", "StockRejected"), order_on_stock_rejected, false},
    {EVT("product", "StockReleased"), order_on_stock_released, false},
    {EVT("payment", "PaymentApproved"), order_on_payment_approved, false},
    {EVT("payment", "PaymentDeclined"), order_on_payment_declined, false},
    {EVT("payment", "PaymentRefunded"), order_on_payment_settled, false},
    {EVT("payment", "PaymentVoided"), order_on_payment_settled, false},
    {EVT("delivery", "DeliveryCreated"), order_on_delivery_event, false},
    {EVT("delivery", "DeliveryConfirmed"), order_on_delivery_event, false},
    {EVT("delivery", "DeliveryStarted"), order_on_delivery_event, false},
    {EVT("delivery", "DeliveryCompleted"), order_on_delivery_event, false},
    {EVT("delivery", "DeliveryCancelled"), order_on_delivery_event, false},
    {EVT("delivery", "DeliveryCancelRefused"), order_on_delivery_event, false},
};

const struct hb_component order_component = {
    .name = "order",
    HB_MIGRATIONS(order_migrations),
    .routes = order_routes,
    .n_routes = sizeof(order_routes) / sizeof(order_routes[0]),
    .tick = order_redrive,
    .replay_sql = "SELECT id FROM orders WHERE updated_at >= ?1"
                  " ORDER BY updated_at DESC LIMIT ?2",
    .announce = order_announce,
    .metrics = order_metrics,
};
