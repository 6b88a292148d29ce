/* KakaoTalk "send to me" request body and answer classification (pure, no I/O). */
#include "kakao_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"

char *kakao_template_json(const struct notification_msg *msg, const char *order_url_base)
{
    char url[640];
    size_t base_len = strlen(order_url_base);
    while (base_len > 0 && order_url_base[base_len - 1] == '/') {
        base_len--; /* "…/orders/" and "…/orders" give the same link */
    }
    int n = snprintf(url, sizeof(url), "%.*s/%lld", (int)base_len, order_url_base,
                     (long long)msg->order_id);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return NULL; /* the settings bound the base far below this */
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *link = cJSON_CreateObject();
    char *json = NULL;
    if (root && link && cJSON_AddStringToObject(root, "object_type", "text") &&
        cJSON_AddStringToObject(root, "text", msg->text) &&
        cJSON_AddStringToObject(link, "web_url", url) &&
        cJSON_AddStringToObject(link, "mobile_web_url", url)) {
        cJSON_AddItemToObject(root, "link", link);
        link = NULL; /* owned by root */
        if (cJSON_AddStringToObject(root, "button_title", KAKAO_BUTTON_TITLE)) {
            json = hb_json_print(root);
        }
    }
    cJSON_Delete(link);
    cJSON_Delete(root);
    return json;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

char *kakao_form_body(const char *template_json)
{
    static const char prefix[] = "template_object=";
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(template_json);
    char *out = malloc(sizeof(prefix) + 3 * len); /* worst case: every byte escaped */
    if (!out) {
        return NULL;
    }
    memcpy(out, prefix, sizeof(prefix) - 1);
    char *w = out + sizeof(prefix) - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)template_json[i];
        if (unreserved(c)) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 0xf];
        }
    }
    *w = '\0';
    return out;
}

enum notifier_outcome kakao_outcome(enum kakao_transport transport, long http_status)
{
    switch (transport) {
    case KAKAO_TRANSPORT_TRANSIENT:
        return NOTIFIER_RETRY;
    case KAKAO_TRANSPORT_FATAL:
        return NOTIFIER_FAILED;
    case KAKAO_TRANSPORT_OK:
        break;
    }
    if (http_status >= 200 && http_status <= 299) {
        return NOTIFIER_SENT;
    }
    if (http_status >= 500 && http_status <= 599) {
        return NOTIFIER_RETRY;
    }
    return NOTIFIER_FAILED;
}
