/* Private to lib/: a store and the database engine behind it. store.c holds what every
 * engine shares (inbox, outbox, events, migrations, JSON records); a backend
 * (store_sqlite.c, store_pg.c) is the only place its engine's API appears. */
#ifndef HAUSBUS_STORE_INT_H
#define HAUSBUS_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "hausbus/store.h"

/* A column's value as a JSON record carries it. */
enum hb_col_kind { HB_COL_NULL, HB_COL_INT, HB_COL_REAL, HB_COL_TEXT, HB_COL_OTHER };

/* The statements every store runs, in each engine's SQL (placeholders as hb_store_run's). */
struct hb_store_sql {
    const char *inbox_claim;   /* ?1 event id, ?2 handled at (s): inserts unless there */
    const char *outbox_delete; /* ?1 the ids as this engine's list text (see list_open) */
    char list_open, list_close; /* how a list of ids is written: '[' ']' or '{' '}' */
};

struct hb_store_backend {
    const char *name; /* "sqlite", "postgresql": for logs */
    bool runs_sqlite_legacy; /* runs hb_migration.sqlite_legacy */
    const struct hb_store_sql *sql;
    /* The SQL of migration m for this engine (NULL when it has none). */
    const char *(*migration_sql)(const struct hb_migration *m);
    /* Called before a migration's SQL runs; may be NULL. */
    void (*schema_changing)(struct hb_store *st);
    /* Called once the migrations are done (or failed); may be NULL. */
    void (*migrated)(struct hb_store *st);
    void (*close)(struct hb_store *st);
    /* Runs one or more statements without parameters or rows. */
    hb_err_t (*exec)(struct hb_store *st, const char *sql);
    hb_err_t (*select)(struct hb_store *st, const char *sql, const struct hb_param *args,
                       int n_args, enum hb_lock lock, struct hb_rows *rows);
    hb_err_t (*next)(struct hb_rows *rows, bool *row);
    void (*close_rows)(struct hb_rows *rows);
    /* True when the rows' statement writes (INSERT ... RETURNING) and is complete only once
     * stepped to its end; NULL when every result is complete as it comes. */
    bool (*finish_writes)(const struct hb_rows *rows);
    int (*n_cols)(const struct hb_rows *rows);
    const char *(*col_name)(const struct hb_rows *rows, int col);
    enum hb_col_kind (*col_kind)(const struct hb_rows *rows, int col);
    int64_t (*col_int)(const struct hb_rows *rows, int col);
    double (*col_real)(const struct hb_rows *rows, int col);
    const char *(*col_text)(const struct hb_rows *rows, int col);
    /* Runs sql to its end; *changes gets the rows it inserted, updated or deleted. */
    hb_err_t (*run)(struct hb_store *st, const char *sql, const struct hb_param *args,
                    int n_args, int64_t *changes);
    hb_err_t (*begin)(struct hb_store *st);
    hb_err_t (*commit)(struct hb_store *st);
    void (*rollback)(struct hb_store *st);
    hb_err_t (*savepoint)(struct hb_store *st);
    hb_err_t (*savepoint_release)(struct hb_store *st);
    hb_err_t (*savepoint_rollback)(struct hb_store *st);
    bool (*in_tx)(struct hb_store *st);
    /* Work for a moment when no message waits, outside a transaction; may be NULL. */
    void (*idle)(struct hb_store *st);
};

struct hb_store {
    const struct hb_store_backend *be;
    void *engine; /* the backend's connection state */
    char component[32];
    int64_t duplicates; /* inbox claims of ids already handled, since open */
    int64_t changes;    /* rows the last hb_store_run changed */
    char writer[64];    /* outbox rows this store writes and relays: its replica's name */
    uint64_t outbox_puts; /* outbox rows written since open, rolled back or not */
};

/* The backends' openers: *engine and st->be set on success, a logged HB_ERR_* otherwise. */
hb_err_t hb_store_sqlite_open(struct hb_store *st, const char *path,
                              const struct hb_store_options *opt);
hb_err_t hb_store_pg_open(struct hb_store *st, const char *url,
                          const struct hb_store_options *opt);

#endif
