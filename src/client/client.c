/*
 * client.c: the transport-neutral part of a client (see client.h).
 */
#include "client/client.h"

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/secret.h"
#include "wire/json.h"

static const struct triton_call_info call_table[] = {
#define X(e, name, reply, idem, route, tr, needs)                                                  \
    {name, TRITON_REPLY_##reply, idem, TRITON_ROUTE_##route, tr, needs},
    TRITON_CALL_KINDS(X)
#undef X
};

const struct triton_call_info *triton_call_info(enum triton_call_kind kind)
{
    if ((int)kind < 0 || kind >= TRITON_CALL_NKINDS)
        return NULL;
    return &call_table[kind];
}

const char *triton_call_kind_name(enum triton_call_kind kind)
{
    const struct triton_call_info *info = triton_call_info(kind);
    return info ? info->name : "unknown";
}

static bool has(const char *s)
{
    return s && *s;
}

/* Every string in a settings object or generate body is UTF-8 (both protocols
 * carry only UTF-8 text; gRPC would otherwise turn bad bytes into U+FFFD). */
static int check_json_text(const cJSON *j, const char *what, struct triton_error *err)
{
    for (; j; j = j->next) {
        const char *s[2] = {j->string, cJSON_IsString(j) ? j->valuestring : NULL};
        for (int k = 0; k < 2; k++) {
            size_t n = s[k] ? strlen(s[k]) : 0;
            if (s[k] && wire_utf8_invalid_at(s[k], n) != n)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "%s: '%s' is not valid UTF-8: JSON and gRPC carry only UTF-8 "
                                   "text",
                                   what, j->string && k == 1 ? j->string : "a key");
        }
        if (j->child && check_json_text(j->child, what, err) < 0)
            return -1;
    }
    return 0;
}

/* Triton's log settings are booleans, strings and non-negative integers
 * (log_verbose_level); both protocols carry exactly these. */
static int check_log_settings(const cJSON *settings, struct triton_error *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, settings)
    {
        if (cJSON_IsBool(item) || cJSON_IsString(item))
            continue;
        double d = cJSON_IsNumber(item) ? item->valuedouble : -1;
        if (!cJSON_IsNumber(item) || d < 0 || d > UINT32_MAX || d != (double)(uint32_t)d)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "update_log_settings: '%s' must be a boolean, a string or a "
                               "non-negative integer",
                               item->string);
    }
    return 0;
}

int triton_call_check(const struct triton_call *call, struct triton_error *err)
{
    const struct triton_call_info *info = triton_call_info(call->kind);
    if (!info || !call->done)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed call");
    const char *name = info->name;
    unsigned needs = info->needs;
    if ((needs & TRITON_NEEDS_MODEL) && !has(call->model))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a model name", name);
    if ((needs & TRITON_NEEDS_REGION) && !has(call->region))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a region name", name);
    if ((needs & TRITON_NEEDS_KEY) && !call->key)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a key", name);
    if ((needs & TRITON_NEEDS_HANDLE) && !call->raw_handle)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a raw handle", name);
    if ((needs & TRITON_NEEDS_SETTINGS) && !cJSON_IsObject(call->settings))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs %s object", name,
                           call->kind == TRITON_CALL_GENERATE ||
                                   call->kind == TRITON_CALL_GENERATE_STREAM
                               ? "a body"
                               : "a settings");
    if ((needs & TRITON_NEEDS_INFER) && (!call->infer || !has(call->infer->model)))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a model name", name);
    if (call->infer && triton_infer_request_check(call->infer, err) < 0)
        return -1;
    if (call->n_files && !call->config_json)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "%s: files can only be given together with a config", name);
    if (call->kind == TRITON_CALL_UPDATE_LOG_SETTINGS &&
        check_log_settings(call->settings, err) < 0)
        return -1;
    if (call->settings && check_json_text(call->settings, name, err) < 0)
        return -1;
    return 0;
}

/* ---- the client ------------------------------------------------------------------------ */

/* Where a call is: the call layer's view. */
enum { CALL_IDLE, CALL_QUEUED, CALL_ON_WIRE, CALL_ENDING };

static double resolve_timeout(double given, double dflt)
{
    return given > 0 ? given : dflt; /* INFINITY stays: no limit */
}

