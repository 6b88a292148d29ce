/* bench_saga_cpu: the CPU our own code spends per order, without broker, disk or load
 * generator noise. Runs N orders up to DeliveryCreated through the handlers of order,
 * product, payment, delivery and view on in-memory stores: every event each component
 * emits is decoded and dispatched (dedupe, transaction, handler) by every component
 * that routes it, as the runtime does with a message. Prints each component's CPU time
 * (its thread's clock around decode + dispatch) and messages per order.
 *
 *   build/bin/bench_saga_cpu [orders, default 2000]
 *
 * Compare two commits with it, or count instructions with
 * `valgrind --tool=callgrind build/bin/bench_saga_cpu 300` (docs/PERFORMANCE.md). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hausbus/bus.h"
#include "hausbus/component.h"
#include "hausbus/config.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/store.h"

extern const struct hb_component order_component;
extern const struct hb_component product_component;
extern const struct hb_component payment_component;
extern const struct hb_component delivery_component;
extern const struct hb_component view_component;

#define QUEUE_MAX 64 /* events one order's saga emits: 7 up to DeliveryCreated */
#define START_MS 1700000000000LL

struct bench_component {
    const struct hb_component *def;
    struct hb_ctx ctx;
    double cpu_ns;
    long messages;
};

struct queued {
    char topic[160];
    char *payload; /* malloc'd */
};

struct queue {
    struct queued items[QUEUE_MAX];
    int n;
};

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void queue_clear(struct queue *q)
{
    for (int i = 0; i < q->n; i++) {
        free(q->items[i].payload);
    }
    q->n = 0;
}

static int queue_row(void *arg, const struct hb_outbox_row *row)
{
    struct queue *q = arg;
    if (q->n >= QUEUE_MAX) {
        fprintf(stderr, "more than %d events for one order\n", QUEUE_MAX);
        exit(1);
    }
    struct queued *item = &q->items[q->n];
    int len = snprintf(item->topic, sizeof(item->topic), "%s", row->topic);
    item->payload = strdup(row->payload);
    if (len < 0 || (size_t)len >= sizeof(item->topic) || !item->payload) {
        fprintf(stderr, "cannot queue %s\n", row->topic);
        exit(1);
    }
    q->n++;
    return 0;
}

/* Moves c's outbox to the end of q (untimed: the relay's work, not the handler's). */
static void relay(struct bench_component *c, struct queue *q)
{
    if (hb_store_outbox_each(c->ctx.store, 0, QUEUE_MAX, queue_row, q) != HB_OK ||
        hb_store_begin(c->ctx.store) != HB_OK) {
        exit(1);
    }
    /* The whole outbox was taken: empty it in one statement. */
    if (hb_store_exec(c->ctx.store, "DELETE FROM hb_outbox") != HB_OK ||
        hb_store_commit(c->ctx.store) != HB_OK) {
        exit(1);
    }
}

/* Decodes payload and dispatches it to c on topic, counting c's CPU time. */
static void deliver(struct bench_component *c, const char *topic, const char *payload)
{
    struct hb_reply reply;
    struct hb_event ev;
    const char *why = NULL;
    memset(&reply, 0, sizeof(reply));
    double started = thread_cpu_ns();
    if (hb_envelope_decode(payload, strlen(payload), &ev, &why) != HB_OK) {
        fprintf(stderr, "%s: not a CloudEvent: %s\n", topic, why ? why : "?");
        exit(1);
    }
    hb_err_t rc = hb_component_dispatch(c->def, &c->ctx, topic, &ev, &reply);
    hb_event_clear(&ev);
    c->cpu_ns += thread_cpu_ns() - started;
    c->messages++;
    hb_reply_clear(&reply);
    if (rc != HB_OK) {
        fprintf(stderr, "%s on %s: %s %s\n", c->def->name, topic, hb_strerror(rc), c->ctx.error);
        exit(1);
    }
}

