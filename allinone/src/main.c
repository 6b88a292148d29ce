/* hausbus: the all-in-one, wiring only: every selected component as a thread of one
 * process, the gateway beside them, one signal stops all (for boards with little RAM). */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hausbus/component.h"
#include "hausbus/config.h"
#include "hausbus/envelope.h"
#include "hausbus/log.h"
#include "hausbus/probe.h"
#include "hausbus/sdnotify.h"
#include "select.h"
#include "sender.h"
#include "server.h"

/* Each handlers.h declares one of these; the six headers share a name, so not included. */
extern const struct hb_component order_component;
extern const struct hb_component product_component;
extern const struct hb_component payment_component;
extern const struct hb_component delivery_component;
extern const struct hb_component notification_component;
extern const struct hb_component view_component;

#define COMPONENT_STACK_BYTES (256 * 1024) /* a loop needs far less; the default is 8 MiB */
#define WAKE_SIGNAL SIGUSR1                /* a component thread ended */
#define HEARTBEAT_INTERVAL_S 1

static pthread_t main_thread;
/* notification_component as hausbus-notification runs it: with HAUSBUS_KAKAO_URL, the
 * KakaoTalk sender (main wires it before any thread starts). The sender's own thread gets
 * the default stack (libcurl and TLS), not COMPONENT_STACK_BYTES: only the component
 * loop's thread, which never calls curl_easy_perform, runs on that. */
static struct hb_component notification_wired;

static const struct hb_component *component_def(enum allinone_service i)
{
    static const struct hb_component *const defs[] = {
        [ALLINONE_ORDER] = &order_component,
        [ALLINONE_PRODUCT] = &product_component,
        [ALLINONE_PAYMENT] = &payment_component,
        [ALLINONE_DELIVERY] = &delivery_component,
        [ALLINONE_NOTIFICATION] = &notification_wired,
        [ALLINONE_VIEW] = &view_component,
    };
    return i < ALLINONE_GATEWAY ? defs[i] : NULL;
}

/* Runs in an ending component thread: wakes the main thread out of sigtimedwait. */
static void wake_main(void *arg)
{
    (void)arg;
    pthread_kill(main_thread, WAKE_SIGNAL);
}

/* --probe: every selected service's heartbeat (the gateway's is written by main). */
static int probe(const bool selected[ALLINONE_N_SERVICES])
{
    int exit_code = 0;
    for (int i = 0; i < ALLINONE_N_SERVICES; i++) {
        if (selected[i] && hb_component_probe(allinone_service_name(i)) != 0) {
            exit_code = 1;
        }
    }
    return exit_code;
}

/* The gateway has no loop of its own to prove it lives: the main thread writes its
 * heartbeat, with the gateway's connection, so --probe covers it like the components. */
static void gateway_heartbeat(const struct hb_config *cfg, const struct gateway_server *gw)
{
    char path[600];
    int n = snprintf(path, sizeof(path), "%s/gateway.heartbeat", cfg->data_dir);
    if (n < 0 || (size_t)n >= sizeof(path) ||
        hb_heartbeat_write(path, hb_wall_ms(), gateway_server_connected(gw)) != HB_OK) {
        HB_LOGW(0, "cannot write the gateway heartbeat in %s", cfg->data_dir);
    }
}

/* True when every selected service's heartbeat is at most HAUSBUS_PROBE_MAX_AGE_MS old:
 * the loops are ticking. A lost broker connection does not count against them (they
 * reconnect by themselves; restarting would not help). */
static bool all_alive(const struct hb_config *cfg, const bool selected[ALLINONE_N_SERVICES])
{
    const char *text = getenv("HAUSBUS_PROBE_MAX_AGE_MS");
    int64_t max_age_ms = text && *text ? atoll(text) : HB_PROBE_MAX_AGE_MS;
    for (int i = 0; i < ALLINONE_N_SERVICES; i++) {
        if (!selected[i]) {
            continue;
        }
        char path[600];
        char why[160];
        int n = snprintf(path, sizeof(path), "%s/%s.heartbeat", cfg->data_dir,
                         allinone_service_name(i));
        if (n < 0 || (size_t)n >= sizeof(path)) {
            return false;
        }
        hb_err_t rc = hb_heartbeat_check(path, hb_wall_ms(), max_age_ms, why, sizeof(why));
        if (rc != HB_OK && rc != HB_ERR_BUS) {
            return false;
        }
    }
    return true;
}

/* Tells systemd; the protocol is best effort, so a failure is only logged. */
static void notify_systemd(const char *state)
{
    hb_err_t rc = hb_sdnotify(state);
    if (rc != HB_OK) {
        HB_LOGW(0, "cannot notify systemd of %s: %s", state, hb_strerror(rc));
    }
}

/* Waits for SIGINT/SIGTERM (returns 0) or a component thread ending first (returns 1,
 * after logging which and why). Meanwhile writes the gateway's heartbeat and, with
 * systemd's watchdog on, pings it only while every selected loop ticks: one hung thread
 * gets the whole process restarted. */
