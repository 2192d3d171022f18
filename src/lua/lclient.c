/*
 * lclient.c: the core client (triton.core.Client), a thin layer over
 * src/client (client.h), and the opener of the whole client binding.
 *
 * What it adds to triton.core (lua/triton/client.lua builds API.md on top):
 *   core.client_new(opts)           -> a core client (userdata triton.core.Client)
 *   cc:call(kind, args)             a blocking call: the reply as a Lua value
 *   cc:submit(kind, args [, cb])    -> triton.Future; cb(value, err, final) per reply
 *   cc:infer(model, inputs, opts, fname [, arg])   c:infer's call, read in C
 *   cc:submit_infer(model, inputs, opts, fname, arg [, cb])  c:async_infer's
 *   core.infer_classes()            -> InferInput, InferRequestedOutput (infer.lua's)
 *   cc:stream_open(cb, opts)        -> a stream handle (lstream.c)
 *   cc:close()  cc:is_closed()  core.url_redacted(url)  core.Error (lerror.c)
 *   core.step  core.poll  core.fd  core.set_tasks  core.take_woken ...  (lstate.c)
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
#include "lua/largs.h"
#include "lua/lbinding.h"
#include "lua/lcore.h"
#include "lua/ltensor.h"

void *lclass_test(lua_State *L, int idx, int mt, const char *name)
{
    if (!mt)
        return luaL_testudata(L, idx, name);
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx))
        return NULL;
    bool same = lua_rawequal(L, -1, mt);
    lua_pop(L, 1);
    return same ? p : NULL;
}

void *lclass_check(lua_State *L, int idx, int mt, const char *name)
{
    void *p = lclass_test(L, idx, mt, name);
    if (!p)
        luaL_typeerror(L, idx, name);
    return p;
}

struct lclient *lclient_check(lua_State *L, int idx)
{
    struct lclient *lc = lclass_check(L, idx, LUV_CLASS, LCLIENT_MT);
    if (!lc->fleet)
        largs_error(L, "attempt to use a closed client");
    return lc;
}

/* Cancels a request in flight: its final reply comes from a later step. */
void lclient_cancel(struct lreq *r)
{
    struct lclient *lc = r->lc;
    if (!r->started || r->finished || !lc || !lc->fleet)
        return;
    if (r->is_stream) {
        struct lstream *s = (struct lstream *)r;
        triton_client_stream_cancel(s->client, &s->s);
    } else {
        triton_fleet_cancel(lc->fleet, &((struct lcall *)r)->call);
    }
}

/* A new core client (closed until the caller sets its fleet), on the state's list
 * of open clients. */
static struct lclient *client_push(lua_State *L, int nuv)
{
    struct lstate *st = lstate_get(L);
    struct lclient *lc = lua_newuserdatauv(L, sizeof(*lc), nuv);
    memset(lc, 0, sizeof(*lc));
    lc->st = st;
    lc->server = -1;
    luaL_setmetatable(L, LCLIENT_MT);
    return lc;
}

static void client_list(struct lclient *lc)
{
    struct lstate *st = lc->st;
    lc->next_open = st->clients;
    if (st->clients)
        st->clients->prev_open = lc;
    st->clients = lc;
}

