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

/* Frees out->body and zeroes out. Accepts a cleared reply. */
void gateway_reply_clear(struct gateway_reply *reply);

#endif
