/* Request coalescing: per command topic a queue of waiting requests and the list of its
 * unanswered messages; fixed pools, one lock. */
#include "coalesce.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/envelope.h"
#include "hausbus/text.h"

/* A request, from gateway_coalesce_add until its message is answered or forgotten. */
struct item {
    struct item *next; /* in its topic's queue, its message's list, or the free list */
    struct gateway_ticket ticket;
    char id[GATEWAY_COALESCE_ID_MAX];
    char *payload; /* owned while queued; handed to the message when taken */
    size_t len;
};

/* A message published and not answered yet. */
struct message {
    struct message *next; /* in its topic's list (oldest first), or the free list */
    char correlation[GATEWAY_CORRELATION_LEN + 1];
    int64_t sent_ms;
    struct item *items; /* its requests, in payload order */
    size_t n_items;
};

struct topic {
    char name[GATEWAY_COALESCE_TOPIC_MAX];
    struct item *head; /* queued requests, oldest first */
    struct item *tail;
    struct message *unanswered; /* oldest first */
};

struct gateway_coalesce {
    pthread_mutex_t lock;
    struct gateway_coalesce_options opt;
    uint64_t next_batch; /* makes every batch correlation unique within the process */
    struct topic topics[GATEWAY_COALESCE_TOPICS_MAX];
    size_t n_topics;
    /* Both pools are handed out from the start up (the used counts), what was given back
     * first, so only as much of them as the busiest moment needed is ever touched. */
    size_t pool;                  /* 2 x capacity (see gateway_coalesce_create) */
    struct item *item_pool;       /* pool of them */
    size_t items_used;            /* item_pool[0..items_used) have been handed out */
    struct item *free_items;      /* of those, the ones given back */
    struct message *message_pool; /* as many: every message holds at least one item */
    size_t messages_used;
    struct message *free_messages;
};

hb_err_t gateway_coalesce_create(const struct gateway_coalesce_options *opt,
                                 struct gateway_coalesce **out)
{
    if (!opt || !out || opt->capacity == 0 || opt->capacity > 1u << 16 || opt->max_items == 0 ||
        opt->max_items > HB_BUS_BATCH_MAX || opt->max_bytes < 2 || opt->depth == 0 ||
        opt->stall_ms <= 0 || opt->expire_ms < opt->stall_ms) {
        return HB_ERR_INVAL;
    }
    struct gateway_coalesce *c = calloc(1, sizeof(*c));
    if (!c) {
        return HB_ERR_NOMEM;
    }
    /* A request that gave up may still be in an unanswered message, while its pending
     * slot already serves a new one: twice the slots leave room for that. */
    c->pool = 2 * opt->capacity;
    /* malloc, not calloc: an element is cleared when first handed out, so pages no
     * request ever reached stay untouched (not resident) on a small board. */
    c->item_pool = malloc(c->pool * sizeof(c->item_pool[0]));
    c->message_pool = malloc(c->pool * sizeof(c->message_pool[0]));
    if (!c->item_pool || !c->message_pool || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->item_pool);
        free(c->message_pool);
        free(c);
        return HB_ERR_NOMEM;
    }
    c->opt = *opt;
    c->next_batch = 1;
    *out = c;
    return HB_OK;
}

void gateway_coalesce_destroy(struct gateway_coalesce *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->items_used; i++) {
        free(c->item_pool[i].payload);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->item_pool);
    free(c->message_pool);
    free(c);
}

/* The topic named name; with create, a new one when there is room. NULL otherwise. Call
 * with the lock held. */
static struct topic *find_topic(struct gateway_coalesce *c, const char *name, bool create)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        if (strcmp(c->topics[i].name, name) == 0) {
            return &c->topics[i];
        }
    }
    if (!create || c->n_topics == GATEWAY_COALESCE_TOPICS_MAX) {
        return NULL;
    }
    struct topic *t = &c->topics[c->n_topics++];
    hb_strlcpy(t->name, name, sizeof(t->name));
    return t;
}

/* A free item, or NULL when all are in use. Call with the lock held. */
static struct item *item_take(struct gateway_coalesce *c)
{
    struct item *it = c->free_items;
    if (it) {
        c->free_items = it->next;
    } else if (c->items_used < c->pool) {
        it = &c->item_pool[c->items_used++];
    }
    return it;
}

/* A free message, or NULL when all are in use. Call with the lock held. */
static struct message *message_take(struct gateway_coalesce *c)
{
    struct message *m = c->free_messages;
    if (m) {
        c->free_messages = m->next;
    } else if (c->messages_used < c->pool) {
        m = &c->message_pool[c->messages_used++];
    }
    return m;
}