/* Reads the list of strings at field k of the table at idx (copied into m). */
static const char **lopt_strings(lua_State *L, int idx, const char *k, struct lmem *m, size_t *n)
{
    *n = 0;
    if (lua_getfield(L, idx, k) != LUA_TTABLE) {
        lua_pop(L, 1);
        return NULL;
    }
    int tab = lua_gettop(L);
    size_t count = (size_t)lua_rawlen(L, tab);
    if (count > LMAX_HEADERS)
        luaL_error(L, "option '%s' has more than %d entries", k, LMAX_HEADERS);
    const char **list = lmem_array(L, m, count ? count : 1, sizeof(*list));
    for (size_t i = 0; i < count; i++) {
        lua_rawgeti(L, tab, (lua_Integer)i + 1);
        size_t len;
        const char *v = lua_tolstring(L, -1, &len);
        if (!v || strlen(v) != len)
            luaL_error(L, "option '%s' must be a list of strings", k);
        list[i] = lmem_strdup(L, m, v, len);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    *n = count;
    return list;
}

/* The fleet options of the table at 1 (lua/triton/client.lua checked them):
 * urls = {host:port, ...} or resolve = host:port, resolve_interval, balance,
 * health_interval, health_models, retry_attempts, retry_on = {code words},
 * retry_backoff, retry_max_backoff, retry_budget. */
static void read_fleet_options(lua_State *L, struct lclient *lc, struct triton_fleet_options *fo)
{
    fo->urls = lopt_strings(L, 1, "urls", &lc->opts, &fo->n_urls);
    fo->resolve = lopt_string(L, 1, "resolve", &lc->opts);
    fo->resolve_interval = lopt_number(L, 1, "resolve_interval", 0);
    const char *balance = lopt_string(L, 1, "balance", &lc->opts);
    fo->balance = balance && strcmp(balance, "round_robin") == 0 ? TRITON_BALANCE_ROUND_ROBIN
                                                                 : TRITON_BALANCE_LEAST_REQUESTS;
    fo->health_interval = lopt_number(L, 1, "health_interval", 0);
    fo->health_models = lopt_strings(L, 1, "health_models", &lc->opts, &fo->n_health_models);
    lua_Integer attempts = lopt_integer(L, 1, "retry_attempts", 0);
    fo->retry.attempts = attempts > 1000 ? 1000 : (int)attempts;
    size_t n_on;
    const char **on = lopt_strings(L, 1, "retry_on", &lc->opts, &n_on);
    for (size_t i = 0; i < n_on; i++) {
        int code = 0;
        while (code <= TRITON_UNKNOWN && strcmp(triton_code_word(code), on[i]) != 0)
            code++;
        if (code > TRITON_UNKNOWN)
            luaL_error(L, "retry: unknown code '%s'", on[i]);
        fo->retry.codes |= 1u << code;
    }
    fo->retry.backoff = lopt_number(L, 1, "retry_backoff", 0);
    fo->retry.max_backoff = lopt_number(L, 1, "retry_max_backoff", 0);
    fo->retry.budget = lopt_number(L, 1, "retry_budget", 0);
}

/* core.client_new(opts): opts as lua/triton/client.lua normalized them. */
static int client_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct lstate *st = lstate_get(L);
    struct lclient *lc = client_push(L, 0);
    /* The fleet keeps pointing at its options (servers join when a name is
     * re-resolved): they live in the client's memory. */
    struct triton_client_options *op = lmem_alloc(L, &lc->opts, sizeof(*op));
    struct triton_fleet_options *fo = lmem_alloc(L, &lc->opts, sizeof(*fo));
    memset(op, 0, sizeof(*op));
    memset(fo, 0, sizeof(*fo));
    const char *proto = lopt_string(L, 1, "protocol", &lc->opts);
    if (!proto || strcmp(proto, "http") == 0)
        op->protocol = TRITON_PROTOCOL_HTTP;
    else if (strcmp(proto, "grpc") == 0)
        op->protocol = TRITON_PROTOCOL_GRPC;
    else
        return luaL_error(L, "unknown protocol '%s' (expected \"http\" or \"grpc\")", proto);
    lc->origin = op->protocol == TRITON_PROTOCOL_GRPC ? LERROR_GRPC : LERROR_HTTP;
    op->use_tls = lopt_bool(L, 1, "use_tls");
    op->verbose = lopt_bool(L, 1, "verbose");
    op->headers = lopt_kv(L, 1, "headers", &lc->opts, &op->n_headers);
    op->connection_timeout = lopt_seconds(L, 1, "connection_timeout");
    op->network_timeout = lopt_seconds(L, 1, "network_timeout");
    op->ca_file = lopt_string(L, 1, "ca_file", &lc->opts);
    op->cert_file = lopt_string(L, 1, "cert_file", &lc->opts);
    op->key_file = lopt_string(L, 1, "key_file", &lc->opts);
    op->insecure = lopt_bool(L, 1, "insecure");
    op->ssl =
        lopt_bool(L, 1, "ssl"); /* TLS options were given: the core refuses them on plaintext */
    op->compression = lopt_string(L, 1, "compression", &lc->opts);
    op->response_compression = lopt_string(L, 1, "response_compression", &lc->opts);
    lua_Integer conc = lopt_integer(L, 1, "concurrency", 0);
    if (conc < 0 || conc > 1000000)
        return luaL_error(L, "option 'concurrency' must be between 1 and 1000000");
    op->concurrency = (int)conc;
    lua_Integer maxr = lopt_integer(L, 1, "max_response_size", 0);
    if (maxr < 0)
        return luaL_error(L, "option 'max_response_size' must not be negative");
    op->max_response_size = (size_t)maxr;
    lua_Integer ka_time = lopt_integer(L, 1, "keepalive_time_ms", 0);
    lua_Integer ka_timeout = lopt_integer(L, 1, "keepalive_timeout_ms", 0);
    if (ka_time < 0 || ka_time > INT32_MAX || ka_timeout < 0 || ka_timeout > INT32_MAX)
        return luaL_error(L, "keepalive times must be between 0 and %d ms", INT32_MAX);
    op->keepalive_time_ms = (int)ka_time;
    op->keepalive_timeout_ms = (int)ka_timeout;
    op->keepalive_permit_without_calls = lopt_bool(L, 1, "keepalive_permit_without_calls");

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
        op->channel_args = args;
        op->n_channel_args = n;
    } else if (!lua_isnil(L, -1)) {
        return luaL_error(L, "option 'channel_args' must be a table");
    }
    lua_pop(L, 1);

    read_fleet_options(L, lc, fo);
    fo->client = op;
    fo->scheme = lopt_string(L, 1, "scheme", &lc->opts);
    struct triton_error err = {0};
    lc->fleet = triton_fleet_new(st->loop, fo, &err);
    if (!lc->fleet)
        return lerror_raise(L, &err, LERROR_LOCAL);
    client_list(lc);
    return 1;
}

