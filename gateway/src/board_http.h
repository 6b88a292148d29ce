/* The live board over HTTP: the page (GET /board) and its event stream (GET /board/events). */
#ifndef GATEWAY_BOARD_HTTP_H
#define GATEWAY_BOARD_HTTP_H

#include <civetweb.h>

#include "http.h"

/* A comment line every so often keeps proxies from timing the stream out, and is how a
 * closed page is noticed at all on a quiet bus: civetweb offers no way to watch the
 * socket, and only the second write after the peer closed fails. So a page's slot
 * (HAUSBUS_BOARD_CLIENTS) comes back within about two heartbeats. */
#define GATEWAY_BOARD_HEARTBEAT_MS 5000
#define GATEWAY_BOARD_MIN_GAP_MS 250     /* updates are coalesced to at most 4 per second */

/* Sends the embedded page (text/html). Returns the HTTP status sent. */
int gateway_board_send_page(struct mg_connection *conn);

/* Streams the board as server-sent events until the client goes away or the gateway
 * stops: "snapshot" with every part first, then "update" with the parts that changed,
 * a comment every GATEWAY_BOARD_HEARTBEAT_MS, and "bye" when the gateway stops. Holds
 * one of the board's client slots (and this civetweb worker) meanwhile. Returns 200
 * after a stream, or 503 without sending anything when every slot is taken (the caller
 * answers then). */
int gateway_board_stream(struct gateway *gw, struct mg_connection *conn);

#endif
