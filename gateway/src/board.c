/* The live board's state, folded from status, order event and metrics messages. */
#include "board.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hausbus/bus.h"
#include "hausbus/envelope.h"
#include "routes.h"
#include "status.h"

#define STATUS_PREFIX HB_TOPIC_PREFIX "status/"
#define ORDER_PREFIX HB_TOPIC_PREFIX "evt/order/"
#define METRICS_PREFIX HB_TOPIC_PREFIX "metrics/"
#define EVT_PREFIX HB_TOPIC_PREFIX "evt/"
#define CMD_PREFIX HB_TOPIC_PREFIX "cmd/"
#define TEXT_MAX 40 /* status, reason, event type, time: longer values are cut */
/* Order events kept unread while no stream is open (see keep_unread). About 300 events:
 * the lives of some 50 orders, more than the 20 a page shows. */
#define BACKLOG_MAX (128 * 1024)
/* A record in the backlog: payload length (4 bytes), type length (1), type, payload. */
#define RECORD_HEAD 5

struct counter {
    char topic[GATEWAY_BOARD_TOPIC_MAX];
    double count;
};

struct component {
    char name[GATEWAY_BOARD_NAME_MAX];
    bool has_metrics; /* the fields below hold the last snapshot */
    char started[TEXT_MAX];
    int64_t time_ms;
    size_t n_counters;
    struct counter counters[GATEWAY_BOARD_TOPICS];
};

struct order_row {
    int64_t order_id;
    int64_t version;
    char status[TEXT_MAX];
    char reason[TEXT_MAX]; /* "" for none */
    char event[TEXT_MAX];  /* "OrderPaid" */
    char time[TEXT_MAX];
};

struct edge {
    char from[GATEWAY_BOARD_NAME_MAX];
    char to[GATEWAY_BOARD_NAME_MAX];
    double rate;  /* messages per second between the last two snapshots of "to" */
    double total; /* messages "to" has handled from "from" since it started */
};

struct gateway_board {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t seq[3];  /* per part: bumped on every change */
    uint64_t wakes;   /* bumped by gateway_board_wake */
    int clients;
    int max_clients;
    struct gateway_status *status; /* the gateway's status table: names and states */
    size_t n_components;
    struct component components[GATEWAY_BOARD_COMPONENTS]; /* metrics snapshots */
    size_t n_orders;
    struct order_row orders[GATEWAY_BOARD_ORDERS]; /* by order id, highest first */
    size_t n_edges;
    struct edge edges[GATEWAY_BOARD_EDGES];
    /* Order events that came while no stream was open, as records, oldest first: read
     * only when somebody looks (keep_unread). */
    char *backlog; /* BACKLOG_MAX bytes once needed */
    size_t backlog_len;
    bool backlog_lost; /* older records were dropped unread: the orders shown may be stale */
};

/* A backlog taken out of the board for reading. */
struct backlog {
    char *records; /* malloc'd; NULL for none */
    size_t len;
};

hb_err_t gateway_board_clients_parse(const char *text, int *out)
{
    if (!text || text[0] == '\0') {
        *out = GATEWAY_BOARD_CLIENTS_DEFAULT;
        return HB_OK;
    }
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 0 || value > GATEWAY_BOARD_CLIENTS_MAX) {
        return HB_ERR_INVAL;
    }
    *out = (int)value;
    return HB_OK;
}

hb_err_t gateway_board_create(int max_clients, struct gateway_status *status,
                              struct gateway_board **out)
{
    if (!out || !status || max_clients < 0 || max_clients > GATEWAY_BOARD_CLIENTS_MAX) {
        return HB_ERR_INVAL;
    }
    struct gateway_board *board = calloc(1, sizeof(*board));
    if (!board) {
        return HB_ERR_NOMEM;
    }
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(board);
        return HB_ERR_NOMEM;
    }
    /* Waits are timeouts, so a wall clock step must not stretch or cut them. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int cond_rc = pthread_cond_init(&board->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (cond_rc != 0) {
        free(board);
        return HB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&board->lock, NULL) != 0) {
        pthread_cond_destroy(&board->changed);
        free(board);
        return HB_ERR_NOMEM;
    }
    board->max_clients = max_clients;
    board->status = status;
    *out = board;
    return HB_OK;
}

void gateway_board_destroy(struct gateway_board *board)
{
    if (!board) {
        return;
    }
    pthread_cond_destroy(&board->changed);
    pthread_mutex_destroy(&board->lock);
    free(board->backlog);
    free(board);
}

/* The component called name; with create, a new entry when there is room. NULL when
 * absent (or no room). Call with the lock held. */
