/* Unit tests of the component runtime's batches, outbox relay and acknowledgements
 * (lib/src/runtime.c) over a scripted bus: a real sqlite store, no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "component_int.h"
#include "hausbus/bus.h"
#include "hausbus/component.h"
#include "hausbus/log.h"
#include "hausbus/store.h"

#define BACKLOG_ROWS 600   /* outbox rows waiting at start: more than the 256-row window */
#define WINDOW 256         /* OUTBOX_INFLIGHT_MAX in runtime.c */
#define FULL_DISK_LOOPS 40 /* loop iterations the disk stays full */
#define BATCH 4            /* HAUSBUS_COMMIT_BATCH */
#define BURST 10           /* commands delivered back to back once the disk has room */
#define MAX_LOOPS 20000    /* the script gives up (and the checks fail) after this many */
#define MAX_MIDS 4096

/* The scripted bus and what the runtime did with it. */
struct hb_bus {
    struct hb_bus_options opt;
    bool connected;
    int next_mid;
    int unacked[MAX_MIDS]; /* mids published and not yet acknowledged */
    size_t n_unacked;
    int loops;
    bool disk_full;
    bool burst_sent;
    /* Observations, checked by the tests below. */
    int event_publishes;            /* PUBLISHes of evt/ rows */
    int event_publishes_while_full; /* the same, while deletes could not commit */
    int codes_while_full[8];        /* reply codes while the disk was full */
    int n_codes_while_full;
    int burst_replies_after[BURST + 1]; /* replies sent after the k-th burst message */
    int burst_replies_in_open_batch;    /* when the runtime polls with the last batch open */
    int burst_replies_at_next_poll;     /* after that poll found nothing new */
    int burst_codes[BURST];
    int replies;
    bool outbox_emptied;
    /* Batches, both ways. */
    int batch_publishes;       /* PUBLISHes of packed evt/ rows */
    int largest_batch;         /* events in the largest one */
    int last_event_n;          /* "n" of the last backlog event published, -1 before */
    bool events_in_order;      /* every backlog event went out after the one before it */
    int dead_letter_publishes; /* PUBLISHes on dlq/, always alone */
    bool batch_sent;           /* the batched request went in */
    cJSON *batch_reply;        /* its one reply, an array */
    /* A batch whose second item makes sqlite end the transaction (as a full disk does). */
    bool mixed_sent;
    cJSON *mixed_reply;
    int mixed_events; /* WidgetMixed events published: none may be */
    /* A batch whose middle item writes, then is refused: the batch runs again item by item. */
    bool fickle_sent;
    cJSON *fickle_reply;
    int fickle_events;       /* WidgetMixed events published after it went in */
    int fickle_dead_letters; /* dlq/ PUBLISHes after it went in */
    /* Replays start from the owner's clock at its newest committed event. */
    bool gadgets_sent;
    bool reconnected;
    int64_t replay_since; /* data.since of the last cmd/gadget/replay, -1 before */
};

static struct hb_bus bus; /* the one bus of the one run in this process */
static struct hb_store *store; /* the component's store, kept by setup */

/* "make": writes nothing but an event, answers 201. */
static hb_err_t widget_make(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    (void)ev;
    HB_RETURN_ON_ERR(hb_store_emit(ctx->store, "WidgetMade", 0, NULL));
    reply->code = 201;
    return HB_OK;
}

/* "mixed": emits WidgetMixed and answers 201; with data.crash ends the whole
 * transaction (what sqlite does itself on SQLITE_FULL or an I/O error) and fails; with
 * data.refuse emits WidgetMixed and then refuses the message, so that write must go. */
static hb_err_t widget_mixed(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "crash"))) {
        hb_store_exec(ctx->store, "ROLLBACK");
        return HB_ERR_DB;
    }
    HB_RETURN_ON_ERR(hb_store_emit(ctx->store, "WidgetMixed", 0, NULL));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev->data, "refuse"))) {
        return hb_ctx_reject(ctx, "refused after writing");
    }
    reply->code = 201;
    return HB_OK;
}

/* Events of another component, owner "gadget": nothing to do but take them. */
static hb_err_t gadget_seen(struct hb_ctx *ctx, const struct hb_event *ev, struct hb_reply *reply)
{
    (void)ctx;
    (void)ev;
    (void)reply;
    return HB_OK;
}

