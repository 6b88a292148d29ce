/* The gateway as a service any process can start and stop: settings, bus, HTTP server. */
#include "server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

#include "auth_settings.h"
#include "client_id.h"
#include "hausbus/bus.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "http.h"
#include "worker_stack.h"

#define GATEWAY_PENDING_SLOTS 256 /* requests in flight at once; more are answered 503 */
/* A worker per open connection (civetweb 1.15): enough that 200 clients that never
 * finish their headers leave workers for everybody else (docs/OPERATIONS.md). A worker
 * costs about 15 KiB of RSS (a 100 KiB stack, mostly untouched). */
#define HTTP_THREADS_DEFAULT 256
#define HTTP_THREADS_MAX 1024
#define HTTP_RECEIVE_TIMEOUT_DEFAULT_MS 5000
#define HTTP_RECEIVE_TIMEOUT_MIN_MS 100
#define HTTP_RECEIVE_TIMEOUT_MAX_MS 60000

/* HTTP settings that only the gateway has, so they are not in struct hb_config. */
struct http_settings {
    char listen[80]; /* civetweb listening_ports value, e.g. "127.0.0.1:8080" */
    char url[96];    /* for the start-up log line */
    char threads[8];
    int receive_timeout_ms;
    char receive_timeout[16]; /* the same, for civetweb's request_timeout_ms */
    char tls_cert[512]; /* PEM with certificate chain and key; "" for plain HTTP */
};

/* Parses the integer setting name (unset or empty: fallback) within min..max into *out.
 * Returns HB_ERR_INVAL with a logged reason. */
