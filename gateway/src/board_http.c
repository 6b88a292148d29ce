/* The live board over HTTP: the embedded page and the server-sent event stream. */
#include "board_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "documents.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"

#define WAIT_SLICE_MS 1000 /* a stream looks at gw->stopping at least this often */

int gateway_board_send_page(struct mg_connection *conn)
{
    char length[32];
    snprintf(length, sizeof(length), "%zu", gateway_board_html_len);
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", "text/html; charset=utf-8", -1);
    mg_response_header_add(conn, "Content-Length", length, -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    /* Everything the page needs is inline; nothing else may load or run. */
    mg_response_header_add(conn, "Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; "
                           "style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
                           -1);
    mg_response_header_send(conn);
    const char *method = mg_get_request_info(conn)->request_method;
    if (!(method && strcmp(method, "HEAD") == 0)) {
        mg_write(conn, gateway_board_html, gateway_board_html_len);
    }
    return 200;
}

/* Writes one event "event: name\ndata: json\n\n". Returns false when the client is gone
 * (or json is NULL: out of memory, which ends the stream; the page reconnects). */
static bool send_event(struct mg_connection *conn, const char *name, char *json)
{
    if (!json) {
        HB_LOGW(0, "board: cannot render the state (out of memory)");
        return false;
    }
    bool ok = mg_printf(conn, "event: %s\ndata: %s\n\n", name, json) > 0;
    free(json);
    return ok;
}

static void pause_ms(int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int gateway_board_stream(struct gateway *gw, struct mg_connection *conn)
{
    if (!gateway_board_join(gw->board)) {
        return 503;
    }
    mg_disable_keep_alive(conn); /* the stream has no length: it ends with the connection */
    mg_response_header_start(conn, 200);
    mg_response_header_add(conn, "Content-Type", "text/event-stream", -1);
    mg_response_header_add(conn, "Cache-Control", "no-store", -1);
    mg_response_header_add(conn, "X-Accel-Buffering", "no", -1);
    mg_response_header_send(conn);

    struct gateway_board_cursor cursor;
    memset(&cursor, 0, sizeof(cursor));
    /* retry: how long the page's EventSource waits before it reconnects. */
    bool alive = mg_printf(conn, "retry: 2000\n\n") > 0 &&
                 send_event(conn, "snapshot",
                            gateway_board_render(gw->board, GATEWAY_BOARD_ALL, &cursor));
    int64_t last_write_ms = hb_now_ms();
    int64_t last_update_ms = 0;
    while (alive && !atomic_load(&gw->stopping)) {
        unsigned changed = gateway_board_wait(gw->board, &cursor, WAIT_SLICE_MS);
        if (atomic_load(&gw->stopping)) {
            break;
        }
        int64_t now_ms = hb_now_ms();
        if (changed != 0) {
            /* Under load every message changes something; a page needs a few frames a
             * second, not one per message. */
            pause_ms(last_update_ms + GATEWAY_BOARD_MIN_GAP_MS - now_ms);
            changed |= gateway_board_wait(gw->board, &cursor, 0);
            alive = send_event(conn, "update", gateway_board_render(gw->board, changed, &cursor));
            last_update_ms = last_write_ms = hb_now_ms();
        } else if (now_ms - last_write_ms >= GATEWAY_BOARD_HEARTBEAT_MS) {
            alive = mg_printf(conn, ": heartbeat\n\n") > 0;
            last_write_ms = now_ms;
        }
    }
    if (alive && atomic_load(&gw->stopping)) {
        mg_printf(conn, "event: bye\ndata: {\"reason\":\"gateway stopping\"}\n\n");
    }
    gateway_board_leave(gw->board);
    return 200;
}
