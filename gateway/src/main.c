/* hausbus-gateway: wiring only (config, start the gateway, tell systemd, wait for a
 * signal, stop). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "hausbus/config.h"
#include "hausbus/log.h"
#include "hausbus/sdnotify.h"
#include "server.h"

int main(void)
{
    struct hb_config cfg;
    hb_err_t rc = hb_config_load(&cfg);
    hb_log_init("gateway", rc == HB_OK ? cfg.log_level : getenv("HAUSBUS_LOG_LEVEL"));
    if (rc != HB_OK) {
        HB_LOGE(0, "bad configuration: %s", hb_strerror(rc));
        return 2;
    }
    /* Block the stop signals before any thread exists, so every thread inherits the
     * mask and only sigwait() below sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the process */

    struct gateway_server *server = NULL;
    rc = gateway_server_start(&cfg, &server);
    if (rc != HB_OK) {
        return rc == HB_ERR_INVAL ? 2 : 1;
    }
    /* Ready once it listens; the watchdog ping says the process is scheduled and has not
     * begun a shutdown that hangs (the HTTP and bus threads do the work). */
    hb_sdnotify("READY=1");
    int signal_number = hb_sdnotify_wait_for_signal(&stop_signals);
    hb_sdnotify("STOPPING=1");
    HB_LOGI(0, "stopping on signal %d", signal_number);
    gateway_server_stop(server);
    return 0;
}
