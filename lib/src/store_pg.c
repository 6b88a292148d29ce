/* The PostgreSQL backend (libpq): one connection per store, the component's tables in a
 * schema of its own ("hausbus_<component>"), shared by every replica of the component.
 * The only place libpq's API appears. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <pthread.h>

#include <libpq-fe.h>

#include "hausbus/log.h"
#include "hausbus/text.h"
#include "store_int.h"

/* libpq is loaded when a store first opens a PostgreSQL URL, not linked: with it come
 * GnuTLS, Kerberos, LDAP and p11-kit, about 3.5 MiB of resident pages and their start-up
 * work in every process, which a component on sqlite (an edge board, ./run.sh) never
 * uses. Every libpq function called here, through this table. */
#define LIBPQ_FUNCTIONS(X) X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) \
    X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQexecPrepared) X(PQfinish) X(PQfname) \
    X(PQftype) X(PQgetisnull) X(PQgetvalue) X(PQnfields) X(PQntuples) X(PQprepare) \
    X(PQreset) X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus) \
    X(PQstatus) X(PQtransactionStatus)
#define LIBPQ_MEMBER(f) __typeof__(f) *f;
static struct {
    LIBPQ_FUNCTIONS(LIBPQ_MEMBER)
} libpq;
static char libpq_error[256]; /* why loading failed: "" when it worked */

#define LIBPQ_SONAME "libpq.so.5"

static void load_libpq(void)
{
    void *lib = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(libpq_error, sizeof(libpq_error), "%s", dlerror());
        return;
    }
    void *sym;
    /* POSIX makes a data pointer from dlsym a function pointer; memcpy says so in C. */
#define LIBPQ_LOAD(f)                                                                      \
    sym = libpq_error[0] ? NULL : dlsym(lib, #f);                                          \
    if (sym) {                                                                             \
        memcpy(&libpq.f, &sym, sizeof(sym));                                               \
    } else if (!libpq_error[0]) {                                                          \
        snprintf(libpq_error, sizeof(libpq_error), "%s: no %s", LIBPQ_SONAME, #f);         \
    }
    LIBPQ_FUNCTIONS(LIBPQ_LOAD)
#undef LIBPQ_LOAD
}

/* HB_OK once libpq is loaded (any thread, once per process); logged otherwise. */
static hb_err_t libpq_loaded(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_libpq);
    if (libpq_error[0]) {
        HB_LOGE(0, "postgresql: cannot load libpq (Debian package libpq5): %s", libpq_error);
        return HB_ERR_DB;
    }
    return HB_OK;
}

/* Statements kept prepared per connection, by SQL text: a component runs a handful per
 * message; a query beyond them (lists, metrics) runs unprepared. */
#define PG_STMT_SLOTS 48
/* Parameters of one statement: the most a handler binds is 17 (order's update). */
#define PG_PARAMS_MAX 32

/* The type OIDs PostgreSQL reports (src/include/catalog/pg_type.dat). */
enum {
    PG_BOOL = 16, PG_BYTEA = 17, PG_INT8 = 20, PG_INT2 = 21, PG_INT4 = 23, PG_TEXT = 25,
    PG_OID = 26, PG_FLOAT4 = 700, PG_FLOAT8 = 701, PG_NUMERIC = 1700
};

struct pg_stmt {
    char *sql;         /* the key: the text as the caller wrote it, and its lock */
    size_t len;
    enum hb_lock lock;
    char name[16];     /* "hb<N>" */
    uint64_t last_use; /* 0: a free slot */
};

struct pg_engine {
    PGconn *conn;
    bool in_tx;          /* BEGIN ran and neither COMMIT nor ROLLBACK since */
    /* A savepoint asked for before any statement of the transaction is its start: none is
     * sent (nor its RELEASE), and rolling back to it is ROLLBACK and BEGIN in one round
     * trip. A transaction holds one event with replicas, so every event saves two. */
    bool ran;              /* a statement ran since BEGIN */
    bool savepoint_at_begin;
    bool lost;           /* the connection is down: said once in the log */
    int64_t retry_at_ms; /* no new connection attempt before (monotonic ms) */
    char schema[48]; /* "hausbus_<component>" */
    struct pg_stmt stmts[PG_STMT_SLOTS];
    uint64_t clock;
    unsigned next_name;
};

