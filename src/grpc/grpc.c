/*
 * grpc.c: the gRPC transport (client.h) over gRPC's C core.
 *
 * Every call kind is one RPC on /inference.GRPCInferenceService/<Method>: a
 * single batch of six ops whose tag is the call's own state; the loop's
 * completion-queue thread hands the event to triton_loop_step, where the reply
 * is converted (pb_json for the control plane, grpc_wire for inference) and the
 * call ends through triton_call_finish. The call layer (src/client) queues
 * calls behind the concurrency limit and keeps their deadlines and inactivity
 * limits; a call it cancels is detached here (its state lives on until gRPC
 * has delivered the cancelled batch).
 *
 * Streams (ModelStreamInfer) keep one batch per op kind with its own tag, at
 * most one SEND and one RECV outstanding, and an own send queue; the stream's
 * state is freed only when its status has arrived and no batch is pending
 * (events of one call arrive in any order, see docs/GRPC_CORE.md).
 *
 * generate / generate_stream fetch (and cache) the model's metadata first to
 * know its input datatypes, then run ModelInfer / ModelStreamInfer.
 *
 * TLS: root certificates from ca_file (else gRPC's default roots), an optional
 * client key/certificate pair. `insecure` means the server's certificate is
 * neither verified nor matched to the host name (gRPC's experimental TLS
 * credentials with verify_server_cert off and a no-op verifier).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "client/client.h"
#include "common/secret.h"
#include "grpc/grpc_absl.h"
#include "grpc/grpc_generate.h"
#include "grpc/grpc_kinds.h"
#include "grpc/grpc_wire.h"
#include "proto/grpc_service.pb-c.h"

#ifdef TRITON_VERSION
#define USER_AGENT "tritonlua/" TRITON_VERSION
#else
#define USER_AGENT "tritonlua"
#endif

struct unary;
struct bidi;

struct meta_cache {
    char *model, *version;
    cJSON *metadata;
    struct meta_cache *next;
};

struct gt {
    struct triton_client *client; /* its verbose log */
    struct triton_loop *loop;
    grpc_completion_queue *cq;
    grpc_channel *channel;
    double network_timeout; /* for the transport's own calls (generate's metadata) */
    bool verbose;
    bool tls;              /* the channel is TLS: handshake failures are named as such */
    char *target;          /* for the verbose log and errors: the URL, userinfo redacted */
    struct unary *running; /* started unary calls */
    struct bidi *streams;
    size_t live; /* unary and stream states not yet freed */
    bool closing, orphaned;
    struct meta_cache *meta;
    /* Freed unary states kept for the next calls (at most SPARE_UNARY): a
     * call's state is then not allocated per call. Linked through next. */
    struct unary *spare;
    size_t n_spare;
};

/* ---- logging, errors -------------------------------------------------------------------- */

static void logf_(struct gt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct gt *t, const char *fmt, ...)
{
    if (!t->client) /* orphaned: the client is gone, its state drains silently */
        return;
    va_list ap;
    va_start(ap, fmt);
    triton_client_vlogf(t->client, fmt, ap);
    va_end(ap);
}

static const char *status_name(grpc_status_code s)
{
    const char *name = triton_grpc_status_name((int)s);
    return name ? name : "UNKNOWN";
}

static enum triton_code code_of_status(grpc_status_code s)
{
    switch (s) {
    case GRPC_STATUS_OK:
        return TRITON_OK;
    case GRPC_STATUS_CANCELLED:
        return TRITON_CANCELLED;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_FAILED_PRECONDITION:
        return TRITON_INVALID_ARGUMENT;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return TRITON_DEADLINE_EXCEEDED;
    case GRPC_STATUS_NOT_FOUND:
        return TRITON_NOT_FOUND;
    case GRPC_STATUS_ALREADY_EXISTS:
        return TRITON_ALREADY_EXISTS;
    case GRPC_STATUS_PERMISSION_DENIED:
        return TRITON_PERMISSION_DENIED;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return TRITON_NO_MEMORY;
    case GRPC_STATUS_OUT_OF_RANGE:
        return TRITON_OUT_OF_RANGE;
    case GRPC_STATUS_UNIMPLEMENTED:
        return TRITON_UNIMPLEMENTED;
    case GRPC_STATUS_INTERNAL:
    case GRPC_STATUS_DATA_LOSS:
        return TRITON_INTERNAL;
    case GRPC_STATUS_UNAVAILABLE:
        return TRITON_UNAVAILABLE;
    case GRPC_STATUS_UNAUTHENTICATED:
        return TRITON_UNAUTHENTICATED;
    default:
        return TRITON_UNKNOWN;
    }
}

/* gRPC reports a failed TLS handshake as UNAVAILABLE "failed to connect to all
 * addresses; last error: ...: Ssl handshake failed: ..." or "...: Peer name x is
 * not in peer certificate". The HTTP transport says "TLS failure: ..." for the
 * same cases; so does this one, so that a script can tell a certificate problem
 * from a server that is down whatever the transport. */
static bool is_tls_failure(grpc_status_code s, const char *msg, size_t n)
{
    static const char *const words[] = {"ssl", "handshake", "certificate", "tsi_"};
    if (s != GRPC_STATUS_UNAVAILABLE)
        return false;
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
        size_t k = strlen(words[w]);
        for (size_t i = 0; i + k <= n; i++)
            if (strncasecmp(msg + i, words[w], k) == 0)
                return true;
    }
    return false;
}

/* `ours`: we cancelled the call. A CANCELLED we did not ask for is the server
 * or the network dropping it (an RST_STREAM, a server shutting down), which
 * over HTTP is a dropped connection: both read as "unavailable", the code a
 * caller retries on. */
static void status_error(struct gt *t, struct triton_error *err, grpc_status_code s,
                         grpc_slice details, const char *error_string, bool ours)
{
    triton_error_clear(err);
    size_t n = GRPC_SLICE_LENGTH(details);
    const char *msg = (const char *)GRPC_SLICE_START_PTR(details);
    if (s == GRPC_STATUS_CANCELLED && !ours) {
        triton_fail(err, TRITON_UNAVAILABLE, "the server dropped the call (gRPC CANCELLED%s%.*s)",
                    n ? ": " : "", (int)(n > INT_MAX ? INT_MAX : n), msg);
        err->status = (int)s;
        return;
    }
    if (n && t->tls && is_tls_failure(s, msg, n))
        triton_fail(err, code_of_status(s), "TLS failure: %.*s", (int)(n > INT_MAX ? INT_MAX : n),
                    msg);
    else if (n)
        triton_fail(err, code_of_status(s), "%.*s", (int)(n > INT_MAX ? INT_MAX : n), msg);
    else if (error_string)
        triton_fail(err, code_of_status(s), "%s", error_string);
    else
        triton_fail(err, code_of_status(s), "gRPC status %s", status_name(s));
    err->status = (int)s;
}

