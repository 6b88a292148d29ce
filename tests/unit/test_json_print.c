/* Unit tests of hb_json_print (lib/src/json_print.c): byte for byte cJSON_PrintUnformatted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"

/* Both printers on item: the same text, or both NULL. */
static void assert_prints_like_cjson(const cJSON *item)
{
    char *want = cJSON_PrintUnformatted(item);
    char *got = hb_json_print(item);
    if (!want) {
        assert_null(got);
    } else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
    cJSON_free(want);
    free(got);
}

/* item alone, and as the one member of an object and of an array. Takes item. */
static void assert_alone_and_nested(cJSON *item)
{
    assert_non_null(item);
    assert_prints_like_cjson(item);
    cJSON *object = cJSON_CreateObject();
    cJSON *array = cJSON_CreateArray();
    assert_non_null(object);
    assert_non_null(array);
    cJSON_AddItemToObject(object, "k", item);
    assert_prints_like_cjson(object);
    cJSON_AddItemToArray(array, cJSON_DetachItemFromObject(object, "k"));
    cJSON_AddItemToArray(array, cJSON_CreateNull());
    assert_prints_like_cjson(array);
    cJSON_Delete(object);
    cJSON_Delete(array);
}

static void a_null_item_prints_null(void **state)
{
    (void)state;
    assert_null(hb_json_print(NULL));
}

/* Each byte alone, then all of them in one string: the seven short escapes, \u00xx in
 * lower-case hex for the other control bytes, 0x7f and UTF-8 bytes copied as they are. */
static void every_byte_escapes_like_cjson(void **state)
{
    (void)state;
    char all[256];
    for (int b = 1; b < 256; b++) {
        char one[2] = {(char)b, '\0'};
        assert_alone_and_nested(cJSON_CreateString(one));
        all[b - 1] = (char)b;
    }
    all[255] = '\0';
    assert_alone_and_nested(cJSON_CreateString(all));
    static const char *const texts[] = {
        "",
        "plain",
        "\"\\\b\f\n\r\t",
        "a\x01z\x1f\x7f",
        "caf\xc3\xa9 \xed\x95\x9c\xea\xb8\x80 \xf0\x9f\x98\x80",
        "\xff\xfe invalid UTF-8 is copied too",
        "</script>/\\/",
        "ends with an escape\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_alone_and_nested(cJSON_CreateString(texts[i]));
    }
}

/* cJSON prints a string item without a valuestring, and a member without a name, as "". */
static void a_missing_string_prints_empty(void **state)
{
    (void)state;
    cJSON *item = cJSON_CreateString("x");
    assert_non_null(item);
    cJSON_free(item->valuestring);
    item->valuestring = NULL;
    assert_alone_and_nested(item);
    cJSON *unnamed = cJSON_CreateArray(); /* children without names, then called an object */
    assert_non_null(unnamed);
    cJSON_AddItemToArray(unnamed, cJSON_CreateNumber(1));
    cJSON_AddItemToArray(unnamed, cJSON_CreateTrue());
    unnamed->type = cJSON_Object;
    assert_prints_like_cjson(unnamed);
    cJSON_Delete(unnamed);
}

static void numbers_print_like_cjson(void **state)
{
    (void)state;
    static const double numbers[] = {
        0, 1, -1, 7, 10, 42, 100, 1234567, -987654321, 4294967296.0, 999999999999999.0,
        -999999999999999.0, 1e14, 1e15, -1e15, 1e16, 1e17, 1e21, 1e22, 4503599627370495.0,
        4503599627370496.0, 9007199254740991.0, 9007199254740992.0, 9007199254740993.0,
        18446744073709551616.0, 9.2233720368547758e18, -9.2233720368547758e18,
        999999999999999.5, 99999999999999.5, 0.5, -0.5, 0.1, 0.2, 0.30000000000000004,
        1.0 / 3, 2.0 / 3, 123456.789, 1e-7, 1e-5, 0.0001, 1.5e-10, 1e300, -1e300, 1e308,
        5e-324, -5e-324, 2.2250738585072014e-308, DBL_MAX, -DBL_MAX, DBL_MIN, DBL_EPSILON,
        3.141592653589793, 2.718281828459045, 1e15 + 0.5, 123.456e7, 1.7976931348623157e308,
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        assert_alone_and_nested(cJSON_CreateNumber(numbers[i]));
        assert_alone_and_nested(cJSON_CreateNumber(nextafter(numbers[i], INFINITY)));
        assert_alone_and_nested(cJSON_CreateNumber(nextafter(numbers[i], -INFINITY)));
    }
    assert_alone_and_nested(cJSON_CreateNumber(-0.0));
    assert_alone_and_nested(cJSON_CreateNumber(NAN));
    assert_alone_and_nested(cJSON_CreateNumber(-NAN));
    assert_alone_and_nested(cJSON_CreateNumber(INFINITY));
    assert_alone_and_nested(cJSON_CreateNumber(-INFINITY));
    for (int e = -330; e <= 310; e++) { /* every power of ten, and around 1e15 especially */
        double p = pow(10, e);
        assert_alone_and_nested(cJSON_CreateNumber(p));
        assert_alone_and_nested(cJSON_CreateNumber(-p));
        assert_alone_and_nested(cJSON_CreateNumber(p - 1));
        assert_alone_and_nested(cJSON_CreateNumber(p + 1));
    }
}

