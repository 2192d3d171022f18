/*
 * lbinding.h: what the files of the client binding share. One C file per Lua
 * object over these helpers, as luv puts tcp.c, timer.c and fs.c over util.c:
 *
 *   lstate.c    the per-Lua-state loop glue: stepping, waits, poll and fd,
 *               interrupts, the reporter of callback errors
 *   lrequest.c  a request in flight (a call or a stream): its memory, its
 *               references, the queue of replies waiting for Lua, and handing
 *               them to Lua (lreq_deliver)
 *   lbuild.c    reading Lua option tables and building struct triton_call
 *   lresult.c   triton.InferResult
 *   lfuture.c   triton.Future
 *   lstream.c   streams (start_stream and stream_infer underneath)
 *   lclient.c   the core client (triton.core.Client) and lclient_open
 *   lerror.c    triton.Error
 *
 * Ownership. Every call is a struct lcall in C memory, owned by its Future
 * userdata (a blocking call has one too, on the stack, and lets go of the call
 * as soon as its outcome is in; that future never reaches the user, so it is
 * then kept for the next blocking call, lfuture_take_spare); a finished call
 * is kept as a spare of its state for the next one (lcall_new), up to a bound.
 * A stream owns itself and is freed once its end was handed to Lua. While a
 * request is in flight it holds registry references to what Lua must keep
 * alive for it (its client, callback, future and the coroutines waiting on
 * it), each in a named field (as luv's lreq does) that is LUA_NOREF when not
 * held; lreq_unref drops them all at the final reply. What the transport
 * reads is owned by the request in C: argument strings are copied into its
 * memory (struct lmem) and every input tensor is held as a C view (a buffer
 * reference), so the request never points into a Lua object.
 *
 * Completions never touch Lua. The transport's `done` runs inside
 * triton_loop_step (or inside triton_client_free) and only queues the reply on
 * the request; after the step returns, lstate_step hands queued replies to Lua
 * (converts them, runs callbacks under pcall, drops the references at the
 * final reply). A call whose Future was finalized while in flight (only
 * possible at lua_close) is orphaned: its replies are dropped and `done` frees
 * it.
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
#include "triton_lua.h"

#define LSTATE_KEY     "triton.core.state"
#define LCLIENT_MT     "triton.core.Client"
#define LSTREAM_MT     "triton.core.Stream"
#define LFUTURE_MT     "triton.Future"
#define LRESULT_MT     "triton.InferResult"
#define LINPUT_MT      "triton.InferInput"           /* lua/triton/infer.lua's, read by lbuild.c */
#define LOUTPUT_MT     "triton.InferRequestedOutput" /* the same */
#define LWAIT_SLICE    0.1  /* seconds: how often a wait looks for an interrupt */
#define LMAX_HEADERS   1024 /* entries in a headers (or similar) table */
#define LSPARE_REFS    64   /* registry slots a state keeps for its requests' references */
#define LSPARE_FUTURES 16   /* futures of blocking calls a state keeps for reuse (lfuture.c) */

/* ---- structures ------------------------------------------------------------------- */

struct lreq;
struct lclient;
struct linterrupt;

/* The loop glue of one Lua state (a registry sentinel, see lstate.c). */
struct lstate {
    struct triton_loop *loop;
    lua_State *main;                 /* the state's main thread: where a host's hook lands */
    struct linterrupt *interrupt;    /* this state's slot for triton_lua_interrupt */
    struct lreq *ready, *ready_tail; /* requests with replies to hand to Lua */
    struct lclient *clients;         /* open clients: what an interrupt cancels */
    size_t reply_bytes; /* reply memory handed to Lua since the last lresult_collect_if_due */
    size_t gc_owed;     /* results' C memory not yet reported to the collector (lresult.c) */
    int callbacks;      /* calls with a callback whose final reply was not handed over yet */
    int in_callback;    /* callbacks running now (nested in lreq_deliver) */
    int ref_reporter;   /* the Lua reporter of callback errors, or LUA_NOREF */
    int ref_result_mt;  /* the registry's reference to triton.InferResult's metatable */
    int ref_tasks;      /* the scheduler's coroutines (core.set_tasks), or LUA_NOREF */
    /* the coroutines whose awaited request completed (core.take_woken): two lists
     * that take turns, the one being filled first */
    int ref_woken[2];
    triton_lua_error_fn reporter; /* the C one (triton_lua_on_callback_error), or NULL */
    void *reporter_ud;
    struct triton_loop_timer wakeup; /* the scheduler's next timer (core.set_wakeup) */
    struct lcall *spare_calls;       /* finished calls kept for reuse (lcall_new) */
    int n_spare_calls;               /* on that list; -1 once the state is closed */
    struct lmem_block *spare_blocks; /* request blocks of delivered calls, for lcall_new */
    int n_spare_blocks;
    int spare_refs[LSPARE_REFS]; /* registry slots kept for reuse (lrequest.c) */
    int n_spare_refs;
    int spare_futures[LSPARE_FUTURES]; /* registry slots holding released futures (lfuture.c) */
    int n_spare_futures;
};

