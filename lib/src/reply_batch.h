/* Private to lib/: the reply array of a batched request (docs/PROTOCOL.md, "Batches"),
 * built item by item within HB_REPLY_MAX. */
#ifndef HAUSBUS_REPLY_BATCH_H
#define HAUSBUS_REPLY_BATCH_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialise; text grows as items are added. */
struct hb_reply_batch {
    char *text; /* "[a,b,..." so far, NUL-terminated; NULL before the first item */
    size_t len, cap;
    bool failed; /* out of memory: the whole reply is lost (its requester times out) */
};

/* The most bytes an item standing in for a reply that could not be given takes:
 * {"id":<at most 100 bytes>,"code":500,"body":{"error":"reply batch too large"}}. */
#define HB_REPLY_BATCH_FALLBACK_MAX 160

/* Appends item (a malloc'd JSON text, taken over; NULL when it could not be encoded) as
 * the answer to the request item whose event id is id (NULL for none). The array stays
 * within HB_REPLY_MAX whatever the items: room is kept for a fallback 500 for each of the
 * items_left still to come, and an item that would eat into that room is replaced by a
 * 500 {"error": "reply batch too large"} ("out of memory" for a NULL item). */
void hb_reply_batch_add(struct hb_reply_batch *rb, char *item, const char *id,
                        size_t items_left);

/* Closes the array and hands its malloc'd text to the caller (who frees it); NULL when
 * memory ran out on the way or nothing was added. Leaves rb empty. */
char *hb_reply_batch_finish(struct hb_reply_batch *rb);

/* What a request hears when its transaction could not be committed: for n == 0 (a single
 * request) one 500 {"error":"commit failed"}, else an array of n of them with "id": null
 * (matched by position). Malloc'd; NULL on allocation failure. */
char *hb_reply_batch_failed(size_t n);

#endif
