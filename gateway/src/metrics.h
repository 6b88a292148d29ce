/* GET /metrics: the gateway's HTTP counters and the components' retained metrics
 * snapshots (hausbus/v1/metrics/<name>), rendered in the Prometheus text format 0.0.4.
 * No I/O; every function is thread-safe (civetweb workers observe and render while the
 * bus thread stores snapshots). */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "hausbus/err.h"
#include "process_stats.h"

/* Set by the build (CMake project version, git describe); see gateway/CMakeLists.txt. */
#ifndef HAUSBUS_VERSION
#define HAUSBUS_VERSION "unknown"
#endif
#ifndef HAUSBUS_REVISION
#define HAUSBUS_REVISION "unknown"
#endif

#define GATEWAY_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define GATEWAY_METRICS_HTTP_SERIES_MAX 256 /* route x method x code combinations */
#define GATEWAY_METRICS_ROUTES_MAX 64       /* latency histograms, one per route */
#define GATEWAY_METRICS_COMPONENTS_MAX 32   /* snapshots kept */
#define GATEWAY_METRICS_TOPICS_MAX 64       /* topics rendered per component and direction */
#define GATEWAY_METRICS_REASONS_MAX 32      /* rejection reasons rendered */
#define GATEWAY_METRICS_SNAPSHOT_MAX 65536  /* bytes; a larger snapshot is ignored */
#define GATEWAY_METRICS_LABEL_MAX 160       /* bytes of an escaped label value with the NUL */

struct gateway_metrics;
struct gateway_status;

/* Returns HB_ERR_NOMEM; *out is set only on success. */
hb_err_t gateway_metrics_create(struct gateway_metrics **out);

/* Accepts NULL. */
void gateway_metrics_destroy(struct gateway_metrics *m);

/* Counts one answered request: route is the matched pattern ("/orders/{id}"); NULL or a
 * pattern the route table does not have counts as "unmatched"; method is normalised to
 * a known verb or "other"; status outside 100..599 counts as 0. seconds goes into the
 * route's latency histogram unless the route table row says the answer is a stream
 * (GET /board/events). A combination beyond the caps is counted as dropped. */
void gateway_metrics_observe_http(struct gateway_metrics *m, const char *route,
                                  const char *method, int status, double seconds);

/* Counts one batched request message the gateway sent with items (>= 2) requests in it
 * (PROTOCOL.md "Batches"). Can't fail. */
void gateway_metrics_count_batch(struct gateway_metrics *m, size_t items);

/* Keeps the snapshot of topic "hausbus/v1/metrics/<name>" (payload: the JSON object of
 * docs/PROTOCOL.md); an empty payload (a retained message being cleared) forgets it.
 * Returns false and keeps nothing for another topic, a name that is not 1..31 bytes of
 * [A-Za-z0-9_-], a payload over GATEWAY_METRICS_SNAPSHOT_MAX or not a JSON object, or a
 * full table. */
bool gateway_metrics_on_snapshot(struct gateway_metrics *m, const char *topic,
                                 const char *payload, size_t len);

/* Makes render read hausbus_component_up from status (the gateway's one status table,
 * which must outlive m); NULL: no such series. Thread-safe. */
void gateway_metrics_use_status(struct gateway_metrics *m, struct gateway_status *status);

/* Keeps stats (the gateway process's own, read by the caller) for the process_* family
 * of the next render; NULL forgets them, and the family is left out. Can't fail. */
void gateway_metrics_set_process(struct gateway_metrics *m,
                                 const struct gateway_process_stats *stats);

/* Renders everything in the text exposition format. Returns a malloc'd NUL-terminated
 * string (length in *len when len is non-NULL), NULL on allocation failure. */
char *gateway_metrics_render(struct gateway_metrics *m, size_t *len);

/* Escapes a label value for the exposition format (\\ \" \n; other control bytes
 * become '?') into out (cap bytes, always NUL-terminated, cut when longer). Returns
 * false when it had to cut. */
bool gateway_metrics_escape(const char *in, char *out, size_t cap);

#endif
