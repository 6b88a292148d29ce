/* The delivery component's handlers: the brand's deliveries, and the arbiter of a
 * cancel racing the brand's "start". */
#ifndef HAUSBUS_DELIVERY_HANDLERS_H
#define HAUSBUS_DELIVERY_HANDLERS_H

#include "hausbus/component.h"

extern const struct hb_component delivery_component;

/* OrderPaid: create the delivery (RECEIVED) once; replays its state when seen again. */
hb_err_t delivery_on_order_paid(struct hb_ctx *ctx, const struct hb_event *ev,
                                struct hb_reply *reply);
/* OrderCancelling: cancel unless already SHIPPING/DELIVERED (then refuse). */
hb_err_t delivery_on_order_cancelling(struct hb_ctx *ctx, const struct hb_event *ev,
                                      struct hb_reply *reply);
/* Brand actions: RECEIVED -confirm-> PREPARING -start-> SHIPPING -complete-> DELIVERED. */
hb_err_t delivery_confirm(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t delivery_start(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t delivery_complete(struct hb_ctx *ctx, const struct hb_event *ev,
                           struct hb_reply *reply);
/* A replay row (order id, status): re-emits the delivery's current-state event. */
hb_err_t delivery_announce(struct hb_ctx *ctx, const struct hb_rows *row);
hb_err_t delivery_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t delivery_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);

#endif
