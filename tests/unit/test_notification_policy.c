/* Unit tests of the notification retry policy: backoff schedule and next status
 * (components/notification/src/policy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static const struct notification_policy policy = {
    .max_attempts = 3, .backoff_ms = 500, .backoff_max_ms = 3000};

static void backoff_doubles_per_failure_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(notification_backoff_ms(&policy, 1), 500);
    assert_int_equal(notification_backoff_ms(&policy, 2), 1000);
    assert_int_equal(notification_backoff_ms(&policy, 3), 2000);
    assert_int_equal(notification_backoff_ms(&policy, 4), 3000);
    assert_int_equal(notification_backoff_ms(&policy, 5), 3000);
    assert_int_equal(notification_backoff_ms(&policy, 1000000), 3000); /* no overflow */
}

static void backoff_with_the_cap_below_the_base_is_the_cap(void **state)
{
    (void)state;
    struct notification_policy flat = {.max_attempts = 2, .backoff_ms = 700,
                                       .backoff_max_ms = 700};
    assert_int_equal(notification_backoff_ms(&flat, 1), 700);
    assert_int_equal(notification_backoff_ms(&flat, 9), 700);
}

static void defaults_are_five_attempts_from_one_second_to_a_minute(void **state)
{
    (void)state;
    struct notification_policy d = notification_policy_default();
    assert_int_equal(d.max_attempts, 5);
    assert_int_equal(d.backoff_ms, 1000);
    assert_int_equal(d.backoff_max_ms, 60000);
}

static void retryable_failures_retry_while_attempts_are_left(void **state)
{
    (void)state;
    assert_string_equal(notification_next_status(&policy, NOTIFIER_RETRY, 1), "PENDING");
    assert_string_equal(notification_next_status(&policy, NOTIFIER_RETRY, 2), "PENDING");
    assert_string_equal(notification_next_status(&policy, NOTIFIER_RETRY, 3), "FAILED");
}

static void sent_permanent_and_unknown_are_final(void **state)
{
    (void)state;
    assert_string_equal(notification_next_status(&policy, NOTIFIER_SENT, 1), "SENT");
    assert_string_equal(notification_next_status(&policy, NOTIFIER_SENT, 3), "SENT");
    assert_string_equal(notification_next_status(&policy, NOTIFIER_FAILED, 1), "FAILED");
    /* At most once: an attempt that may have arrived is never repeated. */
    assert_string_equal(notification_next_status(&policy, NOTIFIER_UNKNOWN, 1), "FAILED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_per_failure_up_to_the_cap),
        cmocka_unit_test(backoff_with_the_cap_below_the_base_is_the_cap),
        cmocka_unit_test(defaults_are_five_attempts_from_one_second_to_a_minute),
        cmocka_unit_test(retryable_failures_retry_while_attempts_are_left),
        cmocka_unit_test(sent_permanent_and_unknown_are_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
