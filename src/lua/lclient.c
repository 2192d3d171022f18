/*
 * lclient.c: the core client (triton.core.Client), a thin layer over
 * src/client (client.h), and the opener of the whole client binding.
 *
 * What it adds to triton.core (lua/triton/client.lua builds API.md on top):
 *   core.client_new(opts)           -> a core client (userdata triton.core.Client)
 *   cc:call(kind, args)             a blocking call: the reply as a Lua value
 *   cc:submit(kind, args [, cb])    -> triton.Future; cb(value, err, final) per reply
 *   cc:infer_map(model, inputs)  cc:submit_infer_map(model, inputs [, cb])
 *   cc:stream_*                     (lstream.c)
 *   cc:close()  cc:is_closed()  core.url_redacted(url)  core.Error (lerror.c)
 *   core.step  core.set_tasks  core.take_woken  core.await_token  (lstate.c)
 *   core.rusage()  core.isatty(fd)                 (lua/triton/perf.lua, bench/)
 * Futures are in lfuture.c, results in lresult.c; lbinding.h says who owns what.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "common/secret.h"
#include "lua/lbinding.h"
#include "lua/lcore.h"

struct lclient *lclient_check(lua_State *L, int idx)
{
    struct lclient *lc = luaL_checkudata(L, idx, LCLIENT_MT);
    if (!lc->c)
        luaL_error(L, "attempt to use a closed client");
    return lc;
}

static int client_gc(lua_State *L);

/* core.client_new(opts): opts as lua/triton/client.lua normalized them. */
static int client_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct lstate *st = lstate_get(L);
    struct lclient *lc = lua_newuserdatauv(L, sizeof(*lc), 0);
    memset(lc, 0, sizeof(*lc));
    lc->st = st;
    luaL_setmetatable(L, LCLIENT_MT);

    struct triton_client_options o = {0};
    const char *proto = lopt_string(L, 1, "protocol", &lc->opts);
    if (!proto || strcmp(proto, "http") == 0)
        o.protocol = TRITON_PROTOCOL_HTTP;
    else if (strcmp(proto, "grpc") == 0)
        o.protocol = TRITON_PROTOCOL_GRPC;
    else
        return luaL_error(L, "unknown protocol '%s' (expected \"http\" or \"grpc\")", proto);
    lc->origin = o.protocol == TRITON_PROTOCOL_GRPC ? LERROR_GRPC : LERROR_HTTP;
    o.url = lopt_string(L, 1, "url", &lc->opts);
    o.use_tls = lopt_bool(L, 1, "use_tls");
    o.verbose = lopt_bool(L, 1, "verbose");
    o.headers = lopt_kv(L, 1, "headers", &lc->opts, &o.n_headers);
    o.connection_timeout = lopt_number(L, 1, "connection_timeout", 0);
    o.network_timeout = lopt_number(L, 1, "network_timeout", 0);
    o.ca_file = lopt_string(L, 1, "ca_file", &lc->opts);
    o.cert_file = lopt_string(L, 1, "cert_file", &lc->opts);
    o.key_file = lopt_string(L, 1, "key_file", &lc->opts);
    o.insecure = lopt_bool(L, 1, "insecure");
    o.ssl = lopt_bool(L, 1, "ssl"); /* TLS options were given: the core refuses them on plaintext */
    o.compression = lopt_string(L, 1, "compression", &lc->opts);
    o.response_compression = lopt_string(L, 1, "response_compression", &lc->opts);
    lua_Integer conc = lopt_integer(L, 1, "concurrency", 0);
    if (conc < 0 || conc > 1000000)
        return luaL_error(L, "option 'concurrency' must be between 1 and 1000000");
    o.concurrency = (int)conc;
    lua_Integer maxr = lopt_integer(L, 1, "max_response_size", 0);
    if (maxr < 0)
        return luaL_error(L, "option 'max_response_size' must not be negative");
    o.max_response_size = (size_t)maxr;
    lua_Integer ka_time = lopt_integer(L, 1, "keepalive_time_ms", 0);
    lua_Integer ka_timeout = lopt_integer(L, 1, "keepalive_timeout_ms", 0);
    if (ka_time < 0 || ka_time > INT32_MAX || ka_timeout < 0 || ka_timeout > INT32_MAX)
        return luaL_error(L, "keepalive times must be between 0 and %d ms", INT32_MAX);
    o.keepalive_time_ms = (int)ka_time;
    o.keepalive_timeout_ms = (int)ka_timeout;
    o.keepalive_permit_without_calls = lopt_bool(L, 1, "keepalive_permit_without_calls");

    if (lua_getfield(L, 1, "channel_args") == LUA_TTABLE) {
        int tab = lua_gettop(L);
        size_t count = ltable_count(L, tab);
        if (count > LMAX_HEADERS)
            return luaL_error(L, "option 'channel_args' has more than %d entries", LMAX_HEADERS);
        struct triton_channel_arg *args = lmem_array(L, &lc->opts, count, sizeof(*args));
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tab)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "channel_args keys must be strings");
            size_t klen;
            const char *key = lua_tolstring(L, -2, &klen);
            args[n].key = lmem_strdup(L, &lc->opts, key, klen);
            if (lua_isinteger(L, -1)) {
                lua_Integer v = lua_tointeger(L, -1);
                if (v < INT32_MIN || v > INT32_MAX)
                    return luaL_error(L, "channel_args['%s'] does not fit in an int", key);
                args[n].is_int = true;
                args[n].int_value = (long)v;
            } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
                args[n].is_int = true;
                args[n].int_value = lua_toboolean(L, -1);
            } else if (lua_type(L, -1) == LUA_TSTRING) {
                size_t vlen;
                const char *v = lua_tolstring(L, -1, &vlen);
                args[n].str_value = lmem_strdup(L, &lc->opts, v, vlen);
            } else {
                return luaL_error(L, "channel_args['%s'] must be an integer, boolean or string",
                                  key);
            }
            n++;
            lua_pop(L, 1);
        }
        o.channel_args = args;
        o.n_channel_args = n;
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "option 'channel_args' must be a table");
    }
    lua_pop(L, 1);

    struct triton_error err = {0};
    lc->c = triton_client_new(st->loop, &o, &err);
    if (!lc->c)
        return lerror_raise(L, &err, LERROR_LOCAL);
    lc->next_open = st->clients;
    if (st->clients)
        st->clients->prev_open = lc;
    st->clients = lc;
    return 1;
}

