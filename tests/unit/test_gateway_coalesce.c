/* Unit tests of the gateway's request coalescing (gateway/src/coalesce.c), no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coalesce.h"
#include "hausbus/envelope.h"
#include "pending.h"

#define TOPIC "hausbus/v1/cmd/order/place"
#define OTHER_TOPIC "hausbus/v1/cmd/order/get"
#define NOW 1000000 /* any monotonic time: the core only compares differences */

static const struct gateway_coalesce_options defaults = {
    .capacity = 8,
    .max_items = 64,
    .max_bytes = 65536,
    .depth = 1,
    .stall_ms = 250,
    .expire_ms = 5000,
};

static struct gateway_coalesce *make(const struct gateway_coalesce_options *opt)
{
    struct gateway_coalesce *c = NULL;
    assert_int_equal(gateway_coalesce_create(opt, &c), HB_OK);
    assert_non_null(c);
    return c;
}

/* A ticket as the pending table makes them: slot and a 16-hex-digit sequence. */
static struct gateway_ticket ticket_of(size_t slot)
{
    struct gateway_ticket t = {.slot = slot};
    snprintf(t.correlation, sizeof(t.correlation), "%016zx", slot + 1);
    return t;
}

/* Queues request n of topic: CloudEvent text {"id":"ev-<n>"}, id "ev-<n>", slot n. */
static void add(struct gateway_coalesce *c, const char *topic, size_t n, int64_t now)
{
    char id[32];
    char text[64];
    snprintf(id, sizeof(id), "ev-%zu", n);
    snprintf(text, sizeof(text), "{\"id\":\"%s\"}", id);
    struct gateway_ticket t = ticket_of(n);
    assert_int_equal(gateway_coalesce_add(c, topic, &t, id, strdup(text), strlen(text), now),
                     HB_OK);
}

static void answer(struct gateway_coalesce *c, const struct gateway_coalesce_batch *b)
{
    assert_true(gateway_coalesce_answered(c, b->correlation, GATEWAY_CORRELATION_LEN, NULL, 0,
                                          NULL, NULL));
}

/* Answers b and clears it. */
static void finish(struct gateway_coalesce *c, struct gateway_coalesce_batch *b)
{
    answer(c, b);
    gateway_coalesce_batch_clear(b);
}

/* Queues request n of topic on an idle topic and takes it: it must go alone. */
static struct gateway_coalesce_batch send_alone(struct gateway_coalesce *c, const char *topic,
                                                size_t n, int64_t now)
{
    struct gateway_coalesce_batch b;
    add(c, topic, n, now);
    assert_true(gateway_coalesce_take(c, topic, now, &b));
    assert_int_equal(b.n_items, 1);
    return b;
}

static void lone_request_goes_at_once_alone(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    add(c, TOPIC, 0, NOW);
    struct gateway_coalesce_batch b;
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 1);
    /* Exactly today's message: the CloudEvent itself, the request's own correlation. */
    assert_string_equal(b.payload, "{\"id\":\"ev-0\"}");
    assert_int_equal(b.len, strlen(b.payload));
    assert_string_equal(b.correlation, ticket_of(0).correlation);
    assert_false(gateway_coalesce_is_batch(b.correlation, GATEWAY_CORRELATION_LEN));
    assert_string_equal(b.topic, TOPIC);
    assert_int_equal(b.tickets[0].slot, 0);
    gateway_coalesce_batch_clear(&b);
    assert_false(gateway_coalesce_take(c, TOPIC, NOW, &b)); /* nothing left */
    gateway_coalesce_destroy(c);
}

