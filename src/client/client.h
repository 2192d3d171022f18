/*
 * client.h: the protocol-neutral client. Plain C, no Lua.
 *
 * One interface, two transports (src/http over libcurl, src/grpc over gRPC's C
 * core), as luasocket's io.h puts send/recv behind function pointers: a client
 * is a struct triton_client whose `transport` table the transport fills in.
 * The Lua binding talks only to this header and never branches on the protocol.
 *
 * Every request is a struct triton_call: a kind, the arguments that kind uses,
 * and a completion function. Calls are asynchronous underneath: submit starts
 * the I/O on the client's event loop (src/loop) and `on_reply` runs later, on
 * the loop's thread, from inside triton_loop_step. A blocking call is submit
 * followed by stepping the loop until the call is done (triton_call_wait).
 *
 * Replies to the control-plane calls (metadata, config, index, statistics,
 * settings, shared-memory status) are cJSON trees in the shape of Triton's
 * HTTP/REST JSON, with model_config.proto's snake_case field names. The HTTP
 * transport parses the body; the gRPC transport converts its protobuf-c reply
 * into the same tree (driven by protobuf-c's descriptors), reshaping where the
 * two protocols differ (e.g. shared-memory status is a map over gRPC and a
 * list over HTTP), so both transports hand the binding identical trees.
 * Numbers in these trees are doubles, as cJSON keeps them: counters beyond
 * 2^53 lose precision on both transports alike.
 */
#ifndef TRITON_CLIENT_H
#define TRITON_CLIENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "loop/loop.h"
#include "tensor/tensor.h"
#include "wire/infer.h"

/* ---- options ------------------------------------------------------------------- */

enum triton_protocol { TRITON_PROTOCOL_HTTP, TRITON_PROTOCOL_GRPC };

struct triton_kv {
    const char *key;
    const char *value; /* NUL-terminated */
};

struct triton_channel_arg { /* a raw gRPC channel argument */
    const char *key;
    bool is_int;
    long int_value;
    const char *str_value;
};

struct triton_client_options {
    enum triton_protocol protocol;
    /* host:port (gRPC also takes its target syntax, e.g. ipv4:a:p1,b:p2). A
     * scheme (http://, https://, grpc://, grpcs://) is stripped by the caller and
     * turned into protocol + use_tls. */
    const char *url;
    bool use_tls;
    bool verbose; /* log each request/response through `log`; credentials redacted */
    void (*log)(void *log_ctx, const char *line); /* NULL: stderr */
    void *log_ctx;
    const struct triton_kv *headers; /* sent with every call (gRPC: as metadata) */
    size_t n_headers;
    /* Seconds; 0 = the default, INFINITY = no limit. connection_timeout bounds
     * connecting (TCP and TLS); network_timeout is an inactivity limit: the
     * longest wait for the next bytes of a reply or the next event of a stream. */
    double connection_timeout;
    double network_timeout;
    bool ssl; /* TLS options were given (ca_file, cert_file, key_file, insecure) */
    const char *ca_file, *cert_file, *key_file;
    bool insecure;                    /* TLS without verification; off unless asked */
    const char *compression;          /* NULL, "gzip" or "deflate": request bodies */
    const char *response_compression; /* NULL, "gzip" or "deflate": accepted replies */
    int concurrency;          /* requests in flight at once; 0 = TRITON_DEFAULT_CONCURRENCY */
    size_t max_response_size; /* bytes; 0 = default (INT32_MAX) */
    /* gRPC only */
    int keepalive_time_ms, keepalive_timeout_ms; /* 0 = gRPC default */
    bool keepalive_permit_without_calls;
    const struct triton_channel_arg *channel_args;
    size_t n_channel_args;
};

#define TRITON_DEFAULT_CONCURRENCY        32
#define TRITON_DEFAULT_CONNECTION_TIMEOUT 20.0
#define TRITON_DEFAULT_NETWORK_TIMEOUT    60.0

/* ---- calls ------------------------------------------------------------------------ */

