/* A component loop in a thread of its own, for processes that run several (the all-in-one). */
#include "hausbus/component.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "hausbus/log.h"

struct hb_component_thread {
    const struct hb_component *def;
    void (*on_end)(void *arg);
    void *arg;
    pthread_t thread;
    atomic_bool ended;
    int exit_code; /* written before ended is set */
};

static void *thread_main(void *arg)
{
    struct hb_component_thread *t = arg;
    t->exit_code = hb_component_run(t->def);
    atomic_store(&t->ended, true);
    if (t->on_end) {
        t->on_end(t->arg);
    }
    return NULL;
}

hb_err_t hb_component_thread_start(const struct hb_component *def, size_t stack_size,
                                   void (*on_end)(void *arg), void *arg,
                                   struct hb_component_thread **out)
{
    *out = NULL;
    struct hb_component_thread *t = calloc(1, sizeof(*t));
    if (!t) {
        return HB_ERR_NOMEM;
    }
    t->def = def;
    t->on_end = on_end;
    t->arg = arg;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        free(t);
        return HB_ERR_NOMEM;
    }
    int rc = stack_size > 0 ? pthread_attr_setstacksize(&attr, stack_size) : 0;
    if (rc == 0) {
        rc = pthread_create(&t->thread, &attr, thread_main, t);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        HB_LOGE(0, "cannot start a thread for %s (stack %zu bytes): error %d", def->name,
                stack_size, rc);
        free(t);
        return HB_ERR_NOMEM;
    }
    *out = t;
    return HB_OK;
}

bool hb_component_thread_ended(const struct hb_component_thread *t, int *exit_code)
{
    if (!atomic_load(&t->ended)) {
        return false;
    }
    *exit_code = t->exit_code;
    return true;
}

int hb_component_thread_join(struct hb_component_thread *t)
{
    if (!t) {
        return 0;
    }
    pthread_join(t->thread, NULL);
    int exit_code = t->exit_code;
    free(t);
    return exit_code;
}
