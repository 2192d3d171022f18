/*
 * c_host.c: a C application with its own poll() loop that hosts Lua 5.4 and
 * drives tritonlua without ever blocking on it. Copy what you need.
 *
 *   cc -o c_host c_host.c $(pkg-config --cflags --libs tritonlua)
 *   ./c_host app.lua [args...]
 *
 * app.lua runs with the global `triton` loaded (its `...` are the args) and
 * returns a table of hooks: tick() is called every 10 ms from the host's own
 * timer, done() -> true ends the loop, finish() -> an exit status (optional).
 * Replies reach the app's callbacks and triton.spawn coroutines inside
 * triton_lua_poll(L, 0), which the loop calls when triton_lua_fd(L) is
 * readable; it runs what is ready and never waits. Ctrl-C interrupts the
 * calls in flight (triton_lua_interrupt is async-signal-safe); the loop goes on.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <triton_lua.h>

#define TICK_NS 10000000L /* the host's own timer: 10 ms */

static lua_State *host_state; /* for the SIGINT handler */

static void on_sigint(int sig)
{
    (void)sig;
    triton_lua_interrupt(host_state);
}

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
    return 1;
}

/* Reports the error value on top of the stack and pops it. */
static void report(lua_State *L, const char *where)
{
    fprintf(stderr, "c_host: %s: %s\n", where, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
}

/* Calls app[name]() (the app table at index 1), leaving one result; false if it
 * raised (reported). A missing hook returns nil. */
static int call_hook(lua_State *L, const char *name)
{
    lua_pushcfunction(L, traceback);
    if (lua_getfield(L, 1, name) == LUA_TNIL) {
        lua_remove(L, -2);
        return 1;
    }
    if (lua_pcall(L, 0, 1, -2) != LUA_OK) {
        report(L, name);
        lua_pop(L, 1);
        return 0;
    }
    lua_remove(L, -2);
    return 1;
}

/* Runs the script with its args; leaves the app table at index 1. */
static int load_app(lua_State *L, int argc, char **argv)
{
    lua_pushcfunction(L, traceback);
    if (luaL_loadfile(L, argv[1]) != LUA_OK) {
        report(L, "loading the app");
        return -1;
    }
    for (int i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    if (lua_pcall(L, argc - 2, 1, 1) != LUA_OK) {
        report(L, "running the app");
        return -1;
    }
    lua_remove(L, 1);
    if (!lua_istable(L, 1)) {
        fprintf(stderr, "c_host: %s must return a table of hooks, it returned a %s\n", argv[1],
                luaL_typename(L, 1));
        return -1;
    }
    return 0;
}

/* Whether a failed triton_lua_poll raised an interrupt (error code "cancelled"). */
static int is_interrupt(lua_State *L)
{
    if (!lua_istable(L, -1))
        return 0;
    lua_getfield(L, -1, "code");
    int yes = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "cancelled") == 0;
    lua_pop(L, 1);
    return yes;
}

static int run_loop(lua_State *L, int tfd)
{
    int fd = triton_lua_fd(L);
    if (fd < 0) {
        fprintf(stderr, "c_host: triton_lua_fd failed\n");
        return -1;
    }
    struct pollfd fds[2] = {{.fd = fd, .events = POLLIN}, {.fd = tfd, .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0 && errno != EINTR) {
            perror("c_host: poll");
            return -1;
        }
        /* The host's timer first, then I/O, in the order libuv runs them. */
        if (n > 0 && (fds[1].revents & POLLIN)) {
            uint64_t expirations;
            if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) {
                perror("c_host: reading the timer");
                return -1;
            }
            if (!call_hook(L, "tick"))
                return -1;
            lua_pop(L, 1);
        }
        /* Ctrl-C: the handler's triton_lua_interrupt makes the descriptor
         * readable, and this poll raises the interrupt. */
        if (n > 0 && (fds[0].revents & POLLIN) && triton_lua_poll(L, 0) < 0) {
            int interrupted = is_interrupt(L);
            report(L, "triton_lua_poll");
            if (!interrupted)
                return -1;
        }
        if (!call_hook(L, "done"))
            return -1;
        int done = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (done)
            return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s app.lua [args...]\n", argv[0]);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "c_host: out of memory\n");
        return 1;
    }
    luaL_openlibs(L);
    luaL_requiref(L, "triton", luaopen_triton, 1);
    lua_pop(L, 1);
    host_state = L;
    signal(SIGINT, on_sigint);

    int status = 1;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
    if (tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0) {
        perror("c_host: the 10 ms timer");
    } else if (load_app(L, argc, argv) == 0 && run_loop(L, tfd) == 0 && call_hook(L, "finish")) {
        status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
        lua_pop(L, 1);
    }
    if (tfd >= 0)
        close(tfd);
    signal(SIGINT, SIG_DFL);
    lua_close(L);
    return status;
}
