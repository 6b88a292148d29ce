/* The sqlite backend's statement cache (lib/src/store_sqlite_cache.c), on a connection of its
 * own: one compiled statement per SQL text, reused, bounded, safe to nest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "hausbus/err.h"
#include "store_sqlite_cache_int.h"

struct cache_db {
    sqlite3 *db;
    struct hb_stmt_cache cache;
};

static struct cache_db *open_cache_db(void)
{
    struct cache_db *st = calloc(1, sizeof(*st));
    assert_non_null(st);
    assert_int_equal(sqlite3_open(":memory:", &st->db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(st->db,
                                  "CREATE TABLE widgets(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                  " weight INTEGER NOT NULL DEFAULT 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return st;
}

static void close_cache_db(struct cache_db *st)
{
    hb_stmt_cache_clear(&st->cache);
    assert_int_equal(sqlite3_close(st->db), SQLITE_OK); /* busy if a statement was left */
    free(st);
}

static hb_err_t exec(struct cache_db *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? HB_OK : HB_ERR_DB;
}

/* The cache's answer as the store gives it: HB_OK, or HB_ERR_DB with *out untouched. */
static hb_err_t cached(struct cache_db *st, const char *sql, sqlite3_stmt **out)
{
    return hb_stmt_cache_get(&st->cache, st->db, sql, out) == SQLITE_OK ? HB_OK : HB_ERR_DB;
}

/* A statement prepared outside the cache, as sqlite itself does it. */
static hb_err_t uncached(struct cache_db *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK || !*out) {
        sqlite3_finalize(*out);
        *out = NULL;
        return HB_ERR_DB;
    }
    return HB_OK;
}

/* Runs a one-row integer query through the cache. */
static hb_err_t query_int(struct cache_db *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    if (cached(st, sql, &s) != HB_OK) {
        return HB_ERR_DB;
    }
    int step = sqlite3_step(s);
    *out = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    hb_stmt_cache_put(&st->cache, s);
    return step == SQLITE_ROW ? HB_OK : HB_ERR_DB;
}

/* How many statements st's database has prepared and not finalized. */
static int live_statements(struct cache_db *st)
{
    int n = 0;
    for (sqlite3_stmt *s = sqlite3_next_stmt(st->db, NULL); s;
         s = sqlite3_next_stmt(st->db, s)) {
        n++;
    }
    return n;
}

/* How many times stmt has run since it was prepared: 0 for a fresh one. */
static int runs(sqlite3_stmt *stmt)
{
    return sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0);
}


static void cached_statement_is_reused_after_release(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    int before = live_statements(st);
    sqlite3_stmt *first = NULL;
    sqlite3_stmt *again = NULL;
    assert_int_equal(cached(st, "SELECT count(*) FROM widgets", &first), HB_OK);
    assert_int_equal(sqlite3_step(first), SQLITE_ROW);
    hb_stmt_cache_put(&st->cache, first);
    /* The same text from another buffer is the same statement. */
    char sql[64];
    snprintf(sql, sizeof(sql), "%s", "SELECT count(*) FROM widgets");
    assert_int_equal(cached(st, sql, &again), HB_OK);
    assert_ptr_equal(again, first);
    assert_int_equal(runs(again), 1);
    assert_int_equal(sqlite3_step(again), SQLITE_ROW); /* reset by the release */
    hb_stmt_cache_put(&st->cache, again);
    assert_int_equal(live_statements(st), before + 1);
    close_cache_db(st);
}

static void cache_keys_on_the_text_not_the_buffer(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    assert_int_equal(exec(st, "INSERT INTO widgets(name, weight) VALUES('bolt', 7)"),
                     HB_OK);
    char sql[64];
    int64_t n = 0;
    snprintf(sql, sizeof(sql), "SELECT %s FROM widgets", "weight");
    assert_int_equal(query_int(st, sql, &n), HB_OK);
    assert_int_equal(n, 7);
    snprintf(sql, sizeof(sql), "SELECT %s FROM widgets", "id");
    assert_int_equal(query_int(st, sql, &n), HB_OK);
    assert_int_equal(n, 1);
    close_cache_db(st);
}

static void nested_use_of_the_same_sql_gets_a_statement_of_its_own(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    assert_int_equal(exec(st, "INSERT INTO widgets(name) VALUES('a'), ('b'), ('c')"),
                     HB_OK);
    int before = live_statements(st);
    static const char sql[] = "SELECT name FROM widgets ORDER BY id";
    sqlite3_stmt *outer = NULL;
    sqlite3_stmt *inner = NULL;
    assert_int_equal(cached(st, sql, &outer), HB_OK);
    assert_int_equal(sqlite3_step(outer), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(outer, 0), "a");
    assert_int_equal(cached(st, sql, &inner), HB_OK);
    assert_ptr_not_equal(inner, outer);
    assert_int_equal(sqlite3_step(inner), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(inner, 0), "a");
    hb_stmt_cache_put(&st->cache, inner); /* finalized: not the cached one */
    assert_int_equal(live_statements(st), before + 1);
    /* The outer walk goes on where it was. */
    assert_int_equal(sqlite3_step(outer), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(outer, 0), "b");
    hb_stmt_cache_put(&st->cache, outer);
    assert_int_equal(cached(st, sql, &inner), HB_OK);
    assert_ptr_equal(inner, outer);
    hb_stmt_cache_put(&st->cache, inner);
    assert_int_equal(live_statements(st), before + 1);
    close_cache_db(st);
}

