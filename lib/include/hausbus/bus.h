/* The MQTT v5 bus client: persistent sessions, QoS 1, status with last will,
 * request/response properties, reconnect with backoff. */
#ifndef HAUSBUS_BUS_H
#define HAUSBUS_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "hausbus/config.h"
#include "hausbus/err.h"

#define HB_TOPIC_PREFIX "hausbus/v1/"
/* Topic literals: HB_EVT_TOPIC("order", "OrderPlaced"), HB_CMD_TOPIC("order", "place"). */
#define HB_EVT_TOPIC(component, type) HB_TOPIC_PREFIX "evt/" component "/" type
#define HB_CMD_TOPIC(component, name) HB_TOPIC_PREFIX "cmd/" component "/" name
#define HB_CONTENT_TYPE_CE "application/cloudevents+json; charset=utf-8"
#define HB_CONTENT_TYPE_JSON "application/json"
#define HB_CONTENT_TYPE_TEXT "text/plain; charset=utf-8"
/* A batch: a JSON array of structured CloudEvents in one message (docs/PROTOCOL.md,
 * "Batches"). A single event still goes alone with HB_CONTENT_TYPE_CE. */
#define HB_CONTENT_TYPE_CE_BATCH "application/cloudevents-batch+json; charset=utf-8"
/* A client takes packets up to its largest payload plus this: the fixed header, topic and
 * properties, and room to still receive (and dead-letter) a payload a little too big. The
 * broker configs we ship set max_packet_size to HB_REPLY_MAX plus this (1064960), the
 * largest packet anyone sends. */
#define HB_PACKET_OVERHEAD (16 * 1024)

struct hb_bus;

/* The MQTT v5 content type of what is published on topic, by its kind (docs/PROTOCOL.md):
 * CloudEvents on evt/ and cmd/, JSON on reply/, dlq/ and metrics/, text on status/.
 * Topics outside hausbus/v1/ (a gateway's own reply topic is inside) get JSON. Can't fail. */
const char *hb_content_type(const char *topic);

struct hb_message {
    const char *topic;
    const char *payload;
    size_t len;
    const char *response_topic; /* NULL when absent */
    const void *correlation;    /* NULL when absent */
    size_t correlation_len;
    const char *content_type;   /* MQTT v5 content type, NULL when absent */
};

/* True when msg carries a CloudEvents batch: its content type says so, or, without a
 * content type (a hand-made mosquitto_pub), its first non-blank byte is '['. Can't fail. */
bool hb_message_is_batch(const struct hb_message *msg);

struct hb_bus_options {
    const char *client_id;   /* unique per process; with persistent, stable across restarts */
    const char *component;   /* status topic hausbus/v1/status/<component>, NULL for none */
    bool persistent;         /* keep the session (and queued QoS 1 messages) while away */
    /* The retained "offline" status expires (MQTT message expiry): a replica that is gone
     * for good leaves no status behind for ever. */
    bool status_expires;
    const char *const *subscriptions; /* topic filters, subscribed at QoS 1 on every connect */
    size_t n_subscriptions;
    /* The last n_feeds of them at QoS 0 instead: feeds whose next message replaces a lost
     * one (the live board's order events), so the broker spends no PUBACK on them. */
    size_t n_feeds;
    void (*on_message)(void *ctx, const struct hb_message *msg);
    void (*on_published)(void *ctx, int mid); /* broker acknowledged our QoS 1 publish */
    void (*on_connected)(void *ctx); /* connected and subscriptions confirmed */
    /* The largest payload this client takes (0: HB_PAYLOAD_MAX). The broker is told, in
     * CONNECT's Maximum Packet Size, to take that plus HB_PACKET_OVERHEAD, and drops any
     * larger message for this client instead of sending it: libmosquitto 2.0.11 would
     * allocate whatever size an incoming packet announces. */
    size_t max_payload;
    void *ctx;
};

/* Creates the client and starts connecting (it retries with backoff until the broker
 * answers, in hb_bus_run_once or in the background thread). Returns HB_ERR_NOMEM or
 * HB_ERR_BUS; *out is set only on success. */
hb_err_t hb_bus_create(const struct hb_config *cfg, const struct hb_bus_options *opt,
                       struct hb_bus **out);

/* Publishes "offline" status, disconnects and frees. Accepts NULL. */
void hb_bus_destroy(struct hb_bus *bus);

/* Runs the network loop for up to timeout_ms in the caller's thread (callbacks run
 * here) and reconnects with backoff when the connection is down. */
hb_err_t hb_bus_run_once(struct hb_bus *bus, int timeout_ms);

/* Runs the network loop in a background thread (callbacks run there). */
hb_err_t hb_bus_start_thread(struct hb_bus *bus);

bool hb_bus_connected(const struct hb_bus *bus);

/* Publishes at QoS 1 with the content type of topic's kind (hb_content_type). *mid (may
 * be NULL) receives the message id that on_published will report. */
hb_err_t hb_bus_publish(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        bool retain, int *mid);

/* Publishes a CloudEvents batch (payload: a JSON array of events, at most
 * HB_BUS_BATCH_MAX) at QoS 1 with content type HB_CONTENT_TYPE_CE_BATCH. *mid (may be
 * NULL) as hb_bus_publish. */
hb_err_t hb_bus_publish_batch(struct hb_bus *bus, const char *topic, const char *payload,
                              size_t len, int *mid);

/* Publishes a snapshot (metrics): QoS 0, retained, content type application/json. The
 * next snapshot replaces it, so a lost one costs nothing. */
hb_err_t hb_bus_publish_snapshot(struct hb_bus *bus, const char *topic, const char *payload,
                                 size_t len);

/* Publishes a request (QoS 0: it matters only while the requester waits) with Response
 * Topic, Correlation Data and a Message Expiry Interval (seconds, 0 for none). */
hb_err_t hb_bus_request(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        const char *response_topic, const void *correlation,
                        size_t correlation_len, unsigned expiry_s);

/* hb_bus_request for a batch of requests (payload a JSON array of CloudEvents), labelled
 * HB_CONTENT_TYPE_CE_BATCH; the reply is one JSON array (docs/PROTOCOL.md, "Batches"). */
hb_err_t hb_bus_request_batch(struct hb_bus *bus, const char *topic, const char *payload,
                              size_t len, const char *response_topic, const void *correlation,
                              size_t correlation_len, unsigned expiry_s);

/* Publishes a response (QoS 0, like the request) to msg's response topic with its
 * correlation data.
 * HB_ERR_INVAL when msg has no response topic. */
hb_err_t hb_bus_reply(struct hb_bus *bus, const struct hb_message *msg, const char *payload,
                      size_t len);

#endif
