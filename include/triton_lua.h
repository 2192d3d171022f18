/*
 * triton_lua.h: embed the tritonlua module in an application that hosts Lua 5.4.
 *
 *   luaL_requiref(L, "triton", luaopen_triton, 1);   -- or package.preload
 *
 * luaopen_triton registers the module's C part ("triton.core") and its Lua part
 * (compiled into the library) in package.preload, then returns require("triton").
 * Link with `pkg-config --libs tritonlua` or CMake's tritonlua::tritonlua.
 */
#ifndef TRITON_LUA_H
#define TRITON_LUA_H

#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TRITON_EXPORT __attribute__((visibility("default")))
#else
#define TRITON_EXPORT
#endif

TRITON_EXPORT int luaopen_triton(lua_State *L);
TRITON_EXPORT int luaopen_triton_core(lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
