/*
 * lbuild.c: from Lua values to a struct triton_call. lua/triton/client.lua
 * checks what the user passed and hands the core client an args table (see its
 * header comment); c:infer and c:async_infer (lclient.c) hand over the user's
 * own arguments instead (lbuild_infer_args). This file reads either into the
 * call's own memory (struct lmem), so that the transport never points into a
 * Lua object; an infer request is built by build_infer whichever way it came.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/largs.h"
#include "lua/lbinding.h"
#include "lua/lcjson.h"
#include "lua/ltensor.h"

/* ---- option readers ------------------------------------------------------------------- */

/* Each reads the value at v, field k of an options or args table (k names it
 * in messages); nil gives the default. The lopt_ ones look the field up first. */

/* A string (NULL if nil), copied into m. */
static const char *val_string(lua_State *L, int v, const char *k, struct lmem *m)
{
    int t = lua_type(L, v);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(L, v, &len);
        if (strlen(s) != len)
            largs_error(L, "option '%s' must not contain a zero byte", k);
        return lmem_strdup(L, m, s, len);
    }
    if (t != LUA_TNIL && t != LUA_TNONE)
        largs_error(L, "option '%s' must be a string, got %s", k, luaL_typename(L, v));
    return NULL;
}

static double val_number(lua_State *L, int v, const char *k, double dflt, bool inf_ok)
{
    int t = lua_type(L, v);
    if (t == LUA_TNUMBER) {
        double r = lua_tonumber(L, v);
        if (!(r >= 0) || (isinf(r) && !inf_ok))
            largs_error(L, "option '%s' must be a %snon-negative number, got %s", k,
                        inf_ok ? "" : "finite ", lua_tostring(L, v));
        return r;
    }
    if (t != LUA_TNIL && t != LUA_TNONE)
        largs_error(L, "option '%s' must be a number, got %s", k, luaL_typename(L, v));
    return dflt;
}

static lua_Integer val_integer(lua_State *L, int v, const char *k, lua_Integer dflt)
{
    int t = lua_type(L, v);
    if (t == LUA_TNUMBER) {
        int ok;
        lua_Integer r = lua_tointegerx(L, v, &ok);
        if (!ok)
            largs_error(L, "option '%s' must be an integer", k);
        return r;
    }
    if (t != LUA_TNIL && t != LUA_TNONE)
        largs_error(L, "option '%s' must be an integer, got %s", k, luaL_typename(L, v));
    return dflt;
}

static bool val_bool(lua_State *L, int v, const char *k)
{
    int t = lua_type(L, v);
    if (t != LUA_TNIL && t != LUA_TNONE && t != LUA_TBOOLEAN)
        largs_error(L, "option '%s' must be a boolean, got %s", k, luaL_typename(L, v));
    return lua_toboolean(L, v);
}

/* A table of string -> string, as a kv array (NULL if nil). */
static struct triton_kv *val_kv(lua_State *L, int v, const char *k, struct lmem *m, size_t *n)
{
    *n = 0;
    int t = lua_type(L, v);
    if (t == LUA_TNIL || t == LUA_TNONE)
        return NULL;
    if (t != LUA_TTABLE)
        luaL_error(L, "option '%s' must be a table, got %s", k, luaL_typename(L, v));
    int tab = lua_absindex(L, v);
    size_t count = ltable_count(L, tab);
    if (count > LMAX_HEADERS)
        luaL_error(L, "option '%s' has more than %d entries", k, LMAX_HEADERS);
    struct triton_kv *kv = lmem_array(L, m, count, sizeof(*kv));
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        if (lua_type(L, -2) != LUA_TSTRING ||
            (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
            luaL_error(L, "option '%s' must map strings to strings", k);
        size_t klen, vlen;
        const char *key = lua_tolstring(L, -2, &klen);
        lua_pushvalue(L, -1); /* tolstring on a copy: never convert a key in place */
        const char *val = lua_tolstring(L, -1, &vlen);
        if (strlen(key) != klen || strlen(val) != vlen)
            luaL_error(L, "option '%s' must not contain zero bytes", k);
        kv[*n].key = lmem_strdup(L, m, key, klen);
        kv[*n].value = lmem_strdup(L, m, val, vlen);
        (*n)++;
        lua_pop(L, 2);
    }
    return kv;
}

const char *lopt_string(lua_State *L, int idx, const char *k, struct lmem *m)
{
    lua_getfield(L, idx, k);
    const char *r = val_string(L, -1, k, m);
    lua_pop(L, 1);
    return r;
}

double lopt_number(lua_State *L, int idx, const char *k, double dflt)
{
    lua_getfield(L, idx, k);
    double r = val_number(L, -1, k, dflt, false);
    lua_pop(L, 1);
    return r;
}

/* Seconds: as lopt_number, and math.huge means no limit. */
double lopt_seconds(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    double r = val_number(L, -1, k, 0, true);
    lua_pop(L, 1);
    return r;
}

lua_Integer lopt_integer(lua_State *L, int idx, const char *k, lua_Integer dflt)
{
    lua_getfield(L, idx, k);
    lua_Integer r = val_integer(L, -1, k, dflt);
    lua_pop(L, 1);
    return r;
}

bool lopt_bool(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    bool r = val_bool(L, -1, k);
    lua_pop(L, 1);
    return r;
}

/* Number of entries of the table at index tab (any keys). */
size_t ltable_count(lua_State *L, int tab)
{
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        lua_pop(L, 1);
        count++;
    }
    return count;
}