/* Fills the outbox with BACKLOG_ROWS events, and makes every outbox delete fail while
 * temp.disk.full is 1: what a full disk does to the commits that delete acknowledged rows. */
static hb_err_t widget_setup(struct hb_ctx *ctx)
{
    store = ctx->store;
    HB_RETURN_ON_ERR(hb_store_begin(store));
    for (int i = 0; i < BACKLOG_ROWS; i++) {
        char payload[32];
        snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        HB_RETURN_ON_ERR(hb_store_outbox_put(store, HB_EVT_TOPIC("widget", "WidgetMade"), payload));
    }
    HB_RETURN_ON_ERR(hb_store_commit(store));
    return hb_store_exec(store,
                         "CREATE TEMP TABLE disk(full INTEGER NOT NULL);"
                         "INSERT INTO disk VALUES(1);"
                         "CREATE TEMP TRIGGER disk_full BEFORE DELETE ON main.hb_outbox"
                         " WHEN (SELECT full FROM temp.disk) BEGIN"
                         "  SELECT RAISE(ABORT, 'database or disk is full'); END;");
}

static const struct hb_route widget_routes[] = {
    {.topic = HB_CMD_TOPIC("widget", "make"), .handler = widget_make},
    {.topic = HB_CMD_TOPIC("widget", "mixed"), .handler = widget_mixed},
    {.topic = HB_TOPIC_PREFIX "evt/gadget/+", .handler = gadget_seen},
};

static const struct hb_component widget_component = {
    .name = "widget",
    .routes = widget_routes,
    .n_routes = sizeof(widget_routes) / sizeof(widget_routes[0]),
    .setup = widget_setup,
};

static hb_err_t fake_create(const struct hb_config *cfg, const struct hb_bus_options *opt,
                            struct hb_bus **out)
{
    (void)cfg;
    memset(&bus, 0, sizeof(bus));
    bus.opt = *opt;
    bus.disk_full = true;
    bus.last_event_n = -1;
    bus.replay_since = -1;
    bus.events_in_order = true;
    *out = &bus;
    return HB_OK;
}

static void fake_destroy(struct hb_bus *b)
{
    (void)b;
}

static bool fake_connected(const struct hb_bus *b)
{
    return b->connected;
}

/* Counts one published event; the backlog's carry "n", which must only grow. */
static void saw_event(struct hb_bus *b, const cJSON *event)
{
    b->event_publishes++;
    b->event_publishes_while_full += b->disk_full;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(event, "n");
    if (cJSON_IsNumber(n)) {
        b->events_in_order = b->events_in_order && n->valueint == b->last_event_n + 1;
        b->last_event_n = n->valueint;
    }
}

static hb_err_t fake_publish(struct hb_bus *b, const char *topic, const char *payload, size_t len,
                             bool retain, int *mid)
{
    (void)retain;
    assert_true(b->n_unacked < MAX_MIDS);
    *mid = ++b->next_mid;
    b->unacked[b->n_unacked++] = *mid;
    cJSON *event = cJSON_ParseWithLength(payload, len);
    assert_true(cJSON_IsObject(event)); /* alone: the event itself, never a batch of one */
    if (strncmp(topic, HB_TOPIC_PREFIX "evt/", strlen(HB_TOPIC_PREFIX "evt/")) == 0) {
        saw_event(b, event);
    } else if (strncmp(topic, HB_TOPIC_PREFIX "dlq/", strlen(HB_TOPIC_PREFIX "dlq/")) == 0) {
        *(b->fickle_sent ? &b->fickle_dead_letters : &b->dead_letter_publishes) += 1;
    } else if (strcmp(topic, HB_CMD_TOPIC("gadget", "replay")) == 0) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(event, "data");
        b->replay_since = (int64_t)cJSON_GetObjectItemCaseSensitive(data, "since")->valuedouble;
    }
    if (strcmp(topic, HB_EVT_TOPIC("widget", "WidgetMixed")) == 0) {
        *(b->fickle_sent ? &b->fickle_events : &b->mixed_events) += 1;
    }
    cJSON_Delete(event);
    return HB_OK;
}

