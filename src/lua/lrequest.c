/*
 * lrequest.c: a request in flight, a call or a stream, from the binding's side:
 * the memory it owns (struct lmem), the registry references it holds while in
 * flight (named fields, dropped together by lreq_unref, as luv's lreq does), the
 * queue of its replies waiting for Lua, and handing them over (lreq_deliver):
 * each reply becomes the future's value or error and, with a callback, is
 * passed to it under pcall; an error raised there goes to the state's reporter
 * and the loop goes on. See lbinding.h for ownership and why completions never
 * touch Lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"
#include "lua/lcjson.h"

/* ---- memory a request owns ------------------------------------------------------------ */

/* Room for an infer request of a few inputs (their tensor views are large). */
#define LMEM_BLOCK 2048

void *lmem_take(lua_State *L, struct lmem *m, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    if (size > SIZE_MAX - sizeof(struct lmem_block) - align)
        luaL_error(L, "request too large");
    size = (size + align - 1) / align * align;
    struct lmem_block *b = m->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > LMEM_BLOCK ? size : LMEM_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            luaL_error(L, "out of memory building a request");
        b->used = 0;
        b->cap = cap;
        b->next = m->blocks;
        m->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

void *lmem_alloc(lua_State *L, struct lmem *m, size_t size)
{
    return memset(lmem_take(L, m, size), 0, size);
}

void *lmem_array(lua_State *L, struct lmem *m, size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n)
        luaL_error(L, "request too large");
    return n ? lmem_alloc(L, m, n * size) : NULL;
}

const char *lmem_strdup(lua_State *L, struct lmem *m, const char *s, size_t len)
{
    char *p = lmem_take(L, m, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* Releases what m holds and frees its blocks, all but one of LMEM_BLOCK bytes
 * when `keep_one` (left empty, for the next request built in m). */
static void lmem_release(struct lmem *m, bool keep_one)
{
    for (struct lhold *h = m->tensors; h; h = h->next)
        tensor_release(&h->t);
    m->tensors = NULL;
    cJSON_Delete(m->json);
    m->json = NULL;
    struct lmem_block *kept = NULL;
    while (m->blocks) {
        struct lmem_block *next = m->blocks->next;
        if (keep_one && !kept && m->blocks->cap == LMEM_BLOCK) {
            kept = m->blocks;
            kept->used = 0;
            kept->next = NULL;
        } else {
            free(m->blocks);
        }
        m->blocks = next;
    }
    m->blocks = kept;
}

void lmem_free(struct lmem *m)
{
    lmem_release(m, false);
}

/* ---- spare calls ---------------------------------------------------------------------- */

/* Calls kept per state: as many as a busy async loop has finishing between two
 * submits. A call is too big for malloc's per-thread cache, and its request
 * block as well, so reuse saves two trips into the allocator per call. */
#define LSPARE_CALLS 64

/* A call's request memory is released as soon as its final reply is handed
 * over (lmem_give_back), not when its future is collected: in an async loop
 * futures are collected in bursts of hundreds, more than any spare list holds,
 * while the blocks given back come one per reply, as the next submits need
 * them. */
static void lmem_give_back(struct lmem *m, struct lstate *st)
{
    struct lmem_block *b = m->blocks;
    m->blocks = NULL;
    lmem_release(m, false);
    while (b) {
        struct lmem_block *next = b->next;
        if (b->cap == LMEM_BLOCK && st->n_spare_calls >= 0 && st->n_spare_blocks < LSPARE_CALLS) {
            b->next = st->spare_blocks;
            st->spare_blocks = b;
            st->n_spare_blocks++;
        } else {
            free(b);
        }
        b = next;
    }
}

struct lcall *lcall_new(struct lstate *st)
{
    struct lcall *call = st->spare_calls;
    if (call) {
        st->spare_calls = (struct lcall *)call->req.next;
        st->n_spare_calls--;
        struct lmem_block *block = call->req.mem.blocks;
        /* zeroed as calloc's, but for the first event's buffers (see levent_new) */
        memset(call, 0, offsetof(struct lcall, req.first.err));
        memset(&call->call, 0, sizeof call->call);
        call->req.mem.blocks = block;
    } else if (!(call = calloc(1, sizeof(*call)))) {
        return NULL;
    }
    struct lmem_block *spare = st->spare_blocks;
    if (!call->req.mem.blocks && spare) {
        st->spare_blocks = spare->next;
        st->n_spare_blocks--;
        spare->used = 0;
        spare->next = NULL;
        call->req.mem.blocks = spare;
    }
    return call;
}

/* Keeps a finished call as a spare of its state if there is room; else frees it. */
static void lcall_release(struct lcall *call)
{
    struct lstate *st = call->req.st;
    bool keep = st->n_spare_calls >= 0 && st->n_spare_calls < LSPARE_CALLS;
    lmem_release(&call->req.mem, keep);
    if (!keep) {
        free(call);
        return;
    }
    call->req.next = (struct lreq *)st->spare_calls;
    st->spare_calls = call;
    st->n_spare_calls++;
}

void lcall_free_spares(struct lstate *st)
{
    while (st->spare_calls) {
        struct lcall *call = st->spare_calls;
        st->spare_calls = (struct lcall *)call->req.next;
        lmem_free(&call->req.mem);
        free(call);
    }
    st->n_spare_calls = -1;
    while (st->spare_blocks) {
        struct lmem_block *b = st->spare_blocks;
        st->spare_blocks = b->next;
        free(b);
    }
    st->n_spare_blocks = 0;
}

/* ---- a request's life --------------------------------------------------------------- */

void lreq_init(struct lreq *r, struct lclient *lc, enum triton_call_kind kind, bool is_stream)
{
    r->st = lc->st;
    r->kind = kind;
    r->origin = lc->origin;
    r->is_stream = is_stream;
    r->ref_client = r->ref_callback = r->ref_future = r->ref_waiters = LUA_NOREF;
}

/* ---- registry references ---------------------------------------------------------------- */

/* A request's references are registry slots the state keeps for reuse (up to
 * LSPARE_REFS) instead of handing them back to luaL_unref: taking one is a
 * single store, where luaL_ref and luaL_unref walk the registry's free list
 * with several table operations each. A kept slot holds false, never nil, so
 * that the registry's array has no hole where luaL_ref would look for its end. */
int lref_top(lua_State *L, struct lstate *st)
{
    if (st->n_spare_refs == 0 || lua_isnil(L, -1))
        return luaL_ref(L, LUA_REGISTRYINDEX);
    int ref = st->spare_refs[--st->n_spare_refs];
    lua_rawseti(L, LUA_REGISTRYINDEX, ref);
    return ref;
}

void lref_drop(lua_State *L, struct lstate *st, int *ref)
{
    if (*ref >= 0 && st->n_spare_refs < LSPARE_REFS) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, LUA_REGISTRYINDEX, *ref);
        st->spare_refs[st->n_spare_refs++] = *ref;
    } else {
        luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    }
    *ref = LUA_NOREF; /* a second unref of the same number would corrupt the free list */
}

