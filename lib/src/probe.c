/* Heartbeat file written by the component loop and read by `hausbus-<name> --probe`. */
#include "hausbus/probe.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

hb_err_t hb_heartbeat_write(const char *path, int64_t now_ms, bool connected)
{
    char tmp[600];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return HB_ERR_INVAL;
    }
    /* 0600 whatever the umask, like the databases next to it (docs/SECURITY.md). */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
        }
        return HB_ERR_IO;
    }
    bool ok = fprintf(f, "%" PRId64 " %d\n", now_ms, connected ? 1 : 0) > 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? HB_OK : HB_ERR_IO;
}

hb_err_t hb_heartbeat_check(const char *path, int64_t now_ms, int64_t max_age_ms, char *why,
                            size_t why_len)
{
    int64_t beat_ms = 0;
    int connected = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "no heartbeat at %s", path);
        return HB_ERR_NOT_FOUND;
    }
    int got = fscanf(f, "%" SCNd64 " %d", &beat_ms, &connected);
    fclose(f);
    if (got != 2) {
        snprintf(why, why_len, "heartbeat %s is unreadable", path);
        return HB_ERR_DECODE;
    }
    if (now_ms - beat_ms > max_age_ms) {
        snprintf(why, why_len, "heartbeat is %" PRId64 " ms old (limit %" PRId64 "): loop stuck",
                 now_ms - beat_ms, max_age_ms);
        return HB_ERR_TIMEOUT;
    }
    if (!connected) {
        snprintf(why, why_len, "not connected to the broker");
        return HB_ERR_BUS;
    }
    snprintf(why, why_len, "ok");
    return HB_OK;
}