struct triton_kv *lopt_kv(lua_State *L, int idx, const char *k, struct lmem *m, size_t *n)
{
    lua_getfield(L, idx, k);
    struct triton_kv *kv = val_kv(L, -1, k, m, n);
    lua_pop(L, 1);
    return kv;
}

/* ---- reading a table's fields at once --------------------------------------------------- */

/* The tables read below (an args table and its infer request, client.lua's
 * own; an InferInput or InferRequestedOutput of infer.lua, whose private
 * fields are read as they are) may hold many fields, and any one holds few:
 * looked up one by one, some 30 lookups per infer call find nothing. So each
 * is walked once (raw: a class's methods are not its fields) and the fields
 * found go to stack slots. Pushes n slots, nil where names[i] is absent, and
 * returns the index of the first: names[i] is at that index + i (each caller
 * names its slots with an enum, and its names array is indexed by it). Other
 * keys are left alone. The caller pops the slots (lua_settop(L, base - 1)). */
static int read_fields(lua_State *L, int idx, const char *const names[], int n)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, n + 3, "reading a request");
    int base = lua_gettop(L) + 1;
    for (int i = 0; i < n; i++)
        lua_pushnil(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int slot = -1;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            /* two characters first: the classes' fields all start with '_' */
            for (int i = 0; i < n && slot < 0; i++)
                if (names[i][0] == k[0] && names[i][1] == k[1] && strcmp(names[i], k) == 0)
                    slot = i;
        }
        if (slot >= 0)
            lua_replace(L, base + slot);
        else
            lua_pop(L, 1);
    }
    return base;
}

/* The same for a user's options table, which may inherit options through a
 * metatable's __index (its check, largs_check_options, then checks them all):
 * such a table has each option looked up as Lua's o.name would. */
static int read_options(lua_State *L, int idx, const char *const names[], int n)
{
    if (!lua_getmetatable(L, idx))
        return read_fields(L, idx, names, n);
    lua_pop(L, 1);
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, n, "reading options");
    int base = lua_gettop(L) + 1;
    for (int i = 0; i < n; i++)
        lua_getfield(L, idx, names[i]);
    return base;
}

/* ---- building requests ------------------------------------------------------------------ */

static int lbuild_kind_from_name(const char *name)
{
    /* A thread's calls are mostly of one kind (infer): its last kind is tried
     * first, then the table in order. */
    static _Thread_local int last;
    if (strcmp(triton_call_kind_name((enum triton_call_kind)last), name) == 0)
        return last;
    for (int k = 0; k < TRITON_CALL_NKINDS; k++)
        if (strcmp(triton_call_kind_name((enum triton_call_kind)k), name) == 0)
            return last = k;
    return -1;
}

/* Custom parameters (field `field`, the value at v): a table of string ->
 * boolean/integer/float/string. */
static struct triton_param *build_params(lua_State *L, int v, const char *field, struct lmem *m,
                                         size_t *n)
{
    *n = 0;
    int t = lua_type(L, v);
    if (t == LUA_TNIL)
        return NULL;
    if (t != LUA_TTABLE)
        luaL_error(L, "'%s' must be a table, got %s", field, luaL_typename(L, v));
    int tab = lua_absindex(L, v);
    size_t count = ltable_count(L, tab);
    struct triton_param *p = lmem_array(L, m, count, sizeof(*p));
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "'%s' keys must be strings", field);
        size_t klen;
        const char *key = lua_tolstring(L, -2, &klen);
        struct triton_param *q = &p[*n];
        q->key = lmem_strdup(L, m, key, klen);
        switch (lua_type(L, -1)) {
        case LUA_TBOOLEAN:
            q->type = TRITON_PARAM_BOOL;
            q->v.b = lua_toboolean(L, -1);
            break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) {
                q->type = TRITON_PARAM_INT64;
                q->v.i = lua_tointeger(L, -1);
            } else {
                q->type = TRITON_PARAM_DOUBLE;
                q->v.d = lua_tonumber(L, -1);
            }
            break;
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            q->type = TRITON_PARAM_STRING;
            q->v.s.ptr = lmem_strdup(L, m, s, len);
            q->v.s.len = len;
            break;
        }
        default:
            luaL_error(L, "parameter '%s' must be a boolean, number or string, got %s", key,
                       luaL_typename(L, -1));
        }
        (*n)++;
        lua_pop(L, 1);
    }
    return p;
}