/* ---- metadata ----------------------------------------------------------------------------- */

static void free_metadata(grpc_metadata *md, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        grpc_slice_unref(md[i].key);
        grpc_slice_unref(md[i].value);
    }
    free(md);
}

/* Appends headers as metadata: keys lowercased (gRPC refuses others), values checked. */
static int add_metadata(grpc_metadata **md, size_t *n, const struct triton_kv *kv, size_t n_kv,
                        struct triton_error *err)
{
    if (!n_kv)
        return 0;
    grpc_metadata *grown = realloc(*md, (*n + n_kv) * sizeof *grown);
    if (!grown)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory building gRPC metadata");
    *md = grown;
    for (size_t i = 0; i < n_kv; i++) {
        if (!kv[i].key || !kv[i].value)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "a header without key or value");
        char *key = strdup(kv[i].key);
        if (!key)
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory building gRPC metadata");
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        grpc_slice k = grpc_slice_from_copied_string(key);
        grpc_slice v = grpc_slice_from_copied_string(kv[i].value);
        free(key);
        size_t klen = GRPC_SLICE_LENGTH(k);
        bool bin = klen > 4 && memcmp(GRPC_SLICE_START_PTR(k) + klen - 4, "-bin", 4) == 0;
        if (!grpc_header_key_is_legal(k) || (!bin && !grpc_header_nonbin_value_is_legal(v))) {
            grpc_slice_unref(k);
            grpc_slice_unref(v);
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "header '%s' is not valid gRPC metadata", kv[i].key);
        }
        memset(&(*md)[*n], 0, sizeof **md);
        (*md)[*n].key = k;
        (*md)[*n].value = v;
        (*n)++;
    }
    return 0;
}

/* A call's metadata: its send_headers (the client's merged with its own by
 * the call layer). */
static int call_metadata(struct gt *t, const struct triton_kv *kv, size_t n_kv, grpc_metadata **md,
                         size_t *n, struct triton_error *err)
{
    (void)t;
    *md = NULL;
    *n = 0;
    if (add_metadata(md, n, kv, n_kv, err) < 0) {
        free_metadata(*md, *n);
        *md = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* Logs the metadata a call sends, credentials redacted (after the call's own line). */
static void log_metadata(struct gt *t, const grpc_metadata *md, size_t n)
{
    if (!t->verbose)
        return;
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)GRPC_SLICE_LENGTH(md[i].key),
                 (const char *)GRPC_SLICE_START_PTR(md[i].key));
        size_t vlen = GRPC_SLICE_LENGTH(md[i].value);
        bool bin = strlen(key) > 4 && strcmp(key + strlen(key) - 4, "-bin") == 0;
        if (triton_header_is_secret(key, strlen(key)))
            logf_(t, "grpc > %s: [redacted]", key);
        else if (bin)
            logf_(t, "grpc > %s: (%zu bytes)", key, vlen);
        else
            logf_(t, "grpc > %s: %.*s", key, (int)(vlen > 512 ? 512 : vlen),
                  (const char *)GRPC_SLICE_START_PTR(md[i].value));
    }
}

static double ms_since(gpr_timespec t0)
{
    return gpr_timespec_to_micros(gpr_time_sub(gpr_now(GPR_CLOCK_MONOTONIC), t0)) / 1000.0;
}

/* Timeouts beyond this many seconds (about 31 years) mean "no deadline": the
 * microseconds of a larger one would not fit in gpr_timespec's int64. */
#define MAX_TIMEOUT_SECONDS 1e9
/* Unary call states a client keeps for reuse: as many as calls usually run at once. */
#define SPARE_UNARY 64
/* Seconds grpc_destroy waits for gRPC to hand back cancelled batches. */
#define DESTROY_WAIT 5.0
/* gRPC's first reconnect backoff (grpc.initial_reconnect_backoff_ms's default). */
#define GRPC_FIRST_BACKOFF_MS 1000

static gpr_timespec deadline_after(double seconds)
{
    if (!(seconds > 0) || seconds > MAX_TIMEOUT_SECONDS) /* also NaN and inf */
        return gpr_inf_future(GPR_CLOCK_REALTIME);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_micros((int64_t)(seconds * 1e6), GPR_TIMESPAN));
}

/* ---- unary calls --------------------------------------------------------------------------- */

/* What a unary state keeps from call to call: the byte buffer its requests are
 * written into (gRPC takes a sent message's slices out of it; the buffer stays
 * the caller's) and the metadata arrays gRPC fills (their storage is kept and
 * only emptied; gRPC appends to an array and grows it as it must). */
struct unary_kept {
    grpc_byte_buffer *send;
    grpc_metadata_array initial_md, trailing_md;
};

struct unary {
    struct triton_loop_grpc_tag tag;
    struct gt *t;
    struct triton_call *call; /* NULL for a detached call */
    const char *method;
    struct unary_kept kept;
    size_t send_len;
    grpc_call *gcall;
    grpc_metadata *md;
    size_t n_md;
    grpc_byte_buffer *recv;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    double timeout;
    bool started;
    gpr_timespec t0; /* when it started, for the verbose log */
    struct unary *prev, *next;
    /* Runs with the reply (err NULL) or the failure; the call may be NULL. */
    void (*complete)(struct unary *u, const struct triton_error *err);
    char *gen_model, *gen_version; /* generate: the metadata phase */
};

static void finish_call(struct triton_call *call, struct triton_reply *reply,
                        const struct triton_error *err)
{
    struct triton_reply empty = {0};
    if (!reply)
        reply = &empty;
    call->transport_state = NULL;
    triton_call_finish(call, reply, err, true);
    cJSON_Delete(reply->json);
    triton_infer_result_free(reply->result);
}

static void free_transport(struct gt *t);

static void kept_destroy(struct unary_kept *k)
{
    grpc_byte_buffer_destroy(k->send);
    grpc_metadata_array_destroy(&k->initial_md);
    grpc_metadata_array_destroy(&k->trailing_md);
}

