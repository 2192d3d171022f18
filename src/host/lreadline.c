/*
 * lreadline.c: "triton.readline", a small binding to libedit's readline API for
 * the REPL (lua/triton/repl.lua).
 *
 * Completion: libedit calls complete_word() with the word before the cursor;
 * it calls the Lua completer set by set_completer(fn) as fn(word, line) and
 * expects a list of full replacements for the word. The Lua function runs in
 * the state that is inside readline() at that moment, under lua_pcall, so an
 * error in it cannot unwind through libedit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>

#include "host/host.h"

#define HISTORY_MAX 1000

/* Ctrl-C at the prompt abandons the line, as shells do, instead of killing the
 * process: while readline() runs, SIGINT sets this flag and writes a byte to a
 * pipe that read_key() polls beside the terminal; read_key() then reports end
 * of input, which ends readline().
 *
 * The pipe, not an interrupted read(), is what makes this reliable: SIGINT
 * goes to the whole process, and when the kernel hands it to another thread
 * (gRPC's, the event loop's) or while this one is busy redrawing, no read()
 * here is interrupted, and the prompt would stay deaf to Ctrl-C until the
 * next key. */
static volatile sig_atomic_t prompt_interrupted;
static int interrupt_pipe[2] = {-1, -1};

static void on_prompt_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    prompt_interrupted = 1;
    if (interrupt_pipe[1] >= 0) {
        ssize_t ignored = write(interrupt_pipe[1], "", 1);
        (void)ignored; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

static void drain_interrupt_pipe(void)
{
    char buf[64];
    while (interrupt_pipe[0] >= 0 && read(interrupt_pipe[0], buf, sizeof buf) > 0) {
    }
}

static int read_key(FILE *in)
{
    struct pollfd pfd[2] = {
        {.fd = fileno(in), .events = POLLIN},
        {.fd = interrupt_pipe[0], .events = POLLIN}, /* poll() skips a negative fd */
    };
    unsigned char c;
    for (;;) {
        if (prompt_interrupted)
            return EOF;
        int ready = poll(pfd, 2, -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return EOF;
        if (pfd[1].revents)
            continue; /* the flag is set: checked above */
        ssize_t n = read(pfd[0].fd, &c, 1);
        if (n == 1)
            return c;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        return EOF;
    }
}

/* Only one readline() runs at a time (libedit is not reentrant). */
static lua_State *reading_L;
static int completer_ref = LUA_NOREF;

/* Lua keeps '.' and ':' inside a word: "triton.te" and "t:res" are completed whole. */
static char word_breaks[] = " \t\n\"\\'`@$><=;|&{(,)[]+-*/%^~#";

static char *dup_lua_string(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The matches array readline expects: [0] the longest common prefix (what
 * replaces the word), then every candidate, then NULL; all malloc'd, freed by
 * libedit. */
static char **build_matches(lua_State *L, int list)
{
    size_t n = (size_t)lua_rawlen(L, list);
    size_t count = 0;
    for (size_t i = 1; i <= n; i++) {
        if (lua_rawgeti(L, list, (lua_Integer)i) == LUA_TSTRING)
            count++;
        lua_pop(L, 1);
    }
    if (count == 0)
        return NULL;
    char **matches = calloc(count + 2, sizeof *matches);
    if (!matches)
        return NULL;
    size_t m = 1;
    for (size_t i = 1; i <= n; i++) {
        if (lua_rawgeti(L, list, (lua_Integer)i) == LUA_TSTRING) {
            matches[m] = dup_lua_string(L, -1);
            if (!matches[m]) {
                lua_pop(L, 1);
                goto fail;
            }
            m++;
        }
        lua_pop(L, 1);
    }
    size_t prefix = strlen(matches[1]);
    for (size_t i = 2; i < m; i++) {
        size_t k = 0;
        while (k < prefix && matches[i][k] == matches[1][k])
            k++;
        prefix = k;
    }
    matches[0] = malloc(prefix + 1);
    if (!matches[0])
        goto fail;
    memcpy(matches[0], matches[1], prefix);
    matches[0][prefix] = '\0';
    return matches;
fail:
    for (size_t i = 0; i < m; i++)
        free(matches[i]);
    free(matches);
    return NULL;
}

static char **complete_word(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* no fallback to file names */
    lua_State *L = reading_L;
    if (!L || completer_ref == LUA_NOREF || !lua_checkstack(L, 4))
        return NULL;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, completer_ref);
    lua_pushstring(L, text);
    lua_pushlstring(L, rl_line_buffer ? rl_line_buffer : "", rl_line_buffer ? (size_t)start : 0);
    char **matches = NULL;
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1))
        matches = build_matches(L, lua_gettop(L));
    lua_settop(L, top);
    return matches;
}

/* readline([prompt]) -> line | nil at end of input | nil, "interrupted" (Ctrl-C) */
static int rl_readline(lua_State *L)
{
    const char *prompt = luaL_optstring(L, 1, "");
    lua_settop(L, 1);
    if (reading_L)
        return luaL_error(L, "readline: already reading a line");
    struct sigaction sa, old;
    sa.sa_handler = on_prompt_sigint;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    drain_interrupt_pipe(); /* a Ctrl-C from before this prompt is spent */
    prompt_interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    reading_L = L;
    char *line = readline(prompt);
    reading_L = NULL;
    sigaction(SIGINT, &old, NULL);
    if (line) {
        lua_pushstring(L, line);
        free(line);
        return 1;
    }
    lua_pushnil(L);
    if (!prompt_interrupted)
        return 1;
    lua_pushliteral(L, "interrupted");
    return 2;
}

static int rl_add_history(lua_State *L)
{
    const char *line = luaL_checkstring(L, 1);
    if (*line)
        add_history(line);
    return 0;
}

static int push_result(lua_State *L, int rc, const char *what, const char *path)
{
    if (rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    luaL_pushfail(L);
    /* libedit returns -1 without errno for some failures. */
    lua_pushfstring(L, "%s %s: %s", what, path, rc > 0 ? strerror(rc) : "failed");
    return 2;
}

static int rl_read_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    errno = 0;
    int rc = read_history(path);
    return push_result(L, rc, "cannot read history file", path);
}

static int rl_write_history(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    errno = 0;
    int rc = write_history(path);
    return push_result(L, rc, "cannot write history file", path);
}

static int rl_set_completer(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, completer_ref);
    completer_ref = LUA_NOREF;
    if (!lua_isnil(L, 1))
        completer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int rl_isatty(lua_State *L)
{
    lua_Integer fd = luaL_optinteger(L, 1, 0);
    luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

int luaopen_triton_readline(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"readline", rl_readline},
        {"add_history", rl_add_history},
        {"read_history", rl_read_history},
        {"write_history", rl_write_history},
        {"set_completer", rl_set_completer},
        {"isatty", rl_isatty},
        {NULL, NULL},
    };
    rl_readline_name = "tritonlua";
    rl_attempted_completion_function = complete_word;
    rl_basic_word_break_characters = word_breaks;
    rl_completer_word_break_characters = word_breaks;
    rl_completion_append_character = '\0';
    rl_catch_signals = 0; /* SIGINT is ours while reading: see on_prompt_sigint */
    rl_getc_function = read_key;
    if (interrupt_pipe[0] < 0 && pipe2(interrupt_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        interrupt_pipe[0] = interrupt_pipe[1] = -1; /* then Ctrl-C waits for a key */
    using_history();
    stifle_history(HISTORY_MAX);
    luaL_newlib(L, funcs);
    return 1;
}