static uint64_t val_u64(lua_State *L, int v, const char *k)
{
    lua_Integer r = val_integer(L, v, k, 0);
    if (r < 0)
        luaL_error(L, "'%s' must not be negative", k);
    return (uint64_t)r;
}

/* A view of input `name`'s tensor t that m holds (a reference to its buffer)
 * until the request is freed: the call never points into a Lua object. */
static const struct tensor *hold_input(lua_State *L, const struct tensor *t, const char *name,
                                       struct lmem *m)
{
    if (!t->buf)
        luaL_error(L, "input '%s': the tensor is empty or released", name);
    struct lhold *h = lmem_take(L, m, sizeof(*h)); /* a view copies the whole struct */
    tensor_init_view(&h->t, t);
    h->next = m->tensors;
    m->tensors = h;
    return &h->t;
}

/* An InferInput's fields (lua/triton/infer.lua): its methods set them and
 * check what they set; what depends on more than one of them, and on the call,
 * is checked here, as the request is built. */
enum { IN_NAME, IN_DATATYPE, IN_SHAPE, IN_JSON, IN_SHM, IN_PARAMS, IN_DATA, IN_NFIELDS };
static const char *const input_fields[IN_NFIELDS] = {
    [IN_NAME] = "_name", [IN_DATATYPE] = "_datatype", [IN_SHAPE] = "_shape", [IN_JSON] = "_json",
    [IN_SHM] = "_shm",   [IN_PARAMS] = "_params",     [IN_DATA] = "_data",
};

/* A shared-memory placement, {region, byte_size, offset} as set_shared_memory
 * keeps it (lua/triton/infer.lua), at idx. */
static const char *shm_placement(lua_State *L, int idx, uint64_t *byte_size, uint64_t *offset,
                                 struct lmem *m)
{
    lua_rawgeti(L, idx, 1);
    lua_rawgeti(L, idx, 2);
    lua_rawgeti(L, idx, 3);
    const char *region = val_string(L, -3, "shm_region", m);
    if (!region)
        luaL_error(L, "a shared-memory placement needs a region");
    *byte_size = val_u64(L, -2, "shm_byte_size");
    *offset = val_u64(L, -1, "shm_offset");
    lua_pop(L, 3);
    return region;
}

/* "input 'x' has shape {1,-1}: ..." for a shape with an unknown (-1) dimension. */
static void unknown_dims_error(lua_State *L, const struct triton_infer_input *in)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int d = 0; d < in->ndim; d++) {
        lua_pushfstring(L, d ? ",%I" : "%I", (lua_Integer)in->shape[d]);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    largs_error(L, "input '%s' has shape {%s}: set_shape a concrete shape first", in->name,
                lua_tostring(L, -1));
}

/* The InferInput at idx (the caller checked its class) into `in`; upvalues: as
 * for map_entry. */
static void build_input(lua_State *L, int idx, bool upvalues, struct triton_infer_input *in,
                        struct lmem *m)
{
    int f = read_fields(L, idx, input_fields, IN_NFIELDS);
    in->name = val_string(L, f + IN_NAME, "name", m);
    in->datatype = val_string(L, f + IN_DATATYPE, "datatype", m);
    if (!in->name || !in->datatype)
        luaL_error(L, "an input needs a name and a datatype");
    int64_t shape[TENSOR_MAX_DIMS];
    in->ndim = largs_check_shape(L, f + IN_SHAPE, 0, NULL, LARGS_SHAPE_UNKNOWN, shape);
    int64_t *sh = lmem_array(L, m, (size_t)in->ndim, sizeof(int64_t));
    if (in->ndim)
        memcpy(sh, shape, sizeof(int64_t) * (size_t)in->ndim);
    in->shape = sh;
    in->json = lua_toboolean(L, f + IN_JSON);
    if (lua_type(L, f + IN_SHM) == LUA_TTABLE) {
        in->shm_region = shm_placement(L, f + IN_SHM, &in->shm_byte_size, &in->shm_offset, m);
    } else if (!lua_isnil(L, f + IN_DATA)) {
        const struct tensor *t = upvalues
                                     ? ltensor_test_mt(L, f + IN_DATA, LUV_TENSOR, LUV_TENSOR_LENT)
                                     : ltensor_test(L, f + IN_DATA);
        if (!t)
            luaL_error(L, "input '%s': data must be a tensor", in->name);
        else
            in->data = hold_input(L, t, in->name, m);
    } else {
        largs_error(L, "input '%s' has no data: call set_data or set_shared_memory", in->name);
    }
    for (int d = 0; d < in->ndim; d++)
        if (sh[d] < 0)
            unknown_dims_error(L, in);
    in->params = build_params(L, f + IN_PARAMS, "parameters", m, &in->n_params);
    lua_settop(L, f - 1);
}

