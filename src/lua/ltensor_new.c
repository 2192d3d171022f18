/*
 * ltensor_new.c: making tensors: triton.tensor (from nested tables, a flat table
 * and a shape, raw bytes, a number or another tensor), zeros, ones, full, arange,
 * rand, is_tensor and triton.dtypes. ltensor.c owns the userdata these fill.
 *
 * Dtype when none is given (torch's defaults): nested tables of integers give
 * INT64, of numbers with any float FP32, of booleans BOOL, of strings BYTES;
 * zeros/ones/rand give FP32; full and arange follow their values the same way.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "lua/largs.h"
#include "lua/ltensor.h"

/* The optional dtype argument at idx (def when none or nil). */
static enum tensor_dtype opt_dtype(lua_State *L, int idx, enum tensor_dtype def)
{
    return largs_opt_dtype(L, idx, idx, NULL, def);
}

/* The shape argument at idx (with -1 entries when unknown is true). */
static int check_shape(lua_State *L, int idx, int64_t *shape, bool unknown)
{
    return largs_check_shape(L, idx, idx, NULL, unknown ? LARGS_SHAPE_UNKNOWN : 0, shape);
}

/* ---- one value ------------------------------------------------------------------ */

void ltensor_fill(lua_State *L, struct tensor *t, int idx)
{
    struct triton_error err = {0};
    union {
        struct tensor_str s;
        double d;
        uint64_t u;
    } one;
    if (ltensor_store_elem(L, idx, t->dtype, t->buf, &one, &err) < 0)
        ltensor_raise(L, &err);
    size_t esize = tensor_dtype_elem_size(t->dtype);
    struct tensor_iter it;
    for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it))
        memcpy(it.ptr, &one, esize);
}

/* ---- from nested tables --------------------------------------------------------- */

struct fill {
    lua_State *L;
    enum tensor_dtype dt;
    struct tensor_buffer *buf;
    char *dst;
    int ndim;
    const int64_t *shape;
    lua_Integer path[TENSOR_MAX_DIMS]; /* 1-based position being filled, for messages */
    int arg;                           /* argument the outer table is, 0 for none: for messages */
};

static const char *path_string(struct fill *f, int depth)
{
    luaL_Buffer b;
    luaL_buffinit(f->L, &b);
    for (int d = 0; d <= depth; d++) {
        lua_pushfstring(f->L, "[%I]", f->path[d]);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return lua_tostring(f->L, -1);
}

static void bad_value(struct fill *f, int depth, lua_Integer i, const char *why)
{
    f->path[depth] = i;
    if (lua_type(f->L, -1) == LUA_TTABLE)
        luaL_error(f->L, "ragged nested table: %s is a table, expected a value (dims %d)",
                   path_string(f, depth), f->ndim);
    luaL_error(f->L, "bad value at %s: %s", path_string(f, depth), why);
}

static void fill_leaves(struct fill *f, int tbl, int depth, int64_t n)
{
    lua_State *L = f->L;
    struct triton_error err = {0};
    switch (f->dt) {
    case TENSOR_FP32: {
        float *out = (float *)f->dst;
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, tbl, i) != LUA_TNUMBER) {
                ltensor_store_elem(L, -1, f->dt, f->buf, out, &err);
                bad_value(f, depth, i, err.message);
            }
            double d = lua_tonumber(L, -1);
            out[i - 1] = fabs(d) <= FLT_MAX ? (float)d : tensor_f64_to_f32(d);
            lua_pop(L, 1);
        }
        break;
    }
    case TENSOR_FP64: {
        double *out = (double *)f->dst;
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, tbl, i) != LUA_TNUMBER) {
                ltensor_store_elem(L, -1, f->dt, f->buf, out, &err);
                bad_value(f, depth, i, err.message);
            }
            out[i - 1] = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
        break;
    }
    case TENSOR_INT64: {
        int64_t *out = (int64_t *)f->dst;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, tbl, i);
            int isint;
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (isint && lua_type(L, -1) == LUA_TNUMBER)
                out[i - 1] = v;
            else if (ltensor_store_elem(L, -1, f->dt, f->buf, &out[i - 1], &err) < 0)
                bad_value(f, depth, i, err.message); /* else a float such as 2^60 under LuaJIT */
            lua_pop(L, 1);
        }
        break;
    }
    default: {
        size_t esize = tensor_dtype_elem_size(f->dt);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, tbl, i);
            if (ltensor_store_elem(L, -1, f->dt, f->buf, f->dst + (i - 1) * esize, &err) < 0)
                bad_value(f, depth, i, err.message);
            lua_pop(L, 1);
        }
        break;
    }
    }
    f->dst += n * (int64_t)tensor_dtype_elem_size(f->dt);
}

