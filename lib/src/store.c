/* sqlite store shared by components: WAL, transactions, inbox and outbox tables. */
#include "hausbus/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hausbus/bus.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/text.h"
#include "store_cache_int.h"

struct hb_store {
    sqlite3 *db;
    char component[32];
    sqlite3_stmt *inbox_insert;
    sqlite3_stmt *outbox_insert;
    sqlite3_stmt *outbox_select;
    sqlite3_stmt *outbox_delete_many;
    /* The transaction statements, prepared once: a batch runs several per message. */
    sqlite3_stmt *tx_begin;
    sqlite3_stmt *tx_commit;
    sqlite3_stmt *tx_savepoint;
    sqlite3_stmt *tx_release;
    sqlite3_stmt *tx_rollback_to;
    bool in_tx;
    int64_t duplicates; /* inbox claims of ids already handled, since open */
    int64_t changes;    /* rows the last hb_store_run changed */
    struct hb_stmt_cache cache; /* hb_store_cached's statements */
};

static const char base_schema[] =
    "CREATE TABLE IF NOT EXISTS hb_inbox("
    "  event_id TEXT PRIMARY KEY, handled_at INTEGER NOT NULL) WITHOUT ROWID;"
    /* Per owner, its clock at the newest of its events committed here: replays start
     * there (lib/src/runtime.c, request_replays). */
    "CREATE TABLE IF NOT EXISTS hb_replay_mark("
    "  owner TEXT PRIMARY KEY, event_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS hb_outbox("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload TEXT NOT NULL);";

static hb_err_t db_fail(struct hb_store *st, const char *what)
{
    HB_LOGE(0, "sqlite %s: %s", what, sqlite3_errmsg(st->db));
    return HB_ERR_DB;
}

hb_err_t hb_store_prepare(struct hb_store *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
        *out = NULL;
        return db_fail(st, "prepare");
    }
    if (!*out) {
        HB_LOGE(0, "sqlite prepare: no statement in \"%.80s\"", sql);
        return HB_ERR_DB; /* only blanks or a comment: nothing a caller could step */
    }
    return HB_OK;
}

hb_err_t hb_store_cached(struct hb_store *st, const char *sql, sqlite3_stmt **out)
{
    int rc = hb_stmt_cache_get(&st->cache, st->db, sql, out);
    if (rc == SQLITE_MISUSE) {
        return HB_ERR_DB; /* no statement in sql: the cache has said so */
    }
    return rc == SQLITE_OK ? HB_OK : db_fail(st, "prepare");
}

void hb_store_release(struct hb_store *st, sqlite3_stmt *stmt)
{
    hb_stmt_cache_put(&st->cache, stmt);
}

hb_err_t hb_store_exec(struct hb_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        HB_LOGE(0, "sqlite exec: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return HB_ERR_DB;
    }
    return HB_OK;
}

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