static struct component *find_component(struct gateway_board *board, const char *name,
                                        bool create)
{
    for (size_t i = 0; i < board->n_components; i++) {
        if (strcmp(board->components[i].name, name) == 0) {
            return &board->components[i];
        }
    }
    if (!create || board->n_components >= GATEWAY_BOARD_COMPONENTS) {
        return NULL;
    }
    struct component *c = &board->components[board->n_components++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    return c;
}

/* Marks part (its flag) changed and wakes the streams. Call with the lock held. */
static void bump(struct gateway_board *board, unsigned part)
{
    for (unsigned i = 0; i < 3; i++) {
        if (part & (1u << i)) {
            board->seq[i]++;
        }
    }
    pthread_cond_broadcast(&board->changed);
}

/* A status message: the status table has taken it; the streams must show it. */
static bool on_status(struct gateway_board *board, const char *name)
{
    const char *slash = strchr(name, '/'); /* a replica's: "<component>/<instance>" */
    if (!gateway_process_name_valid(name, slash ? (size_t)(slash - name) : strlen(name),
                                    GATEWAY_STATUS_NAME_MAX)) {
        return false;
    }
    pthread_mutex_lock(&board->lock);
    bump(board, GATEWAY_BOARD_COMPONENTS_PART);
    pthread_mutex_unlock(&board->lock);
    return true;
}

/* Copies the string member name of obj into out (cap bytes; cut to fit); "" when it is
 * absent or not a string. */
static void copy_member(const cJSON *obj, const char *name, char *out, size_t cap)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    snprintf(out, cap, "%s", cJSON_IsString(item) ? item->valuestring : "");
}

/* Reads a whole number member in 1..GATEWAY_ID_MAX (0..GATEWAY_ID_MAX when zero_ok). */
static bool get_id(const cJSON *obj, const char *name, bool zero_ok, int64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(item) || item->valuedouble < (zero_ok ? 0 : 1) ||
        item->valuedouble > (double)GATEWAY_ID_MAX ||
        item->valuedouble != (double)(int64_t)item->valuedouble) {
        return false;
    }
    *out = (int64_t)item->valuedouble;
    return true;
}

/* Order events: the order's status after the event, newest orders first. */
static bool on_order_event(struct gateway_board *board, const char *event, const cJSON *root)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(data, "status");
    int64_t order_id = 0;
    int64_t version = 0;
    if (!get_id(data, "orderId", false, &order_id) || !cJSON_IsString(status) ||
        status->valuestring[0] == '\0') {
        return false;
    }
    if (cJSON_GetObjectItemCaseSensitive(data, "version") &&
        !get_id(data, "version", true, &version)) {
        return false;
    }
    struct order_row row = {.order_id = order_id, .version = version};
    copy_member(data, "status", row.status, sizeof(row.status));
    copy_member(data, "reason", row.reason, sizeof(row.reason));
    copy_member(root, "time", row.time, sizeof(row.time));
    snprintf(row.event, sizeof(row.event), "%s", event);

    pthread_mutex_lock(&board->lock);
    size_t at = 0;
    while (at < board->n_orders && board->orders[at].order_id > order_id) {
        at++;
    }
    bool changed = true;
    if (at < board->n_orders && board->orders[at].order_id == order_id) {
        /* A replayed older event must not take an order back in the saga. */
        if (board->orders[at].version > version) {
            changed = false;
        } else {
            board->orders[at] = row;
        }
    } else if (at >= GATEWAY_BOARD_ORDERS) {
        changed = false; /* older than every order shown */
    } else {
        size_t keep = board->n_orders < GATEWAY_BOARD_ORDERS ? board->n_orders
                                                             : GATEWAY_BOARD_ORDERS - 1;
        memmove(&board->orders[at + 1], &board->orders[at], (keep - at) * sizeof(row));
        board->orders[at] = row;
        board->n_orders = keep + 1;
    }
    if (changed) {
        bump(board, GATEWAY_BOARD_ORDERS_PART);
    }
    pthread_mutex_unlock(&board->lock);
    return true;
}

