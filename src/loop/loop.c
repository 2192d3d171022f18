/*
 * loop.c: see loop.h.
 *
 * Who polls the completion queue. Only gRPC batches in flight (the common case
 * of a gRPC script): the loop's own thread blocks in grpc_completion_queue_next
 * and runs the completion at once, as a plain C client would. A hand-over
 * through a second thread costs a wakeup write, a poll and a thread switch per
 * event (measured at 43 against 32 µs CPU per small call).
 *
 * Curl transfers and gRPC batches in flight together, or a host that watches
 * the loop's descriptor: the loop's thread waits in epoll (or not at all), so
 * the completion-queue thread polls the queue and hands each {tag, ok} over
 * through a mutex-protected list, writing the eventfd that is in the epoll set.
 * The thread is started on the first such need and parks (on a condition
 * variable, outside the queue) whenever the loop no longer wants it; for a host
 * it never parks. The loop's thread only polls the queue itself while the
 * thread is parked: were both inside grpc_completion_queue_next, the thread
 * could take the event the loop's thread is waiting for, and the loop's thread
 * would sleep on until its deadline.
 *
 * Curl runs through its socket interface: its socket callback keeps curl's
 * sockets in the epoll set, its timer callback sets curl_due, and a step calls
 * curl_multi_socket_action for what epoll reports and for curl's due timer. So
 * one epoll descriptor (curl's sockets, the eventfd, and for a host a timerfd
 * armed at the earliest deadline) says when a step has work, for our own wait
 * and for a host's.
 *
 * Timers are a list sorted by deadline, searched from its end: the call layer
 * arms deadlines of now + a constant, which land at the end. Deferred work is a
 * FIFO; a step takes the queue as one batch, so work deferred by a deferred
 * function waits for the next pass and a pass always ends.
 */
#include "loop/loop.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <grpc/support/time.h>

/* Ready descriptors taken per epoll_wait; more stay ready for the next one. */
#define MAX_EPOLL_EVENTS 64

struct grpc_event_item {
    struct triton_loop_grpc_tag *tag;
    bool ok;
};

struct triton_loop {
    CURLM *multi;
    int curl_pending;          /* easy handles added and not yet completed or removed */
    double curl_due;           /* when curl wants CURL_SOCKET_TIMEOUT handled; INFINITY: never */
    int curl_socket_errno;     /* an epoll_ctl for one of curl's sockets failed */
    unsigned char *sock_state; /* per descriptor: SOCK_* for curl's sockets */
    size_t n_sock_state;

    int epfd;           /* curl's sockets, wakefd, and timerfd once a host asked */
    int wakefd;         /* eventfd: wakeups, gRPC hand-overs, a host's deferred work */
    int timerfd;        /* -1 until triton_loop_fd: readable at the earliest deadline */
    double timerfd_due; /* what timerfd is armed for; NAN: unknown, arm again */
    bool host_mode;     /* triton_loop_fd was called: a host may wait on epfd */

    struct triton_loop_timer *timers, *timers_tail;        /* armed, sorted by when */
    uint64_t timer_seq;                                    /* timers started so far */
    struct triton_loop_deferred *deferred, *deferred_tail; /* queued for the next pass */
    struct triton_loop_deferred *deferred_running;         /* the pass a step is running */
    int n_deferred;                                        /* in either list */
    int n_holding;                                         /* armed timers that hold */

    grpc_completion_queue *cq; /* NULL until a gRPC transport asks for it */
    int grpc_pending;          /* batches started and not yet delivered by a step */
    atomic_bool woken;         /* triton_loop_wakeup since the last wait */

    pthread_t cq_thread;
    bool cq_thread_started;
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t cq_wake; /* the thread waits here while parked */
    bool cq_wanted;         /* the loop does not poll the queue and needs the thread */
    bool cq_polling;        /* the thread is in (or about to enter) grpc_completion_queue_next */
    bool cq_stopping;       /* the queue was shut down: the thread drains it and ends */
    struct grpc_event_item *events;
    size_t n_events, cap_events;
    bool events_overflowed; /* an event could not be queued: out of memory */

