/* Unit tests of the KakaoTalk request: template JSON, form encoding, answer classification
 * and the settings from the environment (components/notification/src/kakao_*.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hausbus/log.h"
#include "kakao_message.h"
#include "kakao_settings.h"

static const struct notification_msg msg = {
    .notification_id = 1,
    .order_id = 42,
    .delivery_id = 7,
    .user_id = 1001,
    .text = "[오늘의집] 주문 #42 배송이 시작되었습니다. (\"Sofa\" & <Chair>\n x1)",
};

static void template_is_a_text_object_linking_the_order(void **state)
{
    (void)state;
    char *json = kakao_template_json(&msg, "https://shop.example/orders/");
    assert_non_null(json);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "object_type")->valuestring, "text");
    assert_string_equal(cJSON_GetObjectItem(root, "text")->valuestring, msg.text);
    assert_string_equal(cJSON_GetObjectItem(root, "button_title")->valuestring,
                        KAKAO_BUTTON_TITLE);
    const cJSON *link = cJSON_GetObjectItem(root, "link");
    assert_string_equal(cJSON_GetObjectItem(link, "web_url")->valuestring,
                        "https://shop.example/orders/42");
    assert_string_equal(cJSON_GetObjectItem(link, "mobile_web_url")->valuestring,
                        "https://shop.example/orders/42");
    assert_int_equal(cJSON_GetArraySize(root), 4);
    cJSON_Delete(root);
    free(json);

    json = kakao_template_json(&msg, "http://localhost:8080/orders"); /* no slash: same */
    assert_non_null(strstr(json, "\"web_url\":\"http://localhost:8080/orders/42\""));
    free(json);
}

static void template_escapes_quotes_and_control_characters(void **state)
{
    (void)state;
    char *json = kakao_template_json(&msg, "https://shop.example/orders");
    assert_non_null(strstr(json, "\\\"Sofa\\\""));
    assert_non_null(strstr(json, "\\n"));
    assert_null(strchr(json, '\n'));
    free(json);
}

/* Decodes %XX (the body has no '+'), for the round trip. */
static char *percent_decode(const char *s)
{
    char *out = malloc(strlen(s) + 1);
    char *w = out;
    while (*s) {
        if (*s == '%') {
            unsigned int byte = 0;
            assert_int_equal(sscanf(s + 1, "%2x", &byte), 1);
            *w++ = (char)byte;
            s += 3;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    return out;
}

static void form_body_is_template_object_percent_encoded(void **state)
{
    (void)state;
    char *body = kakao_form_body("{\"a\":\"b c&d=e+f/한\"}");
    assert_non_null(body);
    assert_string_equal(body, "template_object=%7B%22a%22%3A%22b%20c%26d%3De%2Bf%2F%ED%95%9C%22%7D");
    free(body);

    char *json = kakao_template_json(&msg, "https://shop.example/orders");
    body = kakao_form_body(json);
    assert_int_equal(strncmp(body, "template_object=", 16), 0);
    for (const char *p = body + 16; *p; p++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%", *p)) {
            fail_msg("unencoded byte 0x%02x in the body", (unsigned char)*p);
        }
    }
    char *decoded = percent_decode(body + 16);
    assert_string_equal(decoded, json);
    free(decoded);
    free(body);
    free(json);

    body = kakao_form_body("");
    assert_string_equal(body, "template_object=");
    free(body);
}

static void success_is_any_2xx(void **state)
{
    (void)state;
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 200), NOTIFIER_SENT);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 204), NOTIFIER_SENT);
}

static void server_errors_and_transient_transport_errors_are_retried(void **state)
{
    (void)state;
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 500), NOTIFIER_RETRY);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 503), NOTIFIER_RETRY);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 599), NOTIFIER_RETRY);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_TRANSIENT, 0), NOTIFIER_RETRY);
}

static void client_errors_redirects_and_fatal_transport_errors_are_not_retried(void **state)
{
    (void)state;
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 401), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 400), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 403), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 429), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 302), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_OK, 0), NOTIFIER_FAILED);
    assert_int_equal(kakao_outcome(KAKAO_TRANSPORT_FATAL, 0), NOTIFIER_FAILED);
}

static const char *const kakao_vars[] = {
    "HAUSBUS_KAKAO_URL",          "HAUSBUS_KAKAO_TOKEN",         "HAUSBUS_KAKAO_TOKEN_FILE",
    "HAUSBUS_ORDER_URL_BASE",     "HAUSBUS_KAKAO_TIMEOUT_MS",    "HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS",
    "HAUSBUS_KAKAO_MAX_ATTEMPTS", "HAUSBUS_KAKAO_BACKOFF_MS",    "HAUSBUS_KAKAO_BACKOFF_MAX_MS",
};

static int clear_environment(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kakao_vars) / sizeof(kakao_vars[0]); i++) {
        unsetenv(kakao_vars[i]);
    }
    return 0;
}

static void settings_without_url_mean_the_log_notifier(void **state)
{
    (void)state;
    struct kakao_settings s;
    setenv("HAUSBUS_KAKAO_TOKEN", "ignored", 1);
    assert_int_equal(kakao_settings_load(&s), HB_OK);
    assert_false(s.enabled);
}

