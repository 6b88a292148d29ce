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

struct notifier {
    const char *channel; /* "kakaotalk" */
    /* Delivers msg. Returns HB_OK when the channel accepted it; otherwise writes why
     * into error (always NUL-terminated) and returns an error; the caller retries. */
    hb_err_t (*send)(void *self, const struct notification_msg *msg, char *error,
                     size_t error_len);
    void *self;
};

/* The default notifier: writes the KakaoTalk message to the log (the row in the
 * notifications table is the record). Can't fail. */
const struct notifier *notifier_log(void);

#endif
