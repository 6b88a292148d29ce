/* The gateway's Prometheus metrics: HTTP counters and the components' snapshots. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/bus.h"
#include "routes.h"
#include "status.h"

#define NAME_MAX_BYTES 32 /* component name with the NUL */
#define RENDER_MAX (4 * 1024 * 1024) /* a bound on the page; the caps keep it far below */

static const double http_le_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,   0.25,   0.5,   1,    2.5,   5,    10};
#define HTTP_BUCKETS (sizeof(http_le_s) / sizeof(http_le_s[0]))

static const char *const known_methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                                            "OPTIONS"};

struct http_series {
    char route[64];
    const char *method; /* one of known_methods or "other" */
    int code;
    uint64_t count;
};

struct route_histogram {
    char route[64];
    uint64_t buckets[HTTP_BUCKETS]; /* cumulative */
    uint64_t count;
    double sum;
};

struct component {
    char name[NAME_MAX_BYTES];
    cJSON *snapshot; /* NULL until one arrives */
};

struct gateway_metrics {
    pthread_mutex_t lock;
    struct http_series series[GATEWAY_METRICS_HTTP_SERIES_MAX];
    size_t n_series;
    struct route_histogram routes[GATEWAY_METRICS_ROUTES_MAX];
    size_t n_routes;
    struct component components[GATEWAY_METRICS_COMPONENTS_MAX];
    struct gateway_process_stats process; /* valid when has_process */
    bool has_process;
    struct gateway_status *status; /* hausbus_component_up; NULL leaves it empty */
    uint64_t request_batches;     /* batched request messages sent */
    uint64_t request_batch_items; /* requests in them */
    uint64_t dropped; /* observations and snapshots left out because of a cap */
    uint64_t omitted; /* series the last render left out because of a cap */
};

hb_err_t gateway_metrics_create(struct gateway_metrics **out)
{
    struct gateway_metrics *m = calloc(1, sizeof(*m));
    if (!m) {
        return HB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return HB_ERR_NOMEM;
    }
    *out = m;
    return HB_OK;
}

