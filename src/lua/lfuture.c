/*
 * lfuture.c: triton.Future, a call in flight as Lua holds it:
 *   f:done()                        never blocks, but makes progress first
 *   f:wait([timeout])               -> true once done, false when timeout ran out
 *   f:get_result([block [, timeout]]) -> the value; raises the call's triton.Error
 *   f:cancel()
 * The future owns its struct lcall (lbinding.h); the value or error of the
 * last reply is kept in its uservalue.
 *
 * Timeouts are tritonclient's: get_result(true, t) raises a triton.Error with
 * code "deadline_exceeded" when t seconds pass first, get_result(false) returns
 * nil while the reply is not in; either way the call goes on. Inside a
 * coroutine of lua/triton/spawn.lua a wait yields instead of stepping the loop:
 * it yields core.await_token, the future and its deadline (or nil), and the
 * scheduler resumes it when the reply is handed over or the deadline passes.
 */
#include <math.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"

/* The future at idx; mt: LUV_CLASS in the future's methods, 0 in a
 * continuation (which LuaJIT's emulation may run outside the method). */
static struct lfuture *future_at(lua_State *L, int idx, int mt)
{
    struct lfuture *f = lclass_check(L, idx, mt, LFUTURE_MT);
    if (f->done)
        return f;
    if (!f->call)
        luaL_error(L, "attempt to use a released future");
    if (!f->call->req.started)
        luaL_error(L, "this call was never started");
    return f;
}

/* The future's request, NULL once it is done (and its call given back). */
static struct lreq *req_of(struct lfuture *f)
{
    return f->done ? NULL : &f->call->req;
}

/* A done future needs its call no more: the call goes back to its state's
 * spares now, not when the future is collected (an async loop's futures are
 * collected in bursts, more than the spares hold, so every call would be a
 * new allocation). Not while a wait or a delivery still reads the request. */
static void release_done(struct lfuture *f)
{
    struct lreq *r = req_of(f);
    if (!r || !r->delivered || !r->finished || r->held > 0 || r->delivering > 0)
        return;
    f->kind = r->kind;
    f->done = true;
    f->call = NULL;
    lreq_free(r);
}

static struct lfuture *check_future(lua_State *L, int idx)
{
    return future_at(L, idx, LUV_CLASS);
}

/* The deadline for an optional timeout argument at idx (INFINITY without one). */
static double deadline_arg(lua_State *L, int idx, const char *fname)
{
    double timeout = lstate_timeout_arg(L, idx, fname, INFINITY);
    return isinf(timeout) ? INFINITY : triton_loop_now() + timeout;
}

/* One step without waiting, so that a poll-style check sees what came;
 * returns whether f is done (its final reply handed over). */
static bool make_progress(lua_State *L, struct lfuture *f)
{
    struct lreq *r = req_of(f);
    if (!r)
        return true;
    struct lwait w;
    struct triton_error err = {0};
    lwait_begin(r->st, &w);
    lstate_check_interrupt(L, r->st, &w);
    r->held++; /* a callback run by the step may ask f for its result */
    int rc = r->delivered ? 0 : lstate_step(L, r->st, 0, &w, NULL, &err);
    r->held--;
    if (rc < 0)
        lerror_raise(L, &err, LERROR_LOCAL);
    lstate_check_interrupt(L, r->st, &w);
    return r->delivered;
}

/* f:done() -> true once the final reply has been handed over */
static int future_done(lua_State *L)
{
    lua_pushboolean(L, make_progress(L, check_future(L, 1)));
    return 1;
}

enum await_status { AWAIT_TIMEOUT, AWAIT_DONE, AWAIT_YIELD };

/* The request of the future at index 1, for a continuation: the caller's
 * first run passes the one it checked as ctx; a resumed run (ctx 0, as
 * lua_yieldk passes it below) checks the future again. */
static struct lreq *future_req(lua_State *L, lua_KContext ctx)
{
    return ctx ? (struct lreq *)ctx : req_of(future_at(L, 1, 0));
}