    bool stepping;
    bool interrupted; /* the last epoll_wait ended with EINTR */
};

double triton_loop_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the descriptor's parts ------------------------------------------------ */

static void signal_wake(struct triton_loop *loop)
{
    uint64_t one = 1;
    /* Only fails when the counter would overflow, and then it is readable anyway. */
    ssize_t n = write(loop->wakefd, &one, sizeof one);
    (void)n;
}

/* Empties an eventfd or timerfd so that it stops being readable. */
static void drain(int fd)
{
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void)n;
}

/* The earliest timer or curl timeout; INFINITY when neither is armed. */
static double next_due(const struct triton_loop *loop)
{
    double due = loop->curl_due;
    if (loop->timers && loop->timers->when < due)
        due = loop->timers->when;
    return due;
}

/* Host mode: makes timerfd readable at the earliest deadline (not before it). */
static void arm_timerfd(struct triton_loop *loop)
{
    double due = next_due(loop);
    if (due == loop->timerfd_due)
        return;
    struct itimerspec its = {0};
    if (due != INFINITY) {
        double sec = floor(due);
        its.it_value.tv_sec = (time_t)sec;
        its.it_value.tv_nsec = (long)ceil((due - sec) * 1e9);
        if (its.it_value.tv_nsec >= 1000000000L) {
            its.it_value.tv_sec++;
            its.it_value.tv_nsec -= 1000000000L;
        }
        if (its.it_value.tv_sec <= 0 && its.it_value.tv_nsec <= 0) {
            its.it_value.tv_sec = 0; /* already due; an all-zero value would disarm it */
            its.it_value.tv_nsec = 1;
        }
    }
    /* Cannot fail with a valid descriptor and a normalised value. */
    timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
    loop->timerfd_due = due;
}

/* A deadline changed outside a step: a host must learn of it from the fd. Inside
 * a step, the step's end does this once. */
static void deadline_changed(struct triton_loop *loop)
{
    if (loop->host_mode && !loop->stepping)
        arm_timerfd(loop);
}

/* ---- curl's socket interface ------------------------------------------------ */

/* What the epoll set holds for one of curl's sockets (sock_state[fd]). */
enum {
    SOCK_IN = 1,         /* EPOLLIN asked for */
    SOCK_OUT = 2,        /* EPOLLOUT asked for */
    SOCK_REGISTERED = 4, /* in the epoll set (unless curl closed it since) */
    SOCK_PARKED = 8,     /* curl no longer watches it: dropped when it turns ready */
};

/* Records what the epoll set holds for s; false without memory. */
static bool set_sock_state(struct triton_loop *loop, curl_socket_t s, unsigned char state)
{
    if ((size_t)s >= loop->n_sock_state) {
        if (!state)
            return true;
        size_t n = loop->n_sock_state ? loop->n_sock_state : 64;
        while (n <= (size_t)s)
            n *= 2;
        unsigned char *grown = realloc(loop->sock_state, n);
        if (!grown)
            return false;
        memset(grown + loop->n_sock_state, 0, n - loop->n_sock_state);
        loop->sock_state = grown;
        loop->n_sock_state = n;
    }
    loop->sock_state[s] = state;
    return true;
}

static unsigned char sock_state(const struct triton_loop *loop, curl_socket_t s)
{
    return (size_t)s < loop->n_sock_state ? loop->sock_state[s] : 0;
}

/* Takes s out of the epoll set; fails only if curl closed it, which did that. */
static void unwatch_socket(struct triton_loop *loop, curl_socket_t s)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, s, NULL);
    set_sock_state(loop, s, 0);
}

