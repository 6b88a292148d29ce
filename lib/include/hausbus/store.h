/* A component's database: transactions, the inbox (handled event ids) and the outbox
 * (events to publish after commit), on sqlite (a file per component, the embedded
 * default) or PostgreSQL (shared by replicas; each component in a schema of its own).
 * Handlers are written once against this API, in SQL both engines accept. */
#ifndef HAUSBUS_STORE_H
#define HAUSBUS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include <cjson/cJSON.h>

#include "hausbus/err.h"

struct hb_store;

/* One numbered change of a schema, in each backend's SQL (statements separated by ";").
 * Migration i (counting from 1) takes a database from version i - 1 to i; a released
 * migration is never edited, a change is a new one at the end. */
struct hb_migration {
    const char *sqlite;
    const char *postgres;
    /* sqlite only, run after .sqlite in its transaction; NULL for none: what a database
     * from before versions may lack that SQL cannot add conditionally (sqlite's ALTER
     * TABLE ... ADD COLUMN has no IF NOT EXISTS). */
    hb_err_t (*sqlite_legacy)(struct hb_store *st);
};

#define HB_MIGRATIONS(list) .migrations = (list), .n_migrations = sizeof(list) / sizeof((list)[0])

/* Engine settings; zero means the default. */
struct hb_store_options {
    int sqlite_cache_kb; /* page cache (KiB), default 256 */
    int sqlite_wal_kb;   /* WAL size that triggers a checkpoint (KiB), default sqlite's */
};

/* Opens the database at location and brings it to the newest version, as hb_store_open.
 * location is a sqlite file (":memory:" for tests) or a postgresql:// (postgres://)
 * URL; opt may be NULL. */
hb_err_t hb_store_open_with(const char *location, const char *component,
                            const struct hb_migration *migrations, size_t n_migrations,
                            const struct hb_store_options *opt, struct hb_store **out);

/* True when location names a PostgreSQL database (a postgresql:// or postgres:// URL). */
bool hb_store_is_postgres(const char *location);

/* Opens (creating if needed) the sqlite database at path (":memory:" for tests) in WAL
 * mode and brings it to the newest version: lib's own tables (inbox, outbox, replay
 * marks: part "hausbus") and then the component's, migrations[0..n_migrations), each
 * migration in a transaction of its own that also records its number in
 * hb_schema_version(part, version); a database from before versions (every release
 * up to 2c085fd) is version 0, and each first migration creates only what is missing.
 * A database newer than this program's migrations is refused. component names the event
 * source, the topics emitted events go to and its part. The store may be used by one
 * thread at a time only (no connection mutex: each component loop owns its store).
 * Returns HB_ERR_DB with a logged reason on failure; *out is set only on success. */
hb_err_t hb_store_open(const char *path, const char *component,
                       const struct hb_migration *migrations, size_t n_migrations,
                       struct hb_store **out);

/* The version part ("hausbus" or a component's name) is at in *out: 0 when none was
 * recorded. */
hb_err_t hb_store_schema_version(struct hb_store *st, const char *part, int64_t *out);

/* Closes the database. Accepts NULL. */
void hb_store_close(struct hb_store *st);

/* The component name given to hb_store_open. */
const char *hb_store_component(const struct hb_store *st);

hb_err_t hb_store_begin(struct hb_store *st);
hb_err_t hb_store_commit(struct hb_store *st);
/* Rolls back the open transaction, if any. Can't fail in a way the caller can act on. */
void hb_store_rollback(struct hb_store *st);

/* Inside the open transaction: starts the savepoint "message", releases it (keeping its
 * changes), or rolls the transaction back to it (undoing only what came after it; the
 * savepoint then still needs its release). Prepared once: a batch runs them per message. */
hb_err_t hb_store_savepoint(struct hb_store *st);
hb_err_t hb_store_savepoint_release(struct hb_store *st);
hb_err_t hb_store_savepoint_rollback(struct hb_store *st);

/* Runs one or more SQL statements without results. */
hb_err_t hb_store_exec(struct hb_store *st, const char *sql);

/* Records event_id as handled. *fresh is false when it was already recorded,
 * in which case the caller must not apply the event again. */
hb_err_t hb_store_inbox_claim(struct hb_store *st, const char *event_id, bool *fresh);

/* How many claims since open found the id already handled (duplicates, for metrics;
 * a claim in a transaction that was rolled back still counts). Can't fail. */
int64_t hb_store_duplicates(const struct hb_store *st);

/* Adds an event "hausbus/v1/evt/<component>/<type>" to the outbox, in the open
 * transaction. Takes ownership of data (NULL means {}), also on failure. */
hb_err_t hb_store_emit(struct hb_store *st, const char *type, int64_t order_id, cJSON *data);

/* A replica not seen in hb_replicas for this long (ms) is gone: its outbox rows and claims
 * are taken over. Replicas beat every second. */
