/* Compact JWT (HS256) signing and verification, and the per-route role rules. */
#include "auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hausbus/envelope.h"

#define SIGNATURE_LEN 32 /* HMAC-SHA256 */
#define ROLE_NAME_MAX 16
/* The one header we write; others are accepted if they say the same (alg HS256). */
#define TOKEN_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes len bytes as unpadded base64url into out (cap bytes, NUL-terminated).
 * Returns false, out untouched, when the result and its NUL do not fit. */
static bool b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap,
                          size_t *out_len)
{
    size_t need = len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
    if (need >= cap) {
        return false;
    }
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = b64url_alphabet[(acc >> bits) & 63u];
        }
        acc &= (1u << bits) - 1u;
    }
    if (bits > 0) {
        out[n++] = b64url_alphabet[(acc << (6 - bits)) & 63u];
    }
    out[n] = '\0';
    *out_len = n;
    return true;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

/* Decodes len characters of unpadded base64url into out (cap bytes). Returns false for a
 * character outside the alphabet (padding included), a length of 4n+1, unused trailing
 * bits that are not zero (so every byte string has exactly one spelling), or a result
 * over cap bytes. */
static bool b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                          size_t *out_len)
{
    if (len % 4 == 1) {
        return false;
    }
    size_t need = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    if (need > cap) {
        return false;
    }
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int value = b64url_value(in[i]);
        if (value < 0) {
            return false;
        }
        acc = (acc << 6) | (uint32_t)value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)((acc >> bits) & 0xffu);
        }
        acc &= (1u << bits) - 1u;
    }
    if (acc != 0) {
        return false;
    }
    *out_len = n;
    return true;
}

/* sub goes into logs and JSON unescaped: keep it to a small, harmless alphabet. */
static bool sub_is_valid(const char *sub)
{
    size_t len = strlen(sub);
    if (len == 0 || len > GATEWAY_AUTH_SUB_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = sub[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

enum gateway_role gateway_role_parse(const char *name)
{
    if (!name) {
        return GATEWAY_ROLE_NONE;
    }
    if (strcmp(name, "customer") == 0) {
        return GATEWAY_ROLE_CUSTOMER;
    }
    if (strcmp(name, "brand") == 0) {
        return GATEWAY_ROLE_BRAND;
    }
    if (strcmp(name, "admin") == 0) {
        return GATEWAY_ROLE_ADMIN;
    }
    return GATEWAY_ROLE_NONE;
}

const char *gateway_role_name(enum gateway_role role)
{
    switch (role) {
    case GATEWAY_ROLE_CUSTOMER:
        return "customer";
    case GATEWAY_ROLE_BRAND:
        return "brand";
    case GATEWAY_ROLE_ADMIN:
        return "admin";
    case GATEWAY_ROLE_NONE:
        break;
    }
    return "none";
}

hb_err_t gateway_auth_key_set(struct gateway_auth_key *key, const void *secret, size_t len)
{
    if (!key) {
        return HB_ERR_INVAL;
    }
    OPENSSL_cleanse(key, sizeof(*key));
    if (!secret || len < GATEWAY_AUTH_SECRET_MIN || len > GATEWAY_AUTH_SECRET_MAX) {
        return HB_ERR_INVAL;
    }
    memcpy(key->bytes, secret, len);
    key->len = len;
    return HB_OK;
}

static bool key_is_set(const struct gateway_auth_key *key)
{
    return key && key->len >= GATEWAY_AUTH_SECRET_MIN && key->len <= GATEWAY_AUTH_SECRET_MAX;
}

/* HMAC-SHA256 of len bytes of data. Returns false when libcrypto fails. */
static bool hmac_sha256(const struct gateway_auth_key *key, const char *data, size_t len,
                        unsigned char mac[SIGNATURE_LEN])
{
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)data, len, mac,
              &mac_len)) {
        return false;
    }
    return mac_len == SIGNATURE_LEN;
}