/* Frees the C client. Calls still in flight end with CANCELLED inside
 * triton_client_free; with `deliver_to_lua` their futures and callbacks see
 * that (explicit close), otherwise (finalizer) they are orphaned first. */
static void client_release(lua_State *L, struct lclient *lc, bool deliver_to_lua)
{
    if (!lc->c)
        return;
    if (lc->prev_open)
        lc->prev_open->next_open = lc->next_open;
    else if (lc->st->clients == lc)
        lc->st->clients = lc->next_open;
    if (lc->next_open)
        lc->next_open->prev_open = lc->prev_open;
    lc->next_open = lc->prev_open = NULL;
    if (!deliver_to_lua) {
        for (struct lcall *c = lc->calls; c; c = c->next) {
            c->sink.orphaned = true;
            lsink_unqueue(&c->sink);
            lsink_clear_events(&c->sink);
        }
        if (lc->stream) {
            lc->stream->sink.orphaned = true;
            lsink_unqueue(&lc->stream->sink);
            lsink_clear_events(&lc->stream->sink);
        }
    }
    struct triton_client *c = lc->c;
    lc->c = NULL;
    struct lstate *outer = lstate_swap_active(lc->st);
    triton_client_free(c);
    lstate_swap_active(outer);
    /* Whatever the transport did not complete is lost; nothing may point at lc. */
    while (lc->calls) {
        struct lcall *call = lc->calls;
        lcall_unlink(call);
        if (call->sink.orphaned) {
            lsink_free(&call->sink);
        } else {
            struct triton_error err = {.code = TRITON_CANCELLED};
            snprintf(err.message, sizeof err.message, "the client was closed");
            call->sink.lc = NULL;
            lsink_event(&call->sink, NULL, &err, true);
        }
    }
    if (lc->stream) {
        struct lstream *s = lc->stream;
        lc->stream = NULL;
        s->sink.lc = NULL;
        if (s->sink.orphaned) {
            lsink_free(&s->sink);
        } else {
            struct triton_error err = {.code = TRITON_CANCELLED};
            snprintf(err.message, sizeof err.message, "the client was closed");
            lsink_event(&s->sink, NULL, &err, true);
        }
    }
    lmem_free(&lc->opts);
    if (deliver_to_lua && L)
        lstate_drain(L, lc->st);
}

static int client_close(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    client_release(L, lc, true);
    return 0;
}

static int client_gc(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    client_release(L, lc, false);
    lmem_free(&lc->opts);
    return 0;
}

/* Pushes a new future for a call of `kind` on client lc, its request built by
 * `build` from the values at idx, then submits it. cb_idx: the callback or 0. */