static void client_unlist(struct lclient *lc)
{
    if (lc->prev_open)
        lc->prev_open->next_open = lc->next_open;
    else if (lc->st->clients == lc)
        lc->st->clients = lc->next_open;
    if (lc->next_open)
        lc->next_open->prev_open = lc->prev_open;
    lc->next_open = lc->prev_open = NULL;
}

/* The Lua side of lc's requests is gone (finalizer): drop their replies. */
static void client_orphan(struct lclient *lc)
{
    for (struct lreq *r = lc->reqs; r; r = r->next)
        lreq_orphan(r);
}

/* A view lets go of its owner's fleet: what it has in flight is cancelled and
 * completes from a later step (or inside the owner's close), no longer linked to
 * the view, so that nothing points at it. */
static void view_release(struct lclient *v, bool deliver_to_lua)
{
    if (!v->fleet)
        return;
    client_unlist(v);
    if (!deliver_to_lua)
        client_orphan(v);
    for (struct lclient **pp = &v->owner->views; *pp; pp = &(*pp)->next_view) {
        if (*pp == v) {
            *pp = v->next_view;
            break;
        }
    }
    while (v->reqs) {
        struct lreq *r = v->reqs;
        lclient_cancel(r);
        lreq_unlink(r);
    }
    v->fleet = NULL;
    v->owner = NULL;
}

/* Frees the fleet. Requests still in flight end with CANCELLED inside
 * triton_fleet_free; with `deliver_to_lua` their futures and callbacks see
 * that (explicit close), otherwise (finalizer) they are orphaned first. */
