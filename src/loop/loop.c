/*
 * loop.c: see loop.h.
 *
 * Who polls the completion queue. Only gRPC batches in flight (the common case
 * of a gRPC script): the loop's own thread blocks in grpc_completion_queue_next
 * and runs the completion at once, as a plain C client would. A hand-over
 * through a second thread costs a wakeup write, a poll and a thread switch per
 * event (GRPC_CORE.md measured 43 against 32 µs CPU per small call).
 *
 * Curl transfers and gRPC batches in flight together: the loop's thread must
 * wait in curl_multi_poll, so the completion-queue thread polls the queue and
 * hands each {tag, ok} over through a mutex-protected list, waking the poll
 * with curl_multi_wakeup. The thread is started on the first such mixed wait
 * and parks (on a condition variable, outside the queue) whenever the loop no
 * longer wants it. The loop's thread only polls the queue itself while the
 * thread is parked: were both inside grpc_completion_queue_next, the thread
 * could take the event the loop's thread is waiting for, and the loop's thread
 * would sleep on until its deadline.
 */
#include "loop/loop.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#include <grpc/support/time.h>

struct grpc_event_item {
    struct triton_loop_grpc_tag *tag;
    bool ok;
};

struct triton_loop {
    CURLM *multi;
    int curl_pending; /* easy handles added and not yet completed or removed */

    grpc_completion_queue *cq; /* NULL until a gRPC transport asks for it */
    int grpc_pending;          /* batches started and not yet delivered by a step */
    bool woken;                /* triton_loop_wakeup since the last wait (loop's thread) */

    pthread_t cq_thread;
    bool cq_thread_started;
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t cq_wake; /* the thread waits here while parked */
    bool cq_wanted;         /* the loop waits in curl_multi_poll and needs the thread */
    bool cq_polling;        /* the thread is in (or about to enter) grpc_completion_queue_next */
    bool cq_stopping;       /* the queue was shut down: the thread drains it and ends */
    struct grpc_event_item *events;
    size_t n_events, cap_events;
    bool events_overflowed; /* an event could not be queued: out of memory */

    bool stepping;
};

struct triton_loop *triton_loop_new(struct triton_error *err)
{
    struct triton_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating the event loop");
        return NULL;
    }
    /* Reference counted and thread-safe in libcurl >= 7.84 (Debian 12 has 7.88). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(loop);
        triton_fail(err, TRITON_INTERNAL, "libcurl failed to initialise");
        return NULL;
    }
    loop->multi = curl_multi_init();
    if (!loop->multi) {
        curl_global_cleanup();
        free(loop);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a curl multi handle");
        return NULL;
    }
    pthread_mutex_init(&loop->mu, NULL);
    pthread_cond_init(&loop->cq_wake, NULL);
    return loop;
}

/* Queues one event for the loop's thread; called with mu held. */
static void push_event(struct triton_loop *loop, const grpc_event *ev)
{
    if (loop->n_events == loop->cap_events) {
        size_t cap = loop->cap_events ? loop->cap_events * 2 : 64;
        struct grpc_event_item *grown = realloc(loop->events, cap * sizeof(*grown));
        if (grown) {
            loop->events = grown;
            loop->cap_events = cap;
        }
    }
    if (loop->n_events < loop->cap_events) {
        loop->events[loop->n_events].tag = ev->tag;
        loop->events[loop->n_events].ok = ev->success != 0;
        loop->n_events++;
    } else {
        /* Dropping the event would leave its call waiting forever; there is no
         * good answer without memory, so make the next step fail loudly. */
        loop->events_overflowed = true;
    }
}

static void *cq_thread_main(void *arg)
{
    struct triton_loop *loop = arg;
    pthread_mutex_lock(&loop->mu);
    for (;;) {
        while (!loop->cq_wanted && !loop->cq_stopping)
            pthread_cond_wait(&loop->cq_wake, &loop->mu);
        loop->cq_polling = true;
        pthread_mutex_unlock(&loop->mu);
        grpc_event ev =
            grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        pthread_mutex_lock(&loop->mu);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            push_event(loop, &ev);
        /* Park unless the loop still waits in curl: then it may poll the queue
         * itself again. The flag flips under mu, so it never sees both polling. */
        loop->cq_polling = loop->cq_wanted || loop->cq_stopping;
        pthread_mutex_unlock(&loop->mu);
        if (ev.type == GRPC_OP_COMPLETE)
            curl_multi_wakeup(loop->multi);
        pthread_mutex_lock(&loop->mu);
    }
    loop->cq_polling = false;
    pthread_mutex_unlock(&loop->mu);
    return NULL;
}

