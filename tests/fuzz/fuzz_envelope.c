/* Fuzz target: hb_envelope_decode on any bytes, the encode/decode round trip,
 * hb_json_print against cJSON_PrintUnformatted on every decoded event's data, and
 * hb_json_parse(_document) against the check + cJSON parse they replaced. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_json.h"
#include "json_parse_ref.h"
#include "hausbus/envelope.h"

/* A broken property is a finding: say which and abort, so libFuzzer keeps the input. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_envelope: property failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* True when the fixed-size field holds a NUL-terminated string shorter than its cap. */
static int terminated(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

static int is_cleared(const struct hb_event *ev)
{
    static const struct hb_event zero;
    return memcmp(ev, &zero, sizeof(zero)) == 0;
}

static void check_decoded(const struct hb_event *ev)
{
    CHECK(terminated(ev->id, sizeof(ev->id)) && ev->id[0] != '\0');
    CHECK(terminated(ev->source, sizeof(ev->source)) && ev->source[0] != '\0');
    CHECK(terminated(ev->type, sizeof(ev->type)) && ev->type[0] != '\0');
    CHECK(terminated(ev->time, sizeof(ev->time)));
    CHECK(terminated(ev->subject, sizeof(ev->subject)));
    CHECK(cJSON_IsObject(ev->data));
}

/* Whatever decodes must encode, and the encoding must decode to the same event, data
 * included to the last digit of every number, and encode to the same text again. */
static void check_round_trip(const struct hb_event *ev)
{
    /* hb_json_print, which writes the envelope's data, is cJSON's text byte for byte. */
    char *ours = hb_json_print(ev->data);
    char *cjsons = cJSON_PrintUnformatted(ev->data);
    if (ours && cjsons && strcmp(ours, cjsons) != 0) {
        fprintf(stderr, "fuzz_envelope: hb_json_print differs from cJSON:\n%s\n%s\n", ours,
                cjsons);
    }
    CHECK(ours != NULL && cjsons != NULL && strcmp(ours, cjsons) == 0);
    free(ours);
    cJSON_free(cjsons);
    char *first = hb_envelope_encode(ev);
    CHECK(first != NULL);
    size_t first_len = strlen(first);
    struct hb_event again;
    const char *reason = NULL;
    hb_err_t rc = hb_envelope_decode(first, first_len, &again, &reason);
    if (first_len > HB_PAYLOAD_MAX) {
        /* Escaping can grow a 64 KiB event past the bound; refusing it is the contract. */
        CHECK(rc == HB_ERR_TOO_LARGE && is_cleared(&again) && reason != NULL);
        free(first);
        return;
    }
    if (rc != HB_OK) {
        fprintf(stderr, "fuzz_envelope: re-encoded event does not decode (%s): %s\n",
                reason ? reason : "?", first);
    }
    CHECK(rc == HB_OK);
    check_decoded(&again);
    CHECK(strcmp(again.id, ev->id) == 0);
    CHECK(strcmp(again.source, ev->source) == 0);
    CHECK(strcmp(again.type, ev->type) == 0);
    CHECK(strcmp(again.time, ev->time) == 0);
    CHECK(strcmp(again.subject, ev->subject) == 0);
    if (!fuzz_json_same(ev->data, again.data)) {
        fprintf(stderr, "fuzz_envelope: data changed on the way through encode: %s\n", first);
    }
    CHECK(fuzz_json_same(ev->data, again.data));
    char *second = hb_envelope_encode(&again);
    CHECK(second != NULL);
    if (strcmp(first, second) != 0) {
        fprintf(stderr, "fuzz_envelope: encoding is not stable:\n%s\n%s\n", first, second);
    }
    CHECK(strcmp(first, second) == 0);
    free(second);
    hb_event_clear(&again);
    CHECK(is_cleared(&again));
    free(first);
}

/* Our parser and the old check + cJSON parse agree on the bytes: accepted or not, the
 * reason, the end of the value, the tree to the last bit. */
static void check_parse_like_reference(const char *text, size_t len)
{
    const char *want_reason = NULL;
    const char *got_reason = NULL;
    cJSON *want = json_ref_parse_document(text, len, &want_reason);
    cJSON *got = hb_json_parse_document(text, len, &got_reason);
    if ((want == NULL) != (got == NULL) || !json_ref_same_string(want_reason, got_reason)) {
        fprintf(stderr, "fuzz_envelope: hb_json_parse_document: %s (%s), cJSON: %s (%s)\n",
                got ? "accepted" : "refused", got_reason ? got_reason : "-",
                want ? "accepted" : "refused", want_reason ? want_reason : "-");
    }
    CHECK((want == NULL) == (got == NULL));
    CHECK(json_ref_same_string(want_reason, got_reason));
    CHECK(json_ref_identical(want, got));
    cJSON_Delete(want);
    cJSON_Delete(got);
    const char *want_end = NULL;
    const char *got_end = NULL;
    want = json_ref_parse(text, len, &want_end, NULL);
    got = hb_json_parse(text, len, &got_end);
    CHECK((want == NULL) == (got == NULL));
    CHECK(!want || want_end == got_end);
    CHECK(json_ref_identical(want, got));
    cJSON_Delete(want);
    cJSON_Delete(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: the decoder must not read past len (no NUL after the bytes). */
    char *payload = malloc(size > 0 ? size : 1);
    if (!payload) {
        return 0;
    }
    if (size > 0) {
        memcpy(payload, data, size);
    }
    check_parse_like_reference(payload, size);
    struct hb_event ev;
    memset(&ev, 0x5a, sizeof(ev)); /* decode must set every byte it leaves behind */
    const char *reason = NULL;
    hb_err_t rc = hb_envelope_decode(payload, size, &ev, &reason);
    if (rc == HB_OK) {
        CHECK(size <= HB_PAYLOAD_MAX);
        check_decoded(&ev);
        check_round_trip(&ev);
    } else {
        CHECK(rc == HB_ERR_DECODE || rc == HB_ERR_TOO_LARGE);
        CHECK((rc == HB_ERR_TOO_LARGE) == (size > HB_PAYLOAD_MAX));
        CHECK(reason != NULL && reason[0] != '\0');
        CHECK(is_cleared(&ev));
    }
    hb_event_clear(&ev);
    CHECK(is_cleared(&ev));
    hb_event_clear(&ev); /* clearing a cleared event is allowed */
    free(payload);
    return 0;
}
