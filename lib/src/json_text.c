/* The one way JSON text enters hausbus: the text check, and the parses built on json_parse.c. */
#include "hausbus/envelope.h"
#include "json_parse_int.h"

#include <stdbool.h>
#include <stdint.h>

static const char REASON_TRAILING[] = "not valid JSON: bytes after the document";
static const char REASON_DEEP[] = "JSON nested deeper than " HB_STR(HB_JSON_DEPTH_MAX) " levels";

size_t hb_utf8_sequence(const char *text, size_t left)
{
    const unsigned char *p = (const unsigned char *)text;
    if (left == 0) {
        return 0;
    }
    unsigned char b = p[0];
    if (b < 0x80) {
        return 1;
    }
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80; /* below: overlong */
        hi = b == 0xed ? 0x9f : 0xbf; /* above: a surrogate */
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        lo = b == 0xf0 ? 0x90 : 0x80; /* below: overlong */
        hi = b == 0xf4 ? 0x8f : 0xbf; /* above: over U+10FFFF */
    } else {
        return 0; /* a continuation byte, 0xc0/0xc1 (overlong) or 0xf5..0xff */
    }
    if (left < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

const char *hb_json_text_check(const char *text, size_t len)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t depth = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = bytes[i++];
        if (c == '"') {
            size_t close = 0;
            size_t decoded = 0;
            bool escaped = false;
            const char *why = hb_json_scan_string(bytes, len, i - 1, &close, &decoded, &escaped);
            if (why) {
                return why;
            }
            i = close + 1;
        } else if (c == '[' || c == '{') {
            if (++depth > HB_JSON_DEPTH_MAX) {
                return REASON_DEEP;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return NULL; /* anything else wrong with the text is cJSON's to find */
}

/* Only JSON's own whitespace may follow a document; cJSON's (any byte up to 0x20) may not. */
static bool only_whitespace(const char *p, const char *end)
{
    for (; p < end; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            return false;
        }
    }
    return true;
}

/* Why text fails when the parse did: the check's reason for any of it, the first in text
 * order, as when the check ran before the parse, else a syntax error. */
static const char *failure_reason(const char *text, size_t len)
{
    const char *why = hb_json_text_check(text, len);
    return why ? why : hb_json_reason_syntax;
}

cJSON *hb_json_parse(const char *text, size_t len, const char **end)
{
    size_t stop = 0;
    cJSON *root = text ? hb_json_parse_value(text, len, &stop) : NULL;
    /* The parse checked the value; the check also covers whatever follows it. The value is
     * balanced and ends outside any string, so checking the rest alone is the same. */
    if (root && stop < len && hb_json_text_check(text + stop, len - stop)) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (root && end) {
        *end = text + stop;
    }
    return root;
}

cJSON *hb_json_parse_document(const char *text, size_t len, const char **reason)
{
    size_t stop = 0;
    const char *why = NULL;
    cJSON *root = text ? hb_json_parse_value(text, len, &stop) : NULL;
    if (!root) {
        why = text ? failure_reason(text, len) : hb_json_reason_syntax;
    } else if (!only_whitespace(text + stop, text + len)) {
        /* "{} x" or two events are not one document, unless the check refuses the rest */
        why = hb_json_text_check(text + stop, len - stop);
        why = why ? why : REASON_TRAILING;
        cJSON_Delete(root);
        root = NULL;
    }
    if (reason) {
        *reason = why;
    }
    return root;
}
