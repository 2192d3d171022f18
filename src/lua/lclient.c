/*
 * lclient.c: the client binding, a thin layer over src/client (client.h).
 *
 * What it adds to triton.core (lua/triton/client.lua builds API.md on top):
 *   core.client_new(opts)           -> a core client (userdata triton.core.Client)
 *   cc:call(kind, args)             a blocking call: the reply as a Lua value
 *   cc:submit(kind, args [, cb])    -> triton.Future; cb(value, err, final) per reply
 *   cc:stream_open(cb, opts)  cc:stream_send(req)  cc:stream_close()  cc:stream_cancel()
 *   cc:close()   core.step([timeout])   core.Error (the triton.Error metatable)
 *   future:done()  future:get_result()  future:cancel()
 *   core.set_tasks(t)  core.take_woken()  core.await_token   (lua/triton/spawn.lua)
 *   core.rusage()  core.isatty(fd)                            (lua/triton/perf.lua, bench/)
 *   result:as_tensor(name) :output(name) :outputs() :response() :classification(name)
 *
 * Ownership. Every call is a struct lcall in C memory, owned by its Future
 * userdata (a blocking call makes one too, on the stack). While a call is in
 * flight a registry reference (the anchor) keeps its client, callback and
 * Future alive, so neither can be collected under the transport. What the
 * transport reads is owned by the call in C: the argument strings are copied
 * into the call's arena and every input tensor is held as a C view (a buffer
 * reference), so the call never points into a Lua object.
 *
 * Completions never touch Lua. The transport's `done` runs inside
 * triton_loop_step (or inside triton_client_free) and only queues the reply on
 * the call; after the step returns, lstate_step hands queued replies to Lua
 * (converts them, runs callbacks under pcall, drops the anchor at the final
 * reply). A call whose Future was finalized while in flight (only possible at
 * lua_close) is orphaned: its replies are dropped and `done` frees it.
 *
 * The loop is one per Lua state, kept in a registry sentinel whose __gc frees it
 * when the state closes. Finalizers run in reverse order of creation, and the
 * sentinel is made before the first client, so every client is freed before
 * the loop it runs on.
 *
 * Coroutines. lua/triton/spawn.lua registers the coroutines it runs in a table
 * (core.set_tasks). A blocking wait (future:get_result, hence cc:call) inside one
 * of them does not step the loop: it records the coroutine in the future's
 * anchor (slot 4, a list of waiters) and yields core.await_token to the
 * scheduler. When deliver() hands over the final reply it moves those waiters to
 * the woken list, which the scheduler collects with core.take_woken() after each
 * step and resumes; the continuation then returns the value or raises.
 *
 * Interrupts. Every wait here polls in slices of WAIT_SLICE seconds and checks
 * triton_lua_interrupted, which a host's SIGINT handler sets through
 * triton_lua_interrupt() (include/triton_lua.h; the flag is in lclient.h): a
 * signal handler may not wake the loop itself. Seeing it, the wait cancels every
 * call and stream in flight on the state and raises a "cancelled" triton.Error
 * whose message is "interrupted".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "client/client.h"
#include "common/secret.h"
#include "lua/lcjson.h"
#include "lua/lclient.h"
#include "lua/lcore.h"
#include "lua/ltensor.h"
#include "triton_lua.h"
#include "wire/classification.h"

#define LSTATE_KEY  "triton.core.state"
#define LTASKS_KEY  "triton.core.tasks"
#define LWOKEN_KEY  "triton.core.woken"
#define WAIT_SLICE  0.1
#define LCLIENT_MT  "triton.core.Client"
#define LFUTURE_MT  "triton.Future"
#define LRESULT_MT  "triton.InferResult"
#define MAX_HEADERS 1024

/* ---- triton.Error ------------------------------------------------------------------ */

void lerror_push(lua_State *L, const struct triton_error *err, enum lerror_origin origin)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, err->message[0] ? err->message : triton_code_word(err->code));
    lua_setfield(L, -2, "message");
    lua_pushstring(L, triton_code_word(err->code == TRITON_OK ? TRITON_UNKNOWN : err->code));
    lua_setfield(L, -2, "code");
    if (origin == LERROR_HTTP && err->status > 0) {
        lua_pushinteger(L, err->status);
        lua_setfield(L, -2, "status");
    } else if (origin == LERROR_GRPC && err->status > 0 && triton_grpc_status_name(err->status)) {
        lua_pushstring(L, triton_grpc_status_name(err->status));
        lua_setfield(L, -2, "status");
    }
    luaL_setmetatable(L, LERROR_MT);
}

int lerror_raise(lua_State *L, const struct triton_error *err, enum lerror_origin origin)
{
    lerror_push(L, err, origin);
    return lua_error(L);
}

int lerror_raisef(lua_State *L, enum triton_code code, const char *fmt, ...)
{
    struct triton_error err = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    return lerror_raise(L, &err, LERROR_LOCAL);
}

/* "triton.Error: not_found (HTTP 400): Request for unknown model ..." */
static int error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "status");
    lua_getfield(L, 1, "message");
    const char *code = lua_isstring(L, 2) ? lua_tostring(L, 2) : "unknown";
    const char *msg = lua_isstring(L, 4) ? lua_tostring(L, 4) : "";
    if (lua_type(L, 3) == LUA_TNUMBER)
        lua_pushfstring(L, "triton.Error: %s (HTTP %d): %s", code, (int)lua_tointeger(L, 3), msg);
    else if (lua_type(L, 3) == LUA_TSTRING)
        lua_pushfstring(L, "triton.Error: %s (gRPC %s): %s", code, lua_tostring(L, 3), msg);
    else
        lua_pushfstring(L, "triton.Error: %s: %s", code, msg);
    return 1;
}

void lerror_open(lua_State *L)
{
    luaL_newmetatable(L, LERROR_MT);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setfield(L, -2, "Error");
}

/* ---- the per-state loop ------------------------------------------------------------- */

struct lsink;

struct lstream;

struct lclient;

struct lstate {
    struct triton_loop *loop;
    struct lsink *ready, *ready_tail; /* sinks with replies to hand to Lua */
    struct lstream *streams;          /* open streams, to route their completions */
    struct lclient *clients;          /* open clients: what an interrupt cancels */
    size_t reply_bytes;               /* reply memory handed to Lua since the last collect_if_due */
};

volatile sig_atomic_t triton_lua_interrupted;

void triton_lua_interrupt(void)
{
    triton_lua_interrupted = 1;
}

static int state_gc(lua_State *L)
{
    struct lstate *st = lua_touserdata(L, 1);
    if (st->loop) {
        triton_loop_free(st->loop);
        st->loop = NULL;
    }
    return 0;
}

static struct lstate *get_state(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, LSTATE_KEY) == LUA_TUSERDATA) {
        struct lstate *st = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return st;
    }
    lua_pop(L, 1);
    struct lstate *st = lua_newuserdatauv(L, sizeof(*st), 0);
    memset(st, 0, sizeof(*st));
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    struct triton_error err = {0};
    st->loop = triton_loop_new(&err);
    if (!st->loop)
        lerror_raise(L, &err, LERROR_LOCAL);
    lua_setfield(L, LUA_REGISTRYINDEX, LSTATE_KEY);
    return st;
}

/* ---- memory a request owns ------------------------------------------------------------ */

struct lmem_block {
    struct lmem_block *next;
    max_align_t data[];
};

struct lhold { /* an input tensor held by a request */
    struct lhold *next;
    struct tensor t;
};

struct lmem {
    struct lmem_block *blocks;
    struct lhold *tensors;
    cJSON *json; /* settings or a generate body */
};

static void *lmem_alloc(lua_State *L, struct lmem *m, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct lmem_block))
        luaL_error(L, "request too large");
    struct lmem_block *b = calloc(1, sizeof(*b) + size);
    if (!b)
        luaL_error(L, "out of memory building a request");
    b->next = m->blocks;
    m->blocks = b;
    return b->data;
}

static void *lmem_array(lua_State *L, struct lmem *m, size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n)
        luaL_error(L, "request too large");
    return n ? lmem_alloc(L, m, n * size) : NULL;
}

