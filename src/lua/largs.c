/*
 * largs.c: the one argument layer (largs.h): where an error is reported, and
 * the shape and dtype checkers every entry point uses.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lua/largs.h"

/* ---- where ------------------------------------------------------------------------ */

/* Whether a chunk's source is one of the module's own Lua files: "@.../triton/x.lua"
 * (a path from package.path, or the compiled-in "@triton/x.lua") whose module
 * "triton.x" ("triton" for init.lua) is loaded. */
static bool is_module_source(lua_State *L, const char *src)
{
    size_t n = strlen(src);
    const char *base = strrchr(src, '/');
    if (src[0] != '@' || n < 5 || strcmp(src + n - 4, ".lua") != 0 || !base || base - src < 7 ||
        memcmp(base - 6, "triton", 6) != 0 || (base[-7] != '@' && base[-7] != '/'))
        return false;
    size_t len = (size_t)(src + n - 4 - (base + 1));
    char mod[64];
    if (len == 4 && memcmp(base + 1, "init", 4) == 0)
        snprintf(mod, sizeof mod, "triton");
    else if (len < sizeof mod - 8)
        snprintf(mod, sizeof mod, "triton.%.*s", (int)len, base + 1);
    else
        return false;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    bool loaded = lua_getfield(L, -1, mod) != LUA_TNIL;
    lua_pop(L, 2);
    return loaded;
}

/* The first level from `from` up that is the user's: a Lua frame outside the
 * module's files (ar filled with "Sl"), or -1. */
static int user_level(lua_State *L, int from, lua_Debug *ar)
{
    for (int level = from; lua_getstack(L, level, ar); level++) {
        lua_getinfo(L, "Sl", ar);
        if (ar->currentline > 0 && !is_module_source(L, ar->source))
            return level;
    }
    return -1;
}

void largs_where(lua_State *L)
{
    lua_Debug ar;
    if (user_level(L, 1, &ar) > 0)
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    else
        lua_pushliteral(L, "");
}

/* Whether the frame at level is hidden from a user's traceback: a frame of the
 * module's Lua files, or a C function the module called. */
static bool hidden_frame(lua_State *L, int level, lua_Debug *ar)
{
    if (*ar->what != 'C')
        return is_module_source(L, ar->source);
    lua_Debug caller;
    return lua_getstack(L, level + 1, &caller) && lua_getinfo(L, "S", &caller) &&
           is_module_source(L, caller.source);
}

/* Pushes "\n\tsrc:line: in <what>" for the frame ar (filled with "Slnt"). */
static void push_frame(lua_State *L, const lua_Debug *ar)
{
    const char *line = ar->currentline > 0 ? lua_pushfstring(L, "%d:", ar->currentline) : "";
    if (*ar->namewhat)
        lua_pushfstring(L, "\n\t%s:%s in %s '%s'", ar->short_src, line, ar->namewhat, ar->name);
    else if (*ar->what == 'm')
        lua_pushfstring(L, "\n\t%s:%s in main chunk", ar->short_src, line);
    else if (*ar->what != 'C')
        lua_pushfstring(L, "\n\t%s:%s in function <%s:%d>", ar->short_src, line, ar->short_src,
                        ar->linedefined);
    else
        lua_pushfstring(L, "\n\t%s:%s in ?", ar->short_src, line);
    if (*line)
        lua_remove(L, -2);
    if (lcompat_istailcall(ar)) {
        lua_pushliteral(L, "\n\t(...tail calls...)");
        lua_concat(L, 2);
    }
}

