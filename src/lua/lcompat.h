/*
 * lcompat.h: every difference between the Luas the binding builds for, in one
 * place: Lua 5.4 (the reference), Lua 5.3 and LuaJIT 2.1 (the 5.1 API). The
 * binding is written against 5.4; for the others this header supplies the 5.4
 * names it uses. For 5.4 it adds nothing: the code compiles as if it were not
 * included.
 *
 *   5.3     one user value per userdata: the 5.4 user values live in a table
 *           there (lua_newuserdatauv makes it); lua_gc takes its data argument
 *           always; luaL_typeerror is ours.
 *   LuaJIT  the 5.1 API with LuaJIT's 5.2/5.3 additions; the rest of the 5.3 API
 *           comes from Debian's lua-compat53-dev (compat-5.3.h: static
 *           functions, nothing exported). User values live in the userdata's
 *           environment table. No continuations: lua_yieldk is emulated (see
 *           lcompat.c). No integer subtype: the 64-bit rule below.
 *
 * The 64-bit rule under LuaJIT (docs/API.md, "Lua versions"): a LuaJIT number
 * is a double, exact for integers of magnitude up to 2^53. An integer the
 * binding hands to Lua (an INT64/UINT64 element, a JSON integer, a counter) is
 * a number when it is within 2^53 and raises a triton.Error with code
 * out_of_range otherwise
 * (lcompat_pushinteger, the one place); what 5.4 hands over as a float (a
 * UINT64 element or a JSON integer beyond int64) is the same float. A number
 * counts as an integer when it is integral, within 2^53 and not -0.0
 * (lua_isinteger, lua_tointegerx): 1.0 is the integer 1, 2^60 a float.
 */
#ifndef TRITON_LCOMPAT_H
#define TRITON_LCOMPAT_H

#include <lauxlib.h>
#include <lua.h>

#include <stdarg.h>
#include <stdint.h>

#if LUA_VERSION_NUM == 501 /* LuaJIT: PUC Lua 5.1 is refused (lua/triton/init.lua) */
#define LCOMPAT_JIT 1
#else
#define LCOMPAT_JIT 0
#endif

#if LUA_VERSION_NUM < 504

#if LCOMPAT_JIT
#include <lua5.1/compat-5.3.h>
#include <luajit.h>
#endif

/* ---- user values -------------------------------------------------------------------- */

void *lcompat_newuserdatauv(lua_State *L, size_t size, int nuv);
int lcompat_getiuservalue(lua_State *L, int idx, int n);
int lcompat_setiuservalue(lua_State *L, int idx, int n);
#define lua_newuserdatauv lcompat_newuserdatauv
#define lua_getiuservalue lcompat_getiuservalue
#define lua_setiuservalue lcompat_setiuservalue

/* ---- the rest of the 5.4 API the binding uses ------------------------------------- */

/* lua_gc(L, what [, data]) */
#define LCOMPAT_GC(L, what, data, ...) (lua_gc)(L, what, data)
#define lua_gc(...)                    LCOMPAT_GC(__VA_ARGS__, 0, 0)

int lcompat_typeerror(lua_State *L, int arg, const char *tname);
#define luaL_typeerror lcompat_typeerror

#if LCOMPAT_JIT
typedef size_t lua_Unsigned;
#define LUA_LOADED_TABLE "_LOADED"
#define LUAI_UACINT      long long
#define LUA_INTEGER_FMT  "%lld"
#ifndef LUA_GCISRUNNING
#define LUA_GCISRUNNING 9
#endif

/* The 64-bit rule (see above). */
#define LCOMPAT_EXACT_MAX ((lua_Integer)1 << 53)
int lcompat_isinteger(lua_State *L, int idx);
lua_Integer lcompat_tointegerx(lua_State *L, int idx, int *isint);
void lcompat_pushinteger(lua_State *L, lua_Integer v);
#undef lua_isinteger
#undef lua_tointegerx
#undef lua_tointeger
#define lua_isinteger         lcompat_isinteger
#define lua_tointegerx        lcompat_tointegerx
#define lua_tointeger(L, i)   lcompat_tointegerx((L), (i), NULL)
#define lua_pushinteger(L, v) lcompat_pushinteger((L), (v))

/* Messages as 5.4 words them: lua_pushfstring with %I, %f ("1.0"), %U;
 * argument errors that name a function found in package.loaded
 * ("triton.tensor"); "number has no integer representation". */
