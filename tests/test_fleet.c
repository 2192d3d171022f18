/*
 * test_fleet.c: a fleet of three reference servers over real sockets, for each
 * protocol: balancing, a write sent to every server and failing by name,
 * sequences kept on one server, retries elsewhere when a server is killed,
 * health probes taking a dead server out and a restarted one back in, calls
 * sent to one named server (each(fn)) never moved.
 *
 * A hang fails the test with an account of it (see "a hang fails") instead
 * of running silently into ctest's limit.
 */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "client/fleet.h"
#include "testserver.h"

#define N_SERVERS 3
/* Probe rounds a test waits for a server to turn healthy: ample, and a count,
 * not a time. */
#define PROBE_ROUNDS 60

static struct triton_loop *loop;
static struct test_server servers[N_SERVERS];

/* ---- a hang fails, and says where ----------------------------------------------------------- */

/* A run in which nothing happens (no call ends, the test takes no step) for this
 * many seconds is hung. Far above the longest quiet stretch of a passing run on
 * a loaded machine (a call's network_timeout of 10 s, a gRPC client's close of
 * at most 5 s), and below ctest's limit, so that a hang ends with the test's
 * own account of it: what it was doing, the fleet's servers, where its thread
 * was. */
#define HUNG_AFTER 120.0

static atomic_uint progress;       /* bumped whenever something happens */
static pthread_t test_thread;      /* the one that steps the loop */
static char phase[96], doing[256]; /* what the test is at (test thread only) */
static struct triton_fleet *fleet; /* the fleet under test, NULL between tests */

static void say(const char *s)
{
    ssize_t n = write(STDERR_FILENO, s, strlen(s));
    (void)n;
}

/* Runs on the test thread (SIGUSR2 from the watchdog), wherever it is stuck:
 * only reads, then aborts. */
static void on_hung(int sig)
{
    (void)sig;
    char line[600];
    snprintf(line, sizeof line, "test_fleet: hung in %s, %s; the loop has %d pending\n", phase,
             doing, triton_loop_pending(loop));
    say(line);
    for (size_t i = 0; fleet && i < triton_fleet_size(fleet); i++) {
        struct triton_fleet_server_info s;
        triton_fleet_server(fleet, i, &s);
        snprintf(line, sizeof line,
                 "  server %zu %s: %s, %d in flight, %llu requests, %llu failures, last error: "
                 "%s\n",
                 i, s.name, s.healthy ? "healthy" : "unhealthy", s.in_flight,
                 (unsigned long long)s.requests, (unsigned long long)s.failures,
                 s.last_error[0] ? s.last_error : "none");
        say(line);
    }
    say("  the test thread's stack (addr2line -f -e <test> <offset>):\n");
    void *frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
    abort();
}

static void *watchdog(void *arg)
{
    (void)arg;
    unsigned seen = atomic_load(&progress);
    double since = triton_loop_now();
    while (triton_loop_now() - since < HUNG_AFTER) {
        sleep(1);
        unsigned now = atomic_load(&progress);
        if (now != seen) {
            seen = now;
            since = triton_loop_now();
        }
    }
    say("test_fleet: nothing has happened for a long time: the test is hung\n");
    pthread_kill(test_thread, SIGUSR2);
    sleep(10); /* time for on_hung's account; should it not come, fail anyway */
    abort();
}

static void start_watchdog(void)
{
    void *warm[1];
    backtrace(warm, 1); /* loads the unwinder now, not inside on_hung */
    test_thread = pthread_self();
    struct sigaction sa = {.sa_handler = on_hung};
    sigaction(SIGUSR2, &sa, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, watchdog, NULL) == 0)
        pthread_detach(t);
}

/* What the test is doing now (a step: progress). */
static void at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void at(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(doing, sizeof doing, fmt, ap);
    va_end(ap);
    atomic_fetch_add(&progress, 1);
}

struct outcome {
    int finals;
    bool failed, boolean;
    struct triton_error err;
    const char *server;
};