static void unary_free(struct unary *u)
{
    struct gt *t = u->t;
    /* A message gRPC did not take (a call that failed to start) lets go of its
     * slices, and the tensors they hold, now rather than at the state's reuse. */
    grpc_slice_buffer_reset_and_unref(&u->kept.send->data.raw.slice_buffer);
    if (u->recv)
        grpc_byte_buffer_destroy(u->recv);
    if (u->gcall)
        grpc_call_unref(u->gcall);
    grpc_slice_unref(u->details);
    gpr_free((void *)u->error_string);
    free_metadata(u->md, u->n_md);
    free(u->gen_model);
    free(u->gen_version);
    t->live--;
    if (!t->orphaned && t->n_spare < SPARE_UNARY) {
        u->next = t->spare;
        t->spare = u;
        t->n_spare++;
        return;
    }
    kept_destroy(&u->kept);
    free(u);
    if (t->orphaned && t->live == 0)
        free_transport(t);
}

static void unary_event(struct triton_loop_grpc_tag *tag, bool ok);

static struct unary *unary_new(struct gt *t, struct triton_call *call, const char *method,
                               struct triton_error *err)
{
    struct unary *u = t->spare;
    if (u) {
        t->spare = u->next;
        t->n_spare--;
        struct unary_kept kept = u->kept;
        memset(u, 0, sizeof *u);
        u->kept = kept;
        u->kept.initial_md.count = 0;
        u->kept.trailing_md.count = 0;
    } else if (!(u = calloc(1, sizeof *u)) || /* zeros: grpc_metadata_array_init's arrays */
               !(u->kept.send = grpc_raw_byte_buffer_create(NULL, 0))) {
        free(u);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory starting a gRPC call");
        return NULL;
    }
    u->tag.done = unary_event;
    u->t = t;
    u->call = call;
    u->method = method;
    u->details = grpc_empty_slice();
    /* A user's call is timed by the call layer; the transport's own are not. */
    u->timeout = call ? 0 : t->network_timeout;
    t->live++;
    return u;
}

/* The call's metadata (after its request: a request's errors are named first). */
static int unary_metadata(struct unary *u, struct triton_error *err)
{
    const struct triton_call *call = u->call;
    return call_metadata(u->t, call ? call->send_headers : NULL, call ? call->n_send_headers : 0,
                         &u->md, &u->n_md, err);
}

static int unary_start(struct unary *u, struct triton_error *err)
{
    struct gt *t = u->t;
    u->gcall = grpc_channel_create_call(t->channel, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                        grpc_slice_from_static_string(u->method), NULL,
                                        deadline_after(u->timeout), NULL);
    if (!u->gcall)
        return triton_fail(err, TRITON_INTERNAL, "gRPC could not create a call for %s", u->method);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = u->n_md;
    ops[0].data.send_initial_metadata.metadata = u->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->kept.send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->kept.initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->kept.trailing_md;
    ops[5].data.recv_status_on_client.status = &u->status;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    ops[5].data.recv_status_on_client.error_string = &u->error_string;
    grpc_call_error rc = grpc_call_start_batch(u->gcall, ops, 6, &u->tag, NULL);
    if (rc != GRPC_CALL_OK) {
        grpc_call_unref(u->gcall);
        u->gcall = NULL;
        return triton_fail(
            err, rc == GRPC_CALL_ERROR_INVALID_METADATA ? TRITON_INVALID_ARGUMENT : TRITON_INTERNAL,
            "gRPC refused to start %s (call error %d)", u->method, (int)rc);
    }
    triton_loop_grpc_started(t->loop);
    u->started = true;
    u->prev = NULL;
    u->next = t->running;
    if (t->running)
        t->running->prev = u;
    t->running = u;
    if (t->verbose) {
        u->t0 = gpr_now(GPR_CLOCK_MONOTONIC);
        logf_(t, "grpc > %s %s (%zu bytes)", t->target, u->method, u->send_len);
        log_metadata(t, u->md, u->n_md);
    }
    return 0;
}

