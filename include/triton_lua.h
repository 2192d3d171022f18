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

/* Cancels, as Ctrl-C does in the tritonlua host, the blocking call a script is
 * waiting in: c:infer, fut:get, sleep and every other wait of the module poll for
 * it every 100 ms. The wait that sees it first cancels every request and stream
 * in flight on its Lua state and raises a triton.Error with code "cancelled" and
 * message "interrupted". It is one flag for the process, so with several Lua
 * states it reaches whichever waits first, and one that comes while nothing
 * waits stays set and cancels the next wait.
 *
 * Async-signal-safe and callable from any thread (it only stores to a volatile
 * sig_atomic_t): call it from a SIGINT handler, a watchdog thread or a UI thread. */
TRITON_EXPORT void triton_lua_interrupt(void);

/* Drops an interrupt nothing consumed: a host calls it before running a new
 * chunk, so that a Ctrl-C from before cannot cancel it. */
TRITON_EXPORT void triton_lua_clear_interrupt(void);

/* For a host's own SIGINT hook (the one lua.c installs with lua_sethook, count
 * 1): consumes the interrupt as a wait does (clears it, cancels every request
 * and stream in flight on L) and raises the documented triton.Error, code
 * "cancelled", message "interrupted", which pcall catches. Does not return. */
TRITON_EXPORT int triton_lua_raise_interrupted(lua_State *L);

/* For a host that owns its event loop (luv, cqueues, a C poll() loop): watch
 * triton_lua_fd(L) for readability (POLLIN) and call triton_lua_poll(L, 0) when
 * it fires; nothing then blocks the host. The descriptor is one per Lua state
 * and stays valid while it lives; -1 on failure. triton_lua_poll runs what is
 * ready (completions, callbacks, coroutines' wake-ups), waiting at most
 * `timeout` seconds, and returns how many ran, or -1 with the error value on
 * the Lua stack. Both are triton.fd() and triton.poll(timeout) in Lua. */
TRITON_EXPORT int triton_lua_fd(lua_State *L);
TRITON_EXPORT int triton_lua_poll(lua_State *L, double timeout);

#ifdef __cplusplus
}
#endif

#endif