/* One block: the array, then the strings. */
static struct triton_kv *copy_headers(const struct triton_kv *kv, size_t n)
{
    size_t text = 0;
    for (size_t i = 0; i < n; i++)
        text += strlen(kv[i].key ? kv[i].key : "") + strlen(kv[i].value ? kv[i].value : "") + 2;
    struct triton_kv *out = malloc(n * sizeof *out + text);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(kv[i].key ? kv[i].key : ""), v = strlen(kv[i].value ? kv[i].value : "");
        memcpy(p, kv[i].key ? kv[i].key : "", k + 1);
        out[i].key = p;
        p += k + 1;
        memcpy(p, kv[i].value ? kv[i].value : "", v + 1);
        out[i].value = p;
        p += v + 1;
    }
    return out;
}

/* Options that cannot apply raise instead of being ignored. */
static int check_options(const struct triton_client_options *o, struct triton_error *err)
{
    if (!o->url || !*o->url)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "a client needs a server URL");
    if (o->ssl && !o->use_tls)
        return triton_fail(
            err, TRITON_INVALID_ARGUMENT,
            "TLS options (ssl) were given for a plaintext URL: use %s:// or drop ssl",
            o->protocol == TRITON_PROTOCOL_GRPC ? "grpcs" : "https");
    if (isnan(o->connection_timeout) || o->connection_timeout < 0 || isnan(o->network_timeout) ||
        o->network_timeout < 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "timeouts are seconds > 0 (or math.huge for none)");
    if (o->concurrency < 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "concurrency must be positive");
    return 0;
}

struct triton_client *triton_client_new(struct triton_loop *loop,
                                        const struct triton_client_options *opts,
                                        struct triton_error *err)
{
    if (check_options(opts, err) < 0)
        return NULL;
    struct triton_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->url = strdup(opts->url)) ||
        (opts->n_headers && !(c->headers = copy_headers(opts->headers, opts->n_headers)))) {
        if (c)
            free(c->url);
        free(c);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
        return NULL;
    }
    c->n_headers = opts->n_headers;
    c->loop = loop;
    c->protocol = opts->protocol;
    c->verbose = opts->verbose;
    c->log = opts->log;
    c->log_ctx = opts->log_ctx;
    c->concurrency = opts->concurrency > 0 ? opts->concurrency : TRITON_DEFAULT_CONCURRENCY;
    c->connection_timeout =
        resolve_timeout(opts->connection_timeout, TRITON_DEFAULT_CONNECTION_TIMEOUT);
    c->network_timeout = resolve_timeout(opts->network_timeout, TRITON_DEFAULT_NETWORK_TIMEOUT);
    int rc = opts->protocol == TRITON_PROTOCOL_GRPC ? triton_grpc_init(c, opts, err)
                                                    : triton_http_init(c, opts, err);
    if (rc != 0) {
        free(c->headers);
        free(c->url);
        free(c);
        return NULL;
    }
    return c;
}

void triton_client_vlogf(struct triton_client *c, const char *fmt, va_list ap)
{
    if (!c->verbose)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    if (c->log)
        c->log(c->log_ctx, line);
    else
        fprintf(stderr, "%s\n", line);
}

void triton_client_logf(struct triton_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    triton_client_vlogf(c, fmt, ap);
    va_end(ap);
}

/* ---- the lists a call is on ------------------------------------------------------------- */

static void list_push(struct triton_call **head, struct triton_call **tail,
                      struct triton_call *call)
{
    call->layer.next = NULL;
    call->layer.prev = tail ? *tail : NULL;
    if (tail) {
        if (*tail)
            (*tail)->layer.next = call;
        else
            *head = call;
        *tail = call;
    } else {
        call->layer.next = *head;
        if (*head)
            (*head)->layer.prev = call;
        *head = call;
    }
}

static void list_remove(struct triton_call **head, struct triton_call **tail,
                        struct triton_call *call)
{
    if (call->layer.prev)
        call->layer.prev->layer.next = call->layer.next;
    else
        *head = call->layer.next;
    if (call->layer.next)
        call->layer.next->layer.prev = call->layer.prev;
    else if (tail)
        *tail = call->layer.prev;
    call->layer.prev = call->layer.next = NULL;
}

/* Takes the call off whichever list it is on. */
static void unlist(struct triton_call *call)
{
    struct triton_client *c = call->layer.client;
    if (call->layer.where == CALL_QUEUED) {
        list_remove(&c->queue_head, &c->queue_tail, call);
    } else if (call->layer.where == CALL_ON_WIRE) {
        list_remove(&c->wire, NULL, call);
        c->on_wire--;
    }
}

