/*
 * tritonlua.c: the host binary. A Lua 5.4 interpreter that behaves like the
 * stock `lua` (the `arg` table, `...`, `-e`, `-l`, `-i`, `-` and `--`, exit
 * status, tracebacks, Ctrl-C) with the triton module preloaded as the global
 * `triton`, a few options of its own (-u, -H, -v) and the REPL of
 * lua/triton/repl.lua.
 *
 *   tritonlua [options] [script [args...]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "host/host.h"
#include "triton_lua.h"

#ifndef TRITON_VERSION
#error "TRITON_VERSION must be defined by the build"
#endif

#define DEFAULT_URL "http://localhost:8000"

static const char *progname = "tritonlua";

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [options] [script [args...]]\n"
            "Available options are:\n"
            "  -u, --url URL    server URL (default $TRITON_URL, else " DEFAULT_URL ")\n"
            "  -H 'Name: value' add a header to every request (repeatable)\n"
            "  -v               verbose: log requests and responses to stderr\n"
            "  -e CODE          run CODE (repeatable, in order with -l)\n"
            "  -l MOD           require MOD into the global MOD (-l g=MOD: into g)\n"
            "  -i               enter the REPL after running the script\n"
            "  --version        show the version\n"
            "  -h, --help       show this help\n"
            "  --               stop handling options\n"
            "  -                run stdin as the script (and stop handling options)\n"
            "With no script: the REPL when stdin is a terminal, else stdin is run.\n",
            progname);
}

static void print_version(void)
{
    printf("tritonlua %s (%s)\n", TRITON_VERSION, LUA_RELEASE);
    fflush(stdout);
}

static void message(const char *msg)
{
    fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
}

/* ---- running code: tracebacks and Ctrl-C, as lua.c does ------------------------- */

static lua_State *globalL;

/* The hook a Ctrl-C installs: at the next Lua instruction it raises the
 * documented triton.Error (code "cancelled"), after cancelling what is in
 * flight; that spends the interrupt. A wait in the client sees the hook (or the
 * flag) first and does the same. */
static void interrupted(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    triton_lua_raise_interrupted(L);
}

static void set_sigint(void (*handler)(int), struct sigaction *old)
{
    struct sigaction sa;
    sa.sa_handler = handler;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old);
}

/* Async-signal-safe: lua_sethook is documented to be safe here, and
 * triton_lua_interrupt only stores to an atomic. The module's waits see either
 * within a fraction of a second (include/triton_lua.h). A second Ctrl-C before
 * either acts (C code that never returns to Lua) kills the process. */
static void on_sigint(int sig)
{
    set_sigint(SIG_DFL, NULL);
    (void)sig;
    triton_lua_interrupt(globalL);
    lua_sethook(globalL, interrupted, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* Pushes field k of the loaded module `mod` (nil when either is missing). */
static int push_module_field(lua_State *L, const char *mod, const char *k)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, mod) == LUA_TTABLE)
        lua_getfield(L, -1, k);
    else
        lua_pushnil(L);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return lua_type(L, -1);
}