hb_err_t gateway_auth_sign(const struct gateway_auth_key *key, const struct gateway_claims *claims,
                           char *out, size_t cap)
{
    if (!out || cap == 0) {
        return HB_ERR_INVAL;
    }
    out[0] = '\0';
    if (!key_is_set(key) || !claims || claims->role == GATEWAY_ROLE_NONE ||
        !sub_is_valid(claims->sub) || claims->exp < 1 || claims->exp > GATEWAY_ID_MAX ||
        (claims->role == GATEWAY_ROLE_CUSTOMER &&
         (claims->uid < 1 || claims->uid > GATEWAY_ID_MAX))) {
        return HB_ERR_INVAL;
    }
    /* sub is from a safe alphabet and the numbers are integers, so plain formatting
     * gives valid JSON. */
    char payload[GATEWAY_AUTH_SUB_MAX + 128];
    int n;
    if (claims->role == GATEWAY_ROLE_CUSTOMER) {
        n = snprintf(payload, sizeof(payload),
                     "{\"sub\":\"%s\",\"role\":\"%s\",\"uid\":%" PRId64 ",\"exp\":%" PRId64 "}",
                     claims->sub, gateway_role_name(claims->role), claims->uid, claims->exp);
    } else {
        n = snprintf(payload, sizeof(payload),
                     "{\"sub\":\"%s\",\"role\":\"%s\",\"exp\":%" PRId64 "}", claims->sub,
                     gateway_role_name(claims->role), claims->exp);
    }
    if (n < 0 || (size_t)n >= sizeof(payload)) {
        return HB_ERR_INVAL;
    }

    size_t used = 0;
    size_t part = 0;
    if (!b64url_encode((const unsigned char *)TOKEN_HEADER, strlen(TOKEN_HEADER), out, cap,
                       &part)) {
        goto too_large;
    }
    used = part;
    if (used + 1 >= cap) {
        goto too_large;
    }
    out[used++] = '.';
    if (!b64url_encode((const unsigned char *)payload, (size_t)n, out + used, cap - used, &part)) {
        goto too_large;
    }
    used += part;
    unsigned char mac[SIGNATURE_LEN];
    if (!hmac_sha256(key, out, used, mac)) {
        out[0] = '\0';
        return HB_ERR_IO;
    }
    if (used + 1 >= cap) {
        goto too_large;
    }
    out[used++] = '.';
    if (!b64url_encode(mac, sizeof(mac), out + used, cap - used, &part)) {
        goto too_large;
    }
    return HB_OK;
too_large:
    out[0] = '\0';
    return HB_ERR_TOO_LARGE;
}

/* Decodes one base64url part of a token and parses it as a JSON object. Returns NULL
 * when it is not one; allocation failure looks the same, and refusing the token is the
 * safe answer to both. */
static cJSON *decode_json_part(const char *text, size_t len)
{
    unsigned char raw[GATEWAY_AUTH_TOKEN_MAX];
    size_t raw_len = 0;
    if (len == 0 || !b64url_decode(text, len, raw, sizeof(raw), &raw_len) || raw_len == 0) {
        return NULL;
    }
    cJSON *root = gateway_json_parse((const char *)raw, raw_len);
    if (root && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Checks the JOSE header: alg HS256, typ JWT when present, no crit (we understand no
 * extension, and RFC 7515 says a token naming one we do not know is refused). */
static const char *check_header(const cJSON *header)
{
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(header, "alg");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(header, "typ");
    if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0) {
        return "token alg is not HS256";
    }
    if (typ && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0)) {
        return "token typ is not JWT";
    }
    if (cJSON_GetObjectItemCaseSensitive(header, "crit")) {
        return "token header has crit extensions";
    }
    return NULL;
}

/* Reads the claims sign() writes (and an optional nbf) from payload into out and checks
 * them against now_s. Returns NULL when they hold, else why not. */