static void unary_event(struct triton_loop_grpc_tag *tag, bool ok)
{
    (void)ok; /* a batch with RECV_STATUS_ON_CLIENT always succeeds: read status */
    struct unary *u = (struct unary *)tag;
    struct gt *t = u->t;
    if (u->prev)
        u->prev->next = u->next;
    else
        t->running = u->next;
    if (u->next)
        u->next->prev = u->prev;
    if (t->verbose)
        logf_(t, "grpc < %s %s: %s, %zu bytes, %.3f ms%s%.*s", t->target, u->method,
              status_name(u->status), u->recv ? grpc_byte_buffer_length(u->recv) : 0,
              ms_since(u->t0), GRPC_SLICE_LENGTH(u->details) ? ", error: " : "",
              (int)GRPC_SLICE_LENGTH(u->details), (const char *)GRPC_SLICE_START_PTR(u->details));
    if (u->status == GRPC_STATUS_OK) {
        u->complete(u, NULL);
    } else {
        struct triton_error e = {0};
        status_error(t, &e, u->status, u->details, u->error_string, false);
        u->complete(u, &e);
    }
    unary_free(u);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* Whether the call's reply is a stream of events (generate_stream), not one answer. */
static bool wants_events(const struct triton_call *call)
{
    return triton_call_info(call->kind)->reply == TRITON_REPLY_EVENTS;
}

static void complete_user(struct unary *u, const struct triton_error *err)
{
    if (!u->call)
        return;
    struct triton_call *call = u->call;
    u->call = NULL;
    if (err) {
        finish_call(call, NULL, err);
        return;
    }
    struct triton_reply reply = {0};
    struct triton_error e;
    triton_error_clear(&e);
    if (grpc_decode(call->kind, call->infer, u->recv, &reply, &e) < 0) {
        cJSON_Delete(reply.json);
        triton_infer_result_free(reply.result);
        finish_call(call, NULL, &e);
        return;
    }
    finish_call(call, &reply, NULL);
}

/* ---- streams --------------------------------------------------------------------------------- */

enum bidi_op { BIDI_START, BIDI_STATUS, BIDI_RECV, BIDI_SEND, BIDI_CLOSE, BIDI_NOPS };

struct bidi_tag {
    struct triton_loop_grpc_tag tag;
    struct bidi *b;
    enum bidi_op op;
};

struct bidi {
    struct gt *t;
    grpc_call *gcall;
    struct bidi_tag tags[BIDI_NOPS];
    int outstanding;
    grpc_metadata *md;
    size_t n_md;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *recv;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    bool status_received, send_busy, close_wanted, close_sent, cancelled;
    grpc_byte_buffer **sendq;
    size_t sq_head, sq_n, sq_cap;
    struct bidi *prev, *next;
    /* exactly one of these owns the stream */
    struct triton_stream *user;
    struct triton_call stream_call; /* what a user stream's done gets: user = s->user */
    struct triton_call *gen;        /* generate or generate_stream */
    bool gen_done;                  /* gen has had its final done */
    /* generate: its responses are counted and the first kept, because it
     * answers only when the model produced exactly one (as Triton's HTTP
     * generate does) */
    int gen_responses;
    cJSON *gen_reply;
};

static void bidi_event(struct triton_loop_grpc_tag *tag, bool ok);

static int bidi_batch(struct bidi *b, enum bidi_op op, grpc_op *ops, size_t n,
                      struct triton_error *err)
{
    grpc_call_error rc = grpc_call_start_batch(b->gcall, ops, n, &b->tags[op].tag, NULL);
    if (rc != GRPC_CALL_OK)
        return triton_fail(err, TRITON_INTERNAL, "gRPC refused a stream operation (error %d)",
                           (int)rc);
    triton_loop_grpc_started(b->t->loop);
    b->outstanding++;
    return 0;
}

static int bidi_post_recv(struct bidi *b, struct triton_error *err)
{
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &b->recv;
    return bidi_batch(b, BIDI_RECV, &op, 1, err);
}

static void bidi_pump_send(struct bidi *b)
{
    if (b->send_busy || b->status_received)
        return;
    grpc_op op;
    memset(&op, 0, sizeof op);
    if (b->sq_n) {
        grpc_byte_buffer *bb = b->sendq[b->sq_head];
        b->sq_head = (b->sq_head + 1) % b->sq_cap;
        b->sq_n--;
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = bb;
        if (bidi_batch(b, BIDI_SEND, &op, 1, NULL) == 0)
            b->send_busy = true;
        else
            grpc_call_cancel(b->gcall, NULL); /* a broken stream: let the status end it */
        grpc_byte_buffer_destroy(bb);
        return;
    }
    if (b->close_wanted && !b->close_sent) {
        op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        b->close_sent = true;
        if (bidi_batch(b, BIDI_CLOSE, &op, 1, NULL) != 0)
            grpc_call_cancel(b->gcall, NULL);
    }
}

static int bidi_enqueue(struct bidi *b, grpc_byte_buffer *bb, struct triton_error *err)
{
    if (b->sq_n == b->sq_cap) {
        size_t cap = b->sq_cap ? b->sq_cap * 2 : 8;
        grpc_byte_buffer **q = malloc(cap * sizeof *q);
        if (!q) {
            grpc_byte_buffer_destroy(bb);
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory queueing a stream request");
        }
        for (size_t i = 0; i < b->sq_n; i++)
            q[i] = b->sendq[(b->sq_head + i) % b->sq_cap];
        free(b->sendq);
        b->sendq = q;
        b->sq_head = 0;
        b->sq_cap = cap;
    }
    b->sendq[(b->sq_head + b->sq_n) % b->sq_cap] = bb;
    b->sq_n++;
    bidi_pump_send(b);
    return 0;
}

static void bidi_free(struct bidi *b)
{
    struct gt *t = b->t;
    if (b->prev)
        b->prev->next = b->next;
    else if (t->streams == b)
        t->streams = b->next;
    if (b->next)
        b->next->prev = b->prev;
    for (size_t i = 0; i < b->sq_n; i++)
        grpc_byte_buffer_destroy(b->sendq[(b->sq_head + i) % b->sq_cap]);
    free(b->sendq);
    if (b->recv)
        grpc_byte_buffer_destroy(b->recv);
    if (b->gcall)
        grpc_call_unref(b->gcall);
    grpc_metadata_array_destroy(&b->initial_md);
    grpc_metadata_array_destroy(&b->trailing_md);
    grpc_slice_unref(b->details);
    gpr_free((void *)b->error_string);
    free_metadata(b->md, b->n_md);
    cJSON_Delete(b->gen_reply);
    free(b);
    t->live--;
    if (t->orphaned && t->live == 0)
        free_transport(t);
}

/* One message from the server: a response or an in-band error. */
static void bidi_deliver(struct bidi *b, grpc_byte_buffer *bb)
{
    struct triton_error e = {0};
    char *error_message = NULL;
    struct triton_infer_result *r = NULL;
    logf_(b->t, "grpc < ModelStreamInfer message (%zu bytes)", grpc_byte_buffer_length(bb));
    struct tensor_buffer *buf = grpc_wire_read(bb, &e);
    if (buf) {
        grpc_wire_parse_stream_response(buf->data, buf->size, buf, &error_message, &r, &e);
        tensor_buffer_unref(buf);
    }
    if (error_message) {
        /* Triton sends only the text of an in-band error, not its code. */
        triton_error_clear(&e);
        triton_fail(&e, TRITON_UNKNOWN, "%s", error_message);
        e.status = GRPC_STATUS_UNKNOWN;
        free(error_message);
    }
    bool failed = e.code != TRITON_OK;
    if (b->user) {
        struct triton_reply reply = {.result = failed ? NULL : r};
        if (failed || r)
            triton_stream_finish(b->user, &b->stream_call, &reply, failed ? &e : NULL, false);
        triton_infer_result_free(failed ? r : reply.result);
        return;
    }
    if (b->gen && !b->gen_done) {
        struct triton_call *call = b->gen;
        if (failed) {
            /* The generate_stream fails: its last done, then the stream goes. */
            triton_infer_result_free(r);
            b->gen_done = true;
            b->gen = NULL;
            finish_call(call, NULL, &e);
            grpc_call_cancel(b->gcall, NULL);
            return;
        }
        if (r) {
            struct triton_reply reply = {0};
            reply.json = grpc_generate_reply(r, &e);
            triton_infer_result_free(r);
            if (!reply.json) {
                b->gen_done = true;
                b->gen = NULL;
                finish_call(call, NULL, &e);
                grpc_call_cancel(b->gcall, NULL);
                return;
            }
            if (!wants_events(call)) {
                if (++b->gen_responses == 1)
                    b->gen_reply = reply.json;
                else
                    cJSON_Delete(reply.json);
                return;
            }
            triton_call_finish(call, &reply, NULL, false);
            cJSON_Delete(reply.json);
        }
        return;
    }
    triton_infer_result_free(r);
}

static void bidi_maybe_end(struct bidi *b)
{
    if (!b->status_received || b->outstanding > 0)
        return;
    struct triton_error e = {0};
    bool failed = b->status != GRPC_STATUS_OK;
    if (failed)
        status_error(b->t, &e, b->status, b->details, b->error_string, b->cancelled);
    logf_(b->t, "grpc < ModelStreamInfer ended: %s", status_name(b->status));
    if (b->user) {
        struct triton_stream *s = b->user;
        b->user = NULL;
        struct triton_reply reply = {0};
        triton_stream_finish(s, &b->stream_call, &reply, failed ? &e : NULL, true);
    } else if (b->gen && !b->gen_done) {
        struct triton_call *call = b->gen;
        b->gen = NULL;
        b->gen_done = true;
        if (!wants_events(call) && !failed) {
            if (b->gen_responses == 1) {
                struct triton_reply reply = {.json = b->gen_reply};
                b->gen_reply = NULL;
                finish_call(call, &reply, NULL);
                bidi_free(b);
                return;
            }
            /* Triton's HTTP generate answers so (400); the same words and code here */
            triton_fail(&e, TRITON_INVALID_ARGUMENT,
                        "generate expects model to produce exactly 1 response, got %d from "
                        "model '%s'; use generate_stream",
                        b->gen_responses, call->model);
            e.status = GRPC_STATUS_INVALID_ARGUMENT;
            failed = true;
        }
        finish_call(call, NULL, failed ? &e : NULL);
    }
    bidi_free(b);
}

static void bidi_event(struct triton_loop_grpc_tag *tag, bool ok)
{
    struct bidi_tag *bt = (struct bidi_tag *)tag;
    struct bidi *b = bt->b;
    b->outstanding--;
    switch (bt->op) {
    case BIDI_START:
    case BIDI_CLOSE:
        break;
    case BIDI_STATUS:
        b->status_received = true;
        break;
    case BIDI_SEND:
        b->send_busy = false;
        if (ok)
            bidi_pump_send(b);
        break;
    case BIDI_RECV: {
        grpc_byte_buffer *bb = b->recv;
        b->recv = NULL;
        if (ok && bb) {
            bidi_deliver(b, bb);
            grpc_byte_buffer_destroy(bb);
            if (!b->status_received && bidi_post_recv(b, NULL) != 0)
                grpc_call_cancel(b->gcall, NULL);
        } else if (bb) {
            grpc_byte_buffer_destroy(bb);
        }
        break;
    }
    default:
        break;
    }
    bidi_maybe_end(b);
}

/* Opens a ModelStreamInfer. With status_errors, Triton ends the stream with a
 * real gRPC status at its first error (metadata triton_grpc_error: true), so
 * that a one-request stream (stream_infer, generate) fails with the error's own
 * code, as the same request over HTTP does; without it, errors arrive in-band
 * as text and the stream stays open (start_stream). */
static struct bidi *bidi_open(struct gt *t, const struct triton_kv *headers, size_t n_headers,
                              double timeout, bool status_errors, struct triton_error *err)
{
    struct bidi *b = calloc(1, sizeof *b);
    if (!b) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory opening a stream");
        return NULL;
    }
    b->t = t;
    t->live++;
    b->details = grpc_empty_slice();
    grpc_metadata_array_init(&b->initial_md);
    grpc_metadata_array_init(&b->trailing_md);
    for (int i = 0; i < BIDI_NOPS; i++) {
        b->tags[i].tag.done = bidi_event;
        b->tags[i].b = b;
        b->tags[i].op = (enum bidi_op)i;
    }
    b->next = t->streams;
    if (t->streams)
        t->streams->prev = b;
    t->streams = b;
    if (call_metadata(t, headers, n_headers, &b->md, &b->n_md, err) < 0)
        goto fail;
    static const struct triton_kv grpc_error = {"triton_grpc_error", "true"};
    if (status_errors && add_metadata(&b->md, &b->n_md, &grpc_error, 1, err) < 0)
        goto fail;
    b->gcall =
        grpc_channel_create_call(t->channel, NULL, GRPC_PROPAGATE_DEFAULTS, t->cq,
                                 grpc_slice_from_static_string(GRPC_METHOD("ModelStreamInfer")),
                                 NULL, deadline_after(timeout), NULL);
    if (!b->gcall) {
        triton_fail(err, TRITON_INTERNAL, "gRPC could not create a stream");
        goto fail;
    }
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = b->n_md;
    ops[0].data.send_initial_metadata.metadata = b->md;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &b->initial_md;
    if (bidi_batch(b, BIDI_START, ops, 2, err) < 0)
        goto fail;
    /* From here on events are pending: failures go through the status. */
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &b->trailing_md;
    ops[0].data.recv_status_on_client.status = &b->status;
    ops[0].data.recv_status_on_client.status_details = &b->details;
    ops[0].data.recv_status_on_client.error_string = &b->error_string;
    if (bidi_batch(b, BIDI_STATUS, ops, 1, NULL) < 0 || bidi_post_recv(b, NULL) < 0) {
        /* Without a status batch we would never learn the end: give up at once. */
        grpc_call_cancel(b->gcall, NULL);
        triton_fail(err, TRITON_INTERNAL, "gRPC refused to start a stream");
        b->cancelled = true;
        return b; /* the caller treats this as started-and-failing */
    }
    logf_(t, "grpc > %s " GRPC_METHOD("ModelStreamInfer") " (stream opened)", t->target);
    log_metadata(t, b->md, b->n_md);
    return b;
fail:
    bidi_free(b);
    return NULL;
}

