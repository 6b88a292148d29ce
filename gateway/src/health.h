/* What GET /healthz reports: the broker connection and each process's retained status. */
#ifndef GATEWAY_HEALTH_H
#define GATEWAY_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "hausbus/err.h"

#define GATEWAY_HEALTH_MAX_COMPONENTS 32 /* further names are not tracked */
#define GATEWAY_HEALTH_NAME_MAX 32       /* bytes with the NUL */

struct gateway_health;

/* Returns HB_ERR_NOMEM; *out is set only on success. */
hb_err_t gateway_health_create(struct gateway_health **out);

/* Accepts NULL. */
void gateway_health_destroy(struct gateway_health *health);

/* Records a message of topic "hausbus/v1/status/<name>" with payload "online" or
 * "offline"; an empty payload (a retained status being cleared) forgets the name.
 * Returns false and changes nothing when topic or payload is anything else, or when
 * the table is full. Thread-safe. */
bool gateway_health_on_status(struct gateway_health *health, const char *topic,
                              const char *payload, size_t len);

/* Makes render add "auth": mode (a static string, "on" or "open"); NULL leaves it out.
 * Thread-safe. */
void gateway_health_set_auth(struct gateway_health *health, const char *mode);

/* Renders {"status","broker","auth"?,"components":{...}} and sets *code to 200 when
 * broker_connected, else 503. Returns a malloc'd string, NULL on allocation failure. */
char *gateway_health_render(struct gateway_health *health, bool broker_connected, int *code);

/* True when name (len bytes, not necessarily NUL-terminated) looks like one of our
 * process names: 1 to max - 1 bytes of [a-z0-9_-]. Such a name can go into JSON keys, the
 * board page and log lines as it is. Can't fail. */
bool gateway_process_name_valid(const char *name, size_t len, size_t max);

#endif