static hb_err_t fake_publish_batch(struct hb_bus *b, const char *topic, const char *payload,
                                   size_t len, int *mid)
{
    assert_true(b->n_unacked < MAX_MIDS);
    assert_true(len <= HB_PAYLOAD_MAX);
    bool mixed = strcmp(topic, HB_EVT_TOPIC("widget", "WidgetMixed")) == 0;
    if (!mixed) {
        assert_string_equal(topic, HB_EVT_TOPIC("widget", "WidgetMade"));
    }
    *mid = ++b->next_mid;
    b->unacked[b->n_unacked++] = *mid;
    cJSON *events = cJSON_ParseWithLength(payload, len);
    assert_true(cJSON_IsArray(events));
    int n = cJSON_GetArraySize(events);
    assert_true(n >= 2 && n <= HB_BUS_BATCH_MAX);
    b->batch_publishes++;
    b->largest_batch = n > b->largest_batch ? n : b->largest_batch;
    for (const cJSON *event = events->child; event; event = event->next) {
        saw_event(b, event);
    }
    if (mixed) {
        *(b->fickle_sent ? &b->fickle_events : &b->mixed_events) += n;
    }
    cJSON_Delete(events);
    return HB_OK;
}

static hb_err_t fake_publish_snapshot(struct hb_bus *b, const char *topic, const char *payload,
                                      size_t len)
{
    (void)b;
    (void)topic;
    (void)payload;
    (void)len;
    return HB_OK;
}

static hb_err_t fake_reply(struct hb_bus *b, const struct hb_message *msg, const char *payload,
                           size_t len)
{
    (void)msg;
    (void)len;
    cJSON *reply = cJSON_Parse(payload);
    assert_non_null(reply);
    if (cJSON_IsArray(reply)) {
        assert_int_equal(msg->correlation_len, 5);
        cJSON **slot = memcmp(msg->correlation, "batch", 5) == 0   ? &b->batch_reply
                       : memcmp(msg->correlation, "fickl", 5) == 0 ? &b->fickle_reply
                                                                   : &b->mixed_reply;
        assert_null(*slot);
        *slot = reply;
        return HB_OK;
    }
    int code = cJSON_GetObjectItemCaseSensitive(reply, "code")->valueint;
    cJSON_Delete(reply);
    if (b->disk_full && b->n_codes_while_full < 8) {
        b->codes_while_full[b->n_codes_while_full++] = code;
    } else if (b->burst_sent && b->replies - b->n_codes_while_full < BURST) {
        b->burst_codes[b->replies - b->n_codes_while_full] = code;
    }
    b->replies++;
    return HB_OK;
}

/* Delivers a "make" command with a reply topic, as the gateway sends it. */
static void deliver_make(struct hb_bus *b)
{
    struct hb_event ev;
    assert_int_equal(hb_event_init(&ev, "gateway", "widget.make", 0, NULL), HB_OK);
    char *payload = hb_envelope_encode(&ev);
    assert_non_null(payload);
    struct hb_message msg = {
        .topic = HB_CMD_TOPIC("widget", "make"),
        .payload = payload,
        .len = strlen(payload),
        .response_topic = HB_TOPIC_PREFIX "reply/test",
        .correlation = "c",
        .correlation_len = 1,
    };
    b->opt.on_message(b->opt.ctx, &msg);
    free(payload);
    hb_event_clear(&ev);
}

/* Delivers a batched request of three "make" commands, the middle one not a CloudEvent,
 * as a coalescing gateway sends it. */
static void deliver_batch(struct hb_bus *b)
{
    struct hb_event first, last;
    assert_int_equal(hb_event_init(&first, "gateway", "widget.make", 0, NULL), HB_OK);
    assert_int_equal(hb_event_init(&last, "gateway", "widget.make", 0, NULL), HB_OK);
    snprintf(first.id, sizeof(first.id), "first");
    snprintf(last.id, sizeof(last.id), "last");
    char *a = hb_envelope_encode(&first);
    char *c = hb_envelope_encode(&last);
    assert_non_null(a);
    assert_non_null(c);
    char payload[2048];
    int len = snprintf(payload, sizeof(payload), "[%s,{\"id\":\"middle\"},%s]", a, c);
    assert_true(len > 0 && (size_t)len < sizeof(payload));
    struct hb_message msg = {
        .topic = HB_CMD_TOPIC("widget", "make"),
        .payload = payload,
        .len = (size_t)len,
        .response_topic = HB_TOPIC_PREFIX "reply/test",
        .correlation = "batch",
        .correlation_len = 5,
        .content_type = HB_CONTENT_TYPE_CE_BATCH,
    };
    b->opt.on_message(b->opt.ctx, &msg);
    free(a);
    free(c);
    hb_event_clear(&first);
    hb_event_clear(&last);
}