static int grpc_stream_open(struct triton_client *c, struct triton_stream *s,
                            struct triton_error *err)
{
    struct gt *t = c->transport_state;
    if (!s->done)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "a stream needs a done function");
    struct bidi *b = bidi_open(t, s->headers, s->n_headers, s->timeout, s->status_errors, err);
    if (!b)
        return -1;
    b->user = s;
    b->stream_call.kind = TRITON_CALL_INFER;
    b->stream_call.user = s->user;
    b->stream_call.transport_state = b;
    s->finished = false;
    s->transport_state = b;
    return 0;
}

static int grpc_stream_send(struct triton_client *c, struct triton_stream *s,
                            const struct triton_infer_request *req, struct triton_error *err)
{
    (void)c;
    struct bidi *b = s->transport_state;
    if (!b || b->close_wanted || b->status_received || b->cancelled)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "the stream is closed");
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    if (grpc_wire_infer_request(req, bb, err) < 0) {
        grpc_byte_buffer_destroy(bb);
        return -1;
    }
    logf_(b->t, "grpc > ModelStreamInfer request for %s (%zu bytes)", req->model,
          grpc_byte_buffer_length(bb));
    return bidi_enqueue(b, bb, err);
}

static void grpc_stream_close(struct triton_client *c, struct triton_stream *s)
{
    (void)c;
    struct bidi *b = s->transport_state;
    if (!b || b->close_wanted)
        return;
    b->close_wanted = true;
    bidi_pump_send(b);
}

