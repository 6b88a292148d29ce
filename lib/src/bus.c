/* MQTT v5 client over libmosquitto: sessions, status + last will, request/response. */
#include "hausbus/bus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "hausbus/envelope.h"
#include "hausbus/log.h"

#define BUS_KEEPALIVE_S 30
#define BUS_SESSION_EXPIRY_S (7 * 24 * 3600) /* a component may be away a week */
#define BUS_BACKOFF_MIN_MS 100
#define BUS_BACKOFF_MAX_MS 5000

struct hb_bus {
    struct mosquitto *mosq;
    struct hb_bus_options opt;
    char status_topic[192];
    char host[256];
    int port;
    bool threaded;
    atomic_bool connected; /* written by the network thread, read by callers */
    bool stopping;
    int backoff_ms;
    int64_t next_attempt_ms;
    int feeds_subscribe_mid; /* the SUBSCRIBE of the feeds (the last n_feeds filters) */
    int last_subscribe_mid;  /* of the reliable ones, sent last: connected = its SUBACK came */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

/* One row per kind of topic under hausbus/v1/ (docs/PROTOCOL.md, "Topics"). */
static const struct {
    const char *prefix;
    const char *content_type;
} content_types[] = {
    {HB_TOPIC_PREFIX "evt/", HB_CONTENT_TYPE_CE},
    {HB_TOPIC_PREFIX "cmd/", HB_CONTENT_TYPE_CE},
    {HB_TOPIC_PREFIX "reply/", HB_CONTENT_TYPE_JSON},
    {HB_TOPIC_PREFIX "dlq/", HB_CONTENT_TYPE_JSON},
    {HB_TOPIC_PREFIX "metrics/", HB_CONTENT_TYPE_JSON},
    {HB_TOPIC_PREFIX "status/", HB_CONTENT_TYPE_TEXT},
};

const char *hb_content_type(const char *topic)
{
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        if (strncmp(topic, content_types[i].prefix, strlen(content_types[i].prefix)) == 0) {
            return content_types[i].content_type;
        }
    }
    return HB_CONTENT_TYPE_JSON;
}

bool hb_message_is_batch(const struct hb_message *msg)
{
    static const char batch_type[] = "application/cloudevents-batch+json";
    if (msg->content_type) {
        return strncmp(msg->content_type, batch_type, sizeof(batch_type) - 1) == 0;
    }
    for (size_t i = 0; i < msg->len; i++) {
        char c = msg->payload[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            return c == '[';
        }
    }
    return false;
}

/* Properties holding just the content type of topic; NULL when out of memory (the message
 * then goes out unlabelled rather than not at all). */
static mosquitto_property *content_type_props(const char *topic)
{
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, hb_content_type(topic));
    return props;
}

static void lib_init(void)
{
    mosquitto_lib_init();
}

/* Callbacks of a threaded bus run in libmosquitto's thread: name its log lines after the
 * bus's owner (the gateway in the all-in-one, whose other threads name other components). */
static void name_thread(const struct hb_bus *bus)
{
    if (bus->threaded) {
        hb_log_set_thread_component(bus->opt.component);
    }
}

/* How long a replica's retained "offline" status stays on the broker. */
#define REPLICA_OFFLINE_EXPIRY_S 300

/* The properties of the "offline" status: its content type, and for a replica an expiry. */
static mosquitto_property *offline_props(const struct hb_bus *bus)
{
    mosquitto_property *props = content_type_props(bus->status_topic);
    if (bus->opt.status_expires) {
        mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                                     REPLICA_OFFLINE_EXPIRY_S);
    }
    return props;
}

static hb_err_t bus_err(int rc, const char *what)
{
    HB_LOGW(0, "mqtt %s: %s", what, mosquitto_strerror(rc));
    return HB_ERR_BUS;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    (void)flags;
    (void)props;
    struct hb_bus *bus = obj;
    name_thread(bus);
    if (rc != 0) {
        HB_LOGW(0, "broker refused connection: %s", mosquitto_reason_string(rc));
        return;
    }
    bus->connected = true;
    bus->backoff_ms = BUS_BACKOFF_MIN_MS;
    HB_LOGI(0, "connected to broker %s:%d", bus->host, bus->port);
    if (bus->status_topic[0]) {
        mosquitto_property *status_props = content_type_props(bus->status_topic);
        mosquitto_publish_v5(mosq, NULL, bus->status_topic, 6, "online", 1, true, status_props);
        mosquitto_property_free_all(&status_props);
    }
    size_t feeds = bus->opt.n_feeds < bus->opt.n_subscriptions ? bus->opt.n_feeds
                                                                : bus->opt.n_subscriptions;
    size_t reliable = bus->opt.n_subscriptions - feeds;
    if (feeds > 0) {
        int src = mosquitto_subscribe_multiple(
            mosq, &bus->feeds_subscribe_mid, (int)feeds,
            (char *const *)bus->opt.subscriptions + reliable, 0, 0, NULL);
        if (src != MOSQ_ERR_SUCCESS) {
            bus_err(src, "subscribe");
        }
        bus->last_subscribe_mid = bus->feeds_subscribe_mid; /* unless reliable ones follow */
    }
    if (reliable > 0) {
        int src = mosquitto_subscribe_multiple(mosq, &bus->last_subscribe_mid, (int)reliable,
                                               (char *const *)bus->opt.subscriptions, 1, 0,
                                               NULL);
        if (src != MOSQ_ERR_SUCCESS) {
            bus_err(src, "subscribe");
        }
    }
    if (bus->opt.n_subscriptions == 0 && bus->opt.on_connected) {
        bus->opt.on_connected(bus->opt.ctx);
    }
}

