/*
 * lbinding.h: what the files of the client binding share. One C file per Lua
 * object over these helpers, as luv puts tcp.c, timer.c and fs.c over util.c:
 *
 *   lstate.c    the per-Lua-state loop glue: stepping, waits, interrupts
 *   lrequest.c  a request in flight (a call or a stream): its memory, the queue
 *               of replies waiting for Lua, handing them to Lua (deliver)
 *   lbuild.c    reading Lua option tables and building struct triton_call
 *   lresult.c   triton.InferResult
 *   lfuture.c   triton.Future
 *   lstream.c   streams (start_stream / stream_infer underneath)
 *   lclient.c   the core client (triton.core.Client) and lclient_open
 *   lerror.c    triton.Error
 *
 * Ownership. Every call is a struct lcall in C memory, owned by its Future
 * userdata (a blocking call makes one too, on the stack). While a call is in
 * flight a registry reference (the anchor) keeps its client, callback and
 * Future alive, so neither can be collected under the transport. What the
 * transport reads is owned by the call in C: the argument strings are copied
 * into the call's memory (struct lmem) and every input tensor is held as a C
 * view (a buffer reference), so the call never points into a Lua object.
 *
 * Completions never touch Lua. The transport's `done` runs inside
 * triton_loop_step (or inside triton_client_free) and only queues the reply on
 * the request; after the step returns, lstate_step hands queued replies to Lua
 * (converts them, runs callbacks under pcall, drops the anchor at the final
 * reply). A call whose Future was finalized while in flight (only possible at
 * lua_close) is orphaned: its replies are dropped and `done` frees it.
 */
#ifndef TRITON_LBINDING_H
#define TRITON_LBINDING_H

#include <stdbool.h>
#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>

#include "client/client.h"
#include "client/fleet.h"
#include "lua/lclient.h"

#define LSTATE_KEY   "triton.core.state"
#define LTASKS_KEY   "triton.core.tasks"
#define LWOKEN_KEY   "triton.core.woken"
#define LCLIENT_MT   "triton.core.Client"
#define LFUTURE_MT   "triton.Future"
#define LRESULT_MT   "triton.InferResult"
#define LWAIT_SLICE  0.1  /* seconds: how often a wait looks for an interrupt */
#define LMAX_HEADERS 1024 /* entries in a headers (or similar) table */

/* ---- structures ------------------------------------------------------------------- */

struct lsink;
struct lstream;
struct lclient;

/* The loop glue of one Lua state (a registry sentinel, see lstate.c). */
struct lstate {
    struct triton_loop *loop;
    struct lsink *ready, *ready_tail; /* sinks with replies to hand to Lua */
    struct lstream *streams;          /* open streams, to route their completions */
    struct lclient *clients;          /* open clients: what an interrupt cancels */
    size_t reply_bytes; /* reply memory handed to Lua since the last lresult_collect_if_due */
    size_t callbacks;   /* calls made with a callback whose final reply is not delivered */
};

struct lmem_block {
    struct lmem_block *next;
    max_align_t data[];
};

struct lhold { /* an input tensor held by a request */
    struct lhold *next;
    struct tensor t;
};

/* Memory a request owns: freed in one go when the request is. */
struct lmem {
    struct lmem_block *blocks;
    struct lhold *tensors;
    cJSON *json; /* settings or a generate body */
};

/* One reply (or failure) queued for Lua. */
struct levent {
    struct levent *next;
    bool has_reply;
    struct triton_reply reply; /* owned: json, result */
    bool failed;
    struct triton_error err;
    bool final;
    char *server; /* the server that answered an inference (owned) */
};

/* Where a call's or a stream's replies wait for Lua. */
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
    struct triton_client *client; /* the one server a stream stays on */
    struct lstream *next_open;    /* on st->streams while open */
    struct lstream **handle;      /* a stream_call's handle, cleared when the stream goes */
};

/* A core client is a fleet (a plain one is a fleet of one); a view is a client
 * of one server of another client's fleet (each(fn)), which it does not own. */
struct lclient {
    struct triton_fleet *fleet;        /* NULL once closed (a view: or once its owner closed) */
    struct lclient *owner;             /* a view's: the client whose fleet it uses */
    struct lclient *views, *next_view; /* an owner's open views */
    int server;                        /* a view's server index; -1: the whole fleet */
    struct lstate *st;
    struct lclient *next_open, *prev_open; /* on st->clients while open */
    struct lcall *calls;
    struct lstream *stream;
    enum lerror_origin origin;
    struct lmem opts; /* option arrays the client was made from */
};

/* The Future userdata; uservalues: 1 = the last reply's value, 2 = the error, if any. */
struct lfuture {
    struct lcall *call; /* owned; NULL after __gc */
};

/* ---- lstate.c ---------------------------------------------------------------------- */

/* The state's loop glue, created on first use. */
struct lstate *lstate_get(lua_State *L);
/* The state whose loop step (or client free) runs on this thread, for
 * completions that must find their request; returns the previous one. */