/* What a wait saw when it began: a host's Ctrl-C hook is a change from it. */
struct lwait {
    lua_Hook hook;
    int mask, count;
};

struct lmem_block {
    struct lmem_block *next;
    size_t used, cap; /* bytes of data handed out, and there */
    max_align_t data[];
};

struct lhold { /* an input tensor held by a request */
    struct lhold *next;
    struct tensor t;
};

/* Memory a request owns: freed in one go when the request is. Pieces are cut
 * from blocks big enough for a whole common request, not allocated one by one. */
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
    bool final;
    char *server; /* the server that answered an inference (owned, or server_buf) */
    /* From here on not zeroed by a new event: each is written before it is read. */
    struct triton_error err; /* when failed */
    char server_buf[48];
};

/* A request in flight: a call (struct lcall) or a stream (struct lstream). */
struct lreq {
    struct lstate *st;
    struct lclient *lc;       /* NULL after the final reply */
    struct lreq *prev, *next; /* on lc->reqs while in flight */
    enum triton_call_kind kind;
    enum lerror_origin origin;
    struct levent *head, *tail; /* replies waiting for Lua */
    struct lreq *ready_next;    /* on st->ready */
    /* registry references, LUA_NOREF when not held (lreq_unref drops them all) */
    int ref_client;   /* the core client userdata */
    int ref_callback; /* cb(value, err, final) */
    int ref_future;   /* the Future (calls only) */
    int ref_waiters;  /* the coroutine waiting for the final reply, or a list of them */
    bool queued;      /* on st->ready */
    bool has_cb;      /* deliver replies to a Lua callback */
    bool counted;     /* counts in st->callbacks */
    bool orphaned;    /* the Lua side is gone: drop replies, free at the final one */
    bool started;     /* submitted to the transport */
    bool finished;    /* the final reply arrived from the transport */
    bool delivered;   /* the final reply was handed to Lua */
    bool is_stream;
    int delivering; /* lreq_deliver runs for it (nested when a callback steps the loop) */
    int held;       /* waits that read it across a loop step (a future keeps its call) */
    struct lmem mem;
    bool first_busy; /* first holds an event */
    /* its first event (a call's only one), without an allocation; last, so
     * that lcall_new can leave its buffers out of what it zeroes */
    struct levent first;
};

struct lcall {
    struct lreq req;
    struct triton_call call;
};

struct lstream_handle;

struct lstream {
    struct lreq req;
    struct triton_stream s;
    struct triton_client *client;  /* the one server a stream stays on */
    struct lstream_handle *handle; /* the Lua handle, NULL once it was collected */
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
    struct lreq *reqs;                     /* calls and streams in flight */
    enum lerror_origin origin;
    struct lmem opts; /* option arrays the client was made from */
};

/* The Future userdata; its uservalue: the last reply's value, or its error. */
struct lfuture {
    struct lcall *call;         /* owned; NULL after __gc, or once done */
    bool failed;                /* the uservalue is an error */
    bool done;                  /* its outcome was asked for and its call given back (lfuture.c) */
    enum triton_call_kind kind; /* the call's, once done */
};

/* ---- lstate.c ---------------------------------------------------------------------- */

/* The state's loop glue, created on first use. */
struct lstate *lstate_get(lua_State *L);
/* The state whose loop step (or client free) runs on this thread, for
 * completions that must find their request; returns the previous one. */
struct lstate *lstate_swap_active(struct lstate *st);

/* Notes what a host's interrupt would change (call when a wait begins). */
void lwait_begin(struct lstate *st, struct lwait *w);
/* Whether an interrupt is pending: triton_lua_interrupt, or a hook set on the
 * main thread since w began (w NULL: only the former). */
bool lstate_interrupted(struct lstate *st, const struct lwait *w);
/* Raises "interrupted" (after cancelling what is in flight) if one is pending. */
void lstate_check_interrupt(lua_State *L, struct lstate *st, const struct lwait *w);
/* Marks an interrupt pending (an "interrupted!" error seen inside a callback). */
void lstate_interrupt_again(struct lstate *st);

