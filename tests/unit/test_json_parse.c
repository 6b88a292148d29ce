/* Unit tests of hb_json_parse and hb_json_parse_document (lib/src/json_parse.c): the same
 * acceptance, reasons, end and trees as the check + cJSON parse they replaced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"
#include "json_parse_ref.h"

#define REASON_DEEP "JSON nested deeper than 64 levels"
#define REASON_UTF8 "a JSON string is not valid UTF-8"
#define REASON_SURROGATE "a JSON string has a lone UTF-16 surrogate (\\ud800-\\udfff)"
#define REASON_NUL "a JSON string has a NUL (\\u0000)"
#define REASON_CONTROL "a JSON string has an unescaped control character"
#define OK NULL /* accepted as a document */

/* text as C source, for failure messages: at most the first 200 bytes. */
static const char *shown(const char *text, size_t len)
{
    static char out[1024];
    size_t n = 0;
    for (size_t i = 0; i < len && i < 200 && n + 5 < sizeof(out); i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            out[n++] = (char)c;
        } else {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
        }
    }
    out[n] = '\0';
    return out;
}

/* Both trees print alike with hb_json_print and with cJSON's own printer. */
static void assert_prints_alike(const cJSON *ours, const cJSON *theirs, const char *text,
                                size_t len)
{
    char *a = hb_json_print(ours);
    char *b = hb_json_print(theirs);
    char *c = cJSON_PrintUnformatted(ours);
    char *d = cJSON_PrintUnformatted(theirs);
    if (!json_ref_same_string(a, b) || !json_ref_same_string(c, d)) {
        fail_msg("\"%s\": prints differ: %s / %s", shown(text, len), a ? a : "NULL",
                 b ? b : "NULL");
    }
    free(a);
    free(b);
    cJSON_free(c);
    cJSON_free(d);
}

/* Both parses of the exact-size copy of text agree with the reference: accepted or not,
 * the reason, the end, the tree. Returns the document reason (NULL when accepted). */
static const char *assert_parses_like_reference(const char *source, size_t len)
{
    /* An exact-size copy: neither parser may read past len. */
    char *text = malloc(len > 0 ? len : 1);
    assert_non_null(text);
    memcpy(text, source, len);
    const char *want_reason = "unset";
    const char *got_reason = "unset";
    cJSON *want = json_ref_parse_document(text, len, &want_reason);
    cJSON *got = hb_json_parse_document(text, len, &got_reason);
    if ((want == NULL) != (got == NULL) || !json_ref_same_string(want_reason, got_reason)) {
        fail_msg("\"%s\" (%zu bytes): document %s (%s), expected %s (%s)", shown(text, len),
                 len, got ? "accepted" : "refused", got_reason ? got_reason : "-",
                 want ? "accepted" : "refused", want_reason ? want_reason : "-");
    }
    if (want && !json_ref_identical(want, got)) {
        fail_msg("\"%s\": document trees differ", shown(text, len));
    }
    assert_prints_alike(got, want, text, len);
    cJSON_Delete(want);
    cJSON_Delete(got);

    const char *want_end = NULL;
    const char *got_end = NULL;
    want = json_ref_parse(text, len, &want_end, NULL);
    got = hb_json_parse(text, len, &got_end);
    if ((want == NULL) != (got == NULL) || (want && want_end != got_end)) {
        fail_msg("\"%s\": value %s (end %td), expected %s (end %td)", shown(text, len),
                 got ? "accepted" : "refused", got ? got_end - text : -1,
                 want ? "accepted" : "refused", want ? want_end - text : -1);
    }
    if (want && !json_ref_identical(want, got)) {
        fail_msg("\"%s\": value trees differ", shown(text, len));
    }
    assert_prints_alike(got, want, text, len);
    cJSON_Delete(want);
    cJSON_Delete(got);
    free(text);
    return want_reason;
}

struct doc {
    const char *text;
    size_t len; /* 0: strlen(text) */
    const char *reason; /* the document's: OK or the reason it is refused with */
};

#define WITH_NUL(literal) literal, sizeof(literal) - 1

