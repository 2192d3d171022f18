/*
 * lstream.c: streams (gRPC ModelStreamInfer) of the core client.
 *   cc:stream_open(cb, {headers=, timeout=, status_errors=}) -> a stream handle
 *   h:send(request)  h:close()  h:cancel()  h:active()
 * cb(result, err, final) gets each response or in-band error, then the end.
 * A client may have any number of streams open at once: lua/triton/client.lua
 * keeps one for start_stream / async_stream_infer / stop_stream, and
 * stream_infer opens one of its own per call (with status_errors, so that a
 * failure ends it with its real status). close and cancel wait until the end
 * was handed to Lua. A stream has no future: it frees itself once its end was
 * handed over; a handle collected before then cancels it.
 */
#include <math.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"

struct lstream_handle {
    struct lstream *s; /* NULL once the stream's end was handed over */
};

static void check_stream_ops(lua_State *L, struct lclient *lc)
{
    const struct triton_transport *t = triton_fleet_client(lc->fleet, 0)->transport;
    if (!t->stream_open || !t->stream_send || !t->stream_close)
        lerror_raisef(L, TRITON_UNIMPLEMENTED, "streams need gRPC; this is an %s client", t->name);
}

/* The transport passes a call of its own whose user is the stream's. */
static void stream_done(struct triton_call *call, struct triton_reply *reply,
                        const struct triton_error *err, bool final)
{
    struct lstream *s = call->user;
    lreq_event(&s->req, reply, err, final);
}

void lstream_detach(struct lstream *s)
{
    if (s->handle) {
        s->handle->s = NULL;
        s->handle = NULL;
    }
}

static int handle_gc(lua_State *L)
{
    struct lstream_handle *h = lua_touserdata(L, 1);
    struct lstream *s = h->s;
    if (!s)
        return 0;
    h->s = NULL;
    s->handle = NULL;
    if (!s->req.started)
        lreq_free(&s->req); /* opening failed halfway */
    else
        lclient_cancel(&s->req); /* its end frees it */
    return 0;
}

/* cc:stream_open(callback, {headers=, timeout=, status_errors=}) -> handle */
int lstream_open_method(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    check_stream_ops(L, lc);
    /* The handle owns the stream from the start, so that an error halfway frees it. */
    struct lstream_handle *h = lua_newuserdatauv(L, sizeof(*h), 0);
    h->s = NULL;
    luaL_setmetatable(L, LSTREAM_MT);
    struct lstream *s = calloc(1, sizeof(*s));
    if (!s)
        return luaL_error(L, "out of memory opening a stream");
    h->s = s;
    s->handle = h;
    lreq_init(&s->req, lc, TRITON_CALL_INFER, true);
    s->s.done = stream_done;
    s->s.user = s;
    s->s.headers = lopt_kv(L, 3, "headers", &s->req.mem, &s->s.n_headers);
    s->s.timeout = lopt_seconds(L, 3, "timeout");
    s->s.status_errors = lopt_bool(L, 3, "status_errors");
    lreq_ref(L, &s->req, 1, 2, 0);
    /* A stream stays on one server: the view's own, or the least loaded healthy one. */
    struct triton_error err = {0};
    s->client = lc->server >= 0 ? triton_fleet_client(lc->fleet, (size_t)lc->server)
                                : triton_fleet_pick(lc->fleet, &err);
    if (!s->client || triton_client_stream_open(s->client, &s->s, &err) != 0) {
        lreq_unref(L, &s->req);
        return lerror_raise(L, &err, lc->origin); /* the handle frees s */
    }
    s->req.lc = lc;
    lreq_started(&s->req);
    return 1;
}

static struct lstream_handle *check_handle(lua_State *L)
{
    return luaL_checkudata(L, 1, LSTREAM_MT);
}

/* h:send(request) */
static int stream_send(lua_State *L)
{
    struct lstream *s = check_handle(L)->s;
    luaL_checktype(L, 2, LUA_TTABLE);
    if (!s || s->req.finished || !s->req.lc || !s->req.lc->fleet)
        return lerror_raisef(L, TRITON_INVALID_ARGUMENT, "the stream has ended");
    struct triton_infer_request *req = lmem_alloc(L, &s->req.mem, sizeof(*req));
    lbuild_infer(L, 2, req, &s->req.mem);
    struct triton_error err = {0};
    if (triton_client_stream_send(s->client, &s->s, req, &err) != 0)
        return lerror_raise(L, &err, s->req.origin);
    lstate_kick(s->req.st);
    return 0;
}

static bool stream_gone(lua_State *L, void *arg, const struct lwait *w)
{
    (void)L;
    (void)w;
    return ((struct lstream_handle *)arg)->s == NULL;
}

/* Half-closes (or cancels) the stream and waits until its end was handed over. */
static int stream_finish(lua_State *L, bool cancel)
{
    struct lstream_handle *h = check_handle(L);
    struct lstream *s = h->s;
    if (!s)
        return 0;
    struct lstate *st = s->req.st;
    if (cancel)
        lclient_cancel(&s->req);
    else if (!s->req.finished && s->req.lc && s->req.lc->fleet)
        triton_client_stream_close(s->client, &s->s);
    lstate_wait(L, st, INFINITY, stream_gone, h, "stream");
    return 0;
}

static int stream_close(lua_State *L)
{
    return stream_finish(L, false);
}

static int stream_cancel(lua_State *L)
{
    return stream_finish(L, true);
}

/* h:active() -> whether the stream is open (its end has not come) */
static int stream_active(lua_State *L)
{
    struct lstream *s = check_handle(L)->s;
    lua_pushboolean(L, s && !s->req.finished);
    return 1;
}

void lstream_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"send", stream_send},
                                       {"close", stream_close},
                                       {"cancel", stream_cancel},
                                       {"active", stream_active},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", handle_gc}, {NULL, NULL}};
    lclass_new(L, LSTREAM_MT, meta, methods);
}