static void grpc_stream_cancel(struct triton_client *c, struct triton_stream *s)
{
    (void)c;
    struct bidi *b = s->transport_state;
    if (!b)
        return;
    b->cancelled = true;
    grpc_call_cancel(b->gcall, NULL);
}

/* ---- generate ----------------------------------------------------------------------------------
 */

static const cJSON *meta_lookup(struct gt *t, const char *model, const char *version)
{
    for (struct meta_cache *m = t->meta; m; m = m->next)
        if (strcmp(m->model, model) == 0 && strcmp(m->version, version) == 0)
            return m->metadata;
    return NULL;
}

static const cJSON *meta_store(struct gt *t, const char *model, const char *version, cJSON *meta)
{
    struct meta_cache *m = calloc(1, sizeof *m);
    if (!m || !(m->model = strdup(model)) || !(m->version = strdup(version))) {
        if (m)
            free(m->model);
        free(m);
        return NULL;
    }
    m->metadata = meta;
    m->next = t->meta;
    t->meta = m;
    return meta;
}

/* Second phase of generate / generate_stream, once the metadata is known. */
static int generate_run(struct gt *t, struct triton_call *call, const cJSON *meta,
                        struct triton_error *err)
{
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    if (grpc_generate_request(call->model, call->version, call->settings, meta, bb, err) < 0) {
        grpc_byte_buffer_destroy(bb);
        return -1;
    }
    /* generate too goes over ModelStreamInfer: ModelInfer refuses decoupled
     * models, which LLM backends are, and a one-request stream serves both kinds. */
    /* timed by the call layer, as every call is */
    struct bidi *b = bidi_open(t, call->send_headers, call->n_send_headers, 0, true, err);
    if (!b) {
        grpc_byte_buffer_destroy(bb);
        return -1;
    }
    b->gen = call;
    call->transport_state = NULL; /* cancel finds the stream through the list */
    b->close_wanted = true;       /* one request, then half-close */
    if (bidi_enqueue(b, bb, err) < 0) {
        b->gen = NULL;
        grpc_call_cancel(b->gcall, NULL);
        return -1;
    }
    return 0;
}

static void complete_generate_meta(struct unary *u, const struct triton_error *err)
{
    if (!u->call)
        return;
    struct triton_call *call = u->call;
    u->call = NULL;
    call->transport_state = NULL;
    if (err) {
        finish_call(call, NULL, err);
        return;
    }
    struct triton_reply reply = {0};
    struct triton_error e = {0};
    if (grpc_decode(TRITON_CALL_MODEL_METADATA, NULL, u->recv, &reply, &e) < 0) {
        finish_call(call, NULL, &e);
        return;
    }
    const cJSON *meta = meta_store(u->t, u->gen_model, u->gen_version, reply.json);
    if (!meta) {
        cJSON_Delete(reply.json);
        triton_fail(&e, TRITON_NO_MEMORY, "out of memory caching model metadata");
        finish_call(call, NULL, &e);
        return;
    }
    if (generate_run(u->t, call, meta, &e) < 0)
        finish_call(call, NULL, &e);
}

static int submit_generate(struct gt *t, struct triton_call *call, struct triton_error *err)
{
    const char *version = str_or_empty(call->version);
    const cJSON *meta = meta_lookup(t, call->model, version);
    if (meta)
        return generate_run(t, call, meta, err);
    const struct grpc_kind *k = &grpc_kinds[TRITON_CALL_MODEL_METADATA];
    struct unary *u = unary_new(t, call, k->method, err);
    if (!u)
        return -1;
    u->complete = complete_generate_meta;
    if (unary_metadata(u, err) < 0) {
        u->call = NULL;
        unary_free(u);
        return -1;
    }
    if (!(u->gen_model = strdup(call->model)) || !(u->gen_version = strdup(version))) {
        u->call = NULL;
        unary_free(u);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory starting generate");
    }
    if (k->encode(call, u->kept.send, err) < 0 || unary_start(u, err) < 0) {
        u->call = NULL;
        unary_free(u);
        return -1;
    }
    call->transport_state = u;
    return 0;
}

/* ---- the transport table ------------------------------------------------------------------------
 */

static int grpc_submit(struct triton_client *c, struct triton_call *call, struct triton_error *err)
{
    struct gt *t = c->transport_state;
    if (t->closing)
        return triton_fail(err, TRITON_CANCELLED, "the client is closing");
    call->transport_state = NULL;
    const struct grpc_kind *k = &grpc_kinds[call->kind];
    if (k->generate)
        return submit_generate(t, call, err);
    struct unary *u = unary_new(t, call, k->method, err);
    if (!u)
        return -1;
    u->complete = complete_user;
    if (k->encode(call, u->kept.send, err) < 0 || unary_metadata(u, err) < 0) {
        u->call = NULL;
        unary_free(u);
        return -1;
    }
    u->send_len = grpc_byte_buffer_length(u->kept.send);
    if (unary_start(u, err) < 0) {
        u->call = NULL;
        unary_free(u);
        return -1;
    }
    call->transport_state = u;
    return 0;
}

static void grpc_cancel(struct triton_client *c, struct triton_call *call)
{
    /* Detach the call (the call layer completes it) and cancel what carries it;
     * its state goes when gRPC has delivered the cancelled batches. */
    struct gt *t = c->transport_state;
    for (struct bidi *b = t->streams; b; b = b->next) {
        if (b->gen == call) {
            b->gen = NULL;
            b->gen_done = true;
            grpc_call_cancel(b->gcall, NULL);
        }
    }
    for (struct unary *u = t->running; u; u = u->next) {
        if (u->call == call) {
            u->call = NULL;
            grpc_call_cancel(u->gcall, NULL);
        }
    }
    call->transport_state = NULL;
}

static void free_transport(struct gt *t)
{
    while (t->spare) {
        struct unary *u = t->spare;
        t->spare = u->next;
        kept_destroy(&u->kept);
        free(u);
    }
    if (t->channel)
        grpc_channel_destroy(t->channel);
    free(t->target);
    while (t->meta) {
        struct meta_cache *m = t->meta;
        t->meta = m->next;
        free(m->model);
        free(m->version);
        cJSON_Delete(m->metadata);
        free(m);
    }
    free(t);
}

