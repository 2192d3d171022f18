/*
 * embed.c: an application that hosts Lua itself and links the installed static
 * library through pkg-config or CMake, as README's "Installing and embedding" says.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <triton_lua.h>

int main(void)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return 1;
    luaL_openlibs(L);
    luaL_requiref(L, "triton", luaopen_triton, 1);
    lua_pop(L, 1);
    int rc = luaL_dostring(L, "io.write(triton.tensor({{1, 2}, {3, 4}}, 'INT32'):sum(), '\\n')");
    if (rc != LUA_OK)
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
    lua_close(L);
    return rc == LUA_OK ? 0 : 1;
}