static const char *lmem_strdup(lua_State *L, struct lmem *m, const char *s, size_t len)
{
    char *p = lmem_alloc(L, m, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void lmem_free(struct lmem *m)
{
    for (struct lhold *h = m->tensors; h; h = h->next)
        tensor_release(&h->t);
    m->tensors = NULL;
    cJSON_Delete(m->json);
    m->json = NULL;
    while (m->blocks) {
        struct lmem_block *next = m->blocks->next;
        free(m->blocks);
        m->blocks = next;
    }
}

/* ---- sinks: where a call's or a stream's replies wait for Lua ----------------------------- */

struct levent {
    struct levent *next;
    bool has_reply;
    struct triton_reply reply; /* owned: json, result */
    bool failed;
    struct triton_error err;
    bool final;
};

struct lclient;

struct lsink {
    struct lstate *st;
    struct lclient *lc; /* NULL after the final reply */
    enum triton_call_kind kind;
    enum lerror_origin origin;
    struct levent *head, *tail;
    struct lsink *ready_next;
    bool queued;    /* on st->ready */
    int anchor;     /* registry ref: {client, callback, future}; LUA_NOREF when dropped */
    bool has_cb;    /* deliver replies to a Lua callback */
    bool orphaned;  /* the Lua side is gone: drop replies, free at the final one */
    bool started;   /* submitted to the transport */
    bool finished;  /* the final reply arrived from the transport */
    bool delivered; /* the final reply was handed to Lua */
    bool is_stream;
    struct lmem mem;
};

struct lcall {
    struct lsink sink;
    struct triton_call call;
    struct lcall *prev, *next; /* the client's calls in flight */
};

struct lstream {
    struct lsink sink;
    struct triton_stream s;
    struct lstream *next_open; /* on st->streams while open */
};

struct lclient {
    struct triton_client *c; /* NULL once closed */
    struct lstate *st;
    struct lclient *next_open, *prev_open; /* on st->clients while open */
    struct lcall *calls;
    struct lstream *stream;
    enum lerror_origin origin;
    struct lmem opts; /* option arrays the client was made from */
};

static void event_free(struct levent *ev)
{
    cJSON_Delete(ev->reply.json);
    triton_infer_result_free(ev->reply.result);
    free(ev);
}

static void sink_clear_events(struct lsink *k)
{
    while (k->head) {
        struct levent *next = k->head->next;
        event_free(k->head);
        k->head = next;
    }
    k->tail = NULL;
}

static void sink_unqueue(struct lsink *k)
{
    if (!k->queued)
        return;
    struct lstate *st = k->st;
    struct lsink **pp = &st->ready, *prev = NULL;
    while (*pp && *pp != k) {
        prev = *pp;
        pp = &(*pp)->ready_next;
    }
    if (*pp) {
        *pp = k->ready_next;
        if (st->ready_tail == k)
            st->ready_tail = prev;
    }
    k->queued = false;
}

static void stream_unlist(struct lstream *s)
{
    for (struct lstream **pp = &s->sink.st->streams; *pp; pp = &(*pp)->next_open) {
        if (*pp == s) {
            *pp = s->next_open;
            break;
        }
    }
    s->next_open = NULL;
}

static void sink_free(struct lsink *k)
{
    if (k->is_stream)
        stream_unlist((struct lstream *)k);
    sink_unqueue(k);
    sink_clear_events(k);
    lmem_free(&k->mem);
    free(k);
}

static void call_unlink(struct lcall *lc_call)
{
    struct lclient *lc = lc_call->sink.lc;
    if (!lc)
        return;
    if (lc_call->prev)
        lc_call->prev->next = lc_call->next;
    else if (lc->calls == lc_call)
        lc->calls = lc_call->next;
    if (lc_call->next)
        lc_call->next->prev = lc_call->prev;
    lc_call->prev = lc_call->next = NULL;
    lc_call->sink.lc = NULL;
}

/* The transport's completion: runs inside a loop step or triton_client_free, so
 * it only queues. */
static void sink_event(struct lsink *k, struct triton_reply *reply, const struct triton_error *err,
                       bool final)
{
    if (final) {
        k->finished = true;
        if (k->is_stream) {
            if (k->lc && k->lc->stream == (struct lstream *)k)
                k->lc->stream = NULL;
            k->lc = NULL;
        } else {
            call_unlink((struct lcall *)k);
        }
    }
    if (k->orphaned) {
        if (final)
            sink_free(k);
        return;
    }
    struct levent *ev = calloc(1, sizeof(*ev));
    if (!ev) {
        /* Out of memory: the reply is lost, but the final flag must not be, or a
         * waiter would wait forever. Mark the sink so that get_result reports it. */
        if (final) {
            ev = k->tail;
            if (ev)
                ev->final = true;
        }
        if (!ev)
            return;
    } else {
        if (reply) {
            ev->reply.boolean = reply->boolean;
            ev->reply.json = reply->json;
            ev->reply.result = reply->result;
            reply->json = NULL;
            reply->result = NULL;
            ev->has_reply = ev->reply.json || ev->reply.result ||
                            (k->kind != TRITON_CALL_GENERATE_STREAM && !k->is_stream);
        }
        if (err && err->code != TRITON_OK) {
            ev->failed = true;
            ev->err = *err;
        }
        ev->final = final;
        if (k->tail)
            k->tail->next = ev;
        else
            k->head = ev;
        k->tail = ev;
    }
    if (!k->queued) {
        k->queued = true;
        k->ready_next = NULL;
        if (k->st->ready_tail)
            k->st->ready_tail->ready_next = k;
        else
            k->st->ready = k;
        k->st->ready_tail = k;
    }
}

static void call_done(struct triton_call *call, struct triton_reply *reply,
                      const struct triton_error *err, bool final)
{
    sink_event(call->user, reply, err, final);
}

/* Streams reuse the call completion type, and client.h does not say what a
 * transport passes as `call` for a stream (src/grpc passes a call whose user is
 * the stream's user; another might pass the stream cast to a call, or NULL).
 * Completions only run inside the loop step or triton_client_free that this
 * thread entered for one Lua state, so that state's open streams are searched:
 * a pointer match first, else (NULL) the only open stream. */
static _Thread_local struct lstate *active_state;

static void stream_done(struct triton_call *call, struct triton_reply *reply,
                        const struct triton_error *err, bool final)
{
    struct lstate *st = active_state;
    struct lstream *match = NULL;
    for (struct lstream *s = st ? st->streams : NULL; s; s = s->next_open)
        if ((call && call->user == s) || (void *)call == (void *)&s->s)
            match = s;
    if (!match && !call && st && st->streams && !st->streams->next_open)
        match = st->streams;
    if (!match) {
        fprintf(stderr, "triton: a completion for an unknown stream was dropped\n");
        return;
    }
    if (final)
        stream_unlist(match);
    sink_event(&match->sink, reply, err, final);
}

/* ---- infer results -------------------------------------------------------------------- */

struct lresult {
    struct triton_infer_result *r; /* NULL once collected */
};

static struct triton_infer_result *check_result(lua_State *L, int idx)
{
    struct lresult *lr = luaL_checkudata(L, idx, LRESULT_MT);
    if (!lr->r)
        luaL_error(L, "attempt to use a released infer result");
    return lr->r;
}

static const struct triton_infer_output *find_output(const struct triton_infer_result *r,
                                                     const char *name)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].name, name) == 0)
            return &r->outputs[i];
    return NULL;
}

static void push_shape(lua_State *L, const int64_t *shape, int ndim)
{
    lua_createtable(L, ndim, 0);
    for (int i = 0; i < ndim; i++) {
        lua_pushinteger(L, (lua_Integer)shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static void push_output_tensor(lua_State *L, const struct triton_infer_output *o)
{
    if (!o || !o->has_data) {
        lua_pushnil(L);
        return;
    }
    struct tensor *t = ltensor_push(L);
    tensor_init_view(t, &o->tensor);
}

/* A reply's parameters as a table, empty when the reply had none (NULL). */
static void push_parameters(lua_State *L, const cJSON *parameters)
{
    if (parameters)
        lcjson_push(L, parameters);
    else
        lua_newtable(L);
}

static void push_output_info(lua_State *L, const struct triton_infer_output *o)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, o->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, o->datatype);
    lua_setfield(L, -2, "datatype");
    push_shape(L, o->shape, o->ndim);
    lua_setfield(L, -2, "shape");
    push_parameters(L, o->parameters);
    /* binary_data_size frames the HTTP body; it is not a property of the
     * output, and gRPC has no such parameter: drop it so that both transports
     * give the same table. */
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, "binary_data_size");
    }
    lua_setfield(L, -2, "parameters");
}

/* The output named by argument 2, or an error naming it. The name must be a
 * string: luaL_checkstring would turn r:as_tensor(5) into a lookup of "5". An
 * unknown name raises, as r:classification does, rather than returning nil that
 * a script would only trip over later (a typo in a name is a bug in the script). */
static const struct triton_infer_output *check_output(lua_State *L,
                                                      const struct triton_infer_result *r)
{
    if (lua_type(L, 2) != LUA_TSTRING)
        luaL_typeerror(L, 2, "string");
    const char *name = lua_tostring(L, 2);
    const struct triton_infer_output *o = find_output(r, name);
    if (!o)
        luaL_error(L, "no output '%s' in this result", name);
    return o;
}

/* r:as_tensor(name) -> tensor, or nil for an output placed in shared memory */
static int result_as_tensor(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    push_output_tensor(L, check_output(L, r));
    return 1;
}

/* r:output(name) -> {name=, datatype=, shape=, parameters=} */
static int result_output(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    push_output_info(L, check_output(L, r));
    return 1;
}

