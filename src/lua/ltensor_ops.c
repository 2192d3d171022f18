/*
 * ltensor_ops.c: tensor math for Lua over src/tensor/ops.c: the arithmetic
 * metamethods (+ - * / and unary minus), map/clamp and the unary functions,
 * reductions, softmax, topk (methods on "triton.Tensor") and triton.cat,
 * triton.stack, triton.allclose. The dtype rules are ops.h's.
 *
 * Lua is 1-based: dims count from 1 (negative from the end), and argmax/argmin/
 * topk return 1-based indices; the core is 0-based, so this file converts.
 * Results are pushed as userdata before the core fills them, so that a Lua error
 * at any point leaves nothing to leak (__gc releases a half-built tensor).
 */
#include <math.h>
#include <string.h>

#include "lua/lcore.h"
#include "lua/ltensor.h"
#include "tensor/ops.h"

static void to_scalar(lua_State *L, int idx, struct tensor_scalar *s)
{
    memset(s, 0, sizeof *s);
    if (lua_isinteger(L, idx)) {
        s->is_int = true;
        s->i = lua_tointeger(L, idx);
    } else {
        s->f = lua_tonumber(L, idx);
    }
}

/* Pushes a number result (integers exact) or, for a BOOL max/min, a boolean. */
static void push_scalar(lua_State *L, const struct tensor_scalar *s, bool as_bool)
{
    if (as_bool)
        lua_pushboolean(L, s->i != 0);
    else if (s->is_int)
        lua_pushinteger(L, (lua_Integer)s->i);
    else
        lua_pushnumber(L, s->f);
}

/* Turns the core's 0-based INT64 indices (a new contiguous tensor) 1-based. */
static void indices_to_lua(struct tensor *t)
{
    int64_t n = tensor_numel(t);
    int64_t *p = n > 0 ? tensor_elem_ptr(t, 0) : NULL;
    for (int64_t i = 0; i < n; i++)
        p[i] += 1;
}

/* ---- arithmetic metamethods ------------------------------------------------------- */

static int arith(lua_State *L, enum tensor_binop op)
{
    struct tensor *a = ltensor_test(L, 1), *b = ltensor_test(L, 2);
    struct tensor_scalar s;
    struct triton_error err = {0};
    int rc;
    if (a && b) {
        struct tensor *out = ltensor_push(L);
        rc = tensor_binary(out, op, a, b, &err);
    } else if (a && lua_type(L, 2) == LUA_TNUMBER) {
        to_scalar(L, 2, &s);
        struct tensor *out = ltensor_push(L);
        rc = tensor_binary_scalar(out, op, a, &s, false, &err);
    } else if (b && lua_type(L, 1) == LUA_TNUMBER) {
        to_scalar(L, 1, &s);
        struct tensor *out = ltensor_push(L);
        rc = tensor_binary_scalar(out, op, b, &s, true, &err);
    } else {
        int bad = a ? 2 : 1;
        return luaL_error(L,
                          "attempt to perform '%s' on a tensor and a %s value (expected a "
                          "tensor or a number)",
                          tensor_binop_name(op), luaL_typename(L, bad));
    }
    ltensor_check_rc(L, rc, &err);
    return 1;
}

static int t_add(lua_State *L)
{
    return arith(L, TENSOR_ADD);
}

static int t_sub(lua_State *L)
{
    return arith(L, TENSOR_SUB);
}

static int t_mul(lua_State *L)
{
    return arith(L, TENSOR_MUL);
}

static int t_div(lua_State *L)
{
    return arith(L, TENSOR_DIV);
}

static int unary(lua_State *L, enum tensor_unop op)
{
    struct tensor *a = ltensor_check(L, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_unary(out, op, a, &err), &err);
    return 1;
}

static int t_unm(lua_State *L)
{
    return unary(L, TENSOR_NEG);
}

static int t_abs(lua_State *L)
{
    return unary(L, TENSOR_ABS);
}

static int t_exp(lua_State *L)
{
    return unary(L, TENSOR_EXP);
}

static int t_log(lua_State *L)
{
    return unary(L, TENSOR_LOG);
}

