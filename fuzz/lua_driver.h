/*
 * lua_driver.h: the set-up the fuzz targets that drive the Lua module share
 * (fuzz_lua_tensor.c, fuzz_json.c). A target's driver is a Lua chunk that takes
 * (module, fail) and returns the function run on every input; fail(msg) reports
 * a broken invariant through fuzz_fail. Header-only, because only these targets
 * link Lua (support.c serves every target).
 */
#ifndef TRITON_FUZZ_LUA_DRIVER_H
#define TRITON_FUZZ_LUA_DRIVER_H

#include <stddef.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "support.h"
#include "triton_lua.h"

static int fuzz_lua_fail(lua_State *Ls)
{
    fuzz_fail("%s", luaL_checkstring(Ls, 1));
}

/* A state with the standard libraries and triton loaded; runs the driver chunk
 * with triton's field `field` (NULL: triton itself) and fuzz_lua_fail, and
 * returns a registry reference to the function it returned. */
static int fuzz_lua_driver(lua_State **out, const char *source, size_t len, const char *field)
{
    lua_State *L = luaL_newstate();
    if (!L)
        fuzz_fail("no Lua state");
    luaL_openlibs(L);
    luaL_requiref(L, "triton", luaopen_triton, 1);
    if (luaL_loadbufferx(L, source, len, "=fuzz_driver", "t") != LUA_OK)
        fuzz_fail("driver: %s", lua_tostring(L, -1));
    if (field)
        lua_getfield(L, -2, field);
    else
        lua_pushvalue(L, -2);
    lua_pushcfunction(L, fuzz_lua_fail);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK)
        fuzz_fail("driver: %s", lua_tostring(L, -1));
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    *out = L;
    return ref;
}

#endif
