/* The component runtime: message loop, batches, outbox, replies, dead letters. */
#include "component_int.h"
#include "reply_batch.h"

#include <assert.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hausbus/bus.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/metrics.h"
#include "hausbus/probe.h"
#include "hausbus/sdnotify.h"

/* Outbox rows handed to the client and not yet deleted: published and unacknowledged
 * (inflight), or acknowledged and waiting for a commit that deletes them (acked). The two
 * share this bound, so while commits fail (a full disk) publishing stops instead of the
 * acknowledgements piling up; the rest waits in the table. */
#define OUTBOX_INFLIGHT_MAX 256
#define DEAD_LETTER_PAYLOAD_MAX 4096
#define TICK_INTERVAL_MS 1000
/* No message for this long: the store's upkeep runs (hb_store_idle). */
#define IDLE_AFTER_MS 20
#define INBOX_PRUNE_INTERVAL_MS (10 * 60 * 1000)
#define INBOX_KEEP_S (7 * 24 * 3600) /* longer than any redelivery can be late */
/* Replays start this long before our last handled message: the owners' clocks may differ. */
#define REPLAY_MARGIN_MS 30000
/* A replay mark is written when it moved this far (by the owner's clock) since the last
 * one written, not with every batch: a mark that lags asks for a little more replay, which
 * the inbox makes harmless, and a statement per transaction (a round trip to PostgreSQL)
 * is saved. */
#define REPLAY_MARK_STEP_MS 1000
/* With cfg.commit_batch > 1, messages that arrive back to back share one transaction
 * (each in its own savepoint) and replies wait for its commit. libmosquitto 2.0.11 sends
 * the PUBACK before on_message runs, so a crash loses what is acknowledged but not yet
 * committed: one message at most with the default of 1, up to a batch otherwise. */

/* The owners whose events one component reads: the replay requests' bound too. */
#define REPLAY_OWNERS_MAX 8

/* The newest event of one owner that the open transaction applied, by the owner's clock
 * (the event's time): committed with it into hb_replay_mark, where the replay request
 * after a restart starts from. */
struct replay_mark {
    char owner[32];
    int64_t event_ms;
};

struct inflight {
    int mid;
    int64_t row_id;
    int metric_slot; /* its topic's row in metrics.published, -1 for overflow */
};

/* A reply held back until the batch that produced it is committed. */
struct pending_reply {
    char *topic;
    void *correlation;
    size_t correlation_len;
    char *payload;
    size_t batch_items; /* the request's items when it was a batch, 0 for a single one */
};

struct runtime {
    const struct hb_component *def;
    struct hb_config cfg;
    struct hb_ctx ctx;
    struct hb_bus *bus;
    const struct hb_bus_ops *bus_ops;
    int64_t outbox_cursor; /* highest outbox row handed to the client since (re)connect */
    /* The relay reads the outbox only when it may hold rows not handed over: rows were
     * written since its last read (the store's count), that read left some (a full
     * window, a refused publish), or the cursor went back (relay_again). */
    uint64_t outbox_puts_read;
    bool outbox_left;
    bool dropped;          /* a message was dropped since: no transaction could begin */
    struct inflight inflight[OUTBOX_INFLIGHT_MAX];
    size_t n_inflight;
    int64_t acked[OUTBOX_INFLIGHT_MAX]; /* row ids; a row may be here twice, after a resend */
    size_t n_acked;                     /* n_inflight + n_acked <= OUTBOX_INFLIGHT_MAX */
    char heartbeat[600];
    bool in_batch;          /* a transaction is open for the current burst */
    size_t batch_size;      /* events in it */
    struct replay_mark marks[REPLAY_OWNERS_MAX]; /* of the events in it, per owner */
    struct replay_mark marks_written[REPLAY_OWNERS_MAX]; /* the newest in the store */
    size_t n_marks_written;
    int64_t marks_started_ms; /* a replica's start: its first marks (0: not a replica) */
    size_t n_marks;
    size_t arrived;         /* messages seen in the current poll */
    struct pending_reply replies[HB_COMMIT_BATCH_MAX];
    size_t n_replies;
    bool ready_notified;    /* systemd has had READY=1 */
    bool watchdog;          /* systemd's watchdog is on: ping it every tick */
    struct hb_metrics metrics;
};

/* One flag for the process: a signal, or the all-in-one's hb_component_stop(), ends every
 * loop (an atomic: a lock-free atomic_int is safe in a signal handler and across threads). */
static atomic_int stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}


/* Copies at most max bytes of payload into a NUL-terminated string, replacing bytes that
 * are not valid UTF-8 with '?', so the dead letter stays valid JSON. Returns NULL on OOM. */
static char *printable_copy(const char *payload, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    char *out = malloc(n + 1);
    if (!out) {
        return NULL;
    }
    size_t i = 0;
    while (i < n) {
        size_t seq = payload[i] != '\0' ? hb_utf8_sequence(payload + i, n - i) : 0;
        if (seq == 0) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, payload + i, seq);
        i += seq;
    }
    out[n] = '\0';
    return out;
}

/* Writes a dead letter for payload (len bytes, from topic) to the outbox, so it is not
 * lost if the broker is away. */
static void dead_letter(struct runtime *rt, const char *topic, const char *payload, size_t len,
                        const char *reason)
{
    char dlq_topic[128];
    snprintf(dlq_topic, sizeof(dlq_topic), HB_TOPIC_PREFIX "dlq/%s", rt->def->name);
    char *text = printable_copy(payload, len, DEAD_LETTER_PAYLOAD_MAX);
    cJSON *letter = cJSON_CreateObject();
    char *json = NULL;
    if (text && letter && cJSON_AddStringToObject(letter, "reason", reason) &&
        cJSON_AddStringToObject(letter, "topic", topic) &&
        cJSON_AddStringToObject(letter, "payload", text)) {
        json = hb_json_print(letter);
    }
    rt->metrics.dead_letters++;
    if (!json || hb_store_outbox_put(rt->ctx.store, dlq_topic, json) != HB_OK) {
        HB_LOGE(0, "could not dead-letter a message from %s", topic);
    } else {
        HB_LOGW(0, "dead-lettered a message from %s: %s", topic, reason);
    }
    free(json);
    cJSON_Delete(letter);
    free(text);
}

/* dead_letter for one item of a batch: the item alone, printed back to JSON. */
static void dead_letter_item(struct runtime *rt, const char *topic, const cJSON *item,
                             const char *reason)
{
    char *text = hb_json_print(item);
    dead_letter(rt, topic, text ? text : "", text ? strlen(text) : 0, reason);
    free(text);
}

/* Encodes reply as {"code", "body", "location"}, or for an item of a batched reply as
 * {"id", "code", "body", "location"} with id the request item's event id (JSON null for
 * NULL). Returns a malloc'd string or NULL. */
