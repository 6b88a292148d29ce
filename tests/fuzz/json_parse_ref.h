/* hausbus's JSON parse before lib/src/json_parse.c (its text check, then cJSON), kept as
 * the reference the unit test and the fuzz target compare hb_json_parse with. */
#ifndef HAUSBUS_JSON_PARSE_REF_H
#define HAUSBUS_JSON_PARSE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"

#define JSON_REF_SYNTAX "not valid JSON"
#define JSON_REF_TRAILING "not valid JSON: bytes after the document"
#define JSON_REF_DEEP "JSON nested deeper than " HB_STR(HB_JSON_DEPTH_MAX) " levels"
#define JSON_REF_UTF8 "a JSON string is not valid UTF-8"
#define JSON_REF_SURROGATE "a JSON string has a lone UTF-16 surrogate (\\ud800-\\udfff)"
#define JSON_REF_NUL "a JSON string has a NUL (\\u0000)"
#define JSON_REF_CONTROL "a JSON string has an unescaped control character"

/* The old check's hex reader. */
static inline int32_t json_ref_hex4(const unsigned char *p)
{
    int32_t value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int digit = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
        if (digit < 0) {
            return -1;
        }
        value = value * 16 + digit;
    }
    return value;
}

/* The old check of one string, whose first byte (after the opening quote) is at *pos,
 * kept apart from lib's hb_json_scan_string (which the parser and hb_json_text_check now
 * share) so that the comparison has a second opinion on strings. */
static inline const char *json_ref_check_string(const unsigned char *text, size_t len, size_t *pos)
{
    size_t i = *pos;
    while (i < len) {
        unsigned char c = text[i];
        if (c == '"') {
            *pos = i + 1;
            return NULL;
        }
        if (c < 0x20) {
            return JSON_REF_CONTROL;
        }
        if (c < 0x80 && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = hb_utf8_sequence((const char *)text + i, len - i);
            if (n == 0) {
                return JSON_REF_UTF8;
            }
            i += n;
            continue;
        }
        if (i + 1 >= len) {
            return JSON_REF_SYNTAX;
        }
        unsigned char escape = text[i + 1];
        if (escape != 'u') {
            if (escape != '"' && escape != '\\' && escape != '/' && escape != 'b' &&
                escape != 'f' && escape != 'n' && escape != 'r' && escape != 't') {
                return JSON_REF_SYNTAX;
            }
            i += 2;
            continue;
        }
        int32_t unit = i + 6 <= len ? json_ref_hex4(text + i + 2) : -1;
        if (unit < 0) {
            return JSON_REF_SYNTAX;
        }
        if (unit == 0) {
            return JSON_REF_NUL; /* cJSON would end the C string there, silently */
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) {
            return JSON_REF_SURROGATE;
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
            /* A high surrogate counts only with a low one right after it. */
            int32_t low = i + 12 <= len && text[i + 6] == '\\' && text[i + 7] == 'u'
                              ? json_ref_hex4(text + i + 8)
                              : -1;
            if (low < 0xdc00 || low > 0xdfff) {
                return JSON_REF_SURROGATE;
            }
            i += 12;
            continue;
        }
        i += 6;
    }
    return JSON_REF_SYNTAX; /* no closing quote */
}

/* The old hb_json_text_check, on json_ref_check_string. */
static inline const char *json_ref_text_check(const char *text, size_t len)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t depth = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = bytes[i++];
        if (c == '"') {
            const char *why = json_ref_check_string(bytes, len, &i);
            if (why) {
                return why;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > HB_JSON_DEPTH_MAX) {
                return JSON_REF_DEEP;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return NULL; /* anything else wrong with the text is cJSON's to find */
}

/* The old hb_json_parse: the check, then cJSON's parse of the first value. *end (end may be
 * NULL) is set on success. Not thread-safe (cJSON's global error), which a test can bear. */
static inline cJSON *json_ref_parse(const char *text, size_t len, const char **end,
                                    const char **reason)
{
    const char *why = text ? json_ref_text_check(text, len) : JSON_REF_SYNTAX;
    cJSON *root = NULL;
    const char *stop = NULL;
    if (!why) {
        root = cJSON_ParseWithLengthOpts(text, len, &stop, false);
        why = root ? NULL : JSON_REF_SYNTAX;
    }
    if (root && end) {
        *end = stop;
    }
    if (reason) {
        *reason = why;
    }
    return root;
}

/* The old hb_json_parse_document: only ' ', '\t', '\n' and '\r' may follow the value. */
static inline cJSON *json_ref_parse_document(const char *text, size_t len, const char **reason)
{
    const char *end = NULL;
    cJSON *root = json_ref_parse(text, len, &end, reason);
    if (!root) {
        return NULL;
    }
    for (const char *p = end; p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            if (reason) {
                *reason = JSON_REF_TRAILING;
            }
            return NULL;
        }
    }
    return root;
}

static inline bool json_ref_same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* True when a and b are the same cJSON tree field for field: type bits (but the storage
 * flags), valueint, the valuedouble's bits, valuestring and string bytes, child order and
 * the prev links (the first child's prev is the last). Recursive: for trees of bounded
 * depth. */
static inline bool json_ref_identical(const cJSON *a, const cJSON *b)
{
    if (!a || !b) {
        return a == b;
    }
    /* hb_json_parse flags where a node's name and string live (json_parse_int.h) */
    const int storage = cJSON_StringIsConst | cJSON_IsReference;
    if ((a->type & ~storage) != (b->type & ~storage) || a->valueint != b->valueint ||
        memcmp(&a->valuedouble, &b->valuedouble, sizeof(a->valuedouble)) != 0 ||
        !json_ref_same_string(a->valuestring, b->valuestring) ||
        !json_ref_same_string(a->string, b->string)) {
        return false;
    }
    const cJSON *x = a->child;
    const cJSON *y = b->child;
    if ((x == NULL) != (y == NULL)) {
        return false;
    }
    const cJSON *x_last = NULL;
    const cJSON *y_last = NULL;
    for (; x && y; x = x->next, y = y->next) {
        if (x != a->child && (x->prev != x_last || y->prev != y_last)) {
            return false;
        }
        if (!json_ref_identical(x, y)) {
            return false;
        }
        x_last = x;
        y_last = y;
    }
    if (x || y) {
        return false;
    }
    return !a->child || (a->child->prev == x_last && b->child->prev == y_last);
}

#endif