#define HB_REPLICA_STALE_MS 15000

/* The replica name given to hb_store_set_writer ("" by default). Can't fail. */
const char *hb_store_writer(const struct hb_store *st);

/* Names the replica this store writes outbox rows for, and relays (hb_store_outbox_each);
 * "" (the default) for the one process of a component. HB_ERR_INVAL when longer than 63. */
hb_err_t hb_store_set_writer(struct hb_store *st, const char *writer);

/* In the open transaction (replicas on a shared database): notes this replica alive at
 * now_ms in hb_replicas, and takes over the outbox rows of replicas not seen for stale_ms
 * (*adopted: how many), which then relay from here; forgets those replicas. */
hb_err_t hb_store_replica_beat(struct hb_store *st, int64_t now_ms, int64_t stale_ms,
                               int64_t *adopted);

/* Adds a raw message to the outbox (dead letters, for instance). */
hb_err_t hb_store_outbox_put(struct hb_store *st, const char *topic, const char *payload);

/* How many outbox rows this store has written since it opened (hb_store_outbox_put and
 * hb_store_emit), committed or rolled back: the relay reads the outbox only after it
 * changed. Can't fail. */
uint64_t hb_store_outbox_puts(const struct hb_store *st);

struct hb_outbox_row {
    int64_t id;
    const char *topic;   /* valid during the callback only */
    const char *payload; /* valid during the callback only */
};

/* Calls fn for up to limit outbox rows with id > after_id, oldest first. fn returning
 * non-zero stops the walk. */
hb_err_t hb_store_outbox_each(struct hb_store *st, int64_t after_id, int limit,
                              int (*fn)(void *ctx, const struct hb_outbox_row *row), void *ctx);

/* Outside a transaction, when no message waits: the engine's upkeep that would otherwise
 * stall a commit (sqlite: a checkpoint of a WAL over 1 MiB). Can't fail. */
void hb_store_idle(struct hb_store *st);

/* True while a transaction is open: false after commit, rollback, or an error that made
 * sqlite roll it back on its own (a full disk), after which nothing may run as if it
 * were still open. Can't fail. */
bool hb_store_in_tx(struct hb_store *st);

/* In the open transaction: raises owner's replay mark, its clock (ms) at the newest of
 * its events applied here, to event_ms (a lower value leaves it). */
hb_err_t hb_store_replay_mark(struct hb_store *st, const char *owner, int64_t event_ms);

/* In the open transaction: sets owner's replay mark to event_ms, lower or not: the first
 * mark a process writes, which replaces the one its replica started with (a backlog of
 * older events may come first). */
hb_err_t hb_store_replay_mark_reset(struct hb_store *st, const char *owner, int64_t event_ms);

/* owner's replay mark into *out, fallback when there is none. A replica (a writer set)
 * reads its own mark, or when it has none the oldest of the other replicas'. */
hb_err_t hb_store_replay_mark_get(struct hb_store *st, const char *owner, int64_t fallback,
                                  int64_t *out);

/* A replica's (a writer set) mark for owner, event_ms, where it has none yet: a replica
 * that starts marks where its stream of owner's events begins, so that what it loses
 * before its first commit is bounded too. Does nothing without a writer. */
hb_err_t hb_store_replay_mark_start(struct hb_store *st, const char *owner, int64_t event_ms);

/* In the open transaction (replicas): for each owner, the oldest mark of the replicas
 * other than this one not seen in hb_replicas for stale_ms, handed to lost(arg, owner,
 * event_ms), which asks that owner to replay from there; then forgets those marks. What
 * a replica that died had acknowledged and not committed comes after its marks. */
hb_err_t hb_store_lost_replica_marks(struct hb_store *st, int64_t now_ms, int64_t stale_ms,
                                     hb_err_t (*lost)(void *arg, const char *owner,
                                                      int64_t event_ms),
                                     void *arg);

/* Removes the outbox rows ids[0..n) in one statement (a batch's acknowledged rows).
 * Unknown ids are ignored; n == 0 does nothing. */
hb_err_t hb_store_outbox_delete_many(struct hb_store *st, const int64_t *ids, size_t n);

/* Number of rows in the outbox (tests and metrics). Returns -1 on error. */
int64_t hb_store_outbox_count(struct hb_store *st);

/* Statements with parameters, written once in the SQL every backend accepts: placeholders
 * are `?` (the next parameter) or `?N` (the N-th, to use one twice); times come from C,
 * JSON is built in C. The parameters are given in placeholder order. Each SQL text is
 * compiled once per store and reused after (compiling cost more than running). */
enum hb_param_kind { HB_PARAM_NULL, HB_PARAM_INT, HB_PARAM_TEXT };

struct hb_param {
    enum hb_param_kind kind;
    int64_t i;        /* HB_PARAM_INT */
    const char *text; /* HB_PARAM_TEXT: NUL-terminated UTF-8; NULL binds SQL NULL */
};

