/* Unit tests of the gateway's MQTT client id (gateway/src/client_id.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_id.h"
#include "hausbus/envelope.h"

#define SAME_MS_IDS 64
#define UUID_MS_CHARS 13 /* "xxxxxxxx-xxxx": the 48-bit millisecond time of a UUIDv7 */

static void the_id_is_the_uuids_random_tail(void **state)
{
    (void)state;
    char id[64];
    assert_int_equal(gateway_client_id_from_uuid("0190b5c4-1a2b-7c3d-8e4f-0123456789ab", id,
                                                 sizeof(id)),
                     HB_OK);
    assert_string_equal(id, "hausbus-gateway-8e4f0123456789ab");
}

/* The 64 bits of an id's hex digits. */
static uint64_t id_bits(const char *id)
{
    const char *hex = id + strlen(GATEWAY_CLIENT_ID_PREFIX);
    assert_int_equal(strlen(hex), GATEWAY_CLIENT_ID_HEX);
    return strtoull(hex, NULL, 16);
}

/* Two gateway replicas starting in the same millisecond must not share a client id (the
 * broker would keep kicking one off): every id bit but the UUID's variant is random. */
static void ids_made_in_the_same_ms_differ_in_at_least_60_bits(void **state)
{
    (void)state;
    char uuids[SAME_MS_IDS][37];
    size_t n = 0;
    while (n < SAME_MS_IDS) {
        hb_uuid(uuids[n]);
        if (n > 0 && strncmp(uuids[n], uuids[0], UUID_MS_CHARS) != 0) {
            n = 0; /* the millisecond turned: start over in the new one */
            continue;
        }
        n++;
    }
    uint64_t varying = 0;
    char first[64];
    assert_int_equal(gateway_client_id_from_uuid(uuids[0], first, sizeof(first)), HB_OK);
    for (size_t i = 1; i < n; i++) {
        char id[64];
        assert_int_equal(gateway_client_id_from_uuid(uuids[i], id, sizeof(id)), HB_OK);
        varying |= id_bits(id) ^ id_bits(first);
    }
    /* 62 random bits: each stays the same over 64 ids with probability 2^-63. */
    assert_true(__builtin_popcountll(varying) >= 60);
}

static void a_bad_uuid_or_a_short_buffer_is_refused(void **state)
{
    (void)state;
    char id[64] = "untouched";
    assert_int_equal(gateway_client_id_from_uuid("0190b5c4-1a2b", id, sizeof(id)), HB_ERR_INVAL);
    assert_int_equal(gateway_client_id_from_uuid("0190b5c4-1a2b-7c3d-8e4f-0123456789abcd", id,
                                                 sizeof(id)),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_client_id_from_uuid("0190b5c4-1a2b-7c3d-8e4f-0123456789ag", id,
                                                 sizeof(id)),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_client_id_from_uuid(NULL, id, sizeof(id)), HB_ERR_INVAL);
    assert_int_equal(gateway_client_id_from_uuid("0190b5c4-1a2b-7c3d-8e4f-0123456789ab", id,
                                                 strlen(GATEWAY_CLIENT_ID_PREFIX) +
                                                     GATEWAY_CLIENT_ID_HEX),
                     HB_ERR_INVAL);
    assert_string_equal(id, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_id_is_the_uuids_random_tail),
        cmocka_unit_test(ids_made_in_the_same_ms_differ_in_at_least_60_bits),
        cmocka_unit_test(a_bad_uuid_or_a_short_buffer_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