static void on_done(struct triton_call *call, struct triton_reply *reply,
                    const struct triton_error *err, bool final)
{
    struct outcome *o = call->user;
    if (!final)
        return;
    atomic_fetch_add(&progress, 1);
    o->finals++;
    o->server = triton_fleet_server_of(call);
    if (err) {
        o->failed = true;
        o->err = *err;
    } else {
        o->boolean = reply->boolean;
    }
}

static int run(struct triton_fleet *f, struct triton_call *call, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    call->done = on_done;
    call->user = o;
    struct triton_error err = {0};
    if (triton_fleet_submit(f, call, &err) < 0) {
        o->failed = true;
        o->err = err;
        return -1;
    }
    const char *server = triton_fleet_server_of(call);
    at("waiting for %s on %s", triton_call_kind_name(call->kind), server ? server : "every server");
    while (!o->finals)
        if (triton_loop_step(loop, -1, &err) < 0)
            return -1;
    return o->failed ? -1 : 0;
}

static const char *url_of(const struct test_server *s, bool grpc)
{
    return grpc ? s->grpc_url : s->http_url;
}

static struct triton_fleet *fleet_of(bool grpc, const struct triton_fleet_options *extra)
{
    static struct triton_client_options copts;
    static const char *urls[N_SERVERS];
    copts = (struct triton_client_options){
        .protocol = grpc ? TRITON_PROTOCOL_GRPC : TRITON_PROTOCOL_HTTP,
        .network_timeout = 10, /* above the slow calls' delay */
    };
    for (int i = 0; i < N_SERVERS; i++)
        urls[i] = url_of(&servers[i], grpc);
    struct triton_fleet_options o = extra ? *extra : (struct triton_fleet_options){0};
    o.client = &copts;
    o.urls = urls;
    o.n_urls = N_SERVERS;
    struct triton_error err = {0};
    at("making a fleet");
    struct triton_fleet *f = triton_fleet_new(loop, &o, &err);
    if (!f)
        fprintf(stderr, "fleet: %s\n", err.message);
    fleet = f;
    return f;
}

static void fleet_free(struct triton_fleet *f)
{
    at("freeing the fleet");
    fleet = NULL; /* on_hung must not read it while it goes */
    triton_fleet_free(f);
}

/* Index of the server a URL names, -1 if none. */
static int server_index(const char *url, bool grpc)
{
    for (int i = 0; url && i < N_SERVERS; i++)
        if (strcmp(url, url_of(&servers[i], grpc)) == 0)
            return i;
    return -1;
}

static void test_balance_and_reads(bool grpc)
{
    struct triton_fleet *f = fleet_of(grpc, NULL);
    CHECK(f && triton_fleet_size(f) == N_SERVERS);
    if (!f)
        return;
    int per[N_SERVERS] = {0};
    for (int i = 0; i < 60; i++) {
        struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE};
        struct outcome o;
        CHECK(run(f, &call, &o) == 0 && o.boolean);
        if (o.failed)
            fprintf(stderr, "read %d: %s\n", i, o.err.message);
        int k = server_index(o.server, grpc);
        CHECK(k >= 0);
        if (k >= 0)
            per[k]++;
    }
    /* one call at a time: least_requests takes them in turn */
    for (int i = 0; i < N_SERVERS; i++)
        CHECK_INT(per[i], 20);
    struct triton_fleet_server_info info;
    triton_fleet_server(f, 0, &info);
    CHECK(info.healthy && info.requests == 20 && info.in_flight == 0);
    fleet_free(f);
}

/* Keeps `held` slow calls in flight on server 0 (topping them up as they end,
 * so the count holds however slow this machine is), then makes 30 calls one at
 * a time through the balancer and counts where they went. */
