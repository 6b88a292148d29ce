/* Private to lib/: JSON text appended to a growing buffer, the way hb_json_print writes it. */
#ifndef HAUSBUS_JSON_PRINT_INT_H
#define HAUSBUS_JSON_PRINT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* buf always has room for a NUL after len bytes. */
struct hb_json_out {
    char *buf;
    size_t len;
    size_t cap;
};

/* Starts an empty text with room for cap bytes (cap >= 1). Returns false on allocation
 * failure, out then holding nothing. */
bool hb_json_out_init(struct hb_json_out *out, size_t cap);

/* Appends the n bytes at text as they are. Returns false on allocation failure (out keeps
 * what it had). */
bool hb_json_out_raw(struct hb_json_out *out, const char *text, size_t n);

/* Appends text as a JSON string with cJSON's escapes; NULL prints as "". Returns false on
 * allocation failure (out keeps a prefix of the text). */
bool hb_json_out_string(struct hb_json_out *out, const char *text);

/* Appends item as hb_json_print prints it. Returns false where hb_json_print returns NULL,
 * for a NULL item too (out then keeps a prefix of the text). */
bool hb_json_out_value(struct hb_json_out *out, const cJSON *item);

/* ok: NUL-terminates the text and hands it over (malloc'd, the caller frees it with
 * free()). !ok, or out holding nothing: frees the text and returns NULL. Either way out is
 * left holding nothing. */
char *hb_json_out_finish(struct hb_json_out *out, bool ok);

#endif
