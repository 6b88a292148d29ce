/* HTTP requests to MQTT v5 commands and back: body intake, publish, wait, relay. */
#include "http.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "board_http.h"
#include "coalesce.h"
#include "documents.h"
#include "health.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/text.h"
#include "reply.h"
#include "response_head.h"
#include "routes.h"

/* What the access log line says about an answered request. */
struct answer {
    int status;
    int64_t order_id;
};

/* Seconds of Message Expiry for a command: it is worthless once the gateway stops
 * waiting, so the broker may drop it then. */
static unsigned request_expiry_s(const struct gateway *gw)
{
    int timeout_ms = gw->cfg->request_timeout_ms;
    return timeout_ms > 0 ? (unsigned)(timeout_ms + 999) / 1000u : 1u;
}

/* Answers every waiter of batch with 503 (it could not be published, for why) and
 * forgets the message, so that it holds its topic back no longer. */
static void fail_batch(struct gateway *gw, const struct gateway_coalesce_batch *batch,
                       hb_err_t why)
{
    static const char unavailable[] = "{\"error\":\"message bus unavailable\"}";
    HB_LOGW(0, "cannot publish %zu requests to %s: %s", batch->n_items, batch->topic,
            hb_strerror(why));
    gateway_coalesce_answered(gw->coalesce, batch->correlation, GATEWAY_CORRELATION_LEN, NULL,
                              0, NULL, NULL);
    struct gateway_delivery deliveries[HB_BUS_BATCH_MAX];
    for (size_t i = 0; i < batch->n_items; i++) {
        deliveries[i] = (struct gateway_delivery){.ticket = batch->tickets[i]};
        char *body = strdup(unavailable);
        if (body) {
            deliveries[i].reply.code = 503;
            deliveries[i].reply.body = body;
            deliveries[i].reply.body_len = sizeof(unavailable) - 1;
        } else {
            deliveries[i].why = "out of memory";
        }
    }
    gateway_pending_deliver_each(gw->pending, deliveries, batch->n_items);
}

/* Publishes every message due on topic (docs/PROTOCOL.md, "Batches"): a request alone
 * as it always went, two or more as one batch. Run by the HTTP worker that queued a
 * request, by the MQTT thread when a reply frees the topic, and by a worker still waiting
 * for its reply at every GATEWAY_COALESCE_STALL_MS. No thread or timer of its own. */
static void flush_topic(struct gateway *gw, const char *topic)
{
    struct gateway_coalesce_batch batch;
    while (gateway_coalesce_take(gw->coalesce, topic, hb_now_ms(), &batch)) {
        hb_err_t rc = HB_ERR_NOMEM;
        if (batch.payload && batch.n_items == 1) {
            rc = hb_bus_request(gw->bus, batch.topic, batch.payload, batch.len, gw->reply_topic,
                                batch.correlation, GATEWAY_CORRELATION_LEN,
                                request_expiry_s(gw));
        } else if (batch.payload) {
            rc = hb_bus_request_batch(gw->bus, batch.topic, batch.payload, batch.len,
                                      gw->reply_topic, batch.correlation,
                                      GATEWAY_CORRELATION_LEN, request_expiry_s(gw));
            if (rc == HB_OK && gw->metrics) {
                gateway_metrics_count_batch(gw->metrics, batch.n_items);
            }
        }
        if (rc != HB_OK) {
            fail_batch(gw, &batch, rc);
        }
        gateway_coalesce_batch_clear(&batch);
    }
}

/* Sends what queued behind a batch, then hands each item of its reply, decoded, to its
 * waiter: one whose item is missing or malformed, or all of them when the reply is no
 * JSON array, gets the reason instead, which it answers 502 like any malformed reply. */
static void deliver_batch(struct gateway *gw, const struct hb_message *msg)
{
    struct gateway_coalesce_waiter waiters[HB_BUS_BATCH_MAX];
    size_t n = 0;
    char topic[GATEWAY_COALESCE_TOPIC_MAX];
    if (!gateway_coalesce_answered(gw->coalesce, msg->correlation, msg->correlation_len, topic,
                                   sizeof(topic), waiters, &n)) {
        HB_LOGD(0, "dropped a batched reply nobody waits for (late or unknown correlation)");
        return;
    }
    flush_topic(gw, topic); /* first: the component is free for the next batch now */
    const char *ids[HB_BUS_BATCH_MAX];
    const char *whys[HB_BUS_BATCH_MAX];
    struct gateway_delivery deliveries[HB_BUS_BATCH_MAX];
    struct gateway_reply replies[HB_BUS_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        ids[i] = waiters[i].id;
    }
    /* Parsed and decoded once, here: each waiter gets its item ready to send. */
    size_t decoded = gateway_reply_split(msg->payload, msg->len, ids, n, replies, whys);
    if (decoded < n) {
        HB_LOGW(0, "a batched reply on %s (%zu bytes) answers %zu of its %zu requests", topic,
                msg->len, decoded, n);
    }
    for (size_t i = 0; i < n; i++) {
        deliveries[i] = (struct gateway_delivery){
            .ticket = waiters[i].ticket,
            .reply = replies[i],
            .why = whys[i],
        };
    }
    gateway_pending_deliver_each(gw->pending, deliveries, n);
}