/* Whether the error object at 1 is a triton.Error (the module's public metatable). */
static int is_triton_error(lua_State *L)
{
    if (!lua_getmetatable(L, 1))
        return 0;
    push_module_field(L, "triton", "Error");
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* A triton.Error (a server's answer, a timeout) is shown at the user's line with
 * the module's own frames left out of the traceback: they say nothing about the
 * script. core.args.traceback knows which frames are the module's. */
static int triton_error_traceback(lua_State *L, const char *msg)
{
    if (push_module_field(L, "triton.core", "args") != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, -1, "traceback");
    lua_remove(L, -2);
    lua_pushstring(L, msg);
    lua_pushinteger(L, 1);
    return lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING;
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        if (is_triton_error(L) && triton_error_traceback(L, msg))
            return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below the narg arguments on top, with a traceback on error
 * and Ctrl-C turned into a "cancelled" triton.Error while it runs. */
static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    lua_State *outer = globalL;
    struct sigaction old;
    globalL = L;
    triton_lua_interrupt_clear(L); /* a Ctrl-C from before this call is not for it */
    set_sigint(on_sigint, &old);
    int status = lua_pcall(L, narg, nres, base);
    sigaction(SIGINT, &old, NULL);
    globalL = outer;
    /* A Ctrl-C that came as the call ended must not hit the caller (the REPL). */
    triton_lua_interrupt_clear(L);
    if (lua_gethook(L) == interrupted)
        lua_sethook(L, NULL, 0, 0);
    lua_remove(L, base);
    return status;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        message(msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

/* call(f, ...) for the REPL: true, results... or false, message with traceback. */
static int host_call(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int status = docall(L, lua_gettop(L) - 1, LUA_MULTRET);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

/* -l MOD or -l g=MOD */
static int dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    lua_getglobal(L, "require");
    if (eq)
        lua_pushstring(L, eq + 1);
    else
        lua_pushstring(L, spec);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        if (eq)
            lua_pushlstring(L, spec, (size_t)(eq - spec));
        else
            lua_pushstring(L, spec);
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* ---- options ------------------------------------------------------------------------ */

struct options {
    int script; /* argv index of the script; argc when there is none */
    int interactive, version, help, verbose, has_e;
    const char *url; /* -u, or NULL */
};

/* "Name: value" with a token for a name and no line breaks anywhere. */
static int valid_header(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return 0;
    for (const char *p = h; p < colon; p++)
        if (*p <= ' ' || *p >= 127)
            return 0;
    return strpbrk(h, "\r\n") == NULL;
}

/* Steps over the option at argv[*pos]: returns its letter ('u' for --url, 'V'
 * for --version, 'h' for --help) with its value, or 0 when the options end (at
 * the script, "-", after "--" or at argc; *pos is then the script's index), or
 * '?' for an unknown option and ':' for a missing value (*pos unchanged). */
static int next_option(int argc, char **argv, int *pos, const char **value)
{
    int i = *pos;
    *value = NULL;
    if (i >= argc)
        return 0;
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0')
        return 0;
    if (strcmp(a, "--") == 0) {
        *pos = i + 1;
        return 0;
    }
    int opt = a[1];
    int takes_value = strchr("eluH", opt) != NULL;
    if (opt == '-') {
        if (strcmp(a, "--version") == 0) {
            opt = 'V';
        } else if (strcmp(a, "--help") == 0) {
            opt = 'h';
        } else if (strncmp(a, "--url=", 6) == 0) {
            *value = a + 6;
            *pos = i + 1;
            return 'u';
        } else if (strcmp(a, "--url") == 0) {
            opt = 'u';
            takes_value = 1;
        } else {
            return '?';
        }
    } else if (takes_value && a[2] != '\0') {
        *value = a + 2; /* -eCODE */
        *pos = i + 1;
        return opt;
    } else if (!takes_value && (a[2] != '\0' || !strchr("ivh", opt))) {
        return '?';
    }
    if (takes_value) {
        if (i + 1 >= argc)
            return ':';
        *value = argv[++i];
    }
    *pos = i + 1;
    return opt;
}

static int bad_option(const char *fmt, const char *what)
{
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    print_usage(stderr);
    return -1;
}

/* First pass: check every option and find the script; nothing runs yet. */
static int collect_options(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    int pos = 1, opt;
    const char *value;
    while ((opt = next_option(argc, argv, &pos, &value)) != 0) {
        switch (opt) {
        case '?':
            return bad_option("unrecognized option '%s'", argv[pos]);
        case ':':
            return bad_option("'%s' needs an argument", argv[pos]);
        case 'H':
            if (!valid_header(value))
                return bad_option("bad header '%s' (expected 'Name: value')", value);
            break;
        case 'e':
            o->has_e = 1;
            break;
        case 'u':
            o->url = value;
            break;
        case 'i':
            o->interactive = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            o->help = 1;
            break;
        case 'V':
            o->version = 1;
            break;
        }
    }
    o->script = pos;
    return 0;
}

/* Second pass: -e and -l in command-line order, after the settings are in place. */
static int run_options(lua_State *L, int argc, char **argv)
{
    int pos = 1, opt;
    const char *value;
    while ((opt = next_option(argc, argv, &pos, &value)) != 0) {
        int status = LUA_OK;
        if (opt == 'e')
            status = dochunk(L, luaL_loadbuffer(L, value, strlen(value), "=(command line)"));
        else if (opt == 'l')
            status = dolibrary(L, value);
        if (status != LUA_OK)
            return 0;
    }
    return 1;
}

/* ---- setting up the state -------------------------------------------------------------- */

/* arg[0] is the script, arg[1..] its arguments, negative indices the interpreter
 * and its options; with no script, arg[0] is the interpreter. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    if (script == argc)
        script = 0;
    lua_createtable(L, argc - (script + 1) > 0 ? argc - (script + 1) : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* triton.default_url, triton.default_headers, triton.verbose: what clients
 * created without explicit options will use. */
static void apply_settings(lua_State *L, int argc, char **argv, const struct options *o)
{
    lua_getglobal(L, "triton");
    const char *url = o->url;
    if (!url) {
        url = getenv("TRITON_URL");
        if (!url || !*url)
            url = DEFAULT_URL;
    }
    lua_pushstring(L, url);
    lua_setfield(L, -2, "default_url");

    lua_newtable(L);
    int pos = 1, opt;
    const char *h;
    while ((opt = next_option(argc, argv, &pos, &h)) != 0) {
        if (opt != 'H')
            continue;
        const char *colon = strchr(h, ':'); /* checked by collect_options */
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        size_t vlen = strlen(value);
        while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            vlen--;
        lua_pushlstring(L, h, (size_t)(colon - h));
        lua_pushlstring(L, value, vlen);
        lua_settable(L, -3);
    }
    lua_setfield(L, -2, "default_headers");

    lua_pushboolean(L, o->verbose);
    lua_setfield(L, -2, "verbose");
    lua_pop(L, 1);
}

/* -u URL also becomes $TRITON_URL, and $TRITON_GRPC_URL or $TRITON_HTTP_URL after
 * its scheme, for the script and what it runs: the examples (and scripts written
 * like them) take their server from there, so `tritonlua -u grpc://h:8001
 * examples/simple_infer.lua` runs over gRPC as the option says. */
static void export_url(const char *url)
{
    setenv("TRITON_URL", url, 1);
    if (strncasecmp(url, "grpc://", 7) == 0 || strncasecmp(url, "grpcs://", 8) == 0)
        setenv("TRITON_GRPC_URL", url, 1);
    else if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0)
        setenv("TRITON_HTTP_URL", url, 1);
}

/* The global `client`, connected to triton.default_url on first use (so that a
 * script that never touches it never needs a server). */
static int install_client_global(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "triton.session");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "install");
    lua_pushglobaltable(L);
    lua_getglobal(L, "triton");
    lua_getfield(L, -1, "default_url");
    lua_getfield(L, -2, "default_headers");
    lua_getfield(L, -3, "verbose");
    lua_remove(L, -4); /* triton */
    lua_call(L, 4, 0);
    return 0;
}

static int push_script_args(lua_State *L)
{
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

static int run_script(lua_State *L, char **argv, int script)
{
    const char *fname = argv[script];
    /* "-" is stdin, unless "--" came just before it. */
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = push_script_args(L);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

static int run_repl(lua_State *L, int banner)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "triton.repl");
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_getfield(L, -1, "run");
        lua_remove(L, -2);
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, host_call);
        lua_setfield(L, -2, "call");
        lua_pushboolean(L, banner);
        lua_setfield(L, -2, "banner");
        /* Not through docall: Ctrl-C handling is the REPL's, per chunk. */
        lua_pushcfunction(L, msghandler);
        lua_insert(L, -3);
        status = lua_pcall(L, 1, 0, -3);
        lua_remove(L, status == LUA_OK ? -1 : -2);
    }
    return report(L, status);
}