/* ---- headers ----------------------------------------------------------------------------- */

/* The client's headers, each replaced by a per-call header of the same name
 * (names compare without case, as HTTP's do and gRPC's lowercase ones will),
 * then the call's own. *out is malloc'd (NULL when there are none). */
static int merge_headers(const struct triton_client *c, const struct triton_kv *own, size_t n_own,
                         struct triton_kv **out, size_t *n_out, struct triton_error *err)
{
    size_t n = c->n_headers + n_own;
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    struct triton_kv *kv = malloc(n * sizeof *kv);
    if (!kv)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory building a call's headers");
    size_t k = 0;
    for (size_t i = 0; i < c->n_headers; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_own && !replaced; j++)
            replaced = own[j].key && strcasecmp(own[j].key, c->headers[i].key) == 0;
        if (!replaced)
            kv[k++] = c->headers[i];
    }
    for (size_t j = 0; j < n_own; j++)
        kv[k++] = own[j];
    *out = kv;
    *n_out = k;
    return 0;
}

/* ---- deadlines and inactivity -------------------------------------------------------------- */

static void end_call(struct triton_call *call, enum triton_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The earlier of the call's deadline and its inactivity limit. */
static double next_limit(const struct triton_call *call)
{
    struct triton_client *c = call->layer.client;
    double when = call->layer.deadline > 0 ? call->layer.deadline : INFINITY;
    if (isfinite(c->network_timeout) && call->layer.where == CALL_ON_WIRE) {
        double idle = call->layer.last_activity + c->network_timeout;
        if (idle < when)
            when = idle;
    }
    return when;
}

static void arm(struct triton_call *call)
{
    double when = next_limit(call);
    if (isfinite(when))
        triton_loop_timer_start(call->layer.client->loop, &call->layer.timer, when);
    else
        triton_loop_timer_stop(call->layer.client->loop, &call->layer.timer);
}

static void on_timer(struct triton_loop_timer *timer)
{
    struct triton_call *call =
        (struct triton_call *)((char *)timer - offsetof(struct triton_call, layer.timer));
    struct triton_client *c = call->layer.client;
    double now = triton_loop_now();
    const char *name = triton_call_kind_name(call->kind);
    if (call->layer.deadline > 0 && now >= call->layer.deadline) {
        end_call(call, TRITON_DEADLINE_EXCEEDED, "%s: no reply within the call's timeout of %g s",
                 name, call->timeout);
    } else if (call->layer.where == CALL_ON_WIRE &&
               now >= call->layer.last_activity + c->network_timeout) {
        end_call(call, TRITON_DEADLINE_EXCEEDED,
                 "%s: the server sent nothing for %g s (network_timeout)", name,
                 c->network_timeout);
    } else {
        arm(call); /* bytes came meanwhile: wait for the new limit */
    }
}

void triton_call_activity(struct triton_call *call)
{
    call->layer.last_activity = triton_loop_now();
}

/* ---- starting and ending calls ------------------------------------------------------------- */

static void pump(struct triton_client *c);

static void release_layer(struct triton_call *call)
{
    triton_loop_timer_stop(call->layer.client->loop, &call->layer.timer);
    free(call->layer.headers);
    call->layer.headers = NULL;
    call->send_headers = NULL;
    call->n_send_headers = 0;
}

/* Runs the final done (the one place a finished call is judged). */
static void complete(struct triton_call *call, struct triton_reply *reply,
                     const struct triton_error *err)
{
    struct triton_client *c = call->layer.client;
    struct triton_reply empty = {0};
    if (!reply)
        reply = &empty;
    if (c->verbose)
        triton_client_logf(
            c, "%s %s: %s%s%s", err ? "failed" : "done", triton_call_kind_name(call->kind),
            err ? triton_code_word(err->code) : "ok", err ? ": " : "", err ? err->message : "");
    release_layer(call);
    call->layer.where = CALL_IDLE;
    call->transport_state = NULL;
    call->finished = true;
    call->done(call, reply, err, true);
}

static void ending_run(struct triton_loop_deferred *d)
{
    struct triton_call *call =
        (struct triton_call *)((char *)d - offsetof(struct triton_call, layer.ending));
    struct triton_error err = call->layer.abort;
    complete(call, NULL, &err);
}

/* Ends a queued or on-the-wire call with the call layer's own error: the
 * transport lets go of it now, and done runs from the next step. */
static void end_call(struct triton_call *call, enum triton_code code, const char *fmt, ...)
{
    struct triton_client *c = call->layer.client;
    if (call->layer.where != CALL_QUEUED && call->layer.where != CALL_ON_WIRE)
        return;
    bool on_wire = call->layer.where == CALL_ON_WIRE;
    unlist(call);
    call->layer.where = CALL_ENDING;
    triton_loop_timer_stop(c->loop, &call->layer.timer);
    if (on_wire)
        c->transport->cancel(c, call);
    call->transport_state = NULL;
    struct triton_error *e = &call->layer.abort;
    e->code = code;
    e->status = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    call->layer.ending.fn = ending_run;
    triton_loop_defer(c->loop, &call->layer.ending);
    if (on_wire)
        pump(c);
}

static int start(struct triton_client *c, struct triton_call *call, struct triton_error *err)
{
    call->layer.where = CALL_ON_WIRE;
    list_push(&c->wire, NULL, call);
    c->on_wire++;
    call->layer.last_activity = triton_loop_now();
    if (c->transport->submit(c, call, err) < 0) {
        unlist(call);
        call->layer.where = CALL_IDLE;
        return -1;
    }
    arm(call);
    return 0;
}

/* Sends queued calls while slots are free. */
static void pump(struct triton_client *c)
{
    while (c->queue_head && c->on_wire < c->concurrency) {
        struct triton_call *call = c->queue_head;
        list_remove(&c->queue_head, &c->queue_tail, call);
        call->layer.where = CALL_IDLE;
        struct triton_error err = {0};
        if (start(c, call, &err) < 0) {
            /* It was accepted at submit, so it must end through done. */
            call->layer.where = CALL_QUEUED; /* end_call takes it from "queued" */
            list_push(&c->queue_head, &c->queue_tail, call);
            end_call(call, err.code ? err.code : TRITON_INTERNAL, "%s", err.message);
        }
    }
}

void triton_call_finish(struct triton_call *call, struct triton_reply *reply,
                        const struct triton_error *err, bool final)
{
    if (call->layer.where != CALL_ON_WIRE)
        return; /* the call layer ended it already (deadline, cancel) */
    if (!final) {
        triton_call_activity(call);
        call->done(call, reply, err, false);
        return;
    }
    struct triton_client *c = call->layer.client;
    unlist(call);
    complete(call, reply, err);
    pump(c);
}

int triton_client_submit(struct triton_client *c, struct triton_call *call,
                         struct triton_error *err)
{
    if (triton_call_check(call, err) < 0)
        return -1;
    if (call->timeout < 0 || isnan(call->timeout))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "timeout must be a number of seconds >= 0, got %g", call->timeout);
    /* abort's message is written whenever its code is (end_call) */
    memset(&call->layer, 0, offsetof(struct triton_call_layer, abort.message));
    call->layer.client = c;
    call->layer.timer.fn = on_timer;
    call->finished = false;
    call->transport_state = NULL;
    if (merge_headers(c, call->headers, call->n_headers, &call->layer.headers,
                      &call->n_send_headers, err) < 0)
        return -1;
    call->send_headers = call->layer.headers;
    call->layer.deadline =
        call->timeout > 0 && isfinite(call->timeout) ? triton_loop_now() + call->timeout : 0;
    if (c->verbose)
        triton_client_logf(c, "call %s%s%s", triton_call_kind_name(call->kind),
                           call->model || call->infer ? " " : "",
                           call->model   ? call->model
                           : call->infer ? call->infer->model
                                         : "");
    if (c->on_wire < c->concurrency && !c->queue_head) {
        if (start(c, call, err) < 0) {
            release_layer(call);
            return -1;
        }
        return 0;
    }
    call->layer.where = CALL_QUEUED;
    list_push(&c->queue_head, &c->queue_tail, call);
    arm(call); /* a deadline runs while queued too */
    return 0;
}

