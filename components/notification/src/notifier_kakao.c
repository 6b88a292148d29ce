/* KakaoTalk "send to me" over HTTP with libcurl: one bounded POST per attempt. */
#include "notifier_kakao.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "curl_api.h"
#include "hausbus/log.h"
#include "kakao_message.h"

#define ANSWER_KEEP 200 /* bytes of an error answer kept for last_error */

struct kakao {
    struct notifier notifier;
    const struct curl_api *curl;
    struct kakao_settings settings;
    char authorization[1100]; /* "Authorization: Bearer <token>" */
};

/* The first ANSWER_KEEP bytes of the answer, for the error message. */
struct answer {
    char text[ANSWER_KEEP + 1];
    size_t len;
};

static size_t keep_answer(char *data, size_t size, size_t nmemb, void *arg)
{
    struct answer *a = arg;
    size_t n = size * nmemb;
    size_t room = ANSWER_KEEP - a->len;
    size_t take = n < room ? n : room;
    memcpy(a->text + a->len, data, take);
    a->len += take;
    a->text[a->len] = '\0';
    return n; /* the rest is read and dropped */
}

/* Which curl failures are worth another attempt: the network's, not the configuration's. */
static enum kakao_transport transport_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return KAKAO_TRANSPORT_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return KAKAO_TRANSPORT_TRANSIENT;
    default:
        return KAKAO_TRANSPORT_FATAL;
    }
}

/* Keeps an answer printable ASCII for logs and JSON: control bytes become spaces, and
 * bytes above 0x7f '?', since the cut at ANSWER_KEEP may split a UTF-8 sequence (Kakao's
 * error messages are ASCII). */
static void printable(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            *s = ' ';
        } else if (c > 0x7f) {
            *s = '?';
        }
    }
}

static enum notifier_outcome kakao_send(void *self, const struct notification_msg *msg,
                                        char *error, size_t error_len)
{
    struct kakao *k = self;
    char *template_json = kakao_template_json(msg, k->settings.order_url_base);
    char *body = template_json ? kakao_form_body(template_json) : NULL;
    free(template_json);
    CURL *curl = body ? k->curl->easy_init() : NULL;
    struct curl_slist *headers = NULL, *more = NULL;
    if (curl && (headers = k->curl->slist_append(NULL, k->authorization)) != NULL) {
        more = k->curl->slist_append(headers, "Content-Type: application/x-www-form-urlencoded;"
                                          "charset=utf-8");
    }
    if (!more) {
        snprintf(error, error_len, "out of memory building the kakaotalk request");
        k->curl->slist_free_all(headers);
        k->curl->easy_cleanup(curl);
        free(body);
        return NOTIFIER_RETRY; /* nothing left the process */
    }
    struct answer answer = {.len = 0};
    char curl_error[CURL_ERROR_SIZE] = "";
    /* NOSIGNAL: timeouts without SIGALRM, required off the main thread. No redirects: a
     * moved endpoint is a configuration error, not something to follow with the token. */
    k->curl->easy_setopt(curl, CURLOPT_URL, k->settings.url);
    k->curl->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    k->curl->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    k->curl->easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    k->curl->easy_setopt(curl, CURLOPT_TIMEOUT_MS, k->settings.timeout_ms);
    k->curl->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, k->settings.connect_timeout_ms);
    k->curl->easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    k->curl->easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    k->curl->easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    k->curl->easy_setopt(curl, CURLOPT_USERAGENT, "hausbus-notification");
    k->curl->easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_answer);
    k->curl->easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    k->curl->easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    CURLcode rc = k->curl->easy_perform(curl);
    long status = 0;
    k->curl->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    enum notifier_outcome outcome = kakao_outcome(transport_of(rc), status);
    printable(answer.text);
    printable(curl_error);
    if (rc != CURLE_OK) {
        snprintf(error, error_len, "kakaotalk request failed: %s%s%.100s",
                 k->curl->easy_strerror(rc), curl_error[0] ? ": " : "", curl_error);
    } else if (outcome != NOTIFIER_SENT) {
        snprintf(error, error_len, "kakaotalk answered %ld: %.120s", status, answer.text);
    } else {
        error[0] = '\0';
        HB_LOGI(msg->order_id, "kakaotalk message %lld sent to user %lld",
                (long long)msg->notification_id, (long long)msg->user_id);
    }
    k->curl->slist_free_all(headers);
    k->curl->easy_cleanup(curl);
    free(body);
    return outcome;
}

hb_err_t notifier_kakao_create(const struct kakao_settings *settings, struct notifier **out)
{
    struct kakao *k = calloc(1, sizeof(*k));
    if (!k) {
        return HB_ERR_NOMEM;
    }
    k->settings = *settings;
    if (curl_api_load(&k->curl) != HB_OK) {
        free(k);
        return HB_ERR_IO;
    }
    int n = snprintf(k->authorization, sizeof(k->authorization), "Authorization: Bearer %s",
                     settings->token);
    if (n < 0 || (size_t)n >= sizeof(k->authorization)) {
        free(k);
        return HB_ERR_INVAL; /* the settings bound the token below this */
    }
    k->notifier = (struct notifier){.channel = "kakaotalk", .send = kakao_send, .self = k};
    *out = &k->notifier;
    return HB_OK;
}

void notifier_kakao_destroy(struct notifier *notifier)
{
    if (!notifier) {
        return;
    }
    struct kakao *k = notifier->self;
    /* The token leaves no copy behind in freed memory (explicit_bzero: a memset before
     * free may be optimised away). */
    explicit_bzero(k->authorization, sizeof(k->authorization));
    explicit_bzero(k->settings.token, sizeof(k->settings.token));
    free(k);
}
