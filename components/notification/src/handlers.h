/* The notification component's handlers and its message state machine: one message per
 * delivery start, PENDING -> SENDING -> SENT / FAILED (or PENDING again to retry). */
#ifndef HAUSBUS_NOTIFICATION_HANDLERS_H
#define HAUSBUS_NOTIFICATION_HANDLERS_H

#include "hausbus/component.h"
#include "notifier.h"
#include "policy.h"

#define NOTIFICATION_TEXT_MAX 320
#define NOTIFICATION_ERROR_MAX 160
/* Messages the inline tick sends per tick (the log notifier: no network, no wait). */
#define NOTIFICATION_INLINE_BATCH 64

/* What ctx->user points to. The service (sender.c) embeds it as its first member. */
struct notification_state {
    const char *channel;               /* recorded with every message: "kakaotalk" */
    struct notification_policy policy; /* retries */
    const struct notifier *notifier;   /* the inline tick's: one without network I/O */
};

/* A message claimed for one attempt (status SENDING, committed before the attempt). */
struct notification_job {
    int64_t id, order_id, delivery_id, user_id;
    int64_t attempts; /* this attempt's number, 1 = the first */
    char text[NOTIFICATION_TEXT_MAX];
};

/* How an attempt ended. */
struct notification_result {
    int64_t id;
    int64_t attempts;
    enum notifier_outcome outcome;
    char error[NOTIFICATION_ERROR_MAX];
};

/* The component as the unit tests and fuzzers run it: setup installs the log notifier and
 * the default policy, tick sends inline. hausbus-notification (main.c) rewires setup, tick
 * and teardown for the KakaoTalk notifier (sender.c). */
extern const struct hb_component notification_component;

/* DeliveryStarted: records one PENDING message per delivery, whatever the redeliveries.
 * Pure: the message is sent later, by a tick. */
hb_err_t notification_on_delivery_started(struct hb_ctx *ctx, const struct hb_event *ev,
                                          struct hb_reply *reply);
/* A replay row (id, order id, status): re-emits CustomerNotified or NotificationFailed. */
hb_err_t notification_announce(struct hb_ctx *ctx, const struct hb_rows *row);
hb_err_t notification_list(struct hb_ctx *ctx, const struct hb_event *ev,
                           struct hb_reply *reply);

/* Claims up to cap due PENDING messages (next attempt time <= ctx->now_ms, oldest first):
 * each becomes SENDING with one more attempt, in the open transaction; the caller must
 * commit before it attempts any. Fills jobs[0..*n). */
hb_err_t notification_claim(struct hb_ctx *ctx, struct notification_job *jobs, size_t cap,
                            size_t *n);
/* Records the result of a SENDING message's attempt per ctx->user's policy: SENT (emits
 * CustomerNotified), PENDING with a backoff, or FAILED (emits NotificationFailed), with
 * the error as last_error. A message no longer SENDING is left alone. */
hb_err_t notification_record(struct hb_ctx *ctx, const struct notification_result *result);
/* Turns a claimed message whose attempt never started back to PENDING (a clean stop). */
hb_err_t notification_unclaim(struct hb_ctx *ctx, int64_t id);
/* At start: every message still SENDING was being attempted when a previous process
 * died, and may have reached the customer. At most once is the rule, so each becomes
 * FAILED ("outcome unknown") with NotificationFailed; none is sent again. */
hb_err_t notification_recover(struct hb_ctx *ctx);
/* The inline tick: claims due messages and sends them through ctx->user's notifier in the
 * same transaction. Only for a notifier without external effects (the log notifier):
 * with a real channel a crash between the send and the commit would send twice. */
hb_err_t notification_tick_inline(struct hb_ctx *ctx);

#endif
