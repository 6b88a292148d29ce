/* Pure HTTP route matching and request validation for the gateway: no I/O. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"
#include "hausbus/err.h"

#define GATEWAY_BODY_MAX 65536            /* larger request bodies are answered 413 */
#define GATEWAY_ID_MAX HB_ID_MAX /* ids survive cJSON printing exactly below 2^52 */
#define GATEWAY_QUERY_TOKEN_MAX 1024 /* a ?token= longer than this is a 400 */

struct gateway_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* URL-decoded path without the query, e.g. "/orders/7" */
    const char *query;  /* raw query string without '?', NULL or "" for none */
    const char *body;   /* body_len bytes, need not be NUL-terminated; may be NULL if empty */
    size_t body_len;    /* over GATEWAY_BODY_MAX means "too large": body is not read then */
};

enum gateway_route_kind {
    GATEWAY_ROUTE_ERROR,   /* answer status with {"error": error} */
    GATEWAY_ROUTE_COMMAND, /* send component.command with data and relay the reply */
    GATEWAY_ROUTE_LOCAL,   /* the gateway answers itself: out->local says with what */
};

/* What a LOCAL route answers with. */
enum gateway_local {
    GATEWAY_LOCAL_NONE,
    GATEWAY_LOCAL_HEALTH,       /* GET /healthz */
    GATEWAY_LOCAL_READY,        /* GET /readyz */
    GATEWAY_LOCAL_OPENAPI,      /* GET /openapi.json */
    GATEWAY_LOCAL_BOARD,        /* GET /board: the live board page */
    GATEWAY_LOCAL_BOARD_EVENTS, /* GET /board/events: its server-sent events */
    GATEWAY_LOCAL_METRICS,      /* GET /metrics (Prometheus text) */
};

struct gateway_route {
    enum gateway_route_kind kind;
    int status;            /* ERROR: the HTTP status (400, 404, 405, 413) */
    char error[160];       /* ERROR: what is wrong, for {"error": ...} */
    char allow[32];        /* 405: the Allow header value, e.g. "GET, POST"; else "" */
    enum gateway_local local; /* LOCAL: which answer */
    const char *pattern;   /* the matched route's pattern ("/orders/{id}"), static; NULL
                            * when no route matched (404) */
    const char *component; /* COMMAND: "order", ...; static string */
    const char *command;   /* COMMAND: "place", ...; static string */
    int64_t order_id;      /* COMMAND: the order it is about (event subject), 0 if none */
    cJSON *data;           /* COMMAND: the command's data object, owned by the route */
};

/* Matches req against the HTTP API of PROTOCOL.md and validates it. Checks run in the
 * order 404 (unknown path, or a path id that is not a canonical positive integer
 * <= GATEWAY_ID_MAX), 405 (known path, other method), 413, 400 (query), 400 (body).
 * Returns HB_OK with *out filled in every one of these cases (out->kind says which),
 * HB_ERR_INVAL when req or a required member is NULL, HB_ERR_NOMEM on allocation
 * failure. On any error *out is cleared and owns nothing. Release with
 * gateway_route_clear. */
hb_err_t gateway_route_request(const struct gateway_request *req, struct gateway_route *out);

/* One entry of the route table, for checks of the API document against it. */
struct gateway_route_info {
    const char *method;      /* "GET", "POST" */
    const char *pattern;     /* "/orders/{id}": "{id}" stands for one positive id */
    const char *id_field;    /* what the path id is ("id", "userId"); NULL without one */
    const char *query_field; /* the one optional query parameter; NULL when none */
    bool query_is_token;     /* query_field is a bearer token, not a positive id */
    bool has_body;           /* takes a JSON object body */
    bool local;              /* answered by the gateway itself */
};

/* Number of routes in the table. Can't fail. */
size_t gateway_route_count(void);

/* Describes route i (< gateway_route_count()) into *out; false when i is out of range. */
bool gateway_route_describe(size_t i, struct gateway_route_info *out);

/* Frees route->data and zeroes route. Accepts a cleared route. */
void gateway_route_clear(struct gateway_route *route);

/* Parses a canonical decimal id: 1..GATEWAY_ID_MAX, digits only, no sign, no leading
 * zero. Returns false for anything else (including NULL). Can't fail otherwise. */
bool gateway_parse_id(const char *text, size_t len, int64_t *out);

/* Parses exactly len bytes as one JSON value, allowing only whitespace after it.
 * Returns a tree the caller frees with cJSON_Delete, or NULL when the text is not
 * JSON (or on allocation failure). Safe to call from several threads at once. */
cJSON *gateway_json_parse(const char *text, size_t len);

#endif
