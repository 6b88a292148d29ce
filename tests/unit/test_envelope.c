/* Unit tests of CloudEvents envelopes, ids, times and JSON field readers (lib/src/envelope.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hausbus/envelope.h"

#ifndef HB_TEST_FILES
#error "HB_TEST_FILES must name the fixture directory"
#endif

/* Reads tests/files/events/<name> into a malloc'd buffer of exactly *len bytes, with no
 * terminating NUL, so a decoder that reads past len is caught by valgrind/ASan. */
static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    int n = snprintf(path, sizeof(path), "%s/events/%s", HB_TEST_FILES, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open fixture %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    char *buf = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* True when every byte of ev is zero, i.e. the event is cleared. */
static int event_is_cleared(const struct hb_event *ev)
{
    static const struct hb_event zero;
    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

/* True when s is a lowercase RFC 9562 version 7 UUID (8-4-4-4-12 hex, version 7,
 * variant 10xx). */
static int is_uuid_v7(const char *s)
{
    if (strlen(s) != 36) {
        return 0;
    }
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[14] == '7' && strchr("89ab", s[19]) != NULL;
}

/* True when s is "YYYY-MM-DDTHH:MM:SS.mmmZ", RFC 3339 UTC with milliseconds. */
static int is_rfc3339_ms_utc(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(s) != strlen(pattern)) {
        return 0;
    }
    for (size_t i = 0; pattern[i]; i++) {
        if (pattern[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pattern[i]) {
            return 0;
        }
    }
    return 1;
}

/* Seconds since the epoch of an RFC 3339 UTC time written by hb_time_now. */
static time_t parse_utc(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

static void good_event_decodes_with_all_fields_and_owned_data(void **state)
{
    (void)state;
    size_t len = 0;
    char *payload = read_fixture("good_order_placed.json", &len);
    struct hb_event ev;
    const char *reason = "untouched";
    assert_int_equal(hb_envelope_decode(payload, len, &ev, &reason), HB_OK);
    free(payload); /* the event must not point into the payload */

    assert_string_equal(ev.id, "7f3c2a1e-9b4d-4e8a-a1c2-3d4e5f607182");
    assert_string_equal(ev.source, "/hausbus/order");
    assert_string_equal(ev.type, "OrderPlaced");
    assert_string_equal(ev.time, "2024-05-01T12:34:56.789Z");
    assert_string_equal(ev.subject, "42");
    assert_true(cJSON_IsObject(ev.data));

    int64_t order_id = 0;
    int64_t qty = 0;
    const char *name = NULL;
    assert_int_equal(hb_json_int(ev.data, "orderId", 1, HB_ID_MAX, &order_id), HB_OK);
    assert_int_equal(order_id, 42);
    assert_int_equal(hb_json_int(ev.data, "qty", 1, 1000000, &qty), HB_OK);
    assert_int_equal(qty, 2);
    assert_int_equal(hb_json_str(ev.data, "productName", 100, &name), HB_OK);
    assert_string_equal(name, "Oak table");

    hb_event_clear(&ev); /* frees the data it owns; valgrind checks nothing leaks */
    assert_true(event_is_cleared(&ev));
}

static void optional_time_and_subject_may_be_absent(void **state)
{
    (void)state;
    static const char payload[] = "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/x\","
                                  "\"type\":\"T\",\"data\":{}}";
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(payload, strlen(payload), &ev, NULL), HB_OK);
    assert_string_equal(ev.id, "e1");
    assert_string_equal(ev.time, "");
    assert_string_equal(ev.subject, "");
    assert_true(cJSON_IsObject(ev.data));
    hb_event_clear(&ev);
}

static void every_malformed_fixture_is_a_decode_error_with_a_reason(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "not_json.txt",
        "empty.json",
        "truncated.json",
        "not_an_object.json",
        "missing_specversion.json",
        "wrong_specversion.json",
        "specversion_not_string.json",
        "missing_id.json",
        "empty_id.json",
        "id_not_string.json",
        "oversized_id.json",
        "missing_source.json",
        "missing_type.json",
        "time_not_string.json",
        "oversized_subject.json",
        "missing_data.json",
        "data_not_object.json",
        "data_null.json",
    };
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        size_t len = 0;
        char *payload = read_fixture(fixtures[i], &len);
        struct hb_event ev;
        memset(&ev, 0xab, sizeof(ev)); /* garbage the decoder must clear */
        const char *reason = NULL;
        hb_err_t rc = hb_envelope_decode(payload, len, &ev, &reason);
        free(payload);
        if (rc != HB_ERR_DECODE) {
            fail_msg("%s: expected HB_ERR_DECODE, got %s", fixtures[i], hb_strerror(rc));
        }
        if (!reason || reason[0] == '\0') {
            fail_msg("%s: no reason given", fixtures[i]);
        }
        if (!event_is_cleared(&ev)) {
            fail_msg("%s: event not cleared after failure", fixtures[i]);
        }
    }
}