/* Who sent what a component handled on topic, per the metrics contract: the component in
 * an event topic, the gateway for a command. false for other topics. */
static bool topic_source(const char *topic, char *out, size_t cap)
{
    if (strncmp(topic, CMD_PREFIX, strlen(CMD_PREFIX)) == 0) {
        snprintf(out, cap, "gateway");
        return true;
    }
    if (strncmp(topic, EVT_PREFIX, strlen(EVT_PREFIX)) != 0) {
        return false;
    }
    const char *name = topic + strlen(EVT_PREFIX);
    size_t len = strcspn(name, "/");
    if (name[len] != '/' || !gateway_process_name_valid(name, len, GATEWAY_BOARD_NAME_MAX) ||
        len >= cap) {
        return false;
    }
    snprintf(out, cap, "%.*s", (int)len, name);
    return true;
}

/* The edge from -> to, created when there is room; NULL otherwise. Lock held. */
static struct edge *find_edge(struct gateway_board *board, const char *from, const char *to)
{
    for (size_t i = 0; i < board->n_edges; i++) {
        if (strcmp(board->edges[i].from, from) == 0 && strcmp(board->edges[i].to, to) == 0) {
            return &board->edges[i];
        }
    }
    if (board->n_edges >= GATEWAY_BOARD_EDGES) {
        return NULL;
    }
    struct edge *e = &board->edges[board->n_edges++];
    memset(e, 0, sizeof(*e));
    snprintf(e->from, sizeof(e->from), "%s", from);
    snprintf(e->to, sizeof(e->to), "%s", to);
    return e;
}

/* The previous count of topic in c's last snapshot; -1 when it had none. */
static double previous_count(const struct component *c, const char *topic)
{
    for (size_t i = 0; i < c->n_counters; i++) {
        if (strcmp(c->counters[i].topic, topic) == 0) {
            return c->counters[i].count;
        }
    }
    return -1;
}

/* Metrics of one process: its edges (into it) are recomputed from "handled". */
static bool on_metrics(struct gateway_board *board, const char *name, const cJSON *root)
{
    char started[TEXT_MAX];
    char time_text[TEXT_MAX];
    int64_t time_ms = 0;
    const cJSON *handled = cJSON_GetObjectItemCaseSensitive(root, "handled");
    copy_member(root, "startedAt", started, sizeof(started));
    copy_member(root, "time", time_text, sizeof(time_text));
    if (!cJSON_IsObject(handled) || hb_time_parse_ms(time_text, &time_ms) != HB_OK ||
        !gateway_process_name_valid(name, strlen(name), GATEWAY_BOARD_NAME_MAX)) {
        return false;
    }
    struct counter *counters = calloc(GATEWAY_BOARD_TOPICS, sizeof(*counters));
    if (!counters) {
        return false;
    }
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, handled)
    {
        if (n < GATEWAY_BOARD_TOPICS && cJSON_IsNumber(item) && item->valuedouble >= 0 &&
            strlen(item->string) < GATEWAY_BOARD_TOPIC_MAX) {
            snprintf(counters[n].topic, sizeof(counters[n].topic), "%s", item->string);
            counters[n].count = item->valuedouble;
            n++;
        }
    }

    pthread_mutex_lock(&board->lock);
    struct component *c = find_component(board, name, true);
    if (!c) {
        pthread_mutex_unlock(&board->lock);
        free(counters);
        return false;
    }
    /* A rate needs two snapshots of one process run, in order. */
    bool same_run = c->has_metrics && strcmp(c->started, started) == 0 && time_ms > c->time_ms;
    double seconds = same_run ? (double)(time_ms - c->time_ms) / 1000.0 : 0;
    for (size_t i = 0; i < board->n_edges; i++) {
        if (strcmp(board->edges[i].to, name) == 0) {
            board->edges[i].rate = 0;
            board->edges[i].total = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char from[GATEWAY_BOARD_NAME_MAX];
        if (!topic_source(counters[i].topic, from, sizeof(from))) {
            continue;
        }
        struct edge *e = find_edge(board, from, name);
        if (!e) {
            continue;
        }
        e->total += counters[i].count;
        double before = previous_count(c, counters[i].topic);
        if (same_run) {
            double delta = counters[i].count - (before < 0 ? 0 : before);
            e->rate += delta > 0 ? delta / seconds : 0;
        }
    }
    /* Edges into this process that its snapshot no longer names are gone. */
    size_t kept = 0;
    for (size_t i = 0; i < board->n_edges; i++) {
        const struct edge *e = &board->edges[i];
        if (strcmp(e->to, name) != 0 || e->total > 0) {
            board->edges[kept++] = *e;
        }
    }
    board->n_edges = kept;
    c->has_metrics = true;
    snprintf(c->started, sizeof(c->started), "%s", started);
    c->time_ms = time_ms;
    memcpy(c->counters, counters, n * sizeof(*counters));
    c->n_counters = n;
    bump(board, GATEWAY_BOARD_EDGES_PART);
    pthread_mutex_unlock(&board->lock);
    free(counters);
    return true;
}

