/* The gateway's MQTT client id from a UUID: the part of it that is random. */
#include "client_id.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define UUID_HEX 32

hb_err_t gateway_client_id_from_uuid(const char *uuid, char *out, size_t cap)
{
    char hex[UUID_HEX + 1];
    size_t n = 0;
    for (size_t i = 0; uuid && uuid[i] != '\0'; i++) {
        if (uuid[i] == '-') {
            continue;
        }
        if (n == UUID_HEX || !isxdigit((unsigned char)uuid[i])) {
            return HB_ERR_INVAL;
        }
        hex[n++] = uuid[i];
    }
    hex[n] = '\0';
    if (n != UUID_HEX || !out ||
        cap < sizeof(GATEWAY_CLIENT_ID_PREFIX) + GATEWAY_CLIENT_ID_HEX) {
        return HB_ERR_INVAL;
    }
    /* The tail: a UUIDv7 starts with its 48-bit millisecond time, so its leading digits
     * hold only 12 random bits, and two replicas starting in the same millisecond would
     * collide once in 4096. The last 16 digits hold 62 random bits (2 are the variant). */
    snprintf(out, cap, GATEWAY_CLIENT_ID_PREFIX "%s", hex + UUID_HEX - GATEWAY_CLIENT_ID_HEX);
    return HB_OK;
}