static void requests_behind_an_unanswered_one_go_together_when_it_is_answered(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch first = send_alone(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW + 1);
    add(c, TOPIC, 2, NOW + 1);
    add(c, TOPIC, 3, NOW + 2);
    struct gateway_coalesce_batch b;
    assert_false(gateway_coalesce_take(c, TOPIC, NOW + 2, &b)); /* the first holds them back */
    finish(c, &first);

    assert_true(gateway_coalesce_take(c, TOPIC, NOW + 3, &b));
    assert_int_equal(b.n_items, 3);
    assert_string_equal(b.payload, "[{\"id\":\"ev-1\"},{\"id\":\"ev-2\"},{\"id\":\"ev-3\"}]");
    assert_int_equal(b.len, strlen(b.payload));
    assert_true(gateway_coalesce_is_batch(b.correlation, GATEWAY_CORRELATION_LEN));
    assert_int_equal(strlen(b.correlation), GATEWAY_CORRELATION_LEN);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(b.tickets[i].slot, i + 1);
        assert_string_equal(b.tickets[i].correlation, ticket_of(i + 1).correlation);
    }
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void depth_two_sends_two_alone_before_requests_queue(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.depth = 2;
    struct gateway_coalesce *c = make(&opt);
    struct gateway_coalesce_batch a, b, q;
    a = send_alone(c, TOPIC, 0, NOW);
    b = send_alone(c, TOPIC, 1, NOW); /* the second goes at once too */
    add(c, TOPIC, 2, NOW);
    add(c, TOPIC, 3, NOW);
    assert_false(gateway_coalesce_take(c, TOPIC, NOW, &q));
    answer(c, &b); /* either one frees the topic */
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &q));
    assert_int_equal(q.n_items, 2);
    gateway_coalesce_batch_clear(&a);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_batch_clear(&q);
    gateway_coalesce_destroy(c);
}

static void topics_queue_apart(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch a, b;
    a = send_alone(c, TOPIC, 0, NOW);
    add(c, OTHER_TOPIC, 1, NOW); /* another command is not held back by order.place */
    assert_true(gateway_coalesce_take(c, OTHER_TOPIC, NOW, &b));
    assert_string_equal(b.topic, OTHER_TOPIC);
    assert_int_equal(b.tickets[0].slot, 1);
    gateway_coalesce_batch_clear(&b);
    assert_false(gateway_coalesce_take(c, "hausbus/v1/cmd/nobody/ever", NOW, &b));
    gateway_coalesce_batch_clear(&a);
    gateway_coalesce_destroy(c);
}

static void a_batch_holds_at_most_max_items(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.max_items = 2;
    opt.depth = 3;
    struct gateway_coalesce *c = make(&opt);
    struct gateway_coalesce_batch held, b[3];
    held = send_alone(c, TOPIC, 0, NOW);
    b[0] = send_alone(c, TOPIC, 1, NOW);
    b[1] = send_alone(c, TOPIC, 2, NOW);
    for (size_t n = 3; n < 8; n++) {
        add(c, TOPIC, n, NOW);
    }
    struct gateway_coalesce_batch more;
    assert_false(gateway_coalesce_take(c, TOPIC, NOW, &more)); /* three unanswered */
    finish(c, &held);
    finish(c, &b[0]);
    finish(c, &b[1]);
    /* Five queued, two per message, three messages at once: 2 + 2 + 1. */
    size_t sizes[3];
    for (size_t i = 0; i < 3; i++) {
        assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b[i]));
        sizes[i] = b[i].n_items;
    }
    assert_false(gateway_coalesce_take(c, TOPIC, NOW, &more));
    assert_int_equal(sizes[0], 2);
    assert_int_equal(sizes[1], 2);
    assert_int_equal(sizes[2], 1);
    assert_int_equal(b[0].tickets[0].slot, 3); /* oldest first */
    assert_int_equal(b[2].tickets[0].slot, 7);
    for (size_t i = 0; i < 3; i++) {
        gateway_coalesce_batch_clear(&b[i]);
    }
    gateway_coalesce_destroy(c);
}

