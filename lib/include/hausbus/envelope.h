/* CloudEvents 1.0 structured-mode JSON envelope: encode, decode, ids and times. */
#ifndef HAUSBUS_ENVELOPE_H
#define HAUSBUS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hausbus/err.h"

#define HB_EVENT_ID_MAX 64
#define HB_EVENT_SOURCE_MAX 64
#define HB_EVENT_TYPE_MAX 64
#define HB_EVENT_TIME_MAX 40
#define HB_EVENT_SUBJECT_MAX 32
#define HB_PAYLOAD_MAX (64 * 1024) /* larger bus payloads are refused */
#define HB_REPLY_MAX (1024 * 1024)  /* a reply (a list of up to HB_LIST_MAX records) */
#define HB_LIST_MAX 1000            /* records in one list answer */
#define HB_STR_(x) #x
#define HB_STR(x) HB_STR_(x) /* a numeric macro as a string literal, for SQL */
/* 2^52 - 1: ids survive a trip through JSON numbers. Doubles hold integers up to 2^53, but
 * cJSON 1.7.15 prints with 15 digits when that is within DBL_EPSILON, which from 2^52 on
 * can be off by one or two (found by tests/fuzz). */
#define HB_ID_MAX 4503599627370495LL

struct hb_event {
    char id[HB_EVENT_ID_MAX];
    char source[HB_EVENT_SOURCE_MAX];   /* "/hausbus/<component>" */
    char type[HB_EVENT_TYPE_MAX];       /* "OrderPlaced", "order.place", ... */
    char time[HB_EVENT_TIME_MAX];       /* RFC 3339 UTC */
    char subject[HB_EVENT_SUBJECT_MAX]; /* the order id, or "" */
    cJSON *data;                        /* owned; an object, never NULL after decode */
};

/* Decodes a JSON CloudEvent. On success ev owns its data (release with
 * hb_event_clear). On failure returns HB_ERR_DECODE or HB_ERR_TOO_LARGE, leaves ev
 * cleared and points *reason (if non-NULL) at a static explanation. */
hb_err_t hb_envelope_decode(const char *payload, size_t len, struct hb_event *ev,
                            const char **reason);

/* Reads the CloudEvent in the parsed object root (one item of a batch) into ev, moving
 * root's data member into ev (root keeps the rest; the caller still deletes it). On
 * failure returns HB_ERR_DECODE, leaves ev cleared and points *reason (if non-NULL) at a
 * static explanation. */
hb_err_t hb_envelope_from_json(cJSON *root, struct hb_event *ev, const char **reason);

/* Encodes ev as a CloudEvent JSON string (specversion 1.0, datacontenttype
 * application/json). Returns a malloc'd string the caller frees, NULL on allocation failure. */
char *hb_envelope_encode(const struct hb_event *ev);

/* Fills ev with a fresh id, the current time, source "/hausbus/<component>", type and
 * subject (order_id > 0, else ""), and takes ownership of data (NULL means {}).
 * Returns HB_ERR_INVAL if a string does not fit, HB_ERR_NOMEM; on failure data is freed. */
hb_err_t hb_event_init(struct hb_event *ev, const char *component, const char *type,
                       int64_t order_id, cJSON *data);

/* Frees ev->data and zeroes ev. Accepts an already cleared event. */
void hb_event_clear(struct hb_event *ev);

/* Writes an RFC 9562 version 7 UUID (36 chars + NUL, lowercase) into out: 48 bits of
 * wall-clock milliseconds, then 74 random bits, so ids sort by the time they were made
 * (to the millisecond) and inboxes keyed by them grow at one end. The random bytes come
 * from a process-wide pool that getrandom refills 32 ids at a time. Can't fail; safe to
 * call from any thread. */
void hb_uuid(char out[37]);

/* Writes the current UTC time as RFC 3339 with milliseconds. len >= 25. */
void hb_time_now(char *out, size_t len);

/* Reads an RFC 3339 UTC time as hb_time_now writes it ("2026-11-25T09:00:00.123Z": the
 * fraction optional, and if there, three digits; 1970 or later) as Unix milliseconds into
 * *out. HB_ERR_DECODE for anything else (offsets other than Z too). */
hb_err_t hb_time_parse_ms(const char *text, int64_t *out);

/* Milliseconds on a monotonic clock, for timeouts. */
int64_t hb_now_ms(void);

