/* Dispatching one message to its handler (dedupe, savepoint) and the reply helpers. */
#include "component_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/log.h"

hb_err_t hb_reply_error(struct hb_reply *reply, int code, const char *msg)
{
    cJSON_Delete(reply->body);
    reply->body = cJSON_CreateObject();
    reply->code = code;
    reply->location[0] = '\0';
    if (reply->body) {
        cJSON_AddStringToObject(reply->body, "error", msg);
    }
    return HB_OK;
}

hb_err_t hb_ctx_reject(struct hb_ctx *ctx, const char *why)
{
    snprintf(ctx->error, sizeof(ctx->error), "%s", why);
    return HB_ERR_DECODE;
}

/* Reads the positive id data.<key>; rejects with "<key> must be a positive integer". */
static hb_err_t read_id(struct hb_ctx *ctx, const struct hb_event *ev, const char *key,
                        int64_t *id)
{
    if (hb_json_int(ev->data, key, 1, HB_ID_MAX, id) != HB_OK) {
        char why[64];
        snprintf(why, sizeof(why), "%s must be a positive integer", key);
        return hb_ctx_reject(ctx, why);
    }
    return HB_OK;
}

hb_err_t hb_reply_record(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply,
                         const char *key, const char *sql, const char *not_found)
{
    int64_t id;
    HB_RETURN_ON_ERR(read_id(ctx, ev, key, &id));
    HB_RETURN_ON_ERR(hb_store_query_object(ctx->store, sql, HB_ARGS(HB_INT(id)), &reply->body));
    if (!reply->body) {
        return hb_reply_error(reply, 404, not_found);
    }
    reply->code = 200;
    return HB_OK;
}

hb_err_t hb_reply_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply,
                       const char *key, const char *sql_filtered, const char *sql_all)
{
    int64_t id = 0;
    bool filtered = key && (!sql_all || cJSON_GetObjectItemCaseSensitive(ev->data, key));
    if (filtered) {
        HB_RETURN_ON_ERR(read_id(ctx, ev, key, &id));
    }
    const struct hb_param by_id = HB_INT(id);
    HB_RETURN_ON_ERR(hb_store_query_objects(ctx->store, filtered ? sql_filtered : sql_all, &by_id,
                                            filtered ? 1 : 0, &reply->body));
    reply->code = 200;
    return HB_OK;
}

void hb_reply_clear(struct hb_reply *reply)
{
    cJSON_Delete(reply->body);
    memset(reply, 0, sizeof(*reply));
}

/* True when topic matches filter, which is exact or ends in a single-level "/+". */
static bool topic_matches(const char *filter, const char *topic)
{
    size_t len = strlen(filter);
    if (len >= 2 && strcmp(filter + len - 2, "/+") == 0) {
        return strncmp(filter, topic, len - 1) == 0 && topic[len - 1] != '\0' &&
               strchr(topic + len - 1, '/') == NULL;
    }
    return strcmp(filter, topic) == 0;
}

static const struct hb_route *find_route(const struct hb_component *def, const char *topic)
{
    for (size_t i = 0; i < def->n_routes; i++) {
        if (topic_matches(def->routes[i].topic, topic)) {
            return &def->routes[i];
        }
    }
    return NULL;
}

bool hb_is_replay_topic(const struct hb_component *def, const char *topic)
{
    char replay_topic[96];
    snprintf(replay_topic, sizeof(replay_topic), HB_TOPIC_PREFIX "cmd/%s/replay", def->name);
    return def->replay_sql && def->announce && strcmp(topic, replay_topic) == 0;
}

/* A replay request: data.since (wall-clock ms, >= 0) from a component that (re)connected. */
static hb_err_t replay_requested(const struct hb_component *def, struct hb_ctx *ctx,
                                 const struct hb_event *ev)
{
    int64_t since_ms;
    if (hb_json_int(ev->data, "since", 0, INT64_MAX, &since_ms) != HB_OK) {
        return hb_ctx_reject(ctx, "replay needs data.since (milliseconds, >= 0)");
    }
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(ev->data, "requester");
    HB_LOGI(0, "replaying changes since %lld for %s", (long long)since_ms,
            cJSON_IsString(by) ? by->valuestring : "?");
    struct hb_rows rows;
    HB_RETURN_ON_ERR(hb_store_select(ctx->store, def->replay_sql,
                                     HB_ARGS(HB_INT(since_ms), HB_INT(HB_REPLAY_LIMIT)), &rows));
    bool row = false;
    hb_err_t rc;
    while ((rc = hb_rows_next(&rows, &row)) == HB_OK && row) {
        if ((rc = def->announce(ctx, &rows)) != HB_OK) {
            break;
        }
    }
    hb_rows_close(&rows);
    return rc;
}

