/* Structured logging: one JSON object per line on stderr. */
#ifndef HAUSBUS_LOG_H
#define HAUSBUS_LOG_H

#include <stdint.h>

enum hb_log_level { HB_LOG_DEBUG = 0, HB_LOG_INFO, HB_LOG_WARN, HB_LOG_ERROR };

/* Sets the process's component name, put in every line of a thread that has not named
 * its own, and the minimum level ("debug", "info", "warn", "error"; anything else means
 * info). Call once at start, before other threads log. */
void hb_log_init(const char *component, const char *level_name);

/* Names the lines the calling thread logs from now on (its component, in a process that
 * runs several); NULL goes back to the name given to hb_log_init. Cheap when the name is
 * already set, so callbacks may call it every time. Can't fail (long names are cut). */
void hb_log_set_thread_component(const char *component);

/* Logs msg at level; order_id > 0 adds an "orderId" field. Lines longer than
 * the internal bound are truncated, never overflowed. Thread-safe (one write per line). */
void hb_log(enum hb_log_level level, int64_t order_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define HB_LOGD(oid, ...) hb_log(HB_LOG_DEBUG, (oid), __VA_ARGS__)
#define HB_LOGI(oid, ...) hb_log(HB_LOG_INFO, (oid), __VA_ARGS__)
#define HB_LOGW(oid, ...) hb_log(HB_LOG_WARN, (oid), __VA_ARGS__)
#define HB_LOGE(oid, ...) hb_log(HB_LOG_ERROR, (oid), __VA_ARGS__)

#endif
