/* The one table of process statuses, fed by retained status messages. */
#include "status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hausbus/bus.h"
#include "hausbus/text.h"

#define STATUS_PREFIX HB_TOPIC_PREFIX "status/"

/* The processes every table knows from the start; all but the gateway itself take
 * commands, so /readyz waits for them. (The gateway's own status is its broker link:
 * with several gateway replicas the retained "gateway" status is any one of them.) */
static const struct {
    const char *name;
    bool required;
} known[] = {
    {"gateway", false},  {"order", true},        {"product", true}, {"payment", true},
    {"delivery", true},  {"notification", true}, {"view", true},
};
#define KNOWN_COUNT (sizeof(known) / sizeof(known[0]))

struct instance_row {
    char name[GATEWAY_INSTANCE_NAME_MAX]; /* "<component>/<instance>" */
    size_t component_len;                 /* bytes before the '/' */
    bool online;
};

struct gateway_status {
    pthread_mutex_t lock;
    size_t count;
    struct gateway_process_status rows[GATEWAY_STATUS_MAX]; /* known ones first */
    size_t n_instances;
    struct instance_row instances[GATEWAY_INSTANCES_MAX];
};

hb_err_t gateway_status_create(struct gateway_status **out)
{
    struct gateway_status *status = calloc(1, sizeof(*status));
    if (!status) {
        return HB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&status->lock, NULL) != 0) {
        free(status);
        return HB_ERR_NOMEM;
    }
    for (size_t i = 0; i < KNOWN_COUNT; i++) {
        snprintf(status->rows[i].name, sizeof(status->rows[i].name), "%s", known[i].name);
        status->rows[i].state = GATEWAY_PROCESS_UNKNOWN;
        status->rows[i].required = known[i].required;
    }
    status->count = KNOWN_COUNT;
    *out = status;
    return HB_OK;
}

void gateway_status_destroy(struct gateway_status *status)
{
    if (!status) {
        return;
    }
    pthread_mutex_destroy(&status->lock);
    free(status);
}

