/* Liveness for processes without HTTP: a heartbeat file the loop refreshes, and a check. */
#ifndef HAUSBUS_PROBE_H
#define HAUSBUS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"

#define HB_PROBE_MAX_AGE_MS 10000 /* default for HAUSBUS_PROBE_MAX_AGE_MS */

/* Writes "<wall ms> <1|0 broker connected>\n" to path through a temporary file and a
 * rename, so a reader never sees half a line. Returns HB_ERR_IO on failure. */
hb_err_t hb_heartbeat_write(const char *path, int64_t now_ms, bool connected);

/* Checks the heartbeat at path: HB_OK when it was written at most max_age_ms before
 * now_ms and says the broker was connected; otherwise an error, with the reason in why
 * (always NUL-terminated). A hung loop stops refreshing the file, so its probe fails. */
hb_err_t hb_heartbeat_check(const char *path, int64_t now_ms, int64_t max_age_ms, char *why,
                            size_t why_len);

#endif