static struct pg_engine *engine(struct hb_store *st)
{
    return st->engine;
}

static const char *migration_sql(const struct hb_migration *m)
{
    return m->postgres;
}

static void forget_statements(struct pg_engine *e)
{
    for (size_t i = 0; i < PG_STMT_SLOTS; i++) {
        free(e->stmts[i].sql);
        memset(&e->stmts[i], 0, sizeof(e->stmts[i]));
    }
}

static void pg_close(struct hb_store *st)
{
    struct pg_engine *e = engine(st);
    if (!e) {
        return;
    }
    forget_statements(e);
    libpq.PQfinish(e->conn);
    free(e);
    st->engine = NULL;
}

/* A conflict with a concurrent transaction, which running again resolves: a unique key
 * another replica has just taken (23505), a serialization failure (40001), a deadlock
 * (40P01), a lock not available (55P03). */
static bool conflict(const PGresult *res)
{
    const char *state = res ? libpq.PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && (strcmp(state, "23505") == 0 || strcmp(state, "40001") == 0 ||
                     strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0);
}

/* Logs a failed result (and clears it): HB_ERR_BUSY for a conflict, else HB_ERR_DB. */
static hb_err_t result_fail(PGresult *res, PGconn *conn, const char *what)
{
    if (conflict(res)) {
        HB_LOGD(0, "postgresql %s: %s", what, libpq.PQresultErrorMessage(res));
        libpq.PQclear(res);
        return HB_ERR_BUSY;
    }
    const char *msg = res ? libpq.PQresultErrorMessage(res) : libpq.PQerrorMessage(conn);
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) {
        len--; /* libpq ends its messages with a newline */
    }
    HB_LOGE(0, "postgresql %s: %.*s", what, (int)len, msg);
    libpq.PQclear(res);
    return HB_ERR_DB;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection lost (the server restarted, the network broke) is made again, at most every
 * RECONNECT_MS, but never inside a transaction: what that transaction did is gone with the
 * connection, and the caller must see it fail and roll back. Prepared statements are gone
 * with it too. */
#define RECONNECT_MS 200

static hb_err_t ensure_connected(struct pg_engine *e)
{
    if (libpq.PQstatus(e->conn) == CONNECTION_OK) {
        return HB_OK;
    }
    if (e->in_tx) {
        return HB_ERR_DB;
    }
    int64_t now = monotonic_ms();
    if (now < e->retry_at_ms) {
        return HB_ERR_DB;
    }
    e->retry_at_ms = now + RECONNECT_MS;
    forget_statements(e);
    libpq.PQreset(e->conn);
    if (libpq.PQstatus(e->conn) != CONNECTION_OK) {
        if (!e->lost) {
            e->lost = true;
            return result_fail(NULL, e->conn, "reconnect (retrying every 200 ms)");
        }
        return HB_ERR_DB;
    }
    e->lost = false;
    HB_LOGW(0, "postgresql: connected again");
    return HB_OK;
}

static hb_err_t command(struct hb_store *st, const char *sql, const char *what)
{
    PGresult *res = libpq.PQexec(engine(st)->conn, sql);
    ExecStatusType status = libpq.PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        return result_fail(res, engine(st)->conn, what);
    }
    libpq.PQclear(res);
    return HB_OK;
}

