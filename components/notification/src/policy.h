/* The retry policy of customer notifications: backoff schedule and the status an attempt
 * leads to. Pure functions, no I/O. */
#ifndef HAUSBUS_NOTIFICATION_POLICY_H
#define HAUSBUS_NOTIFICATION_POLICY_H

#include <stdint.h>

#include "notifier.h"

struct notification_policy {
    int64_t max_attempts;   /* attempts per message, >= 1 */
    int64_t backoff_ms;     /* wait after the first failed attempt, > 0 */
    int64_t backoff_max_ms; /* cap of the doubling wait, >= backoff_ms */
};

#define NOTIFICATION_MAX_ATTEMPTS_DEFAULT 5
#define NOTIFICATION_BACKOFF_MS_DEFAULT 1000
#define NOTIFICATION_BACKOFF_MAX_MS_DEFAULT 60000

/* The defaults above. */
struct notification_policy notification_policy_default(void);

/* How long to wait after failed attempt number attempts (1 = the first) before the next:
 * backoff_ms doubled per earlier failure, never more than backoff_max_ms. Can't fail. */
int64_t notification_backoff_ms(const struct notification_policy *p, int64_t attempts);

/* The status a message reaches after attempt number attempts ended with outcome:
 * "SENT"; "PENDING" for a retryable failure with attempts left; "FAILED" otherwise.
 * Returns a static string. */
const char *notification_next_status(const struct notification_policy *p,
                                     enum notifier_outcome outcome, int64_t attempts);

#endif
