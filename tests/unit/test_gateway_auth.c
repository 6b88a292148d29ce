/* Unit tests of the gateway's bearer tokens, role rules and auth settings (gateway/src/auth*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "auth_settings.h"
#include "routes.h"

#define SECRET "hausbus-unit-test-secret-0123456789abcdef"
#define NOW 1800000000LL   /* "now" for every verification below */
#define LATER 4102444800LL /* 2100-01-01: an exp that has not come */

/* Made with Python's hmac and base64 modules, not with our code: another key order, spaces
 * and an extra claim (iat), as other JWT libraries write them. */
static const char python_token[] =
    "eyJ0eXAiOiAiSldUIiwgImFsZyI6ICJIUzI1NiJ9."
    "eyJpYXQiOiAxNzAwMDAwMDAwLCAidWlkIjogNDIsICJyb2xlIjogImN1c3RvbWVyIiwgImV4cCI6IDQxMDI0ND"
    "Q4MDAsICJzdWIiOiAiYWxpY2VAZXhhbXBsZSJ9."
    "kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ETQ";

static struct gateway_auth_key test_key(const char *secret)
{
    struct gateway_auth_key key;
    assert_int_equal(gateway_auth_key_set(&key, secret, strlen(secret)), HB_OK);
    return key;
}

/* The test's own base64url (unpadded) encoder, independent of the one under test. */
static void b64url(const unsigned char *in, size_t len, char *out, size_t cap)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t c = 0; c < chars; c++) {
            assert_true(n + 1 < cap);
            out[n++] = abc[(v >> (18 - 6 * c)) & 63u];
        }
    }
    out[n] = '\0';
}

/* Builds "<b64 header>.<b64 payload>.<b64 HMAC-SHA256 under secret>" from JSON texts. */
static void make_token(const char *header, const char *payload, const char *secret, char *out,
                       size_t cap)
{
    char h[2048];
    char p[2048];
    char s[64];
    unsigned char mac[32];
    unsigned int mac_len = 0;
    b64url((const unsigned char *)header, strlen(header), h, sizeof(h));
    b64url((const unsigned char *)payload, strlen(payload), p, sizeof(p));
    int n = snprintf(out, cap, "%s.%s", h, p);
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out,
                         (size_t)n, mac, &mac_len));
    b64url(mac, mac_len, s, sizeof(s));
    n = snprintf(out + n, cap - (size_t)n, ".%s", s);
    assert_true(n > 0);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static hb_err_t verify_text(const char *token, struct gateway_claims *claims, const char **why)
{
    struct gateway_auth_key key = test_key(SECRET);
    return gateway_auth_verify(&key, token, strlen(token), NOW, claims, why);
}

/* Checks that token is refused as rc with a reason that contains expected and could go
 * into a WWW-Authenticate quoted-string. */
static void expect_refused(const char *token, hb_err_t rc, const char *expected)
{
    struct gateway_claims claims;
    const char *why = NULL;
    hb_err_t got = verify_text(token, &claims, &why);
    if (got != rc) {
        fail_msg("token %.80s: expected %s, got %s (%s)", token, hb_strerror(rc),
                 hb_strerror(got), why ? why : "-");
    }
    assert_non_null(why);
    assert_null(strchr(why, '"'));
    assert_null(strchr(why, '\\'));
    if (expected && !strstr(why, expected)) {
        fail_msg("token %.80s: reason \"%s\" does not say \"%s\"", token, why, expected);
    }
    assert_int_equal(claims.role, GATEWAY_ROLE_NONE);
    assert_int_equal(claims.uid, 0);
}

/* A token signed with SECRET for payload under the standard header. */
static void expect_payload_refused(const char *payload, const char *expected)
{
    char token[2048];
    make_token(HS256, payload, SECRET, token, sizeof(token));
    expect_refused(token, HB_ERR_DECODE, expected);
}

