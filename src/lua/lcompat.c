/*
 * lcompat.c: the functions behind lcompat.h, for Lua 5.3 and LuaJIT (empty for
 * Lua 5.4, which needs none).
 *
 * lua_yieldk on LuaJIT. LuaJIT has no continuations: a C function that yields
 * is not called again, its caller receives the values the coroutine is resumed
 * with. So a function that yields with lua_yieldk runs under a small Lua
 * trampoline (lcompat_yieldable): instead of yielding, lcompat_yieldk returns a
 * marker, the continuation, the number of stack slots it keeps and those slots,
 * then the values to yield. The trampoline yields the values from Lua (LuaJIT
 * yields across Lua frames) and, once resumed, calls the continuation with the
 * kept slots, as Lua 5.3 and 5.4 would call it after a lua_yieldk. A kept count
 * of -1 asks for a call instead (lcompat_tailcall): the trampoline calls the
 * "continuation" with the values that follow, from Lua, so that it may yield
 * (a C function's lua_call could not on LuaJIT). Its chunk is
 * named as a file of the module, so that error positions and tracebacks skip it
 * (src/lua/largs.c) as they skip the files under lua/triton.
 */
#include "lua/lcompat.h"

#if LUA_VERSION_NUM < 504

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lua/largs.h"
#include "lua/lclient.h" /* lerror_raisef */

/* ---- user values: a table in 5.3's one user value, LuaJIT's environment ---------------- */

#if LCOMPAT_JIT
#define get_uvtable(L, idx) (lua_getfenv((L), (idx)), lua_type((L), -1))
#define set_uvtable(L, idx) lua_setfenv((L), (idx))
#else
#define get_uvtable(L, idx) lua_getuservalue((L), (idx))
#define set_uvtable(L, idx) lua_setuservalue((L), (idx))
#endif

void *lcompat_newuserdatauv(lua_State *L, size_t size, int nuv)
{
    void *p = lua_newuserdata(L, size);
    if (nuv > 0) {
        lua_createtable(L, nuv, 0);
        set_uvtable(L, -2);
    }
    return p;
}

int lcompat_getiuservalue(lua_State *L, int idx, int n)
{
    if (get_uvtable(L, idx) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNONE;
    }
    lua_rawgeti(L, -1, n);
    lua_remove(L, -2);
    return lua_type(L, -1);
}

int lcompat_setiuservalue(lua_State *L, int idx, int n)
{
    idx = lua_absindex(L, idx);
    if (get_uvtable(L, idx) != LUA_TTABLE) {
        lua_pop(L, 2);
        return 0;
    }
    lua_insert(L, -2);
    lua_rawseti(L, -2, n);
    lua_pop(L, 1);
    return 1;
}

/* ---- the rest ------------------------------------------------------------------------ */

int lcompat_typeerror(lua_State *L, int arg, const char *tname)
{
    const char *found;
    if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
        found = lua_tostring(L, -1);
    else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
        found = "light userdata";
    else
        found = luaL_typename(L, arg);
    return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, found));
}

#if LCOMPAT_JIT

/* ---- the 64-bit rule ------------------------------------------------------------------ */

int lcompat_isinteger(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TNUMBER) /* a numeric string is no integer, as in 5.4 */
        return 0;
    int isint;
    lcompat_tointegerx(L, idx, &isint);
    return isint;
}

lua_Integer lcompat_tointegerx(lua_State *L, int idx, int *isint)
{
    int isnum;
    lua_Number n = lua_tonumberx(L, idx, &isnum);
    bool ok = isnum && n >= -(lua_Number)LCOMPAT_EXACT_MAX && n <= (lua_Number)LCOMPAT_EXACT_MAX &&
              n == floor(n) && !(n == 0 && signbit(n)); /* -0.0 is a float, as in 5.4 */
    if (isint)
        *isint = ok;
    return ok ? (lua_Integer)n : 0;
}

/* A triton.Error with code out_of_range, so that a reply that cannot be
 * converted fails with it (not as an internal error). */
static int range_error(lua_State *L, const char *digits)
{
    bool method;
    const char *fname = largs_running_name(L, &method); /* "?" in a tail call */
    bool named = strcmp(fname, "?") != 0;
    return lerror_raisef(
        L, TRITON_OUT_OF_RANGE,
        "integer %s%s%s%s is beyond 2^53, the largest a LuaJIT number holds exactly", digits,
        named ? " in '" : "", named ? fname : "", named ? "'" : "");
}

void lcompat_pushinteger(lua_State *L, lua_Integer v)
{
    if (v < -LCOMPAT_EXACT_MAX || v > LCOMPAT_EXACT_MAX) {
        char digits[24];
        snprintf(digits, sizeof digits, "%" PRId64, (int64_t)v);
        range_error(L, digits);
    }
    (lua_pushinteger)(L, v);
}

