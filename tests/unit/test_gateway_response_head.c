/* Unit tests of the gateway's HTTP response heads (gateway/src/response_head.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "reply.h"
#include "response_head.h"

#define NOV_14_2023 1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

static void accepted_order_has_every_header_in_civetweb_order(void **state)
{
    (void)state;
    struct gateway_head h = {
        .http_version = "1.1", .status = 202, .reason = "Accepted", .has_body = true,
        .content_length = 26, .location = "/orders/1", .date = NOV_14_2023, .keep_alive = true};
    char out[GATEWAY_HEAD_MAX];
    size_t len = gateway_head_format(&h, out, sizeof(out));
    assert_string_equal(out, "HTTP/1.1 202 Accepted\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: 26\r\n"
                             "Cache-Control: no-store\r\n"
                             "Location: /orders/1\r\n"
                             "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n");
    assert_int_equal(len, strlen(out));
}

static void error_heads_carry_allow_challenge_and_retry_after(void **state)
{
    (void)state;
    struct gateway_head h = {.http_version = "1.1", .status = 503, .reason = "Service Unavailable",
                             .has_body = true, .content_length = 2, .allow = "GET, POST",
                             .authenticate = "Bearer realm=\"hausbus\"", .retry_after_s = 1,
                             .date = 0, .keep_alive = false};
    char out[GATEWAY_HEAD_MAX];
    assert_true(gateway_head_format(&h, out, sizeof(out)) > 0);
    assert_string_equal(out, "HTTP/1.1 503 Service Unavailable\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: 2\r\n"
                             "Cache-Control: no-store\r\n"
                             "Allow: GET, POST\r\n"
                             "WWW-Authenticate: Bearer realm=\"hausbus\"\r\n"
                             "Retry-After: 1\r\n"
                             "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                             "Connection: close\r\n"
                             "\r\n");
}

static void head_without_body_or_empty_values_has_no_such_headers(void **state)
{
    (void)state;
    struct gateway_head h = {.http_version = "1.1", .status = 204, .reason = "No Content",
                             .location = "", .allow = "", .authenticate = NULL,
                             .date = NOV_14_2023, .keep_alive = true};
    char out[GATEWAY_HEAD_MAX];
    assert_true(gateway_head_format(&h, out, sizeof(out)) > 0);
    assert_string_equal(out, "HTTP/1.1 204 No Content\r\n"
                             "Cache-Control: no-store\r\n"
                             "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
                             "Connection: keep-alive\r\n"
                             "\r\n");
}

static void answer_is_in_the_request_http_version_and_1_0_without_one(void **state)
{
    (void)state;
    struct gateway_head h = {.http_version = "1.0", .status = 200, .reason = "OK"};
    char out[GATEWAY_HEAD_MAX];
    assert_true(gateway_head_format(&h, out, sizeof(out)) > 0);
    assert_memory_equal(out, "HTTP/1.0 200 OK\r\n", strlen("HTTP/1.0 200 OK\r\n"));
    h.http_version = NULL;
    assert_true(gateway_head_format(&h, out, sizeof(out)) > 0);
    assert_memory_equal(out, "HTTP/1.0 200 OK\r\n", strlen("HTTP/1.0 200 OK\r\n"));
}

static void head_that_does_not_fit_is_refused_whole(void **state)
{
    (void)state;
    struct gateway_head h = {.http_version = "1.1", .status = 202, .reason = "Accepted",
                             .has_body = true, .content_length = 26, .location = "/orders/1",
                             .date = NOV_14_2023, .keep_alive = true};
    char out[GATEWAY_HEAD_MAX];
    size_t len = gateway_head_format(&h, out, sizeof(out));
    assert_true(len > 0);
    char exact[GATEWAY_HEAD_MAX];
    assert_int_equal(gateway_head_format(&h, exact, len + 1), len); /* room for the NUL */
    assert_string_equal(exact, out);
    assert_int_equal(gateway_head_format(&h, exact, len), 0);
    assert_string_equal(exact, "");
    assert_int_equal(gateway_head_format(&h, exact, 10), 0);
    assert_int_equal(gateway_head_format(&h, exact, 0), 0);
}

static void largest_head_the_gateway_sends_fits(void **state)
{
    (void)state;
    char location[GATEWAY_LOCATION_MAX];
    char allow[32];
    char challenge[224]; /* send_unauthorized's buffer */
    memset(location, 'l', sizeof(location) - 1);
    location[0] = '/';
    location[sizeof(location) - 1] = '\0';
    memset(allow, 'a', sizeof(allow) - 1);
    allow[sizeof(allow) - 1] = '\0';
    memset(challenge, 'c', sizeof(challenge) - 1);
    challenge[sizeof(challenge) - 1] = '\0';
    struct gateway_head h = {.http_version = "1.1", .status = 503,
                             .reason = "Network Authentication Required", .has_body = true,
                             .content_length = SIZE_MAX, .location = location, .allow = allow,
                             .authenticate = challenge, .retry_after_s = 2147483647,
                             .date = NOV_14_2023, .keep_alive = true};
    char out[GATEWAY_HEAD_MAX];
    assert_true(gateway_head_format(&h, out, sizeof(out)) > 0);
}

static void keep_alive_follows_civetweb_rules(void **state)
{
    (void)state;
    assert_true(gateway_head_keep_alive("1.1", NULL, false));
    assert_false(gateway_head_keep_alive("1.0", NULL, false));
    assert_false(gateway_head_keep_alive(NULL, NULL, false));
    assert_false(gateway_head_keep_alive("1.1", NULL, true)); /* the server's wish wins */
    assert_false(gateway_head_keep_alive("1.1", "keep-alive", true));
    assert_true(gateway_head_keep_alive("1.0", "keep-alive", false));
    assert_true(gateway_head_keep_alive("1.0", "Keep-Alive", false));
    assert_true(gateway_head_keep_alive("1.1", "Upgrade, keep-alive ", false));
    assert_false(gateway_head_keep_alive("1.1", "close", false));
    assert_false(gateway_head_keep_alive("1.1", "", false));
    assert_false(gateway_head_keep_alive("1.1", "keep-alive-not", false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted_order_has_every_header_in_civetweb_order),
        cmocka_unit_test(error_heads_carry_allow_challenge_and_retry_after),
        cmocka_unit_test(head_without_body_or_empty_values_has_no_such_headers),
        cmocka_unit_test(answer_is_in_the_request_http_version_and_1_0_without_one),
        cmocka_unit_test(head_that_does_not_fit_is_refused_whole),
        cmocka_unit_test(largest_head_the_gateway_sends_fits),
        cmocka_unit_test(keep_alive_follows_civetweb_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
