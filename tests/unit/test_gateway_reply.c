/* Unit tests of the gateway's decoding of component replies (gateway/src/reply.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "reply.h"

static hb_err_t decode(const char *text, struct gateway_reply *reply)
{
    const char *why = NULL;
    hb_err_t rc = gateway_reply_decode(text, strlen(text), reply, &why);
    if (rc != HB_OK) {
        assert_non_null(why);
        assert_null(reply->body);
    }
    return rc;
}

static void reply_with_body_and_location_is_relayed(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode("{\"code\":202,\"body\":{\"id\":7,\"status\":\"PENDING\"},"
                            "\"location\":\"/orders/7\"}",
                            &reply),
                     HB_OK);
    assert_int_equal(reply.code, 202);
    assert_string_equal(reply.body, "{\"id\":7,\"status\":\"PENDING\"}");
    assert_int_equal(reply.body_len, strlen(reply.body));
    assert_string_equal(reply.location, "/orders/7");
    gateway_reply_clear(&reply);
}

static void reply_body_may_be_any_json(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode("{\"code\":200,\"body\":[{\"id\":1},{\"id\":2}]}", &reply), HB_OK);
    assert_string_equal(reply.body, "[{\"id\":1},{\"id\":2}]");
    assert_string_equal(reply.location, "");
    gateway_reply_clear(&reply);

    assert_int_equal(decode("{\"code\":404,\"body\":{\"error\":\"no such order\"},"
                            "\"location\":null}",
                            &reply),
                     HB_OK);
    assert_int_equal(reply.code, 404);
    assert_string_equal(reply.location, "");
    gateway_reply_clear(&reply);
}

static void missing_body_means_empty_object(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode(" {\"code\":200} ", &reply), HB_OK);
    assert_string_equal(reply.body, "{}");
    assert_int_equal(reply.body_len, 2);
    gateway_reply_clear(&reply);
}

static void reply_without_a_valid_code_is_refused(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode("{\"body\":{}}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":\"200\"}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":200.5}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":100}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":600}", &reply), HB_ERR_DECODE);
}

static void reply_that_is_not_an_object_is_refused(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode("", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":200", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("[200]", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":200} trailing", &reply), HB_ERR_DECODE);
    assert_int_equal(gateway_reply_decode(NULL, 0, &reply, NULL), HB_ERR_DECODE);
}

static void location_that_could_split_headers_is_refused(void **state)
{
    (void)state;
    struct gateway_reply reply;
    assert_int_equal(decode("{\"code\":201,\"location\":\"/orders/7\\r\\nSet-Cookie: a=b\"}",
                            &reply),
                     HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":201,\"location\":\"http://elsewhere/\"}", &reply),
                     HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":201,\"location\":\"/a b\"}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":201,\"location\":\"\"}", &reply), HB_ERR_DECODE);
    assert_int_equal(decode("{\"code\":201,\"location\":7}", &reply), HB_ERR_DECODE);
    gateway_reply_clear(&reply); /* clearing a cleared reply is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_with_body_and_location_is_relayed),
        cmocka_unit_test(reply_body_may_be_any_json),
        cmocka_unit_test(missing_body_means_empty_object),
        cmocka_unit_test(reply_without_a_valid_code_is_refused),
        cmocka_unit_test(reply_that_is_not_an_object_is_refused),
        cmocka_unit_test(location_that_could_split_headers_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