static hb_err_t pg_exec(struct hb_store *st, const char *sql)
{
    engine(st)->ran = true;
    return command(st, sql, "exec");
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* At sql + i, "AS <name>" outside quotes with small and capital letters in the name (a
 * JSON name such as productName): *name_at and *name_len are set. PostgreSQL folds an unquoted name to
 * lower case, sqlite keeps it as written; quoting it keeps it in both. */
static bool as_mixed_case(const char *sql, size_t i, size_t *name_at, size_t *name_len)
{
    if (i > 0 && ident_char(sql[i - 1])) {
        return false;
    }
    if (!((sql[i] == 'A' || sql[i] == 'a') && (sql[i + 1] == 'S' || sql[i + 1] == 's') &&
          sql[i + 2] == ' ')) {
        return false;
    }
    size_t at = i + 3;
    while (sql[at] == ' ') {
        at++;
    }
    size_t end = at;
    bool capital = false, small = false;
    while (ident_char(sql[end])) {
        capital = capital || (sql[end] >= 'A' && sql[end] <= 'Z');
        small = small || (sql[end] >= 'a' && sql[end] <= 'z');
        end++;
    }
    *name_at = at;
    *name_len = end - at;
    /* Both cases: a JSON name (productName); CAST(x AS BIGINT) keeps its type name. */
    return capital && small && end > at;
}

/* sql with our placeholders ("?" the next parameter, "?N" the N-th) as PostgreSQL's
 * ("$N") and mixed-case column aliases quoted, outside quoted text; a malloc'ed string,
 * NULL without memory. */
static char *translate(const char *sql, enum hb_lock lock)
{
    static const char *const suffix[] = {"", " FOR UPDATE", " FOR UPDATE SKIP LOCKED"};
    size_t len = strlen(sql);
    /* Each byte of sql becomes at most 12 ("?" -> "$" and up to 11 digits; an alias gains
     * two quotes), then the suffix. */
    size_t cap = len * 12 + 32;
    char *out = malloc(cap);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    int next = 0;
    char quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = sql[i];
        size_t name_at, name_len;
        if (!quote && as_mixed_case(sql, i, &name_at, &name_len)) {
            o += (size_t)snprintf(out + o, cap - o, "AS \"%.*s\"", (int)name_len,
                                  sql + name_at);
            i = name_at + name_len - 1;
        } else if (quote) {
            quote = c == quote ? 0 : quote;
            out[o++] = c;
        } else if (c == '\'' || c == '"') {
            quote = c;
            out[o++] = c;
        } else if (c == '?' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            out[o++] = '$'; /* "?N" -> "$N": the digits follow as they are */
            int n = atoi(sql + i + 1);
            next = n > next ? n : next; /* as sqlite numbers a "?" after it: N + 1 */
        } else if (c == '?') {
            o += (size_t)snprintf(out + o, cap - o, "$%d", ++next);
        } else {
            out[o++] = c;
        }
    }
    snprintf(out + o, cap - o, "%s", suffix[lock]);
    return out;
}

/* The parameters' types as PostgreSQL is told them: int8, text, or for a NULL left to
 * PostgreSQL (0), so an integer compared in a CASE is never taken for an int4. */
static void param_types(const struct hb_param *args, int n_args, Oid *types)
{
    for (int i = 0; i < n_args; i++) {
        types[i] = args[i].kind == HB_PARAM_INT                  ? PG_INT8
                   : args[i].kind == HB_PARAM_TEXT && args[i].text ? PG_TEXT
                                                                  : 0;
    }
}

/* sql's prepared statement name in *name (prepared now on first use, with the parameter
 * types of this call); NULL when every slot is taken (the caller runs it unprepared). */
