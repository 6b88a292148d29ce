/* The gateway's HTTP API table (PROTOCOL.md): route matching and request validation. */
#include "routes.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hausbus/envelope.h"

#define NAME_MAX_BYTES 100        /* productName: 1..100 bytes, as hb_json_str counts */
#define STOCK_MAX 1000000000LL    /* 1e9 */
#define PRICE_MAX 1000000000LL /* 1e9: price x qty (<= 1e6) stays below 2^52 */
#define PRICE_DEFAULT 0        /* a product created without a price is free */
#define QTY_MAX 1000000LL
#define QUERY_KEY_MAX 64
#define QUERY_VALUE_MAX 32
/* The one query parameter that is not a positive id: a bearer token, for the routes a
 * browser opens itself (its address bar and EventSource cannot send a header). */
#define QUERY_TOKEN "token"

enum body_kind {
    BODY_IGNORED, /* the route takes no body; one that is sent is not looked at */
    BODY_PRODUCT, /* POST /products */
    BODY_ORDER,   /* POST /orders */
};

struct route_def {
    const char *method;
    const char *pattern;     /* literal path; "{id}" matches one path id */
    const char *component;   /* NULL: answered by the gateway itself */
    const char *command;
    enum gateway_access access; /* who may have it answered (auth.c reads only this) */
    const char *action;      /* for 403 texts: "<action> is for the admin role only" */
    const char *id_field;    /* data member the path id goes to; NULL when there is none */
    const char *query_field; /* the one optional query parameter; NULL when none is accepted */
    enum body_kind body;
    bool id_is_order;        /* the path id names an order, so it is the event subject */
    enum gateway_local local; /* with component NULL: what the gateway answers itself */
    bool stream;             /* the answer is a long-lived stream */
    bool coalesce;           /* concurrent requests may share one batched message: only
                              * commands with a small reply (one record), never a list,
                              * whose reply alone may take the 1 MiB a batch reply has */
};

#define COMMAND(m, p, comp, cmd, acc, act) \
    .method = (m), .pattern = (p), .component = (comp), .command = (cmd), .access = (acc), \
    .action = (act)
#define LOCAL(m, p, what, acc) \
    .method = (m), .pattern = (p), .local = (what), .access = (acc), .action = (p)

/* One row per route: method, path, command, who may call it and what it takes. Order
 * matters only for the Allow header, which lists methods in table order. */