/* Returns m and its items to the free lists. Call with the lock held, m unlinked. */
static void message_free(struct gateway_coalesce *c, struct message *m)
{
    while (m->items) {
        struct item *it = m->items;
        m->items = it->next;
        free(it->payload);
        memset(it, 0, sizeof(*it));
        it->next = c->free_items;
        c->free_items = it;
    }
    memset(m, 0, sizeof(*m));
    m->next = c->free_messages;
    c->free_messages = m;
}

/* Forgets t's messages unanswered for expire_ms or longer: every request in them has
 * given up by now. Call with the lock held. */
static void expire(struct gateway_coalesce *c, struct topic *t, int64_t now_ms)
{
    struct message **link = &t->unanswered;
    while (*link) {
        struct message *m = *link;
        if (now_ms - m->sent_ms >= c->opt.expire_ms) {
            *link = m->next;
            message_free(c, m);
        } else {
            link = &m->next;
        }
    }
}

hb_err_t gateway_coalesce_add(struct gateway_coalesce *c, const char *topic,
                              const struct gateway_ticket *ticket, const char *id, char *payload,
                              size_t len, int64_t now_ms)
{
    if (!topic || strlen(topic) >= GATEWAY_COALESCE_TOPIC_MAX || !ticket || !id ||
        strlen(id) >= GATEWAY_COALESCE_ID_MAX || !payload) {
        free(payload);
        return HB_ERR_INVAL;
    }
    pthread_mutex_lock(&c->lock);
    struct topic *t = find_topic(c, topic, true);
    struct item *it = t ? item_take(c) : NULL;
    if (t && !it) {
        for (size_t i = 0; i < c->n_topics; i++) {
            expire(c, &c->topics[i], now_ms);
        }
        it = item_take(c);
    }
    if (!it) {
        pthread_mutex_unlock(&c->lock);
        free(payload);
        return HB_ERR_BUSY;
    }
    memset(it, 0, sizeof(*it));
    it->ticket = *ticket;
    hb_strlcpy(it->id, id, sizeof(it->id));
    it->payload = payload;
    it->len = len;
    if (t->tail) {
        t->tail->next = it;
    } else {
        t->head = it;
    }
    t->tail = it;
    pthread_mutex_unlock(&c->lock);
    return HB_OK;
}

/* True when t may send now: fewer than depth of its unanswered messages are younger
 * than stall_ms. Call with the lock held. */
static bool may_send(const struct gateway_coalesce *c, const struct topic *t, int64_t now_ms)
{
    unsigned holding = 0;
    for (const struct message *m = t->unanswered; m; m = m->next) {
        if (now_ms - m->sent_ms < c->opt.stall_ms) {
            holding++;
        }
    }
    return holding < c->opt.depth;
}

/* Moves the oldest requests of t's queue (at least one, which t must have) into m, as
 * many as max_items and max_bytes allow. Call with the lock held. */
static void take_items(struct gateway_coalesce *c, struct topic *t, struct message *m)
{
    size_t bytes = 2 + t->head->len; /* "[" and "]" around a batch */
    struct item **tail = &m->items;
    do {
        struct item *it = t->head;
        t->head = it->next;
        it->next = NULL;
        *tail = it;
        tail = &it->next;
        m->n_items++;
        bytes += t->head ? 1 + t->head->len : 0; /* a comma before the next */
    } while (t->head && m->n_items < c->opt.max_items && bytes <= c->opt.max_bytes);
    if (!t->head) {
        t->tail = NULL;
    }
}

bool gateway_coalesce_take(struct gateway_coalesce *c, const char *topic, int64_t now_ms,
                           struct gateway_coalesce_batch *out)
{
    memset(out, 0, sizeof(*out));
    char *texts[HB_BUS_BATCH_MAX] = {NULL};
    size_t lens[HB_BUS_BATCH_MAX] = {0};
    pthread_mutex_lock(&c->lock);
    struct topic *t = topic ? find_topic(c, topic, false) : NULL;
    if (t) {
        expire(c, t, now_ms);
    }
    if (!t || !t->head || !may_send(c, t, now_ms)) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    /* Every message holds an item and t->head is in none, so the equal pools leave one. */
    struct message *m = message_take(c);
    assert(m);
    memset(m, 0, sizeof(*m));
    take_items(c, t, m);
    m->sent_ms = now_ms;
    if (m->n_items == 1) {
        /* Alone, exactly as without coalescing: the reply finds its waiter directly. */
        hb_strlcpy(m->correlation, m->items->ticket.correlation, sizeof(m->correlation));
    } else {
        snprintf(m->correlation, sizeof(m->correlation), "%c%015llx", GATEWAY_COALESCE_BATCH_MARK,
                 (unsigned long long)(c->next_batch++ & 0xfffffffffffffffULL));
    }
    struct message **link = &t->unanswered;
    while (*link) {
        link = &(*link)->next;
    }
    *link = m;
    size_t n = 0;
    for (struct item *it = m->items; it; it = it->next, n++) {
        out->tickets[n] = it->ticket;
        texts[n] = it->payload;
        lens[n] = it->len;
        it->payload = NULL; /* handed to out (alone) or freed below (joined) */
    }
    out->n_items = n;
    hb_strlcpy(out->topic, t->name, sizeof(out->topic));
    hb_strlcpy(out->correlation, m->correlation, sizeof(out->correlation));
    pthread_mutex_unlock(&c->lock);

