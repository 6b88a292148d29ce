/* Unit tests of configuration from HAUSBUS_* environment variables (lib/src/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hausbus/config.h"

static const char *const all_vars[] = {
    "HAUSBUS_MQTT_HOST",     "HAUSBUS_MQTT_PORT",  "HAUSBUS_HTTP_PORT",
    "HAUSBUS_DATA_DIR",      "HAUSBUS_LOG_LEVEL",  "HAUSBUS_PAYMENT_LIMIT",
    "HAUSBUS_REDRIVE_MS",    "HAUSBUS_REQUEST_TIMEOUT_MS", "HAUSBUS_SQLITE_CACHE_KB",
    "HAUSBUS_SQLITE_WAL_KB",
    "HAUSBUS_METRICS_INTERVAL_MS", "HAUSBUS_MQTT_PASSWORD", "HAUSBUS_MQTT_PASSWORD_FILE",
};

/* Every case starts from an environment without HAUSBUS_* variables. */
static int clear_environment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++) {
        unsetenv(all_vars[i]);
    }
    return 0;
}

static void set(const char *name, const char *value)
{
    assert_int_equal(setenv(name, value, 1), 0);
}

/* A string of n copies of c; the caller frees it. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void defaults_apply_without_environment(void **state)
{
    (void)state;
    struct hb_config cfg;
    memset(&cfg, 0x5a, sizeof(cfg));
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_string_equal(cfg.mqtt_host, "127.0.0.1");
    assert_int_equal(cfg.mqtt_port, 1883);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.data_dir, "./var");
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(cfg.payment_limit, 10000000);
    assert_int_equal(cfg.redrive_ms, 5000);
    assert_int_equal(cfg.request_timeout_ms, 5000);
    assert_int_equal(cfg.sqlite_cache_kb, 256);
    assert_int_equal(cfg.sqlite_wal_kb, 40960);
    assert_int_equal(cfg.metrics_interval_ms, 5000);
}

static void empty_variables_mean_the_default(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++) {
        set(all_vars[i], "");
    }
    struct hb_config cfg;
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_string_equal(cfg.mqtt_host, "127.0.0.1");
    assert_int_equal(cfg.mqtt_port, 1883);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.data_dir, "./var");
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(cfg.payment_limit, 10000000);
    assert_int_equal(cfg.redrive_ms, 5000);
    assert_int_equal(cfg.request_timeout_ms, 5000);
}

static void every_variable_is_read(void **state)
{
    (void)state;
    set("HAUSBUS_MQTT_HOST", "broker.local");
    set("HAUSBUS_MQTT_PORT", "8883");
    set("HAUSBUS_HTTP_PORT", "9090");
    set("HAUSBUS_DATA_DIR", "/var/lib/hausbus");
    set("HAUSBUS_LOG_LEVEL", "debug");
    set("HAUSBUS_PAYMENT_LIMIT", "4611686018427387903"); /* INT64_MAX / 2 */
    set("HAUSBUS_REDRIVE_MS", "250");
    set("HAUSBUS_REQUEST_TIMEOUT_MS", "1500");
    set("HAUSBUS_SQLITE_CACHE_KB", "64");
    set("HAUSBUS_SQLITE_WAL_KB", "4096");
    struct hb_config cfg;
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_int_equal(cfg.sqlite_cache_kb, 64);
    assert_int_equal(cfg.sqlite_wal_kb, 4096);
    assert_string_equal(cfg.mqtt_host, "broker.local");
    assert_int_equal(cfg.mqtt_port, 8883);
    assert_int_equal(cfg.http_port, 9090);
    assert_string_equal(cfg.data_dir, "/var/lib/hausbus");
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.payment_limit, INT64_MAX / 2);
    assert_int_equal(cfg.redrive_ms, 250);
    assert_int_equal(cfg.request_timeout_ms, 1500);
}

