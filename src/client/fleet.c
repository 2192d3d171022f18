/*
 * fleet.c: many servers behind one client (see fleet.h).
 */
#include "client/fleet.h"

#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/secret.h"

#define RETRY_BUDGET_FLOOR 3   /* retries always allowed, however few the calls */
#define SUSPECT_PROBE      1.0 /* seconds between probes of a suspect server without health */

struct fleet_server {
    struct triton_fleet *fleet;
    char *url;  /* host:port, what its client connects to */
    char *name; /* scheme://host:port, any password redacted: what messages and Lua show */
    struct triton_client *client;
    bool healthy, gone; /* gone: dropped by a re-resolution, not picked nor probed */
    int in_flight;
    uint64_t requests, failures, probe_rounds;
    char last_error[256];
    /* health probes: ServerReady, then ModelReady per listed model */
    struct triton_loop_timer probe_timer;
    struct triton_call *probes;
    size_t n_probes, probes_out;
    bool probe_ok;
};

struct fleet_fanout {
    struct triton_call *call; /* the caller's */
    size_t n, left;
    cJSON *json; /* the first server's answer */
    struct triton_error *errs;
    struct triton_call subs[]; /* one per server */
};

struct triton_fleet {
    struct triton_loop *loop;
    struct triton_fleet_options opts; /* what it points to outlives the fleet */
    struct fleet_server **servers;
    size_t n, cap;
    size_t next; /* round robin */
    uint64_t calls, retries;
    struct triton_call *waiting; /* calls between two attempts */
    char *resolve_host, *resolve_port;
    struct triton_loop_timer resolve_timer;
    uint64_t rng;
    bool closing; /* being freed: probes end and are not armed again */
};

/* ---- servers ------------------------------------------------------------------------------ */

static void probe_arm(struct fleet_server *s, double delay);

/* "scheme://host:port" with any password redacted (or host:port without a scheme). */
static char *server_name(const struct triton_fleet *f, const char *url)
{
    const char *scheme = f->opts.scheme;
    size_t len = (scheme ? strlen(scheme) + 3 : 0) + strlen(url) + 1;
    char *full = malloc(len);
    if (!full)
        return NULL;
    snprintf(full, len, "%s%s%s", scheme ? scheme : "", scheme ? "://" : "", url);
    char *shown = triton_url_redacted(full);
    free(full);
    return shown;
}

static int server_add(struct triton_fleet *f, const char *url, struct triton_error *err)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct fleet_server **grown = realloc(f->servers, cap * sizeof *grown);
        if (!grown)
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory adding a server");
        f->servers = grown;
        f->cap = cap;
    }
    struct fleet_server *s = calloc(1, sizeof *s);
    if (!s || !(s->url = strdup(url)) || !(s->name = server_name(f, url))) {
        if (s)
            free(s->url);
        free(s);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory adding a server");
    }
    struct triton_client_options o = *f->opts.client;
    o.url = url;
    if (!(s->client = triton_client_new(f->loop, &o, err))) {
        free(s->name);
        free(s->url);
        free(s);
        return -1;
    }
    s->fleet = f;
    s->healthy = true;
    f->servers[f->n++] = s;
    if (f->opts.health_interval > 0)
        probe_arm(s, 0);
    return 0;
}

static void server_free(struct fleet_server *s)
{
    triton_loop_timer_stop(s->fleet->loop, &s->probe_timer);
    triton_client_free(s->client); /* ends probes and calls: their done runs now */
    free(s->probes);
    free(s->name);
    free(s->url);
    free(s);
}

static void note_failure(struct fleet_server *s, const struct triton_error *err)
{
    s->failures++;
    snprintf(s->last_error, sizeof s->last_error, "%s: %.200s", triton_code_word(err->code),
             err->message);
    if (err->code == TRITON_UNAVAILABLE && s->fleet->n > 1 && s->healthy) {
        s->healthy = false; /* suspect until a probe passes */
        if (s->fleet->opts.health_interval <= 0 && !s->probe_timer.armed && s->probes_out == 0)
            probe_arm(s, SUSPECT_PROBE);
    }
}

