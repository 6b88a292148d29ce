/* Private to lib/: what the runtime and the dispatcher share. */
#ifndef HAUSBUS_COMPONENT_INT_H
#define HAUSBUS_COMPONENT_INT_H

#include "hausbus/component.h"

/* Applies one message inside the caller's open transaction, in a savepoint so a failing
 * handler undoes only its own changes; read-only routes run without one. Returns the
 * handler's result (HB_ERR_DECODE with ctx->error for a message to dead-letter). */
hb_err_t hb_dispatch_in_tx(const struct hb_component *def, struct hb_ctx *ctx,
                           const char *topic, const struct hb_event *ev,
                           struct hb_reply *reply);

/* True for "hausbus/v1/cmd/<def->name>/replay" when def can replay. */
bool hb_is_replay_topic(const struct hb_component *def, const char *topic);

#endif
