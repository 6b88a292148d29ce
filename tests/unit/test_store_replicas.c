/* Unit tests of what replicas on one database share through the store (lib/src/store.c):
 * the beat that takes over a stopped replica's outbox rows, and the replay marks per
 * replica that bound what a stopped replica lost. On sqlite, one store playing several
 * replicas by changing its writer name; the same SQL runs on PostgreSQL in the e2e-pg
 * tests (tests/e2e/test_replicas.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hausbus/store.h"

#define STALE_MS 15000

static struct hb_store *open_memory(void)
{
    struct hb_store *st = NULL;
    assert_int_equal(hb_store_open(":memory:", "view", NULL, 0, &st), HB_OK);
    return st;
}

/* As replica `name`: beats at now_ms; returns how many outbox rows it took over. */
static int64_t beat_as(struct hb_store *st, const char *name, int64_t now_ms)
{
    int64_t adopted = -1;
    assert_int_equal(hb_store_set_writer(st, name), HB_OK);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_replica_beat(st, now_ms, STALE_MS, &adopted), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    return adopted;
}

static int64_t mark_of(struct hb_store *st, const char *name, const char *owner)
{
    int64_t ms = -1;
    assert_int_equal(hb_store_set_writer(st, name), HB_OK);
    assert_int_equal(hb_store_replay_mark_get(st, owner, -7, &ms), HB_OK);
    return ms;
}

static void mark_as(struct hb_store *st, const char *name, const char *owner, int64_t ms)
{
    assert_int_equal(hb_store_set_writer(st, name), HB_OK);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_replay_mark(st, owner, ms), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
}

static void start_as(struct hb_store *st, const char *name, const char *owner, int64_t ms)
{
    assert_int_equal(hb_store_set_writer(st, name), HB_OK);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_replay_mark_start(st, owner, ms), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
}

struct lost {
    int n;
    char owner[4][16];
    int64_t ms[4];
};

static hb_err_t note_lost(void *arg, const char *owner, int64_t event_ms)
{
    struct lost *l = arg;
    assert_true(l->n < 4);
    snprintf(l->owner[l->n], sizeof(l->owner[0]), "%s", owner);
    l->ms[l->n++] = event_ms;
    return HB_OK;
}

static struct lost lost_as(struct hb_store *st, const char *name, int64_t now_ms)
{
    struct lost l = {0};
    assert_int_equal(hb_store_set_writer(st, name), HB_OK);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_lost_replica_marks(st, now_ms, STALE_MS, note_lost, &l), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    return l;
}

static void a_replica_marks_its_own_stream_and_a_new_one_starts_at_the_oldest(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    assert_int_equal(mark_of(st, "a", "order"), -7); /* no mark anywhere: the fallback */
    start_as(st, "a", "order", 100);
    assert_int_equal(mark_of(st, "a", "order"), 100);
    mark_as(st, "a", "order", 250);
    mark_as(st, "a", "order", 200); /* older: left as it is */
    start_as(st, "a", "order", 150); /* a restart keeps the mark it had */
    assert_int_equal(mark_of(st, "a", "order"), 250);
    mark_as(st, "b", "order", 180);
    assert_int_equal(mark_of(st, "b", "order"), 180); /* its own, not a's newer one */
    assert_int_equal(mark_of(st, "c", "order"), 180); /* new: the oldest of the others */
    assert_int_equal(mark_of(st, "c", "payment"), -7);
    hb_store_close(st);
}

static void reset_lowers_a_mark_for_a_backlog_older_than_the_start(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    start_as(st, "a", "order", 5000);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_replay_mark_reset(st, "order", 1200), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    assert_int_equal(mark_of(st, "a", "order"), 1200);
    mark_as(st, "a", "order", 1100); /* after the reset, marks only rise again */
    assert_int_equal(mark_of(st, "a", "order"), 1200);
    mark_as(st, "", "order", 900);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_replay_mark_reset(st, "order", 700), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    assert_int_equal(mark_of(st, "", "order"), 700); /* one process: its one mark */
    hb_store_close(st);
}

static void one_process_keeps_one_mark_per_owner(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    mark_as(st, "", "order", 300);
    start_as(st, "", "order", 999); /* no writer: nothing to start */
    assert_int_equal(mark_of(st, "", "order"), 300);
    hb_store_close(st);
}

static void the_marks_of_a_replica_that_stopped_are_handed_over_once(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    beat_as(st, "a", 1000);
    beat_as(st, "b", 1000);
    mark_as(st, "a", "order", 400);
    mark_as(st, "a", "delivery", 500);
    mark_as(st, "b", "order", 900);
    beat_as(st, "b", 10000);
    struct lost l = lost_as(st, "b", 10000); /* a was seen 9 s ago: alive */
    assert_int_equal(l.n, 0);
    beat_as(st, "b", 16001);
    l = lost_as(st, "b", 16001); /* a: 15.001 s without a beat, gone */
    assert_int_equal(l.n, 2);
    for (int i = 0; i < l.n; i++) {
        assert_int_equal(l.ms[i], strcmp(l.owner[i], "order") == 0 ? 400 : 500);
    }
    assert_int_equal(lost_as(st, "b", 16002).n, 0); /* forgotten: asked for once */
    assert_int_equal(mark_of(st, "b", "order"), 900); /* the live replica's own stays */
    hb_store_close(st);
}

static void a_stopped_replicas_outbox_rows_are_taken_over(void **state)
{
    (void)state;
    struct hb_store *st = open_memory();
    beat_as(st, "a", 1000);
    assert_int_equal(hb_store_begin(st), HB_OK);
    assert_int_equal(hb_store_outbox_put(st, "hausbus/v1/evt/view/x", "{}"), HB_OK);
    assert_int_equal(hb_store_outbox_put(st, "hausbus/v1/evt/view/y", "{}"), HB_OK);
    assert_int_equal(hb_store_commit(st), HB_OK);
    assert_int_equal(beat_as(st, "b", 2000), 0); /* a is alive */
    assert_int_equal(beat_as(st, "b", 17000), 2);
    int64_t rows = -1;
    assert_int_equal(hb_store_query_int(st, "SELECT count(*) FROM hb_outbox WHERE writer = 'b'",
                                        NULL, 0, -1, &rows),
                     HB_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(beat_as(st, "b", 17001), 0);
    hb_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_replica_marks_its_own_stream_and_a_new_one_starts_at_the_oldest),
        cmocka_unit_test(reset_lowers_a_mark_for_a_backlog_older_than_the_start),
        cmocka_unit_test(one_process_keeps_one_mark_per_owner),
        cmocka_unit_test(the_marks_of_a_replica_that_stopped_are_handed_over_once),
        cmocka_unit_test(a_stopped_replicas_outbox_rows_are_taken_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
