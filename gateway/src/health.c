/* GET /healthz and GET /readyz: the broker link and the components' retained status. */
#include "health.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "hausbus/envelope.h"

char *gateway_health_render(struct gateway_status *status, enum gateway_probe probe,
                            const char *auth_mode, bool broker_connected, int *code)
{
    struct gateway_process_status rows[GATEWAY_STATUS_MAX];
    size_t n = gateway_status_list(status, rows, GATEWAY_STATUS_MAX);
    bool live = probe == GATEWAY_PROBE_LIVE;
    bool all_online = true;
    for (size_t i = 0; i < n; i++) {
        all_online = all_online && (!rows[i].required || rows[i].state == GATEWAY_PROCESS_ONLINE);
    }
    bool ready = broker_connected && all_online;
    const char *verdict = live ? (broker_connected ? "ok" : "degraded")
                               : (ready ? "ready" : "not ready");
    cJSON *root = cJSON_CreateObject();
    bool ok = root && cJSON_AddStringToObject(root, "status", verdict) &&
              cJSON_AddStringToObject(root, "broker",
                                      broker_connected ? "connected" : "disconnected") &&
              (!live || !auth_mode || cJSON_AddStringToObject(root, "auth", auth_mode));
    cJSON *components = ok && live ? cJSON_AddObjectToObject(root, "components") : NULL;
    cJSON *missing = ok ? cJSON_AddArrayToObject(root, "missing") : NULL;
    ok = ok && missing && (!live || components);
    for (size_t i = 0; ok && i < n; i++) {
        if (components) {
            ok = cJSON_AddStringToObject(components, rows[i].name,
                                         gateway_process_state_name(rows[i].state)) != NULL;
        }
        if (ok && rows[i].required && rows[i].state != GATEWAY_PROCESS_ONLINE) {
            cJSON *name = cJSON_CreateString(rows[i].name);
            ok = name && cJSON_AddItemToArray(missing, name);
        }
    }
    char *text = ok ? hb_json_print(root) : NULL;
    cJSON_Delete(root);
    *code = (live ? broker_connected : ready) ? 200 : 503;
    return text;
}
