/* Bearer tokens (compact JWT, HS256) and the gateway's role rules: pure, no I/O. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"
#include "routes.h"

#define GATEWAY_AUTH_TOKEN_MAX 1024 /* longer tokens are refused without being decoded */
#define GATEWAY_AUTH_SECRET_MIN 32  /* bytes; HS256 wants a key as long as its output */
#define GATEWAY_AUTH_SECRET_MAX 256
#define GATEWAY_AUTH_SUB_MAX 64     /* sub: 1..64 bytes of [A-Za-z0-9._:@-] */
#define GATEWAY_AUTH_SKEW_S 30      /* clock difference tolerated on exp and nbf */

enum gateway_role {
    GATEWAY_ROLE_NONE = 0,
    GATEWAY_ROLE_CUSTOMER, /* bound to one userId (claim uid) */
    GATEWAY_ROLE_BRAND,    /* the furniture brand: runs deliveries */
    GATEWAY_ROLE_ADMIN,    /* operators: products, and every customer's records */
};

/* The HMAC key; len is GATEWAY_AUTH_SECRET_MIN..GATEWAY_AUTH_SECRET_MAX once set. */
struct gateway_auth_key {
    unsigned char bytes[GATEWAY_AUTH_SECRET_MAX];
    size_t len;
};

/* What a verified token says about its bearer. */
struct gateway_claims {
    enum gateway_role role;
    int64_t uid; /* customer: the userId the token is bound to (>= 1); 0 for other roles */
    int64_t exp; /* expiry, unix seconds */
    char sub[GATEWAY_AUTH_SUB_MAX + 1];
};

enum gateway_auth_verdict {
    GATEWAY_AUTH_ALLOW,
    GATEWAY_AUTH_UNAUTHENTICATED, /* 401: no valid token */
    GATEWAY_AUTH_FORBIDDEN,       /* 403: valid token, not allowed */
    GATEWAY_AUTH_CHECK_OWNER,     /* allowed only if order order_id belongs to claims->uid */
};

struct gateway_auth_decision {
    enum gateway_auth_verdict verdict;
    int64_t order_id; /* CHECK_OWNER: the order to fetch with order.get */
    /* CHECK_OWNER: the route is order.get itself, so the reply fetched for the check is
     * the answer (no second command). */
    bool owner_check_answers;
    char reason[128]; /* UNAUTHENTICATED, FORBIDDEN: for {"error": ...} */
};

/* "customer", "brand", "admin" -> the role; anything else (NULL too) -> GATEWAY_ROLE_NONE. */
enum gateway_role gateway_role_parse(const char *name);

/* The role's name, "none" for GATEWAY_ROLE_NONE or an unknown value. Can't fail. */
const char *gateway_role_name(enum gateway_role role);

/* Copies len bytes of secret into key. Returns HB_ERR_INVAL (key cleared) when secret is
 * NULL or len is outside GATEWAY_AUTH_SECRET_MIN..GATEWAY_AUTH_SECRET_MAX. */
hb_err_t gateway_auth_key_set(struct gateway_auth_key *key, const void *secret, size_t len);

/* Signs claims as a compact token "<header>.<payload>.<signature>" into out (cap bytes,
 * NUL-terminated). The payload carries sub, role, exp, and uid for customers. Returns
 * HB_ERR_INVAL when an argument is NULL, the key is not set, the role is NONE, a customer
 * has no uid >= 1, sub is not 1..64 bytes of [A-Za-z0-9._:@-] or exp < 1; HB_ERR_TOO_LARGE
 * when the token does not fit cap; HB_ERR_IO when libcrypto fails. out is "" on failure. */
hb_err_t gateway_auth_sign(const struct gateway_auth_key *key, const struct gateway_claims *claims,
                           char *out, size_t cap);

/* Verifies token (len bytes, need not be NUL-terminated) at unix time now_s: the
 * signature first (constant-time compare), then the header (alg HS256, typ JWT if given,
 * no crit) and the claims sign() writes; exp and an optional nbf get GATEWAY_AUTH_SKEW_S
 * of leeway. Returns HB_OK with *out filled; HB_ERR_TOO_LARGE for a token over
 * GATEWAY_AUTH_TOKEN_MAX bytes; HB_ERR_DECODE when the token is malformed, badly signed,
 * expired or not valid yet (also when memory for parsing it ran out); HB_ERR_INVAL for
 * NULL arguments or an unset key; HB_ERR_IO when libcrypto fails. On failure *out is
 * cleared and *reason (if non-NULL) is a static, header-safe text (no quotes or
 * backslashes) saying why. Thread-safe. */
hb_err_t gateway_auth_verify(const struct gateway_auth_key *key, const char *token, size_t len,
                             int64_t now_s, struct gateway_claims *out, const char **reason);

/* Finds the token in an Authorization header value: "Bearer" (any case), one or more
 * spaces, then the token up to the end, which must not contain a space. Returns false
 * (and touches nothing) for NULL, another scheme or an empty token. */
bool gateway_auth_bearer(const char *header, const char **token, size_t *len);

/* For the routes whose row takes a query token only (GET /board and GET /board/events:
 * a browser opens them, and EventSource cannot send headers): finds the value of the
 * "token" parameter in query (the raw query string without '?'). Returns false (and
 * touches nothing) for another request, a NULL query or one without a token parameter.
 * The token is checked like a bearer token by gateway_auth_verify. */
bool gateway_auth_query_token(const char *method, const char *path, const char *query,
                              const char **token, size_t *len);

/* False only for the routes whose row is GATEWAY_ACCESS_PUBLIC (GET /healthz, GET
 * /readyz, GET /openapi.json), which anybody may fetch. Can't fail. */
bool gateway_auth_needs_token(const char *method, const char *path);

/* Decides whether the bearer of claims (NULL: no valid token) may have route answered,
 * from route->access (the route table's row; docs/SECURITY.md lists them). PUBLIC routes
 * are always allowed; ERROR routes too once there are claims (the error is the answer
 * and tells nothing); a route without access (UNSET) is forbidden. Can't fail; *out is
 * always filled. */
void gateway_auth_decide(const struct gateway_route *route, const struct gateway_claims *claims,
                         struct gateway_auth_decision *out);

/* For CHECK_OWNER: sets *owned to whether the order record (JSON text of len bytes, the
 * body of a 200 order.get reply) has userId == claims->uid. Returns HB_ERR_DECODE when the
 * text is not an object with a positive integer userId, HB_ERR_INVAL for NULL arguments. */
hb_err_t gateway_auth_order_owned(const struct gateway_claims *claims, const char *order_json,
                                  size_t len, bool *owned);

#endif