grpc_completion_queue *triton_loop_cq(struct triton_loop *loop, struct triton_error *err)
{
    if (loop->cq)
        return loop->cq;
    grpc_init();
    loop->cq = grpc_completion_queue_create_for_next(NULL);
    if (!loop->cq) {
        grpc_shutdown();
        triton_fail(err, TRITON_INTERNAL, "gRPC could not create a completion queue");
        return NULL;
    }
    return loop->cq;
}

void triton_loop_grpc_started(struct triton_loop *loop)
{
    loop->grpc_pending++;
}

void triton_loop_free(struct triton_loop *loop)
{
    if (!loop)
        return;
    if (loop->cq) {
        grpc_completion_queue_shutdown(loop->cq);
        if (loop->cq_thread_started) {
            /* The thread drains the queue to its shutdown event, parked or not. */
            pthread_mutex_lock(&loop->mu);
            loop->cq_stopping = true;
            pthread_cond_signal(&loop->cq_wake);
            pthread_mutex_unlock(&loop->mu);
            pthread_join(loop->cq_thread, NULL);
        } else {
            while (grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
        }
        grpc_completion_queue_destroy(loop->cq);
        grpc_shutdown();
    }
    curl_multi_cleanup(loop->multi);
    curl_global_cleanup();
    pthread_cond_destroy(&loop->cq_wake);
    pthread_mutex_destroy(&loop->mu);
    free(loop->events);
    free(loop);
}

CURLM *triton_loop_curl_multi(struct triton_loop *loop)
{
    return loop->multi;
}

int triton_loop_add_curl(struct triton_loop *loop, CURL *easy, struct triton_error *err)
{
    CURLMcode rc = curl_multi_add_handle(loop->multi, easy);
    if (rc != CURLM_OK)
        return triton_fail(err, TRITON_INTERNAL, "curl_multi_add_handle: %s",
                           curl_multi_strerror(rc));
    loop->curl_pending++;
    return 0;
}

void triton_loop_remove_curl(struct triton_loop *loop, CURL *easy)
{
    if (curl_multi_remove_handle(loop->multi, easy) == CURLM_OK)
        loop->curl_pending--;
}

int triton_loop_pending(const struct triton_loop *loop)
{
    return loop->curl_pending + loop->grpc_pending;
}

void triton_loop_wakeup(struct triton_loop *loop)
{
    /* Racy from another thread by design: the flag only shortens a wait that
     * has not begun; curl_multi_wakeup ends one in progress. */
    loop->woken = true;
    curl_multi_wakeup(loop->multi);
}

/* Delivers events the completion-queue thread queued; returns how many ran, or
 * -1 if one was lost. */
static int run_handed_over(struct triton_loop *loop, struct triton_error *err)
{
    if (!loop->cq_thread_started)
        return 0;
    pthread_mutex_lock(&loop->mu);
    struct grpc_event_item *batch = loop->events;
    size_t n = loop->n_events;
    bool overflowed = loop->events_overflowed;
    loop->events = NULL;
    loop->n_events = loop->cap_events = 0;
    pthread_mutex_unlock(&loop->mu);

    for (size_t i = 0; i < n; i++) {
        loop->grpc_pending--;
        batch[i].tag->done(batch[i].tag, batch[i].ok);
    }
    free(batch);
    if (overflowed)
        return triton_fail(err, TRITON_NO_MEMORY,
                           "out of memory queueing a gRPC completion; a call was lost");
    return (int)n;
}

static int run_curl(struct triton_loop *loop, struct triton_error *err)
{
    if (loop->curl_pending == 0)
        return 0;
    int running = 0, ran = 0, left = 0;
    CURLMcode rc = curl_multi_perform(loop->multi, &running);
    if (rc != CURLM_OK)
        return triton_fail(err, TRITON_INTERNAL, "curl_multi_perform: %s", curl_multi_strerror(rc));
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(loop->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct triton_loop_curl_task *task = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&task);
        curl_multi_remove_handle(loop->multi, easy);
        loop->curl_pending--;
        if (task)
            task->done(task, result);
        ran++;
    }
    return ran;
}