/* Waits for the future at index 1 (its request r) until the deadline stored at
 * index `slot` (nil: none). In a spawned coroutine it does not wait: it leaves
 * the slots up to `slot` and the 3 values to yield to the scheduler
 * (core.await_token, the future, the deadline) on the stack and returns
 * AWAIT_YIELD; the caller yields them with a continuation that waits again. */
static enum await_status await(lua_State *L, struct lreq *r, int slot)
{
    double deadline = lua_isnil(L, slot) ? INFINITY : lua_tonumber(L, slot);
    if (!r || r->delivered)
        return AWAIT_DONE;
    if (lstate_in_task(L, r->st)) {
        if (triton_loop_now() >= deadline)
            return AWAIT_TIMEOUT;
        lreq_add_waiter(L, r);
        lua_settop(L, slot);
        lua_pushlightuserdata(L, (void *)&lstate_await_token);
        lua_pushvalue(L, 1);
        lua_pushvalue(L, slot);
        return AWAIT_YIELD;
    }
    return lreq_wait(L, r, deadline) ? AWAIT_DONE : AWAIT_TIMEOUT;
}

/* Pushes the outcome of the delivered future at 1: its value, or raises its
 * error. */
static int outcome(lua_State *L)
{
    struct lfuture *f = lua_touserdata(L, 1);
    release_done(f);
    lua_getiuservalue(L, 1, 1);
    return f->failed ? lua_error(L) : 1;
}

static int get_result_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct lreq *r = future_req(L, ctx);
    lua_settop(L, 3);
    enum await_status a = await(L, r, 3);
    if (a == AWAIT_YIELD)
        return lua_yieldk(L, 3, 0, get_result_k);
    if (a == AWAIT_TIMEOUT)
        return lerror_raisef(L, TRITON_DEADLINE_EXCEEDED,
                             "get_result: no result within %g s (the call goes on)",
                             lua_tonumber(L, 2));
    return outcome(L);
}

/* f:get_result([block [, timeout]]) of the future f at index 1. Across a
 * yield slot 2 holds the timeout, slot 3 the deadline. */
static int result_of(lua_State *L, struct lfuture *f)
{
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TBOOLEAN);
    bool block = lua_isnoneornil(L, 2) || lua_toboolean(L, 2);
    double deadline = block ? deadline_arg(L, 3, "get_result") : INFINITY;
    if (!block) {
        if (!make_progress(L, f))
            return 0;
        lua_settop(L, 1);
        return outcome(L);
    }
    lua_settop(L, 3);
    lua_copy(L, 3, 2);
    if (isinf(deadline))
        lua_pushnil(L);
    else
        lua_pushnumber(L, deadline);
    lua_replace(L, 3);
    return get_result_k(L, LUA_OK, (lua_KContext)req_of(f));
}

int lfuture_get_result(lua_State *L)
{
    return result_of(L, check_future(L, 1));
}

/* ---- the futures of blocking calls ------------------------------------------------------ */

/* A blocking call (lfuture_result_once) needs a future only to own its call
 * while it waits: an error (an interrupt) or a coroutine that is never resumed
 * leaves the future behind, and its finalizer cleans up. When the outcome is
 * in, nothing else holds that future (the user never sees it, spawn.lua drops
 * what a wait yields), so it is kept, emptied, for the next blocking call: a
 * new userdata with a finalizer per call costs more than the rest of the
 * binding's side of a call. Kept futures sit in registry slots of the state. */
struct lfuture *lfuture_take_spare(lua_State *L, struct lstate *st)
{
    if (st->n_spare_futures == 0)
        return NULL;
    int ref = st->spare_futures[--st->n_spare_futures];
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lref_drop(L, st, &ref); /* the caller's stack holds it now */
    return lua_touserdata(L, -1);
}

/* Keeps the released future at idx for lfuture_take_spare, if st has room. */
static void keep_spare(lua_State *L, struct lstate *st, int idx)
{
    if (st->n_spare_futures >= LSPARE_FUTURES || st->n_spare_calls < 0)
        return;
    ((struct lfuture *)lua_touserdata(L, idx))->failed = false;
    lua_pushnil(L);
    lua_setiuservalue(L, idx, 1);
    lua_pushvalue(L, idx);
    st->spare_futures[st->n_spare_futures++] = lref_top(L, st);
}

