/* Unit tests of the JSON-lines logger on stderr (lib/src/log.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hausbus/log.h"

/* stderr is pointed at a temporary file while a case logs, then restored. */
struct capture {
    FILE *file;
    int saved_stderr;
};

static void capture_begin(struct capture *cap)
{
    fflush(stderr);
    cap->file = tmpfile();
    assert_non_null(cap->file);
    cap->saved_stderr = dup(STDERR_FILENO);
    assert_true(cap->saved_stderr >= 0);
    assert_true(dup2(fileno(cap->file), STDERR_FILENO) >= 0);
}

/* Restores stderr and returns everything logged since capture_begin (caller frees). */
static char *capture_end(struct capture *cap)
{
    fflush(stderr);
    assert_true(dup2(cap->saved_stderr, STDERR_FILENO) >= 0);
    close(cap->saved_stderr);
    long size = lseek(fileno(cap->file), 0, SEEK_END);
    assert_true(size >= 0);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(cap->file), text, (size_t)size, 0), size);
    text[size] = '\0';
    fclose(cap->file);
    return text;
}

/* Splits text into lines (each must end in '\n') and parses each as one JSON object.
 * Returns the number of lines; lines[i] are owned by the caller. */
static int parse_lines(char *text, cJSON **lines, int max)
{
    int n = 0;
    char *start = text;
    while (*start) {
        char *end = strchr(start, '\n');
        if (!end) {
            fail_msg("log output does not end in a newline: \"%s\"", start);
        }
        *end = '\0';
        assert_true(n < max);
        lines[n] = cJSON_Parse(start);
        if (!cJSON_IsObject(lines[n])) {
            fail_msg("log line is not one JSON object: \"%s\"", start);
        }
        n++;
        start = end + 1;
    }
    return n;
}

static void free_lines(cJSON **lines, int n)
{
    for (int i = 0; i < n; i++) {
        cJSON_Delete(lines[i]);
    }
}