void triton_client_cancel(struct triton_client *c, struct triton_call *call)
{
    (void)c;
    end_call(call, TRITON_CANCELLED, "%s: cancelled", triton_call_kind_name(call->kind));
}

void triton_client_cancel_all(struct triton_client *c)
{
    while (c->queue_head || c->wire) {
        struct triton_call *call = c->queue_head ? c->queue_head : c->wire;
        end_call(call, TRITON_CANCELLED, "%s: the client was closed",
                 triton_call_kind_name(call->kind));
        triton_loop_undefer(c->loop, &call->layer.ending);
        ending_run(&call->layer.ending);
    }
}

void triton_client_free(struct triton_client *c)
{
    if (!c)
        return;
    /* Every call still queued or on the wire ends with CANCELLED, from inside
     * this function (there is no later step for this client). */
    triton_client_cancel_all(c);
    if (c->transport)
        c->transport->destroy(c);
    free(c->headers);
    free(c->url);
    free(c);
}

int triton_call_wait(struct triton_client *c, struct triton_call *call, struct triton_error *err)
{
    while (!call->finished) {
        int ran = triton_loop_step(c->loop, -1, err);
        if (ran < 0)
            return -1;
        /* Nothing ran and nothing is in flight: the transport dropped the call
         * without completing it. Fail instead of spinning forever. */
        if (ran == 0 && !call->finished && triton_loop_pending(c->loop) == 0)
            return triton_fail(err, TRITON_INTERNAL, "%s: the call was lost by its transport",
                               triton_call_kind_name(call->kind));
    }
    return 0;
}