/* ---- messages as 5.4 words them --------------------------------------------------------- */

/* 5.4's lua_pushfstring: %% %c %d %I %f %p %s %U. */
const char *lcompat_pushvfstring(lua_State *L, const char *fmt, va_list ap)
{
    int n = 0;
    const char *e;
    while ((e = strchr(fmt, '%')) != NULL) {
        char buf[64];
        luaL_checkstack(L, 3, "lua_pushfstring");
        lua_pushlstring(L, fmt, (size_t)(e - fmt));
        switch (e[1]) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            lua_pushstring(L, s ? s : "(null)");
            break;
        }
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            lua_pushlstring(L, buf, 1);
            break;
        case 'd':
            snprintf(buf, sizeof buf, "%d", va_arg(ap, int));
            lua_pushstring(L, buf);
            break;
        case 'I':
            snprintf(buf, sizeof buf, "%lld", (long long)va_arg(ap, lua_Integer));
            lua_pushstring(L, buf);
            break;
        case 'f':
            snprintf(buf, sizeof buf, "%.14g", (double)va_arg(ap, lua_Number));
            if (buf[strspn(buf, "-0123456789")] == '\0') /* looks like an int */
                strcat(buf, ".0");
            lua_pushstring(L, buf);
            break;
        case 'p':
            snprintf(buf, sizeof buf, "%p", va_arg(ap, void *));
            lua_pushstring(L, buf);
            break;
        case 'U': {
            unsigned long x = (unsigned long)va_arg(ap, long);
            int k = 0;
            if (x < 0x80)
                buf[k++] = (char)x;
            else if (x < 0x800) {
                buf[k++] = (char)(0xC0 | (x >> 6));
                buf[k++] = (char)(0x80 | (x & 0x3F));
            } else if (x < 0x10000) {
                buf[k++] = (char)(0xE0 | (x >> 12));
                buf[k++] = (char)(0x80 | ((x >> 6) & 0x3F));
                buf[k++] = (char)(0x80 | (x & 0x3F));
            } else {
                buf[k++] = (char)(0xF0 | ((x >> 18) & 0x07));
                buf[k++] = (char)(0x80 | ((x >> 12) & 0x3F));
                buf[k++] = (char)(0x80 | ((x >> 6) & 0x3F));
                buf[k++] = (char)(0x80 | (x & 0x3F));
            }
            lua_pushlstring(L, buf, (size_t)k);
            break;
        }
        case '%':
            lua_pushliteral(L, "%");
            break;
        default:
            lua_pushliteral(L, "?");
            break;
        }
        n += 2;
        fmt = e[1] ? e + 2 : e + 1;
        lua_concat(L, n);
        n = 1;
    }
    lua_pushstring(L, fmt);
    lua_concat(L, n + 1);
    return lua_tostring(L, -1);
}

const char *lcompat_pushfstring(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *s = lcompat_pushvfstring(L, fmt, ap);
    va_end(ap);
    return s;
}

int lcompat_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    luaL_where(L, 1);
    lcompat_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

int lcompat_argerror(lua_State *L, int arg, const char *extramsg)
{
    lua_Debug ar;
    if (!lua_getstack(L, 0, &ar))
        return lcompat_error(L, "bad argument #%d (%s)", arg, extramsg);
    bool method;
    const char *name = largs_running_name(L, &method);
    if (method && --arg == 0)
        return lcompat_error(L, "calling '%s' on bad self (%s)", name, extramsg);
    return lcompat_error(L, "bad argument #%d to '%s' (%s)", arg, name, extramsg);
}

void lcompat_checktype(lua_State *L, int arg, int t)
{
    if (lua_type(L, arg) != t)
        lcompat_typeerror(L, arg, lua_typename(L, t));
}

void lcompat_checkany(lua_State *L, int arg)
{
    if (lua_type(L, arg) == LUA_TNONE)
        lcompat_argerror(L, arg, "value expected");
}

void *lcompat_checkudata(lua_State *L, int arg, const char *tname)
{
    void *p = luaL_testudata(L, arg, tname);
    if (!p)
        lcompat_typeerror(L, arg, tname);
    return p;
}

const char *lcompat_checklstring(lua_State *L, int arg, size_t *len)
{
    const char *s = lua_tolstring(L, arg, len);
    if (!s)
        lcompat_typeerror(L, arg, "string");
    return s;
}

const char *lcompat_optlstring(lua_State *L, int arg, const char *def, size_t *len)
{
    if (lua_isnoneornil(L, arg)) {
        if (len)
            *len = def ? strlen(def) : 0;
        return def;
    }
    return lcompat_checklstring(L, arg, len);
}