static char *encode_reply(struct hb_reply *reply, bool with_id, const char *id)
{
    cJSON *root = cJSON_CreateObject();
    char *json = NULL;
    if (root && with_id) {
        cJSON_AddItemToObject(root, "id", id ? cJSON_CreateString(id) : cJSON_CreateNull());
    }
    if (root && cJSON_AddNumberToObject(root, "code", reply->code)) {
        cJSON_AddItemToObject(root, "body", reply->body ? reply->body : cJSON_CreateObject());
        reply->body = NULL; /* now owned by root */
        if (reply->location[0]) {
            cJSON_AddStringToObject(root, "location", reply->location);
        }
        json = hb_json_print(root);
    }
    cJSON_Delete(root);
    return json;
}

static void send_pending(struct runtime *rt, struct pending_reply *pr)
{
    struct hb_message to = {
        .response_topic = pr->topic,
        .correlation = pr->correlation,
        .correlation_len = pr->correlation_len,
    };
    if (rt->bus_ops->reply(rt->bus, &to, pr->payload, strlen(pr->payload)) != HB_OK) {
        HB_LOGE(0, "could not reply on %s", pr->topic);
    }
    free(pr->topic);
    free(pr->correlation);
    free(pr->payload);
    memset(pr, 0, sizeof(*pr));
}

/* Holds payload (malloc'd JSON, taken over) as the reply to msg until the transaction
 * commits (an answer must never promise what a failed commit then loses). */
static void queue_reply_text(struct runtime *rt, const struct hb_message *msg, char *payload,
                             size_t batch_items)
{
    if (!msg->response_topic || !payload) {
        free(payload);
        return;
    }
    assert(rt->n_replies < HB_COMMIT_BATCH_MAX); /* one per message, messages <= the cap */
    struct pending_reply *pr = &rt->replies[rt->n_replies];
    pr->payload = payload;
    pr->batch_items = batch_items;
    pr->topic = strdup(msg->response_topic);
    pr->correlation_len = msg->correlation_len;
    pr->correlation = msg->correlation_len ? malloc(msg->correlation_len) : NULL;
    if (!pr->topic || (msg->correlation_len && !pr->correlation)) {
        HB_LOGE(0, "out of memory queueing a reply on %s", msg->response_topic);
        free(pr->topic);
        free(pr->correlation);
        free(pr->payload);
        memset(pr, 0, sizeof(*pr));
        return;
    }
    if (msg->correlation_len) {
        memcpy(pr->correlation, msg->correlation, msg->correlation_len);
    }
    rt->n_replies++;
}

/* Queues the reply to a single (not batched) request; none for events (code 0). */
static void queue_reply(struct runtime *rt, const struct hb_message *msg, struct hb_reply *reply)
{
    if (msg->response_topic && reply->code != 0) {
        queue_reply_text(rt, msg, encode_reply(reply, false, NULL), 0);
    }
}

/* Copies into owner the <owner> of an "hausbus/v1/evt/<owner>/..." filter; false for others. */
static bool event_owner(const char *filter, char *owner, size_t cap)
{
    static const char prefix[] = HB_TOPIC_PREFIX "evt/";
    if (strncmp(filter, prefix, sizeof(prefix) - 1) != 0) {
        return false;
    }
    const char *name = filter + sizeof(prefix) - 1;
    const char *slash = strchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : 0;
    if (len == 0 || len >= cap) {
        return false;
    }
    memcpy(owner, name, len);
    owner[len] = '\0';
    return true;
}

/* Hands every outbox row over again from the first (after a reconnect, a rolled back
 * batch, rows taken over from a replica): consumers are idempotent. */
static void relay_again(struct runtime *rt)
{
    rt->outbox_cursor = 0;
    rt->outbox_left = true;
}

/* Remembers ev's time, by its owner's clock, as the newest of that owner the open
 * transaction applied. Events on other than evt/<owner>/ topics, and times that do not
 * parse, leave the marks as they are. */
static void note_replay_mark(struct runtime *rt, const char *topic, const struct hb_event *ev)
{
    char owner[32];
    int64_t ms;
    if (!event_owner(topic, owner, sizeof(owner)) || hb_time_parse_ms(ev->time, &ms) != HB_OK) {
        return;
    }
    for (size_t i = 0; i < rt->n_marks; i++) {
        if (strcmp(rt->marks[i].owner, owner) == 0) {
            rt->marks[i].event_ms = ms > rt->marks[i].event_ms ? ms : rt->marks[i].event_ms;
            return;
        }
    }
    if (rt->n_marks < REPLAY_OWNERS_MAX) {
        snprintf(rt->marks[rt->n_marks].owner, sizeof(rt->marks[0].owner), "%s", owner);
        rt->marks[rt->n_marks++].event_ms = ms;
    }
}

/* The mark last written for owner by this process, or NULL. */
static struct replay_mark *written_mark(struct runtime *rt, const char *owner)
{
    for (size_t k = 0; k < rt->n_marks_written; k++) {
        if (strcmp(rt->marks_written[k].owner, owner) == 0) {
            return &rt->marks_written[k];
        }
    }
    return NULL;
}

/* In the open batch: writes the marks it moved by REPLAY_MARK_STEP_MS or more, and notes
 * them written (forgotten again if the batch does not commit). */
static hb_err_t write_replay_marks(struct runtime *rt)
{
    hb_err_t rc = HB_OK;
    for (size_t i = 0; i < rt->n_marks && rc == HB_OK; i++) {
        const struct replay_mark *m = &rt->marks[i];
        struct replay_mark *w = written_mark(rt, m->owner);
        if (w && m->event_ms < w->event_ms + REPLAY_MARK_STEP_MS) {
            continue;
        }
        /* The first this process writes replaces what is there: the start mark, which a
         * backlog older than the start must lower, or one of a former life. */
        rc = w ? hb_store_replay_mark(rt->ctx.store, m->owner, m->event_ms)
               : hb_store_replay_mark_reset(rt->ctx.store, m->owner, m->event_ms);
        if (!w && rt->n_marks_written < REPLAY_OWNERS_MAX) {
            w = &rt->marks_written[rt->n_marks_written++];
        }
        if (w) {
            *w = *m;
        }
    }
    rt->n_marks = 0;
    return rc;
}

/* Commits the open batch (with the acknowledged outbox rows deleted in it), then sends
 * the replies it produced. */
static void finish_batch(struct runtime *rt)
{
    if (!rt->in_batch) {
        return;
    }
    /* Acknowledged rows may go in or out of a transaction. A transaction the engine ended
     * on its own (sqlite's full disk) gets no marks: they would commit by themselves, ahead
     * of the events that were lost with it. */
    bool in_tx = hb_store_in_tx(rt->ctx.store);
    hb_err_t rc = hb_store_outbox_delete_many(rt->ctx.store, rt->acked, rt->n_acked);
    if (rc == HB_OK) {
        rc = in_tx ? write_replay_marks(rt) : HB_ERR_DB;
    }
    rt->n_marks = 0;
    if (rc == HB_OK) {
        rc = hb_store_commit(rt->ctx.store);
    }
    if (rc != HB_OK) {
        rt->n_marks_written = 0; /* the next batch writes its marks whatever they are */
    }
    if (rc == HB_OK) {
        rt->n_acked = 0;
        rt->metrics.commits++;
        rt->metrics.events_committed += rt->batch_size;
    } else {
        /* Lost with the batch: inbox entries, state, events. Senders' re-drives ask again. */
        HB_LOGE(0, "batch of %zu messages could not be committed", rt->batch_size);
        hb_store_rollback(rt->ctx.store);
        relay_again(rt);
    }
    for (size_t i = 0; i < rt->n_replies; i++) {
        if (rc != HB_OK) {
            free(rt->replies[i].payload);
            rt->replies[i].payload = hb_reply_batch_failed(rt->replies[i].batch_items);
        }
        if (rt->replies[i].payload) {
            send_pending(rt, &rt->replies[i]);
        }
    }
    rt->n_replies = 0;
    rt->in_batch = false;
    rt->batch_size = 0;
}