static void client_release(lua_State *L, struct lclient *lc, bool deliver_to_lua)
{
    if (!lc->fleet)
        return;
    if (lc->owner) {
        view_release(lc, deliver_to_lua);
        if (deliver_to_lua && L)
            lstate_drain(L, lc->st, NULL);
        return;
    }
    while (lc->views)
        view_release(lc->views, deliver_to_lua);
    client_unlist(lc);
    if (!deliver_to_lua)
        client_orphan(lc);
    struct triton_fleet *f = lc->fleet;
    lc->fleet = NULL;
    struct lstate *outer = lstate_swap_active(lc->st);
    triton_fleet_free(f);
    lstate_swap_active(outer);
    /* Whatever the transport did not complete is lost; nothing may point at lc. */
    while (lc->reqs) {
        struct lreq *r = lc->reqs;
        lreq_unlink(r);
        if (r->orphaned) {
            lreq_free(r);
        } else {
            struct triton_error err = {.code = TRITON_CANCELLED};
            snprintf(err.message, sizeof err.message, "the client was closed");
            lreq_event(r, NULL, &err, true);
        }
    }
    lmem_free(&lc->opts);
    if (deliver_to_lua && L)
        lstate_drain(L, lc->st, NULL);
}

static int client_close(lua_State *L)
{
    struct lclient *lc = lclass_check(L, 1, LUV_CLASS, LCLIENT_MT);
    client_release(L, lc, true);
    return 0;
}

static int client_gc(lua_State *L)
{
    struct lclient *lc = lclass_check(L, 1, LUV_CLASS, LCLIENT_MT);
    client_release(L, lc, false);
    lmem_free(&lc->opts);
    return 0;
}

/* Pushes a future for a call of `kind` on client lc (at client_idx), its
 * request built by `build` from the values at idx, then submits it. cb_idx: the
 * callback or 0. An asynchronous call (`kick`) is moved onto the wire at once;
 * a blocking one (for lfuture_result_once) may reuse a kept future.
 * Returns the call (the future's). */
static struct lcall *submit_built(lua_State *L, int client_idx, struct lclient *lc,
                                  enum triton_call_kind kind, lbuild_fn build, int args_idx,
                                  int cb_idx, bool kick)
{
    lresult_collect_if_due(L, lc->st);
    struct lfuture *f = kick ? NULL : lfuture_take_spare(L, lc->st);
    if (!f) {
        f = lua_newuserdatauv(L, sizeof(*f), 1);
        memset(f, 0, sizeof(*f));
        lua_pushvalue(L, LUV_FUTURE);
        lua_setmetatable(L, -2);
    }
    int fut = lua_gettop(L);
    struct lcall *call = lcall_new(lc->st);
    if (!call)
        luaL_error(L, "out of memory starting a call");
    f->call = call;
    lreq_init(&call->req, lc, kind, false);
    call->call.kind = kind;
    call->call.done = lcall_done;
    call->call.user = call;
    build(L, args_idx, call);

    lreq_ref(L, &call->req, client_idx, cb_idx, fut);
    struct triton_error err = {0};
    int rc = lc->server >= 0
                 ? triton_fleet_submit_to(lc->fleet, (size_t)lc->server, &call->call, &err)
                 : triton_fleet_submit(lc->fleet, &call->call, &err);
    if (rc != 0) {
        lreq_unref(L, &call->req);
        lerror_raise(L, &err, lc->origin);
    }
    call->req.lc = lc;
    lreq_started(&call->req);
    if (kick)
        lstate_kick(lc->st);
    return call;
}

/* cc:call(kind, args) -> value */
static int client_call(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    enum triton_call_kind kind = lbuild_check_kind(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    submit_built(L, 1, lc, kind, lbuild_call, 3, 0, false);
    lua_replace(L, 1);
    return lfuture_result_once(L);
}

/* core.infer_classes() -> the metatables of InferInput and InferRequestedOutput,
 * which lua/triton/infer.lua fills: made here, under the names lbuild.c and
 * check_input_list know them by. */
static int core_infer_classes(lua_State *L)
{
    luaL_newmetatable(L, LINPUT_MT);
    luaL_newmetatable(L, LOUTPUT_MT);
    return 2;
}

/* The model name at 2 of an infer call laid out as lbuild_infer_args reads it. */
static void check_model(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING) {
        struct lwho who = lbuild_who(L, 2);
        largs_check_string(L, 2, who.arg, who.fname);
    }
}