static void signed_tokens_verify_with_their_claims(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    const struct gateway_claims cases[] = {
        {.role = GATEWAY_ROLE_CUSTOMER, .uid = 1001, .exp = NOW + 60, .sub = "user:1001"},
        {.role = GATEWAY_ROLE_CUSTOMER, .uid = GATEWAY_ID_MAX, .exp = LATER, .sub = "x"},
        {.role = GATEWAY_ROLE_BRAND, .uid = 0, .exp = NOW + 1, .sub = "brand.ops@example-1"},
        {.role = GATEWAY_ROLE_ADMIN, .uid = 0, .exp = GATEWAY_ID_MAX, .sub = "admin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char token[GATEWAY_AUTH_TOKEN_MAX + 1];
        assert_int_equal(gateway_auth_sign(&key, &cases[i], token, sizeof(token)), HB_OK);
        struct gateway_claims got;
        const char *why = "untouched";
        assert_int_equal(gateway_auth_verify(&key, token, strlen(token), NOW, &got, &why), HB_OK);
        assert_int_equal(got.role, cases[i].role);
        assert_int_equal(got.uid, cases[i].uid);
        assert_int_equal(got.exp, cases[i].exp);
        assert_string_equal(got.sub, cases[i].sub);
        assert_string_equal(why, "untouched"); /* only failures set a reason */
    }
}

static void token_from_another_jwt_implementation_verifies(void **state)
{
    (void)state;
    struct gateway_claims claims;
    assert_int_equal(verify_text(python_token, &claims, NULL), HB_OK);
    assert_int_equal(claims.role, GATEWAY_ROLE_CUSTOMER);
    assert_int_equal(claims.uid, 42);
    assert_int_equal(claims.exp, LATER);
    assert_string_equal(claims.sub, "alice@example");

    /* Its header, and a token of ours, in the compact form any JWT library reads. */
    struct gateway_auth_key key = test_key(SECRET);
    struct gateway_claims mine = {.role = GATEWAY_ROLE_CUSTOMER, .uid = 42, .exp = LATER,
                                  .sub = "alice@example"};
    char token[GATEWAY_AUTH_TOKEN_MAX + 1];
    char expected[GATEWAY_AUTH_TOKEN_MAX + 1];
    assert_int_equal(gateway_auth_sign(&key, &mine, token, sizeof(token)), HB_OK);
    make_token(HS256,
               "{\"sub\":\"alice@example\",\"role\":\"customer\",\"uid\":42,\"exp\":4102444800}",
               SECRET, expected, sizeof(expected));
    assert_string_equal(token, expected);
}

static void bad_signature_is_refused(void **state)
{
    (void)state;
    char token[sizeof(python_token)];
    snprintf(token, sizeof(token), "%s", python_token);
    /* Another character in the last position: the same length, other bits. */
    token[strlen(token) - 2] = token[strlen(token) - 2] == 'A' ? 'B' : 'A';
    expect_refused(token, HB_ERR_DECODE, "signature");

    char other[2048];
    make_token(HS256, "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800}",
               "another-secret-of-enough-length-0123456789", other, sizeof(other));
    expect_refused(other, HB_ERR_DECODE, "signature does not match");

    /* A signature of the wrong length, and none at all. */
    char shortened[sizeof(python_token)];
    snprintf(shortened, sizeof(shortened), "%.*s", (int)strlen(python_token) - 4, python_token);
    expect_refused(shortened, HB_ERR_DECODE, "signature");
    char unsigned_token[sizeof(python_token)];
    snprintf(unsigned_token, sizeof(unsigned_token), "%.*s",
             (int)(strrchr(python_token, '.') - python_token + 1), python_token);
    expect_refused(unsigned_token, HB_ERR_DECODE, "signature");
}

static void tampered_payload_is_refused(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    struct gateway_claims customer = {.role = GATEWAY_ROLE_CUSTOMER, .uid = 7, .exp = LATER,
                                      .sub = "user:7"};
    char token[GATEWAY_AUTH_TOKEN_MAX + 1];
    assert_int_equal(gateway_auth_sign(&key, &customer, token, sizeof(token)), HB_OK);

    /* The same header and signature around a payload that claims more. */
    const char *sig = strrchr(token, '.');
    char forged_payload[256];
    const char *claims = "{\"sub\":\"user:7\",\"role\":\"admin\",\"uid\":7,\"exp\":4102444800}";
    b64url((const unsigned char *)claims, strlen(claims), forged_payload, sizeof(forged_payload));
    char forged[GATEWAY_AUTH_TOKEN_MAX + 1];
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(strchr(token, '.') - token), token,
             forged_payload, sig);
    expect_refused(forged, HB_ERR_DECODE, "signature does not match");

    /* Another uid, and a later exp, the same way. */
    claims = "{\"sub\":\"user:7\",\"role\":\"customer\",\"uid\":8,\"exp\":4102444800}";
    b64url((const unsigned char *)claims, strlen(claims), forged_payload, sizeof(forged_payload));
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(strchr(token, '.') - token), token,
             forged_payload, sig);
    expect_refused(forged, HB_ERR_DECODE, "signature does not match");

    /* One flipped character anywhere in the signed part is caught. */
    size_t signed_len = (size_t)(sig - token);
    for (size_t i = 0; i < signed_len; i++) {
        char copy[GATEWAY_AUTH_TOKEN_MAX + 1];
        snprintf(copy, sizeof(copy), "%s", token);
        if (copy[i] == '.') {
            continue;
        }
        copy[i] = copy[i] == 'x' ? 'y' : 'x';
        struct gateway_claims got;
        assert_int_not_equal(gateway_auth_verify(&key, copy, strlen(copy), NOW, &got, NULL), HB_OK);
    }
}

static void expired_token_is_refused_after_the_skew(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    struct gateway_claims admin = {.role = GATEWAY_ROLE_ADMIN, .exp = NOW, .sub = "admin"};
    char token[GATEWAY_AUTH_TOKEN_MAX + 1];
    assert_int_equal(gateway_auth_sign(&key, &admin, token, sizeof(token)), HB_OK);
    struct gateway_claims got;
    const char *why = NULL;
    /* exp is "now" on our clock: still within the allowance for a slow clock here. */
    assert_int_equal(gateway_auth_verify(&key, token, strlen(token), NOW, &got, &why), HB_OK);
    assert_int_equal(gateway_auth_verify(&key, token, strlen(token), NOW + GATEWAY_AUTH_SKEW_S - 1,
                                         &got, &why),
                     HB_OK);
    assert_int_equal(gateway_auth_verify(&key, token, strlen(token), NOW + GATEWAY_AUTH_SKEW_S,
                                         &got, &why),
                     HB_ERR_DECODE);
    assert_string_equal(why, "token has expired");
    assert_int_equal(got.role, GATEWAY_ROLE_NONE);

    char old[2048];
    make_token(HS256, "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":1}", SECRET, old, sizeof(old));
    expect_refused(old, HB_ERR_DECODE, "expired");
}

static void token_not_valid_yet_is_refused(void **state)
{
    (void)state;
    char token[2048];
    char payload[256];
    snprintf(payload, sizeof(payload),
             "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":%lld,\"nbf\":%lld}", LATER,
             NOW + GATEWAY_AUTH_SKEW_S + 1);
    make_token(HS256, payload, SECRET, token, sizeof(token));
    expect_refused(token, HB_ERR_DECODE, "not valid yet");

    snprintf(payload, sizeof(payload),
             "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":%lld,\"nbf\":%lld}", LATER, NOW);
    make_token(HS256, payload, SECRET, token, sizeof(token));
    struct gateway_claims claims;
    assert_int_equal(verify_text(token, &claims, NULL), HB_OK);

    snprintf(payload, sizeof(payload),
             "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":%lld,\"nbf\":\"soon\"}", LATER);
    expect_payload_refused(payload, "nbf");
}