void largs_traceback(lua_State *L, const char *msg, int level)
{
    lua_Debug ar;
    int first = user_level(L, level, &ar);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (first > 0) {
        lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
        luaL_addvalue(&b);
    }
    luaL_addstring(&b, msg);
    luaL_addstring(&b, "\nstack traceback:");
    int shown = 0;
    for (int lv = first > 0 ? first : level; lua_getstack(L, lv, &ar); lv++) {
        lua_getinfo(L, "Sln" LCOMPAT_INFO_T, &ar);
        if (hidden_frame(L, lv, &ar))
            continue;
        if (++shown > 100) {
            luaL_addstring(&b, "\n\t...");
            break;
        }
        push_frame(L, &ar);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

/* As luaL_error, with largs_where's place: the va_list is ended before the
 * raise, which does not return. */
int largs_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    largs_where(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Pushes "mod.key" for the field of the loaded module table at -1 (named mod)
 * that holds the function at fn, or nothing; returns whether it did. */
static bool field_holding(lua_State *L, int fn, const char *mod)
{
    if (lua_type(L, -1) != LUA_TTABLE)
        return false;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
            lua_pushfstring(L, "%s.%s", mod, lua_tostring(L, -2));
            lua_replace(L, -3);
            lua_pop(L, 1);
            return true;
        }
        lua_pop(L, 1);
    }
    return false;
}

const char *largs_running_name(lua_State *L, bool *method)
{
    lua_Debug ar;
    *method = false;
    if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "nf", &ar))
        return "?";
    int fn = lua_gettop(L);
    if (ar.name) {
        *method = ar.namewhat && strcmp(ar.namewhat, "method") == 0;
        return ar.name;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "triton");
    if (field_holding(L, fn, "triton"))
        return lua_tostring(L, -1);
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && field_holding(L, fn, lua_tostring(L, -2)))
            return lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    return "?";
}

int largs_argerror(lua_State *L, int arg, const char *fname, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    bool method = false;
    if (!fname)
        fname = largs_running_name(L, &method);
    if (method && arg > 0 && --arg == 0)
        return largs_error(L, "calling '%s' on bad self (%s)", fname, msg);
    if (arg > 0)
        return largs_error(L, "bad argument #%d to '%s' (%s)", arg, fname, msg);
    return largs_error(L, "bad argument to '%s' (%s)", fname, msg);
}

const char *largs_check_string(lua_State *L, int idx, int arg, const char *fname)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        largs_argerror(L, arg, fname, "string expected, got %s",
                       lua_isnoneornil(L, idx) ? "no value" : luaL_typename(L, idx));
    return lua_tostring(L, idx);
}

/* ---- shapes ------------------------------------------------------------------------- */

/* The value at idx as a short text for "got ...": a number's value, else its type. */
static const char *got(lua_State *L, int idx)
{
    if (lua_isinteger(L, idx))
        return lua_pushfstring(L, "%I", lua_tointeger(L, idx));
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, idx);
        return v != v ? "nan" : lua_pushfstring(L, "%f", v);
    }
    return luaL_typename(L, idx);
}

/* One shape entry, the value at idx (entry d, 0-based). */
static int64_t check_extent(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                            int d)
{
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint); /* 2^40 and 1e8 are integers too */
    if (!isint || lua_type(L, idx) != LUA_TNUMBER)
        v = -2;
    if (v < 0 && !(v == -1 && (flags & LARGS_SHAPE_UNKNOWN)))
        largs_argerror(L, arg, fname, "shape[%d] must be a non-negative integer, got %s", d + 1,
                       got(L, idx));
    return v;
}

int largs_check_shape(lua_State *L, int idx, int arg, const char *fname, unsigned flags,
                      int64_t shape[TENSOR_MAX_DIMS])
{
    idx = lua_absindex(L, idx);
    int ndim;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        ndim = 1;
        shape[0] = check_extent(L, idx, arg, fname, flags, 0);
    } else {
        if (lua_type(L, idx) != LUA_TTABLE)
            largs_argerror(L, arg, fname, "shape must be a table of integers, got %s", got(L, idx));
        lua_Unsigned n = lua_rawlen(L, idx);
        if (n > TENSOR_MAX_DIMS)
            largs_argerror(L, arg, fname, "shape has %I dimensions, at most %d", (lua_Integer)n,
                           TENSOR_MAX_DIMS);
        ndim = (int)n;
        for (int d = 0; d < ndim; d++) {
            lua_rawgeti(L, idx, d + 1);
            shape[d] = check_extent(L, -1, arg, fname, flags, d);
            lua_pop(L, 1);
        }
    }
    return ndim;
}