/* curl's socket callback. A transfer's end removes its connection's socket and
 * the next transfer on that connection adds it again: a socket that was only
 * read is parked (left in the set) rather than removed, so that reusing the
 * connection costs one EPOLL_CTL_MOD instead of a DEL and an ADD. The loop keeps
 * its own record of the set rather than curl_multi_assign, which newer libcurls
 * refuse from inside this callback. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct triton_loop *loop = userp;
    if (s < 0)
        return 0;
    unsigned char state = sock_state(loop, s);
    if (what == CURL_POLL_REMOVE) {
        if ((state & SOCK_REGISTERED) && !(state & SOCK_OUT))
            set_sock_state(loop, s, state | SOCK_PARKED);
        else
            unwatch_socket(loop, s);
        return 0;
    }
    unsigned char want =
        ((what & CURL_POLL_IN) ? SOCK_IN : 0) | ((what & CURL_POLL_OUT) ? SOCK_OUT : 0);
    if (state == (SOCK_REGISTERED | want))
        return 0;
    struct epoll_event ev = {.events = ((want & SOCK_IN) ? EPOLLIN : 0u) |
                                       ((want & SOCK_OUT) ? EPOLLOUT : 0u),
                             .data.fd = s};
    /* A record can be stale: a parked socket that curl closed left the set. */
    int rc =
        epoll_ctl(loop->epfd, (state & SOCK_REGISTERED) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev);
    if (rc < 0 && (errno == ENOENT || errno == EEXIST))
        rc = epoll_ctl(loop->epfd, errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev);
    if (rc == 0 && !set_sock_state(loop, s, SOCK_REGISTERED | want)) {
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, s, NULL);
        errno = ENOMEM;
        rc = -1;
    }
    if (rc < 0) {
        /* curl then fails every transfer in the multi handle; the step says why. */
        loop->curl_socket_errno = errno;
        return -1;
    }
    return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct triton_loop *loop = userp;
    if (timeout_ms < 0)
        loop->curl_due = INFINITY;
    else if (timeout_ms == 0)
        loop->curl_due = 0; /* at once: earlier than any triton_loop_now() */
    else
        loop->curl_due = triton_loop_now() + (double)timeout_ms / 1000.0;
    deadline_changed(loop);
    return 0;
}

static int curl_action(struct triton_loop *loop, curl_socket_t s, int flags,
                       struct triton_error *err)
{
    int running = 0;
    CURLMcode rc = curl_multi_socket_action(loop->multi, s, flags, &running);
    if (rc == CURLM_OK)
        return 0;
    if (loop->curl_socket_errno) {
        int e = loop->curl_socket_errno;
        loop->curl_socket_errno = 0;
        return triton_fail(err, TRITON_INTERNAL, "watching a connection's socket failed: %s",
                           strerror(e));
    }
    return triton_fail(err, TRITON_INTERNAL, "curl_multi_socket_action: %s",
                       curl_multi_strerror(rc));
}

/* Handles curl's timeout if it is due. */
static int run_curl_timeout(struct triton_loop *loop, struct triton_error *err)
{
    if (loop->curl_due == INFINITY || loop->curl_due > triton_loop_now())
        return 0;
    loop->curl_due = INFINITY; /* curl sets the next one from inside the action */
    return curl_action(loop, CURL_SOCKET_TIMEOUT, 0, err);
}

