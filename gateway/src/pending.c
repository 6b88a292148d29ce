/* In-flight request table: bounded slots, each with its own lock and semaphore; one
 * table lock for the free list only. */
#define _GNU_SOURCE /* sem_clockwait */
#include "pending.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NO_SLOT SIZE_MAX

enum slot_state {
    SLOT_FREE,
    SLOT_WAITING,  /* opened; the reply has not come */
    SLOT_ANSWERED, /* the answer (or a copy failure) is in the slot */
};

/* A slot's lock guards all of it but next_free and ready. A waiter and the MQTT thread
 * meet only here, so one hand-off never waits for another request's. The waiter sleeps
 * on a semaphore, not a condition variable: glibc marks a mutex contended when a
 * condition wait takes it back, so every answer cost a third futex call (the waiter's
 * unlock) on top of the one wait and the one wake a hand-off needs. */
struct slot {
    pthread_mutex_t lock;
    sem_t ready; /* posted once per answer; the waiter checks state after each wake */
    enum slot_state state;
    bool copy_failed; /* ANSWERED with a lone reply that could not be copied */
    char correlation[GATEWAY_CORRELATION_LEN + 1];
    struct gateway_answer answer; /* owned while ANSWERED */
    size_t next_free;             /* in the free list; under the table's lock */
};

struct gateway_pending {
    pthread_mutex_t lock;   /* the free list, next_sequence and in_use */
    uint64_t next_sequence; /* makes every correlation id unique within the process */
    size_t capacity;
    size_t in_use;
    size_t free_head; /* first free slot, NO_SLOT when all are taken */
    struct slot slots[]; /* capacity of them */
};

void gateway_answer_clear(struct gateway_answer *answer)
{
    if (!answer) {
        return;
    }
    free(answer->text);
    gateway_reply_clear(&answer->reply);
    memset(answer, 0, sizeof(*answer));
}

hb_err_t gateway_pending_create(size_t capacity, struct gateway_pending **out)
{
    if (capacity == 0 || capacity > 1u << 20 || !out) {
        return HB_ERR_INVAL;
    }
    struct gateway_pending *table =
        calloc(1, sizeof(*table) + capacity * sizeof(table->slots[0]));
    if (!table) {
        return HB_ERR_NOMEM;
    }
    size_t ready = 0;
    if (pthread_mutex_init(&table->lock, NULL) != 0) {
        free(table);
        return HB_ERR_NOMEM;
    }
    for (; ready < capacity; ready++) {
        struct slot *s = &table->slots[ready];
        if (pthread_mutex_init(&s->lock, NULL) != 0) {
            goto err;
        }
        if (sem_init(&s->ready, 0, 0) != 0) {
            pthread_mutex_destroy(&s->lock);
            goto err;
        }
        /* Lowest slots first: only as many are ever touched as were busy at once. */
        s->next_free = ready + 1 < capacity ? ready + 1 : NO_SLOT;
    }
    table->capacity = capacity;
    table->next_sequence = 1;
    table->free_head = 0;
    *out = table;
    return HB_OK;
err:
    while (ready > 0) {
        ready--;
        sem_destroy(&table->slots[ready].ready);
        pthread_mutex_destroy(&table->slots[ready].lock);
    }
    pthread_mutex_destroy(&table->lock);
    free(table);
    return HB_ERR_NOMEM;
}

void gateway_pending_destroy(struct gateway_pending *table)
{
    if (!table) {
        return;
    }
    for (size_t i = 0; i < table->capacity; i++) {
        gateway_answer_clear(&table->slots[i].answer);
        sem_destroy(&table->slots[i].ready);
        pthread_mutex_destroy(&table->slots[i].lock);
    }
    pthread_mutex_destroy(&table->lock);
    free(table);
}

