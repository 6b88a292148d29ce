/* The notification component's handlers: one message per delivery start. */
#ifndef HAUSBUS_NOTIFICATION_HANDLERS_H
#define HAUSBUS_NOTIFICATION_HANDLERS_H

#include "hausbus/component.h"
#include "notifier.h"

extern const struct hb_component notification_component;

/* DeliveryStarted: records the message and sends it through the notifier in ctx->user
 * (a const struct notifier *); once per delivery, whatever the redeliveries. */
hb_err_t notification_on_delivery_started(struct hb_ctx *ctx, const struct hb_event *ev,
                                          struct hb_reply *reply);
/* Retries failed messages with backoff, up to NOTIFICATION_MAX_ATTEMPTS. */
hb_err_t notification_retry(struct hb_ctx *ctx);
/* A replay row (id, order id, status): re-emits CustomerNotified or NotificationFailed. */
hb_err_t notification_announce(struct hb_ctx *ctx, sqlite3_stmt *row);
hb_err_t notification_list(struct hb_ctx *ctx, const struct hb_event *ev,
                           struct hb_reply *reply);

#define NOTIFICATION_MAX_ATTEMPTS 5

#endif