/* Seconds between two probes of a server (and the limit of one). */
static double probe_every(const struct triton_fleet *f)
{
    return f->opts.health_interval > 0 ? f->opts.health_interval : SUSPECT_PROBE;
}

/* ---- health ------------------------------------------------------------------------------- */

static void probe_done(struct triton_call *call, struct triton_reply *reply,
                       const struct triton_error *err, bool final)
{
    struct fleet_server *s = call->user;
    if (!final)
        return;
    if (err || !reply->boolean) {
        s->probe_ok = false;
        if (err)
            snprintf(s->last_error, sizeof s->last_error, "health probe: %s: %.200s",
                     triton_code_word(err->code), err->message);
        else
            snprintf(s->last_error, sizeof s->last_error, "health probe: %s%s is not ready",
                     call->model ? "model " : "server", call->model ? call->model : "");
    }
    if (--s->probes_out > 0)
        return;
    s->probe_rounds++;
    s->healthy = s->probe_ok && !s->gone;
    if (s->fleet->opts.health_interval > 0 || !s->healthy)
        probe_arm(s, probe_every(s->fleet)); /* without health: until the suspect is back */
}

static void probe_run(struct triton_loop_timer *timer)
{
    struct fleet_server *s =
        (struct fleet_server *)((char *)timer - offsetof(struct fleet_server, probe_timer));
    struct triton_fleet *f = s->fleet;
    s->probe_ok = true;
    s->probes_out = s->n_probes;
    for (size_t i = 0; i < s->n_probes; i++) {
        struct triton_call *p = &s->probes[i];
        *p = (struct triton_call){
            .kind = i == 0 ? TRITON_CALL_SERVER_READY : TRITON_CALL_MODEL_READY,
            .model = i == 0 ? NULL : f->opts.health_models[i - 1],
            .timeout = probe_every(f), /* a probe that hangs fails in time */
            .done = probe_done,
            .user = s,
        };
        struct triton_error e = {0};
        if (triton_client_submit(s->client, p, &e) < 0) {
            struct triton_reply none = {0};
            probe_done(p, &none, &e, true);
        }
    }
}

static void probe_arm(struct fleet_server *s, double delay)
{
    struct triton_fleet *f = s->fleet;
    if (f->closing || s->gone)
        return;
    if (!s->probes) {
        s->n_probes = 1 + f->opts.n_health_models;
        s->probes = calloc(s->n_probes, sizeof *s->probes);
        if (!s->probes)
            return; /* no memory for probes: the server stays as it is */
    }
    s->probe_timer.fn = probe_run;
    triton_loop_timer_start(f->loop, &s->probe_timer, triton_loop_now() + delay);
}

/* ---- choosing a server -------------------------------------------------------------------- */

static bool usable(const struct fleet_server *s)
{
    return s->healthy && !s->gone;
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 33);
}

static uint64_t hash_text(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* Rendezvous hashing over every server (healthy or not): a sequence keeps its
 * server for its whole life, and a server that fails fails only its own. */
static struct fleet_server *sequence_server(struct triton_fleet *f,
                                            const struct triton_infer_request *req)
{
    uint64_t key = req->sequence_id_str && *req->sequence_id_str
                       ? hash_text(UINT64_C(0xcbf29ce484222325), req->sequence_id_str)
                       : mix(req->sequence_id);
    struct fleet_server *best = NULL;
    uint64_t best_score = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->servers[i]->gone)
            continue;
        uint64_t score = mix(hash_text(key, f->servers[i]->url));
        if (!best || score > best_score) {
            best = f->servers[i];
            best_score = score;
        }
    }
    return best;
}

static bool in_sequence(const struct triton_call *call)
{
    const struct triton_infer_request *req = call->infer;
    return req && (req->sequence_id || (req->sequence_id_str && *req->sequence_id_str));
}

/* Whether s may take a call that should avoid `avoid` (its last, failed server)
 * when another server is usable. */
static bool eligible(const struct triton_fleet *f, const struct fleet_server *s,
                     const struct fleet_server *avoid)
{
    return usable(s) && (s != avoid || f->n == 1);
}

