/* The runtime every component shares: decode, dedupe, handle in one transaction,
 * publish the outbox after commit, answer requests, dead-letter what cannot be decoded. */
#ifndef HAUSBUS_COMPONENT_H
#define HAUSBUS_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hausbus/config.h"
#include "hausbus/envelope.h"
#include "hausbus/err.h"
#include "hausbus/store.h"

/* What a handler hands back to a request (gateway commands); ignored for events. */
struct hb_reply {
    int code;          /* HTTP status the gateway answers with; 0 = no reply */
    cJSON *body;       /* owned by the reply; NULL means {} */
    char location[64]; /* Location header for 201/202, "" for none */
};

/* Everything a handler may touch. No I/O besides the store. */
struct hb_ctx {
    struct hb_store *store;
    const struct hb_config *cfg;
    int64_t now_ms; /* wall clock, set by the runtime (tests set it directly) */
    void *user;     /* the component's own state (its notifier, for instance) */
    char error[160]; /* why a handler returned HB_ERR_DECODE; goes to the dead-letter topic */
};

/* A handler applies one event or command inside the open transaction. Returning
 * HB_OK commits; HB_ERR_DECODE rolls back and dead-letters the message with ctx->error;
 * anything else rolls back and is logged. */
typedef hb_err_t (*hb_handler_fn)(struct hb_ctx *ctx, const struct hb_event *ev,
                                  struct hb_reply *reply);

struct hb_route {
    const char *topic;  /* exact topic, e.g. "hausbus/v1/evt/order/OrderPlaced" */
    hb_handler_fn handler;
    bool read_only;     /* a query: no inbox entry, no savepoint (the runtime may run it
                         * inside an open batch, where it sees the batch's changes) */
};

struct hb_component {
    const char *name; /* "order", ...: database file, client id, status and dlq topics */
    /* The component's tables: its numbered migrations, oldest first (hb_store_open);
     * set both with HB_MIGRATIONS(list). */
    const struct hb_migration *migrations;
    size_t n_migrations;
    const struct hb_route *routes;
    size_t n_routes;
    /* Called about once a second in its own transaction (re-drive, retries); may be NULL. */
    hb_err_t (*tick)(struct hb_ctx *ctx);
    /* Replay: on "hausbus/v1/cmd/<name>/replay {since}", which every component sends to
     * the owners of the events it consumes whenever it (re)connects, the runtime runs
     * replay_sql (?1 = since, wall-clock ms; ?2 = HB_REPLAY_LIMIT; newest first) and calls
     * announce for each row to re-emit that record's current-state event: what a crash or
     * a broker restart lost is announced again. Both NULL when the component owns nothing
     * that others consume. */
    const char *replay_sql;
    hb_err_t (*announce)(struct hb_ctx *ctx, const struct hb_rows *row);
    /* Prepares ctx->user before the loop starts, and releases it; both may be NULL. */
    hb_err_t (*setup)(struct hb_ctx *ctx);
    void (*teardown)(struct hb_ctx *ctx);
    /* Extra members for the metrics snapshot (the order component adds "saga"), called
     * every HAUSBUS_METRICS_INTERVAL_MS outside any transaction; may be NULL. Returns an
     * object whose members are moved into the snapshot (the runtime frees it), or NULL
     * when it has nothing (or failed: the snapshot goes out without them). */
    cJSON *(*metrics)(struct hb_ctx *ctx);
};

/* Times an event runs when its transaction meets a concurrent replica's (HB_ERR_BUSY). */
#define HB_CONFLICT_ATTEMPTS 4

/* Records re-announced per replay request: a bound on the burst one restart causes. */
#define HB_REPLAY_LIMIT 2000

/* Runs a component until SIGINT/SIGTERM, or with argument --probe checks the running
 * one's heartbeat (fresh and connected: exit 0, else 1, for Kubernetes exec probes).
 * Returns the process exit code. */
int hb_component_main(const struct hb_component *def, int argc, char **argv);