/* r:outputs() -> {NAME = tensor, ...} (outputs in shared memory are left out) */
static int result_outputs(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    lua_createtable(L, 0, (int)r->n_outputs);
    for (size_t i = 0; i < r->n_outputs; i++) {
        if (!r->outputs[i].has_data)
            continue;
        push_output_tensor(L, &r->outputs[i]);
        lua_setfield(L, -2, r->outputs[i].name);
    }
    return 1;
}

/* r:response() -> {model_name=, model_version=, id=, parameters=, outputs={info...}} */
static int result_response(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, r->model_name ? r->model_name : "");
    lua_setfield(L, -2, "model_name");
    lua_pushstring(L, r->model_version ? r->model_version : "");
    lua_setfield(L, -2, "model_version");
    if (r->id) {
        lua_pushstring(L, r->id);
        lua_setfield(L, -2, "id");
    }
    push_parameters(L, r->parameters);
    lua_setfield(L, -2, "parameters");
    lua_createtable(L, (int)r->n_outputs, 0);
    for (size_t i = 0; i < r->n_outputs; i++) {
        push_output_info(L, &r->outputs[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "outputs");
    return 1;
}

/* r:final() -> whether this response ends its request (streams) */
static int result_final(lua_State *L)
{
    lua_pushboolean(L, check_result(L, 1)->final);
    return 1;
}

/* Pushes one classification element "score:index[:label]" as {score=, index=,
 * label=}; the index is made 1-based like every index in the Lua API. */
static int push_class(lua_State *L, const char *str, size_t len, struct triton_error *err)
{
    struct wire_classification c;
    if (wire_classification_parse(str, len, &c, err) != 0)
        return -1;
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, c.score);
    lua_setfield(L, -2, "score");
    lua_pushinteger(L, (lua_Integer)c.index + 1);
    lua_setfield(L, -2, "index");
    if (c.label) {
        lua_pushlstring(L, c.label, c.label_len);
        lua_setfield(L, -2, "label");
    }
    return 0;
}

/* r:classification(name) -> for a [N] output a list of {score=, index=, label=};
 * for [B, N] a list of B such lists. */