/* Hands queued replies to Lua (not while an interrupt is pending); returns the
 * number of replies handed over. */
int lstate_drain(lua_State *L, struct lstate *st, const struct lwait *w);
/* One loop step (waiting up to timeout s) plus the Lua side of what completed:
 * the number of loop completions plus replies handed over, -1 with err. */
int lstate_step(lua_State *L, struct lstate *st, double timeout, const struct lwait *w,
                int *delivered, struct triton_error *err);
/* A step that runs no Lua: moves what was just submitted onto the wire. */
void lstate_kick(struct lstate *st);
/* Whether what a wait waits for is there (it may hand replies to Lua, in wait w). */
typedef bool (*lstate_done_fn)(lua_State *L, void *arg, const struct lwait *w);
/* Steps until done or the deadline (triton_loop_now() seconds, INFINITY: none);
 * returns whether done. Raises on an interrupt or a loop failure, and when
 * nothing is in flight that could ever make it done (`what` names it). */
bool lstate_wait(lua_State *L, struct lstate *st, double deadline, lstate_done_fn done, void *arg,
                 const char *what);
/* Reports the error at the top of the stack (a callback's; with its traceback
 * below it) through the state's reporter; pops both. */
void lstate_report(lua_State *L, struct lstate *st);
/* The optional timeout argument at idx (seconds >= 0; math.huge: INFINITY, no
 * limit), def when absent. */
double lstate_timeout_arg(lua_State *L, int idx, const char *fname, double def);
/* Whether L is a coroutine that lua/triton/spawn.lua runs (and may yield). */
bool lstate_in_task(lua_State *L, struct lstate *st);
/* What a waiting coroutine yields to the scheduler (core.await_token). */
extern const char lstate_await_token;
/* core.step, poll, fd, set_tasks, take_woken, await_token, ... (table at -1). */
void lstate_open(lua_State *L);

/* ---- lrequest.c -------------------------------------------------------------------- */

void *lmem_alloc(lua_State *L, struct lmem *m, size_t size);
/* As lmem_alloc, but not zeroed: for what the caller fills in whole. */
void *lmem_take(lua_State *L, struct lmem *m, size_t size);
void *lmem_array(lua_State *L, struct lmem *m, size_t n, size_t size);
const char *lmem_strdup(lua_State *L, struct lmem *m, const char *s, size_t len);
void lmem_free(struct lmem *m);

/* A zeroed call for state st, reused from st's spares (with the memory block its
 * last request was built in) when there is one; NULL when out of memory. */
struct lcall *lcall_new(struct lstate *st);
/* Frees st's spare calls; later calls are freed at once (the state is closing). */
void lcall_free_spares(struct lstate *st);

/* A registry reference to the value at the top of the stack (popped), from st's
 * spare slots when it has one; lref_drop lets go of *ref (LUA_NOREF after). */
int lref_top(lua_State *L, struct lstate *st);
void lref_drop(lua_State *L, struct lstate *st, int *ref);

/* Initializes a request of `kind` for client lc (references unheld). */
void lreq_init(struct lreq *r, struct lclient *lc, enum triton_call_kind kind, bool is_stream);
/* Takes the references: client (at client_idx), callback (cb_idx, 0: none) and
 * future (fut_idx, 0: none). */
void lreq_ref(lua_State *L, struct lreq *r, int client_idx, int cb_idx, int fut_idx);
/* Drops every reference the request holds. */
void lreq_unref(lua_State *L, struct lreq *r);
/* The request was submitted: it goes on its client's list of requests in flight. */
void lreq_started(struct lreq *r);
/* Takes it off that list (at its final reply, or when its client goes). */
void lreq_unlink(struct lreq *r);
/* Drops its queued replies and takes it off the ready queue. */
void lreq_clear_events(struct lreq *r);
/* Frees it (its memory, its queued replies; a call may be kept as a spare of its
 * state for lcall_new); a stream's handle lets go of it. */
void lreq_free(struct lreq *r);
/* The Lua side is gone (a finalizer): drop replies from now on; the final
 * completion frees it. */
void lreq_orphan(struct lreq *r);
/* The transport's completion: only queues (see the header comment). */
void lreq_event(struct lreq *r, struct triton_reply *reply, const struct triton_error *err,
                bool final);
void lcall_done(struct triton_call *call, struct triton_reply *reply,
                const struct triton_error *err, bool final);
