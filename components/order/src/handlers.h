/* The order component's handlers: the order state machine of the saga. */
#ifndef HAUSBUS_ORDER_HANDLERS_H
#define HAUSBUS_ORDER_HANDLERS_H

#include "hausbus/component.h"

/* Routes, schema and tick of the order component. */
extern const struct hb_component order_component;

/* Commands from the gateway (data as in docs/PROTOCOL.md). */
hb_err_t order_place(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t order_cancel(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t order_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t order_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);

/* Outcomes of the other components' steps. */
hb_err_t order_on_stock_reserved(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply);
hb_err_t order_on_stock_rejected(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply);
hb_err_t order_on_stock_released(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply);
hb_err_t order_on_payment_approved(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply);
hb_err_t order_on_payment_declined(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply);
hb_err_t order_on_payment_settled(struct hb_ctx *ctx, const struct hb_event *ev,
                                  struct hb_reply *reply);
hb_err_t order_on_delivery_event(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply);

/* A replay row (the order id): re-emits the order's current-state event. */
hb_err_t order_announce(struct hb_ctx *ctx, const struct hb_rows *row);

/* The metrics hook: {"saga": {placed, paid, cancelled, delivered, rejected{reason: n},
 * stepLatencyMs{...}}} counted from order_steps, so each order counts once whatever was
 * redelivered. Returns NULL (logged) on failure; the caller owns the result. */
cJSON *order_metrics(struct hb_ctx *ctx);

/* Re-drives orders whose current step got no answer in time. */
hb_err_t order_redrive(struct hb_ctx *ctx);

#endif
