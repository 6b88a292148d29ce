/* The store's cache of prepared statements: components run the same SQL texts on every
 * message, and compiling them (sqlite3_prepare) cost more than running them: half of the
 * order component's CPU time went to preparing, measured (docs/PERFORMANCE.md). */
#include "store_sqlite_cache_int.h"

#include <stdlib.h>
#include <string.h>

#include "hausbus/log.h"

/* The slot holding sql's statement, or NULL. Keyed by the text, not the pointer: a caller
 * may build its SQL in a buffer that holds another text next time. Most SQL is a string
 * literal asked for from the same pointer every time, so the slot last asked for by this
 * pointer is tried first (its text still compared). */
static struct hb_stmt_slot *find(struct hb_stmt_cache *cache, const char *sql)
{
    for (size_t i = 0; i < HB_STMT_CACHE_SLOTS; i++) {
        struct hb_stmt_slot *slot = &cache->slots[i];
        if (slot->seen == sql && slot->stmt && strcmp(slot->sql, sql) == 0) {
            return slot;
        }
    }
    size_t len = strlen(sql);
    for (size_t i = 0; i < HB_STMT_CACHE_SLOTS; i++) {
        struct hb_stmt_slot *slot = &cache->slots[i];
        if (slot->stmt && slot->len == len && memcmp(slot->sql, sql, len) == 0) {
            return slot;
        }
    }
    return NULL;
}

/* A free slot, else the least recently used one not handed out; NULL when all are. */
static struct hb_stmt_slot *victim(struct hb_stmt_cache *cache)
{
    struct hb_stmt_slot *oldest = NULL;
    for (size_t i = 0; i < HB_STMT_CACHE_SLOTS; i++) {
        struct hb_stmt_slot *slot = &cache->slots[i];
        if (!slot->stmt) {
            return slot;
        }
        if (!slot->in_use && (!oldest || slot->last_use < oldest->last_use)) {
            oldest = slot;
        }
    }
    return oldest;
}

static void empty(struct hb_stmt_slot *slot)
{
    sqlite3_finalize(slot->stmt);
    free(slot->sql);
    memset(slot, 0, sizeof(*slot));
}

/* SQLITE_MISUSE for sql that sqlite prepared into no statement (only blanks or a
 * comment: SQLITE_OK with a NULL statement, which a caller would step), logged here, as
 * sqlite3_errmsg has nothing to say about it; else rc. */
static int refuse_empty(int rc, const sqlite3_stmt *stmt, const char *sql)
{
    if (rc == SQLITE_OK && !stmt) {
        HB_LOGE(0, "sqlite prepare: no statement in \"%.80s\" (only blanks or a comment)", sql);
        return SQLITE_MISUSE;
    }
    return rc;
}

/* Prepares sql without caching it. *out is set only on SQLITE_OK. */
static int prepare_uncached(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    rc = refuse_empty(rc, stmt, sql);
    if (rc == SQLITE_OK) {
        *out = stmt;
    }
    return rc;
}

int hb_stmt_cache_get(struct hb_stmt_cache *cache, sqlite3 *db, const char *sql,
                      sqlite3_stmt **out)
{
    struct hb_stmt_slot *slot = find(cache, sql);
    if (slot && slot->in_use) {
        /* Resetting a statement still stepping would pull the rows from under its user:
         * this use gets a statement of its own, finalized when given back. */
        return prepare_uncached(db, sql, out);
    }
    if (slot) {
        slot->in_use = true;
        slot->last_use = ++cache->clock;
        slot->seen = sql;
        *out = slot->stmt;
        return SQLITE_OK;
    }
    size_t len = strlen(sql);
    slot = victim(cache);
    char *key = slot ? malloc(len + 1) : NULL;
    if (!key) {
        return prepare_uncached(db, sql, out); /* every slot handed out, or no memory */
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    rc = refuse_empty(rc, stmt, sql);
    if (rc != SQLITE_OK) {
        free(key);
        return rc;
    }
    empty(slot);
    memcpy(key, sql, len + 1);
    *slot = (struct hb_stmt_slot){
        .sql = key, .seen = sql, .len = len, .stmt = stmt, .last_use = ++cache->clock,
        .in_use = true};
    *out = stmt;
    return SQLITE_OK;
}

void hb_stmt_cache_put(struct hb_stmt_cache *cache, sqlite3_stmt *stmt)
{
    if (!stmt) {
        return;
    }
    for (size_t i = 0; i < HB_STMT_CACHE_SLOTS; i++) {
        struct hb_stmt_slot *slot = &cache->slots[i];
        if (slot->stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            slot->in_use = false;
            return;
        }
    }
    sqlite3_finalize(stmt);
}

void hb_stmt_cache_clear(struct hb_stmt_cache *cache)
{
    for (size_t i = 0; i < HB_STMT_CACHE_SLOTS; i++) {
        if (cache->slots[i].stmt) {
            empty(&cache->slots[i]);
        }
    }
    cache->clock = 0;
}