static void a_batch_holds_at_most_max_bytes(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    /* Each request is {"id":"ev-N"}, 13 bytes: "[a,b]" is 29 bytes, "[a,b,c]" 43. */
    opt.max_bytes = 42;
    struct gateway_coalesce *c = make(&opt);
    struct gateway_coalesce_batch held, b;
    held = send_alone(c, TOPIC, 0, NOW);
    for (size_t n = 1; n <= 3; n++) {
        add(c, TOPIC, n, NOW);
    }
    finish(c, &held);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 2);
    assert_true(b.len <= opt.max_bytes);
    finish(c, &b);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 1);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void a_request_larger_than_max_bytes_still_goes_alone(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.max_bytes = 8;
    struct gateway_coalesce *c = make(&opt);
    add(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW);
    struct gateway_coalesce_batch b;
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 1);
    assert_string_equal(b.payload, "{\"id\":\"ev-0\"}");
    finish(c, &b);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 1);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void an_unanswered_message_stops_holding_the_queue_after_stall_ms(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch lost, b;
    lost = send_alone(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW + 10);
    add(c, TOPIC, 2, NOW + 20);
    assert_false(gateway_coalesce_take(c, TOPIC, NOW + defaults.stall_ms - 1, &b));
    assert_true(gateway_coalesce_take(c, TOPIC, NOW + defaults.stall_ms, &b));
    assert_int_equal(b.n_items, 2);
    /* The stalled one is still known: a late reply still reaches its waiter. */
    answer(c, &lost);
    answer(c, &b);
    gateway_coalesce_batch_clear(&lost);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void a_message_unanswered_for_expire_ms_is_forgotten(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch lost, b;
    lost = send_alone(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW + defaults.expire_ms);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW + defaults.expire_ms, &b));
    assert_false(gateway_coalesce_answered(c, lost.correlation, GATEWAY_CORRELATION_LEN, NULL, 0,
                                           NULL, NULL));
    answer(c, &b);
    gateway_coalesce_batch_clear(&lost);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void answered_names_the_topic_and_the_waiters_in_order(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch first, b;
    first = send_alone(c, TOPIC, 0, NOW);
    add(c, TOPIC, 5, NOW);
    add(c, TOPIC, 3, NOW);
    answer(c, &first);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));

    char topic[GATEWAY_COALESCE_TOPIC_MAX];
    struct gateway_coalesce_waiter waiters[HB_BUS_BATCH_MAX];
    size_t n = 0;
    assert_true(gateway_coalesce_answered(c, b.correlation, GATEWAY_CORRELATION_LEN, topic,
                                          sizeof(topic), waiters, &n));
    assert_string_equal(topic, TOPIC);
    assert_int_equal(n, 2);
    assert_string_equal(waiters[0].id, "ev-5");
    assert_int_equal(waiters[0].ticket.slot, 5);
    assert_string_equal(waiters[1].id, "ev-3");
    assert_string_equal(waiters[1].ticket.correlation, ticket_of(3).correlation);
    /* Once only: a second reply with the same correlation finds nobody. */
    assert_false(gateway_coalesce_answered(c, b.correlation, GATEWAY_CORRELATION_LEN, topic,
                                           sizeof(topic), waiters, &n));
    assert_false(gateway_coalesce_answered(c, "0000000000000001", GATEWAY_CORRELATION_LEN, NULL,
                                           0, NULL, NULL));
    assert_false(gateway_coalesce_answered(c, b.correlation, 3, NULL, 0, NULL, NULL));
    assert_false(gateway_coalesce_answered(c, NULL, 0, NULL, 0, NULL, NULL));
    gateway_coalesce_batch_clear(&first);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_destroy(c);
}

static void batch_correlations_differ(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    char seen[4][GATEWAY_CORRELATION_LEN + 1];
    struct gateway_coalesce_batch held;
    held = send_alone(c, TOPIC, 0, NOW);
    for (size_t round = 0; round < 4; round++) {
        add(c, TOPIC, 1, NOW);
        add(c, TOPIC, 2, NOW);
        answer(c, &held);
        gateway_coalesce_batch_clear(&held);
        assert_true(gateway_coalesce_take(c, TOPIC, NOW, &held));
        assert_int_equal(held.n_items, 2);
        snprintf(seen[round], sizeof(seen[round]), "%s", held.correlation);
        for (size_t before = 0; before < round; before++) {
            assert_string_not_equal(seen[before], seen[round]);
        }
    }
    gateway_coalesce_batch_clear(&held);
    gateway_coalesce_destroy(c);
}

