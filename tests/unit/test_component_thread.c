/* A component loop in its own thread (lib/src/component_thread.c): start, early end, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hausbus/component.h"
#include "hausbus/log.h"

#define WAIT_LIMIT_MS 5000

static atomic_int ended_calls;

static void count_end(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ended_calls, 1);
}

static hb_err_t refuse_setup(struct hb_ctx *ctx)
{
    (void)ctx;
    return HB_ERR_IO;
}

static const struct hb_component broken = {
    .name = "broken",
    .setup = refuse_setup,
};

static const struct hb_component idle = {
    .name = "idle",
};

/* A loopback port nobody listens on: bound, then closed (a connect is refused at once). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static int setup(void **state)
{
    char *dir = strdup("/tmp/hb-thread-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char port[16];
    snprintf(port, sizeof(port), "%d", closed_port());
    setenv("HAUSBUS_DATA_DIR", dir, 1);
    setenv("HAUSBUS_MQTT_PORT", port, 1);
    hb_log_init("test", "error"); /* the loops log at the process's level */
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char *dir = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
    return 0;
}

/* Waits until t has ended; returns its exit code (fails the test after WAIT_LIMIT_MS). */
static int wait_ended(struct hb_component_thread *t)
{
    int code = -1;
    for (int waited = 0; !hb_component_thread_ended(t, &code); waited += 10) {
        assert_true(waited < WAIT_LIMIT_MS);
        struct timespec ten_ms = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
    return code;
}

static void a_loop_that_cannot_start_ends_with_1_and_calls_on_end(void **state)
{
    (void)state;
    atomic_store(&ended_calls, 0);
    struct hb_component_thread *t = NULL;
    assert_int_equal(hb_component_thread_start(&broken, 256 * 1024, count_end, NULL, &t), HB_OK);
    assert_int_equal(wait_ended(t), 1);
    assert_int_equal(hb_component_thread_join(t), 1);
    assert_int_equal(atomic_load(&ended_calls), 1);
}

/* Last: hb_component_stop() stops every loop of the process for good. */
static void a_running_loop_runs_until_stopped_then_ends_with_0(void **state)
{
    (void)state;
    atomic_store(&ended_calls, 0);
    struct hb_component_thread *t = NULL;
    assert_int_equal(hb_component_thread_start(&idle, 256 * 1024, count_end, NULL, &t), HB_OK);
    struct timespec quarter_s = {.tv_nsec = 250 * 1000 * 1000};
    nanosleep(&quarter_s, NULL);
    int code = -1;
    assert_false(hb_component_thread_ended(t, &code)); /* no broker: it keeps trying */
    hb_component_stop();
    assert_int_equal(wait_ended(t), 0);
    assert_int_equal(hb_component_thread_join(t), 0);
    assert_int_equal(atomic_load(&ended_calls), 1);
}

static void join_accepts_null(void **state)
{
    (void)state;
    assert_int_equal(hb_component_thread_join(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_accepts_null),
        cmocka_unit_test(a_loop_that_cannot_start_ends_with_1_and_calls_on_end),
        cmocka_unit_test(a_running_loop_runs_until_stopped_then_ends_with_0),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