static const char *read_claims(const cJSON *payload, int64_t now_s, struct gateway_claims *out)
{
    const char *role = NULL;
    const char *sub = NULL;
    if (hb_json_str(payload, "role", ROLE_NAME_MAX, &role) != HB_OK ||
        (out->role = gateway_role_parse(role)) == GATEWAY_ROLE_NONE) {
        return "token role is missing or unknown";
    }
    if (hb_json_str(payload, "sub", GATEWAY_AUTH_SUB_MAX, &sub) != HB_OK || !sub_is_valid(sub)) {
        return "token sub is missing or malformed";
    }
    snprintf(out->sub, sizeof(out->sub), "%s", sub);
    if (hb_json_int(payload, "exp", 1, GATEWAY_ID_MAX, &out->exp) != HB_OK) {
        return "token exp is missing or malformed";
    }
    if (out->role == GATEWAY_ROLE_CUSTOMER) {
        if (hb_json_int(payload, "uid", 1, GATEWAY_ID_MAX, &out->uid) != HB_OK) {
            return "customer token has no valid uid";
        }
    } else {
        out->uid = 0; /* only a customer is bound to a user */
    }
    if (cJSON_GetObjectItemCaseSensitive(payload, "nbf")) {
        int64_t nbf = 0;
        if (hb_json_int(payload, "nbf", 0, GATEWAY_ID_MAX, &nbf) != HB_OK) {
            return "token nbf is malformed";
        }
        if (nbf > now_s + GATEWAY_AUTH_SKEW_S) {
            return "token is not valid yet";
        }
    }
    if (now_s >= out->exp + GATEWAY_AUTH_SKEW_S) {
        return "token has expired";
    }
    return NULL;
}

hb_err_t gateway_auth_verify(const struct gateway_auth_key *key, const char *token, size_t len,
                             int64_t now_s, struct gateway_claims *out, const char **reason)
{
    const char *why = NULL;
    hb_err_t rc = HB_ERR_DECODE;
    cJSON *header = NULL;
    cJSON *payload = NULL;
    if (out) {
        memset(out, 0, sizeof(*out));
    }
    if (!out || !key_is_set(key) || (!token && len > 0)) {
        rc = HB_ERR_INVAL;
        why = "token cannot be checked";
        goto err;
    }
    if (len == 0) {
        why = "token is empty";
        goto err;
    }
    if (len > GATEWAY_AUTH_TOKEN_MAX) {
        rc = HB_ERR_TOO_LARGE;
        why = "token is too long";
        goto err;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        why = "token is not three dot-separated parts";
        goto err;
    }
    /* The signature first, so that only text we signed reaches the JSON parser. */
    unsigned char given[SIGNATURE_LEN + 3];
    size_t given_len = 0;
    unsigned char expected[SIGNATURE_LEN];
    const char *sig = dot2 + 1;
    if (!b64url_decode(sig, len - (size_t)(sig - token), given, sizeof(given), &given_len) ||
        given_len != SIGNATURE_LEN) {
        why = "token signature is malformed";
        goto err;
    }
    if (!hmac_sha256(key, token, (size_t)(dot2 - token), expected)) {
        rc = HB_ERR_IO;
        why = "token cannot be checked";
        goto err;
    }
    if (CRYPTO_memcmp(given, expected, SIGNATURE_LEN) != 0) {
        why = "token signature does not match";
        goto err;
    }
    header = decode_json_part(token, (size_t)(dot1 - token));
    if (!header) {
        why = "token header is not a base64url JSON object";
        goto err;
    }
    why = check_header(header);
    if (why) {
        goto err;
    }
    payload = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload) {
        why = "token payload is not a base64url JSON object";
        goto err;
    }
    why = read_claims(payload, now_s, out);
    if (why) {
        goto err;
    }
    cJSON_Delete(header);
    cJSON_Delete(payload);
    return HB_OK;
err:
    cJSON_Delete(header);
    cJSON_Delete(payload);
    if (out) {
        memset(out, 0, sizeof(*out));
    }
    if (reason) {
        *reason = why;
    }
    return rc;
}

bool gateway_auth_bearer(const char *header, const char **token, size_t *len)
{
    static const char scheme[] = "Bearer";
    size_t scheme_len = sizeof(scheme) - 1;
    if (!header || strncasecmp(header, scheme, scheme_len) != 0 || header[scheme_len] != ' ') {
        return false;
    }
    const char *start = header + scheme_len;
    while (*start == ' ') {
        start++;
    }
    size_t n = strlen(start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || memchr(start, ' ', n) || memchr(start, '\t', n)) {
        return false;
    }
    *token = start;
    *len = n;
    return true;
}