/* Applies the decoded event ev (from a message on topic) in the open transaction and
 * fills reply with the handler's answer. On failure, 400 (refused) or 500, with the
 * message dead-lettered: raw (raw_len bytes), or for an item of a batch, item printed
 * with ev's data put back (hb_envelope_from_json moved it out). */
static void apply_event(struct runtime *rt, const char *topic, const struct hb_event *ev,
                        const char *raw, size_t raw_len, cJSON *item, struct hb_reply *reply)
{
    rt->ctx.now_ms = hb_wall_ms();
    hb_err_t rc = hb_dispatch_in_tx(rt->def, &rt->ctx, topic, ev, reply);
    if (rc == HB_OK) {
        note_replay_mark(rt, topic, ev);
        return;
    }
    char why[160];
    if (rc == HB_ERR_DECODE) {
        snprintf(why, sizeof(why), "%s", rt->ctx.error);
    } else {
        snprintf(why, sizeof(why), "internal error: %s", hb_strerror(rc));
        rt->metrics.handler_errors++;
        HB_LOGE(atoll(ev->subject), "%s handling %s", why, ev->type);
    }
    hb_reply_error(reply, rc == HB_ERR_DECODE ? 400 : 500, why);
    if (!hb_store_in_tx(rt->ctx.store)) {
        return; /* sqlite ended the transaction: nothing may be written outside it */
    }
    if (item) {
        cJSON_AddItemReferenceToObject(item, "data", ev->data);
        dead_letter_item(rt, topic, item, why);
    } else {
        dead_letter(rt, topic, raw, raw_len, why);
    }
}

/* One event alone in its message: decode, apply, reply. */
static void apply_single(struct runtime *rt, const struct hb_message *msg)
{
    struct hb_event ev;
    struct hb_reply reply = {0};
    const char *reason = NULL;
    hb_topic_counts_add(&rt->metrics.handled, msg->topic);
    rt->batch_size++;
    if (hb_envelope_decode(msg->payload, msg->len, &ev, &reason) != HB_OK) {
        dead_letter(rt, msg->topic, msg->payload, msg->len, reason);
        hb_reply_error(&reply, 400, reason);
    } else {
        apply_event(rt, msg->topic, &ev, msg->payload, msg->len, NULL, &reply);
    }
    queue_reply(rt, msg, &reply);
    hb_reply_clear(&reply);
    hb_event_clear(&ev);
}

/* Closes a batched request's reply array (NULL, logged, when memory ran out). */
static char *finish_replies(const struct hb_message *msg, struct hb_reply_batch *replies)
{
    char *text = hb_reply_batch_finish(replies);
    if (msg->response_topic && !text) {
        HB_LOGE(0, "out of memory building the batched reply on %s", msg->response_topic);
    }
    return text;
}

/* Adds reply as the answer to the request item id of a batched request (none for a
 * batch of events); a handler that set no answer makes it a 500. items_left: as for
 * hb_reply_batch_add. */
static void add_item_reply(const struct hb_message *msg, struct hb_reply_batch *replies,
                           struct hb_reply *reply, const char *id, int items_left)
{
    if (!msg->response_topic) {
        return;
    }
    if (reply->code == 0) {
        hb_reply_error(reply, 500, "no answer for this request");
    }
    hb_reply_batch_add(replies, encode_reply(reply, true, id), id, (size_t)items_left);
}

/* The optimistic pass over a batch: every item under the one savepoint the caller holds,
 * none of its own (a savepoint and its release per event were 4-5% of a component's
 * CPU). Stops at the first item that fails in any way, without dead-lettering or
 * counting it: the caller rolls the lot back and runs apply_batch's careful pass, which
 * does. Each item's data goes back into it, so that pass can decode it again. Returns
 * true when every item applied. */
static bool apply_items_together(struct runtime *rt, const struct hb_message *msg, cJSON *items,
                                 struct hb_reply_batch *replies)
{
    int left = cJSON_GetArraySize(items);
    for (cJSON *item = items->child; item; item = item->next) {
        struct hb_event ev;
        struct hb_reply reply = {0};
        const char *why = NULL;
        left--;
        if (!hb_store_in_tx(rt->ctx.store) || hb_envelope_from_json(item, &ev, &why) != HB_OK) {
            return false;
        }
        rt->ctx.now_ms = hb_wall_ms();
        hb_err_t rc = hb_dispatch_unguarded(rt->def, &rt->ctx, msg->topic, &ev, &reply);
        if (rc == HB_OK) {
            note_replay_mark(rt, msg->topic, &ev);
            add_item_reply(msg, replies, &reply, ev.id, left);
        }
        hb_reply_clear(&reply);
        if (!cJSON_AddItemToObject(item, "data", ev.data)) {
            cJSON_Delete(ev.data); /* the careful pass dead-letters the item as it is */
            rc = rc == HB_OK ? HB_ERR_NOMEM : rc;
        }
        ev.data = NULL;
        hb_event_clear(&ev);
        if (rc != HB_OK) {
            return false;
        }
    }
    return true;
}

/* Runs apply_items_together under a savepoint of the batch's own. True when every item
 * applied: the batch is counted and its replies queued. False leaves the transaction as
 * it was before the batch (the savepoint rolled back), or sqlite ended it, for the
 * careful pass to run. */
static bool apply_batch_together(struct runtime *rt, const struct hb_message *msg,
                                 cJSON *items, int n_items)
{
    if (!hb_store_in_tx(rt->ctx.store) || hb_store_savepoint(rt->ctx.store) != HB_OK) {
        return false;
    }
    struct hb_reply_batch replies = {0};
    bool together = apply_items_together(rt, msg, items, &replies);
    bool in_tx = hb_store_in_tx(rt->ctx.store); /* else sqlite ended it: no savepoint left */
    if (!together && in_tx) {
        hb_store_savepoint_rollback(rt->ctx.store);
    }
    bool released = in_tx && hb_store_savepoint_release(rt->ctx.store) == HB_OK;
    if (together && !released && in_tx) {
        /* nothing of the lot may stay for the careful pass to find claimed */
        hb_store_savepoint_rollback(rt->ctx.store);
        hb_store_savepoint_release(rt->ctx.store);
    }
    if (!together || !released) {
        free(hb_reply_batch_finish(&replies)); /* the careful pass answers afresh */
        return false;
    }
    for (int i = 0; i < n_items; i++) {
        hb_topic_counts_add(&rt->metrics.handled, msg->topic);
    }
    rt->batch_size += (size_t)n_items;
    queue_reply_text(rt, msg, finish_replies(msg, &replies), (size_t)n_items);
    return true;
}