static void a_forgotten_request_leaves_the_queue(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_coalesce_batch first, b;
    first = send_alone(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW);
    add(c, TOPIC, 2, NOW);
    add(c, TOPIC, 3, NOW);
    struct gateway_ticket gone = ticket_of(2);
    assert_true(gateway_coalesce_forget(c, &gone));
    assert_false(gateway_coalesce_forget(c, &gone));
    struct gateway_ticket sent = ticket_of(0);
    assert_false(gateway_coalesce_forget(c, &sent)); /* sent: its message keeps it */
    gone = ticket_of(3);
    assert_true(gateway_coalesce_forget(c, &gone)); /* the tail */
    answer(c, &first);
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 1);
    assert_int_equal(b.tickets[0].slot, 1);
    finish(c, &b);
    add(c, TOPIC, 4, NOW); /* the queue still appends after its tail was taken out */
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.tickets[0].slot, 4);
    gateway_coalesce_batch_clear(&b);
    gateway_coalesce_batch_clear(&first);
    gateway_coalesce_destroy(c);
}

/* What the waiter's flush did: the slots of the requests it sent, in order. */
struct flushed {
    struct gateway_coalesce *c;
    size_t calls;
    size_t sent[8];
    size_t n_sent;
};

/* A gateway_coalesce_flush_fn that publishes nothing: its messages are lost. */
static void flush_into_the_void(void *ctx, const char *topic)
{
    struct flushed *f = ctx;
    struct gateway_coalesce_batch b;
    f->calls++;
    while (gateway_coalesce_take(f->c, topic, hb_now_ms(), &b)) {
        for (size_t i = 0; i < b.n_items && f->n_sent < 8; i++) {
            f->sent[f->n_sent++] = b.tickets[i].slot;
        }
        gateway_coalesce_batch_clear(&b);
    }
}

/* Opens a pending ticket and queues its request (CloudEvent {"id":"ev-<slot>"}). */
static struct gateway_ticket queue_request(struct gateway_coalesce *c,
                                           struct gateway_pending *pending, int64_t now)
{
    struct gateway_ticket t;
    char id[32];
    char text[64];
    assert_int_equal(gateway_pending_open(pending, &t), HB_OK);
    snprintf(id, sizeof(id), "ev-%zu", t.slot);
    snprintf(text, sizeof(text), "{\"id\":\"%s\"}", id);
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, id, strdup(text), strlen(text), now),
                     HB_OK);
    return t;
}

/* A request queued behind messages that are lost, one after another (each sent only once
 * the one before stalled), still goes out: the waiter checks the queue at every stall,
 * not only at the first. */
static void a_waiter_sends_its_queue_at_every_stall_until_its_request_goes(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.max_items = 1;
    opt.stall_ms = 20;
    struct gateway_coalesce *c = make(&opt);
    struct gateway_pending *pending = NULL;
    assert_int_equal(gateway_pending_create(8, &pending), HB_OK);
    struct flushed f = {.c = c};
    int64_t now = hb_now_ms();
    struct gateway_ticket lost = queue_request(c, pending, now);
    flush_into_the_void(&f, TOPIC);
    assert_int_equal(f.n_sent, 1); /* the lone request went at once */
    struct gateway_ticket before = queue_request(c, pending, now);
    struct gateway_ticket mine = queue_request(c, pending, now);
    struct gateway_answer reply;
    assert_int_equal(gateway_coalesce_wait(c, pending, TOPIC, &mine, 300, flush_into_the_void,
                                           &f, &reply),
                     HB_ERR_TIMEOUT);
    /* The first stall sent the request before mine, a later one mine. */
    assert_int_equal(f.n_sent, 3);
    assert_int_equal(f.sent[0], lost.slot);
    assert_int_equal(f.sent[1], before.slot);
    assert_int_equal(f.sent[2], mine.slot);
    assert_true(f.calls >= 3);
    gateway_pending_destroy(pending);
    gateway_coalesce_destroy(c);
}

static void a_waiter_whose_reply_is_in_takes_it_without_sending_anything(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_pending *pending = NULL;
    assert_int_equal(gateway_pending_create(8, &pending), HB_OK);
    struct flushed f = {.c = c};
    struct gateway_ticket t = queue_request(c, pending, hb_now_ms());
    static const char answer_text[] = "{\"code\":200,\"body\":{}}";
    assert_true(gateway_pending_deliver(pending, t.correlation, GATEWAY_CORRELATION_LEN,
                                        answer_text, strlen(answer_text)));
    struct gateway_answer reply;
    assert_int_equal(gateway_coalesce_wait(c, pending, TOPIC, &t, 5000, flush_into_the_void, &f,
                                           &reply),
                     HB_OK);
    assert_string_equal(reply.text, answer_text);
    assert_int_equal(f.calls, 0);
    gateway_answer_clear(&reply);
    assert_int_equal(gateway_pending_in_use(pending), 0);
    gateway_pending_destroy(pending);
    gateway_coalesce_destroy(c);
}

