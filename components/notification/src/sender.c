/* The KakaoTalk sender thread and the tick that feeds it (docs/ARCHITECTURE.md,
 * "Notifications").
 *
 * Why a thread: an HTTP attempt may take up to HAUSBUS_KAKAO_TIMEOUT_MS (3 s by default),
 * and the MQTT loop must keep handling messages, replies and keep-alives meanwhile. The
 * thread does HTTP only; the database stays the main thread's (the sqlite connection is in
 * exclusive locking mode and is not shared). The tick claims messages (SENDING), commits
 * that, and only then queues them for the thread: a message is never attempted unless its
 * SENDING state is durable, so a crash can never lead to a second send. The thread puts
 * each result in a done list that the next tick records. */
#include "sender.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "curl_api.h"
#include "handlers.h"
#include "hausbus/log.h"
#include "kakao_settings.h"
#include "notifier_kakao.h"

struct sender {
    struct notification_state base; /* first: ctx->user is both */
    const struct curl_api *curl;
    struct notifier *kakao;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;                                           /* under mu */
    struct notification_job todo[SENDER_IN_FLIGHT_MAX]; /* FIFO, under mu */
    size_t n_todo;
    bool busy;                                           /* an attempt is under way */
    struct notification_result done[SENDER_IN_FLIGHT_MAX]; /* under mu */
    size_t n_done;
};