/* A CloudEvents batch: every item applied in the open transaction (a bad item is
 * dead-lettered alone, the rest applied), and, for a batched request, one reply array
 * with an item per request item, in order. The items run together under one savepoint
 * first; only when one of them fails does the batch run again from that savepoint with
 * a savepoint per item. */
static void apply_batch(struct runtime *rt, const struct hb_message *msg)
{
    const char *why = NULL;
    cJSON *items = NULL;
    if (msg->len > HB_PAYLOAD_MAX) {
        why = "payload over 64 KiB";
    } else {
        items = hb_json_parse_document(msg->payload, msg->len, &why);
    }
    int n_items = cJSON_IsArray(items) ? cJSON_GetArraySize(items) : 0;
    if (!items || n_items < 1 || n_items > HB_BUS_BATCH_MAX) {
        why = why ? why : "a batch is a JSON array of 1 to " HB_STR(HB_BUS_BATCH_MAX) " CloudEvents";
        struct hb_reply reply = {0};
        hb_topic_counts_add(&rt->metrics.handled, msg->topic);
        rt->batch_size++;
        dead_letter(rt, msg->topic, msg->payload, msg->len, why);
        hb_reply_error(&reply, 400, why);
        queue_reply(rt, msg, &reply);
        hb_reply_clear(&reply);
        cJSON_Delete(items);
        return;
    }
    rt->metrics.batches_in++;
    rt->metrics.batch_events_in += (uint64_t)n_items;
    if (n_items > 1 && apply_batch_together(rt, msg, items, n_items)) {
        cJSON_Delete(items);
        return;
    }
    struct hb_reply_batch replies = {0};
    int left = n_items;
    for (cJSON *item = items->child; item; item = item->next) {
        struct hb_event ev = {0}; /* cleared below even when never decoded */
        struct hb_reply reply = {0};
        left--;
        hb_topic_counts_add(&rt->metrics.handled, msg->topic);
        rt->batch_size++;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        const char *reply_id = cJSON_IsString(id) ? id->valuestring : NULL;
        if (!hb_store_in_tx(rt->ctx.store)) {
            /* sqlite rolled the transaction back (disk full, I/O): nothing more may run
             * outside it; finish_batch answers 500 for the lot. */
            hb_reply_error(&reply, 500, "transaction lost");
        } else if (hb_envelope_from_json(item, &ev, &why) != HB_OK) {
            dead_letter_item(rt, msg->topic, item, why);
            hb_reply_error(&reply, 400, why);
        } else {
            apply_event(rt, msg->topic, &ev, NULL, 0, item, &reply);
            reply_id = ev.id;
        }
        add_item_reply(msg, &replies, &reply, reply_id, left);
        hb_reply_clear(&reply);
        hb_event_clear(&ev);
    }
    cJSON_Delete(items);
    queue_reply_text(rt, msg, finish_replies(msg, &replies), (size_t)n_items);
}

static void request_replays(struct runtime *rt);

static void on_message(void *arg, const struct hb_message *msg)
{
    struct runtime *rt = arg;
    rt->arrived++;
    if (!rt->in_batch) {
        if (hb_store_begin(rt->ctx.store) != HB_OK) {
            HB_LOGE(0, "cannot begin a transaction; message from %s dropped", msg->topic);
            rt->dropped = true;
            return;
        }
        rt->in_batch = true;
        if (rt->dropped) {
            /* The database is back (PostgreSQL restarted): the owners of what was dropped
             * meanwhile announce it again, as after a broker reconnect. */
            rt->dropped = false;
            request_replays(rt);
        }
    }
    if (hb_message_is_batch(msg)) {
        apply_batch(rt, msg);
    } else {
        apply_single(rt, msg);
    }
    if (rt->batch_size >= (size_t)rt->cfg.commit_batch || !hb_store_in_tx(rt->ctx.store)) {
        finish_batch(rt); /* before returning: the broker already has our PUBACK */
    }
}

static void on_published(void *arg, int mid)
{
    struct runtime *rt = arg;
    size_t rows = 0;
    /* A batch's rows share its mid: all of them are acknowledged at once. */
    for (size_t i = 0; i < rt->n_inflight;) {
        if (rt->inflight[i].mid != mid) {
            i++;
            continue;
        }
        /* Moves a row from inflight to acked: their sum, bounded, does not change. */
        assert(rt->n_inflight + rt->n_acked <= OUTBOX_INFLIGHT_MAX);
        rt->acked[rt->n_acked++] = rt->inflight[i].row_id;
        hb_topic_counts_bump(&rt->metrics.published, rt->inflight[i].metric_slot);
        rt->inflight[i] = rt->inflight[--rt->n_inflight];
        rows++;
    }
    if (rows > 1) {
        rt->metrics.batches_out++;
        rt->metrics.batch_events_out += rows;
    }
}

/* Writes a replay request for owner into the outbox (published after commit). */
static hb_err_t put_replay_request(struct runtime *rt, const char *owner, int64_t since_ms)
{
    char type[HB_EVENT_TYPE_MAX], topic[128];
    snprintf(type, sizeof(type), "%s.replay", owner);
    snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "cmd/%s/replay", owner);
    cJSON *data = cJSON_CreateObject();
    if (!data || !cJSON_AddNumberToObject(data, "since", (double)since_ms) ||
        !cJSON_AddStringToObject(data, "requester", rt->def->name)) {
        cJSON_Delete(data);
        return HB_ERR_NOMEM;
    }
    struct hb_event ev;
    HB_RETURN_ON_ERR(hb_event_init(&ev, rt->def->name, type, 0, data));
    char *payload = hb_envelope_encode(&ev);
    hb_event_clear(&ev);
    hb_err_t rc = payload ? hb_store_outbox_put(rt->ctx.store, topic, payload) : HB_ERR_NOMEM;
    free(payload);
    return rc;
}

/* The components whose events def consumes (not itself), each once: at most
 * REPLAY_OWNERS_MAX. Returns how many are in owners. */
static size_t consumed_owners(const struct hb_component *def,
                              char owners[REPLAY_OWNERS_MAX][32])
{
    size_t n = 0;
    for (size_t i = 0; i < def->n_routes; i++) {
        char owner[32];
        if (!event_owner(def->routes[i].topic, owner, sizeof(owner)) ||
            strcmp(owner, def->name) == 0) {
            continue;
        }
        bool seen = false;
        for (size_t k = 0; k < n; k++) {
            seen = seen || strcmp(owners[k], owner) == 0;
        }
        if (!seen && n < REPLAY_OWNERS_MAX) {
            snprintf(owners[n++], sizeof(owners[0]), "%s", owner);
        }
    }
    return n;
}