/* Entries 1, 2, ... of the list at idx up to the first nil, as ipairs goes. */
static size_t list_length(lua_State *L, int idx)
{
    size_t n = 0;
    while (lua_rawgeti(L, idx, (lua_Integer)n + 1) != LUA_TNIL) {
        lua_pop(L, 1);
        n++;
    }
    lua_pop(L, 1);
    return n;
}

/* The n InferInput of the list at idx (checked and counted: check_input_list). */
static void build_input_list(lua_State *L, int idx, size_t n, bool upvalues,
                             struct triton_infer_request *req, struct lmem *m)
{
    struct triton_infer_input *inputs = lmem_array(L, m, n, sizeof(*inputs));
    for (size_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TTABLE)
            luaL_error(L, "inputs[%d] is not an InferInput", (int)i + 1);
        build_input(L, lua_gettop(L), upvalues, &inputs[i], m);
        lua_pop(L, 1);
    }
    req->inputs = inputs;
    req->n_inputs = n;
}

static int compare_input_names(const void *a, const void *b)
{
    return strcmp(((const struct triton_infer_input *)a)->name,
                  ((const struct triton_infer_input *)b)->name);
}

/* Inputs read on the C stack before the map's size is known. */
#define FEW_INPUTS 8

/* Sorts inputs by name: by insertion when they are few (qsort's set-up costs
 * more than the comparisons of a common call's two or three), else qsort. */
static void sort_inputs(struct triton_infer_input *in, size_t n)
{
    if (n > FEW_INPUTS) {
        qsort(in, n, sizeof(*in), compare_input_names);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct triton_infer_input x = in[i];
        size_t j = i;
        for (; j > 0 && compare_input_names(&in[j - 1], &x) > 0; j--)
            in[j] = in[j - 1];
        in[j] = x;
    }
}

/* The tensor of the entry of an input map at the top of the stack (its name at
 * -2), or the argument error (the inputs' argument of who) that says why it is
 * not one. upvalues: true in a method of a class lclass_new made (reads
 * LUV_TENSOR and LUV_TENSOR_LENT), false to look them up by name. */
static struct tensor *map_entry(lua_State *L, bool upvalues, const struct lwho *who)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        largs_argerror(L, who->arg + 1, who->fname, "mixed list and map of inputs");
    struct tensor *t =
        upvalues ? ltensor_test_mt(L, -1, LUV_TENSOR, LUV_TENSOR_LENT) : ltensor_test(L, -1);
    if (!t)
        largs_argerror(L, who->arg + 1, who->fname,
                       "input '%s' must be a tensor (triton.tensor(data, dtype))",
                       lua_tostring(L, -2));
    return t;
}

/* The entry at the top of the stack (key at -2) as an input into `in`. */
static void map_input(lua_State *L, bool upvalues, const struct lwho *who,
                      struct triton_infer_input *in, struct lmem *m)
{
    struct tensor *t = map_entry(L, upvalues, who);
    size_t len;
    const char *name = lua_tolstring(L, -2, &len);
    in->name = lmem_strdup(L, m, name, len);
    in->datatype = tensor_dtype_name(t->dtype);
    in->data = hold_input(L, t, name, m);
    in->shape = in->data->shape;
    in->ndim = in->data->ndim;
}

/* Inputs given as a map name -> tensor, each entry checked as it is read
 * (map_entry, with who's messages): read straight from the tensors,
 * without a table per input, and sent in name order so that the wire is the
 * same from run to run. A map of up to FEW_INPUTS is read in one pass; a
 * bigger one is counted first. upvalues: as for map_entry. */
