/*
 * loop.c: see loop.h. The completion-queue thread only moves {tag, ok} pairs
 * onto a list and wakes the poll; every `done` runs in triton_loop_step.
 */
#include "loop/loop.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

struct grpc_event_item {
    struct triton_loop_grpc_tag *tag;
    bool ok;
};

struct triton_loop {
    CURLM *multi;
    int curl_pending; /* easy handles added and not yet completed or removed */

    grpc_completion_queue *cq; /* NULL until a gRPC transport asks for it */
    pthread_t cq_thread;
    int grpc_pending; /* batches started and not yet delivered by a step */

    pthread_mutex_t mu; /* guards events and n_events */
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
    return loop;
}

static void *cq_thread_main(void *arg)
{
    struct triton_loop *loop = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        pthread_mutex_lock(&loop->mu);
        if (loop->n_events == loop->cap_events) {
            size_t cap = loop->cap_events ? loop->cap_events * 2 : 64;
            struct grpc_event_item *grown = realloc(loop->events, cap * sizeof(*grown));
            if (grown) {
                loop->events = grown;
                loop->cap_events = cap;
            }
        }
        if (loop->n_events < loop->cap_events) {
            loop->events[loop->n_events].tag = ev.tag;
            loop->events[loop->n_events].ok = ev.success != 0;
            loop->n_events++;
        } else {
            /* Dropping the event would leave its call waiting forever; there is
             * no good answer without memory, so make the next step fail loudly. */
            loop->events_overflowed = true;
        }
        pthread_mutex_unlock(&loop->mu);
        curl_multi_wakeup(loop->multi);
    }
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
    if (pthread_create(&loop->cq_thread, NULL, cq_thread_main, loop) != 0) {
        grpc_completion_queue_destroy(loop->cq);
        loop->cq = NULL;
        grpc_shutdown();
        triton_fail(err, TRITON_INTERNAL, "could not start the gRPC completion-queue thread");
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
        pthread_join(loop->cq_thread, NULL);
        grpc_completion_queue_destroy(loop->cq);
        grpc_shutdown();
    }
    curl_multi_cleanup(loop->multi);
    curl_global_cleanup();
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
    curl_multi_wakeup(loop->multi);
}

/* Delivers queued gRPC events; returns how many ran, or -1 if one was lost. */
static int run_grpc_events(struct triton_loop *loop, struct triton_error *err)
{
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
    int a = run_grpc_events(loop, err);
    if (a < 0)
        return -1;
    int b = run_curl(loop, err);
    if (b < 0)
        return -1;
    return a + b;
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
    if (ran == 0 && timeout != 0 && (triton_loop_pending(loop) > 0 || timeout > 0)) {
        int ms = timeout < 0 || timeout * 1000.0 > INT_MAX ? INT_MAX : (int)(timeout * 1000.0);
        CURLMcode rc = curl_multi_poll(loop->multi, NULL, 0, ms, NULL);
        if (rc != CURLM_OK)
            ran = triton_fail(err, TRITON_INTERNAL, "curl_multi_poll: %s", curl_multi_strerror(rc));
        else
            ran = run_ready(loop, err);
    }
    loop->stepping = false;
    return ran;
}