/* What a call kind answers, as the Lua side sees it. */
enum triton_reply_shape {
    TRITON_REPLY_BOOLEAN, /* health and readiness: true or false */
    TRITON_REPLY_EMPTY,   /* writes that answer nothing */
    TRITON_REPLY_TABLE,   /* one JSON-shaped table */
    TRITON_REPLY_RESULT,  /* an inference result */
    TRITON_REPLY_EVENTS,  /* JSON-shaped events, then the end */
};

/* Where a fleet sends a call kind: reads go to one healthy server, writes to
 * every server, inference is balanced over the healthy ones. */
enum triton_call_route { TRITON_ROUTE_READ, TRITON_ROUTE_WRITE, TRITON_ROUTE_BALANCE };

/* Which transports carry a call kind (a bit per enum triton_protocol). */
#define TRITON_BOTH ((1u << TRITON_PROTOCOL_HTTP) | (1u << TRITON_PROTOCOL_GRPC))

/* Arguments a call kind cannot do without (checked once, in the call layer). */
#define TRITON_NEEDS_MODEL    (1u << 0) /* call->model */
#define TRITON_NEEDS_REGION   (1u << 1) /* call->region */
#define TRITON_NEEDS_KEY      (1u << 2) /* call->key */
#define TRITON_NEEDS_HANDLE   (1u << 3) /* call->raw_handle */
#define TRITON_NEEDS_SETTINGS (1u << 4) /* call->settings, an object */
#define TRITON_NEEDS_INFER    (1u << 5) /* call->infer, with a model */

/* The call table: every request a client can make, and the facts about it that
 * every layer needs. X(ENUM, "Lua method name", reply shape, idempotent (may be
 * retried), fleet route, transports, the arguments it cannot do without). Each transport keeps its
 * own table of how to encode and decode each kind, indexed by the same enum; nothing else switches
 * on call kinds. */
#define TRITON_CALL_KINDS(X)                                                                       \
    X(SERVER_LIVE, "is_server_live", BOOLEAN, true, READ, TRITON_BOTH, 0)                          \
    X(SERVER_READY, "is_server_ready", BOOLEAN, true, READ, TRITON_BOTH, 0)                        \
    X(MODEL_READY, "is_model_ready", BOOLEAN, true, READ, TRITON_BOTH, TRITON_NEEDS_MODEL)         \
    X(SERVER_METADATA, "server_metadata", TABLE, true, READ, TRITON_BOTH, 0)                       \
    X(MODEL_METADATA, "model_metadata", TABLE, true, READ, TRITON_BOTH, TRITON_NEEDS_MODEL)        \
    X(MODEL_CONFIG, "model_config", TABLE, true, READ, TRITON_BOTH, TRITON_NEEDS_MODEL)            \
    X(REPOSITORY_INDEX, "model_repository_index", TABLE, true, READ, TRITON_BOTH, 0)               \
    X(LOAD_MODEL, "load_model", EMPTY, false, WRITE, TRITON_BOTH, TRITON_NEEDS_MODEL)              \
    X(UNLOAD_MODEL, "unload_model", EMPTY, false, WRITE, TRITON_BOTH, TRITON_NEEDS_MODEL)          \
    X(STATISTICS, "inference_statistics", TABLE, true, READ, TRITON_BOTH, 0)                       \
    X(TRACE_SETTINGS, "trace_settings", TABLE, true, READ, TRITON_BOTH, 0)                         \
    X(UPDATE_TRACE_SETTINGS, "update_trace_settings", TABLE, true, WRITE, TRITON_BOTH,             \
      TRITON_NEEDS_SETTINGS)                                                                       \
    X(LOG_SETTINGS, "log_settings", TABLE, true, READ, TRITON_BOTH, 0)                             \
    X(UPDATE_LOG_SETTINGS, "update_log_settings", TABLE, true, WRITE, TRITON_BOTH,                 \
      TRITON_NEEDS_SETTINGS)                                                                       \
    X(SYSTEM_SHM_STATUS, "system_shared_memory_status", TABLE, true, READ, TRITON_BOTH, 0)         \
    X(SYSTEM_SHM_REGISTER, "register_system_shared_memory", EMPTY, false, WRITE, TRITON_BOTH,      \
      TRITON_NEEDS_REGION | TRITON_NEEDS_KEY)                                                      \
    X(SYSTEM_SHM_UNREGISTER, "unregister_system_shared_memory", EMPTY, false, WRITE, TRITON_BOTH,  \
      0)                                                                                           \
    X(CUDA_SHM_STATUS, "cuda_shared_memory_status", TABLE, true, READ, TRITON_BOTH, 0)             \
    X(CUDA_SHM_REGISTER, "register_cuda_shared_memory", EMPTY, false, WRITE, TRITON_BOTH,          \
      TRITON_NEEDS_REGION | TRITON_NEEDS_HANDLE)                                                   \
    X(CUDA_SHM_UNREGISTER, "unregister_cuda_shared_memory", EMPTY, false, WRITE, TRITON_BOTH, 0)   \
    X(INFER, "infer", RESULT, true, BALANCE, TRITON_BOTH, TRITON_NEEDS_INFER)                      \
    X(GENERATE, "generate", TABLE, true, BALANCE, TRITON_BOTH,                                     \
      TRITON_NEEDS_MODEL | TRITON_NEEDS_SETTINGS)                                                  \
    X(GENERATE_STREAM, "generate_stream", EVENTS, false, BALANCE, TRITON_BOTH,                     \
      TRITON_NEEDS_MODEL | TRITON_NEEDS_SETTINGS)