static void build_input_map(lua_State *L, int idx, bool upvalues, const struct lwho *who,
                            struct triton_infer_request *req, struct lmem *m)
{
    struct triton_infer_input few[FEW_INPUTS];
    size_t n = 0;
    lua_pushnil(L);
    while (n < FEW_INPUTS && lua_next(L, idx)) {
        memset(&few[n], 0, sizeof few[n]);
        map_input(L, upvalues, who, &few[n++], m);
        lua_pop(L, 1);
    }
    struct triton_infer_input *inputs;
    if (n < FEW_INPUTS || !lua_next(L, idx)) {
        inputs = n ? lmem_take(L, m, n * sizeof(*inputs)) : NULL; /* n <= FEW_INPUTS */
        if (n)
            memcpy(inputs, few, n * sizeof(*inputs));
    } else {
        lua_pop(L, 2);
        size_t total = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            total++;
        }
        inputs = lmem_array(L, m, total, sizeof(*inputs));
        memcpy(inputs, few, n * sizeof(*inputs));
        lua_pushnil(L);
        for (size_t skip = 0; skip < n; skip++) { /* the few read already */
            if (!lua_next(L, idx))
                luaL_error(L, "the inputs table changed while it was read");
            lua_pop(L, 1);
        }
        while (lua_next(L, idx)) {
            if (n == total)
                luaL_error(L, "the inputs table changed while it was read");
            map_input(L, upvalues, who, &inputs[n++], m);
            lua_pop(L, 1);
        }
    }
    sort_inputs(inputs, n);
    req->inputs = inputs;
    req->n_inputs = n;
}

/* An InferRequestedOutput's fields (lua/triton/infer.lua), as for inputs. */
enum { OUT_NAME, OUT_BINARY, OUT_CLASS_COUNT, OUT_SHM, OUT_PARAMS, OUT_NFIELDS };
static const char *const output_fields[OUT_NFIELDS] = {
    [OUT_NAME] = "_name", [OUT_BINARY] = "_binary", [OUT_CLASS_COUNT] = "_class_count",
    [OUT_SHM] = "_shm",   [OUT_PARAMS] = "_params",
};

/* The entry at idx of an outputs list (checked: lua/triton/infer.lua): a name,
 * which asks for the output in binary, or an InferRequestedOutput. */
static void build_output(lua_State *L, int idx, struct triton_infer_requested_output *out,
                         struct lmem *m)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        out->name = val_string(L, idx, "name", m);
        out->binary = 1;
        return;
    }
    luaL_checktype(L, idx, LUA_TTABLE);
    int f = read_fields(L, idx, output_fields, OUT_NFIELDS);
    out->name = val_string(L, f + OUT_NAME, "name", m);
    if (!out->name)
        luaL_error(L, "a requested output needs a name");
    out->binary = lua_isnil(L, f + OUT_BINARY) ? -1 : lua_toboolean(L, f + OUT_BINARY) ? 1 : 0;
    out->class_count = val_integer(L, f + OUT_CLASS_COUNT, "class_count", 0);
    if (out->class_count < 0)
        luaL_error(L, "output '%s': class_count must not be negative", out->name);
    if (lua_type(L, f + OUT_SHM) == LUA_TTABLE)
        out->shm_region = shm_placement(L, f + OUT_SHM, &out->shm_byte_size, &out->shm_offset, m);
    out->params = build_params(L, f + OUT_PARAMS, "parameters", m, &out->n_params);
    lua_settop(L, f - 1);
}

/* Whether the inputs at idx are a map name -> tensor (a table without a list
 * part and not empty), rather than a list of InferInput or empty; raises the
 * argument error of who's inputs for what is not a table. */
static bool is_input_map(lua_State *L, int idx, const struct lwho *who)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        largs_argerror(
            L, who->arg + 1, who->fname,
            "list of InferInput or map of name -> tensor expected, got %s",
            lua_typename(L, lua_type(L, idx) == LUA_TNONE ? LUA_TNIL : lua_type(L, idx)));
    if (luaL_len(L, idx) > 0)
        return false;
    lua_pushnil(L);
    if (!lua_next(L, idx))
        return false;
    lua_pop(L, 2);
    return true;
}

