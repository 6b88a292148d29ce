/* Unit tests of the gateway's in-flight request table (gateway/src/pending.c), no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hausbus/envelope.h"
#include "pending.h"

static struct gateway_pending *make_table(size_t capacity)
{
    struct gateway_pending *table = NULL;
    assert_int_equal(gateway_pending_create(capacity, &table), HB_OK);
    assert_non_null(table);
    return table;
}

/* gateway_pending_wait for a lone reply's text (the caller frees *reply). */
static hb_err_t wait_text(struct gateway_pending *table, const struct gateway_ticket *ticket,
                          int timeout_ms, char **reply, size_t *len)
{
    struct gateway_answer answer;
    hb_err_t rc = gateway_pending_wait(table, ticket, timeout_ms, &answer);
    *reply = answer.text;
    *len = answer.len;
    answer.text = NULL;
    gateway_answer_clear(&answer);
    return rc;
}

static bool deliver_text(struct gateway_pending *table, const struct gateway_ticket *ticket,
                         const char *text)
{
    return gateway_pending_deliver(table, ticket->correlation, GATEWAY_CORRELATION_LEN, text,
                                   strlen(text));
}

static void reply_delivered_before_the_wait_is_returned(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(4);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_int_equal(strlen(ticket.correlation), GATEWAY_CORRELATION_LEN);
    assert_true(deliver_text(table, &ticket, "{\"code\":200}"));

    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 1000, &reply, &len), HB_OK);
    assert_string_equal(reply, "{\"code\":200}");
    assert_int_equal(len, 12);
    free(reply);
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

struct late_delivery {
    struct gateway_pending *table;
    struct gateway_ticket ticket;
    int delay_ms;
    bool delivered;
};

static void *deliver_later(void *arg)
{
    struct late_delivery *job = arg;
    struct timespec delay = {.tv_sec = job->delay_ms / 1000,
                             .tv_nsec = (long)(job->delay_ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
    job->delivered = deliver_text(job->table, &job->ticket, "{\"code\":202}");
    return NULL;
}

static void reply_from_another_thread_wakes_the_waiter(void **state)
{
    (void)state;
    struct late_delivery job = {.table = make_table(4), .delay_ms = 50};
    assert_int_equal(gateway_pending_open(job.table, &job.ticket), HB_OK);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, deliver_later, &job), 0);

    int64_t started = hb_now_ms();
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(job.table, &job.ticket, 5000, &reply, &len), HB_OK);
    assert_true(hb_now_ms() - started < 4000); /* woken, not timed out */
    assert_string_equal(reply, "{\"code\":202}");
    free(reply);
    pthread_join(thread, NULL);
    assert_true(job.delivered);
    gateway_pending_destroy(job.table);
}

static void no_reply_times_out_and_frees_the_slot(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(1);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_int_equal(gateway_pending_in_use(table), 1);

    int64_t started = hb_now_ms();
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 60, &reply, &len), HB_ERR_TIMEOUT);
    assert_true(hb_now_ms() - started >= 55);
    assert_null(reply);
    assert_int_equal(gateway_pending_in_use(table), 0);

    struct gateway_ticket next;
    assert_int_equal(gateway_pending_open(table, &next), HB_OK); /* the one slot is free again */
    gateway_pending_close(table, &next);
    gateway_pending_destroy(table);
}

static void reply_after_the_timeout_is_dropped(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(1);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 10, &reply, &len), HB_ERR_TIMEOUT);

    /* The slot is reused by a new request before the old reply arrives. */
    struct gateway_ticket next;
    assert_int_equal(gateway_pending_open(table, &next), HB_OK);
    assert_int_equal(next.slot, ticket.slot);
    assert_string_not_equal(next.correlation, ticket.correlation);
    assert_false(deliver_text(table, &ticket, "{\"code\":200,\"body\":\"stale\"}"));

    assert_true(deliver_text(table, &next, "{\"code\":200,\"body\":\"fresh\"}"));
    assert_int_equal(wait_text(table, &next, 1000, &reply, &len), HB_OK);
    assert_string_equal(reply, "{\"code\":200,\"body\":\"fresh\"}");
    free(reply);
    assert_false(deliver_text(table, &next, "{\"code\":200}")); /* after the wait: dropped */
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

static void unknown_or_malformed_correlation_is_dropped(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_false(gateway_pending_deliver(table, "ffffffffffffffff", 16, "{}", 2));
    assert_false(gateway_pending_deliver(table, ticket.correlation, 15, "{}", 2));
    assert_false(gateway_pending_deliver(table, ticket.correlation, 17, "{}", 2));
    assert_false(gateway_pending_deliver(table, NULL, 0, "{}", 2));
    /* The slot is read from the correlation: a batch's, or upper-case hex, names none. */
    assert_false(gateway_pending_deliver(table, "B000000000000001", 16, "{}", 2));
    char upper[GATEWAY_CORRELATION_LEN + 1];
    for (size_t i = 0; i <= GATEWAY_CORRELATION_LEN; i++) {
        upper[i] = (char)(ticket.correlation[i] >= 'a' ? ticket.correlation[i] - 32
                                                       : ticket.correlation[i]);
    }
    if (strcmp(upper, ticket.correlation) != 0) {
        assert_false(gateway_pending_deliver(table, upper, 16, "{}", 2));
    }
    assert_int_equal(gateway_pending_in_use(table), 1);
    gateway_pending_close(table, &ticket);
    gateway_pending_destroy(table);
}