/* A reply on our reply topic: a batch's goes to its waiters, a lone request's to its one. */
static void on_reply(struct gateway *gw, const struct hb_message *msg)
{
    if (gw->coalesce && gateway_coalesce_is_batch(msg->correlation, msg->correlation_len)) {
        deliver_batch(gw, msg);
        return;
    }
    char topic[GATEWAY_COALESCE_TOPIC_MAX];
    if (gw->coalesce && gateway_coalesce_answered(gw->coalesce, msg->correlation,
                                                  msg->correlation_len, topic, sizeof(topic),
                                                  NULL, NULL)) {
        flush_topic(gw, topic); /* first: the component is free for the next batch now */
    }
    if (!gateway_pending_deliver(gw->pending, msg->correlation, msg->correlation_len,
                                 msg->payload, msg->len)) {
        /* The request gave up (504) or never was ours; nobody is left to tell. */
        HB_LOGD(0, "dropped a reply nobody waits for (late or unknown correlation)");
    }
}

void gateway_on_message(void *ctx, const struct hb_message *msg)
{
    struct gateway *gw = ctx;
    if (strcmp(msg->topic, gw->reply_topic) == 0) {
        on_reply(gw, msg);
        return;
    }
    if (strncmp(msg->topic, HB_TOPIC_PREFIX "status/", strlen(HB_TOPIC_PREFIX "status/")) == 0) {
        if (!gateway_status_on_message(gw->status, msg->topic, msg->payload, msg->len)) {
            HB_LOGW(0, "ignored status message on %.100s (%zu bytes)", msg->topic, msg->len);
            return;
        }
        gateway_board_on_message(gw->board, msg->topic, msg->payload, msg->len);
        return;
    }
    static const char order_prefix[] = HB_TOPIC_PREFIX "evt/order/";
    static const char metrics_prefix[] = HB_TOPIC_PREFIX "metrics/";
    bool is_metrics = strncmp(msg->topic, metrics_prefix, sizeof(metrics_prefix) - 1) == 0;
    /* One metrics snapshot feeds both GET /metrics and the live board (an empty payload,
     * a cleared retained snapshot, drops the component from GET /metrics). */
    if (is_metrics && gw->metrics &&
        !gateway_metrics_on_snapshot(gw->metrics, msg->topic, msg->payload, msg->len)) {
        HB_LOGW(0, "ignored metrics message on %.100s (%zu bytes)", msg->topic, msg->len);
    }
    if (is_metrics || strncmp(msg->topic, order_prefix, sizeof(order_prefix) - 1) == 0) {
        if (!gateway_board_on_message(gw->board, msg->topic, msg->payload, msg->len) &&
            msg->len > 0) {
            HB_LOGD(0, "board ignored a message on %.100s (%zu bytes)", msg->topic, msg->len);
        }
        return;
    }
    HB_LOGW(0, "ignored message on unexpected topic %.100s", msg->topic);
}

/* Set as the connection's user data once keep-alive is off for it: civetweb keeps that
 * decision to itself, and the Connection header we send must tell the client. */
static char closing_marker;

/* Closes conn after this answer (unread request bytes must not become a request). */
static void close_after_answer(struct mg_connection *conn)
{
    mg_disable_keep_alive(conn);
    mg_set_user_connection_data(conn, &closing_marker);
}

/* Bodies up to this size leave in the same write as the head. */
#define RESPONSE_INLINE_BODY_MAX 1024

/* Sends one complete response. json may be NULL for none (204, 304 never carry one,
 * and a HEAD answer gets the headers only); location, allow and authenticate add the
 * Location, Allow and WWW-Authenticate headers when non-NULL and non-empty; every 503
 * carries Retry-After. The head and a small body leave in one write (one TCP segment),
 * not one per header line as with civetweb's mg_response_header_send. Write errors
 * are not reported: they mean the client is gone, and civetweb closes the connection. */