static void settings_have_defaults_and_read_every_variable(void **state)
{
    (void)state;
    struct kakao_settings s;
    setenv("HAUSBUS_KAKAO_URL", "https://kapi.kakao.com/v2/api/talk/memo/default/send", 1);
    setenv("HAUSBUS_KAKAO_TOKEN", "tok-123", 1);
    assert_int_equal(kakao_settings_load(&s), HB_OK);
    assert_true(s.enabled);
    assert_string_equal(s.token, "tok-123");
    assert_string_equal(s.order_url_base, KAKAO_ORDER_URL_BASE_DEFAULT);
    assert_int_equal(s.timeout_ms, KAKAO_TIMEOUT_MS_DEFAULT);
    assert_int_equal(s.connect_timeout_ms, KAKAO_CONNECT_TIMEOUT_MS_DEFAULT);
    assert_int_equal(s.policy.max_attempts, NOTIFICATION_MAX_ATTEMPTS_DEFAULT);

    setenv("HAUSBUS_ORDER_URL_BASE", "https://shop.example/o", 1);
    setenv("HAUSBUS_KAKAO_TIMEOUT_MS", "800", 1);
    setenv("HAUSBUS_KAKAO_CONNECT_TIMEOUT_MS", "300", 1);
    setenv("HAUSBUS_KAKAO_MAX_ATTEMPTS", "2", 1);
    setenv("HAUSBUS_KAKAO_BACKOFF_MS", "100", 1);
    setenv("HAUSBUS_KAKAO_BACKOFF_MAX_MS", "400", 1);
    assert_int_equal(kakao_settings_load(&s), HB_OK);
    assert_string_equal(s.order_url_base, "https://shop.example/o");
    assert_int_equal(s.timeout_ms, 800);
    assert_int_equal(s.connect_timeout_ms, 300);
    assert_int_equal(s.policy.max_attempts, 2);
    assert_int_equal(s.policy.backoff_ms, 100);
    assert_int_equal(s.policy.backoff_max_ms, 400);
}

static void settings_read_the_token_file_first_line(void **state)
{
    (void)state;
    char path[] = "/tmp/hausbus-kakao-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\nsecond line\n", 22), 22);
    close(fd);
    struct kakao_settings s;
    setenv("HAUSBUS_KAKAO_URL", "http://127.0.0.1:9/send", 1);
    setenv("HAUSBUS_KAKAO_TOKEN_FILE", path, 1);
    assert_int_equal(kakao_settings_load(&s), HB_OK);
    assert_string_equal(s.token, "from-file");
    setenv("HAUSBUS_KAKAO_TOKEN", "also", 1); /* both: refused */
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    unlink(path);
    unsetenv("HAUSBUS_KAKAO_TOKEN");
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL); /* the file is gone */
}

static void settings_refuse_bad_values(void **state)
{
    (void)state;
    struct kakao_settings s;
    setenv("HAUSBUS_KAKAO_URL", "http://127.0.0.1:9/send", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL); /* no token */
    setenv("HAUSBUS_KAKAO_TOKEN", "bad\r\nX-Injected: 1", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    setenv("HAUSBUS_KAKAO_TOKEN", "good", 1);
    assert_int_equal(kakao_settings_load(&s), HB_OK);
    setenv("HAUSBUS_KAKAO_URL", "ftp://127.0.0.1/send", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    setenv("HAUSBUS_KAKAO_URL", "http://127.0.0.1:9/send", 1);
    setenv("HAUSBUS_KAKAO_MAX_ATTEMPTS", "0", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    unsetenv("HAUSBUS_KAKAO_MAX_ATTEMPTS");
    setenv("HAUSBUS_KAKAO_TIMEOUT_MS", "5s", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    unsetenv("HAUSBUS_KAKAO_TIMEOUT_MS");
    setenv("HAUSBUS_KAKAO_BACKOFF_MS", "2000", 1);
    setenv("HAUSBUS_KAKAO_BACKOFF_MAX_MS", "1000", 1); /* cap below the base */
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
    unsetenv("HAUSBUS_KAKAO_BACKOFF_MAX_MS");
    setenv("HAUSBUS_ORDER_URL_BASE", "javascript:alert(1)", 1);
    assert_int_equal(kakao_settings_load(&s), HB_ERR_INVAL);
}

int main(void)
{
    hb_log_init("notification", getenv("HAUSBUS_LOG_LEVEL") ? getenv("HAUSBUS_LOG_LEVEL")
                                                             : "error");
#define S(fn) cmocka_unit_test_setup(fn, clear_environment)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(template_is_a_text_object_linking_the_order),
        cmocka_unit_test(template_escapes_quotes_and_control_characters),
        cmocka_unit_test(form_body_is_template_object_percent_encoded),
        cmocka_unit_test(success_is_any_2xx),
        cmocka_unit_test(server_errors_and_transient_transport_errors_are_retried),
        cmocka_unit_test(client_errors_redirects_and_fatal_transport_errors_are_not_retried),
        S(settings_without_url_mean_the_log_notifier),
        S(settings_have_defaults_and_read_every_variable),
        S(settings_read_the_token_file_first_line),
        S(settings_refuse_bad_values),
    };
#undef S
    return cmocka_run_group_tests(tests, NULL, NULL);
}