/* The replay request for owner that covers its events from event_ms (its clock) on. */
static hb_err_t replay_from(struct runtime *rt, const char *owner, int64_t event_ms)
{
    int64_t since_ms = event_ms > 0 ? event_ms - REPLAY_MARGIN_MS : 0;
    return put_replay_request(rt, owner, since_ms < 0 ? 0 : since_ms);
}

/* Asks every component whose events we consume to announce again what changed since a
 * little before the last message we handled. libmosquitto acknowledges a message before
 * we commit it, and a broker killed between two autosaves forgets what it queued for us:
 * after either, this is how the lost events come back. */
static void request_replays(struct runtime *rt)
{
    /* Before hb_replay_mark (an older database), and for an owner never heard from: our
     * own clock at the last message we handled. */
    int64_t last_handled_s = 0;
    hb_store_query_int(rt->ctx.store, "SELECT max(handled_at) FROM hb_inbox", NULL, 0, 0,
                       &last_handled_s);
    int64_t fallback_ms = last_handled_s > 0 ? last_handled_s * 1000 : 0;
    bool own_tx = !rt->in_batch;
    if (own_tx && hb_store_begin(rt->ctx.store) != HB_OK) {
        return;
    }
    char owners[REPLAY_OWNERS_MAX][32];
    size_t n_owners = consumed_owners(rt->def, owners);
    hb_err_t rc = HB_OK;
    for (size_t i = 0; i < n_owners && rc == HB_OK; i++) {
        /* From the owner's own clock at the newest of its events we committed: what a
         * crash lost, acknowledged and not committed, came after it in its stream,
         * however far behind (a backlog) we were. */
        int64_t mark_ms = fallback_ms;
        hb_store_replay_mark_get(rt->ctx.store, owners[i], fallback_ms, &mark_ms);
        rc = replay_from(rt, owners[i], mark_ms);
    }
    if (own_tx) {
        if (rc == HB_OK) {
            rc = hb_store_commit(rt->ctx.store);
        } else {
            hb_store_rollback(rt->ctx.store);
        }
    }
    if (rc != HB_OK) {
        HB_LOGE(0, "could not request replays: %s", hb_strerror(rc));
    }
}

/* Whether the loops tell systemd about themselves: yes when the process is one component
 * (hb_component_main); an all-in-one process speaks for all its loops from its main
 * thread, since one loop's pings would hide another's hang. */
static atomic_bool loops_notify_systemd;

/* Tells systemd (Type=notify) about state; does nothing when not started by systemd. */
static void notify_systemd(const char *state)
{
    if (!atomic_load(&loops_notify_systemd)) {
        return;
    }
    hb_err_t rc = hb_sdnotify(state);
    if (rc != HB_OK) {
        HB_LOGW(0, "cannot notify systemd of %s: %s", state, hb_strerror(rc));
    }
}

static void on_connected(void *arg)
{
    struct runtime *rt = arg;
    /* Whatever was unacknowledged is sent again; consumers are idempotent. */
    relay_again(rt);
    rt->n_inflight = 0;
    request_replays(rt);
    /* Ready = the first broker session is up and the loop runs. */
    if (!rt->ready_notified) {
        rt->ready_notified = true;
        notify_systemd("READY=1");
    }
}

/* One outbox row read for the relay: copies, since the store's row is valid during its
 * callback only. */
struct relay_row {
    int64_t id;
    char *topic;
    char *payload;
    size_t len;
    bool sent;
};

/* The rows one flush read, in id order: at most the window's room. */
struct relay {
    struct relay_row *rows;
    size_t n, cap;
};

/* hb_store_outbox_each's callback: copies row into the relay (arg); non-zero stops the
 * walk when the relay is full or a copy fails (the rest waits for the next flush). */
static int collect_row(void *arg, const struct hb_outbox_row *row)
{
    struct relay *r = arg;
    if (r->n == r->cap) {
        return 1;
    }
    struct relay_row *rr = &r->rows[r->n];
    rr->topic = strdup(row->topic);
    rr->payload = strdup(row->payload);
    if (!rr->topic || !rr->payload) {
        free(rr->topic);
        free(rr->payload);
        return 1; /* the rest waits for the next flush */
    }
    rr->id = row->id;
    rr->len = strlen(rr->payload);
    rr->sent = false;
    r->n++;
    return 0;
}

/* Frees the rows' copies and the row array. Can't fail. */
static void relay_free(struct relay *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->rows[i].topic);
        free(r->rows[i].payload);
    }
    free(r->rows);
}

/* Only events are packed: dead letters and replay requests stay one per message, as
 * people and older components read them. */
static bool batchable(const char *topic)
{
    static const char prefix[] = HB_TOPIC_PREFIX "evt/";
    return strncmp(topic, prefix, sizeof(prefix) - 1) == 0;
}

/* Hands the client one message: row first alone, or, for an event with more rows of its
 * topic waiting, a batch of it and the next ones (at most cfg.bus_batch events and
 * HB_PAYLOAD_MAX bytes, the consumers' limit). Returns false when the client refused. */
static bool publish_group(struct runtime *rt, struct relay *r, size_t first)
{
    size_t members[HB_BUS_BATCH_MAX];
    size_t n = 0;
    assert(rt->cfg.bus_batch <= HB_BUS_BATCH_MAX); /* hb_config_load bounds it */
    size_t bytes = r->rows[first].len + 2; /* the brackets */
    const char *topic = r->rows[first].topic;
    members[n++] = first;
    if (rt->cfg.bus_batch > 1 && batchable(topic)) {
        for (size_t i = first + 1; i < r->n && n < (size_t)rt->cfg.bus_batch; i++) {
            if (r->rows[i].sent || strcmp(r->rows[i].topic, topic) != 0) {
                continue;
            }
            if (bytes + r->rows[i].len + 1 > HB_PAYLOAD_MAX) {
                break; /* the rest of this topic goes in the next message, in order */
            }
            members[n++] = i;
            bytes += r->rows[i].len + 1;
        }
    }
    int mid = 0;
    hb_err_t rc;
    if (n == 1) {
        rc = rt->bus_ops->publish(rt->bus, topic, r->rows[first].payload, r->rows[first].len,
                                  false, &mid);
    } else {
        char *text = malloc(bytes + 1);
        if (!text) {
            return false;
        }
        size_t len = 0;
        for (size_t k = 0; k < n; k++) {
            text[len++] = k == 0 ? '[' : ',';
            memcpy(text + len, r->rows[members[k]].payload, r->rows[members[k]].len);
            len += r->rows[members[k]].len;
        }
        text[len++] = ']';
        text[len] = '\0';
        rc = rt->bus_ops->publish_batch(rt->bus, topic, text, len, &mid);
        free(text);
    }
    if (rc != HB_OK) {
        return false;
    }
    int slot = hb_topic_counts_slot(&rt->metrics.published, topic);
    for (size_t k = 0; k < n; k++) {
        assert(rt->n_inflight + rt->n_acked < OUTBOX_INFLIGHT_MAX); /* r->cap is the room */
        rt->inflight[rt->n_inflight++] = (struct inflight){
            .mid = mid,
            .row_id = r->rows[members[k]].id,
            .metric_slot = slot,
        };
        r->rows[members[k]].sent = true;
    }
    return true;
}