static int wait_for_stop(const struct hb_config *cfg, const sigset_t *waited,
                         const bool selected[ALLINONE_N_SERVICES],
                         struct hb_component_thread *threads[ALLINONE_N_SERVICES],
                         const struct gateway_server *gw)
{
    int64_t watchdog_ms = hb_sdnotify_watchdog_interval_ms();
    int64_t next_ping_ms = hb_now_ms();
    for (;;) {
        struct timespec interval = {.tv_sec = HEARTBEAT_INTERVAL_S};
        if (watchdog_ms > 0 && watchdog_ms < HEARTBEAT_INTERVAL_S * 1000) {
            interval = (struct timespec){.tv_sec = 0, .tv_nsec = (long)watchdog_ms * 1000000L};
        }
        int sig = sigtimedwait(waited, NULL, &interval);
        if (sig == SIGINT || sig == SIGTERM) {
            HB_LOGI(0, "stopping on signal %d", sig);
            return 0;
        }
        for (int i = 0; i < ALLINONE_GATEWAY; i++) {
            int code = 0;
            if (threads[i] && hb_component_thread_ended(threads[i], &code)) {
                HB_LOGE(0, "component %s ended with exit code %d; stopping the others",
                        allinone_service_name(i), code);
                return 1;
            }
        }
        if (gw) {
            gateway_heartbeat(cfg, gw);
        }
        if (watchdog_ms > 0 && hb_now_ms() >= next_ping_ms && all_alive(cfg, selected)) {
            notify_systemd("WATCHDOG=1");
            next_ping_ms = hb_now_ms() + watchdog_ms;
        }
    }
}

int main(int argc, char **argv)
{
    bool selected[ALLINONE_N_SERVICES];
    char why[256];
    struct hb_config cfg;
    hb_err_t rc = hb_config_load(&cfg);
    hb_log_init("hausbus", rc == HB_OK ? cfg.log_level : getenv("HAUSBUS_LOG_LEVEL"));
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--probe") != 0)) {
        fprintf(stderr, "usage: %s [--probe]\n", argv[0]);
        return 2;
    }
    if (allinone_select(getenv("HAUSBUS_COMPONENTS"), selected, why, sizeof(why)) != HB_OK) {
        HB_LOGE(0, "%s", why);
        return 2;
    }
    if (rc != HB_OK) {
        HB_LOGE(0, "bad configuration: %s", hb_strerror(rc));
        return 2;
    }
    if (argc == 2) {
        return probe(selected);
    }
#ifdef M_ARENA_MAX
    /* glibc gives each thread that allocates its own 64 MiB arena, partly filled: on a
     * 64 MiB board one shared arena costs a little contention and saves megabytes. */
    mallopt(M_ARENA_MAX, 1);
#endif
    /* Block the stop signals before any thread exists: every thread inherits the mask,
     * and only sigtimedwait() in this thread sees them. */
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, WAKE_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &waited, NULL);
    signal(SIGPIPE, SIG_IGN); /* an HTTP client or the broker hanging up must not kill us */
    main_thread = pthread_self();
    hb_data_dir_create(&cfg); /* logs; each component then reports what it cannot open */

    notification_wired = notification_component;
    notification_sender_wire(&notification_wired);
    int exit_code = 1;
    struct hb_component_thread *threads[ALLINONE_N_SERVICES] = {0};
    struct gateway_server *gw = NULL;
    for (int i = 0; i < ALLINONE_GATEWAY; i++) {
        if (selected[i] && hb_component_thread_start(component_def(i), COMPONENT_STACK_BYTES,
                                                     wake_main, NULL, &threads[i]) != HB_OK) {
            goto stop;
        }
    }
    if (selected[ALLINONE_GATEWAY]) {
        rc = gateway_server_start(&cfg, &gw);
        if (rc != HB_OK) {
            exit_code = rc == HB_ERR_INVAL ? 2 : 1;
            goto stop;
        }
    }
    HB_LOGI(0, "running %s in one process", getenv("HAUSBUS_COMPONENTS")
                                                 ? getenv("HAUSBUS_COMPONENTS")
                                                 : "every component and the gateway");
    notify_systemd("READY=1");
    exit_code = wait_for_stop(&cfg, &waited, selected, threads, gw);
    notify_systemd("STOPPING=1");
stop:
    /* The gateway first: requests in progress still get their answers from the
     * components, which stop after it. */
    gateway_server_stop(gw);
    hb_component_stop();
    for (int i = 0; i < ALLINONE_GATEWAY; i++) {
        int code = hb_component_thread_join(threads[i]);
        if (code != 0 && exit_code == 0) {
            HB_LOGE(0, "component %s stopped with exit code %d", allinone_service_name(i),
                    code);
            exit_code = 1;
        }
    }
    HB_LOGI(0, "stopped");
    return exit_code;
}