/* True when one of c's routes takes topic (exactly, or by a trailing "+"). */
static bool routes(const struct bench_component *c, const char *topic)
{
    for (size_t i = 0; i < c->def->n_routes; i++) {
        const char *route = c->def->routes[i].topic;
        size_t len = strlen(route);
        if (len > 0 && route[len - 1] == '+' ? strncmp(route, topic, len - 1) == 0 &&
                                                   !strchr(topic + len - 1, '/')
                                             : strcmp(route, topic) == 0) {
            return true;
        }
    }
    return false;
}

/* A gateway command event "<component>.<name>" with data (JSON text), encoded. */
static char *command(const char *component, const char *name, const char *data)
{
    char type[64];
    struct hb_event ev;
    snprintf(type, sizeof(type), "%s.%s", component, name);
    cJSON *json = cJSON_Parse(data);
    if (!json || hb_event_init(&ev, "gateway", type, 0, json) != HB_OK) {
        exit(1);
    }
    char *text = hb_envelope_encode(&ev);
    hb_event_clear(&ev);
    if (!text) {
        exit(1);
    }
    return text;
}

int main(int argc, char **argv)
{
    long orders = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    if (orders < 1 || orders > 10000000) {
        fprintf(stderr, "usage: %s [orders, 1..10000000]\n", argv[0]);
        return 2;
    }
    hb_log_init("bench", "error");
    struct hb_config cfg = {.payment_limit = 10000000, .redrive_ms = 5000};
    struct bench_component comps[] = {
        {.def = &order_component},    {.def = &product_component}, {.def = &payment_component},
        {.def = &delivery_component}, {.def = &view_component},
    };
    const size_t n_comps = sizeof(comps) / sizeof(comps[0]);
    for (size_t i = 0; i < n_comps; i++) {
        comps[i].ctx.cfg = &cfg;
        comps[i].ctx.now_ms = START_MS;
        if (hb_store_open(":memory:", comps[i].def->name, comps[i].def->migrations,
                          comps[i].def->n_migrations,
                          &comps[i].ctx.store) != HB_OK ||
            (comps[i].def->setup && comps[i].def->setup(&comps[i].ctx) != HB_OK)) {
            return 1;
        }
    }
    static struct queue q;
    char *create = command("product", "create",
                           "{\"productName\":\"Sofa\",\"stock\":1000000000,\"price\":1}");
    deliver(&comps[1], HB_CMD_TOPIC("product", "create"), create);
    free(create);
    relay(&comps[1], &q);
    queue_clear(&q);
    for (size_t i = 0; i < n_comps; i++) {
        comps[i].cpu_ns = 0;
        comps[i].messages = 0;
    }
    for (long o = 0; o < orders; o++) {
        char *place = command("order", "place", "{\"productId\":1,\"qty\":1,\"userId\":7}");
        deliver(&comps[0], HB_CMD_TOPIC("order", "place"), place);
        free(place);
        relay(&comps[0], &q);
        /* Breadth first: each event to every component that routes it, in order. */
        for (int e = 0; e < q.n; e++) {
            for (size_t i = 0; i < n_comps; i++) {
                if (routes(&comps[i], q.items[e].topic)) {
                    deliver(&comps[i], q.items[e].topic, q.items[e].payload);
                    relay(&comps[i], &q);
                }
            }
        }
        queue_clear(&q);
        for (size_t i = 0; i < n_comps; i++) {
            comps[i].ctx.now_ms++;
        }
    }
    double total_ns = 0;
    for (size_t i = 0; i < n_comps; i++) {
        printf("%s %.1f us/order (%.0f messages) ", comps[i].def->name,
               comps[i].cpu_ns / (double)orders / 1000.0,
               (double)comps[i].messages / (double)orders);
        total_ns += comps[i].cpu_ns;
        hb_store_close(comps[i].ctx.store);
    }
    printf("total %.1f us/order\n", total_ns / (double)orders / 1000.0);
    return 0;
}
