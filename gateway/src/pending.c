/* In-flight request table: bounded slots, one condition variable each, one lock. */
#include "pending.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum slot_state {
    SLOT_FREE,
    SLOT_WAITING,  /* opened; the reply has not come */
    SLOT_ANSWERED, /* the reply (or a copy failure) is in the slot */
};

struct slot {
    enum slot_state state;
    char correlation[GATEWAY_CORRELATION_LEN + 1];
    char *reply; /* owned while ANSWERED; NULL when the copy failed */
    size_t reply_len;
    pthread_cond_t answered;
};

struct gateway_pending {
    pthread_mutex_t lock;
    uint64_t next_sequence; /* makes every correlation id unique within the process */
    size_t capacity;
    size_t in_use;
    struct slot slots[]; /* capacity of them */
};

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
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(table);
        return HB_ERR_NOMEM;
    }
    size_t ready = 0;
    /* Timeouts must not stretch or shrink when the wall clock is set. */
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0) {
        goto err;
    }
    for (; ready < capacity; ready++) {
        if (pthread_cond_init(&table->slots[ready].answered, &attr) != 0) {
            goto err;
        }
    }
    if (pthread_mutex_init(&table->lock, NULL) != 0) {
        goto err;
    }
    pthread_condattr_destroy(&attr);
    table->capacity = capacity;
    table->next_sequence = 1;
    *out = table;
    return HB_OK;
err:
    while (ready > 0) {
        pthread_cond_destroy(&table->slots[--ready].answered);
    }
    pthread_condattr_destroy(&attr);
    free(table);
    return HB_ERR_NOMEM;
}

void gateway_pending_destroy(struct gateway_pending *table)
{
    if (!table) {
        return;
    }
    for (size_t i = 0; i < table->capacity; i++) {
        free(table->slots[i].reply);
        pthread_cond_destroy(&table->slots[i].answered);
    }
    pthread_mutex_destroy(&table->lock);
    free(table);
}

hb_err_t gateway_pending_open(struct gateway_pending *table, struct gateway_ticket *out)
{
    pthread_mutex_lock(&table->lock);
    for (size_t i = 0; i < table->capacity; i++) {
        struct slot *s = &table->slots[i];
        if (s->state != SLOT_FREE) {
            continue;
        }
        s->state = SLOT_WAITING;
        s->reply = NULL;
        s->reply_len = 0;
        /* A sequence, not the slot index, so that a late reply to the previous user of
         * this slot cannot be taken for the answer to the new one. */
        snprintf(s->correlation, sizeof(s->correlation), "%016llx",
                 (unsigned long long)table->next_sequence++);
        table->in_use++;
        out->slot = i;
        snprintf(out->correlation, sizeof(out->correlation), "%s", s->correlation);
        pthread_mutex_unlock(&table->lock);
        return HB_OK;
    }
    pthread_mutex_unlock(&table->lock);
    return HB_ERR_BUSY;
}

/* The slot ticket refers to, if it is still the ticket's. Call with the lock held. */
static struct slot *ticket_slot(struct gateway_pending *table, const struct gateway_ticket *ticket)
{
    if (ticket->slot >= table->capacity) {
        return NULL;
    }
    struct slot *s = &table->slots[ticket->slot];
    if (s->state == SLOT_FREE || strcmp(s->correlation, ticket->correlation) != 0) {
        return NULL;
    }
    return s;
}

