/*
 * ltensor.c: the "triton.Tensor" userdata: creation (from nested tables, flat
 * tables + shape, raw bytes), metadata, 1-based indexing, views, copies and
 * conversion back to tables and bytes. Printing lives in ltensor_print.c, the
 * math in ltensor_ops.c, which adds its methods through ltensor_add_methods.
 *
 * Lua values <-> elements:
 *   - BOOL is Lua booleans (0 and 1 are accepted on the way in).
 *   - Integer dtypes read back as Lua integers; INT64 is exact both ways. UINT64
 *     values >= 2^63 read back as floats (the nearest double), so that they
 *     compare as the numbers they are instead of wrapping to negative integers;
 *     on the way in, a float in [2^63, 2^64) with no fraction is accepted.
 *   - Integer dtypes take only integral numbers in range: 1.5 or 300 into UINT8
 *     is an error, never a silent truncation. Float dtypes take any number,
 *     rounded to nearest even (FP16/BF16 from the double directly).
 *   - BYTES takes Lua strings only, binary-safe.
 * Dtype when none is given (torch's defaults): nested tables of integers give
 * INT64, of numbers with any float FP32, of booleans BOOL, of strings BYTES;
 * zeros/ones/rand give FP32; full and arange follow their values the same way.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lua/largs.h"
#include "lua/lcore.h"
#include "lua/ltensor.h"

/* ---- the userdata --------------------------------------------------------------- */

struct tensor *ltensor_test(lua_State *L, int idx)
{
    struct tensor *t = luaL_testudata(L, idx, LTENSOR_MT);
    if (t && !t->buf)
        luaL_error(L, "attempt to use a closed tensor");
    return t;
}

struct tensor *ltensor_check(lua_State *L, int idx)
{
    struct tensor *t = luaL_checkudata(L, idx, LTENSOR_MT);
    if (!t->buf) /* as liolib does for closed files */
        luaL_error(L, "attempt to use a closed tensor");
    return t;
}

struct tensor *ltensor_push(lua_State *L)
{
    struct tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, LTENSOR_MT);
    return t;
}

int ltensor_raise(lua_State *L, const struct triton_error *err)
{
    return luaL_error(L, "%s", err->message);
}

void ltensor_add_methods(lua_State *L, const luaL_Reg *methods)
{
    luaL_getmetatable(L, LTENSOR_MT);
    lua_getfield(L, -1, "__methods");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}

void ltensor_track(lua_State *L, const struct tensor *t)
{
    size_t kb = t->buf ? t->buf->size / 1024 : 0;
    if (kb >= 1024) /* small buffers are covered by the userdata's own weight */
        lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
}

/* Raises unless rc is 0; for calls into the core. */
static void check_rc(lua_State *L, int rc, const struct triton_error *err)
{
    if (rc < 0)
        ltensor_raise(L, err);
}

/* t:close(), __close and __gc: frees the buffer; a second call does nothing. */
static int t_release(lua_State *L)
{
    struct tensor *t = luaL_checkudata(L, 1, LTENSOR_MT);
    tensor_release(t);
    return 0;
}

/* ---- arguments ------------------------------------------------------------------ */

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

int ltensor_check_dim(lua_State *L, int idx, int ndim, int extra)
{
    lua_Integer d = luaL_checkinteger(L, idx);
    int n = ndim + extra;
    if (d < 0)
        d += n + 1;
    if (d < 1 || d > n)
        luaL_argerror(L, idx,
                      lua_pushfstring(L, "dim %I out of range for a %d-d tensor",
                                      luaL_checkinteger(L, idx), ndim));
    return (int)d - 1;
}

/* A 1-based index (negative counts from the end) along a dim of size n, 0-based. */
static int64_t check_index(lua_State *L, int idx, int64_t n, int dim)
{
    int isint;
    lua_Integer i = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_error(L, "tensor index must be an integer, got %s", luaL_typename(L, idx));
    lua_Integer orig = i;
    if (i < 0)
        i += n + 1;
    if (i < 1 || i > n)
        luaL_error(L, "index %I out of range for dim %d of size %I", orig, dim + 1, (lua_Integer)n);
    return i - 1;
}