static int result_classification(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const struct triton_infer_output *o = find_output(r, name);
    if (!o || !o->has_data)
        return luaL_error(L, "no output '%s' with data in this result", name);
    const struct tensor *t = &o->tensor;
    if (t->dtype != TENSOR_BYTES)
        return luaL_error(L, "output '%s' is %s, not a classification (BYTES) output", name,
                          tensor_dtype_name(t->dtype));
    int64_t rows = 1, cols = t->ndim >= 1 ? t->shape[t->ndim - 1] : 1;
    for (int d = 0; d + 1 < t->ndim; d++)
        rows *= t->shape[d];
    bool nested = t->ndim >= 2;
    if (nested)
        lua_createtable(L, rows > INT32_MAX ? 0 : (int)rows, 0);
    int64_t flat = 0;
    for (int64_t i = 0; i < rows; i++) {
        lua_createtable(L, cols > INT32_MAX ? 0 : (int)cols, 0);
        for (int64_t j = 0; j < cols; j++, flat++) {
            const struct tensor_str *e = tensor_elem_ptr(t, flat);
            struct triton_error err = {0};
            if (push_class(L, e->ptr, e->len, &err) != 0)
                return lerror_raise(L, &err, LERROR_LOCAL);
            lua_rawseti(L, -2, (lua_Integer)j + 1);
        }
        if (nested)
            lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int result_gc(lua_State *L)
{
    struct lresult *lr = luaL_checkudata(L, 1, LRESULT_MT);
    triton_infer_result_free(lr->r);
    lr->r = NULL;
    return 0;
}

static int result_tostring(lua_State *L)
{
    struct lresult *lr = luaL_checkudata(L, 1, LRESULT_MT);
    if (!lr->r) {
        lua_pushliteral(L, "triton.InferResult(released)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "triton.InferResult(%s", lr->r->model_name ? lr->r->model_name : "?");
    luaL_addvalue(&b);
    for (size_t i = 0; i < lr->r->n_outputs; i++) {
        lua_pushfstring(L, "%s %s %s", i ? "," : ":", lr->r->outputs[i].name,
                        lr->r->outputs[i].datatype);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

/* Bytes of C memory a result keeps alive (each distinct buffer once). */
static size_t result_bytes(const struct triton_infer_result *r)
{
    size_t total = 0;
    const struct tensor_buffer *last = NULL;
    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct tensor_buffer *b = r->outputs[i].has_data ? r->outputs[i].tensor.buf : NULL;
        if (b && b != last)
            total += b->size;
        last = b ? b : last;
    }
    return total;
}

/* Lua's collector sees only the small userdata of a result, not the reply body
 * it holds: a loop of c:infer calls on 64 MiB tensors would keep every
 * discarded result's body until some unrelated collection, several bodies at
 * once. So replies are counted, and before the next call starts (before its
 * reply is allocated) a full collection runs once they add up to the Lua heap's
 * own size (at least REPLY_GC_MIN): the pacing Lua uses for its own memory. */
#define REPLY_GC_MIN ((size_t)16 << 20)

static void collect_if_due(lua_State *L, struct lstate *st)
{
    if (st->reply_bytes < REPLY_GC_MIN)
        return;
    size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024;
    if (st->reply_bytes < heap || !lua_gc(L, LUA_GCISRUNNING))
        return;
    st->reply_bytes = 0;
    lua_gc(L, LUA_GCCOLLECT);
}

/* Takes ownership of r (freed if pushing fails). */
static void push_result(lua_State *L, struct lstate *st, struct triton_infer_result *r)
{
    size_t bytes = result_bytes(r);
    st->reply_bytes = bytes > SIZE_MAX - st->reply_bytes ? SIZE_MAX : st->reply_bytes + bytes;
    struct lresult *lr = lua_newuserdatauv(L, sizeof(*lr), 0);
    lr->r = NULL;
    luaL_setmetatable(L, LRESULT_MT);
    lr->r = r;
}

/* ---- futures -------------------------------------------------------------------------- */

/* uservalues: 1 = the last reply's value, 2 = the error, if any */
struct lfuture {
    struct lcall *call; /* owned; NULL after __gc */
};

static struct lfuture *check_future(lua_State *L, int idx)
{
    struct lfuture *f = luaL_checkudata(L, idx, LFUTURE_MT);
    if (!f->call)
        luaL_error(L, "attempt to use a released future");
    return f;
}

/* Converts an event's reply into one Lua value; runs under pcall (arg 1: sink,
 * arg 2: event), since a deep or huge reply can raise. */
static int convert_event(lua_State *L)
{
    struct lsink *k = lua_touserdata(L, 1);
    struct levent *ev = lua_touserdata(L, 2);
    enum triton_reply_shape shape = triton_call_info(k->kind)->reply;
    if (!ev->has_reply || shape == TRITON_REPLY_EMPTY) {
        lua_pushnil(L);
    } else if (shape == TRITON_REPLY_BOOLEAN) {
        lua_pushboolean(L, ev->reply.boolean);
    } else if (ev->reply.result) {
        struct triton_infer_result *r = ev->reply.result;
        ev->reply.result = NULL;
        push_result(L, k->st, r);
    } else {
        lcjson_push(L, ev->reply.json);
    }
    return 1;
}

static int traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Moves the coroutines waiting for this call (slot 4 of the anchor at index
 * `anchor`, see future_get_result) to the woken list of core.take_woken. */
static void wake_waiters(lua_State *L, int anchor)
{
    if (lua_rawgeti(L, anchor, 4) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int waiters = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, LWOKEN_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 8, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, LWOKEN_KEY);
    }
    int woken = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, woken);
    lua_Integer m = (lua_Integer)lua_rawlen(L, waiters);
    for (lua_Integer i = 1; i <= m; i++) {
        lua_rawgeti(L, waiters, i);
        lua_rawseti(L, woken, ++n);
    }
    lua_settop(L, waiters - 1);
}

/* Hands one sink's queued replies to Lua: each becomes the future's value (or
 * error) and, with a callback, is passed to it as cb(value, err, final). The
 * anchor (slot 3 holds the future, slot 2 the callback) is pushed first so that
 * neither can be collected while we are in here. */
static void deliver(lua_State *L, struct lsink *k)
{
    if (k->anchor == LUA_NOREF)
        return;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->anchor);
    int anchor = lua_gettop(L);
    lua_rawgeti(L, anchor, 3);
    int fut = lua_gettop(L); /* nil for a stream */
    struct levent *ev;
    while (!k->delivered && (ev = k->head) != NULL) {
        k->head = ev->next;
        if (!k->head)
            k->tail = NULL;
        int value = 0, errv = 0;
        if (ev->failed) {
            lua_pushnil(L);
            value = lua_gettop(L);
            lerror_push(L, &ev->err, k->origin);
            errv = lua_gettop(L);
        } else {
            lua_pushcfunction(L, convert_event);
            lua_pushlightuserdata(L, k);
            lua_pushlightuserdata(L, ev);
            if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
                struct triton_error err = {.code = TRITON_INTERNAL};
                snprintf(err.message, sizeof err.message, "converting the reply failed: %s",
                         lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)");
                lua_pop(L, 1);
                lua_pushnil(L);
                lerror_push(L, &err, LERROR_LOCAL);
                errv = lua_gettop(L);
            } else {
                lua_pushnil(L);
            }
            value = lua_gettop(L) - 1;
        }
        if (lua_type(L, fut) == LUA_TUSERDATA && (ev->has_reply || ev->failed)) {
            lua_pushvalue(L, value);
            lua_setiuservalue(L, fut, 1);
            lua_pushvalue(L, errv ? errv : value + 1);
            lua_setiuservalue(L, fut, 2);
        }
        bool final = ev->final;
        bool show = ev->has_reply || ev->failed || final;
        event_free(ev);
        if (final) {
            k->delivered = true;
            wake_waiters(L, anchor);
            luaL_unref(L, LUA_REGISTRYINDEX, k->anchor);
            k->anchor = LUA_NOREF;
        }
        if (k->has_cb && show) {
            lua_pushcfunction(L, traceback_handler);
            lua_rawgeti(L, anchor, 2);
            lua_pushvalue(L, value);
            if (errv)
                lua_pushvalue(L, errv);
            else
                lua_pushnil(L);
            lua_pushboolean(L, final);
            if (lua_pcall(L, 3, 0, -5) != LUA_OK) {
                fprintf(stderr, "triton: error in a callback: %s\n", lua_tostring(L, -1));
                fflush(stderr);
                lua_pop(L, 1);
            }
            lua_pop(L, 1); /* the handler */
        }
        lua_settop(L, fut);
    }
    if (!k->delivered && k->finished && !k->head) {
        /* The final reply could not be queued (out of memory): end the call here. */
        struct triton_error err = {.code = TRITON_NO_MEMORY};
        snprintf(err.message, sizeof err.message, "out of memory receiving a reply");
        if (lua_type(L, fut) == LUA_TUSERDATA) {
            lerror_push(L, &err, LERROR_LOCAL);
            lua_setiuservalue(L, fut, 2);
        }
        k->delivered = true;
        wake_waiters(L, anchor);
        luaL_unref(L, LUA_REGISTRYINDEX, k->anchor);
        k->anchor = LUA_NOREF;
    }
    bool free_stream = k->is_stream && k->delivered;
    lua_settop(L, top);
    if (free_stream)
        sink_free(k); /* streams have no future to own them */
}

static int drain(lua_State *L, struct lstate *st)
{
    int n = 0;
    while (st->ready) {
        struct lsink *k = st->ready;
        st->ready = k->ready_next;
        if (!st->ready)
            st->ready_tail = NULL;
        k->queued = false;
        deliver(L, k);
        n++;
    }
    return n;
}

/* One loop step plus the Lua side of what completed. -1 with err on failure. */
static int lstate_step(lua_State *L, struct lstate *st, double timeout, struct triton_error *err)
{
    /* Replies handed to Lua count as progress as much as completed transfers do:
     * a server-sent event arrives inside a transfer that is still running, and a
     * waiting iterator must see it now, not when the stream ends. */
    int delivered = drain(L, st);
    struct lstate *outer = active_state;
    active_state = st;
    int ran = triton_loop_step(st->loop, delivered > 0 ? 0 : timeout, err);
    active_state = outer;
    if (ran < 0)
        return -1;
    delivered += drain(L, st);
    return ran + delivered;
}

/* Cancels every call and stream in flight on the state; their completions
 * arrive in later steps. */
static void lstate_cancel_all(struct lstate *st)
{
    for (struct lclient *lc = st->clients; lc; lc = lc->next_open) {
        if (!lc->c)
            continue;
        for (struct lcall *c = lc->calls, *next; c; c = next) {
            next = c->next;
            if (c->sink.started && !c->sink.finished)
                triton_client_cancel(lc->c, &c->call);
        }
        if (lc->stream)
            triton_client_stream_cancel(lc->c, &lc->stream->s);
    }
}

/* Raises "interrupted" (after cancelling what is in flight) if the host saw a
 * Ctrl-C since the last check. */
static void check_interrupt(lua_State *L, struct lstate *st)
{
    if (!triton_lua_interrupted)
        return;
    triton_lua_interrupted = 0;
    lstate_cancel_all(st);
    lerror_raisef(L, TRITON_CANCELLED, "interrupted");
}

/* Steps until the sink's final reply was handed to Lua. */
static void sink_wait(lua_State *L, struct lsink *k)
{
    struct triton_error err = {0};
    while (!k->delivered) {
        if (k->finished) {
            sink_unqueue(k);
            deliver(L, k);
            continue;
        }
        int ran = lstate_step(L, k->st, WAIT_SLICE, &err);
        if (ran < 0)
            lerror_raise(L, &err, LERROR_LOCAL);
        check_interrupt(L, k->st);
        if (ran == 0 && !k->finished && triton_loop_pending(k->st->loop) == 0)
            lerror_raisef(L, TRITON_INTERNAL, "%s: the call was lost by its transport",
                          triton_call_kind_name(k->kind));
    }
}

/* What a waiting coroutine yields to the scheduler (core.await_token). */
static const char await_token = 0;

/* Whether L is a coroutine that lua/triton/spawn.lua runs (and may yield). */
static bool in_task(lua_State *L)
{
    if (!lua_isyieldable(L))
        return false;
    if (lua_getfield(L, LUA_REGISTRYINDEX, LTASKS_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        return false;
    }
    lua_pushthread(L);
    lua_rawget(L, -2);
    bool r = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return r;
}

/* future:done() -> true once the final reply has been handed over */
static int future_done(lua_State *L)
{
    struct lfuture *f = check_future(L, 1);
    if (!f->call->sink.delivered && f->call->sink.finished)
        drain(L, f->call->sink.st);
    lua_pushboolean(L, f->call->sink.delivered);
    return 1;
}

static int future_get_result_k(lua_State *L, int status, lua_KContext ctx);

/* future:get_result() -> the value; raises the call's triton.Error. Inside a
 * spawned coroutine it yields until the reply is in instead of stepping. The
 * future must be at index 1 and alone above it (cc:call relies on this too). */
static int future_get_result(lua_State *L)
{
    struct lfuture *f = check_future(L, 1);
    struct lsink *k = &f->call->sink;
    if (!k->started)
        return luaL_error(L, "this call was never started");
    if (!k->delivered && k->finished) {
        sink_unqueue(k);
        deliver(L, k);
    }
    if (!k->delivered && in_task(L)) {
        /* Not delivered means the anchor is still held: note this coroutine in it. */
        lua_settop(L, 1);
        lua_rawgeti(L, LUA_REGISTRYINDEX, k->anchor);
        if (lua_rawgeti(L, 2, 4) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_createtable(L, 1, 0);
            lua_pushvalue(L, -1);
            lua_rawseti(L, 2, 4);
        }
        lua_pushthread(L);
        lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
        lua_settop(L, 1);
        lua_pushlightuserdata(L, (void *)&await_token);
        lua_pushvalue(L, 1);
        return lua_yieldk(L, 2, 0, future_get_result_k);
    }
    sink_wait(L, k);
    if (lua_getiuservalue(L, 1, 2) != LUA_TNIL)
        return lua_error(L);
    lua_getiuservalue(L, 1, 1);
    return 1;
}

/* Resumed by the scheduler: check again (it may also resume us early). */
static int future_get_result_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lua_settop(L, 1);
    return future_get_result(L);
}

/* future:cancel(): the call ends with a "cancelled" error unless it already ended */
static int future_cancel(lua_State *L)
{
    struct lfuture *f = check_future(L, 1);
    struct lcall *call = f->call;
    if (call->sink.started && !call->sink.finished && call->sink.lc && call->sink.lc->c)
        triton_client_cancel(call->sink.lc->c, &call->call);
    return 0;
}

static int future_gc(lua_State *L)
{
    struct lfuture *f = luaL_checkudata(L, 1, LFUTURE_MT);
    struct lcall *call = f->call;
    if (!call)
        return 0;
    f->call = NULL;
    if (call->sink.anchor != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, call->sink.anchor);
        call->sink.anchor = LUA_NOREF;
    }
    if (call->sink.started && !call->sink.finished) {
        /* Only at lua_close (the anchor kept us alive otherwise): orphan the call;
         * the transport's final completion frees it. */
        call->sink.orphaned = true;
        sink_unqueue(&call->sink);
        sink_clear_events(&call->sink);
        if (call->sink.lc && call->sink.lc->c)
            triton_client_cancel(call->sink.lc->c, &call->call);
        return 0;
    }
    call_unlink(call);
    sink_free(&call->sink);
    return 0;
}

static int future_tostring(lua_State *L)
{
    struct lfuture *f = luaL_checkudata(L, 1, LFUTURE_MT);
    if (!f->call)
        lua_pushliteral(L, "triton.Future(released)");
    else
        lua_pushfstring(L, "triton.Future(%s, %s)", triton_call_kind_name(f->call->sink.kind),
                        f->call->sink.delivered ? "done" : "pending");
    return 1;
}

/* ---- clients ---------------------------------------------------------------------------- */

static struct lclient *check_client(lua_State *L, int idx)
{
    struct lclient *lc = luaL_checkudata(L, idx, LCLIENT_MT);
    if (!lc->c)
        luaL_error(L, "attempt to use a closed client");
    return lc;
}

/* Reads field k of the table at idx as a string (NULL if nil); copied into m. */
static const char *opt_string(lua_State *L, int idx, const char *k, struct lmem *m)
{
    const char *r = NULL;
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (strlen(s) != len)
            luaL_error(L, "option '%s' must not contain a zero byte", k);
        r = lmem_strdup(L, m, s, len);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option '%s' must be a string, got %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return r;
}

static double opt_number(lua_State *L, int idx, const char *k, double dflt)
{
    double r = dflt;
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNUMBER) {
        r = lua_tonumber(L, -1);
        if (!(r >= 0) || isinf(r))
            luaL_error(L, "option '%s' must be a non-negative number", k);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option '%s' must be a number, got %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return r;
}

static lua_Integer opt_integer(lua_State *L, int idx, const char *k, lua_Integer dflt)
{
    lua_Integer r = dflt;
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNUMBER) {
        int ok;
        r = lua_tointegerx(L, -1, &ok);
        if (!ok)
            luaL_error(L, "option '%s' must be an integer", k);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "option '%s' must be an integer, got %s", k, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    return r;
}

static bool opt_bool(lua_State *L, int idx, const char *k)
{
    int t = lua_getfield(L, idx, k);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        luaL_error(L, "option '%s' must be a boolean, got %s", k, luaL_typename(L, -1));
    bool r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

/* Number of entries of the table at index tab (any keys). */
static size_t table_count(lua_State *L, int tab)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        lua_pop(L, 1);
        count++;
    }
    return count;
}