/* The most calls in flight a server may have and still take the next call:
 * least_requests counts servers within half of the fewest (+1) as tied, since
 * a difference of a call or two is noise (replies arrive in bursts); round
 * robin has no limit. */
static long long in_flight_limit(const struct triton_fleet *f, const struct fleet_server *avoid)
{
    if (f->opts.balance != TRITON_BALANCE_LEAST_REQUESTS)
        return LLONG_MAX;
    long long least = LLONG_MAX;
    for (size_t i = 0; i < f->n; i++)
        if (eligible(f, f->servers[i], avoid) && f->servers[i]->in_flight < least)
            least = f->servers[i]->in_flight;
    return least == LLONG_MAX ? least : least + least / 2 + 1;
}

/* A usable server by the balance policy, other than `avoid` when another is
 * usable; NULL when none is. The tied servers take calls in turn, so equal
 * servers share evenly and one whose calls pile up (slow, stalled) is skipped
 * until it catches up. */
static struct fleet_server *balanced_server(struct triton_fleet *f,
                                            const struct fleet_server *avoid)
{
    long long limit = in_flight_limit(f, avoid);
    for (size_t k = 0; k < f->n; k++) {
        size_t i = (f->next + k) % f->n;
        struct fleet_server *s = f->servers[i];
        if (eligible(f, s, avoid) && s->in_flight <= limit) {
            f->next = (i + 1) % f->n; /* the turn passes to the one after it */
            return s;
        }
    }
    if (avoid && usable(avoid))
        return (struct fleet_server *)avoid;
    if (f->n == 1 && !f->servers[0]->gone)
        return f->servers[0]; /* a plain client: health only reports, it never refuses */
    return NULL;
}

static int no_server(const struct triton_fleet *f, const char *what, struct triton_error *err)
{
    char list[400] = "";
    size_t len = 0;
    for (size_t i = 0; i < f->n && len < sizeof list; i++)
        if (!f->servers[i]->gone)
            len += (size_t)snprintf(
                list + len, sizeof list - len, "%s%s (%s)", len ? ", " : "", f->servers[i]->name,
                f->servers[i]->last_error[0] ? f->servers[i]->last_error : "not ready");
    return triton_fail(err, TRITON_UNAVAILABLE, "%s: no healthy server: %s", what, list);
}

/* ---- single-server calls, with retries ------------------------------------------------------ */

static void attempt_done(struct triton_call *call, struct triton_reply *reply,
                         const struct triton_error *err, bool final);

static void deliver(struct triton_call *call, struct triton_reply *reply,
                    const struct triton_error *err)
{
    call->done = call->fleet.done;
    call->user = call->fleet.user;
    call->timeout = call->fleet.budget;
    struct triton_reply none = {0};
    call->finished = true;
    call->done(call, reply ? reply : &none, err, true);
}

static int attempt(struct triton_call *call, struct fleet_server *s, struct triton_error *err)
{
    call->fleet.server = s;
    call->fleet.attempt++;
    s->in_flight++;
    s->requests++;
    call->done = attempt_done;
    if (triton_client_submit(s->client, call, err) < 0) {
        s->in_flight--;
        note_failure(s, err);
        return -1;
    }
    return 0;
}

static void unwait(struct triton_fleet *f, struct triton_call *call)
{
    for (struct triton_call **pp = &f->waiting; *pp; pp = &(*pp)->fleet.next_waiting) {
        if (*pp == call) {
            *pp = call->fleet.next_waiting;
            break;
        }
    }
    call->fleet.next_waiting = NULL;
}