/* Raises an error naming the key at -1, which the table at nesting level `depth`
 * (of sequence length len) holds besides its sequence 1..len. */
static void bad_key(struct fill *f, int depth, lua_Unsigned len)
{
    lua_State *L = f->L;
    int key = lua_gettop(L) - 1;
    const char *what;
    if (lua_type(L, key) == LUA_TSTRING)
        what = lua_pushfstring(L, "non-integer key '%s'", lua_tostring(L, key));
    else if (lua_isinteger(L, key))
        what = lua_pushfstring(L, "key %I outside its sequence 1..%I (holes are not allowed)",
                               lua_tointeger(L, key), (lua_Integer)len);
    else
        what = lua_pushfstring(L, "non-integer key (a %s)", luaL_typename(L, key));
    if (depth > 0)
        luaL_error(L, "nested table %s has %s", path_string(f, depth - 1), what);
    if (f->arg > 0)
        luaL_argerror(L, f->arg, lua_pushfstring(L, "table has %s", what));
    luaL_error(L, "table has %s", what);
}

/* Raises if the table at tbl, whose sequence is 1..len, holds any other key: such
 * a key would be silently dropped ({a = 1} would become an empty tensor). Only the
 * keys after len are walked, so a long sequence costs nothing here: next() from
 * key len goes on with the rest of the array part, then the hash part. That covers
 * every key whenever len lies in the array part, which is where a sequence built
 * by a constructor or by appending keeps it. A table whose first key is not 1
 * has its sequence in the hash part ({[1] = 1, [3] = 3}), where the order of
 * next() says nothing about which keys come after len (Lua 5.3 and LuaJIT put
 * key 3 before key 1 there): it is walked whole. */
static void check_keys(struct fill *f, int tbl, int depth, lua_Unsigned len)
{
    lua_State *L = f->L;
    if (len == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)len);
    if (lua_next(L, tbl))
        bad_key(f, depth, len);
    if (len == 0)
        return;
    lua_pushnil(L);
    lua_next(L, tbl); /* there is a first key: len > 0 */
    bool array = lua_type(L, -2) == LUA_TNUMBER && lua_tointeger(L, -2) == 1;
    lua_pop(L, 2);
    if (array)
        return;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        int isint;
        lua_Integer k = lua_tointegerx(L, -2, &isint);
        if (!isint || lua_type(L, -2) != LUA_TNUMBER || k < 1 || (lua_Unsigned)k > len)
            bad_key(f, depth, len);
        lua_pop(L, 1);
    }
}

/* Checks that the table at index tbl, at nesting level `depth`, and every table
 * in it have the lengths of f->shape and hold tables down to the last level.
 * This runs before anything is allocated: the shape comes from the first element
 * at each level, so a ragged table (eight elements at each level of a chain of
 * first elements, numbers everywhere else) would otherwise have us allocate for
 * elements that do not exist. Leaf values are checked as they are stored. */