/* Field k of the table at idx, a table of string -> string, as a kv array. */
static struct triton_kv *opt_kv(lua_State *L, int idx, const char *k, struct lmem *m, size_t *n)
{
    *n = 0;
    int t = lua_getfield(L, idx, k);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "option '%s' must be a table, got %s", k, luaL_typename(L, -1));
    int tab = lua_gettop(L);
    size_t count = table_count(L, tab);
    if (count > MAX_HEADERS)
        luaL_error(L, "option '%s' has more than %d entries", k, MAX_HEADERS);
    struct triton_kv *kv = lmem_array(L, m, count, sizeof(*kv));
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        if (lua_type(L, -2) != LUA_TSTRING ||
            (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
            luaL_error(L, "option '%s' must map strings to strings", k);
        size_t klen, vlen;
        const char *key = lua_tolstring(L, -2, &klen);
        lua_pushvalue(L, -1); /* tolstring on a copy: never convert a key in place */
        const char *val = lua_tolstring(L, -1, &vlen);
        if (strlen(key) != klen || strlen(val) != vlen)
            luaL_error(L, "option '%s' must not contain zero bytes", k);
        kv[*n].key = lmem_strdup(L, m, key, klen);
        kv[*n].value = lmem_strdup(L, m, val, vlen);
        (*n)++;
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    return kv;
}

static int client_gc(lua_State *L);

/* core.client_new(opts): opts as lua/triton/client.lua normalized them. */
static int client_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct lstate *st = get_state(L);
    struct lclient *lc = lua_newuserdatauv(L, sizeof(*lc), 0);
    memset(lc, 0, sizeof(*lc));
    lc->st = st;
    luaL_setmetatable(L, LCLIENT_MT);

    struct triton_client_options o = {0};
    const char *proto = opt_string(L, 1, "protocol", &lc->opts);
    if (!proto || strcmp(proto, "http") == 0)
        o.protocol = TRITON_PROTOCOL_HTTP;
    else if (strcmp(proto, "grpc") == 0)
        o.protocol = TRITON_PROTOCOL_GRPC;
    else
        return luaL_error(L, "unknown protocol '%s' (expected \"http\" or \"grpc\")", proto);
    lc->origin = o.protocol == TRITON_PROTOCOL_GRPC ? LERROR_GRPC : LERROR_HTTP;
    o.url = opt_string(L, 1, "url", &lc->opts);
    o.use_tls = opt_bool(L, 1, "use_tls");
    o.verbose = opt_bool(L, 1, "verbose");
    o.headers = opt_kv(L, 1, "headers", &lc->opts, &o.n_headers);
    o.connection_timeout = opt_number(L, 1, "connection_timeout", 0);
    o.network_timeout = opt_number(L, 1, "network_timeout", 0);
    o.ca_file = opt_string(L, 1, "ca_file", &lc->opts);
    o.cert_file = opt_string(L, 1, "cert_file", &lc->opts);
    o.key_file = opt_string(L, 1, "key_file", &lc->opts);
    o.insecure = opt_bool(L, 1, "insecure");
    o.compression = opt_string(L, 1, "compression", &lc->opts);
    o.response_compression = opt_string(L, 1, "response_compression", &lc->opts);
    lua_Integer conc = opt_integer(L, 1, "concurrency", 0);
    if (conc < 0 || conc > 1000000)
        return luaL_error(L, "option 'concurrency' must be between 1 and 1000000");
    o.concurrency = (int)conc;
    lua_Integer maxr = opt_integer(L, 1, "max_response_size", 0);
    if (maxr < 0)
        return luaL_error(L, "option 'max_response_size' must not be negative");
    o.max_response_size = (size_t)maxr;
    lua_Integer ka_time = opt_integer(L, 1, "keepalive_time_ms", 0);
    lua_Integer ka_timeout = opt_integer(L, 1, "keepalive_timeout_ms", 0);
    if (ka_time < 0 || ka_time > INT32_MAX || ka_timeout < 0 || ka_timeout > INT32_MAX)
        return luaL_error(L, "keepalive times must be between 0 and %d ms", INT32_MAX);
    o.keepalive_time_ms = (int)ka_time;
    o.keepalive_timeout_ms = (int)ka_timeout;
    o.keepalive_permit_without_calls = opt_bool(L, 1, "keepalive_permit_without_calls");

    if (lua_getfield(L, 1, "channel_args") == LUA_TTABLE) {
        int tab = lua_gettop(L);
        size_t count = table_count(L, tab);
        if (count > MAX_HEADERS)
            return luaL_error(L, "option 'channel_args' has more than %d entries", MAX_HEADERS);
        struct triton_channel_arg *args = lmem_array(L, &lc->opts, count, sizeof(*args));
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tab)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "channel_args keys must be strings");
            size_t klen;
            const char *key = lua_tolstring(L, -2, &klen);
            args[n].key = lmem_strdup(L, &lc->opts, key, klen);
            if (lua_isinteger(L, -1)) {
                lua_Integer v = lua_tointeger(L, -1);
                if (v < INT32_MIN || v > INT32_MAX)
                    return luaL_error(L, "channel_args['%s'] does not fit in an int", key);
                args[n].is_int = true;
                args[n].int_value = (long)v;
            } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
                args[n].is_int = true;
                args[n].int_value = lua_toboolean(L, -1);
            } else if (lua_type(L, -1) == LUA_TSTRING) {
                size_t vlen;
                const char *v = lua_tolstring(L, -1, &vlen);
                args[n].str_value = lmem_strdup(L, &lc->opts, v, vlen);
            } else {
                return luaL_error(L, "channel_args['%s'] must be an integer, boolean or string",
                                  key);
            }
            n++;
            lua_pop(L, 1);
        }
        o.channel_args = args;
        o.n_channel_args = n;
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "option 'channel_args' must be a table");
    }
    lua_pop(L, 1);

    struct triton_error err = {0};
    lc->c = triton_client_new(st->loop, &o, &err);
    if (!lc->c)
        return lerror_raise(L, &err, LERROR_LOCAL);
    lc->next_open = st->clients;
    if (st->clients)
        st->clients->prev_open = lc;
    st->clients = lc;
    return 1;
}

/* Frees the C client. Calls still in flight end with CANCELLED inside
 * triton_client_free; with `deliver_to_lua` their futures and callbacks see
 * that (explicit close), otherwise (finalizer) they are orphaned first. */
