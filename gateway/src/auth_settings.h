/* The gateway's authentication settings from HAUSBUS_AUTH and the token secret. */
#ifndef GATEWAY_AUTH_SETTINGS_H
#define GATEWAY_AUTH_SETTINGS_H

#include "auth.h"
#include "hausbus/err.h"

enum gateway_auth_mode {
    GATEWAY_AUTH_MODE_ON,   /* every request but GET /healthz needs a valid bearer token */
    GATEWAY_AUTH_MODE_OPEN, /* development only: no token is asked for or looked at */
};

struct gateway_auth_settings {
    enum gateway_auth_mode mode;
    struct gateway_auth_key key; /* set when mode is ON */
};

/* Reads the secret from HAUSBUS_AUTH_SECRET or from the first line of the file named by
 * HAUSBUS_AUTH_SECRET_FILE (one of them, not both; 32..256 bytes). Returns HB_ERR_NOT_FOUND
 * when neither is set, HB_ERR_INVAL after logging what is wrong otherwise. *out is
 * cleared on failure. */
hb_err_t gateway_auth_key_load(struct gateway_auth_key *out);

/* Reads HAUSBUS_AUTH ("on", "open", or unset/empty meaning on) and, unless it is open,
 * the secret (gateway_auth_key_load). Returns HB_ERR_INVAL after logging why when the
 * mode is unknown or the secret is missing or bad, so the gateway does not start without
 * authentication by accident. *out is cleared on failure. */
hb_err_t gateway_auth_settings_load(struct gateway_auth_settings *out);

#endif