static int t_sqrt(lua_State *L)
{
    return unary(L, TENSOR_SQRT);
}

static int t_sigmoid(lua_State *L)
{
    return unary(L, TENSOR_SIGMOID);
}

static int t_clamp(lua_State *L)
{
    struct tensor *a = ltensor_check(L, 1);
    struct tensor_scalar lo, hi;
    bool has_lo = !lua_isnoneornil(L, 2), has_hi = !lua_isnoneornil(L, 3);
    if (has_lo) {
        luaL_checknumber(L, 2);
        to_scalar(L, 2, &lo);
    }
    if (has_hi) {
        luaL_checknumber(L, 3);
        to_scalar(L, 3, &hi);
    }
    if (!has_lo && !has_hi)
        return luaL_error(L, "clamp: give a lower bound, an upper bound or both");
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_clamp(out, a, has_lo ? &lo : NULL, has_hi ? &hi : NULL, &err), &err);
    return 1;
}

/* ---- map ------------------------------------------------------------------------------ */

static int t_map(lua_State *L)
{
    struct tensor *a = ltensor_check(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    /* fn may close or drop `a`: walk a view that holds its own reference. */
    struct tensor *src = ltensor_push(L);
    tensor_init_view(src, a);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_init(out, src->dtype, src->shape, src->ndim, &err), &err);
    size_t es = tensor_dtype_elem_size(src->dtype);
    char *dst = tensor_numel(out) > 0 ? tensor_elem_ptr(out, 0) : NULL;
    struct tensor_iter it;
    int64_t i = 0;
    for (tensor_iter_init(&it, src); it.left > 0; tensor_iter_next(&it), i++) {
        lua_pushvalue(L, 2);
        ltensor_push_elem(L, src->dtype, it.ptr);
        lua_call(L, 1, 1);
        if (ltensor_store_elem(L, -1, out->dtype, out->buf, dst + (size_t)i * es, &err) < 0)
            return luaL_error(L, "map: the function's result for element %I: %s",
                              (lua_Integer)(i + 1), err.message);
        lua_pop(L, 1);
    }
    return 1;
}

/* ---- reductions ------------------------------------------------------------------------ */

static int reduce(lua_State *L, enum tensor_reduction op)
{
    struct tensor *a = ltensor_check(L, 1);
    struct triton_error err = {0};
    if (lua_isnoneornil(L, 2)) {
        struct tensor_scalar r;
        ltensor_check_rc(L, tensor_reduce_all(op, a, &r, &err), &err);
        if (op == TENSOR_ARGMAX || op == TENSOR_ARGMIN)
            r.i += 1;
        push_scalar(L, &r, a->dtype == TENSOR_BOOL && (op == TENSOR_MAX || op == TENSOR_MIN));
        return 1;
    }
    int dim = ltensor_check_dim(L, 2, a->ndim, 0);
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_reduce_dim(out, op, a, dim, &err), &err);
    if (op == TENSOR_ARGMAX || op == TENSOR_ARGMIN)
        indices_to_lua(out);
    return 1;
}

static int t_sum(lua_State *L)
{
    return reduce(L, TENSOR_SUM);
}

static int t_mean(lua_State *L)
{
    return reduce(L, TENSOR_MEAN);
}

static int t_max(lua_State *L)
{
    return reduce(L, TENSOR_MAX);
}

static int t_min(lua_State *L)
{
    return reduce(L, TENSOR_MIN);
}

static int t_argmax(lua_State *L)
{
    return reduce(L, TENSOR_ARGMAX);
}

static int t_argmin(lua_State *L)
{
    return reduce(L, TENSOR_ARGMIN);
}

/* ---- softmax, topk ------------------------------------------------------------------- */

/* The dim at idx, or the last dim when absent. */
static int dim_or_last(lua_State *L, int idx, const struct tensor *a)
{
    if (!lua_isnoneornil(L, idx))
        return ltensor_check_dim(L, idx, a->ndim, 0);
    if (a->ndim == 0)
        luaL_error(L, "a 0-d tensor has no dimension to work along");
    return a->ndim - 1;
}