static void literals_and_raw_print_like_cjson(void **state)
{
    (void)state;
    assert_alone_and_nested(cJSON_CreateNull());
    assert_alone_and_nested(cJSON_CreateTrue());
    assert_alone_and_nested(cJSON_CreateFalse());
    assert_alone_and_nested(cJSON_CreateRaw("{\"pre\": [1, 2] }"));
    assert_alone_and_nested(cJSON_CreateRaw(""));
    assert_alone_and_nested(cJSON_CreateObject());
    assert_alone_and_nested(cJSON_CreateArray());
}

/* What cJSON refuses, anywhere in the tree, hb_json_print refuses too: a raw item without
 * text, an item of no or of two types. */
static void what_cjson_refuses_prints_null(void **state)
{
    (void)state;
    cJSON *raw = cJSON_CreateRaw("1");
    assert_non_null(raw);
    cJSON_free(raw->valuestring);
    raw->valuestring = NULL;
    assert_alone_and_nested(raw);
    cJSON *invalid = cJSON_CreateNull();
    assert_non_null(invalid);
    invalid->type = cJSON_Invalid;
    assert_alone_and_nested(invalid);
    cJSON *two = cJSON_CreateNull();
    assert_non_null(two);
    two->type = cJSON_True | cJSON_False;
    assert_alone_and_nested(two);
}

/* Keys take the string escapes; references (as hb_envelope_encode adds data) and constant
 * keys print as the items they stand for. */
static void keys_and_references_print_like_cjson(void **state)
{
    (void)state;
    cJSON *data = cJSON_CreateObject();
    assert_non_null(data);
    cJSON_AddStringToObject(data, "quote\" back\\ nl\n tab\t ctl\x01 \xc3\xa9", "v");
    cJSON_AddStringToObject(data, "", "empty key");
    cJSON_AddItemToObjectCS(data, "constant", cJSON_CreateNumber(3));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(data, "list"), cJSON_CreateObject());
    cJSON *root = cJSON_CreateObject();
    assert_non_null(root);
    cJSON_AddStringToObject(root, "id", "x");
    cJSON_AddItemReferenceToObject(root, "data", data);
    cJSON_AddItemReferenceToObject(root, "again", data);
    assert_prints_like_cjson(root);
    assert_prints_like_cjson(data);
    cJSON_Delete(root);
    cJSON_Delete(data);
}

/* Deeper than the walk's first LOCAL_DEPTH levels and far deeper than a parse allows:
 * arrays, objects and both in turn, each with a sibling after it at every level. */
static void deep_trees_print_like_cjson(void **state)
{
    (void)state;
    static const size_t depths[] = {1, 31, 32, 33, 64, 65, 2000};
    for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
        for (int shape = 0; shape < 3; shape++) {
            cJSON *root = NULL;
            for (size_t level = 0; level < depths[d]; level++) {
                bool object = shape == 1 || (shape == 2 && level % 2);
                cJSON *outer = object ? cJSON_CreateObject() : cJSON_CreateArray();
                assert_non_null(outer);
                if (root) {
                    cJSON_AddItemToObject(outer, "in", root);
                }
                cJSON_AddItemToObject(outer, "after", cJSON_CreateNumber((double)level));
                root = outer;
            }
            assert_prints_like_cjson(root);
            cJSON_Delete(root);
        }
    }
}

