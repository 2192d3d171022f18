/*
 * host.h: the parts of the tritonlua host that are not main(): the libedit
 * binding the REPL uses for line editing, history and completion.
 */
#ifndef TRITON_HOST_H
#define TRITON_HOST_H

#include <lua.h>

/* "triton.readline": readline(prompt), add_history(line), read_history(path),
 * write_history(path), set_completer(fn), isatty(fd). Registered by the host in
 * package.preload; it exists only in the host, which links libedit. */
int luaopen_triton_readline(lua_State *L);

#endif