static struct sender sender; /* one per process */

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    pthread_mutex_lock(&s->mu);
    /* Drains the queue before stopping only for the attempt already started: unstarted
     * ones go back to PENDING in teardown. */
    while (!s->stop) {
        if (s->n_todo == 0) {
            pthread_cond_wait(&s->wake, &s->mu);
            continue;
        }
        struct notification_job job = s->todo[0];
        memmove(&s->todo[0], &s->todo[1], --s->n_todo * sizeof(s->todo[0]));
        s->busy = true;
        pthread_mutex_unlock(&s->mu);

        struct notification_msg msg = {
            .notification_id = job.id,
            .order_id = job.order_id,
            .delivery_id = job.delivery_id,
            .user_id = job.user_id,
            .text = job.text,
        };
        struct notification_result result = {.id = job.id, .attempts = job.attempts};
        result.outcome = s->kakao->send(s->kakao->self, &msg, result.error, sizeof(result.error));

        pthread_mutex_lock(&s->mu);
        s->done[s->n_done++] = result; /* room: todo + busy + done <= SENDER_IN_FLIGHT_MAX */
        s->busy = false;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Records the results the thread finished and commits them; they leave the done list
 * only once committed, so a failed commit records them again next tick. */
static hb_err_t record_done(struct hb_ctx *ctx, struct sender *s)
{
    struct notification_result done[SENDER_IN_FLIGHT_MAX];
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_done;
    memcpy(done, s->done, n * sizeof(done[0]));
    pthread_mutex_unlock(&s->mu);
    if (n == 0) {
        return HB_OK;
    }
    hb_err_t rc = HB_OK;
    for (size_t i = 0; i < n && rc == HB_OK; i++) {
        rc = notification_record(ctx, &done[i]);
    }
    if (rc == HB_OK) {
        rc = hb_store_commit(ctx->store);
    }
    if (rc != HB_OK) {
        hb_store_rollback(ctx->store);
        hb_store_begin(ctx->store); /* the runtime ends the tick with a commit or rollback */
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    s->n_done -= n; /* the thread only appends */
    memmove(&s->done[0], &s->done[n], s->n_done * sizeof(s->done[0]));
    pthread_mutex_unlock(&s->mu);
    return hb_store_begin(ctx->store);
}

/* The tick: record what the thread finished, claim what is due (as many as there is room
 * for), commit the claim, then hand the claimed messages to the thread. The tick commits
 * inside the runtime's tick transaction and opens a new one for the runtime to end. */
static hb_err_t sender_tick(struct hb_ctx *ctx)
{
    struct sender *s = ctx->user;
    HB_RETURN_ON_ERR(record_done(ctx, s));
    pthread_mutex_lock(&s->mu);
    size_t room = SENDER_IN_FLIGHT_MAX - s->n_todo - s->n_done - (s->busy ? 1 : 0);
    pthread_mutex_unlock(&s->mu);
    struct notification_job jobs[SENDER_IN_FLIGHT_MAX];
    size_t n = 0;
    HB_RETURN_ON_ERR(notification_claim(ctx, jobs, room, &n));
    if (n == 0) {
        return HB_OK;
    }
    hb_err_t rc = hb_store_commit(ctx->store);
    if (rc != HB_OK) {
        hb_store_rollback(ctx->store); /* still PENDING: claimed again next tick */
        hb_store_begin(ctx->store);
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    memcpy(&s->todo[s->n_todo], jobs, n * sizeof(jobs[0]));
    s->n_todo += n;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    return hb_store_begin(ctx->store);
}

static hb_err_t sender_setup(struct hb_ctx *ctx)
{
    struct kakao_settings settings;
    HB_RETURN_ON_ERR(kakao_settings_load(&settings));
    HB_RETURN_ON_ERR(curl_api_load(&sender.curl));
    if (sender.curl->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        HB_LOGE(0, "curl_global_init failed");
        return HB_ERR_IO;
    }
    hb_err_t rc = notifier_kakao_create(&settings, &sender.kakao);
    explicit_bzero(settings.token, sizeof(settings.token)); /* the notifier has its copy */
    if (rc != HB_OK) {
        sender.curl->global_cleanup();
        return rc;
    }
    sender.base = (struct notification_state){
        .channel = sender.kakao->channel,
        .policy = settings.policy,
        .notifier = NULL, /* never inline */
    };
    ctx->user = &sender;
    if ((rc = hb_store_begin(ctx->store)) == HB_OK) {
        rc = notification_recover(ctx);
        rc = rc == HB_OK ? hb_store_commit(ctx->store) : rc;
        if (rc != HB_OK) {
            hb_store_rollback(ctx->store);
        }
    }
    if (rc == HB_OK) {
        pthread_mutex_init(&sender.mu, NULL);
        pthread_cond_init(&sender.wake, NULL);
        if (pthread_create(&sender.thread, NULL, sender_main, &sender) != 0) {
            HB_LOGE(0, "cannot start the kakaotalk sender thread");
            rc = HB_ERR_IO;
        }
    }
    if (rc != HB_OK) {
        notifier_kakao_destroy(sender.kakao);
        sender.curl->global_cleanup();
        return rc;
    }
    HB_LOGI(0, "kakaotalk notifier: %s, timeout %ld ms, %lld attempts, backoff %lld..%lld ms",
            settings.url, settings.timeout_ms, (long long)settings.policy.max_attempts,
            (long long)settings.policy.backoff_ms, (long long)settings.policy.backoff_max_ms);
    return HB_OK;
}

/* Joins the thread (an attempt under way ends within its timeout), records the finished
 * attempts and returns the unstarted ones to PENDING: a clean stop loses nothing. */
static void sender_teardown(struct hb_ctx *ctx)
{
    struct sender *s = ctx->user;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    ctx->now_ms = hb_wall_ms();
    hb_err_t rc = hb_store_begin(ctx->store);
    for (size_t i = 0; i < s->n_done && rc == HB_OK; i++) {
        rc = notification_record(ctx, &s->done[i]);
    }
    for (size_t i = 0; i < s->n_todo && rc == HB_OK; i++) {
        rc = notification_unclaim(ctx, s->todo[i].id);
    }
    rc = rc == HB_OK ? hb_store_commit(ctx->store) : rc;
    if (rc != HB_OK) {
        hb_store_rollback(ctx->store);
        HB_LOGE(0, "could not record the last notification attempts: %s", hb_strerror(rc));
    } else {
        HB_LOGI(0, "stopped the kakaotalk sender: %zu attempts recorded, %zu unstarted back"
                   " to PENDING", s->n_done, s->n_todo);
    }
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    notifier_kakao_destroy(s->kakao);
    s->curl->global_cleanup();
}

void notification_sender_wire(struct hb_component *def)
{
    const char *url = getenv("HAUSBUS_KAKAO_URL");
    if (!url || !*url) {
        return;
    }
    def->setup = sender_setup;
    def->tick = sender_tick;
    def->teardown = sender_teardown;
}
