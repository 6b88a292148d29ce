/* The view component's handlers: the mypage read model, built from events only. */
#ifndef HAUSBUS_VIEW_HANDLERS_H
#define HAUSBUS_VIEW_HANDLERS_H

#include "hausbus/component.h"

extern const struct hb_component view_component;

/* Each applies its source's event only when newer (by the source's version) than what
 * the row holds, so duplicates and late events never move a row backwards. */
hb_err_t view_on_order_event(struct hb_ctx *ctx, const struct hb_event *ev,
                             struct hb_reply *reply);
hb_err_t view_on_payment_event(struct hb_ctx *ctx, const struct hb_event *ev,
                               struct hb_reply *reply);
hb_err_t view_on_delivery_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                struct hb_reply *reply);
hb_err_t view_on_customer_notified(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply);
hb_err_t view_mypage(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);

#endif