static void other_algorithms_are_refused(void **state)
{
    (void)state;
    const char *payload = "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800}";
    const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",  "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}",                   "{\"alg\":256}",
        "{\"alg\":\"HS256 \"}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char token[2048];
        /* Correctly signed with our key: only the header is wrong. */
        make_token(headers[i], payload, SECRET, token, sizeof(token));
        expect_refused(token, HB_ERR_DECODE, "alg");
    }

    /* The classic "alg":"none" token with no signature at all. */
    char h[128];
    char p[256];
    char token[512];
    const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    b64url((const unsigned char *)none, strlen(none), h, sizeof(h));
    b64url((const unsigned char *)payload, strlen(payload), p, sizeof(p));
    snprintf(token, sizeof(token), "%s.%s.", h, p);
    expect_refused(token, HB_ERR_DECODE, "signature");

    char other[2048];
    make_token("{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", payload, SECRET, other, sizeof(other));
    expect_refused(other, HB_ERR_DECODE, "typ");
    make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload, SECRET, other, sizeof(other));
    expect_refused(other, HB_ERR_DECODE, "crit");
    /* Without typ is fine. */
    make_token("{\"alg\":\"HS256\"}", payload, SECRET, other, sizeof(other));
    struct gateway_claims claims;
    assert_int_equal(verify_text(other, &claims, NULL), HB_OK);
}

static void malformed_tokens_are_refused(void **state)
{
    (void)state;
    const char *shapes[] = {
        "",
        "abc",
        "abc.def",
        "a.b.c.d",
        "..",
        "...",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9..kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ETQ",
        /* standard (not url) alphabet, padding, whitespace, a NUL-free control character */
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ+vA0uHjUPTpaJfhHPWh/wuH84q+pHFJApq6VQ/ETQ",
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ETQ=",
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ET Q",
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ET\x01",
        /* 4n+1 characters, and unused trailing bits that are not zero ("ETR" for "ETQ") */
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ETQA",
        "eyJhbGciOiJIUzI1NiJ9.e30.kQ-vA0uHjUPTpaJfhHPWh_wuH84q-pHFJApq6VQ_ETR",
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        expect_refused(shapes[i], HB_ERR_DECODE, NULL);
    }

    /* Correctly signed, but the parts are not JSON objects. */
    const char *bodies[][2] = {
        {"not json", "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800}"},
        {"[\"HS256\"]", "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800}"},
        {HS256, "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800} x"},
        {HS256, "[1,2,3]"},
        {HS256, "\"admin\""},
        {HS256, "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800"},
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char token[2048];
        make_token(bodies[i][0], bodies[i][1], SECRET, token, sizeof(token));
        expect_refused(token, HB_ERR_DECODE, "JSON object");
    }
}

static void tokens_without_the_claims_we_need_are_refused(void **state)
{
    (void)state;
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"admin\"}", "exp");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":\"4102444800\"}", "exp");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800.5}", "exp");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":-1}", "exp");
    expect_payload_refused("{\"sub\":\"a\",\"exp\":4102444800}", "role");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"root\",\"exp\":4102444800}", "role");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"Admin\",\"exp\":4102444800}", "role");
    expect_payload_refused("{\"sub\":\"a\",\"role\":[\"admin\"],\"exp\":4102444800}", "role");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"customer\",\"exp\":4102444800}", "uid");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"customer\",\"uid\":0,\"exp\":4102444800}",
                           "uid");
    expect_payload_refused(
        "{\"sub\":\"a\",\"role\":\"customer\",\"uid\":\"7\",\"exp\":4102444800}", "uid");
    expect_payload_refused(
        "{\"sub\":\"a\",\"role\":\"customer\",\"uid\":9007199254740994,\"exp\":4102444800}",
        "uid");
    expect_payload_refused("{\"role\":\"admin\",\"exp\":4102444800}", "sub");
    expect_payload_refused("{\"sub\":\"\",\"role\":\"admin\",\"exp\":4102444800}", "sub");
    expect_payload_refused("{\"sub\":\"a b\",\"role\":\"admin\",\"exp\":4102444800}", "sub");
    expect_payload_refused("{\"sub\":\"a\\\"b\",\"role\":\"admin\",\"exp\":4102444800}", "sub");
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"sub\":\"%065d\",\"role\":\"admin\",\"exp\":4102444800}",
             0);
    expect_payload_refused(payload, "sub");

    /* A brand or admin token's uid binds nothing, so it is dropped. */
    char token[2048];
    make_token(HS256, "{\"sub\":\"b\",\"role\":\"brand\",\"uid\":5,\"exp\":4102444800}", SECRET,
               token, sizeof(token));
    struct gateway_claims claims;
    assert_int_equal(verify_text(token, &claims, NULL), HB_OK);
    assert_int_equal(claims.role, GATEWAY_ROLE_BRAND);
    assert_int_equal(claims.uid, 0);
}

static void deep_or_non_utf8_token_parts_are_refused(void **state)
{
    (void)state;
    /* 700 levels fit in a token and are enough to overflow a 100 KiB worker stack in
     * cJSON; the shared parse stops at 64. */
    char payload[1024];
    int n = snprintf(payload, sizeof(payload),
                     "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800,\"x\":");
    assert_true(n > 0);
    memset(payload + n, '[', 65);
    memset(payload + n + 65, ']', 65);
    snprintf(payload + n + 130, sizeof(payload) - (size_t)n - 130, "}");
    expect_payload_refused(payload, "token payload is not a base64url JSON object");
    expect_payload_refused("{\"sub\":\"a\xff\",\"role\":\"admin\",\"exp\":4102444800}",
                           "token payload is not a base64url JSON object");
    expect_payload_refused("{\"sub\":\"a\",\"role\":\"admin\\u0000x\",\"exp\":4102444800}",
                           "token payload is not a base64url JSON object");
    char token[2048];
    make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\\ud800\"}",
               "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800}", SECRET, token,
               sizeof(token));
    expect_refused(token, HB_ERR_DECODE, "token header is not a base64url JSON object");
}