/* Routes ev, claims its id in the inbox and runs its handler (nothing for a duplicate);
 * with open_savepoint, inside a savepoint of its own that a failure rolls back. A
 * read-only route writes nothing and never gets one. */
static hb_err_t claim_and_handle(const struct hb_component *def, struct hb_ctx *ctx,
                                 const char *topic, const struct hb_event *ev,
                                 struct hb_reply *reply, bool open_savepoint)
{
    const struct hb_route *route = find_route(def, topic);
    bool replay = !route && hb_is_replay_topic(def, topic);
    ctx->error[0] = '\0';
    if (!route && !replay) {
        return hb_ctx_reject(ctx, "no handler for this topic");
    }
    if (route && route->read_only) {
        return route->handler(ctx, ev, reply);
    }
    if (open_savepoint) {
        HB_RETURN_ON_ERR(hb_store_savepoint(ctx->store));
    }
    hb_err_t rc;
    for (int attempt = 1;; attempt++) {
        bool fresh = false;
        rc = hb_store_inbox_claim(ctx->store, ev->id, &fresh);
        if (rc == HB_OK && fresh) {
            rc = replay ? replay_requested(def, ctx, ev) : route->handler(ctx, ev, reply);
        } else if (rc == HB_OK) {
            HB_LOGD(atoll(ev->subject), "duplicate %s %s ignored", ev->type, ev->id);
        }
        /* HB_ERR_BUSY: another replica wrote the same rows at the same time (a unique key
         * taken, a lock or serialization conflict: PostgreSQL). Undone and run again, it
         * sees what the other committed, as a redelivery would. */
        if (rc != HB_ERR_BUSY || !open_savepoint || attempt == HB_CONFLICT_ATTEMPTS) {
            break;
        }
        if (hb_store_savepoint_rollback(ctx->store) != HB_OK || !hb_store_in_tx(ctx->store)) {
            return rc; /* the transaction is gone: nothing may run as if inside it */
        }
        if (reply) {
            hb_reply_clear(reply);
        }
        ctx->error[0] = '\0';
        HB_LOGI(atoll(ev->subject), "%s met a concurrent change; running it again", ev->type);
    }
    if (!open_savepoint) {
        return rc;
    }
    if (rc != HB_OK) {
        hb_store_savepoint_rollback(ctx->store);
    }
    hb_err_t released = hb_store_savepoint_release(ctx->store);
    return rc != HB_OK ? rc : released;
}

hb_err_t hb_dispatch_in_tx(const struct hb_component *def, struct hb_ctx *ctx,
                           const char *topic, const struct hb_event *ev, struct hb_reply *reply)
{
    return claim_and_handle(def, ctx, topic, ev, reply, true);
}

hb_err_t hb_dispatch_unguarded(const struct hb_component *def, struct hb_ctx *ctx,
                               const char *topic, const struct hb_event *ev,
                               struct hb_reply *reply)
{
    return claim_and_handle(def, ctx, topic, ev, reply, false);
}

hb_err_t hb_component_dispatch(const struct hb_component *def, struct hb_ctx *ctx,
                               const char *topic, const struct hb_event *ev,
                               struct hb_reply *reply)
{
    const struct hb_route *route = find_route(def, topic);
    if (route && route->read_only) {
        return hb_dispatch_in_tx(def, ctx, topic, ev, reply); /* a query needs no transaction */
    }
    HB_RETURN_ON_ERR(hb_store_begin(ctx->store));
    hb_err_t rc = hb_dispatch_in_tx(def, ctx, topic, ev, reply);
    if (rc != HB_OK) {
        hb_store_rollback(ctx->store);
        return rc;
    }
    return hb_store_commit(ctx->store);
}
