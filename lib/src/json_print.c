/* The one way hausbus prints a cJSON tree: cJSON_PrintUnformatted's text, made cheaper. */
#include "hausbus/envelope.h"
#include "json_print_int.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 256 /* cJSON's first buffer too: most of our documents fit */
#define LOCAL_DEPTH 32 /* open containers tracked without a heap allocation */

/* Makes room for n more bytes (and a NUL). Returns false on allocation failure or when the
 * size would overflow; buf stays valid for the caller to free either way. */
static bool grow(struct hb_json_out *o, size_t n)
{
    if (n > SIZE_MAX / 2 - 1 - o->len) {
        return false;
    }
    size_t need = o->len + n + 1;
    size_t cap = o->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    }
    char *bigger = realloc(o->buf, cap);
    if (!bigger) {
        return false;
    }
    o->buf = bigger;
    o->cap = cap;
    return true;
}

static inline bool reserve(struct hb_json_out *o, size_t n)
{
    return o->cap - o->len > n || grow(o, n);
}

static inline bool put(struct hb_json_out *o, const char *text, size_t n)
{
    if (!reserve(o, n)) {
        return false;
    }
    memcpy(o->buf + o->len, text, n);
    o->len += n;
    return true;
}

/* One byte: the walk's brackets, commas and colons, a call to memcpy each otherwise. */
static inline bool put_byte(struct hb_json_out *o, char byte)
{
    if (!reserve(o, 1)) {
        return false;
    }
    o->buf[o->len++] = byte;
    return true;
}

bool hb_json_out_raw(struct hb_json_out *o, const char *text, size_t n)
{
    return put(o, text, n);
}

/* What follows the backslash for each byte cJSON escapes: 'u' for \u00xx, 0 for a byte
 * copied as it is (0x7f and every byte of UTF-8 too). NUL ends the string before. */