hb_err_t hb_store_open(const char *path, const char *component, const char *schema_sql,
                       struct hb_store **out)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    struct hb_store *st = calloc(1, sizeof(*st));
    if (!st) {
        return HB_ERR_NOMEM;
    }
    snprintf(st->component, sizeof(st->component), "%s", component);
    hb_err_t rc = HB_ERR_DB;
    if (create_private_file(path) != HB_OK) {
        HB_LOGE(0, "cannot create database %s: %s", path, strerror(errno));
        rc = HB_ERR_IO;
        goto err;
    }
    /* NOMUTEX: a store belongs to one component loop, so one thread uses each connection
     * and sqlite's per-call connection mutex is pure cost. */
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        HB_LOGE(0, "cannot open database %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "?");
        goto err;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL + NORMAL: a process crash loses nothing committed (FIELD-NOTES: ~25k tx/s).
     * EXCLUSIVE: the database belongs to this one process, so skip the per-transaction
     * file locks and shared-memory index. A small page cache keeps the edge budget.
     * secure_delete OFF: Debian builds sqlite with it on, which zeroes every deleted
     * cell (each relayed outbox row, each pruned inbox id, each moved index entry);
     * what it would scrub is events whose contents the live tables keep anyway, in a
     * file only the service user can read. */
    if ((rc = hb_store_exec(st, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                                "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-256;"
                                "PRAGMA temp_store=MEMORY; PRAGMA secure_delete=OFF;")) != HB_OK ||
        (rc = hb_store_exec(st, base_schema)) != HB_OK ||
        (schema_sql && (rc = hb_store_exec(st, schema_sql)) != HB_OK)) {
        goto err;
    }
    if ((rc = hb_store_prepare(st, "INSERT OR IGNORE INTO hb_inbox(event_id, handled_at) "
                                   "VALUES(?, ?)",
                               &st->inbox_insert)) != HB_OK ||
        (rc = hb_store_prepare(st, "INSERT INTO hb_outbox(topic, payload) VALUES(?, ?)",
                               &st->outbox_insert)) != HB_OK ||
        (rc = hb_store_prepare(st, "SELECT id, topic, payload FROM hb_outbox WHERE id > ? "
                                   "ORDER BY id LIMIT ?",
                               &st->outbox_select)) != HB_OK ||
        (rc = hb_store_prepare(st, "DELETE FROM hb_outbox WHERE id IN "
                                   "(SELECT value FROM json_each(?))",
                               &st->outbox_delete_many)) != HB_OK ||
        (rc = hb_store_prepare(st, "BEGIN IMMEDIATE", &st->tx_begin)) != HB_OK ||
        (rc = hb_store_prepare(st, "COMMIT", &st->tx_commit)) != HB_OK ||
        (rc = hb_store_prepare(st, "SAVEPOINT message", &st->tx_savepoint)) != HB_OK ||
        (rc = hb_store_prepare(st, "RELEASE message", &st->tx_release)) != HB_OK ||
        (rc = hb_store_prepare(st, "ROLLBACK TO message", &st->tx_rollback_to)) != HB_OK) {
        goto err;
    }
    *out = st;
    return HB_OK;
err:
    hb_store_close(st);
    return rc;
}

void hb_store_close(struct hb_store *st)
{
    if (!st) {
        return;
    }
    sqlite3_finalize(st->inbox_insert);
    sqlite3_finalize(st->outbox_insert);
    sqlite3_finalize(st->outbox_select);
    sqlite3_finalize(st->outbox_delete_many);
    sqlite3_finalize(st->tx_begin);
    sqlite3_finalize(st->tx_commit);
    sqlite3_finalize(st->tx_savepoint);
    sqlite3_finalize(st->tx_release);
    sqlite3_finalize(st->tx_rollback_to);
    hb_stmt_cache_clear(&st->cache);
    sqlite3_close(st->db);
    free(st);
}

sqlite3 *hb_store_db(struct hb_store *st)
{
    return st->db;
}

const char *hb_store_component(const struct hb_store *st)
{
    return st->component;
}

/* Steps a cached statement once and resets it. */
static hb_err_t step_once(struct hb_store *st, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (rc != SQLITE_DONE) {
        return db_fail(st, what);
    }
    return HB_OK;
}

hb_err_t hb_store_begin(struct hb_store *st)
{
    /* IMMEDIATE takes the write lock up front, so a transaction never fails half-way
     * with SQLITE_BUSY after it has read. */
    HB_RETURN_ON_ERR(step_once(st, st->tx_begin, "begin"));
    st->in_tx = true;
    return HB_OK;
}

hb_err_t hb_store_commit(struct hb_store *st)
{
    hb_err_t rc = step_once(st, st->tx_commit, "commit");
    if (rc != HB_OK) {
        hb_store_rollback(st);
        return rc;
    }
    st->in_tx = false;
    return HB_OK;
}

