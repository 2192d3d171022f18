/*
 * loop.h: the one event loop that drives both transports.
 *
 * libcurl's multi interface carries HTTP; gRPC's completion queue carries gRPC.
 * While only gRPC batches are in flight the loop's thread waits in
 * grpc_completion_queue_next itself and runs each completion at once. While curl
 * transfers are in flight it waits in curl_multi_poll, and a completion-queue
 * thread (started on first need, parked when not needed) hands gRPC events over
 * through a mutex-protected list and wakes the poll with curl_multi_wakeup.
 * Either way every completion runs on the loop's thread: the Lua binding relies
 * on this, because Lua may only be entered from its own thread.
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

struct triton_loop *triton_loop_new(struct triton_error *err);
/* Stops the completion-queue thread (if started) and frees the loop. Every curl
 * handle must have been removed and every gRPC call finished or cancelled and
 * drained first (triton_loop_pending() == 0); transports do that in their destroy. */
void triton_loop_free(struct triton_loop *loop);

/* The multi handle, for transports that need to set multi options. */
CURLM *triton_loop_curl_multi(struct triton_loop *loop);
/* Adds an easy handle whose CURLOPT_PRIVATE is a struct triton_loop_curl_task*. */
int triton_loop_add_curl(struct triton_loop *loop, CURL *easy, struct triton_error *err);
/* Removes an easy handle before it completed (cancel); its task's done is not called. */
void triton_loop_remove_curl(struct triton_loop *loop, CURL *easy);

/* The completion queue gRPC calls are created on. Starts gRPC (grpc_init) and
 * the completion-queue thread on first use; NULL with err set on failure. */
grpc_completion_queue *triton_loop_cq(struct triton_loop *loop, struct triton_error *err);
/* Every started gRPC batch must be announced so that the loop knows it has work
 * in flight: call triton_loop_grpc_started after a successful start_batch. The
 * matching decrement happens when its event is delivered. */
void triton_loop_grpc_started(struct triton_loop *loop);

/* Runs completions that are ready, waiting up to timeout seconds (< 0: no limit,
 * 0: poll) for at least one piece of work to make progress. With nothing in
 * flight a positive timeout still waits (ended early by triton_loop_wakeup or a
 * signal), so a scheduler can sleep here until its next timer; an unlimited one
 * returns at once rather than block forever. Returns the number of completions
 * run, or -1 with err set. Refuses re-entry from a completion. */
int triton_loop_step(struct triton_loop *loop, double timeout, struct triton_error *err);
/* Number of curl transfers and gRPC batches in flight. */
int triton_loop_pending(const struct triton_loop *loop);
/* Makes the next (or a blocked curl) wait of triton_loop_step return early. From
 * another thread it ends a wait in curl_multi_poll but not one in the completion
 * queue, which ends at its next event or timeout; a signal handler must not
 * call it (set a flag and let the step's timeout expire). */
void triton_loop_wakeup(struct triton_loop *loop);

#endif
