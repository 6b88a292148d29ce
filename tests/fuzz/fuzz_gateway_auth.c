/* Fuzz target: the gateway's bearer-token verifier and Authorization header parser (auth.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gateway_auth: property failed: %s (line %d)\n", #cond,          \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define NOW 1800000000LL
#define TOKEN_CAP (4 * GATEWAY_AUTH_TOKEN_MAX)

static void b64url(const unsigned char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t c = 0; c < chars; c++) {
            out[n++] = abc[(v >> (18 - 6 * c)) & 63u];
        }
    }
    out[n] = '\0';
    *out_len = n;
}

/* The properties of one verification, whatever the outcome. */
static void check_verify(const struct gateway_auth_key *key, const char *token, size_t len)
{
    struct gateway_claims claims;
    memset(&claims, 0x5a, sizeof(claims));
    const char *why = NULL;
    hb_err_t rc = gateway_auth_verify(key, token, len, NOW, &claims, &why);
    if (rc == HB_OK) {
        CHECK(len <= GATEWAY_AUTH_TOKEN_MAX);
        CHECK(claims.role != GATEWAY_ROLE_NONE);
        CHECK(claims.exp + GATEWAY_AUTH_SKEW_S > NOW);
        CHECK(claims.role == GATEWAY_ROLE_CUSTOMER ? claims.uid >= 1 : claims.uid == 0);
        size_t sub_len = strnlen(claims.sub, sizeof(claims.sub));
        CHECK(sub_len >= 1 && sub_len <= GATEWAY_AUTH_SUB_MAX);
        /* What verified can be signed again and verifies to the same claims. */
        char again[GATEWAY_AUTH_TOKEN_MAX + 1];
        CHECK(gateway_auth_sign(key, &claims, again, sizeof(again)) == HB_OK);
        struct gateway_claims back;
        CHECK(gateway_auth_verify(key, again, strlen(again), NOW, &back, NULL) == HB_OK);
        CHECK(memcmp(&back, &claims, sizeof(back)) == 0);
    } else {
        CHECK(rc == HB_ERR_DECODE || rc == HB_ERR_TOO_LARGE);
        CHECK(why != NULL && why[0] != '\0');
        CHECK(strchr(why, '"') == NULL && strchr(why, '\\') == NULL);
        static const struct gateway_claims zero;
        CHECK(memcmp(&claims, &zero, sizeof(zero)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gateway_auth_key key;
    if (key.len == 0) {
        CHECK(gateway_auth_key_set(&key, SECRET, strlen(SECRET)) == HB_OK);
    }

    /* 1. The input as a token, and as an Authorization header. */
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    text[size] = '\0';
    check_verify(&key, text, size);
    const char *token = NULL;
    size_t token_len = 0;
    if (gateway_auth_bearer(text, &token, &token_len)) {
        CHECK(token >= text && token + token_len <= text + size && token_len > 0);
        CHECK(memchr(token, ' ', token_len) == NULL);
        check_verify(&key, token, token_len);
    }

    /* 2. "<header JSON>\n<payload JSON>", correctly signed, so the JSON and claim checks
     * behind the signature are reached too. */
    const char *newline = memchr(text, '\n', size);
    if (newline) {
        size_t header_len = (size_t)(newline - text);
        size_t payload_len = size - header_len - 1;
        char *signed_token = malloc(TOKEN_CAP);
        if (signed_token) {
            size_t n = 0;
            size_t part = 0;
            b64url((const unsigned char *)text, header_len, signed_token, TOKEN_CAP / 2, &part);
            n = part;
            signed_token[n++] = '.';
            b64url((const unsigned char *)newline + 1, payload_len, signed_token + n,
                   TOKEN_CAP / 2 - 64, &part);
            n += part;
            unsigned char mac[32];
            unsigned int mac_len = 0;
            if (HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)signed_token,
                     n, mac, &mac_len)) {
                signed_token[n++] = '.';
                b64url(mac, mac_len, signed_token + n, TOKEN_CAP - n, &part);
                n += part;
                check_verify(&key, signed_token, n);
            }
            free(signed_token);
        }
    }
    free(text);
    return 0;
}