static const struct doc DOCS[] = {
    /* empty and whitespace */
    {"", 0, JSON_REF_SYNTAX},
    {" ", 0, JSON_REF_SYNTAX},
    {" \t\r\n", 0, JSON_REF_SYNTAX},
    {WITH_NUL("\0"), JSON_REF_SYNTAX},
    {" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n, \"b\" : [ 1 , 2 ] } \t\r\n", 0, OK},
    /* cJSON's whitespace is any byte up to 0x20, between tokens; after the document only
     * JSON's four are allowed */
    {WITH_NUL("\0\x01\x0b\x0c\x1f[\0 1\x01,\x1f 2\x0b]"), OK},
    {WITH_NUL("{\x01\"a\"\x02:\x03true\x04}"), OK},
    {WITH_NUL("{}\0"), JSON_REF_TRAILING},
    {WITH_NUL("{}\x0c"), JSON_REF_TRAILING},
    {WITH_NUL("{\"a\":\"x\0y\"}"), REASON_CONTROL},
    /* literals */
    {"null", 0, OK},
    {"true", 0, OK},
    {"false", 0, OK},
    {"nul", 0, JSON_REF_SYNTAX},
    {"nulls", 0, JSON_REF_TRAILING},
    {"[nulls]", 0, JSON_REF_SYNTAX},
    {"True", 0, JSON_REF_SYNTAX},
    {"[true,false,null]", 0, OK},
    {"fals", 0, JSON_REF_SYNTAX},
    /* the BOM: cJSON skips it only when a fifth byte follows */
    {"\xef\xbb\xbf[1]", 0, OK},
    {"\xef\xbb\xbf" "1", 0, JSON_REF_SYNTAX},
    {"\xef\xbb\xbf" "12", 0, OK},
    {"\xef\xbb\xbf", 0, JSON_REF_SYNTAX},
    {" \xef\xbb\xbf{}", 0, JSON_REF_SYNTAX},
    /* numbers: strtod's grammar over [0-9+-.eE], 63 bytes at most */
    {"0", 0, OK},
    {"-0", 0, OK},
    {"-0.0", 0, OK},
    {"-0e5", 0, OK},
    {"1", 0, OK},
    {"-1", 0, OK},
    {"42", 0, OK},
    {"01", 0, OK},
    {"-007", 0, OK},
    {"1.", 0, OK},
    {"1.e3", 0, OK},
    {"-.5", 0, OK},
    {".5", 0, JSON_REF_SYNTAX},
    {"+1", 0, JSON_REF_SYNTAX},
    {"-", 0, JSON_REF_SYNTAX},
    {"-.", 0, JSON_REF_SYNTAX},
    {"-e1", 0, JSON_REF_SYNTAX},
    {"--1", 0, JSON_REF_SYNTAX},
    {"-+1", 0, JSON_REF_SYNTAX},
    {"1e", 0, JSON_REF_TRAILING},
    {"1e+", 0, JSON_REF_TRAILING},
    {"1E-", 0, JSON_REF_TRAILING},
    {"[1e]", 0, JSON_REF_SYNTAX},
    {"1e5", 0, OK},
    {"1E+5", 0, OK},
    {"1e-5", 0, OK},
    {"1e+-5", 0, JSON_REF_TRAILING},
    {"1.5.3", 0, JSON_REF_TRAILING},
    {"1..5", 0, JSON_REF_TRAILING},
    {"0x10", 0, JSON_REF_TRAILING},
    {"1-2", 0, JSON_REF_TRAILING},
    {"[1-2]", 0, JSON_REF_SYNTAX},
    {"Infinity", 0, JSON_REF_SYNTAX},
    {"NaN", 0, JSON_REF_SYNTAX},
    {"-Infinity", 0, JSON_REF_SYNTAX},
    {"1e400", 0, OK},
    {"-1e400", 0, OK},
    {"1e-400", 0, OK},
    {"-1e-400", 0, OK},
    {"4.9e-324", 0, OK},
    {"2.4703282292062328e-324", 0, OK},
    {"1.7976931348623157e308", 0, OK},
    {"1.7976931348623159e308", 0, OK},
    {"0.1", 0, OK},
    {"0.30000000000000004", 0, OK},
    {"123456789012345678", 0, OK},
    {"9007199254740992", 0, OK},
    {"9007199254740993", 0, OK},
    {"-9007199254740993", 0, OK},
    {"18446744073709551615", 0, OK},
    {"18446744073709551616", 0, OK},
    {"99999999999999999999999999999999999999", 0, OK},
    {"2147483647", 0, OK},
    {"2147483648", 0, OK},
    {"-2147483648", 0, OK},
    {"-2147483649", 0, OK},
    {"2147483646.9", 0, OK},
    {"-2147483648.5", 0, OK},
    {"1e22", 0, OK},
    {"1e23", 0, OK},
    {"9007199254740991e22", 0, OK},
    {"9007199254740993e22", 0, OK},
    {"1e-22", 0, OK},
    {"1e-23", 0, OK},
    {"0.000000000000000000000000000001", 0, OK},
    /* cJSON 1.7.15 read 63 bytes at most; Debian's (CVE-2023-26819) reads them all */
    {"1.0000000000000000000000000000000000000000000000000000000000000", 0, OK},
    {"1.00000000000000000000000000000000000000000000000000000000000000", 0, OK},
    {"[1.00000000000000000000000000000000000000000000000000000000000000]", 0, OK},
    {"123456789012345678901234567890123456789012345678901234567890123", 0, OK},
    {"1234567890123456789012345678901234567890123456789012345678901234", 0, OK},
    {"0.00000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000000000001e400",
     0, OK},
    {"1234567890123456789012345678901234567890123456789012345678901234-", 0,
     JSON_REF_TRAILING},
    {"1eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 0,
     JSON_REF_TRAILING},
    {"[0,-0,1,-1,1.5,-1.5,1e2,1E2,1e-2]", 0, OK},
    {"[01,00,-00]", 0, OK},
    {"{\"n\":12 }", 0, OK},
    /* strings and every escape */
    {"\"\"", 0, OK},
    {"\"plain\"", 0, OK},
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, OK},
    {"\"\\u0041\\u00e9\\u00E9\\u4e2d\\uffff\\u0001\\u001f\\u007f\\u0080\\u07ff\\u0800\"", 0,
     OK},
    {"\"\\ud83d\\ude00\\uD83D\\uDE00\\udbff\\udfff\\ud800\\udc00\"", 0, OK},
    {"\"\\ud800\"", 0, REASON_SURROGATE},
    {"\"\\udc00\"", 0, REASON_SURROGATE},
    {"\"\\ud800\\u0041\"", 0, REASON_SURROGATE},
    {"\"\\ud800\\ud800\"", 0, REASON_SURROGATE},
    {"\"\\ud800\\\"", 0, REASON_SURROGATE},
    {"\"\\ud800x\\udc00\"", 0, REASON_SURROGATE},
    {"\"\\udfff\\ud800\"", 0, REASON_SURROGATE},
    {"\"\\ud800\\udc0\"", 0, REASON_SURROGATE},
    {"\"\\ud800\\u", 0, REASON_SURROGATE},
    {"\"\\u0000\"", 0, REASON_NUL},
    {"\"a\\u0000\"", 0, REASON_NUL},
    {"\"\\u12\"", 0, JSON_REF_SYNTAX},
    {"\"\\u12G4\"", 0, JSON_REF_SYNTAX},
    {"\"\\u\"", 0, JSON_REF_SYNTAX},
    {"\"\\x\"", 0, JSON_REF_SYNTAX},
    {"\"\\a\"", 0, JSON_REF_SYNTAX},
    {"\"\\'\"", 0, JSON_REF_SYNTAX},
    {"\"\\U0041\"", 0, JSON_REF_SYNTAX},
    {"\"\\", 0, JSON_REF_SYNTAX},
    {"\"abc", 0, JSON_REF_SYNTAX},
    {"\"abc\\\"", 0, JSON_REF_SYNTAX},
    {"'abc'", 0, JSON_REF_SYNTAX},
    /* raw control bytes and 0x7f */
    {"\"a\nb\"", 0, REASON_CONTROL},
    {"\"a\tb\"", 0, REASON_CONTROL},
    {"\"\x01\"", 0, REASON_CONTROL},
    {"\"\x1f\"", 0, REASON_CONTROL},
    {"\"\x7f\"", 0, OK},
    /* UTF-8: every kind of invalid, overlong and surrogate encodings, the edges */
    {"\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"", 0, OK},
    {"\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\"", 0, OK},
    {"\"\x80\"", 0, REASON_UTF8},
    {"\"\xbf\"", 0, REASON_UTF8},
    {"\"\xc0\xaf\"", 0, REASON_UTF8},
    {"\"\xc1\xbf\"", 0, REASON_UTF8},
    {"\"\xe0\x80\xaf\"", 0, REASON_UTF8},
    {"\"\xe0\x9f\xbf\"", 0, REASON_UTF8},
    {"\"\xf0\x80\x80\xaf\"", 0, REASON_UTF8},
    {"\"\xf0\x8f\xbf\xbf\"", 0, REASON_UTF8},
    {"\"\xed\xa0\x80\"", 0, REASON_UTF8},
    {"\"\xed\xbf\xbf\"", 0, REASON_UTF8},
    {"\"\xf4\x90\x80\x80\"", 0, REASON_UTF8},
    {"\"\xf5\x80\x80\x80\"", 0, REASON_UTF8},
    {"\"\xf8\x88\x80\x80\x80\"", 0, REASON_UTF8},
    {"\"\xfe\"", 0, REASON_UTF8},
    {"\"\xff\"", 0, REASON_UTF8},
    {"\"\xc3\"", 0, REASON_UTF8},
    {"\"\xc3", 0, REASON_UTF8},
    {"\"\xe4\xb8\"", 0, REASON_UTF8},
    {"\"\xf0\x9f\x98\"", 0, REASON_UTF8},
    {"\"\xc3\x28\"", 0, REASON_UTF8},
    {"\"\xe4\x28\xad\"", 0, REASON_UTF8},
    {"\"\xf0\x9f\x28\x80\"", 0, REASON_UTF8},
    {"{\"k\xff\":1}", 0, REASON_UTF8},
    /* the check's reasons come first, wherever they are in the text */
    {"x \"\xff\"", 0, REASON_UTF8},
    {"[1] \"\x01\"", 0, REASON_CONTROL},
    {"{} \"\\u0000\"", 0, REASON_NUL},
    {"{}}}} \"\\ud800\"", 0, REASON_SURROGATE},
    {"[1,,] \"\xc0\"", 0, REASON_UTF8},
    /* arrays and objects */
    {"[]", 0, OK},
    {"{}", 0, OK},
    {"[ ]", 0, OK},
    {"{ }", 0, OK},
    {"[[],{},[[]],{\"a\":{}}]", 0, OK},
    {"[1,]", 0, JSON_REF_SYNTAX},
    {"[,1]", 0, JSON_REF_SYNTAX},
    {"[1 2]", 0, JSON_REF_SYNTAX},
    {"[1,", 0, JSON_REF_SYNTAX},
    {"[1, ", 0, JSON_REF_SYNTAX},
    {"[", 0, JSON_REF_SYNTAX},
    {"[ ", 0, JSON_REF_SYNTAX},
    {"]", 0, JSON_REF_SYNTAX},
    {"{", 0, JSON_REF_SYNTAX},
    {"{ ", 0, JSON_REF_SYNTAX},
    {"}", 0, JSON_REF_SYNTAX},
    {"{\"a\"}", 0, JSON_REF_SYNTAX},
    {"{\"a\":}", 0, JSON_REF_SYNTAX},
    {"{\"a\":1,}", 0, JSON_REF_SYNTAX},
    {"{\"a\":1,", 0, JSON_REF_SYNTAX},
    {"{\"a\":1", 0, JSON_REF_SYNTAX},
    {"{\"a\" 1}", 0, JSON_REF_SYNTAX},
    {"{a:1}", 0, JSON_REF_SYNTAX},
    {"{1:1}", 0, JSON_REF_SYNTAX},
    {"{\"a\":1 \"b\":2}", 0, JSON_REF_SYNTAX},
    {"{\"a\":1]", 0, JSON_REF_SYNTAX},
    {"[1}", 0, JSON_REF_SYNTAX},
    {"{\"a\":1,\"a\":2,\"a\":[3]}", 0, OK}, /* duplicate keys: all kept, in order */
    {"{\"\":0}", 0, OK},
    {"{\"\\u00e9\\n\":\"\\t\"}", 0, OK},
    {"[\"a\",\"b\",\"c\",\"d\"]", 0, OK},
    /* trailing bytes */
    {"{} ", 0, OK},
    {"{}\r\n", 0, OK},
    {"{} x", 0, JSON_REF_TRAILING},
    {"{}{}", 0, JSON_REF_TRAILING},
    {"{},", 0, JSON_REF_TRAILING},
    {"1 2", 0, JSON_REF_TRAILING},
    {"\"a\"\"b\"", 0, JSON_REF_TRAILING},
    {"[] [[[[", 0, JSON_REF_TRAILING},
    {"{} \"\\x\"", 0, JSON_REF_SYNTAX}, /* the check's syntax error in what follows */
    {"\"a\" \"", 0, JSON_REF_SYNTAX},
    {WITH_NUL("{\"a\":1}\0{\"b\":2}"), JSON_REF_TRAILING},
    {"{\"type\":\"OrderPlaced\",\"data\":{\"orderId\":42,\"items\":[{\"sku\":\"a\",\"qty\":2}],"
     "\"total\":19.99,\"paid\":false,\"note\":null}}",
     0, OK},
};