static int run_ready(struct triton_loop *loop, struct triton_error *err)
{
    int a = run_handed_over(loop, err);
    if (a < 0)
        return -1;
    int b = run_curl(loop, err);
    if (b < 0)
        return -1;
    return a + b;
}

/* Whether the loop's thread may poll the completion queue itself: gRPC work
 * and no curl work in flight, and the completion-queue thread out of the
 * queue. Also tells a thread that polls for nothing to park after its event. */
static bool own_the_queue(struct triton_loop *loop)
{
    if (loop->grpc_pending == 0 || loop->curl_pending > 0)
        return false;
    if (!loop->cq_thread_started)
        return true;
    pthread_mutex_lock(&loop->mu);
    loop->cq_wanted = false;
    bool mine = !loop->cq_polling;
    pthread_mutex_unlock(&loop->mu);
    return mine;
}

/* Before a curl_multi_poll with gRPC batches in flight: someone must poll the
 * queue and wake us, so the completion-queue thread runs (started if needed). */
static int want_cq_thread(struct triton_loop *loop, bool want, struct triton_error *err)
{
    if (!loop->cq_thread_started) {
        if (!want)
            return 0;
        loop->cq_wanted = true;
        if (pthread_create(&loop->cq_thread, NULL, cq_thread_main, loop) != 0) {
            loop->cq_wanted = false;
            return triton_fail(err, TRITON_INTERNAL,
                               "could not start the gRPC completion-queue thread");
        }
        loop->cq_thread_started = true;
        return 0;
    }
    pthread_mutex_lock(&loop->mu);
    if (want && !loop->cq_wanted)
        pthread_cond_signal(&loop->cq_wake);
    loop->cq_wanted = want;
    pthread_mutex_unlock(&loop->mu);
    return 0;
}

/* Runs one completion-queue event on the loop's thread, waiting until `deadline`. */
static int run_cq_event(struct triton_loop *loop, gpr_timespec deadline)
{
    grpc_event ev = grpc_completion_queue_next(loop->cq, deadline, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0;
    loop->grpc_pending--;
    struct triton_loop_grpc_tag *tag = ev.tag;
    tag->done(tag, ev.success != 0);
    return 1;
}

static gpr_timespec deadline_after(double timeout)
{
    if (timeout < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (timeout == 0)
        return gpr_time_0(GPR_CLOCK_MONOTONIC);
    int64_t us = timeout * 1e6 > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)(timeout * 1e6);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_micros(us, GPR_TIMESPAN));
}

static int wait_and_run(struct triton_loop *loop, double timeout, struct triton_error *err)
{
    bool woken = loop->woken;
    loop->woken = false;
    if (own_the_queue(loop))
        return run_cq_event(loop, deadline_after(woken ? 0 : timeout));
    if (want_cq_thread(loop, loop->grpc_pending > 0 && loop->curl_pending > 0, err) != 0)
        return -1;
    int ms = timeout < 0 || timeout * 1000.0 > INT_MAX ? INT_MAX : (int)(timeout * 1000.0);
    CURLMcode rc = curl_multi_poll(loop->multi, NULL, 0, ms, NULL);
    if (rc != CURLM_OK)
        return triton_fail(err, TRITON_INTERNAL, "curl_multi_poll: %s", curl_multi_strerror(rc));
    return run_ready(loop, err);
}

int triton_loop_step(struct triton_loop *loop, double timeout, struct triton_error *err)
{
    if (loop->stepping)
        return triton_fail(err, TRITON_INTERNAL,
                           "the event loop was re-entered from one of its own completions");
    loop->stepping = true;
    int ran = run_ready(loop, err);
    /* With nothing in flight only a finite wait makes sense: it is a sleep that a
     * wakeup (or a signal, EINTR) ends early, which schedulers use for timers. */
    if (ran == 0 && timeout != 0 && (triton_loop_pending(loop) > 0 || timeout > 0))
        ran = wait_and_run(loop, timeout, err);
    else if (ran == 0 && timeout == 0 && own_the_queue(loop))
        ran = run_cq_event(loop, gpr_time_0(GPR_CLOCK_MONOTONIC));
    loop->stepping = false;
    return ran;
}
