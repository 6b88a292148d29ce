/* Backoff schedule and retry decision of customer notifications (pure). */
#include "policy.h"

struct notification_policy notification_policy_default(void)
{
    return (struct notification_policy){
        .max_attempts = NOTIFICATION_MAX_ATTEMPTS_DEFAULT,
        .backoff_ms = NOTIFICATION_BACKOFF_MS_DEFAULT,
        .backoff_max_ms = NOTIFICATION_BACKOFF_MAX_MS_DEFAULT,
    };
}

int64_t notification_backoff_ms(const struct notification_policy *p, int64_t attempts)
{
    int64_t wait = p->backoff_ms;
    /* Doubling stops at the cap, so the loop is short and never overflows. */
    for (int64_t i = 1; i < attempts && wait < p->backoff_max_ms; i++) {
        wait *= 2;
    }
    return wait < p->backoff_max_ms ? wait : p->backoff_max_ms;
}

const char *notification_next_status(const struct notification_policy *p,
                                     enum notifier_outcome outcome, int64_t attempts)
{
    switch (outcome) {
    case NOTIFIER_SENT:
        return "SENT";
    case NOTIFIER_RETRY:
        return attempts < p->max_attempts ? "PENDING" : "FAILED";
    case NOTIFIER_FAILED:
    case NOTIFIER_UNKNOWN:
        break;
    }
    return "FAILED";
}