static void retry_run(struct triton_loop_timer *timer)
{
    struct triton_call *call =
        (struct triton_call *)((char *)timer - offsetof(struct triton_call, fleet.retry_timer));
    struct triton_fleet *f = call->fleet.fleet;
    unwait(f, call);
    struct triton_error err = {0};
    struct fleet_server *s = balanced_server(f, call->fleet.server);
    if (!s) {
        no_server(f, triton_call_kind_name(call->kind), &err);
        deliver(call, NULL, &err);
        return;
    }
    if (call->fleet.budget > 0) {
        call->timeout = call->fleet.started + call->fleet.budget - triton_loop_now();
        if (call->timeout <= 0) {
            triton_fail(&err, TRITON_DEADLINE_EXCEEDED,
                        "%s: no reply within the call's timeout of %g s (%d attempts)",
                        triton_call_kind_name(call->kind), call->fleet.budget, call->fleet.attempt);
            deliver(call, NULL, &err);
            return;
        }
    }
    struct fleet_server *prev = call->fleet.server;
    triton_client_logf(s->client, "retry: %s attempt %d of %d on %s (the last, on %s, failed: %s)",
                       triton_call_kind_name(call->kind), call->fleet.attempt + 1,
                       f->opts.retry.attempts, s->name, prev->name, prev->last_error);
    if (attempt(call, s, &err) < 0)
        deliver(call, NULL, &err);
}

static double jitter(struct triton_fleet *f, double cap)
{
    f->rng = f->rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return cap * (double)(f->rng >> 11) / 9007199254740992.0; /* [0, cap) */
}

/* Whether a failed attempt is tried again: an idempotent call outside a
 * sequence, a code the policy names, attempts and budget left. */
static bool retries(struct triton_fleet *f, const struct triton_call *call,
                    const struct triton_error *err)
{
    const struct triton_retry_policy *p = &f->opts.retry;
    if (p->attempts <= 1 || call->fleet.attempt >= p->attempts || err->code == TRITON_CANCELLED ||
        !(p->codes & (1u << err->code)) || !triton_call_info(call->kind)->idempotent ||
        in_sequence(call) || call->fleet.pinned)
        return false;
    /* the caller's timeout bounds every attempt together: none starts after it */
    if (call->fleet.budget > 0 &&
        triton_loop_now() + p->backoff >= call->fleet.started + call->fleet.budget)
        return false;
    double allowed = p->budget * (double)f->calls;
    return (double)f->retries < allowed || f->retries < RETRY_BUDGET_FLOOR;
}

static void attempt_done(struct triton_call *call, struct triton_reply *reply,
                         const struct triton_error *err, bool final)
{
    struct triton_fleet *f = call->fleet.fleet;
    struct fleet_server *s = call->fleet.server;
    if (!final) {
        call->fleet.done(call, reply, err, false);
        return;
    }
    s->in_flight--;
    if (err)
        note_failure(s, err);
    if (err && retries(f, call, err)) {
        f->retries++;
        call->finished = false;
        double cap = f->opts.retry.backoff * pow(2, call->fleet.attempt - 1);
        if (cap > f->opts.retry.max_backoff)
            cap = f->opts.retry.max_backoff;
        call->fleet.retry_timer.fn = retry_run;
        call->fleet.retry_timer.holds = true; /* the call is still in flight */
        call->fleet.next_waiting = f->waiting;
        f->waiting = call;
        triton_loop_timer_start(f->loop, &call->fleet.retry_timer,
                                triton_loop_now() + jitter(f, cap));
        return;
    }
    if (err && f->n > 1) { /* which server failed, when there are several */
        struct triton_error named = *err;
        snprintf(named.message, sizeof named.message, "%.380s (%sserver %.100s)", err->message,
                 in_sequence(call) ? "sequence " : "", s->name);
        deliver(call, reply, &named);
        return;
    }
    deliver(call, reply, err);
}

/* ---- writes to every server --------------------------------------------------------------- */