/* Folds one message of evt/order/<event> (a CloudEvent or a batch of them) into the
 * board. Returns false when it holds no order event. */
static bool on_order_message(struct gateway_board *board, const char *event,
                             const char *payload, size_t len)
{
    cJSON *root = gateway_json_parse(payload, len);
    bool done = cJSON_IsObject(root) && on_order_event(board, event, root);
    if (cJSON_IsArray(root)) {
        /* A CloudEvents batch (docs/PROTOCOL.md, "Batches"): each of its events in turn. */
        for (const cJSON *item = root->child; item; item = item->next) {
            done = (cJSON_IsObject(item) && on_order_event(board, event, item)) || done;
        }
    }
    cJSON_Delete(root);
    return done;
}

/* Appends an order message to the backlog instead of parsing it: while no stream is
 * open nobody sees the orders, and parsing every event was a tenth of the gateway's work
 * under load. The backlog is read when somebody looks (take_backlog), so a page opened
 * later still starts with the latest orders. When it is full, its older half is dropped
 * unread and marked lost. Returns false (nothing kept) when out of memory; the caller
 * then folds the message at once. Call with the lock held; event is shorter than
 * TEXT_MAX, len at most GATEWAY_BOARD_PAYLOAD_MAX. */
static bool keep_unread(struct gateway_board *board, const char *event, const char *payload,
                        size_t len)
{
    size_t event_len = strlen(event);
    size_t need = RECORD_HEAD + event_len + len;
    if (!board->backlog && !(board->backlog = malloc(BACKLOG_MAX))) {
        return false;
    }
    if (board->backlog_len + need > BACKLOG_MAX) {
        /* Drop whole records from the front until at most half is left (and need fits). */
        size_t at = 0;
        while (at < board->backlog_len &&
               (board->backlog_len - at > BACKLOG_MAX / 2 ||
                board->backlog_len - at + need > BACKLOG_MAX)) {
            uint32_t record_len;
            memcpy(&record_len, board->backlog + at, sizeof(record_len));
            at += RECORD_HEAD + (unsigned char)board->backlog[at + 4] + record_len;
        }
        memmove(board->backlog, board->backlog + at, board->backlog_len - at);
        board->backlog_len -= at;
        board->backlog_lost = true;
    }
    char *out = board->backlog + board->backlog_len;
    uint32_t record_len = (uint32_t)len;
    memcpy(out, &record_len, sizeof(record_len));
    out[4] = (char)(unsigned char)event_len;
    memcpy(out + RECORD_HEAD, event, event_len);
    memcpy(out + RECORD_HEAD + event_len, payload, len);
    board->backlog_len += need;
    return true;
}

/* Takes the backlog out of the board (the caller folds it with fold_backlog, without the
 * lock). When records were lost, the orders shown are forgotten now, in the same hold of
 * the lock: an order whose latest event was dropped must not be shown in an older state,
 * and the events after this moment reach the board in full. Call with the lock held. */