/* Deletes the acknowledged rows in a transaction of their own. */
static void commit_acked(struct runtime *rt)
{
    if (rt->n_acked == 0 || hb_store_begin(rt->ctx.store) != HB_OK) {
        return;
    }
    if (hb_store_outbox_delete_many(rt->ctx.store, rt->acked, rt->n_acked) == HB_OK &&
        hb_store_commit(rt->ctx.store) == HB_OK) {
        rt->n_acked = 0;
    } else {
        hb_store_rollback(rt->ctx.store);
    }
}

/* Hands new outbox rows to the client, packed per topic. Only between transactions.
 * Acknowledged rows are deleted by the next transaction (a batch's or the tick's), so a
 * PUBACK costs no commit of its own; only a window full of them is deleted at once. */
static void flush_outbox(struct runtime *rt)
{
    if (rt->n_inflight + rt->n_acked >= OUTBOX_INFLIGHT_MAX) {
        commit_acked(rt);
    }
    size_t room = OUTBOX_INFLIGHT_MAX - rt->n_inflight - rt->n_acked;
    uint64_t puts = hb_store_outbox_puts(rt->ctx.store);
    if (!rt->bus_ops->connected(rt->bus) || room == 0 ||
        (!rt->outbox_left && puts == rt->outbox_puts_read)) {
        return; /* nothing new: a statement (a round trip to PostgreSQL) saved */
    }
    struct relay r = {.rows = malloc(room * sizeof(struct relay_row)), .cap = room};
    if (!r.rows) {
        return;
    }
    rt->outbox_puts_read = puts;
    if (hb_store_outbox_each(rt->ctx.store, rt->outbox_cursor, (int)room, collect_row, &r) !=
        HB_OK) {
        rt->outbox_left = true;
        relay_free(&r);
        return;
    }
    size_t sent = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (!r.rows[i].sent && !publish_group(rt, &r, i)) {
            break;
        }
    }
    /* The cursor passes only rows with every earlier one sent: after a refused publish
     * the rest is read again (a row of a batch sent past it may then go twice; consumers
     * are idempotent, and a refusal means the connection is gone anyway). */
    for (size_t i = 0; i < r.n && r.rows[i].sent; i++) {
        rt->outbox_cursor = r.rows[i].id;
        sent++;
    }
    rt->outbox_left = r.n == room || sent < r.n;
    relay_free(&r);
}

static hb_err_t replica_beat(struct runtime *rt);

static void run_tick(struct runtime *rt, int64_t *last_prune_ms)
{
    rt->ctx.now_ms = hb_wall_ms();
    rt->outbox_left = true; /* once a tick, read whatever the counts missed */
    /* The loop got here, so it is alive: tell --probe (and with it Kubernetes). */
    if (hb_heartbeat_write(rt->heartbeat, rt->ctx.now_ms, rt->bus_ops->connected(rt->bus)) !=
        HB_OK) {
        HB_LOGW(0, "cannot write heartbeat %s", rt->heartbeat);
    }
    if (rt->watchdog) {
        notify_systemd("WATCHDOG=1"); /* a hung loop stops pinging; systemd restarts us */
    }
    /* The tick's transaction also deletes what the broker acknowledged since the last
     * one, so an idle component's outbox empties within a tick. */
    if ((rt->def->tick || rt->n_acked > 0) && hb_store_begin(rt->ctx.store) == HB_OK) {
        hb_err_t rc = hb_store_outbox_delete_many(rt->ctx.store, rt->acked, rt->n_acked);
        if (rc == HB_OK && rt->def->tick) {
            rc = rt->def->tick(&rt->ctx);
        }
        if (rc == HB_OK && hb_store_commit(rt->ctx.store) == HB_OK) {
            rt->n_acked = 0;
        } else {
            hb_store_rollback(rt->ctx.store);
        }
    }
    if (rt->cfg.database_url[0]) {
        replica_beat(rt);
    }
    if (hb_now_ms() - *last_prune_ms > INBOX_PRUNE_INTERVAL_MS) {
        hb_store_run(rt->ctx.store, "DELETE FROM hb_inbox WHERE handled_at < ?",
                     HB_ARGS(HB_INT((int64_t)time(NULL) - INBOX_KEEP_S)));
        *last_prune_ms = hb_now_ms();
    }
}

/* Publishes the metrics snapshot, retained, on hausbus/v1/metrics/<name>: QoS 0 and not
 * through the outbox, since the next snapshot replaces a lost one. Between batches only,
 * so the component's metrics hook reads committed state. */
static void publish_metrics(struct runtime *rt)
{
    if (!rt->bus_ops->connected(rt->bus)) {
        return;
    }
    cJSON *snapshot = hb_metrics_json(&rt->metrics, hb_wall_ms(),
                                      hb_store_duplicates(rt->ctx.store),
                                      hb_store_outbox_count(rt->ctx.store));
    if (snapshot && rt->def->metrics) {
        rt->ctx.now_ms = hb_wall_ms();
        cJSON *extra = rt->def->metrics(&rt->ctx);
        cJSON *item = extra ? extra->child : NULL;
        while (item) {
            cJSON *next = item->next;
            cJSON_DetachItemViaPointer(extra, item);
            cJSON_DeleteItemFromObjectCaseSensitive(snapshot, item->string);
            cJSON_AddItemToObject(snapshot, item->string, item);
            item = next;
        }
        cJSON_Delete(extra);
    }
    char *json = snapshot ? hb_json_print(snapshot) : NULL;
    cJSON_Delete(snapshot);
    char topic[96];
    snprintf(topic, sizeof(topic), HB_TOPIC_PREFIX "metrics/%s", rt->def->name);
    if (!json || rt->bus_ops->publish_snapshot(rt->bus, topic, json, strlen(json)) != HB_OK) {
        HB_LOGW(0, "could not publish metrics on %s", topic);
    }
    free(json);
}

/* The topic filters a component subscribes to: its routes' topics and its replay command;
 * replicas as one shared subscription per filter, "$share/hausbus-<name>/<topic>", so the
 * broker hands each message to one of them. */
struct subscriptions {
    const char *filters[33];
    char shared[33][192];
    char replay_topic[96];
    size_t n;
};

static hb_err_t subscriptions_of(const struct hb_component *def, bool replicated,
                                 struct subscriptions *subs)
{
    const size_t cap = sizeof(subs->filters) / sizeof(subs->filters[0]);
    subs->n = 0;
    if (def->n_routes + 1 > cap) {
        HB_LOGE(0, "%zu routes: more than this runtime subscribes to", def->n_routes);
        return HB_ERR_INVAL;
    }
    snprintf(subs->replay_topic, sizeof(subs->replay_topic), HB_TOPIC_PREFIX "cmd/%s/replay",
             def->name);
    for (size_t i = 0; i < def->n_routes; i++) {
        subs->filters[subs->n++] = def->routes[i].topic;
    }
    if (def->replay_sql) {
        subs->filters[subs->n++] = subs->replay_topic;
    }
    for (size_t i = 0; replicated && i < subs->n; i++) {
        int w = snprintf(subs->shared[i], sizeof(subs->shared[i]), "$share/hausbus-%s/%s",
                         def->name, subs->filters[i]);
        if (w < 0 || (size_t)w >= sizeof(subs->shared[i])) {
            return HB_ERR_INVAL;
        }
        subs->filters[i] = subs->shared[i];
    }
    return HB_OK;
}

