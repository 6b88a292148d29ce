/* HAUSBUS_COMPONENTS for the all-in-one: what selects what, and every way to get it wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "select.h"

/* Parses text and checks the result; on success also the selected set (a string of
 * 0/1 per service in enum order). */
static void check(const char *text, hb_err_t expected_rc, const char *expected_set,
                  const char *expected_why)
{
    bool selected[ALLINONE_N_SERVICES];
    char why[256];
    memset(selected, 0xff, sizeof(selected));
    hb_err_t rc = allinone_select(text, selected, why, sizeof(why));
    assert_int_equal(rc, expected_rc);
    if (expected_why) {
        assert_non_null(strstr(why, expected_why));
    }
    if (expected_set) {
        char got[ALLINONE_N_SERVICES + 1];
        for (int i = 0; i < ALLINONE_N_SERVICES; i++) {
            got[i] = selected[i] ? '1' : '0';
        }
        got[ALLINONE_N_SERVICES] = '\0';
        assert_string_equal(got, expected_set);
    }
}

static void unset_selects_every_component_and_the_gateway(void **state)
{
    (void)state;
    check(NULL, HB_OK, "1111111", NULL);
}

static void a_list_selects_exactly_its_names(void **state)
{
    (void)state;
    check("order,product,payment", HB_OK, "1110000", NULL);
    check("gateway", HB_OK, "0000001", NULL);
    check("view,notification,delivery", HB_OK, "0001110", NULL);
    check("order,product,payment,delivery,notification,view,gateway", HB_OK, "1111111", NULL);
}

static void the_gateway_runs_only_when_named(void **state)
{
    (void)state;
    check("order,product,payment,delivery,notification,view", HB_OK, "1111110", NULL);
}

static void blanks_around_names_are_allowed(void **state)
{
    (void)state;
    check(" order , view\t", HB_OK, "1000010", NULL);
}

static void an_unknown_name_is_refused_and_named(void **state)
{
    (void)state;
    check("order,bogus", HB_ERR_INVAL, NULL, "unknown component \"bogus\"");
    check("Order", HB_ERR_INVAL, NULL, "unknown component \"Order\"");
    check("orders", HB_ERR_INVAL, NULL, "known: order, product");
    check("order view", HB_ERR_INVAL, NULL, "unknown component \"order view\"");
}

static void a_repeated_name_is_refused(void **state)
{
    (void)state;
    check("order,view,order", HB_ERR_INVAL, NULL, "names \"order\" twice");
    check("gateway, gateway", HB_ERR_INVAL, NULL, "names \"gateway\" twice");
}

static void an_empty_list_or_item_is_refused(void **state)
{
    (void)state;
    check("", HB_ERR_INVAL, NULL, "HAUSBUS_COMPONENTS is empty");
    check("  ", HB_ERR_INVAL, NULL, "HAUSBUS_COMPONENTS is empty");
    check("order,,view", HB_ERR_INVAL, NULL, "empty name");
    check("order,", HB_ERR_INVAL, NULL, "empty name");
    check(",order", HB_ERR_INVAL, NULL, "empty name");
}

static void a_long_bad_name_is_cut_in_the_reason(void **state)
{
    (void)state;
    char text[600];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    bool selected[ALLINONE_N_SERVICES];
    char why[48];
    assert_int_equal(allinone_select(text, selected, why, sizeof(why)), HB_ERR_INVAL);
    assert_true(strlen(why) < sizeof(why));
}

static void names_are_in_enum_order(void **state)
{
    (void)state;
    assert_string_equal(allinone_service_name(ALLINONE_ORDER), "order");
    assert_string_equal(allinone_service_name(ALLINONE_VIEW), "view");
    assert_string_equal(allinone_service_name(ALLINONE_GATEWAY), "gateway");
    assert_string_equal(allinone_service_name(ALLINONE_N_SERVICES), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unset_selects_every_component_and_the_gateway),
        cmocka_unit_test(a_list_selects_exactly_its_names),
        cmocka_unit_test(the_gateway_runs_only_when_named),
        cmocka_unit_test(blanks_around_names_are_allowed),
        cmocka_unit_test(an_unknown_name_is_refused_and_named),
        cmocka_unit_test(a_repeated_name_is_refused),
        cmocka_unit_test(an_empty_list_or_item_is_refused),
        cmocka_unit_test(a_long_bad_name_is_cut_in_the_reason),
        cmocka_unit_test(names_are_in_enum_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
