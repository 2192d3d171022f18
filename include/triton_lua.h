/*
 * triton_lua.h: embed the tritonlua module in an application that hosts Lua 5.4.
 *
 *   luaL_requiref(L, "triton", luaopen_triton, 1);   -- or package.preload
 *
 * luaopen_triton registers the module's C part ("triton.core") and its Lua part
 * (compiled into the library) in package.preload, then returns require("triton").
 * Link with `pkg-config --libs tritonlua` or CMake's tritonlua::tritonlua.
 *
 * Every function below takes the lua_State the host created (luaL_newstate's
 * result, the state's main thread) in which the module was loaded.
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

/* ---- interrupts --------------------------------------------------------------------- */

/* Interrupts the Lua state L, as Ctrl-C does in the tritonlua host: the wait in
 * progress on L (c:infer, f:get_result, triton.wait, triton.sleep, triton.run,
 * every blocking call of the module; they look every 100 ms) cancels every
 * request and stream in flight on L and raises a triton.Error with code
 * "cancelled" and message "interrupted". An interrupt that comes while nothing
 * waits on L is kept for the next wait on L (only L's), unless the host drops
 * it with triton_lua_interrupt_clear first; a wait that raises it consumes it.
 * Rule of thumb for a host that runs chunks (a REPL): clear before and after
 * each chunk, so that a late Ctrl-C never reaches an unrelated one.
 *
 * A host may also set a hook on L when interrupted, as the stock lua
 * interpreter does (lua.c's SIGINT handler), to stop pure Lua code: a wait
 * takes a hook set on L since it began for the same interrupt, removes it and
 * raises the same triton.Error.
 *
 * An interrupt also ends a wait on L at once and makes L's descriptor
 * (triton_lua_fd) readable, so that a host waiting on it polls and sees it.
 *
 * Async-signal-safe and callable from any thread (lock-free atomics and one
 * eventfd write, no allocation, no Lua API): call them from a SIGINT handler, a
 * watchdog thread or a UI thread. Unknown states (module not loaded, or closed)
 * are ignored. */
TRITON_EXPORT void triton_lua_interrupt(lua_State *L);
TRITON_EXPORT void triton_lua_interrupt_clear(lua_State *L);

/* For a host's own interrupt hook (the one lua.c installs with lua_sethook,
 * count 1), so that pure Lua code stops with the same value a wait raises:
 * consumes L's interrupt (clears it, cancels every request and stream in flight
 * on L) and raises the triton.Error with code "cancelled" and message
 * "interrupted", which pcall catches. Does not return. Not async-signal-safe:
 * call it from the hook, which runs on the Lua thread. */
TRITON_EXPORT int triton_lua_raise_interrupted(lua_State *L);

/* ---- callback errors ------------------------------------------------------------------- */

/* An error raised by a request's callback (c:async_infer(..., cb) and the
 * like) is reported and the loop goes on. By default the report is the error's
 * traceback on stderr; a host replaces it here (fn NULL: back to the default)
 * or from Lua with triton.on_callback_error(fn). fn gets the traceback text and
 * ud; it runs on the Lua thread, inside the wait that ran the callback, and
 * must not raise. Returns 0, or -1 if the module's state could not be set up. */
typedef void (*triton_lua_error_fn)(lua_State *L, const char *traceback, void *ud);
TRITON_EXPORT int triton_lua_on_callback_error(lua_State *L, triton_lua_error_fn fn, void *ud);

/* ---- the host's own event loop ------------------------------------------------------------ */

/* A descriptor that turns readable whenever triton_lua_poll(L, 0) has work
 * (replies, timers, coroutines of triton.spawn to resume): watch it for POLLIN
 * in the host's loop. It stays valid while the module's state lives. -1 on
 * failure. This is triton.fd() in Lua. */
TRITON_EXPORT int triton_lua_fd(lua_State *L);
/* Runs what is ready, waiting up to timeout seconds (0: not at all) for
 * something: callbacks, futures and spawned coroutines go on here. Returns the
 * number of replies handed over and coroutines resumed, or -1 with the error
 * value pushed on L's stack (an interrupt, or an error of the loop). This is
 * triton.poll(timeout) in Lua. */
TRITON_EXPORT int triton_lua_poll(lua_State *L, double timeout);

#ifdef __cplusplus
}
#endif

#endif