static int ref_value(lua_State *L, struct lstate *st, int idx)
{
    if (!idx)
        return LUA_NOREF;
    lua_pushvalue(L, idx);
    return lref_top(L, st);
}

void lreq_ref(lua_State *L, struct lreq *r, int client_idx, int cb_idx, int fut_idx)
{
    r->ref_client = ref_value(L, r->st, client_idx);
    r->ref_callback = ref_value(L, r->st, cb_idx);
    r->ref_future = ref_value(L, r->st, fut_idx);
    r->has_cb = cb_idx != 0;
}

void lreq_unref(lua_State *L, struct lreq *r)
{
    lref_drop(L, r->st, &r->ref_client);
    lref_drop(L, r->st, &r->ref_callback);
    lref_drop(L, r->st, &r->ref_future);
    lref_drop(L, r->st, &r->ref_waiters);
}

/* A callback call stops counting for triton.run (core.callbacks). */
static void uncount(struct lreq *r)
{
    if (r->counted) {
        r->counted = false;
        r->st->callbacks--;
    }
}

void lreq_started(struct lreq *r)
{
    struct lclient *lc = r->lc;
    r->started = true;
    r->prev = NULL;
    r->next = lc->reqs;
    if (lc->reqs)
        lc->reqs->prev = r;
    lc->reqs = r;
    if (r->has_cb && !r->is_stream) {
        r->counted = true;
        r->st->callbacks++;
    }
}

void lreq_unlink(struct lreq *r)
{
    struct lclient *lc = r->lc;
    if (!lc)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else if (lc->reqs == r)
        lc->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->lc = NULL;
}

