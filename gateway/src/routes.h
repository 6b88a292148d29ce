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

/* Who may have a route answered (docs/SECURITY.md reads this list). Every row of the
 * route table names one; auth.c decides from it and nothing else. */
enum gateway_access {
    GATEWAY_ACCESS_UNSET = 0,  /* a row nobody gave a rule: refused (a unit test fails) */
    GATEWAY_ACCESS_PUBLIC,     /* anybody, without a token */
    GATEWAY_ACCESS_ANY_ROLE,   /* every valid token */
    GATEWAY_ACCESS_ADMIN,      /* admin only */
    GATEWAY_ACCESS_BRAND,      /* brand only, not even admin ("the brand role alone") */
    GATEWAY_ACCESS_STAFF,      /* brand or admin */
    GATEWAY_ACCESS_OWN_USER,   /* a customer for the request's own userId, or admin */
    GATEWAY_ACCESS_OWN_ORDER,  /* the customer whose order the path id names, or admin */
};

struct gateway_route {
    enum gateway_route_kind kind;
    int status;            /* ERROR: the HTTP status (400, 404, 405, 413) */
    char error[160];       /* ERROR: what is wrong, for {"error": ...} */
    char allow[32];        /* 405: the Allow header value, e.g. "GET, POST"; else "" */
    enum gateway_local local; /* LOCAL: which answer */
    const char *pattern;   /* the matched route's pattern ("/orders/{id}"), static; NULL
                            * when no route matched (404) */
    /* From the matched row (also for its 413 and 400 answers); UNSET, NULL and false
     * when no route matched: */
    enum gateway_access access;
    const char *action;    /* what the route does, for 403 texts ("reading an order") */
    bool stream;           /* the answer is a long-lived stream, not one timed reply */
    bool coalesce;         /* COMMAND: concurrent requests may go in one batched message */
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

/* One row of the route table: the one place a route's method, path, command, role and
 * token need are written. Auth, the OpenAPI check and the metrics labels read it. */
struct gateway_route_info {
    const char *method;      /* "GET", "POST" */
    const char *pattern;     /* "/orders/{id}": "{id}" stands for one positive id */
    const char *component;   /* COMMAND routes: "order", ...; NULL for LOCAL ones */
    const char *command;     /* COMMAND routes: "get", ...; NULL for LOCAL ones */
    enum gateway_local local_answer; /* LOCAL routes: what the gateway answers with */
    enum gateway_access access; /* who may have it answered; PUBLIC needs no token */
    const char *action;      /* for 403 texts: "<action> is for ..." */
    bool stream;             /* a long-lived stream (kept out of the latency histogram) */
    const char *id_field;    /* what the path id is ("id", "userId"); NULL without one */
    const char *query_field; /* the one optional query parameter; NULL when none */
    bool query_is_token;     /* query_field is a bearer token, not a positive id */
    bool has_body;           /* takes a JSON object body */
    bool local;              /* answered by the gateway itself */
    bool coalesce;           /* concurrent requests may go in one batched message */
};

/* Number of routes in the table. Can't fail. */
size_t gateway_route_count(void);

/* Describes route i (< gateway_route_count()) into *out; false when i is out of range. */
bool gateway_route_describe(size_t i, struct gateway_route_info *out);

/* Describes the row that answers method on path (a real path: "/orders/7") into *out.
 * Returns false (out untouched) when no row does, for NULL arguments too. */
bool gateway_route_lookup(const char *method, const char *path, struct gateway_route_info *out);

/* True when requests for component.command may be coalesced into batches (the route
 * table's column: commands with a one-record reply, never lists); false for a command the
 * table does not have. Can't fail. */
bool gateway_route_coalesces(const char *component, const char *command);

/* Frees route->data and zeroes route. Accepts a cleared route. */
void gateway_route_clear(struct gateway_route *route);

/* Parses a canonical decimal id: 1..GATEWAY_ID_MAX, digits only, no sign, no leading
 * zero. Returns false for anything else (including NULL). Can't fail otherwise. */
bool gateway_parse_id(const char *text, size_t len, int64_t *out);

/* Parses exactly len bytes as one JSON value, allowing only whitespace after it
 * (hb_json_parse_document: bounded nesting, UTF-8 strings). Returns a tree the caller
 * frees with cJSON_Delete, or NULL when the text is not such JSON, is NULL or empty (or on
 * allocation failure). Safe to call from several threads at once. */
cJSON *gateway_json_parse(const char *text, size_t len);

#endif