static void numeric_bounds_are_accepted(void **state)
{
    (void)state;
    struct hb_config cfg;
    set("HAUSBUS_MQTT_PORT", "1");
    set("HAUSBUS_HTTP_PORT", "65535");
    set("HAUSBUS_PAYMENT_LIMIT", "0");
    set("HAUSBUS_REDRIVE_MS", "50");
    set("HAUSBUS_REQUEST_TIMEOUT_MS", "600000");
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_int_equal(cfg.mqtt_port, 1);
    assert_int_equal(cfg.http_port, 65535);
    assert_int_equal(cfg.payment_limit, 0);
    assert_int_equal(cfg.redrive_ms, 50);
    assert_int_equal(cfg.request_timeout_ms, 600000);

    set("HAUSBUS_MQTT_PORT", "65535");
    set("HAUSBUS_HTTP_PORT", "1");
    set("HAUSBUS_REDRIVE_MS", "3600000");
    set("HAUSBUS_REQUEST_TIMEOUT_MS", "50");
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_int_equal(cfg.mqtt_port, 65535);
    assert_int_equal(cfg.http_port, 1);
    assert_int_equal(cfg.redrive_ms, 3600000);
    assert_int_equal(cfg.request_timeout_ms, 50);
}

/* Sets name=value alone (everything else unset) and expects HB_ERR_INVAL. The message
 * hb_config_load prints for it goes to /dev/null to keep the test output readable. */
static void expect_invalid(const char *name, const char *value)
{
    clear_environment(NULL);
    set(name, value);
    struct hb_config cfg;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    assert_true(dup2(devnull, STDERR_FILENO) >= 0);
    hb_err_t rc = hb_config_load(&cfg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(devnull);
    if (rc != HB_ERR_INVAL) {
        fail_msg("%s=\"%.40s\" gave %s, expected HB_ERR_INVAL", name, value, hb_strerror(rc));
    }
}

static void malformed_numbers_are_invalid(void **state)
{
    (void)state;
    static const char *const numeric[] = {"HAUSBUS_MQTT_PORT", "HAUSBUS_HTTP_PORT",
                                          "HAUSBUS_PAYMENT_LIMIT", "HAUSBUS_REDRIVE_MS",
                                          "HAUSBUS_REQUEST_TIMEOUT_MS"};
    static const char *const malformed[] = {
        "abc", "80a", "1.5", "1e3", "0x50", "100 ", " ", "-", "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
        for (size_t j = 0; j < sizeof(malformed) / sizeof(malformed[0]); j++) {
            expect_invalid(numeric[i], malformed[j]);
        }
    }
}

static void out_of_range_ports_are_invalid(void **state)
{
    (void)state;
    static const char *const ports[] = {"HAUSBUS_MQTT_PORT", "HAUSBUS_HTTP_PORT"};
    static const char *const values[] = {"0", "-1", "65536", "100000", "-9223372036854775808"};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        for (size_t j = 0; j < sizeof(values) / sizeof(values[0]); j++) {
            expect_invalid(ports[i], values[j]);
        }
    }
}

static void out_of_range_limits_and_timeouts_are_invalid(void **state)
{
    (void)state;
    expect_invalid("HAUSBUS_PAYMENT_LIMIT", "-1");
    expect_invalid("HAUSBUS_PAYMENT_LIMIT", "4611686018427387904"); /* INT64_MAX / 2 + 1 */
    expect_invalid("HAUSBUS_REDRIVE_MS", "49");
    expect_invalid("HAUSBUS_REDRIVE_MS", "3600001");
    expect_invalid("HAUSBUS_REQUEST_TIMEOUT_MS", "49");
    expect_invalid("HAUSBUS_REQUEST_TIMEOUT_MS", "600001");
    expect_invalid("HAUSBUS_SQLITE_CACHE_KB", "15");
    expect_invalid("HAUSBUS_SQLITE_CACHE_KB", "65537");
    expect_invalid("HAUSBUS_SQLITE_WAL_KB", "255");
    expect_invalid("HAUSBUS_SQLITE_WAL_KB", "1048577");
}