/* An event for r: its own first one when that is free (a call has one reply),
 * else a new one; zeroed up to its buffers. NULL when out of memory. */
static struct levent *levent_new(struct lreq *r)
{
    if (r->first_busy)
        return calloc(1, sizeof(struct levent));
    r->first_busy = true;
    return memset(&r->first, 0, offsetof(struct levent, err));
}

static void levent_free(struct lreq *r, struct levent *ev)
{
    cJSON_Delete(ev->reply.json);
    triton_infer_result_free(ev->reply.result);
    if (ev->server != ev->server_buf)
        free(ev->server);
    if (ev == &r->first)
        r->first_busy = false;
    else
        free(ev);
}

static void unqueue(struct lreq *r)
{
    if (!r->queued)
        return;
    struct lstate *st = r->st;
    struct lreq **pp = &st->ready, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->ready_next;
    }
    if (*pp) {
        *pp = r->ready_next;
        if (st->ready_tail == r)
            st->ready_tail = prev;
    }
    r->queued = false;
}

static void enqueue(struct lreq *r)
{
    if (r->queued)
        return;
    struct lstate *st = r->st;
    r->queued = true;
    r->ready_next = NULL;
    if (st->ready_tail)
        st->ready_tail->ready_next = r;
    else
        st->ready = r;
    st->ready_tail = r;
}

void lreq_clear_events(struct lreq *r)
{
    unqueue(r);
    while (r->head) {
        struct levent *next = r->head->next;
        levent_free(r, r->head);
        r->head = next;
    }
    r->tail = NULL;
}

void lreq_free(struct lreq *r)
{
    lreq_unlink(r);
    lreq_clear_events(r);
    uncount(r);
    if (r->is_stream) {
        lstream_detach((struct lstream *)r);
        lmem_free(&r->mem);
        free(r);
        return;
    }
    lcall_release((struct lcall *)r);
}

void lreq_orphan(struct lreq *r)
{
    r->orphaned = true;
    lreq_clear_events(r);
    uncount(r);
}

/* The transport's completion: runs inside a loop step or triton_client_free, so
 * it only queues. */
void lreq_event(struct lreq *r, struct triton_reply *reply, const struct triton_error *err,
                bool final)
{
    if (final) {
        r->finished = true;
        lreq_unlink(r);
    }
    if (r->orphaned) {
        if (final)
            lreq_free(r);
        return;
    }
    struct levent *ev = levent_new(r);
    if (!ev) {
        /* Out of memory: the reply is lost, but the final flag must not be, or a
         * waiter would wait forever; lreq_deliver reports it. */
        if (final && r->tail)
            r->tail->final = true;
        enqueue(r);
        return;
    }
    if (reply) {
        ev->reply.boolean = reply->boolean;
        ev->reply.json = reply->json;
        ev->reply.result = reply->result;
        reply->json = NULL;
        reply->result = NULL;
        ev->has_reply = ev->reply.json || ev->reply.result ||
                        (r->kind != TRITON_CALL_GENERATE_STREAM && !r->is_stream);
    }
    if (err && err->code != TRITON_OK) {
        ev->failed = true;
        ev->err = *err;
    }
    ev->final = final;
    if (r->tail)
        r->tail->next = ev;
    else
        r->head = ev;
    r->tail = ev;
    enqueue(r);
}

void lcall_done(struct triton_call *call, struct triton_reply *reply,
                const struct triton_error *err, bool final)
{
    struct lreq *r = call->user;
    /* for r:server(); read first: an orphan's final event frees r and the call */
    bool result = final && reply && reply->result && !r->orphaned;
    const char *server = result ? triton_fleet_server_of(call) : NULL;
    lreq_event(r, reply, err, final);
    struct levent *ev = server ? r->tail : NULL; /* no server: r may be freed */
    if (ev && ev->reply.result) {
        size_t n = strlen(server);
        ev->server =
            n < sizeof ev->server_buf ? memcpy(ev->server_buf, server, n + 1) : strdup(server);
    }
}

/* ---- handing replies to Lua ------------------------------------------------------------ */

/* Converts an event's reply into one Lua value; runs under pcall (arg 1: request,
 * arg 2: event), since a deep or huge reply can raise. */