static void malformed_event_without_reason_pointer_is_still_refused(void **state)
{
    (void)state;
    size_t len = 0;
    char *payload = read_fixture("missing_id.json", &len);
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(payload, len, &ev, NULL), HB_ERR_DECODE);
    assert_true(event_is_cleared(&ev));
    free(payload);
}

static void id_and_subject_at_their_bounds_are_accepted(void **state)
{
    (void)state;
    size_t len = 0;
    char *payload = read_fixture("bounds_id_63_subject_31.json", &len);
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(payload, len, &ev, NULL), HB_OK);
    free(payload);
    assert_int_equal(strlen(ev.id), HB_EVENT_ID_MAX - 1);
    assert_int_equal(strlen(ev.subject), HB_EVENT_SUBJECT_MAX - 1);
    hb_event_clear(&ev);
}

/* A payload is one JSON document; bytes after it (a second event, garbage) make the
 * whole message malformed rather than being silently ignored. */
static void bytes_after_the_event_are_a_decode_error(void **state)
{
    (void)state;
    static const char *const fixtures[] = {"trailing_garbage.txt", "two_events.txt"};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
        size_t len = 0;
        char *payload = read_fixture(fixtures[i], &len);
        struct hb_event ev;
        const char *reason = NULL;
        hb_err_t rc = hb_envelope_decode(payload, len, &ev, &reason);
        free(payload);
        if (rc != HB_ERR_DECODE) {
            hb_event_clear(&ev);
            fail_msg("%s: expected HB_ERR_DECODE, got %s", fixtures[i], hb_strerror(rc));
        }
        assert_non_null(reason);
        assert_true(event_is_cleared(&ev));
    }
}

/* Builds a valid CloudEvent of exactly total bytes by padding a data string. */
static char *make_event_of_size(size_t total)
{
    static const char head[] = "{\"specversion\":\"1.0\",\"id\":\"big\",\"source\":\"/x\","
                               "\"type\":\"T\",\"data\":{\"pad\":\"";
    static const char tail[] = "\"}}";
    size_t fixed = strlen(head) + strlen(tail);
    assert_true(total > fixed);
    char *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, head, strlen(head));
    memset(buf + strlen(head), 'x', total - fixed);
    memcpy(buf + total - strlen(tail), tail, strlen(tail));
    return buf;
}

static void payload_over_64_kib_is_too_large(void **state)
{
    (void)state;
    char *payload = make_event_of_size(HB_PAYLOAD_MAX + 1);
    struct hb_event ev;
    memset(&ev, 0xab, sizeof(ev));
    const char *reason = NULL;
    assert_int_equal(hb_envelope_decode(payload, HB_PAYLOAD_MAX + 1, &ev, &reason),
                     HB_ERR_TOO_LARGE);
    assert_non_null(reason);
    assert_true(event_is_cleared(&ev));
    free(payload);
}

static void payload_of_exactly_64_kib_is_accepted(void **state)
{
    (void)state;
    char *payload = make_event_of_size(HB_PAYLOAD_MAX);
    struct hb_event ev;
    assert_int_equal(hb_envelope_decode(payload, HB_PAYLOAD_MAX, &ev, NULL), HB_OK);
    const char *pad = NULL;
    assert_int_equal(hb_json_str(ev.data, "pad", HB_PAYLOAD_MAX, &pad), HB_OK);
    assert_true(strlen(pad) > 65000);
    hb_event_clear(&ev);
    free(payload);
}

static void encode_then_decode_keeps_every_field(void **state)
{
    (void)state;
    cJSON *data = cJSON_Parse("{\"orderId\":42,\"name\":\"Sofa \\\"Linn\\\"\\n\","
                              "\"items\":[1,2,3],\"nested\":{\"ok\":true}}");
    assert_non_null(data);
    struct hb_event out;
    assert_int_equal(hb_event_init(&out, "order", "OrderPlaced", 42, data), HB_OK);

    char *json = hb_envelope_encode(&out);
    assert_non_null(json);
    struct hb_event in;
    assert_int_equal(hb_envelope_decode(json, strlen(json), &in, NULL), HB_OK);

    assert_string_equal(in.id, out.id);
    assert_string_equal(in.source, out.source);
    assert_string_equal(in.type, out.type);
    assert_string_equal(in.time, out.time);
    assert_string_equal(in.subject, out.subject);
    assert_true(cJSON_Compare(in.data, out.data, true));

    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "specversion")->valuestring,
                        "1.0");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "datacontenttype")->valuestring,
                        "application/json");
    cJSON_Delete(root);
    free(json);
    hb_event_clear(&in);
    hb_event_clear(&out);
}