/* ---- dtypes ------------------------------------------------------------------------- */

static const char *dtype_list(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < TENSOR_NDTYPES; i++) {
        luaL_addstring(&b, i ? ", " : "");
        luaL_addstring(&b, tensor_dtype_name((enum tensor_dtype)i));
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

enum tensor_dtype largs_check_dtype(lua_State *L, int idx, int arg, const char *fname)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        largs_argerror(L, arg, fname, "dtype name expected (one of %s), got %s", dtype_list(L),
                       got(L, idx));
    size_t len;
    const char *name = lua_tolstring(L, idx, &len);
    enum tensor_dtype dt = tensor_dtype_from_name(name, len);
    if (dt != TENSOR_INVALID)
        return dt;
    char upper[16]; /* "fp32" -> did you mean 'FP32'? */
    size_t i = 0;
    for (; i < len && i < sizeof upper - 1; i++)
        upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    upper[i] = '\0';
    if (tensor_dtype_from_name(upper, len) != TENSOR_INVALID)
        largs_argerror(L, arg, fname, "unknown dtype '%s' (did you mean '%s'?)", name, upper);
    return (enum tensor_dtype)largs_argerror(
        L, arg, fname, "unknown dtype '%s' (expected one of %s)", name, dtype_list(L));
}

enum tensor_dtype largs_opt_dtype(lua_State *L, int idx, int arg, const char *fname,
                                  enum tensor_dtype def)
{
    return lua_isnoneornil(L, idx) ? def : largs_check_dtype(L, idx, arg, fname);
}

/* ---- options tables ------------------------------------------------------------------ */

/* The name of the function being checked: fname, or the running C function's. */
static const char *function_name(lua_State *L, const char *fname)
{
    bool method;
    return fname ? fname : largs_running_name(L, &method);
}

static const char *const type_words[] = {"boolean", "integer",  "number",   "string",
                                         "table",   "function", "userdata", "table"};

/* Pushes "integer or string" for a mask of types. */
static const char *types_text(lua_State *L, unsigned types)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int n = 0, shown = 0;
    if ((types & LARGS_NUMBER) && (types & LARGS_INTEGER))
        types &= ~(unsigned)LARGS_INTEGER; /* a number covers integers */
    if ((types & LARGS_TABLE) && (types & LARGS_MAP))
        types &= ~(unsigned)LARGS_MAP;
    for (int i = 0; i < 8; i++)
        n += (types >> i) & 1;
    for (int i = 0; i < 8; i++) {
        if (!((types >> i) & 1))
            continue;
        luaL_addstring(&b, shown == 0 ? "" : shown == n - 1 ? " or " : ", ");
        luaL_addstring(&b, type_words[i]);
        shown++;
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int bad_option(lua_State *L, const char *fname, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *msg = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return largs_error(L, "bad option '%s' to '%s' (%s)", name, fname, msg);
}

static bool type_fits(lua_State *L, int idx, unsigned types)
{
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return types & LARGS_BOOLEAN;
    case LUA_TNUMBER:
        return (types & LARGS_NUMBER) || ((types & LARGS_INTEGER) && lua_isinteger(L, idx));
    case LUA_TSTRING:
        return types & LARGS_STRING;
    case LUA_TTABLE:
        return types & (LARGS_TABLE | LARGS_MAP);
    case LUA_TFUNCTION:
        return types & LARGS_FUNCTION;
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
        return types & LARGS_USERDATA;
    default:
        return false;
    }
}

/* Pushes a bound as the user wrote it: 0, not 0.0. */
static const char *bound(lua_State *L, double v)
{
    if (v >= -0x1p63 && v < 0x1p63 && v == (double)(lua_Integer)v)
        return lua_pushfstring(L, "%I", (lua_Integer)v);
    return lua_pushfstring(L, "%f", (lua_Number)v);
}