/* A one-request stream (status_errors: stream_infer) waits for replies all
 * along, so the inactivity limit applies to it as to a call; a stream opened
 * with start_stream may idle between requests, and only its own timeout
 * (a gRPC deadline) bounds it. */
static void stream_on_timer(struct triton_loop_timer *timer)
{
    struct triton_stream *s =
        (struct triton_stream *)((char *)timer - offsetof(struct triton_stream, layer.timer));
    struct triton_client *c = s->layer.client;
    double idle_until = s->layer.last_activity + c->network_timeout;
    if (triton_loop_now() < idle_until) {
        triton_loop_timer_start(c->loop, timer, idle_until);
        return;
    }
    struct triton_error *e = &s->layer.abort;
    e->code = TRITON_DEADLINE_EXCEEDED;
    snprintf(e->message, sizeof e->message,
             "stream_infer: the server sent nothing for %g s (network_timeout)",
             c->network_timeout);
    c->transport->stream_cancel(c, s);
}

void triton_stream_finish(struct triton_stream *s, struct triton_call *as_call,
                          struct triton_reply *reply, const struct triton_error *err, bool final)
{
    s->layer.last_activity = triton_loop_now();
    if (final) {
        if (s->layer.client)
            triton_loop_timer_stop(s->layer.client->loop, &s->layer.timer);
        if (s->layer.abort.code != TRITON_OK)
            err = &s->layer.abort; /* the call layer ended it: say why */
        s->transport_state = NULL;
        s->finished = true;
    }
    s->done(as_call, reply, err, final);
}

int triton_client_stream_open(struct triton_client *c, struct triton_stream *s,
                              struct triton_error *err)
{
    /* The transport reads the headers only while it opens the stream: lend it
     * the merged list for that long. */
    struct triton_kv *merged;
    size_t n_merged;
    if (merge_headers(c, s->headers, s->n_headers, &merged, &n_merged, err) < 0)
        return -1;
    const struct triton_kv *own = s->headers;
    size_t n_own = s->n_headers;
    s->headers = merged;
    s->n_headers = n_merged;
    s->finished = false;
    memset(&s->layer, 0, sizeof s->layer);
    s->layer.client = c;
    s->layer.timer.fn = stream_on_timer;
    int rc = c->transport->stream_open(c, s, err);
    s->headers = own;
    s->n_headers = n_own;
    free(merged);
    if (rc == 0 && s->status_errors && isfinite(c->network_timeout)) {
        s->layer.last_activity = triton_loop_now();
        triton_loop_timer_start(c->loop, &s->layer.timer,
                                s->layer.last_activity + c->network_timeout);
    }
    return rc;
}

int triton_client_stream_send(struct triton_client *c, struct triton_stream *s,
                              const struct triton_infer_request *req, struct triton_error *err)
{
    if (triton_infer_request_check(req, err) < 0)
        return -1;
    return c->transport->stream_send(c, s, req, err);
}

void triton_client_stream_close(struct triton_client *c, struct triton_stream *s)
{
    c->transport->stream_close(c, s);
}

void triton_client_stream_cancel(struct triton_client *c, struct triton_stream *s)
{
    c->transport->stream_cancel(c, s);
}
