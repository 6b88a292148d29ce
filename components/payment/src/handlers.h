/* The payment component's handlers: one charge per order, refunded at most once. */
#ifndef HAUSBUS_PAYMENT_HANDLERS_H
#define HAUSBUS_PAYMENT_HANDLERS_H

#include "hausbus/component.h"

extern const struct hb_component payment_component;

/* StockReserved: charge the amount, declined above cfg->payment_limit; replays the
 * earlier outcome for an order already charged, and never charges a voided order. */
hb_err_t payment_on_stock_reserved(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply);
/* OrderWithdrawn: refund an approved charge once, or void the order so it is never
 * charged. */
hb_err_t payment_on_order_withdrawn(struct hb_ctx *ctx, const struct hb_event *ev,
                                    struct hb_reply *reply);
/* A replay row (order id, status or VOIDED, user id): re-emits that payment's event. */
hb_err_t payment_announce(struct hb_ctx *ctx, const struct hb_rows *row);
hb_err_t payment_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);

#endif
