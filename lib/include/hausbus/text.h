/* Bounded string copies for hot paths. */
#ifndef HAUSBUS_TEXT_H
#define HAUSBUS_TEXT_H

#include <stddef.h>
#include <string.h>

/* Copies src into dst (cap bytes; NUL-terminated whenever cap > 0), cut when longer.
 * Returns strlen(src), so a result >= cap says it was cut, as snprintf's does. It is
 * snprintf(dst, cap, "%s", src) without the format machinery, which showed up in the
 * profiles of the per-event path. src must not be NULL. */
static inline size_t hb_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t len = strlen(src);
    if (cap > 0) {
        size_t n = len < cap ? len : cap - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

#endif