static struct lfuture *submit_built(lua_State *L, int client_idx, struct lclient *lc,
                                    enum triton_call_kind kind, lbuild_fn build, int args_idx,
                                    int cb_idx)
{
    lresult_collect_if_due(L, lc->st);
    struct lfuture *f = lua_newuserdatauv(L, sizeof(*f), 2);
    f->call = NULL;
    luaL_setmetatable(L, LFUTURE_MT);
    int fut = lua_gettop(L);
    struct lcall *call = calloc(1, sizeof(*call));
    if (!call)
        luaL_error(L, "out of memory starting a call");
    f->call = call;
    call->sink.st = lc->st;
    call->sink.kind = kind;
    call->sink.origin = lc->origin;
    call->sink.anchor = LUA_NOREF;
    call->call.kind = kind;
    call->call.done = lcall_done;
    call->call.user = call;
    build(L, args_idx, call);

    struct triton_error err = {0};
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, client_idx);
    lua_rawseti(L, -2, 1);
    if (cb_idx) {
        lua_pushvalue(L, cb_idx);
        lua_rawseti(L, -2, 2);
        call->sink.has_cb = true;
    }
    lua_pushvalue(L, fut);
    lua_rawseti(L, -2, 3);
    int anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    if (triton_client_submit(lc->c, &call->call, &err) != 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, anchor);
        lerror_raise(L, &err, lc->origin);
    }
    call->sink.anchor = anchor;
    call->sink.started = true;
    if (call->sink.has_cb)
        call->sink.st->callbacks++; /* triton.run waits for it (lrequest.c counts it down) */
    call->sink.lc = lc;
    call->next = lc->calls;
    if (lc->calls)
        lc->calls->prev = call;
    lc->calls = call;
    return f;
}

/* Pushes a new future for a call of `kind`, its request built from the args
 * table at idx, then submits it. cb_idx: the callback or 0. */
static struct lfuture *submit(lua_State *L, int client_idx, struct lclient *lc,
                              enum triton_call_kind kind, int args_idx, int cb_idx)
{
    return submit_built(L, client_idx, lc, kind, lbuild_call, args_idx, cb_idx);
}

/* cc:call(kind, args) -> value */
static int client_call(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    enum triton_call_kind kind = lbuild_check_kind(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    submit(L, 1, lc, kind, 3, 0);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return lfuture_get_result(L);
}

/* cc:infer_map(model, inputs) -> result: infer's common call (lbuild_infer_map) */
static int client_infer_map(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    lua_settop(L, 3);
    submit_built(L, 1, lc, TRITON_CALL_INFER, lbuild_infer_map, 2, 0);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return lfuture_get_result(L);
}

/* cc:submit_infer_map(model, inputs [, callback]) -> future: async_infer's common call */
static int client_submit_infer_map(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    submit_built(L, 1, lc, TRITON_CALL_INFER, lbuild_infer_map, 2, lua_isnil(L, 4) ? 0 : 4);
    return 1;
}

/* cc:submit(kind, args [, callback]) -> future */
static int client_submit(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    enum triton_call_kind kind = lbuild_check_kind(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    if (!lua_isnoneornil(L, 4))
        luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4);
    submit(L, 1, lc, kind, 3, lua_isnil(L, 4) ? 0 : 4);
    return 1;
}

static int client_is_closed(lua_State *L)
{
    struct lclient *lc = luaL_checkudata(L, 1, LCLIENT_MT);
    lua_pushboolean(L, lc->c == NULL);
    return 1;
}

/* core.url_redacted(url) -> the URL as tostring(client) shows it */
static int core_url_redacted(lua_State *L)
{
    char *shown = triton_url_redacted(luaL_checkstring(L, 1));
    if (!shown)
        return luaL_error(L, "not enough memory");
    lua_pushstring(L, shown);
    free(shown);
    return 1;
}

/* core.rusage() -> user + system CPU seconds of the process, peak RSS in bytes */
static int core_rusage(lua_State *L)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return luaL_error(L, "getrusage failed");
    lua_pushnumber(L, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
    lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);
    return 2;
}

/* core.isatty(fd) -> whether fd is a terminal (perf's progress line) */
static int core_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
    return 1;
}

/* A metatable named `name` with the given metamethods and an __index table of
 * methods, as luaL_newmetatable + luaL_setfuncs would build it by hand. */
void lclass_new(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void lclient_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"call", client_call},
                                       {"infer_map", client_infer_map},
                                       {"submit_infer_map", client_submit_infer_map},
                                       {"submit", client_submit},
                                       {"is_closed", client_is_closed},
                                       {"close", client_close},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", client_gc}, {"__close", client_close}, {NULL, NULL}};
    lclass_new(L, LCLIENT_MT, meta, methods);
    luaL_getmetatable(L, LCLIENT_MT);
    lua_getfield(L, -1, "__index");
    lstream_methods(L);
    lua_pop(L, 2);
    lfuture_open(L);
    lresult_open(L);

    lerror_open(L);
    lua_pushcfunction(L, client_new);
    lua_setfield(L, -2, "client_new");
    lua_pushcfunction(L, core_url_redacted);
    lua_setfield(L, -2, "url_redacted");
    lstate_open(L);
    lua_pushcfunction(L, core_rusage);
    lua_setfield(L, -2, "rusage");
    lua_pushcfunction(L, core_isatty);
    lua_setfield(L, -2, "isatty");
    lshm_open(L);
}