/* The event's data is printed in place, not copied: encoding leaves it whole and owned by
 * the event, so encoding twice gives the same text (valgrind and ASan see the frees). */
static void encode_leaves_the_data_to_the_event(void **state)
{
    (void)state;
    cJSON *data = cJSON_Parse("{\"orderId\":7,\"items\":[{\"sku\":\"a\"},{\"sku\":\"b\"}]}");
    assert_non_null(data);
    struct hb_event ev;
    assert_int_equal(hb_event_init(&ev, "order", "OrderPlaced", 7, data), HB_OK);
    char *first = hb_envelope_encode(&ev);
    char *second = hb_envelope_encode(&ev);
    assert_non_null(first);
    assert_non_null(second);
    assert_string_equal(first, second);
    assert_ptr_equal(ev.data, data);
    assert_null(data->string); /* not renamed "data" or linked into the envelope */
    assert_null(data->next);
    assert_int_equal(hb_json_int(ev.data, "orderId", 1, 10, &(int64_t){0}), HB_OK);
    assert_non_null(strstr(first, "\"data\":{\"orderId\":7,\"items\":[{\"sku\":\"a\"},{\"sku\":\"b\"}]}"));
    free(first);
    free(second);
    hb_event_clear(&ev);
}

/* The envelope as it was built before hb_envelope_encode wrote it directly: a cJSON object
 * of the same members, printed by cJSON. */
static char *encode_with_cjson(const struct hb_event *ev)
{
    cJSON *root = cJSON_CreateObject();
    assert_non_null(root);
    cJSON_AddStringToObject(root, "specversion", "1.0");
    cJSON_AddStringToObject(root, "id", ev->id);
    cJSON_AddStringToObject(root, "source", ev->source);
    cJSON_AddStringToObject(root, "type", ev->type);
    cJSON_AddStringToObject(root, "time", ev->time);
    if (ev->subject[0]) {
        cJSON_AddStringToObject(root, "subject", ev->subject);
    }
    cJSON_AddStringToObject(root, "datacontenttype", "application/json");
    if (ev->data) {
        cJSON_AddItemReferenceToObject(root, "data", ev->data);
    } else {
        cJSON_AddObjectToObject(root, "data");
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* Byte for byte what cJSON printed: with and without subject, without data, with data of
 * every kind, and with fields that need escapes. */
static void encode_prints_what_cjson_printed(void **state)
{
    (void)state;
    static const char *const datas[] = {
        NULL, "{}", "[]", "{\"orderId\":7,\"items\":[{\"sku\":\"a\",\"qty\":2.5}],\"ok\":true}",
        "{\"text\":\"line\\nbreak \\\"q\\\" \\u0001 caf\\u00e9\",\"n\":-0.1,\"big\":1e300}",
        "[1,null,false,\"x\"]", "42", "\"just a string\"",
    };
    for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
        for (int order = 0; order < 2; order++) {
            struct hb_event ev;
            cJSON *data = datas[i] ? cJSON_Parse(datas[i]) : NULL;
            assert_true(!datas[i] || data);
            assert_int_equal(hb_event_init(&ev, "order", "OrderPlaced", order, data), HB_OK);
            if (!datas[i]) {
                cJSON_Delete(ev.data); /* hb_event_init made {}; encode then prints {} */
                ev.data = NULL;
            }
            if (i % 2) {
                snprintf(ev.type, sizeof(ev.type), "%s", "odd\"type\\\t\x01\x7f\xc3\xa9");
            }
            char *want = encode_with_cjson(&ev);
            char *got = hb_envelope_encode(&ev);
            assert_non_null(want);
            assert_non_null(got);
            assert_string_equal(got, want);
            cJSON_free(want);
            free(got);
            hb_event_clear(&ev);
        }
    }
}

static void event_init_sets_uuid_time_subject_and_source(void **state)
{
    (void)state;
    struct hb_event ev;
    time_t before = time(NULL);
    assert_int_equal(hb_event_init(&ev, "payment", "PaymentAuthorized", 9007199254740992LL,
                                   cJSON_CreateObject()),
                     HB_OK);
    time_t after = time(NULL);

    if (!is_uuid_v7(ev.id)) {
        fail_msg("not a v7 UUID: \"%s\"", ev.id);
    }
    if (!is_rfc3339_ms_utc(ev.time)) {
        fail_msg("not RFC 3339 with ms and Z: \"%s\"", ev.time);
    }
    time_t stamped = parse_utc(ev.time);
    assert_true(stamped >= before - 1 && stamped <= after + 1);
    assert_string_equal(ev.subject, "9007199254740992");
    assert_string_equal(ev.source, "/hausbus/payment");
    assert_string_equal(ev.type, "PaymentAuthorized");
    assert_true(cJSON_IsObject(ev.data));
    hb_event_clear(&ev);
}

static void event_init_without_order_has_empty_subject_and_empty_data(void **state)
{
    (void)state;
    struct hb_event ev;
    assert_int_equal(hb_event_init(&ev, "product", "StockChanged", 0, NULL), HB_OK);
    assert_string_equal(ev.subject, "");
    assert_true(cJSON_IsObject(ev.data));
    assert_null(ev.data->child);
    hb_event_clear(&ev);

    assert_int_equal(hb_event_init(&ev, "product", "StockChanged", -5, NULL), HB_OK);
    assert_string_equal(ev.subject, "");
    hb_event_clear(&ev);
}

/* CloudEvents 1.0: a present subject must be non-empty, so an event without an order has
 * none at all; it decodes back to "". */
static void event_without_order_is_encoded_without_subject(void **state)
{
    (void)state;
    struct hb_event out, in;
    assert_int_equal(hb_event_init(&out, "product", "StockChanged", 0, NULL), HB_OK);
    char *json = hb_envelope_encode(&out);
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "subject"));
    assert_int_equal(hb_envelope_decode(json, strlen(json), &in, NULL), HB_OK);
    assert_string_equal(in.subject, "");
    cJSON_Delete(root);
    free(json);
    hb_event_clear(&in);
    hb_event_clear(&out);
}