enum triton_call_kind {
#define X(e, name, reply, idem, route, tr, needs) TRITON_CALL_##e,
    TRITON_CALL_KINDS(X)
#undef X
        TRITON_CALL_NKINDS
};

struct triton_call_info {
    const char *name;
    enum triton_reply_shape reply;
    bool idempotent;
    enum triton_call_route route;
    unsigned transports;
    unsigned needs; /* TRITON_NEEDS_* */
};

/* The row for `kind`; NULL for a value outside the enum. */
const struct triton_call_info *triton_call_info(enum triton_call_kind kind);
const char *triton_call_kind_name(enum triton_call_kind kind);

struct triton_call;

/* What a call produced. The completion may take ownership of `json` or
 * `result` by setting the field to NULL; whatever is left is freed after it
 * returns. */
struct triton_reply {
    bool boolean;                       /* health and readiness calls */
    cJSON *json;                        /* control-plane calls, generate, generate_stream events */
    struct triton_infer_result *result; /* infer and stream responses */
};

/* Runs on the loop's thread once per reply; for a call that produces several
 * (generate_stream, a stream) once per reply with final = false and once more
 * with final = true (reply may then be empty). On failure err is set and it is
 * the last invocation. */
typedef void (*triton_call_done_fn)(struct triton_call *call, struct triton_reply *reply,
                                    const struct triton_error *err, bool final);

struct triton_bytes {
    const char *key;
    const void *data;
    size_t len;
};

struct triton_call {
    enum triton_call_kind kind;
    /* arguments: each kind reads those it needs */
    const char *model, *version;
    const char *region;     /* shared-memory region name; NULL = all */
    const char *key;        /* system shm key */
    const void *raw_handle; /* CUDA IPC handle bytes */
    size_t raw_handle_len;
    int64_t device_id;
    uint64_t byte_size, offset;
    bool flag;                        /* repository index: ready only; unload: unload_dependents */
    const char *config_json;          /* load: config override */
    const struct triton_bytes *files; /* load: "file:<version>/<name>" -> bytes */
    size_t n_files;
    const cJSON *settings; /* update_*_settings; generate request body */
    const struct triton_infer_request *infer;
    /* per call */
    const struct triton_kv *headers;
    size_t n_headers;
    const struct triton_kv *query; /* HTTP query parameters */
    size_t n_query;
    double timeout; /* seconds: a deadline for the whole call; 0 = none */

