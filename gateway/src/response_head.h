/* An HTTP/1.x response head (status line, headers, blank line) formatted in one buffer. */
#ifndef GATEWAY_RESPONSE_HEAD_H
#define GATEWAY_RESPONSE_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Room for the largest head the gateway sends: a Location of GATEWAY_LOCATION_MAX, the
 * longest WWW-Authenticate challenge and every other header, with a margin. */
#define GATEWAY_HEAD_MAX 1024

struct gateway_head {
    const char *http_version; /* the request's ("1.1", "1.0"); NULL answers 1.0, as civetweb */
    int status;               /* 100..999 */
    const char *reason;       /* the status line's text, e.g. "Accepted" */
    bool has_body;            /* adds Content-Type: application/json and Content-Length */
    size_t content_length;
    const char *location;     /* location, allow, authenticate: NULL or "" for none */
    const char *allow;
    const char *authenticate;
    int retry_after_s;        /* > 0 adds Retry-After */
    time_t date;
    bool keep_alive;          /* Connection: keep-alive, else close */
};

/* Formats h into out (cap bytes, NUL-terminated), in the order civetweb's
 * mg_response_header_send used: Content-Type, Content-Length, Cache-Control: no-store,
 * Location, Allow, WWW-Authenticate, Retry-After, Date, Connection. Header values are
 * taken as they are (ours, checked for CR and LF where they come from a component).
 * Returns the head's length, or 0 when it does not fit in cap. */
size_t gateway_head_format(const struct gateway_head *h, char *out, size_t cap);

/* Whether the connection stays open after the answer, as civetweb 1.15 decides it
 * (should_keep_alive): never when closing (the server's own wish, mg_disable_keep_alive);
 * else as the client's Connection header says when it sent one (a "keep-alive" option
 * keeps it); else yes for HTTP/1.1 and no for anything older. connection may be NULL.
 * Can't fail. */
bool gateway_head_keep_alive(const char *http_version, const char *connection, bool closing);

#endif
