/* hausbus-gateway: wiring only (config, bus, HTTP server, wait for a signal, stop). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "auth_settings.h"
#include "hausbus/bus.h"
#include "hausbus/config.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/sdnotify.h"
#include "http.h"

#define GATEWAY_PENDING_SLOTS 256 /* requests in flight at once; more are answered 503 */
#define HTTP_THREADS_DEFAULT 16
#define HTTP_THREADS_MAX 1024
#define HTTP_REQUEST_TIMEOUT_MS "10000"

/* HTTP settings that only the gateway has, so they are not in struct hb_config. */
struct http_settings {
    char listen[80]; /* civetweb listening_ports value, e.g. "127.0.0.1:8080" */
    char url[96];    /* for the start-up log line */
    char threads[8];
    char tls_cert[512]; /* PEM with certificate chain and key; "" for plain HTTP */
};

/* Reads HAUSBUS_HTTP_BIND (an IPv4 or IPv6 address, default 127.0.0.1),
 * HAUSBUS_HTTP_THREADS (1..1024, default 16) and HAUSBUS_HTTP_TLS_CERT (a readable PEM
 * file: the listener speaks HTTPS only). Returns HB_ERR_INVAL with a logged reason. */
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

    long threads = HTTP_THREADS_DEFAULT;
    const char *text = getenv("HAUSBUS_HTTP_THREADS");
    if (text && text[0] != '\0') {
        char *end = NULL;
        errno = 0;
        threads = strtol(text, &end, 10);
        if (errno != 0 || *end != '\0' || threads < 1 || threads > HTTP_THREADS_MAX) {
            HB_LOGE(0, "HAUSBUS_HTTP_THREADS must be an integer between 1 and %d, got \"%.32s\"",
                    HTTP_THREADS_MAX, text);
            return HB_ERR_INVAL;
        }
    }
    snprintf(out->threads, sizeof(out->threads), "%ld", threads);
    return HB_OK;
}

/* civetweb's own complaints (bad requests, socket errors) go into our log format. */
static int log_civetweb(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    HB_LOGW(0, "http server: %.300s", message);
    return 1;
}

/* Builds a client id no other gateway process will have: replies are addressed by it. */
static void make_client_id(struct gateway *gw)
{
    char uuid[37];
    char hex[17];
    size_t n = 0;
    hb_uuid(uuid);
    for (size_t i = 0; uuid[i] != '\0' && n < sizeof(hex) - 1; i++) {
        if (uuid[i] != '-') {
            hex[n++] = uuid[i];
        }
    }
    hex[n] = '\0';
    snprintf(gw->client_id, sizeof(gw->client_id), "hausbus-gateway-%s", hex);
    snprintf(gw->reply_topic, sizeof(gw->reply_topic), HB_TOPIC_PREFIX "reply/%s",
             gw->client_id);
}

/* Tells systemd (Type=notify) about state; does nothing when not started by systemd. */
static void notify_systemd(const char *state)
{
    hb_err_t rc = hb_sdnotify(state);
    if (rc != HB_OK) {
        HB_LOGW(0, "cannot notify systemd of %s: %s", state, hb_strerror(rc));
    }
}

/* Waits for a stop signal and returns it. With systemd's watchdog on (interval_ms > 0)
 * pings it every interval meanwhile: the HTTP and bus threads do the work, so the ping
 * says the process is scheduled and has not begun a shutdown that hangs. */
static int wait_for_stop(const sigset_t *stop_signals, int64_t interval_ms)
{
    for (;;) {
        int sig = 0;
        if (interval_ms <= 0) {
            if (sigwait(stop_signals, &sig) == 0) {
                return sig;
            }
            continue;
        }
        struct timespec wait = {.tv_sec = interval_ms / 1000,
                                .tv_nsec = (long)(interval_ms % 1000) * 1000000L};
        sig = sigtimedwait(stop_signals, NULL, &wait);
        if (sig > 0) {
            return sig;
        }
        notify_systemd("WATCHDOG=1");
    }
}

