/* systemd readiness and watchdog (the sd_notify protocol) without libsystemd. */
#ifndef HAUSBUS_SDNOTIFY_H
#define HAUSBUS_SDNOTIFY_H

#include <signal.h>
#include <stdint.h>

#include "hausbus/err.h"

/* Sends state (newline-separated assignments, e.g. "READY=1" or "STATUS=connected") as
 * one datagram to the unix socket named by $NOTIFY_SOCKET; a leading '@' names the
 * abstract namespace. Without NOTIFY_SOCKET (not started by systemd with Type=notify)
 * it does nothing and returns HB_OK. Returns HB_ERR_INVAL for a NULL or empty state or a
 * socket path that does not fit a sockaddr_un, HB_ERR_IO when the datagram cannot be
 * sent. Never blocks for long: a full socket buffer fails with HB_ERR_IO. */
hb_err_t hb_sdnotify(const char *state);

/* The watchdog ping interval in ms: half of $WATCHDOG_USEC (systemd's WatchdogSec=), as
 * systemd recommends; at least 1.
 * Returns 0 (no watchdog) when WATCHDOG_USEC is unset, not a positive integer, or when
 * $WATCHDOG_PID is set to a pid other than ours (the variable was meant for a parent). */
int64_t hb_sdnotify_watchdog_interval_ms(void);

/* Waits for one of signals (which the caller has blocked in every thread) and returns
 * it. With systemd's watchdog on (hb_sdnotify_watchdog_interval_ms() > 0) sends
 * WATCHDOG=1 every interval meanwhile: for a main thread whose workers are threads of
 * libraries (the gateway's HTTP and MQTT threads), the ping says the process is scheduled
 * and has not begun a shutdown that hangs. */
int hb_sdnotify_wait_for_signal(const sigset_t *signals);

#endif
