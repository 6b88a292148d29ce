/* Reads HAUSBUS_AUTH, HAUSBUS_AUTH_SECRET and HAUSBUS_AUTH_SECRET_FILE. */
#include "auth_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "hausbus/log.h"

#define HINT "set HAUSBUS_AUTH_SECRET or HAUSBUS_AUTH_SECRET_FILE (32 to 256 bytes), " \
             "or HAUSBUS_AUTH=open for local development"

/* Reads the first line of path (without its line end) into key. */
static hb_err_t key_from_file(const char *path, struct gateway_auth_key *key)
{
    char line[GATEWAY_AUTH_SECRET_MAX + 1]; /* one byte more shows a line is too long */
    FILE *f = fopen(path, "r");
    if (!f) {
        HB_LOGE(0, "cannot read HAUSBUS_AUTH_SECRET_FILE %.200s", path);
        return HB_ERR_INVAL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        /* Not refused: a mounted secret may come with group bits we cannot change. */
        HB_LOGW(0, "HAUSBUS_AUTH_SECRET_FILE %.200s is accessible to group or others; "
                   "chmod 600 it", path);
    }
    size_t n = fread(line, 1, sizeof(line), f);
    bool read_failed = ferror(f) != 0;
    fclose(f);
    /* The secret is everything before the first line end; a line longer than the buffer
     * comes out too long, and a NUL inside it would cut it short, so both are refused. */
    size_t len = 0;
    while (len < n && line[len] != '\n' && line[len] != '\r') {
        len++;
    }
    if (read_failed || memchr(line, '\0', len) != NULL) {
        len = 0;
    }
    hb_err_t rc = HB_OK;
    if (gateway_auth_key_set(key, line, len) != HB_OK) {
        HB_LOGE(0, "HAUSBUS_AUTH_SECRET_FILE %.200s: the first line must be %d to %d bytes",
                path, GATEWAY_AUTH_SECRET_MIN, GATEWAY_AUTH_SECRET_MAX);
        rc = HB_ERR_INVAL;
    }
    OPENSSL_cleanse(line, sizeof(line));
    return rc;
}

hb_err_t gateway_auth_key_load(struct gateway_auth_key *out)
{
    const char *secret = getenv("HAUSBUS_AUTH_SECRET");
    const char *path = getenv("HAUSBUS_AUTH_SECRET_FILE");
    bool from_env = secret && secret[0] != '\0';
    bool from_file = path && path[0] != '\0';
    memset(out, 0, sizeof(*out));
    if (from_env && from_file) {
        HB_LOGE(0, "set HAUSBUS_AUTH_SECRET or HAUSBUS_AUTH_SECRET_FILE, not both");
        return HB_ERR_INVAL;
    }
    if (from_file) {
        return key_from_file(path, out);
    }
    if (!from_env) {
        return HB_ERR_NOT_FOUND;
    }
    if (gateway_auth_key_set(out, secret, strlen(secret)) != HB_OK) {
        HB_LOGE(0, "HAUSBUS_AUTH_SECRET must be %d to %d bytes, got %zu",
                GATEWAY_AUTH_SECRET_MIN, GATEWAY_AUTH_SECRET_MAX, strlen(secret));
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

hb_err_t gateway_auth_settings_load(struct gateway_auth_settings *out)
{
    memset(out, 0, sizeof(*out));
    const char *mode = getenv("HAUSBUS_AUTH");
    if (mode && strcmp(mode, "open") == 0) {
        out->mode = GATEWAY_AUTH_MODE_OPEN;
        return HB_OK;
    }
    if (mode && mode[0] != '\0' && strcmp(mode, "on") != 0) {
        HB_LOGE(0, "HAUSBUS_AUTH must be \"on\" or \"open\", got \"%.32s\"", mode);
        return HB_ERR_INVAL;
    }
    out->mode = GATEWAY_AUTH_MODE_ON;
    hb_err_t rc = gateway_auth_key_load(&out->key);
    if (rc == HB_ERR_NOT_FOUND) {
        HB_LOGE(0, "no token secret for authentication: " HINT);
        rc = HB_ERR_INVAL;
    }
    if (rc != HB_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}