static void send_response(struct mg_connection *conn, int status, const char *json, size_t len,
                          const char *location, const char *allow, const char *authenticate)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    bool has_body = json && status != 204 && status != 304;
    bool send_body = has_body && !(ri->request_method && strcmp(ri->request_method, "HEAD") == 0);
    bool closing = mg_get_user_connection_data(conn) == &closing_marker;
    struct gateway_head head = {
        .http_version = ri->http_version,
        .status = status,
        .reason = mg_get_response_code_text(conn, status),
        .has_body = has_body,
        .content_length = len,
        .location = location,
        .allow = allow,
        .authenticate = authenticate,
        .retry_after_s = status == 503 ? GATEWAY_RETRY_AFTER_S : 0,
        .date = time(NULL),
        .keep_alive = gateway_head_keep_alive(ri->http_version,
                                              mg_get_header(conn, "Connection"), closing),
    };
    char out[GATEWAY_HEAD_MAX + RESPONSE_INLINE_BODY_MAX];
    size_t head_len = gateway_head_format(&head, out, GATEWAY_HEAD_MAX);
    if (head_len == 0) {
        /* Our own headers are bounded well below GATEWAY_HEAD_MAX; should one not fit,
         * the client sees the connection close rather than a cut head. */
        HB_LOGE(0, "response head for %d does not fit in %d bytes", status, GATEWAY_HEAD_MAX);
        close_after_answer(conn);
        return;
    }
    if (send_body && len <= sizeof(out) - head_len) {
        memcpy(out + head_len, json, len);
        mg_write(conn, out, head_len + len);
        return;
    }
    mg_write(conn, out, head_len);
    if (send_body) {
        mg_write(conn, json, len);
    }
}

/* Sends {"error": message} with status and the optional Allow and WWW-Authenticate
 * headers. Falls back to a fixed 500 body when even that cannot be allocated. Returns
 * the status actually sent. */
static int send_error_with(struct mg_connection *conn, int status, const char *message,
                           const char *allow, const char *authenticate)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root && cJSON_AddStringToObject(root, "error", message)) {
        text = hb_json_print(root);
    }
    cJSON_Delete(root);
    if (!text) {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        send_response(conn, 500, fallback, sizeof(fallback) - 1, NULL, NULL, NULL);
        return 500;
    }
    send_response(conn, status, text, strlen(text), NULL, allow, authenticate);
    free(text);
    return status;
}

/* Sends {"error": message} with status (and Allow when non-NULL); see send_error_with. */
static int send_error(struct mg_connection *conn, int status, const char *message,
                      const char *allow)
{
    return send_error_with(conn, status, message, allow, NULL);
}

/* Answers 401 as RFC 6750 says: why is NULL when no token was sent, else the verifier's
 * reason, a static text without quotes that may go into the header as it is. */
static int send_unauthorized(struct mg_connection *conn, const char *why)
{
    char message[160];
    char challenge[224];
    if (!why) {
        snprintf(message, sizeof(message), "a bearer token is required");
        snprintf(challenge, sizeof(challenge), "Bearer realm=\"hausbus\"");
    } else {
        snprintf(message, sizeof(message), "invalid bearer token: %s", why);
        snprintf(challenge, sizeof(challenge),
                 "Bearer realm=\"hausbus\", error=\"invalid_token\", error_description=\"%s\"",
                 why);
    }
    return send_error_with(conn, 401, message, NULL, challenge);
}

/* Milliseconds on the coarse monotonic clock (a few ms of resolution, a memory read
 * instead of a clock read): read_body checks its deadline before every byte. */
static int64_t coarse_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The body as far as the gateway reads it. */
struct body {
    char *data;      /* malloc'd, NUL-terminated; NULL when there is none */
    size_t len;      /* GATEWAY_BODY_MAX + 1 stands for "too large" */
    bool incomplete; /* bytes of this request are left unread on the connection */
};

/* Reads the request body with a bound on size and time: a Content-Length over
 * GATEWAY_BODY_MAX is not read at all, and the whole body must arrive within
 * receive_timeout_ms. Returns HB_ERR_NOMEM; HB_ERR_INVAL for a chunked body (its length
 * is unknown up front, and civetweb reads each chunk-size line byte by byte with a
 * fresh timeout, so it could not be bounded); HB_ERR_TIMEOUT when the body was not in
 * within receive_timeout_ms; HB_ERR_IO when the client stopped sending before the
 * declared length or the read failed; else HB_OK with *out filled. Release out->data
 * with free in every case. */
