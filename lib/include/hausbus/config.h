/* Configuration from HAUSBUS_* environment variables, same names in every process. */
#ifndef HAUSBUS_CONFIG_H
#define HAUSBUS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"

#define HB_COMMIT_BATCH_MAX 256 /* events one transaction applies at most */
/* Group commit: a component applies what is waiting, up to this many events, in one
 * transaction (docs/ARCHITECTURE.md, "Batches and group commit", says why 64). */
#define HB_COMMIT_BATCH_DEFAULT 64
#define HB_BUS_BATCH_MAX 64     /* the most events (or coalesced requests) in one bus message */

/* The WAL a component database grows to before sqlite checkpoints it into the database
 * file (KiB). 40 MiB checkpoints a tenth as often as sqlite's 4 MiB: every checkpoint
 * copies each page written since the last one and waits for two fsyncs, and under load the
 * same hot pages (outbox, inbox, orders) are written again and again in between
 * (docs/PERFORMANCE.md, "Issue 11, third pass"). */
#define HB_SQLITE_WAL_KB_DEFAULT 40960

struct hb_config {
    char mqtt_host[256];     /* HAUSBUS_MQTT_HOST, default 127.0.0.1 */
    int mqtt_port;           /* HAUSBUS_MQTT_PORT, default 1883 */
    int http_port;           /* HAUSBUS_HTTP_PORT, default 8080 */
    char data_dir[512];      /* HAUSBUS_DATA_DIR, default ./var */
    char log_level[16];      /* HAUSBUS_LOG_LEVEL, default info */
    int64_t payment_limit;   /* HAUSBUS_PAYMENT_LIMIT, default 10000000 */
    int redrive_ms;          /* HAUSBUS_REDRIVE_MS: re-drive a stalled saga step, default 5000 */
    int request_timeout_ms;  /* HAUSBUS_REQUEST_TIMEOUT_MS: gateway waits this long, default 5000 */
    int commit_batch;        /* HAUSBUS_COMMIT_BATCH: most events per transaction, 1..256,
                              * default HB_COMMIT_BATCH_DEFAULT */
    int bus_batch;           /* HAUSBUS_BUS_BATCH: most events per published message (and
                              * requests per coalesced one), 1..HB_BUS_BATCH_MAX, default 64;
                              * 1 sends everything alone */
    int sqlite_cache_kb;     /* HAUSBUS_SQLITE_CACHE_KB: page cache per database, 16..65536,
                              * default 256 */
    int sqlite_wal_kb;       /* HAUSBUS_SQLITE_WAL_KB: WAL grown between checkpoints,
                              * 256..1048576, default HB_SQLITE_WAL_KB_DEFAULT */
    char mqtt_username[128]; /* HAUSBUS_MQTT_USERNAME, "" for anonymous */
    char mqtt_password[256]; /* HAUSBUS_MQTT_PASSWORD, or the first line of HAUSBUS_MQTT_PASSWORD_FILE */
    char database_url[512];  /* HAUSBUS_DATABASE_URL (or the first line of its _FILE): a
                              * postgresql:// URL; "" keeps sqlite in data_dir */
    char instance[64];       /* HAUSBUS_INSTANCE, else the host name: names this replica
                              * (client id, status topic, outbox rows) with a database URL */
    char mqtt_cafile[512];   /* HAUSBUS_MQTT_CAFILE: set to talk TLS to the broker */
    char mqtt_certfile[512]; /* HAUSBUS_MQTT_CERTFILE + HAUSBUS_MQTT_KEYFILE: client certificate */
    char mqtt_keyfile[512];
    int metrics_interval_ms; /* HAUSBUS_METRICS_INTERVAL_MS: metrics snapshot period, 0 = off,
                              * default 5000 */
};

/* Fills cfg from the environment with defaults. Returns HB_ERR_INVAL, after logging
 * which variable is wrong, when a value is malformed, out of range or too long. */
hb_err_t hb_config_load(struct hb_config *cfg);

/* Reads environment variable name into out (cap bytes): its value, or fallback when it is
 * unset or empty. Returns HB_ERR_INVAL, after logging, when it does not fit. */
hb_err_t hb_env_str(const char *name, const char *fallback, char *out, size_t cap);

/* Reads name as a decimal integer in [min, max] into *out, fallback when unset or empty.
 * Returns HB_ERR_INVAL, after logging, for anything else. */
hb_err_t hb_env_int(const char *name, int64_t fallback, int64_t min, int64_t max, int64_t *out);

/* Reads a secret into out: the value of name, or the first line of the file that
 * <name>_FILE names (a mounted secret keeps it out of the environment and of `ps e`);
 * "" when neither is set. Returns HB_ERR_INVAL, after logging, when both are set, the
 * file cannot be read or is empty, or the value does not fit. */
hb_err_t hb_env_secret(const char *name, char *out, size_t cap);

/* Creates the data dir cfg->data_dir 0700 (whatever the umask) when it does not exist;
 * an existing one is left as it is. Returns HB_ERR_IO, after logging, on failure. */
hb_err_t hb_data_dir_create(const struct hb_config *cfg);

#endif