/* xorshift64*: the same trees on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static void random_text(char *out, size_t size)
{
    size_t len = next_random() % size;
    for (size_t i = 0; i < len; i++) {
        switch (next_random() % 4) {
        case 0:
            out[i] = (char)(1 + next_random() % 255); /* any byte but NUL */
            break;
        case 1: {
            static const char special[] = "\"\\\b\f\n\r\t\x01\x1f\x7f\xc3\xa9";
            out[i] = special[next_random() % (sizeof(special) - 1)];
            break;
        }
        default:
            out[i] = (char)('a' + next_random() % 26);
            break;
        }
    }
    out[len] = '\0';
}

static double random_number(void)
{
    switch (next_random() % 6) {
    case 0:
        return (double)(int64_t)(next_random() % 2000) - 1000;
    case 1: { /* integers of every magnitude */
        double magnitude = (double)(next_random() >> (next_random() % 64));
        return next_random() % 2 ? magnitude : -magnitude;
    }
    case 2: {
        uint64_t bits = next_random(); /* any double: NaNs, infinities, subnormals too */
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
    case 3:
        return (double)(next_random() % 100000) / 100;
    case 4:
        return ldexp((double)(next_random() >> 11), (int)(next_random() % 200) - 150);
    default:
        return (double)(next_random() % 2000000000000000u) - 1e15;
    }
}

static cJSON *random_tree(int depth)
{
    char text[40];
    unsigned kind = (unsigned)(next_random() % (depth > 0 ? 9 : 6));
    switch (kind) {
    case 0:
        return cJSON_CreateNull();
    case 1:
        return cJSON_CreateBool(next_random() % 2);
    case 2:
    case 3:
        return cJSON_CreateNumber(random_number());
    case 4:
        random_text(text, sizeof(text));
        return cJSON_CreateString(text);
    case 5:
        snprintf(text, sizeof(text), "[%u]", (unsigned)(next_random() % 1000));
        return cJSON_CreateRaw(text);
    default: {
        bool object = kind == 6;
        cJSON *container = object ? cJSON_CreateObject() : cJSON_CreateArray();
        assert_non_null(container);
        size_t n = next_random() % 6;
        for (size_t i = 0; i < n; i++) {
            cJSON *child = random_tree(depth - 1);
            assert_non_null(child);
            if (object) {
                random_text(text, sizeof(text));
                cJSON_AddItemToObject(container, text, child);
            } else {
                cJSON_AddItemToArray(container, child);
            }
        }
        return container;
    }
    }
}

static void random_trees_print_like_cjson(void **state)
{
    (void)state;
    for (int i = 0; i < 5000; i++) {
        cJSON *tree = random_tree(1 + i % 7);
        assert_non_null(tree);
        assert_prints_like_cjson(tree);
        cJSON_Delete(tree);
    }
}

/* Text longer than the first buffer, in one string and in many items: the growth keeps
 * every byte. */
static void long_documents_print_like_cjson(void **state)
{
    (void)state;
    size_t len = 300000;
    char *text = malloc(len + 1);
    assert_non_null(text);
    for (size_t i = 0; i < len; i++) {
        text[i] = (char)(i % 7 == 0 ? '\n' : 'a' + i % 26);
    }
    text[len] = '\0';
    assert_alone_and_nested(cJSON_CreateString(text));
    free(text);
    cJSON *array = cJSON_CreateArray();
    assert_non_null(array);
    for (int i = 0; i < 20000; i++) {
        cJSON_AddItemToArray(array, cJSON_CreateNumber(i * 1.25));
    }
    assert_prints_like_cjson(array);
    cJSON_Delete(array);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_null_item_prints_null),
        cmocka_unit_test(every_byte_escapes_like_cjson),
        cmocka_unit_test(a_missing_string_prints_empty),
        cmocka_unit_test(numbers_print_like_cjson),
        cmocka_unit_test(literals_and_raw_print_like_cjson),
        cmocka_unit_test(what_cjson_refuses_prints_null),
        cmocka_unit_test(keys_and_references_print_like_cjson),
        cmocka_unit_test(deep_trees_print_like_cjson),
        cmocka_unit_test(random_trees_print_like_cjson),
        cmocka_unit_test(long_documents_print_like_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
