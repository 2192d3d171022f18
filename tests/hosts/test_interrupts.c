/*
 * test_interrupts.c: triton_lua_interrupt reaches one Lua state only, and an
 * interrupt is spent once a wait consumed it or the host cleared it
 * (include/triton_lua.h), against the reference server over HTTP and gRPC.
 *
 * Two lua_States in one process, each with its own client:
 *   - blocking calls, one state per thread: interrupting L1 during a long call
 *     (x-fault delay) cancels it with "cancelled" while L2's concurrent call
 *     answers; L1's next call succeeds (the wait consumed the interrupt);
 *   - an interrupt while nothing waits is kept for the next wait on that state
 *     only, and triton_lua_interrupt_clear drops it;
 *   - the host's fd/poll path (one thread, one poll() over both descriptors, as
 *     examples/hosts/c_host.c does): the interrupted state's triton_lua_poll
 *     raises "cancelled" and its call's callback gets "cancelled"; the other
 *     state's callback gets its answer.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <triton_lua.h>

#include "check.h"
#include "testserver.h"

/* Run in each state with the server's URL as `...`. call(ms) makes a blocking
 * infer (the server waits ms first) and returns "ok" or the error's code;
 * submit(ms) makes it with a callback that sets `got` likewise. */
static const char PRELUDE[] =
    "local url = ...\n"
    "local triton = require 'triton'\n"
    "local c = triton.connect(url)\n"
    "local function inputs()\n"
    "  local a, b = {}, {}\n"
    "  for i = 1, 16 do a[i], b[i] = i, 1 end\n"
    "  return {INPUT0 = triton.tensor(a, 'INT32', {1, 16}), INPUT1 = triton.tensor(b, 'INT32', "
    "{1, 16})}\n"
    "end\n"
    "local function opts(ms) return {headers = {['x-fault'] = 'delay=' .. (ms or 0)}} end\n"
    "local function outcome(r, err)\n"
    "  if err then return type(err) == 'table' and err.code or tostring(err) end\n"
    "  local s = r:as_tensor('OUTPUT0'):totable()[1]\n"
    "  for i = 1, 16 do if s[i] ~= i + 1 then return 'wrong sum at ' .. i end end\n"
    "  return 'ok'\n"
    "end\n"
    "function call(ms)\n"
    "  local ok, r = pcall(c.infer, c, 'simple', inputs(), opts(ms))\n"
    "  if ok then return outcome(r) end\n"
    "  return outcome(nil, r)\n"
    "end\n"
    "function submit(ms)\n"
    "  got = nil\n"
    "  c:async_infer('simple', inputs(), opts(ms), function(r, err) got = outcome(r, err) end)\n"
    "end\n"
    "function close() c:close() end\n";

