/*
 * ltriton.c: entry points of the module.
 *   luaopen_triton_core  the C part, loaded as triton/core.so by `require "triton"`
 *                        (lua/triton/init.lua requires it) or from package.preload.
 *   luaopen_triton       for hosts that link the static library: preloads the C
 *                        part and the compiled-in Lua part, then requires "triton".
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "triton_lua.h"
#include "lua/lcore.h"

int luaopen_triton_core(lua_State *L)
{
    luaL_checkversion(L);
    lua_newtable(L);
    ltensor_open(L);
    ltensor_ops_open(L);
    ltensor_lent_open(L);
    lutil_open(L);
    lclient_open(L);
    limage_open(L);
    return 1;
}

#ifdef TRITON_EMBED_LUA
#include "lua/embedded.h"

/* package.preload loader for one compiled-in Lua module; upvalue 1 is its entry. */
static int load_embedded(lua_State *L)
{
    const struct triton_embedded_lua *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbufferx(L, (const char *)m->source, m->size, m->chunkname, "t") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, m->module);
    lua_call(L, 1, 1);
    return 1;
}

int luaopen_triton(lua_State *L)
{
    luaL_checkversion(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_triton_core);
    lua_setfield(L, -2, "triton.core");
    for (const struct triton_embedded_lua *m = triton_embedded_lua; m->module; m++) {
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->module);
    }
    lua_pop(L, 1);
    /* Go through require so that package.loaded.triton is the one table every
     * later `require "triton"` (from scripts or from our own Lua modules) sees. */
    lua_getglobal(L, "require");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "triton: the package library must be open before luaopen_triton");
    lua_pushliteral(L, "triton");
    lua_call(L, 1, 1);
    return 1;
}
#endif
