/* Fuzz target: the gateway's validator of component replies (gateway_reply_decode) and its
 * split of batched replies (gateway_reply_split). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "routes.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gateway_reply: property failed: %s (line %d)\n", #cond,         \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool is_cleared(const struct gateway_reply *reply)
{
    static const struct gateway_reply zero;
    return memcmp(reply, &zero, sizeof(zero)) == 0;
}

/* What the HTTP answer is made of: a status, a JSON body, a header-safe Location. */
static void check_decoded(const struct gateway_reply *reply)
{
    CHECK(reply->code >= 200 && reply->code <= 599);
    CHECK(reply->body != NULL);
    CHECK(reply->body_len == strlen(reply->body));
    cJSON *body = gateway_json_parse(reply->body, reply->body_len);
    CHECK(body != NULL);
    cJSON_Delete(body);
    const char *end = memchr(reply->location, '\0', sizeof(reply->location));
    CHECK(end != NULL);
    if (reply->location[0] != '\0') {
        CHECK(reply->location[0] == '/');
        for (const char *c = reply->location; c < end; c++) {
            CHECK((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f);
        }
    }
}

/* The same bytes as a batched reply to three requests: each item found is a valid reply,
 * as gateway_reply_decode makes them; the others have a reason. */
static void check_split(const char *payload, size_t size)
{
    static const char *const ids[] = {"a", "b", "c"};
    struct gateway_reply replies[3];
    const char *whys[3];
    size_t decoded = gateway_reply_split(payload, size, ids, 3, replies, whys);
    size_t found = 0;
    for (size_t i = 0; i < 3; i++) {
        if (!replies[i].body) {
            CHECK(whys[i] != NULL && replies[i].code == 0);
            continue;
        }
        CHECK(whys[i] == NULL);
        found++;
        check_decoded(&replies[i]);
        gateway_reply_clear(&replies[i]);
    }
    CHECK(found == decoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: the reply is not NUL-terminated on the bus. */
    char *payload = malloc(size > 0 ? size : 1);
    if (!payload) {
        return 0;
    }
    if (size > 0) {
        memcpy(payload, data, size);
    }
    struct gateway_reply reply;
    memset(&reply, 0x5a, sizeof(reply));
    const char *reason = NULL;
    hb_err_t rc = gateway_reply_decode(payload, size, &reply, &reason);
    if (rc == HB_OK) {
        check_decoded(&reply);
    } else {
        CHECK(rc == HB_ERR_DECODE);
        CHECK(reason != NULL && reason[0] != '\0');
        CHECK(is_cleared(&reply));
    }
    gateway_reply_clear(&reply);
    CHECK(is_cleared(&reply));
    gateway_reply_clear(&reply);
    check_split(payload, size);
    free(payload);
    return 0;
}
