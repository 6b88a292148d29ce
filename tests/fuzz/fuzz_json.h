/* Exact JSON tree comparison for the fuzz targets' round-trip properties. */
#ifndef HAUSBUS_FUZZ_JSON_H
#define HAUSBUS_FUZZ_JSON_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>

#define FUZZ_JSON_EXACT_MAX 4503599627370495.0 /* HB_ID_MAX and GATEWAY_ID_MAX: 2^52 - 1 */

/* True when b is what a must become after printing and parsing it again: the same
 * types, members in the same order, the same strings, and the same numbers: integers
 * up to 2^53 (ids, amounts) exactly, as envelope.h and routes.h promise, other numbers
 * within a relative DBL_EPSILON (what cJSON_Compare allows everywhere, which would hide
 * a changed id). A non-finite number, which cJSON prints as null, may come back null. */
static inline bool fuzz_json_same(const cJSON *a, const cJSON *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (cJSON_IsNumber(a) && !isfinite(a->valuedouble)) {
        return cJSON_IsNull(b);
    }
    if ((a->type & 0xff) != (b->type & 0xff)) {
        return false;
    }
    if (cJSON_IsNumber(a)) {
        double x = a->valuedouble;
        double y = b->valuedouble;
        if (x == floor(x) && fabs(x) <= FUZZ_JSON_EXACT_MAX) {
            return x == y;
        }
        return fabs(x - y) <= fmax(fabs(x), fabs(y)) * DBL_EPSILON;
    }
    if (cJSON_IsString(a) || cJSON_IsRaw(a)) {
        return strcmp(a->valuestring, b->valuestring) == 0;
    }
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child;
        const cJSON *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            if (cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) {
                return false;
            }
            if (!fuzz_json_same(x, y)) {
                return false;
            }
        }
        return x == NULL && y == NULL;
    }
    return true; /* null, true, false: the type says it all */
}

#endif
