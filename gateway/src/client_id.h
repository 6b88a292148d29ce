/* The gateway's MQTT client id, which also names its reply topic: unique per process. */
#ifndef GATEWAY_CLIENT_ID_H
#define GATEWAY_CLIENT_ID_H

#include <stddef.h>

#include "hausbus/err.h"

#define GATEWAY_CLIENT_ID_PREFIX "hausbus-gateway-"
#define GATEWAY_CLIENT_ID_HEX 16 /* hex digits after the prefix */

/* Writes "hausbus-gateway-<16 hex digits>" into out (cap bytes, NUL-terminated): the last
 * 16 hex digits of uuid (a UUID as hb_uuid writes it), its random part. Returns
 * HB_ERR_INVAL when uuid has not 32 hex digits or the id does not fit in cap; out is left
 * alone then. */
hb_err_t gateway_client_id_from_uuid(const char *uuid, char *out, size_t cap);

#endif