/* Whether the value at idx has the metatable registered as `mt` (no stack change). */
static bool has_class(lua_State *L, int idx, const char *mt)
{
    if (!lua_getmetatable(L, idx))
        return false;
    luaL_getmetatable(L, mt);
    bool same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

/* Checks that the list at idx holds InferInput (lua/triton/infer.lua's class),
 * entries 1, 2, ... up to the first nil as ipairs goes, and nothing else: a
 * key beside them ({InferInput, INPUT1 = t}) would not be sent. The walk goes
 * on from the last entry, so a plain list costs one step. Returns how many. */
static size_t check_input_list(lua_State *L, int idx, const struct lwho *who)
{
    lua_Integer n = 0;
    while (lua_rawgeti(L, idx, n + 1) != LUA_TNIL) {
        if (!has_class(L, -1, LINPUT_MT))
            largs_argerror(L, who->arg + 1, who->fname, "inputs[%I] is not an InferInput", n + 1);
        lua_pop(L, 1);
        n++;
    }
    lua_pop(L, 1);
    if (n == 0)
        return 0;
    lua_pushinteger(L, n);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (k < 1 || k > n)
            largs_argerror(L, who->arg + 1, who->fname, "mixed list and map of inputs");
    }
    return (size_t)n;
}

/* The outputs option at idx: a list of names or InferRequestedOutput. */
static void build_outputs(lua_State *L, int idx, const struct lwho *who,
                          struct triton_infer_request *req, struct lmem *m)
{
    if (lua_isnil(L, idx))
        return;
    if (lua_type(L, idx) != LUA_TTABLE)
        largs_argerror(L, who->arg + 2, who->fname,
                       "option 'outputs' must be a list of InferRequestedOutput or names");
    size_t n = list_length(L, idx);
    struct triton_infer_requested_output *outputs = lmem_array(L, m, n, sizeof(*outputs));
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TSTRING && !has_class(L, -1, LOUTPUT_MT))
            largs_argerror(L, who->arg + 2, who->fname,
                           "outputs[%d] is not an InferRequestedOutput or a name", (int)i + 1);
        build_output(L, lua_gettop(L), &outputs[i], m);
        lua_pop(L, 1);
    }
    req->outputs = outputs;
    req->n_outputs = n;
}

/* The options of an infer request (lua/triton/infer.lua: request_options),
 * then those of c:infer's and c:async_infer's own call that lbuild_infer_args
 * reads (query_params never: client.lua has its rule). One layout for both:
 * read_fields gives a table's option i at the slot base + i. */
enum {
    OPT_OUTPUTS,
    OPT_MODEL_VERSION,
    OPT_REQUEST_ID,
    OPT_SEQUENCE_ID,
    OPT_SEQUENCE_START,
    OPT_SEQUENCE_END,
    OPT_PRIORITY,
    OPT_TIMEOUT,
    OPT_PARAMETERS,
    OPT_NREQUEST,
    OPT_CLIENT_TIMEOUT = OPT_NREQUEST,
    OPT_HEADERS,
    OPT_NFIELDS
};
static const char *const option_fields[OPT_NFIELDS] = {
    [OPT_OUTPUTS] = "outputs",
    [OPT_MODEL_VERSION] = "model_version",
    [OPT_REQUEST_ID] = "request_id",
    [OPT_SEQUENCE_ID] = "sequence_id",
    [OPT_SEQUENCE_START] = "sequence_start",
    [OPT_SEQUENCE_END] = "sequence_end",
    [OPT_PRIORITY] = "priority",
    [OPT_TIMEOUT] = "timeout",
    [OPT_PARAMETERS] = "parameters",
    [OPT_CLIENT_TIMEOUT] = "client_timeout",
    [OPT_HEADERS] = "headers",
};

bool lbuild_reads_option(const char *name)
{
    for (int i = 0; i < OPT_NFIELDS; i++)
        if (strcmp(option_fields[i], name) == 0)
            return true;
    return false;
}

/* The request options in the slots from opt (checked against their spec
 * before: what is read here is what only the call can tell). */
static void read_request_options(lua_State *L, int opt, const struct lwho *who,
                                 struct triton_infer_request *req, struct lmem *m)
{
    build_outputs(L, opt + OPT_OUTPUTS, who, req, m);
    req->version = val_string(L, opt + OPT_MODEL_VERSION, "model_version", m);
    req->id = val_string(L, opt + OPT_REQUEST_ID, "request_id", m);
    int t = lua_type(L, opt + OPT_SEQUENCE_ID);
    if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, opt + OPT_SEQUENCE_ID, &len);
        req->sequence_id_str = lmem_strdup(L, m, s, len);
    } else if (t != LUA_TNIL) {
        int ok;
        lua_Integer v = lua_tointegerx(L, opt + OPT_SEQUENCE_ID, &ok);
        if (!ok || v < 0)
            luaL_error(L, "sequence_id must be a non-negative integer or a string");
        req->sequence_id = (uint64_t)v;
    }
    req->sequence_start = val_bool(L, opt + OPT_SEQUENCE_START, "sequence_start");
    req->sequence_end = val_bool(L, opt + OPT_SEQUENCE_END, "sequence_end");
    req->priority = val_u64(L, opt + OPT_PRIORITY, "priority");
    req->timeout_us = val_u64(L, opt + OPT_TIMEOUT, "timeout");
    req->params = build_params(L, opt + OPT_PARAMETERS, "parameters", m, &req->n_params);
}

