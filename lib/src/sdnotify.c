/* The sd_notify protocol: one datagram per state change to $NOTIFY_SOCKET. */
#include "hausbus/sdnotify.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hausbus/envelope.h"
#include "hausbus/log.h"

/* Parses a decimal integer > 0 that fills the whole string; false otherwise. */
static bool parse_positive(const char *text, unsigned long long *out)
{
    if (!text || text[0] < '0' || text[0] > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || value == 0) {
        return false;
    }
    *out = value;
    return true;
}

hb_err_t hb_sdnotify(const char *state)
{
    if (!state || state[0] == '\0') {
        return HB_ERR_INVAL;
    }
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || path[0] == '\0') {
        return HB_OK;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    /* A filesystem path needs its NUL inside sun_path; an abstract name ('@' becomes the
     * leading NUL) is exactly len bytes and carries none. */
    if ((path[0] == '@' && len > sizeof(addr.sun_path)) ||
        (path[0] != '@' && len >= sizeof(addr.sun_path)) || (path[0] == '@' && len < 2)) {
        return HB_ERR_INVAL;
    }
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@') {
        addr.sun_path[0] = '\0';
    }
    socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                     (path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return HB_ERR_IO;
    }
    size_t state_len = strlen(state);
    ssize_t sent = sendto(fd, state, state_len, MSG_NOSIGNAL, (const struct sockaddr *)&addr,
                          addr_len);
    close(fd);
    return sent == (ssize_t)state_len ? HB_OK : HB_ERR_IO;
}

int64_t hb_sdnotify_watchdog_interval_ms(void)
{
    unsigned long long usec = 0, pid = 0;
    if (!parse_positive(getenv("WATCHDOG_USEC"), &usec)) {
        return 0;
    }
    const char *pid_text = getenv("WATCHDOG_PID");
    if (pid_text && pid_text[0] != '\0' &&
        (!parse_positive(pid_text, &pid) || pid != (unsigned long long)getpid())) {
        return 0;
    }
    /* Half the timeout, at least 1 ms so a tiny timeout still means "ping every tick". */
    unsigned long long ms = usec / 2000;
    return ms > 0 ? (int64_t)(ms > (unsigned long long)INT64_MAX ? INT64_MAX : ms) : 1;
}

int hb_sdnotify_wait_for_signal(const sigset_t *signals)
{
    int64_t interval_ms = hb_sdnotify_watchdog_interval_ms();
    for (;;) {
        int sig = 0;
        if (interval_ms <= 0) {
            if (sigwait(signals, &sig) == 0) {
                return sig;
            }
            continue;
        }
        struct timespec wait = {.tv_sec = (time_t)(interval_ms / 1000),
                                .tv_nsec = (long)(interval_ms % 1000) * 1000000L};
        sig = sigtimedwait(signals, NULL, &wait);
        if (sig > 0) {
            return sig;
        }
        hb_err_t rc = hb_sdnotify("WATCHDOG=1");
        if (rc != HB_OK) {
            HB_LOGW(0, "cannot notify systemd of WATCHDOG=1: %s", hb_strerror(rc));
        }
    }
}
