/* The gateway process's own resource use, read from /proc for the process_* metrics. */
#ifndef GATEWAY_PROCESS_STATS_H
#define GATEWAY_PROCESS_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "hausbus/err.h"

/* The values of the standard Prometheus process_* family. */
struct gateway_process_stats {
    double cpu_seconds;          /* user + system CPU time since the process started */
    double resident_bytes;       /* resident set size */
    double virtual_bytes;        /* virtual memory size */
    double start_time_seconds;   /* unix time the process started */
    double open_fds;             /* file descriptors open now */
    double max_fds;              /* the soft limit on open file descriptors */
};

/* Reads the calling process's stats from /proc/self/stat, /proc/stat (boot time),
 * /proc/self/fd and getrlimit into *out. Returns HB_ERR_IO (out cleared) when /proc is
 * not there or not in the expected format. Thread-safe. */
hb_err_t gateway_process_stats_read(struct gateway_process_stats *out);

#endif
