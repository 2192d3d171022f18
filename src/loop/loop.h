/*
 * loop.h: the one event loop that drives both transports, and the timers and
 * deferred work the call layer builds deadlines and cancellation on.
 *
 * libcurl's multi interface (its socket interface: the loop watches curl's
 * sockets in an epoll set of its own) carries HTTP; gRPC's completion queue
 * carries gRPC. While only gRPC batches are in flight the loop's thread waits in
 * grpc_completion_queue_next itself and runs each completion at once. Otherwise
 * it waits in epoll_wait, and a completion-queue thread (started on first need,
 * parked when not needed) hands gRPC events over through a mutex-protected list
 * and an eventfd in the epoll set. Either way every completion, timer and piece
 * of deferred work runs on the loop's thread, inside triton_loop_step: the Lua
 * binding relies on this, because Lua may only be entered from its own thread.
 *
 * A host that owns its event loop asks for triton_loop_fd once; from then on the
 * completion-queue thread carries every gRPC event and a timerfd follows the
 * earliest deadline, so that the descriptor alone says when to step.
 *
 * Transports register work as tasks: a curl easy handle whose CURLOPT_PRIVATE
 * points at a struct triton_loop_curl_task, or a gRPC batch whose tag is a
 * struct triton_loop_grpc_tag. The loop calls their `done` function when the
 * work completes. Nothing in here knows HTTP or gRPC semantics.
 *
 * Not thread-safe except for triton_loop_wakeup: one loop per thread (one per
 * Lua state in the binding).
 */
#ifndef TRITON_LOOP_H
#define TRITON_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <grpc/grpc.h>

#include "common/error.h"

struct triton_loop;

/* Set as CURLOPT_PRIVATE on an easy handle added with triton_loop_add_curl. */
struct triton_loop_curl_task {
    void (*done)(struct triton_loop_curl_task *task, CURLcode result);
};

/* Pass as the tag of grpc_call_start_batch on triton_loop_cq(). `done` runs on
 * the loop's thread with the event's success flag. */
struct triton_loop_grpc_tag {
    void (*done)(struct triton_loop_grpc_tag *tag, bool ok);
};

/* Monotonic seconds (CLOCK_MONOTONIC), the clock of every timer. */
double triton_loop_now(void);

/* A one-shot timer: fn runs on the loop's thread, from inside a step, once
 * triton_loop_now() >= when. Embedded in the owner's struct (no allocation).
 * A step never waits past the earliest armed timer. Armed timers do not count
 * as pending work (triton_loop_pending) by themselves, unless they `hold` (a
 * call waiting to be sent again is work in flight). Timers due at the same
 * moment fire in the order they were started. */
struct triton_loop_timer {
    void (*fn)(struct triton_loop_timer *t);
    double when;
    bool holds; /* counts as pending work while armed; set before starting */
    /* private to the loop: links in its list of armed timers, sorted by when */
    struct triton_loop_timer *prev, *next;
    uint64_t seq; /* when it was started, so that a pass never fires a timer it armed */
    bool armed;
};
/* Arms t (re-arms it if armed) to fire at `when` (a triton_loop_now() time). */
void triton_loop_timer_start(struct triton_loop *loop, struct triton_loop_timer *t, double when);
void triton_loop_timer_stop(struct triton_loop *loop,
                            struct triton_loop_timer *t); /* safe if not armed */

/* Deferred work: fn runs on the loop's thread at the next step (a step already
 * running when it is deferred runs it before returning). Counts as pending work
 * until it has run, and makes the next wait return at once. This is how the call
 * layer completes a call it cancelled, or one that failed before reaching the
 * wire, without calling back into its caller's stack. Deferring a queued one
 * leaves it where it is. */
struct triton_loop_deferred {
    void (*fn)(struct triton_loop_deferred *d);
    /* private */
    struct triton_loop_deferred *next;
    bool queued;
};
void triton_loop_defer(struct triton_loop *loop, struct triton_loop_deferred *d);
void triton_loop_undefer(struct triton_loop *loop,
                         struct triton_loop_deferred *d); /* safe if not queued */

struct triton_loop *triton_loop_new(struct triton_error *err);
/* Stops the completion-queue thread (if started) and frees the loop. Every curl
 * handle must have been removed and every gRPC call finished or cancelled and
 * drained first (triton_loop_pending() == 0); transports do that in their destroy.
 * Armed timers and queued deferred work are dropped without running. */
void triton_loop_free(struct triton_loop *loop);

/* The multi handle, for transports that need to set multi options (not the
 * socket or timer callbacks: the loop owns those). */
CURLM *triton_loop_curl_multi(struct triton_loop *loop);
/* Adds an easy handle whose CURLOPT_PRIVATE is a struct triton_loop_curl_task*. */
int triton_loop_add_curl(struct triton_loop *loop, CURL *easy, struct triton_error *err);
/* Removes an easy handle before it completed (cancel); its task's done is not called. */
void triton_loop_remove_curl(struct triton_loop *loop, CURL *easy);

/* The completion queue gRPC calls are created on. Starts gRPC (grpc_init), and
 * once a host has asked for the descriptor the completion-queue thread, on first
 * use; NULL with err set on failure. */
grpc_completion_queue *triton_loop_cq(struct triton_loop *loop, struct triton_error *err);
/* Every started gRPC batch must be announced so that the loop knows it has work
 * in flight: call triton_loop_grpc_started after a successful start_batch. The
 * matching decrement happens when its event is delivered. */
void triton_loop_grpc_started(struct triton_loop *loop);

/* Runs what is ready (curl I/O, gRPC events, due timers, deferred work), waiting
 * up to timeout seconds (< 0: no limit, 0: poll) until at least one of them has
 * run, and never past the earliest timer. With nothing in flight a positive
 * timeout still waits (ended early by triton_loop_wakeup or a signal), so a
 * scheduler can sleep here until its next timer; an unlimited one returns at
 * once rather than block forever, unless a timer is armed. A signal (EINTR) or
 * a wakeup ends a wait in epoll early. Returns the number of completions,
 * timers and deferred functions run, or -1 with err set. Refuses re-entry from
 * one of them. */
int triton_loop_step(struct triton_loop *loop, double timeout, struct triton_error *err);
/* Number of curl transfers and gRPC batches in flight, plus queued deferred work. */
int triton_loop_pending(const struct triton_loop *loop);
/* Makes the next (or a blocked epoll) wait of triton_loop_step return early;
 * nothing else runs for it (a transport that must act on a transfer from
 * inside a curl callback defers that work to the step). From another thread
 * it ends a wait in epoll but not one in the completion queue, which ends at
 * its next event, timer or timeout; a signal handler must not call it (set a
 * flag and let the step's timeout expire). */
void triton_loop_wakeup(struct triton_loop *loop);

/* A descriptor that is readable whenever triton_loop_step(loop, 0, ...) has
 * something to run: curl I/O ready, a gRPC event, deferred work, a due timer.
 * For hosts that own their event loop (luv, cqueues, Neovim, a C poll() loop):
 * they watch it for POLLIN and call step(0) when it fires; it is level-triggered
 * and stays valid for the loop's life. -1 with err set on failure. */
int triton_loop_fd(struct triton_loop *loop, struct triton_error *err);

/* Whether a host may be waiting on triton_loop_fd's descriptor (it was asked
 * for): only then does work that is ready without a step need a wakeup. */
bool triton_loop_watched(const struct triton_loop *loop);
/* The longest a host may wait before calling step(0) again even without the fd
 * firing (the earliest timer, curl's own timeouts); < 0 when nothing is armed. */
double triton_loop_next_timeout(struct triton_loop *loop);

#endif
