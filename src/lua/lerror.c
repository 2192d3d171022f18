/*
 * lerror.c: triton.Error, the one error value the client raises. A table
 * {message=, code=, status=} whose metatable (core.Error) reads well through
 * __tostring, as lua.c's message handler needs for a non-string error.
 */
#include <stdarg.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lclient.h"

void lerror_push(lua_State *L, const struct triton_error *err, enum lerror_origin origin)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, err->message[0] ? err->message : triton_code_word(err->code));
    lua_setfield(L, -2, "message");
    lua_pushstring(L, triton_code_word(err->code == TRITON_OK ? TRITON_UNKNOWN : err->code));
    lua_setfield(L, -2, "code");
    if (origin == LERROR_HTTP && err->status > 0) {
        lua_pushinteger(L, err->status);
        lua_setfield(L, -2, "status");
    } else if (origin == LERROR_GRPC && err->status > 0 && triton_grpc_status_name(err->status)) {
        lua_pushstring(L, triton_grpc_status_name(err->status));
        lua_setfield(L, -2, "status");
    }
    luaL_setmetatable(L, LERROR_MT);
}

int lerror_raise(lua_State *L, const struct triton_error *err, enum lerror_origin origin)
{
    lerror_push(L, err, origin);
    return lua_error(L);
}

int lerror_raisef(lua_State *L, enum triton_code code, const char *fmt, ...)
{
    struct triton_error err = {.code = code};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    return lerror_raise(L, &err, LERROR_LOCAL);
}

/* "triton.Error: not_found (HTTP 400): Request for unknown model ..." */
static int error_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "status");
    lua_getfield(L, 1, "message");
    const char *code = lua_isstring(L, 2) ? lua_tostring(L, 2) : "unknown";
    const char *msg = lua_isstring(L, 4) ? lua_tostring(L, 4) : "";
    if (lua_type(L, 3) == LUA_TNUMBER)
        lua_pushfstring(L, "triton.Error: %s (HTTP %d): %s", code, (int)lua_tointeger(L, 3), msg);
    else if (lua_type(L, 3) == LUA_TSTRING)
        lua_pushfstring(L, "triton.Error: %s (gRPC %s): %s", code, lua_tostring(L, 3), msg);
    else
        lua_pushfstring(L, "triton.Error: %s: %s", code, msg);
    return 1;
}

void lerror_open(lua_State *L)
{
    luaL_newmetatable(L, LERROR_MT);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_setfield(L, -2, "Error");
}