/* The one builder of an infer request, every infer call's: the model name at
 * model (a string), the inputs at inputs, a map name -> tensor or a list of
 * InferInput, checked here with the messages of who (the user's function and
 * arguments) as they are read, and the request options in the slots from opt
 * (0: none). upvalues: as for map_entry. */
static void build_infer(lua_State *L, int model, int inputs, int opt, bool upvalues,
                        const struct lwho *who, struct triton_infer_request *req, struct lmem *m)
{
    size_t len;
    const char *name = lua_tolstring(L, model, &len);
    if (strlen(name) != len)
        largs_argerror(L, who->arg, who->fname, "model name must not contain a zero byte");
    req->model = lmem_strdup(L, m, name, len);
    req->binary_data_output = true;
    if (is_input_map(L, inputs, who)) {
        build_input_map(L, inputs, upvalues, who, req, m);
    } else {
        size_t n = check_input_list(L, inputs, who);
        build_input_list(L, inputs, n, upvalues, req, m);
    }
    if (opt)
        read_request_options(L, opt, who, req, m);
}

/* The lwho of the function name at idx and the argument number at idx + 1
 * (nil: 1). */
static struct lwho who_at(lua_State *L, int idx)
{
    lua_Integer arg = lua_tointeger(L, idx + 1);
    return (struct lwho){lua_tostring(L, idx), arg >= 1 && arg <= INT_MAX - 2 ? (int)arg : 1};
}

struct lwho lbuild_who(lua_State *L, int idx)
{
    return who_at(L, idx + 3);
}

enum { INF_MODEL, INF_INPUTS, INF_OPTIONS, INF_FNAME, INF_ARG, INF_NFIELDS };
static const char *const infer_fields[INF_NFIELDS] = {
    [INF_MODEL] = "model", [INF_INPUTS] = "inputs", [INF_OPTIONS] = "options",
    [INF_FNAME] = "fname", [INF_ARG] = "arg",
};

/* The infer request described by the table at idx (lua/triton/infer.lua's
 * M.request: model, inputs, options checked against their spec, and whose
 * arguments they are: the user's function name and the model's argument
 * number), built into m. */
void lbuild_infer(lua_State *L, int idx, struct triton_infer_request *req, struct lmem *m)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    int f = read_fields(L, idx, infer_fields, INF_NFIELDS);
    memset(req, 0, sizeof(*req));
    if (lua_type(L, f + INF_MODEL) != LUA_TSTRING)
        luaL_error(L, "an infer request needs a model name");
    int opt = 0;
    if (lua_type(L, f + INF_OPTIONS) == LUA_TTABLE)
        opt = read_options(L, f + INF_OPTIONS, option_fields, OPT_NREQUEST);
    struct lwho who = who_at(L, f + INF_FNAME);
    build_infer(L, f + INF_MODEL, f + INF_INPUTS, opt, false, &who, req, m);
    lua_settop(L, f - 1);
}

enum {
    CALL_MODEL,
    CALL_VERSION,
    CALL_REGION,
    CALL_KEY,
    CALL_RAW_HANDLE,
    CALL_DEVICE_ID,
    CALL_BYTE_SIZE,
    CALL_OFFSET,
    CALL_FLAG,
    CALL_CONFIG,
    CALL_FILES,
    CALL_SETTINGS,
    CALL_INFER,
    CALL_HEADERS,
    CALL_QUERY_PARAMS,
    CALL_TIMEOUT,
    CALL_NFIELDS
};
static const char *const call_fields[CALL_NFIELDS] = {
    [CALL_MODEL] = "model",
    [CALL_VERSION] = "version",
    [CALL_REGION] = "region",
    [CALL_KEY] = "key",
    [CALL_RAW_HANDLE] = "raw_handle",
    [CALL_DEVICE_ID] = "device_id",
    [CALL_BYTE_SIZE] = "byte_size",
    [CALL_OFFSET] = "offset",
    [CALL_FLAG] = "flag",
    [CALL_CONFIG] = "config",
    [CALL_FILES] = "files",
    [CALL_SETTINGS] = "settings",
    [CALL_INFER] = "infer",
    [CALL_HEADERS] = "headers",
    [CALL_QUERY_PARAMS] = "query_params",
    [CALL_TIMEOUT] = "timeout",
};