/* cc:infer(model, inputs, opts, fname [, arg]) -> result: c:infer's call, opts
 * nil or checked against infer.infer_options (without query_params); fname is
 * the user's function and arg its model's argument number (nil: 1), for
 * messages. Read and submitted here without a Lua frame between
 * (lbuild_infer_args). */
static int client_infer(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    lua_settop(L, 6);
    check_model(L);
    submit_built(L, 1, lc, TRITON_CALL_INFER, lbuild_infer_args, 2, 0, false);
    lua_replace(L, 1);
    return lfuture_result_once(L);
}

/* cc:submit_infer(model, inputs, opts, fname, arg [, callback]) -> future:
 * c:async_infer's call (and triton.perf's and triton.map's), as client_infer */
static int client_submit_infer(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    if (!lua_isnoneornil(L, 7))
        luaL_checktype(L, 7, LUA_TFUNCTION);
    lua_settop(L, 7);
    check_model(L);
    submit_built(L, 1, lc, TRITON_CALL_INFER, lbuild_infer_args, 2, lua_isnil(L, 7) ? 0 : 7, true);
    return 1;
}

static void push_upvalues(lua_State *L, int mt);

/* ---- the Client's c:infer and c:async_infer -------------------------------------------- */

/* Their upvalues after the LUV_ ones. */
#define MUV_LUA   lua_upvalueindex(LUV_COUNT + 1) /* the Lua method, for the other forms */
#define MUV_NAME  lua_upvalueindex(LUV_COUNT + 2) /* "infer" or "async_infer" */
#define MUV_CC    lua_upvalueindex(LUV_COUNT + 3) /* "_cc" */
#define MUV_SPEC  lua_upvalueindex(LUV_COUNT + 4) /* infer.infer_options (a largs spec) */
#define MUV_OPTS  lua_upvalueindex(LUV_COUNT + 5) /* its entries (light userdata) */
#define MUV_COUNT (LUV_COUNT + 5)

/* Whether the call's options, at 4, are read in C: none, or a table without
 * `split` (c:infer's batches over a fleet: lua/triton/fleet.lua) and without
 * `query_params` (whose rule, HTTP clients only, is client.lua's call_args).
 * Anything else goes to the Lua method, which checks it. */
static bool options_read_here(lua_State *L)
{
    if (lua_isnoneornil(L, 4))
        return true;
    if (lua_type(L, 4) != LUA_TTABLE)
        return false;
    int split = lua_getfield(L, 4, "split");
    int query = lua_getfield(L, 4, "query_params");
    lua_pop(L, 2);
    return split == LUA_TNIL && query == LUA_TNIL;
}

/* The arguments as client_infer and client_submit_infer take them: the Client
 * at 1 (lua/triton/client.lua's table) replaced by its core client self._cc,
 * the model (checked here), the inputs and the options (checked here), then
 * the method's name. */
static void infer_call_args(lua_State *L)
{
    lua_settop(L, 4);
    lua_pushvalue(L, MUV_CC);
    if (lua_type(L, 1) != LUA_TTABLE || lua_rawget(L, 1) != LUA_TUSERDATA)
        largs_error(L, "calling '%s' on bad self (triton.Client expected, got %s)",
                    lua_tostring(L, MUV_NAME), luaL_typename(L, 1));
    lua_replace(L, 1);
    lua_pushvalue(L, MUV_NAME);
    check_model(L); /* the model first, then the options, as client.lua's infer_args */
    if (!lua_isnil(L, 4))
        largs_check_options(L, 4, 3, lua_tostring(L, 5), lua_touserdata(L, MUV_OPTS));
}