static int convert_event(lua_State *L)
{
    struct lreq *r = lua_touserdata(L, 1);
    struct levent *ev = lua_touserdata(L, 2);
    enum triton_reply_shape shape = triton_call_info(r->kind)->reply;
    if (!ev->has_reply || shape == TRITON_REPLY_EMPTY) {
        lua_pushnil(L);
    } else if (shape == TRITON_REPLY_BOOLEAN) {
        lua_pushboolean(L, ev->reply.boolean);
    } else if (ev->reply.result) {
        lresult_push(L, r->st, ev->reply.result, ev->server);
        ev->reply.result = NULL; /* the userdata owns it now; until then the event does */
    } else if (ev->reply.json) {
        lcjson_push(L, ev->reply.json);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

/* Whether the value at idx is a triton.Error. */
static bool is_triton_error(lua_State *L, int idx)
{
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
        return false;
    luaL_getmetatable(L, LERROR_MT);
    bool ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return ours;
}

/* Whether the error value at idx is an interrupt rather than a failure of the
 * code that raised it: lua.c's (and tritonlua's) "interrupted!" from a Ctrl-C
 * hook that fired inside, or a wait's "interrupted" triton.Error. */
static bool is_interrupt(lua_State *L, int idx)
{
    static const char stop[] = "interrupted!";
    size_t n, k = sizeof stop - 1;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, idx, &n);
        return n >= k && memcmp(s + n - k, stop, k) == 0;
    }
    if (!is_triton_error(L, idx))
        return false;
    lua_getfield(L, idx, "code");
    lua_getfield(L, idx, "message");
    bool r = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "cancelled") == 0 &&
             lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "interrupted") == 0;
    lua_pop(L, 2);
    return r;
}

/* The message handler of callbacks: {error, traceback}. */
static int callback_handler(lua_State *L)
{
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    lua_rawseti(L, 2, 2);
    lua_settop(L, 2);
    return 1;
}

/* Runs cb(value, err, final) (the callback, value and err at the given indices)
 * under pcall; an error goes to the reporter, an interrupt to the wait. */
static void run_callback(lua_State *L, struct lreq *r, int cb, int value, int errv, bool final)
{
    lua_pushcfunction(L, callback_handler);
    int handler = lua_gettop(L);
    lua_pushvalue(L, cb);
    lua_pushvalue(L, value);
    if (errv)
        lua_pushvalue(L, errv);
    else
        lua_pushnil(L);
    lua_pushboolean(L, final);
    r->st->in_callback++;
    int status = lua_pcall(L, 3, 0, handler);
    r->st->in_callback--;
    if (status != LUA_OK) {
        if (lua_istable(L, -1)) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            lua_remove(L, -3);
        } else {
            lua_pushvalue(L, -1); /* no traceback (the handler itself failed) */
        }
        if (is_interrupt(L, -2)) {
            lstate_interrupt_again(r->st);
            lua_pop(L, 2);
        } else {
            lstate_report(L, r->st);
        }
    }
    lua_settop(L, handler - 1);
}

/* Moves the coroutines waiting for the request to the woken list of core.take_woken. */
static void wake_waiters(lua_State *L, struct lreq *r)
{
    if (r->ref_waiters == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_waiters);
    int waiters = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->st->ref_woken[0]);
    int woken = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, woken);
    if (lua_type(L, waiters) == LUA_TTHREAD) {
        lua_pushvalue(L, waiters);
        lua_rawseti(L, woken, n + 1);
    } else {
        lua_Integer m = (lua_Integer)lua_rawlen(L, waiters);
        for (lua_Integer i = 1; i <= m; i++) {
            lua_rawgeti(L, waiters, i);
            lua_rawseti(L, woken, ++n);
        }
    }
    lua_settop(L, waiters - 1);
}

/* The waiters are held as the one coroutine itself (the common case), and as a
 * list once a second one comes. */
void lreq_add_waiter(lua_State *L, struct lreq *r)
{
    lua_pushthread(L);
    if (r->ref_waiters == LUA_NOREF) {
        r->ref_waiters = lref_top(L, r->st);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_waiters);
    if (lua_type(L, -1) == LUA_TTHREAD) { /* the first becomes a list's first */
        lua_createtable(L, 2, 0);
        lua_insert(L, -2);
        lua_rawseti(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, LUA_REGISTRYINDEX, r->ref_waiters); /* the same reference, now the list */
    }
    lua_insert(L, -2); /* list, thread */
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);
}