    if (n == 1) {
        out->payload = texts[0];
        out->len = lens[0];
        return true;
    }
    out->payload = gateway_coalesce_join((const char *const *)texts, lens, n, &out->len);
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
    }
    return true;
}

void gateway_coalesce_batch_clear(struct gateway_coalesce_batch *batch)
{
    if (!batch) {
        return;
    }
    free(batch->payload);
    memset(batch, 0, sizeof(*batch));
}

bool gateway_coalesce_answered(struct gateway_coalesce *c, const void *correlation,
                               size_t correlation_len, char *topic, size_t cap,
                               struct gateway_coalesce_waiter *waiters, size_t *n_waiters)
{
    if (!correlation || correlation_len != GATEWAY_CORRELATION_LEN) {
        return false;
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_topics; i++) {
        struct topic *t = &c->topics[i];
        for (struct message **link = &t->unanswered; *link; link = &(*link)->next) {
            struct message *m = *link;
            if (memcmp(m->correlation, correlation, GATEWAY_CORRELATION_LEN) != 0) {
                continue;
            }
            *link = m->next;
            if (topic && cap > 0) {
                hb_strlcpy(topic, t->name, cap);
            }
            size_t n = 0;
            for (const struct item *it = m->items; waiters && it; it = it->next, n++) {
                waiters[n].ticket = it->ticket;
                hb_strlcpy(waiters[n].id, it->id, sizeof(waiters[n].id));
            }
            if (n_waiters) {
                *n_waiters = n;
            }
            message_free(c, m);
            pthread_mutex_unlock(&c->lock);
            return true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return false;
}

bool gateway_coalesce_forget(struct gateway_coalesce *c, const struct gateway_ticket *ticket)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_topics; i++) {
        struct topic *t = &c->topics[i];
        struct item *prev = NULL;
        for (struct item *it = t->head; it; prev = it, it = it->next) {
            if (it->ticket.slot != ticket->slot ||
                strcmp(it->ticket.correlation, ticket->correlation) != 0) {
                continue;
            }
            if (prev) {
                prev->next = it->next;
            } else {
                t->head = it->next;
            }
            if (t->tail == it) {
                t->tail = prev;
            }
            free(it->payload);
            memset(it, 0, sizeof(*it));
            it->next = c->free_items;
            c->free_items = it;
            pthread_mutex_unlock(&c->lock);
            return true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return false;
}

hb_err_t gateway_coalesce_wait(struct gateway_coalesce *c, struct gateway_pending *pending,
                               const char *topic, const struct gateway_ticket *ticket,
                               int timeout_ms, gateway_coalesce_flush_fn *flush, void *ctx,
                               struct gateway_answer *answer)
{
    int64_t deadline_ms = hb_now_ms() + timeout_ms;
    int64_t left_ms = timeout_ms;
    /* Not once but at every stall: a check that finds the messages ahead still fresh
     * (sent at the previous stall, say, when more than a batch was queued) must come
     * again, or a request whose turn comes after their replies are lost is never sent. */
    while (left_ms > c->opt.stall_ms &&
           !gateway_pending_await(pending, ticket, c->opt.stall_ms)) {
        flush(ctx, topic);
        left_ms = deadline_ms - hb_now_ms();
    }
    hb_err_t rc = gateway_pending_wait(pending, ticket, left_ms > 0 ? (int)left_ms : 0, answer);
    if (rc == HB_ERR_TIMEOUT) {
        gateway_coalesce_forget(c, ticket);
    }
    return rc;
}

bool gateway_coalesce_is_batch(const void *correlation, size_t len)
{
    return correlation && len == GATEWAY_CORRELATION_LEN &&
           *(const char *)correlation == GATEWAY_COALESCE_BATCH_MARK;
}

char *gateway_coalesce_join(const char *const *texts, const size_t *lens, size_t n, size_t *len)
{
    size_t total = 2 + (n > 0 ? n - 1 : 0);
    for (size_t i = 0; i < n; i++) {
        total += lens[i];
    }
    char *out = malloc(total + 1);
    if (!out) {
        return NULL;
    }
    size_t at = 0;
    out[at++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            out[at++] = ',';
        }
        memcpy(out + at, texts[i], lens[i]);
        at += lens[i];
    }
    out[at++] = ']';
    out[at] = '\0';
    *len = at;
    return out;
}
