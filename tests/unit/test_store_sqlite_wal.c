/* Unit tests of the sqlite backend's checkpoints (lib/src/store_sqlite.c): a commit
 * checkpoints only when the WAL reaches its ceiling (HAUSBUS_SQLITE_WAL_KB), and
 * hb_store_idle checkpoints a WAL over 1 MiB when no message waits. A checkpoint is seen
 * in the database file: the pages it copies there make it grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hausbus/store.h"

static const struct hb_migration blob_migrations[] = {
    {.sqlite = "CREATE TABLE blobs(id INTEGER PRIMARY KEY, body TEXT NOT NULL);"}};

struct db {
    char dir[64];
    char path[96];
    struct hb_store *st;
};

static void open_db(struct db *db, int wal_kb)
{
    snprintf(db->dir, sizeof(db->dir), "/tmp/hausbus-wal-XXXXXX");
    assert_non_null(mkdtemp(db->dir));
    snprintf(db->path, sizeof(db->path), "%s/blob.db", db->dir);
    const struct hb_store_options opt = {.sqlite_wal_kb = wal_kb};
    assert_int_equal(hb_store_open_with(db->path, "blob", blob_migrations, 1, &opt, &db->st),
                     HB_OK);
}

static void close_db(struct db *db)
{
    hb_store_close(db->st);
    char file[128];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(file, sizeof(file), "%s%s", db->path, suffixes[i]);
        unlink(file);
    }
    rmdir(db->dir);
}

static long long file_kb(const struct db *db)
{
    struct stat sb;
    assert_int_equal(stat(db->path, &sb), 0);
    return (long long)sb.st_size / 1024;
}

/* One transaction of n rows of 3 KiB: about n 4 KiB pages in the WAL. */
static void write_rows(struct db *db, int n)
{
    static char body[3073];
    memset(body, 'x', sizeof(body) - 1);
    assert_int_equal(hb_store_begin(db->st), HB_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(hb_store_run(db->st, "INSERT INTO blobs(body) VALUES(?)",
                                      HB_ARGS(HB_TEXT(body))),
                         HB_OK);
    }
    assert_int_equal(hb_store_commit(db->st), HB_OK);
}

static void idle_checkpoints_a_wal_over_1_mib(void **state)
{
    (void)state;
    struct db db;
    open_db(&db, 40960);
    long long before = file_kb(&db);
    write_rows(&db, 400); /* ~1.6 MiB in the WAL, far below the 40 MiB ceiling */
    assert_int_equal(file_kb(&db), before); /* no commit checkpointed */
    hb_store_idle(db.st);
    assert_true(file_kb(&db) > before + 1024);
    close_db(&db);
}

static void idle_leaves_a_small_wal_and_works_only_outside_a_transaction(void **state)
{
    (void)state;
    struct db db;
    open_db(&db, 40960);
    long long before = file_kb(&db);
    write_rows(&db, 50); /* ~200 KiB */
    hb_store_idle(db.st);
    assert_int_equal(file_kb(&db), before);
    write_rows(&db, 400);
    assert_int_equal(hb_store_begin(db.st), HB_OK);
    hb_store_idle(db.st); /* inside a transaction: nothing */
    assert_int_equal(file_kb(&db), before);
    assert_int_equal(hb_store_commit(db.st), HB_OK);
    close_db(&db);
}

static void a_commit_checkpoints_at_the_ceiling(void **state)
{
    (void)state;
    struct db db;
    open_db(&db, 1024); /* a ceiling of 256 frames */
    long long before = file_kb(&db);
    write_rows(&db, 100);
    assert_int_equal(file_kb(&db), before);
    write_rows(&db, 300); /* past the ceiling: this commit checkpoints */
    assert_true(file_kb(&db) > before + 1024);
    close_db(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idle_checkpoints_a_wal_over_1_mib),
        cmocka_unit_test(idle_leaves_a_small_wal_and_works_only_outside_a_transaction),
        cmocka_unit_test(a_commit_checkpoints_at_the_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