static void overlong_tokens_are_refused_unread(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    /* A valid token padded with an ignored claim to just over and just under the bound. */
    char payload[GATEWAY_AUTH_TOKEN_MAX];
    char token[2 * GATEWAY_AUTH_TOKEN_MAX];
    size_t lengths[2] = {0, 0};
    for (int pad = 600; pad < 800; pad++) {
        snprintf(payload, sizeof(payload),
                 "{\"sub\":\"a\",\"role\":\"admin\",\"exp\":4102444800,\"x\":\"%0*d\"}", pad, 0);
        make_token(HS256, payload, SECRET, token, sizeof(token));
        size_t len = strlen(token);
        struct gateway_claims claims;
        const char *why = NULL;
        hb_err_t rc = gateway_auth_verify(&key, token, len, NOW, &claims, &why);
        if (len <= GATEWAY_AUTH_TOKEN_MAX) {
            assert_int_equal(rc, HB_OK);
            lengths[0] = len;
        } else {
            assert_int_equal(rc, HB_ERR_TOO_LARGE);
            assert_string_equal(why, "token is too long");
            lengths[1] = len;
        }
    }
    assert_true(lengths[0] > GATEWAY_AUTH_TOKEN_MAX - 4); /* both sides of the bound were tried */
    assert_true(lengths[1] > GATEWAY_AUTH_TOKEN_MAX);

    /* Megabytes of dots and letters are refused by length alone. */
    size_t huge_len = 1u << 20;
    char *huge = malloc(huge_len + 1);
    assert_non_null(huge);
    memset(huge, 'A', huge_len);
    huge[10] = '.';
    huge[20] = '.';
    huge[huge_len] = '\0';
    expect_refused(huge, HB_ERR_TOO_LARGE, "too long");
    free(huge);
}

static void verify_checks_its_arguments(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    struct gateway_auth_key unset;
    memset(&unset, 0, sizeof(unset));
    struct gateway_claims claims;
    const char *why = NULL;
    assert_int_equal(gateway_auth_verify(&unset, python_token, strlen(python_token), NOW, &claims,
                                         &why),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_auth_verify(NULL, python_token, strlen(python_token), NOW, &claims,
                                         &why),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_auth_verify(&key, NULL, 5, NOW, &claims, &why), HB_ERR_INVAL);
    assert_int_equal(gateway_auth_verify(&key, python_token, strlen(python_token), NOW, NULL, &why),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_auth_verify(&key, NULL, 0, NOW, &claims, &why), HB_ERR_DECODE);
    /* Not NUL-terminated: only len bytes are looked at. */
    char copy[sizeof(python_token) + 8];
    memcpy(copy, python_token, strlen(python_token));
    memcpy(copy + strlen(python_token), ".garbage", 8);
    assert_int_equal(gateway_auth_verify(&key, copy, strlen(python_token), NOW, &claims, &why),
                     HB_OK);
}

static void key_length_is_bounded(void **state)
{
    (void)state;
    char secret[GATEWAY_AUTH_SECRET_MAX + 2];
    memset(secret, 'k', sizeof(secret));
    struct gateway_auth_key key;
    assert_int_equal(gateway_auth_key_set(&key, secret, GATEWAY_AUTH_SECRET_MIN - 1), HB_ERR_INVAL);
    assert_int_equal(key.len, 0);
    assert_int_equal(gateway_auth_key_set(&key, secret, GATEWAY_AUTH_SECRET_MIN), HB_OK);
    assert_int_equal(key.len, GATEWAY_AUTH_SECRET_MIN);
    assert_int_equal(gateway_auth_key_set(&key, secret, GATEWAY_AUTH_SECRET_MAX), HB_OK);
    assert_int_equal(gateway_auth_key_set(&key, secret, GATEWAY_AUTH_SECRET_MAX + 1), HB_ERR_INVAL);
    assert_int_equal(gateway_auth_key_set(&key, NULL, 40), HB_ERR_INVAL);
    assert_int_equal(gateway_auth_key_set(NULL, secret, 40), HB_ERR_INVAL);
}

