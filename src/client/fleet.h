/*
 * fleet.h: many Triton servers behind one client. A fleet is a client of
 * clients: it holds one struct triton_client per server, all of one protocol,
 * and decides per call which of them carries it (the call table's route):
 *
 *   - inference (BALANCE) goes to one healthy server, one with (nearly) the
 *     fewest calls in flight (least_requests) or the next in turn (round_robin); a call
 *     with a sequence id goes to the server rendezvous hashing gives that id
 *     over every server, for the whole sequence, and is never moved or retried;
 *   - reads (READ) go to one healthy server;
 *   - writes (WRITE: load/unload, shared-memory register/unregister, settings
 *     updates) go to every server, and fail naming the servers that failed.
 *
 * Health: with an interval, every server is probed (ServerReady, then
 * ModelReady for each listed model) on the loop's own timers; a server that
 * fails a probe leaves the rotation until one passes, and a call that fails
 * with "unavailable" makes its server suspect at once.
 *
 * Balancing (least_requests): the servers whose calls in flight are at most
 * half again the fewest, plus one, count as tied and take calls in turn, so
 * equal servers share evenly whatever noise the counts carry, and a server
 * whose calls pile up is skipped until it catches up. round_robin: every
 * healthy server in turn.
 *
 * Retries, off unless a policy is given: an idempotent call (the call table
 * says which) that fails with one of the policy's codes is sent again, to
 * another healthy server when there is one, after an exponential backoff with
 * full jitter, at most `attempts` times in all, and only while retries stay
 * under `budget` times the calls made. The call is resubmitted as it is: its
 * request still points at the caller's tensors, so nothing is copied again. A
 * call's own timeout bounds all of its attempts together.
 *
 * A plain client is a fleet of one: the binding always talks to a fleet, and a
 * fleet of one hands each call to its one client (health probes there only
 * report: there is no other server to prefer).
 */
#ifndef TRITON_CLIENT_FLEET_H
#define TRITON_CLIENT_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"

enum triton_balance { TRITON_BALANCE_LEAST_REQUESTS, TRITON_BALANCE_ROUND_ROBIN };

struct triton_retry_policy {
    int attempts;       /* in all, the first included; <= 1: no retries */
    unsigned codes;     /* a bit per enum triton_code that is retried */
    double backoff;     /* seconds before the first retry (the cap of its jitter) */
    double max_backoff; /* the cap of any one wait */
    double budget;      /* retries at most this fraction of the calls made */
};

struct triton_fleet_options {
    /* Every server's client is made from this (its url is replaced). */
    const struct triton_client_options *client;
    /* host:port targets (scheme already stripped, one protocol for all)... */
    const char *const *urls;
    size_t n_urls;
    /* "http", "grpcs", ...: servers are named scheme://host:port (any password
     * redacted) in messages and in triton_fleet_server; NULL: host:port. */
    const char *scheme;
    /* ...or one host:port whose host is resolved to all of its addresses,
     * again every resolve_interval seconds (0: once). */
    const char *resolve;
    double resolve_interval;
    enum triton_balance balance;
    double health_interval; /* seconds between probes; 0: no probes */
    const char *const *health_models;
    size_t n_health_models;
    struct triton_retry_policy retry;
};

struct triton_fleet_server_info {
    const char *name; /* scheme://host:port (see scheme); resolved ones: scheme://address:port */
    bool healthy;
    bool gone; /* dropped by a re-resolution: not picked nor probed (kept: calls
                * may point at it, and it takes calls again if the name has it again) */
    int in_flight;
    uint64_t requests, failures;
    uint64_t probes;        /* health probe rounds finished (ServerReady + ModelReady) */
    const char *last_error; /* "" when none */
};

struct triton_fleet;

struct triton_fleet *triton_fleet_new(struct triton_loop *loop,
                                      const struct triton_fleet_options *opts,
                                      struct triton_error *err);
/* Ends every call in flight (done runs with CANCELLED) and frees the fleet. */
void triton_fleet_free(struct triton_fleet *f);

/* Sends a call through the fleet; its done runs from a step, always, once this
 * returned 0. After the final done, triton_fleet_server_of(call) names the
 * server that answered. */
int triton_fleet_submit(struct triton_fleet *f, struct triton_call *call, struct triton_error *err);
/* Sends a call to the i-th server only, whatever its route and health, never
 * retried (each(fn): a client for one server of the fleet). */
int triton_fleet_submit_to(struct triton_fleet *f, size_t i, struct triton_call *call,
                           struct triton_error *err);
void triton_fleet_cancel(struct triton_fleet *f, struct triton_call *call);
const char *triton_fleet_server_of(const struct triton_call *call);

/* The client a stream should use (streams are not calls: they stay on one
 * server): the least loaded healthy one. NULL with err set when none is healthy. */
struct triton_client *triton_fleet_pick(struct triton_fleet *f, struct triton_error *err);

size_t triton_fleet_size(const struct triton_fleet *f);
void triton_fleet_server(const struct triton_fleet *f, size_t i,
                         struct triton_fleet_server_info *out);
/* The i-th server's own client, for each(fn). */
struct triton_client *triton_fleet_client(struct triton_fleet *f, size_t i);

#endif