/* Microseconds on the same clock, for latencies shorter than a millisecond. */
int64_t hb_now_us(void);

/* Wall-clock milliseconds since the epoch, for timestamps stored in databases. */
int64_t hb_wall_ms(void);

/* The deepest nesting of arrays and objects any JSON text may have. cJSON deletes,
 * duplicates and compares trees recursively (and parsed them so, before our parser),
 * about 130 bytes of stack per level, and its own limit (1000 levels) overflows
 * civetweb's 100 KiB worker stacks; 64 levels take about 8 KiB, far below the smallest
 * stack that parses (civetweb's; the all-in-one's component threads have 256 KiB), and
 * our own documents nest at most 10 deep (openapi.json). */
#define HB_JSON_DEPTH_MAX 64

/* Checks JSON text before any parser sees it, in one pass: nesting at most
 * HB_JSON_DEPTH_MAX deep, and every string (member names too) well-formed UTF-8 once its
 * escapes are decoded: no invalid or overlong bytes, no encoded or \u-escaped lone
 * surrogate, no \u0000 (cJSON would cut the string there), no raw control character.
 * Returns NULL when the text passes, else a static reason for a dead letter or an HTTP
 * error ("JSON nested deeper than 64 levels"). Other syntax errors are left to the parser. */
const char *hb_json_text_check(const char *text, size_t len);

/* Length of the well-formed UTF-8 sequence at text, of which left bytes may be read
 * (Unicode table 3-7: no overlong form, no surrogate, nothing above U+10FFFF; an ASCII
 * byte, NUL included, is one). Returns 0 when there is none. Can't fail otherwise. */
size_t hb_utf8_sequence(const char *text, size_t left);

/* Parses the first JSON value of the len bytes at text (no NUL needed after them) into a
 * cJSON tree, accepting and building exactly what hb_json_text_check followed by cJSON
 * 1.7.15's cJSON_ParseWithLengthOpts(text, len, end, false) did (lib/src/json_parse.c),
 * in one pass, without a lock (cJSON notes its last error in a global, so its parses
 * needed one) and without recursion. The whole of text must pass hb_json_text_check,
 * bytes after the value too. end may be NULL; *end is set, on success only, just after
 * the value. Returns the tree (the caller frees it with cJSON_Delete) or NULL when text
 * fails the check, is not JSON or memory ran out. Every JSON text hausbus reads goes
 * through here or hb_json_parse_document. Thread-safe. */
cJSON *hb_json_parse(const char *text, size_t len, const char **end);

/* hb_json_parse of a whole document: only whitespace may follow the value. On failure
 * returns NULL and points *reason (if non-NULL) at a static reason: hb_json_text_check's,
 * "not valid JSON" (allocation failure reads the same) or "not valid JSON: bytes after the
 * document". */
cJSON *hb_json_parse_document(const char *text, size_t len, const char **reason);

/* Prints item as cJSON_PrintUnformatted does, byte for byte (the same escapes, the same
 * %1.15g/%1.17g number text, NaN and infinities as null, raw items verbatim, a string
 * whose valuestring is NULL as ""), without its sprintf/sscanf round trip for integral
 * numbers, and without recursion: a deep tree costs heap, not stack. Returns a malloc'd
 * string the caller frees with free(), or NULL for a NULL item, an item of invalid type
 * (or a raw one without text) anywhere in the tree, and on allocation failure. */
char *hb_json_print(const cJSON *item);

/* Reads an integer member of obj that is a JSON number with no fraction in
 * [min, max]. Returns HB_ERR_DECODE when missing, wrongly typed or out of range. */
hb_err_t hb_json_int(const cJSON *obj, const char *name, int64_t min, int64_t max,
                     int64_t *out);

/* Reads a string member of obj of 1..max_len bytes. Returns HB_ERR_DECODE when
 * missing, not a string, empty or too long. *out points into obj. */
hb_err_t hb_json_str(const cJSON *obj, const char *name, size_t max_len, const char **out);

/* Add a member to obj under name, a string literal (or other text that outlives obj): it
 * is not copied (cJSON_AddItemToObjectCS), one allocation less per member on a path that
 * builds an event for every change. hb_json_put_text copies text. Return false when
 * memory ran out (obj is then unchanged). */
bool hb_json_put_int(cJSON *obj, const char *name, int64_t value);
bool hb_json_put_text(cJSON *obj, const char *name, const char *text);
bool hb_json_put_null(cJSON *obj, const char *name);

#endif