/* Delivers a batch of three CloudEvents (ids "<tag>-0".."<tag>-2") on topic, the i-th
 * with data items[i] (JSON text) and time times[i] (NULL: now). */
static void deliver_events(struct hb_bus *b, const char *topic, const char *type,
                           const char *tag, const char *const items[3],
                           const char *const times[3], const char *correlation)
{
    cJSON *array = cJSON_CreateArray();
    for (int i = 0; i < 3; i++) {
        struct hb_event ev;
        assert_int_equal(hb_event_init(&ev, "gateway", type, 0, cJSON_Parse(items[i])), HB_OK);
        snprintf(ev.id, sizeof(ev.id), "%s-%d", tag, i);
        if (times[i]) {
            snprintf(ev.time, sizeof(ev.time), "%s", times[i]);
        }
        char *text = hb_envelope_encode(&ev);
        cJSON_AddItemToArray(array, cJSON_Parse(text));
        free(text);
        hb_event_clear(&ev);
    }
    char *payload = cJSON_PrintUnformatted(array);
    struct hb_message msg = {
        .topic = topic,
        .payload = payload,
        .len = strlen(payload),
        .response_topic = correlation ? HB_TOPIC_PREFIX "reply/test" : NULL,
        .correlation = correlation,
        .correlation_len = correlation ? strlen(correlation) : 0,
        .content_type = HB_CONTENT_TYPE_CE_BATCH,
    };
    b->opt.on_message(b->opt.ctx, &msg);
    cJSON_free(payload);
    cJSON_Delete(array);
}

#define GADGET_NEWEST "2026-01-01T00:02:00.500Z"
#define GADGET_NEWEST_MS 1767225720500LL

static void ack_all(struct hb_bus *b)
{
    while (b->n_unacked > 0) {
        b->opt.on_published(b->opt.ctx, b->unacked[--b->n_unacked]);
    }
}

/* The script, one step per loop iteration: connect; acknowledge everything while the disk
 * is full and one command's batch fails; free the disk; deliver a burst of commands back
 * to back; acknowledge until the outbox is empty; stop. A timeout of 0 means a batch is
 * open: the store is then the runtime's, and only messages may arrive. */
static hb_err_t fake_run_once(struct hb_bus *b, int timeout_ms)
{
    b->loops++;
    if (!b->connected) {
        b->connected = true;
        b->opt.on_connected(b->opt.ctx);
        return HB_OK;
    }
    if (timeout_ms == 0) {
        if (b->burst_sent && b->burst_replies_in_open_batch < 0) {
            b->burst_replies_in_open_batch = b->replies - b->n_codes_while_full;
        }
        return HB_OK;
    }
    if (b->burst_sent && b->burst_replies_at_next_poll < 0) {
        b->burst_replies_at_next_poll = b->replies - b->n_codes_while_full;
    }
    ack_all(b);
    if (b->disk_full && b->loops == FULL_DISK_LOOPS / 2) {
        deliver_make(b); /* its batch must commit the acknowledged rows' deletes, and fails */
    } else if (b->disk_full && b->loops >= FULL_DISK_LOOPS) {
        assert_int_equal(hb_store_exec(store, "UPDATE temp.disk SET full = 0"), HB_OK);
        b->disk_full = false;
    } else if (!b->disk_full && !b->burst_sent) {
        b->burst_sent = true;
        b->burst_replies_in_open_batch = -1;
        b->burst_replies_at_next_poll = -1;
        for (int k = 1; k <= BURST; k++) {
            deliver_make(b);
            b->burst_replies_after[k] = b->replies - b->n_codes_while_full;
        }
    } else if (b->burst_sent && !b->batch_sent) {
        b->batch_sent = true;
        deliver_batch(b);
    } else if (b->batch_sent && !b->mixed_sent) {
        b->mixed_sent = true;
        static const char *const items[3] = {"{}", "{\"crash\":true}", "{}"};
        static const char *const now[3] = {NULL, NULL, NULL};
        deliver_events(b, HB_CMD_TOPIC("widget", "mixed"), "widget.mixed", "mixed", items, now,
                       "mixed");
    } else if (b->mixed_sent && !b->fickle_sent) {
        b->fickle_sent = true;
        static const char *const items[3] = {"{}", "{\"refuse\":true}", "{}"};
        static const char *const now[3] = {NULL, NULL, NULL};
        deliver_events(b, HB_CMD_TOPIC("widget", "mixed"), "widget.mixed", "fickle", items, now,
                       "fickl");
    } else if (b->fickle_sent && !b->gadgets_sent) {
        b->gadgets_sent = true;
        static const char *const items[3] = {"{}", "{}", "{}"};
        /* Out of order on purpose: the mark is the newest, not the last. */
        static const char *const times[3] = {"2026-01-01T00:01:00.000Z", GADGET_NEWEST,
                                             "2026-01-01T00:01:30.000Z"};
        deliver_events(b, HB_EVT_TOPIC("gadget", "GadgetMade"), "GadgetMade", "gadget", items,
                       times, NULL);
    } else if (b->gadgets_sent && !b->reconnected) {
        b->reconnected = true;
        b->connected = false; /* the next poll connects again: replays are asked for */
    } else if (b->reconnected && b->n_unacked == 0 && hb_store_outbox_count(store) == 0) {
        b->outbox_emptied = true;
        hb_component_stop();
    } else if (b->batch_sent && b->n_unacked == 0) {
        /* Idle from here on, as a real poll: the tick's transaction deletes the rows the
         * broker acknowledged after the last batch. */
        struct timespec idle = {.tv_sec = 0, .tv_nsec = timeout_ms * 1000000L};
        nanosleep(&idle, NULL);
    }
    if (b->loops >= MAX_LOOPS) {
        hb_component_stop();
    }
    return HB_OK;
}