static hb_err_t read_body(struct mg_connection *conn, const struct mg_request_info *ri,
                          int receive_timeout_ms, struct body *out)
{
    memset(out, 0, sizeof(*out));
    const char *encoding = mg_get_header(conn, "Transfer-Encoding");
    if (encoding) {
        out->incomplete = true;
        return HB_ERR_INVAL;
    }
    long long declared = ri->content_length;
    if (declared > GATEWAY_BODY_MAX) {
        /* Refused on the header alone; the client gets its 413 without uploading. */
        out->len = GATEWAY_BODY_MAX + 1;
        out->incomplete = true;
        return HB_OK;
    }
    if (declared <= 0) {
        return HB_OK;
    }
    size_t cap = (size_t)declared;
    out->data = malloc(cap + 1);
    if (!out->data) {
        return HB_ERR_NOMEM;
    }
    /* civetweb leaves "Expect: 100-continue" to request handlers; without the interim
     * answer curl and others wait a second before they send the body. */
    const char *expect = mg_get_header(conn, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        mg_printf(conn, "%s", "HTTP/1.1 100 Continue\r\n\r\n");
    }
    /* One byte per read: civetweb's mg_read returns only when it has every byte asked
     * for (or after a silence of receive_timeout_ms), so a client that trickles a byte
     * now and then would keep a larger read going for ever. A body that came with the
     * headers is copied from civetweb's buffer, without a system call. */
    int64_t deadline_ms = coarse_now_ms() + receive_timeout_ms;
    bool late = false;
    int n = 0;
    while (out->len < cap && !(late = coarse_now_ms() >= deadline_ms) &&
           (n = mg_read(conn, out->data + out->len, 1)) > 0) {
        out->len += (size_t)n;
    }
    out->data[out->len] = '\0';
    if (out->len < cap) {
        out->incomplete = true;
        return n > 0 || late || coarse_now_ms() >= deadline_ms ? HB_ERR_TIMEOUT : HB_ERR_IO;
    }
    return HB_OK;
}

/* Sends the command payload (a CloudEvent, malloc'd; taken) for ticket: into topic's queue
 * when coalesced (it goes at once when nothing holds the queue back), else at once alone.
 * Returns HB_OK; HB_ERR_BUSY when the queues are full; a publish error. */
static hb_err_t send_command(struct gateway *gw, const char *topic,
                             const struct gateway_ticket *ticket, const char *id, char *payload,
                             bool coalesced)
{
    if (coalesced) {
        HB_RETURN_ON_ERR(gateway_coalesce_add(gw->coalesce, topic, ticket, id, payload,
                                              strlen(payload), hb_now_ms()));
        flush_topic(gw, topic);
        return HB_OK;
    }
    hb_err_t rc = hb_bus_request(gw->bus, topic, payload, strlen(payload), gw->reply_topic,
                                 ticket->correlation, GATEWAY_CORRELATION_LEN,
                                 request_expiry_s(gw));
    free(payload);
    return rc;
}

/* flush_topic as a gateway_coalesce_flush_fn (ctx is the struct gateway). */
static void flush_for_waiter(void *ctx, const char *topic)
{
    flush_topic(ctx, topic);
}

/* Waits up to the request timeout for ticket's reply, with gateway_pending_wait's
 * results. A coalesced request sends what is due on its topic at every
 * GATEWAY_COALESCE_STALL_MS it waits (if the messages holding the queue back are lost,
 * that sends the queue without them), and one that gives up leaves the queue. */
static hb_err_t wait_reply(struct gateway *gw, const char *topic,
                           const struct gateway_ticket *ticket, bool coalesced,
                           struct gateway_answer *answer)
{
    int timeout_ms = gw->cfg->request_timeout_ms;
    if (coalesced) {
        return gateway_coalesce_wait(gw->coalesce, gw->pending, topic, ticket, timeout_ms,
                                     flush_for_waiter, gw, answer);
    }
    return gateway_pending_wait(gw->pending, ticket, timeout_ms, answer);
}

/* Publishes component.command with data (about order_id, 0 for none) and waits for the
 * reply; with coalesce (the route table's column for the command) it may share a batched
 * message. Takes data, also on failure. Returns 0 with *reply decoded (the caller clears
 * it), or the HTTP status of the error answer it has already sent. */
static int ask_component(struct gateway *gw, struct mg_connection *conn, const char *component,
                         const char *command, bool coalesce, int64_t order_id, cJSON *data,
                         struct gateway_reply *reply)
{
    char message[160];
    if (!hb_bus_connected(gw->bus)) {
        /* Nothing could answer; say so now rather than after the full timeout. */
        cJSON_Delete(data);
        return send_error(conn, 503, "message bus unavailable", NULL);
    }
    enum gateway_process_state state = gateway_status_of(gw->status, component);
    if (state != GATEWAY_PROCESS_ONLINE) {
        /* Its retained status (or its will) says it is gone, or it never came online
         * since we started: a command would only wait out the request timeout. */
        cJSON_Delete(data);
        snprintf(message, sizeof(message), "%s component is %s, try again later", component,
                 state == GATEWAY_PROCESS_OFFLINE ? "offline" : "not online yet");
        return send_error(conn, 503, message, NULL);
    }
    struct gateway_ticket ticket;
    if (gateway_pending_open(gw->pending, &ticket) != HB_OK) {
        HB_LOGW(order_id, "every pending-request slot is taken; refusing %s.%s", component,
                command);
        cJSON_Delete(data);
        return send_error(conn, 503, "gateway is busy, try again", NULL);
    }

