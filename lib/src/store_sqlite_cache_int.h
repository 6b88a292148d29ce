/* Private to lib/: the store's cache of prepared statements, keyed by their SQL text. */
#ifndef HAUSBUS_STORE_SQLITE_CACHE_INT_H
#define HAUSBUS_STORE_SQLITE_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Statements kept per store. A component runs a handful of SQL texts per message (order,
 * the busiest, about eight); the bound keeps a store that runs many ad-hoc queries (lists,
 * metrics) from growing without end. */
#define HB_STMT_CACHE_SLOTS 32

struct hb_stmt_slot {
    char *sql;          /* the key: a copy of the text the statement was prepared from */
    const char *seen;   /* the caller's pointer it was last asked for by: a hint only */
    size_t len;         /* strlen(sql) */
    sqlite3_stmt *stmt; /* NULL: a free slot */
    uint64_t last_use;  /* cache->clock when it was last handed out */
    bool in_use;        /* handed out and not yet given back */
};

/* All zero is an empty cache. */
struct hb_stmt_cache {
    struct hb_stmt_slot slots[HB_STMT_CACHE_SLOTS];
    uint64_t clock;
};

/* Hands out a statement for sql (one statement), prepared on db once and reused after.
 * When the cached statement for sql is handed out already (a caller nested in another
 * use of the same SQL), or every slot is, *out is a fresh statement that
 * hb_stmt_cache_put finalizes. A full cache forgets its least recently used statement.
 * Returns sqlite's result code; *out is set only on SQLITE_OK (sqlite3_errmsg(db) says
 * why not), never to NULL: SQL without a statement (only blanks or a comment) is
 * SQLITE_MISUSE, logged here, since sqlite3_errmsg says "not an error" then. */
int hb_stmt_cache_get(struct hb_stmt_cache *cache, sqlite3 *db, const char *sql,
                      sqlite3_stmt **out);

/* Gives back a statement from hb_stmt_cache_get: a cached one is reset and its bindings
 * cleared (column values read from it are invalid after), any other is finalized.
 * Accepts NULL. Can't fail. */
void hb_stmt_cache_put(struct hb_stmt_cache *cache, sqlite3_stmt *stmt);

/* Finalizes every cached statement, handed out or not, and empties the cache; to be
 * called before the database is closed. Can't fail. */
void hb_stmt_cache_clear(struct hb_stmt_cache *cache);

#endif
