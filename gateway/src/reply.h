/* Decoding a component's reply to a gateway command into what the HTTP answer needs. */
#ifndef GATEWAY_REPLY_H
#define GATEWAY_REPLY_H

#include <stddef.h>

#include "hausbus/err.h"

#define GATEWAY_LOCATION_MAX 256

struct gateway_reply {
    int code;                             /* HTTP status, 200..599 */
    char *body;                           /* malloc'd compact JSON text, never NULL after decode */
    size_t body_len;
    char location[GATEWAY_LOCATION_MAX];  /* Location header value, "" for none */
};

/* Decodes a reply {"code": n, "body": <json>, "location": "/orders/7"} (PROTOCOL.md).
 * A missing body means {}; a missing or null location means none. The location must be
 * an absolute path of visible ASCII, so it can go into a header as it is. Returns
 * HB_ERR_DECODE (with *reason, if non-NULL, pointing at a static explanation) when the
 * payload is not such a reply, HB_ERR_NOMEM; out is cleared on failure. */
hb_err_t gateway_reply_decode(const char *payload, size_t len, struct gateway_reply *out,
                              const char **reason);

/* Splits a batched reply (PROTOCOL.md "Batches"): a JSON array with one element per
 * request of the batch, in the batch's order, each {"id", "code", "body", "location"}.
 * Element i is request i's when its "id" is ids[i], null or absent; otherwise the element
 * whose "id" is ids[i] is, if there is one. texts[i] (n of them) receives a malloc'd
 * compact JSON text of request i's element, for gateway_reply_decode (the caller frees
 * each), or NULL when there is none: the payload is not a JSON array, or holds nothing
 * for request i (or memory ran out). Returns how many requests got an element. */
size_t gateway_reply_split(const char *payload, size_t len, const char *const *ids, size_t n,
                           char **texts);

/* Frees out->body and zeroes out. Accepts a cleared reply. */
void gateway_reply_clear(struct gateway_reply *reply);

#endif