    char type[HB_EVENT_TYPE_MAX];
    char topic[GATEWAY_COALESCE_TOPIC_MAX]; /* the coalescer takes no longer one */
    int type_len = snprintf(type, sizeof(type), "%s.%s", component, command);
    int topic_len = snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "cmd/%s/%s", component,
                             command);
    /* The route table holds short literals, so this is only a guard. */
    if (type_len < 0 || (size_t)type_len >= sizeof(type) || topic_len < 0 ||
        (size_t)topic_len >= sizeof(topic)) {
        gateway_pending_close(gw->pending, &ticket);
        cJSON_Delete(data);
        return send_error(conn, 500, "internal error: command name too long", NULL);
    }

    struct hb_event ev;
    hb_err_t rc = hb_event_init(&ev, "gateway", type, order_id, data); /* owns data now */
    char *payload = rc == HB_OK ? hb_envelope_encode(&ev) : NULL;
    char id[HB_EVENT_ID_MAX] = ""; /* what a batched reply names this request by */
    if (payload) {
        hb_strlcpy(id, ev.id, sizeof(id));
    }
    hb_event_clear(&ev);
    if (!payload) {
        gateway_pending_close(gw->pending, &ticket);
        HB_LOGE(order_id, "cannot build the %s command: %s", type,
                rc == HB_OK ? "out of memory" : hb_strerror(rc));
        return send_error(conn, 500, "internal error: cannot build the command", NULL);
    }

    bool coalesced = gw->coalesce && coalesce;
    rc = send_command(gw, topic, &ticket, id, payload, coalesced);
    if (rc != HB_OK) {
        gateway_pending_close(gw->pending, &ticket);
        HB_LOGW(order_id, "cannot send %s: %s", type, hb_strerror(rc));
        return send_error(conn, 503,
                          rc == HB_ERR_BUSY ? "gateway is busy, try again"
                                            : "message bus unavailable",
                          NULL);
    }

    int timeout_ms = gw->cfg->request_timeout_ms;
    struct gateway_answer answer;
    rc = wait_reply(gw, topic, &ticket, coalesced, &answer);
    if (rc == HB_ERR_TIMEOUT) {
        HB_LOGW(order_id, "%s: no reply within %d ms", type, timeout_ms);
        snprintf(message, sizeof(message), "%s component did not answer in time", component);
        return send_error(conn, 504, message, NULL);
    }
    if (rc != HB_OK) {
        HB_LOGE(order_id, "%s: cannot take the reply: %s", type, hb_strerror(rc));
        return send_error(conn, 500, "internal error: cannot take the reply", NULL);
    }

    const char *why = answer.why;
    if (answer.text) {
        rc = gateway_reply_decode(answer.text, answer.len, reply, &why);
    } else {
        /* A batch item, decoded by the MQTT thread: taken as it is. */
        rc = answer.why ? HB_ERR_DECODE : HB_OK;
        *reply = answer.reply;
        memset(&answer.reply, 0, sizeof(answer.reply));
    }
    gateway_answer_clear(&answer);
    if (rc != HB_OK) {
        HB_LOGW(order_id, "%s: bad reply: %s", type, why ? why : hb_strerror(rc));
        snprintf(message, sizeof(message), "%s component sent a malformed reply", component);
        return send_error(conn, 502, message, NULL);
    }
    return 0;
}

/* Sends a component's reply to the client and clears it. Returns its status. */
static int relay_reply(struct mg_connection *conn, struct gateway_reply *reply)
{
    send_response(conn, reply->code, reply->body, reply->body_len, reply->location, NULL, NULL);
    int status = reply->code;
    gateway_reply_clear(reply);
    return status;
}

/* Publishes route's command, waits for the reply and relays it. Takes route->data. */
static int run_command(struct gateway *gw, struct mg_connection *conn,
                       struct gateway_route *route)
{
    cJSON *data = route->data;
    route->data = NULL;
    struct gateway_reply reply;
    int status = ask_component(gw, conn, route->component, route->command, route->coalesce,
                               route->order_id, data, &reply);
    if (status != 0) {
        return status;
    }
    return relay_reply(conn, &reply);
}