static struct backlog take_backlog(struct gateway_board *board)
{
    struct backlog taken = {.records = board->backlog, .len = board->backlog_len};
    if (board->backlog_lost) {
        board->n_orders = 0;
        bump(board, GATEWAY_BOARD_ORDERS_PART);
    }
    board->backlog = NULL;
    board->backlog_len = 0;
    board->backlog_lost = false;
    return taken;
}

/* Folds the records of taken into the board, oldest first, and frees them. Call without
 * the lock. */
static void fold_backlog(struct gateway_board *board, struct backlog taken)
{
    size_t at = 0;
    while (at < taken.len) {
        uint32_t record_len;
        memcpy(&record_len, taken.records + at, sizeof(record_len));
        size_t event_len = (unsigned char)taken.records[at + 4];
        char event[TEXT_MAX];
        memcpy(event, taken.records + at + RECORD_HEAD, event_len);
        event[event_len] = '\0';
        on_order_message(board, event, taken.records + at + RECORD_HEAD + event_len,
                         record_len);
        at += RECORD_HEAD + event_len + record_len;
    }
    free(taken.records);
}

/* Reads what came while nobody looked, before somebody looks. Call without the lock. */
static void catch_up(struct gateway_board *board)
{
    pthread_mutex_lock(&board->lock);
    struct backlog taken = take_backlog(board);
    pthread_mutex_unlock(&board->lock);
    fold_backlog(board, taken);
}