static void grpc_destroy(struct triton_client *c)
{
    struct gt *t = c->transport_state;
    c->transport_state = NULL;
    if (!t)
        return;
    t->closing = true;
    struct triton_error cancelled = {0};
    triton_fail(&cancelled, TRITON_CANCELLED, "the client was closed");
    cancelled.status = GRPC_STATUS_CANCELLED;
    for (struct unary *u = t->running; u; u = u->next)
        grpc_call_cancel(u->gcall, NULL);
    for (struct bidi *b = t->streams; b; b = b->next)
        grpc_call_cancel(b->gcall, NULL);
    /* Let the cancellations come back so that every done runs with CANCELLED.
     * gRPC delivers a cancelled batch promptly; should it not, closing must not
     * hang: after DESTROY_WAIT the states are left to free themselves (below). */
    double give_up = triton_loop_now() + DESTROY_WAIT;
    while (t->live > 0 && triton_loop_now() < give_up) {
        struct triton_error e = {0};
        if (triton_loop_step(t->loop, 0.5, &e) < 0)
            break;
    }
    if (t->live == 0) {
        free_transport(t);
        return;
    }
    /* Destroyed from inside a completion (the loop cannot step), or gRPC is late:
     * finish the calls now and let their states free themselves, and then the
     * transport, as their events arrive. */
    for (struct unary *u = t->running; u; u = u->next) {
        if (u->call) {
            struct triton_call *call = u->call;
            u->call = NULL;
            finish_call(call, NULL, &cancelled);
        }
    }
    for (struct bidi *b = t->streams; b; b = b->next) {
        if (b->user) {
            struct triton_stream *s = b->user;
            b->user = NULL;
            struct triton_reply reply = {0};
            triton_stream_finish(s, &b->stream_call, &reply, &cancelled, true);
        } else if (b->gen && !b->gen_done) {
            struct triton_call *call = b->gen;
            b->gen = NULL;
            b->gen_done = true;
            finish_call(call, NULL, &cancelled);
        }
    }
    t->orphaned = true;
    t->client = NULL;
}

static const struct triton_transport grpc_transport = {
    .name = "grpc",
    .submit = grpc_submit,
    .cancel = grpc_cancel,
    .stream_open = grpc_stream_open,
    .stream_send = grpc_stream_send,
    .stream_close = grpc_stream_close,
    .stream_cancel = grpc_stream_cancel,
    .destroy = grpc_destroy,
};

/* ---- channel -----------------------------------------------------------------------------------
 */

/* Reads a PEM file named by option `what` (e.g. "ssl.ca_file"). */
static char *read_file(const char *path, const char *what, struct triton_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: cannot open '%s': %s", what, path,
                    strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: '%s' is too large for a PEM file",
                            what, path);
                return NULL;
            }
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory reading '%s'", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: cannot read '%s'", what, path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static grpc_channel_credentials *make_credentials(const struct triton_client_options *o,
                                                  struct triton_error *err)
{
    if (!o->use_tls)
        return grpc_insecure_credentials_create();
    if (!o->cert_file != !o->key_file) {
        triton_fail(err, TRITON_INVALID_ARGUMENT,
                    "a client certificate needs both cert_file and key_file");
        return NULL;
    }
    char *roots = NULL, *cert = NULL, *key = NULL;
    grpc_channel_credentials *creds = NULL;
    if (o->ca_file && !(roots = read_file(o->ca_file, "ssl.ca_file", err)))
        goto done;
    if (o->cert_file && (!(cert = read_file(o->cert_file, "ssl.cert_file", err)) ||
                         !(key = read_file(o->key_file, "ssl.key_file", err))))
        goto done;
    if (o->insecure) {
        grpc_tls_credentials_options *opts = grpc_tls_credentials_options_create();
        grpc_tls_identity_pairs *pairs = NULL;
        if (cert) {
            pairs = grpc_tls_identity_pairs_create();
            grpc_tls_identity_pairs_add_pair(pairs, key, cert);
        }
        if (roots || pairs) {
            grpc_tls_certificate_provider *provider =
                grpc_tls_certificate_provider_static_data_create(roots, pairs);
            grpc_tls_credentials_options_set_certificate_provider(opts, provider);
            grpc_tls_certificate_provider_release(provider);
            if (roots)
                grpc_tls_credentials_options_watch_root_certs(opts);
            if (pairs)
                grpc_tls_credentials_options_watch_identity_key_cert_pairs(opts);
        }
        grpc_tls_credentials_options_set_verify_server_cert(opts, 0);
        grpc_tls_credentials_options_set_check_call_host(opts, 0);
        grpc_tls_certificate_verifier *verifier = grpc_tls_certificate_verifier_no_op_create();
        grpc_tls_credentials_options_set_certificate_verifier(opts, verifier);
        creds = grpc_tls_credentials_create(opts);
        grpc_tls_certificate_verifier_release(verifier);
    } else {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        creds = grpc_ssl_credentials_create(roots, cert ? &pair : NULL, NULL, NULL);
    }
    if (!creds)
        triton_fail(err, TRITON_INVALID_ARGUMENT, "gRPC refused the TLS settings");
done:
    free(roots);
    free(cert);
    if (key) {
        memset(key, 0, strlen(key)); /* do not leave the private key in freed memory */
        free(key);
    }
    return creds;
}

static int compression_of(const char *name, grpc_compression_algorithm *alg,
                          struct triton_error *err)
{
    if (!name || !*name || strcmp(name, "none") == 0 || strcmp(name, "identity") == 0)
        *alg = GRPC_COMPRESS_NONE;
    else if (strcmp(name, "gzip") == 0)
        *alg = GRPC_COMPRESS_GZIP;
    else if (strcmp(name, "deflate") == 0)
        *alg = GRPC_COMPRESS_DEFLATE;
    else
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "unknown compression '%s' (gzip or deflate)", name);
    return 0;
}

/* gRPC writes its own ERROR lines to stderr for failures it also reports as a
 * call status (a refused TLS handshake, a bad metadata value), which every
 * call turns into a triton.Error: in a script or the REPL they are noise
 * printed twice. They are dropped, except the line an assertion writes just
 * before gRPC aborts the process. Setting GRPC_VERBOSITY or GRPC_TRACE brings
 * gRPC's own logging back for whoever debugs gRPC itself. */
static void quiet_grpc_log(gpr_log_func_args *args)
{
    if (args->message && strncmp(args->message, "assertion failed", 16) == 0)
        fprintf(stderr, "gRPC: %s (%s:%d)\n", args->message, args->file ? args->file : "?",
                args->line);
}

static void quiet_grpc_logging(void)
{
    const char *v = getenv("GRPC_VERBOSITY"), *tr = getenv("GRPC_TRACE");
    if ((!v || !*v) && (!tr || !*tr))
        gpr_set_log_function(quiet_grpc_log);
}

