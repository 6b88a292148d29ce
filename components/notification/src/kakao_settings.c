/* Reads the KakaoTalk notifier's settings (HAUSBUS_KAKAO_*, HAUSBUS_ORDER_URL_BASE). */
#include "kakao_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/log.h"

static hb_err_t env_str(const char *name, const char *fallback, char *out, size_t cap)
{
    const char *v = getenv(name);
    int n = snprintf(out, cap, "%s", v && *v ? v : fallback);
    if (n < 0 || (size_t)n >= cap) {
        HB_LOGE(0, "%s is too long (max %zu bytes)", name, cap - 1);
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

static hb_err_t env_int(const char *name, int64_t fallback, int64_t min, int64_t max,
                        int64_t *out)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = fallback;
        return HB_OK;
    }
    errno = 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        HB_LOGE(0, "%s must be an integer between %lld and %lld, got \"%.40s\"", name,
                (long long)min, (long long)max, v);
        return HB_ERR_INVAL;
    }
    *out = n;
    return HB_OK;
}

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

/* HAUSBUS_KAKAO_TOKEN or the first line of HAUSBUS_KAKAO_TOKEN_FILE (a mounted secret
 * keeps it out of the environment and of `ps e`), not both. */
static hb_err_t load_token(char *out, size_t cap)
{
    const char *token = getenv("HAUSBUS_KAKAO_TOKEN");
    const char *path = getenv("HAUSBUS_KAKAO_TOKEN_FILE");
    if (token && *token && path && *path) {
        HB_LOGE(0, "set HAUSBUS_KAKAO_TOKEN or HAUSBUS_KAKAO_TOKEN_FILE, not both");
        return HB_ERR_INVAL;
    }
    if (path && *path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            HB_LOGE(0, "cannot read HAUSBUS_KAKAO_TOKEN_FILE %.200s", path);
            return HB_ERR_INVAL;
        }
        bool ok = fgets(out, (int)cap, f) != NULL;
        fclose(f);
        out[ok ? strcspn(out, "\r\n") : 0] = '\0';
    } else {
        HB_RETURN_ON_ERR(env_str("HAUSBUS_KAKAO_TOKEN", "", out, cap));
    }
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
    HB_RETURN_ON_ERR(env_str("HAUSBUS_KAKAO_URL", "", out->url, sizeof(out->url)));
    out->enabled = out->url[0] != '\0';
    if (!out->enabled) {
        return HB_OK;
    }
    if (!is_http_url(out->url) || !header_safe(out->url)) {
        HB_LOGE(0, "HAUSBUS_KAKAO_URL must be an http:// or https:// URL");
        return HB_ERR_INVAL;
    }
    HB_RETURN_ON_ERR(load_token(out->token, sizeof(out->token)));
    HB_RETURN_ON_ERR(env_str("HAUSBUS_ORDER_URL_BASE", KAKAO_ORDER_URL_BASE_DEFAULT,
                             out->order_url_base, sizeof(out->order_url_base)));
    if (!is_http_url(out->order_url_base)) {
        HB_LOGE(0, "HAUSBUS_ORDER_URL_BASE must be an http:// or https:// URL");
        return HB_ERR_INVAL;
    }
    int64_t timeout, connect_timeout;
    struct notification_policy *p = &out->policy;
    HB_RETURN_ON_ERR(env_int("HAUSBUS_KAKAO_TIMEOUT_MS", KAKAO_TIMEOUT_MS_DEFAULT, 100, 60000,
                             &timeout));
    HB_RETURN_ON_ERR(env_int("HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS",
                             KAKAO_CONNECT_TIMEOUT_MS_DEFAULT, 50, 60000, &connect_timeout));
    HB_RETURN_ON_ERR(env_int("HAUSBUS_KAKAO_MAX_ATTEMPTS", p->max_attempts, 1, 20,
                             &p->max_attempts));
    HB_RETURN_ON_ERR(env_int("HAUSBUS_KAKAO_BACKOFF_MS", p->backoff_ms, 10, 3600 * 1000,
                             &p->backoff_ms));
    HB_RETURN_ON_ERR(env_int("HAUSBUS_KAKAO_BACKOFF_MAX_MS",
                             p->backoff_max_ms > p->backoff_ms ? p->backoff_max_ms
                                                               : p->backoff_ms,
                             p->backoff_ms, 24 * 3600 * 1000, &p->backoff_max_ms));
    out->timeout_ms = (long)timeout;
    out->connect_timeout_ms = (long)connect_timeout;
    return HB_OK;
}