bool gateway_auth_query_token(const char *method, const char *path, const char *query,
                              const char **token, size_t *len)
{
    if (!method || !path || !query || !token || !len || strcmp(method, "GET") != 0 ||
        (strcmp(path, "/board") != 0 && strcmp(path, "/board/events") != 0)) {
        return false;
    }
    static const char key[] = "token=";
    for (const char *p = query; *p != '\0';) {
        size_t pair_len = strcspn(p, "&");
        if (pair_len > strlen(key) && strncmp(p, key, strlen(key)) == 0) {
            *token = p + strlen(key);
            *len = pair_len - strlen(key);
            return true;
        }
        p += pair_len;
        if (*p == '&') {
            p++;
        }
    }
    return false;
}

bool gateway_auth_needs_token(const char *method, const char *path)
{
    /* Public: what a load balancer and an API client need before they hold a token. */
    return !(method && path && strcmp(method, "GET") == 0 &&
             (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
              strcmp(path, "/openapi.json") == 0));
}

enum rule {
    RULE_ANY_ROLE,  /* every valid token */
    RULE_ADMIN,     /* admin only */
    RULE_BRAND,     /* brand only ("the brand role alone", issue 3) */
    RULE_STAFF,     /* brand or admin */
    RULE_OWN_USER,  /* a customer for the userId of the request (path, query or body), or admin */
    RULE_OWN_ORDER, /* the customer whose order the path id names, or admin */
};

struct rule_def {
    const char *component;
    const char *command;
    enum rule rule;
    const char *action; /* for 403 messages: "<action> is for ..." */
};

/* One row per COMMAND route of routes.c; a command without a row is refused. */
static const struct rule_def rule_table[] = {
    {"product", "list", RULE_ANY_ROLE, "listing products"},
    {"product", "get", RULE_ANY_ROLE, "reading a product"},
    {"product", "create", RULE_ADMIN, "creating products"},
    {"order", "place", RULE_OWN_USER, "placing an order"},
    {"order", "list", RULE_OWN_USER, "listing orders"},
    {"order", "get", RULE_OWN_ORDER, "reading an order"},
    {"order", "cancel", RULE_OWN_ORDER, "cancelling an order"},
    {"delivery", "list", RULE_STAFF, "listing deliveries"},
    {"delivery", "get", RULE_STAFF, "reading a delivery"},
    {"delivery", "confirm", RULE_BRAND, "confirming a delivery"},
    {"delivery", "start", RULE_BRAND, "starting a delivery"},
    {"delivery", "complete", RULE_BRAND, "completing a delivery"},
    {"payment", "list", RULE_ADMIN, "listing payments"},
    {"view", "mypage", RULE_OWN_USER, "reading a mypage"},
    {"notification", "list", RULE_OWN_USER, "listing notifications"},
};

#define RULE_COUNT (sizeof(rule_table) / sizeof(rule_table[0]))