static void second_reply_to_one_request_is_dropped(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_true(deliver_text(table, &ticket, "first"));
    assert_false(deliver_text(table, &ticket, "second"));
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 1000, &reply, &len), HB_OK);
    assert_string_equal(reply, "first");
    free(reply);
    gateway_pending_destroy(table);
}

static void full_table_refuses_new_requests(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket a;
    struct gateway_ticket b;
    struct gateway_ticket c;
    assert_int_equal(gateway_pending_open(table, &a), HB_OK);
    assert_int_equal(gateway_pending_open(table, &b), HB_OK);
    assert_int_equal(gateway_pending_open(table, &c), HB_ERR_BUSY);
    gateway_pending_close(table, &a);
    assert_int_equal(gateway_pending_open(table, &c), HB_OK);
    gateway_pending_close(table, &b);
    gateway_pending_close(table, &c);
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

static void closed_ticket_is_no_longer_usable(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    gateway_pending_close(table, &ticket);
    gateway_pending_close(table, &ticket); /* twice is harmless */
    assert_false(deliver_text(table, &ticket, "{}"));
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 10, &reply, &len), HB_ERR_INVAL);
    struct gateway_ticket bogus = {.slot = 99, .correlation = "0000000000000001"};
    assert_int_equal(wait_text(table, &bogus, 10, &reply, &len), HB_ERR_INVAL);
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

static void destroy_frees_replies_nobody_collected(void **state)
{
    (void)state;
    /* Run under ASan/LSan (HAUSBUS_SANITIZE) this proves the reply is not leaked. */
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_true(deliver_text(table, &ticket, "{\"code\":200}"));
    gateway_pending_destroy(table);
    gateway_pending_destroy(NULL);
}

static void empty_reply_payload_is_delivered(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(1);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    assert_true(gateway_pending_deliver(table, ticket.correlation, GATEWAY_CORRELATION_LEN, "",
                                        0));
    char *reply = NULL;
    size_t len = 99;
    assert_int_equal(wait_text(table, &ticket, 100, &reply, &len), HB_OK);
    assert_int_equal(len, 0);
    assert_string_equal(reply, "");
    free(reply);
    gateway_pending_destroy(table);
}

/* A decoded reply with code and a malloc'd copy of body, for deliveries. */
static struct gateway_reply decoded(int code, const char *body)
{
    struct gateway_reply reply = {.code = code, .body = strdup(body), .body_len = strlen(body)};
    assert_non_null(reply.body);
    return reply;
}

static void batch_items_reach_their_tickets_decoded(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(4);
    struct gateway_ticket a, b, gone;
    assert_int_equal(gateway_pending_open(table, &a), HB_OK);
    assert_int_equal(gateway_pending_open(table, &gone), HB_OK);
    assert_int_equal(gateway_pending_open(table, &b), HB_OK);
    gateway_pending_close(table, &gone); /* gave up: its item is dropped (and freed) */
    struct gateway_delivery deliveries[] = {
        {.ticket = b, .reply = decoded(201, "{\"id\":7}")},
        {.ticket = gone, .reply = decoded(500, "{}")},
        {.ticket = a, .why = "no item"}, /* no item for a */
    };
    snprintf(deliveries[0].reply.location, sizeof(deliveries[0].reply.location), "/orders/7");
    assert_int_equal(gateway_pending_deliver_each(table, deliveries, 3), 2);
    for (size_t i = 0; i < 3; i++) {
        assert_null(deliveries[i].reply.body); /* every body taken */
    }
    /* Delivered once: the same tickets again find nobody waiting. */
    struct gateway_delivery again[] = {{.ticket = b, .reply = decoded(202, "{}")}};
    assert_int_equal(gateway_pending_deliver_each(table, again, 1), 0);
    assert_null(again[0].reply.body);

    struct gateway_answer answer;
    assert_int_equal(gateway_pending_wait(table, &b, 100, &answer), HB_OK);
    assert_null(answer.text); /* nothing left to parse */
    assert_null(answer.why);
    assert_int_equal(answer.reply.code, 201);
    assert_string_equal(answer.reply.body, "{\"id\":7}");
    assert_string_equal(answer.reply.location, "/orders/7");
    gateway_answer_clear(&answer);
    assert_int_equal(gateway_pending_wait(table, &a, 100, &answer), HB_OK);
    assert_null(answer.text);
    assert_int_equal(answer.reply.code, 0);
    assert_string_equal(answer.why, "no item");
    gateway_answer_clear(&answer);
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

static void await_leaves_the_slot_open(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(2);
    struct gateway_ticket ticket;
    assert_int_equal(gateway_pending_open(table, &ticket), HB_OK);
    int64_t started = hb_now_ms();
    assert_false(gateway_pending_await(table, &ticket, 30));
    assert_true(hb_now_ms() - started >= 30);
    assert_int_equal(gateway_pending_in_use(table), 1);
    assert_true(deliver_text(table, &ticket, "{\"code\":200}"));
    assert_true(gateway_pending_await(table, &ticket, 1000));
    assert_true(gateway_pending_await(table, &ticket, 0)); /* still there to take */
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &ticket, 0, &reply, &len), HB_OK);
    assert_string_equal(reply, "{\"code\":200}");
    free(reply);
    assert_false(gateway_pending_await(table, &ticket, 0)); /* no longer open */
    gateway_pending_destroy(table);
}

