/* The gateway's table of in-flight requests: an HTTP worker waits on its slot until the
 * MQTT thread delivers the reply with the same correlation data, or the time is up. */
#ifndef GATEWAY_PENDING_H
#define GATEWAY_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"
#include "reply.h"

#define GATEWAY_CORRELATION_LEN 16 /* hex characters of a correlation id */

struct gateway_pending;

/* One registered request. The correlation text (NUL-terminated, GATEWAY_CORRELATION_LEN
 * characters) is what goes into the MQTT Correlation Data, without the NUL. */
struct gateway_ticket {
    size_t slot;
    char correlation[GATEWAY_CORRELATION_LEN + 1];
};

/* What the waiter of a request is handed: a lone request's reply as it came, which the
 * waiter decodes in its own thread, or a batch item the MQTT thread has already decoded
 * while splitting the batch (so no reply is parsed twice). */
struct gateway_answer {
    char *text;     /* a lone reply: malloc'd, NUL-terminated copy of the payload; NULL
                     * for a batch item */
    size_t len;
    struct gateway_reply reply; /* a batch item, decoded; code 0 when it was missing or
                                 * malformed (why says which) */
    const char *why; /* static text; NULL unless a batch item was missing or malformed */
};

/* Frees what answer holds and zeroes it. Accepts a cleared answer. */
void gateway_answer_clear(struct gateway_answer *answer);

/* Creates a table of capacity slots (at least 1). Returns HB_ERR_INVAL for 0,
 * HB_ERR_NOMEM; *out is set only on success. */
hb_err_t gateway_pending_create(size_t capacity, struct gateway_pending **out);

/* Frees the table and any reply nobody collected. No thread may be waiting or
 * delivering any more. Accepts NULL. */
void gateway_pending_destroy(struct gateway_pending *table);

/* Takes a free slot and gives it a correlation id never used before in this table.
 * Returns HB_ERR_BUSY when every slot is taken (the caller answers 503). */
hb_err_t gateway_pending_open(struct gateway_pending *table, struct gateway_ticket *out);

/* Waits up to timeout_ms for the reply to ticket, then frees the slot in every case,
 * so a reply that comes later finds nobody and is dropped. Returns HB_OK with *answer
 * filled (the caller clears it with gateway_answer_clear); HB_ERR_TIMEOUT when nothing
 * came; HB_ERR_NOMEM when a lone reply came but could not be copied; HB_ERR_INVAL for a
 * ticket that is not open. *answer is zeroed unless HB_OK. */
hb_err_t gateway_pending_wait(struct gateway_pending *table, const struct gateway_ticket *ticket,
                              int timeout_ms, struct gateway_answer *answer);

/* Waits up to timeout_ms for the reply to ticket without taking it: the slot stays open
 * either way, for gateway_pending_wait. Returns true when the reply is in, false when the
 * time is up or the ticket is not open. */
bool gateway_pending_await(struct gateway_pending *table, const struct gateway_ticket *ticket,
                           int timeout_ms);

/* Frees the slot without waiting (the request could not be published). A ticket that is
 * not open is ignored. */
void gateway_pending_close(struct gateway_pending *table, const struct gateway_ticket *ticket);

/* Hands payload to the request waiting with this correlation data and wakes it.
 * Returns false, keeping nothing, when no request waits for it: unknown, already
 * answered, or given up after its timeout. Called from the MQTT thread. */
bool gateway_pending_deliver(struct gateway_pending *table, const void *correlation,
                             size_t correlation_len, const char *payload, size_t len);

/* One decoded reply for the request of ticket (a batched reply's item, PROTOCOL.md
 * "Batches"). */
struct gateway_delivery {
    struct gateway_ticket ticket;
    struct gateway_reply reply; /* code 0: the item was missing or malformed */
    const char *why;            /* then: why (static text) */
};

/* Hands each of the n decoded replies to the request waiting with its ticket and wakes
 * it (the slot is found by the ticket, without a search). Takes every reply: the bodies
 * of the ones nobody waits for (answered, given up, or never ours) are freed, and each
 * deliveries[i].reply is cleared. Returns how many found their waiter. Called from the
 * MQTT thread. */
size_t gateway_pending_deliver_each(struct gateway_pending *table,
                                    struct gateway_delivery *deliveries, size_t n);

/* Number of slots in use (tests, metrics). */
size_t gateway_pending_in_use(struct gateway_pending *table);

#endif