static hb_err_t prepared(struct pg_engine *e, const char *sql, const struct hb_param *args,
                         int n_args, enum hb_lock lock, const char **name)
{
    size_t len = strlen(sql);
    struct pg_stmt *free_slot = NULL;
    *name = NULL;
    for (size_t i = 0; i < PG_STMT_SLOTS; i++) {
        struct pg_stmt *s = &e->stmts[i];
        if (s->sql && s->len == len && s->lock == lock && memcmp(s->sql, sql, len) == 0) {
            s->last_use = ++e->clock;
            *name = s->name;
            return HB_OK;
        }
        if (!s->sql && !free_slot) {
            free_slot = s;
        }
    }
    if (!free_slot) {
        return HB_OK;
    }
    Oid types[PG_PARAMS_MAX];
    param_types(args, n_args, types);
    char *text = translate(sql, lock);
    char *key = malloc(len + 1);
    if (!text || !key) {
        free(text);
        free(key);
        return HB_ERR_NOMEM;
    }
    snprintf(free_slot->name, sizeof(free_slot->name), "hb%u", e->next_name++);
    PGresult *res = libpq.PQprepare(e->conn, free_slot->name, text, n_args, types);
    free(text);
    if (libpq.PQresultStatus(res) != PGRES_COMMAND_OK) {
        free(key);
        return result_fail(res, e->conn, "prepare");
    }
    libpq.PQclear(res);
    memcpy(key, sql, len + 1);
    free_slot->sql = key;
    free_slot->len = len;
    free_slot->lock = lock;
    free_slot->last_use = ++e->clock;
    *name = free_slot->name;
    return HB_OK;
}

/* Runs sql with args; *out the result (tuples or command), to PQclear. */
static hb_err_t execute(struct hb_store *st, const char *sql, const struct hb_param *args,
                        int n_args, enum hb_lock lock, PGresult **out)
{
    struct pg_engine *e = engine(st);
    *out = NULL;
    if (n_args < 0 || n_args > PG_PARAMS_MAX) {
        HB_LOGE(0, "postgresql: %d parameters, at most %d", n_args, PG_PARAMS_MAX);
        return HB_ERR_INVAL;
    }
    char numbers[PG_PARAMS_MAX][24];
    const char *values[PG_PARAMS_MAX];
    for (int i = 0; i < n_args; i++) {
        values[i] = NULL;
        if (args[i].kind == HB_PARAM_INT) {
            snprintf(numbers[i], sizeof(numbers[i]), "%lld", (long long)args[i].i);
            values[i] = numbers[i];
        } else if (args[i].kind == HB_PARAM_TEXT) {
            values[i] = args[i].text;
        }
    }
    HB_RETURN_ON_ERR(ensure_connected(e));
    e->ran = true;
    const char *name = NULL;
    HB_RETURN_ON_ERR(prepared(e, sql, args, n_args, lock, &name));
    PGresult *res;
    if (name) {
        res = libpq.PQexecPrepared(e->conn, name, n_args, values, NULL, NULL, 0);
    } else {
        char *text = translate(sql, lock);
        if (!text) {
            return HB_ERR_NOMEM;
        }
        Oid types[PG_PARAMS_MAX];
        param_types(args, n_args, types);
        res = libpq.PQexecParams(e->conn, text, n_args, types, values, NULL, NULL, 0);
        free(text);
    }
    ExecStatusType status = libpq.PQresultStatus(res);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        return result_fail(res, e->conn, "query");
    }
    *out = res;
    return HB_OK;
}

static hb_err_t pg_select(struct hb_store *st, const char *sql, const struct hb_param *args,
                          int n_args, enum hb_lock lock, struct hb_rows *rows)
{
    PGresult *res = NULL;
    HB_RETURN_ON_ERR(execute(st, sql, args, n_args, lock, &res));
    rows->handle = res;
    rows->pos = -1;
    return HB_OK;
}

static hb_err_t pg_next(struct hb_rows *rows, bool *row)
{
    rows->pos++;
    *row = rows->pos < libpq.PQntuples(rows->handle);
    return HB_OK;
}

static void pg_close_rows(struct hb_rows *rows)
{
    libpq.PQclear(rows->handle);
}

static int pg_n_cols(const struct hb_rows *rows)
{
    return libpq.PQnfields(rows->handle);
}

static const char *pg_col_name(const struct hb_rows *rows, int col)
{
    return libpq.PQfname(rows->handle, col);
}