/* Hands the request's queued replies to Lua (w: the wait it runs in, or NULL);
 * returns how many. */
int lreq_deliver(lua_State *L, struct lreq *r, const struct lwait *w);
/* Notes the running coroutine as waiting for the request's final reply. */
void lreq_add_waiter(lua_State *L, struct lreq *r);
/* Waits until the final reply was handed over, or the deadline; returns whether it was. */
bool lreq_wait(lua_State *L, struct lreq *r, double deadline);

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
 * lbuild_infer_args (infer's model, inputs, checked options, then whose
 * arguments they are: the user's function name and the model's argument
 * number, nil for 1, a method's). */
typedef void (*lbuild_fn)(lua_State *L, int idx, struct lcall *lcall);
void lbuild_call(lua_State *L, int idx, struct lcall *lcall);
void lbuild_infer_args(lua_State *L, int idx, struct lcall *lcall);
/* Whose arguments an infer request's are, for the messages of its checks: the
 * user's function (NULL: the running one) and the argument number of the
 * model, which the inputs and the options follow (1 in c:infer, 2 in
 * triton.perf(c, model, inputs)). */
struct lwho {
    const char *fname;
    int arg;
};
/* The lwho of infer arguments laid out from the model at idx, as
 * lbuild_infer_args reads them. */
struct lwho lbuild_who(lua_State *L, int idx);
/* Whether lbuild_infer_args reads the option `name` of c:infer. */
bool lbuild_reads_option(const char *name);
/* The infer request described by the table at idx, built into m. */
void lbuild_infer(lua_State *L, int idx, struct triton_infer_request *req, struct lmem *m);
/* The call kind named by the string at idx, or an argument error. */
enum triton_call_kind lbuild_check_kind(lua_State *L, int idx);

/* ---- lresult.c, lfuture.c, lstream.c, lclient.c ----------------------------------------- */

/* Pushes a triton.InferResult that owns r from then on (r stays the caller's if
 * this raises: out of memory).
 * server: what r:server() answers (copied; NULL: nil). */
void lresult_push(lua_State *L, struct lstate *st, struct triton_infer_result *r,
                  const char *server);
/* A full collection when reply memory handed to Lua adds up (see lresult.c). */
void lresult_collect_if_due(lua_State *L, struct lstate *st);
void lresult_open(lua_State *L);

/* Pushes a released future of a blocking call that st kept for reuse and
 * returns it, or pushes nothing and returns NULL when st has none. */
struct lfuture *lfuture_take_spare(lua_State *L, struct lstate *st);
/* future:get_result(): the future at index 1, alone above it. */
int lfuture_get_result(lua_State *L);
/* The blocking wait of a call whose future (at index 1, alone) never reaches the
 * user (cc:call, cc:infer): as get_result(), and the call's memory goes back
 * to its state's spares as soon as the outcome is in, not when the future is
 * collected. */
int lfuture_result_once(lua_State *L);
void lfuture_open(lua_State *L);

/* A stream's end was handed to Lua: its handle lets go of it. */
void lstream_detach(struct lstream *s);
/* cc:stream_open(cb, opts) -> a stream handle (see lstream.c). */
int lstream_open_method(lua_State *L);
void lstream_open(lua_State *L);

/* Upvalues of every function lclass_new registers: its own class's metatable,
 * the Future's and the Tensor's (both of them, ltensor.h), so that the methods on every call's path
 * check and make objects without looking a metatable up by name (a string lookup in the registry,
 * more than the rest of a small method costs). */
#define LUV_CLASS       lua_upvalueindex(1)
#define LUV_FUTURE      lua_upvalueindex(2)
#define LUV_TENSOR      lua_upvalueindex(3)
#define LUV_TENSOR_LENT lua_upvalueindex(4)
#define LUV_COUNT       4
/* The userdata at idx if its metatable is the table at mt (an LUV_ index), else
 * NULL; mt 0: the metatable named `name`, for code that runs outside a method. */
void *lclass_test(lua_State *L, int idx, int mt, const char *name);
/* The same, or the error luaL_checkudata raises. */
void *lclass_check(lua_State *L, int idx, int mt, const char *name);

/* The open client at idx; for the client's methods (reads LUV_CLASS). */
struct lclient *lclient_check(lua_State *L, int idx);
/* Cancels a request in flight (its final reply comes from a later step). */
void lclient_cancel(struct lreq *r);
/* A metatable named `name` with the given metamethods and an __index table of
 * methods, all given the LUV_ upvalues. */
void lclass_new(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

#endif
