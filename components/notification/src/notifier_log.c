/* The default notifier: logs the KakaoTalk message instead of calling the API. */
#include "notifier.h"

#include "hausbus/log.h"

static enum notifier_outcome log_send(void *self, const struct notification_msg *msg,
                                      char *error, size_t error_len)
{
    (void)self;
    (void)error_len;
    error[0] = '\0';
    HB_LOGI(msg->order_id, "kakaotalk to user %lld: %s", (long long)msg->user_id, msg->text);
    return NOTIFIER_SENT;
}

const struct notifier *notifier_log(void)
{
    static const struct notifier log_notifier = {
        .channel = "kakaotalk",
        .send = log_send,
        .self = NULL,
    };
    return &log_notifier;
}
