/* Reads HAUSBUS_* environment variables into struct hb_config. */
#include "hausbus/config.h"

#include "hausbus/log.h"
#include "hausbus/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

hb_err_t hb_env_str(const char *name, const char *fallback, char *out, size_t cap)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        v = fallback;
    }
    int n = snprintf(out, cap, "%s", v);
    if (n < 0 || (size_t)n >= cap) {
        HB_LOGE(0, "%s is too long (max %zu bytes)", name, cap - 1);
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

hb_err_t hb_env_int(const char *name, int64_t fallback, int64_t min, int64_t max, int64_t *out)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = fallback;
        return HB_OK;
    }
    errno = 0;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        HB_LOGE(0, "%s must be an integer between %lld and %lld, got \"%.40s\"", name,
                (long long)min, (long long)max, v);
        return HB_ERR_INVAL;
    }
    *out = n;
    return HB_OK;
}

hb_err_t hb_env_secret(const char *name, char *out, size_t cap)
{
    char file_var[96];
    int n = snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    if (n < 0 || (size_t)n >= sizeof(file_var) || cap == 0) {
        return HB_ERR_INVAL;
    }
    const char *value = getenv(name);
    const char *path = getenv(file_var);
    if (value && *value && path && *path) {
        HB_LOGE(0, "set %s or %s, not both", name, file_var);
        return HB_ERR_INVAL;
    }
    if (!path || !*path) {
        return hb_env_str(name, "", out, cap);
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        HB_LOGE(0, "cannot read %s %.200s", file_var, path);
        return HB_ERR_INVAL;
    }
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    out[ok ? strcspn(out, "\r\n") : 0] = '\0';
    if (!*out) {
        HB_LOGE(0, "%s %.200s is empty", file_var, path);
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

hb_err_t hb_config_load(struct hb_config *cfg)
{
    int64_t mqtt_port, http_port, redrive, timeout;
    memset(cfg, 0, sizeof(*cfg));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_MQTT_HOST", "127.0.0.1", cfg->mqtt_host,
                             sizeof(cfg->mqtt_host)));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_DATA_DIR", "./var", cfg->data_dir, sizeof(cfg->data_dir)));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_LOG_LEVEL", "info", cfg->log_level,
                             sizeof(cfg->log_level)));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_MQTT_PORT", 1883, 1, 65535, &mqtt_port));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_HTTP_PORT", 8080, 1, 65535, &http_port));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_PAYMENT_LIMIT", 10000000, 0, INT64_MAX / 2,
                             &cfg->payment_limit));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_REDRIVE_MS", 5000, 50, 3600 * 1000, &redrive));
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_REQUEST_TIMEOUT_MS", 5000, 50, 600 * 1000, &timeout));
    int64_t commit_batch;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_COMMIT_BATCH", HB_COMMIT_BATCH_DEFAULT, 1,
                                HB_COMMIT_BATCH_MAX, &commit_batch));
    cfg->commit_batch = (int)commit_batch;
    int64_t bus_batch;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_BUS_BATCH", HB_BUS_BATCH_MAX, 1, HB_BUS_BATCH_MAX,
                                &bus_batch));
    cfg->bus_batch = (int)bus_batch;
    int64_t cache_kb;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_SQLITE_CACHE_KB", 256, 16, 65536, &cache_kb));
    cfg->sqlite_cache_kb = (int)cache_kb;
    int64_t wal_kb;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_SQLITE_WAL_KB", HB_SQLITE_WAL_KB_DEFAULT, 256, 1048576,
                                &wal_kb));
    cfg->sqlite_wal_kb = (int)wal_kb;
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_MQTT_USERNAME", "", cfg->mqtt_username,
                             sizeof(cfg->mqtt_username)));
    HB_RETURN_ON_ERR(hb_env_secret("HAUSBUS_MQTT_PASSWORD", cfg->mqtt_password,
                                   sizeof(cfg->mqtt_password)));
    HB_RETURN_ON_ERR(hb_env_secret("HAUSBUS_DATABASE_URL", cfg->database_url,
                                   sizeof(cfg->database_url)));
    char host[64] = "";
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }
    host[sizeof(host) - 1] = '\0';
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_INSTANCE", host[0] ? host : "1", cfg->instance,
                                sizeof(cfg->instance)));
    for (const char *c = cfg->instance; cfg->database_url[0] && *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.')) {
            HB_LOGE(0, "HAUSBUS_INSTANCE (or the host name) \"%s\" must be letters, digits,"
                       " '-', '_' or '.': it goes into MQTT client ids and topics",
                    cfg->instance);
            return HB_ERR_INVAL;
        }
    }
    if (cfg->database_url[0] && !hb_store_is_postgres(cfg->database_url)) {
        HB_LOGE(0, "HAUSBUS_DATABASE_URL must be a postgresql:// URL (unset: sqlite in"
                   " HAUSBUS_DATA_DIR)");
        return HB_ERR_INVAL;
    }
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_MQTT_CAFILE", "", cfg->mqtt_cafile,
                                sizeof(cfg->mqtt_cafile)));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_MQTT_CERTFILE", "", cfg->mqtt_certfile,
                             sizeof(cfg->mqtt_certfile)));
    HB_RETURN_ON_ERR(hb_env_str("HAUSBUS_MQTT_KEYFILE", "", cfg->mqtt_keyfile,
                             sizeof(cfg->mqtt_keyfile)));
    int64_t metrics_interval;
    HB_RETURN_ON_ERR(hb_env_int("HAUSBUS_METRICS_INTERVAL_MS", 5000, 0, 3600 * 1000,
                             &metrics_interval));
    cfg->metrics_interval_ms = (int)metrics_interval;
    cfg->mqtt_port = (int)mqtt_port;
    cfg->http_port = (int)http_port;
    cfg->redrive_ms = (int)redrive;
    cfg->request_timeout_ms = (int)timeout;
    return HB_OK;
}

hb_err_t hb_data_dir_create(const struct hb_config *cfg)
{
    /* mkdir's mode is cut by the umask; chmod sets it exactly, and only on a dir we made. */
    if (mkdir(cfg->data_dir, 0700) == 0 ? chmod(cfg->data_dir, 0700) != 0 : errno != EEXIST) {
        HB_LOGE(0, "cannot create data dir %s: %s", cfg->data_dir, strerror(errno));
        return HB_ERR_IO;
    }
    return HB_OK;
}
