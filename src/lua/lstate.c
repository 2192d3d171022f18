/*
 * lstate.c: the loop glue of one Lua state.
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
 * scheduler. When lsink_deliver hands over the final reply it moves those
 * waiters to the woken list, which the scheduler collects with core.take_woken()
 * after each step and resumes; the continuation then returns the value or raises.
 *
 * Interrupts. Every wait here polls in slices of LWAIT_SLICE seconds and checks
 * triton_lua_interrupted, which a host's SIGINT handler sets through
 * triton_lua_interrupt() (include/triton_lua.h; the flag is in lclient.h): a
 * signal handler may not wake the loop itself. Seeing it, the wait cancels every
 * call and stream in flight on the state and raises a "cancelled" triton.Error
 * whose message is "interrupted".
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"
#include "triton_lua.h"

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

struct lstate *lstate_get(lua_State *L)
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

/* Streams reuse the call completion type; a completion runs only inside the loop
 * step or triton_client_free that this thread entered for one Lua state, so
 * lstream_done finds that state here. */
static _Thread_local struct lstate *active_state;

struct lstate *lstate_swap_active(struct lstate *st)
{
    struct lstate *outer = active_state;
    active_state = st;
    return outer;
}

struct lstate *lstate_active(void)
{
    return active_state;
}

int lstate_drain(lua_State *L, struct lstate *st)
{
    int n = 0;
    while (st->ready) {
        struct lsink *k = st->ready;
        st->ready = k->ready_next;
        if (!st->ready)
            st->ready_tail = NULL;
        k->queued = false;
        lsink_deliver(L, k);
        n++;
    }
    return n;
}

/* One loop step plus the Lua side of what completed. -1 with err on failure. */
int lstate_step(lua_State *L, struct lstate *st, double timeout, struct triton_error *err)
{
    /* Replies handed to Lua count as progress as much as completed transfers do:
     * a server-sent event arrives inside a transfer that is still running, and a
     * waiting iterator must see it now, not when the stream ends. */
    if (lstate_interrupt_pending(L))
        return 0; /* the caller's check raises; no reply is converted under a stop hook */
    int delivered = lstate_drain(L, st);
    struct lstate *outer = lstate_swap_active(st);
    int ran = triton_loop_step(st->loop, delivered > 0 ? 0 : timeout, err);
    lstate_swap_active(outer);
    if (ran < 0)
        return -1;
    delivered += lstate_drain(L, st);
    return ran + delivered;
}

/* Cancels every call and stream in flight on the state; their completions
 * arrive in later steps. */
static void lstate_cancel_all(struct lstate *st)
{
    for (struct lclient *lc = st->clients; lc; lc = lc->next_open) {
        if (!lc->fleet)
            continue;
        for (struct lcall *c = lc->calls, *next; c; c = next) {
            next = c->next;
            if (c->sink.started && !c->sink.finished)
                lclient_cancel(lc, c);
        }
    }
    /* every open stream: the clients' start_stream ones and stream_infer's */
    for (struct lstream *s = st->streams; s; s = s->next_open)
        if (s->sink.started && !s->sink.finished)
            triton_client_stream_cancel(s->client, &s->s);
}

/* Whether a Ctrl-C handler has asked this state to stop: lua.c (the stock
 * lua5.4) and the tritonlua host both answer SIGINT by setting a hook that runs
 * at the very next instruction (a count hook of 1). While we wait in C no
 * instruction runs, so the waits look for that hook themselves. */
static bool stop_hook_set(lua_State *L)
{
    return lua_gethook(L) != NULL && (lua_gethookmask(L) & LUA_MASKCOUNT) &&
           lua_gethookcount(L) == 1;
}

bool lstate_interrupt_pending(lua_State *L)
{
    return triton_lua_interrupted || stop_hook_set(L);
}

/* Consumes the interrupt: the flag is cleared, the stop hook removed (its
 * job is done here), everything in flight on the state cancelled, and a
 * "cancelled" triton.Error raised. */
static int raise_interrupted(lua_State *L, struct lstate *st)
{
    triton_lua_interrupted = 0;
    if (stop_hook_set(L))
        lua_sethook(L, NULL, 0, 0);
    lstate_cancel_all(st);
    return lerror_raisef(L, TRITON_CANCELLED, "interrupted");
}

/* Raises "interrupted" (after cancelling what is in flight) if a Ctrl-C came
 * since the last check. */
