/* Reads the gateway process's CPU, memory, start time and descriptors from /proc. */
#include "process_stats.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads path (a small /proc file) into buf as a NUL-terminated string. Returns false
 * when it cannot be opened or read. */
static bool read_small_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    bool ok = !ferror(f);
    fclose(f);
    buf[n] = '\0';
    return ok && n > 0;
}

/* The boot time ("btime" of /proc/stat) in unix seconds; 0 when it cannot be read. */
static unsigned long long boot_time_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) {
        return 0;
    }
    char line[256];
    unsigned long long btime = 0;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "btime %llu", &btime) == 1) {
            break;
        }
    }
    fclose(f);
    return btime;
}

/* Entries of /proc/self/fd, without . and .. (the directory's own descriptor counts, as
 * in the Prometheus client libraries); -1 when it cannot be listed. */
static double count_open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        return -1;
    }
    double n = 0;
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n;
}

hb_err_t gateway_process_stats_read(struct gateway_process_stats *out)
{
    if (!out) {
        return HB_ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    char stat[1024];
    if (!read_small_file("/proc/self/stat", stat, sizeof(stat))) {
        return HB_ERR_IO;
    }
    /* The command name (field 2) may hold spaces and parentheses: fields 3.. follow the
     * last ')'. utime, stime are fields 14, 15; starttime 22. */
    const char *rest = strrchr(stat, ')');
    unsigned long long utime = 0, stime = 0, start_ticks = 0;
    if (!rest || sscanf(rest + 1,
                        " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d"
                        " %*d %*d %llu",
                        &utime, &stime, &start_ticks) != 3) {
        return HB_ERR_IO;
    }
    /* Sizes from statm (the same counters as stat's vsize and rss, in pages): qemu-user,
     * which runs the board builds in tests, fakes stat's sizes as 0 but passes statm on. */
    char statm[256];
    unsigned long long vsize_pages = 0, rss_pages = 0;
    if (!read_small_file("/proc/self/statm", statm, sizeof(statm)) ||
        sscanf(statm, "%llu %llu", &vsize_pages, &rss_pages) != 2) {
        return HB_ERR_IO;
    }
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long btime = boot_time_s();
    double fds = count_open_fds();
    struct rlimit limit;
    if (ticks <= 0 || page <= 0 || btime == 0 || fds < 0 ||
        getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return HB_ERR_IO;
    }
    out->cpu_seconds = (double)(utime + stime) / (double)ticks;
    out->resident_bytes = (double)rss_pages * (double)page;
    out->virtual_bytes = (double)vsize_pages * (double)page;
    out->start_time_seconds = (double)btime + (double)start_ticks / (double)ticks;
    out->open_fds = fds;
    out->max_fds = (double)limit.rlim_cur; /* RLIM_INFINITY too, as the client libraries do */
    return HB_OK;
}