/* before, then len bytes of text (NULs too), then after, compared with the reference. */
static void wrap_and_compare(const char *before, const char *text, size_t len, const char *after)
{
    size_t n_before = strlen(before);
    size_t n_after = strlen(after);
    char *wrapped = malloc(n_before + len + n_after);
    assert_non_null(wrapped);
    memcpy(wrapped, before, n_before);
    memcpy(wrapped + n_before, text, len);
    memcpy(wrapped + n_before + len, after, n_after);
    assert_parses_like_reference(wrapped, n_before + len + n_after);
    free(wrapped);
}

static void every_document_of_the_table_parses_like_cjson(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(DOCS) / sizeof(DOCS[0]); i++) {
        const struct doc *d = &DOCS[i];
        size_t len = d->len ? d->len : strlen(d->text);
        const char *reason = assert_parses_like_reference(d->text, len);
        if (!json_ref_same_string(reason, d->reason)) {
            fail_msg("table row %zu \"%s\": reason %s, the table says %s", i,
                     shown(d->text, len), reason ? reason : "OK", d->reason ? d->reason : "OK");
        }
        /* The same inside an array and as a member: other paths through the parser. */
        wrap_and_compare("[", d->text, len, "]");
        wrap_and_compare("{\"k\": ", d->text, len, " ,\"z\":0}");
    }
}