    triton_call_done_fn done;
    void *user;

    /* kept by the call layer and the transport: */
    bool finished;         /* set to true just before the final done runs */
    void *transport_state; /* the transport's per-call state while on the wire */
    /* What the transport sends as headers (HTTP) or metadata (gRPC): the
     * client's, each replaced by a per-call header of the same name, then the
     * call's own. Valid from submit until the final done. */
    const struct triton_kv *send_headers;
    size_t n_send_headers;
    struct triton_call_layer { /* private to src/client */
        struct triton_client *client;
        struct triton_call *prev, *next; /* the client's queue or wire list */
        int where;                       /* enum in client.c */
        struct triton_kv *headers;
        double deadline, last_activity; /* triton_loop_now() times; 0 = none */
        struct triton_loop_timer timer;
        struct triton_loop_deferred ending;
        /* why the call layer ended the call; last, so that a submit can
         * leave its message out of what it zeroes */
        struct triton_error abort;
    } layer;
    struct triton_call_fleet { /* private to src/client/fleet.c */
        struct triton_fleet *fleet;
        struct fleet_server *server; /* the one carrying (or last carrying) it */
        triton_call_done_fn done;    /* the caller's */
        void *user;
        int attempt;
        bool pinned;            /* sent to one named server: never moved */
        double started, budget; /* submit time, the caller's timeout (retries share it) */
        struct triton_loop_timer retry_timer;  /* armed while waiting to retry */
        struct triton_loop_deferred cancelled; /* completes a call cancelled then */
        struct triton_call *next_waiting;      /* the fleet's calls waiting to retry */
        struct fleet_fanout *fanout;           /* a write sent to every server */
    } fleet;
};

/* ---- streams (ModelStreamInfer; gRPC only) ---------------------------------------------- */

struct triton_stream {
    /* Called once per response (reply->result) or in-band error (err set, final
     * false: the stream stays open); finally once with final = true when the
     * stream ends (err set if it ended badly). A stream has no call of its own:
     * the `call` passed is a transport-owned one whose `user` is this stream's
     * `user`, valid only during the callback. */
    triton_call_done_fn done;
    void *user;
    const struct triton_kv *headers;
    size_t n_headers;
    double timeout; /* seconds for the whole stream; 0 = none */
    /* End the stream with the error's own status at the server's first error
     * (one-request streams such as stream_infer), instead of reporting errors
     * in-band and staying open (start_stream). */
    bool status_errors;
    bool finished; /* set by the transport just before the final done */
    void *transport_state;
    struct triton_stream_layer { /* private to src/client */
        struct triton_client *client;
        double last_activity; /* triton_loop_now() of the last message */
        struct triton_loop_timer timer;
        struct triton_error abort; /* why the call layer ended the stream */
    } layer;
};

/* ---- the client and its transport ------------------------------------------------------ */

struct triton_client;

struct triton_transport {
    const char *name; /* "http" or "grpc" */
    /* Puts a call on the wire now (the call layer has already queued it behind
     * the concurrency limit). It ends with triton_call_finish(final = true),
     * from a step. On failure nothing was started and nothing is finished. */
    int (*submit)(struct triton_client *c, struct triton_call *call, struct triton_error *err);
    /* Takes a call off the wire: the transport stops its I/O, must never finish
     * it, and frees its own state when it can. The call layer completes it. */
    void (*cancel)(struct triton_client *c, struct triton_call *call);
    int (*stream_open)(struct triton_client *c, struct triton_stream *s, struct triton_error *err);
    int (*stream_send)(struct triton_client *c, struct triton_stream *s,
                       const struct triton_infer_request *req, struct triton_error *err);
    /* Half-closes: the server finishes what was sent, then done runs with final. */
    void (*stream_close)(struct triton_client *c, struct triton_stream *s);
    void (*stream_cancel)(struct triton_client *c, struct triton_stream *s);
    /* Cancels everything in flight, waits for it to drain, frees transport state. */
    void (*destroy)(struct triton_client *c);
};