static void client_release(lua_State *L, struct lclient *lc, bool deliver_to_lua)
{
    if (!lc->c)
        return;
    if (lc->prev_open)
        lc->prev_open->next_open = lc->next_open;
    else if (lc->st->clients == lc)
        lc->st->clients = lc->next_open;
    if (lc->next_open)
        lc->next_open->prev_open = lc->prev_open;
    lc->next_open = lc->prev_open = NULL;
    if (!deliver_to_lua) {
        for (struct lcall *c = lc->calls; c; c = c->next) {
            c->sink.orphaned = true;
            sink_unqueue(&c->sink);
            sink_clear_events(&c->sink);
        }
        if (lc->stream) {
            lc->stream->sink.orphaned = true;
            sink_unqueue(&lc->stream->sink);
            sink_clear_events(&lc->stream->sink);
        }
    }
    struct triton_client *c = lc->c;
    lc->c = NULL;
    struct lstate *outer = active_state;
    active_state = lc->st;
    triton_client_free(c);
    active_state = outer;
    /* Whatever the transport did not complete is lost; nothing may point at lc. */
    while (lc->calls) {
        struct lcall *call = lc->calls;
        call_unlink(call);
        if (call->sink.orphaned) {
            sink_free(&call->sink);
        } else {
            struct triton_error err = {.code = TRITON_CANCELLED};
            snprintf(err.message, sizeof err.message, "the client was closed");
            call->sink.lc = NULL;
            sink_event(&call->sink, NULL, &err, true);
        }
    }
    if (lc->stream) {
        struct lstream *s = lc->stream;
        lc->stream = NULL;
        s->sink.lc = NULL;
        if (s->sink.orphaned) {
            sink_free(&s->sink);
        } else {
            struct triton_error err = {.code = TRITON_CANCELLED};
            snprintf(err.message, sizeof err.message, "the client was closed");
            sink_event(&s->sink, NULL, &err, true);
        }
    }
    lmem_free(&lc->opts);
    if (deliver_to_lua && L)
        drain(L, lc->st);
}

static int client_close(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    client_release(L, lc, true);
    return 0;
}

static int client_gc(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    client_release(L, lc, false);
    lmem_free(&lc->opts);
    return 0;
}

/* ---- building requests ------------------------------------------------------------------ */

static int call_kind_from_name(const char *name)
{
    for (int k = 0; k < TRITON_CALL_NKINDS; k++)
        if (strcmp(triton_call_kind_name((enum triton_call_kind)k), name) == 0)
            return k;
    return -1;
}

/* Custom parameters: a table of string -> boolean/integer/float/string. */
static struct triton_param *build_params(lua_State *L, int idx, const char *field, struct lmem *m,
                                         size_t *n)
{
    *n = 0;
    int t = lua_getfield(L, idx, field);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "'%s' must be a table, got %s", field, luaL_typename(L, -1));
    int tab = lua_gettop(L);
    size_t count = table_count(L, tab);
    struct triton_param *p = lmem_array(L, m, count, sizeof(*p));
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "'%s' keys must be strings", field);
        size_t klen;
        const char *key = lua_tolstring(L, -2, &klen);
        struct triton_param *q = &p[*n];
        q->key = lmem_strdup(L, m, key, klen);
        switch (lua_type(L, -1)) {
        case LUA_TBOOLEAN:
            q->type = TRITON_PARAM_BOOL;
            q->v.b = lua_toboolean(L, -1);
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                q->type = TRITON_PARAM_INT64;
                q->v.i = lua_tointeger(L, -1);
            } else {
                q->type = TRITON_PARAM_DOUBLE;
                q->v.d = lua_tonumber(L, -1);
            }
            break;
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            q->type = TRITON_PARAM_STRING;
            q->v.s.ptr = lmem_strdup(L, m, s, len);
            q->v.s.len = len;
            break;
        }
        default:
            luaL_error(L, "parameter '%s' must be a boolean, number or string, got %s", key,
                       luaL_typename(L, -1));
        }
        (*n)++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return p;
}

static uint64_t field_u64(lua_State *L, int idx, const char *k)
{
    lua_Integer v = opt_integer(L, idx, k, 0);
    if (v < 0)
        luaL_error(L, "'%s' must not be negative", k);
    return (uint64_t)v;
}

static void build_input(lua_State *L, int idx, struct triton_infer_input *in, struct lmem *m)
{
    in->name = opt_string(L, idx, "name", m);
    in->datatype = opt_string(L, idx, "datatype", m);
    if (!in->name || !in->datatype)
        luaL_error(L, "an input needs a name and a datatype");
    lua_getfield(L, idx, "shape");
    int64_t shape[TENSOR_MAX_DIMS];
    in->ndim = largs_check_shape(L, -1, 0, NULL, 0, shape);
    lua_pop(L, 1);
    int64_t *sh = lmem_array(L, m, (size_t)in->ndim, sizeof(int64_t));
    if (in->ndim)
        memcpy(sh, shape, sizeof(int64_t) * (size_t)in->ndim);
    in->shape = sh;
    in->json = opt_bool(L, idx, "json");
    in->shm_region = opt_string(L, idx, "shm_region", m);
    in->shm_byte_size = field_u64(L, idx, "shm_byte_size");
    in->shm_offset = field_u64(L, idx, "shm_offset");
    in->params = build_params(L, idx, "parameters", m, &in->n_params);
    if (lua_getfield(L, idx, "data") != LUA_TNIL) {
        struct tensor *t = ltensor_test(L, -1);
        if (!t)
            luaL_error(L, "input '%s': data must be a tensor", in->name);
        if (!t->buf)
            luaL_error(L, "input '%s': the tensor is empty or released", in->name);
        struct lhold *h = lmem_alloc(L, m, sizeof(*h));
        tensor_init_view(&h->t, t);
        h->next = m->tensors;
        m->tensors = h;
        in->data = &h->t;
    } else if (!in->shm_region) {
        luaL_error(L, "input '%s' has neither data nor a shared memory region", in->name);
    }
    lua_pop(L, 1);
}

static int compare_input_names(const void *a, const void *b)
{
    return strcmp(((const struct triton_infer_input *)a)->name,
                  ((const struct triton_infer_input *)b)->name);
}

/* Inputs given as a map name -> tensor (lua/triton/infer.lua checked the keys
 * and values): read straight from the tensors, without a table per input, and
 * sent in name order so that the wire is the same from run to run. */
static void build_input_map(lua_State *L, int idx, struct triton_infer_request *req, struct lmem *m)
{
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
    }
    struct triton_infer_input *inputs = lmem_array(L, m, n, sizeof(*inputs));
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (i == n)
            luaL_error(L, "the inputs table changed while it was read");
        struct tensor *t = ltensor_test(L, -1);
        size_t len = 0;
        const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        if (!name || !t)
            luaL_error(L, "inputs must map names to tensors");
        if (!t->buf)
            luaL_error(L, "input '%s': the tensor is empty or released", name);
        struct triton_infer_input *in = &inputs[i++];
        in->name = lmem_strdup(L, m, name, len);
        in->datatype = tensor_dtype_name(t->dtype);
        struct lhold *h = lmem_alloc(L, m, sizeof(*h));
        tensor_init_view(&h->t, t);
        h->next = m->tensors;
        m->tensors = h;
        in->data = &h->t;
        in->shape = h->t.shape;
        in->ndim = h->t.ndim;
        lua_pop(L, 1);
    }
    qsort(inputs, i, sizeof(*inputs), compare_input_names);
    req->inputs = inputs;
    req->n_inputs = i;
}

static void build_output(lua_State *L, int idx, struct triton_infer_requested_output *out,
                         struct lmem *m)
{
    out->name = opt_string(L, idx, "name", m);
    if (!out->name)
        luaL_error(L, "a requested output needs a name");
    int t = lua_getfield(L, idx, "binary");
    out->binary = t == LUA_TNIL ? -1 : lua_toboolean(L, -1) ? 1 : 0;
    lua_pop(L, 1);
    out->class_count = opt_integer(L, idx, "class_count", 0);
    if (out->class_count < 0)
        luaL_error(L, "output '%s': class_count must not be negative", out->name);
    out->shm_region = opt_string(L, idx, "shm_region", m);
    out->shm_byte_size = field_u64(L, idx, "shm_byte_size");
    out->shm_offset = field_u64(L, idx, "shm_offset");
    out->params = build_params(L, idx, "parameters", m, &out->n_params);
}

