/* JSON-lines logger on stderr, filtered by HAUSBUS_LOG_LEVEL. */
#include "hausbus/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hausbus/envelope.h"

#define LOG_LINE_MAX 2048

#define LOG_NAME_MAX 32

/* The process's name (hb_log_init) and, for a thread that set one, its own: the
 * all-in-one runs several components as threads of one process and each line must still
 * say which one wrote it. Written once at start-up, before other threads log. */
static char log_component[LOG_NAME_MAX] = "hausbus";
static _Thread_local char log_thread_component[LOG_NAME_MAX]; /* "" = log_component */
static enum hb_log_level log_min_level = HB_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hb_log_init(const char *component, const char *level_name)
{
    snprintf(log_component, sizeof(log_component), "%s", component ? component : "hausbus");
    log_min_level = HB_LOG_INFO;
    for (int i = 0; level_name && i < 4; i++) {
        if (strcmp(level_name, level_names[i]) == 0) {
            log_min_level = (enum hb_log_level)i;
        }
    }
}

void hb_log_set_thread_component(const char *component)
{
    if (!component) {
        log_thread_component[0] = '\0';
    } else if (strcmp(log_thread_component, component) != 0) {
        snprintf(log_thread_component, sizeof(log_thread_component), "%s", component);
    }
}

/* Appends s JSON-escaped to buf at *pos, never past cap - 1. */
static void append_escaped(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
    buf[*pos] = '\0';
}

static void append_raw(char *buf, size_t cap, size_t *pos, const char *s)
{
    int n = snprintf(buf + *pos, cap - *pos, "%s", s);
    if (n > 0) {
        *pos += (size_t)n < cap - *pos ? (size_t)n : cap - *pos - 1;
    }
}

void hb_log(enum hb_log_level level, int64_t order_id, const char *fmt, ...)
{
    if (level < log_min_level || level > HB_LOG_ERROR) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char now[HB_EVENT_TIME_MAX];
    hb_time_now(now, sizeof(now));

    char line[LOG_LINE_MAX];
    size_t pos = 0;
    line[0] = '\0';
    append_raw(line, sizeof(line), &pos, "{\"time\":\"");
    append_raw(line, sizeof(line), &pos, now);
    append_raw(line, sizeof(line), &pos, "\",\"level\":\"");
    append_raw(line, sizeof(line), &pos, level_names[level]);
    append_raw(line, sizeof(line), &pos, "\",\"component\":\"");
    append_escaped(line, sizeof(line), &pos,
                   log_thread_component[0] ? log_thread_component : log_component);
    append_raw(line, sizeof(line), &pos, "\"");
    if (order_id > 0) {
        char oid[40];
        snprintf(oid, sizeof(oid), ",\"orderId\":%" PRId64, order_id);
        append_raw(line, sizeof(line), &pos, oid);
    }
    append_raw(line, sizeof(line), &pos, ",\"msg\":\"");
    append_escaped(line, sizeof(line) - 3, &pos, msg);
    append_raw(line, sizeof(line), &pos, "\"}\n");
    /* One write() per line keeps lines whole when threads log at once. */
    ssize_t ignored = write(STDERR_FILENO, line, pos);
    (void)ignored;
}