/* A gateway_coalesce_flush_fn that sends nothing: the queue stays held. */
static void flush_nothing(void *ctx, const char *topic)
{
    (void)topic;
    ((struct flushed *)ctx)->calls++;
}

static void a_waiter_that_times_out_leaves_the_queue(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.stall_ms = 20;
    struct gateway_coalesce *c = make(&opt);
    struct gateway_pending *pending = NULL;
    assert_int_equal(gateway_pending_create(8, &pending), HB_OK);
    struct flushed f = {.c = c};
    struct gateway_ticket t = queue_request(c, pending, hb_now_ms());
    struct gateway_answer reply;
    assert_int_equal(gateway_coalesce_wait(c, pending, TOPIC, &t, 50, flush_nothing, &f, &reply),
                     HB_ERR_TIMEOUT);
    assert_true(f.calls >= 1);
    assert_false(gateway_coalesce_forget(c, &t)); /* already out of the queue */
    struct gateway_coalesce_batch b;
    assert_false(gateway_coalesce_take(c, TOPIC, hb_now_ms(), &b));
    assert_int_equal(gateway_pending_in_use(pending), 0);
    gateway_pending_destroy(pending);
    gateway_coalesce_destroy(c);
}

static void a_full_pool_refuses_more_requests(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.capacity = 1; /* room for two requests */
    struct gateway_coalesce *c = make(&opt);
    add(c, TOPIC, 0, NOW);
    add(c, TOPIC, 1, NOW);
    struct gateway_ticket t = ticket_of(2);
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, "ev-2", strdup("{}"), 2, NOW),
                     HB_ERR_BUSY);
    /* Sent, the two keep their places until their message is answered or forgotten. */
    struct gateway_coalesce_batch b;
    assert_true(gateway_coalesce_take(c, TOPIC, NOW, &b));
    assert_int_equal(b.n_items, 2);
    gateway_coalesce_batch_clear(&b);
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, "ev-2", strdup("{}"), 2,
                                          NOW + opt.expire_ms - 1),
                     HB_ERR_BUSY);
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, "ev-2", strdup("{}"), 2,
                                          NOW + opt.expire_ms),
                     HB_OK);
    gateway_coalesce_destroy(c); /* frees the queued payload */
}

static void bad_requests_are_refused_and_their_payload_freed(void **state)
{
    (void)state;
    struct gateway_coalesce *c = make(&defaults);
    struct gateway_ticket t = ticket_of(0);
    char long_topic[GATEWAY_COALESCE_TOPIC_MAX + 1];
    memset(long_topic, 'x', sizeof(long_topic) - 1);
    long_topic[sizeof(long_topic) - 1] = '\0';
    assert_int_equal(gateway_coalesce_add(c, long_topic, &t, "ev", strdup("{}"), 2, NOW),
                     HB_ERR_INVAL);
    char long_id[GATEWAY_COALESCE_ID_MAX + 1];
    memset(long_id, 'i', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, long_id, strdup("{}"), 2, NOW),
                     HB_ERR_INVAL);
    assert_int_equal(gateway_coalesce_add(c, TOPIC, &t, "ev", NULL, 0, NOW), HB_ERR_INVAL);
    gateway_coalesce_destroy(c);
}

static void more_topics_than_the_table_holds_are_busy(void **state)
{
    (void)state;
    struct gateway_coalesce_options opt = defaults;
    opt.capacity = GATEWAY_COALESCE_TOPICS_MAX + 1;
    struct gateway_coalesce *c = make(&opt);
    char topic[64];
    for (size_t i = 0; i < GATEWAY_COALESCE_TOPICS_MAX; i++) {
        snprintf(topic, sizeof(topic), "hausbus/v1/cmd/c/%zu", i);
        add(c, topic, i, NOW);
    }
    struct gateway_ticket t = ticket_of(GATEWAY_COALESCE_TOPICS_MAX);
    assert_int_equal(gateway_coalesce_add(c, "hausbus/v1/cmd/c/one-more", &t, "ev",
                                          strdup("{}"), 2, NOW),
                     HB_ERR_BUSY);
    gateway_coalesce_destroy(c);
}

