/*
 * lstate.c: the loop glue of one Lua state.
 *
 * The loop is one per Lua state, kept in a registry sentinel (made when the
 * module is opened) whose __gc frees it when the state closes. Finalizers run
 * in reverse order of creation, so every client is freed before the loop it
 * runs on.
 *
 * Where Lua runs. Replies reach Lua only when something steps the loop on the
 * Lua thread: a wait (get_result, f:wait, triton.wait, iterators), f:done(),
 * core.poll and core.step (triton.poll, triton.sleep, triton.run). A submit
 * also steps once, without running Lua (lstate_kick), so that a call is on its
 * way when it is made even if nothing waits for it.
 *
 * Coroutines. lua/triton/spawn.lua registers the coroutines it runs in a table
 * (core.set_tasks). A blocking wait inside one of them does not step the loop:
 * it notes the coroutine in the request's list of waiters and yields
 * core.await_token to the scheduler. When lreq_deliver hands over the final
 * reply it moves those waiters to the woken list, which the scheduler collects
 * with core.take_woken() after each step and resumes.
 *
 * Interrupts. A host interrupts one Lua state (triton_lua_interrupt, see
 * include/triton_lua.h): a flag in a slot of this state's, which a signal
 * handler may set. Stock lua.c instead sets a hook on the main thread when
 * SIGINT arrives, which would raise "interrupted!" inside whatever Lua code
 * runs next (a reply being converted, a callback). So every wait notes the main
 * thread's hook when it begins (struct lwait) and takes a change as an
 * interrupt too; it polls for both in slices of LWAIT_SLICE seconds (a signal
 * handler may not wake the loop), runs no Lua while one is pending, and on
 * seeing one: clears the flag, puts the hook back as it was, cancels every call
 * and stream in flight on the state and raises a triton.Error with code
 * "cancelled" and message "interrupted".
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"

/* ---- interrupt slots ------------------------------------------------------------------ */

/* One per Lua state that has the module open. Slots are never freed (a signal
 * handler may be walking the list), only reused, so the list only grows to the
 * most states open at once. */
struct linterrupt {
    _Atomic(const void *) owner; /* the state's key (lcompat_statekey); NULL: free */
    atomic_int pending;
    /* the state's loop while it lives: an interrupt wakes it, so that a host
     * waiting on triton_lua_fd sees the descriptor turn readable */
    _Atomic(struct triton_loop *) loop;
    struct linterrupt *next; /* set before the slot is published, never changed */
};

#if ATOMIC_POINTER_LOCK_FREE != 2 || ATOMIC_INT_LOCK_FREE != 2
#error "triton_lua_interrupt needs lock-free atomics to be async-signal-safe"
#endif

static _Atomic(struct linterrupt *) interrupt_slots;

static struct linterrupt *interrupt_slot_take(const void *key)
{
    for (struct linterrupt *s = atomic_load(&interrupt_slots); s; s = s->next) {
        const void *none = NULL;
        if (atomic_compare_exchange_strong(&s->owner, &none, key)) {
            atomic_store(&s->pending, 0);
            return s;
        }
    }
    struct linterrupt *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    atomic_init(&s->pending, 0);
    atomic_init(&s->loop, NULL);
    atomic_init(&s->owner, key);
    s->next = atomic_load(&interrupt_slots);
    while (!atomic_compare_exchange_weak(&interrupt_slots, &s->next, s)) {
    }
    return s;
}

static struct linterrupt *interrupt_slot_of(lua_State *L)
{
    const void *key = lcompat_statekey(L);
    for (struct linterrupt *s = atomic_load(&interrupt_slots); s; s = s->next)
        if (atomic_load(&s->owner) == key)
            return s;
    return NULL;
}

void triton_lua_interrupt(lua_State *L)
{
    struct linterrupt *s = interrupt_slot_of(L);
    if (!s)
        return;
    atomic_store(&s->pending, 1);
    struct triton_loop *loop = atomic_load(&s->loop);
    if (loop)
        triton_loop_wakeup(loop); /* an atomic store and an eventfd write */
}