/* The topic filter that entry index of the SUBACK with this mid answers, or NULL for a
 * SUBACK we cannot place (from before a reconnect). Can't fail. */
static const char *subscribed_filter(const struct hb_bus *bus, int mid, int index)
{
    size_t feeds = bus->opt.n_feeds < bus->opt.n_subscriptions ? bus->opt.n_feeds
                                                                : bus->opt.n_subscriptions;
    size_t reliable = bus->opt.n_subscriptions - feeds;
    if (index < 0) {
        return NULL;
    }
    if (feeds > 0 && mid == bus->feeds_subscribe_mid) {
        return (size_t)index < feeds ? bus->opt.subscriptions[reliable + (size_t)index] : NULL;
    }
    if (reliable > 0 && mid == bus->last_subscribe_mid) {
        return (size_t)index < reliable ? bus->opt.subscriptions[index] : NULL;
    }
    return NULL;
}

/* "Connected" for the caller means subscribed: a request sent earlier could lose its
 * reply. */
static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted_qos, const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    struct hb_bus *bus = obj;
    name_thread(bus);
    for (int i = 0; i < qos_count; i++) {
        if (granted_qos[i] >= 0x80) {
            const char *filter = subscribed_filter(bus, mid, i);
            HB_LOGE(0, "broker refused the subscription to %.200s (reason 0x%02x)",
                    filter ? filter : "an unknown topic filter", (unsigned)granted_qos[i]);
        }
    }
    /* The reliable subscriptions go last: their SUBACK means everything is in place. */
    if (mid == bus->last_subscribe_mid && bus->opt.on_connected) {
        bus->opt.on_connected(bus->opt.ctx);
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    struct hb_bus *bus = obj;
    name_thread(bus);
    if (bus->connected && !bus->stopping) {
        HB_LOGW(0, "disconnected from broker (%s)", mosquitto_reason_string(rc));
    }
    bus->connected = false;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    (void)mosq;
    struct hb_bus *bus = obj;
    name_thread(bus);
    char *response_topic = NULL;
    char *content_type = NULL;
    void *correlation = NULL;
    uint16_t correlation_len = 0;
    mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &response_topic, false);
    mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, &content_type, false);
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &correlation,
                                   &correlation_len, false);
    struct hb_message msg = {
        .topic = m->topic,
        .payload = m->payload ? m->payload : "",
        .len = (size_t)m->payloadlen,
        .response_topic = response_topic,
        .correlation = correlation,
        .correlation_len = correlation_len,
        .content_type = content_type,
    };
    if (bus->opt.on_message) {
        bus->opt.on_message(bus->opt.ctx, &msg);
    }
    free(content_type);
    free(response_topic);
    free(correlation);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
                       const mosquitto_property *props)
{
    (void)mosq;
    (void)props;
    struct hb_bus *bus = obj;
    name_thread(bus);
    if (reason >= 0x80) {
        HB_LOGW(0, "broker rejected publish %d: %s", mid, mosquitto_reason_string(reason));
        return; /* not acknowledged: the outbox keeps the row and retries */
    }
    if (bus->opt.on_published) {
        bus->opt.on_published(bus->opt.ctx, mid);
    }
}