void gateway_metrics_destroy(struct gateway_metrics *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        cJSON_Delete(m->components[i].snapshot);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const char *normalise_method(const char *method)
{
    for (size_t i = 0; method && i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        if (strcmp(method, known_methods[i]) == 0) {
            return known_methods[i];
        }
    }
    return "other";
}

/* The route label of route (a pattern): the route table's own pattern, or "unmatched"
 * for anything the table does not have. *stream tells whether the row for method on it
 * answers with a long-lived stream, which is counted but not timed (one board viewer
 * would otherwise put a minutes-long sample into the request latency histogram). */
static const char *route_label(const char *route, const char *method, bool *stream)
{
    const char *label = "unmatched";
    *stream = false;
    for (size_t i = 0; route && i < gateway_route_count(); i++) {
        struct gateway_route_info row;
        if (gateway_route_describe(i, &row) && strcmp(row.pattern, route) == 0) {
            label = row.pattern;
            *stream = *stream || (method && strcmp(row.method, method) == 0 && row.stream);
        }
    }
    return label;
}

void gateway_metrics_observe_http(struct gateway_metrics *m, const char *route,
                                  const char *method, int status, double seconds)
{
    bool stream = false;
    const char *name = route_label(route, method, &stream);
    const char *verb = normalise_method(method);
    int code = status >= 100 && status <= 599 ? status : 0;
    pthread_mutex_lock(&m->lock);
    struct http_series *s = NULL;
    for (size_t i = 0; i < m->n_series && !s; i++) {
        struct http_series *c = &m->series[i];
        if (c->code == code && c->method == verb && strcmp(c->route, name) == 0) {
            s = c;
        }
    }
    if (!s && m->n_series < GATEWAY_METRICS_HTTP_SERIES_MAX) {
        s = &m->series[m->n_series++];
        snprintf(s->route, sizeof(s->route), "%s", name);
        s->method = verb;
        s->code = code;
    }
    struct route_histogram *h = NULL;
    for (size_t i = 0; i < m->n_routes && !h && !stream; i++) {
        if (strcmp(m->routes[i].route, name) == 0) {
            h = &m->routes[i];
        }
    }
    if (!h && !stream && m->n_routes < GATEWAY_METRICS_ROUTES_MAX) {
        h = &m->routes[m->n_routes++];
        snprintf(h->route, sizeof(h->route), "%s", name);
    }
    if (s) {
        s->count++;
    } else {
        m->dropped++;
    }
    if (h) {
        for (size_t i = 0; i < HTTP_BUCKETS; i++) {
            h->buckets[i] += seconds <= http_le_s[i];
        }
        h->count++;
        h->sum += seconds > 0 ? seconds : 0;
    } else if (!stream) {
        m->dropped++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* The <name> of prefix<name> when it is 1..31 bytes of [A-Za-z0-9_-]; else NULL. */
static const char *topic_name(const char *topic, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (!topic || strncmp(topic, prefix, plen) != 0) {
        return NULL;
    }
    const char *name = topic + plen;
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    return n > 0 && n < NAME_MAX_BYTES && name[n] == '\0' ? name : NULL;
}

/* The entry for name, created when create is true and there is room; NULL otherwise.
 * Called with the lock held. */
static struct component *component_for(struct gateway_metrics *m, const char *name, bool create)
{
    struct component *free_slot = NULL;
    for (size_t i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        struct component *c = &m->components[i];
        if (c->name[0] != '\0' && strcmp(c->name, name) == 0) {
            return c;
        }
        if (c->name[0] == '\0' && !free_slot) {
            free_slot = c;
        }
    }
    if (!create || !free_slot) {
        return NULL;
    }
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    return free_slot;
}

/* Frees a slot that holds no snapshot any more. Lock held. */
static void component_release_if_empty(struct component *c)
{
    if (c && !c->snapshot) {
        memset(c, 0, sizeof(*c));
    }
}

bool gateway_metrics_on_snapshot(struct gateway_metrics *m, const char *topic,
                                 const char *payload, size_t len)
{
    const char *name = topic_name(topic, HB_TOPIC_PREFIX "metrics/");
    if (!name || len > GATEWAY_METRICS_SNAPSHOT_MAX || (len > 0 && !payload)) {
        return false;
    }
    cJSON *snapshot = NULL;
    if (len > 0) {
        snapshot = gateway_json_parse(payload, len);
        if (!cJSON_IsObject(snapshot)) {
            cJSON_Delete(snapshot);
            return false;
        }
    }
    pthread_mutex_lock(&m->lock);
    struct component *c = component_for(m, name, snapshot != NULL);
    if (c) {
        cJSON_Delete(c->snapshot);
        c->snapshot = snapshot;
        snapshot = NULL;
        component_release_if_empty(c);
    } else if (snapshot) {
        m->dropped++;
    }
    pthread_mutex_unlock(&m->lock);
    bool kept = c != NULL || len == 0;
    cJSON_Delete(snapshot);
    return kept;
}

void gateway_metrics_use_status(struct gateway_metrics *m, struct gateway_status *status)
{
    pthread_mutex_lock(&m->lock);
    m->status = status;
    pthread_mutex_unlock(&m->lock);
}

bool gateway_metrics_escape(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        char esc = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
        size_t need = esc ? 2 : 1;
        if (n + need >= cap) {
            out[n] = '\0';
            return false;
        }
        if (esc) {
            out[n++] = '\\';
            out[n++] = esc;
        } else {
            out[n++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
        }
    }
    out[n] = '\0';
    return true;
}

/* A growing output buffer; failed goes true once an append fails, and stays. */
struct page {
    char *text;
    size_t len;
    size_t cap;
    bool failed;
};

static void put(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct page *p, const char *fmt, ...)
{
    while (!p->failed) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->text ? p->text + p->len : NULL, p->text ? p->cap - p->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) {
            p->failed = true;
            return;
        }
        if (p->text && (size_t)n < p->cap - p->len) {
            p->len += (size_t)n;
            return;
        }
        size_t want = p->cap ? p->cap * 2 : 8192;
        while (want < p->len + (size_t)n + 1) {
            want *= 2;
        }
        char *grown = want <= RENDER_MAX ? realloc(p->text, want) : NULL;
        if (!grown) {
            p->failed = true;
            return;
        }
        p->text = grown;
        p->cap = want;
    }
}

/* Writes "# HELP" and "# TYPE" for one family. */
static void family(struct page *p, const char *name, const char *type, const char *help)
{
    put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample value: integers without a fraction, others as the shortest exact-enough text. */
static void put_value(struct page *p, double v)
{
    put(p, " %.15g\n", v);
}

/* Reads member key of obj as a number, fallback when it is not one. */
static double number(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

static void render_http(struct page *p, struct gateway_metrics *m)
{
    char route[GATEWAY_METRICS_LABEL_MAX];
    family(p, "hausbus_http_requests_total", "counter",
           "HTTP requests answered, by matched route pattern, method and status code.");
    for (size_t i = 0; i < m->n_series; i++) {
        const struct http_series *s = &m->series[i];
        gateway_metrics_escape(s->route, route, sizeof(route));
        put(p, "hausbus_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"}", route,
            s->method, s->code);
        put_value(p, (double)s->count);
    }
    family(p, "hausbus_http_request_duration_seconds", "histogram",
           "Time from request start to the answer, by matched route pattern.");
    for (size_t i = 0; i < m->n_routes; i++) {
        const struct route_histogram *h = &m->routes[i];
        gateway_metrics_escape(h->route, route, sizeof(route));
        for (size_t b = 0; b < HTTP_BUCKETS; b++) {
            put(p, "hausbus_http_request_duration_seconds_bucket{route=\"%s\",le=\"%.15g\"}",
                route, http_le_s[b]);
            put_value(p, (double)h->buckets[b]);
        }
        put(p, "hausbus_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"}", route);
        put_value(p, (double)h->count);
        put(p, "hausbus_http_request_duration_seconds_sum{route=\"%s\"}", route);
        put_value(p, h->sum);
        put(p, "hausbus_http_request_duration_seconds_count{route=\"%s\"}", route);
        put_value(p, (double)h->count);
    }
}

void gateway_metrics_count_batch(struct gateway_metrics *m, size_t items)
{
    pthread_mutex_lock(&m->lock);
    m->request_batches++;
    m->request_batch_items += items;
    pthread_mutex_unlock(&m->lock);
}

/* The gateway's own request batches (docs/PROTOCOL.md, "Batches"). */
static void render_batches(struct page *p, const struct gateway_metrics *m)
{
    family(p, "hausbus_gateway_request_batches_total", "counter",
           "Batched request messages sent to components (two or more requests in one).");
    put(p, "hausbus_gateway_request_batches_total");
    put_value(p, (double)m->request_batches);
    family(p, "hausbus_gateway_request_batch_items_total", "counter",
           "Requests sent inside batched request messages.");
    put(p, "hausbus_gateway_request_batch_items_total");
    put_value(p, (double)m->request_batch_items);
}

/* The saga object to report: the order component's, else the first one found. */
static const cJSON *find_saga(const struct gateway_metrics *m)
{
    const cJSON *found = NULL;
    for (size_t i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        const struct component *c = &m->components[i];
        const cJSON *saga = cJSON_GetObjectItemCaseSensitive(c->snapshot, "saga");
        if (cJSON_IsObject(saga) && (!found || strcmp(c->name, "order") == 0)) {
            found = saga;
        }
    }
    return found;
}

/* One step's histogram {"le":[ms...],"counts":[cumulative...],"count","sum"} in seconds.
 * Skipped (counted as dropped) when le and counts do not pair up. */
static void render_step(struct page *p, struct gateway_metrics *m, const char *step,
                        const cJSON *h)
{
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(h, "le");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
    int n = cJSON_GetArraySize(le);
    if (!cJSON_IsArray(le) || !cJSON_IsArray(counts) || n != cJSON_GetArraySize(counts) ||
        n > 64) {
        m->omitted++;
        return;
    }
    char label[GATEWAY_METRICS_LABEL_MAX];
    gateway_metrics_escape(step, label, sizeof(label));
    const cJSON *bound = le->child;
    const cJSON *count = counts->child;
    for (; bound && count; bound = bound->next, count = count->next) {
        put(p, "hausbus_saga_step_duration_seconds_bucket{step=\"%s\",le=\"%.15g\"}", label,
            (cJSON_IsNumber(bound) ? bound->valuedouble : 0) / 1000.0);
        put_value(p, cJSON_IsNumber(count) ? count->valuedouble : 0);
    }
    double total = number(h, "count", 0);
    put(p, "hausbus_saga_step_duration_seconds_bucket{step=\"%s\",le=\"+Inf\"}", label);
    put_value(p, total);
    put(p, "hausbus_saga_step_duration_seconds_sum{step=\"%s\"}", label);
    put_value(p, number(h, "sum", 0) / 1000.0);
    put(p, "hausbus_saga_step_duration_seconds_count{step=\"%s\"}", label);
    put_value(p, total);
}

static void render_saga(struct page *p, struct gateway_metrics *m)
{
    static const struct {
        const char *metric;
        const char *key;
        const char *help;
    } counters[] = {
        {"hausbus_orders_placed_total", "placed", "Orders placed (from the order database)."},
        {"hausbus_orders_paid_total", "paid", "Orders that were paid."},
        {"hausbus_orders_cancelled_total", "cancelled", "Orders cancelled."},
        {"hausbus_orders_delivered_total", "delivered", "Orders delivered."},
    };
    const cJSON *saga = find_saga(m);
    if (!saga) {
        return; /* no order component has reported yet: absent rather than a false 0 */
    }
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        family(p, counters[i].metric, "counter", counters[i].help);
        put(p, "%s", counters[i].metric);
        put_value(p, number(saga, counters[i].key, 0));
    }
    family(p, "hausbus_orders_rejected_total", "counter", "Orders rejected, by reason.");
    const cJSON *rejected = cJSON_GetObjectItemCaseSensitive(saga, "rejected");
    size_t n = 0;
    char reason[GATEWAY_METRICS_LABEL_MAX];
    for (const cJSON *r = cJSON_IsObject(rejected) ? rejected->child : NULL; r; r = r->next) {
        if (!cJSON_IsNumber(r) || n++ >= GATEWAY_METRICS_REASONS_MAX) {
            m->omitted++;
            continue;
        }
        gateway_metrics_escape(r->string, reason, sizeof(reason));
        put(p, "hausbus_orders_rejected_total{reason=\"%s\"}", reason);
        put_value(p, r->valuedouble);
    }
    family(p, "hausbus_saga_step_duration_seconds", "histogram",
           "Time between two saga steps of one order (placed_to_paid, ...).");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(saga, "stepLatencyMs");
    for (const cJSON *s = cJSON_IsObject(steps) ? steps->child : NULL; s; s = s->next) {
        render_step(p, m, s->string, s);
    }
}

/* hausbus_messages_<direction>_total{component,topic} from each snapshot's key object. */
static void render_topics(struct page *p, struct gateway_metrics *m, const char *metric,
                          const char *key, const char *help)
{
    char name[GATEWAY_METRICS_LABEL_MAX], topic[GATEWAY_METRICS_LABEL_MAX];
    family(p, metric, "counter", help);
    for (size_t i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        const struct component *c = &m->components[i];
        const cJSON *topics = cJSON_GetObjectItemCaseSensitive(c->snapshot, key);
        size_t n = 0;
        gateway_metrics_escape(c->name, name, sizeof(name));
        for (const cJSON *t = cJSON_IsObject(topics) ? topics->child : NULL; t; t = t->next) {
            if (!cJSON_IsNumber(t) || n++ >= GATEWAY_METRICS_TOPICS_MAX) {
                m->omitted++;
                continue;
            }
            gateway_metrics_escape(t->string, topic, sizeof(topic));
            put(p, "%s{component=\"%s\",topic=\"%s\"}", metric, name, topic);
            put_value(p, t->valuedouble);
        }
    }
}

/* metric{component} from each snapshot's number member key. */
static void render_per_component(struct page *p, const struct gateway_metrics *m,
                                 const char *metric, const char *type, const char *key,
                                 const char *help)
{
    char name[GATEWAY_METRICS_LABEL_MAX];
    family(p, metric, type, help);
    for (size_t i = 0; i < GATEWAY_METRICS_COMPONENTS_MAX; i++) {
        const struct component *c = &m->components[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->snapshot, key);
        if (cJSON_IsNumber(v)) {
            gateway_metrics_escape(c->name, name, sizeof(name));
            put(p, "%s{component=\"%s\"}", metric, name);
            put_value(p, v->valuedouble);
        }
    }
}

static void render_components(struct page *p, struct gateway_metrics *m)
{
    render_topics(p, m, "hausbus_messages_handled_total", "handled",
                  "Events a component took in (each of a batch), by topic (since its "
                  "start).");
    render_topics(p, m, "hausbus_messages_published_total", "published",
                  "Outbox events the broker acknowledged (each of a batch), by topic "
                  "(since its start).");
    render_per_component(p, m, "hausbus_dead_letters_total", "counter", "deadLetters",
                         "Messages a component sent to its dead-letter topic.");
    render_per_component(p, m, "hausbus_handler_errors_total", "counter", "handlerErrors",
                         "Handlers that failed for another reason than a bad message.");
    render_per_component(p, m, "hausbus_duplicates_total", "counter", "duplicates",
                         "Events recognised as already handled (inbox hits).");
    render_per_component(p, m, "hausbus_outbox_pending", "gauge", "outboxPending",
                         "Events committed but not yet acknowledged by the broker.");
    char name[GATEWAY_METRICS_LABEL_MAX];
    family(p, "hausbus_component_up", "gauge",
           "1 while a component's retained status is online, 0 when offline.");
    struct gateway_process_status rows[GATEWAY_STATUS_MAX];
    size_t n = m->status ? gateway_status_list(m->status, rows, GATEWAY_STATUS_MAX) : 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].state != GATEWAY_PROCESS_UNKNOWN) {
            gateway_metrics_escape(rows[i].name, name, sizeof(name));
            put(p, "hausbus_component_up{component=\"%s\"}", name);
            put_value(p, rows[i].state == GATEWAY_PROCESS_ONLINE);
        }
    }
}