void triton_lua_interrupt_clear(lua_State *L)
{
    struct linterrupt *s = interrupt_slot_of(L);
    if (s)
        atomic_store(&s->pending, 0);
}

/* ---- the state ------------------------------------------------------------------------- */

static int state_gc(lua_State *L)
{
    struct lstate *st = lua_touserdata(L, 1);
    if (st->interrupt) {
        atomic_store(&st->interrupt->loop, NULL);
        atomic_store(&st->interrupt->pending, 0);
        atomic_store(&st->interrupt->owner, NULL);
        st->interrupt = NULL;
    }
    if (st->loop) {
        triton_loop_free(st->loop);
        st->loop = NULL;
    }
    lcall_free_spares(st);
    return 0;
}

/* The scheduler's timer only needs to end a wait (and make the fd readable). */
static void wakeup_fired(struct triton_loop_timer *t)
{
    (void)t;
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
    st->ref_reporter = LUA_NOREF;
    st->ref_tasks = LUA_NOREF;
    for (int i = 0; i < 2; i++) {
        lua_newtable(L);
        st->ref_woken[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    st->wakeup.fn = wakeup_fired;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    st->main = lcompat_mainthread(L);
    struct triton_error err = {0};
    st->loop = triton_loop_new(&err);
    if (!st->loop)
        lerror_raise(L, &err, LERROR_LOCAL);
    st->interrupt = interrupt_slot_take(lcompat_statekey(st->main));
    if (!st->interrupt)
        luaL_error(L, "out of memory setting up the client loop");
    atomic_store(&st->interrupt->loop, st->loop);
    lua_setfield(L, LUA_REGISTRYINDEX, LSTATE_KEY);
    return st;
}

/* The state of core's functions (lstate_open's funcs), their upvalue: the
 * scheduler calls some of them every round, and lstate_get looks it up by
 * name. (core_fd, which triton_lua_fd also calls, looks it up.) */
static struct lstate *state_uv(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* Completions run only inside the loop step or triton_client_free that this
 * thread entered for one Lua state. */
static _Thread_local struct lstate *active_state;

struct lstate *lstate_swap_active(struct lstate *st)
{
    struct lstate *outer = active_state;
    active_state = st;
    return outer;
}

/* ---- interrupts ------------------------------------------------------------------------- */

void lwait_begin(struct lstate *st, struct lwait *w)
{
    w->hook = lua_gethook(st->main);
    w->mask = lua_gethookmask(st->main);
    w->count = lua_gethookcount(st->main);
}

bool lstate_interrupted(struct lstate *st, const struct lwait *w)
{
    if (atomic_load(&st->interrupt->pending))
        return true;
    return w && (lua_gethook(st->main) != w->hook || lua_gethookmask(st->main) != w->mask ||
                 lua_gethookcount(st->main) != w->count);
}

void lstate_interrupt_again(struct lstate *st)
{
    atomic_store(&st->interrupt->pending, 1);
}

/* Cancels every call and stream in flight on the state; their completions
 * arrive in later steps. */
static void cancel_all(struct lstate *st)
{
    for (struct lclient *lc = st->clients; lc; lc = lc->next_open)
        for (struct lreq *r = lc->reqs, *next; r; r = next) {
            next = r->next;
            lclient_cancel(r);
        }
}

/* Consumes the interrupt (the flag; w: the hook set since w began), cancels
 * what is in flight and raises the "cancelled" triton.Error. */
static int raise_interrupted(lua_State *L, struct lstate *st, const struct lwait *w)
{
    atomic_store(&st->interrupt->pending, 0);
    if (w && lua_gethook(st->main) && lstate_interrupted(st, w))
        lua_sethook(st->main, w->hook, w->mask, w->count); /* the host's hook is spent */
    cancel_all(st);
    /* Inside a callback the wait it runs in must stop too. */
    if (st->in_callback > 0)
        lstate_interrupt_again(st);
    return lerror_raisef(L, TRITON_CANCELLED, "interrupted");
}

void lstate_check_interrupt(lua_State *L, struct lstate *st, const struct lwait *w)
{
    if (lstate_interrupted(st, w))
        raise_interrupted(L, st, w);
}

int triton_lua_raise_interrupted(lua_State *L)
{
    return raise_interrupted(L, lstate_get(L), NULL);
}

/* ---- stepping and waiting ----------------------------------------------------------- */

int lstate_drain(lua_State *L, struct lstate *st, const struct lwait *w)
{
    int n = 0;
    while (st->ready && !lstate_interrupted(st, w)) {
        struct lreq *r = st->ready;
        st->ready = r->ready_next;
        if (!st->ready)
            st->ready_tail = NULL;
        r->queued = false;
        n += lreq_deliver(L, r, w);
    }
    return n;
}

int lstate_step(lua_State *L, struct lstate *st, double timeout, const struct lwait *w,
                int *delivered, struct triton_error *err)
{
    /* Replies handed to Lua count as progress as much as completed transfers do:
     * a server-sent event arrives inside a transfer that is still running, and a
     * waiting iterator must see it now, not when the stream ends. */
    int d = lstate_drain(L, st, w);
    int ran = 0;
    if (!lstate_interrupted(st, w)) {
        struct lstate *outer = lstate_swap_active(st);
        ran = triton_loop_step(st->loop, d > 0 ? 0 : timeout, err);
        lstate_swap_active(outer);
        if (ran < 0)
            return -1;
        d += lstate_drain(L, st, w);
    }
    if (delivered)
        *delivered = d;
    return ran + d;
}

void lstate_kick(struct lstate *st)
{
    struct triton_error err = {0};
    struct lstate *outer = lstate_swap_active(st);
    (void)triton_loop_step(st->loop, 0, &err); /* a failure shows at the next wait */
    lstate_swap_active(outer);
    /* A reply came in already: a host waiting on the fd must poll for it. Our
     * own waits drain replies before they step, so they need no wakeup (a
     * write and a read of the eventfd per request). */
    if (st->ready && triton_loop_watched(st->loop))
        triton_loop_wakeup(st->loop);
}

bool lstate_wait(lua_State *L, struct lstate *st, double deadline, lstate_done_fn done, void *arg,
                 const char *what)
{
    struct lwait w;
    lwait_begin(st, &w);
    struct triton_error err = {0};
    for (;;) {
        lstate_check_interrupt(L, st, &w);
        if (done(L, arg, &w)) {
            lstate_check_interrupt(L, st, &w); /* one that came inside a callback */
            return true;
        }
        double left = deadline - triton_loop_now();
        if (left <= 0)
            return false;
        int ran = lstate_step(L, st, left < LWAIT_SLICE ? left : LWAIT_SLICE, &w, NULL, &err);
        if (ran < 0)
            lerror_raise(L, &err, LERROR_LOCAL);
        if (ran == 0 && !st->ready && triton_loop_pending(st->loop) == 0 && isinf(deadline) &&
            !lstate_interrupted(st, &w) && !done(L, arg, &w))
            lerror_raisef(L, TRITON_INTERNAL, "%s: lost by its transport", what);
    }
}

/* ---- callback errors -------------------------------------------------------------------- */

void lstate_report(lua_State *L, struct lstate *st)
{
    if (st->reporter) {
        st->reporter(L, lua_tostring(L, -1), st->reporter_ud);
    } else if (st->ref_reporter != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, st->ref_reporter);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        if (lua_pcall(L, 2, 0, 0) == LUA_OK) {
            lua_pop(L, 2);
            return;
        }
        const char *why = lua_tostring(L, -1);
        fprintf(stderr, "triton: the callback error reporter failed: %s\n",
                why ? why : "(not a string)");
        lua_pop(L, 1);
        fprintf(stderr, "triton: error in a callback: %s\n", lua_tostring(L, -1));
    } else {
        fprintf(stderr, "triton: error in a callback: %s\n", lua_tostring(L, -1));
    }
    fflush(stderr);
    lua_pop(L, 2);
}

/* core.on_callback_error(fn or nil): fn(err, traceback) reports what a callback
 * raised instead of the default (the traceback on stderr). */
static int core_on_callback_error(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    struct lstate *st = state_uv(L);
    luaL_unref(L, LUA_REGISTRYINDEX, st->ref_reporter);
    st->ref_reporter = lua_isnil(L, 1) ? LUA_NOREF : luaL_ref(L, LUA_REGISTRYINDEX);
    st->reporter = NULL;
    st->reporter_ud = NULL;
    return 0;
}

/* ---- coroutines --------------------------------------------------------------------------- */

const char lstate_await_token = 0;

bool lstate_in_task(lua_State *L, struct lstate *st)
{
    if (!lua_isyieldable(L) || st->ref_tasks == LUA_NOREF)
        return false;
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ref_tasks);
    lua_pushthread(L);
    lua_rawget(L, -2);
    bool r = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return r;
}

/* core.set_tasks(t): the table whose keys are the coroutines the scheduler runs. */
static int core_set_tasks(lua_State *L)
{
    struct lstate *st = state_uv(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, st->ref_tasks);
    st->ref_tasks = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* core.take_woken() -> list of coroutines whose awaited request completed, or
 * nil. The caller empties the list before it takes the next: two lists take
 * turns (lreq's wake_waiters fills ref_woken[0]), so that a round of the
 * scheduler makes no table. */
static int core_take_woken(lua_State *L)
{
    struct lstate *st = state_uv(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ref_woken[0]);
    if (lua_rawlen(L, -1) == 0) {
        lua_pushnil(L);
        return 1;
    }
    int taken = st->ref_woken[0];
    st->ref_woken[0] = st->ref_woken[1];
    st->ref_woken[1] = taken;
    return 1;
}

/* core.set_wakeup([t]): the scheduler's next timer (a triton.now() time), so
 * that a step ends and the fd turns readable then; nil: none. */
static int core_set_wakeup(lua_State *L)
{
    struct lstate *st = state_uv(L);
    if (lua_isnoneornil(L, 1))
        triton_loop_timer_stop(st->loop, &st->wakeup);
    else
        triton_loop_timer_start(st->loop, &st->wakeup, luaL_checknumber(L, 1));
    return 0;
}

/* core.callbacks() -> calls made with a callback that has not had its final reply */
static int core_callbacks(lua_State *L)
{
    lua_pushinteger(L, state_uv(L)->callbacks);
    return 1;
}

/* ---- step, poll, fd ----------------------------------------------------------------------- */

double lstate_timeout_arg(lua_State *L, int idx, const char *fname, double def)
{
    static const struct largs_option timeout = {.name = "timeout",
                                                .types = LARGS_NUMBER | LARGS_MIN | LARGS_FOREVER};
    if (lua_isnoneornil(L, idx))
        return def;
    largs_check_option(L, idx, fname, "timeout", &timeout);
    return lua_tonumber(L, idx);
}

/* core.step([timeout]) -> loop completions and replies handed over, work still in
 * flight. Drives the loop from Lua (iterators, triton.run, perf); timeout in
 * seconds, default: wait for something to happen. With nothing in flight a
 * finite timeout still waits (the scheduler's sleeps); an infinite one returns
 * at once. */
static int core_step(lua_State *L)
{
    double timeout = luaL_optnumber(L, 1, -1);
    struct lstate *st = state_uv(L);
    struct lwait w;
    lwait_begin(st, &w);
    struct triton_error err = {0};
    lstate_check_interrupt(L, st, &w);
    if (triton_loop_pending(st->loop) == 0 && !(timeout >= 0)) {
        int ran = lstate_drain(L, st, &w);
        lstate_check_interrupt(L, st, &w);
        lua_pushinteger(L, ran);
        lua_pushinteger(L, 0);
        return 2;
    }
    double deadline = timeout >= 0 ? triton_loop_now() + timeout : INFINITY;
    int ran;
    for (;;) {
        double left = deadline - triton_loop_now();
        double slice = left < LWAIT_SLICE ? (left > 0 ? left : 0) : LWAIT_SLICE;
        ran = lstate_step(L, st, slice, &w, NULL, &err);
        if (ran < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        lstate_check_interrupt(L, st, &w);
        if (ran > 0 || slice < LWAIT_SLICE || (timeout < 0 && triton_loop_pending(st->loop) == 0))
            break;
    }
    lua_pushinteger(L, ran);
    lua_pushinteger(L, triton_loop_pending(st->loop));
    return 2;
}

/* core.poll([timeout [, nowait]]) -> replies handed to Lua. Runs what is ready,
 * waiting up to timeout seconds (default 0; with nowait, 0 whatever it says)
 * until at least one reply was handed over. */
static int core_poll(lua_State *L)
{
    double timeout = lstate_timeout_arg(L, 1, "poll", 0);
    if (lua_toboolean(L, 2))
        timeout = 0;
    struct lstate *st = state_uv(L);
    struct lwait w;
    lwait_begin(st, &w);
    struct triton_error err = {0};
    lstate_check_interrupt(L, st, &w);
    double deadline = triton_loop_now() + timeout; /* INFINITY: until something comes */
    int total = 0;
    for (;;) {
        double left = deadline - triton_loop_now();
        int delivered = 0;
        if (lstate_step(L, st, left < LWAIT_SLICE ? (left > 0 ? left : 0) : LWAIT_SLICE, &w,
                        &delivered, &err) < 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        total += delivered;
        lstate_check_interrupt(L, st, &w);
        if (total > 0 || triton_loop_now() >= deadline)
            break;
    }
    lua_pushinteger(L, total);
    return 1;
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

/* ---- the C API of include/triton_lua.h ------------------------------------------------ */

int triton_lua_fd(lua_State *L)
{
    lua_pushcfunction(L, core_fd);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    int fd = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return fd;
}

int triton_lua_poll(lua_State *L, double timeout)
{
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "triton") != LUA_TTABLE ||
        lua_getfield(L, -1, "poll") != LUA_TFUNCTION) {
        lua_settop(L, top);
        lua_pushliteral(L, "triton_lua_poll: the triton module is not loaded in this state");
        return -1;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    lua_pushnumber(L, timeout);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return -1;
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return n;
}

struct reporter_args {
    triton_lua_error_fn fn;
    void *ud;
};

static int protected_set_reporter(lua_State *L)
{
    struct reporter_args *a = lua_touserdata(L, 1);
    struct lstate *st = lstate_get(L);
    luaL_unref(L, LUA_REGISTRYINDEX, st->ref_reporter);
    st->ref_reporter = LUA_NOREF;
    st->reporter = a->fn;
    st->reporter_ud = a->ud;
    return 0;
}

int triton_lua_on_callback_error(lua_State *L, triton_lua_error_fn fn, void *ud)
{
    struct reporter_args a = {fn, ud};
    lua_pushcfunction(L, protected_set_reporter);
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

void lstate_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"step", core_step},
                                     {"poll", core_poll},
                                     {"fd", core_fd},
                                     {"set_tasks", core_set_tasks},
                                     {"take_woken", core_take_woken},
                                     {"set_wakeup", core_set_wakeup},
                                     {"callbacks", core_callbacks},
                                     {"on_callback_error", core_on_callback_error},
                                     {NULL, NULL}};
    lstate_get(L); /* so that triton_lua_interrupt reaches this state from now on */
    lua_getfield(L, LUA_REGISTRYINDEX, LSTATE_KEY);
    luaL_setfuncs(L, funcs, 1);
    lua_pushlightuserdata(L, (void *)&lstate_await_token);
    lua_setfield(L, -2, "await_token");
}
