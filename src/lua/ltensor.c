/*
 * ltensor.c: the "triton.Tensor" userdata: metadata, 1-based indexing, views,
 * copies and conversion back to tables and bytes. Making tensors lives in
 * ltensor_new.c, printing in ltensor_print.c, the math in ltensor_ops.c, which
 * adds its methods through ltensor_add_methods.
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
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lua/largs.h"
#include "lua/lcore.h"
#include "lua/ltensor.h"

/* ---- the userdata --------------------------------------------------------------- */

/* The userdata is a box pointing at its tensor. A tensor made here holds the
 * struct inline (struct lbox). One over an output of an infer result lends the
 * result's struct instead (ltensor_push_lent): a struct tensor is over 0.5 KiB
 * (its TENSOR_MAX_DIMS dims inline), and a copy made for every r:as_tensor
 * would count in full towards Lua's collector, whose cycles come sooner the
 * more bytes are allocated.
 *
 * A lent box keeps its lender (the result's userdata) alive as its user value,
 * so the lender's own finalizer frees the struct only once no box can reach
 * it, and the box needs none of its own: its metatable is the tensor
 * metatable without __gc (LTENSOR_LENT_MT). A finalizer costs Lua far more
 * than the box: the object is moved between the collector's lists, revived
 * and called in a protected call, and freed a cycle later. The one way to
 * reach a box after its lender was finalized is another finalizer that holds
 * it (Lua calls finalizers newest first); `alive` then reads NULL, and the box
 * acts as a closed tensor. A closed box of either kind points at
 * closed_tensor, which has no buffer. */
struct lbox_head {
    struct tensor *t;
    /* a lent box's: the lender's pointer, NULL once it is released; else NULL */
    struct triton_infer_result *const *alive;
};

struct lbox {
    struct lbox_head h;
    struct tensor own; /* only in tensors made here */
};

static const struct tensor closed_tensor;

/* The box at idx if it is a tensor, made here or lent, else NULL. */
static struct lbox_head *test_box(lua_State *L, int idx)
{
    struct lbox_head *box = lua_touserdata(L, idx);
    if (!box || !lua_getmetatable(L, idx))
        return NULL;
    luaL_getmetatable(L, LTENSOR_MT);
    bool same = lua_rawequal(L, -1, -2);
    if (!same) {
        lua_pop(L, 1);
        luaL_getmetatable(L, LTENSOR_LENT_MT);
        same = lua_rawequal(L, -1, -2);
    }
    lua_pop(L, 2);
    return same ? box : NULL;
}

static struct lbox_head *check_box(lua_State *L, int idx)
{
    struct lbox_head *box = test_box(L, idx);
    if (!box)
        luaL_typeerror(L, idx, LTENSOR_MT);
    return box;
}

/* The box's tensor, open or closed. */
static struct tensor *box_tensor(const struct lbox_head *box)
{
    if (box->alive && !*box->alive)
        return (struct tensor *)&closed_tensor;
    return box->t;
}

/* The tensor at idx, open or closed. */
static struct tensor *any_tensor(lua_State *L, int idx)
{
    return box_tensor(check_box(L, idx));
}

static struct tensor *open_tensor(lua_State *L, struct lbox_head *box)
{
    if (!box)
        return NULL;
    struct tensor *t = box_tensor(box);
    if (!t->buf) /* as liolib does for closed files */
        luaL_error(L, "attempt to use a closed tensor");
    return t;
}

struct tensor *ltensor_test(lua_State *L, int idx)
{
    return open_tensor(L, test_box(L, idx));
}

struct tensor *ltensor_check(lua_State *L, int idx)
{
    return open_tensor(L, check_box(L, idx));
}

bool ltensor_is_tensor(lua_State *L, int idx)
{
    return test_box(L, idx) != NULL;
}

struct tensor *ltensor_test_mt(lua_State *L, int idx, int mt, int lent_mt)
{
    struct lbox_head *box = lua_touserdata(L, idx);
    if (!box || !lua_getmetatable(L, idx))
        return NULL;
    bool same = lua_rawequal(L, -1, mt) || lua_rawequal(L, -1, lent_mt);
    lua_pop(L, 1);
    return same ? open_tensor(L, box) : NULL;
}

bool ltensor_is_open(lua_State *L, int idx)
{
    return any_tensor(L, idx)->buf != NULL;
}

struct tensor *ltensor_push_mt(lua_State *L, int mt)
{
    mt = lua_absindex(L, mt);
    struct lbox *box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    box->h.t = &box->own;
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
    return &box->own;
}

struct tensor *ltensor_push(lua_State *L)
{
    luaL_getmetatable(L, LTENSOR_MT);
    struct tensor *t = ltensor_push_mt(L, -1);
    lua_remove(L, -2);
    return t;
}

void ltensor_push_lent(lua_State *L, int lent_mt, const struct tensor *t, int lender,
                       struct triton_infer_result *const *alive)
{
    lent_mt = lua_absindex(L, lent_mt);
    lender = lua_absindex(L, lender);
    struct lbox_head *box = lua_newuserdatauv(L, sizeof *box, 1);
    box->t = (struct tensor *)t;
    box->alive = alive;
    lua_pushvalue(L, lender);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, lent_mt);
    lua_setmetatable(L, -2);
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

