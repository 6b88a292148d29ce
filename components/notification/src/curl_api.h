/* libcurl, loaded at run time by the process that sends KakaoTalk messages only. */
#ifndef HAUSBUS_NOTIFICATION_CURL_API_H
#define HAUSBUS_NOTIFICATION_CURL_API_H

#include <curl/curl.h>

#include "hausbus/err.h"

/* The libcurl functions the KakaoTalk notifier calls. Linking libcurl would load it and
 * the 23 libraries it needs (GnuTLS, Kerberos, LDAP, ...) into every process that has
 * the notification component, sending or not: +4 MiB RSS for the all-in-one, half its
 * budget (tests/e2e/test_allinone.py). So the notifier reaches libcurl through this
 * table, filled by dlopen() once HAUSBUS_KAKAO_URL asks for it. */
struct curl_api {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
    void (*slist_free_all)(struct curl_slist *list);
};

/* Loads libcurl (once per process; it stays loaded) and sets *out to its table.
 * Not thread-safe: call it from setup, before any sender thread runs. Returns HB_ERR_IO,
 * logged with dlerror()'s reason, when libcurl.so.4 or one of its functions is missing;
 * *out is set only on success. */
hb_err_t curl_api_load(const struct curl_api **out);

#endif
