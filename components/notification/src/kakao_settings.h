/* The KakaoTalk notifier's settings from HAUSBUS_KAKAO_* and HAUSBUS_ORDER_URL_BASE. */
#ifndef HAUSBUS_KAKAO_SETTINGS_H
#define HAUSBUS_KAKAO_SETTINGS_H

#include <stdbool.h>

#include "hausbus/err.h"
#include "policy.h"

#define KAKAO_ORDER_URL_BASE_DEFAULT "http://localhost:8080/orders"
#define KAKAO_TIMEOUT_MS_DEFAULT 3000
#define KAKAO_CONNECT_TIMEOUT_MS_DEFAULT 2000

struct kakao_settings {
    bool enabled;              /* HAUSBUS_KAKAO_URL is set; otherwise the log notifier */
    char url[512];             /* HAUSBUS_KAKAO_URL, http:// or https:// */
    char token[1024];          /* HAUSBUS_KAKAO_TOKEN, or the first line of ..._TOKEN_FILE */
    char order_url_base[512];  /* HAUSBUS_ORDER_URL_BASE: the message links to <base>/<id> */
    long timeout_ms;           /* HAUSBUS_KAKAO_TIMEOUT_MS: a whole request */
    long connect_timeout_ms;   /* HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS */
    struct notification_policy policy; /* HAUSBUS_KAKAO_MAX_ATTEMPTS, _BACKOFF_MS, _BACKOFF_MAX_MS */
};

/* Fills out from the environment. Returns HB_ERR_INVAL, after logging which variable is
 * wrong, for a malformed or out-of-range value, a URL that is not http(s), a token that
 * is missing (with the URL set), set twice, or has bytes a header cannot carry. */
hb_err_t kakao_settings_load(struct kakao_settings *out);

#endif