/* ---- element values ------------------------------------------------------------- */

void ltensor_push_elem(lua_State *L, enum tensor_dtype dt, const void *p)
{
    switch (dt) {
    case TENSOR_BOOL:
        lua_pushboolean(L, *(const uint8_t *)p != 0);
        break;
    case TENSOR_UINT64: {
        uint64_t u = *(const uint64_t *)p;
        if (u <= INT64_MAX)
            lua_pushinteger(L, (lua_Integer)u);
        else
            lua_pushnumber(L, (lua_Number)u);
        break;
    }
    case TENSOR_FP16:
    case TENSOR_BF16:
    case TENSOR_FP32:
    case TENSOR_FP64:
        lua_pushnumber(L, tensor_get_f64(dt, p));
        break;
    case TENSOR_BYTES: {
        const struct tensor_str *s = p;
        lua_pushlstring(L, s->len ? s->ptr : "", s->len);
        break;
    }
    default:
        lua_pushinteger(L, tensor_get_i64(dt, p));
        break;
    }
}

int ltensor_store_elem(lua_State *L, int idx, enum tensor_dtype dt, struct tensor_buffer *buf,
                       void *p, struct triton_error *err)
{
    int tt = lua_type(L, idx);
    if (dt == TENSOR_BYTES) {
        if (tt != LUA_TSTRING)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "expected a string for BYTES, got %s",
                               lua_typename(L, tt));
        struct tensor_str s;
        s.ptr = lua_tolstring(L, idx, &s.len);
        if (!(s.ptr = tensor_buffer_intern(buf, s.ptr, s.len, err)))
            return -1;
        *(struct tensor_str *)p = s;
        return 0;
    }
    if (tt == LUA_TBOOLEAN && dt == TENSOR_BOOL) {
        *(uint8_t *)p = (uint8_t)lua_toboolean(L, idx);
        return 0;
    }
    if (tt != LUA_TNUMBER)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "expected a %s for %s, got %s",
                           dt == TENSOR_BOOL ? "boolean" : "number", tensor_dtype_name(dt),
                           lua_typename(L, tt));
    if (lua_isinteger(L, idx))
        return tensor_set_i64_exact(dt, p, lua_tointeger(L, idx), err);
    return tensor_set_f64_exact(dt, p, lua_tonumber(L, idx), err);
}

/* Sets every element of t to the Lua value at idx. */
static void fill_value(lua_State *L, struct tensor *t, int idx)
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
            if (!isint || lua_type(L, -1) != LUA_TNUMBER) {
                ltensor_store_elem(L, -1, f->dt, f->buf, &out[i - 1], &err);
                bad_value(f, depth, i, err.message);
            }
            out[i - 1] = v;
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
 * by a constructor or by appending keeps it. */
static void check_keys(struct fill *f, int tbl, int depth, lua_Unsigned len)
{
    lua_State *L = f->L;
    if (len == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, (lua_Integer)len);
    if (lua_next(L, tbl))
        bad_key(f, depth, len);
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

/* Pushes a tensor filled from the table at tbl: nested when shape is NULL, else
 * flat with the given shape (one -1 resolved against the table's length). */
static struct tensor *from_table(lua_State *L, int tbl, int arg, enum tensor_dtype dt,
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
    check_rc(L, tensor_init(t, dt, shape, ndim, &err), &err);
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
        check_rc(L, tensor_resolve_shape(shape, ndim, numel, &err), &err);
    }
    struct tensor *t = ltensor_push(L);
    check_rc(L, tensor_from_wire(t, dt, shape, ndim, data, size, NULL, &err), &err);
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
            from_table(L, 1, 1, dt, NULL, 0);
        } else {
            int ndim = check_shape(L, 3, shape, true);
            from_table(L, 1, 1, dt, shape, ndim);
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
        check_rc(L, tensor_init(t, dt, shape, 0, &err), &err);
        fill_value(L, t, 1);
        return 1;
    }
    default: {
        struct tensor *src = ltensor_test(L, 1);
        if (!src)
            return luaL_typeerror(L, 1, "table, string, number or tensor");
        enum tensor_dtype dt = opt_dtype(L, 2, src->dtype);
        struct tensor *t = ltensor_push(L);
        check_rc(L, tensor_astype(t, src, dt, &err), &err);
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
    check_rc(L, tensor_init(t, dt, shape, ndim, &err), &err);
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
    fill_value(L, t, -1);
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
    fill_value(L, t, 2);
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
    check_rc(L, tensor_init(t, dt, shape, 1, &err), &err);
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
        check_rc(L, rc, &err);
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
    lua_pushboolean(L, luaL_testudata(L, 1, LTENSOR_MT) != NULL);
    return 1;
}

