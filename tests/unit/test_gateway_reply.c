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

/* Splits payload for the requests with ids, then checks each reply has code[i] (0: none,
 * with a reason). Clears the replies. Returns how many were decoded. */
static size_t split_codes(const char *payload, const char *const *ids, size_t n,
                          const int *codes)
{
    struct gateway_reply replies[8];
    const char *whys[8];
    assert_true(n <= 8);
    size_t decoded = gateway_reply_split(payload, strlen(payload), ids, n, replies, whys);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(replies[i].code, codes[i]);
        if (codes[i] == 0) {
            assert_null(replies[i].body);
            assert_non_null(whys[i]);
            continue;
        }
        assert_null(whys[i]);
        assert_non_null(replies[i].body);
        gateway_reply_clear(&replies[i]);
    }
    return decoded;
}

static void batched_reply_items_go_to_their_requests_in_order(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b", "c"};
    struct gateway_reply replies[3];
    const char *whys[3];
    const char *payload = "[{\"id\":\"a\",\"code\":202,\"body\":{\"id\":1},"
                          "\"location\":\"/orders/1\"},"
                          "{\"id\":\"b\",\"code\":400,\"body\":{\"error\":\"qty\"}},"
                          "{\"id\":\"c\",\"code\":202,\"body\":{\"id\":3}}]";
    /* Decoded here, once: the waiter gets code, body and location ready to send. */
    assert_int_equal(gateway_reply_split(payload, strlen(payload), ids, 3, replies, whys), 3);
    assert_int_equal(replies[0].code, 202);
    assert_string_equal(replies[0].body, "{\"id\":1}");
    assert_int_equal(replies[0].body_len, strlen(replies[0].body));
    assert_string_equal(replies[0].location, "/orders/1");
    assert_int_equal(replies[1].code, 400);
    assert_string_equal(replies[1].body, "{\"error\":\"qty\"}");
    assert_string_equal(replies[1].location, "");
    assert_string_equal(replies[2].body, "{\"id\":3}");
    for (size_t i = 0; i < 3; i++) {
        assert_null(whys[i]);
        gateway_reply_clear(&replies[i]);
    }
}

static void a_malformed_item_fails_only_its_own_request(void **state)
{
    (void)state;
    const char *ids[] = {"a", "b", "c"};
    const int codes[] = {202, 0, 0};
    /* b's code is no HTTP status, c's location could split a header: both are refused as
     * gateway_reply_decode refuses them, a still goes through. */
    assert_int_equal(split_codes("[{\"id\":\"a\",\"code\":202},{\"id\":\"b\",\"code\":99},"
                                 "{\"id\":\"c\",\"code\":201,\"location\":\"/a b\"}]",
                                 ids, 3, codes),
                     1);
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
    struct gateway_reply replies[2];
    const char *whys[2];
    assert_int_equal(gateway_reply_split(NULL, 0, ids, 2, replies, whys), 0);
    assert_null(replies[0].body);
    assert_non_null(whys[1]);
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
        cmocka_unit_test(a_malformed_item_fails_only_its_own_request),
        cmocka_unit_test(batched_reply_items_out_of_order_are_found_by_id),
        cmocka_unit_test(batched_reply_items_without_id_go_by_position),
        cmocka_unit_test(batched_reply_missing_an_item_leaves_its_request_without),
        cmocka_unit_test(batched_reply_that_is_no_array_answers_nobody),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