static bool current(const struct hb_rows *rows, int col)
{
    return rows->pos >= 0 && rows->pos < libpq.PQntuples(rows->handle) && col >= 0 &&
           col < libpq.PQnfields(rows->handle);
}

static enum hb_col_kind pg_col_kind(const struct hb_rows *rows, int col)
{
    if (!current(rows, col) || libpq.PQgetisnull(rows->handle, (int)rows->pos, col)) {
        return HB_COL_NULL;
    }
    switch (libpq.PQftype(rows->handle, col)) {
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
        return HB_COL_INT;
    case PG_FLOAT4:
    case PG_FLOAT8:
    case PG_NUMERIC:
        return HB_COL_REAL;
    case PG_BOOL:
    case PG_BYTEA:
        return HB_COL_OTHER; /* no record of ours holds one: say so instead of guessing */
    default:
        return HB_COL_TEXT;
    }
}

static const char *pg_col_text(const struct hb_rows *rows, int col)
{
    if (!current(rows, col) || libpq.PQgetisnull(rows->handle, (int)rows->pos, col)) {
        return NULL;
    }
    return libpq.PQgetvalue(rows->handle, (int)rows->pos, col);
}

static int64_t pg_col_int(const struct hb_rows *rows, int col)
{
    const char *text = pg_col_text(rows, col);
    return text ? strtoll(text, NULL, 10) : 0;
}

static double pg_col_real(const struct hb_rows *rows, int col)
{
    const char *text = pg_col_text(rows, col);
    return text ? strtod(text, NULL) : 0;
}

static hb_err_t pg_run(struct hb_store *st, const char *sql, const struct hb_param *args,
                       int n_args, int64_t *changes)
{
    PGresult *res = NULL;
    HB_RETURN_ON_ERR(execute(st, sql, args, n_args, HB_LOCK_NONE, &res));
    const char *n = libpq.PQcmdTuples(res);
    *changes = n && *n ? strtoll(n, NULL, 10) : 0;
    libpq.PQclear(res);
    return HB_OK;
}

static hb_err_t pg_begin(struct hb_store *st)
{
    struct pg_engine *e = engine(st);
    e->in_tx = false;
    HB_RETURN_ON_ERR(ensure_connected(e));
    HB_RETURN_ON_ERR(command(st, "BEGIN", "begin"));
    e->in_tx = true;
    e->ran = false;
    e->savepoint_at_begin = false;
    return HB_OK;
}

static hb_err_t pg_commit(struct hb_store *st)
{
    /* A transaction in error answers COMMIT with "ROLLBACK": that is a failure. */
    engine(st)->in_tx = false;
    engine(st)->savepoint_at_begin = false;
    PGresult *res = libpq.PQexec(engine(st)->conn, "COMMIT");
    ExecStatusType status = libpq.PQresultStatus(res);
    if (status != PGRES_COMMAND_OK || strcmp(libpq.PQcmdStatus(res), "COMMIT") != 0) {
        if (status == PGRES_COMMAND_OK) {
            HB_LOGE(0, "postgresql commit: the transaction had failed and was rolled back");
            libpq.PQclear(res);
            return HB_ERR_DB;
        }
        return result_fail(res, engine(st)->conn, "commit");
    }
    libpq.PQclear(res);
    return HB_OK;
}