static void check_number(lua_State *L, int idx, const char *fname, const char *name,
                         const struct largs_option *opt)
{
    const char *what = opt->types & LARGS_NUMBER ? "number" : "integer";
    lua_Number v = lua_tonumber(L, idx);
    if (v != v || (v == HUGE_VAL && !(opt->types & LARGS_FOREVER)) || v == -HUGE_VAL)
        bad_option(L, fname, name, "finite number expected, got %s", got(L, idx));
    if ((opt->types & LARGS_MIN) && v < opt->min)
        bad_option(L, fname, name, "%s >= %s expected, got %s", what, bound(L, opt->min),
                   got(L, idx));
    if ((opt->types & LARGS_MAX) && v > opt->max)
        bad_option(L, fname, name, "%s <= %s expected, got %s", what, bound(L, opt->max),
                   got(L, idx));
}

static void check_choice(lua_State *L, int idx, const char *fname, const char *name,
                         const struct largs_option *opt)
{
    const char *s = lua_tostring(L, idx);
    int n = 0;
    for (; opt->choices[n]; n++)
        if (strcmp(s, opt->choices[n]) == 0)
            return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < n; i++) {
        luaL_addstring(&b, i == 0 ? "\"" : i == n - 1 ? " or \"" : ", \"");
        luaL_addstring(&b, opt->choices[i]);
        luaL_addchar(&b, '"');
    }
    luaL_pushresult(&b);
    bad_option(L, fname, name, "%s expected, got \"%s\"", lua_tostring(L, -1), s);
}

static void check_string(lua_State *L, int idx, const char *fname, const char *name,
                         const struct largs_option *opt)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    const char *zero = opt->types & LARGS_TEXT ? memchr(s, 0, len) : NULL;
    if (zero)
        bad_option(L, fname, name, "string without zero bytes expected, got one at byte %d",
                   (int)(zero - s) + 1);
    if (opt->choices)
        check_choice(L, idx, fname, name, opt);
}

static void check_fields(lua_State *L, int idx, const char *fname, const char *prefix,
                         const struct largs_option *spec);

/* The entries of the map at idx: string keys, values of opt->values' types. */
static void check_map(lua_State *L, int idx, const char *fname, const char *name,
                      const struct largs_option *opt)
{
    struct largs_option value = {.types = opt->values ? opt->values : LARGS_STRING};
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            bad_option(L, fname, name, "table with string keys expected, got key %s",
                       luaL_tolstring(L, -2, NULL));
        const char *entry = lua_pushfstring(L, "%s.%s", name, lua_tostring(L, -2));
        largs_check_option(L, -2, fname, entry, &value);
        lua_pop(L, 2);
    }
}

void largs_check_option(lua_State *L, int idx, const char *fname, const char *name,
                        const struct largs_option *opt)
{
    idx = lua_absindex(L, idx);
    if (lua_isnil(L, idx))
        return;
    luaL_checkstack(L, 8, "options nested too deep");
    fname = function_name(L, fname);
    if (!type_fits(L, idx, opt->types))
        bad_option(L, fname, name, "%s expected, got %s", types_text(L, opt->types), got(L, idx));
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        check_number(L, idx, fname, name, opt);
        break;
    case LUA_TSTRING:
        check_string(L, idx, fname, name, opt);
        break;
    case LUA_TTABLE:
        if (opt->fields)
            check_fields(L, idx, fname, name, opt->fields);
        else if ((opt->types & LARGS_MAP) && !(opt->types & LARGS_TABLE))
            check_map(L, idx, fname, name, opt);
        break;
    default:
        break;
    }
}

/* Edit distance of a and b when at most 2 (for "did you mean"), else 3. */
static int near(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32 || (la > lb ? la - lb : lb - la) > 2)
        return 3;
    int row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] < 3 ? row[lb] : 3;
}

/* Raises for the unknown key at -2 of an options table (`prefix`: NULL at the
 * top level, else the enclosing option's name). */