/* Fills call from the args table at idx (see the header comment of client.lua). */
void lbuild_call(lua_State *L, int idx, struct lcall *lcall)
{
    struct triton_call *call = &lcall->call;
    struct lmem *m = &lcall->req.mem;
    int f = read_fields(L, idx, call_fields, CALL_NFIELDS);
    call->model = val_string(L, f + CALL_MODEL, "model", m);
    call->version = val_string(L, f + CALL_VERSION, "version", m);
    call->region = val_string(L, f + CALL_REGION, "region", m);
    call->key = val_string(L, f + CALL_KEY, "key", m);
    if (lua_type(L, f + CALL_RAW_HANDLE) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, f + CALL_RAW_HANDLE, &len);
        call->raw_handle = lmem_strdup(L, m, s, len);
        call->raw_handle_len = len;
    }
    call->device_id = val_integer(L, f + CALL_DEVICE_ID, "device_id", 0);
    call->byte_size = val_u64(L, f + CALL_BYTE_SIZE, "byte_size");
    call->offset = val_u64(L, f + CALL_OFFSET, "offset");
    call->flag = val_bool(L, f + CALL_FLAG, "flag");
    call->config_json = val_string(L, f + CALL_CONFIG, "config", m);
    if (lua_type(L, f + CALL_FILES) == LUA_TTABLE) {
        int tab = f + CALL_FILES;
        size_t count = ltable_count(L, tab);
        struct triton_bytes *files = lmem_array(L, m, count, sizeof(*files));
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, tab)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "'files' must map \"file:<version>/<name>\" to strings");
            size_t klen, vlen;
            const char *k = lua_tolstring(L, -2, &klen);
            const char *v = lua_tolstring(L, -1, &vlen);
            files[n].key = lmem_strdup(L, m, k, klen);
            files[n].data = lmem_strdup(L, m, v, vlen);
            files[n].len = vlen;
            n++;
            lua_pop(L, 1);
        }
        call->files = files;
        call->n_files = n;
    }
    if (!lua_isnil(L, f + CALL_SETTINGS)) {
        cJSON_Delete(m->json);
        m->json = lcjson_check(L, f + CALL_SETTINGS, 2);
        call->settings = m->json;
    }
    if (lua_type(L, f + CALL_INFER) == LUA_TTABLE) {
        struct triton_infer_request *req = lmem_alloc(L, m, sizeof(*req));
        lbuild_infer(L, f + CALL_INFER, req, m);
        call->infer = req;
    }
    call->headers = val_kv(L, f + CALL_HEADERS, "headers", m, &call->n_headers);
    call->query = val_kv(L, f + CALL_QUERY_PARAMS, "query_params", m, &call->n_query);
    call->timeout = val_number(L, f + CALL_TIMEOUT, "timeout", 0, true);
    lua_settop(L, f - 1);
}

/* c:infer(model, inputs [, opts]) and c:async_infer's, read without the args
 * tables lbuild_call reads: the model name at idx (a string), the inputs at
 * idx + 1, the options at idx + 2 (nil, or a table checked against
 * infer.infer_options, without query_params), the user's function name at
 * idx + 3 and the model's argument number at idx + 4 (lbuild_who). For the
 * client's methods (reads LUV_TENSOR). */
void lbuild_infer_args(lua_State *L, int idx, struct lcall *lcall)
{
    struct triton_call *call = &lcall->call;
    struct lmem *m = &lcall->req.mem;
    struct triton_infer_request *req = lmem_alloc(L, m, sizeof(*req));
    int opt = 0;
    if (lua_type(L, idx + 2) == LUA_TTABLE)
        opt = read_options(L, idx + 2, option_fields, OPT_NFIELDS);
    struct lwho who = lbuild_who(L, idx);
    build_infer(L, idx, idx + 1, opt, true, &who, req, m);
    if (opt) {
        call->timeout = val_number(L, opt + OPT_CLIENT_TIMEOUT, "client_timeout", 0, true);
        call->headers = val_kv(L, opt + OPT_HEADERS, "headers", m, &call->n_headers);
        lua_settop(L, opt - 1);
    }
    call->infer = req;
}

/* The call kind named by the string at idx, or an argument error. */
enum triton_call_kind lbuild_check_kind(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    int kind = lbuild_kind_from_name(name);
    if (kind < 0)
        luaL_argerror(L, idx, lua_pushfstring(L, "unknown call '%s'", name));
    return (enum triton_call_kind)kind;
}