static bool has_channel_arg(const struct triton_client_options *opts, const char *key)
{
    for (size_t i = 0; i < opts->n_channel_args; i++)
        if (opts->channel_args[i].key && strcmp(opts->channel_args[i].key, key) == 0)
            return true;
    return false;
}

int triton_grpc_init(struct triton_client *c, const struct triton_client_options *opts,
                     struct triton_error *err)
{
    /* Once per process, before gRPC's first lock: a lock taken while the
     * detector was on is simply never looked at again. */
    static pthread_once_t absl_once = PTHREAD_ONCE_INIT;
    pthread_once(&absl_once, grpc_absl_no_deadlock_detection);
    quiet_grpc_logging();
    grpc_compression_algorithm alg = GRPC_COMPRESS_NONE;
    if (compression_of(opts->compression, &alg, err) < 0)
        return -1;
    if (opts->response_compression && *opts->response_compression)
        /* Options that cannot apply raise: over gRPC the server picks the
         * compression of its replies (Triton: --grpc-infer-response-compression-level),
         * and the client already accepts gzip and deflate. */
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "response_compression does not apply to gRPC clients: the server "
                           "chooses how to compress replies, and gzip and deflate are always "
                           "accepted");
    grpc_completion_queue *cq = triton_loop_cq(c->loop, err); /* also grpc_init */
    if (!cq)
        return -1;
    struct gt *t = calloc(1, sizeof *t);
    if (!t)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a gRPC client");
    t->loop = c->loop;
    t->client = c;
    t->cq = cq;
    t->network_timeout = c->network_timeout;
    t->verbose = opts->verbose;
    t->tls = opts->use_tls;
    if (!(t->target = triton_url_redacted(opts->url))) {
        free_transport(t);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a gRPC client");
    }
    /* The client's headers go with every call (send_headers): check them here,
     * at connect, rather than at every call. */
    grpc_metadata *md = NULL;
    size_t n_md = 0;
    int md_rc = add_metadata(&md, &n_md, opts->headers, opts->n_headers, err);
    free_metadata(md, n_md);
    if (md_rc < 0) {
        free_transport(t);
        return -1;
    }

    size_t max_args = 11 + opts->n_channel_args;
    grpc_arg *args = calloc(max_args, sizeof *args);
    if (!args) {
        free_transport(t);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a gRPC client");
    }
    size_t n = 0;
    size_t max_recv = opts->max_response_size ? opts->max_response_size : INT32_MAX;
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER,
                           GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                           {.integer = max_recv > INT32_MAX ? INT32_MAX : (int)max_recv}};
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = -1}};
    if (alg != GRPC_COMPRESS_NONE)
        args[n++] = (grpc_arg){
            GRPC_ARG_INTEGER, GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM, {.integer = (int)alg}};
    if (opts->keepalive_time_ms > 0)
        args[n++] = (grpc_arg){
            GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_TIME_MS, {.integer = opts->keepalive_time_ms}};
    if (opts->keepalive_timeout_ms > 0)
        args[n++] = (grpc_arg){GRPC_ARG_INTEGER,
                               GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                               {.integer = opts->keepalive_timeout_ms}};
    if (opts->keepalive_permit_without_calls)
        args[n++] =
            (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, {.integer = 1}};
    if (isfinite(c->connection_timeout)) {
        /* The closest knob gRPC has: how long one connection attempt may take.
         * An attempt's deadline is the later of that and the next attempt's
         * time (the reconnect backoff, first 1 s), so a shorter limit also
         * shortens the first backoff: else 0.3 s would mean 1 s. */
        double ms = c->connection_timeout * 1000.0;
        int limit = ms > INT_MAX ? INT_MAX : (int)ms;
        args[n++] =
            (grpc_arg){GRPC_ARG_INTEGER, "grpc.min_reconnect_backoff_ms", {.integer = limit}};
        if (limit < GRPC_FIRST_BACKOFF_MS)
            args[n++] = (grpc_arg){
                GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = limit}};
    }
    args[n++] =
        (grpc_arg){GRPC_ARG_STRING, GRPC_ARG_PRIMARY_USER_AGENT_STRING, {.string = USER_AGENT}};
    /* gRPC's own retry layer is off: HTTP has none, and tritonlua retries only
     * when asked (the `retry` option), alike on both transports. The layer also
     * costs about 8k instructions per call that never retries (GRPC_CORE.md).
     * A caller's service config may hold a retryPolicy, which needs the layer. */
    if (!has_channel_arg(opts, GRPC_ARG_SERVICE_CONFIG))
        args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_RETRIES, {.integer = 0}};
    /* channelz (gRPC's own introspection of channels and calls, which nothing
     * here reads) is off: it counts and times every call (GRPC_CORE.md). */
    args[n++] = (grpc_arg){GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_CHANNELZ, {.integer = 0}};
    /* A key the caller gives wins over the library's own setting: drop ours. */
    for (size_t k = 0; k < n;) {
        if (has_channel_arg(opts, args[k].key))
            args[k] = args[--n];
        else
            k++;
    }
    for (size_t i = 0; i < opts->n_channel_args; i++) {
        const struct triton_channel_arg *a = &opts->channel_args[i];
        if (!a->key || (!a->is_int && !a->str_value)) {
            free(args);
            free_transport(t);
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "a channel argument without %s",
                               a->key ? "a value" : "a key");
        }
        if (a->is_int && (a->int_value < INT_MIN || a->int_value > INT_MAX)) {
            free(args);
            free_transport(t);
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "channel argument '%s' is out of range", a->key);
        }
        args[n].key = (char *)a->key;
        if (a->is_int) {
            args[n].type = GRPC_ARG_INTEGER;
            args[n].value.integer = (int)a->int_value;
        } else {
            args[n].type = GRPC_ARG_STRING;
            args[n].value.string = (char *)a->str_value;
        }
        n++;
    }
    grpc_channel_args cargs = {n, args};
    grpc_channel_credentials *creds = make_credentials(opts, err);
    if (!creds) {
        free(args);
        free_transport(t);
        return -1;
    }
    t->channel = grpc_channel_create(opts->url, creds, &cargs);
    grpc_channel_credentials_release(creds);
    free(args);
    if (!t->channel) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "gRPC could not create a channel to '%s'",
                    t->target);
        free_transport(t);
        return -1;
    }
    logf_(t, "grpc: channel to %s (%s)", t->target, opts->use_tls ? "TLS" : "plaintext");
    c->transport = &grpc_transport;
    c->transport_state = t;
    return 0;
}
