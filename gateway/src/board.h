/* The live board's state (GET /board/events): statuses, latest orders, talk graph. */
#ifndef GATEWAY_BOARD_H
#define GATEWAY_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"

#define GATEWAY_BOARD_ORDERS 20          /* latest orders kept, newest first */
#define GATEWAY_BOARD_COMPONENTS 16      /* metrics snapshots kept; further names are ignored */
#define GATEWAY_BOARD_TOPICS 64          /* handled topics remembered per component */
#define GATEWAY_BOARD_EDGES 64           /* "A -> B" pairs drawn */
#define GATEWAY_BOARD_NAME_MAX 32        /* bytes with the NUL */
#define GATEWAY_BOARD_TOPIC_MAX 128      /* bytes with the NUL; longer topics are skipped */
#define GATEWAY_BOARD_PAYLOAD_MAX 65536  /* larger messages are refused unparsed */
#define GATEWAY_BOARD_CLIENTS_DEFAULT 4  /* HAUSBUS_BOARD_CLIENTS */
#define GATEWAY_BOARD_CLIENTS_MAX 64

/* What changed: render only these parts of the state. */
enum {
    GATEWAY_BOARD_COMPONENTS_PART = 1 << 0, /* "components": names and status */
    GATEWAY_BOARD_ORDERS_PART = 1 << 1,     /* "orders": the latest orders */
    GATEWAY_BOARD_EDGES_PART = 1 << 2,      /* "edges": who talks to whom, rates */
    GATEWAY_BOARD_ALL = 7,
};

/* A position in the board's history: what a stream has already sent. */
struct gateway_board_cursor {
    uint64_t seq[3]; /* per part, in the order of the flags above */
};

struct gateway_board;
struct gateway_status;

/* Creates an empty board that shows the processes of status (the gateway's status
 * table, which must outlive the board) and admits at most max_clients streams (0: the
 * board is off and admits none). Returns HB_ERR_INVAL for max_clients outside
 * 0..GATEWAY_BOARD_CLIENTS_MAX or a NULL status, HB_ERR_NOMEM;
 * *out is set only on success. */
hb_err_t gateway_board_create(int max_clients, struct gateway_status *status,
                              struct gateway_board **out);

/* Accepts NULL. No stream may be waiting on it any more. */
void gateway_board_destroy(struct gateway_board *board);

/* Parses HAUSBUS_BOARD_CLIENTS' value (NULL or "" -> the default) into *out. Returns
 * HB_ERR_INVAL for anything but an integer 0..GATEWAY_BOARD_CLIENTS_MAX (0: board off). */
hb_err_t gateway_board_clients_parse(const char *text, int *out);

/* Folds one bus message into the board, by topic: hausbus/v1/status/<name> (the status
 * table has already taken it: only wakes the streams), hausbus/v1/evt/order/<Type>
 * (a CloudEvent whose data has orderId and status; reason optional) and
 * hausbus/v1/metrics/<name> (docs/METRICS: "time", "startedAt", "handled"). The rate of
 * an edge is the increase of its handled counters over the seconds between two metrics
 * snapshots of the same process run. Returns false and changes nothing for another
 * topic or a malformed payload. Wakes waiting streams when something changed. While no
 * stream is open (gateway_board_join), an order event is kept unread instead (true) and
 * folded, or found malformed, at the next join or render; of those that came
 * since, only the latest 128 KiB are kept, and when older ones were dropped the orders
 * shown before are forgotten. Thread-safe. */
bool gateway_board_on_message(struct gateway_board *board, const char *topic,
                              const char *payload, size_t len);

/* Renders {"components":[...],"orders":[...],"edges":[...]} with only the parts in
 * mask (with orders, after reading the order events kept unread), and sets *cursor (may
 * be NULL) to the state rendered. Returns a malloc'd
 * string, NULL on allocation failure. Thread-safe. */
char *gateway_board_render(struct gateway_board *board, unsigned mask,
                           struct gateway_board_cursor *cursor);

/* Waits up to timeout_ms for a part to change after cursor, or for
 * gateway_board_wake; for a stream that has joined (gateway_board_join), which took what
 * came before it, so nothing is kept unread while it waits. Returns the mask of parts changed since cursor (0 on timeout or
 * wake). Thread-safe. */
unsigned gateway_board_wait(struct gateway_board *board, const struct gateway_board_cursor *cursor,
                            int timeout_ms);

/* Wakes every waiting stream (the gateway is stopping). Thread-safe. */
void gateway_board_wake(struct gateway_board *board);

/* Takes one stream slot: false when max_clients streams are open. Reads the order
 * events kept unread first; from then on until the last stream leaves, order events are
 * read as they come. Thread-safe. */
bool gateway_board_join(struct gateway_board *board);

/* Gives back a slot taken by gateway_board_join. Thread-safe. */
void gateway_board_leave(struct gateway_board *board);

#endif