static void decide_forbidden(struct gateway_auth_decision *out, const char *reason)
{
    out->verdict = GATEWAY_AUTH_FORBIDDEN;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

void gateway_auth_decide(const struct gateway_route *route, const struct gateway_claims *claims,
                         struct gateway_auth_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = GATEWAY_AUTH_ALLOW;
    if (route && route->kind == GATEWAY_ROUTE_LOCAL &&
        (route->local == GATEWAY_LOCAL_HEALTH || route->local == GATEWAY_LOCAL_OPENAPI)) {
        return;
    }
    if (!claims || claims->role == GATEWAY_ROLE_NONE) {
        out->verdict = GATEWAY_AUTH_UNAUTHENTICATED;
        snprintf(out->reason, sizeof(out->reason), "a bearer token is required");
        return;
    }
    if (!route) {
        decide_forbidden(out, "no such request");
        return;
    }
    if (route->kind == GATEWAY_ROUTE_ERROR) {
        return;
    }
    if (route->kind == GATEWAY_ROUTE_LOCAL) {
        /* Every other page the gateway serves itself (GET /metrics, the live board: every
         * order and process) is for operators. */
        if (claims->role != GATEWAY_ROLE_ADMIN) {
            snprintf(out->reason, sizeof(out->reason), "%s is for the admin role only",
                     route->pattern ? route->pattern : "this page");
            out->verdict = GATEWAY_AUTH_FORBIDDEN;
        }
        return;
    }
    const struct rule_def *def = NULL;
    for (size_t i = 0; i < RULE_COUNT && route->component && route->command; i++) {
        if (strcmp(rule_table[i].component, route->component) == 0 &&
            strcmp(rule_table[i].command, route->command) == 0) {
            def = &rule_table[i];
            break;
        }
    }
    if (!def) {
        decide_forbidden(out, "no role may make this request");
        return;
    }
    enum gateway_role role = claims->role;
    if (role == GATEWAY_ROLE_ADMIN && def->rule != RULE_BRAND) {
        return;
    }
    int64_t id = 0;
    switch (def->rule) {
    case RULE_ANY_ROLE:
        return;
    case RULE_ADMIN:
        snprintf(out->reason, sizeof(out->reason), "%s is for the admin role only", def->action);
        break;
    case RULE_BRAND:
        if (role == GATEWAY_ROLE_BRAND) {
            return;
        }
        snprintf(out->reason, sizeof(out->reason), "%s is for the brand role only", def->action);
        break;
    case RULE_STAFF:
        if (role == GATEWAY_ROLE_BRAND) {
            return;
        }
        snprintf(out->reason, sizeof(out->reason), "%s is for the brand and admin roles",
                 def->action);
        break;
    case RULE_OWN_USER:
        if (role != GATEWAY_ROLE_CUSTOMER) {
            snprintf(out->reason, sizeof(out->reason),
                     "%s is for the customer it belongs to and the admin role", def->action);
            break;
        }
        if (hb_json_int(route->data, "userId", 1, GATEWAY_ID_MAX, &id) != HB_OK) {
            /* Without a userId the component answers for every user. */
            snprintf(out->reason, sizeof(out->reason),
                     "%s with a customer token needs your own userId (%" PRId64 ")",
                     def->action, claims->uid);
            break;
        }
        if (id != claims->uid) {
            snprintf(out->reason, sizeof(out->reason),
                     "%s for another user is not allowed; your userId is %" PRId64, def->action,
                     claims->uid);
            break;
        }
        return;
    case RULE_OWN_ORDER:
        if (role != GATEWAY_ROLE_CUSTOMER) {
            snprintf(out->reason, sizeof(out->reason),
                     "%s is for the customer it belongs to and the admin role", def->action);
            break;
        }
        if (hb_json_int(route->data, "id", 1, GATEWAY_ID_MAX, &id) != HB_OK) {
            snprintf(out->reason, sizeof(out->reason), "%s needs an order id", def->action);
            break;
        }
        out->verdict = GATEWAY_AUTH_CHECK_OWNER;
        out->order_id = id;
        out->owner_check_answers = strcmp(def->command, "get") == 0;
        return;
    }
    out->verdict = GATEWAY_AUTH_FORBIDDEN;
}

hb_err_t gateway_auth_order_owned(const struct gateway_claims *claims, const char *order_json,
                                  size_t len, bool *owned)
{
    if (!claims || !order_json || !owned) {
        return HB_ERR_INVAL;
    }
    *owned = false;
    cJSON *order = gateway_json_parse(order_json, len);
    int64_t user_id = 0;
    hb_err_t rc = HB_ERR_DECODE;
    if (cJSON_IsObject(order) &&
        hb_json_int(order, "userId", 1, GATEWAY_ID_MAX, &user_id) == HB_OK) {
        *owned = claims->role == GATEWAY_ROLE_CUSTOMER && user_id == claims->uid;
        rc = HB_OK;
    }
    cJSON_Delete(order);
    return rc;
}