/* Runs route for a customer only if the order decision->order_id is theirs: the gateway
 * does not know who owns an order, so it asks the order component (order.get) first. An
 * order that is not there keeps its 404; another user's order is 403 (docs/SECURITY.md).
 * An order's userId never changes, so the check cannot go stale before the command. */
static int run_owned(struct gateway *gw, struct mg_connection *conn, struct gateway_route *route,
                     const struct gateway_claims *caller,
                     const struct gateway_auth_decision *decision)
{
    int64_t order_id = decision->order_id;
    cJSON *data = cJSON_CreateObject();
    if (!data || !cJSON_AddNumberToObject(data, "id", (double)order_id)) {
        cJSON_Delete(data);
        return send_error(conn, 500, "out of memory", NULL);
    }
    struct gateway_reply reply;
    int status = ask_component(gw, conn, "order", "get", gateway_route_coalesces("order", "get"),
                               order_id, data, &reply);
    if (status != 0) {
        return status;
    }
    if (reply.code != 200) {
        return relay_reply(conn, &reply); /* 404 (or a failure) is the same for everybody */
    }
    bool owned = false;
    hb_err_t rc = gateway_auth_order_owned(caller, reply.body, reply.body_len, &owned);
    if (rc != HB_OK) {
        gateway_reply_clear(&reply);
        HB_LOGW(order_id, "order.get answered without a userId; cannot check the owner");
        return send_error(conn, 502, "order component sent a malformed order", NULL);
    }
    if (!owned) {
        gateway_reply_clear(&reply);
        HB_LOGI(order_id, "forbidden: %s (customer %" PRId64 ") asked for another user's order",
                caller->sub, caller->uid);
        return send_error(conn, 403, "this order belongs to another user", NULL);
    }
    if (decision->owner_check_answers) {
        return relay_reply(conn, &reply);
    }
    gateway_reply_clear(&reply);
    return run_command(gw, conn, route);
}

/* Runs route if caller (NULL: no valid token) may have it run; answers 401 or 403
 * otherwise. */
static int run_authorised(struct gateway *gw, struct mg_connection *conn,
                          struct gateway_route *route, const struct gateway_claims *caller)
{
    struct gateway_auth_decision decision;
    gateway_auth_decide(route, caller, &decision);
    switch (decision.verdict) {
    case GATEWAY_AUTH_ALLOW:
        return run_command(gw, conn, route);
    case GATEWAY_AUTH_CHECK_OWNER:
        return run_owned(gw, conn, route, caller, &decision);
    case GATEWAY_AUTH_UNAUTHENTICATED:
        return send_unauthorized(conn, NULL);
    case GATEWAY_AUTH_FORBIDDEN:
        break;
    }
    HB_LOGI(route->order_id, "forbidden: %s (%s) %s.%s: %s", caller ? caller->sub : "-",
            caller ? gateway_role_name(caller->role) : "none", route->component, route->command,
            decision.reason);
    return send_error(conn, 403, decision.reason, NULL);
}

/* Verifies the request's bearer token into *claims. Returns false with *why NULL when no
 * Authorization header was sent, else with the reason (a static, header-safe text). */
static bool authenticate(const struct gateway *gw, struct mg_connection *conn,
                         struct gateway_claims *claims, const char **why)
{
    *why = NULL;
    const char *header = mg_get_header(conn, "Authorization");
    const char *token = NULL;
    size_t len = 0;
    if (!header) {
        /* The board's page and stream may carry the token in the query instead. */
        const struct mg_request_info *ri = mg_get_request_info(conn);
        if (!gateway_auth_query_token(ri->request_method, ri->local_uri, ri->query_string,
                                      &token, &len)) {
            return false;
        }
    } else if (!gateway_auth_bearer(header, &token, &len)) {
        *why = "Authorization is not a Bearer token";
        return false;
    }
    /* No settings means no key: every token fails, which is the safe way to be wrong. */
    const struct gateway_auth_key *key = gw->auth ? &gw->auth->key : NULL;
    return gateway_auth_verify(key, token, len, hb_wall_ms() / 1000, claims, why) == HB_OK;
}

/* Answers GET /healthz or GET /readyz from the gateway's own view of the bus. */
static int run_health(struct gateway *gw, struct mg_connection *conn, enum gateway_probe probe)
{
    int status = 503;
    const char *auth_mode = gw->auth && gw->auth->mode == GATEWAY_AUTH_MODE_OPEN ? "open" : "on";
    char *text = gateway_health_render(gw->status, probe, gw->auth ? auth_mode : NULL,
                                       hb_bus_connected(gw->bus), &status);
    if (!text) {
        return send_error(conn, 500, "out of memory", NULL);
    }
    send_response(conn, status, text, strlen(text), NULL, NULL, NULL);
    free(text);
    return status;
}