/* ---- metadata and indexing ------------------------------------------------------ */

static void push_shape(lua_State *L, const struct tensor *t)
{
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, tensor_numel(ltensor_check(L, 1)));
    return 1;
}

static int t_dim(lua_State *L)
{
    lua_pushinteger(L, ltensor_check(L, 1)->ndim);
    return 1;
}

static int t_len(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "a 0-d tensor has no length");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

/* Pointer to the element at the 0-based index (one per dim). */
static void *elem_at(const struct tensor *t, const int64_t *index)
{
    int64_t off = t->offset;
    for (int d = 0; d < t->ndim; d++)
        off += index[d] * t->strides[d];
    return (char *)t->buf->data + off * (int64_t)tensor_dtype_elem_size(t->dtype);
}

/* Indices from Lua arguments first..first+ndim-1. */
static void check_indices(lua_State *L, const struct tensor *t, int first, int nargs,
                          int64_t *index)
{
    if (nargs != t->ndim)
        luaL_error(L, "expected %d indices for a %d-d tensor, got %d", t->ndim, t->ndim, nargs);
    for (int d = 0; d < t->ndim; d++)
        index[d] = check_index(L, first + d, t->shape[d], d);
}

/* t:get(i, j, ...) */
static int t_get(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int64_t index[TENSOR_MAX_DIMS];
    check_indices(L, t, 2, lua_gettop(L) - 1, index);
    ltensor_push_elem(L, t->dtype, elem_at(t, index));
    return 1;
}

/* t:set(i, j, ..., v) */
static int t_set(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int top = lua_gettop(L);
    if (top < 2)
        return luaL_error(L, "set needs indices and a value");
    int64_t index[TENSOR_MAX_DIMS];
    check_indices(L, t, 2, top - 2, index);
    struct triton_error err = {0};
    check_rc(L, ltensor_store_elem(L, top, t->dtype, t->buf, elem_at(t, index), &err), &err);
    return 0;
}

