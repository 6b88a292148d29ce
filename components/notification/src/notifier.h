/* The pluggable notifier that delivers a customer message (KakaoTalk in production). */
#ifndef HAUSBUS_NOTIFIER_H
#define HAUSBUS_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "hausbus/err.h"

struct notification_msg {
    int64_t notification_id;
    int64_t order_id;
    int64_t delivery_id;
    int64_t user_id;
    const char *text;
};

/* What one delivery attempt came to. */
enum notifier_outcome {
    NOTIFIER_SENT,    /* the channel accepted the message */
    NOTIFIER_RETRY,   /* a transient failure (5xx, connection error, timeout): try again */
    NOTIFIER_FAILED,  /* a permanent failure (4xx, bad configuration): never again */
    NOTIFIER_UNKNOWN, /* the attempt may or may not have reached the customer */
};

struct notifier {
    const char *channel; /* "kakaotalk" */
    /* Delivers msg, blocking for at most the notifier's own bounded timeout. Writes why it
     * did not succeed into error (always NUL-terminated, "" on success). */
    enum notifier_outcome (*send)(void *self, const struct notification_msg *msg, char *error,
                                  size_t error_len);
    void *self;
};

/* The default notifier: writes the KakaoTalk message to the log (the row in the
 * notifications table is the record). Can't fail. */
const struct notifier *notifier_log(void);

#endif