static void event_init_refuses_names_that_do_not_fit_and_frees_data(void **state)
{
    (void)state;
    char long_name[HB_EVENT_TYPE_MAX + 8];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct hb_event ev;

    /* data is freed on failure: valgrind reports a leak otherwise */
    assert_int_equal(hb_event_init(&ev, long_name, "T", 1, cJSON_CreateObject()), HB_ERR_INVAL);
    assert_int_equal(hb_event_init(&ev, "order", long_name, 1, cJSON_CreateObject()),
                     HB_ERR_INVAL);
    /* "/hausbus/" (9) + 54 = 63 bytes fits source exactly; 55 does not. */
    char fits[55];
    memset(fits, 'c', sizeof(fits) - 1);
    fits[sizeof(fits) - 1] = '\0';
    assert_int_equal(hb_event_init(&ev, fits, "T", 1, NULL), HB_OK);
    assert_int_equal(strlen(ev.source), HB_EVENT_SOURCE_MAX - 1);
    hb_event_clear(&ev);
    char too_long[56];
    memset(too_long, 'c', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_int_equal(hb_event_init(&ev, too_long, "T", 1, NULL), HB_ERR_INVAL);
}

static void event_clear_accepts_a_cleared_event(void **state)
{
    (void)state;
    struct hb_event ev;
    memset(&ev, 0, sizeof(ev));
    hb_event_clear(&ev);
    hb_event_clear(&ev);
    assert_true(event_is_cleared(&ev));
}

static void time_now_is_rfc3339_with_milliseconds(void **state)
{
    (void)state;
    char now[HB_EVENT_TIME_MAX];
    hb_time_now(now, sizeof(now));
    if (!is_rfc3339_ms_utc(now)) {
        fail_msg("not RFC 3339 with ms and Z: \"%s\"", now);
    }
    /* the fields are the clock's: read back, it is now (to the second) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = 0;
    assert_int_equal(hb_time_parse_ms(now, &ms), HB_OK);
    int64_t wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_true(ms <= wall_ms && wall_ms - ms < 2000);
    char small[8];
    hb_time_now(small, sizeof(small)); /* truncates, never overflows */
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* n copies of open, then n of close: JSON nested n levels deep. Caller frees. */
static char *nested(size_t n, char open, char close)
{
    char *text = malloc(2 * n + 1);
    assert_non_null(text);
    memset(text, open, n);
    memset(text + n, close, n);
    text[2 * n] = '\0';
    return text;
}

static void nesting_is_bounded_to_64_levels(void **state)
{
    (void)state;
    char *at_limit = nested(HB_JSON_DEPTH_MAX, '[', ']');
    assert_null(hb_json_text_check(at_limit, strlen(at_limit)));
    cJSON *root = hb_json_parse(at_limit, strlen(at_limit), NULL);
    assert_non_null(root); /* and deleting it recurses 64 levels */
    cJSON_Delete(root);
    free(at_limit);
    /* 900 crashed the gateway's 100 KiB worker stack; cJSON alone allows 1000. */
    static const size_t too_deep[] = {HB_JSON_DEPTH_MAX + 1, 900, 5000, 100000};
    for (size_t i = 0; i < sizeof(too_deep) / sizeof(too_deep[0]); i++) {
        char *text = nested(too_deep[i], i % 2 ? '{' : '[', i % 2 ? '}' : ']');
        const char *reason = NULL;
        assert_null(hb_json_parse_document(text, strlen(text), &reason));
        assert_string_equal(reason, "JSON nested deeper than 64 levels");
        assert_null(hb_json_parse(text, strlen(text), NULL));
        free(text);
    }
    /* Only nesting counts: brackets in strings and siblings at one level do not. */
    char quoted[300];
    int len = snprintf(quoted, sizeof(quoted), "[\"\\\"%.200s\"]",
                       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    assert_null(hb_json_text_check(quoted, (size_t)len));
    char wide[4 * 200 + 3];
    size_t n = 0;
    wide[n++] = '[';
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(wide + n, sizeof(wide) - n, "%s[]", i ? "," : "");
    }
    wide[n++] = ']';
    wide[n] = '\0';
    cJSON *flat = hb_json_parse_document(wide, n, NULL);
    assert_non_null(flat);
    assert_int_equal(cJSON_GetArraySize(flat), 200);
    cJSON_Delete(flat);
}

/* Checks that text is refused by the check, the parses and the event decoder with a
 * reason that says reason_part. */
static void expect_text_refused(const char *text, size_t len, const char *reason_part)
{
    const char *reason = hb_json_text_check(text, len);
    if (!reason || !strstr(reason, reason_part)) {
        fail_msg("\"%.*s\": reason %s, expected one with \"%s\"", (int)len, text,
                 reason ? reason : "NULL", reason_part);
    }
    assert_null(hb_json_parse(text, len, NULL));
    assert_null(hb_json_parse_document(text, len, &reason));
    assert_non_null(strstr(reason, reason_part));
}

static void strings_must_decode_to_utf8_without_nul(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *reason;
    } bad[] = {
        {"{\"productName\":\"TV\xff\"}", "not valid UTF-8"},
        {"{\"productName\":\"\xc3\"}", "not valid UTF-8"},         /* cut sequence */
        {"{\"productName\":\"\xc3\x28\"}", "not valid UTF-8"},     /* bad continuation */
        {"{\"productName\":\"\xc0\xaf\"}", "not valid UTF-8"},     /* overlong "/" */
        {"{\"productName\":\"\xe0\x80\xaf\"}", "not valid UTF-8"}, /* overlong, 3 bytes */
        {"{\"productName\":\"\xf0\x80\x80\xaf\"}", "not valid UTF-8"},
        {"{\"productName\":\"\xed\xa0\x80\"}", "not valid UTF-8"}, /* encoded U+D800 */
        {"{\"productName\":\"\xf4\x90\x80\x80\"}", "not valid UTF-8"}, /* over U+10FFFF */
        {"{\"productName\":\"\x80\"}", "not valid UTF-8"},
        {"{\"na\xffme\":1}", "not valid UTF-8"}, /* member names are strings too */
        {"{\"productName\":\"a\\ud800\"}", "lone UTF-16 surrogate"},
        {"{\"productName\":\"a\\udc00b\"}", "lone UTF-16 surrogate"},
        {"{\"productName\":\"a\\ud800\\u0041\"}", "lone UTF-16 surrogate"},
        {"{\"productName\":\"a\\uD800\\n\"}", "lone UTF-16 surrogate"},
        {"{\"productName\":\"TV\\u0000x\"}", "NUL"},
        {"{\"productName\":\"T\nV\"}", "control character"},
        {"{\"productName\":\"T\\x\"}", "not valid JSON"},
        {"{\"productName\":\"T\\u12\"}", "not valid JSON"},
        {"{\"productName\":\"TV", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_text_refused(bad[i].text, strlen(bad[i].text), bad[i].reason);
    }
    const char raw_nul[] = "{\"productName\":\"T\0V\"}";
    expect_text_refused(raw_nul, sizeof(raw_nul) - 1, "control character");
}

static void valid_utf8_and_escapes_are_accepted(void **state)
{
    (void)state;
    const char *text = "{\"productName\":\"Sof\xc3\xa4 \xe6\xa4\x85\xe5\xad\x90 \xf0\x9f\x9b\x8b "
                       "\\u00e4\\ud83d\\udecb\\\"\\\\\\/\\b\\f\\n\\r\\t\xef\xbf\xbf\"}";
    assert_null(hb_json_text_check(text, strlen(text)));
    cJSON *root = hb_json_parse_document(text, strlen(text), NULL);
    assert_non_null(root);
    const char *name = NULL;
    assert_int_equal(hb_json_str(root, "productName", 100, &name), HB_OK);
    assert_non_null(strstr(name, "\xc3\xa4\xf0\x9f\x9b\x8b\"\\/\b\f\n\r\t"));
    cJSON_Delete(root);
}

static void deep_or_invalid_events_are_decode_errors_with_a_reason(void **state)
{
    (void)state;
    char payload[1024];
    char *deep = nested(100, '[', ']');
    snprintf(payload, sizeof(payload),
             "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/t\",\"type\":\"T\","
             "\"data\":{\"x\":%s}}",
             deep);
    free(deep);
    struct hb_event ev;
    const char *reason = NULL;
    assert_int_equal(hb_envelope_decode(payload, strlen(payload), &ev, &reason), HB_ERR_DECODE);
    assert_string_equal(reason, "JSON nested deeper than 64 levels");
    const char bad_name[] = "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"/t\",\"type\":\"T\","
                            "\"data\":{\"productName\":\"\xff\"}}";
    assert_int_equal(hb_envelope_decode(bad_name, strlen(bad_name), &ev, &reason), HB_ERR_DECODE);
    assert_string_equal(reason, "a JSON string is not valid UTF-8");
}

static cJSON *parse(const char *json)
{
    cJSON *obj = cJSON_Parse(json);
    assert_non_null(obj);
    return obj;
}

static void json_int_rejects_strings_fractions_and_non_numbers(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"str\":\"5\",\"frac\":1.5,\"tiny\":0.0001,\"bool\":true,\"nul\":null,"
                       "\"arr\":[5],\"obj\":{\"v\":5}}");
    static const char *const names[] = {"str", "frac", "tiny", "bool", "nul", "arr", "obj",
                                        "missing"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int64_t out = 77;
        if (hb_json_int(obj, names[i], INT64_MIN, INT64_MAX, &out) != HB_ERR_DECODE) {
            fail_msg("member \"%s\" was accepted as an integer", names[i]);
        }
    }
    cJSON_Delete(obj);
}

static void json_int_rejects_values_out_of_range(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"zero\":0,\"eleven\":11,\"neg\":-1}");
    int64_t out = 0;
    assert_int_equal(hb_json_int(obj, "zero", 1, 10, &out), HB_ERR_DECODE);
    assert_int_equal(hb_json_int(obj, "eleven", 1, 10, &out), HB_ERR_DECODE);
    assert_int_equal(hb_json_int(obj, "neg", 0, 10, &out), HB_ERR_DECODE);
    cJSON_Delete(obj);
}

