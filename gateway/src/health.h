/* What GET /healthz and GET /readyz report, from the broker link and the status table. */
#ifndef GATEWAY_HEALTH_H
#define GATEWAY_HEALTH_H

#include <stdbool.h>

#include "status.h"

/* Which probe to answer. */
enum gateway_probe {
    GATEWAY_PROBE_LIVE,  /* /healthz: 200 while the gateway has its broker */
    GATEWAY_PROBE_READY, /* /readyz: 200 only when every component is online, too */
};

/* Renders the probe's body and sets *code. /healthz:
 * {"status","broker","auth"?,"components":{name: state},"missing":[...]}, 200 when
 * broker_connected, else 503. /readyz: {"status":"ready"|"not ready","broker",
 * "missing":[...]}, 200 only when broker_connected and nothing is missing. "missing"
 * lists the required components that are not online. auth_mode (a static string,
 * "on" or "open") may be NULL to leave "auth" out. Returns a malloc'd string, NULL on
 * allocation failure. Thread-safe. */
char *gateway_health_render(struct gateway_status *status, enum gateway_probe probe,
                            const char *auth_mode, bool broker_connected, int *code);

#endif