/* __index: t[i], t.dtype, t.shape, methods (upvalue 1). t[#t + 1] is nil. */
static int t_index(lua_State *L)
{
    struct tensor *t = luaL_checkudata(L, 1, LTENSOR_MT);
    int kt = lua_type(L, 2);
    /* Closing is the one thing a closed tensor still allows, so that t:close()
     * can be called twice like __close and __gc. */
    if (!t->buf && !(kt == LUA_TSTRING && strcmp(lua_tostring(L, 2), "close") == 0))
        return luaL_error(L, "attempt to use a closed tensor");
    if (kt == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (strcmp(k, "dtype") == 0) {
            lua_pushstring(L, tensor_dtype_name(t->dtype));
            return 1;
        }
        if (strcmp(k, "shape") == 0) {
            push_shape(L, t);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
        return 1;
    }
    if (kt != LUA_TNUMBER)
        return 0;
    if (t->ndim == 0)
        return luaL_error(L, "cannot index a 0-d tensor (use t:get())");
    /* One past the end is nil, as in a table, so that ipairs(t) stops there;
     * any other index out of range is an error, not a silent nil. */
    if (lua_isinteger(L, 2) && lua_tointeger(L, 2) - 1 == t->shape[0])
        return 0;
    int64_t i = check_index(L, 2, t->shape[0], 0);
    if (t->ndim == 1) {
        ltensor_push_elem(L, t->dtype, elem_at(t, &i));
        return 1;
    }
    struct triton_error err = {0};
    struct tensor *row = ltensor_push(L);
    check_rc(L, tensor_select(row, t, 0, i, &err), &err);
    return 1;
}

void ltensor_push_shape_string(lua_State *L, const struct tensor *t)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (int d = 0; d < t->ndim; d++) {
        char num[32];
        snprintf(num, sizeof num, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        luaL_addstring(&b, num);
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
}

/* Copies the tensor or nested table at idx into dst (a row view), same shape. */
static void assign_values(lua_State *L, struct tensor *dst, int idx)
{
    struct triton_error err = {0};
    struct tensor *src = ltensor_test(L, idx);
    if (!src) {
        from_table(L, idx, 0, dst->dtype, NULL, 0);
        src = lua_touserdata(L, -1);
    }
    bool same = src->ndim == dst->ndim;
    for (int d = 0; same && d < dst->ndim; d++)
        same = src->shape[d] == dst->shape[d];
    if (!same) {
        ltensor_push_shape_string(L, src);
        ltensor_push_shape_string(L, dst);
        luaL_error(L, "cannot assign values of shape %s to a row of shape %s", lua_tostring(L, -2),
                   lua_tostring(L, -1));
    }
    /* A source sharing dst's buffer may overlap it: copy it out first. */
    if (src->buf == dst->buf) {
        struct tensor *tmp = ltensor_push(L);
        check_rc(L, tensor_astype(tmp, src, src->dtype, &err), &err);
        src = tmp;
    }
    check_rc(L, tensor_copy(dst, src, &err), &err);
}

/* __newindex: t[i] = v. On 1-d, sets element i. On n-d, assigns to row i: a
 * number/boolean/string fills it, a tensor or nested table of the row's shape is
 * copied into it (converted to t's dtype). */
static int t_newindex(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    if (lua_type(L, 2) != LUA_TNUMBER)
        return luaL_error(L, "cannot set field '%s' of a tensor", luaL_tolstring(L, 2, NULL));
    if (t->ndim == 0)
        return luaL_error(L, "cannot index a 0-d tensor (use t:set())");
    int64_t i = check_index(L, 2, t->shape[0], 0);
    struct triton_error err = {0};
    if (t->ndim == 1) {
        check_rc(L, ltensor_store_elem(L, 3, t->dtype, t->buf, elem_at(t, &i), &err), &err);
        return 0;
    }
    struct tensor *row = ltensor_push(L);
    check_rc(L, tensor_select(row, t, 0, i, &err), &err);
    if (lua_type(L, 3) == LUA_TTABLE || ltensor_test(L, 3))
        assign_values(L, row, 3);
    else
        fill_value(L, row, 3);
    return 0;
}

/* ---- views ---------------------------------------------------------------------- */

/* t:reshape(shape) or t:reshape(d1, d2, ...) */
static int t_reshape(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    if (lua_gettop(L) > 2) { /* t:reshape(d1, d2, ...) is t:reshape{d1, d2, ...} */
        int n = lua_gettop(L) - 1;
        lua_createtable(L, n, 0);
        for (int d = 0; d < n; d++) {
            lua_pushvalue(L, d + 2);
            lua_rawseti(L, -2, d + 1);
        }
        lua_replace(L, 2);
        lua_settop(L, 2);
    }
    ndim = check_shape(L, 2, shape, true);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_reshape(out, t, shape, ndim, &err), &err);
    if (out->buf != t->buf) /* copied */
        ltensor_track(L, out);
    return 1;
}

static int t_flatten(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int64_t shape[1] = {tensor_numel(t)};
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_reshape(out, t, shape, 1, &err), &err);
    if (out->buf != t->buf) /* copied */
        ltensor_track(L, out);
    return 1;
}