static bool pg_in_tx(struct hb_store *st)
{
    PGTransactionStatusType t = libpq.PQtransactionStatus(engine(st)->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static void pg_rollback(struct hb_store *st)
{
    engine(st)->in_tx = false;
    engine(st)->savepoint_at_begin = false;
    if (pg_in_tx(st)) {
        libpq.PQclear(libpq.PQexec(engine(st)->conn, "ROLLBACK"));
    }
}

static hb_err_t pg_savepoint(struct hb_store *st)
{
    struct pg_engine *e = engine(st);
    if (e->in_tx && !e->ran) {
        e->savepoint_at_begin = true;
        return HB_OK;
    }
    return command(st, "SAVEPOINT message", "savepoint");
}

static hb_err_t pg_savepoint_release(struct hb_store *st)
{
    struct pg_engine *e = engine(st);
    if (e->savepoint_at_begin) {
        e->savepoint_at_begin = false;
        return HB_OK;
    }
    return command(st, "RELEASE SAVEPOINT message", "release");
}

static hb_err_t pg_savepoint_rollback(struct hb_store *st)
{
    struct pg_engine *e = engine(st);
    if (!e->savepoint_at_begin) {
        return command(st, "ROLLBACK TO SAVEPOINT message", "rollback to savepoint");
    }
    /* Back to the transaction's start, which stays open (and the savepoint with it). On
     * failure (the connection lost) in_tx stays set: no statement may reconnect and run
     * outside the transaction the caller believes in; its commit fails. */
    e->ran = false;
    return command(st, "ROLLBACK; BEGIN", "rollback to savepoint");
}

/* Releases the lock pg_open took for the migrations. */
static void pg_migrated(struct hb_store *st)
{
    libpq.PQclear(libpq.PQexec(engine(st)->conn,
                               "SELECT pg_advisory_unlock(hashtext(current_schema()))"));
}

static const struct hb_store_sql pg_sql = {
    .inbox_claim = "INSERT INTO hb_inbox(event_id, handled_at) VALUES(?, ?)"
                   " ON CONFLICT DO NOTHING",
    .outbox_delete = "DELETE FROM hb_outbox WHERE id = ANY(?::bigint[])",
    .list_open = '{',
    .list_close = '}',
};

static const struct hb_store_backend pg_backend = {
    .name = "postgresql",
    .sql = &pg_sql,
    .migration_sql = migration_sql,
    .migrated = pg_migrated,
    .close = pg_close,
    .exec = pg_exec,
    .select = pg_select,
    .next = pg_next,
    .close_rows = pg_close_rows,
    .n_cols = pg_n_cols,
    .col_name = pg_col_name,
    .col_kind = pg_col_kind,
    .col_int = pg_col_int,
    .col_real = pg_col_real,
    .col_text = pg_col_text,
    .run = pg_run,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .in_tx = pg_in_tx,
};

hb_err_t hb_store_pg_open(struct hb_store *st, const char *url,
                          const struct hb_store_options *opt)
{
    (void)opt;
    HB_RETURN_ON_ERR(libpq_loaded());
    struct pg_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        return HB_ERR_NOMEM;
    }
    st->engine = e;
    st->be = &pg_backend;
    int n = snprintf(e->schema, sizeof(e->schema), "hausbus_%s", st->component);
    if (n < 0 || (size_t)n >= sizeof(e->schema)) {
        return HB_ERR_INVAL;
    }
    char app[64], options[128];
    snprintf(app, sizeof(app), "hausbus-%s", st->component);
    snprintf(options, sizeof(options), "-c lock_timeout=10000 -c search_path=%s", e->schema);
    /* Defaults first: what the URL says wins (expand_dbname parses it in place). A lock
     * wait ends after 10 s (55P03: the event runs again) instead of holding the loop for as
     * long as another session holds its row. The search path is a connection option, so a
     * reconnect (PQreset) has it too. */
    const char *keys[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *values[] = {"10", app, options, url, NULL};
    e->conn = libpq.PQconnectdbParams(keys, values, 1);
    if (!e->conn) {
        return HB_ERR_NOMEM;
    }
    if (libpq.PQstatus(e->conn) != CONNECTION_OK) {
        return result_fail(NULL, e->conn, "connect");
    }
    /* One schema per component, created once; replicas starting together wait for the
     * first to create it and migrate (the lock is released by pg_migrated). */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_advisory_lock(hashtext('%s'));"
             " CREATE SCHEMA IF NOT EXISTS \"%s\"; SET search_path TO \"%s\"",
             e->schema, e->schema, e->schema);
    return command(st, sql, "schema");
}