static void fanout_done(struct triton_call *sub, struct triton_reply *reply,
                        const struct triton_error *err, bool final)
{
    struct fleet_fanout *fan = sub->user;
    if (!final)
        return;
    size_t i = (size_t)(sub - fan->subs);
    struct fleet_server *s = sub->fleet.server;
    s->in_flight--;
    if (err) {
        fan->errs[i] = *err;
        note_failure(s, err);
    } else if (!fan->json && reply->json) {
        fan->json = reply->json;
        reply->json = NULL;
    }
    if (--fan->left > 0)
        return;
    struct triton_call *call = fan->call;
    struct triton_error combined = {0};
    size_t failed = 0, len = 0;
    char list[sizeof combined.message];
    list[0] = '\0';
    for (size_t k = 0; k < fan->n; k++) {
        if (fan->errs[k].code == TRITON_OK)
            continue;
        if (!failed++)
            combined.code = fan->errs[k].code;
        if (len < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%s)", len ? "; " : "",
                                    fan->subs[k].fleet.server->name, fan->errs[k].message);
    }
    if (failed)
        snprintf(combined.message, sizeof combined.message, "%s failed on %zu of %zu servers: %s",
                 triton_call_kind_name(call->kind), failed, fan->n, list);
    struct triton_reply r = {.json = fan->json};
    call->fleet.fanout = NULL;
    call->finished = true;
    call->done(call, &r, failed ? &combined : NULL, true);
    cJSON_Delete(r.json);
    free(fan->errs);
    free(fan);
}

static int fanout(struct triton_fleet *f, struct triton_call *call, struct triton_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += !f->servers[i]->gone;
    struct fleet_fanout *fan = calloc(1, sizeof *fan + n * sizeof *fan->subs);
    if (!fan || !(fan->errs = calloc(n ? n : 1, sizeof *fan->errs))) {
        free(fan);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory sending to every server");
    }
    fan->call = call;
    fan->n = fan->left = n;
    call->fleet.fanout = fan;
    call->finished = false;
    size_t k = 0, started = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct fleet_server *s = f->servers[i];
        if (s->gone)
            continue;
        struct triton_call *sub = &fan->subs[k++];
        *sub = *call;
        sub->done = fanout_done;
        sub->user = fan;
        sub->fleet.server = s;
        s->in_flight++;
        s->requests++;
        if (triton_client_submit(s->client, sub, &fan->errs[k - 1]) < 0) {
            s->in_flight--;
            note_failure(s, &fan->errs[k - 1]);
            fan->left--;
        } else {
            started++;
        }
    }
    if (started == 0) {
        /* Nothing went out: fail now, as a submit does, with the first reason. */
        *err = fan->errs[0];
        call->fleet.fanout = NULL;
        free(fan->errs);
        free(fan);
        return -1;
    }
    return 0;
}

/* ---- the fleet ---------------------------------------------------------------------------- */

static struct triton_call_fleet *prepare(struct triton_fleet *f, struct triton_call *call)
{
    struct triton_call_fleet *cf = &call->fleet;
    memset(cf, 0, sizeof *cf);
    cf->fleet = f;
    cf->done = call->done;
    cf->user = call->user;
    cf->budget = call->timeout;
    if (call->timeout > 0 && f->opts.retry.attempts > 1)
        cf->started = triton_loop_now();
    f->calls++;
    return cf;
}

int triton_fleet_submit_to(struct triton_fleet *f, size_t i, struct triton_call *call,
                           struct triton_error *err)
{
    if (!triton_call_info(call->kind))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed call");
    if (i >= f->n)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "no server #%zu in a fleet of %zu", i + 1,
                           f->n);
    struct triton_call_fleet *cf = prepare(f, call);
    cf->pinned = true;
    if (attempt(call, f->servers[i], err) < 0) {
        call->done = cf->done;
        return -1;
    }
    return 0;
}

int triton_fleet_submit(struct triton_fleet *f, struct triton_call *call, struct triton_error *err)
{
    const struct triton_call_info *info = triton_call_info(call->kind);
    if (!info)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed call");
    struct triton_call_fleet *cf = prepare(f, call);
    if (info->route == TRITON_ROUTE_WRITE && f->n > 1)
        return fanout(f, call, err);
    struct fleet_server *s;
    if (info->route == TRITON_ROUTE_BALANCE && in_sequence(call)) {
        s = sequence_server(f, call->infer);
        if (s && !usable(s) && f->n > 1)
            return triton_fail(err, TRITON_UNAVAILABLE,
                               "%s: the server of this sequence, %s, is not healthy (%s)",
                               info->name, s->name, s->last_error);
    } else {
        s = balanced_server(f, NULL);
    }
    if (!s)
        return no_server(f, info->name, err);
    if (attempt(call, s, err) < 0) {
        call->done = cf->done;
        return -1;
    }
    return 0;
}

