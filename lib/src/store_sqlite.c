/* The sqlite backend: a file per component in WAL mode, owned by one process. The only
 * place sqlite's API appears. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hausbus/log.h"
#include "store_sqlite_cache_int.h"
#include "store_int.h"

struct sqlite_engine {
    sqlite3 *db;
    /* The transaction statements, prepared once: a batch runs several per message. */
    sqlite3_stmt *tx_begin;
    sqlite3_stmt *tx_commit;
    sqlite3_stmt *tx_savepoint;
    sqlite3_stmt *tx_release;
    sqlite3_stmt *tx_rollback_to;
    struct hb_stmt_cache cache; /* every other statement, by its SQL text */
    int wal_frames;  /* in the WAL since its last checkpoint (the WAL hook says) */
    int wal_ceiling; /* frames at which a commit checkpoints, busy or not */
};

/* A checkpoint copies the WAL into the database and syncs both: tens of ms here, which
 * the message that happens to commit past the ceiling waits for (one single-order saga in
 * a hundred took 33 ms with a 40 MiB WAL). The loop checkpoints when no message waits
 * (hb_store_idle) once the WAL holds this many frames (4 KiB pages: 1 MiB); a commit
 * checkpoints only at the ceiling, under load that leaves no idle moment. */
#define IDLE_CHECKPOINT_FRAMES 256

static void checkpoint(struct sqlite_engine *e)
{
    sqlite3_wal_checkpoint_v2(e->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    e->wal_frames = 0;
}

/* sqlite's WAL hook after each commit; it replaces sqlite's own autocheckpoint, which
 * did the same at the ceiling without telling us the WAL's size. */
static int wal_committed(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name; /* "main": the one database of a store */
    struct sqlite_engine *e = arg;
    e->wal_frames = frames;
    if (frames >= e->wal_ceiling) {
        checkpoint(e);
    }
    return SQLITE_OK;
}

static struct sqlite_engine *engine(struct hb_store *st)
{
    return st->engine;
}

static hb_err_t db_fail(sqlite3 *db, const char *what)
{
    HB_LOGE(0, "sqlite %s: %s", what, sqlite3_errmsg(db));
    return HB_ERR_DB;
}

static hb_err_t prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK) {
        *out = NULL;
        return db_fail(db, "prepare");
    }
    return HB_OK;
}

static const char *migration_sql(const struct hb_migration *m)
{
    return m->sqlite;
}

static void sqlite_close(struct hb_store *st)
{
    struct sqlite_engine *e = engine(st);
    if (!e) {
        return;
    }
    sqlite3_finalize(e->tx_begin);
    sqlite3_finalize(e->tx_commit);
    sqlite3_finalize(e->tx_savepoint);
    sqlite3_finalize(e->tx_release);
    sqlite3_finalize(e->tx_rollback_to);
    hb_stmt_cache_clear(&e->cache);
    sqlite3_close(e->db);
    free(e);
    st->engine = NULL;
}

/* A migration changes the schema, after which sqlite would recompile every cached
 * statement on its next step; that recompile leaves an error record on the connection that
 * every later statement reset then copies (measured: 3k instructions per order). Dropping
 * the cache first avoids both; a migration runs with none handed out. */
static void sqlite_schema_changing(struct hb_store *st)
{
    hb_stmt_cache_clear(&engine(st)->cache);
}