static hb_err_t int_setting(const char *name, long fallback, long min, long max, long *out)
{
    *out = fallback;
    const char *text = getenv(name);
    if (!text || text[0] == '\0') {
        return HB_OK;
    }
    char *end = NULL;
    errno = 0;
    *out = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || *out < min || *out > max) {
        HB_LOGE(0, "%s must be an integer between %ld and %ld, got \"%.32s\"", name, min, max,
                text);
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

/* Reads HAUSBUS_HTTP_BIND (an IPv4 or IPv6 address, default 127.0.0.1),
 * HAUSBUS_HTTP_THREADS (1..1024, default 256), HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS (100..60000,
 * default 5000) and HAUSBUS_HTTP_TLS_CERT (a readable PEM file: the listener speaks HTTPS
 * only). Returns HB_ERR_INVAL with a logged reason. */
static hb_err_t http_settings_load(int port, struct http_settings *out)
{
    const char *bind = getenv("HAUSBUS_HTTP_BIND");
    if (!bind || bind[0] == '\0') {
        bind = "127.0.0.1";
    }
    out->tls_cert[0] = '\0';
    const char *cert = getenv("HAUSBUS_HTTP_TLS_CERT");
    if (cert && cert[0] != '\0') {
        int len = snprintf(out->tls_cert, sizeof(out->tls_cert), "%s", cert);
        if (len < 0 || (size_t)len >= sizeof(out->tls_cert) || access(cert, R_OK) != 0) {
            HB_LOGE(0, "HAUSBUS_HTTP_TLS_CERT must name a readable PEM file, got \"%.64s\"", cert);
            return HB_ERR_INVAL;
        }
    }
    /* civetweb marks an HTTPS port with an "s" suffix. */
    const char *tls_suffix = out->tls_cert[0] ? "s" : "";
    const char *scheme = out->tls_cert[0] ? "https" : "http";
    unsigned char addr[16];
    int n = -1;
    if (inet_pton(AF_INET, bind, addr) == 1) {
        n = snprintf(out->listen, sizeof(out->listen), "%s:%d%s", bind, port, tls_suffix);
        snprintf(out->url, sizeof(out->url), "%s://%s:%d/", scheme, bind, port);
    } else if (inet_pton(AF_INET6, bind, addr) == 1) {
        n = snprintf(out->listen, sizeof(out->listen), "[%s]:%d%s", bind, port, tls_suffix);
        snprintf(out->url, sizeof(out->url), "%s://[%s]:%d/", scheme, bind, port);
    }
    if (n < 0 || (size_t)n >= sizeof(out->listen)) {
        HB_LOGE(0, "HAUSBUS_HTTP_BIND must be an IPv4 or IPv6 address, got \"%.64s\"", bind);
        return HB_ERR_INVAL;
    }

    long threads = 0;
    long receive_ms = 0;
    if (int_setting("HAUSBUS_HTTP_THREADS", HTTP_THREADS_DEFAULT, 1, HTTP_THREADS_MAX,
                    &threads) != HB_OK ||
        int_setting("HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS", HTTP_RECEIVE_TIMEOUT_DEFAULT_MS,
                    HTTP_RECEIVE_TIMEOUT_MIN_MS, HTTP_RECEIVE_TIMEOUT_MAX_MS,
                    &receive_ms) != HB_OK) {
        return HB_ERR_INVAL;
    }
    snprintf(out->threads, sizeof(out->threads), "%ld", threads);
    out->receive_timeout_ms = (int)receive_ms;
    snprintf(out->receive_timeout, sizeof(out->receive_timeout), "%ld", receive_ms);
    return HB_OK;
}

/* civetweb's own complaints (bad requests, socket errors) go into our log format. */
static int log_civetweb(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    HB_LOGW(0, "http server: %.300s", message);
    return 1;
}

/* Each civetweb thread names its log lines "gateway": in the all-in-one the process's
 * default name is "hausbus". */
static void *name_civetweb_thread(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    hb_log_set_thread_component("gateway");
    if (thread_type == 1) { /* a worker: connections run on it */
        gateway_worker_stack_note();
    }
    return NULL;
}

/* A worker's connection ended: its stack pages go back until the next one (see there). */
static void trim_worker_stack(const struct mg_connection *conn)
{
    (void)conn;
    gateway_worker_stack_trim();
}

/* Builds a client id no other gateway process will have: replies are addressed by it. */
static void make_client_id(struct gateway *gw)
{
    char uuid[37];
    hb_uuid(uuid);
    /* Can't fail: hb_uuid writes 32 hex digits, and the buffer has room for the id. */
    hb_err_t rc = gateway_client_id_from_uuid(uuid, gw->client_id, sizeof(gw->client_id));
    assert(rc == HB_OK);
    (void)rc;
    snprintf(gw->reply_topic, sizeof(gw->reply_topic), HB_TOPIC_PREFIX "reply/%s",
             gw->client_id);
}

/* Everything a running gateway owns; the struct gateway points into it. */
struct gateway_server {
    struct hb_config cfg;
    struct gateway_auth_settings auth; /* holds the token key */
    struct http_settings http;
    struct gateway gw;
    const char *subscriptions[5]; /* the bus keeps this pointer */
    struct mg_context *http_server;
    bool civetweb_ready; /* mg_init_library was called: mg_exit_library is owed */
};

/* Starts civetweb on srv->http (mg_init_library included). Returns HB_ERR_IO, logged. */
static hb_err_t start_http(struct gateway_server *srv)
{
    /* Its result is the set of optional features initialised. civetweb 1.15 loads
     * OpenSSL with dlopen("libssl.so"); if that fails here, mg_start2 would still open an
     * HTTPS port that crashes on its first connection, so stop now. */
    unsigned tls_feature = srv->http.tls_cert[0] ? MG_FEATURES_TLS : MG_FEATURES_DEFAULT;
    unsigned features = mg_init_library(tls_feature);
    srv->civetweb_ready = true;
    if ((features & tls_feature) != tls_feature) {
        HB_LOGE(0, "civetweb cannot load OpenSSL (libssl.so, libcrypto.so) for HTTPS; "
                   "see docs/SECURITY.md");
        return HB_ERR_IO;
    }
    const char *options[] = {
        "listening_ports", srv->http.listen,
        "num_threads", srv->http.threads,
        "enable_keep_alive", "yes",
        /* civetweb writes status line, headers and body separately: without this, Nagle
         * holds each keep-alive response ~40 ms for the client's delayed ACK. */
        "tcp_nodelay", "1",
        /* civetweb 1.15 gives a new connection this long, from its first wait, for the
         * whole request line and headers (a slow client is cut, not only a silent one),
         * and each later read or write as long; the body's total is bounded in http.c. */
        "request_timeout_ms", srv->http.receive_timeout,
        /* HTTPS only when HAUSBUS_HTTP_TLS_CERT is set: the list ends at the first NULL
         * name, so plain HTTP stops here. TLS 1.2 is the oldest accepted. */
        srv->http.tls_cert[0] ? "ssl_certificate" : NULL, srv->http.tls_cert,
        "ssl_protocol_version", "4",
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    /* begin_request sees every request before civetweb's own routing, so no request
     * can reach civetweb's defaults between start and handler registration. */
    callbacks.begin_request = gateway_http_handle;
    callbacks.log_message = log_civetweb;
    callbacks.init_thread = name_civetweb_thread;
    callbacks.connection_close = trim_worker_stack;
    char start_error[256] = "";
    struct mg_init_data init = {
        .callbacks = &callbacks,
        .user_data = &srv->gw,
        .configuration_options = options,
    };
    struct mg_error_data start_err = {
        .text = start_error,
        .text_buffer_size = sizeof(start_error),
    };
    srv->http_server = mg_start2(&init, &start_err);
    if (!srv->http_server) {
        HB_LOGE(0, "cannot start the HTTP server on %s: %s", srv->http.listen, start_error);
        return HB_ERR_IO;
    }
    return HB_OK;
}

hb_err_t gateway_server_start(const struct hb_config *cfg, struct gateway_server **out)
{
    *out = NULL;
    hb_log_set_thread_component("gateway");
    struct gateway_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        HB_LOGE(0, "out of memory");
        return HB_ERR_NOMEM;
    }
    srv->cfg = *cfg;
    hb_err_t rc = http_settings_load(cfg->http_port, &srv->http);
    if (rc == HB_OK) {
        rc = gateway_auth_settings_load(&srv->auth);
    }
    if (rc != HB_OK) {
        rc = HB_ERR_INVAL; /* a setting is wrong (logged): exit 2, as for hb_config_load */
        goto err;
    }
    if (srv->auth.mode == GATEWAY_AUTH_MODE_OPEN) {
        HB_LOGW(0, "AUTHENTICATION IS OFF (HAUSBUS_AUTH=open): every HTTP client may do "
                   "everything; for local development only");
    }
    struct gateway *gw = &srv->gw;
    gateway_init(gw);
    gw->cfg = &srv->cfg;
    gw->auth = &srv->auth;
    gw->receive_timeout_ms = srv->http.receive_timeout_ms;
    make_client_id(gw);
    int board_clients = 0;
    if (gateway_board_clients_parse(getenv("HAUSBUS_BOARD_CLIENTS"), &board_clients) != HB_OK) {
        HB_LOGE(0, "HAUSBUS_BOARD_CLIENTS must be an integer between 0 and %d",
                GATEWAY_BOARD_CLIENTS_MAX);
        rc = HB_ERR_INVAL;
        goto err;
    }
    if (gateway_pending_create(GATEWAY_PENDING_SLOTS, &gw->pending) != HB_OK ||
        gateway_status_create(&gw->status) != HB_OK ||
        gateway_metrics_create(&gw->metrics) != HB_OK ||
        gateway_board_create(board_clients, gw->status, &gw->board) != HB_OK) {
        HB_LOGE(0, "out of memory");
        rc = HB_ERR_NOMEM;
        goto err;
    }
    gateway_metrics_use_status(gw->metrics, gw->status);
    if (srv->cfg.bus_batch > 1) {
        struct gateway_coalesce_options coalesce = {
            .capacity = GATEWAY_PENDING_SLOTS,
            .max_items = (size_t)srv->cfg.bus_batch,
            .max_bytes = HB_PAYLOAD_MAX, /* what a component takes */
            .depth = GATEWAY_COALESCE_DEPTH,
            .stall_ms = GATEWAY_COALESCE_STALL_MS,
            /* Every request in a message started before it was sent, so none still waits
             * for it after the request timeout (a second more for the margin). */
            .expire_ms = srv->cfg.request_timeout_ms + GATEWAY_COALESCE_STALL_MS + 1000,
        };
        if (gateway_coalesce_create(&coalesce, &gw->coalesce) != HB_OK) {
            HB_LOGE(0, "out of memory");
            rc = HB_ERR_NOMEM;
            goto err;
        }
    }

    srv->subscriptions[0] = gw->reply_topic;
    srv->subscriptions[1] = HB_TOPIC_PREFIX "status/+";
    srv->subscriptions[2] = HB_TOPIC_PREFIX "metrics/+"; /* for GET /metrics and the board */
    srv->subscriptions[3] = HB_TOPIC_PREFIX "status/+/+"; /* replicas' */
    /* The last one feeds only the live board: with it off the broker need not send it. */
    srv->subscriptions[4] = HB_TOPIC_PREFIX "evt/order/+";
    struct hb_bus_options bus_opt = {
        .client_id = gw->client_id,
        .component = "gateway",
        .persistent = false, /* a reply that arrives while we are away has no taker */
        .subscriptions = srv->subscriptions,
        .n_subscriptions = sizeof(srv->subscriptions) / sizeof(srv->subscriptions[0]) -
                           (board_clients > 0 ? 0 : 1),
        .n_feeds = board_clients > 0 ? 1 : 0, /* the board shows the latest; QoS 0 will do */
        .on_message = gateway_on_message,
        .max_payload = HB_REPLY_MAX, /* a list answer can be that big */
        .ctx = gw,
    };
    rc = hb_bus_create(&srv->cfg, &bus_opt, &gw->bus);
    if (rc != HB_OK) {
        HB_LOGE(0, "cannot create the bus client: %s", hb_strerror(rc));
        goto err;
    }
    rc = hb_bus_start_thread(gw->bus);
    if (rc != HB_OK) {
        HB_LOGE(0, "cannot start the bus thread: %s", hb_strerror(rc));
        goto err;
    }
    rc = start_http(srv);
    if (rc != HB_OK) {
        goto err;
    }
    HB_LOGI(0, "listening on %s (client id %s, %s threads, receive timeout %d ms, request "
               "timeout %d ms, up to %d requests per message, auth %s)",
            srv->http.url, gw->client_id, srv->http.threads, srv->http.receive_timeout_ms,
            srv->cfg.request_timeout_ms, srv->cfg.bus_batch,
            srv->auth.mode == GATEWAY_AUTH_MODE_OPEN ? "OPEN" : "bearer tokens");
    *out = srv;
    hb_log_set_thread_component(NULL);
    return HB_OK;
err:
    gateway_server_stop(srv);
    return rc;
}

bool gateway_server_connected(const struct gateway_server *srv)
{
    return hb_bus_connected(srv->gw.bus);
}

void gateway_server_stop(struct gateway_server *srv)
{
    if (!srv) {
        return;
    }
    hb_log_set_thread_component("gateway");
    if (srv->http_server) {
        /* A request may wait request_timeout_ms for its reply; give it a little more. */
        int abandoned = gateway_http_drain(&srv->gw, srv->cfg.request_timeout_ms + 1000);
        if (abandoned > 0) {
            HB_LOGW(0, "%d requests still in progress are cut off", abandoned);
        }
    }
    /* HTTP workers first (they wait on the pending table), then the bus thread (it
     * delivers into the tables), then the tables. */
    if (srv->http_server) {
        mg_stop(srv->http_server);
    }
    hb_bus_destroy(srv->gw.bus);
    gateway_pending_destroy(srv->gw.pending);
    gateway_coalesce_destroy(srv->gw.coalesce);
    gateway_metrics_destroy(srv->gw.metrics);
    gateway_board_destroy(srv->gw.board);
    gateway_status_destroy(srv->gw.status); /* last: metrics and the board read it */
    if (srv->civetweb_ready) {
        mg_exit_library();
    }
    free(srv);
    hb_log_set_thread_component(NULL);
}