struct lstate *lstate_swap_active(struct lstate *st);
struct lstate *lstate_active(void);
/* Hands every queued reply to Lua; returns how many sinks it served. */
int lstate_drain(lua_State *L, struct lstate *st);
/* One loop step plus the Lua side of what completed. -1 with err on failure. */
int lstate_step(lua_State *L, struct lstate *st, double timeout, struct triton_error *err);
/* Raises "interrupted" (after cancelling what is in flight) on a Ctrl-C. */
void lstate_check_interrupt(lua_State *L, struct lstate *st);
/* Whether L is a coroutine that lua/triton/spawn.lua runs (and may yield). */
bool lstate_in_task(lua_State *L);
/* What a waiting coroutine yields to the scheduler (core.await_token). */
extern const char lstate_await_token;
double lstate_now(void);
/* A Ctrl-C is waiting to be consumed by lstate_check_interrupt. */
bool lstate_interrupt_pending(lua_State *L);
/* core.step, core.set_tasks, core.take_woken, core.await_token (table at -1). */
void lstate_open(lua_State *L);

/* ---- lrequest.c -------------------------------------------------------------------- */

void *lmem_alloc(lua_State *L, struct lmem *m, size_t size);
void *lmem_array(lua_State *L, struct lmem *m, size_t n, size_t size);
const char *lmem_strdup(lua_State *L, struct lmem *m, const char *s, size_t len);
void lmem_free(struct lmem *m);

void lsink_clear_events(struct lsink *k);
void lsink_unqueue(struct lsink *k);
void lsink_free(struct lsink *k);
void lstream_unlist(struct lstream *s);
void lcall_unlink(struct lcall *lc_call);
/* The transport's completion: only queues (see the header comment). */
void lsink_event(struct lsink *k, struct triton_reply *reply, const struct triton_error *err,
                 bool final);
void lcall_done(struct triton_call *call, struct triton_reply *reply,
                const struct triton_error *err, bool final);
void lstream_done(struct triton_call *call, struct triton_reply *reply,
                  const struct triton_error *err, bool final);
/* Hands one sink's queued replies to Lua. */
void lsink_deliver(lua_State *L, struct lsink *k);
/* Steps until the sink's final reply was handed to Lua. */
void lsink_wait(lua_State *L, struct lsink *k);

/* ---- lbuild.c ---------------------------------------------------------------------- */

/* Option readers: field k of the table at idx; copied into m. */
const char *lopt_string(lua_State *L, int idx, const char *k, struct lmem *m);
double lopt_number(lua_State *L, int idx, const char *k, double dflt);
double lopt_seconds(lua_State *L, int idx, const char *k);
lua_Integer lopt_integer(lua_State *L, int idx, const char *k, lua_Integer dflt);
bool lopt_bool(lua_State *L, int idx, const char *k);
struct triton_kv *lopt_kv(lua_State *L, int idx, const char *k, struct lmem *m, size_t *n);
size_t ltable_count(lua_State *L, int tab);

/* Fills a call from the Lua values at idx: lbuild_call (an args table) or
 * lbuild_infer_map (a model name and a map of input tensors). */
typedef void (*lbuild_fn)(lua_State *L, int idx, struct lcall *lcall);
void lbuild_call(lua_State *L, int idx, struct lcall *lcall);
void lbuild_infer_map(lua_State *L, int idx, struct lcall *lcall);
/* The infer request described by the table at idx, built into m. */
void lbuild_infer(lua_State *L, int idx, struct triton_infer_request *req, struct lmem *m);
/* The call kind named by the string at idx, or an argument error. */
enum triton_call_kind lbuild_check_kind(lua_State *L, int idx);

/* ---- lresult.c, lfuture.c, lstream.c, lclient.c ----------------------------------------- */

/* Pushes a triton.InferResult; takes ownership of r (freed if pushing fails). */
void lresult_push(lua_State *L, struct lstate *st, struct triton_infer_result *r);
/* Sets the server (NULL: none) r:server() answers for the result at -1. */
void lresult_set_server(lua_State *L, const char *server);
/* A full collection when reply memory handed to Lua adds up (see lresult.c). */
void lresult_collect_if_due(lua_State *L, struct lstate *st);
void lresult_open(lua_State *L);

struct lfuture *lfuture_check(lua_State *L, int idx);
/* future:get_result(): the future at index 1, alone above it. */
int lfuture_get_result(lua_State *L);
void lfuture_open(lua_State *L);

/* The stream methods of the core client (added to the methods table at -1). */
void lstream_methods(lua_State *L);

struct lclient *lclient_check(lua_State *L, int idx);
/* Cancels a call of lc in flight (its completion comes from a later step). */
void lclient_cancel(struct lclient *lc, struct lcall *call);
/* A metatable named `name` with the given metamethods and an __index table of methods. */
void lclass_new(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

#endif