static hb_err_t sqlite_exec(struct hb_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(engine(st)->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        HB_LOGE(0, "sqlite exec: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return HB_ERR_DB;
    }
    return HB_OK;
}

/* Binds args[0..n_args) to s's parameters 1..n_args. */
static hb_err_t bind_args(sqlite3 *db, sqlite3_stmt *s, const struct hb_param *args, int n_args)
{
    for (int i = 0; i < n_args; i++) {
        int rc;
        switch (args[i].kind) {
        case HB_PARAM_INT:
            rc = sqlite3_bind_int64(s, i + 1, args[i].i);
            break;
        case HB_PARAM_TEXT:
            rc = args[i].text ? sqlite3_bind_text(s, i + 1, args[i].text, -1, SQLITE_STATIC)
                              : sqlite3_bind_null(s, i + 1);
            break;
        default:
            rc = sqlite3_bind_null(s, i + 1);
            break;
        }
        if (rc != SQLITE_OK) {
            return db_fail(db, "bind");
        }
    }
    return HB_OK;
}

/* sql's cached statement with args bound; given back with hb_stmt_cache_put. Compiling
 * cost more than running: half of the order component's time went to it once. */
static hb_err_t prepare_bound(struct sqlite_engine *e, const char *sql,
                              const struct hb_param *args, int n_args, sqlite3_stmt **out)
{
    int rc = hb_stmt_cache_get(&e->cache, e->db, sql, out);
    if (rc == SQLITE_MISUSE) {
        return HB_ERR_DB; /* no statement in sql: the cache has said so */
    }
    if (rc != SQLITE_OK) {
        return db_fail(e->db, "prepare");
    }
    hb_err_t bound = bind_args(e->db, *out, args, n_args);
    if (bound != HB_OK) {
        hb_stmt_cache_put(&e->cache, *out);
        *out = NULL;
    }
    return bound;
}

static hb_err_t sqlite_select(struct hb_store *st, const char *sql, const struct hb_param *args,
                              int n_args, enum hb_lock lock, struct hb_rows *rows)
{
    (void)lock; /* the database belongs to this one process: nobody else holds a row */
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(prepare_bound(engine(st), sql, args, n_args, &s));
    rows->handle = s;
    return HB_OK;
}

static hb_err_t sqlite_next(struct hb_rows *rows, bool *row)
{
    int step = sqlite3_step(rows->handle);
    *row = step == SQLITE_ROW;
    return step == SQLITE_ROW || step == SQLITE_DONE ? HB_OK
                                                     : db_fail(engine(rows->store)->db, "query");
}

static void sqlite_close_rows(struct hb_rows *rows)
{
    hb_stmt_cache_put(&engine(rows->store)->cache, rows->handle);
}

static bool sqlite_finish_writes(const struct hb_rows *rows)
{
    return !sqlite3_stmt_readonly(rows->handle);
}

static int sqlite_n_cols(const struct hb_rows *rows)
{
    return sqlite3_column_count(rows->handle);
}

static const char *sqlite_col_name(const struct hb_rows *rows, int col)
{
    return sqlite3_column_name(rows->handle, col);
}

static enum hb_col_kind sqlite_col_kind(const struct hb_rows *rows, int col)
{
    switch (sqlite3_column_type(rows->handle, col)) {
    case SQLITE_NULL:
        return HB_COL_NULL;
    case SQLITE_INTEGER:
        return HB_COL_INT;
    case SQLITE_FLOAT:
        return HB_COL_REAL;
    case SQLITE_TEXT:
        return HB_COL_TEXT;
    default:
        return HB_COL_OTHER;
    }
}

static int64_t sqlite_col_int(const struct hb_rows *rows, int col)
{
    return sqlite3_column_int64(rows->handle, col);
}

static double sqlite_col_real(const struct hb_rows *rows, int col)
{
    return sqlite3_column_double(rows->handle, col);
}

static const char *sqlite_col_text(const struct hb_rows *rows, int col)
{
    return (const char *)sqlite3_column_text(rows->handle, col);
}

static hb_err_t sqlite_run(struct hb_store *st, const char *sql, const struct hb_param *args,
                           int n_args, int64_t *changes)
{
    struct sqlite_engine *e = engine(st);
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(prepare_bound(e, sql, args, n_args, &s));
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (step == SQLITE_DONE) {
        *changes = sqlite3_changes64(e->db);
    }
    hb_stmt_cache_put(&e->cache, s);
    return step == SQLITE_DONE ? HB_OK : db_fail(e->db, "run");
}

/* Steps a prepared statement once and resets it. */
static hb_err_t step_once(sqlite3 *db, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? HB_OK : db_fail(db, what);
}

static hb_err_t sqlite_begin(struct hb_store *st)
{
    /* IMMEDIATE takes the write lock up front, so a transaction never fails half-way
     * with SQLITE_BUSY after it has read. */
    return step_once(engine(st)->db, engine(st)->tx_begin, "begin");
}

static hb_err_t sqlite_commit(struct hb_store *st)
{
    return step_once(engine(st)->db, engine(st)->tx_commit, "commit");
}

static void sqlite_rollback(struct hb_store *st)
{
    if (!sqlite3_get_autocommit(engine(st)->db)) {
        sqlite3_exec(engine(st)->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

static hb_err_t sqlite_savepoint(struct hb_store *st)
{
    return step_once(engine(st)->db, engine(st)->tx_savepoint, "savepoint");
}

static hb_err_t sqlite_savepoint_release(struct hb_store *st)
{
    return step_once(engine(st)->db, engine(st)->tx_release, "release");
}

static hb_err_t sqlite_savepoint_rollback(struct hb_store *st)
{
    return step_once(engine(st)->db, engine(st)->tx_rollback_to, "rollback to savepoint");
}

static bool sqlite_in_tx(struct hb_store *st)
{
    return sqlite3_get_autocommit(engine(st)->db) == 0;
}

static const struct hb_store_sql sqlite_sql = {
    .inbox_claim = "INSERT INTO hb_inbox(event_id, handled_at) VALUES(?, ?)"
                   " ON CONFLICT DO NOTHING",
    .outbox_delete = "DELETE FROM hb_outbox WHERE id IN (SELECT value FROM json_each(?))",
    .list_open = '[',
    .list_close = ']',
};

/* Outside a transaction: hb_store_idle sees to it. */
static void sqlite_idle(struct hb_store *st)
{
    if (engine(st)->wal_frames >= IDLE_CHECKPOINT_FRAMES) {
        checkpoint(engine(st));
    }
}

static const struct hb_store_backend sqlite_backend = {
    .name = "sqlite",
    .runs_sqlite_legacy = true,
    .sql = &sqlite_sql,
    .migration_sql = migration_sql,
    .schema_changing = sqlite_schema_changing,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .select = sqlite_select,
    .next = sqlite_next,
    .close_rows = sqlite_close_rows,
    .finish_writes = sqlite_finish_writes,
    .n_cols = sqlite_n_cols,
    .col_name = sqlite_col_name,
    .col_kind = sqlite_col_kind,
    .col_int = sqlite_col_int,
    .col_real = sqlite_col_real,
    .col_text = sqlite_col_text,
    .run = sqlite_run,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .savepoint = sqlite_savepoint,
    .savepoint_release = sqlite_savepoint_release,
    .savepoint_rollback = sqlite_savepoint_rollback,
    .in_tx = sqlite_in_tx,
    .idle = sqlite_idle,
};

/* Creates the database file at path 0600 (whatever the umask) when it does not exist yet:
 * sqlite gives its -wal and -shm files the database's mode, so they are private too. An
 * existing file keeps its mode. ":memory:" is left to sqlite. */
static hb_err_t create_private_file(const char *path)
{
    if (strcmp(path, ":memory:") == 0) {
        return HB_OK;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? HB_OK : HB_ERR_IO;
    }
    int rc = fchmod(fd, 0600);
    close(fd);
    return rc == 0 ? HB_OK : HB_ERR_IO;
}

/* sqlite counts every allocation under one process-wide mutex for sqlite3_status(), which
 * nothing here reads: switched off once, before the first connection (sqlite3_config only
 * works before sqlite3_initialize; a process that already used sqlite keeps its setting). */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The connection's settings. WAL + NORMAL: a process crash loses nothing committed
 * (FIELD-NOTES: ~25k tx/s). EXCLUSIVE: the database belongs to this one process, so skip
 * the per-transaction file locks and shared-memory index. The page cache is most of what
 * a component's memory grows by as its tables grow: a 64 MB board trades some reads from
 * the (OS-cached) file for RAM. The WAL is checkpointed every sqlite_wal_kb (in pages of
 * sqlite's default 4 KiB) and cut back to that size after, so the file never stays larger
 * than what one interval wrote. secure_delete OFF: Debian builds sqlite with it on, which
 * zeroes every deleted cell (each relayed outbox row, each pruned inbox id, each moved
 * index entry); what it would scrub is events whose contents the live tables keep anyway,
 * in a file only the service user can read. */
static hb_err_t configure_connection(struct hb_store *st, const struct hb_store_options *opt)
{
    char pragmas[320];
    int cache_kb = opt && opt->sqlite_cache_kb > 0 ? opt->sqlite_cache_kb : 256;
    int n = snprintf(pragmas, sizeof(pragmas),
                     "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                     " PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d;"
                     " PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF;",
                     cache_kb);
    if (n > 0 && (size_t)n < sizeof(pragmas) && opt && opt->sqlite_wal_kb > 0) {
        n += snprintf(pragmas + n, sizeof(pragmas) - (size_t)n,
                      " PRAGMA journal_size_limit=%lld;", (long long)opt->sqlite_wal_kb * 1024);
    }
    if (n < 0 || (size_t)n >= sizeof(pragmas)) {
        return HB_ERR_INVAL;
    }
    struct sqlite_engine *e = engine(st);
    e->wal_ceiling = opt && opt->sqlite_wal_kb > 0 ? opt->sqlite_wal_kb / 4 : 1000;
    sqlite3_wal_hook(e->db, wal_committed, e);
    return sqlite_exec(st, pragmas);
}

hb_err_t hb_store_sqlite_open(struct hb_store *st, const char *path,
                              const struct hb_store_options *opt)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    if (create_private_file(path) != HB_OK) {
        HB_LOGE(0, "cannot create database %s: %s", path, strerror(errno));
        return HB_ERR_IO;
    }
    struct sqlite_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        return HB_ERR_NOMEM;
    }
    st->engine = e;
    st->be = &sqlite_backend;
    /* NOMUTEX: a store belongs to one component loop, so one thread uses each connection
     * and sqlite's per-call connection mutex is pure cost. */
    if (sqlite3_open_v2(path, &e->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        HB_LOGE(0, "cannot open database %s: %s", path, e->db ? sqlite3_errmsg(e->db) : "?");
        return HB_ERR_DB;
    }
    sqlite3_busy_timeout(e->db, 5000);
    hb_err_t rc;
    if ((rc = configure_connection(st, opt)) != HB_OK ||
        (rc = prepare(e->db, "BEGIN IMMEDIATE", &e->tx_begin)) != HB_OK ||
        (rc = prepare(e->db, "COMMIT", &e->tx_commit)) != HB_OK ||
        (rc = prepare(e->db, "SAVEPOINT message", &e->tx_savepoint)) != HB_OK ||
        (rc = prepare(e->db, "RELEASE message", &e->tx_release)) != HB_OK ||
        (rc = prepare(e->db, "ROLLBACK TO message", &e->tx_rollback_to)) != HB_OK) {
        return rc;
    }
    return HB_OK;
}