static void over_long_strings_are_invalid(void **state)
{
    (void)state;
    struct hb_config cfg;
    /* one byte under each bound still fits */
    char *host = repeat('h', sizeof(cfg.mqtt_host) - 1);
    char *dir = repeat('d', sizeof(cfg.data_dir) - 1);
    char *level = repeat('l', sizeof(cfg.log_level) - 1);
    set("HAUSBUS_MQTT_HOST", host);
    set("HAUSBUS_DATA_DIR", dir);
    set("HAUSBUS_LOG_LEVEL", level);
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_string_equal(cfg.mqtt_host, host);
    assert_string_equal(cfg.data_dir, dir);
    assert_string_equal(cfg.log_level, level);
    free(host);
    free(dir);
    free(level);

    host = repeat('h', sizeof(cfg.mqtt_host));
    dir = repeat('d', sizeof(cfg.data_dir));
    level = repeat('l', sizeof(cfg.log_level));
    expect_invalid("HAUSBUS_MQTT_HOST", host);
    expect_invalid("HAUSBUS_DATA_DIR", dir);
    expect_invalid("HAUSBUS_LOG_LEVEL", level);
    free(host);
    free(dir);
    free(level);
}

static void metrics_interval_is_read_and_bounded(void **state)
{
    (void)state;
    struct hb_config cfg;
    set("HAUSBUS_METRICS_INTERVAL_MS", "0"); /* off */
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_int_equal(cfg.metrics_interval_ms, 0);
    set("HAUSBUS_METRICS_INTERVAL_MS", "250");
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_int_equal(cfg.metrics_interval_ms, 250);
    set("HAUSBUS_METRICS_INTERVAL_MS", "-1");
    assert_int_equal(hb_config_load(&cfg), HB_ERR_INVAL);
    set("HAUSBUS_METRICS_INTERVAL_MS", "3600001");
    assert_int_equal(hb_config_load(&cfg), HB_ERR_INVAL);
}

/* Writes text to a new temporary file; returns its path (static storage). */
static const char *temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/hausbus-test-secret-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void password_comes_from_the_first_line_of_its_file(void **state)
{
    (void)state;
    const char *path = temp_file("s3cret-from-file\nsecond line\n");
    set("HAUSBUS_MQTT_PASSWORD_FILE", path);
    struct hb_config cfg;
    assert_int_equal(hb_config_load(&cfg), HB_OK);
    assert_string_equal(cfg.mqtt_password, "s3cret-from-file");
    unlink(path);
}

static void password_and_password_file_together_are_invalid(void **state)
{
    (void)state;
    const char *path = temp_file("from-file\n");
    set("HAUSBUS_MQTT_PASSWORD", "from-env");
    set("HAUSBUS_MQTT_PASSWORD_FILE", path);
    struct hb_config cfg;
    assert_int_equal(hb_config_load(&cfg), HB_ERR_INVAL);
    unsetenv("HAUSBUS_MQTT_PASSWORD");
    assert_int_equal(unlink(path), 0);
    /* A file that is gone or empty is an error too, not an empty password. */
    assert_int_equal(hb_config_load(&cfg), HB_ERR_INVAL);
    path = temp_file("");
    set("HAUSBUS_MQTT_PASSWORD_FILE", path);
    assert_int_equal(hb_config_load(&cfg), HB_ERR_INVAL);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_apply_without_environment, clear_environment),
        cmocka_unit_test_setup(metrics_interval_is_read_and_bounded, clear_environment),
        cmocka_unit_test_setup(empty_variables_mean_the_default, clear_environment),
        cmocka_unit_test_setup(every_variable_is_read, clear_environment),
        cmocka_unit_test_setup(numeric_bounds_are_accepted, clear_environment),
        cmocka_unit_test_setup(malformed_numbers_are_invalid, clear_environment),
        cmocka_unit_test_setup(out_of_range_ports_are_invalid, clear_environment),
        cmocka_unit_test_setup(out_of_range_limits_and_timeouts_are_invalid, clear_environment),
        cmocka_unit_test_setup(over_long_strings_are_invalid, clear_environment),
        cmocka_unit_test_setup(password_comes_from_the_first_line_of_its_file,
                               clear_environment),
        cmocka_unit_test_setup(password_and_password_file_together_are_invalid,
                               clear_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