static const char *field(const cJSON *line, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(line, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void each_line_is_one_json_object_with_level_component_and_msg(void **state)
{
    (void)state;
    hb_log_init("order", "debug");
    struct capture cap;
    capture_begin(&cap);
    hb_log(HB_LOG_INFO, 0, "placed %d items", 3);
    HB_LOGE(0, "second line");
    char *text = capture_end(&cap);

    cJSON *lines[4];
    int n = parse_lines(text, lines, 4);
    assert_int_equal(n, 2);
    assert_string_equal(field(lines[0], "level"), "info");
    assert_string_equal(field(lines[0], "component"), "order");
    assert_string_equal(field(lines[0], "msg"), "placed 3 items");
    assert_null(cJSON_GetObjectItemCaseSensitive(lines[0], "orderId"));
    const char *when = field(lines[0], "time");
    assert_non_null(when);
    assert_int_equal(strlen(when), strlen("2024-05-01T12:34:56.789Z"));
    assert_int_equal(when[strlen(when) - 1], 'Z');
    assert_string_equal(field(lines[1], "level"), "error");
    assert_string_equal(field(lines[1], "msg"), "second line");
    free_lines(lines, n);
    free(text);
}

static void positive_order_id_adds_an_order_id_field(void **state)
{
    (void)state;
    hb_log_init("payment", "info");
    struct capture cap;
    capture_begin(&cap);
    HB_LOGW(9007199254740992LL, "declined");
    HB_LOGI(0, "no order");
    HB_LOGI(-3, "negative order");
    char *text = capture_end(&cap);

    cJSON *lines[4];
    int n = parse_lines(text, lines, 4);
    assert_int_equal(n, 3);
    const cJSON *oid = cJSON_GetObjectItemCaseSensitive(lines[0], "orderId");
    assert_true(cJSON_IsNumber(oid));
    assert_true(strstr(text, "\"orderId\":9007199254740992") != NULL);
    assert_string_equal(field(lines[0], "level"), "warn");
    assert_null(cJSON_GetObjectItemCaseSensitive(lines[1], "orderId"));
    assert_null(cJSON_GetObjectItemCaseSensitive(lines[2], "orderId"));
    free_lines(lines, n);
    free(text);
}

static void quotes_newlines_and_control_characters_are_escaped(void **state)
{
    (void)state;
    static const char msg[] = "say \"hi\"\nthen\ttab\\back\r\x01 end";
    hb_log_init("we\"ird\ncomponent", "info");
    struct capture cap;
    capture_begin(&cap);
    HB_LOGI(7, "%s", msg);
    char *text = capture_end(&cap);

    char *first_newline = strchr(text, '\n');
    assert_non_null(first_newline);
    assert_int_equal(first_newline[1], '\0'); /* the message's newline did not split the line */
    cJSON *lines[2];
    int n = parse_lines(text, lines, 2);
    assert_int_equal(n, 1);
    assert_string_equal(field(lines[0], "msg"), msg);
    assert_string_equal(field(lines[0], "component"), "we\"ird\ncomponent");
    free_lines(lines, n);
    free(text);
}

/* Logs one line at every level and returns the levels that came out, in order. */
static void levels_written(const char *level_name, char *out, size_t out_len)
{
    hb_log_init("view", level_name);
    struct capture cap;
    capture_begin(&cap);
    HB_LOGD(0, "d");
    HB_LOGI(0, "i");
    HB_LOGW(0, "w");
    HB_LOGE(0, "e");
    char *text = capture_end(&cap);
    cJSON *lines[8];
    int n = parse_lines(text, lines, 8);
    size_t pos = 0;
    out[0] = '\0';
    for (int i = 0; i < n && pos + 1 < out_len; i++) {
        out[pos++] = field(lines[i], "msg")[0];
        out[pos] = '\0';
    }
    free_lines(lines, n);
    free(text);
}

static void *log_as_delivery(void *arg)
{
    (void)arg;
    hb_log_set_thread_component("delivery");
    HB_LOGI(0, "from the thread");
    return NULL;
}

static void a_thread_names_its_own_lines_and_others_keep_the_process_name(void **state)
{
    (void)state;
    hb_log_init("hausbus", "info");
    struct capture cap;
    capture_begin(&cap);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, log_as_delivery, NULL), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    HB_LOGI(0, "from main");
    hb_log_set_thread_component("order");
    HB_LOGI(0, "main as order");
    hb_log_set_thread_component(NULL);
    HB_LOGI(0, "main again");
    char *text = capture_end(&cap);

    cJSON *lines[8];
    int n = parse_lines(text, lines, 8);
    assert_int_equal(n, 4);
    assert_string_equal(field(lines[0], "component"), "delivery");
    assert_string_equal(field(lines[1], "component"), "hausbus");
    assert_string_equal(field(lines[2], "component"), "order");
    assert_string_equal(field(lines[3], "component"), "hausbus");
    free_lines(lines, n);
    free(text);
}

static void level_filter_drops_lines_below_the_minimum(void **state)
{
    (void)state;
    char got[8];
    levels_written("debug", got, sizeof(got));
    assert_string_equal(got, "diwe");
    levels_written("info", got, sizeof(got));
    assert_string_equal(got, "iwe");
    levels_written("warn", got, sizeof(got));
    assert_string_equal(got, "we");
    levels_written("error", got, sizeof(got));
    assert_string_equal(got, "e");
    levels_written("verbose", got, sizeof(got)); /* unknown means info */
    assert_string_equal(got, "iwe");
    levels_written(NULL, got, sizeof(got));
    assert_string_equal(got, "iwe");
}

static void over_long_message_is_truncated_to_one_valid_line(void **state)
{
    (void)state;
    hb_log_init("delivery", "info");
    char *quotes = malloc(3000);
    assert_non_null(quotes);
    memset(quotes, '"', 2999); /* each needs two bytes escaped: far past the line bound */
    quotes[2999] = '\0';
    struct capture cap;
    capture_begin(&cap);
    HB_LOGE(5, "%s", quotes);
    HB_LOGE(5, "after");
    char *text = capture_end(&cap);
    free(quotes);

    assert_true(strchr(text, '\n') - text < 2048);
    cJSON *lines[4];
    int n = parse_lines(text, lines, 4);
    assert_int_equal(n, 2);
    const char *msg = field(lines[0], "msg");
    assert_non_null(msg);
    assert_true(strlen(msg) > 100);
    assert_true(strspn(msg, "\"") == strlen(msg));
    assert_string_equal(field(lines[1], "msg"), "after");
    free_lines(lines, n);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_line_is_one_json_object_with_level_component_and_msg),
        cmocka_unit_test(positive_order_id_adds_an_order_id_field),
        cmocka_unit_test(quotes_newlines_and_control_characters_are_escaped),
        cmocka_unit_test(level_filter_drops_lines_below_the_minimum),
        cmocka_unit_test(a_thread_names_its_own_lines_and_others_keep_the_process_name),
        cmocka_unit_test(over_long_message_is_truncated_to_one_valid_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
