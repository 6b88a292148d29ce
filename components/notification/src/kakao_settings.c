/* Reads the KakaoTalk notifier's settings (HAUSBUS_KAKAO_*, HAUSBUS_ORDER_URL_BASE). */
#include "kakao_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/config.h"
#include "hausbus/log.h"

static bool is_http_url(const char *url)
{
    return (strncmp(url, "http://", 7) == 0 && url[7]) ||
           (strncmp(url, "https://", 8) == 0 && url[8]);
}

/* The token goes into an HTTP header: printable ASCII only (no CR/LF injection). */
static bool header_safe(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e) {
            return false;
        }
    }
    return true;
}

/* HAUSBUS_KAKAO_TOKEN or the first line of HAUSBUS_KAKAO_TOKEN_FILE, not both. */
static hb_err_t load_token(char *out, size_t cap)
{
    HB_RETURN_ON_ERR(hb_env_secret("HAUSBUS_KAKAO_TOKEN", out, cap));
    if (!*out || !header_safe(out)) {
        HB_LOGE(0, "HAUSBUS_KAKAO_URL needs a token (HAUSBUS_KAKAO_TOKEN or _FILE) of"
                   " printable ASCII");
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

hb_err_t kakao_settings_load(struct kakao_settings *out)
{
    memset(out, 0, sizeof(*out));
    out->policy = notification_policy_default();
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_KAKAO_URL", "", out->url, sizeof(out->url)));
    out->enabled = out->url[0] != '\0';
    if (!out->enabled) {
        return HB_OK;
    }
    if (!is_http_url(out->url) || !header_safe(out->url)) {
        HB_LOGE(0, "HAUSBUS_KAKAO_URL must be an http:// or https:// URL");
        return HB_ERR_INVAL;
    }
    HB_RETURN_ON_ERR(load_token(out->token, sizeof(out->token)));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_ORDER_URL_BASE", KAKAO_ORDER_URL_BASE_DEFAULT,
                             out->order_url_base, sizeof(out->order_url_base)));
    if (!is_http_url(out->order_url_base)) {
        HB_LOGE(0, "HAUSBUS_ORDER_URL_BASE must be an http:// or https:// URL");
        return HB_ERR_INVAL;
    }
    int64_t timeout, connect_timeout;
    struct notification_policy *p = &out->policy;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_KAKAO_TIMEOUT_MS", KAKAO_TIMEOUT_MS_DEFAULT, 100, 60000,
                             &timeout));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS",
                             KAKAO_CONNECT_TIMEOUT_MS_DEFAULT, 50, 60000, &connect_timeout));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_KAKAO_MAX_ATTEMPTS", p->max_attempts, 1, 20,
                             &p->max_attempts));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_KAKAO_BACKOFF_MS", p->backoff_ms, 10, 3600 * 1000,
                             &p->backoff_ms));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_KAKAO_BACKOFF_MAX_MS",
                             p->backoff_max_ms > p->backoff_ms ? p->backoff_max_ms
                                                               : p->backoff_ms,
                             p->backoff_ms, 24 * 3600 * 1000, &p->backoff_max_ms));
    out->timeout_ms = (long)timeout;
    out->connect_timeout_ms = (long)connect_timeout;
    return HB_OK;
}