static void cancelled_run(struct triton_loop_deferred *d)
{
    struct triton_call *call =
        (struct triton_call *)((char *)d - offsetof(struct triton_call, fleet.cancelled));
    struct triton_error e = {0};
    triton_fail(&e, TRITON_CANCELLED, "%s: cancelled", triton_call_kind_name(call->kind));
    deliver(call, NULL, &e);
}

void triton_fleet_cancel(struct triton_fleet *f, struct triton_call *call)
{
    if (call->fleet.fanout) {
        struct fleet_fanout *fan = call->fleet.fanout;
        for (size_t i = 0; i < fan->n; i++)
            if (!fan->subs[i].finished)
                triton_client_cancel(fan->subs[i].fleet.server->client, &fan->subs[i]);
        return;
    }
    if (call->fleet.retry_timer.armed) {
        /* between two attempts: it ends from the next step, as a cancel does */
        triton_loop_timer_stop(f->loop, &call->fleet.retry_timer);
        unwait(f, call);
        call->fleet.cancelled.fn = cancelled_run;
        triton_loop_defer(f->loop, &call->fleet.cancelled);
        return;
    }
    if (call->fleet.server && !call->finished)
        triton_client_cancel(call->fleet.server->client, call);
}

const char *triton_fleet_server_of(const struct triton_call *call)
{
    return call->fleet.server ? call->fleet.server->name : NULL;
}

struct triton_client *triton_fleet_pick(struct triton_fleet *f, struct triton_error *err)
{
    struct fleet_server *s = balanced_server(f, NULL);
    if (!s) {
        no_server(f, "stream", err);
        return NULL;
    }
    return s->client;
}

size_t triton_fleet_size(const struct triton_fleet *f)
{
    return f->n;
}

void triton_fleet_server(const struct triton_fleet *f, size_t i,
                         struct triton_fleet_server_info *out)
{
    const struct fleet_server *s = f->servers[i];
    *out = (struct triton_fleet_server_info){
        .name = s->name,
        .healthy = usable(s),
        .gone = s->gone,
        .in_flight = s->in_flight,
        .requests = s->requests,
        .failures = s->failures,
        .probes = s->probe_rounds,
        .last_error = s->last_error,
    };
}

struct triton_client *triton_fleet_client(struct triton_fleet *f, size_t i)
{
    return i < f->n ? f->servers[i]->client : NULL;
}

/* ---- resolving a name ----------------------------------------------------------------------- */

static bool known(const struct triton_fleet *f, const char *url)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->servers[i]->url, url) == 0)
            return true;
    return false;
}

/* An address the name has (again): a departed one is probed again from now,
 * as it was before it left (with health, or while suspect). */
static void server_back(struct fleet_server *s)
{
    if (!s->gone)
        return;
    s->gone = false;
    if (!s->probe_timer.armed && s->probes_out == 0 &&
        (s->fleet->opts.health_interval > 0 || !s->healthy))
        probe_arm(s, 0);
}

/* Resolves the name (blocking, on the loop's thread: getaddrinfo has no
 * asynchronous form in glibc that a loop can wait on) and makes the set of
 * servers its addresses; new addresses join, vanished ones are dropped. */
static int resolve(struct triton_fleet *f, struct triton_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(f->resolve_host, f->resolve_port, &hints, &res);
    if (rc != 0)
        return triton_fail(err, TRITON_UNAVAILABLE, "resolving '%s': %s", f->resolve_host,
                           gai_strerror(rc));
    for (size_t i = 0; i < f->n; i++)
        f->servers[i]->gone = true;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char host[NI_MAXHOST], url[NI_MAXHOST + 16];
        if (getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST))
            continue;
        snprintf(url, sizeof url, a->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
                 f->resolve_port);
        bool found = false;
        for (size_t i = 0; i < f->n; i++) {
            if (strcmp(f->servers[i]->url, url) == 0) {
                server_back(f->servers[i]);
                found = true;
            }
        }
        if (!found && !known(f, url) && server_add(f, url, err) < 0) {
            freeaddrinfo(res);
            return -1;
        }
    }
    freeaddrinfo(res);
    for (size_t i = 0; i < f->n; i++)
        if (f->servers[i]->gone) /* its calls finish; nothing new goes to it */
            triton_loop_timer_stop(f->loop, &f->servers[i]->probe_timer);
    return 0;
}