struct waiter {
    struct gateway_pending *table;
    struct gateway_ticket ticket;
    char *reply;
    hb_err_t result;
};

static void *wait_for_reply(void *arg)
{
    struct waiter *w = arg;
    size_t len = 0;
    w->result = wait_text(w->table, &w->ticket, 5000, &w->reply, &len);
    return NULL;
}

static void many_waiters_each_get_their_own_reply(void **state)
{
    (void)state;
    enum { WAITERS = 16 };
    struct gateway_pending *table = make_table(WAITERS);
    struct waiter waiters[WAITERS];
    pthread_t threads[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        waiters[i] = (struct waiter){.table = table};
        assert_int_equal(gateway_pending_open(table, &waiters[i].ticket), HB_OK);
        assert_int_equal(pthread_create(&threads[i], NULL, wait_for_reply, &waiters[i]), 0);
    }
    /* Answer in reverse order, as replies from different components would come. */
    for (int i = WAITERS - 1; i >= 0; i--) {
        char text[32];
        snprintf(text, sizeof(text), "reply %d", i);
        assert_true(deliver_text(table, &waiters[i].ticket, text));
    }
    for (int i = 0; i < WAITERS; i++) {
        char text[32];
        pthread_join(threads[i], NULL);
        snprintf(text, sizeof(text), "reply %d", i);
        assert_int_equal(waiters[i].result, HB_OK);
        assert_string_equal(waiters[i].reply, text);
        free(waiters[i].reply);
    }
    assert_int_equal(gateway_pending_in_use(table), 0);
    gateway_pending_destroy(table);
}

static void an_answer_taken_early_does_not_wake_the_next_request(void **state)
{
    (void)state;
    struct gateway_pending *table = make_table(1);
    struct gateway_ticket first;
    assert_int_equal(gateway_pending_open(table, &first), HB_OK);
    /* The answer is in before its waiter looks, so the wake-up it left is never used. */
    assert_true(deliver_text(table, &first, "{\"code\":200}"));
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(wait_text(table, &first, 1000, &reply, &len), HB_OK);
    free(reply);
    /* The next request in the same slot still waits its full time for its own answer. */
    struct gateway_ticket next;
    assert_int_equal(gateway_pending_open(table, &next), HB_OK);
    assert_int_equal(next.slot, first.slot);
    int64_t started = hb_now_ms();
    assert_false(gateway_pending_await(table, &next, 40));
    assert_true(hb_now_ms() - started >= 39);
    assert_int_equal(wait_text(table, &next, 0, &reply, &len), HB_ERR_TIMEOUT);
    assert_null(reply);
    gateway_pending_destroy(table);
}

static void zero_capacity_is_refused(void **state)
{
    (void)state;
    struct gateway_pending *table = NULL;
    assert_int_equal(gateway_pending_create(0, &table), HB_ERR_INVAL);
    assert_null(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_delivered_before_the_wait_is_returned),
        cmocka_unit_test(reply_from_another_thread_wakes_the_waiter),
        cmocka_unit_test(no_reply_times_out_and_frees_the_slot),
        cmocka_unit_test(reply_after_the_timeout_is_dropped),
        cmocka_unit_test(unknown_or_malformed_correlation_is_dropped),
        cmocka_unit_test(second_reply_to_one_request_is_dropped),
        cmocka_unit_test(full_table_refuses_new_requests),
        cmocka_unit_test(closed_ticket_is_no_longer_usable),
        cmocka_unit_test(destroy_frees_replies_nobody_collected),
        cmocka_unit_test(empty_reply_payload_is_delivered),
        cmocka_unit_test(batch_items_reach_their_tickets_decoded),
        cmocka_unit_test(await_leaves_the_slot_open),
        cmocka_unit_test(many_waiters_each_get_their_own_reply),
        cmocka_unit_test(an_answer_taken_early_does_not_wake_the_next_request),
        cmocka_unit_test(zero_capacity_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