static const struct hb_bus_ops fake_bus = {
    .create = fake_create,
    .destroy = fake_destroy,
    .run_once = fake_run_once,
    .connected = fake_connected,
    .publish = fake_publish,
    .publish_batch = fake_publish_batch,
    .publish_snapshot = fake_publish_snapshot,
    .reply = fake_reply,
};

static char data_dir[] = "/tmp/hausbus-test-runtime-XXXXXX";

/* Runs the component once over the script; the tests check what it observed. */
static int run_script(void **state)
{
    (void)state;
    if (!mkdtemp(data_dir)) {
        return -1;
    }
    setenv("HAUSBUS_DATA_DIR", data_dir, 1);
    setenv("HAUSBUS_COMMIT_BATCH", "4", 1);
    setenv("HAUSBUS_BUS_BATCH", "64", 1); /* whatever the suite runs with */
    hb_log_init("widget", "error");
    return hb_component_run_on(&widget_component, &fake_bus) == 0 ? 0 : -1;
}

static int remove_data_dir(void **state)
{
    (void)state;
    char cmd[128];
    cJSON_Delete(bus.batch_reply);
    cJSON_Delete(bus.mixed_reply);
    cJSON_Delete(bus.fickle_reply);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* While acknowledged rows cannot be deleted, they and the unacknowledged ones share the
 * 256-row window: publishing stops instead of the acknowledgements overflowing. */
static void acks_that_cannot_commit_stop_publishing_at_the_window(void **state)
{
    (void)state;
    assert_int_equal(bus.event_publishes_while_full, WINDOW);
}

/* A batch commits the deletes of acknowledged rows with its own changes; when that fails
 * the whole batch is rolled back and its requester hears 500, not a promise. */
static void a_batch_that_cannot_commit_answers_500(void **state)
{
    (void)state;
    assert_int_equal(bus.n_codes_while_full, 1);
    assert_int_equal(bus.codes_while_full[0], 500);
}

/* Once commits work again, every row is relayed and, acknowledged, deleted: the backlog,
 * and the burst's events (the failed batch's event was rolled back with it). */
static void every_acknowledged_row_is_deleted_once_commits_work(void **state)
{
    (void)state;
    assert_true(bus.outbox_emptied);
    assert_true(bus.loops < MAX_LOOPS);
    assert_true(bus.event_publishes >= BACKLOG_ROWS + BURST + 2);
}

/* The relay packs the waiting events of one topic into batches of at most 64, in order;
 * the backlog of 600 needs 10 messages instead of 600. */
static void waiting_events_go_out_in_batches_in_order(void **state)
{
    (void)state;
    assert_int_equal(bus.largest_batch, HB_BUS_BATCH_MAX);
    assert_true(bus.batch_publishes >= BACKLOG_ROWS / HB_BUS_BATCH_MAX);
    assert_true(bus.events_in_order);
    assert_int_equal(bus.last_event_n, BACKLOG_ROWS - 1);
}

/* A batched request is applied item by item: the bad item is dead-lettered alone (one
 * message on dlq/, never packed), the others applied, and one reply array answers every
 * item in order with its id. */
static void a_batched_request_gets_one_reply_per_item(void **state)
{
    (void)state;
    assert_true(cJSON_IsArray(bus.batch_reply));
    assert_int_equal(cJSON_GetArraySize(bus.batch_reply), 3);
    static const char *const ids[] = {"first", "middle", "last"};
    static const int codes[] = {201, 400, 201};
    for (int i = 0; i < 3; i++) {
        const cJSON *item = cJSON_GetArrayItem(bus.batch_reply, i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring, ids[i]);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(item, "code")->valueint, codes[i]);
    }
    assert_int_equal(bus.dead_letter_publishes, 1);
}

