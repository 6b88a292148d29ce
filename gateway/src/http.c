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

#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "reply.h"
#include "routes.h"

#define COMMAND_TOPIC_MAX 128

/* What the access log line says about an answered request. */
struct answer {
    int status;
    int64_t order_id;
};

void gateway_on_message(void *ctx, const struct hb_message *msg)
{
    struct gateway *gw = ctx;
    if (strcmp(msg->topic, gw->reply_topic) == 0) {
        if (!gateway_pending_deliver(gw->pending, msg->correlation, msg->correlation_len,
                                     msg->payload, msg->len)) {
            /* The request gave up (504) or never was ours; nobody is left to tell. */
            HB_LOGD(0, "dropped a reply nobody waits for (late or unknown correlation)");
        }
        return;
    }
    if (strncmp(msg->topic, HB_TOPIC_PREFIX "status/", strlen(HB_TOPIC_PREFIX "status/")) == 0) {
        if (!gateway_health_on_status(gw->health, msg->topic, msg->payload, msg->len)) {
            HB_LOGW(0, "ignored status message on %.100s (%zu bytes)", msg->topic, msg->len);
        }
        return;
    }
    HB_LOGW(0, "ignored message on unexpected topic %.100s", msg->topic);
}

/* Sends one complete response. json may be NULL for none (204, 304 never carry one,
 * and a HEAD answer gets the headers only); location and allow add those headers when
 * non-NULL and non-empty. Write errors are not reported: they mean the client is gone,
 * and civetweb closes the connection. */
static void send_response(struct mg_connection *conn, int status, const char *json, size_t len,
                          const char *location, const char *allow)
{
    const char *method = mg_get_request_info(conn)->request_method;
    bool has_body = json && status != 204 && status != 304;
    bool send_body = has_body && !(method && strcmp(method, "HEAD") == 0);
    mg_response_header_start(conn, status);
    if (has_body) {
        char length[32];
        snprintf(length, sizeof(length), "%zu", len);
        mg_response_header_add(conn, "Content-Type", "application/json", -1);
        mg_response_header_add(conn, "Content-Length", length, -1);
    }
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    if (location && location[0] != '\0') {
        mg_response_header_add(conn, "Location", location, -1);
    }
    if (allow && allow[0] != '\0') {
        mg_response_header_add(conn, "Allow", allow, -1);
    }
    mg_response_header_send(conn);
    if (send_body) {
        mg_write(conn, json, len);
    }
}

/* Sends {"error": message} with status. Falls back to a fixed 500 body when even that
 * cannot be allocated. Returns the status actually sent. */
static int send_error(struct mg_connection *conn, int status, const char *message,
                      const char *allow)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (root && cJSON_AddStringToObject(root, "error", message)) {
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    if (!text) {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        send_response(conn, 500, fallback, sizeof(fallback) - 1, NULL, NULL);
        return 500;
    }
    send_response(conn, status, text, strlen(text), NULL, allow);
    free(text);
    return status;
}

/* The body as far as the gateway reads it. */
struct body {
    char *data;      /* malloc'd, NUL-terminated; NULL when there is none */
    size_t len;      /* GATEWAY_BODY_MAX + 1 stands for "too large" */
    bool incomplete; /* bytes of this request are left unread on the connection */
};

/* Reads the request body with a bound: a Content-Length over GATEWAY_BODY_MAX is not
 * read at all, a chunked body at most up to GATEWAY_BODY_MAX + 1 bytes. Returns
 * HB_ERR_NOMEM; HB_ERR_IO when the client stopped sending before the declared length or
 * the read failed; else HB_OK with *out filled. Release out->data with free in every case. */
static hb_err_t read_body(struct mg_connection *conn, const struct mg_request_info *ri,
                          struct body *out)
{
    memset(out, 0, sizeof(*out));
    const char *encoding = mg_get_header(conn, "Transfer-Encoding");
    bool chunked = encoding && strcasecmp(encoding, "chunked") == 0;
    long long declared = ri->content_length;
    if (!chunked && declared > GATEWAY_BODY_MAX) {
        /* Refused on the header alone; the client gets its 413 without uploading. */
        out->len = GATEWAY_BODY_MAX + 1;
        out->incomplete = true;
        return HB_OK;
    }
    if (!chunked && declared <= 0) {
        return HB_OK;
    }
    size_t cap = chunked ? GATEWAY_BODY_MAX + 1 : (size_t)declared;
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
    int n = 0;
    while (out->len < cap && (n = mg_read(conn, out->data + out->len, cap - out->len)) > 0) {
        out->len += (size_t)n;
    }
    out->data[out->len] = '\0';
    if (chunked && out->len > GATEWAY_BODY_MAX) {
        out->incomplete = true; /* further chunks may follow; they are not read */
    }
    if ((!chunked && out->len < cap) || n < 0) {
        out->incomplete = true;
        return HB_ERR_IO;
    }
    return HB_OK;
}

/* Publishes route's command, waits for the reply and relays it. Takes route->data. */
static int run_command(struct gateway *gw, struct mg_connection *conn,
                       struct gateway_route *route)
{
    char message[160];
    if (!hb_bus_connected(gw->bus)) {
        /* Nothing could answer; say so now rather than after the full timeout. */
        return send_error(conn, 503, "message bus unavailable", NULL);
    }
    struct gateway_ticket ticket;
    if (gateway_pending_open(gw->pending, &ticket) != HB_OK) {
        HB_LOGW(route->order_id, "every pending-request slot is taken; refusing %s.%s",
                route->component, route->command);
        return send_error(conn, 503, "gateway is busy, try again", NULL);
    }