static const struct route_def route_table[] = {
    {COMMAND("GET", "/products", "product", "list", GATEWAY_ACCESS_ANY_ROLE, "listing products")},
    {COMMAND("POST", "/products", "product", "create", GATEWAY_ACCESS_ADMIN, "creating products"),
     .body = BODY_PRODUCT, .coalesce = true},
    {COMMAND("GET", "/products/{id}", "product", "get", GATEWAY_ACCESS_ANY_ROLE,
             "reading a product"),
     .id_field = "id", .coalesce = true},
    {COMMAND("GET", "/orders", "order", "list", GATEWAY_ACCESS_OWN_USER, "listing orders"),
     .query_field = "userId"},
    {COMMAND("POST", "/orders", "order", "place", GATEWAY_ACCESS_OWN_USER, "placing an order"),
     .body = BODY_ORDER, .coalesce = true},
    {COMMAND("GET", "/orders/{id}", "order", "get", GATEWAY_ACCESS_OWN_ORDER, "reading an order"),
     .id_field = "id", .id_is_order = true, .coalesce = true},
    {COMMAND("POST", "/orders/{id}/cancel", "order", "cancel", GATEWAY_ACCESS_OWN_ORDER,
             "cancelling an order"),
     .id_field = "id", .id_is_order = true, .coalesce = true},
    {COMMAND("GET", "/deliveries", "delivery", "list", GATEWAY_ACCESS_STAFF,
             "listing deliveries"),
     .query_field = "orderId"},
    {COMMAND("GET", "/deliveries/{id}", "delivery", "get", GATEWAY_ACCESS_STAFF,
             "reading a delivery"),
     .id_field = "id", .coalesce = true},
    {COMMAND("POST", "/deliveries/{id}/confirm", "delivery", "confirm", GATEWAY_ACCESS_BRAND,
             "confirming a delivery"),
     .id_field = "id", .coalesce = true},
    {COMMAND("POST", "/deliveries/{id}/start", "delivery", "start", GATEWAY_ACCESS_BRAND,
             "starting a delivery"),
     .id_field = "id", .coalesce = true},
    {COMMAND("POST", "/deliveries/{id}/complete", "delivery", "complete", GATEWAY_ACCESS_BRAND,
             "completing a delivery"),
     .id_field = "id", .coalesce = true},
    {COMMAND("GET", "/payments", "payment", "list", GATEWAY_ACCESS_ADMIN, "listing payments"),
     .query_field = "orderId"},
    {COMMAND("GET", "/mypage/{id}", "view", "mypage", GATEWAY_ACCESS_OWN_USER,
             "reading a mypage"),
     .id_field = "userId"},
    {COMMAND("GET", "/notifications", "notification", "list", GATEWAY_ACCESS_OWN_USER,
             "listing notifications"),
     .query_field = "userId"},
    /* Public: what a load balancer and an API client need before they hold a token. */
    {LOCAL("GET", "/healthz", GATEWAY_LOCAL_HEALTH, GATEWAY_ACCESS_PUBLIC)},
    {LOCAL("GET", "/readyz", GATEWAY_LOCAL_READY, GATEWAY_ACCESS_PUBLIC)},
    {LOCAL("GET", "/openapi.json", GATEWAY_LOCAL_OPENAPI, GATEWAY_ACCESS_PUBLIC)},
    /* Every other page the gateway serves itself (every order and process) is for
     * operators. A browser opens the board itself, so its token may come in the query. */
    {LOCAL("GET", "/board", GATEWAY_LOCAL_BOARD, GATEWAY_ACCESS_ADMIN), .query_field = QUERY_TOKEN},
    {LOCAL("GET", "/board/events", GATEWAY_LOCAL_BOARD_EVENTS, GATEWAY_ACCESS_ADMIN),
     .query_field = QUERY_TOKEN, .stream = true},
    {LOCAL("GET", "/metrics", GATEWAY_LOCAL_METRICS, GATEWAY_ACCESS_ADMIN)},
};

#undef COMMAND
#undef LOCAL

#define ROUTE_COUNT (sizeof(route_table) / sizeof(route_table[0]))

cJSON *gateway_json_parse(const char *text, size_t len)
{
    return text && len > 0 ? hb_json_parse_document(text, len, NULL) : NULL;
}

bool gateway_parse_id(const char *text, size_t len, int64_t *out)
{
    /* The largest id has 16 digits; one canonical spelling per id keeps URLs unambiguous. */
    if (!text || len == 0 || len > 16 || text[0] == '0') {
        return false;
    }
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (text[i] - '0');
    }
    if (value > GATEWAY_ID_MAX) {
        return false;
    }
    *out = value;
    return true;
}

/* Fills out as an error answer (a non-zero status marks it filled). Returns HB_OK:
 * the request was routed, to an error. */
__attribute__((format(printf, 3, 4))) static hb_err_t route_fail(struct gateway_route *out,
                                                                   int status, const char *fmt,
                                                                   ...)
{
    cJSON_Delete(out->data);
    out->data = NULL;
    out->kind = GATEWAY_ROUTE_ERROR;
    out->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof(out->error), fmt, ap);
    va_end(ap);
    /* Messages echo parts of the request; keep them printable ASCII so the JSON we
     * answer with and the log line stay valid whatever bytes the client sent. */
    for (char *c = out->error; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            *c = '?';
        }
    }
    return HB_OK;
}

/* True when path matches pattern; *id receives the path id when the pattern has one. */
static bool match_pattern(const char *pattern, const char *path, int64_t *id)
{
    const char *p = pattern;
    const char *s = path;
    while (*p != '\0' && *s != '\0') {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            if (!gateway_parse_id(s, n, id)) {
                return false;
            }
            p += 4;
            s += n;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return false;
        }
    }
    return *p == '\0' && *s == '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes len bytes of src ('+' is a space) into out (cap bytes, NUL-terminated).
 * Returns false when a %-escape is malformed, decodes to NUL, or the result does not fit. */