/* n copies of open, then n of close. Caller frees. */
static char *nested(size_t n, char open, char close, size_t *len)
{
    char *text = malloc(2 * n + 1);
    assert_non_null(text);
    memset(text, open, n);
    memset(text + n, close, n);
    text[2 * n] = '\0';
    *len = 2 * n;
    return text;
}

static void nesting_is_bounded_as_it_parses(void **state)
{
    (void)state;
    static const size_t depths[] = {1, 2, 63, HB_JSON_DEPTH_MAX, HB_JSON_DEPTH_MAX + 1, 1000,
                                    1001, 100000};
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        size_t len = 0;
        char *text = nested(depths[i], '[', ']', &len);
        const char *reason = assert_parses_like_reference(text, len);
        if (depths[i] <= HB_JSON_DEPTH_MAX) {
            assert_null(reason);
        } else {
            assert_string_equal(reason, REASON_DEEP);
        }
        text[len - 1] = 'x'; /* too deep wins over the syntax error at the end */
        assert_parses_like_reference(text, len);
        free(text);
    }
    /* Objects, mixed, and too deep only after a long valid stretch. */
    char text[4096];
    size_t n = 0;
    for (size_t level = 0; level < HB_JSON_DEPTH_MAX; level++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, level % 2 ? "{\"k\":" : "[1,");
    }
    size_t open_len = n;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "0");
    for (size_t level = HB_JSON_DEPTH_MAX; level-- > 0;) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, level % 2 ? "}" : "]");
    }
    assert_true(n < sizeof(text) - 2);
    assert_null(assert_parses_like_reference(text, n));
    memmove(text + open_len + 2, text + open_len + 1, n - open_len - 1);
    memcpy(text + open_len, "[]", 2); /* one level more, in the innermost object */
    assert_string_equal(assert_parses_like_reference(text, n + 1), REASON_DEEP);
}