static int t_softmax(lua_State *L)
{
    struct tensor *a = ltensor_check(L, 1);
    int dim = dim_or_last(L, 2, a);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_softmax(out, a, dim, &err), &err);
    return 1;
}

static int t_topk(lua_State *L)
{
    struct tensor *a = ltensor_check(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    int dim = dim_or_last(L, 3, a);
    struct triton_error err = {0};
    struct tensor *values = ltensor_push(L);
    struct tensor *indices = ltensor_push(L);
    ltensor_check_rc(L, tensor_topk(values, indices, a, (int64_t)k, dim, &err), &err);
    indices_to_lua(indices);
    return 2;
}

/* ---- module functions ------------------------------------------------------------------ */

/* The tensors in the list at idx, in a userdata array kept on the stack (so that
 * an error while collecting leaks nothing). */
static const struct tensor **check_tensor_list(lua_State *L, int idx, int *n)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Unsigned len = lua_rawlen(L, idx);
    if (len == 0)
        luaL_argerror(L, idx, "empty list of tensors");
    if (len > INT32_MAX / sizeof(void *))
        luaL_argerror(L, idx, "too many tensors");
    const struct tensor **list = lua_newuserdatauv(L, sizeof *list * (size_t)len, 0);
    for (lua_Unsigned i = 0; i < len; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        const struct tensor *t = ltensor_test(L, -1);
        if (!t)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "element %I is a %s, expected a tensor",
                                          (lua_Integer)i + 1, luaL_typename(L, -1)));
        list[i] = t;
        lua_pop(L, 1); /* still referenced by the list table */
    }
    *n = (int)len;
    return list;
}

static int l_cat(lua_State *L)
{
    int n;
    const struct tensor **list = check_tensor_list(L, 1, &n);
    int dim = lua_isnoneornil(L, 2) ? 0 : ltensor_check_dim(L, 2, list[0]->ndim, 0);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_cat(out, list, n, dim, &err), &err);
    return 1;
}

static int l_stack(lua_State *L)
{
    int n;
    const struct tensor **list = check_tensor_list(L, 1, &n);
    int dim = lua_isnoneornil(L, 2) ? 0 : ltensor_check_dim(L, 2, list[0]->ndim, 1);
    struct triton_error err = {0};
    struct tensor *out = ltensor_push(L);
    ltensor_check_rc(L, tensor_stack(out, list, n, dim, &err), &err);
    return 1;
}

static int l_allclose(lua_State *L)
{
    struct tensor *a = ltensor_check(L, 1), *b = ltensor_check(L, 2);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    struct triton_error err = {0};
    bool close;
    ltensor_check_rc(L, tensor_allclose(a, b, rtol, atol, &close, &err), &err);
    lua_pushboolean(L, close);
    return 1;
}

/* ---- registration ---------------------------------------------------------------------- */

static const luaL_Reg tensor_methods[] = {
    {"map", t_map},       {"clamp", t_clamp},     {"abs", t_abs},         {"exp", t_exp},
    {"log", t_log},       {"sqrt", t_sqrt},       {"sigmoid", t_sigmoid}, {"sum", t_sum},
    {"mean", t_mean},     {"max", t_max},         {"min", t_min},         {"argmax", t_argmax},
    {"argmin", t_argmin}, {"softmax", t_softmax}, {"topk", t_topk},       {NULL, NULL},
};

static const luaL_Reg tensor_meta[] = {
    {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul},
    {"__div", t_div}, {"__unm", t_unm}, {NULL, NULL},
};

static const luaL_Reg module_functions[] = {
    {"cat", l_cat},
    {"stack", l_stack},
    {"allclose", l_allclose},
    {NULL, NULL},
};

void ltensor_ops_open(lua_State *L)
{
    ltensor_add_methods(L, tensor_methods);
    luaL_getmetatable(L, LTENSOR_MT);
    luaL_setfuncs(L, tensor_meta, 0);
    lua_pop(L, 1);
    luaL_setfuncs(L, module_functions, 0);
}