/* The infer request described by the table at idx, built into m. */
static void build_infer(lua_State *L, int idx, struct triton_infer_request *req, struct lmem *m)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    memset(req, 0, sizeof(*req));
    req->model = opt_string(L, idx, "model", m);
    if (!req->model)
        luaL_error(L, "an infer request needs a model name");
    req->version = opt_string(L, idx, "version", m);
    req->id = opt_string(L, idx, "id", m);
    int t = lua_getfield(L, idx, "sequence_id");
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        req->sequence_id_str = lmem_strdup(L, m, s, len);
    } else if (t != LUA_TNIL) {
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 0)
            luaL_error(L, "sequence_id must be a non-negative integer or a string");
        req->sequence_id = (uint64_t)v;
    }
    lua_pop(L, 1);
    req->sequence_start = opt_bool(L, idx, "sequence_start");
    req->sequence_end = opt_bool(L, idx, "sequence_end");
    req->priority = field_u64(L, idx, "priority");
    req->timeout_us = field_u64(L, idx, "timeout");
    req->params = build_params(L, idx, "parameters", m, &req->n_params);
    t = lua_getfield(L, idx, "binary_data_output");
    req->binary_data_output = t == LUA_TNIL ? true : lua_toboolean(L, -1);
    lua_pop(L, 1);

    if (lua_getfield(L, idx, "input_map") == LUA_TTABLE) {
        build_input_map(L, lua_gettop(L), req, m);
    } else {
        if (lua_getfield(L, idx, "inputs") != LUA_TTABLE)
            luaL_error(L, "an infer request needs a list of inputs");
        int ins = lua_gettop(L);
        size_t n = (size_t)luaL_len(L, ins);
        struct triton_infer_input *inputs = lmem_array(L, m, n, sizeof(*inputs));
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, ins, (lua_Integer)i + 1);
            luaL_checktype(L, -1, LUA_TTABLE);
            build_input(L, lua_gettop(L), &inputs[i], m);
            lua_pop(L, 1);
        }
        req->inputs = inputs;
        req->n_inputs = n;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    if (lua_getfield(L, idx, "outputs") == LUA_TTABLE) {
        int outs = lua_gettop(L);
        size_t n = (size_t)luaL_len(L, outs);
        struct triton_infer_requested_output *outputs = lmem_array(L, m, n, sizeof(*outputs));
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, outs, (lua_Integer)i + 1);
            luaL_checktype(L, -1, LUA_TTABLE);
            build_output(L, lua_gettop(L), &outputs[i], m);
            lua_pop(L, 1);
        }
        req->outputs = outputs;
        req->n_outputs = n;
    }
    lua_pop(L, 1);
}

/* Fills call from the args table at idx (see the header comment of client.lua). */
static void build_call(lua_State *L, int idx, struct lcall *lcall)
{
    struct triton_call *call = &lcall->call;
    struct lmem *m = &lcall->sink.mem;
    call->model = opt_string(L, idx, "model", m);
    call->version = opt_string(L, idx, "version", m);
    call->region = opt_string(L, idx, "region", m);
    call->key = opt_string(L, idx, "key", m);
    if (lua_getfield(L, idx, "raw_handle") == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        call->raw_handle = lmem_strdup(L, m, s, len);
        call->raw_handle_len = len;
    }
    lua_pop(L, 1);
    call->device_id = opt_integer(L, idx, "device_id", 0);
    call->byte_size = field_u64(L, idx, "byte_size");
    call->offset = field_u64(L, idx, "offset");
    call->flag = opt_bool(L, idx, "flag");
    call->config_json = opt_string(L, idx, "config", m);
    if (lua_getfield(L, idx, "files") == LUA_TTABLE) {
        int tab = lua_gettop(L);
        size_t count = table_count(L, tab);
        struct triton_bytes *files = lmem_array(L, m, count, sizeof(*files));
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tab)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "'files' must map \"file:<version>/<name>\" to strings");
            size_t klen, vlen;
            const char *k = lua_tolstring(L, -2, &klen);
            const char *v = lua_tolstring(L, -1, &vlen);
            files[n].key = lmem_strdup(L, m, k, klen);
            files[n].data = lmem_strdup(L, m, v, vlen);
            files[n].len = vlen;
            n++;
            lua_pop(L, 1);
        }
        call->files = files;
        call->n_files = n;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "settings") != LUA_TNIL) {
        cJSON_Delete(m->json);
        m->json = lcjson_check(L, -1, 2);
        call->settings = m->json;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "infer") == LUA_TTABLE) {
        struct triton_infer_request *req = lmem_alloc(L, m, sizeof(*req));
        build_infer(L, lua_gettop(L), req, m);
        call->infer = req;
    }
    lua_pop(L, 1);
    call->headers = opt_kv(L, idx, "headers", m, &call->n_headers);
    call->query = opt_kv(L, idx, "query_params", m, &call->n_query);
    call->timeout = opt_number(L, idx, "timeout", 0);
}

/* ---- calls ---------------------------------------------------------------------------------- */

/* Fills a call from the Lua values at idx: build_call (an args table) or
 * build_infer_map (a model name and a map of input tensors). */
typedef void (*call_builder)(lua_State *L, int idx, struct lcall *lcall);

/* infer's common call, `c:infer(model, {NAME = tensor, ...})` without options:
 * the model name at idx and the input map at idx + 1 (lua/triton/client.lua
 * checked both), read without the two args tables build_call reads. */
static void build_infer_map(lua_State *L, int idx, struct lcall *lcall)
{
    struct lmem *m = &lcall->sink.mem;
    struct triton_infer_request *req = lmem_alloc(L, m, sizeof(*req));
    size_t len;
    const char *model = luaL_checklstring(L, idx, &len);
    req->model = lmem_strdup(L, m, model, len);
    req->binary_data_output = true;
    luaL_checktype(L, idx + 1, LUA_TTABLE);
    build_input_map(L, idx + 1, req, m);
    lcall->call.infer = req;
}

/* Pushes a new future for a call of `kind` on client lc, its request built by
 * `build` from the values at idx, then submits it. cb_idx: the callback or 0. */
static struct lfuture *submit_built(lua_State *L, int client_idx, struct lclient *lc,
                                    enum triton_call_kind kind, call_builder build, int args_idx,
                                    int cb_idx)
{
    collect_if_due(L, lc->st);
    struct lfuture *f = lua_newuserdatauv(L, sizeof(*f), 2);
    f->call = NULL;
    luaL_setmetatable(L, LFUTURE_MT);
    int fut = lua_gettop(L);
    struct lcall *call = calloc(1, sizeof(*call));
    if (!call)
        luaL_error(L, "out of memory starting a call");
    f->call = call;
    call->sink.st = lc->st;
    call->sink.kind = kind;
    call->sink.origin = lc->origin;
    call->sink.anchor = LUA_NOREF;
    call->call.kind = kind;
    call->call.done = call_done;
    call->call.user = call;
    build(L, args_idx, call);

    struct triton_error err = {0};
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, client_idx);
    lua_rawseti(L, -2, 1);
    if (cb_idx) {
        lua_pushvalue(L, cb_idx);
        lua_rawseti(L, -2, 2);
        call->sink.has_cb = true;
    }
    lua_pushvalue(L, fut);
    lua_rawseti(L, -2, 3);
    int anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    if (triton_client_submit(lc->c, &call->call, &err) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        lerror_raise(L, &err, lc->origin);
    }
    call->sink.anchor = anchor;
    call->sink.started = true;
    call->sink.lc = lc;
    call->next = lc->calls;
    if (lc->calls)
        lc->calls->prev = call;
    lc->calls = call;
    return f;
}

/* Pushes a new future for a call of `kind`, its request built from the args
 * table at idx, then submits it. cb_idx: the callback or 0. */
static struct lfuture *submit(lua_State *L, int client_idx, struct lclient *lc,
                              enum triton_call_kind kind, int args_idx, int cb_idx)
{
    return submit_built(L, client_idx, lc, kind, build_call, args_idx, cb_idx);
}