/* The MQTT client id and status name: "hausbus-<name>" and "<name>" for the one process of
 * a component, "hausbus-<name>-<instance>" and "<name>/<instance>" for a replica. */
static hb_err_t replica_names(const struct hb_component *def, const struct hb_config *cfg,
                              bool replicated, char *client_id, size_t id_cap, char *status,
                              size_t status_cap)
{
    int a = replicated ? snprintf(client_id, id_cap, "hausbus-%s-%s", def->name, cfg->instance)
                       : snprintf(client_id, id_cap, "hausbus-%s", def->name);
    int b = replicated ? snprintf(status, status_cap, "%s/%s", def->name, cfg->instance)
                       : snprintf(status, status_cap, "%s", def->name);
    if (a < 0 || (size_t)a >= id_cap || b < 0 || (size_t)b >= status_cap) {
        HB_LOGE(0, "instance name too long");
        return HB_ERR_INVAL;
    }
    return HB_OK;
}

/* hb_store_lost_replica_marks' callback: what a replica that is gone had acknowledged and
 * not committed, or had in flight, is asked for again from its own mark. */
static hb_err_t replay_lost(void *arg, const char *owner, int64_t event_ms)
{
    HB_LOGW(0, "a replica that stopped held events of %s: asking for them again", owner);
    return replay_from(arg, owner, event_ms);
}

/* In the open transaction: this replica's marks are there again if another replica took
 * them as a gone one's (its beats failed for HB_REPLICA_STALE_MS, a database outage):
 * what it last wrote, or its start for an owner it has written nothing of. */
static hb_err_t keep_own_marks(struct runtime *rt)
{
    int64_t own = 0;
    HB_RETURN_ON_ERR(hb_store_query_int(rt->ctx.store,
                                        "SELECT count(*) FROM hb_replica_marks"
                                        " WHERE instance = ?",
                                        HB_ARGS(HB_TEXT(hb_store_writer(rt->ctx.store))), 0,
                                        &own));
    if (own > 0) {
        return HB_OK;
    }
    char owners[REPLAY_OWNERS_MAX][32];
    size_t n_owners = consumed_owners(rt->def, owners);
    hb_err_t rc = HB_OK;
    for (size_t i = 0; i < n_owners && rc == HB_OK; i++) {
        const struct replay_mark *w = written_mark(rt, owners[i]);
        rc = hb_store_replay_mark_start(rt->ctx.store, owners[i],
                                        w ? w->event_ms : rt->marks_started_ms);
    }
    return rc;
}

/* A replica's beat, in a transaction of its own: alive in hb_replicas, and the outbox
 * rows of replicas gone quiet taken over (the relay then reads from the start); the marks of
 * replicas gone replayed, and this one's own kept. */
static hb_err_t replica_beat(struct runtime *rt)
{
    int64_t adopted = 0;
    int64_t now_ms = hb_wall_ms();
    HB_RETURN_ON_ERR(hb_store_begin(rt->ctx.store));
    hb_err_t rc = hb_store_replica_beat(rt->ctx.store, now_ms, HB_REPLICA_STALE_MS, &adopted);
    if (rc == HB_OK) {
        rc = hb_store_lost_replica_marks(rt->ctx.store, now_ms, HB_REPLICA_STALE_MS,
                                         replay_lost, rt);
    }
    if (rc == HB_OK && rt->marks_started_ms > 0) {
        rc = keep_own_marks(rt);
    }
    if (rc != HB_OK) {
        hb_store_rollback(rt->ctx.store);
        return rc;
    }
    rc = hb_store_commit(rt->ctx.store);
    if (rc != HB_OK || adopted > 0) {
        /* Adopted rows are below the cursor; after a failed commit the server may still
         * have taken them over for us. */
        if (adopted > 0) {
            HB_LOGW(0, "took over %lld outbox rows of a replica that stopped",
                    (long long)adopted);
        }
        relay_again(rt);
    }
    return rc;
}

/* A replica's marks begin where it joins: each owner's stream to it starts now. */
static hb_err_t start_replica_marks(struct runtime *rt)
{
    char owners[REPLAY_OWNERS_MAX][32];
    size_t n_owners = consumed_owners(rt->def, owners);
    int64_t now_ms = hb_wall_ms();
    rt->marks_started_ms = now_ms;
    HB_RETURN_ON_ERR(hb_store_begin(rt->ctx.store));
    hb_err_t rc = HB_OK;
    for (size_t i = 0; i < n_owners && rc == HB_OK; i++) {
        rc = hb_store_replay_mark_start(rt->ctx.store, owners[i], now_ms);
    }
    if (rc == HB_OK) {
        return hb_store_commit(rt->ctx.store);
    }
    hb_store_rollback(rt->ctx.store);
    return rc;
}

static hb_err_t open_store(struct runtime *rt)
{
    /* The data dir holds the heartbeat in either mode; sqlite's file too. */
    HB_RETURN_ON_ERR(hb_data_dir_create(&rt->cfg));
    char path[600];
    const char *location = rt->cfg.database_url;
    if (!location[0]) {
        int n = snprintf(path, sizeof(path), "%s/%s.db", rt->cfg.data_dir, rt->def->name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            return HB_ERR_INVAL;
        }
        location = path;
    }
    const struct hb_store_options opt = {.sqlite_cache_kb = rt->cfg.sqlite_cache_kb,
                                         .sqlite_wal_kb = rt->cfg.sqlite_wal_kb};
    HB_RETURN_ON_ERR(hb_store_open_with(location, rt->def->name, rt->def->migrations,
                                        rt->def->n_migrations, &opt, &rt->ctx.store));
    hb_err_t rc = HB_OK;
    if (rt->cfg.database_url[0]) {
        rc = hb_store_set_writer(rt->ctx.store, rt->cfg.instance);
        /* Alive before it writes a row; a failed beat (a deadlock with a replica taking
         * over rows at the same moment) is tried again every tick. */
        if (rc == HB_OK && replica_beat(rt) != HB_OK) {
            HB_LOGW(0, "replica %s not yet noted alive; the next tick tries again",
                    rt->cfg.instance);
        }
        if (rc == HB_OK) {
            rc = start_replica_marks(rt);
        }
    }
    if (rc != HB_OK) {
        hb_store_close(rt->ctx.store);
        rt->ctx.store = NULL;
    }
    return rc;
}