/* Hands the call to the Lua method with all its arguments, returning what it
 * returns; it may yield. */
static int call_lua_method(lua_State *L)
{
    lua_pushvalue(L, MUV_LUA);
    lua_insert(L, 1);
    return lcompat_tailcall(L, lua_gettop(L) - 1);
}

/* c:infer(model, inputs [, opts]): read and submitted by client_infer on
 * self._cc at once, without a Lua frame, unless options_read_here says the
 * Lua method takes it. */
static int method_infer(lua_State *L)
{
    if (!options_read_here(L))
        return call_lua_method(L);
    infer_call_args(L);
    return client_infer(L);
}

/* c:async_infer(model, inputs [, opts] [, callback]), as method_infer: a
 * callback goes to the Lua method. */
static int method_async_infer(lua_State *L)
{
    if (!lua_isnoneornil(L, 5) || !options_read_here(L))
        return call_lua_method(L);
    infer_call_args(L);
    return client_submit_infer(L);
}

/* core.client_methods(infer, async_infer, infer_options) -> infer, async_infer:
 * the Client's two methods, given the Lua methods that take the forms C does
 * not and the spec of their options. */
static int core_client_methods(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    const struct largs_option *spec = largs_spec(L, 3);
    /* An option the spec accepts and no reader reads would be checked, then
     * dropped: make that a failure to load instead. query_params: client.lua's. */
    for (const struct largs_option *o = spec; o->name; o++)
        if (!lbuild_reads_option(o->name) && strcmp(o->name, "query_params") != 0)
            luaL_error(L, "client_methods: infer option '%s' is not read (lbuild.c)", o->name);
    lua_settop(L, 3);
    luaL_getmetatable(L, LCLIENT_MT);
    int mt = lua_gettop(L);
    const lua_CFunction fns[2] = {method_infer, method_async_infer};
    const char *names[2] = {"infer", "async_infer"};
    for (int i = 0; i < 2; i++) {
        push_upvalues(L, mt);
        lua_pushvalue(L, 1 + i);
        lua_pushstring(L, names[i]);
        lua_pushliteral(L, "_cc");
        lua_pushvalue(L, 3);
        lua_pushlightuserdata(L, (void *)spec);
        lua_pushcclosure(L, fns[i], MUV_COUNT);
        lcompat_yieldable(L);
    }
    return 2;
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
    submit_built(L, 1, lc, kind, lbuild_call, 3, lua_isnil(L, 4) ? 0 : 4, true);
    return 1;
}

static int client_is_closed(lua_State *L)
{
    struct lclient *lc = lclass_check(L, 1, LUV_CLASS, LCLIENT_MT);
    lua_pushboolean(L, lc->fleet == NULL);
    return 1;
}

/* cc:servers() -> {{url=, healthy=, in_flight=, requests=, failures=, probes=,
 * last_error=, index=}, ...}: the fleet's present servers (index: for cc:view) */
static int client_servers(lua_State *L)
{
    struct lclient *lc = lclient_check(L, 1);
    size_t n = triton_fleet_size(lc->fleet);
    lua_createtable(L, (int)n, 0);
    lua_Integer k = 0;
    for (size_t i = 0; i < n; i++) {
        struct triton_fleet_server_info info;
        triton_fleet_server(lc->fleet, i, &info);
        if (info.gone || (lc->server >= 0 && (size_t)lc->server != i))
            continue;
        lua_createtable(L, 0, 8);
        lua_pushstring(L, info.name);
        lua_setfield(L, -2, "url");
        lua_pushboolean(L, info.healthy);
        lua_setfield(L, -2, "healthy");
        lua_pushinteger(L, info.in_flight);
        lua_setfield(L, -2, "in_flight");
        lua_pushinteger(L, (lua_Integer)info.requests);
        lua_setfield(L, -2, "requests");
        lua_pushinteger(L, (lua_Integer)info.failures);
        lua_setfield(L, -2, "failures");
        lua_pushinteger(L, (lua_Integer)info.probes);
        lua_setfield(L, -2, "probes");
        if (info.last_error[0]) {
            lua_pushstring(L, info.last_error);
            lua_setfield(L, -2, "last_error");
        }
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_setfield(L, -2, "index");
        lua_rawseti(L, -2, ++k);
    }
    return 1;
}

