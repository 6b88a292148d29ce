/* Unit tests for gateway/src/worker_stack.c: a worker's deep stack pages go back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker_stack.h"

#define DEEP_BYTES (48 * 1024) /* what one request's frames may touch, with room */

struct probe {
    bool noted;          /* gateway_worker_stack_note ran on the thread */
    size_t deep_before;  /* resident pages of the deep region after touching it */
    size_t deep_after;   /* ... after gateway_worker_stack_trim */
    uintptr_t deep_low;  /* the deep region, as the touching frame saw it */
    uintptr_t deep_high;
};

/* Resident pages of [low, high), page-aligned outward. */
static size_t resident_pages(uintptr_t low, uintptr_t high)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = low & ~((uintptr_t)page - 1);
    size_t n = (high - start + (uintptr_t)page - 1) / (uintptr_t)page;
    unsigned char vec[64];
    assert_true(n <= sizeof(vec));
    assert_int_equal(mincore((void *)start, n * (size_t)page, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < n; i++) {
        resident += vec[i] & 1;
    }
    return resident;
}

/* Touches DEEP_BYTES of stack below the caller, as a request's frames would. */
static __attribute__((noinline)) void touch_deep(struct probe *p)
{
    volatile char deep[DEEP_BYTES];
    memset((char *)deep, 1, sizeof(deep));
    p->deep_low = (uintptr_t)deep;
    p->deep_high = (uintptr_t)deep + sizeof(deep);
    p->deep_before = resident_pages(p->deep_low, p->deep_high);
}

static void *worker(void *arg)
{
    struct probe *p = arg;
    if (p->noted) {
        gateway_worker_stack_note();
    }
    touch_deep(p);
    gateway_worker_stack_trim();
    p->deep_after = resident_pages(p->deep_low, p->deep_high);
    return NULL;
}

static void run_worker(struct probe *p)
{
    pthread_attr_t attr;
    pthread_t thread;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    assert_int_equal(pthread_create(&thread, &attr, worker, p), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    pthread_attr_destroy(&attr);
}

static void deep_pages_of_a_noted_worker_go_back(void **state)
{
    (void)state;
    struct probe p = {.noted = true};
    run_worker(&p);
    assert_true(p.deep_before >= DEEP_BYTES / 4096 - 1);
    /* Only the margin below the trimming frame may stay. */
    assert_true(p.deep_after <= 2);
}

static void a_thread_never_noted_is_left_alone(void **state)
{
    (void)state;
    struct probe p = {.noted = false};
    run_worker(&p);
    assert_int_equal(p.deep_after, p.deep_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deep_pages_of_a_noted_worker_go_back),
        cmocka_unit_test(a_thread_never_noted_is_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
