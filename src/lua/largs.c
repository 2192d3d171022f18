/*
 * largs.c: the one argument layer (largs.h): where an error is reported, and
 * the shape and dtype checkers every entry point uses.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lua/largs.h"

/* ---- where ------------------------------------------------------------------------ */

/* Whether a chunk's source is one of the module's own Lua files: "@.../triton/x.lua"
 * (a path from package.path, or the compiled-in "@triton/x.lua") whose module
 * "triton.x" ("triton" for init.lua) is loaded. */
static bool is_module_source(lua_State *L, const char *src)
{
    size_t n = strlen(src);
    const char *base = strrchr(src, '/');
    if (src[0] != '@' || n < 5 || strcmp(src + n - 4, ".lua") != 0 || !base || base - src < 7 ||
        memcmp(base - 6, "triton", 6) != 0 || (base[-7] != '@' && base[-7] != '/'))
        return false;
    size_t len = (size_t)(src + n - 4 - (base + 1));
    char mod[64];
    if (len == 4 && memcmp(base + 1, "init", 4) == 0)
        snprintf(mod, sizeof mod, "triton");
    else if (len < sizeof mod - 8)
        snprintf(mod, sizeof mod, "triton.%.*s", (int)len, base + 1);
    else
        return false;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    bool loaded = lua_getfield(L, -1, mod) != LUA_TNIL;
    lua_pop(L, 2);
    return loaded;
}

void largs_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && !is_module_source(L, ar.source)) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

static int raise_where(lua_State *L, const char *fmt, va_list ap)
{
    largs_where(L);
    lua_pushvfstring(L, fmt, ap);
    lua_concat(L, 2);
    return lua_error(L);
}

int largs_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    return raise_where(L, fmt, ap);
}

int largs_argerror(lua_State *L, int arg, const char *fname, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_Debug ar;
    if (!fname && lua_getstack(L, 0, &ar)) { /* the running C function, as luaL_argerror */
        lua_getinfo(L, "n", &ar);
        fname = ar.name ? ar.name : "?";
        if (ar.namewhat && strcmp(ar.namewhat, "method") == 0 && arg > 0 && --arg == 0)
            return largs_error(L, "calling '%s' on bad self (%s)", fname, msg);
    }
    if (arg > 0)
        return largs_error(L, "bad argument #%d to '%s' (%s)", arg, fname ? fname : "?", msg);
    return largs_error(L, "bad argument to '%s' (%s)", fname ? fname : "?", msg);
}

/* ---- shapes ------------------------------------------------------------------------- */

/* The value at idx as a short text for "got ...": a number's value, else its type. */
static const char *got(lua_State *L, int idx)
{
    if (lua_isinteger(L, idx))
        return lua_pushfstring(L, "%I", lua_tointeger(L, idx));
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_pushfstring(L, "%f", lua_tonumber(L, idx));
    return luaL_typename(L, idx);
}

/* One shape entry, the value at idx (entry d, 0-based). */
static int64_t check_extent(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                            int d)
{
    lua_Integer v = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : -2;
    if (v < 0 && !(v == -1 && (flags & LARGS_SHAPE_UNKNOWN)))
        largs_argerror(L, arg, fname, "shape[%d] must be a non-negative integer, got %s", d + 1,
                       got(L, idx));
    return v;
}

int largs_check_shape(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                      int64_t shape[TENSOR_MAX_DIMS])
{
    idx = lua_absindex(L, idx);
    int ndim;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        ndim = 1;
        shape[0] = check_extent(L, idx, arg, fname, flags, 0);
    } else {
        if (lua_type(L, idx) != LUA_TTABLE)
            largs_argerror(L, arg, fname, "shape must be a table of integers, got %s", got(L, idx));
        lua_Unsigned n = lua_rawlen(L, idx);
        if (n > TENSOR_MAX_DIMS)
            largs_argerror(L, arg, fname, "shape has %I dimensions, at most %d", (lua_Integer)n,
                           TENSOR_MAX_DIMS);
        ndim = (int)n;
        for (int d = 0; d < ndim; d++) {
            lua_rawgeti(L, idx, d + 1);
            shape[d] = check_extent(L, -1, arg, fname, flags, d);
            lua_pop(L, 1);
        }
    }
    return ndim;
}

/* ---- dtypes ------------------------------------------------------------------------- */

static const char *dtype_list(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < TENSOR_NDTYPES; i++) {
        luaL_addstring(&b, i ? ", " : "");
        luaL_addstring(&b, tensor_dtype_name((enum tensor_dtype)i));
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

enum tensor_dtype largs_check_dtype(lua_State *L, int idx, int arg, const char *fname)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        largs_argerror(L, arg, fname, "dtype name expected (one of %s), got %s", dtype_list(L),
                       got(L, idx));
    size_t len;
    const char *name = lua_tolstring(L, idx, &len);
    enum tensor_dtype dt = tensor_dtype_from_name(name, len);
    if (dt == TENSOR_INVALID)
        largs_argerror(L, arg, fname, "unknown dtype '%s' (expected one of %s)", name,
                       dtype_list(L));
    return dt;
}

enum tensor_dtype largs_opt_dtype(lua_State *L, int idx, int arg, const char *fname,
                                  enum tensor_dtype def)
{
    return lua_isnoneornil(L, idx) ? def : largs_check_dtype(L, idx, arg, fname);
}