static bool query_decode(const char *src, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len) {
                return false;
            }
            int hi = hex_value(src[i + 1]);
            int lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return false;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= cap) {
            return false;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

/* True for 1..GATEWAY_QUERY_TOKEN_MAX bytes of base64url and dots: a compact JWT needs
 * no percent-encoding, so a token that has any is not one of ours. */
static bool token_is_plain(const char *text, size_t len)
{
    if (len == 0 || len > GATEWAY_QUERY_TOKEN_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* True when the route's query parameter is a bearer token, not a positive id. */
static bool query_is_token(const struct route_def *def)
{
    return def->query_field && strcmp(def->query_field, QUERY_TOKEN) == 0;
}

/* Checks the query string of a matched route. A route accepts at most one parameter
 * (def->query_field), optional, a positive integer (or a bearer token's characters when
 * it is QUERY_TOKEN); anything else is a 400 so that a typo such as "?userid=" is not
 * silently answered with every user's rows.
 * *given tells whether the parameter was there. Returns false after filling out. */
static bool check_query(const struct route_def *def, const char *query, int64_t *value,
                        bool *given, struct gateway_route *out)
{
    *given = false;
    if (!query) {
        return true;
    }
    const char *p = query;
    while (*p != '\0') {
        size_t pair_len = strcspn(p, "&");
        const char *eq = memchr(p, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - p) : pair_len;
        const char *raw_value = eq ? eq + 1 : p + pair_len;
        size_t value_len = eq ? pair_len - key_len - 1 : 0;
        char key[QUERY_KEY_MAX];
        char text[QUERY_VALUE_MAX];
        if (pair_len == 0) {
            p += 1; /* "a=1&&b=2": an empty pair says nothing */
            continue;
        }
        if (!query_decode(p, key_len, key, sizeof(key))) {
            route_fail(out, 400, "malformed query parameter name");
            return false;
        }
        if (!def->query_field || strcmp(key, def->query_field) != 0) {
            if (def->query_field) {
                route_fail(out, 400, "unknown query parameter '%s' (only %s is accepted)", key,
                           def->query_field);
            } else {
                route_fail(out, 400, "unknown query parameter '%s' (none is accepted here)",
                           key);
            }
            return false;
        }
        if (*given) {
            route_fail(out, 400, "%s is given more than once", key);
            return false;
        }
        if (query_is_token(def)) {
            /* Checked by the authentication step; here only its shape, without a copy. */
            if (!token_is_plain(raw_value, value_len)) {
                route_fail(out, 400, "%s must be a bearer token", key);
                return false;
            }
        } else if (!query_decode(raw_value, value_len, text, sizeof(text)) ||
                   !gateway_parse_id(text, strlen(text), value)) {
            route_fail(out, 400, "%s must be a positive integer", key);
            return false;
        }
        *given = true;
        p += pair_len;
        if (*p == '&') {
            p++;
        }
    }
    return true;
}

/* Reads text as a decimal integer string in [min, max]: an optional '-', then "0" or a
 * canonical id's digits (gateway_parse_id: no leading zero, at most GATEWAY_ID_MAX, which
 * bounds every range here), nothing else (no space, '+', fraction, exponent, hex). What
 * httpie's key=value sends. */
static bool int_from_string(const char *text, int64_t min, int64_t max, int64_t *out)
{
    bool negative = text[0] == '-';
    const char *digits = negative ? text + 1 : text;
    int64_t value = 0;
    if (strcmp(digits, "0") != 0 && !gateway_parse_id(digits, strlen(digits), &value)) {
        return false;
    }
    value = negative ? -value : value;
    if (value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

/* Copies the integer field name of body into data as a JSON number: a number with no
 * fraction, or a decimal integer string (int_from_string), in [min, max]. When fallback is
 * non-NULL the field is optional (absent or null) and *fallback is copied instead.
 * Returns false either after filling out with a 400 (which frees data) or, with out
 * untouched, on allocation failure. */
static bool take_int(const cJSON *body, const char *name, int64_t min, int64_t max,
                     const int64_t *fallback, cJSON *data, int64_t *value,
                     struct gateway_route *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);
    bool ok = false;
    if (!item || (fallback && cJSON_IsNull(item))) {
        if (!fallback) {
            route_fail(out, 400, "%s is required", name);
            return false;
        }
        *value = *fallback;
        ok = true;
    } else if (cJSON_IsString(item)) {
        ok = int_from_string(item->valuestring, min, max, value);
    } else {
        ok = hb_json_int(body, name, min, max, value) == HB_OK;
    }
    if (!ok) {
        if (max == GATEWAY_ID_MAX && min == 1) {
            route_fail(out, 400, "%s must be a positive integer (a number or decimal digits)",
                       name);
        } else {
            route_fail(out, 400,
                       "%s must be an integer between %lld and %lld (a number or decimal digits)",
                       name, (long long)min, (long long)max);
        }
        return false;
    }
    if (!cJSON_AddNumberToObject(data, name, (double)*value)) {
        return false;
    }
    return true;
}

/* Checks the string field name of body and copies it into data (data NULL: checks only);
 * an optional one may be absent or null. Returns false like take_int. */
static bool take_name(const cJSON *body, const char *name, bool required, cJSON *data,
                      struct gateway_route *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, name);
    if (!item || (!required && cJSON_IsNull(item))) {
        if (required) {
            route_fail(out, 400, "%s is required", name);
            return false;
        }
        return true;
    }
    const char *text = NULL;
    if (hb_json_str(body, name, NAME_MAX_BYTES, &text) != HB_OK) {
        route_fail(out, 400, "%s must be a string of 1 to %d bytes", name, NAME_MAX_BYTES);
        return false;
    }
    if (data && !cJSON_AddStringToObject(data, name, text)) {
        return false;
    }
    return true;
}

/* Validates the JSON body of a create/place route and copies the known fields into
 * out->data (unknown fields are dropped, so components see only what was checked).
 * Returns HB_ERR_NOMEM on allocation failure, else HB_OK (out may now be an error). */
static hb_err_t take_body(const struct route_def *def, const struct gateway_request *req,
                          struct gateway_route *out)
{
    if (req->body_len == 0 || !req->body) {
        route_fail(out, 400, "body must be a JSON object");
        return HB_OK;
    }
    const char *fault = NULL;
    cJSON *body = hb_json_parse_document(req->body, req->body_len, &fault);
    if (!body) {
        route_fail(out, 400, "body: %s", fault);
        return HB_OK;
    }
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        route_fail(out, 400, "body must be a JSON object");
        return HB_OK;
    }
    int64_t value = 0;
    bool ok = false;
    if (def->body == BODY_PRODUCT) {
        static const int64_t free_item = PRICE_DEFAULT;
        ok = take_name(body, "productName", true, out->data, out) &&
             take_int(body, "stock", 0, STOCK_MAX, NULL, out->data, &value, out) &&
             take_int(body, "price", 0, PRICE_MAX, &free_item, out->data, &value, out);
    } else {
        ok = take_int(body, "productId", 1, GATEWAY_ID_MAX, NULL, out->data, &value, out) &&
             take_int(body, "qty", 1, QTY_MAX, NULL, out->data, &value, out) &&
             take_int(body, "userId", 1, GATEWAY_ID_MAX, NULL, out->data, &value, out) &&
             /* Checked for the clients that send one, not passed on: the product
              * component names the product (docs/PROTOCOL.md). */
             take_name(body, "productName", false, NULL, out);
    }
    cJSON_Delete(body);
    if (!ok && out->status == 0) {
        return HB_ERR_NOMEM; /* a take_ failed without reporting a client error */
    }
    return HB_OK;
}

/* Appends method to the comma-separated allow list unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *method)
{
    size_t used = strlen(allow);
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen) {
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0')) {
            return;
        }
    }
    snprintf(allow + used, cap - used, "%s%s", used > 0 ? ", " : "", method);
}

hb_err_t gateway_route_request(const struct gateway_request *req, struct gateway_route *out)
{
    if (!out) {
        return HB_ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    if (!req || !req->method || !req->path) {
        return HB_ERR_INVAL;
    }

    const struct route_def *def = NULL;
    int64_t path_id = 0;
    bool path_known = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        int64_t id = 0;
        if (!match_pattern(route_table[i].pattern, req->path, &id)) {
            continue;
        }
        path_known = true;
        allow_add(out->allow, sizeof(out->allow), route_table[i].method);
        if (!def && strcmp(route_table[i].method, req->method) == 0) {
            def = &route_table[i];
            path_id = id;
        }
    }
    if (!path_known) {
        out->allow[0] = '\0';
        return route_fail(out, 404, "no such resource: %.100s", req->path);
    }
    if (!def) {
        return route_fail(out, 405, "%.16s is not allowed on %.100s (allowed: %s)", req->method,
                          req->path, out->allow);
    }
    out->allow[0] = '\0';
    out->pattern = def->pattern;
    out->access = def->access;
    out->action = def->action;
    out->stream = def->stream;
    out->coalesce = def->coalesce;
    if (req->body_len > GATEWAY_BODY_MAX) {
        return route_fail(out, 413, "body is over %d bytes", GATEWAY_BODY_MAX);
    }

    int64_t query_value = 0;
    bool query_given = false;
    if (!check_query(def, req->query, &query_value, &query_given, out)) {
        return HB_OK;
    }
    if (!def->component) {
        out->kind = GATEWAY_ROUTE_LOCAL;
        out->local = def->local;
        out->status = 200;
        return HB_OK;
    }

    out->data = cJSON_CreateObject();
    if (!out->data) {
        goto nomem;
    }
    if (def->id_field) {
        if (!cJSON_AddNumberToObject(out->data, def->id_field, (double)path_id)) {
            goto nomem;
        }
        if (def->id_is_order) {
            out->order_id = path_id;
        }
    }
    if (query_given) {
        if (!cJSON_AddNumberToObject(out->data, def->query_field, (double)query_value)) {
            goto nomem;
        }
        if (strcmp(def->query_field, "orderId") == 0) {
            out->order_id = query_value;
        }
    }
    if (def->body != BODY_IGNORED) {
        if (take_body(def, req, out) != HB_OK) {
            goto nomem;
        }
        if (out->status != 0) {
            return HB_OK; /* the body was refused */
        }
    }
    out->kind = GATEWAY_ROUTE_COMMAND;
    out->status = 0;
    out->component = def->component;
    out->command = def->command;
    return HB_OK;
