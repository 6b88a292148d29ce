/* Private to lib/: what the runtime and the dispatcher share. */
#ifndef HAUSBUS_COMPONENT_INT_H
#define HAUSBUS_COMPONENT_INT_H

#include "hausbus/bus.h"
#include "hausbus/component.h"

/* Applies one message inside the caller's open transaction, in a savepoint so a failing
 * handler undoes only its own changes; read-only routes run without one. Returns the
 * handler's result (HB_ERR_DECODE with ctx->error for a message to dead-letter). */
hb_err_t hb_dispatch_in_tx(const struct hb_component *def, struct hb_ctx *ctx,
                           const char *topic, const struct hb_event *ev,
                           struct hb_reply *reply);

/* As hb_dispatch_in_tx without the savepoint: the caller holds one around several
 * messages and must roll back to it when this returns anything but HB_OK, since a
 * failing handler's writes are then still in the transaction. */
hb_err_t hb_dispatch_unguarded(const struct hb_component *def, struct hb_ctx *ctx,
                               const char *topic, const struct hb_event *ev,
                               struct hb_reply *reply);

/* True for "hausbus/v1/cmd/<def->name>/replay" when def can replay. */
bool hb_is_replay_topic(const struct hb_component *def, const char *topic);

/* The bus as the runtime uses it: the hb_bus_* functions in production; a scripted fake in
 * tests/unit/test_runtime.c, so batches, the outbox relay and acknowledgements run there
 * without a broker. */
struct hb_bus_ops {
    hb_err_t (*create)(const struct hb_config *cfg, const struct hb_bus_options *opt,
                       struct hb_bus **out);
    void (*destroy)(struct hb_bus *bus);
    hb_err_t (*run_once)(struct hb_bus *bus, int timeout_ms);
    bool (*connected)(const struct hb_bus *bus);
    hb_err_t (*publish)(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        bool retain, int *mid);
    /* publish with the batch content type (payload: a JSON array of CloudEvents) */
    hb_err_t (*publish_batch)(struct hb_bus *bus, const char *topic, const char *payload,
                              size_t len, int *mid);
    hb_err_t (*publish_snapshot)(struct hb_bus *bus, const char *topic, const char *payload,
                                 size_t len);
    hb_err_t (*reply)(struct hb_bus *bus, const struct hb_message *msg, const char *payload,
                      size_t len);
};

/* hb_component_run over the given bus. */
int hb_component_run_on(const struct hb_component *def, const struct hb_bus_ops *bus_ops);

#endif