hb_err_t gateway_pending_open(struct gateway_pending *table, struct gateway_ticket *out)
{
    pthread_mutex_lock(&table->lock);
    size_t i = table->free_head;
    if (i == NO_SLOT) {
        pthread_mutex_unlock(&table->lock);
        return HB_ERR_BUSY;
    }
    struct slot *s = &table->slots[i];
    table->free_head = s->next_free;
    table->in_use++;
    /* A sequence, not only the slot index, so that a late reply to the previous user of
     * this slot cannot be taken for the answer to the new one; the slot index is in it
     * too (the remainder by capacity), so a reply finds its slot without a search. */
    uint64_t id = table->next_sequence++ * (uint64_t)table->capacity + i;
    pthread_mutex_unlock(&table->lock);

    /* Off the free list, the slot is this thread's until it is answered. */
    pthread_mutex_lock(&s->lock);
    /* A post the previous user never waited for (its answer came before it looked) would
     * only cost this one a spurious wake; take it now. */
    while (sem_trywait(&s->ready) == 0) {
    }
    s->state = SLOT_WAITING;
    s->copy_failed = false;
    snprintf(s->correlation, sizeof(s->correlation), "%016llx", (unsigned long long)id);
    pthread_mutex_unlock(&s->lock);
    out->slot = i;
    memcpy(out->correlation, s->correlation, sizeof(out->correlation));
    return HB_OK;
}

/* Locks and returns the slot ticket refers to if it is still the ticket's; NULL (nothing
 * locked) otherwise. */
static struct slot *lock_ticket_slot(struct gateway_pending *table,
                                     const struct gateway_ticket *ticket)
{
    if (ticket->slot >= table->capacity) {
        return NULL;
    }
    struct slot *s = &table->slots[ticket->slot];
    pthread_mutex_lock(&s->lock);
    if (s->state == SLOT_FREE || strcmp(s->correlation, ticket->correlation) != 0) {
        pthread_mutex_unlock(&s->lock);
        return NULL;
    }
    return s;
}

/* Returns locked slot s (index i) to the free pool, dropping any answer, and unlocks it. */
static void slot_release(struct gateway_pending *table, struct slot *s, size_t i)
{
    gateway_answer_clear(&s->answer);
    s->correlation[0] = '\0';
    s->state = SLOT_FREE;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&table->lock);
    s->next_free = table->free_head;
    table->free_head = i;
    table->in_use--;
    pthread_mutex_unlock(&table->lock);
}

/* The monotonic time timeout_ms from now (now itself for 0 or less). */
static struct timespec deadline_in(int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec += 1;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    return deadline;
}

/* Waits until locked slot s is answered or timeout_ms pass; returns with s locked. Only
 * the ticket's holder frees a slot, so s stays this waiter's while unlocked. */
static void await_slot(struct slot *s, int timeout_ms)
{
    if (s->state != SLOT_WAITING || timeout_ms <= 0) {
        return; /* no clock read when there is nothing to wait for */
    }
    /* Monotonic: timeouts must not stretch or shrink when the wall clock is set. */
    struct timespec deadline = deadline_in(timeout_ms);
    while (s->state == SLOT_WAITING) {
        pthread_mutex_unlock(&s->lock);
        int rc;
        do {
            rc = sem_clockwait(&s->ready, CLOCK_MONOTONIC, &deadline);
        } while (rc != 0 && errno == EINTR);
        pthread_mutex_lock(&s->lock);
        if (rc != 0) {
            break; /* timed out: the caller checks the state once more */
        }
    }
}

bool gateway_pending_await(struct gateway_pending *table, const struct gateway_ticket *ticket,
                           int timeout_ms)
{
    struct slot *s = lock_ticket_slot(table, ticket);
    if (!s) {
        return false;
    }
    await_slot(s, timeout_ms);
    bool answered = s->state == SLOT_ANSWERED;
    pthread_mutex_unlock(&s->lock);
    return answered;
}

