/* The Lua part of the module, compiled in by cmake/EmbedLua.cmake. */
#ifndef TRITON_LUA_EMBEDDED_H
#define TRITON_LUA_EMBEDDED_H

#include <stddef.h>

struct triton_embedded_lua {
    const char *module;    /* "triton", "triton.repl", ... */
    const char *chunkname; /* "@triton/init.lua": what tracebacks show */
    const unsigned char *source;
    size_t size;
};

/* Terminated by an entry whose module is NULL. */
extern const struct triton_embedded_lua triton_embedded_lua[];

#endif
