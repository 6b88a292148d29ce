/* Fuzz target: every component's handlers, through hb_component_dispatch, on decoded
 * CloudEvents, with a small in-process bus that carries the events they emit.
 *
 * Input: one or more records separated by a line "---" ("\n---\n"); a record is a topic
 * line, '\n', then the message payload (a CloudEvent, or anything). Each record is
 * decoded as the runtime does and dispatched to every component (those without a route
 * for the topic refuse it at once); the events that come out of the outboxes are
 * dispatched in turn until the bus is quiet, before the next record. So a seed can
 * create a product, place an order and watch the saga run, and the fuzzer can change
 * any message on the way. After the last record every component's tick runs an hour
 * later, and its events go round too.
 *
 * All six stores are ":memory:" databases opened once and emptied before each input, so
 * an input's outcome depends on that input only. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/src/handlers.h"
#include "hausbus/bus.h"
#include "hausbus/component.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "notification/src/handlers.h"
#include "order/src/handlers.h"
#include "payment/src/handlers.h"
#include "product/src/handlers.h"
#include "reply.h"
#include "view/src/handlers.h"

#define RECORDS_MAX 16      /* records of one input that are looked at */
#define DELIVERIES_MAX 96   /* messages dispatched per input, emitted ones included */
#define QUEUE_MAX 32        /* events waiting on the bus */
#define TOPIC_MAX 256
#define RESET_SQL_MAX 1024
#define FUZZ_NOW_MS 1700000000000LL
#define TICK_LATER_MS (3600 * 1000LL)
#define RECORD_SEPARATOR "\n---\n"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_handlers: property failed: %s (line %d)\n", #cond, __LINE__);  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct fuzz_component {
    const struct hb_component *def;
    struct hb_ctx ctx;
    char reset_sql[RESET_SQL_MAX]; /* empties every table, sqlite_sequence included */
};

struct message {
    char topic[TOPIC_MAX];
    char *payload; /* malloc'd, exactly len bytes, no NUL after them */
    size_t len;
};

struct bus {
    struct message queue[QUEUE_MAX];
    size_t head;
    size_t count;
    int deliveries; /* left for this input */
};

