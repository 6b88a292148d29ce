/* Unit tests of the reply array of a batched request (lib/src/reply_batch.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"
#include "reply_batch.h"

static char *dup_text(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = malloc(size);
    assert_non_null(copy);
    return memcpy(copy, text, size);
}

/* Whatever the lengths of the items, the text is one JSON array with an element per item:
 * the growth never leaves the closing bracket without room (found by review: an item that
 * filled the buffer to its last byte lost the whole reply). */
static void every_item_length_closes_the_array(void **state)
{
    (void)state;
    for (size_t n_items = 1; n_items <= 3; n_items++) {
        for (size_t len = 0; len < 120; len++) {
            for (size_t delta = 0; delta < 12; delta++) { /* each item this much longer */
                struct hb_reply_batch rb = {0};
                for (size_t i = 0; i < n_items; i++) {
                    size_t pad = len + i * delta;
                    char *item = malloc(pad + 40);
                    assert_non_null(item);
                    snprintf(item, pad + 40, "{\"code\":200,\"pad\":\"%*s\"}", (int)pad, "");
                    hb_reply_batch_add(&rb, item, "x", n_items - 1 - i);
                }
                char *text = hb_reply_batch_finish(&rb);
                assert_non_null(text);
                cJSON *array = cJSON_Parse(text);
                assert_true(cJSON_IsArray(array));
                assert_int_equal(cJSON_GetArraySize(array), (int)n_items);
                cJSON_Delete(array);
                free(text);
            }
        }
    }
}

/* Items that would take the reply over HB_REPLY_MAX become 500s with their id, and the
 * whole stays within the bound however many such items follow. */
static void the_reply_stays_within_its_bound(void **state)
{
    (void)state;
    struct hb_reply_batch rb = {0};
    enum { ITEMS = 64 };
    size_t big = HB_REPLY_MAX / 3;
    for (int i = 0; i < ITEMS; i++) {
        char *item = malloc(big + 32);
        assert_non_null(item);
        snprintf(item, big + 32, "{\"code\":200,\"body\":\"%0*d\"}", (int)big, 0);
        hb_reply_batch_add(&rb, item, "id-7", (size_t)(ITEMS - 1 - i));
    }
    char *text = hb_reply_batch_finish(&rb);
    assert_non_null(text);
    assert_true(strlen(text) <= HB_REPLY_MAX);
    cJSON *array = cJSON_Parse(text);
    assert_int_equal(cJSON_GetArraySize(array), ITEMS);
    const cJSON *last = cJSON_GetArrayItem(array, ITEMS - 1);
    assert_int_equal(cJSON_GetObjectItem(last, "code")->valueint, 500);
    assert_string_equal(cJSON_GetObjectItem(last, "id")->valuestring, "id-7");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(last, "body"), "error")->valuestring,
                        "reply batch too large");
    cJSON_Delete(array);
    free(text);
}

/* An item that could not be encoded is answered 500 "out of memory", never left out or
 * read from uninitialised memory; an id too long to be one is answered as null. */
static void a_missing_item_is_a_500(void **state)
{
    (void)state;
    struct hb_reply_batch rb = {0};
    char long_id[300];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    hb_reply_batch_add(&rb, NULL, "first", 1);
    hb_reply_batch_add(&rb, dup_text("{\"code\":201}"), long_id, 0);
    char *text = hb_reply_batch_finish(&rb);
    cJSON *array = cJSON_Parse(text);
    assert_int_equal(cJSON_GetArraySize(array), 2);
    const cJSON *first = cJSON_GetArrayItem(array, 0);
    assert_int_equal(cJSON_GetObjectItem(first, "code")->valueint, 500);
    assert_string_equal(cJSON_GetObjectItem(first, "id")->valuestring, "first");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(array, 1), "code")->valueint, 201);
    cJSON_Delete(array);
    free(text);
    struct hb_reply_batch empty = {0};
    assert_null(hb_reply_batch_finish(&empty));
}

/* A failed commit answers a batched request with one 500 per item (by position), a single
 * request with one 500 object. */
static void a_failed_commit_answers_every_item(void **state)
{
    (void)state;
    char *one = hb_reply_batch_failed(0);
    cJSON *obj = cJSON_Parse(one);
    assert_true(cJSON_IsObject(obj));
    assert_int_equal(cJSON_GetObjectItem(obj, "code")->valueint, 500);
    cJSON_Delete(obj);
    free(one);
    char *many = hb_reply_batch_failed(3);
    cJSON *array = cJSON_Parse(many);
    assert_int_equal(cJSON_GetArraySize(array), 3);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(array, 2), "id")));
    cJSON_Delete(array);
    free(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_length_closes_the_array),
        cmocka_unit_test(the_reply_stays_within_its_bound),
        cmocka_unit_test(a_missing_item_is_a_500),
        cmocka_unit_test(a_failed_commit_answers_every_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
