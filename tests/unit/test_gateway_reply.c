/* Unit tests of the gateway's decoding of component replies (gateway/src/reply.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
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

/* Splits payload for the requests with ids, then checks each text decodes to code[i] (0:
 * no text). Frees the texts. Returns how many got one. */
static size_t split_codes(const char *payload, const char *const *ids, size_t n,
                          const int *codes)
{
    char *texts[8];
    assert_true(n <= 8);
    size_t matched = gateway_reply_split(payload, strlen(payload), ids, n, texts);
    for (size_t i = 0; i < n; i++) {
        if (codes[i] == 0) {
            assert_null(texts[i]);
            continue;
        }
        assert_non_null(texts[i]);
        struct gateway_reply reply;
        assert_int_equal(decode(texts[i], &reply), HB_OK);
        assert_int_equal(reply.code, codes[i]);
        gateway_reply_clear(&reply);
        free(texts[i]);
    }
    return matched;
}

static void batched_reply_items_go_to_their_requests_in_order(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b", "c"};
    char *texts[3];
    const char *payload = "[{\"id\":\"a\",\"code\":202,\"body\":{\"id\":1},"
                          "\"location\":\"/orders/1\"},"
                          "{\"id\":\"b\",\"code\":400,\"body\":{\"error\":\"qty\"}},"
                          "{\"id\":\"c\",\"code\":202,\"body\":{\"id\":3}}]";
    assert_int_equal(gateway_reply_split(payload, strlen(payload), ids, 3, texts), 3);
    struct gateway_reply reply;
    assert_int_equal(decode(texts[0], &reply), HB_OK);
    assert_int_equal(reply.code, 202);
    assert_string_equal(reply.body, "{\"id\":1}");
    assert_string_equal(reply.location, "/orders/1");
    gateway_reply_clear(&reply);
    assert_int_equal(decode(texts[1], &reply), HB_OK);
    assert_int_equal(reply.code, 400);
    assert_string_equal(reply.body, "{\"error\":\"qty\"}");
    assert_string_equal(reply.location, "");
    gateway_reply_clear(&reply);
    for (size_t i = 0; i < 3; i++) {
        free(texts[i]);
    }
}

static void batched_reply_items_out_of_order_are_found_by_id(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b", "c"};
    const int codes[] = {201, 202, 203};
    assert_int_equal(split_codes("[{\"id\":\"c\",\"code\":203},{\"id\":\"a\",\"code\":201},"
                                 "{\"id\":\"b\",\"code\":202}]",
                                 ids, 3, codes),
                     3);
}

static void batched_reply_items_without_id_go_by_position(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b"};
    const int codes[] = {400, 202};
    /* An item the component could not read has a null id (PROTOCOL.md, "Batches"). */
    assert_int_equal(split_codes("[{\"id\":null,\"code\":400},{\"code\":202}]", ids, 2,
                                 codes),
                     2);
}

static void batched_reply_missing_an_item_leaves_its_request_without(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b", "c"};
    const int short_codes[] = {202, 0, 0};
    assert_int_equal(split_codes("[{\"id\":\"a\",\"code\":202}]", ids, 3, short_codes), 1);
    /* An item for somebody else is nobody's here. */
    const int foreign_codes[] = {202, 0, 202};
    assert_int_equal(split_codes("[{\"id\":\"a\",\"code\":202},{\"id\":\"x\",\"code\":202},"
                                 "{\"id\":\"c\",\"code\":202}]",
                                 ids, 3, foreign_codes),
                     2);
}

static void batched_reply_that_is_no_array_answers_nobody(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b"};
    const int none[] = {0, 0};
    /* What a component without batches answers: one error reply for the whole message. */
    assert_int_equal(split_codes("{\"code\":400,\"body\":{\"error\":\"not a CloudEvent\"}}",
                                 ids, 2, none),
                     0);
    assert_int_equal(split_codes("[{\"id\":\"a\"", ids, 2, none), 0);
    assert_int_equal(split_codes("", ids, 2, none), 0);
    char *texts[2];
    assert_int_equal(gateway_reply_split(NULL, 0, ids, 2, texts), 0);
    assert_null(texts[0]);
    assert_null(texts[1]);
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
        cmocka_unit_test(batched_reply_items_go_to_their_requests_in_order),
        cmocka_unit_test(batched_reply_items_out_of_order_are_found_by_id),
        cmocka_unit_test(batched_reply_items_without_id_go_by_position),
        cmocka_unit_test(batched_reply_missing_an_item_leaves_its_request_without),
        cmocka_unit_test(batched_reply_that_is_no_array_answers_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
