/* sd_notify without libsystemd: datagrams reach a real socket; the watchdog env is parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "hausbus/sdnotify.h"

struct fixture {
    char dir[64];
    char path[96];
    int fd; /* bound datagram socket: what systemd would listen on */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/hb-sdnotify-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
    f->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", f->path);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    struct timeval tv = {.tv_sec = 2};
    assert_int_equal(setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Receives one datagram into buf (NUL-terminated); returns its length, -1 on timeout. */
static ssize_t receive(int fd, char *buf, size_t cap, int flags)
{
    ssize_t n = recv(fd, buf, cap - 1, flags);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

static void states_arrive_as_one_datagram_each(void **state)
{
    struct fixture *f = *state;
    char buf[256];
    setenv("NOTIFY_SOCKET", f->path, 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_OK);
    assert_int_equal(hb_sdnotify("STATUS=connected to 127.0.0.1:1883"), HB_OK);
    assert_int_equal(hb_sdnotify("WATCHDOG=1"), HB_OK);
    assert_int_equal(hb_sdnotify("STOPPING=1"), HB_OK);
    assert_int_equal(receive(f->fd, buf, sizeof(buf), 0), 7);
    assert_string_equal(buf, "READY=1");
    receive(f->fd, buf, sizeof(buf), 0);
    assert_string_equal(buf, "STATUS=connected to 127.0.0.1:1883");
    receive(f->fd, buf, sizeof(buf), 0);
    assert_string_equal(buf, "WATCHDOG=1");
    receive(f->fd, buf, sizeof(buf), 0);
    assert_string_equal(buf, "STOPPING=1");
}

static void at_sign_means_the_abstract_namespace(void **state)
{
    (void)state;
    char name[64], buf[64];
    snprintf(name, sizeof(name), "@hb-sdnotify-test-%ld", (long)getpid());
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(addr.sun_path + 1, name + 1, len - 1); /* sun_path[0] stays NUL */
    assert_int_equal(bind(fd, (struct sockaddr *)&addr,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", name, 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_OK);
    assert_int_equal(receive(fd, buf, sizeof(buf), 0), 7);
    assert_string_equal(buf, "READY=1");
    close(fd);
}

static void unset_socket_is_a_no_op(void **state)
{
    struct fixture *f = *state;
    char buf[64];
    assert_int_equal(hb_sdnotify("READY=1"), HB_OK);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_OK);
    assert_int_equal(receive(f->fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
}

static void too_long_or_bad_socket_paths_are_rejected(void **state)
{
    (void)state;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_ERR_INVAL);
    path[0] = '@';
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_ERR_INVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_ERR_INVAL);
    /* Nobody listens there: the datagram cannot be sent. */
    setenv("NOTIFY_SOCKET", "/nonexistent/hausbus-notify", 1);
    assert_int_equal(hb_sdnotify("READY=1"), HB_ERR_IO);
    assert_int_equal(hb_sdnotify(""), HB_ERR_INVAL);
    assert_int_equal(hb_sdnotify(NULL), HB_ERR_INVAL);
}

static void watchdog_interval_is_half_the_timeout(void **state)
{
    (void)state;
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 0);
    setenv("WATCHDOG_USEC", "2000000", 1);
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 1000);
    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 15000);
    setenv("WATCHDOG_USEC", "1", 1); /* below a millisecond: ping as often as we can */
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 1);
    const char *bad[] = {"", "0", "-2000000", "2s", " 2000000", "abc",
                         "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 0);
    }
}

static void watchdog_for_another_pid_is_ignored(void **state)
{
    (void)state;
    char pid[32];
    setenv("WATCHDOG_USEC", "2000000", 1);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 1000);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 0);
    setenv("WATCHDOG_PID", "garbage", 1);
    assert_int_equal(hb_sdnotify_watchdog_interval_ms(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(states_arrive_as_one_datagram_each, setup, teardown),
        cmocka_unit_test_setup_teardown(at_sign_means_the_abstract_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(unset_socket_is_a_no_op, setup, teardown),
        cmocka_unit_test_setup_teardown(too_long_or_bad_socket_paths_are_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(watchdog_interval_is_half_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(watchdog_for_another_pid_is_ignored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
