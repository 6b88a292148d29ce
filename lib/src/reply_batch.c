/* The reply array of a batched request, bounded by HB_REPLY_MAX. */
#include "reply_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/envelope.h"
#include "json_print_int.h"

#define FALLBACK_ID_MAX 100 /* a longer id (it was never a valid one) is answered as null */

void hb_reply_batch_add(struct hb_reply_batch *rb, char *item, const char *id,
                        size_t items_left)
{
    char fallback[HB_REPLY_BATCH_FALLBACK_MAX];
    const char *text = item;
    /* The separators and brackets of this and every later item are in the reserve too. */
    size_t reserve = (items_left + 1) * (HB_REPLY_BATCH_FALLBACK_MAX + 1) + 2;
    if (!text || rb->len + strlen(text) + reserve > HB_REPLY_MAX) {
        struct hb_json_out quoted;
        char *q = id && hb_json_out_init(&quoted, FALLBACK_ID_MAX + 3)
                      ? hb_json_out_finish(&quoted, hb_json_out_string(&quoted, id))
                      : NULL;
        snprintf(fallback, sizeof(fallback),
                 "{\"id\":%s,\"code\":500,\"body\":{\"error\":\"%s\"}}",
                 q && strlen(q) <= FALLBACK_ID_MAX ? q : "null",
                 text ? "reply batch too large" : "out of memory");
        free(q);
        text = fallback;
    }
    size_t n = strlen(text);
    if (!rb->failed && rb->len + n + 3 > rb->cap) { /* separator, item, ']' and NUL */
        size_t want = (rb->len + n + 3) * 2;
        char *grown = realloc(rb->text, want);
        if (grown) {
            rb->text = grown;
            rb->cap = want;
        } else {
            rb->failed = true;
        }
    }
    if (!rb->failed) {
        rb->text[rb->len] = rb->len == 0 ? '[' : ',';
        rb->len++;
        memcpy(rb->text + rb->len, text, n);
        rb->len += n;
        rb->text[rb->len] = '\0';
    }
    free(item);
}

char *hb_reply_batch_finish(struct hb_reply_batch *rb)
{
    char *text = NULL;
    if (!rb->failed && rb->len > 0 && rb->len + 2 <= rb->cap) {
        rb->text[rb->len++] = ']';
        rb->text[rb->len] = '\0';
        text = rb->text;
    } else {
        free(rb->text);
    }
    memset(rb, 0, sizeof(*rb));
    return text;
}

char *hb_reply_batch_failed(size_t n)
{
    static const char one[] = "{\"code\":500,\"body\":{\"error\":\"commit failed\"}}";
    static const char item[] = "{\"id\":null,\"code\":500,\"body\":{\"error\":\"commit failed\"}}";
    if (n == 0) {
        char *copy = malloc(sizeof(one));
        return copy ? memcpy(copy, one, sizeof(one)) : NULL;
    }
    char *text = malloc(n * sizeof(item) + 2);
    if (!text) {
        return NULL;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        text[len++] = i == 0 ? '[' : ',';
        memcpy(text + len, item, sizeof(item) - 1);
        len += sizeof(item) - 1;
    }
    text[len++] = ']';
    text[len] = '\0';
    return text;
}