const char *lcompat_pushvfstring(lua_State *L, const char *fmt, va_list ap);
const char *lcompat_pushfstring(lua_State *L, const char *fmt, ...);
int lcompat_error(lua_State *L, const char *fmt, ...);
int lcompat_argerror(lua_State *L, int arg, const char *extramsg);
void lcompat_checktype(lua_State *L, int arg, int t);
void lcompat_checkany(lua_State *L, int arg);
void *lcompat_checkudata(lua_State *L, int arg, const char *tname);
const char *lcompat_checklstring(lua_State *L, int arg, size_t *len);
const char *lcompat_optlstring(lua_State *L, int arg, const char *def, size_t *len);
lua_Number lcompat_checknumber(lua_State *L, int arg);
lua_Number lcompat_optnumber(lua_State *L, int arg, lua_Number def);
lua_Integer lcompat_checkinteger(lua_State *L, int arg);
lua_Integer lcompat_optinteger(lua_State *L, int arg, lua_Integer def);
#undef luaL_checkstring
#undef luaL_optstring
#define lua_pushvfstring        lcompat_pushvfstring
#define lua_pushfstring         lcompat_pushfstring
#define luaL_error              lcompat_error
#define luaL_argerror           lcompat_argerror
#define luaL_checktype          lcompat_checktype
#define luaL_checkany           lcompat_checkany
#define luaL_checkudata         lcompat_checkudata
#define luaL_checklstring       lcompat_checklstring
#define luaL_optlstring         lcompat_optlstring
#define luaL_checkstring(L, a)  lcompat_checklstring((L), (a), NULL)
#define luaL_optstring(L, a, d) lcompat_optlstring((L), (a), (d), NULL)
#define luaL_checknumber        lcompat_checknumber
#define luaL_optnumber          lcompat_optnumber
#define luaL_checkinteger       lcompat_checkinteger
#define luaL_optinteger         lcompat_optinteger

/* lua_yieldk without continuations: `return lua_yieldk(...)` hands the yield to
 * the Lua trampoline lcompat_yieldable put around the function. */
typedef intptr_t lcompat_KContext; /* compat-5.3.h has int: 5.3 and 5.4 have intptr_t */
typedef int (*lcompat_KFunction)(lua_State *L, int status, lcompat_KContext ctx);
#define lua_KContext  lcompat_KContext
#define lua_KFunction lcompat_KFunction
int lcompat_yieldk(lua_State *L, int nresults, lua_KContext ctx, lua_KFunction k);
#define lua_yieldk lcompat_yieldk
#endif /* LCOMPAT_JIT */

#endif /* LUA_VERSION_NUM < 504 */

/* Pushes a 64-bit unsigned integer: an integer when it fits lua_Integer (LuaJIT:
 * the 64-bit rule), else the nearest float, in every version. */
static inline void lcompat_pushu64(lua_State *L, uint64_t v)
{
    if (v <= INT64_MAX)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, (lua_Number)v);
}

/* The state's main thread, for its hooks (LuaJIT, where the registry does not
 * hold it: a thread of the state kept alive in the registry; hooks are per state
 * there), and the key a host's lua_State (any thread of the state) is known by
 * in triton_lua_interrupt (LuaJIT: the registry table's address, the same for
 * every thread; async-signal-safe, a plain read). */
#if LCOMPAT_JIT
lua_State *lcompat_mainthread(lua_State *L);
#define lcompat_statekey(L) lua_topointer((L), LUA_REGISTRYINDEX)
#else
static inline lua_State *lcompat_mainthread(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    return main;
}
#define lcompat_statekey(L) ((const void *)(L))
#endif

/* lua_getinfo's "t" (is a tail call), which LuaJIT does not know. */
#if LCOMPAT_JIT
#define LCOMPAT_INFO_T         ""
#define lcompat_istailcall(ar) ((void)(ar), 0)
#else
#define LCOMPAT_INFO_T         "t"
#define lcompat_istailcall(ar) ((ar)->istailcall)
#endif

/* Replaces the C function at the top of the stack by one that may yield with
 * lua_yieldk (LuaJIT: the trampoline; elsewhere the function itself). */
#if LCOMPAT_JIT
void lcompat_yieldable(lua_State *L);
#else
#define lcompat_yieldable(L) ((void)(L))
#endif

/* `return lcompat_tailcall(L, nargs)`: a C function ends by calling the function
 * below the top nargs values with them, and returns what that returns; the
 * callee may yield (LuaJIT: the C function must run under lcompat_yieldable's
 * trampoline, which makes the call). What is below the callee is dropped. */
#if LCOMPAT_JIT
int lcompat_tailcall(lua_State *L, int nargs);
#else
static inline int lcompat_tailcall_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return lua_gettop(L);
}

static inline int lcompat_tailcall(lua_State *L, int nargs)
{
    int below = lua_gettop(L) - nargs - 1;
    if (below > 0) {
        lua_rotate(L, 1, -below);
        lua_pop(L, below);
    }
    lua_callk(L, nargs, LUA_MULTRET, 0, lcompat_tailcall_k);
    return lua_gettop(L);
}
#endif

#endif