static int unknown_option(lua_State *L, const char *fname, const char *prefix,
                          const struct largs_option *spec)
{
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    const char *key =
        k ? lua_pushfstring(L, "'%s'", k) : lua_pushfstring(L, "[%s]", luaL_tolstring(L, -2, NULL));
    const char *in = prefix ? lua_pushfstring(L, "%s option '%s'", fname, prefix)
                            : lua_pushfstring(L, "%s options", fname);
    const char *best = NULL;
    int dist = 3;
    int most = k && strlen(k) > 4 ? 2 : 1; /* typos that far off still look alike */
    for (const struct largs_option *o = spec; k && o->name; o++) {
        int d = near(k, o->name);
        if (d <= most && d < dist)
            dist = d, best = o->name;
    }
    if (best)
        return largs_error(L, "unknown option %s in %s (did you mean '%s'?)", key, in, best);
    return largs_error(L, "unknown option %s in %s", key, in);
}

/* Options a spec may have whose presence check_fields notes as it walks the
 * table; a longer spec is checked option by option. */
#define SPEC_NOTED 64

/* Raises for a key of the table at idx that spec does not have, then checks the
 * value of each option that is there, in the spec's order. An options table
 * holds few of the options its spec knows (an infer call's none or one of
 * some 15), so the first pass notes which are there and the second looks up
 * only those; but all of them for a table with a metatable, whose __index may
 * give values the walk does not see. */
static void check_fields(lua_State *L, int idx, const char *fname, const char *prefix,
                         const struct largs_option *spec)
{
    bool present[SPEC_NOTED] = {false};
    bool all = lua_getmetatable(L, idx);
    if (all)
        lua_pop(L, 1);
    int n = 0;
    while (spec[n].name)
        n++;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const struct largs_option *o = spec;
        if (lua_type(L, -2) == LUA_TSTRING)
            while (o->name && strcmp(o->name, lua_tostring(L, -2)) != 0)
                o++;
        if (!o->name || lua_type(L, -2) != LUA_TSTRING)
            unknown_option(L, fname, prefix, spec);
        if (o - spec < SPEC_NOTED)
            present[o - spec] = true;
        lua_pop(L, 1);
    }
    for (int i = 0; i < n; i++) {
        if (!all && i < SPEC_NOTED && !present[i])
            continue;
        const struct largs_option *o = &spec[i];
        lua_getfield(L, idx, o->name);
        const char *name = prefix ? lua_pushfstring(L, "%s.%s", prefix, o->name) : o->name;
        largs_check_option(L, -1 - (prefix != NULL), fname, name, o);
        lua_pop(L, 1 + (prefix != NULL));
    }
}

void largs_check_options(lua_State *L, int idx, int arg, const char *fname,
                         const struct largs_option *spec)
{
    idx = lua_absindex(L, idx);
    if (lua_isnoneornil(L, idx))
        return;
    if (lua_type(L, idx) != LUA_TTABLE)
        largs_argerror(L, arg, fname, "options table expected, got %s", got(L, idx));
    luaL_checkstack(L, 8, "options nested too deep");
    check_fields(L, idx, function_name(L, fname), NULL, spec);
}

/* ---- the checkers in Lua ------------------------------------------------------------- */

#define LSPEC_MT "triton.core.OptionSpec"

/* A compiled options spec: its entries point at strings and arrays anchored in the
 * userdata's user value (a table), so they live as long as the spec. */
struct lspec {
    int n;
    struct largs_option opt[]; /* n entries and the {NULL} end */
};