nomem:
    gateway_route_clear(out);
    return HB_ERR_NOMEM;
}

size_t gateway_route_count(void)
{
    return ROUTE_COUNT;
}

bool gateway_route_describe(size_t i, struct gateway_route_info *out)
{
    if (i >= ROUTE_COUNT || !out) {
        return false;
    }
    const struct route_def *def = &route_table[i];
    *out = (struct gateway_route_info){
        .method = def->method,
        .pattern = def->pattern,
        .component = def->component,
        .command = def->command,
        .local_answer = def->local,
        .access = def->access,
        .action = def->action,
        .stream = def->stream,
        .id_field = def->id_field,
        .query_field = def->query_field,
        .query_is_token = query_is_token(def),
        .has_body = def->body != BODY_IGNORED,
        .local = def->component == NULL,
        .coalesce = def->coalesce,
    };
    return true;
}

bool gateway_route_lookup(const char *method, const char *path, struct gateway_route_info *out)
{
    if (!method || !path || !out) {
        return false;
    }
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        int64_t id = 0;
        if (strcmp(route_table[i].method, method) == 0 &&
            match_pattern(route_table[i].pattern, path, &id)) {
            return gateway_route_describe(i, out);
        }
    }
    return false;
}

bool gateway_route_coalesces(const char *component, const char *command)
{
    for (size_t i = 0; component && command && i < ROUTE_COUNT; i++) {
        const struct route_def *def = &route_table[i];
        if (def->component && strcmp(def->component, component) == 0 &&
            strcmp(def->command, command) == 0) {
            return def->coalesce;
        }
    }
    return false;
}

void gateway_route_clear(struct gateway_route *route)
{
    if (!route) {
        return;
    }
    cJSON_Delete(route->data);
    memset(route, 0, sizeof(*route));
}