static void released_statement_keeps_no_bindings(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    sqlite3_stmt *s = NULL;
    assert_int_equal(cached(st, "SELECT ?", &s), HB_OK);
    assert_int_equal(sqlite3_bind_text(s, 1, "kept?", -1, SQLITE_STATIC), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    hb_stmt_cache_put(&st->cache, s);
    assert_int_equal(cached(st, "SELECT ?", &s), HB_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(s, 0), SQLITE_NULL);
    hb_stmt_cache_put(&st->cache, s);
    close_cache_db(st);
}

/* Runs "SELECT <i>" through the cache and checks the answer. */
static void select_number(struct cache_db *st, int i)
{
    char sql[32];
    int64_t n = -1;
    snprintf(sql, sizeof(sql), "SELECT %d", i);
    assert_int_equal(query_int(st, sql, &n), HB_OK);
    assert_int_equal(n, i);
}

static void cache_is_bounded_and_forgets_the_least_recently_used(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    int before = live_statements(st);
    for (int i = 0; i < 100; i++) {
        select_number(st, i);
    }
    assert_int_equal(live_statements(st), before + 32);
    /* 0 used, then 31 others: all 32 cached; 0 used again, then one more new text: the
     * least recently used (1) goes, 0 stays. */
    for (int i = 0; i < 32; i++) {
        select_number(st, 1000 + i);
    }
    select_number(st, 1000);
    select_number(st, 2000);
    sqlite3_stmt *s = NULL;
    assert_int_equal(cached(st, "SELECT 1000", &s), HB_OK);
    assert_int_equal(runs(s), 2);
    hb_stmt_cache_put(&st->cache, s);
    assert_int_equal(cached(st, "SELECT 1001", &s), HB_OK);
    assert_int_equal(runs(s), 0); /* forgotten, prepared again */
    hb_stmt_cache_put(&st->cache, s);
    assert_int_equal(live_statements(st), before + 32);
    close_cache_db(st);
}

static void cache_with_every_slot_handed_out_still_prepares(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    int before = live_statements(st);
    sqlite3_stmt *held[33];
    char sql[32];
    for (int i = 0; i < 33; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        assert_int_equal(cached(st, sql, &held[i]), HB_OK);
        assert_int_equal(sqlite3_step(held[i]), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(held[i], 0), i);
    }
    assert_int_equal(live_statements(st), before + 33);
    for (int i = 0; i < 33; i++) {
        hb_stmt_cache_put(&st->cache, held[i]);
    }
    assert_int_equal(live_statements(st), before + 32); /* the 33rd was not cached */
    close_cache_db(st);
}

static void cached_bad_sql_is_a_db_error_and_leaves_out_unset(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    int before = live_statements(st);
    sqlite3_stmt *s = (sqlite3_stmt *)&s; /* not NULL: must stay as it is */
    assert_int_equal(cached(st, "SELEC 1", &s), HB_ERR_DB);
    assert_ptr_equal(s, (sqlite3_stmt *)&s);
    assert_int_equal(live_statements(st), before);
    hb_stmt_cache_put(&st->cache, NULL); /* accepts NULL */
    close_cache_db(st);
}

/* sqlite prepares blank SQL (or only a comment) into no statement at all: a caller would
 * step a NULL statement, so it is an error, with the cache full or not. */
static void cached_sql_without_a_statement_is_a_db_error_and_leaves_out_unset(void **state)
{
    (void)state;
    static const char *const blanks[] = {"", "   \n", "-- nothing to run", "/* nor here */ "};
    struct cache_db *st = open_cache_db();
    int before = live_statements(st);
    sqlite3_stmt *s = (sqlite3_stmt *)&s; /* not NULL: must stay as it is */
    for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
        assert_int_equal(cached(st, blanks[i], &s), HB_ERR_DB);
        assert_ptr_equal(s, (sqlite3_stmt *)&s);
        sqlite3_stmt *fresh = NULL;
        assert_int_equal(uncached(st, blanks[i], &fresh), HB_ERR_DB); /* uncached */
    }
    /* Every slot handed out: the SQL is prepared outside the cache, and refused alike. */
    sqlite3_stmt *held[32];
    char sql[32];
    for (int i = 0; i < 32; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        assert_int_equal(cached(st, sql, &held[i]), HB_OK);
    }
    assert_int_equal(cached(st, "", &s), HB_ERR_DB);
    assert_ptr_equal(s, (sqlite3_stmt *)&s);
    for (int i = 0; i < 32; i++) {
        hb_stmt_cache_put(&st->cache, held[i]);
    }
    assert_int_equal(live_statements(st), before + 32);
    close_cache_db(st);
}

static void close_finalizes_statements_still_handed_out(void **state)
{
    (void)state;
    struct cache_db *st = open_cache_db();
    sqlite3_stmt *s = NULL;
    assert_int_equal(cached(st, "SELECT name FROM widgets", &s), HB_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    close_cache_db(st); /* valgrind and ASan report a leak if it did not */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cached_statement_is_reused_after_release),
        cmocka_unit_test(cache_keys_on_the_text_not_the_buffer),
        cmocka_unit_test(nested_use_of_the_same_sql_gets_a_statement_of_its_own),
        cmocka_unit_test(released_statement_keeps_no_bindings),
        cmocka_unit_test(cache_is_bounded_and_forgets_the_least_recently_used),
        cmocka_unit_test(cache_with_every_slot_handed_out_still_prepares),
        cmocka_unit_test(cached_bad_sql_is_a_db_error_and_leaves_out_unset),
        cmocka_unit_test(cached_sql_without_a_statement_is_a_db_error_and_leaves_out_unset),
        cmocka_unit_test(close_finalizes_statements_still_handed_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