struct triton_client {
    const struct triton_transport *transport;
    void *transport_state;
    struct triton_loop *loop; /* not owned: several clients may share one loop */
    enum triton_protocol protocol;
    char *url;
    bool verbose;
    /* the call layer's own */
    void (*log)(void *log_ctx, const char *line);
    void *log_ctx;
    struct triton_kv *headers; /* the client's, copied */
    size_t n_headers;
    double connection_timeout, network_timeout; /* resolved: > 0, INFINITY = none */
    int concurrency, on_wire;
    struct triton_call *queue_head, *queue_tail, *wire;
};

/* Creates a client on `loop` with the transport for opts->protocol. */
struct triton_client *triton_client_new(struct triton_loop *loop,
                                        const struct triton_client_options *opts,
                                        struct triton_error *err);
/* Ends every call queued or on the wire now, from inside this function, with
 * CANCELLED ("the client was closed"). */
void triton_client_cancel_all(struct triton_client *c);
/* Cancels calls in flight (their done runs with CANCELLED from inside this
 * function) and frees the client. */
void triton_client_free(struct triton_client *c);

/* Whether a call has the arguments its kind cannot do without; the one
 * place that says "X needs a model name". */
int triton_call_check(const struct triton_call *call, struct triton_error *err);

/* Sends a call, or queues it while `concurrency` calls are on the wire. Its
 * done runs from a step, always, once submit has returned 0: with the reply, or
 * with the failure (a deadline or inactivity limit of the call layer's, a
 * cancel, the transport's error). */
int triton_client_submit(struct triton_client *c, struct triton_call *call,
                         struct triton_error *err);

/* For transports: a reply (or an event of one) for a call on the wire. The
 * final one ends the call: the call layer judges it, frees the slot, sends the
 * next queued call and runs done. */
void triton_call_finish(struct triton_call *call, struct triton_reply *reply,
                        const struct triton_error *err, bool final);
/* For transports: bytes arrived for a call on the wire (resets its inactivity
 * limit). */
void triton_call_activity(struct triton_call *call);
/* For transports: a stream's reply, in-band error or end (final). The one way
 * a transport reports on a stream, as triton_call_finish is for calls. */
void triton_stream_finish(struct triton_stream *s, struct triton_call *as_call,
                          struct triton_reply *reply, const struct triton_error *err, bool final);
/* The verbose log of a client, the one sink both transports and the call layer
 * write to (no-op unless the client is verbose): opts->log, else stderr. */
void triton_client_vlogf(struct triton_client *c, const char *fmt, va_list ap);
void triton_client_logf(struct triton_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Steps the client's loop until call->finished (other calls' completions run
 * meanwhile, as they would in any step). */
int triton_call_wait(struct triton_client *c, struct triton_call *call, struct triton_error *err);

/* Cancels a call in flight: its done runs later, from a step, with CANCELLED
 * (unless it already finished). */
void triton_client_cancel(struct triton_client *c, struct triton_call *call);

/* Streams (ModelStreamInfer): see struct triton_stream. Over a transport
 * without streams, open fails with a clear error. */
int triton_client_stream_open(struct triton_client *c, struct triton_stream *s,
                              struct triton_error *err);
int triton_client_stream_send(struct triton_client *c, struct triton_stream *s,
                              const struct triton_infer_request *req, struct triton_error *err);
void triton_client_stream_close(struct triton_client *c, struct triton_stream *s);
void triton_client_stream_cancel(struct triton_client *c, struct triton_stream *s);

/* Transport constructors (src/http/http.c, src/grpc/grpc.c): fill in
 * c->transport and c->transport_state. */
int triton_http_init(struct triton_client *c, const struct triton_client_options *opts,
                     struct triton_error *err);
int triton_grpc_init(struct triton_client *c, const struct triton_client_options *opts,
                     struct triton_error *err);

#endif