/* Runs the done of every finished transfer. */
static int run_curl_done(struct triton_loop *loop)
{
    if (loop->curl_pending == 0)
        return 0;
    int ran = 0, left = 0;
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

/* ---- timers ----------------------------------------------------------------- */

static void timer_unlink(struct triton_loop *loop, struct triton_loop_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        loop->timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        loop->timers_tail = t->prev;
    t->prev = t->next = NULL;
    t->armed = false;
    loop->n_holding -= t->holds;
}

void triton_loop_timer_start(struct triton_loop *loop, struct triton_loop_timer *t, double when)
{
    if (t->armed)
        timer_unlink(loop, t);
    t->when = isnan(when) ? INFINITY : when; /* NaN would break the order: never fire */
    t->seq = loop->timer_seq++;
    struct triton_loop_timer *after = loop->timers_tail;
    while (after && after->when > t->when)
        after = after->prev;
    t->prev = after;
    t->next = after ? after->next : loop->timers;
    if (t->next)
        t->next->prev = t;
    else
        loop->timers_tail = t;
    if (after)
        after->next = t;
    else
        loop->timers = t;
    t->armed = true;
    loop->n_holding += t->holds;
    if (loop->timers == t)
        deadline_changed(loop);
}

void triton_loop_timer_stop(struct triton_loop *loop, struct triton_loop_timer *t)
{
    if (!t->armed)
        return;
    bool first = loop->timers == t;
    timer_unlink(loop, t);
    if (first)
        deadline_changed(loop);
}

/* Fires the timers that are due, except those started during this pass (a timer
 * that re-arms itself for now waits for the next pass instead of looping). */
static int run_timers(struct triton_loop *loop)
{
    if (!loop->timers)
        return 0;
    double now = triton_loop_now();
    uint64_t pass = loop->timer_seq;
    int ran = 0;
    struct triton_loop_timer *t;
    while ((t = loop->timers) && t->when <= now && t->seq < pass) {
        timer_unlink(loop, t);
        t->fn(t);
        ran++;
    }
    return ran;
}

/* ---- deferred work ---------------------------------------------------------- */

void triton_loop_defer(struct triton_loop *loop, struct triton_loop_deferred *d)
{
    if (d->queued)
        return;
    d->queued = true;
    d->next = NULL;
    if (loop->deferred_tail)
        loop->deferred_tail->next = d;
    else
        loop->deferred = d;
    loop->deferred_tail = d;
    if (loop->n_deferred++ == 0 && loop->host_mode && !loop->stepping)
        signal_wake(loop);
}

/* Unlinks d from the list at *head if it is there; *tail (may be NULL) follows. */
static bool deferred_unlink(struct triton_loop_deferred **head, struct triton_loop_deferred **tail,
                            struct triton_loop_deferred *d)
{
    struct triton_loop_deferred *prev = NULL;
    for (struct triton_loop_deferred *p = *head; p; prev = p, p = p->next) {
        if (p != d)
            continue;
        if (prev)
            prev->next = d->next;
        else
            *head = d->next;
        if (tail && *tail == d)
            *tail = prev;
        d->next = NULL;
        return true;
    }
    return false;
}

void triton_loop_undefer(struct triton_loop *loop, struct triton_loop_deferred *d)
{
    if (!d->queued)
        return;
    if (!deferred_unlink(&loop->deferred, &loop->deferred_tail, d))
        deferred_unlink(&loop->deferred_running, NULL, d);
    d->queued = false;
    loop->n_deferred--;
}

/* Runs what was queued when the pass began, in order. */
static int run_deferred(struct triton_loop *loop)
{
    if (!loop->deferred)
        return 0;
    loop->deferred_running = loop->deferred;
    loop->deferred = loop->deferred_tail = NULL;
    int ran = 0;
    struct triton_loop_deferred *d;
    while ((d = loop->deferred_running)) {
        loop->deferred_running = d->next;
        d->next = NULL;
        d->queued = false;
        loop->n_deferred--;
        d->fn(d);
        ran++;
    }
    return ran;
}

/* ---- the completion-queue thread ---------------------------------------------- */

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
        while (!loop->cq_wanted && !loop->cq_stopping) {
            /* Parked: the loop's thread may poll the queue. Said here too, and
             * not only after an event, because the loop may have stopped
             * wanting us after that event said we would poll on. */
            loop->cq_polling = false;
            pthread_cond_wait(&loop->cq_wake, &loop->mu);
        }
        loop->cq_polling = true;
        pthread_mutex_unlock(&loop->mu);
        grpc_event ev =
            grpc_completion_queue_next(loop->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        pthread_mutex_lock(&loop->mu);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            push_event(loop, &ev);
        /* Park unless the loop still wants us: then it may poll the queue itself
         * again. The flag flips under mu, so it never sees both polling. */
        loop->cq_polling = loop->cq_wanted || loop->cq_stopping;
        pthread_mutex_unlock(&loop->mu);
        if (ev.type == GRPC_OP_COMPLETE)
            signal_wake(loop);
        pthread_mutex_lock(&loop->mu);
    }
    loop->cq_polling = false;
    pthread_mutex_unlock(&loop->mu);
    return NULL;
}

