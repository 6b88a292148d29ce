/* Heartbeat file and the --probe check: fresh and connected passes, anything else fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hausbus/probe.h"

#define NOW_MS 1700000000000LL

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/hb-probe-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/order.heartbeat", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void fresh_connected_heartbeat_passes(void **state)
{
    struct fixture *f = *state;
    char why[160];
    assert_int_equal(hb_heartbeat_write(f->path, NOW_MS, true), HB_OK);
    assert_int_equal(hb_heartbeat_check(f->path, NOW_MS + 9999, 10000, why, sizeof(why)), HB_OK);
    assert_string_equal(why, "ok");
}

static void stale_heartbeat_of_a_hung_loop_fails(void **state)
{
    struct fixture *f = *state;
    char why[160];
    assert_int_equal(hb_heartbeat_write(f->path, NOW_MS, true), HB_OK);
    assert_int_equal(hb_heartbeat_check(f->path, NOW_MS + 10001, 10000, why, sizeof(why)),
                     HB_ERR_TIMEOUT);
    assert_non_null(strstr(why, "loop stuck"));
}

static void disconnected_heartbeat_fails(void **state)
{
    struct fixture *f = *state;
    char why[160];
    assert_int_equal(hb_heartbeat_write(f->path, NOW_MS, false), HB_OK);
    assert_int_equal(hb_heartbeat_check(f->path, NOW_MS, 10000, why, sizeof(why)), HB_ERR_BUS);
    assert_non_null(strstr(why, "broker"));
}

static void missing_or_garbled_heartbeat_fails(void **state)
{
    struct fixture *f = *state;
    char why[160];
    assert_int_equal(hb_heartbeat_check(f->path, NOW_MS, 10000, why, sizeof(why)),
                     HB_ERR_NOT_FOUND);
    FILE *out = fopen(f->path, "w");
    assert_non_null(out);
    fputs("not a heartbeat\n", out);
    fclose(out);
    assert_int_equal(hb_heartbeat_check(f->path, NOW_MS, 10000, why, sizeof(why)),
                     HB_ERR_DECODE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fresh_connected_heartbeat_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_heartbeat_of_a_hung_loop_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(disconnected_heartbeat_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_or_garbled_heartbeat_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