static void json_int_rejects_magnitudes_over_2_pow_53(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"over\":9007199254740994,\"under\":-9007199254740994,"
                       "\"huge\":1e300,\"int64max\":9223372036854775807}");
    static const char *const names[] = {"over", "under", "huge", "int64max"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int64_t out = 0;
        if (hb_json_int(obj, names[i], INT64_MIN, INT64_MAX, &out) != HB_ERR_DECODE) {
            fail_msg("member \"%s\" beyond 2^53 was accepted", names[i]);
        }
    }
    cJSON_Delete(obj);
}

static void json_int_accepts_the_bounds(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"one\":1,\"ten\":10,\"max\":4503599627370495,"
                       "\"min\":-4503599627370495,\"exp\":1e3,\"whole\":7.0,"
                       "\"over\":4503599627370496}");
    int64_t out = 0;
    assert_int_equal(hb_json_int(obj, "one", 1, 10, &out), HB_OK);
    assert_int_equal(out, 1);
    assert_int_equal(hb_json_int(obj, "ten", 1, 10, &out), HB_OK);
    assert_int_equal(out, 10);
    assert_int_equal(hb_json_int(obj, "max", 1, HB_ID_MAX, &out), HB_OK);
    assert_int_equal(out, HB_ID_MAX);
    assert_int_equal(hb_json_int(obj, "min", -HB_ID_MAX, 0, &out), HB_OK);
    assert_int_equal(out, -HB_ID_MAX);
    assert_int_equal(hb_json_int(obj, "exp", 0, 1000, &out), HB_OK);
    assert_int_equal(out, 1000);
    assert_int_equal(hb_json_int(obj, "whole", 7, 7, &out), HB_OK);
    assert_int_equal(out, 7);
    assert_int_equal(hb_json_int(obj, "over", 1, HB_ID_MAX, &out), HB_ERR_DECODE);
    cJSON_Delete(obj);
}