static const char ESCAPE[256] = {
    [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', [0x0b] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [0x0e] = 'u', [0x0f] = 'u', [0x10] = 'u', [0x11] = 'u',
    [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"', ['\\'] = '\\',
};

/* Whether any of the 8 bytes in word is one cJSON escapes: below 0x20, '"' or '\\'. The
 * classic "has a byte less than n" and "has a zero byte" tests, exact for whether any byte
 * matches (which one is left to the table). */
static inline bool any_escape(uint64_t word)
{
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t highs = 0x8080808080808080u;
    uint64_t quote = word ^ (ones * '"');
    uint64_t backslash = word ^ (ones * '\\');
    return (((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) |
            ((backslash - ones) & ~backslash)) &
           highs;
}

/* cJSON's print_string_ptr: NULL prints as "". The plain stretches between escapes are
 * found 8 bytes at a time (within the measured length) and copied at once. */
bool hb_json_out_string(struct hb_json_out *o, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    if (!text) {
        return put(o, "\"\"", 2);
    }
    const unsigned char *p = (const unsigned char *)text;
    const unsigned char *end = p + strlen(text);
    /* the quotes and, when nothing needs escaping, all of the text */
    if (!reserve(o, (size_t)(end - p) + 2)) {
        return false;
    }
    o->buf[o->len++] = '"';
    for (;;) {
        const unsigned char *run = p;
        while (end - p >= 8) {
            uint64_t word;
            memcpy(&word, p, sizeof(word));
            if (any_escape(word)) {
                break;
            }
            p += 8;
        }
        while (p < end && !ESCAPE[*p]) {
            p++;
        }
        size_t n = (size_t)(p - run);
        /* the run, the longest escape (\u00xx) and the closing quote */
        if (!reserve(o, n + 7)) {
            return false;
        }
        memcpy(o->buf + o->len, run, n);
        o->len += n;
        if (p == end) {
            break;
        }
        char *w = o->buf + o->len;
        w[0] = '\\';
        w[1] = ESCAPE[*p];
        if (w[1] == 'u') {
            w[2] = '0';
            w[3] = '0';
            w[4] = hex[*p >> 4];
            w[5] = hex[*p & 0xf];
            o->len += 6;
        } else {
            o->len += 2;
        }
        p++;
    }
    o->buf[o->len++] = '"';
    return true;
}

/* cJSON's compare_double: equal within DBL_EPSILON relative. */
static bool close_enough(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

/* cJSON's print_number. An integral value below 1e15 in magnitude has at most 15 digits,
 * which %1.15g prints exactly as an integer (and they read back exactly), so those are
 * written by hand; everything else takes cJSON's way: %1.15g, and %1.17g when that does
 * not read back close enough, with the locale's decimal point turned into '.' (nothing of
 * ours calls setlocale, so that is '.' already). */
static bool put_number(struct hb_json_out *o, double d)
{
    char digits[32];
    if (isnan(d) || isinf(d)) {
        return put(o, "null", 4);
    }
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char *end = digits + sizeof(digits);
        char *w = end;
        do {
            *--w = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0) {
            *--w = '-';
        }
        return put(o, w, (size_t)(end - w));
    }
    int n = snprintf(digits, sizeof(digits), "%1.15g", d);
    if (n < 0 || (size_t)n >= sizeof(digits)) {
        return false;
    }
    char *end = NULL;
    double back = strtod(digits, &end);
    if (end == digits || !close_enough(back, d)) { /* cJSON: sscanf("%lg") != 1 */
        n = snprintf(digits, sizeof(digits), "%1.17g", d);
        if (n < 0 || (size_t)n >= sizeof(digits)) {
            return false;
        }
    }
    for (int i = 0; i < n; i++) {
        char c = digits[i];
        if (!(c >= '0' && c <= '9') && c != '-' && c != '+' && c != 'e') {
            digits[i] = '.'; /* %g writes nothing else but the decimal point */
        }
    }
    return put(o, digits, (size_t)n);
}

/* A leaf: anything but an array or object. False for a raw item without text and for an
 * invalid type, as in cJSON. */
static bool put_leaf(struct hb_json_out *o, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_NULL:
        return put(o, "null", 4);
    case cJSON_False:
        return put(o, "false", 5);
    case cJSON_True:
        return put(o, "true", 4);
    case cJSON_Number:
        return put_number(o, item->valuedouble);
    case cJSON_String:
        return hb_json_out_string(o, item->valuestring);
    case cJSON_Raw:
        return item->valuestring && put(o, item->valuestring, strlen(item->valuestring));
    default:
        return false;
    }
}

/* The open containers, innermost last: on the C stack up to LOCAL_DEPTH, then on the heap,
 * so a deep tree costs memory, never the thread's stack. */
struct path {
    const cJSON **at;
    size_t depth;
    size_t cap;
    const cJSON *local[LOCAL_DEPTH];
};

static bool push(struct path *path, const cJSON *container)
{
    if (path->depth == path->cap) {
        if (path->cap > SIZE_MAX / 2 / sizeof(*path->at)) {
            return false;
        }
        size_t cap = path->cap * 2;
        const cJSON **bigger = malloc(cap * sizeof(*bigger));
        if (!bigger) {
            return false;
        }
        memcpy(bigger, path->at, path->depth * sizeof(*bigger));
        if (path->at != path->local) {
            free(path->at);
        }
        path->at = bigger;
        path->cap = cap;
    }
    path->at[path->depth++] = container;
    return true;
}

/* A member's name and colon; cJSON prints a missing name as "". */
static bool put_key(struct hb_json_out *o, const cJSON *member)
{
    return hb_json_out_string(o, member->string) && put_byte(o, ':');
}

/* Writes item: a depth-first walk without recursion. */
static bool put_tree(struct hb_json_out *o, const cJSON *item, struct path *path)
{
    const cJSON *node = item;
    for (;;) {
        int type = node->type & 0xff;
        if (type == cJSON_Array || type == cJSON_Object) {
            if (!reserve(o, 2)) {
                return false;
            }
            o->buf[o->len++] = type == cJSON_Array ? '[' : '{';
            if (node->child) {
                if (!push(path, node)) {
                    return false;
                }
                node = node->child;
                if (type == cJSON_Object && !put_key(o, node)) {
                    return false;
                }
                continue;
            }
            o->buf[o->len++] = type == cJSON_Array ? ']' : '}';
        } else if (!put_leaf(o, node)) {
            return false;
        }
        /* node is done: on to its next sibling, closing every container it ends. */
        for (;;) {
            if (path->depth == 0) {
                return true;
            }
            const cJSON *parent = path->at[path->depth - 1];
            bool in_object = (parent->type & 0xff) == cJSON_Object;
            if (node->next) {
                node = node->next;
                if (!put_byte(o, ',') || (in_object && !put_key(o, node))) {
                    return false;
                }
                break;
            }
            if (!put_byte(o, in_object ? '}' : ']')) {
                return false;
            }
            node = parent;
            path->depth--;
        }
    }
}

bool hb_json_out_value(struct hb_json_out *o, const cJSON *item)
{
    if (!item) {
        return false;
    }
    struct path path = {.cap = LOCAL_DEPTH};
    path.at = path.local;
    bool ok = put_tree(o, item, &path);
    if (path.at != path.local) {
        free(path.at);
    }
    return ok;
}

bool hb_json_out_init(struct hb_json_out *o, size_t cap)
{
    o->buf = malloc(cap);
    o->len = 0;
    o->cap = o->buf ? cap : 0;
    return o->buf != NULL;
}

char *hb_json_out_finish(struct hb_json_out *o, bool ok)
{
    char *text = o->buf;
    size_t len = o->len;
    *o = (struct hb_json_out){0};
    if (!ok || !text) {
        free(text);
        return NULL;
    }
    text[len] = '\0'; /* reserve always keeps a byte for it */
    /* Give back the slack, as cJSON does: some callers keep the text a while. */
    char *fitted = realloc(text, len + 1);
    return fitted ? fitted : text;
}

char *hb_json_print(const cJSON *item)
{
    struct hb_json_out o;
    if (!item || !hb_json_out_init(&o, FIRST_CAP)) {
        return NULL;
    }
    return hb_json_out_finish(&o, hb_json_out_value(&o, item));
}
