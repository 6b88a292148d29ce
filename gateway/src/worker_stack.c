/* Stack trimming for civetweb's worker threads: an idle worker keeps ~8 KiB, not ~24 KiB.
 *
 * civetweb ties a worker thread to each open connection, so withstanding idle or slow
 * connections takes many workers (HAUSBUS_HTTP_THREADS, 256 by default), and it hands
 * connections to them in turn: after a busy spell every worker has touched the stack
 * depth one request takes, and those pages stay resident for the process's life (4 MiB
 * at 256 workers, measured). Giving them back when a connection closes costs one
 * madvise per connection, not per request (keep-alive connections serve many). */
#define _GNU_SOURCE
#include "worker_stack.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Room left below the current frame for madvise itself and civetweb's last calls. */
#define TRIM_MARGIN_BYTES 4096

static _Thread_local uintptr_t stack_low; /* 0: not a noted worker thread */

void gateway_worker_stack_note(void)
{
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        return;
    }
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        stack_low = (uintptr_t)addr;
    }
    pthread_attr_destroy(&attr);
}

void gateway_worker_stack_trim(void)
{
    long page = sysconf(_SC_PAGESIZE);
    volatile char here = 0; /* its address is (about) this frame's bottom */
    uintptr_t frame = (uintptr_t)&here;
    if (stack_low == 0 || page <= 0 || frame < stack_low + TRIM_MARGIN_BYTES) {
        return;
    }
    uintptr_t end = (frame - TRIM_MARGIN_BYTES) & ~((uintptr_t)page - 1);
    if (end > stack_low) {
        (void)madvise((void *)stack_low, end - stack_low, MADV_DONTNEED);
    }
}