/* core.args.check_shape(v, arg, fname [, allow_unknown]) -> the shape, a new table */
static int l_check_shape(lua_State *L)
{
    int arg = (int)luaL_checkinteger(L, 2);
    const char *fname = luaL_checkstring(L, 3);
    int64_t shape[TENSOR_MAX_DIMS];
    unsigned flags = lua_toboolean(L, 4) ? LARGS_SHAPE_UNKNOWN : 0;
    int ndim = largs_check_shape(L, 1, arg, fname, flags, shape);
    lua_createtable(L, ndim, 0);
    for (int d = 0; d < ndim; d++) {
        lua_pushinteger(L, shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

/* core.args.check_dtype(v, arg, fname) -> v */
static int l_check_dtype(lua_State *L)
{
    int arg = (int)luaL_checkinteger(L, 2);
    largs_check_dtype(L, 1, arg, luaL_checkstring(L, 3));
    lua_settop(L, 1);
    return 1;
}

/* "integer|string" -> LARGS_INTEGER | LARGS_STRING; "map" is LARGS_MAP. */
static unsigned parse_types(lua_State *L, const char *words)
{
    unsigned types = 0;
    for (const char *w = words; *w;) {
        size_t len = strcspn(w, "|");
        unsigned bit = len == 3 && strncmp(w, "map", 3) == 0 ? LARGS_MAP : 0;
        for (int i = 0; !bit && i < 7; i++)
            if (strlen(type_words[i]) == len && strncmp(w, type_words[i], len) == 0)
                bit = 1u << i;
        if (!bit)
            luaL_error(L, "option_spec: unknown type in '%s'", words);
        types |= bit;
        w += len + (w[len] == '|');
    }
    return types;
}

/* Anchors the value at -1 in the anchor table at `anchors`, popping it. */
static void anchor(lua_State *L, int anchors)
{
    lua_rawseti(L, anchors, (lua_Integer)lua_rawlen(L, anchors) + 1);
}

static struct lspec *compile_spec(lua_State *L, int list);

/* Fills o from the spec entry {name, types, min=, max=, one_of=, fields=, values=}
 * at idx. */
static void compile_option(lua_State *L, int idx, int anchors, struct largs_option *o)
{
    lua_rawgeti(L, idx, 1);
    o->name = lua_tostring(L, -1);
    if (!o->name)
        luaL_error(L, "option_spec: an entry needs a name");
    anchor(L, anchors);
    lua_rawgeti(L, idx, 2);
    o->types = parse_types(L, luaL_checkstring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "text") != LUA_TNIL && lua_toboolean(L, -1))
        o->types |= LARGS_TEXT;
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "forever") != LUA_TNIL && lua_toboolean(L, -1))
        o->types |= LARGS_FOREVER;
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "min") != LUA_TNIL)
        o->types |= LARGS_MIN, o->min = luaL_checknumber(L, -1);
    if (lua_getfield(L, idx, "max") != LUA_TNIL)
        o->types |= LARGS_MAX, o->max = luaL_checknumber(L, -1);
    lua_pop(L, 2);
    if (lua_getfield(L, idx, "values") != LUA_TNIL)
        o->values = parse_types(L, luaL_checkstring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "one_of") == LUA_TTABLE) {
        int list = lua_gettop(L);
        lua_Unsigned n = lua_rawlen(L, list);
        const char **choices = lua_newuserdatauv(L, sizeof *choices * (n + 1), 0);
        anchor(L, anchors);
        for (lua_Unsigned i = 0; i < n; i++) {
            lua_rawgeti(L, list, (lua_Integer)i + 1);
            choices[i] = luaL_checkstring(L, -1);
            anchor(L, anchors);
        }
        choices[n] = NULL;
        o->choices = choices;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "fields") != LUA_TNIL) {
        struct lspec *fields = luaL_testudata(L, -1, LSPEC_MT);
        if (fields)
            lua_pushvalue(L, -1);
        else
            fields = compile_spec(L, lua_gettop(L));
        o->fields = fields->opt;
        anchor(L, anchors);
    }
    lua_pop(L, 1);
}

/* Pushes the compiled spec of the list at idx; an entry that is itself a spec
 * contributes its options. */