bool gateway_process_name_valid(const char *name, size_t len, size_t max)
{
    if (!name || len == 0 || len >= max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

const char *gateway_process_state_name(enum gateway_process_state state)
{
    switch (state) {
    case GATEWAY_PROCESS_ONLINE:
        return "online";
    case GATEWAY_PROCESS_OFFLINE:
        return "offline";
    case GATEWAY_PROCESS_UNKNOWN:
        break;
    }
    return "unknown";
}

static bool instance_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* "<component>/<instance>" with a valid process name and instance: the component's length
 * into *component_len. */
static bool instance_name_valid(const char *name, size_t *component_len)
{
    const char *slash = strchr(name, '/');
    if (!slash || strlen(name) >= GATEWAY_INSTANCE_NAME_MAX ||
        !gateway_process_name_valid(name, (size_t)(slash - name), GATEWAY_STATUS_NAME_MAX) ||
        slash[1] == '\0' || strlen(slash + 1) >= 64) {
        return false;
    }
    for (const char *c = slash + 1; *c; c++) {
        if (!instance_char(*c)) {
            return false;
        }
    }
    *component_len = (size_t)(slash - name);
    return true;
}

/* Records a replica's status. Lock held. */
static bool on_instance(struct gateway_status *status, const char *name, size_t component_len,
                        bool forget, bool online)
{
    struct instance_row *row = NULL;
    for (size_t i = 0; i < status->n_instances && !row; i++) {
        if (strcmp(status->instances[i].name, name) == 0) {
            row = &status->instances[i];
        }
    }
    if (forget) {
        if (row) {
            *row = status->instances[--status->n_instances];
        }
        return true;
    }
    if (!row && status->n_instances < GATEWAY_INSTANCES_MAX) {
        row = &status->instances[status->n_instances++];
    }
    for (size_t i = 0; i < status->n_instances && !row; i++) {
        if (!status->instances[i].online) {
            row = &status->instances[i]; /* full: a replica that is gone makes room */
        }
    }
    if (!row) {
        return false;
    }
    hb_strlcpy(row->name, name, sizeof(row->name));
    row->component_len = component_len;
    row->online = online;
    return true;
}

/* row's state counting its replicas: online while any is online; offline when it has
 * replicas and none is, unless its own status says online. Lock held. */
static enum gateway_process_state aggregate(const struct gateway_status *status,
                                            const struct gateway_process_status *row)
{
    size_t len = strlen(row->name);
    bool any = false;
    for (size_t i = 0; i < status->n_instances; i++) {
        const struct instance_row *r = &status->instances[i];
        if (r->component_len == len && memcmp(r->name, row->name, len) == 0) {
            if (r->online) {
                return GATEWAY_PROCESS_ONLINE;
            }
            any = true;
        }
    }
    return any && row->state != GATEWAY_PROCESS_ONLINE ? GATEWAY_PROCESS_OFFLINE : row->state;
}

/* The row of name, or NULL. Lock held. */
static struct gateway_process_status *find_row(struct gateway_status *status, const char *name)
{
    for (size_t i = 0; i < status->count; i++) {
        if (strcmp(status->rows[i].name, name) == 0) {
            return &status->rows[i];
        }
    }
    return NULL;
}

bool gateway_status_on_message(struct gateway_status *status, const char *topic,
                               const char *payload, size_t len)
{
    size_t prefix_len = strlen(STATUS_PREFIX);
    if (!status || !topic || strncmp(topic, STATUS_PREFIX, prefix_len) != 0 ||
        (len > 0 && !payload)) {
        return false;
    }
    const char *name = topic + prefix_len;
    bool forget = len == 0;
    bool online = len == 6 && memcmp(payload, "online", 6) == 0;
    bool offline = len == 7 && memcmp(payload, "offline", 7) == 0;
    if (!forget && !online && !offline) {
        return false;
    }
    size_t component_len = 0;
    if (instance_name_valid(name, &component_len)) {
        pthread_mutex_lock(&status->lock);
        bool done = on_instance(status, name, component_len, forget, online);
        pthread_mutex_unlock(&status->lock);
        return done;
    }
    if (!gateway_process_name_valid(name, strlen(name), GATEWAY_STATUS_NAME_MAX)) {
        return false;
    }
    bool done = true;
    pthread_mutex_lock(&status->lock);
    struct gateway_process_status *row = find_row(status, name);
    size_t at = row ? (size_t)(row - status->rows) : status->count;
    if (forget && row && at >= KNOWN_COUNT) {
        memmove(row, row + 1, (status->count - at - 1) * sizeof(*row));
        status->count--;
    } else if (forget && row) {
        row->state = GATEWAY_PROCESS_UNKNOWN;
    } else if (!forget && !row && status->count < GATEWAY_STATUS_MAX) {
        row = &status->rows[status->count++];
        memset(row, 0, sizeof(*row));
        snprintf(row->name, sizeof(row->name), "%s", name);
    } else if (!forget && !row) {
        done = false;
    }
    if (!forget && row) {
        row->state = online ? GATEWAY_PROCESS_ONLINE : GATEWAY_PROCESS_OFFLINE;
    }
    pthread_mutex_unlock(&status->lock);
    return done;
}

enum gateway_process_state gateway_status_of(struct gateway_status *status, const char *name)
{
    enum gateway_process_state state = GATEWAY_PROCESS_UNKNOWN;
    if (!status || !name) {
        return state;
    }
    pthread_mutex_lock(&status->lock);
    const struct gateway_process_status *row = find_row(status, name);
    if (row) {
        state = aggregate(status, row);
    }
    pthread_mutex_unlock(&status->lock);
    return state;
}

size_t gateway_status_list(struct gateway_status *status, struct gateway_process_status *out,
                           size_t cap)
{
    pthread_mutex_lock(&status->lock);
    size_t n = status->count < cap ? status->count : cap;
    memcpy(out, status->rows, n * sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i].state = aggregate(status, &status->rows[i]);
    }
    pthread_mutex_unlock(&status->lock);
    return n;
}
