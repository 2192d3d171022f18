/*
 * ltensor.h: the tensor userdata, shared by the binding files.
 * ltensor.c owns the metatable (metadata, indexing, views, copies);
 * ltensor_new.c makes tensors; ltensor_print.c prints them; ltensor_ops.c adds
 * the math methods and operators to the metatable.
 * The userdata holds a struct tensor, or points at one an infer result lends it
 * (see ltensor.c); a view keeps its source alive through the C refcount on the
 * buffer, so no Lua-side user value is needed for that.
 */
#ifndef TRITON_LTENSOR_H
#define TRITON_LTENSOR_H

#include <stdbool.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lcompat.h" /* the 5.4 API in 5.3 and LuaJIT too */

#include "tensor/tensor.h"

struct triton_infer_result;

#define LTENSOR_MT "triton.Tensor"
/* The registry's name for the metatable of tensors lent by an infer result:
 * LTENSOR_MT's fields but __gc (see ltensor.c), made by ltensor_lent_open
 * (lcore.h) once every metamethod of LTENSOR_MT is set. */
#define LTENSOR_LENT_MT "triton.Tensor.lent"

/* The tensor at idx, or a Lua argument error naming the argument. */
struct tensor *ltensor_check(lua_State *L, int idx);
/* The tensor at idx, or NULL if it is not one. Both raise "attempt to use a closed
 * tensor" for a tensor released by __close, so callers never see an empty one. */
struct tensor *ltensor_test(lua_State *L, int idx);
/* ltensor_test, with the metatables taken from indices mt and lent_mt (a
 * caller's upvalues holding LTENSOR_MT's and LTENSOR_LENT_MT's, not relative
 * indices), not looked up by name. */
struct tensor *ltensor_test_mt(lua_State *L, int idx, int mt, int lent_mt);
/* Whether the value at idx is a tensor, open or closed. */
bool ltensor_is_tensor(lua_State *L, int idx);
/* Pushes a new tensor userdata, zeroed (ndim 0, no buffer), with the metatable
 * set; the caller fills it in. If filling fails, leave it zeroed and raise: __gc
 * on a zeroed tensor is a no-op. */
struct tensor *ltensor_push(lua_State *L);
/* The same with the metatable taken from index mt (a caller's upvalue holding
 * it), not looked up by name: for the reply's tensors, made on every call. */
struct tensor *ltensor_push_mt(lua_State *L, int mt);
/* Whether the tensor at idx (a Lua argument error if it is none) is not closed. */
bool ltensor_is_open(lua_State *L, int idx);
/* Pushes a tensor whose struct is t, lent by the value at index `lender` (an
 * infer result's userdata), which the tensor keeps alive: t is only read
 * through it and must stay as it is while the lender lives. *alive (a pointer
 * in the lender's memory) must read NULL once the lender has let go of t (its
 * finalizer ran); the tensor is closed from then on. lent_mt: the index of
 * LTENSOR_LENT_MT (a caller's upvalue holding it). */
void ltensor_push_lent(lua_State *L, int lent_mt, const struct tensor *t, int lender,
                       struct triton_infer_result *const *alive);
/* Raises err as a Lua error "<message>" (frees nothing: err lives on the C stack). */
int ltensor_raise(lua_State *L, const struct triton_error *err);
/* Tells Lua's collector about the new buffer of t. Buffers are malloc'd by the
 * core, out of the collector's sight; without this a loop making big tensors
 * grows until something else triggers a collection. Call it once for each tensor
 * with a freshly allocated buffer (not for views); a no-op below 1 MiB. */
void ltensor_track(lua_State *L, const struct tensor *t);
/* Pushes an element as Lua reads it: BOOL as a boolean, integers exact (UINT64
 * above INT64_MAX as the nearest float), floats as numbers, BYTES as a string. */
void ltensor_push_elem(lua_State *L, enum tensor_dtype dt, const void *p);
/* Stores the Lua value at idx into element p (of dtype dt, in a tensor over buf,
 * whose arena keeps BYTES strings): strictly, integers must fit, BOOL takes
 * booleans or 0/1, BYTES strings only. */
int ltensor_store_elem(lua_State *L, int idx, enum tensor_dtype dt, struct tensor_buffer *buf,
                       void *p, struct triton_error *err);
/* The 1-based dim argument at idx (negative counts from the end) as 0-based, for
 * a tensor of ndim dims; `extra` widens the range by one where a dim one past the
 * last is allowed (unsqueeze, stack). */
int ltensor_check_dim(lua_State *L, int idx, int ndim, int extra);
/* Pushes t's shape as "{2, 3}". */
void ltensor_push_shape_string(lua_State *L, const struct tensor *t);
/* __tostring: numpy's printing (src/lua/ltensor_print.c). */
int ltensor_tostring(lua_State *L);
/* Raises err unless rc is 0: for calls into the core. */
void ltensor_check_rc(lua_State *L, int rc, const struct triton_error *err);
/* Sets every element of t to the Lua value at idx (ltensor_store_elem's rules). */
void ltensor_fill(lua_State *L, struct tensor *t, int idx);
/* Pushes a tensor of dtype dt (TENSOR_INVALID: torch's default for the values)
 * filled from the table at tbl: nested when given is NULL, else flat and of the
 * given shape (one -1 resolved against the table's length). arg: the argument
 * the table is, for messages (0: none). (ltensor_new.c) */
struct tensor *ltensor_from_table(lua_State *L, int tbl, int arg, enum tensor_dtype dt,
                                  const int64_t *given, int given_ndim);
/* Adds triton.tensor, zeros, ones, full, arange, rand, is_tensor and dtypes to the
 * table at -1 (ltensor_new.c). */
void ltensor_new_open(lua_State *L);
/* Adds functions to the metatable's method table (the __index table). */
void ltensor_add_methods(lua_State *L, const luaL_Reg *methods);

#endif