void lstate_check_interrupt(lua_State *L, struct lstate *st)
{
    if (lstate_interrupt_pending(L))
        raise_interrupted(L, st);
}

void triton_lua_clear_interrupt(void)
{
    triton_lua_interrupted = 0;
}

int triton_lua_raise_interrupted(lua_State *L)
{
    return raise_interrupted(L, lstate_get(L));
}

/* What a waiting coroutine yields to the scheduler (core.await_token). */
const char lstate_await_token = 0;

/* Whether L is a coroutine that lua/triton/spawn.lua runs (and may yield). */
bool lstate_in_task(lua_State *L)
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

double lstate_now(void)
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
    struct lstate *st = lstate_get(L);
    struct triton_error err = {0};
    lstate_check_interrupt(L, st);
    if (triton_loop_pending(st->loop) == 0 && !(timeout >= 0)) {
        lstate_drain(L, st);
        lua_pushinteger(L, 0);
        lua_pushinteger(L, 0);
        return 2;
    }
    double deadline = timeout >= 0 ? lstate_now() + timeout : INFINITY;
    int ran;
    for (;;) {
        double left = deadline - lstate_now();
        double slice = left < LWAIT_SLICE ? (left > 0 ? left : 0) : LWAIT_SLICE;
        ran = lstate_step(L, st, slice, &err);
        if (ran < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        lstate_check_interrupt(L, st);
        if (ran > 0 || slice < LWAIT_SLICE || (timeout < 0 && triton_loop_pending(st->loop) == 0))
            break;
    }
    lua_pushinteger(L, ran);
    lua_pushinteger(L, triton_loop_pending(st->loop));
    return 2;
}

/* core.poll([timeout]) -> n: runs what is ready, waiting up to timeout seconds
 * (default 0: not at all) for something; n = completions and callbacks run.
 * For a host's own event loop (with core.fd) and for triton.poll. */
static int core_poll(lua_State *L)
{
    double timeout = luaL_optnumber(L, 1, 0);
    luaL_argcheck(L, timeout >= 0 && timeout <= 1e9, 1, "seconds must be between 0 and 1e9");
    struct lstate *st = lstate_get(L);
    struct triton_error err = {0};
    lstate_check_interrupt(L, st);
    double deadline = lstate_now() + timeout;
    int ran;
    for (;;) { /* in slices, so that a Ctrl-C is seen */
        double left = deadline - lstate_now();
        ran = lstate_step(L, st, left < LWAIT_SLICE ? (left > 0 ? left : 0) : LWAIT_SLICE, &err);
        if (ran < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        lstate_check_interrupt(L, st);
        if (ran > 0 || lstate_now() >= deadline)
            break;
    }
    lua_pushinteger(L, ran);
    return 1;
}

int triton_lua_poll(lua_State *L, double timeout)
{
    lua_pushcfunction(L, core_poll);
    lua_pushnumber(L, timeout);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return -1; /* the error value is left on the stack */
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return n;
}

/* core.fd() -> a descriptor that turns readable when poll(0) has work */
static int core_fd(lua_State *L)
{
    struct lstate *st = lstate_get(L);
    struct triton_error err = {0};
    int fd = triton_loop_fd(st->loop, &err);
    if (fd < 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    lua_pushinteger(L, fd);
    return 1;
}

int triton_lua_fd(lua_State *L)
{
    struct triton_error err = {0};
    return triton_loop_fd(lstate_get(L)->loop, &err);
}

/* core.callbacks_pending() -> calls made with a callback not yet delivered */
static int core_callbacks_pending(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lstate_get(L)->callbacks);
    return 1;
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

void lstate_open(lua_State *L)
{
    lua_pushcfunction(L, core_step);
    lua_setfield(L, -2, "step");
    lua_pushcfunction(L, core_set_tasks);
    lua_setfield(L, -2, "set_tasks");
    lua_pushcfunction(L, core_take_woken);
    lua_setfield(L, -2, "take_woken");
    lua_pushcfunction(L, core_poll);
    lua_setfield(L, -2, "poll");
    lua_pushcfunction(L, core_fd);
    lua_setfield(L, -2, "fd");
    lua_pushcfunction(L, core_callbacks_pending);
    lua_setfield(L, -2, "callbacks_pending");
    lua_pushlightuserdata(L, (void *)&lstate_await_token);
    lua_setfield(L, -2, "await_token");
}
