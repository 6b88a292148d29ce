/* HTTP response heads in one buffer, so an answer leaves in one write: civetweb 1.15's
 * mg_response_header_send writes every header line on its own, and with tcp_nodelay each
 * went out as its own TCP segment (nine system calls and segments for a 202, measured;
 * docs/PERFORMANCE.md). */
#include "response_head.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Appends the formatted text at *len; false (and *len past cap) once it does not fit. */
static bool append(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap) {
        return false;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len) {
        *len = cap;
        return false;
    }
    *len += (size_t)n;
    return true;
}

static bool present(const char *value)
{
    return value && value[0] != '\0';
}

size_t gateway_head_format(const struct gateway_head *h, char *out, size_t cap)
{
    size_t len = 0;
    struct tm tm;
    char date[64];
    if (!gmtime_r(&h->date, &tm) ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0) {
        snprintf(date, sizeof(date), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
    bool ok = append(out, cap, &len, "HTTP/%s %d %s\r\n", h->http_version ? h->http_version : "1.0",
                     h->status, h->reason ? h->reason : "");
    if (ok && h->has_body) {
        ok = append(out, cap, &len, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                    h->content_length);
    }
    ok = ok && append(out, cap, &len, "Cache-Control: no-store\r\n");
    if (ok && present(h->location)) {
        ok = append(out, cap, &len, "Location: %s\r\n", h->location);
    }
    if (ok && present(h->allow)) {
        ok = append(out, cap, &len, "Allow: %s\r\n", h->allow);
    }
    if (ok && present(h->authenticate)) {
        ok = append(out, cap, &len, "WWW-Authenticate: %s\r\n", h->authenticate);
    }
    if (ok && h->retry_after_s > 0) {
        ok = append(out, cap, &len, "Retry-After: %d\r\n", h->retry_after_s);
    }
    ok = ok && append(out, cap, &len, "Date: %s\r\nConnection: %s\r\n\r\n", date,
                      h->keep_alive ? "keep-alive" : "close");
    if (!ok) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    return len;
}

/* True when the comma-separated header value has option (case-insensitive, spaces
 * around an option ignored). */
static bool has_option(const char *value, const char *option)
{
    size_t option_len = strlen(option);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *start = p;
        while (*p && *p != ',') {
            p++;
        }
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - start) == option_len && strncasecmp(start, option, option_len) == 0) {
            return true;
        }
    }
    return false;
}

bool gateway_head_keep_alive(const char *http_version, const char *connection, bool closing)
{
    if (closing) {
        return false;
    }
    if (connection) {
        return has_option(connection, "keep-alive");
    }
    return http_version && strcmp(http_version, "1.1") == 0;
}
