/* The one JSON parser of hausbus: cJSON 1.7.15's trees and acceptance, in one checked pass. */
#include "hausbus/envelope.h"
#include "json_parse_int.h"

#include <float.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NUMBER_LOCAL 64 /* a number copied for strtod on the stack; longer ones on the heap */
#define EXACT_MAX 9007199254740992u /* 2^53: every integer up to it is a double */
#define POW10_EXACT 22 /* 10^22 is the largest power of ten a double holds exactly */

/* Whether c ends a plain run inside a string: '"', '\\', a control byte, or any byte of
 * a multi-byte UTF-8 sequence (checked on its own). */
static inline bool string_stop(unsigned char c)
{
    return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
}

/* What each one-letter escape stands for; 0 for a letter that is no escape ('u' aside). */
static const unsigned char SHORT_ESCAPE[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* The value of the 4 hex digits at p (4 bytes are read), or -1 when they are not hex. */
static int32_t hex4(const unsigned char *p)
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

/* A mask with the high bit set in the first byte of word (in memory order) that ends a
 * plain run (see string_stop), 0 when none does. The classic "has a byte less than n" and
 * "has a zero byte" tests: a byte above a match may be flagged too (a borrow), the first
 * flagged one is always a match. */
static inline uint64_t string_stops(uint64_t word)
{
    const uint64_t ones = 0x0101010101010101u;
    const uint64_t highs = 0x8080808080808080u;
    uint64_t quote = word ^ (ones * '"');
    uint64_t backslash = word ^ (ones * '\\');
    return (word | ((word - ones * 0x20) & ~word) | ((quote - ones) & ~quote) |
            ((backslash - ones) & ~backslash)) &
           highs;
}

/* The offset of the first byte that ends a plain run at or after t[i], len if none. */
static inline size_t next_stop(const unsigned char *t, size_t len, size_t i)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (len - i >= 8) {
        uint64_t word;
        memcpy(&word, t + i, sizeof(word));
        uint64_t stops = string_stops(word);
        if (stops) {
            return i + (size_t)(__builtin_ctzll(stops) >> 3);
        }
        i += 8;
    }
#endif
    while (i < len && !string_stop(t[i])) {
        i++;
    }
    return i;
}