lua_Number lcompat_checknumber(lua_State *L, int arg)
{
    int isnum;
    lua_Number n = lua_tonumberx(L, arg, &isnum);
    if (!isnum)
        lcompat_typeerror(L, arg, "number");
    return n;
}

lua_Number lcompat_optnumber(lua_State *L, int arg, lua_Number def)
{
    return lua_isnoneornil(L, arg) ? def : lcompat_checknumber(L, arg);
}

lua_Integer lcompat_checkinteger(lua_State *L, int arg)
{
    int isint;
    lua_Integer v = lcompat_tointegerx(L, arg, &isint);
    if (!isint) {
        if (lua_isnumber(L, arg))
            lcompat_argerror(L, arg, "number has no integer representation");
        else
            lcompat_typeerror(L, arg, "number");
    }
    return v;
}

lua_Integer lcompat_optinteger(lua_State *L, int arg, lua_Integer def)
{
    return lua_isnoneornil(L, arg) ? def : lcompat_checkinteger(L, arg);
}

/* ---- lua_yieldk ----------------------------------------------------------------------- */

static const char yield_marker = 0;

#define TRAMPOLINE_KEY "triton.core.yieldable"

/* Built once per state: wrap(raw) -> the function that runs raw under the trampoline. */
static const char trampoline[] =
    "local MARK = ...\n"
    "local yield, select, unpack, rawequal = coroutine.yield, select, unpack, rawequal\n"
    "local function settle(...)\n"
    "  if select('#', ...) == 0 or not rawequal((...), MARK) then return ... end\n"
    "  local n, v = select('#', ...), {...}\n"
    "  local k, kept = v[2], v[3]\n"
    "  if kept < 0 then return k(unpack(v, 4, n)) end\n"
    "  yield(unpack(v, 4 + kept, n))\n"
    "  return settle(k(unpack(v, 4, 3 + kept)))\n"
    "end\n"
    "return function(raw)\n"
    "  return function(...) return settle(raw(...)) end\n"
    "end\n";

struct kcont {
    lua_KFunction k;
    lua_KContext ctx;
};

/* The continuation as a C function: the kept slots are its arguments. */
static int kcall(lua_State *L)
{
    struct kcont *c = lua_touserdata(L, lua_upvalueindex(1));
    return c->k(L, LUA_YIELD, c->ctx);
}

int lcompat_yieldk(lua_State *L, int nresults, lua_KContext ctx, lua_KFunction k)
{
    int kept = lua_gettop(L) - nresults;
    luaL_checkstack(L, 3, "yield");
    struct kcont *c = lua_newuserdata(L, sizeof *c);
    c->k = k;
    c->ctx = ctx;
    lua_pushcclosure(L, kcall, 1);
    lua_insert(L, 1);
    (lua_pushinteger)(L, kept);
    lua_insert(L, 2);
    lua_pushlightuserdata(L, (void *)&yield_marker);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* The trampoline makes the call: the marker, the callee, -1 (no slots kept, no
 * yield), the arguments. */
int lcompat_tailcall(lua_State *L, int nargs)
{
    int below = lua_gettop(L) - nargs - 1;
    for (int i = 0; i < below; i++)
        lua_remove(L, 1);
    luaL_checkstack(L, 2, "call");
    (lua_pushinteger)(L, -1);
    lua_insert(L, 2);
    lua_pushlightuserdata(L, (void *)&yield_marker);
    lua_insert(L, 1);
    return lua_gettop(L);
}

void lcompat_yieldable(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, TRAMPOLINE_KEY);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (luaL_loadbuffer(L, trampoline, sizeof trampoline - 1, "@triton/core.lua") != 0)
            lua_error(L);
        lua_pushlightuserdata(L, (void *)&yield_marker);
        lua_call(L, 1, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, TRAMPOLINE_KEY);
    }
    lua_insert(L, -2);
    lua_call(L, 1, 1);
}

/* ---- the main thread -------------------------------------------------------------------- */

#define MAINTHREAD_KEY "triton.core.mainthread"

lua_State *lcompat_mainthread(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, MAINTHREAD_KEY);
    lua_State *T = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (T)
        return T;
    if (lua_pushthread(L)) /* the main thread itself */
        T = L;
    else {
        lua_pop(L, 1);
        T = lua_newthread(L); /* a thread of the state: its hooks are the state's */
    }
    lua_setfield(L, LUA_REGISTRYINDEX, MAINTHREAD_KEY);
    return T;
}

#endif /* LCOMPAT_JIT */

#endif /* LUA_VERSION_NUM < 504 */