/* The heartbeat path of component name: "<data dir>/<name>.heartbeat". */
static hb_err_t heartbeat_path(const struct hb_config *cfg, const char *name, char *out,
                               size_t cap)
{
    int n = snprintf(out, cap, "%s/%s.heartbeat", cfg->data_dir, name);
    return n > 0 && (size_t)n < cap ? HB_OK : HB_ERR_INVAL;
}

int hb_component_probe(const char *name)
{
    struct hb_config cfg;
    char path[600], why[160];
    const char *max_age = getenv("HAUSBUS_PROBE_MAX_AGE_MS");
    int64_t max_age_ms = max_age && *max_age ? atoll(max_age) : HB_PROBE_MAX_AGE_MS;
    if (hb_config_load(&cfg) != HB_OK || heartbeat_path(&cfg, name, path, sizeof(path)) !=
                                             HB_OK) {
        return 1;
    }
    hb_err_t rc = hb_heartbeat_check(path, hb_wall_ms(), max_age_ms, why, sizeof(why));
    printf("%s: %s\n", name, why);
    return rc == HB_OK ? 0 : 1;
}

int hb_component_main(const struct hb_component *def, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) {
        return hb_component_probe(def->name);
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--probe]\n", argv[0]);
        return 2;
    }
    hb_log_init(def->name, getenv("HAUSBUS_LOG_LEVEL"));
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    atomic_store(&loops_notify_systemd, true);
    return hb_component_run(def);
}

void hb_component_stop(void)
{
    stop_requested = 1;
}

static const struct hb_bus_ops mqtt_bus = {
    .create = hb_bus_create,
    .destroy = hb_bus_destroy,
    .run_once = hb_bus_run_once,
    .connected = hb_bus_connected,
    .publish = hb_bus_publish,
    .publish_batch = hb_bus_publish_batch,
    .publish_snapshot = hb_bus_publish_snapshot,
    .reply = hb_bus_reply,
};

int hb_component_run(const struct hb_component *def)
{
    return hb_component_run_on(def, &mqtt_bus);
}

int hb_component_run_on(const struct hb_component *def, const struct hb_bus_ops *bus_ops)
{
    /* About 12 KB (inflight tables): on the stack of the thread that runs it, one per
     * running component. */
    struct runtime rt;
    memset(&rt, 0, sizeof(rt));
    hb_log_set_thread_component(def->name);
    rt.def = def;
    rt.bus_ops = bus_ops;
    if (hb_config_load(&rt.cfg) != HB_OK) {
        return 2;
    }
    hb_metrics_init(&rt.metrics, def->name, hb_wall_ms());
    rt.ctx.cfg = &rt.cfg;
    if (rt.cfg.database_url[0] && (rt.cfg.commit_batch > 1 || rt.cfg.bus_batch > 1)) {
        /* Replicas on one database: a transaction holds the rows of one event only, and
         * events go out one per message. Two replicas' batches lock rows in different
         * orders and deadlock; a conflict rolled back to its event's savepoint still
         * holds the batch's earlier locks, so the cycle came back (measured: a second per
         * round, docs/ARCHITECTURE.md, "Replicas"). */
        HB_LOGI(0, "database %s: one event per transaction and per message",
                "shared with replicas");
        rt.cfg.commit_batch = 1;
        rt.cfg.bus_batch = 1;
    }
    if (open_store(&rt) != HB_OK ||
        heartbeat_path(&rt.cfg, def->name, rt.heartbeat, sizeof(rt.heartbeat)) != HB_OK) {
        return 1;
    }
    if (def->setup && def->setup(&rt.ctx) != HB_OK) {
        hb_store_close(rt.ctx.store);
        return 1;
    }
    struct subscriptions subs;
    char client_id[160], status_name[128];
    bool replicated = rt.cfg.database_url[0] != '\0';
    if (subscriptions_of(def, replicated, &subs) != HB_OK ||
        replica_names(def, &rt.cfg, replicated, client_id, sizeof(client_id), status_name,
                      sizeof(status_name)) != HB_OK) {
        hb_store_close(rt.ctx.store);
        return 1;
    }
    struct hb_bus_options opt = {
        .client_id = client_id,
        .component = status_name,
        /* One process per component (sqlite): a persistent session queues what arrives
         * while it is away. Replicas share their subscriptions and start clean: a
         * session of a replica that is gone would hold its share of messages until it
         * expired (docs/ARCHITECTURE.md, "Replicas"). */
        .persistent = !replicated,
        .status_expires = replicated,
        .subscriptions = subs.filters,
        .n_subscriptions = subs.n,
        .on_message = on_message,
        .on_published = on_published,
        .on_connected = on_connected,
        .ctx = &rt,
    };
    if (bus_ops->create(&rt.cfg, &opt, &rt.bus) != HB_OK) {
        hb_store_close(rt.ctx.store);
        return 1;
    }
    if (replicated) { /* never the URL: it holds the password */
        HB_LOGI(0, "started, data in PostgreSQL, broker %s:%d as %s", rt.cfg.mqtt_host,
                rt.cfg.mqtt_port, client_id);
    } else {
        HB_LOGI(0, "started, data in %s/%s.db, broker %s:%d", rt.cfg.data_dir, def->name,
                rt.cfg.mqtt_host, rt.cfg.mqtt_port);
    }
    rt.watchdog = hb_sdnotify_watchdog_interval_ms() > 0;
    int64_t next_tick_ms = hb_now_ms() + TICK_INTERVAL_MS;
    int64_t last_prune_ms = 0;
    int64_t next_metrics_ms = hb_now_ms(); /* the first snapshot right after connecting */
    int64_t last_arrival_ms = 0;
    while (!stop_requested) {
        rt.arrived = 0;
        /* With a batch open, only look for more without waiting. */
        bus_ops->run_once(rt.bus, rt.in_batch ? 0 : 50);
        if (rt.arrived > 0) {
            last_arrival_ms = hb_now_ms();
        }
        if (rt.in_batch && rt.arrived == 0) {
            finish_batch(&rt);
        }
        if (rt.in_batch) {
            continue;
        }
        if (hb_now_ms() >= next_tick_ms) {
            run_tick(&rt, &last_prune_ms);
            next_tick_ms = hb_now_ms() + TICK_INTERVAL_MS;
        }
        if (rt.cfg.metrics_interval_ms > 0 && hb_now_ms() >= next_metrics_ms &&
            bus_ops->connected(rt.bus)) {
            publish_metrics(&rt);
            next_metrics_ms = hb_now_ms() + rt.cfg.metrics_interval_ms;
        }
        flush_outbox(&rt);
        /* After the relay, and only once nothing has come for a while: a checkpoint then
         * delays no message and no event that just committed. */
        if (rt.arrived == 0 && hb_now_ms() - last_arrival_ms >= IDLE_AFTER_MS) {
            hb_store_idle(rt.ctx.store);
        }
    }
    notify_systemd("STOPPING=1");
    finish_batch(&rt);
    HB_LOGI(0, "stopping");
    bus_ops->destroy(rt.bus);
    if (def->teardown) {
        def->teardown(&rt.ctx);
    }
    hb_store_close(rt.ctx.store);
    return 0;
}
