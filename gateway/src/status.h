/* The one table of process statuses (retained hausbus/v1/status/<name>): read by
 * /healthz, /readyz, the 503 decision, GET /metrics and the live board. */
#ifndef GATEWAY_STATUS_H
#define GATEWAY_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "hausbus/err.h"

#define GATEWAY_STATUS_MAX 32      /* processes tracked; further names are ignored */
#define GATEWAY_STATUS_NAME_MAX 32 /* bytes with the NUL */
/* Replicas tracked (hausbus/v1/status/<component>/<instance>); when full, a new one takes
 * the place of one that is offline. */
#define GATEWAY_INSTANCES_MAX 128
#define GATEWAY_INSTANCE_NAME_MAX 96 /* "<component>/<instance>" with the NUL */

enum gateway_process_state {
    GATEWAY_PROCESS_UNKNOWN, /* no status seen since the gateway started (or cleared) */
    GATEWAY_PROCESS_ONLINE,
    GATEWAY_PROCESS_OFFLINE,
};

/* One row of the table as gateway_status_list copies it. */
struct gateway_process_status {
    char name[GATEWAY_STATUS_NAME_MAX];
    enum gateway_process_state state;
    bool required; /* a component the gateway sends commands to: /readyz waits for it */
};

struct gateway_status;

/* Creates a table that knows the seven processes of hausbus (gateway and the six
 * components, state unknown) and learns other names from their status messages.
 * Returns HB_ERR_NOMEM; *out is set only on success. */
hb_err_t gateway_status_create(struct gateway_status **out);

/* Accepts NULL. */
void gateway_status_destroy(struct gateway_status *status);

/* Records a message of topic "hausbus/v1/status/<name>" with payload "online" or
 * "offline"; an empty payload (a retained status being cleared) makes a known process
 * unknown and forgets any other name. A replica's status, "<name>/<instance>" (instance:
 * 1 to 63 bytes of [A-Za-z0-9._-]), counts for its process: the process is online while
 * any of its replicas is, offline when it has replicas and none is online. Returns false
 * and changes nothing when topic or payload is anything else, or when the table is full.
 * Thread-safe. */
bool gateway_status_on_message(struct gateway_status *status, const char *topic,
                               const char *payload, size_t len);

/* The state of process name (NULL or an untracked name: unknown). Thread-safe. */
enum gateway_process_state gateway_status_of(struct gateway_status *status, const char *name);

/* Copies up to cap rows into out, the seven known processes first (gateway, order,
 * product, payment, delivery, notification, view), then others in order of arrival.
 * Returns the number copied. Thread-safe. */
size_t gateway_status_list(struct gateway_status *status, struct gateway_process_status *out,
                           size_t cap);

/* "online", "offline" or "unknown". Can't fail. */
const char *gateway_process_state_name(enum gateway_process_state state);

/* True when name (len bytes, not necessarily NUL-terminated) looks like one of our
 * process names: 1 to max - 1 bytes of [a-z0-9_-]. Such a name can go into JSON keys, the
 * board page and log lines as it is. Can't fail. */
bool gateway_process_name_valid(const char *name, size_t len, size_t max);

#endif