static lua_State *new_state(const char *url)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "triton", luaopen_triton, 0);
    lua_pop(L, 1);
    int rc = luaL_loadstring(L, PRELUDE);
    if (rc == LUA_OK) {
        lua_pushstring(L, url);
        rc = lua_pcall(L, 1, 0, 0);
    }
    if (rc != LUA_OK) {
        fprintf(stderr, "prelude: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

static void close_state(lua_State *L)
{
    lua_getglobal(L, "close");
    lua_pcall(L, 0, 0, 0);
    lua_close(L);
}

/* Runs fn(ms) in L (a global of the prelude) and copies its string result. */
static void run(lua_State *L, const char *fn, int ms, char *out, size_t size)
{
    lua_getglobal(L, fn);
    lua_pushinteger(L, ms);
    int rc = lua_pcall(L, 1, 1, 0);
    snprintf(out, size, "%s%s", rc == LUA_OK ? "" : "raised: ",
             lua_isstring(L, -1) ? lua_tostring(L, -1) : "(nothing)");
    lua_pop(L, 1);
}

/* `got` of L, as a string ("" while the callback has not run). */
static void got_of(lua_State *L, char *out, size_t size)
{
    lua_getglobal(L, "got");
    snprintf(out, size, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
}

/* ---- blocking calls, one state per thread --------------------------------------------- */

struct caller {
    lua_State *L;
    int delay_ms;
    atomic_int started;
    char result[256];
};

static void *caller_main(void *arg)
{
    struct caller *c = arg;
    atomic_store(&c->started, 1);
    run(c->L, "call", c->delay_ms, c->result, sizeof(c->result));
    return NULL;
}

static void test_blocking(lua_State *L1, lua_State *L2)
{
    /* L1's call would take 5 s; L2's 1.5 s, interrupted or not. An interrupt that
     * lands before L1's wait begins is kept for that wait, so the order of the
     * threads does not matter. */
    struct caller c1 = {.L = L1, .delay_ms = 5000}, c2 = {.L = L2, .delay_ms = 1500};
    pthread_t t1, t2;
    CHECK_INT(pthread_create(&t1, NULL, caller_main, &c1), 0);
    CHECK_INT(pthread_create(&t2, NULL, caller_main, &c2), 0);
    while (!atomic_load(&c1.started) || !atomic_load(&c2.started))
        sched_yield();
    triton_lua_interrupt(L1); /* from another thread, as a watchdog would */
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_STR(c1.result, "cancelled");
    CHECK_STR(c2.result, "ok");

    char r[256];
    run(L1, "call", 0, r, sizeof(r)); /* the wait that raised it consumed it */
    CHECK_STR(r, "ok");
    run(L2, "call", 0, r, sizeof(r));
    CHECK_STR(r, "ok");
}

/* ---- interrupts while nothing waits ------------------------------------------------------ */

static void test_idle(lua_State *L1, lua_State *L2)
{
    char r[256];
    triton_lua_interrupt(L1);
    run(L2, "call", 0, r, sizeof(r)); /* another state's call: not for it */
    CHECK_STR(r, "ok");
    run(L1, "call", 0, r, sizeof(r)); /* kept for L1's next wait */
    CHECK_STR(r, "cancelled");
    run(L1, "call", 0, r, sizeof(r));
    CHECK_STR(r, "ok");

    triton_lua_interrupt(L1);
    triton_lua_interrupt_clear(L1); /* the host drops a late one */
    run(L1, "call", 0, r, sizeof(r));
    CHECK_STR(r, "ok");
}

/* ---- the host's fd/poll path ------------------------------------------------------------- */

/* Polls both states' descriptors until both callbacks ran; the loop never waits
 * inside triton (timeout 0), only in its own poll(). Returns 0, or -1 after
 * printing why: a triton_lua_poll failed, or the descriptors stayed quiet for
 * IDLE_LIMIT polls in a row (well past every delay the server was asked for)
 * with a callback missing, in which case each state is polled once anyway to
 * tell a lost call from a descriptor that did not turn readable. */
#define IDLE_LIMIT 100 /* polls of 100 ms */
static int poll_until_both(lua_State *L1, lua_State *L2, char *got1, char *got2, size_t size)
{
    lua_State *states[2] = {L1, L2};
    struct pollfd fds[2] = {{.fd = triton_lua_fd(L1), .events = POLLIN},
                            {.fd = triton_lua_fd(L2), .events = POLLIN}};
    CHECK(fds[0].fd >= 0 && fds[1].fd >= 0);
    for (int idle = 0; idle < IDLE_LIMIT;) {
        got_of(L1, got1, size);
        got_of(L2, got2, size);
        if (*got1 && *got2)
            return 0;
        int n = poll(fds, 2, 100);
        idle = n == 0 ? idle + 1 : 0;
        for (int i = 0; n > 0 && i < 2; i++)
            if ((fds[i].revents & POLLIN) && triton_lua_poll(states[i], 0) < 0) {
                fprintf(stderr, "triton_lua_poll: %s\n", luaL_tolstring(states[i], -1, NULL));
                lua_pop(states[i], 2);
                return -1;
            }
    }
    for (int i = 0; i < 2; i++) {
        int ran = triton_lua_poll(states[i], 0);
        if (ran < 0)
            lua_pop(states[i], 1);
        fprintf(stderr,
                "L%d: its descriptor stayed quiet with a callback missing; poll(0) then ran %d\n",
                i + 1, ran);
    }
    return -1;
}

static void test_poll_path(lua_State *L1, lua_State *L2)
{
    char r[256], got1[256], got2[256];
    run(L1, "submit", 5000, r, sizeof(r));
    run(L2, "submit", 1000, r, sizeof(r));
    /* Once what the submits started has been run, L1's descriptor is quiet
     * (the server holds both replies for seconds)... */
    struct pollfd fd1 = {.fd = triton_lua_fd(L1), .events = POLLIN};
    for (int i = 0; i < 100 && poll(&fd1, 1, 0) == 1; i++)
        CHECK(triton_lua_poll(L1, 0) >= 0);
    CHECK_INT(poll(&fd1, 1, 0), 0);
    /* ...until an interrupt (a SIGINT handler, a UI thread) makes it readable,
     * so that a host waiting in its own poll() sees it at once. */
    triton_lua_interrupt(L1);
    CHECK_INT(poll(&fd1, 1, 0), 1);
    CHECK_INT(triton_lua_poll(L1, 0), -1);
    lua_getfield(L1, -1, "code");
    CHECK_STR(lua_tostring(L1, -1), "cancelled");
    lua_pop(L1, 2);
    CHECK_INT(poll_until_both(L1, L2, got1, got2, sizeof(got1)), 0);
    CHECK_STR(got1, "cancelled");
    CHECK_STR(got2, "ok");

    /* Spent: the next call on L1 answers. */
    run(L1, "submit", 0, r, sizeof(r));
    run(L2, "submit", 0, r, sizeof(r));
    CHECK_INT(poll_until_both(L1, L2, got1, got2, sizeof(got1)), 0);
    CHECK_STR(got1, "ok");
    CHECK_STR(got2, "ok");

    /* A cleared one never reaches the poll. */
    triton_lua_interrupt(L1);
    triton_lua_interrupt_clear(L1);
    run(L1, "submit", 0, r, sizeof(r));
    run(L2, "submit", 0, r, sizeof(r));
    CHECK_INT(poll_until_both(L1, L2, got1, got2, sizeof(got1)), 0);
    CHECK_STR(got1, "ok");
    CHECK_STR(got2, "ok");
}

static void test_transport(const char *url)
{
    fprintf(stderr, "== %s\n", url);
    lua_State *L1 = new_state(url), *L2 = new_state(url);
    CHECK(L1 && L2);
    if (L1 && L2) {
        test_blocking(L1, L2);
        test_idle(L1, L2);
        test_poll_path(L1, L2);
    }
    if (L1)
        close_state(L1);
    if (L2)
        close_state(L2);
}

int main(void)
{
    struct test_server s;
    if (test_server_start(&s, NULL) != 0)
        return 1;
    char url[128];
    snprintf(url, sizeof(url), "http://%s", s.http_url);
    test_transport(url);
    snprintf(url, sizeof(url), "grpc://%s", s.grpc_url);
    test_transport(url);
    test_server_stop(&s);
    return check_report("test_interrupts");
}