static enum triton_call_kind check_kind(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int kind = call_kind_from_name(name);
    if (kind < 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown call '%s'", name));
    return (enum triton_call_kind)kind;
}

/* cc:call(kind, args) -> value */
static int client_call(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    enum triton_call_kind kind = check_kind(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    submit(L, 1, lc, kind, 3, 0);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return future_get_result(L);
}

/* cc:infer_map(model, inputs) -> result: infer's common call (build_infer_map) */
static int client_infer_map(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    lua_settop(L, 3);
    submit_built(L, 1, lc, TRITON_CALL_INFER, build_infer_map, 2, 0);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return future_get_result(L);
}

/* cc:submit_infer_map(model, inputs [, callback]) -> future: async_infer's common call */
static int client_submit_infer_map(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    submit_built(L, 1, lc, TRITON_CALL_INFER, build_infer_map, 2, lua_isnil(L, 4) ? 0 : 4);
    return 1;
}

/* cc:submit(kind, args [, callback]) -> future */
static int client_submit(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    enum triton_call_kind kind = check_kind(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    submit(L, 1, lc, kind, 3, lua_isnil(L, 4) ? 0 : 4);
    return 1;
}

/* ---- streams -------------------------------------------------------------------------------- */

static void check_stream_ops(lua_State *L, struct lclient *lc)
{
    const struct triton_transport *t = lc->c->transport;
    if (!t->stream_open || !t->stream_send || !t->stream_close)
        lerror_raisef(L, TRITON_UNIMPLEMENTED, "streams need gRPC; this is an %s client", t->name);
}

/* A stream being built, owned by a userdata until it is open, so that a Lua
 * error halfway frees it. */
struct lstream_box {
    struct lstream *s;
};

static int stream_box_gc(lua_State *L)
{
    struct lstream_box *box = lua_touserdata(L, 1);
    if (box->s) {
        sink_free(&box->s->sink);
        box->s = NULL;
    }
    return 0;
}

/* cc:stream_open(callback, {headers=, timeout=}) */
static int client_stream_open(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    check_stream_ops(L, lc);
    if (lc->stream)
        return lerror_raisef(L, TRITON_ALREADY_EXISTS,
                             "a stream is already open on this client; stop_stream() first");
    struct lstream_box *box = lua_newuserdatauv(L, sizeof(*box), 0);
    box->s = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, stream_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    struct lstream *s = calloc(1, sizeof(*s));
    if (!s)
        return luaL_error(L, "out of memory opening a stream");
    box->s = s;
    s->sink.st = lc->st;
    s->sink.kind = TRITON_CALL_INFER;
    s->sink.origin = lc->origin;
    s->sink.anchor = LUA_NOREF;
    s->sink.is_stream = true;
    s->sink.has_cb = true;
    s->s.done = stream_done;
    s->s.user = s;
    s->s.headers = opt_kv(L, 3, "headers", &s->sink.mem, &s->s.n_headers);
    s->s.timeout = opt_number(L, 3, "timeout", 0);

    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    int anchor = luaL_ref(L, LUA_REGISTRYINDEX);

    s->next_open = lc->st->streams;
    lc->st->streams = s;
    struct triton_error err = {0};
    if (triton_client_stream_open(lc->c, &s->s, &err) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        return lerror_raise(L, &err, lc->origin); /* the box frees s */
    }
    box->s = NULL;
    s->sink.anchor = anchor;
    s->sink.started = true;
    s->sink.lc = lc;
    lc->stream = s;
    return 0;
}

static struct lstream *check_stream(lua_State *L, struct lclient *lc)
{
    check_stream_ops(L, lc);
    if (!lc->stream || !lc->stream->sink.started)
        lerror_raisef(L, TRITON_INVALID_ARGUMENT, "no stream is open: call start_stream first");
    return lc->stream;
}

/* cc:stream_send(request) */
static int client_stream_send(lua_State *L)
{
    struct lclient *lc = check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct lstream *s = check_stream(L, lc);
    struct triton_infer_request *req = lmem_alloc(L, &s->sink.mem, sizeof(*req));
    build_infer(L, 2, req, &s->sink.mem);
    struct triton_error err = {0};
    if (triton_client_stream_send(lc->c, &s->s, req, &err) != 0)
        return lerror_raise(L, &err, lc->origin);
    return 0;
}

/* Half-closes (or cancels) the open stream and waits until its end was delivered. */
static int stream_finish(lua_State *L, bool cancel)
{
    struct lclient *lc = check_client(L, 1);
    check_stream_ops(L, lc);
    struct lstream *s = lc->stream;
    if (!s)
        return 0;
    if (cancel)
        triton_client_stream_cancel(lc->c, &s->s);
    else
        triton_client_stream_close(lc->c, &s->s);
    struct lstate *st = lc->st;
    struct triton_error err = {0};
    /* The sink is freed once its end is delivered, and lc->stream is cleared at
     * the transport's final completion; wait for both. */
    while (lc->stream == s || st->ready) {
        if (lc->stream != s) {
            drain(L, st);
            continue;
        }
        int ran = lstate_step(L, st, -1, &err);
        if (ran < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        if (ran == 0 && lc->stream == s && triton_loop_pending(st->loop) == 0)
            return lerror_raisef(L, TRITON_INTERNAL, "the stream was lost by its transport");
    }
    return 0;
}

static int client_stream_close(lua_State *L)
{
    return stream_finish(L, false);
}

static int client_stream_cancel(lua_State *L)
{
    return stream_finish(L, true);
}

/* cc:stream_active() -> whether a stream is open */
static int client_stream_active(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    lua_pushboolean(L, lc->c && lc->stream != NULL);
    return 1;
}

static int client_is_closed(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    lua_pushboolean(L, lc->c == NULL);
    return 1;
}

/* core.url_redacted(url) -> the URL as tostring(client) shows it */
static int core_url_redacted(lua_State *L)
{
    char *shown = triton_url_redacted(luaL_checkstring(L, 1));
    if (!shown)
        return luaL_error(L, "not enough memory");
    lua_pushstring(L, shown);
    free(shown);
    return 1;
}

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* core.step([timeout]) -> completions run, work still in flight. Drives the loop from Lua
 * (iterators, triton.wait, triton.run); timeout in seconds, default: wait for something
 * to happen. With nothing in flight a finite timeout still waits (the scheduler's
 * sleeps); an infinite one returns at once. Raises "interrupted" on a Ctrl-C. */
static int core_step(lua_State *L)
{
    double timeout = luaL_optnumber(L, 1, -1);
    struct lstate *st = get_state(L);
    struct triton_error err = {0};
    check_interrupt(L, st);
    if (triton_loop_pending(st->loop) == 0 && !(timeout >= 0)) {
        drain(L, st);
        lua_pushinteger(L, 0);
        lua_pushinteger(L, 0);
        return 2;
    }
    double deadline = timeout >= 0 ? monotonic_now() + timeout : INFINITY;
    int ran;
    for (;;) {
        double left = deadline - monotonic_now();
        double slice = left < WAIT_SLICE ? (left > 0 ? left : 0) : WAIT_SLICE;
        ran = lstate_step(L, st, slice, &err);
        if (ran < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        check_interrupt(L, st);
        if (ran > 0 || slice < WAIT_SLICE || (timeout < 0 && triton_loop_pending(st->loop) == 0))
            break;
    }
    lua_pushinteger(L, ran);
    lua_pushinteger(L, triton_loop_pending(st->loop));
    return 2;
}

/* core.set_tasks(t): the table whose keys are the coroutines the scheduler runs. */
static int core_set_tasks(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, LTASKS_KEY);
    return 0;
}

/* core.take_woken() -> list of coroutines whose awaited future completed, or nil */
static int core_take_woken(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LWOKEN_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LWOKEN_KEY);
    return 1;
}

/* core.rusage() -> user + system CPU seconds of the process, peak RSS in bytes */
static int core_rusage(lua_State *L)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return luaL_error(L, "getrusage failed");
    lua_pushnumber(L, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
    lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);
    return 2;
}

/* core.isatty(fd) -> whether fd is a terminal (perf's progress line) */
static int core_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
    return 1;
}

/* A metatable named `name` with the given metamethods and an __index table of
 * methods, as luaL_newmetatable + luaL_setfuncs would build it by hand. */
static void new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void lclient_open(lua_State *L)
{
    static const luaL_Reg client_methods[] = {{"call", client_call},
                                              {"infer_map", client_infer_map},
                                              {"submit_infer_map", client_submit_infer_map},
                                              {"submit", client_submit},
                                              {"stream_open", client_stream_open},
                                              {"stream_send", client_stream_send},
                                              {"stream_close", client_stream_close},
                                              {"stream_cancel", client_stream_cancel},
                                              {"stream_active", client_stream_active},
                                              {"is_closed", client_is_closed},
                                              {"close", client_close},
                                              {NULL, NULL}};
    static const luaL_Reg future_methods[] = {{"done", future_done},
                                              {"get_result", future_get_result},
                                              {"cancel", future_cancel},
                                              {NULL, NULL}};
    static const luaL_Reg result_methods[] = {{"as_tensor", result_as_tensor},
                                              {"output", result_output},
                                              {"get_output", result_output},
                                              {"outputs", result_outputs},
                                              {"response", result_response},
                                              {"get_response", result_response},
                                              {"classification", result_classification},
                                              {"final", result_final},
                                              {NULL, NULL}};

    static const luaL_Reg client_meta[] = {
        {"__gc", client_gc}, {"__close", client_close}, {NULL, NULL}};
    static const luaL_Reg future_meta[] = {
        {"__gc", future_gc}, {"__tostring", future_tostring}, {NULL, NULL}};
    static const luaL_Reg result_meta[] = {
        {"__gc", result_gc}, {"__tostring", result_tostring}, {NULL, NULL}};
    new_class(L, LCLIENT_MT, client_meta, client_methods);
    new_class(L, LFUTURE_MT, future_meta, future_methods);
    new_class(L, LRESULT_MT, result_meta, result_methods);

    lerror_open(L);
    lua_pushcfunction(L, client_new);
    lua_setfield(L, -2, "client_new");
    lua_pushcfunction(L, core_url_redacted);
    lua_setfield(L, -2, "url_redacted");
    lua_pushcfunction(L, core_step);
    lua_setfield(L, -2, "step");
    lua_pushcfunction(L, core_set_tasks);
    lua_setfield(L, -2, "set_tasks");
    lua_pushcfunction(L, core_take_woken);
    lua_setfield(L, -2, "take_woken");
    lua_pushlightuserdata(L, (void *)&await_token);
    lua_setfield(L, -2, "await_token");
    lua_pushcfunction(L, core_rusage);
    lua_setfield(L, -2, "rusage");
    lua_pushcfunction(L, core_isatty);
    lua_setfield(L, -2, "isatty");
    lshm_open(L);
}