bool gateway_board_on_message(struct gateway_board *board, const char *topic,
                              const char *payload, size_t len)
{
    if (!board || !topic || (!payload && len > 0)) {
        return false;
    }
    if (strncmp(topic, STATUS_PREFIX, strlen(STATUS_PREFIX)) == 0) {
        return on_status(board, topic + strlen(STATUS_PREFIX));
    }
    bool order = strncmp(topic, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0;
    bool metrics = strncmp(topic, METRICS_PREFIX, strlen(METRICS_PREFIX)) == 0;
    if ((!order && !metrics) || len == 0 || len > GATEWAY_BOARD_PAYLOAD_MAX) {
        return false; /* an empty retained message clears a topic: nothing to show */
    }
    const char *rest = topic + strlen(order ? ORDER_PREFIX : METRICS_PREFIX);
    if (strlen(rest) >= TEXT_MAX || strchr(rest, '/')) {
        return false;
    }
    if (order) {
        pthread_mutex_lock(&board->lock);
        bool kept = board->clients == 0 && keep_unread(board, rest, payload, len);
        pthread_mutex_unlock(&board->lock);
        if (kept) {
            return true;
        }
        return on_order_message(board, rest, payload, len);
    }
    cJSON *root = gateway_json_parse(payload, len);
    bool done = cJSON_IsObject(root) && on_metrics(board, rest, root);
    cJSON_Delete(root);
    return done;
}

/* Adds a rate rounded to hundredths: the page shows two decimals, the JSON no noise. */
static cJSON *add_rate(cJSON *obj, const char *name, double rate)
{
    return cJSON_AddNumberToObject(obj, name, (double)(int64_t)(rate * 100 + 0.5) / 100);
}

/* Renders the parts in mask into root. Lock held. */
static bool render_parts(const struct gateway_board *board, unsigned mask, cJSON *root)
{
    if (mask & GATEWAY_BOARD_COMPONENTS_PART) {
        struct gateway_process_status rows[GATEWAY_STATUS_MAX];
        size_t n = gateway_status_list(board->status, rows, GATEWAY_STATUS_MAX);
        cJSON *list = cJSON_AddArrayToObject(root, "components");
        for (size_t i = 0; list && i < n; i++) {
            const char *state = gateway_process_state_name(rows[i].state);
            cJSON *item = cJSON_CreateObject();
            if (!item || !cJSON_AddItemToArray(list, item) ||
                !cJSON_AddStringToObject(item, "name", rows[i].name) ||
                !cJSON_AddStringToObject(item, "status", state)) {
                return false;
            }
        }
        if (!list) {
            return false;
        }
    }
    if (mask & GATEWAY_BOARD_ORDERS_PART) {
        cJSON *list = cJSON_AddArrayToObject(root, "orders");
        for (size_t i = 0; list && i < board->n_orders; i++) {
            const struct order_row *o = &board->orders[i];
            cJSON *item = cJSON_CreateObject();
            if (!item || !cJSON_AddItemToArray(list, item) ||
                !cJSON_AddNumberToObject(item, "orderId", (double)o->order_id) ||
                !cJSON_AddStringToObject(item, "status", o->status) ||
                !(o->reason[0] ? cJSON_AddStringToObject(item, "reason", o->reason)
                               : cJSON_AddNullToObject(item, "reason")) ||
                !cJSON_AddStringToObject(item, "event", o->event) ||
                !cJSON_AddStringToObject(item, "time", o->time)) {
                return false;
            }
        }
        if (!list) {
            return false;
        }
    }
    if (mask & GATEWAY_BOARD_EDGES_PART) {
        cJSON *list = cJSON_AddArrayToObject(root, "edges");
        for (size_t i = 0; list && i < board->n_edges; i++) {
            const struct edge *e = &board->edges[i];
            cJSON *item = cJSON_CreateObject();
            if (!item || !cJSON_AddItemToArray(list, item) ||
                !cJSON_AddStringToObject(item, "from", e->from) ||
                !cJSON_AddStringToObject(item, "to", e->to) || !add_rate(item, "rate", e->rate) ||
                !cJSON_AddNumberToObject(item, "total", e->total)) {
                return false;
            }
        }
        if (!list) {
            return false;
        }
    }
    return true;
}

char *gateway_board_render(struct gateway_board *board, unsigned mask,
                           struct gateway_board_cursor *cursor)
{
    if (mask & GATEWAY_BOARD_ORDERS_PART) {
        catch_up(board);
    }
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        return NULL;
    }
    pthread_mutex_lock(&board->lock);
    bool ok = render_parts(board, mask, root);
    if (ok && cursor) {
        for (unsigned i = 0; i < 3; i++) {
            if (mask & (1u << i)) {
                cursor->seq[i] = board->seq[i];
            }
        }
    }
    pthread_mutex_unlock(&board->lock);
    char *text = ok ? hb_json_print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* The parts that changed since cursor. Lock held. */
static unsigned changed_since(const struct gateway_board *board,
                              const struct gateway_board_cursor *cursor)
{
    unsigned mask = 0;
    for (unsigned i = 0; i < 3; i++) {
        if (board->seq[i] != cursor->seq[i]) {
            mask |= 1u << i;
        }
    }
    return mask;
}

unsigned gateway_board_wait(struct gateway_board *board, const struct gateway_board_cursor *cursor,
                            int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t ns = deadline.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    deadline.tv_sec += (time_t)(ns / 1000000000LL);
    deadline.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&board->lock);
    uint64_t wakes = board->wakes;
    unsigned mask = changed_since(board, cursor);
    while (mask == 0 && board->wakes == wakes) {
        if (pthread_cond_timedwait(&board->changed, &board->lock, &deadline) == ETIMEDOUT) {
            break;
        }
        mask = changed_since(board, cursor);
    }
    pthread_mutex_unlock(&board->lock);
    return mask;
}

void gateway_board_wake(struct gateway_board *board)
{
    pthread_mutex_lock(&board->lock);
    board->wakes++;
    pthread_cond_broadcast(&board->changed);
    pthread_mutex_unlock(&board->lock);
}

bool gateway_board_join(struct gateway_board *board)
{
    struct backlog taken = {.records = NULL};
    pthread_mutex_lock(&board->lock);
    bool admitted = board->clients < board->max_clients;
    if (admitted) {
        board->clients++;
        /* From now on order events are folded as they come; what came before is in the
         * backlog, taken in the same hold of the lock, so none is read twice or missed. */
        taken = take_backlog(board);
    }
    pthread_mutex_unlock(&board->lock);
    fold_backlog(board, taken);
    return admitted;
}

void gateway_board_leave(struct gateway_board *board)
{
    pthread_mutex_lock(&board->lock);
    if (board->clients > 0) {
        board->clients--;
    }
    pthread_mutex_unlock(&board->lock);
}