static void json_str_rejects_empty_too_long_and_non_strings(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"empty\":\"\",\"six\":\"abcdef\",\"num\":5,\"nul\":null,"
                       "\"bool\":false,\"arr\":[\"a\"],\"obj\":{\"a\":\"b\"}}");
    static const char *const names[] = {"empty", "six", "num", "nul", "bool", "arr", "obj",
                                        "missing"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *out = NULL;
        if (hb_json_str(obj, names[i], 5, &out) != HB_ERR_DECODE) {
            fail_msg("member \"%s\" was accepted as a string of 1..5 bytes", names[i]);
        }
    }
    cJSON_Delete(obj);
}

static void json_str_accepts_one_to_max_len_bytes_pointing_into_the_object(void **state)
{
    (void)state;
    cJSON *obj = parse("{\"one\":\"a\",\"five\":\"abcde\"}");
    const char *out = NULL;
    assert_int_equal(hb_json_str(obj, "one", 5, &out), HB_OK);
    assert_string_equal(out, "a");
    assert_int_equal(hb_json_str(obj, "five", 5, &out), HB_OK);
    assert_string_equal(out, "abcde");
    assert_ptr_equal(out, cJSON_GetObjectItemCaseSensitive(obj, "five")->valuestring);
    cJSON_Delete(obj);
}