/* cc:view(index) -> a core client for that server of cc's fleet alone (each(fn)):
 * every call goes there, never retried elsewhere; it shares the fleet's
 * connections and counters and is closed with it. */
static int client_view(lua_State *L)
{
    struct lclient *owner = lclient_check(L, 1);
    if (owner->owner)
        owner = owner->owner;
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || (size_t)i > triton_fleet_size(owner->fleet))
        return luaL_argerror(L, 2, "no such server");
    struct lclient *v = client_push(L, 1);
    lua_pushvalue(L, 1); /* the owner stays alive while the view is */
    lua_setiuservalue(L, -2, 1);
    v->fleet = owner->fleet;
    v->owner = owner;
    v->server = (int)(i - 1);
    v->origin = owner->origin;
    v->next_view = owner->views;
    owner->views = v;
    client_list(v);
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

/* Pushes the LUV_ upvalues (lbinding.h) for the class whose metatable is at mt. */
static void push_upvalues(lua_State *L, int mt)
{
    lua_pushvalue(L, mt);
    luaL_newmetatable(L, LFUTURE_MT); /* lfuture_open fills it */
    if (luaL_getmetatable(L, LTENSOR_MT) != LUA_TTABLE ||
        luaL_getmetatable(L, LTENSOR_LENT_MT) != LUA_TTABLE)
        luaL_error(L, "the tensor class must be opened before the client binding");
}

/* A metatable named `name` with the given metamethods and an __index table of
 * methods, as luaL_newmetatable + luaL_setfuncs would build it by hand; every
 * function gets the LUV_ upvalues. */
void lclass_new(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    int mt = lua_gettop(L);
    push_upvalues(L, mt);
    luaL_setfuncs(L, meta, LUV_COUNT);
    lua_newtable(L);
    push_upvalues(L, mt);
    luaL_setfuncs(L, methods, LUV_COUNT);
    lua_setfield(L, mt, "__index");
    lua_pop(L, 1);
}

void lclient_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"call", client_call},
                                       {"infer", client_infer},
                                       {"submit_infer", client_submit_infer},
                                       {"submit", client_submit},
                                       {"stream_open", lstream_open_method},
                                       {"is_closed", client_is_closed},
                                       {"servers", client_servers},
                                       {"view", client_view},
                                       {"close", client_close},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", client_gc}, {"__close", client_close}, {NULL, NULL}};
    lclass_new(L, LCLIENT_MT, meta, methods);
    lstream_open(L);
    lfuture_open(L);
    lresult_open(L);

    lerror_open(L);
    lua_pushcfunction(L, client_new);
    lua_setfield(L, -2, "client_new");
    lua_pushcfunction(L, core_url_redacted);
    lua_setfield(L, -2, "url_redacted");
    lua_pushcfunction(L, core_infer_classes);
    lua_setfield(L, -2, "infer_classes");
    lua_pushcfunction(L, core_client_methods);
    lua_setfield(L, -2, "client_methods");
    lstate_open(L);
    lua_pushcfunction(L, core_rusage);
    lua_setfield(L, -2, "rusage");
    lua_pushcfunction(L, core_isatty);
    lua_setfield(L, -2, "isatty");
    lua_createtable(L, TRITON_UNKNOWN, 0); /* core.code_words: what retry.on takes */
    for (int code = TRITON_INVALID_ARGUMENT; code <= TRITON_UNKNOWN; code++) {
        lua_pushstring(L, triton_code_word(code));
        lua_rawseti(L, -2, code);
    }
    lua_setfield(L, -2, "code_words");
    lshm_open(L);
}
