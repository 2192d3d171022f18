/*
 * largs.h: the one argument layer of the binding. Every entry point, in C and
 * in the Lua files under lua/triton (through core.args: check_shape,
 * check_dtype, check_options), checks shapes, dtypes and options tables here, so a
 * wrong value gets one message wherever it is passed.
 *
 * Errors are Lua strings "<where>: bad argument #n to 'fname' (what)" (or
 * "bad option 'name' to 'fname' (what)", "unknown option 'x' in fname options").
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
#include <stdbool.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lcompat.h" /* the 5.4 API in 5.3 and LuaJIT too */

#include "tensor/tensor.h"

/* The running C function's name, as luaL_argerror finds it: from the code that
 * called it, else the loaded module field holding it ("triton.zeros", the public
 * module first; the name is then pushed). Sets *method when it was called as a
 * method. */
const char *largs_running_name(lua_State *L, bool *method);
/* Pushes "source:line: " of the user's innermost frame ("" when there is none). */
void largs_where(lua_State *L);
/* Pushes "<where>: msg\nstack traceback:\n\t..." from level (as lua_getstack
 * counts) down, leaving out the module's own frames and the C functions they
 * call: what a host shows for an error the module raised (a triton.Error). */
void largs_traceback(lua_State *L, const char *msg, int level);
/* Raises "<where>: <message>", formatted by lua_pushfstring (%s %d %I %f %p %c %%). */
int largs_error(lua_State *L, const char *fmt, ...);
/* Raises "<where>: bad argument #arg to 'fname' (<formatted message>)". */
int largs_argerror(lua_State *L, int arg, const char *fname, const char *fmt, ...);
/* The string at idx, argument #arg of fname, or the argument error every string
 * argument gets ("string expected, got no value"). */
const char *largs_check_string(lua_State *L, int idx, int arg, const char *fname);

/* ---- shapes -------------------------------------------------------------------- */

/* -1 entries are allowed (InferInput's unknown dims, reshape's inferred one);
 * whoever allows them resolves them. */
#define LARGS_SHAPE_UNKNOWN 1u

/* Reads the shape at idx, a table of integers or one integer (a 1-d shape), into
 * shape[]; returns ndim. At most TENSOR_MAX_DIMS dims, every entry an integer
 * >= 0 (or -1 with LARGS_SHAPE_UNKNOWN); a float such as 1e8 counts when it is
 * integral, as in luaL_checkinteger. Sizes are the core's to check
 * (tensor_check_shape), against the dtype they are for. */
int largs_check_shape(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                      int64_t shape[TENSOR_MAX_DIMS]);

/* ---- dtypes -------------------------------------------------------------------- */

/* The dtype named by the string at idx ("FP32", ...). */
enum tensor_dtype largs_check_dtype(lua_State *L, int idx, int arg, const char *fname);
/* The same, or def when the value at idx is none or nil. */
enum tensor_dtype largs_opt_dtype(lua_State *L, int idx, int arg, const char *fname,
                                  enum tensor_dtype def);

/* ---- options tables -------------------------------------------------------------- */

/* What an option's value may be: a mask of types. */
enum {
    LARGS_BOOLEAN = 1u << 0,
    LARGS_INTEGER = 1u << 1, /* a Lua integer (3, not 3.0) */
    LARGS_NUMBER = 1u << 2,  /* any finite number */
    LARGS_STRING = 1u << 3,
    LARGS_TABLE = 1u << 4,
    LARGS_FUNCTION = 1u << 5,
    LARGS_USERDATA = 1u << 6,
    LARGS_MAP = 1u << 7, /* a table of string keys to values of the option's `values` types */
};
/* Constraints on numbers (NaN and the infinities are always refused). */
#define LARGS_MIN (1u << 8) /* at least .min (0 unless given: non-negative) */
#define LARGS_MAX (1u << 9) /* at most .max */
/* Constraint on strings: no zero byte (the value becomes a C string). */
#define LARGS_TEXT (1u << 10)
/* Constraint on numbers: math.huge is allowed too (a timeout's "no limit"). */
#define LARGS_FOREVER (1u << 11)

struct largs_option {
    const char *name;
    unsigned types;                    /* LARGS_* types, LARGS_MIN, LARGS_MAX, LARGS_TEXT */
    double min, max;                   /* with LARGS_MIN, LARGS_MAX */
    const char *const *choices;        /* strings: the allowed values, NULL-ended; NULL: any */
    const struct largs_option *fields; /* tables: their own options, {NULL}-ended; NULL: any */
    unsigned values;                   /* maps: the value types (0: LARGS_STRING) */
};

/* Checks the options table at idx against spec (ended by an entry whose name is
 * NULL): an unknown key, a value of the wrong type, out of range, NaN or
 * infinite, or not among the choices raises naming the option as the user wrote
 * it. nil at idx is no options and passes; anything else but a table is a bad
 * argument #arg. */
void largs_check_options(lua_State *L, int idx, int arg, const char *fname,
                         const struct largs_option *spec);
/* The entries of the spec at idx (a core.args.option_spec), or an argument
 * error; they live as long as the spec. */
const struct largs_option *largs_spec(lua_State *L, int idx);
/* Checks one value at idx against one option (`name` in messages: opt->name,
 * prefixed with the enclosing tables' names for nested ones). nil passes. */
void largs_check_option(lua_State *L, int idx, const char *fname, const char *name,
                        const struct largs_option *opt);

/* Sets core.args (the table at -1 is core): check_shape, check_dtype,
 * option_spec, check_options, argerror, usererror and traceback, the same
 * checkers for the Lua files (see largs.c). */
void largs_open(lua_State *L);

#endif