/* One blocking connect attempt; failures are retried by the caller's loop. */
static void try_connect(struct hb_bus *bus)
{
    mosquitto_property *props = NULL;
    if (bus->opt.persistent) {
        mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     BUS_SESSION_EXPIRY_S);
    }
    size_t max_payload = bus->opt.max_payload ? bus->opt.max_payload : HB_PAYLOAD_MAX;
    mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
                                 (uint32_t)(max_payload + HB_PACKET_OVERHEAD));
    /* mosquitto_reconnect() would drop the CONNECT properties, and with them the
     * session expiry that keeps our queued messages; so connect afresh each time. */
    int rc = mosquitto_connect_bind_v5(bus->mosq, bus->host, bus->port, BUS_KEEPALIVE_S, NULL,
                                       props);
    mosquitto_property_free_all(&props);
    if (rc != MOSQ_ERR_SUCCESS) {
        HB_LOGW(0, "cannot reach broker %s:%d (%s), retrying in %d ms", bus->host, bus->port,
                mosquitto_strerror(rc), bus->backoff_ms);
        bus->next_attempt_ms = hb_now_ms() + bus->backoff_ms;
        bus->backoff_ms = bus->backoff_ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS
                                                                   : bus->backoff_ms * 2;
    } else {
        bus->next_attempt_ms = 0;
    }
}

hb_err_t hb_bus_create(const struct hb_config *cfg, const struct hb_bus_options *opt,
                       struct hb_bus **out)
{
    pthread_once(&lib_once, lib_init);
    struct hb_bus *bus = calloc(1, sizeof(*bus));
    if (!bus) {
        return HB_ERR_NOMEM;
    }
    bus->opt = *opt;
    bus->port = cfg->mqtt_port;
    bus->backoff_ms = BUS_BACKOFF_MIN_MS;
    snprintf(bus->host, sizeof(bus->host), "%s", cfg->mqtt_host);
    if (opt->component) {
        snprintf(bus->status_topic, sizeof(bus->status_topic), HB_TOPIC_PREFIX "status/%s",
                 opt->component);
    }
    bus->mosq = mosquitto_new(opt->client_id, !opt->persistent, bus);
    if (!bus->mosq) {
        free(bus);
        return HB_ERR_NOMEM;
    }
    mosquitto_int_option(bus->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* Without TCP_NODELAY each QoS 1 hop can wait ~40 ms for a delayed ACK (FIELD-NOTES). */
    mosquitto_int_option(bus->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_reconnect_delay_set(bus->mosq, 1, 5, true);
    int rc = MOSQ_ERR_SUCCESS;
    if (cfg->mqtt_username[0]) {
        rc = mosquitto_username_pw_set(bus->mosq, cfg->mqtt_username,
                                       cfg->mqtt_password[0] ? cfg->mqtt_password : NULL);
    }
    if (rc == MOSQ_ERR_SUCCESS && cfg->mqtt_cafile[0]) {
        rc = mosquitto_tls_set(bus->mosq, cfg->mqtt_cafile, NULL,
                               cfg->mqtt_certfile[0] ? cfg->mqtt_certfile : NULL,
                               cfg->mqtt_keyfile[0] ? cfg->mqtt_keyfile : NULL, NULL);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        hb_bus_destroy(bus);
        return bus_err(rc, "credentials/tls");
    }
    if (bus->status_topic[0]) {
        /* The will takes ownership of its properties on success. */
        mosquitto_property *props = offline_props(bus);
        rc = mosquitto_will_set_v5(bus->mosq, bus->status_topic, 7, "offline", 1, true, props);
        if (rc != MOSQ_ERR_SUCCESS) {
            mosquitto_property_free_all(&props);
            hb_bus_destroy(bus);
            return bus_err(rc, "will");
        }
    }
    mosquitto_connect_v5_callback_set(bus->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(bus->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(bus->mosq, on_message);
    mosquitto_publish_v5_callback_set(bus->mosq, on_publish);
    mosquitto_subscribe_v5_callback_set(bus->mosq, on_subscribe);
    try_connect(bus);
    *out = bus;
    return HB_OK;
}

void hb_bus_destroy(struct hb_bus *bus)
{
    if (!bus) {
        return;
    }
    if (bus->connected && bus->status_topic[0]) {
        mosquitto_property *props = offline_props(bus);
        mosquitto_publish_v5(bus->mosq, NULL, bus->status_topic, 7, "offline", 1, true, props);
        mosquitto_property_free_all(&props);
    }
    if (bus->connected && !bus->threaded) {
        /* Let the offline status and queued acks go out before we say goodbye. */
        for (int i = 0; i < 5 && mosquitto_want_write(bus->mosq); i++) {
            mosquitto_loop(bus->mosq, 20, 1);
        }
    }
    bus->stopping = true;
    mosquitto_disconnect_v5(bus->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
    if (bus->threaded) {
        mosquitto_loop_stop(bus->mosq, false);
    }
    mosquitto_destroy(bus->mosq);
    free(bus);
}

hb_err_t hb_bus_run_once(struct hb_bus *bus, int timeout_ms)
{
    if (bus->next_attempt_ms != 0) {
        int64_t wait = bus->next_attempt_ms - hb_now_ms();
        if (wait > 0) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (wait < timeout_ms ? wait : timeout_ms) *
                                                            1000000L};
            nanosleep(&ts, NULL);
            return HB_OK;
        }
        try_connect(bus);
        return HB_OK;
    }
    int rc = mosquitto_loop(bus->mosq, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        bus->connected = false;
        bus->next_attempt_ms = hb_now_ms() + bus->backoff_ms;
        bus->backoff_ms = bus->backoff_ms * 2 > BUS_BACKOFF_MAX_MS ? BUS_BACKOFF_MAX_MS
                                                                   : bus->backoff_ms * 2;
        return HB_ERR_BUS;
    }
    return HB_OK;
}

hb_err_t hb_bus_start_thread(struct hb_bus *bus)
{
    bus->threaded = true;
    int rc = mosquitto_loop_start(bus->mosq);
    return rc == MOSQ_ERR_SUCCESS ? HB_OK : bus_err(rc, "loop start");
}

bool hb_bus_connected(const struct hb_bus *bus)
{
    return bus->connected;
}

/* Publishes with content_type and the extra properties, which it frees. */
static hb_err_t publish(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        int qos, bool retain, int *mid, const char *content_type,
                        mosquitto_property *extra)
{
    if (len > HB_REPLY_MAX) {
        mosquitto_property_free_all(&extra);
        return HB_ERR_TOO_LARGE;
    }
    mosquitto_property *props = extra;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, content_type);
    int rc = mosquitto_publish_v5(bus->mosq, mid, topic, (int)len, payload, qos, retain, props);
    mosquitto_property_free_all(&props);
    return rc == MOSQ_ERR_SUCCESS ? HB_OK : bus_err(rc, "publish");
}

hb_err_t hb_bus_publish(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        bool retain, int *mid)
{
    return publish(bus, topic, payload, len, 1, retain, mid, hb_content_type(topic), NULL);
}

hb_err_t hb_bus_publish_batch(struct hb_bus *bus, const char *topic, const char *payload,
                              size_t len, int *mid)
{
    return publish(bus, topic, payload, len, 1, false, mid, HB_CONTENT_TYPE_CE_BATCH, NULL);
}

hb_err_t hb_bus_publish_snapshot(struct hb_bus *bus, const char *topic, const char *payload,
                                 size_t len)
{
    return publish(bus, topic, payload, len, 0, true, NULL, hb_content_type(topic), NULL);
}

/* hb_bus_request and hb_bus_request_batch, labelled content_type. */
static hb_err_t request(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        const char *response_topic, const void *correlation,
                        size_t correlation_len, unsigned expiry_s, const char *content_type)
{
    mosquitto_property *props = NULL;
    if (correlation_len > UINT16_MAX) {
        return HB_ERR_INVAL;
    }
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, response_topic);
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, correlation,
                                  (uint16_t)correlation_len);
    if (expiry_s > 0) {
        /* A request nobody took in time must not be acted on later. */
        mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry_s);
    }
    /* QoS 0: a request lives only as long as the gateway waits for it (the expiry says
     * so too); a lost one is a 504, and QoS 1 would cost two more packets per request. */
    return publish(bus, topic, payload, len, 0, false, NULL, content_type, props);
}

