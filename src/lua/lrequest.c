/*
 * lrequest.c: a request in flight, a call or a stream, from the binding's side:
 * the memory it owns (struct lmem), the queue of its replies waiting for Lua
 * (struct lsink), and handing them over (lsink_deliver): each reply becomes the
 * future's value or error and, with a callback, is passed to it under pcall.
 * See lbinding.h for ownership and why completions never touch Lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"
#include "lua/lcjson.h"

/* ---- memory a request owns ------------------------------------------------------------ */

void *lmem_alloc(lua_State *L, struct lmem *m, size_t size)
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

void *lmem_array(lua_State *L, struct lmem *m, size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n)
        luaL_error(L, "request too large");
    return n ? lmem_alloc(L, m, n * size) : NULL;
}

const char *lmem_strdup(lua_State *L, struct lmem *m, const char *s, size_t len)
{
    char *p = lmem_alloc(L, m, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void lmem_free(struct lmem *m)
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

/* ---- sinks: where a call's or a stream's replies wait for Lua ------------------------- */

static void levent_free(struct levent *ev)
{
    cJSON_Delete(ev->reply.json);
    triton_infer_result_free(ev->reply.result);
    free(ev->server);
    free(ev);
}

void lsink_clear_events(struct lsink *k)
{
    while (k->head) {
        struct levent *next = k->head->next;
        levent_free(k->head);
        k->head = next;
    }
    k->tail = NULL;
}

void lsink_unqueue(struct lsink *k)
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

void lstream_unlist(struct lstream *s)
{
    for (struct lstream **pp = &s->sink.st->streams; *pp; pp = &(*pp)->next_open) {
        if (*pp == s) {
            *pp = s->next_open;
            break;
        }
    }
    s->next_open = NULL;
}

void lsink_free(struct lsink *k)
{
    if (k->is_stream) {
        struct lstream *s = (struct lstream *)k;
        lstream_unlist(s);
        if (s->handle)
            *s->handle = NULL;
    }
    lsink_unqueue(k);
    lsink_clear_events(k);
    lmem_free(&k->mem);
    free(k);
}

void lcall_unlink(struct lcall *lc_call)
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
void lsink_event(struct lsink *k, struct triton_reply *reply, const struct triton_error *err,
                 bool final)
{
    if (final) {
        k->finished = true;
        if (k->is_stream) {
            if (k->lc && k->lc->stream == (struct lstream *)k)
                k->lc->stream = NULL;
            k->lc = NULL;
        } else {
            lcall_unlink((struct lcall *)k);
        }
    }
    if (k->orphaned) {
        if (final)
            lsink_free(k);
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

void lcall_done(struct triton_call *call, struct triton_reply *reply,
                const struct triton_error *err, bool final)
{
    struct lsink *k = call->user;
    /* for r:server(); read first: an orphan's final event frees k and the call */
    bool result = final && reply && reply->result && !k->orphaned;
    const char *server = result ? triton_fleet_server_of(call) : NULL;
    lsink_event(k, reply, err, final);
    if (server && k->tail && k->tail->reply.result)
        k->tail->server = strdup(server);
}

/* Streams reuse the call completion type, and client.h does not say what a
 * transport passes as `call` for a stream (src/grpc passes a call whose user is
 * the stream's user; another might pass the stream cast to a call, or NULL).
 * Completions only run inside the loop step or triton_client_free that this
 * thread entered for one Lua state, so that state's open streams are searched:
 * a pointer match first, else (NULL) the only open stream. */
void lstream_done(struct triton_call *call, struct triton_reply *reply,
                  const struct triton_error *err, bool final)
{
    struct lstate *st = lstate_active();
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
        lstream_unlist(match);
    lsink_event(&match->sink, reply, err, final);
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
        lresult_push(L, k->st, r);
        lresult_set_server(L, ev->server);
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
 * `anchor`, see lfuture_get_result) to the woken list of core.take_woken. */
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
void lsink_deliver(lua_State *L, struct lsink *k)
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
        levent_free(ev);
        if (final) {
            k->delivered = true;
            if (k->has_cb && !k->is_stream && k->st->callbacks)
                k->st->callbacks--;
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
        if (k->has_cb && !k->is_stream && k->st->callbacks)
            k->st->callbacks--;
        wake_waiters(L, anchor);
        luaL_unref(L, LUA_REGISTRYINDEX, k->anchor);
        k->anchor = LUA_NOREF;
    }
    bool free_stream = k->is_stream && k->delivered;
    lua_settop(L, top);
    if (free_stream)
        lsink_free(k); /* streams have no future to own them */
}

/* Steps until the sink's final reply was handed to Lua. */
void lsink_wait(lua_State *L, struct lsink *k)
{
    struct triton_error err = {0};
    while (!k->delivered) {
        if (k->finished) {
            lsink_unqueue(k);
            lsink_deliver(L, k);
            continue;
        }
        int ran = lstate_step(L, k->st, LWAIT_SLICE, &err);
        if (ran < 0)
            lerror_raise(L, &err, LERROR_LOCAL);
        lstate_check_interrupt(L, k->st);
        if (ran == 0 && !k->finished && triton_loop_pending(k->st->loop) == 0)
            lerror_raisef(L, TRITON_INTERNAL, "%s: the call was lost by its transport",
                          triton_call_kind_name(k->kind));
    }
}