int main(void)
{
    struct hb_config cfg;
    hb_err_t rc = hb_config_load(&cfg);
    hb_log_init("gateway", rc == HB_OK ? cfg.log_level : getenv("HAUSBUS_LOG_LEVEL"));
    if (rc != HB_OK) {
        HB_LOGE(0, "bad configuration: %s", hb_strerror(rc));
        return 2;
    }
    struct http_settings http;
    if (http_settings_load(cfg.http_port, &http) != HB_OK) {
        return 2;
    }
    static struct gateway_auth_settings auth; /* static: holds the key, lives as long as we do */
    if (gateway_auth_settings_load(&auth) != HB_OK) {
        return 2;
    }
    if (auth.mode == GATEWAY_AUTH_MODE_OPEN) {
        HB_LOGW(0, "AUTHENTICATION IS OFF (HAUSBUS_AUTH=open): every HTTP client may do "
                   "everything; for local development only");
    }

    /* Block the stop signals before any thread exists, so every thread inherits the
     * mask and only sigwait() below sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the process */

    int exit_code = 1;
    bool civetweb_ready = false;
    struct mg_context *server = NULL;
    struct gateway gw;
    memset(&gw, 0, sizeof(gw));
    gateway_init(&gw);
    gw.cfg = &cfg;
    gw.auth = &auth;
    make_client_id(&gw);
    if (gateway_pending_create(GATEWAY_PENDING_SLOTS, &gw.pending) != HB_OK ||
        gateway_health_create(&gw.health) != HB_OK ||
        gateway_metrics_create(&gw.metrics) != HB_OK) {
        HB_LOGE(0, "out of memory");
        goto err;
    }
    gateway_health_set_auth(gw.health, auth.mode == GATEWAY_AUTH_MODE_OPEN ? "open" : "on");

    const char *const subscriptions[] = {gw.reply_topic, HB_TOPIC_PREFIX "status/+",
                                         HB_TOPIC_PREFIX "metrics/+"};
    struct hb_bus_options bus_opt = {
        .client_id = gw.client_id,
        .component = "gateway",
        .persistent = false, /* a reply that arrives while we are away has no taker */
        .subscriptions = subscriptions,
        .n_subscriptions = sizeof(subscriptions) / sizeof(subscriptions[0]),
        .on_message = gateway_on_message,
        .ctx = &gw,
    };
    rc = hb_bus_create(&cfg, &bus_opt, &gw.bus);
    if (rc != HB_OK) {
        HB_LOGE(0, "cannot create the bus client: %s", hb_strerror(rc));
        goto err;
    }
    rc = hb_bus_start_thread(gw.bus);
    if (rc != HB_OK) {
        HB_LOGE(0, "cannot start the bus thread: %s", hb_strerror(rc));
        goto err;
    }

    /* Its result is the set of optional features initialised. civetweb 1.15 loads
     * OpenSSL with dlopen("libssl.so"); if that fails here, mg_start2 would still open an
     * HTTPS port that crashes on its first connection, so stop now. */
    unsigned tls_feature = http.tls_cert[0] ? MG_FEATURES_TLS : MG_FEATURES_DEFAULT;
    unsigned features = mg_init_library(tls_feature);
    civetweb_ready = true;
    if ((features & tls_feature) != tls_feature) {
        HB_LOGE(0, "civetweb cannot load OpenSSL (libssl.so, libcrypto.so) for HTTPS; "
                   "see docs/SECURITY.md");
        goto err;
    }
    const char *options[] = {
        "listening_ports", http.listen,
        "num_threads", http.threads,
        "enable_keep_alive", "yes",
        /* civetweb writes status line, headers and body separately: without this, Nagle
         * holds each keep-alive response ~40 ms for the client's delayed ACK. */
        "tcp_nodelay", "1",
        "request_timeout_ms", HTTP_REQUEST_TIMEOUT_MS,
        /* HTTPS only when HAUSBUS_HTTP_TLS_CERT is set: the list ends at the first NULL
         * name, so plain HTTP stops here. TLS 1.2 is the oldest accepted. */
        http.tls_cert[0] ? "ssl_certificate" : NULL, http.tls_cert,
        "ssl_protocol_version", "4",
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof(callbacks));
    /* begin_request sees every request before civetweb's own routing, so no request
     * can reach civetweb's defaults between start and handler registration. */
    callbacks.begin_request = gateway_http_handle;
    callbacks.log_message = log_civetweb;
    char start_error[256] = "";
    struct mg_init_data init = {
        .callbacks = &callbacks,
        .user_data = &gw,
        .configuration_options = options,
    };
    struct mg_error_data start_err = {
        .text = start_error,
        .text_buffer_size = sizeof(start_error),
    };
    server = mg_start2(&init, &start_err);
    if (!server) {
        HB_LOGE(0, "cannot start the HTTP server on %s: %s", http.listen, start_error);
        goto err;
    }
    HB_LOGI(0, "listening on %s (client id %s, %s threads, request timeout %d ms, auth %s)",
            http.url, gw.client_id, http.threads, cfg.request_timeout_ms,
            auth.mode == GATEWAY_AUTH_MODE_OPEN ? "OPEN" : "bearer tokens");

    notify_systemd("READY=1");
    int signal_number = wait_for_stop(&stop_signals, hb_sdnotify_watchdog_interval_ms());
    notify_systemd("STOPPING=1");
    HB_LOGI(0, "stopping on signal %d", signal_number);
    /* A request may wait request_timeout_ms for its reply; give it a little more. */
    int abandoned = gateway_http_drain(&gw, cfg.request_timeout_ms + 1000);
    if (abandoned > 0) {
        HB_LOGW(0, "%d requests still in progress are cut off", abandoned);
    }
    exit_code = 0;
err:
    /* HTTP workers first (they wait on the pending table), then the bus thread (it
     * delivers into the tables), then the tables. */
    if (server) {
        mg_stop(server);
    }
    hb_bus_destroy(gw.bus);
    gateway_pending_destroy(gw.pending);
    gateway_health_destroy(gw.health);
    gateway_metrics_destroy(gw.metrics);
    if (civetweb_ready) {
        mg_exit_library();
    }
    return exit_code;
}
