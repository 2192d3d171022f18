/*
 * lresult.c: triton.InferResult, an inference reply as Lua sees it:
 *   r:as_tensor(name) :output(name) :outputs() :response() :classification(name) :final()
 *   r:server()
 * Output tensors are views over the reply's buffers, which they keep alive.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lbinding.h"
#include "lua/lcjson.h"
#include "lua/ltensor.h"
#include "wire/classification.h"

struct lresult {
    struct triton_infer_result *r; /* NULL once collected */
    bool has_server;               /* server holds what r:server() answers, else nil */
    char server[];                 /* NUL-terminated */
};

/* For the result's methods (reads LUV_CLASS). */
static struct lresult *check_lresult(lua_State *L, int idx)
{
    struct lresult *lr = lclass_check(L, idx, LUV_CLASS, LRESULT_MT);
    if (!lr->r)
        luaL_error(L, "attempt to use a released infer result");
    return lr;
}

static struct triton_infer_result *check_result(lua_State *L, int idx)
{
    return check_lresult(L, idx)->r;
}

static const struct triton_infer_output *find_output(const struct triton_infer_result *r,
                                                     const char *name)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].name, name) == 0)
            return &r->outputs[i];
    return NULL;
}

static void push_shape(lua_State *L, const int64_t *shape, int ndim)
{
    lua_createtable(L, ndim, 0);
    for (int i = 0; i < ndim; i++) {
        lua_pushinteger(L, (lua_Integer)shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* The output's tensor, or nil for an output in shared memory. The tensor reads
 * the output's struct in place and keeps the result's userdata (at index 1),
 * whose finalizer frees r, alive. */
static void push_output_tensor(lua_State *L, struct lresult *lr,
                               const struct triton_infer_output *o)
{
    if (!o->has_data) {
        lua_pushnil(L);
        return;
    }
    ltensor_push_lent(L, LUV_TENSOR_LENT, &o->tensor, 1, &lr->r);
}

/* A reply's parameters as a table, empty when the reply had none (NULL). */
static void push_parameters(lua_State *L, const cJSON *parameters)
{
    if (parameters)
        lcjson_push(L, parameters);
    else
        lua_newtable(L);
}

static void push_output_info(lua_State *L, const struct triton_infer_output *o)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, o->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, o->datatype);
    lua_setfield(L, -2, "datatype");
    push_shape(L, o->shape, o->ndim);
    lua_setfield(L, -2, "shape");
    push_parameters(L, o->parameters);
    /* binary_data_size frames the HTTP body; it is not a property of the
     * output, and gRPC has no such parameter: drop it so that both transports
     * give the same table. */
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        lua_setfield(L, -2, "binary_data_size");
    }
    lua_setfield(L, -2, "parameters");
}

/* The output named by argument 2, or an error naming it. The name must be a
 * string: luaL_checkstring would turn r:as_tensor(5) into a lookup of "5". An
 * unknown name raises, as r:classification does, rather than returning nil that
 * a script would only trip over later (a typo in a name is a bug in the script). */
static const struct triton_infer_output *check_output(lua_State *L,
                                                      const struct triton_infer_result *r)
{
    if (lua_type(L, 2) != LUA_TSTRING)
        luaL_typeerror(L, 2, "string");
    const char *name = lua_tostring(L, 2);
    const struct triton_infer_output *o = find_output(r, name);
    if (!o)
        luaL_error(L, "no output '%s' in this result", name);
    return o;
}

/* r:as_tensor(name) -> tensor, or nil for an output placed in shared memory */
static int result_as_tensor(lua_State *L)
{
    struct lresult *lr = check_lresult(L, 1);
    push_output_tensor(L, lr, check_output(L, lr->r));
    return 1;
}

/* r:output(name) -> {name=, datatype=, shape=, parameters=} */
static int result_output(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    push_output_info(L, check_output(L, r));
    return 1;
}

/* r:outputs() -> {NAME = tensor, ...} (outputs in shared memory are left out) */
static int result_outputs(lua_State *L)
{
    struct lresult *lr = check_lresult(L, 1);
    struct triton_infer_result *r = lr->r;
    lua_createtable(L, 0, (int)r->n_outputs);
    for (size_t i = 0; i < r->n_outputs; i++) {
        if (!r->outputs[i].has_data)
            continue;
        push_output_tensor(L, lr, &r->outputs[i]);
        lua_setfield(L, -2, r->outputs[i].name);
    }
    return 1;
}