static void check_level(struct fill *f, int tbl, int depth)
{
    lua_State *L = f->L;
    int64_t n = f->shape[depth];
    lua_Unsigned len = lua_rawlen(L, tbl);
    if (len != (lua_Unsigned)n) {
        const char *where = depth ? path_string(f, depth - 1) : "the outer table";
        luaL_error(L, "ragged nested table: %s has %I elements, expected %I", where,
                   (lua_Integer)len, (lua_Integer)n);
    }
    check_keys(f, tbl, depth, len);
    if (depth == f->ndim - 1)
        return;
    for (lua_Integer i = 1; i <= n; i++) {
        f->path[depth] = i;
        if (lua_rawgeti(L, tbl, i) != LUA_TTABLE) {
            /* In sequence: path_string pushes a string, which would then be the
             * value at -1 whose type is reported. */
            const char *type = luaL_typename(L, -1);
            const char *where = path_string(f, depth);
            luaL_error(L, "ragged nested table: %s is a %s, expected a table of %I elements", where,
                       type, (lua_Integer)f->shape[depth + 1]);
        }
        check_level(f, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
}

/* Fills from the table at index tbl, which is at nesting level `depth`, once
 * check_level has passed (so every level has its length and holds tables). */
static void fill_level(struct fill *f, int tbl, int depth)
{
    lua_State *L = f->L;
    int64_t n = f->shape[depth];
    if (depth == f->ndim - 1) {
        fill_leaves(f, tbl, depth, n);
        return;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        f->path[depth] = i;
        lua_rawgeti(L, tbl, i);
        fill_level(f, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
}

/* Shape of a nested table, following first elements down. */
static int nested_shape(lua_State *L, int tbl, int64_t *shape)
{
    int ndim = 0;
    lua_pushvalue(L, tbl);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (ndim == TENSOR_MAX_DIMS)
            luaL_error(L, "too many dimensions (nested tables deeper than %d)", TENSOR_MAX_DIMS);
        lua_Unsigned n = lua_rawlen(L, -1);
        if (n > INT64_MAX)
            luaL_error(L, "table too long");
        shape[ndim++] = (int64_t)n;
        if (n == 0)
            break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return ndim;
}

/* Whether any leaf (following the shape) is a float, for the default dtype. */
static bool any_float(lua_State *L, int tbl, int depth, int ndim, const int64_t *shape)
{
    bool found = false;
    for (lua_Integer i = 1; i <= shape[depth] && !found; i++) {
        int tt = lua_rawgeti(L, tbl, i);
        if (depth < ndim - 1 && tt == LUA_TTABLE)
            found = any_float(L, lua_gettop(L), depth + 1, ndim, shape);
        else
            found = tt == LUA_TNUMBER && !lua_isinteger(L, -1);
        lua_pop(L, 1);
    }
    return found;
}

/* The dtype torch would pick for a nested table's values. */
static enum tensor_dtype infer_dtype(lua_State *L, int tbl, int ndim, const int64_t *shape)
{
    lua_pushvalue(L, tbl);
    for (int d = 0; d < ndim && lua_type(L, -1) == LUA_TTABLE; d++) {
        if (lua_rawlen(L, -1) == 0)
            break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    int tt = lua_type(L, -1);
    lua_pop(L, 1);
    if (tt == LUA_TBOOLEAN)
        return TENSOR_BOOL;
    if (tt == LUA_TSTRING)
        return TENSOR_BYTES;
    if (tt == LUA_TNUMBER && !any_float(L, tbl, 0, ndim, shape))
        return TENSOR_INT64;
    return TENSOR_FP32;
}

struct tensor *ltensor_from_table(lua_State *L, int tbl, int arg, enum tensor_dtype dt,
                                  const int64_t *given, int given_ndim)
{
    struct triton_error err = {0};
    struct fill f = {.L = L, .arg = arg};
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    bool flat = given && lua_rawgeti(L, tbl, 1) != LUA_TTABLE;
    if (given)
        lua_pop(L, 1);
    if (flat) {
        lua_Unsigned n = lua_rawlen(L, tbl);
        shape[0] = (int64_t)n;
        ndim = 1;
    } else {
        ndim = nested_shape(L, tbl, shape);
    }
    luaL_checkstack(L, ndim + 8, "nested table too deep");
    f.ndim = ndim;
    f.shape = shape;
    if (ndim > 0)
        check_level(&f, tbl, 0);
    if (dt == TENSOR_INVALID)
        dt = infer_dtype(L, tbl, ndim, shape);
    struct tensor *t = ltensor_push(L);
    ltensor_check_rc(L, tensor_init(t, dt, shape, ndim, &err), &err);
    f.dt = dt;
    f.buf = t->buf;
    f.dst = t->buf->data;
    if (ndim > 0)
        fill_level(&f, tbl, 0);
    ltensor_track(L, t);
    if (given) {
        int64_t target[TENSOR_MAX_DIMS];
        memcpy(target, given, sizeof *given * (size_t)given_ndim);
        /* Resolving matches element counts only: an empty table fits {3, 0, 2^62}
         * too, whose strides would overflow, hence the full shape check. */
        if (tensor_resolve_shape(target, given_ndim, tensor_numel(t), &err) < 0 ||
            tensor_check_shape(target, given_ndim, dt, &err) < 0)
            luaL_error(L, "table of %I elements does not fit shape: %s",
                       (lua_Integer)tensor_numel(t), err.message);
        t->ndim = given_ndim;
        memcpy(t->shape, target, sizeof *target * (size_t)given_ndim);
        tensor_contiguous_strides(target, given_ndim, t->strides);
    }
    return t;
}

/* ---- from raw bytes -------------------------------------------------------------- */

/* Elements in a BYTES wire string, for a -1 or missing shape; NULL-safe checks. */
static int64_t count_wire_strings(lua_State *L, const unsigned char *p, size_t size)
{
    int64_t n = 0;
    for (size_t pos = 0; pos < size; n++) {
        if (size - pos < 4)
            luaL_error(L, "BYTES element %I: length prefix truncated", (lua_Integer)n + 1);
        size_t len = (size_t)p[pos] | (size_t)p[pos + 1] << 8 | (size_t)p[pos + 2] << 16 |
                     (size_t)p[pos + 3] << 24;
        pos += 4;
        if (len > size - pos)
            luaL_error(L, "BYTES element %I: length %I exceeds the %I bytes left",
                       (lua_Integer)n + 1, (lua_Integer)len, (lua_Integer)(size - pos));
        pos += len;
    }
    return n;
}

static void from_raw(lua_State *L, int sidx, enum tensor_dtype dt, int64_t *shape, int ndim)
{
    struct triton_error err = {0};
    size_t size;
    const char *data = lua_tolstring(L, sidx, &size);
    bool unknown = false;
    for (int d = 0; d < ndim; d++)
        unknown = unknown || shape[d] == -1;
    if (unknown || ndim < 0) {
        int64_t numel;
        if (dt == TENSOR_BYTES) {
            numel = count_wire_strings(L, (const unsigned char *)data, size);
        } else {
            size_t esize = tensor_dtype_wire_size(dt);
            if (size % esize)
                luaL_error(L, "raw data of %I bytes is not a whole number of %s elements",
                           (lua_Integer)size, tensor_dtype_name(dt));
            numel = (int64_t)(size / esize);
        }
        if (ndim < 0) {
            ndim = 1;
            shape[0] = numel;
        }
        ltensor_check_rc(L, tensor_resolve_shape(shape, ndim, numel, &err), &err);
    }
    struct tensor *t = ltensor_push(L);
    ltensor_check_rc(L, tensor_from_wire(t, dt, shape, ndim, data, size, NULL, &err), &err);
    ltensor_track(L, t);
}

/* ---- creation functions --------------------------------------------------------- */

/* triton.tensor(values [, dtype [, shape]]) */
static int l_tensor(lua_State *L)
{
    int64_t shape[TENSOR_MAX_DIMS];
    struct triton_error err = {0};
    switch (lua_type(L, 1)) {
    case LUA_TTABLE: {
        enum tensor_dtype dt = opt_dtype(L, 2, TENSOR_INVALID);
        if (lua_isnoneornil(L, 3)) {
            ltensor_from_table(L, 1, 1, dt, NULL, 0);
        } else {
            int ndim = check_shape(L, 3, shape, true);
            ltensor_from_table(L, 1, 1, dt, shape, ndim);
        }
        return 1;
    }
    case LUA_TSTRING: {
        enum tensor_dtype dt = largs_check_dtype(L, 2, 2, NULL);
        int ndim = lua_isnoneornil(L, 3) ? -1 : check_shape(L, 3, shape, true);
        from_raw(L, 1, dt, shape, ndim);
        return 1;
    }
    case LUA_TNUMBER:
    case LUA_TBOOLEAN: {
        enum tensor_dtype dt = lua_isboolean(L, 1)   ? TENSOR_BOOL
                               : lua_isinteger(L, 1) ? TENSOR_INT64
                                                     : TENSOR_FP32;
        dt = opt_dtype(L, 2, dt);
        struct tensor *t = ltensor_push(L);
        ltensor_check_rc(L, tensor_init(t, dt, shape, 0, &err), &err);
        ltensor_fill(L, t, 1);
        return 1;
    }
    default: {
        struct tensor *src = ltensor_test(L, 1);
        if (!src)
            return luaL_typeerror(L, 1, "table, string, number or tensor");
        enum tensor_dtype dt = opt_dtype(L, 2, src->dtype);
        struct tensor *t = ltensor_push(L);
        ltensor_check_rc(L, tensor_astype(t, src, dt, &err), &err);
        ltensor_track(L, t);
        return 1;
    }
    }
}

static struct tensor *push_new(lua_State *L, int shape_idx, enum tensor_dtype dt)
{
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = check_shape(L, shape_idx, shape, false);
    struct triton_error err = {0};
    struct tensor *t = ltensor_push(L);
    ltensor_check_rc(L, tensor_init(t, dt, shape, ndim, &err), &err);
    ltensor_track(L, t);
    return t;
}

/* triton.zeros(shape [, dtype]) */
static int l_zeros(lua_State *L)
{
    push_new(L, 1, opt_dtype(L, 2, TENSOR_FP32));
    return 1;
}

/* triton.ones(shape [, dtype]) */
static int l_ones(lua_State *L)
{
    enum tensor_dtype dt = opt_dtype(L, 2, TENSOR_FP32);
    if (dt == TENSOR_BYTES)
        return luaL_argerror(L, 2, "ones: BYTES has no one");
    struct tensor *t = push_new(L, 1, dt);
    lua_pushinteger(L, 1);
    ltensor_fill(L, t, -1);
    lua_pop(L, 1);
    return 1;
}

/* triton.full(shape, value [, dtype]) */
static int l_full(lua_State *L)
{
    luaL_checkany(L, 2);
    enum tensor_dtype def = lua_isboolean(L, 2)             ? TENSOR_BOOL
                            : lua_isinteger(L, 2)           ? TENSOR_INT64
                            : lua_type(L, 2) == LUA_TSTRING ? TENSOR_BYTES
                                                            : TENSOR_FP32;
    struct tensor *t = push_new(L, 1, opt_dtype(L, 3, def));
    ltensor_fill(L, t, 2);
    return 1;
}

/* triton.arange([start,] stop [, step] [, dtype]): numpy's, stop excluded. */
static int l_arange(lua_State *L)
{
    int nnum = 0;
    while (nnum < 3 && lua_type(L, nnum + 1) == LUA_TNUMBER)
        nnum++;
    if (nnum == 0)
        return luaL_argerror(L, 1, "arange needs a stop (number)");
    bool ints = true;
    for (int i = 1; i <= nnum; i++)
        ints = ints && lua_isinteger(L, i);
    enum tensor_dtype dt = opt_dtype(L, nnum + 1, ints ? TENSOR_INT64 : TENSOR_FP32);
    double start = nnum > 1 ? lua_tonumber(L, 1) : 0;
    double stop = lua_tonumber(L, nnum > 1 ? 2 : 1);
    double step = nnum > 2 ? lua_tonumber(L, 3) : 1;
    if (step == 0 || isnan(step) || isnan(start) || isnan(stop))
        return luaL_error(L, "arange: step must be a nonzero number and bounds not NaN");
    double count = ceil((stop - start) / step);
    if (count < 0)
        count = 0;
    if (!(count < 0x1p53))
        return luaL_error(L, "arange: element count overflows");
    int64_t shape[1] = {(int64_t)count};
    struct triton_error err = {0};
    struct tensor *t = ltensor_push(L);
    ltensor_check_rc(L, tensor_init(t, dt, shape, 1, &err), &err);
    ltensor_track(L, t);
    size_t esize = tensor_dtype_elem_size(dt);
    char *p = t->buf->data;
    lua_Integer istart = nnum > 1 ? lua_tointeger(L, 1) : 0;
    lua_Integer istep = nnum > 2 ? lua_tointeger(L, 3) : 1;
    for (int64_t i = 0; i < shape[0]; i++, p += esize) {
        int rc;
        if (ints) /* in unsigned arithmetic: each value lies between start and stop */
            rc = tensor_set_i64_exact(
                dt, p, (int64_t)((uint64_t)istart + (uint64_t)i * (uint64_t)istep), &err);
        else
            rc = tensor_set_f64_exact(dt, p, start + (double)i * step, &err);
        ltensor_check_rc(L, rc, &err);
    }
    return 1;
}

/* xoshiro256**, one generator per Lua state (an upvalue of rand), seeded from the
 * clock; triton.rand(shape, dtype, seed) uses a fresh generator for repeatable runs. */
struct rng {
    uint64_t s[4];
};

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) { /* splitmix64, as xoshiro's authors advise */
        uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        r->s[i] = z ^ (z >> 31);
    }
}

/* triton.rand(shape [, dtype [, seed]]): uniform in [0, 1) for float dtypes. Each
 * value is drawn at the dtype's own precision, so rounding never yields 1. */
static int l_rand(lua_State *L)
{
    enum tensor_dtype dt = opt_dtype(L, 2, TENSOR_FP32);
    if (dt != TENSOR_FP16 && dt != TENSOR_BF16 && dt != TENSOR_FP32 && dt != TENSOR_FP64)
        return luaL_argerror(L, 2, "rand needs a float dtype (FP16, BF16, FP32, FP64)");
    struct rng local, *r = lua_touserdata(L, lua_upvalueindex(1));
    if (!lua_isnoneornil(L, 3)) {
        rng_seed(&local, (uint64_t)luaL_checkinteger(L, 3));
        r = &local;
    }
    struct tensor *t = push_new(L, 1, dt);
    int64_t n = tensor_numel(t);
    void *p = t->buf->data;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = rng_next(r);
        switch (dt) {
        case TENSOR_FP16:
            ((uint16_t *)p)[i] = tensor_f64_to_f16((double)(x >> 53) * 0x1p-11);
            break;
        case TENSOR_BF16:
            ((uint16_t *)p)[i] = tensor_f64_to_bf16((double)(x >> 56) * 0x1p-8);
            break;
        case TENSOR_FP32:
            ((float *)p)[i] = (float)(x >> 40) * 0x1p-24f;
            break;
        default:
            ((double *)p)[i] = (double)(x >> 11) * 0x1p-53;
            break;
        }
    }
    return 1;
}

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, ltensor_is_tensor(L, 1));
    return 1;
}

/* ---- registration --------------------------------------------------------------- */

void ltensor_new_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"tensor", l_tensor}, {"zeros", l_zeros},         {"ones", l_ones}, {"full", l_full},
        {"arange", l_arange}, {"is_tensor", l_is_tensor}, {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
    struct rng *r = lua_newuserdatauv(L, sizeof *r, 0);
    rng_seed(r, (uint64_t)time(NULL) ^ (uint64_t)clock() ^ (uint64_t)(uintptr_t)r);
    lua_pushcclosure(L, l_rand, 1);
    lua_setfield(L, -2, "rand");

    lua_createtable(L, 0, TENSOR_NDTYPES);
    for (int i = 0; i < TENSOR_NDTYPES; i++) {
        lua_pushinteger(L, (lua_Integer)tensor_dtype_wire_size((enum tensor_dtype)i));
        lua_setfield(L, -2, tensor_dtype_name((enum tensor_dtype)i));
    }
    lua_setfield(L, -2, "dtypes");
}