/* Sets whether the loop needs the completion-queue thread, starting it (with
 * want) on first need. */
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
    if (want == loop->cq_wanted) /* only this thread writes it */
        return 0;
    pthread_mutex_lock(&loop->mu);
    if (want)
        pthread_cond_signal(&loop->cq_wake);
    loop->cq_wanted = want;
    pthread_mutex_unlock(&loop->mu);
    return 0;
}

grpc_completion_queue *triton_loop_cq(struct triton_loop *loop, struct triton_error *err)
{
    if (!loop->cq) {
        grpc_init();
        loop->cq = grpc_completion_queue_create_for_next(NULL);
        if (!loop->cq) {
            grpc_shutdown();
            triton_fail(err, TRITON_INTERNAL, "gRPC could not create a completion queue");
            return NULL;
        }
    }
    /* A host never calls into the queue: the thread polls it all the time. */
    if (loop->host_mode && want_cq_thread(loop, true, err) < 0)
        return NULL;
    return loop->cq;
}

void triton_loop_grpc_started(struct triton_loop *loop)
{
    loop->grpc_pending++;
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
    loop->events_overflowed = false;
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

/* Whether the loop's thread may poll the completion queue itself: gRPC work
 * and no curl work in flight, no host watching, and the completion-queue thread
 * out of the queue with nothing handed over. An event the thread queued as it
 * parked may be the one the step waits for, and the queue will not give it
 * again: the wait is then in epoll, which its eventfd write ends at once. Also
 * tells a thread that polls for nothing to park after its event. */
static bool own_the_queue(struct triton_loop *loop)
{
    if (loop->grpc_pending == 0 || loop->curl_pending > 0 || loop->host_mode)
        return false;
    if (!loop->cq_thread_started)
        return true;
    pthread_mutex_lock(&loop->mu);
    loop->cq_wanted = false;
    bool mine = !loop->cq_polling && loop->n_events == 0 && !loop->events_overflowed;
    pthread_mutex_unlock(&loop->mu);
    return mine;
}

/* gpr's clock for a wait of `wait` seconds (< 0: none), rounded up to a microsecond. */
static gpr_timespec deadline_after(double wait)
{
    if (wait < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (wait == 0)
        return gpr_time_0(GPR_CLOCK_MONOTONIC);
    double us = ceil(wait * 1e6);
    int64_t n = us > (double)(INT64_MAX / 2) ? INT64_MAX / 2 : (int64_t)us;
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_micros(n, GPR_TIMESPAN));
}

/* Runs one completion-queue event on the loop's thread, waiting up to `wait`. */
static int run_cq_event(struct triton_loop *loop, double wait)
{
    grpc_event ev = grpc_completion_queue_next(loop->cq, deadline_after(wait), NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0;
    loop->grpc_pending--;
    struct triton_loop_grpc_tag *tag = ev.tag;
    tag->done(tag, ev.success != 0);
    return 1;
}

/* ---- stepping ------------------------------------------------------------------ */

/* Passes what epoll reported to its owners: drains the eventfd and timerfd, and
 * tells curl which of its sockets are ready. */
static int dispatch(struct triton_loop *loop, const struct epoll_event *evs, int n,
                    struct triton_error *err)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == loop->wakefd) {
            drain(fd);
        } else if (fd == loop->timerfd) {
            drain(fd);
            loop->timerfd_due = NAN;
        } else if (sock_state(loop, fd) & SOCK_PARKED) {
            unwatch_socket(loop, fd); /* an idle connection closed or spoke: curl will see */
        } else {
            uint32_t e = evs[i].events;
            int flags = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                        ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                        ((e & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
            if (rc == 0)
                rc = curl_action(loop, fd, flags, err);
        }
    }
    return rc;
}

/* One wait in epoll of up to `wait` seconds (< 0: no limit), then what it made
 * ready: curl's actions and finished transfers, handed-over gRPC events. */
static int wait_epoll(struct triton_loop *loop, double wait, struct triton_error *err)
{
    int ms = wait < 0 ? -1 : wait * 1000.0 >= INT_MAX ? INT_MAX : (int)ceil(wait * 1000.0);
    struct epoll_event evs[MAX_EPOLL_EVENTS];
    int n = epoll_wait(loop->epfd, evs, MAX_EPOLL_EVENTS, ms);
    if (n < 0) {
        if (errno != EINTR)
            return triton_fail(err, TRITON_INTERNAL, "epoll_wait: %s", strerror(errno));
        loop->interrupted = true;
        n = 0;
    }
    int rc = dispatch(loop, evs, n, err);
    if (rc == 0)
        rc = run_curl_timeout(loop, err);
    /* Transfers a failed action ended are still delivered. */
    int ran = run_curl_done(loop);
    int handed = run_handed_over(loop, err);
    if (rc < 0 || handed < 0)
        return -1;
    return ran + handed;
}

/* One wait of up to `wait` seconds (< 0: no limit) in the completion queue or
 * in epoll, and what it made ready. */
static int wait_once(struct triton_loop *loop, double wait, struct triton_error *err)
{
    if (own_the_queue(loop))
        return run_cq_event(loop, wait);
    if (!loop->host_mode &&
        want_cq_thread(loop, loop->grpc_pending > 0 && loop->curl_pending > 0, err) < 0)
        return -1;
    return wait_epoll(loop, wait, err);
}

/* What a step runs without waiting: deferred work, handed-over gRPC events, due
 * timers and curl's due timeout. */
static int run_ready(struct triton_loop *loop, struct triton_error *err)
{
    int ran = run_deferred(loop);
    int handed = run_handed_over(loop, err);
    if (handed < 0)
        return -1;
    ran += handed + run_timers(loop);
    if (run_curl_timeout(loop, err) < 0)
        return -1;
    return ran + run_curl_done(loop);
}

/* How long the next wait may last: until the step's end (`until`, INFINITY for
 * none) or the earliest deadline; < 0 for no limit. */
static double wait_for(const struct triton_loop *loop, double until)
{
    if (loop->n_deferred > 0)
        return 0;
    double due = next_due(loop);
    if (until < due)
        due = until;
    if (due == INFINITY)
        return -1;
    double left = due - triton_loop_now();
    return left > 0 ? left : 0;
}

/* Whether a step with nothing ready has anything to poll for. */
static bool may_poll(const struct triton_loop *loop)
{
    return loop->curl_pending > 0 || loop->grpc_pending > 0 || loop->host_mode;
}

static int step_run(struct triton_loop *loop, double timeout, struct triton_error *err)
{
    int ran = run_ready(loop, err);
    if (ran < 0)
        return -1;
    /* Something ran, or a poll: still look at the sockets once, so that work
     * that is always ready cannot starve them. */
    bool once = ran > 0 || timeout == 0;
    double until = timeout > 0 ? triton_loop_now() + timeout : INFINITY;
    loop->interrupted = false;
    for (;;) {
        double wait = once ? 0 : wait_for(loop, until);
        /* Nothing in flight, nothing armed and no limit: nothing could end it. */
        if (once ? !may_poll(loop) : wait < 0 && triton_loop_pending(loop) == 0)
            return ran;
        bool woken = atomic_exchange(&loop->woken, false);
        int got = wait_once(loop, woken ? 0 : wait, err);
        if (got < 0)
            return -1;
        ran += got;
        woken = woken || atomic_exchange(&loop->woken, false);
        ran += run_timers(loop);
        if (once || ran > 0 || woken || wait == 0 || loop->interrupted)
            return ran;
        if (until != INFINITY && triton_loop_now() >= until)
            return ran;
    }
}

/* Host mode, after a step: the descriptor shows what is left. */
static void host_after_step(struct triton_loop *loop)
{
    if (loop->n_deferred > 0)
        signal_wake(loop);
    arm_timerfd(loop);
}

int triton_loop_step(struct triton_loop *loop, double timeout, struct triton_error *err)
{
    if (loop->stepping)
        return triton_fail(err, TRITON_INTERNAL,
                           "the event loop was re-entered from one of its own completions");
    loop->stepping = true;
    int ran = step_run(loop, timeout, err);
    if (ran >= 0)
        ran += run_timers(loop) + run_deferred(loop);
    loop->stepping = false;
    if (loop->host_mode)
        host_after_step(loop);
    return ran;
}

int triton_loop_pending(const struct triton_loop *loop)
{
    return loop->curl_pending + loop->grpc_pending + loop->n_deferred + loop->n_holding;
}

void triton_loop_wakeup(struct triton_loop *loop)
{
    /* The flag shortens a wait in the completion queue that has not begun; the
     * eventfd ends one in epoll. */
    atomic_store(&loop->woken, true);
    signal_wake(loop);
}

bool triton_loop_watched(const struct triton_loop *loop)
{
    return loop->host_mode;
}

int triton_loop_fd(struct triton_loop *loop, struct triton_error *err)
{
    if (loop->host_mode)
        return loop->epfd;
    if (loop->timerfd < 0) {
        loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (loop->timerfd < 0)
            return triton_fail(err, TRITON_INTERNAL, "timerfd_create: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = loop->timerfd};
        if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->timerfd, &ev) < 0) {
            int e = errno;
            close(loop->timerfd);
            loop->timerfd = -1;
            return triton_fail(err, TRITON_INTERNAL, "adding a timerfd to epoll: %s", strerror(e));
        }
    }
    if (loop->cq && want_cq_thread(loop, true, err) < 0)
        return -1;
    loop->host_mode = true;
    if (!loop->stepping)
        host_after_step(loop);
    return loop->epfd;
}