static void balance_around_held(struct triton_fleet *f, bool grpc, int held, int per[N_SERVERS])
{
    static const struct triton_kv slow = {.key = "x-fault", .value = "delay=1000"};
    size_t cap = 30 * (size_t)held + (size_t)held, used = 0;
    struct triton_call *calls = calloc(cap, sizeof *calls);
    struct outcome *outs = calloc(cap, sizeof *outs);
    struct triton_error err = {0};
    struct triton_fleet_server_info info;
    for (int i = 0; i < 30 && calls && outs; i++) {
        triton_fleet_server(f, 0, &info);
        for (int k = info.in_flight; k < held && used < cap; k++, used++) {
            calls[used] = (struct triton_call){.kind = TRITON_CALL_SERVER_LIVE,
                                               .headers = &slow,
                                               .n_headers = 1,
                                               .done = on_done,
                                               .user = &outs[used]};
            CHECK(triton_fleet_submit_to(f, 0, &calls[used], &err) == 0);
        }
        triton_fleet_server(f, 0, &info);
        CHECK_INT(info.in_flight, held);
        struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE};
        struct outcome o;
        CHECK(run(f, &call, &o) == 0);
        int k = server_index(o.server, grpc);
        if (k >= 0)
            per[k]++;
    }
    for (size_t i = 0; i < used; i++) { /* the held calls end (after their delay) */
        at("waiting for held call %zu of %zu on server 0", i + 1, used);
        while (!outs[i].finals && triton_loop_step(loop, -1, &err) >= 0)
            ;
        CHECK(!outs[i].failed);
    }
    free(calls);
    free(outs);
}

/* least_requests: a call or so more in flight is a tie (equal servers share
 * evenly); a server whose calls pile up is skipped until it catches up. */
static void test_near_ties(bool grpc)
{
    struct triton_fleet *f = fleet_of(grpc, NULL);
    if (!f)
        return;
    int per[N_SERVERS] = {0};
    balance_around_held(f, grpc, 1, per); /* 1, 0, 0 in flight: still tied */
    for (int i = 0; i < N_SERVERS; i++)
        CHECK_INT(per[i], 10);
    memset(per, 0, sizeof per);
    balance_around_held(f, grpc, 3, per); /* 3, 0, 0: server 0 is skipped */
    CHECK_INT(per[0], 0);
    CHECK_INT(per[1], 15);
    CHECK_INT(per[2], 15);
    fleet_free(f);
}

static void test_sequences(bool grpc)
{
    struct triton_fleet *f = fleet_of(grpc, NULL);
    if (!f)
        return;
    int64_t shape[2] = {1, 1};
    for (uint64_t seq = 1; seq <= 12; seq++) {
        const char *first = NULL;
        for (int step = 0; step < 3; step++) {
            struct tensor t;
            tensor_init(&t, TENSOR_INT32, shape, 2, NULL);
            *(int32_t *)t.buf->data = step;
            struct triton_infer_input in = {
                .name = "INPUT", .datatype = "INT32", .shape = shape, .ndim = 2, .data = &t};
            struct triton_infer_request req = {.model = "simple_sequence",
                                               .inputs = &in,
                                               .n_inputs = 1,
                                               .sequence_id = seq * 1000,
                                               .sequence_start = step == 0,
                                               .sequence_end = step == 2,
                                               .binary_data_output = true};
            struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
            struct outcome o;
            CHECK(run(f, &call, &o) == 0);
            if (o.failed)
                fprintf(stderr, "sequence %llu: %s\n", (unsigned long long)seq, o.err.message);
            if (!first)
                first = o.server;
            CHECK(o.server && first && strcmp(o.server, first) == 0);
            tensor_release(&t);
        }
    }
    fleet_free(f);
}

static void test_writes(bool grpc)
{
    struct triton_fleet *f = fleet_of(grpc, NULL);
    if (!f)
        return;
    struct triton_call call = {.kind = TRITON_CALL_LOAD_MODEL, .model = "simple_int8"};
    struct outcome o;
    CHECK(run(f, &call, &o) == 0);
    fleet_free(f);
}