#define HB_INT(v) ((struct hb_param){.kind = HB_PARAM_INT, .i = (int64_t)(v)})
#define HB_TEXT(s) ((struct hb_param){.kind = HB_PARAM_TEXT, .text = (s)})
#define HB_NULL_PARAM ((struct hb_param){.kind = HB_PARAM_NULL})
/* The two arguments (array, count) for a statement's parameters:
 * hb_store_run(st, "UPDATE t SET a = ? WHERE id = ?", HB_ARGS(HB_TEXT(a), HB_INT(id))). */
#define HB_ARGS(...)                                                                        \
    ((const struct hb_param[]){__VA_ARGS__}),                                               \
        (int)(sizeof((const struct hb_param[]){__VA_ARGS__}) / sizeof(struct hb_param))
#define HB_NO_ARGS NULL, 0

/* The rows of a running query, on the caller's stack. Its fields belong to the store. */
struct hb_rows {
    struct hb_store *store;
    void *handle; /* the backend's statement or result */
    long pos;     /* the backend's row position */
    bool has_row; /* a row is current */
};

/* Runs sql (one statement) with args and positions rows before its first row: step with
 * hb_rows_next, read columns (0-based) of the current row, and always end with
 * hb_rows_close. HB_ERR_DB (logged) when it cannot run; rows needs no close then. */
hb_err_t hb_store_select(struct hb_store *st, const char *sql, const struct hb_param *args,
                         int n_args, struct hb_rows *rows);

/* How hb_store_select_locked treats rows another replica's transaction holds. */
enum hb_lock {
    HB_LOCK_NONE, /* reads them as hb_store_select */
    HB_LOCK_WAIT, /* locks the rows read, waiting for one another holds (FOR UPDATE) */
    HB_LOCK_SKIP, /* locks the rows read, leaving out those another holds (timers, queues:
                   * FOR UPDATE SKIP LOCKED, so replicas take different rows) */
};

/* As hb_store_select, with the rows read locked against other replicas until the open
 * transaction ends. On sqlite, whose one process owns the database, the same as
 * hb_store_select. */
hb_err_t hb_store_select_locked(struct hb_store *st, const char *sql,
                                const struct hb_param *args, int n_args, enum hb_lock lock,
                                struct hb_rows *rows);

/* Moves to the next row: *row is false after the last. HB_ERR_DB (logged) on failure. */
hb_err_t hb_rows_next(struct hb_rows *rows, bool *row);

/* The current row's column col: an integer (0 for NULL), text (NULL for NULL; valid
 * until the next hb_rows_next or hb_rows_close), or whether it is NULL. */
int64_t hb_rows_int(const struct hb_rows *rows, int col);
const char *hb_rows_text(const struct hb_rows *rows, int col);
bool hb_rows_null(const struct hb_rows *rows, int col);

/* Ends the query. Accepts a rows that hb_store_select failed on. Can't fail. */
void hb_rows_close(struct hb_rows *rows);

/* Runs sql (one statement) with args to its end, ignoring any rows it returns. */
hb_err_t hb_store_run(struct hb_store *st, const char *sql, const struct hb_param *args,
                      int n_args);

/* Rows inserted, updated or deleted by the last hb_store_run (0 after an INSERT ... ON
 * CONFLICT DO NOTHING that found its row). Can't fail. */
int64_t hb_store_changes(const struct hb_store *st);

/* Runs sql with args and builds the first row as a JSON object in C: each column under its
 * name (write `col AS jsonName`), in column order; integers and reals as numbers, text as
 * strings, NULL as null. *out is NULL when there is no row; the caller owns it otherwise.
 * HB_ERR_NOMEM; HB_ERR_DB (logged) for a database error or a column JSON cannot hold. */
hb_err_t hb_store_query_object(struct hb_store *st, const char *sql, const struct hb_param *args,
                               int n_args, cJSON **out);

/* As hb_store_query_object, for every row: *out is an array of the row objects (empty
 * when there is none), owned by the caller on success. */
hb_err_t hb_store_query_objects(struct hb_store *st, const char *sql,
                                const struct hb_param *args, int n_args, cJSON **out);

/* Runs a "SELECT <text>" style query; copies the first column of the first row into out
 * (cap bytes, always NUL-terminated, cut when longer), "" when there is no row or NULL. */
hb_err_t hb_store_query_text(struct hb_store *st, const char *sql, const struct hb_param *args,
                             int n_args, char *out, size_t cap);

/* Runs a "SELECT <integer>" style query (or an INSERT ... RETURNING id); *out gets the
 * first column of the first row, or fallback when there is no row or it is NULL. */
hb_err_t hb_store_query_int(struct hb_store *st, const char *sql, const struct hb_param *args,
                            int n_args, int64_t fallback, int64_t *out);

#endif