static int t_squeeze(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int dim = lua_isnoneornil(L, 2) ? -1 : ltensor_check_dim(L, 2, t->ndim, 0);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_squeeze(out, t, dim, &err), &err);
    return 1;
}

static int t_unsqueeze(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int dim = ltensor_check_dim(L, 2, t->ndim, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_unsqueeze(out, t, dim, &err), &err);
    return 1;
}

/* t:slice(dim, first [, last]): elements first..last inclusive, 1-based, negative
 * counting from the end; last defaults to the end. */
static int t_slice(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int dim = ltensor_check_dim(L, 2, t->ndim, 0);
    int64_t n = t->shape[dim];
    lua_Integer first = luaL_optinteger(L, 3, 1);
    lua_Integer last = luaL_optinteger(L, 4, n);
    lua_Integer f = first < 0 ? first + n + 1 : first;
    lua_Integer l = last < 0 ? last + n + 1 : last;
    if (f < 1 || l > n || f > l + 1)
        return luaL_error(L, "slice %I..%I out of range for dim %d of size %I", first, last,
                          dim + 1, (lua_Integer)n);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_slice(out, t, dim, f - 1, l, &err), &err);
    return 1;
}

/* t:transpose([d1, d2]): the last two dims by default. */
static int t_transpose(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    if (lua_isnoneornil(L, 2) && t->ndim < 2)
        return luaL_error(L, "transpose needs a tensor of at least 2 dims");
    int d1 = lua_isnoneornil(L, 2) ? t->ndim - 2 : ltensor_check_dim(L, 2, t->ndim, 0);
    int d2 = lua_isnoneornil(L, 3) ? t->ndim - 1 : ltensor_check_dim(L, 3, t->ndim, 0);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_transpose(out, t, d1, d2, &err), &err);
    return 1;
}

/* t:permute{d1, d2, ...} or t:permute(d1, d2, ...) */
static int t_permute(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    bool table = lua_type(L, 2) == LUA_TTABLE;
    int n = table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (n != t->ndim)
        return luaL_error(L, "permute needs %d dims, got %d", t->ndim, n);
    int perm[TENSOR_MAX_DIMS];
    for (int d = 0; d < n; d++) {
        if (table)
            lua_rawgeti(L, 2, d + 1);
        else
            lua_pushvalue(L, d + 2);
        perm[d] = ltensor_check_dim(L, -1, t->ndim, 0);
        lua_pop(L, 1);
    }
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_permute(out, t, perm, &err), &err);
    return 1;
}

/* t:contiguous(): t itself when already contiguous, else a contiguous copy. */
static int t_contiguous(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    if (tensor_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_astype(out, t, t->dtype, &err), &err);
    ltensor_track(L, out);
    return 1;
}

/* ---- copies --------------------------------------------------------------------- */

static int t_astype(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    enum tensor_dtype dt = largs_check_dtype(L, 2, 2, NULL);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_astype(out, t, dt, &err), &err);
    ltensor_track(L, out);
    return 1;
}

static int t_clone(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    check_rc(L, tensor_astype(out, t, t->dtype, &err), &err);
    ltensor_track(L, out);
    return 1;
}

static void push_table(lua_State *L, const struct tensor *t, int depth, int64_t off)
{
    int64_t n = t->shape[depth];
    lua_createtable(L, n > INT32_MAX ? 0 : (int)n, 0);
    size_t esize = tensor_dtype_elem_size(t->dtype);
    for (int64_t i = 0; i < n; i++, off += t->strides[depth]) {
        if (depth == t->ndim - 1)
            ltensor_push_elem(L, t->dtype, (char *)t->buf->data + off * (int64_t)esize);
        else
            push_table(L, t, depth + 1, off);
        lua_rawseti(L, -2, i + 1);
    }
}

