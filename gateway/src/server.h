/* The gateway as a service a process starts and stops: hausbus-gateway and the all-in-one. */
#ifndef GATEWAY_SERVER_H
#define GATEWAY_SERVER_H

#include <stdbool.h>

#include "hausbus/config.h"
#include "hausbus/err.h"

struct gateway_server;

/* Reads the gateway's own settings from the environment (HAUSBUS_HTTP_BIND,
 * HAUSBUS_HTTP_THREADS, HAUSBUS_HTTP_TLS_CERT, HAUSBUS_AUTH*), connects its MQTT client
 * (client id hausbus-gateway-<random>, in a thread of its own) and starts the HTTP
 * server's threads; returns at once. cfg is copied. Call with SIGINT/SIGTERM blocked and
 * SIGPIPE ignored: its threads inherit the mask. On failure *out is NULL, the reason is
 * logged, and the result is HB_ERR_INVAL for a bad setting (exit 2), another error when
 * it could not start. Its log lines say "gateway"; the calling thread's own name
 * (hb_log_set_thread_component) is reset to the process's afterwards, here and in stop. */
hb_err_t gateway_server_start(const struct hb_config *cfg, struct gateway_server **out);

/* True while the gateway's MQTT client is connected and subscribed. */
bool gateway_server_connected(const struct gateway_server *srv);

/* Answers new requests 503, waits up to HAUSBUS_REQUEST_TIMEOUT_MS + 1 s for those in
 * progress, then stops the HTTP server and the MQTT client and frees srv. NULL is a no-op. */
void gateway_server_stop(struct gateway_server *srv);

#endif