void hb_store_rollback(struct hb_store *st)
{
    if (st->in_tx || !sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    st->in_tx = false;
}

hb_err_t hb_store_savepoint(struct hb_store *st)
{
    return step_once(st, st->tx_savepoint, "savepoint");
}

hb_err_t hb_store_savepoint_release(struct hb_store *st)
{
    return step_once(st, st->tx_release, "release");
}

hb_err_t hb_store_savepoint_rollback(struct hb_store *st)
{
    return step_once(st, st->tx_rollback_to, "rollback to savepoint");
}

hb_err_t hb_store_inbox_claim(struct hb_store *st, const char *event_id, bool *fresh)
{
    sqlite3_bind_text(st->inbox_insert, 1, event_id, -1, SQLITE_STATIC);
    /* Seconds, as the pruning compares them; time() is a vDSO read, cheaper than sqlite's
     * strftime('%s','now') per claim. */
    sqlite3_bind_int64(st->inbox_insert, 2, (int64_t)time(NULL));
    HB_RETURN_ON_ERR(step_once(st, st->inbox_insert, "inbox insert"));
    *fresh = sqlite3_changes(st->db) == 1;
    if (!*fresh) {
        st->duplicates++;
    }
    return HB_OK;
}

int64_t hb_store_duplicates(const struct hb_store *st)
{
    return st->duplicates;
}

hb_err_t hb_store_outbox_put(struct hb_store *st, const char *topic, const char *payload)
{
    sqlite3_bind_text(st->outbox_insert, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(st->outbox_insert, 2, payload, -1, SQLITE_STATIC);
    return step_once(st, st->outbox_insert, "outbox insert");
}

hb_err_t hb_store_emit(struct hb_store *st, const char *type, int64_t order_id, cJSON *data)
{
    struct hb_event ev;
    char topic[160];
    HB_RETURN_ON_ERR(hb_event_init(&ev, st->component, type, order_id, data));
    int n = snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "evt/%s/%s", st->component, type);
    char *payload = hb_envelope_encode(&ev);
    hb_event_clear(&ev);
    if (!payload) {
        return HB_ERR_NOMEM;
    }
    hb_err_t rc = HB_ERR_INVAL;
    if (n > 0 && (size_t)n < sizeof(topic)) {
        rc = hb_store_outbox_put(st, topic, payload);
    }
    free(payload);
    return rc;
}

hb_err_t hb_store_outbox_each(struct hb_store *st, int64_t after_id, int limit,
                              int (*fn)(void *ctx, const struct hb_outbox_row *row), void *ctx)
{
    sqlite3_stmt *s = st->outbox_select;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int(s, 2, limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct hb_outbox_row row = {
            .id = sqlite3_column_int64(s, 0),
            .topic = (const char *)sqlite3_column_text(s, 1),
            .payload = (const char *)sqlite3_column_text(s, 2),
        };
        if (fn(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? HB_OK : db_fail(st, "outbox select");
}

bool hb_store_in_tx(struct hb_store *st)
{
    return sqlite3_get_autocommit(st->db) == 0;
}

hb_err_t hb_store_replay_mark(struct hb_store *st, const char *owner, int64_t event_ms)
{
    sqlite3_stmt *s = NULL;
    HB_RETURN_ON_ERR(hb_store_cached(st,
                                     "INSERT INTO hb_replay_mark(owner, event_ms) VALUES(?, ?)"
                                     " ON CONFLICT(owner) DO UPDATE SET"
                                     " event_ms = max(event_ms, excluded.event_ms)",
                                     &s));
    sqlite3_bind_text(s, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, event_ms);
    int step = sqlite3_step(s);
    hb_store_release(st, s);
    return step == SQLITE_DONE ? HB_OK : db_fail(st, "replay mark");
}

hb_err_t hb_store_replay_mark_get(struct hb_store *st, const char *owner, int64_t fallback,
                                  int64_t *out)
{
    sqlite3_stmt *s = NULL;
    *out = fallback;
    HB_RETURN_ON_ERR(hb_store_cached(st, "SELECT event_ms FROM hb_replay_mark WHERE owner = ?",
                                     &s));
    sqlite3_bind_text(s, 1, owner, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
    }
    hb_store_release(st, s);
    return step == SQLITE_ROW || step == SQLITE_DONE ? HB_OK : db_fail(st, "replay mark");
}

hb_err_t hb_store_outbox_delete_many(struct hb_store *st, const int64_t *ids, size_t n)
{
    if (n == 0) {
        return HB_OK;
    }
    /* One statement for the lot: the ids as a JSON array, at most 20 digits and a comma
     * each. */
    size_t cap = n * 21 + 3;
    char *list = malloc(cap);
    if (!list) {
        return HB_ERR_NOMEM;
    }
    size_t len = 0;
    list[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(list + len, cap - len, "%s%lld", i ? "," : "", (long long)ids[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            free(list);
            return HB_ERR_INVAL;
        }
        len += (size_t)w;
    }
    list[len++] = ']';
    sqlite3_bind_text(st->outbox_delete_many, 1, list, (int)len, SQLITE_STATIC);
    hb_err_t rc = step_once(st, st->outbox_delete_many, "outbox delete");
    free(list);
    return rc;
}

int64_t hb_store_outbox_count(struct hb_store *st)
{
    sqlite3_stmt *s = NULL;
    int64_t n = -1;
    if (hb_store_prepare(st, "SELECT count(*) FROM hb_outbox", &s) == HB_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        n = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

/* Binds args[0..n_args) to s's parameters 1..n_args. */
static hb_err_t bind_args(struct hb_store *st, sqlite3_stmt *s, const struct hb_param *args,
                          int n_args)
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
            return db_fail(st, "bind");
        }
    }
    return HB_OK;
}

/* Takes sql's cached statement and binds args. The caller gives it back with
 * hb_store_release. */
static hb_err_t prepare_bound(struct hb_store *st, const char *sql, const struct hb_param *args,
                              int n_args, sqlite3_stmt **out)
{
    HB_RETURN_ON_ERR(hb_store_cached(st, sql, out));
    hb_err_t rc = bind_args(st, *out, args, n_args);
    if (rc != HB_OK) {
        hb_store_release(st, *out);
        *out = NULL;
    }
    return rc;
}

hb_err_t hb_store_select(struct hb_store *st, const char *sql, const struct hb_param *args,
                         int n_args, struct hb_rows *rows)
{
    sqlite3_stmt *s = NULL;
    *rows = (struct hb_rows){.store = st};
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    rows->handle = s;
    return HB_OK;
}

hb_err_t hb_rows_next(struct hb_rows *rows, bool *row)
{
    int step = sqlite3_step(rows->handle);
    rows->has_row = step == SQLITE_ROW;
    *row = rows->has_row;
    return step == SQLITE_ROW || step == SQLITE_DONE ? HB_OK : db_fail(rows->store, "query");
}

int64_t hb_rows_int(const struct hb_rows *rows, int col)
{
    return sqlite3_column_int64(rows->handle, col);
}

const char *hb_rows_text(const struct hb_rows *rows, int col)
{
    return (const char *)sqlite3_column_text(rows->handle, col);
}

bool hb_rows_null(const struct hb_rows *rows, int col)
{
    return sqlite3_column_type(rows->handle, col) == SQLITE_NULL;
}

void hb_rows_close(struct hb_rows *rows)
{
    if (rows->handle) {
        hb_store_release(rows->store, rows->handle);
        rows->handle = NULL;
    }
    rows->has_row = false;
}

/* The current row of s as an object in *out: each column under its name (the SQL's AS
 * alias), INTEGER and REAL as numbers, TEXT as a string, NULL as null. HB_ERR_DB (logged)
 * for a BLOB, which no record holds and JSON cannot carry; HB_ERR_NOMEM. */
static hb_err_t row_object(sqlite3_stmt *s, cJSON **out)
{
    int n = sqlite3_column_count(s);
    for (int i = 0; i < n; i++) {
        if (sqlite3_column_type(s, i) == SQLITE_BLOB) {
            HB_LOGE(0, "query column %s is a BLOB, which a JSON record cannot hold",
                    sqlite3_column_name(s, i));
            *out = NULL;
            return HB_ERR_DB;
        }
    }
    cJSON *obj = cJSON_CreateObject();
    for (int i = 0; obj && i < n; i++) {
        cJSON *value = NULL;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
        case SQLITE_FLOAT:
            value = cJSON_CreateNumber(sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT:
            value = cJSON_CreateString((const char *)sqlite3_column_text(s, i));
            break;
        case SQLITE_NULL:
            value = cJSON_CreateNull();
            break;
        default:
            break;
        }
        if (!value || !cJSON_AddItemToObject(obj, sqlite3_column_name(s, i), value)) {
            cJSON_Delete(value);
            cJSON_Delete(obj);
            obj = NULL;
        }
    }
    *out = obj;
    return obj ? HB_OK : HB_ERR_NOMEM;
}

hb_err_t hb_store_query_object(struct hb_store *st, const char *sql, const struct hb_param *args,
                               int n_args, cJSON **out)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    hb_err_t rc = HB_OK;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        rc = row_object(s, out);
    } else if (step != SQLITE_DONE) {
        rc = db_fail(st, "query");
    }
    hb_store_release(st, s);
    return rc;
}

hb_err_t hb_store_query_objects(struct hb_store *st, const char *sql,
                                const struct hb_param *args, int n_args, cJSON **out)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    cJSON *rows = cJSON_CreateArray();
    hb_err_t rc = rows ? HB_OK : HB_ERR_NOMEM;
    int step = SQLITE_DONE;
    while (rc == HB_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *row = NULL;
        rc = row_object(s, &row);
        if (rc == HB_OK && !cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            rc = HB_ERR_NOMEM;
        }
    }
    if (rc == HB_OK && step != SQLITE_DONE) {
        rc = db_fail(st, "query");
    }
    hb_store_release(st, s);
    if (rc != HB_OK) {
        cJSON_Delete(rows);
        return rc;
    }
    *out = rows;
    return HB_OK;
}

hb_err_t hb_store_run(struct hb_store *st, const char *sql, const struct hb_param *args,
                      int n_args)
{
    sqlite3_stmt *s = NULL;
    st->changes = 0;
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (step == SQLITE_DONE) {
        st->changes = sqlite3_changes64(st->db);
    }
    hb_store_release(st, s);
    return step == SQLITE_DONE ? HB_OK : db_fail(st, "run");
}

int64_t hb_store_changes(const struct hb_store *st)
{
    return st->changes;
}

hb_err_t hb_store_query_text(struct hb_store *st, const char *sql, const struct hb_param *args,
                             int n_args, char *out, size_t cap)
{
    sqlite3_stmt *s = NULL;
    if (cap > 0) {
        out[0] = '\0';
    }
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    int step = sqlite3_step(s);
    const unsigned char *text = step == SQLITE_ROW ? sqlite3_column_text(s, 0) : NULL;
    hb_strlcpy(out, text ? (const char *)text : "", cap);
    hb_store_release(st, s);
    return step == SQLITE_DONE || step == SQLITE_ROW ? HB_OK : db_fail(st, "query");
}

hb_err_t hb_store_query_int(struct hb_store *st, const char *sql, const struct hb_param *args,
                            int n_args, int64_t fallback, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    *out = fallback;
    HB_RETURN_ON_ERR(prepare_bound(st, sql, args, n_args, &s));
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *out = sqlite3_column_int64(s, 0);
    }
    /* An INSERT ... RETURNING is stepped to its end, which completes it; a SELECT's other
     * rows are left unread (the release resets it). */
    while (step == SQLITE_ROW && !sqlite3_stmt_readonly(s)) {
        step = sqlite3_step(s);
    }
    hb_store_release(st, s);
    return step == SQLITE_DONE || step == SQLITE_ROW ? HB_OK : db_fail(st, "query");
}