static void sign_refuses_claims_it_could_not_verify(void **state)
{
    (void)state;
    struct gateway_auth_key key = test_key(SECRET);
    const struct gateway_claims bad[] = {
        {.role = GATEWAY_ROLE_NONE, .exp = LATER, .sub = "a"},
        {.role = GATEWAY_ROLE_CUSTOMER, .uid = 0, .exp = LATER, .sub = "a"},
        {.role = GATEWAY_ROLE_CUSTOMER, .uid = GATEWAY_ID_MAX + 1, .exp = LATER, .sub = "a"},
        {.role = GATEWAY_ROLE_ADMIN, .exp = 0, .sub = "a"},
        {.role = GATEWAY_ROLE_ADMIN, .exp = LATER, .sub = ""},
        {.role = GATEWAY_ROLE_ADMIN, .exp = LATER, .sub = "a\"b"},
        {.role = GATEWAY_ROLE_ADMIN, .exp = LATER, .sub = "with space"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char token[GATEWAY_AUTH_TOKEN_MAX + 1] = "x";
        assert_int_equal(gateway_auth_sign(&key, &bad[i], token, sizeof(token)), HB_ERR_INVAL);
        assert_string_equal(token, "");
    }
    struct gateway_claims good = {.role = GATEWAY_ROLE_ADMIN, .exp = LATER, .sub = "admin"};
    char small[40] = "x";
    assert_int_equal(gateway_auth_sign(&key, &good, small, sizeof(small)), HB_ERR_TOO_LARGE);
    assert_string_equal(small, "");
    struct gateway_auth_key unset;
    memset(&unset, 0, sizeof(unset));
    char token[GATEWAY_AUTH_TOKEN_MAX + 1];
    assert_int_equal(gateway_auth_sign(&unset, &good, token, sizeof(token)), HB_ERR_INVAL);
    /* Exactly the room it needs is enough. */
    assert_int_equal(gateway_auth_sign(&key, &good, token, sizeof(token)), HB_OK);
    size_t need = strlen(token) + 1;
    char exact[GATEWAY_AUTH_TOKEN_MAX + 1];
    assert_int_equal(gateway_auth_sign(&key, &good, exact, need), HB_OK);
    assert_string_equal(exact, token);
    assert_int_equal(gateway_auth_sign(&key, &good, exact, need - 1), HB_ERR_TOO_LARGE);
}

static void bearer_header_is_parsed_strictly(void **state)
{
    (void)state;
    const char *token = NULL;
    size_t len = 0;
    assert_true(gateway_auth_bearer("Bearer abc.def.ghi", &token, &len));
    assert_int_equal(len, 11);
    assert_memory_equal(token, "abc.def.ghi", 11);
    assert_true(gateway_auth_bearer("bearer  abc ", &token, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(token, "abc", 3);
    assert_true(gateway_auth_bearer("BEARER x\t", &token, &len));
    assert_int_equal(len, 1);

    const char *refused[] = {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer   ",
                             "Bearerabc", "Bearer a b", "Bearer\tabc", "Token abc", ""};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        token = NULL;
        if (gateway_auth_bearer(refused[i], &token, &len)) {
            fail_msg("\"%s\" was taken for a bearer token", refused[i]);
        }
        assert_null(token);
    }
    assert_false(gateway_auth_bearer(NULL, &token, &len));
}

static void only_get_healthz_readyz_and_openapi_go_without_a_token(void **state)
{
    (void)state;
    assert_false(gateway_auth_needs_token("GET", "/healthz"));
    assert_false(gateway_auth_needs_token("GET", "/openapi.json"));
    assert_false(gateway_auth_needs_token("GET", "/readyz"));
    assert_true(gateway_auth_needs_token("POST", "/readyz"));
    assert_true(gateway_auth_needs_token("POST", "/openapi.json"));
    assert_true(gateway_auth_needs_token("POST", "/healthz"));
    assert_true(gateway_auth_needs_token("HEAD", "/healthz"));
    assert_true(gateway_auth_needs_token("GET", "/healthz/"));
    assert_true(gateway_auth_needs_token("GET", "/Healthz"));
    assert_true(gateway_auth_needs_token("GET", "/products"));
    assert_true(gateway_auth_needs_token("GET", "/nothing"));
    assert_true(gateway_auth_needs_token(NULL, "/healthz"));
    assert_true(gateway_auth_needs_token("GET", NULL));
}

/* --- role rules: real requests through the real route table ------------------------ */

static const struct gateway_claims customer_7 = {
    .role = GATEWAY_ROLE_CUSTOMER, .uid = 7, .exp = LATER, .sub = "user:7"};
static const struct gateway_claims brand = {.role = GATEWAY_ROLE_BRAND, .exp = LATER,
                                            .sub = "brand"};
static const struct gateway_claims admin = {.role = GATEWAY_ROLE_ADMIN, .exp = LATER,
                                            .sub = "admin"};

/* Routes the request and returns the decision for claims (NULL: no token). */
static struct gateway_auth_decision decide(const char *method, const char *path, const char *query,
                                           const char *body, const struct gateway_claims *claims)
{
    struct gateway_request req = {
        .method = method,
        .path = path,
        .query = query,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    struct gateway_route route;
    assert_int_equal(gateway_route_request(&req, &route), HB_OK);
    struct gateway_auth_decision decision;
    memset(&decision, 0x5a, sizeof(decision));
    gateway_auth_decide(&route, claims, &decision);
    gateway_route_clear(&route);
    return decision;
}

static void expect_verdict(const char *method, const char *path, const char *query,
                           const char *body, const struct gateway_claims *claims,
                           enum gateway_auth_verdict verdict)
{
    struct gateway_auth_decision d = decide(method, path, query, body, claims);
    if (d.verdict != verdict) {
        fail_msg("%s %s?%s as %s: expected verdict %d, got %d (%s)", method, path,
                 query ? query : "", claims ? gateway_role_name(claims->role) : "nobody",
                 (int)verdict, (int)d.verdict, d.reason);
    }
    if (verdict == GATEWAY_AUTH_FORBIDDEN || verdict == GATEWAY_AUTH_UNAUTHENTICATED) {
        assert_true(strlen(d.reason) > 0);
    }
}

#define ALLOW GATEWAY_AUTH_ALLOW
#define DENY GATEWAY_AUTH_FORBIDDEN
#define UNAUTH GATEWAY_AUTH_UNAUTHENTICATED
#define OWNER GATEWAY_AUTH_CHECK_OWNER

static void healthz_needs_nothing_and_everything_else_needs_a_token(void **state)
{
    (void)state;
    expect_verdict("GET", "/healthz", NULL, NULL, NULL, ALLOW);
    expect_verdict("GET", "/products", NULL, NULL, NULL, UNAUTH);
    expect_verdict("GET", "/nothing", NULL, NULL, NULL, UNAUTH);      /* a 404 */
    expect_verdict("DELETE", "/orders/1", NULL, NULL, NULL, UNAUTH);  /* a 405 */
    expect_verdict("POST", "/products", NULL, "{", NULL, UNAUTH);     /* a 400 */
    struct gateway_claims nobody = {.role = GATEWAY_ROLE_NONE, .exp = LATER, .sub = "x"};
    expect_verdict("GET", "/products", NULL, NULL, &nobody, UNAUTH);
    /* With a token, routing errors are answered as they are: they tell nothing. */
    expect_verdict("GET", "/nothing", NULL, NULL, &customer_7, ALLOW);
    expect_verdict("DELETE", "/orders/1", NULL, NULL, &brand, ALLOW);
    expect_verdict("POST", "/products", NULL, "{", &customer_7, ALLOW);
    struct gateway_auth_decision d;
    gateway_auth_decide(NULL, &admin, &d);
    assert_int_equal(d.verdict, DENY);
}

static void metrics_are_for_admins_only(void **state)
{
    (void)state;
    assert_true(gateway_auth_needs_token("GET", "/metrics"));
    expect_verdict("GET", "/metrics", NULL, NULL, NULL, UNAUTH);
    expect_verdict("GET", "/metrics", NULL, NULL, &admin, ALLOW);
    expect_verdict("GET", "/metrics", NULL, NULL, &customer_7, DENY);
    expect_verdict("GET", "/metrics", NULL, NULL, &brand, DENY);
    struct gateway_auth_decision d = decide("GET", "/metrics", NULL, NULL, &brand);
    assert_non_null(strstr(d.reason, "admin"));
    /* The public pages stay public with any token or none. */
    expect_verdict("GET", "/openapi.json", NULL, NULL, NULL, ALLOW);
    expect_verdict("GET", "/healthz", NULL, NULL, &customer_7, ALLOW);
}

static void creating_products_is_refused_naming_the_admin_role(void **state)
{
    (void)state;
    const char *product = "{\"productName\":\"Sofa\",\"stock\":3,\"price\":100}";
    struct gateway_auth_decision d = decide("POST", "/products", NULL, product, &brand);
    assert_string_equal(d.reason, "creating products is for the admin role only");
    d = decide("GET", "/mypage/8", NULL, NULL, &customer_7);
    assert_string_equal(d.reason,
                        "reading a mypage for another user is not allowed; your userId is 7");
}

static void customers_list_only_their_own_orders(void **state)
{
    (void)state;
    expect_verdict("GET", "/orders", "userId=7", NULL, &customer_7, ALLOW);
    expect_verdict("GET", "/orders", "userId=8", NULL, &customer_7, DENY);
    /* Without userId the answer would hold every user's orders. */
    expect_verdict("GET", "/orders", NULL, NULL, &customer_7, DENY);
    struct gateway_auth_decision d = decide("GET", "/orders", NULL, NULL, &customer_7);
    assert_non_null(strstr(d.reason, "(7)"));
    expect_verdict("GET", "/orders", "userId=7", NULL, &brand, DENY);
    expect_verdict("GET", "/orders", "userId=8", NULL, &admin, ALLOW);
    expect_verdict("GET", "/orders", NULL, NULL, &admin, ALLOW);
}

static void one_order_is_for_its_owner_after_a_check(void **state)
{
    (void)state;
    struct gateway_auth_decision d = decide("GET", "/orders/42", NULL, NULL, &customer_7);
    assert_int_equal(d.verdict, OWNER);
    assert_int_equal(d.order_id, 42);
    assert_true(d.owner_check_answers);
    d = decide("POST", "/orders/43/cancel", NULL, NULL, &customer_7);
    assert_int_equal(d.verdict, OWNER);
    assert_int_equal(d.order_id, 43);
    assert_false(d.owner_check_answers);
    expect_verdict("GET", "/orders/42", NULL, NULL, &brand, DENY);
    expect_verdict("POST", "/orders/42/cancel", NULL, NULL, &brand, DENY);
    expect_verdict("GET", "/orders/42", NULL, NULL, &admin, ALLOW);
    expect_verdict("POST", "/orders/42/cancel", NULL, NULL, &admin, ALLOW);
}

static void deliveries_are_run_by_the_brand_alone(void **state)
{
    (void)state;
    const char *actions[] = {"/deliveries/5/confirm", "/deliveries/5/start",
                             "/deliveries/5/complete"};
    for (size_t i = 0; i < 3; i++) {
        expect_verdict("POST", actions[i], NULL, NULL, &brand, ALLOW);
        expect_verdict("POST", actions[i], NULL, NULL, &customer_7, DENY);
        expect_verdict("POST", actions[i], NULL, NULL, &admin, DENY);
        struct gateway_auth_decision d = decide("POST", actions[i], NULL, NULL, &admin);
        assert_non_null(strstr(d.reason, "brand role only"));
    }
    expect_verdict("GET", "/deliveries", NULL, NULL, &brand, ALLOW);
    expect_verdict("GET", "/deliveries", "orderId=3", NULL, &admin, ALLOW);
    expect_verdict("GET", "/deliveries/5", NULL, NULL, &brand, ALLOW);
    expect_verdict("GET", "/deliveries/5", NULL, NULL, &admin, ALLOW);
    expect_verdict("GET", "/deliveries", "orderId=3", NULL, &customer_7, DENY);
    expect_verdict("GET", "/deliveries/5", NULL, NULL, &customer_7, DENY);
}

static void the_board_alone_takes_a_token_from_the_query(void **state)
{
    (void)state;
    const char *token = NULL;
    size_t len = 0;
    assert_true(gateway_auth_query_token("GET", "/board/events", "token=a.b.c", &token, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(token, "a.b.c", 5);
    assert_true(gateway_auth_query_token("GET", "/board", "x=1&token=t.u.v&y", &token, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(token, "t.u.v", 5);
    token = NULL;
    assert_false(gateway_auth_query_token("GET", "/board", "token=", &token, &len));
    assert_false(gateway_auth_query_token("GET", "/board", "tokens=a", &token, &len));
    assert_false(gateway_auth_query_token("GET", "/board", NULL, &token, &len));
    assert_false(gateway_auth_query_token("GET", "/orders", "token=a.b.c", &token, &len));
    assert_false(gateway_auth_query_token("POST", "/board", "token=a.b.c", &token, &len));
    assert_null(token);
}

static void a_command_without_a_rule_is_forbidden(void **state)
{
    (void)state;
    struct gateway_route route;
    memset(&route, 0, sizeof(route));
    route.kind = GATEWAY_ROUTE_COMMAND;
    route.component = "order";
    route.command = "purge";
    struct gateway_auth_decision d;
    gateway_auth_decide(&route, &admin, &d);
    assert_int_equal(d.verdict, DENY);
    route.component = NULL;
    gateway_auth_decide(&route, &admin, &d);
    assert_int_equal(d.verdict, DENY);
}

/* --- the route table: every row has a rule, and the rules are what SECURITY.md says -- */

static void every_route_has_a_role_or_is_public(void **state)
{
    (void)state;
    for (size_t i = 0; i < gateway_route_count(); i++) {
        struct gateway_route_info row;
        assert_true(gateway_route_describe(i, &row));
        if (row.access == GATEWAY_ACCESS_UNSET || !row.action || row.action[0] == '\0') {
            fail_msg("%s %s has no role rule", row.method, row.pattern);
        }
        /* A public page takes no token, not even in its query. */
        if (row.access == GATEWAY_ACCESS_PUBLIC) {
            assert_false(row.query_is_token);
        }
    }
}

/* One expected verdict per role (nobody, customer 7, brand, admin) for one request. */
struct access_case {
    const char *method;
    const char *path;
    const char *query;
    const char *body;
    enum gateway_auth_verdict nobody, customer, brand, admin;
};

#define PLACE_OWN "{\"productId\":1,\"qty\":1,\"userId\":7}"
#define PLACE_OTHER "{\"productId\":1,\"qty\":1,\"userId\":8}"
#define PRODUCT "{\"productName\":\"Sofa\",\"stock\":3,\"price\":100}"

/* The role table of docs/SECURITY.md, one row per route at least. */
static const struct access_case access_cases[] = {
    {"GET", "/products", NULL, NULL, UNAUTH, ALLOW, ALLOW, ALLOW},
    {"POST", "/products", NULL, PRODUCT, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/products/3", NULL, NULL, UNAUTH, ALLOW, ALLOW, ALLOW},
    {"GET", "/orders", "userId=7", NULL, UNAUTH, ALLOW, DENY, ALLOW},
    {"GET", "/orders", "userId=8", NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/orders", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
    {"POST", "/orders", NULL, PLACE_OWN, UNAUTH, ALLOW, DENY, ALLOW},
    {"POST", "/orders", NULL, PLACE_OTHER, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/orders/42", NULL, NULL, UNAUTH, OWNER, DENY, ALLOW},
    {"POST", "/orders/42/cancel", NULL, NULL, UNAUTH, OWNER, DENY, ALLOW},
    {"GET", "/deliveries", "orderId=3", NULL, UNAUTH, DENY, ALLOW, ALLOW},
    {"GET", "/deliveries", NULL, NULL, UNAUTH, DENY, ALLOW, ALLOW},
    {"GET", "/deliveries/5", NULL, NULL, UNAUTH, DENY, ALLOW, ALLOW},
    {"POST", "/deliveries/5/confirm", NULL, NULL, UNAUTH, DENY, ALLOW, DENY},
    {"POST", "/deliveries/5/start", NULL, NULL, UNAUTH, DENY, ALLOW, DENY},
    {"POST", "/deliveries/5/complete", NULL, NULL, UNAUTH, DENY, ALLOW, DENY},
    {"GET", "/payments", "orderId=3", NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/payments", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/mypage/7", NULL, NULL, UNAUTH, ALLOW, DENY, ALLOW},
    {"GET", "/mypage/8", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/notifications", "userId=7", NULL, UNAUTH, ALLOW, DENY, ALLOW},
    {"GET", "/notifications", "userId=8", NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/notifications", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/healthz", NULL, NULL, ALLOW, ALLOW, ALLOW, ALLOW},
    {"GET", "/readyz", NULL, NULL, ALLOW, ALLOW, ALLOW, ALLOW},
    {"GET", "/openapi.json", NULL, NULL, ALLOW, ALLOW, ALLOW, ALLOW},
    {"GET", "/board", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/board", "token=a.b.c", NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/board/events", "token=a.b.c", NULL, UNAUTH, DENY, DENY, ALLOW},
    {"GET", "/metrics", NULL, NULL, UNAUTH, DENY, DENY, ALLOW},
};

static void every_route_is_decided_as_the_role_table_says(void **state)
{
    (void)state;
    bool covered[64] = {false};
    assert_true(gateway_route_count() <= sizeof(covered) / sizeof(covered[0]));
    for (size_t i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++) {
        const struct access_case *c = &access_cases[i];
        expect_verdict(c->method, c->path, c->query, c->body, NULL, c->nobody);
        expect_verdict(c->method, c->path, c->query, c->body, &customer_7, c->customer);
        expect_verdict(c->method, c->path, c->query, c->body, &brand, c->brand);
        expect_verdict(c->method, c->path, c->query, c->body, &admin, c->admin);
        assert_int_equal(gateway_auth_needs_token(c->method, c->path), c->nobody != ALLOW);
        for (size_t r = 0; r < gateway_route_count(); r++) {
            struct gateway_route_info row;
            struct gateway_route_info found;
            assert_true(gateway_route_describe(r, &row));
            assert_true(gateway_route_lookup(c->method, c->path, &found));
            covered[r] = covered[r] || (row.method == found.method && row.pattern == found.pattern);
        }
    }
    /* A route added to the table without a line here fails, so its rule gets reviewed. */
    for (size_t r = 0; r < gateway_route_count(); r++) {
        struct gateway_route_info row;
        assert_true(gateway_route_describe(r, &row));
        if (!covered[r]) {
            fail_msg("%s %s has no expected verdicts in access_cases", row.method, row.pattern);
        }
    }
}

static void lookup_finds_the_row_of_a_real_path(void **state)
{
    (void)state;
    struct gateway_route_info row;
    assert_true(gateway_route_lookup("POST", "/orders/12/cancel", &row));
    assert_string_equal(row.pattern, "/orders/{id}/cancel");
    assert_string_equal(row.command, "cancel");
    assert_int_equal(row.access, GATEWAY_ACCESS_OWN_ORDER);
    assert_false(gateway_route_lookup("DELETE", "/orders/12", &row));
    assert_false(gateway_route_lookup("GET", "/orders/012", &row));
    assert_false(gateway_route_lookup("GET", "/nothing", &row));
    assert_false(gateway_route_lookup(NULL, "/healthz", &row));
    assert_false(gateway_route_lookup("GET", "/healthz", NULL));
}

static void order_owner_is_read_from_the_order_record(void **state)
{
    (void)state;
    const char *order = "{\"id\":42,\"productId\":1,\"userId\":7,\"status\":\"PAID\"}";
    bool owned = false;
    assert_int_equal(gateway_auth_order_owned(&customer_7, order, strlen(order), &owned), HB_OK);
    assert_true(owned);
    const char *other = "{\"id\":42,\"userId\":8}";
    owned = true;
    assert_int_equal(gateway_auth_order_owned(&customer_7, other, strlen(other), &owned), HB_OK);
    assert_false(owned);
    owned = true;
    assert_int_equal(gateway_auth_order_owned(&brand, order, strlen(order), &owned), HB_OK);
    assert_false(owned);
    const char *bad[] = {"{\"id\":42}", "{\"userId\":\"7\"}", "[7]", "not json", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        owned = true;
        assert_int_equal(gateway_auth_order_owned(&customer_7, bad[i], strlen(bad[i]), &owned),
                         HB_ERR_DECODE);
        assert_false(owned);
    }
    assert_int_equal(gateway_auth_order_owned(NULL, order, strlen(order), &owned), HB_ERR_INVAL);
}

/* --- settings from the environment ------------------------------------------------ */

static int clear_auth_environment(void **state)
{
    (void)state;
    unsetenv("HAUSBUS_AUTH");
    unsetenv("HAUSBUS_AUTH_SECRET");
    unsetenv("HAUSBUS_AUTH_SECRET_FILE");
    return 0;
}

/* Writes text to a new temporary file; returns its path (static buffer). */
static const char *secret_file(const char *text, size_t len)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/hausbus-auth-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void without_a_secret_the_gateway_does_not_start_unless_open(void **state)
{
    (void)state;
    struct gateway_auth_settings settings;
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    setenv("HAUSBUS_AUTH", "on", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    setenv("HAUSBUS_AUTH", "off", 1); /* only "open" opens, and says so */
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    setenv("HAUSBUS_AUTH", "OPEN", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    setenv("HAUSBUS_AUTH", "open", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.mode, GATEWAY_AUTH_MODE_OPEN);
    struct gateway_auth_key key;
    assert_int_equal(gateway_auth_key_load(&key), HB_ERR_NOT_FOUND);
}

static void a_secret_turns_authentication_on(void **state)
{
    (void)state;
    struct gateway_auth_settings settings;
    setenv("HAUSBUS_AUTH_SECRET", SECRET, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.mode, GATEWAY_AUTH_MODE_ON);
    assert_int_equal(settings.key.len, strlen(SECRET));
    assert_memory_equal(settings.key.bytes, SECRET, strlen(SECRET));
    setenv("HAUSBUS_AUTH", "on", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.mode, GATEWAY_AUTH_MODE_ON);
    /* The token from elsewhere verifies with the key read from the environment. */
    struct gateway_claims claims;
    assert_int_equal(gateway_auth_verify(&settings.key, python_token, strlen(python_token), NOW,
                                         &claims, NULL),
                     HB_OK);

    setenv("HAUSBUS_AUTH_SECRET", "only-31-bytes-long-0123456789ab", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    assert_int_equal(settings.key.len, 0);
}

static void secret_file_gives_its_first_line(void **state)
{
    (void)state;
    struct gateway_auth_settings settings;
    const char *path = secret_file(SECRET "\nsecond line\n", strlen(SECRET) + 13);
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.key.len, strlen(SECRET));
    assert_memory_equal(settings.key.bytes, SECRET, strlen(SECRET));
    /* ... and not both. */
    setenv("HAUSBUS_AUTH_SECRET", SECRET, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    unsetenv("HAUSBUS_AUTH_SECRET");
    unlink(path);

    path = secret_file(SECRET "\r\n", strlen(SECRET) + 2);
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.key.len, strlen(SECRET));
    unlink(path);

    char longest[GATEWAY_AUTH_SECRET_MAX + 2];
    memset(longest, 's', sizeof(longest));
    path = secret_file(longest, GATEWAY_AUTH_SECRET_MAX); /* no line end at all */
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_OK);
    assert_int_equal(settings.key.len, GATEWAY_AUTH_SECRET_MAX);
    unlink(path);

    path = secret_file(longest, GATEWAY_AUTH_SECRET_MAX + 1);
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    unlink(path);

    path = secret_file("short\n", 6);
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    unlink(path);

    char with_nul[48];
    memset(with_nul, 'n', sizeof(with_nul));
    with_nul[3] = '\0';
    path = secret_file(with_nul, sizeof(with_nul));
    setenv("HAUSBUS_AUTH_SECRET_FILE", path, 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    unlink(path);

    setenv("HAUSBUS_AUTH_SECRET_FILE", "/nonexistent/hausbus-secret", 1);
    assert_int_equal(gateway_auth_settings_load(&settings), HB_ERR_INVAL);
    struct gateway_auth_key key;
    assert_int_equal(gateway_auth_key_load(&key), HB_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_tokens_verify_with_their_claims),
        cmocka_unit_test(token_from_another_jwt_implementation_verifies),
        cmocka_unit_test(bad_signature_is_refused),
        cmocka_unit_test(tampered_payload_is_refused),
        cmocka_unit_test(expired_token_is_refused_after_the_skew),
        cmocka_unit_test(token_not_valid_yet_is_refused),
        cmocka_unit_test(other_algorithms_are_refused),
        cmocka_unit_test(malformed_tokens_are_refused),
        cmocka_unit_test(tokens_without_the_claims_we_need_are_refused),
        cmocka_unit_test(deep_or_non_utf8_token_parts_are_refused),
        cmocka_unit_test(overlong_tokens_are_refused_unread),
        cmocka_unit_test(verify_checks_its_arguments),
        cmocka_unit_test(key_length_is_bounded),
        cmocka_unit_test(sign_refuses_claims_it_could_not_verify),
        cmocka_unit_test(bearer_header_is_parsed_strictly),
        cmocka_unit_test(only_get_healthz_readyz_and_openapi_go_without_a_token),
        cmocka_unit_test(healthz_needs_nothing_and_everything_else_needs_a_token),
        cmocka_unit_test(metrics_are_for_admins_only),
        cmocka_unit_test(creating_products_is_refused_naming_the_admin_role),
        cmocka_unit_test(customers_list_only_their_own_orders),
        cmocka_unit_test(one_order_is_for_its_owner_after_a_check),
        cmocka_unit_test(deliveries_are_run_by_the_brand_alone),
        cmocka_unit_test(the_board_alone_takes_a_token_from_the_query),
        cmocka_unit_test(a_command_without_a_rule_is_forbidden),
        cmocka_unit_test(every_route_has_a_role_or_is_public),
        cmocka_unit_test(every_route_is_decided_as_the_role_table_says),
        cmocka_unit_test(lookup_finds_the_row_of_a_real_path),
        cmocka_unit_test(order_owner_is_read_from_the_order_record),
        cmocka_unit_test_setup(without_a_secret_the_gateway_does_not_start_unless_open,
                               clear_auth_environment),
        cmocka_unit_test_setup(a_secret_turns_authentication_on, clear_auth_environment),
        cmocka_unit_test_setup(secret_file_gives_its_first_line, clear_auth_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
