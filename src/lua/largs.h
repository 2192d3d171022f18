/*
 * largs.h: the one argument layer of the binding. Every entry point, in C and
 * in the Lua files under lua/triton, checks shapes and dtypes here, so a wrong
 * value gets one message wherever it is passed.
 *
 * Errors are Lua strings "<where>: bad argument #n to 'fname' (what)".
 * <where> is the user's line: the innermost Lua frame that is not one of the
 * module's own files (lua/triton/NAME.lua), so an argument checked deep inside
 * the library is still reported where the user passed it.
 *
 * `arg` is the argument's number as the user counts it (0: the value is not a
 * positional argument, the message then says only "bad argument to 'fname'");
 * `fname` the function's name as the user calls it, or NULL for the running C
 * function's own name as luaL_argerror finds it (a method's self then does not
 * count, as in luaL_argerror).
 */
#ifndef TRITON_LARGS_H
#define TRITON_LARGS_H

#include <stdarg.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "tensor/tensor.h"

/* Pushes "source:line: " of the user's innermost frame ("" when there is none). */
void largs_where(lua_State *L);
/* Raises "<where>: <message>", formatted by lua_pushfstring (%s %d %I %f %p %c %%). */
int largs_error(lua_State *L, const char *fmt, ...);
/* Raises "<where>: bad argument #arg to 'fname' (<formatted message>)". */
int largs_argerror(lua_State *L, int arg, const char *fname, const char *fmt, ...);

/* ---- shapes -------------------------------------------------------------------- */

/* -1 entries are allowed (InferInput's unknown dims, reshape's inferred one);
 * whoever allows them resolves them. */
#define LARGS_SHAPE_UNKNOWN 1u

/* Reads the shape at idx, a table of integers or one integer (a 1-d shape), into
 * shape[]; returns ndim. At most TENSOR_MAX_DIMS dims, every entry an integer
 * >= 0 (or -1 with LARGS_SHAPE_UNKNOWN), the element count within int64. */
int largs_check_shape(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                      int64_t shape[TENSOR_MAX_DIMS]);

/* ---- dtypes -------------------------------------------------------------------- */

/* The dtype named by the string at idx ("FP32", ...). */
enum tensor_dtype largs_check_dtype(lua_State *L, int idx, int arg, const char *fname);
/* The same, or def when the value at idx is none or nil. */
enum tensor_dtype largs_opt_dtype(lua_State *L, int idx, int arg, const char *fname,
                                  enum tensor_dtype def);

#endif
