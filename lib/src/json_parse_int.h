/* Private to lib/: the single-pass JSON parser behind hb_json_parse (lib/src/json_parse.c). */
#ifndef HAUSBUS_JSON_PARSE_INT_H
#define HAUSBUS_JSON_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parses the first JSON value of the len bytes at text (no NUL needed after them) into a
 * cJSON tree, accepting exactly what hb_json_text_check followed by cJSON 1.7.15's
 * cJSON_ParseWithLengthOpts(text, len, &end, false) accept, as far as that value reaches:
 * a leading UTF-8 BOM (when len >= 5) and any bytes up to 0x20 as whitespace, numbers as
 * strtod reads all the bytes of [0-9+-.eE] there (Debian's 1.7.15 has upstream's fix of
 * CVE-2023-26819, which lifted the old 63-byte cut), strings checked as
 * hb_json_text_check checks them, at most HB_JSON_DEPTH_MAX levels of nesting. The tree is
 * the one cJSON builds (types, valueint, valuedouble, strings, member order, prev/next
 * links), except that each node holds its member name and string value in its own
 * cJSON_malloc'd block, flagged cJSON_StringIsConst and cJSON_IsReference (in the bits
 * above 0xff, which cJSON_Is* and the printer ignore) so that cJSON_Delete frees it: one
 * allocation per value. cJSON_Duplicate of a parsed tree, or of any part of it, keeps
 * every copied member's name pointing into the original, so a copy must not outlive the
 * tree it came from; cJSON_SetValuestring refuses a parsed string (set a new item
 * instead).
 * No lock, no recursion. On success sets *stop to the offset just after the value (bytes
 * after it are not looked at) and returns the tree; returns NULL when the value is not
 * valid or memory ran out (*stop then unchanged). The caller finds the reason with
 * hb_json_text_check. */
cJSON *hb_json_parse_value(const char *text, size_t len, size_t *stop);

/* Why a JSON text is refused, for what hb_json_scan_string and the text check find. */
extern const char hb_json_reason_syntax[];
extern const char hb_json_reason_utf8[];
extern const char hb_json_reason_surrogate[];
extern const char hb_json_reason_nul[];
extern const char hb_json_reason_control[];

/* Checks the string whose opening quote is at t[start], for the parser and the text check
 * alike: valid UTF-8, known escapes, no \u0000, no lone surrogate, no raw control byte,
 * a closing quote. Returns NULL when it is valid, with *close the offset of the closing
 * quote, *decoded the length of the decoded string and *escaped whether it has any
 * escape; else why not (one of the reasons above). */
const char *hb_json_scan_string(const unsigned char *t, size_t len, size_t start,
                                size_t *close, size_t *decoded, bool *escaped);

#endif