/* Answers GET /metrics with the Prometheus text page. */
static int run_metrics(struct gateway *gw, struct mg_connection *conn)
{
    size_t len = 0;
    struct gateway_process_stats stats;
    if (gw->metrics) {
        bool read = gateway_process_stats_read(&stats) == HB_OK;
        gateway_metrics_set_process(gw->metrics, read ? &stats : NULL);
    }
    char *text = gw->metrics ? gateway_metrics_render(gw->metrics, &len) : NULL;
    if (!text) {
        return send_error(conn, 500, "out of memory", NULL);
    }
    char length[32];
    snprintf(length, sizeof(length), "%zu", len);
    const char *method = mg_get_request_info(conn)->request_method;
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", GATEWAY_METRICS_CONTENT_TYPE, -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_send(conn);
    if (!(method && strcmp(method, "HEAD") == 0)) {
        mg_write(conn, text, len);
    }
    free(text);
    return 200;
}

/* Answers a route the gateway serves itself. */
static int run_local(struct gateway *gw, struct mg_connection *conn,
                     const struct gateway_route *route)
{
    switch (route->local) {
    case GATEWAY_LOCAL_HEALTH:
        return run_health(gw, conn, GATEWAY_PROBE_LIVE);
    case GATEWAY_LOCAL_READY:
        return run_health(gw, conn, GATEWAY_PROBE_READY);
    case GATEWAY_LOCAL_OPENAPI:
        send_response(conn, 200, gateway_openapi_json, gateway_openapi_json_len, NULL, NULL,
                      NULL);
        return 200;
    case GATEWAY_LOCAL_METRICS:
        return run_metrics(gw, conn);
    case GATEWAY_LOCAL_BOARD:
        return gateway_board_send_page(conn);
    case GATEWAY_LOCAL_BOARD_EVENTS:
        if (gateway_board_stream(gw, conn) == 503) {
            return send_error(conn, 503,
                              "every live board stream is taken, or the board is off "
                              "(HAUSBUS_BOARD_CLIENTS)",
                              NULL);
        }
        return 200;
    case GATEWAY_LOCAL_NONE:
        break;
    }
    return send_error(conn, 500, "unknown local route", NULL);
}

/* Answers a LOCAL route if caller may see it (GET /metrics: admins), else 401 or 403. */
static int run_local_authorised(struct gateway *gw, struct mg_connection *conn,
                                const struct gateway_route *route,
                                const struct gateway_claims *caller)
{
    struct gateway_auth_decision decision;
    gateway_auth_decide(route, caller, &decision);
    if (decision.verdict == GATEWAY_AUTH_UNAUTHENTICATED) {
        return send_unauthorized(conn, NULL);
    }
    if (decision.verdict != GATEWAY_AUTH_ALLOW) {
        HB_LOGI(0, "forbidden: %s (%s) %.100s: %s", caller ? caller->sub : "-",
                caller ? gateway_role_name(caller->role) : "none",
                route->pattern ? route->pattern : "?", decision.reason);
        return send_error(conn, 403, decision.reason, NULL);
    }
    return run_local(gw, conn, route);
}

/* Counts the answered request under its route pattern. Requests refused before routing
 * (401 without a token) are matched here without their body, for the pattern only. */
static void observe_request(struct gateway *gw, const struct mg_request_info *ri,
                            const char *path, const struct gateway_route *route, int status,
                            int64_t started_us)
{
    if (!gw->metrics) {
        return;
    }
    const char *pattern = route->pattern;
    struct gateway_route headless;
    memset(&headless, 0, sizeof(headless));
    if (!pattern && status != 404) {
        struct gateway_request req = {.method = ri->request_method, .path = path};
        if (gateway_route_request(&req, &headless) == HB_OK) {
            pattern = headless.pattern;
        }
    }
    gateway_metrics_observe_http(gw->metrics, pattern, ri->request_method, status,
                                 (double)(hb_now_us() - started_us) / 1e6);
    gateway_route_clear(&headless);
}

void gateway_init(struct gateway *gw)
{
    atomic_init(&gw->stopping, false);
    atomic_init(&gw->active, 0);
}