/* Runs def's loop in the calling thread until a stop signal (hb_component_main installs
 * the handler) or hb_component_stop(): its own config, store (<data dir>/<name>.db),
 * heartbeat and MQTT client (id hausbus-<name>), so several may run as threads of one
 * process. Logs as <name> at the level hb_log_init set for the process. Needs about
 * 12 KB of stack plus what sqlite and libmosquitto use. Returns 0
 * after a clean stop, 2 for a bad configuration, 1 when it cannot start (store, setup,
 * bus), after logging why. */
int hb_component_run(const struct hb_component *def);

/* Asks every hb_component_run loop of the process to finish its batch and return (within
 * one poll, about 50 ms). Async-signal-safe. Can't fail. */
void hb_component_stop(void);

/* A component loop (hb_component_run) in a thread of its own. */
struct hb_component_thread;

/* Starts hb_component_run(def) in a new thread with stack_size bytes of stack (0 for the
 * system's default; 256 KiB is plenty). The thread inherits the caller's signal mask;
 * when the loop returns, for a stop or a failure, it calls on_end(arg) (may be NULL) from
 * that thread. Returns HB_ERR_NOMEM, logged, when the thread cannot be created. */
hb_err_t hb_component_thread_start(const struct hb_component *def, size_t stack_size,
                                   void (*on_end)(void *arg), void *arg,
                                   struct hb_component_thread **out);

/* True once t's loop has returned; its exit code (see hb_component_run) goes to *exit_code. */
bool hb_component_thread_ended(const struct hb_component_thread *t, int *exit_code);

/* Waits for t's loop to return (ask with hb_component_stop() first), frees t and returns
 * the loop's exit code. NULL returns 0. */
int hb_component_thread_join(struct hb_component_thread *t);

/* The --probe check of component name's heartbeat (<data dir>/<name>.heartbeat, at most
 * HAUSBUS_PROBE_MAX_AGE_MS old and connected): prints "<name>: <why>" on stdout and
 * returns 0 when it passes, 1 otherwise. */
int hb_component_probe(const char *name);

/* Sets reply to {"error": msg} with the given code. Returns HB_OK so a handler can
 * `return hb_reply_error(...)` for a refused request that changes nothing. */
hb_err_t hb_reply_error(struct hb_reply *reply, int code, const char *msg);

/* Answers a query for one record: data.<key> must be a positive id (else HB_ERR_DECODE),
 * sql has one "?" for it and selects the record's columns (hb_store_query_object: JSON
 * built in C from `col AS jsonName`); replies 200 with it, or 404
 * {"error": not_found} when there is no row. */
hb_err_t hb_reply_record(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply,
                         const char *key, const char *sql, const char *not_found);

/* Answers a list query with 200 and an array of the rows the SQL selects (at most
 * HB_LIST_MAX: the SQL's LIMIT; hb_store_query_objects builds them): sql_filtered (one "?")
 * when data has <key> (a positive id, else HB_ERR_DECODE), sql_all otherwise; with
 * sql_all NULL the key is required; with key NULL sql_all always runs. */
hb_err_t hb_reply_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply,
                       const char *key, const char *sql_filtered, const char *sql_all);

/* Sets ctx->error and returns HB_ERR_DECODE: the message goes to the dead-letter topic. */
hb_err_t hb_ctx_reject(struct hb_ctx *ctx, const char *why);

/* Frees reply->body and zeroes reply. */
void hb_reply_clear(struct hb_reply *reply);

/* Dispatches one decoded message through routes with dedupe, in a transaction of its own
 * (none for a read-only route): what the runtime does per message, for tests without a
 * broker. (The runtime itself groups back-to-back messages into one transaction with a
 * savepoint each.) Returns the handler's result. */
hb_err_t hb_component_dispatch(const struct hb_component *def, struct hb_ctx *ctx,
                               const char *topic, const struct hb_event *ev,
                               struct hb_reply *reply);

#endif