/* The most Lua tables t:totable() makes. Elements are not limited (their memory
 * is already the tensor's), but the tables for the rows of an empty tensor are
 * backed by nothing: a server can send the shape {2147483647, 0}, whose
 * totable() would make 2^31 empty tables (over 100 GB). A table costs Lua 56
 * bytes and more, so this allows some 300 MB of tables, far above what any
 * sensible use of nested tables needs; t:flatten():totable() makes only one. */
#define TOTABLE_MAX_TABLES (1 << 22)

/* Whether t:totable() would make more than TOTABLE_MAX_TABLES tables: one for
 * the whole tensor and one per index of each dim but the last. */
static bool totable_too_many_tables(const struct tensor *t)
{
    int64_t tables = 0;
    int64_t level = 1; /* tables at nesting level d */
    for (int d = 0; d < t->ndim; d++) {
        if (level > TOTABLE_MAX_TABLES - tables)
            return true;
        tables += level;
        if (t->shape[d] != 0 && level > TOTABLE_MAX_TABLES / t->shape[d])
            return d + 1 < t->ndim; /* the next level alone has too many */
        level *= t->shape[d];
    }
    return false;
}

/* t:totable(): nested tables (the value itself for a 0-d tensor). */
static int t_totable(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    if (t->ndim == 0) {
        ltensor_push_elem(L, t->dtype, elem_at(t, NULL));
        return 1;
    }
    if (totable_too_many_tables(t)) {
        ltensor_push_shape_string(L, t);
        return luaL_error(L,
                          "totable: a tensor of shape %s would make more than %d nested tables "
                          "(flatten() it first, or use bytes())",
                          lua_tostring(L, -1), TOTABLE_MAX_TABLES);
    }
    luaL_checkstack(L, t->ndim + 4, "tensor too deep");
    push_table(L, t, 0, t->offset);
    return 1;
}

/* t:bytes(): the wire layout, copied once into the new Lua string. */
static int t_bytes(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    struct triton_error err = {0};
    size_t size;
    check_rc(L, tensor_wire_size(t, &size, &err), &err);
    if (t->dtype != TENSOR_BYTES && tensor_is_contiguous(t)) {
        size_t esize = tensor_dtype_elem_size(t->dtype);
        lua_pushlstring(L, size ? (char *)t->buf->data + t->offset * (int64_t)esize : "", size);
        return 1;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, size);
    check_rc(L, tensor_to_wire(t, p, &err), &err);
    luaL_pushresultsize(&b, size);
    return 1;
}

/* ---- registration --------------------------------------------------------------- */

static const luaL_Reg tensor_methods[] = {
    {"numel", t_numel},     {"dim", t_dim},
    {"get", t_get},         {"set", t_set},
    {"reshape", t_reshape}, {"flatten", t_flatten},
    {"squeeze", t_squeeze}, {"unsqueeze", t_unsqueeze},
    {"slice", t_slice},     {"transpose", t_transpose},
    {"permute", t_permute}, {"contiguous", t_contiguous},
    {"astype", t_astype},   {"clone", t_clone},
    {"totable", t_totable}, {"bytes", t_bytes},
    {"close", t_release},   {NULL, NULL},
};

static const luaL_Reg tensor_meta[] = {
    {"__newindex", t_newindex}, {"__len", t_len},       {"__tostring", ltensor_tostring},
    {"__gc", t_release},        {"__close", t_release}, {NULL, NULL},
};

static const luaL_Reg module_functions[] = {
    {"tensor", l_tensor}, {"zeros", l_zeros},         {"ones", l_ones}, {"full", l_full},
    {"arange", l_arange}, {"is_tensor", l_is_tensor}, {NULL, NULL},
};

void ltensor_open(lua_State *L)
{
    largs_open(L); /* the checkers every binding uses, opened with the first of them */
    luaL_newmetatable(L, LTENSOR_MT);
    luaL_setfuncs(L, tensor_meta, 0);
    luaL_newlib(L, tensor_methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "__methods");
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);

    luaL_setfuncs(L, module_functions, 0);
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
