/* Coalescing concurrent requests to one command topic into batched messages: the
 * queues and the rule that forms batches, without I/O (http.c publishes what it takes). */
#ifndef GATEWAY_COALESCE_H
#define GATEWAY_COALESCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hausbus/config.h"
#include "hausbus/envelope.h"
#include "hausbus/err.h"
#include "pending.h"

#define GATEWAY_COALESCE_TOPIC_MAX 128 /* bytes of a command topic with the NUL */
#define GATEWAY_COALESCE_TOPICS_MAX 32 /* command topics with a queue; the route table has 9 */
#define GATEWAY_COALESCE_ID_MAX HB_EVENT_ID_MAX /* a request's CloudEvent id with the NUL */
/* A batch's Correlation Data starts with this; a lone request's (the pending table's
 * sequence in hex) never does, so a reply says by itself which kind it answers. */
#define GATEWAY_COALESCE_BATCH_MARK 'B'

/* The rule (docs/PROTOCOL.md, "Batches"): a request goes out at once, alone, unless
 * GATEWAY_COALESCE_DEPTH messages to its topic are already unanswered; then it waits in
 * the topic's queue, and whatever has queued goes out together as soon as one of those
 * is answered. So a lone request is never held back, and under load requests gather
 * while the component works on the two messages before them (two, not one: the second
 * waits at the component while it commits the first, so it never idles for a round
 * trip). An unanswered message stops holding the queue back after stall_ms (a lost
 * message must not stall its topic for the whole request timeout). */
#define GATEWAY_COALESCE_DEPTH 2
#define GATEWAY_COALESCE_STALL_MS 250

struct gateway_coalesce;

struct gateway_coalesce_options {
    size_t capacity;  /* requests waiting at once: the pending table's slots (>= 1) */
    size_t max_items; /* most requests in one message, 1..HB_BUS_BATCH_MAX */
    size_t max_bytes; /* most bytes in one batched payload (HB_PAYLOAD_MAX); a lone
                       * request larger than this still goes, alone */
    unsigned depth;   /* unanswered messages per topic before requests queue, >= 1 */
    int stall_ms;     /* an unanswered message older than this no longer counts, > 0 */
    int expire_ms;    /* one older than this is forgotten (its waiters have given up) */
};

/* A message taken out of a queue, for the caller to publish. */
struct gateway_coalesce_batch {
    char topic[GATEWAY_COALESCE_TOPIC_MAX];
    char correlation[GATEWAY_CORRELATION_LEN + 1]; /* its Correlation Data (without NUL) */
    size_t n_items;     /* 1: the lone request's own CloudEvent, sent as today */
    struct gateway_ticket tickets[HB_BUS_BATCH_MAX]; /* the waiters, in payload order */
    char *payload;      /* malloc'd: the CloudEvent, or a JSON array of n_items of them */
    size_t len;
};

/* One waiter of an answered batch, in the order of the batch's payload. */
struct gateway_coalesce_waiter {
    struct gateway_ticket ticket;
    char id[GATEWAY_COALESCE_ID_MAX]; /* its request's CloudEvent id */
};

/* Creates the queues. Returns HB_ERR_INVAL for options out of range, HB_ERR_NOMEM; *out
 * is set only on success. */
hb_err_t gateway_coalesce_create(const struct gateway_coalesce_options *opt,
                                 struct gateway_coalesce **out);

/* Frees the queues and every payload still queued. No thread may use it any more.
 * Accepts NULL. */
void gateway_coalesce_destroy(struct gateway_coalesce *c);

/* Queues the request of ticket to topic at now_ms (hb_now_ms): payload is its CloudEvent
 * (malloc'd, len bytes, id its id), taken also on failure. Returns HB_ERR_INVAL when topic
 * or id does not fit, HB_ERR_BUSY when every place is taken (the caller answers 503). The
 * caller then calls gateway_coalesce_take: queueing alone sends nothing. */
hb_err_t gateway_coalesce_add(struct gateway_coalesce *c, const char *topic,
                              const struct gateway_ticket *ticket, const char *id, char *payload,
                              size_t len, int64_t now_ms);

/* Takes the next message due on topic at now_ms (hb_now_ms): the queue's oldest requests,
 * at most max_items and max_bytes of them, when fewer than depth messages to topic are
 * unanswered (and younger than stall_ms). Returns true with *out filled (release it with
 * gateway_coalesce_batch_clear after publishing) and the message counted as unanswered
 * from now; false when nothing is due. Call it until it returns false. On allocation
 * failure it returns true with out->payload NULL: the caller fails those waiters. */
bool gateway_coalesce_take(struct gateway_coalesce *c, const char *topic, int64_t now_ms,
                           struct gateway_coalesce_batch *out);

/* Frees out->payload and zeroes out. Accepts a cleared batch. */
void gateway_coalesce_batch_clear(struct gateway_coalesce_batch *batch);

/* Marks the message with this Correlation Data answered (a reply came, or publishing it
 * failed), so it no longer holds its topic's queue back. Copies its topic into topic (cap
 * bytes), and, when waiters is non-NULL, its waiters into waiters (room for
 * HB_BUS_BATCH_MAX) with their number in *n_waiters. Returns false, changing nothing,
 * for a message it does not know (a list query, never queued; or one long forgotten). */
bool gateway_coalesce_answered(struct gateway_coalesce *c, const void *correlation,
                               size_t correlation_len, char *topic, size_t cap,
                               struct gateway_coalesce_waiter *waiters, size_t *n_waiters);

/* Takes ticket's request out of its queue if it is still there (its waiter gives up).
 * Returns true when it was, false when it has been sent or was never queued. */
bool gateway_coalesce_forget(struct gateway_coalesce *c, const struct gateway_ticket *ticket);

/* Sends what is due on topic (gateway_coalesce_take until false, publishing each): the
 * I/O half of gateway_coalesce_wait, done by the caller. */
typedef void gateway_coalesce_flush_fn(void *ctx, const char *topic);

/* Waits up to timeout_ms for the reply to ticket, whose request was queued to topic with
 * gateway_coalesce_add, with gateway_pending_wait's results (the slot is freed in every
 * case). Every stall_ms without the reply, while more than stall_ms is left, it calls
 * flush(ctx, topic): if the messages holding the queue back are lost, their stall lets
 * the queue go without them, however many times that takes. On HB_ERR_TIMEOUT the
 * request leaves its queue if it is still there (nobody wants it). */
hb_err_t gateway_coalesce_wait(struct gateway_coalesce *c, struct gateway_pending *pending,
                               const char *topic, const struct gateway_ticket *ticket,
                               int timeout_ms, gateway_coalesce_flush_fn *flush, void *ctx,
                               struct gateway_answer *answer);

/* True when correlation (len bytes) is a batch's, as gateway_coalesce_take makes them.
 * Can't fail. */
bool gateway_coalesce_is_batch(const void *correlation, size_t len);

/* Writes the JSON array of the n JSON texts texts[i] (lens[i] bytes each) into a malloc'd
 * NUL-terminated string, its length in *len. Returns NULL on allocation failure. */
char *gateway_coalesce_join(const char *const *texts, const size_t *lens, size_t n,
                            size_t *len);

#endif
