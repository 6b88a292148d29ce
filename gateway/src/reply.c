/* Component replies (PROTOCOL.md "A reply"): validated before they reach an HTTP client. */
#include "reply.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"
#include "routes.h"

/* True for an absolute path that can be put into a header line unchanged. */
static bool location_is_safe(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || len >= GATEWAY_LOCATION_MAX || text[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* Decodes the reply object root (any cJSON value) into out; see gateway_reply_decode. */
static hb_err_t decode_value(const cJSON *root, struct gateway_reply *out, const char **reason)
{
    const char *why = NULL;
    hb_err_t rc = HB_ERR_DECODE;
    int64_t code = 0;
    memset(out, 0, sizeof(*out));
    const cJSON *body = root ? cJSON_GetObjectItemCaseSensitive(root, "body") : NULL;
    const cJSON *location = root ? cJSON_GetObjectItemCaseSensitive(root, "location") : NULL;
    if (!cJSON_IsObject(root)) {
        why = "reply is not a JSON object";
        goto err;
    }
    if (hb_json_int(root, "code", 200, 599, &code) != HB_OK) {
        why = "reply code is not an HTTP status between 200 and 599";
        goto err;
    }
    if (location && !cJSON_IsNull(location)) {
        if (!cJSON_IsString(location) || !location_is_safe(location->valuestring)) {
            why = "reply location is not an absolute path of visible ASCII";
            goto err;
        }
        snprintf(out->location, sizeof(out->location), "%s", location->valuestring);
    }
    out->body = body ? hb_json_print(body) : strdup("{}");
    if (!out->body) {
        why = "out of memory";
        rc = HB_ERR_NOMEM;
        goto err;
    }
    out->body_len = strlen(out->body);
    out->code = (int)code;
    return HB_OK;
err:
    gateway_reply_clear(out);
    if (reason) {
        *reason = why;
    }
    return rc;
}

hb_err_t gateway_reply_decode(const char *payload, size_t len, struct gateway_reply *out,
                              const char **reason)
{
    cJSON *root = gateway_json_parse(payload, len);
    hb_err_t rc = decode_value(root, out, reason);
    cJSON_Delete(root);
    return rc;
}

/* True when element is for the request with this CloudEvent id: its "id" is id, or, when
 * by_position, null or absent. */
static bool element_is_for(const cJSON *element, const char *id, bool by_position)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(element, "id");
    if (!item || cJSON_IsNull(item)) {
        return by_position;
    }
    return cJSON_IsString(item) && strcmp(item->valuestring, id) == 0;
}

size_t gateway_reply_split(const char *payload, size_t len, const char *const *ids, size_t n,
                           struct gateway_reply *replies, const char **whys)
{
    for (size_t i = 0; i < n; i++) {
        memset(&replies[i], 0, sizeof(replies[i]));
        whys[i] = "the batched reply holds no item for this request";
    }
    cJSON *root = gateway_json_parse(payload, len);
    if (!cJSON_IsArray(root)) {
        for (size_t i = 0; i < n; i++) {
            whys[i] = "the batched reply is not a JSON array";
        }
        cJSON_Delete(root);
        return 0;
    }
    size_t decoded = 0;
    const cJSON *at = root->child; /* element i, walked along with i */
    for (size_t i = 0; i < n; i++, at = at ? at->next : NULL) {
        const cJSON *element = at && element_is_for(at, ids[i], true) ? at : NULL;
        /* Out of order (a reply should keep the batch's order): look for it by id; a
         * batch has at most HB_BUS_BATCH_MAX elements. */
        for (const cJSON *e = root->child; !element && e; e = e->next) {
            if (element_is_for(e, ids[i], false)) {
                element = e;
            }
        }
        if (!element) {
            continue;
        }
        /* Decoded here, once: the waiter gets the result, not a text to parse again. */
        if (decode_value(element, &replies[i], &whys[i]) == HB_OK) {
            whys[i] = NULL;
            decoded++;
        }
    }
    cJSON_Delete(root);
    return decoded;
}

void gateway_reply_clear(struct gateway_reply *reply)
{
    if (!reply) {
        return;
    }
    free(reply->body);
    memset(reply, 0, sizeof(*reply));
}