double triton_loop_next_timeout(struct triton_loop *loop)
{
    if (loop->n_deferred > 0)
        return 0;
    double due = next_due(loop);
    if (due == INFINITY)
        return -1;
    double left = due - triton_loop_now();
    return left > 0 ? left : 0;
}

/* ---- life ------------------------------------------------------------------- */

/* The epoll set with the eventfd in it, and curl's callbacks pointed at it. */
static int open_descriptors(struct triton_loop *loop, struct triton_error *err)
{
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return triton_fail(err, TRITON_INTERNAL, "epoll_create1: %s", strerror(errno));
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0)
        return triton_fail(err, TRITON_INTERNAL, "eventfd: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = loop->wakefd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
        return triton_fail(err, TRITON_INTERNAL, "adding an eventfd to epoll: %s", strerror(errno));
    curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
    curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
    return 0;
}

static void close_descriptors(struct triton_loop *loop)
{
    if (loop->timerfd >= 0)
        close(loop->timerfd);
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
}

struct triton_loop *triton_loop_new(struct triton_error *err)
{
    struct triton_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating the event loop");
        return NULL;
    }
    loop->epfd = loop->wakefd = loop->timerfd = -1;
    loop->curl_due = INFINITY;
    loop->timerfd_due = NAN;
    atomic_init(&loop->woken, false);
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
    if (open_descriptors(loop, err) < 0) {
        curl_multi_cleanup(loop->multi);
        curl_global_cleanup();
        close_descriptors(loop);
        free(loop);
        return NULL;
    }
    pthread_mutex_init(&loop->mu, NULL);
    pthread_cond_init(&loop->cq_wake, NULL);
    return loop;
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
    /* curl may still report sockets (closing cached connections): epfd stays open. */
    curl_multi_cleanup(loop->multi);
    curl_global_cleanup();
    close_descriptors(loop);
    pthread_cond_destroy(&loop->cq_wake);
    pthread_mutex_destroy(&loop->mu);
    free(loop->events);
    free(loop->sock_state);
    free(loop);
}
