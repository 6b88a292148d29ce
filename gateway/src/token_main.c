/* hausbus-token: prints a bearer token for the gateway, signed with its secret. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "auth_settings.h"
#include "hausbus/log.h"

#define TTL_DEFAULT_S 3600
#define TTL_MAX_S (366LL * 24 * 3600)

static void usage(FILE *to)
{
    fprintf(to,
            "usage: hausbus-token --role customer|brand|admin [--uid USERID] [--sub NAME]\n"
            "                     [--ttl SECONDS]\n"
            "Prints a bearer token for the hausbus gateway, signed with the secret in\n"
            "HAUSBUS_AUTH_SECRET or HAUSBUS_AUTH_SECRET_FILE (the gateway's own).\n"
            "  --role  what the bearer may do (docs/SECURITY.md)\n"
            "  --uid   the userId a customer token is bound to (customers only, required)\n"
            "  --sub   who the bearer is, for the gateway's logs: 1..64 of [A-Za-z0-9._:@-]\n"
            "          (default user:<uid> for customers, else the role)\n"
            "  --ttl   seconds until it expires, 1..%lld (default %d)\n",
            TTL_MAX_S, TTL_DEFAULT_S);
}

/* Parses a decimal integer in [min, max]. Returns false for anything else. */
static bool parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (!text || text[0] == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

int main(int argc, char **argv)
{
    hb_log_init("token", getenv("HAUSBUS_LOG_LEVEL"));
    const char *role_name = NULL;
    const char *sub = NULL;
    int64_t uid = 0;
    int64_t ttl = TTL_DEFAULT_S;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (!value) {
            fprintf(stderr, "hausbus-token: %s needs a value\n", arg);
            usage(stderr);
            return 2;
        }
        if (strcmp(arg, "--role") == 0) {
            role_name = value;
        } else if (strcmp(arg, "--sub") == 0) {
            sub = value;
        } else if (strcmp(arg, "--uid") == 0) {
            if (!parse_int(value, 1, GATEWAY_ID_MAX, &uid)) {
                fprintf(stderr, "hausbus-token: --uid must be a positive integer\n");
                return 2;
            }
        } else if (strcmp(arg, "--ttl") == 0) {
            if (!parse_int(value, 1, TTL_MAX_S, &ttl)) {
                fprintf(stderr, "hausbus-token: --ttl must be 1..%lld seconds\n", TTL_MAX_S);
                return 2;
            }
        } else {
            fprintf(stderr, "hausbus-token: unknown option %s\n", arg);
            usage(stderr);
            return 2;
        }
        i++;
    }

    struct gateway_claims claims;
    memset(&claims, 0, sizeof(claims));
    claims.role = gateway_role_parse(role_name);
    if (claims.role == GATEWAY_ROLE_NONE) {
        fprintf(stderr, "hausbus-token: --role must be customer, brand or admin\n");
        return 2;
    }
    if ((claims.role == GATEWAY_ROLE_CUSTOMER) != (uid > 0)) {
        fprintf(stderr, "hausbus-token: a customer token needs --uid, other roles take none\n");
        return 2;
    }
    claims.uid = uid;
    claims.exp = (int64_t)time(NULL) + ttl;
    int n = sub ? snprintf(claims.sub, sizeof(claims.sub), "%s", sub)
          : claims.role == GATEWAY_ROLE_CUSTOMER
              ? snprintf(claims.sub, sizeof(claims.sub), "user:%" PRId64, uid)
              : snprintf(claims.sub, sizeof(claims.sub), "%s", gateway_role_name(claims.role));
    if (n < 0 || (size_t)n >= sizeof(claims.sub)) {
        fprintf(stderr, "hausbus-token: --sub is longer than %d bytes\n", GATEWAY_AUTH_SUB_MAX);
        return 2;
    }

    struct gateway_auth_key key;
    hb_err_t rc = gateway_auth_key_load(&key);
    if (rc == HB_ERR_NOT_FOUND) {
        fprintf(stderr, "hausbus-token: set HAUSBUS_AUTH_SECRET or HAUSBUS_AUTH_SECRET_FILE\n");
        return 1;
    }
    if (rc != HB_OK) {
        return 1; /* the loader said what is wrong */
    }
    char token[GATEWAY_AUTH_TOKEN_MAX + 1];
    rc = gateway_auth_sign(&key, &claims, token, sizeof(token));
    OPENSSL_cleanse(&key, sizeof(key));
    if (rc == HB_ERR_INVAL) {
        fprintf(stderr, "hausbus-token: --sub must be 1..%d of [A-Za-z0-9._:@-]\n",
                GATEWAY_AUTH_SUB_MAX);
        return 2;
    }
    if (rc != HB_OK) {
        fprintf(stderr, "hausbus-token: cannot sign: %s\n", hb_strerror(rc));
        return 1;
    }
    printf("%s\n", token);
    return fflush(stdout) == 0 ? 0 : 1;
}