/* A deterministic generator (xorshift64*), so a failure is reproducible. */
struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 0x2545F4914F6CDD1Du;
}

static size_t rng_below(struct rng *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

/* JSON text under construction; appends past cap are dropped (the text is then cut). */
struct text {
    char buf[6000];
    size_t len;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (n > sizeof(t->buf) - t->len) {
        n = sizeof(t->buf) - t->len;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

static void put_str(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

static void pick(struct rng *r, struct text *t, const char *const *choices, size_t n)
{
    put_str(t, choices[rng_below(r, n)]);
}

#define PICK(r, t, choices) pick(r, t, choices, sizeof(choices) / sizeof(choices[0]))

static void gen_space(struct rng *r, struct text *t)
{
    static const char *const spaces[] = {" ", "\t", "\n", "\r", "  ", "\r\n", "\x0b", "\x0c",
                                         "\x01", "\x1f"};
    size_t roll = rng_below(r, 16);
    if (roll < 10) {
        return;
    }
    if (roll == 15 && rng_below(r, 4) == 0) {
        put(t, "\0", 1);
        return;
    }
    PICK(r, t, spaces);
}

static void gen_string(struct rng *r, struct text *t)
{
    static const char *const good[] = {
        "a", "Z", "0", " ", "~", "\x7f", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r",
        "\\t", "\\u0041", "\\u00e9", "\\u00E9", "\\u4e2d", "\\uffff", "\\u0001", "\\u07ff",
        "\\u0800", "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\xc3\xa9", "\xe4\xb8\xad",
        "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xc2\x80", "plain text ",
        "orderId", "[{}]:,",
    };
    static const char *const bad[] = {
        "\\u0000", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\x", "\\u12G4", "\\u12", "\xff",
        "\xc0\xaf", "\xed\xa0\x80", "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\x80", "\xc3",
        "\x01", "\n", "\\", "\"",
    };
    put_str(t, "\"");
    size_t pieces = rng_below(r, 8);
    for (size_t i = 0; i < pieces; i++) {
        if (rng_below(r, 40) == 0) {
            PICK(r, t, bad);
        } else {
            PICK(r, t, good);
        }
    }
    put_str(t, "\"");
}

static void gen_number(struct rng *r, struct text *t)
{
    static const char *const odd[] = {
        "-0", "01", "1.", "-.5", "1.e3", "1e", "1e+", "-", "--1", "1.5.3", "0x10", "1e400",
        "-1e400", "1e-400", "+1", ".5", "9007199254740993", "18446744073709551616",
        "4.9e-324", "2147483648", "-2147483649", "1e22", "1e23", "123456789012345678901234",
    };
    if (rng_below(r, 6) == 0) {
        PICK(r, t, odd);
        return;
    }
    char digits[80];
    size_t n = 0;
    if (rng_below(r, 3) == 0) {
        digits[n++] = '-';
    }
    size_t int_digits = 1 + rng_below(r, rng_below(r, 4) == 0 ? 25 : 8);
    for (size_t i = 0; i < int_digits; i++) {
        digits[n++] = (char)('0' + rng_below(r, 10));
    }
    if (rng_below(r, 3) == 0) {
        digits[n++] = '.';
        size_t frac_digits = rng_below(r, rng_below(r, 4) == 0 ? 30 : 6);
        for (size_t i = 0; i < frac_digits; i++) {
            digits[n++] = (char)('0' + rng_below(r, 10));
        }
    }
    if (rng_below(r, 4) == 0) {
        digits[n++] = rng_below(r, 2) ? 'e' : 'E';
        size_t sign = rng_below(r, 3);
        if (sign) {
            digits[n++] = sign == 1 ? '+' : '-';
        }
        size_t exp_digits = rng_below(r, 4);
        for (size_t i = 0; i < exp_digits; i++) {
            digits[n++] = (char)('0' + rng_below(r, 10));
        }
    }
    put(t, digits, n);
}

static void gen_value(struct rng *r, struct text *t, int depth)
{
    static const char *const literals[] = {"null", "true", "false", "nul", "tru", "nulls"};
    size_t kind = rng_below(r, depth >= 5 ? 4 : 7);
    gen_space(r, t);
    switch (kind) {
    case 0:
        gen_string(r, t);
        break;
    case 1:
    case 2:
        gen_number(r, t);
        break;
    case 3:
        if (rng_below(r, 30) == 0) {
            put_str(t, literals[3 + rng_below(r, 3)]);
        } else {
            put_str(t, literals[rng_below(r, 3)]);
        }
        break;
    case 4:
    case 5: {
        put_str(t, "{");
        size_t members = rng_below(r, 5);
        for (size_t i = 0; i < members; i++) {
            if (i) {
                put_str(t, ",");
            }
            gen_space(r, t);
            if (rng_below(r, 3) == 0) {
                static const char *const keys[] = {"\"id\"", "\"type\"", "\"data\"", "\"\"",
                                                   "\"k\\n\""};
                PICK(r, t, keys); /* duplicates now and then */
            } else {
                gen_string(r, t);
            }
            gen_space(r, t);
            put_str(t, ":");
            gen_value(r, t, depth + 1);
        }
        gen_space(r, t);
        put_str(t, "}");
        break;
    }
    default: {
        put_str(t, "[");
        size_t items = rng_below(r, 5);
        for (size_t i = 0; i < items; i++) {
            if (i) {
                put_str(t, ",");
            }
            gen_value(r, t, depth + 1);
        }
        gen_space(r, t);
        put_str(t, "]");
        break;
    }
    }
    gen_space(r, t);
}

/* One to three random edits: a byte changed, dropped, inserted or doubled, or the text cut. */
static void mutate(struct rng *r, struct text *t)
{
    static const char interesting[] = {',', ':', '"', '\\', '[', ']', '{', '}', '0', '9', '-',
                                       '+', 'e', '.', ' ', '\0', '\x01', 'u', 'n', (char)0x80,
                                       (char)0xc3, (char)0xed, (char)0xff};
    size_t edits = 1 + rng_below(r, 3);
    for (size_t e = 0; e < edits && t->len > 0; e++) {
        size_t at = rng_below(r, t->len);
        char byte = rng_below(r, 4) ? interesting[rng_below(r, sizeof(interesting))]
                                    : (char)rng_below(r, 256);
        switch (rng_below(r, 5)) {
        case 0:
            t->buf[at] = byte;
            break;
        case 1:
            memmove(t->buf + at, t->buf + at + 1, t->len - at - 1);
            t->len--;
            break;
        case 2:
            if (t->len < sizeof(t->buf)) {
                memmove(t->buf + at + 1, t->buf + at, t->len - at);
                t->buf[at] = byte;
                t->len++;
            }
            break;
        case 3: {
            size_t n = 1 + rng_below(r, 8);
            if (n > t->len - at) {
                n = t->len - at;
            }
            if (t->len + n <= sizeof(t->buf)) {
                memmove(t->buf + at + n, t->buf + at, t->len - at);
                t->len += n;
            }
            break;
        }
        default:
            t->len = at;
            break;
        }
    }
}

static void random_documents_and_mutations_parse_like_cjson(void **state)
{
    (void)state;
    struct rng r = {.state = 0x9e3779b97f4a7c15u};
    static struct text doc;
    static struct text changed;
    size_t accepted = 0;
    size_t refused = 0;
    for (int i = 0; i < 4000; i++) {
        doc.len = 0;
        gen_value(&r, &doc, 0);
        if (assert_parses_like_reference(doc.buf, doc.len)) {
            refused++;
        } else {
            accepted++;
        }
        for (int m = 0; m < 4; m++) {
            changed = doc;
            mutate(&r, &changed);
            if (assert_parses_like_reference(changed.buf, changed.len)) {
                refused++;
            } else {
                accepted++;
            }
        }
    }
    /* Both sides of the line get exercised. */
    assert_true(accepted > 2000);
    assert_true(refused > 2000);
}

/* Numbers near the edges of the fast path: 2^53, 19 digits, 10^22, subnormals. */
static void numbers_are_the_doubles_strtod_gives(void **state)
{
    (void)state;
    struct rng r = {.state = 12345};
    char text[128];
    for (int i = 0; i < 20000; i++) {
        uint64_t mantissa = rng_next(&r) >> rng_below(&r, 64);
        int exponent = (int)rng_below(&r, 700) - 350;
        int frac = (int)rng_below(&r, 25);
        int n;
        switch (i % 4) {
        case 0:
            n = snprintf(text, sizeof(text), "%" PRIu64, mantissa);
            break;
        case 1:
            n = snprintf(text, sizeof(text), "-%" PRIu64 "e%d", mantissa, exponent % 30);
            break;
        case 2:
            n = snprintf(text, sizeof(text), "%" PRIu64 ".%0*d", mantissa, frac, 7);
            break;
        default:
            n = snprintf(text, sizeof(text), "%.17g", ldexp((double)mantissa, exponent));
            break;
        }
        assert_true(n > 0 && (size_t)n < sizeof(text));
        assert_parses_like_reference(text, (size_t)n);
        cJSON *item = hb_json_parse_document(text, (size_t)n, NULL);
        char *end = NULL;
        double want = strtod(text, &end);
        if (item && end == text + n) {
            assert_memory_equal(&item->valuedouble, &want, sizeof(want));
        }
        cJSON_Delete(item);
    }
}

/* A tree from the parser lives the life of any cJSON tree. */
static void trees_work_with_the_cjson_api(void **state)
{
    (void)state;
    const char *text = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":\"e\",\"f\":true,\"g\":-3.5}";
    cJSON *root = hb_json_parse_document(text, strlen(text), NULL);
    assert_non_null(root);
    cJSON *copy = cJSON_Duplicate(root, true);
    assert_true(cJSON_Compare(root, copy, true));
    cJSON_Delete(cJSON_DetachItemFromObject(copy, "a"));
    assert_true(cJSON_ReplaceItemInObject(copy, "d", cJSON_CreateNumber(7)));
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "a"), cJSON_CreateString("x"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "a")), 4);
    assert_int_equal(cJSON_GetObjectItem(root, "f")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(root, "g")->valueint, -3);
    char *printed = hb_json_print(copy);
    assert_string_equal(printed, "{\"d\":7,\"f\":true,\"g\":-3.5}");
    free(printed);
    cJSON_Delete(copy);
    /* A member, its name and string in one block with it, moves to another tree under a
     * name of its own and outlives the tree it came from. */
    cJSON *moved = cJSON_CreateObject();
    assert_non_null(moved);
    cJSON *d = cJSON_DetachItemFromObject(root, "d");
    assert_true(cJSON_AddItemToObject(moved, "renamed", d));
    assert_true(cJSON_ReplaceItemInObject(root, "f", cJSON_DetachItemFromArray(
                                                         cJSON_GetObjectItem(root, "a"), 0)));
    assert_null(cJSON_SetValuestring(d, "changed")); /* its value lives in the node */
    cJSON_Delete(root);
    printed = hb_json_print(moved);
    assert_string_equal(printed, "{\"renamed\":\"e\"}");
    free(printed);
    cJSON_Delete(moved);
}

/* Allocations fail one at a time (through cJSON's hooks, which the parser allocates with):
 * each parse fails cleanly, with nothing leaked (ASan and valgrind run this). */
static size_t allocations_left;

static void *failing_malloc(size_t size)
{
    if (allocations_left == 0) {
        return NULL;
    }
    allocations_left--;
    return malloc(size);
}

static void allocation_failures_are_clean(void **state)
{
    (void)state;
    const char *text = "{\"a\":[1,\"two\",{\"b\\n\":null}],\"c\":\"\\u00e9\",\"d\":{}}";
    cJSON_Hooks hooks = {.malloc_fn = failing_malloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
    for (size_t n = 0; n < 40; n++) {
        allocations_left = n;
        const char *reason = NULL;
        cJSON *root = hb_json_parse_document(text, strlen(text), &reason);
        assert_int_equal(root != NULL, n >= 8); /* 8 nodes, each with its name and string */
        if (root) {
            assert_null(reason);
            cJSON_Delete(root);
        } else {
            assert_string_equal(reason, JSON_REF_SYNTAX);
        }
    }
    cJSON_InitHooks(NULL);
}

static void *parse_many(void *arg)
{
    const char *text = arg;
    for (int i = 0; i < 2000; i++) {
        cJSON *root = hb_json_parse_document(text, strlen(text), NULL);
        if (!root || cJSON_GetArraySize(cJSON_GetObjectItem(root, "items")) != 3) {
            return "wrong tree";
        }
        cJSON_Delete(root);
        const char *reason = NULL;
        if (hb_json_parse_document("{\"a\":1.5e400,", 13, &reason) ||
            strcmp(reason, JSON_REF_SYNTAX) != 0) {
            return "wrong reason";
        }
    }
    return NULL;
}

/* No lock, no shared state: parses in several threads at once (helgrind-clean too). */
static void threads_parse_at_once(void **state)
{
    (void)state;
    static const char text[] = "{\"items\":[1.25e-3,\"\\u00e9\",{\"k\":1e300}],\"n\":-7}";
    pthread_t threads[4];
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, parse_many, (void *)text), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        void *result = NULL;
        assert_int_equal(pthread_join(threads[i], &result), 0);
        assert_null(result);
    }
}

static void null_text_is_refused(void **state)
{
    (void)state;
    const char *reason = NULL;
    const char *end = "untouched";
    assert_null(hb_json_parse(NULL, 0, &end));
    assert_string_equal(end, "untouched");
    assert_null(hb_json_parse_document(NULL, 5, &reason));
    assert_string_equal(reason, JSON_REF_SYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_document_of_the_table_parses_like_cjson),
        cmocka_unit_test(nesting_is_bounded_as_it_parses),
        cmocka_unit_test(random_documents_and_mutations_parse_like_cjson),
        cmocka_unit_test(numbers_are_the_doubles_strtod_gives),
        cmocka_unit_test(trees_work_with_the_cjson_api),
        cmocka_unit_test(allocation_failures_are_clean),
        cmocka_unit_test(threads_parse_at_once),
        cmocka_unit_test(null_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