static void kill_server(int i)
{
    at("killing server %d", i);
    kill(servers[i].pid, SIGKILL);
    test_server_stop(&servers[i]);
}

static int restart_server(int i)
{
    char http[16], grpc[16];
    snprintf(http, sizeof http, "%d", servers[i].http_port);
    snprintf(grpc, sizeof grpc, "%d", servers[i].grpc_port);
    const char *args[] = {"--http-port", http, "--grpc-port", grpc, NULL};
    at("restarting server %d", i);
    return test_server_start(&servers[i], args);
}

/* Steps until a probe has passed on every server (their first probes also make
 * the connections, which on a loaded machine may outlast a probe's limit), or
 * until server 0 has had PROBE_ROUNDS rounds. */
static void wait_all_healthy(struct triton_fleet *f)
{
    struct triton_fleet_server_info info;
    triton_fleet_server(f, 0, &info);
    uint64_t rounds = info.probes + PROBE_ROUNDS;
    at("waiting for a probe to pass on every server");
    for (size_t i = 0; i < N_SERVERS;) {
        triton_fleet_server(f, i, &info);
        if (info.healthy && info.probes > 0) {
            i++;
            continue;
        }
        struct triton_fleet_server_info first;
        triton_fleet_server(f, 0, &first);
        struct triton_error err = {0};
        if (first.probes >= rounds || triton_loop_step(loop, -1, &err) < 0)
            break;
    }
    CHECK(info.healthy && info.probes > 0);
}

static void test_failover(bool grpc)
{
    struct triton_fleet_options opts = {
        /* also a probe's time limit: ample on a loaded machine (or under a
         * sanitizer), lest every server turn unhealthy at once */
        .health_interval = 1,
        .retry = {.attempts = 3,
                  .codes = 1u << TRITON_UNAVAILABLE,
                  .backoff = 0.01,
                  .max_backoff = 0.1,
                  .budget = 0.5},
    };
    struct triton_fleet *f = fleet_of(grpc, &opts);
    if (!f)
        return;
    wait_all_healthy(f);
    kill_server(1);
    /* every read succeeds: a failed attempt goes to another server */
    for (int i = 0; i < 30; i++) {
        struct triton_call call = {.kind = TRITON_CALL_SERVER_METADATA};
        struct outcome o;
        CHECK(run(f, &call, &o) == 0);
        if (o.failed)
            fprintf(stderr, "failover %d: %s\n", i, o.err.message);
        CHECK(server_index(o.server, grpc) != 1);
    }
    struct triton_fleet_server_info info;
    triton_fleet_server(f, 1, &info);
    CHECK(!info.healthy && info.last_error[0]);

    /* a write fails naming the dead server, and reaches the others */
    struct triton_call load = {.kind = TRITON_CALL_LOAD_MODEL, .model = "simple_int8"};
    struct outcome o;
    CHECK(run(f, &load, &o) < 0);
    CHECK_CONTAINS(o.err.message, "failed on 1 of 3 servers");
    CHECK_CONTAINS(o.err.message, url_of(&servers[1], grpc));

    /* a restarted server comes back once a probe passes (over gRPC, once the
     * channel has waited out its reconnect backoff: some rounds) */
    CHECK(restart_server(1) == 0);
    struct triton_error err = {0};
    triton_fleet_server(f, 1, &info);
    uint64_t rounds = info.probes + PROBE_ROUNDS;
    at("waiting for a probe to find server 1 back");
    while (!info.healthy && info.probes < rounds && triton_loop_step(loop, -1, &err) >= 0)
        triton_fleet_server(f, 1, &info);
    CHECK(info.healthy);
    fleet_free(f);
}