/* Returns the slot to the free pool, dropping any reply. Call with the lock held. */
static void slot_release(struct gateway_pending *table, struct slot *s)
{
    free(s->reply);
    s->reply = NULL;
    s->reply_len = 0;
    s->correlation[0] = '\0';
    s->state = SLOT_FREE;
    table->in_use--;
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

/* Waits until s is answered or deadline passes. Call with the lock held. */
static void await_slot(struct gateway_pending *table, struct slot *s,
                       const struct timespec *deadline)
{
    while (s->state == SLOT_WAITING) {
        int rc = pthread_cond_timedwait(&s->answered, &table->lock, deadline);
        if (rc == ETIMEDOUT) {
            break; /* the caller checks the state once more: a reply may have just come */
        }
    }
}

bool gateway_pending_await(struct gateway_pending *table, const struct gateway_ticket *ticket,
                           int timeout_ms)
{
    struct timespec deadline = deadline_in(timeout_ms);
    pthread_mutex_lock(&table->lock);
    struct slot *s = ticket_slot(table, ticket);
    if (s) {
        await_slot(table, s, &deadline);
    }
    bool answered = s && s->state == SLOT_ANSWERED;
    pthread_mutex_unlock(&table->lock);
    return answered;
}

hb_err_t gateway_pending_wait(struct gateway_pending *table, const struct gateway_ticket *ticket,
                              int timeout_ms, char **reply, size_t *reply_len)
{
    struct timespec deadline = deadline_in(timeout_ms);
    pthread_mutex_lock(&table->lock);
    struct slot *s = ticket_slot(table, ticket);
    if (!s) {
        pthread_mutex_unlock(&table->lock);
        return HB_ERR_INVAL;
    }
    await_slot(table, s, &deadline);
    hb_err_t result = HB_ERR_TIMEOUT;
    if (s->state == SLOT_ANSWERED) {
        result = s->reply ? HB_OK : HB_ERR_NOMEM;
        *reply = s->reply;
        *reply_len = s->reply_len;
        s->reply = NULL; /* handed over */
    }
    slot_release(table, s);
    pthread_mutex_unlock(&table->lock);
    return result;
}

void gateway_pending_close(struct gateway_pending *table, const struct gateway_ticket *ticket)
{
    pthread_mutex_lock(&table->lock);
    struct slot *s = ticket_slot(table, ticket);
    if (s) {
        slot_release(table, s);
    }
    pthread_mutex_unlock(&table->lock);
}

/* A malloc'd NUL-terminated copy of len bytes of payload (NULL: empty); NULL when out of
 * memory. Made before taking the lock: the lock is shared by every HTTP worker. */
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

/* Puts copy (owned; NULL for a copy that failed) into s, which waits, and wakes its
 * waiter. Call with the lock held. */
static void slot_answer(struct slot *s, char *copy, size_t len)
{
    s->state = SLOT_ANSWERED;
    s->reply = copy;
    s->reply_len = copy ? len : 0;
    pthread_cond_signal(&s->answered);
}

bool gateway_pending_deliver(struct gateway_pending *table, const void *correlation,
                             size_t correlation_len, const char *payload, size_t len)
{
    if (!correlation || correlation_len != GATEWAY_CORRELATION_LEN || (!payload && len > 0)) {
        return false;
    }
    char *copy = copy_reply(payload, len);
    bool matched = false;
    pthread_mutex_lock(&table->lock);
    for (size_t i = 0; i < table->capacity; i++) {
        struct slot *s = &table->slots[i];
        if (s->state == SLOT_WAITING &&
            memcmp(s->correlation, correlation, GATEWAY_CORRELATION_LEN) == 0) {
            slot_answer(s, copy, len);
            copy = NULL;
            matched = true;
            break;
        }
    }
    pthread_mutex_unlock(&table->lock);
    free(copy);
    return matched;
}

size_t gateway_pending_deliver_each(struct gateway_pending *table,
                                    const struct gateway_delivery *deliveries, size_t n)
{
    char **copies = calloc(n > 0 ? n : 1, sizeof(*copies));
    for (size_t i = 0; copies && i < n; i++) {
        const struct gateway_delivery *d = &deliveries[i];
        copies[i] = d->payload || d->len == 0 ? copy_reply(d->payload, d->len) : NULL;
    }
    size_t matched = 0;
    pthread_mutex_lock(&table->lock);
    for (size_t i = 0; i < n; i++) {
        struct slot *s = ticket_slot(table, &deliveries[i].ticket);
        if (s && s->state == SLOT_WAITING) {
            slot_answer(s, copies ? copies[i] : NULL, deliveries[i].len);
            if (copies) {
                copies[i] = NULL;
            }
            matched++;
        }
    }
    pthread_mutex_unlock(&table->lock);
    for (size_t i = 0; copies && i < n; i++) {
        free(copies[i]);
    }
    free(copies);
    return matched;
}

size_t gateway_pending_in_use(struct gateway_pending *table)
{
    pthread_mutex_lock(&table->lock);
    size_t n = table->in_use;
    pthread_mutex_unlock(&table->lock);
    return n;
}