/* Answers one request; see gateway_http_handle. */
static int handle_request(struct gateway *gw, struct mg_connection *conn,
                          const struct mg_request_info *ri)
{
    int64_t started_us = hb_now_us(); /* microseconds: a fast answer must not sum to 0 */
    const char *path = ri->local_uri ? ri->local_uri : "";
    struct answer answer = {0};
    struct gateway_route route;
    memset(&route, 0, sizeof(route));
    struct body body = {.data = NULL};

    /* Before the body is read: a request without a valid token costs us no upload. */
    struct gateway_claims claims;
    const struct gateway_claims *caller = NULL;
    bool enforce = !(gw->auth && gw->auth->mode == GATEWAY_AUTH_MODE_OPEN);
    if (enforce && gateway_auth_needs_token(ri->request_method, path)) {
        const char *why = NULL;
        if (!authenticate(gw, conn, &claims, &why)) {
            if (ri->content_length > 0 || mg_get_header(conn, "Transfer-Encoding")) {
                close_after_answer(conn); /* the unread body must not become a request */
            }
            HB_LOGI(0, "unauthenticated %.16s %.200s: %s", ri->request_method, path,
                    why ? why : "no Authorization header");
            answer.status = send_unauthorized(conn, why);
            goto done;
        }
        caller = &claims;
    }

    hb_err_t rc = read_body(conn, ri, gw->receive_timeout_ms, &body);
    if (body.incomplete) {
        /* Unread request bytes would be parsed as the next request; close instead. */
        close_after_answer(conn);
    }
    if (rc == HB_ERR_INVAL) {
        answer.status = send_error(conn, 411, "a request body needs a Content-Length "
                                              "(chunked bodies are not accepted)", NULL);
        goto done;
    }
    if (rc == HB_ERR_TIMEOUT) {
        HB_LOGI(0, "%.16s %.200s: body not in within %d ms; connection closed",
                ri->request_method, path, gw->receive_timeout_ms);
        answer.status = send_error(conn, 408, "request body not received in time", NULL);
        goto done;
    }
    if (rc == HB_ERR_IO) {
        answer.status = send_error(conn, 400, "request body could not be read in full", NULL);
        goto done;
    }
    if (rc != HB_OK) {
        answer.status = send_error(conn, 500, "out of memory", NULL);
        goto done;
    }

    struct gateway_request req = {
        .method = ri->request_method,
        .path = path,
        .query = ri->query_string,
        .body = body.data,
        .body_len = body.len,
    };
    rc = gateway_route_request(&req, &route);
    if (rc != HB_OK) {
        answer.status = send_error(conn, 500, "out of memory", NULL);
        goto done;
    }
    answer.order_id = route.order_id;
    switch (route.kind) {
    case GATEWAY_ROUTE_ERROR:
        answer.status = send_error(conn, route.status, route.error, route.allow);
        break;
    case GATEWAY_ROUTE_LOCAL:
        answer.status = enforce ? run_local_authorised(gw, conn, &route, caller)
                                : run_local(gw, conn, &route);
        break;
    case GATEWAY_ROUTE_COMMAND:
        answer.status = enforce ? run_authorised(gw, conn, &route, caller)
                                : run_command(gw, conn, &route);
        break;
    }
done:
    /* Clients poll; one info line per request would bury what explains a failure. A token
     * in the query (the board's) stays out of the log. */
    const char *query = ri->query_string;
    const char *token = NULL;
    size_t token_len = 0;
    if (gateway_auth_query_token(ri->request_method, path, query, &token, &token_len)) {
        query = "token=(hidden)";
    }
    hb_log(answer.status >= 500 ? HB_LOG_INFO : HB_LOG_DEBUG, answer.order_id,
           "%.16s %.200s%s%.200s -> %d in %" PRId64 " ms", ri->request_method, path,
           query ? "?" : "", query ? query : "", answer.status, (hb_now_us() - started_us) / 1000);
    observe_request(gw, ri, path, &route, answer.status, started_us);
    gateway_route_clear(&route);
    free(body.data);
    return answer.status;
}

int gateway_http_handle(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct gateway *gw = ri->user_data;
    int status;
    /* Counted before the check, so a drain that saw zero active requests cannot miss
     * one that got past the check. */
    atomic_fetch_add(&gw->active, 1);
    if (atomic_load(&gw->stopping)) {
        close_after_answer(conn);
        status = send_error(conn, 503, "gateway is shutting down", NULL);
    } else {
        status = handle_request(gw, conn, ri);
    }
    atomic_fetch_sub(&gw->active, 1);
    return status;
}

int gateway_http_drain(struct gateway *gw, int max_wait_ms)
{
    atomic_store(&gw->stopping, true);
    if (gw->board) {
        gateway_board_wake(gw->board); /* board streams end now instead of at their next slice */
    }
    int64_t deadline_ms = hb_now_ms() + max_wait_ms;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
    int active = atomic_load(&gw->active);
    while (active > 0 && hb_now_ms() < deadline_ms) {
        nanosleep(&pause, NULL);
        active = atomic_load(&gw->active);
    }
    return active;
}