/* sqlite allocates a lot; a smaller ASan quarantine keeps freed memory in cache, which
 * doubles the executions per second, and still catches use after a recent free. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=32";
}

static struct hb_config config;
static struct fuzz_component components[] = {
    {.def = &order_component},    {.def = &product_component},
    {.def = &payment_component},  {.def = &delivery_component},
    {.def = &notification_component}, {.def = &view_component},
};
#define COMPONENT_COUNT (sizeof(components) / sizeof(components[0]))

/* Builds "DELETE FROM <t>;" for every table the component's schema made. */
static void build_reset_sql(struct fuzz_component *c)
{
    struct hb_rows rows;
    CHECK(hb_store_select(c->ctx.store,
                          "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                          HB_NO_ARGS, &rows) == HB_OK);
    size_t used = 0;
    bool row = false;
    while (hb_rows_next(&rows, &row) == HB_OK && row) {
        int n = snprintf(c->reset_sql + used, sizeof(c->reset_sql) - used, "DELETE FROM \"%s\";",
                         hb_rows_text(&rows, 0));
        CHECK(n > 0 && (size_t)n < sizeof(c->reset_sql) - used);
        used += (size_t)n;
    }
    hb_rows_close(&rows);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *level = getenv("HAUSBUS_LOG_LEVEL");
    hb_log_init("fuzz", level ? level : "error");
    snprintf(config.mqtt_host, sizeof(config.mqtt_host), "127.0.0.1");
    config.mqtt_port = 1883;
    config.http_port = 8080;
    snprintf(config.data_dir, sizeof(config.data_dir), "./var");
    snprintf(config.log_level, sizeof(config.log_level), "error");
    config.payment_limit = 10000000;
    config.redrive_ms = 5000;
    config.request_timeout_ms = 5000;
    for (size_t i = 0; i < COMPONENT_COUNT; i++) {
        struct fuzz_component *c = &components[i];
        CHECK(hb_store_open(":memory:", c->def->name, c->def->migrations, c->def->n_migrations,
                            &c->ctx.store) ==
              HB_OK);
        c->ctx.cfg = &config;
        if (c->def->setup) {
            CHECK(c->def->setup(&c->ctx) == HB_OK);
        }
        build_reset_sql(c);
    }
    return 0;
}

static void reset_components(void)
{
    for (size_t i = 0; i < COMPONENT_COUNT; i++) {
        CHECK(hb_store_exec(components[i].ctx.store, components[i].reset_sql) == HB_OK);
        components[i].ctx.now_ms = FUZZ_NOW_MS;
    }
}

/* Queues a copy of payload; drops it when the queue is full. */
static void bus_put(struct bus *bus, const char *topic, size_t topic_len, const char *payload,
                    size_t len)
{
    if (bus->count == QUEUE_MAX || topic_len >= TOPIC_MAX) {
        return;
    }
    struct message *m = &bus->queue[(bus->head + bus->count) % QUEUE_MAX];
    m->payload = malloc(len > 0 ? len : 1);
    CHECK(m->payload != NULL);
    if (len > 0) {
        memcpy(m->payload, payload, len);
    }
    m->len = len;
    memcpy(m->topic, topic, topic_len);
    m->topic[topic_len] = '\0';
    bus->count++;
}

static bool event_seen(struct hb_store *store, const char *event_id)
{
    int64_t seen = 0;
    CHECK(hb_store_query_int(store, "SELECT 1 FROM hb_inbox WHERE event_id = ?",
                             HB_ARGS(HB_TEXT(event_id)), 0, &seen) == HB_OK);
    return seen == 1;
}

/* The reply the runtime would send (its send_reply) must get past the
 * gateway's validator, or the client gets a 502. */
static void check_reply(const struct fuzz_component *c, const char *topic,
                        struct hb_reply *reply)
{
    CHECK(memchr(reply->location, '\0', sizeof(reply->location)) != NULL);
    cJSON *root = cJSON_CreateObject();
    CHECK(root != NULL);
    CHECK(cJSON_AddNumberToObject(root, "code", reply->code) != NULL);
    cJSON_AddItemToObject(root, "body", reply->body ? reply->body : cJSON_CreateObject());
    reply->body = NULL;
    if (reply->location[0]) {
        cJSON_AddStringToObject(root, "location", reply->location);
    }
    char *json = cJSON_PrintUnformatted(root);
    CHECK(json != NULL);
    struct gateway_reply decoded;
    const char *why = NULL;
    if (gateway_reply_decode(json, strlen(json), &decoded, &why) != HB_OK) {
        fprintf(stderr, "fuzz_handlers: %s answered %s with a reply the gateway refuses (%s): %s\n",
                c->def->name, topic, why ? why : "?", json);
        abort();
    }
    gateway_reply_clear(&decoded);
    cJSON_free(json);
    cJSON_Delete(root);
}

struct drain {
    const struct fuzz_component *component;
    struct bus *bus;
};

/* Every row a component emits must be a CloudEvent from it on its own event topic. */
static int drain_row(void *arg, const struct hb_outbox_row *row)
{
    struct drain *d = arg;
    const char *name = d->component->def->name;
    size_t len = strlen(row->payload);
    struct hb_event ev;
    const char *reason = NULL;
    if (hb_envelope_decode(row->payload, len, &ev, &reason) != HB_OK) {
        fprintf(stderr, "fuzz_handlers: %s emitted a message that does not decode (%s): %s\n",
                name, reason ? reason : "?", row->payload);
        abort();
    }
    char topic[TOPIC_MAX];
    char source[HB_EVENT_SOURCE_MAX];
    snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "evt/%s/%s", name, ev.type);
    snprintf(source, sizeof(source), "/hausbus/%s", name);
    CHECK(strcmp(row->topic, topic) == 0);
    CHECK(strcmp(ev.source, source) == 0);
    hb_event_clear(&ev);
    bus_put(d->bus, row->topic, strlen(row->topic), row->payload, len);
    return 0;
}

static void drain_outbox(const struct fuzz_component *c, struct bus *bus)
{
    struct drain d = {.component = c, .bus = bus};
    CHECK(hb_store_outbox_each(c->ctx.store, 0, 1000, drain_row, &d) == HB_OK);
    CHECK(hb_store_exec(c->ctx.store, "DELETE FROM hb_outbox") == HB_OK);
}

/* Dispatches one message to every component as the runtime's on_message does. */
static void deliver(const struct message *m, struct bus *bus)
{
    struct hb_event ev;
    if (hb_envelope_decode(m->payload, m->len, &ev, NULL) != HB_OK) {
        return; /* the runtime dead-letters it; nothing reaches a handler */
    }
    /* The gateway's commands wait for an answer; a component's replay request does not. */
    size_t topic_len = strlen(m->topic);
    bool command = strncmp(m->topic, HB_TOPIC_PREFIX "cmd/", strlen(HB_TOPIC_PREFIX "cmd/")) == 0 &&
                   !(topic_len >= strlen("/replay") &&
                     strcmp(m->topic + topic_len - strlen("/replay"), "/replay") == 0);
    for (size_t i = 0; i < COMPONENT_COUNT; i++) {
        struct fuzz_component *c = &components[i];
        struct hb_reply reply = {0};
        bool seen = command && event_seen(c->ctx.store, ev.id);
        hb_err_t rc = hb_component_dispatch(c->def, &c->ctx, m->topic, &ev, &reply);
        if (rc == HB_ERR_DECODE) {
            CHECK(c->ctx.error[0] != '\0');
        } else if (rc != HB_OK) {
            /* The runtime answers 500 and dead-letters: input must never cause that. */
            fprintf(stderr, "fuzz_handlers: %s failed on %s with %s: %.*s\n", c->def->name,
                    m->topic, hb_strerror(rc), (int)(m->len < 2000 ? m->len : 2000), m->payload);
            abort();
        } else if (command && !seen) {
            /* A command the handler ran must be answered, or the gateway waits it out. */
            if (reply.code == 0) {
                fprintf(stderr, "fuzz_handlers: %s sent no reply to %s\n", c->def->name,
                        m->topic);
            }
            CHECK(reply.code != 0);
        }
        if (rc == HB_OK && reply.code != 0) {
            check_reply(c, m->topic, &reply);
        }
        hb_reply_clear(&reply);
        if (rc == HB_OK) { /* a refused message was rolled back, its events with it */
            drain_outbox(c, bus);
        }
    }
    hb_event_clear(&ev);
}

/* Delivers what is queued, and what that emits, until the bus is quiet. */
static void run_bus(struct bus *bus)
{
    while (bus->count > 0) {
        struct message *m = &bus->queue[bus->head];
        bus->head = (bus->head + 1) % QUEUE_MAX;
        bus->count--;
        if (bus->deliveries > 0) {
            bus->deliveries--;
            deliver(m, bus);
        }
        free(m->payload);
        m->payload = NULL;
    }
}

/* The first RECORD_SEPARATOR in [p, end), or end (memmem is a GNU extension). */
static const char *find_separator(const char *p, const char *end)
{
    size_t sep_len = strlen(RECORD_SEPARATOR);
    for (; (size_t)(end - p) >= sep_len; p++) {
        if (memcmp(p, RECORD_SEPARATOR, sep_len) == 0) {
            return p;
        }
    }
    return end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reset_components();
    struct bus bus = {.deliveries = DELIVERIES_MAX};
    const char *p = (const char *)data;
    const char *end = p + size;
    for (int records = 0; p < end && records < RECORDS_MAX; records++) {
        const char *record_end = find_separator(p, end);
        const char *newline = memchr(p, '\n', (size_t)(record_end - p));
        const char *payload = newline ? newline + 1 : record_end;
        size_t topic_len = (size_t)((newline ? newline : record_end) - p);
        if (!memchr(p, '\0', topic_len)) { /* a topic is a C string */
            bus_put(&bus, p, topic_len, payload, (size_t)(record_end - payload));
            run_bus(&bus);
        }
        p = record_end == end ? end : record_end + strlen(RECORD_SEPARATOR);
    }
    /* Re-drives and retries come from the tick, an hour on. */
    for (size_t i = 0; i < COMPONENT_COUNT; i++) {
        struct fuzz_component *c = &components[i];
        c->ctx.now_ms = FUZZ_NOW_MS + TICK_LATER_MS;
        if (c->def->tick) {
            CHECK(hb_store_begin(c->ctx.store) == HB_OK);
            hb_err_t rc = c->def->tick(&c->ctx);
            if (rc == HB_OK) {
                CHECK(hb_store_commit(c->ctx.store) == HB_OK);
            } else {
                fprintf(stderr, "fuzz_handlers: %s tick failed with %s\n", c->def->name,
                        hb_strerror(rc));
                abort();
            }
        }
        drain_outbox(c, &bus);
    }
    run_bus(&bus);
    return 0;
}
