/*
 * lfuture.c: triton.Future, a call in flight as Lua holds it:
 *   future:done()  future:get_result()  future:cancel()
 * The future owns its struct lcall (lbinding.h); the value or error of the
 * last reply is kept in its uservalues.
 */
#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"

struct lfuture *lfuture_check(lua_State *L, int idx)
{
    struct lfuture *f = luaL_checkudata(L, idx, LFUTURE_MT);
    if (!f->call)
        luaL_error(L, "attempt to use a released future");
    return f;
}

/* future:done() -> true once the final reply has been handed over. Never
 * blocks, but makes progress: it runs what is ready (this call's reply, other
 * calls' callbacks), so that `while not f:done() do ... end` ends. */
static int future_done(lua_State *L)
{
    struct lfuture *f = lfuture_check(L, 1);
    struct lsink *k = &f->call->sink;
    if (!k->delivered && k->started) {
        struct triton_error err = {0};
        if (lstate_step(L, k->st, 0, &err) < 0)
            lerror_raise(L, &err, LERROR_LOCAL);
        lstate_check_interrupt(L, k->st);
    }
    lua_pushboolean(L, k->delivered);
    return 1;
}

static int future_get_result_k(lua_State *L, int status, lua_KContext ctx);

/* future:get_result() -> the value; raises the call's triton.Error. Inside a
 * spawned coroutine it yields until the reply is in instead of stepping. The
 * future must be at index 1 and alone above it (cc:call relies on this too). */
int lfuture_get_result(lua_State *L)
{
    struct lfuture *f = lfuture_check(L, 1);
    struct lsink *k = &f->call->sink;
    if (!k->started)
        return luaL_error(L, "this call was never started");
    if (!k->delivered && k->finished) {
        lsink_unqueue(k);
        lsink_deliver(L, k);
    }
    if (!k->delivered && lstate_in_task(L)) {
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
        lua_pushlightuserdata(L, (void *)&lstate_await_token);
        lua_pushvalue(L, 1);
        return lua_yieldk(L, 2, 0, future_get_result_k);
    }
    lsink_wait(L, k);
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
    return lfuture_get_result(L);
}

/* future:cancel(): the call ends with a "cancelled" error unless it already ended */
static int future_cancel(lua_State *L)
{
    struct lfuture *f = lfuture_check(L, 1);
    struct lcall *call = f->call;
    if (call->sink.started && !call->sink.finished && call->sink.lc)
        lclient_cancel(call->sink.lc, call);
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
        lsink_unqueue(&call->sink);
        lsink_clear_events(&call->sink);
        if (call->sink.lc)
            lclient_cancel(call->sink.lc, call);
        return 0;
    }
    lcall_unlink(call);
    lsink_free(&call->sink);
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

void lfuture_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"done", future_done},
                                       {"get_result", lfuture_get_result},
                                       {"cancel", future_cancel},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", future_gc}, {"__tostring", future_tostring}, {NULL, NULL}};
    lclass_new(L, LFUTURE_MT, meta, methods);
    /* core.Future: lua/triton/spawn.lua adds the methods written in Lua */
    luaL_getmetatable(L, LFUTURE_MT);
    lua_setfield(L, -2, "Future");
}
