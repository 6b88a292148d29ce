/* The component status table behind GET /healthz, fed by retained status messages. */
#include "health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hausbus/bus.h"

#define STATUS_PREFIX HB_TOPIC_PREFIX "status/"

struct component_status {
    char name[GATEWAY_HEALTH_NAME_MAX];
    bool online;
};

struct gateway_health {
    pthread_mutex_t lock;
    const char *auth_mode; /* static; NULL: not reported */
    size_t count;
    struct component_status entries[GATEWAY_HEALTH_MAX_COMPONENTS]; /* sorted by name */
};

hb_err_t gateway_health_create(struct gateway_health **out)
{
    struct gateway_health *health = calloc(1, sizeof(*health));
    if (!health) {
        return HB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&health->lock, NULL) != 0) {
        free(health);
        return HB_ERR_NOMEM;
    }
    *out = health;
    return HB_OK;
}

void gateway_health_destroy(struct gateway_health *health)
{
    if (!health) {
        return;
    }
    pthread_mutex_destroy(&health->lock);
    free(health);
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

bool gateway_health_on_status(struct gateway_health *health, const char *topic,
                              const char *payload, size_t len)
{
    size_t prefix_len = strlen(STATUS_PREFIX);
    if (!topic || strncmp(topic, STATUS_PREFIX, prefix_len) != 0 ||
        !gateway_process_name_valid(topic + prefix_len, strlen(topic + prefix_len),
                                    GATEWAY_HEALTH_NAME_MAX)) {
        return false;
    }
    const char *name = topic + prefix_len;
    bool forget = len == 0;
    bool online = len == 6 && memcmp(payload, "online", 6) == 0;
    bool offline = len == 7 && memcmp(payload, "offline", 7) == 0;
    if (!forget && !online && !offline) {
        return false;
    }
    bool done = true;
    pthread_mutex_lock(&health->lock);
    size_t at = 0;
    while (at < health->count && strcmp(health->entries[at].name, name) < 0) {
        at++;
    }
    bool known = at < health->count && strcmp(health->entries[at].name, name) == 0;
    if (forget) {
        if (known) {
            memmove(&health->entries[at], &health->entries[at + 1],
                    (health->count - at - 1) * sizeof(health->entries[0]));
            health->count--;
        }
    } else if (known) {
        health->entries[at].online = online;
    } else if (health->count < GATEWAY_HEALTH_MAX_COMPONENTS) {
        memmove(&health->entries[at + 1], &health->entries[at],
                (health->count - at) * sizeof(health->entries[0]));
        snprintf(health->entries[at].name, sizeof(health->entries[at].name), "%s", name);
        health->entries[at].online = online;
        health->count++;
    } else {
        done = false;
    }
    pthread_mutex_unlock(&health->lock);
    return done;
}

void gateway_health_set_auth(struct gateway_health *health, const char *mode)
{
    pthread_mutex_lock(&health->lock);
    health->auth_mode = mode;
    pthread_mutex_unlock(&health->lock);
}

char *gateway_health_render(struct gateway_health *health, bool broker_connected, int *code)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *components = cJSON_CreateObject();
    bool ok = root && components &&
              cJSON_AddStringToObject(root, "status", broker_connected ? "ok" : "degraded") &&
              cJSON_AddStringToObject(root, "broker",
                                      broker_connected ? "connected" : "disconnected");
    pthread_mutex_lock(&health->lock);
    if (ok && health->auth_mode) {
        ok = cJSON_AddStringToObject(root, "auth", health->auth_mode) != NULL;
    }
    for (size_t i = 0; ok && i < health->count; i++) {
        ok = cJSON_AddStringToObject(components, health->entries[i].name,
                                     health->entries[i].online ? "online" : "offline") != NULL;
    }
    pthread_mutex_unlock(&health->lock);
    char *text = NULL;
    if (ok && cJSON_AddItemToObject(root, "components", components)) {
        components = NULL; /* now owned by root */
        text = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(components);
    cJSON_Delete(root);
    *code = broker_connected ? 200 : 503;
    return text;
}