hb_err_t gateway_pending_wait(struct gateway_pending *table, const struct gateway_ticket *ticket,
                              int timeout_ms, struct gateway_answer *answer)
{
    memset(answer, 0, sizeof(*answer));
    struct slot *s = lock_ticket_slot(table, ticket);
    if (!s) {
        return HB_ERR_INVAL;
    }
    await_slot(s, timeout_ms);
    hb_err_t result = HB_ERR_TIMEOUT;
    if (s->state == SLOT_ANSWERED) {
        result = s->copy_failed ? HB_ERR_NOMEM : HB_OK;
        *answer = s->answer; /* handed over */
        memset(&s->answer, 0, sizeof(s->answer));
    }
    slot_release(table, s, ticket->slot);
    return result;
}

void gateway_pending_close(struct gateway_pending *table, const struct gateway_ticket *ticket)
{
    struct slot *s = lock_ticket_slot(table, ticket);
    if (s) {
        slot_release(table, s, ticket->slot);
    }
}

/* A malloc'd NUL-terminated copy of len bytes of payload (NULL: empty); NULL when out of
 * memory. Made before taking the slot's lock: the waiter may be spinning on it. */
static char *copy_reply(const char *payload, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        if (len > 0) {
            memcpy(copy, payload, len);
        }
        copy[len] = '\0';
    }
    return copy;
}

/* Marks locked, waiting slot s answered, unlocks it and wakes its waiter. The post
 * comes after the unlock, so the waiter does not wake only to block on the lock; a post
 * that reaches the slot's next user instead costs that one a spurious wake, no more. */
static void slot_answer(struct slot *s)
{
    s->state = SLOT_ANSWERED;
    pthread_mutex_unlock(&s->lock);
    sem_post(&s->ready);
}

/* The slot index in correlation (GATEWAY_CORRELATION_LEN lower-case hex digits, as
 * gateway_pending_open writes them); false when it is not such a text. */
static bool correlation_slot(const struct gateway_pending *table, const char *correlation,
                             size_t *slot)
{
    uint64_t id = 0;
    for (size_t i = 0; i < GATEWAY_CORRELATION_LEN; i++) {
        char c = correlation[i];
        unsigned digit;
        if (c >= '0' && c <= '9') {
            digit = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            digit = (unsigned)(c - 'a' + 10);
        } else {
            return false;
        }
        id = id << 4 | digit;
    }
    *slot = (size_t)(id % table->capacity);
    return true;
}

bool gateway_pending_deliver(struct gateway_pending *table, const void *correlation,
                             size_t correlation_len, const char *payload, size_t len)
{
    size_t i = 0;
    if (!correlation || correlation_len != GATEWAY_CORRELATION_LEN || (!payload && len > 0) ||
        !correlation_slot(table, correlation, &i)) {
        return false;
    }
    struct slot *s = &table->slots[i];
    char *copy = copy_reply(payload, len);
    pthread_mutex_lock(&s->lock);
    if (s->state != SLOT_WAITING ||
        memcmp(s->correlation, correlation, GATEWAY_CORRELATION_LEN) != 0) {
        pthread_mutex_unlock(&s->lock);
        free(copy);
        return false;
    }
    s->answer.text = copy;
    s->answer.len = copy ? len : 0;
    s->copy_failed = copy == NULL;
    slot_answer(s);
    return true;
}

size_t gateway_pending_deliver_each(struct gateway_pending *table,
                                    struct gateway_delivery *deliveries, size_t n)
{
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        struct gateway_delivery *d = &deliveries[i];
        struct slot *s = lock_ticket_slot(table, &d->ticket);
        if (!s || s->state != SLOT_WAITING) {
            if (s) {
                pthread_mutex_unlock(&s->lock);
            }
            gateway_reply_clear(&d->reply);
            continue;
        }
        s->answer.reply = d->reply; /* its body is the slot's now */
        s->answer.why = d->why;
        memset(&d->reply, 0, sizeof(d->reply));
        slot_answer(s);
        matched++;
    }
    return matched;
}

size_t gateway_pending_in_use(struct gateway_pending *table)
{
    pthread_mutex_lock(&table->lock);
    size_t n = table->in_use;
    pthread_mutex_unlock(&table->lock);
    return n;
}