/* `tritonlua perf ...`: perf_analyzer's flags, handled by lua/triton/perf_cli.lua,
 * whose main(args) returns the exit status. */
static int run_perf(lua_State *L, int argc, char **argv)
{
    luaL_openlibs(L);
    luaL_requiref(L, "triton", luaopen_triton, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "triton.perf_cli");
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc - 2, 0);
        for (int i = 2; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i - 1);
        }
        status = docall(L, 1, 1);
    }
    if (report(L, status) != LUA_OK)
        return EXIT_FAILURE;
    return (int)lua_tointeger(L, -1);
}

static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    int *exit_status = lua_touserdata(L, 3);
    struct options o;
    if (argv[0] && argv[0][0])
        progname = argv[0];
    if (argc > 1 && strcmp(argv[1], "perf") == 0) {
        *exit_status = run_perf(L, argc, argv);
        return 0;
    }
    if (collect_options(argc, argv, &o) != 0) {
        *exit_status = EXIT_FAILURE;
        return 0;
    }
    if (o.help) {
        print_usage(stdout);
        return 0;
    }
    if (o.version)
        print_version();
    if (o.url)
        export_url(o.url);

    luaL_openlibs(L);
    create_arg_table(L, argv, argc, o.script);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_triton_readline);
    lua_setfield(L, -2, "triton.readline");
    lua_pop(L, 1);
    luaL_requiref(L, "triton", luaopen_triton, 1);
    lua_pop(L, 1);
    apply_settings(L, argc, argv, &o);
    install_client_global(L);

    *exit_status = EXIT_FAILURE;
    if (!run_options(L, argc, argv))
        return 0;
    if (o.script < argc && run_script(L, argv, o.script) != LUA_OK)
        return 0;
    if (o.interactive) {
        if (run_repl(L, 0) != LUA_OK)
            return 0;
    } else if (o.script == argc && !o.has_e && !o.version) {
        if (isatty(STDIN_FILENO)) {
            if (run_repl(L, 1) != LUA_OK)
                return 0;
        } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
            return 0;
        }
    }
    *exit_status = EXIT_SUCCESS;
    return 0;
}

int main(int argc, char **argv)
{
    lua_State *L = host_newstate();
    if (!L) {
        message("cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    int exit_status = EXIT_SUCCESS;
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    lua_pushlightuserdata(L, &exit_status);
    int status = lua_pcall(L, 3, 0, 0);
    if (status != LUA_OK) {
        report(L, status);
        exit_status = EXIT_FAILURE;
    }
    host_close(L);
    return exit_status;
}