/* The final reply was handed over: wake the waiters, drop the references. */
static void end_delivery(lua_State *L, struct lreq *r)
{
    r->delivered = true;
    uncount(r);
    wake_waiters(L, r);
    lreq_unref(L, r);
    if (!r->is_stream && r->finished) /* the transport is done with the request */
        lmem_give_back(&r->mem, r->st);
}

/* Pushes the value of the event (and its error, or nil); returns false, pushing
 * nothing, when an interrupt stopped the conversion (the event is kept). */
static bool push_event(lua_State *L, struct lreq *r, struct levent *ev)
{
    if (ev->failed) {
        lua_pushnil(L);
        lerror_push(L, &ev->err, r->origin);
        return true;
    }
    lua_pushcfunction(L, convert_event);
    lua_pushlightuserdata(L, r);
    lua_pushlightuserdata(L, ev);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK) {
        lua_pushnil(L);
        return true;
    }
    if (is_interrupt(L, -1)) {
        lua_pop(L, 1);
        lstate_interrupt_again(r->st);
        return false;
    }
    if (is_triton_error(L, -1)) { /* e.g. out_of_range: a value LuaJIT cannot hold */
        lua_pushnil(L);
        lua_insert(L, -2);
        return true;
    }
    struct triton_error err = {.code = TRITON_INTERNAL};
    snprintf(err.message, sizeof err.message, "converting the reply failed: %s",
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)");
    lua_pop(L, 1);
    lua_pushnil(L);
    lerror_push(L, &err, LERROR_LOCAL);
    return true;
}

int lreq_deliver(lua_State *L, struct lreq *r, const struct lwait *w)
{
    if (r->delivered || r->orphaned)
        return 0;
    int top = lua_gettop(L), n = 0;
    /* On the stack while we are in here, so that neither can be collected. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_future);
    int fut = lua_gettop(L); /* nil for a stream */
    if (r->has_cb)
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref_callback);
    else
        lua_pushnil(L);
    int cb = lua_gettop(L);
    r->delivering++;
    struct levent *ev;
    while (!r->delivered && (ev = r->head) != NULL && !lstate_interrupted(r->st, w)) {
        if (!push_event(L, r, ev))
            break;
        int value = lua_gettop(L) - 1, errv = lua_isnil(L, -1) ? 0 : lua_gettop(L);
        r->head = ev->next;
        if (!r->head)
            r->tail = NULL;
        if (lua_type(L, fut) == LUA_TUSERDATA && (ev->has_reply || ev->failed)) {
            ((struct lfuture *)lua_touserdata(L, fut))->failed = errv != 0;
            lua_pushvalue(L, errv ? errv : value);
            lua_setiuservalue(L, fut, 1);
        }
        bool final = ev->final;
        bool show = ev->has_reply || ev->failed || final;
        levent_free(r, ev);
        n++;
        if (final)
            end_delivery(L, r);
        if (r->has_cb && show)
            run_callback(L, r, cb, value, errv, final);
        lua_settop(L, cb);
    }
    if (!r->delivered && r->finished && !r->head) {
        /* The final reply could not be queued (out of memory): end the call here. */
        struct triton_error err = {.code = TRITON_NO_MEMORY};
        snprintf(err.message, sizeof err.message, "out of memory receiving a reply");
        if (lua_type(L, fut) == LUA_TUSERDATA) {
            ((struct lfuture *)lua_touserdata(L, fut))->failed = true;
            lerror_push(L, &err, LERROR_LOCAL);
            lua_setiuservalue(L, fut, 1);
        }
        end_delivery(L, r);
    }
    if (r->head && !r->delivered)
        enqueue(r); /* stopped by an interrupt: the rest waits for the next drain */
    lua_settop(L, top);
    if (--r->delivering == 0 && r->is_stream && r->delivered)
        lreq_free(r); /* streams have no future to own them */
    return n;
}

/* Whether the request's final reply was handed over, handing over what came. */
static bool req_done(lua_State *L, void *arg, const struct lwait *w)
{
    struct lreq *r = arg;
    if (!r->delivered && r->finished) {
        unqueue(r);
        lreq_deliver(L, r, w);
    }
    return r->delivered;
}

bool lreq_wait(lua_State *L, struct lreq *r, double deadline)
{
    r->held++; /* left held when the wait raises: the future then keeps its call */
    bool done = lstate_wait(L, r->st, deadline, req_done, r, triton_call_kind_name(r->kind));
    r->held--;
    return done;
}