static void options_out_of_range_are_refused(void **state)
{
    (void)state;
    struct gateway_coalesce *c = NULL;
    struct gateway_coalesce_options opt = defaults;
    opt.capacity = 0;
    assert_int_equal(gateway_coalesce_create(&opt, &c), HB_ERR_INVAL);
    opt = defaults;
    opt.max_items = HB_BUS_BATCH_MAX + 1;
    assert_int_equal(gateway_coalesce_create(&opt, &c), HB_ERR_INVAL);
    opt = defaults;
    opt.max_items = 0;
    assert_int_equal(gateway_coalesce_create(&opt, &c), HB_ERR_INVAL);
    opt = defaults;
    opt.depth = 0;
    assert_int_equal(gateway_coalesce_create(&opt, &c), HB_ERR_INVAL);
    opt = defaults;
    opt.expire_ms = opt.stall_ms - 1;
    assert_int_equal(gateway_coalesce_create(&opt, &c), HB_ERR_INVAL);
    assert_int_equal(gateway_coalesce_create(NULL, &c), HB_ERR_INVAL);
    assert_null(c);
    gateway_coalesce_destroy(NULL);
}

static void only_batch_correlations_are_batches(void **state)
{
    (void)state;
    assert_true(gateway_coalesce_is_batch("B000000000000001", GATEWAY_CORRELATION_LEN));
    assert_false(gateway_coalesce_is_batch("0000000000000001", GATEWAY_CORRELATION_LEN));
    assert_false(gateway_coalesce_is_batch("B00", 3));
    assert_false(gateway_coalesce_is_batch(NULL, GATEWAY_CORRELATION_LEN));
}

static void join_makes_a_json_array(void **state)
{
    (void)state;
    const char *texts[] = {"{\"a\":1}", "{}", "[2]"};
    size_t lens[] = {7, 2, 3};
    size_t len = 0;
    char *one = gateway_coalesce_join(texts, lens, 1, &len);
    assert_string_equal(one, "[{\"a\":1}]");
    assert_int_equal(len, 9);
    char *three = gateway_coalesce_join(texts, lens, 3, &len);
    assert_string_equal(three, "[{\"a\":1},{},[2]]");
    assert_int_equal(len, strlen(three));
    free(one);
    free(three);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lone_request_goes_at_once_alone),
        cmocka_unit_test(requests_behind_an_unanswered_one_go_together_when_it_is_answered),
        cmocka_unit_test(depth_two_sends_two_alone_before_requests_queue),
        cmocka_unit_test(topics_queue_apart),
        cmocka_unit_test(a_batch_holds_at_most_max_items),
        cmocka_unit_test(a_batch_holds_at_most_max_bytes),
        cmocka_unit_test(a_request_larger_than_max_bytes_still_goes_alone),
        cmocka_unit_test(an_unanswered_message_stops_holding_the_queue_after_stall_ms),
        cmocka_unit_test(a_message_unanswered_for_expire_ms_is_forgotten),
        cmocka_unit_test(answered_names_the_topic_and_the_waiters_in_order),
        cmocka_unit_test(batch_correlations_differ),
        cmocka_unit_test(a_forgotten_request_leaves_the_queue),
        cmocka_unit_test(a_waiter_sends_its_queue_at_every_stall_until_its_request_goes),
        cmocka_unit_test(a_waiter_whose_reply_is_in_takes_it_without_sending_anything),
        cmocka_unit_test(a_waiter_that_times_out_leaves_the_queue),
        cmocka_unit_test(a_full_pool_refuses_more_requests),
        cmocka_unit_test(bad_requests_are_refused_and_their_payload_freed),
        cmocka_unit_test(more_topics_than_the_table_holds_are_busy),
        cmocka_unit_test(options_out_of_range_are_refused),
        cmocka_unit_test(only_batch_correlations_are_batches),
        cmocka_unit_test(join_makes_a_json_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
