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

/* Splits and decodes a batched reply (PROTOCOL.md "Batches"): a JSON array with one
 * element per request of the batch, in the batch's order, each {"id", "code", "body",
 * "location"}. Element i is request i's when its "id" is ids[i], null or absent;
 * otherwise the element whose "id" is ids[i] is, if there is one. replies[i] (n of them)
 * receives request i's element decoded as gateway_reply_decode does (the caller clears
 * each) with whys[i] NULL; or stays cleared (code 0) with whys[i] a static explanation
 * when the payload is not a JSON array, holds nothing for request i, or request i's
 * element is not a valid reply (or memory ran out). Returns how many were decoded. */
size_t gateway_reply_split(const char *payload, size_t len, const char *const *ids, size_t n,
                           struct gateway_reply *replies, const char **whys);

/* Frees out->body and zeroes out. Accepts a cleared reply. */
void gateway_reply_clear(struct gateway_reply *reply);

#endif