static int compare_uuids(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void uuids_are_distinct_v7_values(void **state)
{
    (void)state;
    enum { N = 2000 };
    char(*ids)[37] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        hb_uuid(ids[i]);
        if (!is_uuid_v7(ids[i])) {
            fail_msg("not a v7 UUID: \"%s\"", ids[i]);
        }
    }
    qsort(ids, N, sizeof(*ids), compare_uuids);
    for (int i = 1; i < N; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            fail_msg("duplicate UUID %s", ids[i]);
        }
    }
    free(ids);
}

/* Every one of the 74 random bits of a v7 UUID is seen both set and clear over many ids
 * (over 30 refills of the pool): only the time, version and variant bits are fixed. */
static void uuid_random_bits_each_take_both_values(void **state)
{
    (void)state;
    enum { N = 1000 }; /* a little over 31 refills of the 32-id pool */
    unsigned char seen_set[16] = {0};
    unsigned char seen_clear[16] = {0};
    for (int i = 0; i < N; i++) {
        char id[37];
        unsigned char b[16];
        hb_uuid(id);
        for (int k = 0, o = 0; k < 16; k++) {
            if (id[o] == '-') {
                o++;
            }
            unsigned int byte = 0;
            assert_int_equal(sscanf(id + o, "%2x", &byte), 1);
            b[k] = (unsigned char)byte;
            o += 2;
        }
        for (int k = 0; k < 16; k++) {
            seen_set[k] |= b[k];
            seen_clear[k] |= (unsigned char)~b[k];
        }
    }
    /* Fixed by RFC 9562: the time (bytes 0-5, checked in uuids_start_with_the_time), the
     * version nibble (0111) and the variant's two bits (10). */
    for (int k = 0; k < 6; k++) {
        seen_set[k] = seen_clear[k] = 0xff;
    }
    seen_set[6] |= 0x80;
    seen_clear[6] |= 0x70;
    seen_set[8] |= 0x40;
    seen_clear[8] |= 0x80;
    for (int k = 0; k < 16; k++) {
        assert_int_equal(seen_set[k], 0xff);
        assert_int_equal(seen_clear[k], 0xff);
    }
}

/* Event times read back as Unix ms: the replay marks compare owners' clocks with them. */
static void rfc3339_times_parse_to_ms(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(hb_time_parse_ms("2026-01-01T00:02:00.500Z", &ms), HB_OK);
    assert_int_equal(ms, 1767225720500LL);
    assert_int_equal(hb_time_parse_ms("1970-01-01T00:00:01Z", &ms), HB_OK);
    assert_int_equal(ms, 1000);
    char now[40];
    hb_time_now(now, sizeof(now));
    int64_t before = hb_wall_ms();
    assert_int_equal(hb_time_parse_ms(now, &ms), HB_OK);
    assert_true(ms <= before && ms > before - 1000);
    static const char *const bad[] = {"", "2026-01-01", "2026-01-01T00:00:00+01:00",
                                      "2026-13-01T00:00:00Z", "2026-01-01T00:00:00.Z",
                                      "2026-01-01T00:00:00Zjunk", "x026-01-01T00:00:00Z",
                                      "2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.1234Z",
                                      "1969-12-31T23:59:59Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(hb_time_parse_ms(bad[i], &ms), HB_ERR_DECODE);
    }
    assert_int_equal(hb_time_parse_ms(NULL, &ms), HB_ERR_DECODE);
}

/* The first 48 bits are the wall clock in ms, so an id made later never sorts earlier. */
static void uuids_start_with_the_time(void **state)
{
    (void)state;
    int64_t before = hb_wall_ms();
    char first[37], second[37];
    hb_uuid(first);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 2000000};
    nanosleep(&pause, NULL);
    hb_uuid(second);
    int64_t after = hb_wall_ms();
    char hex[13] = {0};
    memcpy(hex, first, 8);
    memcpy(hex + 8, first + 9, 4);
    long long ms = strtoll(hex, NULL, 16);
    assert_true(ms >= before && ms <= after);
    assert_true(strcmp(first, second) < 0);
}

enum { UUID_THREADS = 4, UUIDS_PER_THREAD = 1000 };

static void *make_uuids(void *arg)
{
    char(*ids)[37] = arg;
    for (int i = 0; i < UUIDS_PER_THREAD; i++) {
        hb_uuid(ids[i]);
    }
    return NULL;
}