void ltensor_check_rc(lua_State *L, int rc, const struct triton_error *err)
{
    if (rc < 0)
        ltensor_raise(L, err);
}

/* t:close(), __close and __gc (a tensor made here): frees the buffer, or lets
 * go of the lender of a lent struct; a second call does nothing. */
static int t_release(lua_State *L)
{
    struct lbox_head *box = check_box(L, 1);
    if (box->t == &closed_tensor)
        return 0;
    if (!box->alive) {
        tensor_release(box->t);
        return 0;
    }
    box->t = (struct tensor *)&closed_tensor;
    box->alive = NULL;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1);
    return 0;
}

/* ---- arguments ------------------------------------------------------------------ */

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
    case TENSOR_UINT64:
        lcompat_pushu64(L, *(const uint64_t *)p);
        break;
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
    ltensor_check_rc(L, ltensor_store_elem(L, top, t->dtype, t->buf, elem_at(t, index), &err),
                     &err);
    return 0;
}

/* __index: t[i], t.dtype, t.shape, methods (upvalue 1). t[#t + 1] is nil. */
static int t_index(lua_State *L)
{
    struct tensor *t = any_tensor(L, 1);
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
    if (lua_isinteger(L, 2) && lua_tointeger(L, 2) == t->shape[0] + 1) /* shape < INT64_MAX */
        return 0;
    int64_t i = check_index(L, 2, t->shape[0], 0);
    if (t->ndim == 1) {
        ltensor_push_elem(L, t->dtype, elem_at(t, &i));
        return 1;
    }
    struct triton_error err = {0};
    struct tensor *row = ltensor_push(L);
    ltensor_check_rc(L, tensor_select(row, t, 0, i, &err), &err);
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
        src = ltensor_from_table(L, idx, 0, dst->dtype, NULL, 0);
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
        ltensor_check_rc(L, tensor_astype(tmp, src, src->dtype, &err), &err);
        src = tmp;
    }
    ltensor_check_rc(L, tensor_copy(dst, src, &err), &err);
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
        ltensor_check_rc(L, ltensor_store_elem(L, 3, t->dtype, t->buf, elem_at(t, &i), &err), &err);
        return 0;
    }
    struct tensor *row = ltensor_push(L);
    ltensor_check_rc(L, tensor_select(row, t, 0, i, &err), &err);
    if (lua_type(L, 3) == LUA_TTABLE || ltensor_test(L, 3))
        assign_values(L, row, 3);
    else
        ltensor_fill(L, row, 3);
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
    ndim = largs_check_shape(L, 2, 2, NULL, LARGS_SHAPE_UNKNOWN, shape);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_reshape(out, t, shape, ndim, &err), &err);
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
    ltensor_check_rc(L, tensor_reshape(out, t, shape, 1, &err), &err);
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
    ltensor_check_rc(L, tensor_squeeze(out, t, dim, &err), &err);
    return 1;
}

static int t_unsqueeze(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    int dim = ltensor_check_dim(L, 2, t->ndim, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_unsqueeze(out, t, dim, &err), &err);
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
    ltensor_check_rc(L, tensor_slice(out, t, dim, f - 1, l, &err), &err);
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
    ltensor_check_rc(L, tensor_transpose(out, t, d1, d2, &err), &err);
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
    ltensor_check_rc(L, tensor_permute(out, t, perm, &err), &err);
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
    ltensor_check_rc(L, tensor_astype(out, t, t->dtype, &err), &err);
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
    ltensor_check_rc(L, tensor_astype(out, t, dt, &err), &err);
    ltensor_track(L, out);
    return 1;
}

static int t_clone(lua_State *L)
{
    struct tensor *t = ltensor_check(L, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_astype(out, t, t->dtype, &err), &err);
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
    ltensor_check_rc(L, tensor_wire_size(t, &size, &err), &err);
    if (t->dtype != TENSOR_BYTES && tensor_is_contiguous(t)) {
        size_t esize = tensor_dtype_elem_size(t->dtype);
        lua_pushlstring(L, size ? (char *)t->buf->data + t->offset * (int64_t)esize : "", size);
        return 1;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, size);
    ltensor_check_rc(L, tensor_to_wire(t, p, &err), &err);
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

    ltensor_new_open(L);
}

void ltensor_lent_open(lua_State *L)
{
    luaL_getmetatable(L, LTENSOR_MT);
    int mt = lua_gettop(L);
    lua_newtable(L);
    for (lua_pushnil(L); lua_next(L, mt); lua_pop(L, 1)) {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, mt + 1);
    }
    lua_pushnil(L);
    lua_setfield(L, mt + 1, "__gc");
    /* getmetatable answers the same table for every tensor */
    lua_pushvalue(L, mt);
    lua_setfield(L, mt + 1, "__metatable");
    lua_setfield(L, LUA_REGISTRYINDEX, LTENSOR_LENT_MT);
    lua_pop(L, 1);
}