    char type[HB_EVENT_TYPE_MAX];
    char topic[COMMAND_TOPIC_MAX];
    int type_len = snprintf(type, sizeof(type), "%s.%s", route->component, route->command);
    int topic_len = snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "cmd/%s/%s",
                             route->component, route->command);
    /* The route table holds short literals, so this is only a guard. */
    if (type_len < 0 || (size_t)type_len >= sizeof(type) || topic_len < 0 ||
        (size_t)topic_len >= sizeof(topic)) {
        gateway_pending_close(gw->pending, &ticket);
        return send_error(conn, 500, "internal error: command name too long", NULL);
    }

    struct hb_event ev;
    hb_err_t rc = hb_event_init(&ev, "gateway", type, route->order_id, route->data);
    route->data = NULL; /* hb_event_init owns it now, also on failure */
    char *payload = rc == HB_OK ? hb_envelope_encode(&ev) : NULL;
    hb_event_clear(&ev);
    if (!payload) {
        gateway_pending_close(gw->pending, &ticket);
        HB_LOGE(route->order_id, "cannot build the %s command: %s", type,
                rc == HB_OK ? "out of memory" : hb_strerror(rc));
        return send_error(conn, 500, "internal error: cannot build the command", NULL);
    }

    int timeout_ms = gw->cfg->request_timeout_ms;
    /* The command is worthless once we stop waiting, so the broker may drop it then. */
    unsigned expiry_s = timeout_ms > 0 ? (unsigned)(timeout_ms + 999) / 1000u : 1u;
    rc = hb_bus_request(gw->bus, topic, payload, strlen(payload), gw->reply_topic,
                        ticket.correlation, GATEWAY_CORRELATION_LEN, expiry_s);
    free(payload);
    if (rc != HB_OK) {
        gateway_pending_close(gw->pending, &ticket);
        HB_LOGW(route->order_id, "cannot publish %s: %s", type, hb_strerror(rc));
        return send_error(conn, 503, "message bus unavailable", NULL);
    }

    char *reply_text = NULL;
    size_t reply_len = 0;
    rc = gateway_pending_wait(gw->pending, &ticket, timeout_ms, &reply_text, &reply_len);
    if (rc == HB_ERR_TIMEOUT) {
        HB_LOGW(route->order_id, "%s: no reply within %d ms", type, timeout_ms);
        snprintf(message, sizeof(message), "%s component did not answer in time",
                 route->component);
        return send_error(conn, 504, message, NULL);
    }
    if (rc != HB_OK) {
        HB_LOGE(route->order_id, "%s: cannot take the reply: %s", type, hb_strerror(rc));
        return send_error(conn, 500, "internal error: cannot take the reply", NULL);
    }

    struct gateway_reply reply;
    const char *why = NULL;
    rc = gateway_reply_decode(reply_text, reply_len, &reply, &why);
    free(reply_text);
    if (rc != HB_OK) {
        HB_LOGW(route->order_id, "%s: bad reply: %s", type, why ? why : hb_strerror(rc));
        snprintf(message, sizeof(message), "%s component sent a malformed reply",
                 route->component);
        return send_error(conn, 502, message, NULL);
    }
    send_response(conn, reply.code, reply.body, reply.body_len, reply.location, NULL);
    int status = reply.code;
    gateway_reply_clear(&reply);
    return status;
}

/* Answers GET /healthz from the gateway's own view of the bus. */
static int run_health(struct gateway *gw, struct mg_connection *conn)
{
    int status = 503;
    char *text = gateway_health_render(gw->health, hb_bus_connected(gw->bus), &status);
    if (!text) {
        return send_error(conn, 500, "out of memory", NULL);
    }
    send_response(conn, status, text, strlen(text), NULL, NULL);
    free(text);
    return status;
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
    int64_t started_ms = hb_now_ms();
    const char *path = ri->local_uri ? ri->local_uri : "";
    struct answer answer = {0};
    struct gateway_route route;
    memset(&route, 0, sizeof(route));

    struct body body;
    hb_err_t rc = read_body(conn, ri, &body);
    if (body.incomplete) {
        /* Unread request bytes would be parsed as the next request; close instead. */
        mg_disable_keep_alive(conn);
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
    case GATEWAY_ROUTE_HEALTH:
        answer.status = run_health(gw, conn);
        break;
    case GATEWAY_ROUTE_COMMAND:
        answer.status = run_command(gw, conn, &route);
        break;
    }
done:
    /* Clients poll; one info line per request would bury what explains a failure. */
    hb_log(answer.status >= 500 ? HB_LOG_INFO : HB_LOG_DEBUG, answer.order_id,
           "%.16s %.200s%s%.200s -> %d in %" PRId64 " ms", ri->request_method, path,
           ri->query_string ? "?" : "", ri->query_string ? ri->query_string : "", answer.status,
           hb_now_ms() - started_ms);
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
        mg_disable_keep_alive(conn);
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
    int64_t deadline_ms = hb_now_ms() + max_wait_ms;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
    int active = atomic_load(&gw->active);
    while (active > 0 && hb_now_ms() < deadline_ms) {
        nanosleep(&pause, NULL);
        active = atomic_load(&gw->active);
    }
    return active;
}
