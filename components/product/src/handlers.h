/* The product component's handlers: catalogue, stock and reservations per order. */
#ifndef HAUSBUS_PRODUCT_HANDLERS_H
#define HAUSBUS_PRODUCT_HANDLERS_H

#include "hausbus/component.h"

extern const struct hb_component product_component;

hb_err_t product_create(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t product_get(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);
hb_err_t product_list(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply);

/* OrderPlaced: reserve qty, or reject (unknown_product / out_of_stock); replays the
 * earlier answer when the order was already seen. */
hb_err_t product_on_order_placed(struct hb_ctx *ctx, const struct hb_event *ev,
                                 struct hb_reply *reply);
/* OrderRejected / OrderWithdrawn: release the order's reservation, once. */
hb_err_t product_on_order_released(struct hb_ctx *ctx, const struct hb_event *ev,
                                   struct hb_reply *reply);

/* A replay row (order id, status): re-emits that reservation's outcome event. */
hb_err_t product_announce(struct hb_ctx *ctx, const struct hb_rows *row);

#endif