/* With HAUSBUS_COMMIT_BATCH=4, commands arriving back to back share transactions of 4,
 * and each reply waits for its batch's commit; the rest commits when the burst ends. */
static void a_batch_holds_its_replies_until_it_commits(void **state)
{
    (void)state;
    static const int expected[BURST + 1] = {0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8};
    for (int k = 1; k <= BURST; k++) {
        assert_int_equal(bus.burst_replies_after[k], expected[k]);
    }
    assert_int_equal(bus.burst_replies_in_open_batch, 8);
    assert_int_equal(bus.burst_replies_at_next_poll, BURST);
    for (int k = 0; k < BURST; k++) {
        assert_int_equal(bus.burst_codes[k], 201);
    }
}

/* When sqlite ends the transaction itself (a full disk, an I/O error), the rest of the
 * batch is not applied outside it (where each item would commit on its own) and every
 * item hears 500: the first item's event was rolled back, the third never ran. */
static void a_transaction_lost_mid_batch_applies_nothing_and_answers_500(void **state)
{
    (void)state;
    assert_true(cJSON_IsArray(bus.mixed_reply));
    assert_int_equal(cJSON_GetArraySize(bus.mixed_reply), 3);
    for (int i = 0; i < 3; i++) {
        const cJSON *item = cJSON_GetArrayItem(bus.mixed_reply, i);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(item, "code")->valueint, 500);
    }
    assert_int_equal(bus.mixed_events, 0);
}

/* The items of a batch run together under one savepoint; when one fails after writing,
 * the lot rolls back and runs again item by item: the refused item's write is gone, the
 * others are applied once, and the replies and the dead letter are as if it had run item
 * by item from the start. */
static void an_item_refused_after_writing_leaves_nothing_and_the_rest_apply_once(void **state)
{
    (void)state;
    assert_true(cJSON_IsArray(bus.fickle_reply));
    assert_int_equal(cJSON_GetArraySize(bus.fickle_reply), 3);
    static const int codes[] = {201, 400, 201};
    for (int i = 0; i < 3; i++) {
        const cJSON *item = cJSON_GetArrayItem(bus.fickle_reply, i);
        char id[16];
        snprintf(id, sizeof(id), "fickle-%d", i);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring, id);
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(item, "code")->valueint, codes[i]);
    }
    assert_int_equal(bus.fickle_events, 2);
    assert_int_equal(bus.fickle_dead_letters, 1);
}

/* After a reconnect the replay request starts 30 s before the owner's own time at the
 * newest of its events we committed, not at our clock: a crash while we drained an old
 * backlog loses events from the owner's past. */
static void replays_start_from_the_owners_newest_committed_event(void **state)
{
    (void)state;
    assert_true(bus.reconnected);
    assert_int_equal(bus.replay_since, GADGET_NEWEST_MS - 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acks_that_cannot_commit_stop_publishing_at_the_window),
        cmocka_unit_test(a_batch_that_cannot_commit_answers_500),
        cmocka_unit_test(every_acknowledged_row_is_deleted_once_commits_work),
        cmocka_unit_test(a_batch_holds_its_replies_until_it_commits),
        cmocka_unit_test(waiting_events_go_out_in_batches_in_order),
        cmocka_unit_test(a_batched_request_gets_one_reply_per_item),
        cmocka_unit_test(a_transaction_lost_mid_batch_applies_nothing_and_answers_500),
        cmocka_unit_test(an_item_refused_after_writing_leaves_nothing_and_the_rest_apply_once),
        cmocka_unit_test(replays_start_from_the_owners_newest_committed_event),
    };
    return cmocka_run_group_tests(tests, run_script, remove_data_dir);
}
