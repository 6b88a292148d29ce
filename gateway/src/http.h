/* The gateway's HTTP side: the civetweb request handler and the MQTT reply/status intake. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>

#include <civetweb.h>

#include "auth_settings.h"
#include "board.h"
#include "coalesce.h"
#include "hausbus/bus.h"
#include "hausbus/config.h"
#include "metrics.h"
#include "pending.h"
#include "status.h"

#define GATEWAY_CLIENT_ID_MAX 64
/* Seconds a 503 asks the client to wait (Retry-After): about what a component takes to
 * restart and say "online" again. */
#define GATEWAY_RETRY_AFTER_S 5

/* Everything the request handler and the bus callback share. Set up completely in
 * main before the bus thread and the HTTP server start; read-only afterwards (the
 * tables it points to have their own locks). */
struct gateway {
    const struct hb_config *cfg;
    const struct gateway_auth_settings *auth; /* open mode, or the key tokens are checked with */
    struct hb_bus *bus;
    struct gateway_pending *pending;
    struct gateway_coalesce *coalesce; /* NULL with HAUSBUS_BUS_BATCH=1: every request alone */
    struct gateway_status *status; /* every process's retained status, kept once */
    struct gateway_metrics *metrics; /* GET /metrics; NULL leaves the counting out */
    struct gateway_board *board; /* the live board (GET /board/events) */
    char client_id[GATEWAY_CLIENT_ID_MAX];     /* "hausbus-gateway-<hex>", unique per process */
    char reply_topic[GATEWAY_CLIENT_ID_MAX + 32]; /* hausbus/v1/reply/<client_id> */
    int receive_timeout_ms; /* HAUSBUS_HTTP_RECEIVE_TIMEOUT_MS: for a request body */
    atomic_bool stopping;  /* set by gateway_http_drain: new requests get 503 */
    atomic_int active;     /* requests being handled right now */
};

/* Initialises the fields above that need it; call once on a zeroed struct. */
void gateway_init(struct gateway *gw);

/* The hb_bus on_message callback (ctx is the struct gateway): replies go to the pending
 * table, status messages to the status table (and a nudge to the board), order events and metrics to
 * the board, anything else is logged and dropped. */
void gateway_on_message(void *ctx, const struct hb_message *msg);

/* The civetweb begin_request callback: answers every request (the struct gateway is the
 * server's user data). Returns the HTTP status sent, for civetweb's access log. */
int gateway_http_handle(struct mg_connection *conn);

/* Makes every new request a 503 and waits up to max_wait_ms for the requests in
 * progress to be answered: civetweb refuses to write once it is stopping, so without
 * this a request waiting for its reply would lose its answer. Returns how many were
 * still in progress when it gave up (0 normally). */
int gateway_http_drain(struct gateway *gw, int max_wait_ms);

#endif
