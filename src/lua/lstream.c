/*
 * lstream.c: streams (gRPC ModelStreamInfer) on the core client:
 *   cc:stream_open(cb, {headers=, timeout=})  cc:stream_send(req)
 *   cc:stream_close()  cc:stream_cancel()  cc:stream_active()
 * lua/triton/client.lua builds start_stream, async_stream_infer, stop_stream and
 * stream_infer on these. A stream has no future: it frees itself once its end
 * was handed to Lua.
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"

static void check_stream_ops(lua_State *L, struct lclient *lc)
{
    const struct triton_transport *t = triton_fleet_client(lc->fleet, 0)->transport;
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
        lsink_free(&box->s->sink);
        box->s = NULL;
    }
    return 0;
}

/* Opens a stream for the client at 1 with the callback at 2 and the options at
 * 3 ({headers=, timeout=}); status_errors for one-request streams. The stream is
 * open and anchored when it returns; it frees itself once its end was handed to
 * Lua. The stack is left as it was plus the box at the top. */
static struct lstream *stream_new(lua_State *L, struct lclient *lc, bool status_errors)
{
    struct lstream_box *box = lua_newuserdatauv(L, sizeof(*box), 0);
    box->s = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, stream_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    struct lstream *s = calloc(1, sizeof(*s));
    if (!s)
        luaL_error(L, "out of memory opening a stream");
    box->s = s;
    s->s.status_errors = status_errors;
    s->sink.st = lc->st;
    s->sink.kind = TRITON_CALL_INFER;
    s->sink.origin = lc->origin;
    s->sink.anchor = LUA_NOREF;
    s->sink.is_stream = true;
    s->sink.has_cb = true;
    s->s.done = lstream_done;
    s->s.user = s;
    s->s.headers = lopt_kv(L, 3, "headers", &s->sink.mem, &s->s.n_headers);
    s->s.timeout = lopt_seconds(L, 3, "timeout");

    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    int anchor = luaL_ref(L, LUA_REGISTRYINDEX);

    /* A stream stays on one server: the view's own, or the least loaded healthy one. */
    struct triton_error err = {0};
    s->client = lc->server >= 0 ? triton_fleet_client(lc->fleet, (size_t)lc->server)
                                : triton_fleet_pick(lc->fleet, &err);
    if (!s->client) {
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        lerror_raise(L, &err, lc->origin);
    }
    s->next_open = lc->st->streams;
    lc->st->streams = s;
    if (triton_client_stream_open(s->client, &s->s, &err) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        lerror_raise(L, &err, lc->origin); /* the box frees s */
    }
    box->s = NULL;
    s->sink.anchor = anchor;
    s->sink.started = true;
    s->sink.lc = lc;
    return s;
}

/* cc:stream_open(callback, {headers=, timeout=}): the client's one long-lived
 * stream (start_stream), errors in-band. */
static int client_stream_open(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    check_stream_ops(L, lc);
    if (lc->stream)
        return lerror_raisef(L, TRITON_ALREADY_EXISTS,
                             "a stream is already open on this client; stop_stream() first");
    lc->stream = stream_new(L, lc, false);
    return 0;
}

#define LSTREAM_HANDLE_MT "triton.core.StreamCall"

/* The handle of a stream_call: the stream it names, NULL once that is gone. */
struct lstream_handle {
    struct lstream *s;
};

static int handle_gc(lua_State *L)
{
    struct lstream_handle *h = luaL_checkudata(L, 1, LSTREAM_HANDLE_MT);
    if (h->s)
        h->s->handle = NULL; /* the stream goes on to its end; nothing points back */
    h->s = NULL;
    return 0;
}

/* handle:cancel(): ends the stream with "cancelled" unless it already ended */
static int handle_cancel(lua_State *L)
{
    struct lstream_handle *h = luaL_checkudata(L, 1, LSTREAM_HANDLE_MT);
    if (h->s && !h->s->sink.finished)
        triton_client_stream_cancel(h->s->client, &h->s->s);
    return 0;
}

/* cc:stream_call(callback, request, {headers=, timeout=}) -> handle: one request
 * on a stream of its own (stream_infer). Several may be open at once, beside the
 * client's start_stream; the server ends it with the error's own status. */
static int client_stream_call(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    check_stream_ops(L, lc);
    lua_settop(L, 4);
    lua_rotate(L, 3, 1); /* 1 client, 2 callback, 3 options (as stream_new wants), 4 request */
    struct lstream_handle *h = lua_newuserdatauv(L, sizeof(*h), 0); /* 5 */
    h->s = NULL;
    luaL_setmetatable(L, LSTREAM_HANDLE_MT);
    struct lstream *s = stream_new(L, lc, true);
    lua_pop(L, 1); /* the box */
    s->handle = &h->s;
    h->s = s;
    struct triton_infer_request *req = lmem_alloc(L, &s->sink.mem, sizeof(*req));
    lbuild_infer(L, 4, req, &s->sink.mem);
    struct triton_error err = {0};
    if (triton_client_stream_send(s->client, &s->s, req, &err) != 0) {
        triton_client_stream_cancel(s->client, &s->s);
        return lerror_raise(L, &err, lc->origin);
    }
    triton_client_stream_close(s->client, &s->s); /* one request: half-close now */
    lua_settop(L, 5);
    return 1;
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
    struct lclient *lc = lclient_check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct lstream *s = check_stream(L, lc);
    struct triton_infer_request *req = lmem_alloc(L, &s->sink.mem, sizeof(*req));
    lbuild_infer(L, 2, req, &s->sink.mem);
    struct triton_error err = {0};
    if (triton_client_stream_send(s->client, &s->s, req, &err) != 0)
        return lerror_raise(L, &err, lc->origin);
    return 0;
}

/* Half-closes (or cancels) the open stream and waits until its end was delivered. */
static int stream_finish(lua_State *L, bool cancel)
{
    struct lclient *lc = lclient_check(L, 1);
    check_stream_ops(L, lc);
    struct lstream *s = lc->stream;
    if (!s)
        return 0;
    if (cancel)
        triton_client_stream_cancel(s->client, &s->s);
    else
        triton_client_stream_close(s->client, &s->s);
    struct lstate *st = lc->st;
    struct triton_error err = {0};
    /* The sink is freed once its end is delivered, and lc->stream is cleared at
     * the transport's final completion; wait for both. */
    while (lc->stream == s || st->ready) {
        if (lc->stream != s) {
            lstate_drain(L, st);
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
    lua_pushboolean(L, lc->fleet && lc->stream != NULL);
    return 1;
}

void lstream_methods(lua_State *L)
{
    static const luaL_Reg methods[] = {{"stream_open", client_stream_open},
                                       {"stream_send", client_stream_send},
                                       {"stream_close", client_stream_close},
                                       {"stream_cancel", client_stream_cancel},
                                       {"stream_active", client_stream_active},
                                       {"stream_call", client_stream_call},
                                       {NULL, NULL}};
    luaL_setfuncs(L, methods, 0);
    static const luaL_Reg handle_methods[] = {{"cancel", handle_cancel}, {NULL, NULL}};
    static const luaL_Reg handle_meta[] = {{"__gc", handle_gc}, {NULL, NULL}};
    lclass_new(L, LSTREAM_HANDLE_MT, handle_meta, handle_methods);
}