static struct lspec *compile_spec(lua_State *L, int list)
{
    luaL_checktype(L, list, LUA_TTABLE);
    luaL_checkstack(L, 16, "option_spec nested too deep");
    lua_Unsigned len = lua_rawlen(L, list), n = 0;
    for (lua_Unsigned i = 1; i <= len && n <= 1000; i++) {
        lua_rawgeti(L, list, (lua_Integer)i);
        struct lspec *inc = luaL_testudata(L, -1, LSPEC_MT);
        n += inc ? (lua_Unsigned)inc->n : 1;
        lua_pop(L, 1);
    }
    if (n > 1000)
        luaL_error(L, "option_spec: too many options");
    size_t size = sizeof(struct lspec) + sizeof(struct largs_option) * (n + 1);
    struct lspec *s = lua_newuserdatauv(L, size, 1);
    memset(s, 0, size);
    s->n = (int)n;
    luaL_setmetatable(L, LSPEC_MT);
    lua_newtable(L);
    int anchors = lua_gettop(L);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, -3, 1);
    struct largs_option *o = s->opt;
    for (lua_Unsigned i = 1; i <= len; i++) {
        lua_rawgeti(L, list, (lua_Integer)i);
        struct lspec *inc = luaL_testudata(L, -1, LSPEC_MT);
        if (inc) {
            memcpy(o, inc->opt, sizeof *o * (size_t)inc->n);
            o += inc->n;
            anchor(L, anchors); /* keeps what its entries point to */
            continue;
        }
        if (lua_type(L, -1) != LUA_TTABLE)
            luaL_error(L, "option_spec: entry %d is not a table", (int)i);
        compile_option(L, lua_gettop(L), anchors, o++);
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the anchors */
    return s;
}

/* core.args.option_spec{{name, "integer|string", min=, max=, one_of={...}, fields=spec,
 * values="string|number", text=true}, ..., other_spec, ...} -> a spec for
 * core.args.check_options.
 * Types: boolean, integer, number, string, table, function, userdata, and map (a
 * table of string keys to values of the `values` types, string by default);
 * min/max bound numbers; one_of lists a string's values; fields (a spec or a list)
 * checks a table's own keys; text refuses zero bytes in a string; forever lets a
 * number be math.huge (a timeout's no limit). Another spec in
 * the list adds its options. */
static int l_option_spec(lua_State *L)
{
    compile_spec(L, 1);
    return 1;
}

const struct largs_option *largs_spec(lua_State *L, int idx)
{
    return ((struct lspec *)luaL_checkudata(L, idx, LSPEC_MT))->opt;
}

/* core.args.check_options(o, spec, fname [, arg]) -> o */
static int l_check_options(lua_State *L)
{
    struct lspec *s = luaL_checkudata(L, 2, LSPEC_MT);
    const char *fname = luaL_checkstring(L, 3);
    int arg = (int)luaL_optinteger(L, 4, 0);
    largs_check_options(L, 1, arg, fname, s->opt);
    lua_settop(L, 1);
    return 1;
}

/* core.args.argerror(arg, fname, msg): raises "bad argument #arg to 'fname' (msg)" at
 * the user's line, for the checks the Lua files make themselves. */
static int l_argerror(lua_State *L)
{
    int arg = (int)luaL_checkinteger(L, 1);
    const char *fname = luaL_checkstring(L, 2);
    return largs_argerror(L, arg, fname, "%s", luaL_checkstring(L, 3));
}

/* core.args.check_string(v, arg, fname) -> v: raises largs_check_string's
 * error at the user's line unless v is a string. */
static int l_check_string(lua_State *L)
{
    int arg = (int)luaL_checkinteger(L, 2);
    largs_check_string(L, 1, arg, luaL_checkstring(L, 3));
    lua_settop(L, 1);
    return 1;
}

/* core.args.traceback(msg [, level]): msg at the user's line and a traceback
 * without the module's own frames, from level (1: the caller) down. */
static int l_traceback(lua_State *L)
{
    const char *msg = luaL_checkstring(L, 1);
    largs_traceback(L, msg, (int)luaL_optinteger(L, 2, 1));
    return 1;
}

/* core.args.usererror(msg): raises msg at the user's line. */
static int l_usererror(lua_State *L)
{
    return largs_error(L, "%s", luaL_checkstring(L, 1));
}

void largs_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"check_shape", l_check_shape},
        {"check_dtype", l_check_dtype},
        {"option_spec", l_option_spec},
        {"check_options", l_check_options},
        {"argerror", l_argerror},
        {"usererror", l_usererror},
        {"traceback", l_traceback},
        {"check_string", l_check_string},
        {NULL, NULL},
    };
    luaL_newmetatable(L, LSPEC_MT);
    lua_pop(L, 1);
    luaL_newlib(L, functions);
    lua_setfield(L, -2, "args");
}