/* Threads sharing the pool never get the same bytes twice. */
static void uuids_from_several_threads_are_distinct(void **state)
{
    (void)state;
    enum { N = UUID_THREADS * UUIDS_PER_THREAD };
    char(*ids)[37] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    pthread_t threads[UUID_THREADS];
    for (int t = 0; t < UUID_THREADS; t++) {
        assert_int_equal(pthread_create(&threads[t], NULL, make_uuids, ids + t * UUIDS_PER_THREAD),
                         0);
    }
    for (int t = 0; t < UUID_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    }
    for (int i = 0; i < N; i++) {
        if (!is_uuid_v7(ids[i])) {
            fail_msg("not a v7 UUID: \"%s\"", ids[i]);
        }
    }
    qsort(ids, N, sizeof(*ids), compare_uuids);
    for (int i = 1; i < N; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            fail_msg("duplicate UUID %s", ids[i]);
        }
    }
    free(ids);
}

static void clocks_move_forward(void **state)
{
    (void)state;
    int64_t mono = hb_now_ms();
    int64_t wall = hb_wall_ms();
    assert_true(wall > 1700000000000LL); /* after November 2023 */
    assert_true(llabs(wall / 1000 - (int64_t)time(NULL)) <= 1);
    assert_true(hb_now_ms() >= mono);
}

/* Members put under a literal name keep that name uncopied and print like cJSON's own. */
static void members_put_under_literal_names(void **state)
{
    (void)state;
    static const char name[] = "orderId";
    cJSON *obj = cJSON_CreateObject();
    assert_non_null(obj);
    assert_true(hb_json_put_int(obj, name, 42));
    assert_true(hb_json_put_text(obj, "status", "PAID"));
    assert_true(hb_json_put_null(obj, "reason"));
    assert_ptr_equal(cJSON_GetObjectItem(obj, "orderId")->string, name);
    char *text = hb_json_print(obj);
    assert_string_equal(text, "{\"orderId\":42,\"status\":\"PAID\",\"reason\":null}");
    free(text);
    cJSON *outer = cJSON_CreateObject(); /* moved under a name of its own, then freed */
    assert_non_null(outer);
    assert_true(cJSON_AddItemToObject(outer, "data", obj));
    cJSON_Delete(outer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_event_decodes_with_all_fields_and_owned_data),
        cmocka_unit_test(members_put_under_literal_names),
        cmocka_unit_test(optional_time_and_subject_may_be_absent),
        cmocka_unit_test(every_malformed_fixture_is_a_decode_error_with_a_reason),
        cmocka_unit_test(malformed_event_without_reason_pointer_is_still_refused),
        cmocka_unit_test(id_and_subject_at_their_bounds_are_accepted),
        cmocka_unit_test(bytes_after_the_event_are_a_decode_error),
        cmocka_unit_test(payload_over_64_kib_is_too_large),
        cmocka_unit_test(payload_of_exactly_64_kib_is_accepted),
        cmocka_unit_test(encode_then_decode_keeps_every_field),
        cmocka_unit_test(encode_leaves_the_data_to_the_event),
        cmocka_unit_test(encode_prints_what_cjson_printed),
        cmocka_unit_test(event_init_sets_uuid_time_subject_and_source),
        cmocka_unit_test(event_init_without_order_has_empty_subject_and_empty_data),
        cmocka_unit_test(event_without_order_is_encoded_without_subject),
        cmocka_unit_test(event_init_refuses_names_that_do_not_fit_and_frees_data),
        cmocka_unit_test(event_clear_accepts_a_cleared_event),
        cmocka_unit_test(time_now_is_rfc3339_with_milliseconds),
        cmocka_unit_test(nesting_is_bounded_to_64_levels),
        cmocka_unit_test(strings_must_decode_to_utf8_without_nul),
        cmocka_unit_test(valid_utf8_and_escapes_are_accepted),
        cmocka_unit_test(deep_or_invalid_events_are_decode_errors_with_a_reason),
        cmocka_unit_test(json_int_rejects_strings_fractions_and_non_numbers),
        cmocka_unit_test(json_int_rejects_values_out_of_range),
        cmocka_unit_test(json_int_rejects_magnitudes_over_2_pow_53),
        cmocka_unit_test(json_int_accepts_the_bounds),
        cmocka_unit_test(json_str_rejects_empty_too_long_and_non_strings),
        cmocka_unit_test(json_str_accepts_one_to_max_len_bytes_pointing_into_the_object),
        cmocka_unit_test(uuids_are_distinct_v7_values),
        cmocka_unit_test(uuid_random_bits_each_take_both_values),
        cmocka_unit_test(uuids_start_with_the_time),
        cmocka_unit_test(rfc3339_times_parse_to_ms),
        cmocka_unit_test(uuids_from_several_threads_are_distinct),
        cmocka_unit_test(clocks_move_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