/* Bytes of UTF-8 for a code point below 0x110000. */
static size_t utf8_length(uint32_t code)
{
    return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

static unsigned char *put_utf8(unsigned char *w, uint32_t code)
{
    if (code < 0x80) {
        *w++ = (unsigned char)code;
    } else if (code < 0x800) {
        *w++ = (unsigned char)(0xc0 | (code >> 6));
        *w++ = (unsigned char)(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
        *w++ = (unsigned char)(0xe0 | (code >> 12));
        *w++ = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
        *w++ = (unsigned char)(0x80 | (code & 0x3f));
    } else {
        *w++ = (unsigned char)(0xf0 | (code >> 18));
        *w++ = (unsigned char)(0x80 | ((code >> 12) & 0x3f));
        *w++ = (unsigned char)(0x80 | ((code >> 6) & 0x3f));
        *w++ = (unsigned char)(0x80 | (code & 0x3f));
    }
    return w;
}

/* The code point of the \u escape (or surrogate pair) at t[i] ('\\' at i, 'u' at i+1),
 * already checked by scan_string, and how many bytes of text it takes (6 or 12). */
static uint32_t escaped_code(const unsigned char *t, size_t i, size_t *taken)
{
    uint32_t unit = (uint32_t)hex4(t + i + 2);
    if (unit >= 0xd800 && unit <= 0xdbff) {
        uint32_t low = (uint32_t)hex4(t + i + 8);
        *taken = 12;
        return 0x10000 + (((unit & 0x3ff) << 10) | (low & 0x3ff));
    }
    *taken = 6;
    return unit;
}

const char hb_json_reason_syntax[] = "not valid JSON";
const char hb_json_reason_utf8[] = "a JSON string is not valid UTF-8";
const char hb_json_reason_surrogate[] = "a JSON string has a lone UTF-16 surrogate (\\ud800-\\udfff)";
const char hb_json_reason_nul[] = "a JSON string has a NUL (\\u0000)";
const char hb_json_reason_control[] = "a JSON string has an unescaped control character";

const char *hb_json_scan_string(const unsigned char *t, size_t len, size_t start,
                                size_t *close, size_t *decoded, bool *escaped)
{
    size_t i = start + 1;
    size_t saved = 0; /* bytes the escapes take beyond what they decode to */
    bool any_escape = false;
    for (;;) {
        i = next_stop(t, len, i);
        if (i >= len) {
            return hb_json_reason_syntax; /* no closing quote */
        }
        unsigned char c = t[i];
        if (c == '"') {
            *close = i;
            *decoded = i - (start + 1) - saved;
            *escaped = any_escape;
            return NULL;
        }
        if (c >= 0x80) {
            size_t n = hb_utf8_sequence((const char *)t + i, len - i);
            if (n == 0) {
                return hb_json_reason_utf8;
            }
            i += n;
            continue;
        }
        if (c != '\\') {
            return hb_json_reason_control;
        }
        if (len - i < 2) {
            return hb_json_reason_syntax; /* a backslash at the very end */
        }
        any_escape = true;
        unsigned char letter = t[i + 1];
        if (letter != 'u') {
            if (!SHORT_ESCAPE[letter]) {
                return hb_json_reason_syntax;
            }
            i += 2;
            saved += 1;
            continue;
        }
        int32_t unit = len - i >= 6 ? hex4(t + i + 2) : -1;
        if (unit < 0) {
            return hb_json_reason_syntax; /* not hex */
        }
        if (unit == 0) {
            return hb_json_reason_nul; /* a C string would end there */
        }
        if (unit >= 0xdc00 && unit <= 0xdfff) {
            return hb_json_reason_surrogate; /* a lone low surrogate */
        }
        if (unit >= 0xd800 && unit <= 0xdbff) {
            int32_t low = len - i >= 12 && t[i + 6] == '\\' && t[i + 7] == 'u'
                              ? hex4(t + i + 8)
                              : -1;
            if (low < 0xdc00 || low > 0xdfff) {
                return hb_json_reason_surrogate; /* a high one without a low one */
            }
            i += 12;
            saved += 12 - 4;
            continue;
        }
        i += 6;
        saved += 6 - utf8_length((uint32_t)unit);
    }
}

/* A string of the text, checked (hb_json_scan_string): its opening quote at t[open], its
 * closing one at t[close], decoded bytes and whether it has any escape. */
struct text_string {
    size_t open;
    size_t close;
    size_t decoded;
    bool escaped;
};

/* Checks the string whose opening quote is at t[pos] into s. False when it is not valid. */
static bool scan_string(const unsigned char *t, size_t len, size_t pos, struct text_string *s)
{
    s->open = pos;
    return hb_json_scan_string(t, len, pos, &s->close, &s->decoded, &s->escaped) == NULL;
}

/* Writes s decoded, and a NUL, to out (s->decoded + 1 bytes); returns out. */
static char *decode_string(const unsigned char *t, const struct text_string *s,
                           unsigned char *out)
{
    size_t i = s->open + 1;
    size_t close = s->close;
    if (!s->escaped) {
        memcpy(out, t + i, s->decoded);
    } else {
        unsigned char *w = out;
        while (i < close) {
            const unsigned char *slash = memchr(t + i, '\\', close - i);
            size_t run = slash ? (size_t)(slash - (t + i)) : close - i;
            memcpy(w, t + i, run);
            w += run;
            i += run;
            if (i == close) {
                break;
            }
            if (t[i + 1] != 'u') {
                *w++ = SHORT_ESCAPE[t[i + 1]];
                i += 2;
            } else {
                size_t taken = 0;
                w = put_utf8(w, escaped_code(t, i, &taken));
                i += taken;
            }
        }
    }
    out[s->decoded] = '\0';
    return (char *)out;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_number_byte(unsigned char c)
{
    return is_digit(c) || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;
static locale_t c_numeric;

static void make_c_numeric(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* cJSON's way to the number at t[start]: strtod on all the bytes of [0-9+-.eE] there (not
 * only the first 63: Debian's 1.7.15 has upstream's fix of CVE-2023-26819), in the C locale
 * whatever the process's is (cJSON swaps '.' for the locale's decimal point, which comes
 * to the same). Returns the bytes strtod took, 0 for none or when memory ran out. */
static size_t strtod_number(const unsigned char *t, size_t len, size_t start, double *value)
{
    size_t n = 0;
    while (start + n < len && is_number_byte(t[start + n])) {
        n++;
    }
    char local[NUMBER_LOCAL];
    char *copy = n < sizeof(local) ? local : malloc(n + 1);
    if (!copy) {
        return 0;
    }
    memcpy(copy, t + start, n);
    copy[n] = '\0';
    pthread_once(&c_numeric_once, make_c_numeric);
    locale_t previous = c_numeric ? uselocale(c_numeric) : (locale_t)0;
    char *end = NULL;
    *value = strtod(copy, &end);
    if (previous) {
        uselocale(previous);
    }
    size_t taken = (size_t)(end - copy);
    if (copy != local) {
        free(copy);
    }
    return taken;
}

/* The number at t[*pos] (a '-' or a digit), as cJSON reads it; moves *pos past it. A
 * decimal with at most 19 significant digits worth at most 2^53, times a power of ten up
 * to 10^22, is one correctly rounded multiplication or division of two exact doubles, so
 * the same double strtod gives (Clinger's fast path); everything else goes to strtod. */
static bool parse_number(const unsigned char *t, size_t len, size_t *pos, cJSON *node)
{
    size_t start = *pos;
    size_t p = start;
    bool negative = t[p] == '-';
    p += negative;
    uint64_t mantissa = 0;
    int significant = 0;
    bool exact = true;
    size_t int_start = p;
    for (; p < len && is_digit(t[p]); p++) {
        if (significant < 19) {
            mantissa = mantissa * 10 + (uint64_t)(t[p] - '0');
            significant += mantissa != 0;
        } else {
            exact = false;
        }
    }
    size_t int_digits = p - int_start;
    size_t frac_digits = 0;
    if (p < len && t[p] == '.') {
        size_t frac_start = p + 1;
        size_t q = frac_start;
        for (; q < len && is_digit(t[q]); q++) {
            if (significant < 19) {
                mantissa = mantissa * 10 + (uint64_t)(t[q] - '0');
                significant += mantissa != 0;
            } else {
                exact = false;
            }
        }
        frac_digits = q - frac_start;
        if (int_digits + frac_digits == 0) {
            return false; /* "-." : strtod takes nothing */
        }
        p = q;
    } else if (int_digits == 0) {
        return false; /* "-" alone */
    }
    int64_t exponent = 0;
    if (p < len && (t[p] == 'e' || t[p] == 'E')) {
        size_t q = p + 1;
        bool exponent_negative = false;
        if (q < len && (t[q] == '+' || t[q] == '-')) {
            exponent_negative = t[q] == '-';
            q++;
        }
        if (q < len && is_digit(t[q])) {
            for (; q < len && is_digit(t[q]); q++) {
                if (exponent < 100000) {
                    exponent = exponent * 10 + (t[q] - '0');
                }
            }
            exponent = exponent_negative ? -exponent : exponent;
            p = q;
        } /* else "1e" or "1e+": strtod stops before the 'e' */
    }
    int64_t scale = exponent - (int64_t)frac_digits;
    double value;
#if FLT_EVAL_METHOD == 0
    if (exact && mantissa <= EXACT_MAX && scale >= -POW10_EXACT && scale <= POW10_EXACT) {
        static const double pow10[POW10_EXACT + 1] = {
            1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
            1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        };
        value = (double)mantissa;
        if (scale > 0) {
            value *= pow10[scale];
        } else if (scale < 0) {
            value /= pow10[-scale];
        }
        if (negative) {
            value = -value;
        }
    } else
#endif
    {
        size_t taken = strtod_number(t, len, start, &value);
        if (taken == 0) {
            return false;
        }
        p = start + taken;
    }
    node->type |= cJSON_Number;
    node->valuedouble = value;
    /* cJSON saturates valueint */
    node->valueint = value >= INT_MAX            ? INT_MAX
                     : value <= (double)INT_MIN ? INT_MIN
                                                : (int)value;
    *pos = p;
    return true;
}

/* A number or literal at t[*pos] into node, moving *pos past it (a string is the
 * caller's: it lives in the node's own block). cJSON takes the literals by their letters
 * alone: what follows is the caller's. */
static bool parse_scalar(const unsigned char *t, size_t len, size_t *pos, cJSON *node)
{
    size_t p = *pos;
    unsigned char c = t[p];
    if (c == '-' || is_digit(c)) {
        return parse_number(t, len, pos, node);
    }
    if (c == 'n' && len - p >= 4 && memcmp(t + p, "null", 4) == 0) {
        node->type |= cJSON_NULL;
        *pos = p + 4;
        return true;
    }
    if (c == 't' && len - p >= 4 && memcmp(t + p, "true", 4) == 0) {
        node->type |= cJSON_True;
        node->valueint = 1;
        *pos = p + 4;
        return true;
    }
    if (c == 'f' && len - p >= 5 && memcmp(t + p, "false", 5) == 0) {
        node->type |= cJSON_False;
        *pos = p + 5;
        return true;
    }
    return false;
}

/* cJSON's whitespace: every byte up to 0x20, NUL and control bytes included. */
static inline size_t skip_space(const unsigned char *t, size_t len, size_t pos)
{
    while (pos < len && t[pos] <= 0x20) {
        pos++;
    }
    return pos;
}

/* Appends node to container's children, keeping cJSON's links: the first child's prev is
 * the last child. */
static void append(cJSON *container, cJSON *node)
{
    cJSON *first = container->child;
    if (!first) {
        container->child = node;
        node->prev = node;
        return;
    }
    cJSON *last = first->prev;
    last->next = node;
    node->prev = last;
    first->prev = node;
}

/* A node with its member name and its string value, when it has them, in one block:
 * decoded after the cJSON struct, flagged so that cJSON_Delete frees the block alone
 * (cJSON_StringIsConst: the name is not freed on its own; cJSON_IsReference, on a string
 * without children: neither is the value). One allocation per value instead of up to three.
 * cJSON's other functions treat the flags as they must: cJSON_AddItemToObject and
 * cJSON_ReplaceItemInObject give the node a name of its own and never free the inline
 * one, cJSON_Duplicate copies the value. cJSON_Duplicate keeps a cJSON_StringIsConst name
 * as it is, so every member of a copy of a parsed tree (or of any part of it) names itself
 * with text in the original: such a copy must not outlive the tree it came from. NULL when
 * memory ran out. */
static cJSON *new_node(const unsigned char *t, const struct text_string *name,
                       const struct text_string *value)
{
    size_t extra = (name ? name->decoded + 1 : 0) + (value ? value->decoded + 1 : 0);
    cJSON *node = cJSON_malloc(sizeof(*node) + extra);
    if (!node) {
        return NULL;
    }
    *node = (cJSON){0};
    unsigned char *text = (unsigned char *)(node + 1);
    if (name) {
        node->string = decode_string(t, name, text);
        node->type |= cJSON_StringIsConst;
        text += name->decoded + 1;
    }
    if (value) {
        node->valuestring = decode_string(t, value, text);
        node->type |= cJSON_String | cJSON_IsReference;
    }
    return node;
}

cJSON *hb_json_parse_value(const char *text, size_t len, size_t *stop)
{
    const unsigned char *t = (const unsigned char *)text;
    /* The open containers, innermost last; the depth check keeps it in bounds. */
    cJSON *open[HB_JSON_DEPTH_MAX];
    size_t depth = 0;
    cJSON *root = NULL;
    size_t pos = 0;
    if (len >= 5 && memcmp(t, "\xef\xbb\xbf", 3) == 0) {
        pos = 3; /* cJSON skips a BOM only when a fifth byte follows */
    }
    pos = skip_space(t, len, pos);
    for (;;) {
        /* A value starts at pos, after its member name when in an object. */
        cJSON *parent = depth > 0 ? open[depth - 1] : NULL;
        struct text_string name = {0}, value = {0};
        bool named = parent && (parent->type & 0xff) == cJSON_Object;
        if (named) {
            if (pos >= len || t[pos] != '"' || !scan_string(t, len, pos, &name)) {
                goto fail;
            }
            pos = skip_space(t, len, name.close + 1);
            if (pos >= len || t[pos] != ':') {
                goto fail;
            }
            pos = skip_space(t, len, pos + 1);
        }
        if (pos >= len) {
            goto fail;
        }
        unsigned char c = t[pos];
        bool string = c == '"';
        if (string && !scan_string(t, len, pos, &value)) {
            goto fail;
        }
        cJSON *node = new_node(t, named ? &name : NULL, string ? &value : NULL);
        if (!node) {
            goto fail;
        }
        if (parent) {
            append(parent, node);
        } else {
            root = node;
        }
        if (string) {
            pos = value.close + 1;
        } else if (c == '[' || c == '{') {
            if (depth == HB_JSON_DEPTH_MAX) {
                goto fail; /* hb_json_text_check's limit, named by it */
            }
            node->type |= c == '[' ? cJSON_Array : cJSON_Object;
            open[depth++] = node;
            pos = skip_space(t, len, pos + 1);
            if (pos >= len || t[pos] != (c == '[' ? ']' : '}')) {
                continue; /* on to the first child */
            }
            pos++;
            depth--;
        } else if (!parse_scalar(t, len, &pos, node)) {
            goto fail;
        }
        /* A value is done: on to its next sibling, closing every container it ends. */
        for (;;) {
            if (depth == 0) {
                *stop = pos;
                return root;
            }
            pos = skip_space(t, len, pos);
            if (pos < len && t[pos] == ',') {
                pos = skip_space(t, len, pos + 1);
                break;
            }
            char close = (open[depth - 1]->type & 0xff) == cJSON_Object ? '}' : ']';
            if (pos >= len || t[pos] != close) {
                goto fail;
            }
            pos++;
            depth--;
        }
    }
fail:
    cJSON_Delete(root);
    return NULL;
}