/* r:response() -> {model_name=, model_version=, id=, parameters=, outputs={info...}} */
static int result_response(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    lua_createtable(L, 0, 5);
    lua_pushstring(L, r->model_name ? r->model_name : "");
    lua_setfield(L, -2, "model_name");
    lua_pushstring(L, r->model_version ? r->model_version : "");
    lua_setfield(L, -2, "model_version");
    if (r->id) {
        lua_pushstring(L, r->id);
        lua_setfield(L, -2, "id");
    }
    push_parameters(L, r->parameters);
    lua_setfield(L, -2, "parameters");
    lua_createtable(L, (int)r->n_outputs, 0);
    for (size_t i = 0; i < r->n_outputs; i++) {
        push_output_info(L, &r->outputs[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "outputs");
    return 1;
}

/* r:final() -> whether this response ends its request (streams) */
static int result_final(lua_State *L)
{
    lua_pushboolean(L, check_result(L, 1)->final);
    return 1;
}

/* Pushes one classification element "score:index[:label]" as {score=, index=,
 * label=}; the index is made 1-based like every index in the Lua API. */
static int push_class(lua_State *L, const char *str, size_t len, struct triton_error *err)
{
    struct wire_classification c;
    if (wire_classification_parse(str, len, &c, err) != 0)
        return -1;
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, c.score);
    lua_setfield(L, -2, "score");
    lua_pushinteger(L, (lua_Integer)c.index + 1);
    lua_setfield(L, -2, "index");
    if (c.label) {
        lua_pushlstring(L, c.label, c.label_len);
        lua_setfield(L, -2, "label");
    }
    return 0;
}

/* r:classification(name) -> for a [N] output a list of {score=, index=, label=};
 * for [B, N] a list of B such lists. */
static int result_classification(lua_State *L)
{
    struct triton_infer_result *r = check_result(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const struct triton_infer_output *o = find_output(r, name);
    if (!o || !o->has_data)
        return luaL_error(L, "no output '%s' with data in this result", name);
    const struct tensor *t = &o->tensor;
    if (t->dtype != TENSOR_BYTES)
        return luaL_error(L, "output '%s' is %s, not a classification (BYTES) output", name,
                          tensor_dtype_name(t->dtype));
    int64_t rows = 1, cols = t->ndim >= 1 ? t->shape[t->ndim - 1] : 1;
    for (int d = 0; d + 1 < t->ndim; d++)
        rows *= t->shape[d];
    bool nested = t->ndim >= 2;
    if (nested)
        lua_createtable(L, rows > INT32_MAX ? 0 : (int)rows, 0);
    int64_t flat = 0;
    for (int64_t i = 0; i < rows; i++) {
        lua_createtable(L, cols > INT32_MAX ? 0 : (int)cols, 0);
        for (int64_t j = 0; j < cols; j++, flat++) {
            const struct tensor_str *e = tensor_elem_ptr(t, flat);
            struct triton_error err = {0};
            if (push_class(L, e->ptr, e->len, &err) != 0)
                return lerror_raise(L, &err, LERROR_LOCAL);
            lua_rawseti(L, -2, (lua_Integer)j + 1);
        }
        if (nested)
            lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int result_gc(lua_State *L)
{
    struct lresult *lr = lclass_check(L, 1, LUV_CLASS, LRESULT_MT);
    triton_infer_result_free(lr->r);
    lr->r = NULL;
    return 0;
}

static int result_tostring(lua_State *L)
{
    struct lresult *lr = lclass_check(L, 1, LUV_CLASS, LRESULT_MT);
    if (!lr->r) {
        lua_pushliteral(L, "triton.InferResult(released)");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "triton.InferResult(%s", lr->r->model_name ? lr->r->model_name : "?");
    luaL_addvalue(&b);
    for (size_t i = 0; i < lr->r->n_outputs; i++) {
        lua_pushfstring(L, "%s %s %s", i ? "," : ":", lr->r->outputs[i].name,
                        lr->r->outputs[i].datatype);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

/* Bytes of C memory a result keeps alive (each distinct buffer once). */
static size_t result_bytes(const struct triton_infer_result *r)
{
    size_t total = 0;
    const struct tensor_buffer *last = NULL;
    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct tensor_buffer *b = r->outputs[i].has_data ? r->outputs[i].tensor.buf : NULL;
        if (b && b != last)
            total += b->size;
        last = b ? b : last;
    }
    return total;
}

/* Lua's collector sees only the small userdata of a result, not the reply body
 * it holds: a loop of c:infer calls on 64 MiB tensors would keep every
 * discarded result's body until some unrelated collection, several bodies at
 * once. So replies are counted, and before the next call starts (before its
 * reply is allocated) a full collection runs once they add up to the Lua heap's
 * own size (at least REPLY_GC_MIN): the pacing Lua uses for its own memory. */
#define REPLY_GC_MIN ((size_t)16 << 20)

void lresult_collect_if_due(lua_State *L, struct lstate *st)
{
    if (st->reply_bytes < REPLY_GC_MIN)
        return;
    size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024;
    if (st->reply_bytes < heap || !lua_gc(L, LUA_GCISRUNNING))
        return;
    st->reply_bytes = 0;
    lua_gc(L, LUA_GCCOLLECT);
}

/* Lua's collector paces its cycles by the Lua heap, and sees only the small
 * userdata of a result, not the C memory it holds (the result, its outputs,
 * its reply buffers: some 2 KiB for `simple`). The results left between two
 * cycles therefore hold C memory in proportion to the Lua heap: a c:infer
 * loop, whose heap stays small, is flat anyway, but where the heap grows
 * (triton.perf keeps every latency) the C memory grows with it. So a share
 * of each result's C memory is reported to the collector as if Lua had
 * allocated it. Measured on gRPC `simple` (peak RSS; c:infer loop, then
 * triton.perf at concurrency 4 after 10,000 / 30,000 / 60,000 requests):
 * nothing reported, 25.5 MB flat, perf 34 / 47 / 71 MB; 1/8, 23.0 MB, perf
 * 28 / 33 / 41 MB, for ~0.3k instructions a call; 1/4, 22.5 MB, perf 29 MB
 * at 30,000, for ~0.3k more. A stopped collector stays stopped: LUA_GCSTEP
 * would run it. */
#define RESULT_GC_SHARE 8

static void report_to_collector(lua_State *L, struct lstate *st,
                                const struct triton_infer_result *r, size_t buffers)
{
    size_t bytes = sizeof *r + r->n_outputs * sizeof *r->outputs + buffers;
    st->gc_owed += bytes / RESULT_GC_SHARE;
    if (st->gc_owed < 1024)
        return;
    int kb = st->gc_owed / 1024 > INT_MAX ? INT_MAX : (int)(st->gc_owed / 1024);
    st->gc_owed %= 1024;
    if (lua_gc(L, LUA_GCISRUNNING))
        lua_gc(L, LUA_GCSTEP, kb);
}

/* The server's URL is kept in the userdata as C text, made a Lua string only
 * when r:server() asks: most scripts never do. */
void lresult_push(lua_State *L, struct lstate *st, struct triton_infer_result *r,
                  const char *server)
{
    size_t bytes = result_bytes(r);
    st->reply_bytes = bytes > SIZE_MAX - st->reply_bytes ? SIZE_MAX : st->reply_bytes + bytes;
    report_to_collector(L, st, r, bytes);
    size_t n = server ? strlen(server) + 1 : 0;
    struct lresult *lr = lua_newuserdatauv(L, sizeof(*lr) + n, 0);
    lr->r = NULL;
    lr->has_server = server != NULL;
    if (server)
        memcpy(lr->server, server, n);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->ref_result_mt);
    lua_setmetatable(L, -2);
    lr->r = r;
}

/* r:server() -> the URL of the server that answered (nil for a stream's response) */
static int result_server(lua_State *L)
{
    check_result(L, 1);
    struct lresult *lr = lua_touserdata(L, 1);
    if (lr->has_server)
        lua_pushstring(L, lr->server);
    else
        lua_pushnil(L);
    return 1;
}

void lresult_open(lua_State *L)
{
    static const luaL_Reg methods[] = {{"as_tensor", result_as_tensor},
                                       {"output", result_output},
                                       {"get_output", result_output},
                                       {"outputs", result_outputs},
                                       {"response", result_response},
                                       {"get_response", result_response},
                                       {"classification", result_classification},
                                       {"final", result_final},
                                       {"server", result_server},
                                       {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__gc", result_gc}, {"__tostring", result_tostring}, {NULL, NULL}};
    lclass_new(L, LRESULT_MT, meta, methods);
    /* lresult_push runs outside the class's methods: an integer key is found
     * faster than the class's name. */
    struct lstate *st = lstate_get(L);
    luaL_getmetatable(L, LRESULT_MT);
    st->ref_result_mt = luaL_ref(L, LUA_REGISTRYINDEX);
}
