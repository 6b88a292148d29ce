/* hausbus's JSON parse before lib/src/json_parse.c (hb_json_text_check, then cJSON), kept as
 * the reference the unit test and the fuzz target compare hb_json_parse with. */
#ifndef HAUSBUS_JSON_PARSE_REF_H
#define HAUSBUS_JSON_PARSE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"

#define JSON_REF_SYNTAX "not valid JSON"
#define JSON_REF_TRAILING "not valid JSON: bytes after the document"

/* The old hb_json_parse: the check, then cJSON's parse of the first value. *end (end may be
 * NULL) is set on success. Not thread-safe (cJSON's global error), which a test can bear. */
static inline cJSON *json_ref_parse(const char *text, size_t len, const char **end,
                                    const char **reason)
{
    const char *why = text ? hb_json_text_check(text, len) : JSON_REF_SYNTAX;
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

/* True when a and b are the same cJSON tree field for field: type bits, valueint, the
 * valuedouble's bits, valuestring and string bytes, child order and the prev links (the
 * first child's prev is the last). Recursive: for trees of bounded depth. */
static inline bool json_ref_identical(const cJSON *a, const cJSON *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (a->type != b->type || a->valueint != b->valueint ||
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