/* For lfuture_result_once: waits with no deadline (slot 3 nil), then gives the
 * call back to its state's spares and keeps the future before pushing the
 * outcome. */
static int result_once_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    struct lfuture *f = lua_touserdata(L, 1);
    lua_settop(L, 3);
    if (await(L, &f->call->req, 3) == AWAIT_YIELD)
        return lua_yieldk(L, 3, 0, result_once_k);
    struct lcall *call = f->call;
    struct lstate *st = call->req.st;
    f->call = NULL; /* released: nobody else holds this future */
    lreq_free(&call->req);
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, 1);
    bool failed = f->failed;
    keep_spare(L, st, 1);
    return failed ? lua_error(L) : 1;
}

int lfuture_result_once(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushnil(L); /* no timeout */
    lua_pushnil(L); /* no deadline */
    return result_once_k(L, LUA_OK, 0);
}

static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    struct lreq *r = future_req(L, ctx);
    lua_settop(L, 2);
    enum await_status a = await(L, r, 2);
    if (a == AWAIT_YIELD)
        return lua_yieldk(L, 3, 0, wait_k);
    lua_pushboolean(L, a == AWAIT_DONE);
    return 1;
}

/* f:wait([timeout]) -> true once done; false when timeout (s) ran out first */
static int future_wait(lua_State *L)
{
    struct lreq *r = req_of(check_future(L, 1));
    double deadline = deadline_arg(L, 2, "wait");
    lua_settop(L, 2);
    if (isinf(deadline))
        lua_pushnil(L);
    else
        lua_pushnumber(L, deadline);
    lua_replace(L, 2);
    return wait_k(L, LUA_OK, (lua_KContext)r);
}

/* f:cancel(): the call ends with a "cancelled" error unless it already ended */
static int future_cancel(lua_State *L)
{
    struct lreq *r = req_of(check_future(L, 1));
    if (r)
        lclient_cancel(r);
    return 0;
}

static int future_gc(lua_State *L)
{
    struct lfuture *f = lclass_check(L, 1, LUV_CLASS, LFUTURE_MT);
    struct lcall *call = f->call;
    if (!call)
        return 0;
    f->call = NULL;
    lreq_unref(L, &call->req);
    if (call->req.started && !call->req.finished) {
        /* Only at lua_close (its references kept us alive otherwise): orphan the
         * call; the transport's final completion frees it. */
        lreq_orphan(&call->req);
        lclient_cancel(&call->req);
        return 0;
    }
    lreq_free(&call->req);
    return 0;
}

static int future_tostring(lua_State *L)
{
    struct lfuture *f = lclass_check(L, 1, LUV_CLASS, LFUTURE_MT);
    if (f->done)
        lua_pushfstring(L, "triton.Future(%s, done)", triton_call_kind_name(f->kind));
    else if (!f->call)
        lua_pushliteral(L, "triton.Future(released)");
    else
        lua_pushfstring(L, "triton.Future(%s, %s)", triton_call_kind_name(f->call->req.kind),
                        f->call->req.delivered ? "done" : "pending");
    return 1;
}

/* Lets that method of that class yield with lua_yieldk (LuaJIT: through the
 * trampoline of lcompat.h). */
static void yieldable(lua_State *L, const char *class, const char *method)
{
    luaL_getmetatable(L, class);
    lua_getfield(L, -1, "__index");
    lua_getfield(L, -1, method);
    lcompat_yieldable(L);
    lua_setfield(L, -2, method);
    lua_pop(L, 2);
}

void lfuture_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"done", future_done},
                                       {"wait", future_wait},
                                       {"get_result", lfuture_get_result},
                                       {"cancel", future_cancel},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", future_gc}, {"__tostring", future_tostring}, {NULL, NULL}};
    lclass_new(L, LFUTURE_MT, meta, methods);
    yieldable(L, LFUTURE_MT, "get_result");
    yieldable(L, LFUTURE_MT, "wait");
    yieldable(L, LCLIENT_MT, "call"); /* these end in lfuture_result_once */
    yieldable(L, LCLIENT_MT, "infer");
}