hb_err_t hb_bus_request(struct hb_bus *bus, const char *topic, const char *payload, size_t len,
                        const char *response_topic, const void *correlation,
                        size_t correlation_len, unsigned expiry_s)
{
    return request(bus, topic, payload, len, response_topic, correlation, correlation_len,
                   expiry_s, hb_content_type(topic));
}

hb_err_t hb_bus_request_batch(struct hb_bus *bus, const char *topic, const char *payload,
                              size_t len, const char *response_topic, const void *correlation,
                              size_t correlation_len, unsigned expiry_s)
{
    return request(bus, topic, payload, len, response_topic, correlation, correlation_len,
                   expiry_s, HB_CONTENT_TYPE_CE_BATCH);
}

hb_err_t hb_bus_reply(struct hb_bus *bus, const struct hb_message *msg, const char *payload,
                      size_t len)
{
    if (!msg->response_topic) {
        return HB_ERR_INVAL;
    }
    mosquitto_property *props = NULL;
    if (msg->correlation && msg->correlation_len <= UINT16_MAX) {
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, msg->correlation,
                                      (uint16_t)msg->correlation_len);
    }
    /* QoS 0 as requests; JSON whatever topic the requester chose. */
    return publish(bus, msg->response_topic, payload, len, 0, false, NULL, HB_CONTENT_TYPE_JSON,
                   props);
}