static void resolve_run(struct triton_loop_timer *timer)
{
    struct triton_fleet *f =
        (struct triton_fleet *)((char *)timer - offsetof(struct triton_fleet, resolve_timer));
    struct triton_error err = {0};
    if (resolve(f, &err) < 0 && f->n)
        triton_client_logf(f->servers[0]->client, "resolve: %s (keeping the servers it had)",
                           err.message);
    triton_loop_timer_start(f->loop, timer, triton_loop_now() + f->opts.resolve_interval);
}

static int split_host_port(struct triton_fleet *f, const char *target, struct triton_error *err)
{
    const char *colon = strrchr(target, ':');
    const char *host = target, *host_end = colon;
    if (target[0] == '[') { /* [v6]:port */
        const char *close = strchr(target, ']');
        if (!close || close[1] != ':')
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "resolve: bad address '%s'", target);
        host = target + 1;
        host_end = close;
        colon = close + 1;
    }
    if (!colon || !colon[1] || host_end == host)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "resolve: '%s' is not host:port (a port is needed)", target);
    f->resolve_host = strndup(host, (size_t)(host_end - host));
    f->resolve_port = strdup(colon + 1);
    if (!f->resolve_host || !f->resolve_port)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory");
    return 0;
}

struct triton_fleet *triton_fleet_new(struct triton_loop *loop,
                                      const struct triton_fleet_options *opts,
                                      struct triton_error *err)
{
    if (!opts->client || (!opts->resolve && opts->n_urls == 0)) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "a fleet needs at least one server");
        return NULL;
    }
    if (opts->retry.attempts > 1 && (!(opts->retry.backoff >= 0) || !(opts->retry.budget >= 0))) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "retry: backoff and budget must be >= 0");
        return NULL;
    }
    struct triton_fleet *f = calloc(1, sizeof *f);
    if (!f) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
        return NULL;
    }
    f->loop = loop;
    f->opts = *opts;
    f->rng = (uint64_t)(triton_loop_now() * 1e9) | 1;
    int rc = 0;
    if (opts->resolve) {
        rc = split_host_port(f, opts->resolve, err);
        if (rc == 0)
            rc = resolve(f, err);
        if (rc == 0 && f->n == 0)
            rc =
                triton_fail(err, TRITON_UNAVAILABLE, "resolve: '%s' has no address", opts->resolve);
        if (rc == 0 && opts->resolve_interval > 0) {
            f->resolve_timer.fn = resolve_run;
            triton_loop_timer_start(loop, &f->resolve_timer,
                                    triton_loop_now() + opts->resolve_interval);
        }
    } else {
        for (size_t i = 0; rc == 0 && i < opts->n_urls; i++)
            rc = server_add(f, opts->urls[i], err);
    }
    if (rc < 0) {
        triton_fleet_free(f);
        return NULL;
    }
    return f;
}

void triton_fleet_free(struct triton_fleet *f)
{
    if (!f)
        return;
    f->closing = true;
    triton_loop_timer_stop(f->loop, &f->resolve_timer);
    /* Every call ends now, with CANCELLED, while every server still exists
     * (a write's error names them all). */
    while (f->waiting) {
        struct triton_call *call = f->waiting;
        triton_loop_timer_stop(f->loop, &call->fleet.retry_timer);
        unwait(f, call);
        cancelled_run(&call->fleet.cancelled);
    }
    for (size_t i = 0; i < f->n; i++) {
        triton_loop_timer_stop(f->loop, &f->servers[i]->probe_timer);
        triton_client_cancel_all(f->servers[i]->client);
    }
    for (size_t i = 0; i < f->n; i++)
        server_free(f->servers[i]);
    free(f->servers);
    free(f->resolve_host);
    free(f->resolve_port);
    free(f);
}
