/* The OpenAPI document the gateway serves (gateway/openapi.json) against its route table:
 * every route documented with its parameters, nothing documented that is not served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "documents.h"
#include "auth.h"
#include "metrics.h"
#include "routes.h"

static cJSON *load_document(void)
{
    cJSON *doc = gateway_json_parse(gateway_openapi_json, gateway_openapi_json_len);
    assert_non_null(doc);
    return doc;
}

/* "/orders/{id}" with id_field "id" -> "/orders/{id}"; "/mypage/{id}" with "userId" ->
 * "/mypage/{userId}": the document names the path parameter for what it is. */
static void document_path(const struct gateway_route_info *info, char *out, size_t cap)
{
    const char *slot = strstr(info->pattern, "{id}");
    if (!slot) {
        assert_true((size_t)snprintf(out, cap, "%s", info->pattern) < cap);
        return;
    }
    int n = snprintf(out, cap, "%.*s{%s}%s", (int)(slot - info->pattern), info->pattern,
                     info->id_field ? info->id_field : "id", slot + 4);
    assert_true(n > 0 && (size_t)n < cap);
}

static void lower(const char *method, char *out, size_t cap)
{
    size_t i = 0;
    for (; method[i] != '\0' && i + 1 < cap; i++) {
        out[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
    }
    out[i] = '\0';
}

static const cJSON *operation(const cJSON *doc, const struct gateway_route_info *info)
{
    char path[128];
    char method[16];
    document_path(info, path, sizeof(path));
    lower(info->method, method, sizeof(method));
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, "paths");
    item = cJSON_GetObjectItemCaseSensitive(item, path);
    return cJSON_GetObjectItemCaseSensitive(item, method);
}

static bool has_parameter(const cJSON *op, const char *in, const char *name)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(op, "parameters"))
    {
        const cJSON *where = cJSON_GetObjectItemCaseSensitive(p, "in");
        const cJSON *called = cJSON_GetObjectItemCaseSensitive(p, "name");
        if (cJSON_IsString(where) && cJSON_IsString(called) &&
            strcmp(where->valuestring, in) == 0 && strcmp(called->valuestring, name) == 0) {
            return true;
        }
    }
    return false;
}

static bool has_response(const cJSON *op, const char *code)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "responses"),
                                            code) != NULL;
}

static void document_is_openapi_3(void **state)
{
    (void)state;
    cJSON *doc = load_document();
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "openapi");
    assert_true(cJSON_IsString(version));
    assert_memory_equal(version->valuestring, "3.0.", 4);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(doc, "info"));
    assert_int_equal(strlen(gateway_openapi_json), gateway_openapi_json_len);
    cJSON_Delete(doc);
}

static void every_route_is_documented_with_its_parameters(void **state)
{
    (void)state;
    cJSON *doc = load_document();
    assert_true(gateway_route_count() > 10);
    for (size_t i = 0; i < gateway_route_count(); i++) {
        struct gateway_route_info info;
        assert_true(gateway_route_describe(i, &info));
        const cJSON *op = operation(doc, &info);
        if (!op) {
            fail_msg("%s %s is not documented", info.method, info.pattern);
        }
        if (info.id_field && !has_parameter(op, "path", info.id_field)) {
            fail_msg("%s %s: path parameter %s missing", info.method, info.pattern,
                     info.id_field);
        }
        if (info.query_field && !has_parameter(op, "query", info.query_field)) {
            fail_msg("%s %s: query parameter %s missing", info.method, info.pattern,
                     info.query_field);
        }
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(op, "parameters");
        assert_int_equal(cJSON_GetArraySize(params),
                         (info.id_field != NULL) + (info.query_field != NULL));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(op, "requestBody") != NULL,
                         info.has_body);
        /* The errors the router itself answers with must be documented too. */
        if (info.id_field || info.query_field || info.has_body) {
            assert_true(has_response(op, "400"));
        }
        if (info.id_field) {
            assert_true(has_response(op, "404"));
        }
        if (info.has_body) {
            assert_true(has_response(op, "413"));
        }
        /* Security: public exactly where the gateway asks for no token. */
        const cJSON *security = cJSON_GetObjectItemCaseSensitive(op, "security");
        bool public = cJSON_IsArray(security) && cJSON_GetArraySize(security) == 0;
        assert_int_equal(public, info.access == GATEWAY_ACCESS_PUBLIC);
        if (!public) {
            assert_true(has_response(op, "401"));
            assert_true(has_response(op, "403"));
        }
    }
    cJSON_Delete(doc);
}

static void nothing_is_documented_that_is_not_served(void **state)
{
    (void)state;
    cJSON *doc = load_document();
    const cJSON *path;
    size_t operations = 0;
    cJSON_ArrayForEach(path, cJSON_GetObjectItemCaseSensitive(doc, "paths"))
    {
        const cJSON *op;
        cJSON_ArrayForEach(op, path)
        {
            bool served = false;
            for (size_t i = 0; i < gateway_route_count() && !served; i++) {
                struct gateway_route_info info;
                assert_true(gateway_route_describe(i, &info));
                served = operation(doc, &info) == op;
            }
            if (!served) {
                fail_msg("%s %s is documented but not served", op->string, path->string);
            }
            operations++;
        }
    }
    assert_int_equal(operations, gateway_route_count());
    cJSON_Delete(doc);
}

/* Schema-driven testers (dredd) fill path parameters from their example. */
static void every_path_parameter_has_an_example(void **state)
{
    (void)state;
    cJSON *doc = load_document();
    for (size_t i = 0; i < gateway_route_count(); i++) {
        struct gateway_route_info info;
        assert_true(gateway_route_describe(i, &info));
        const cJSON *param;
        cJSON_ArrayForEach(param, cJSON_GetObjectItemCaseSensitive(operation(doc, &info),
                                                                   "parameters"))
        {
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(param, "in");
            const cJSON *example = cJSON_GetObjectItemCaseSensitive(param, "example");
            if (cJSON_IsString(in) && strcmp(in->valuestring, "path") == 0 &&
                !(cJSON_IsNumber(example) && example->valuedouble >= 1)) {
                fail_msg("%s %s: path parameter without a positive example", info.method,
                         info.pattern);
            }
        }
    }
    cJSON_Delete(doc);
}

/* The media type documented for GET /metrics is the Content-Type the gateway sends. */
static void metrics_media_type_is_the_one_sent(void **state)
{
    (void)state;
    cJSON *doc = load_document();
    struct gateway_route_info info;
    assert_true(gateway_route_lookup("GET", "/metrics", &info));
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(operation(doc, &info), "responses"), "200");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(ok, "content");
    assert_int_equal(cJSON_GetArraySize(content), 1);
    assert_string_equal(content->child->string, GATEWAY_METRICS_CONTENT_TYPE);
    cJSON_Delete(doc);
}

static void describe_refuses_an_index_out_of_range(void **state)
{
    (void)state;
    struct gateway_route_info info;
    assert_false(gateway_route_describe(gateway_route_count(), &info));
    assert_false(gateway_route_describe(0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(document_is_openapi_3),
        cmocka_unit_test(every_route_is_documented_with_its_parameters),
        cmocka_unit_test(nothing_is_documented_that_is_not_served),
        cmocka_unit_test(every_path_parameter_has_an_example),
        cmocka_unit_test(metrics_media_type_is_the_one_sent),
        cmocka_unit_test(describe_refuses_an_index_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