void gateway_metrics_set_process(struct gateway_metrics *m,
                                 const struct gateway_process_stats *stats)
{
    pthread_mutex_lock(&m->lock);
    m->has_process = stats != NULL;
    if (stats) {
        m->process = *stats;
    }
    pthread_mutex_unlock(&m->lock);
}

/* hausbus_build_info and, when known, the standard process_* family of the gateway. */
static void render_process(struct page *p, const struct gateway_metrics *m)
{
    char version[GATEWAY_METRICS_LABEL_MAX], revision[GATEWAY_METRICS_LABEL_MAX];
    gateway_metrics_escape(HAUSBUS_VERSION, version, sizeof(version));
    gateway_metrics_escape(HAUSBUS_REVISION, revision, sizeof(revision));
    family(p, "hausbus_build_info", "gauge",
           "Always 1; the labels say which build of the gateway answers.");
    put(p, "hausbus_build_info{version=\"%s\",revision=\"%s\"}", version, revision);
    put_value(p, 1);
    if (!m->has_process) {
        return;
    }
    const struct {
        const char *name;
        const char *type;
        const char *help;
        double value;
    } rows[] = {
        {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
         m->process.cpu_seconds},
        {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         m->process.resident_bytes},
        {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
         m->process.virtual_bytes},
        {"process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", m->process.start_time_seconds},
        {"process_open_fds", "gauge", "Number of open file descriptors.", m->process.open_fds},
        {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
         m->process.max_fds},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        family(p, rows[i].name, rows[i].type, rows[i].help);
        put(p, "%s", rows[i].name);
        put_value(p, rows[i].value);
    }
}

char *gateway_metrics_render(struct gateway_metrics *m, size_t *len)
{
    struct page p = {.text = NULL};
    pthread_mutex_lock(&m->lock);
    m->omitted = 0;
    render_process(&p, m);
    render_http(&p, m);
    render_batches(&p, m);
    render_saga(&p, m);
    render_components(&p, m);
    family(&p, "hausbus_metrics_dropped_total", "counter",
           "Observations and series left out because a cardinality cap was reached.");
    put(&p, "hausbus_metrics_dropped_total");
    put_value(&p, (double)m->dropped);
    family(&p, "hausbus_metrics_omitted_series", "gauge",
           "Series of the components' snapshots this page left out (caps, malformed values).");
    put(&p, "hausbus_metrics_omitted_series");
    put_value(&p, (double)m->omitted);
    pthread_mutex_unlock(&m->lock);
    if (p.failed) {
        free(p.text);
        return NULL;
    }
    if (len) {
        *len = p.len;
    }
    return p.text;
}
