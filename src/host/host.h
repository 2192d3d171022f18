/*
 * host.h: the parts of the tritonlua host that are not main(): its Lua
 * allocator, and the libedit binding the REPL uses for line editing, history
 * and completion.
 */
#ifndef TRITON_HOST_H
#define TRITON_HOST_H

#include <lua.h>

/* The host's Lua state, with the allocator of lalloc.c; host_close closes it
 * and gives back the blocks that allocator kept. One state per process. */
lua_State *host_newstate(void);
void host_close(lua_State *L);

/* "triton.readline": readline(prompt), add_history(line), read_history(path),
 * write_history(path), set_completer(fn), isatty(fd). Registered by the host in
 * package.preload; it exists only in the host, which links libedit. */
int luaopen_triton_readline(lua_State *L);

#endif