static void test_no_retry_fails_by_name(bool grpc)
{
    struct triton_fleet *f = fleet_of(grpc, NULL);
    if (!f)
        return;
    kill_server(2);
    int failed = 0;
    for (int i = 0; i < 9; i++) {
        struct triton_call call = {.kind = TRITON_CALL_SERVER_METADATA};
        struct outcome o;
        if (run(f, &call, &o) < 0) {
            failed++;
            CHECK_INT(o.err.code, TRITON_UNAVAILABLE);
        }
    }
    /* the dead server failed its first call and became suspect: no more after it */
    CHECK_INT(failed, 1);
    CHECK(restart_server(2) == 0);
    fleet_free(f);
}

/* Servers are named scheme://host:port; a call sent to one server stays there,
 * even with retries on and that server dead. */
static void test_names_and_pinned(bool grpc)
{
    struct triton_fleet_options opts = {
        .scheme = grpc ? "grpc" : "http",
        .retry = {.attempts = 3, .codes = 1u << TRITON_UNAVAILABLE, .budget = 1},
    };
    struct triton_fleet *f = fleet_of(grpc, &opts);
    if (!f)
        return;
    char want[96];
    snprintf(want, sizeof want, "%s://%s", opts.scheme, url_of(&servers[2], grpc));
    struct triton_fleet_server_info info;
    triton_fleet_server(f, 2, &info);
    CHECK_STR(info.name, want);

    struct outcome o = {0};
    struct triton_call call = {.kind = TRITON_CALL_SERVER_READY, .done = on_done, .user = &o};
    struct triton_error err = {0};
    CHECK(triton_fleet_submit_to(f, 2, &call, &err) == 0);
    at("waiting for server_ready on server 2");
    while (!o.finals && triton_loop_step(loop, -1, &err) >= 0)
        ;
    CHECK(!o.failed && o.boolean);
    CHECK_STR(o.server, want);
    CHECK(triton_fleet_submit_to(f, 3, &call, &err) < 0);
    CHECK_CONTAINS(err.message, "no server #4 in a fleet of 3");

    kill_server(2);
    memset(&o, 0, sizeof o);
    struct triton_call dead = {.kind = TRITON_CALL_SERVER_METADATA, .done = on_done, .user = &o};
    CHECK(triton_fleet_submit_to(f, 2, &dead, &err) == 0);
    at("waiting for server_metadata on the dead server 2");
    while (!o.finals && triton_loop_step(loop, -1, &err) >= 0)
        ;
    CHECK(o.failed);
    CHECK_INT(o.err.code, TRITON_UNAVAILABLE);
    CHECK_STR(o.server, want); /* not retried elsewhere */
    CHECK_CONTAINS(o.err.message, want);
    CHECK(restart_server(2) == 0);
    fleet_free(f);
}

/* Runs one test, saying which for on_hung. */
static void run_test(const char *name, void (*test)(bool grpc), bool grpc)
{
    snprintf(phase, sizeof phase, "%s over %s", name, grpc ? "gRPC" : "HTTP");
    at("starting");
    test(grpc);
}
#define RUN_TEST(name, grpc) run_test(#name, test_##name, grpc)

int main(void)
{
    start_watchdog();
    snprintf(phase, sizeof phase, "setup");
    struct triton_error err = {0};
    loop = triton_loop_new(&err);
    CHECK(loop != NULL);
    for (int i = 0; i < N_SERVERS; i++) {
        at("starting server %d", i);
        if (test_server_start(&servers[i], NULL) < 0)
            return 1;
    }
    for (int grpc = 0; grpc <= 1; grpc++) {
        RUN_TEST(balance_and_reads, grpc);
        RUN_TEST(near_ties, grpc);
        RUN_TEST(sequences, grpc);
        RUN_TEST(writes, grpc);
        RUN_TEST(failover, grpc);
        RUN_TEST(no_retry_fails_by_name, grpc);
        RUN_TEST(names_and_pinned, grpc);
    }
    snprintf(phase, sizeof phase, "teardown");
    for (int i = 0; i < N_SERVERS; i++) {
        at("stopping server %d", i);
        test_server_stop(&servers[i]);
    }
    at("freeing the loop");
    triton_loop_free(loop);
    return check_report("test_fleet");
}
