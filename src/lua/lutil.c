/*
 * lutil.c: the utilities of API.md: triton.now, triton.sleep, triton.json,
 * triton.version (triton.dtypes comes with the tensors, src/lua/ltensor.c);
 * and, internal to the library, core.base64_decode.
 *
 * triton.json is a codec between Lua values and JSON text, straight from the
 * project's JSON reader and writer (src/wire/json.h) without a cJSON tree in
 * between, so that Lua's integers and byte strings survive. The rules:
 *   - Lua integers <-> JSON numbers without fraction or exponent, exactly
 *     (all of int64); a JSON integer beyond int64 decodes as a float (the
 *     nearest double, as UINT64 tensor values from 2^63 do). A number beyond
 *     a double's range (1e400) is an error.
 *   - Lua floats encode with the fewest digits that read back to the same
 *     double, always with a '.' or exponent (1.0 -> "1.0") so they decode as
 *     floats again. NaN and infinities raise an error.
 *   - Strings are byte strings: '"', '\' and control characters (NUL included)
 *     are escaped, every other byte is copied as is, so invalid UTF-8 is not
 *     rejected either way. \uXXXX escapes decode to UTF-8 (surrogate pairs
 *     joined, a lone surrogate is an error).
 *   - A table whose keys are exactly 1..n is an array, one whose keys are all
 *     strings an object (keys sorted, so output is deterministic). Anything
 *     else (sparse, mixed, other key types) raises an error naming the key.
 *     An empty table is an object, `{}`, unless its metatable is
 *     triton.json.array_mt; decode gives `[]` that metatable, so it re-encodes
 *     as `[]`.
 *   - JSON null <-> triton.json.null (a NULL light userdata, so that null
 *     array elements and object members survive in tables); nil also encodes
 *     as null.
 *   - Nesting is limited to WIRE_JSON_MAX_DEPTH (1000) levels both ways; a
 *     table that contains itself is reported as a cycle.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lcore.h"
#include "wire/json.h"

#ifndef TRITON_VERSION
#error "TRITON_VERSION must be defined by the build"
#endif

#define JSON_ARRAY_MT     "triton.json.array_mt"
#define JSON_ENCODER_NAME "triton.json.encoder"
#define JSON_DECODER_NAME "triton.json.decoder"

/* ---- time ------------------------------------------------------------------- */

static int util_now(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "triton.now: clock_gettime failed: %s", strerror(errno));
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* A signal with a handler (the host's Ctrl-C) ends the sleep early, so that the
 * host's "interrupted!" hook runs at once instead of after the full sleep. */
static int util_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    /* Written so that NaN fails too; the upper bound keeps the time_t cast defined. */
    luaL_argcheck(L, s >= 0 && s <= 1e9, 1, "seconds must be between 0 and 1e9");
    struct timespec req;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (lua_Number)req.tv_sec) * 1e9);
    if (req.tv_nsec > 999999999L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &req) != 0) {
        if (errno != EINTR)
            return luaL_error(L, "triton.sleep: nanosleep failed: %s", strerror(errno));
        break;
    }
    return 0;
}

/* ---- json: encoding --------------------------------------------------------------- */

struct json_step {
    int is_index; /* the step into this level: index (array) or key (object) */
    lua_Integer index;
    const char *key;
    size_t keylen;
};

/* Lives in a userdata whose __gc frees buf, so an error raised halfway (a NaN,
 * a function value) leaks nothing. */
struct json_encoder {
    lua_State *L;
    struct wire_jbuf out;
    int open; /* stack index of the set of tables being encoded: a cycle is one seen again */
    int depth;
    struct json_step path[WIRE_JSON_MAX_DEPTH + 1];
};

static int encoder_gc(lua_State *L)
{
    struct json_encoder *e = luaL_checkudata(L, 1, JSON_ENCODER_NAME);
    wire_jbuf_free(&e->out);
    return 0;
}

static int is_identifier(const char *s, size_t len)
{
    if (len == 0 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

/* Pushes where the encoder is, as Lua would index it: $.a[2]["x y"]. */
static void push_path(struct json_encoder *e)
{
    lua_State *L = e->L;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '$');
    for (int i = 1; i <= e->depth; i++) {
        const struct json_step *s = &e->path[i];
        /* A path 1000 levels deep helps nobody: keep both ends. */
        if (e->depth > 16 && i == 9) {
            luaL_addstring(&b, "...");
            i = e->depth - 8;
            continue;
        }
        if (s->is_index) {
            char num[32];
            snprintf(num, sizeof num, "[" LUA_INTEGER_FMT "]", (LUAI_UACINT)s->index);
            luaL_addstring(&b, num);
        } else if (is_identifier(s->key, s->keylen)) {
            luaL_addchar(&b, '.');
            luaL_addlstring(&b, s->key, s->keylen);
        } else {
            /* %q-style quoting keeps odd bytes readable in the message. */
            lua_pushfstring(L, "[\"%s\"]", s->keylen > 40 ? "..." : s->key);
            luaL_addvalue(&b);
        }
    }
    luaL_pushresult(&b);
}

static int encode_error(struct json_encoder *e, const char *what)
{
    push_path(e);
    return luaL_error(e->L, "triton.json.encode: %s at %s", what, lua_tostring(e->L, -1));
}

static void enc_add(struct json_encoder *e, const char *s, size_t n)
{
    wire_jbuf_put(&e->out, s, n);
}

static void enc_number(struct json_encoder *e, int idx)
{
    lua_State *L = e->L;
    if (lua_isinteger(L, idx)) {
        wire_jbuf_int64(&e->out, (int64_t)lua_tointeger(L, idx));
        return;
    }
    double d = (double)lua_tonumber(L, idx);
    if (isnan(d))
        encode_error(e, "cannot encode NaN");
    if (isinf(d))
        encode_error(e, "cannot encode an infinite number");
    /* always with a '.' or an exponent: 1.0 and 1 differ to Triton */
    wire_jbuf_double(&e->out, d, true);
}

struct json_key {
    const char *s;
    size_t len;
};

static int key_cmp(const void *a, const void *b)
{
    const struct json_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void enc_value(struct json_encoder *e, int idx);

/* The key at the stack top, for messages: integers as numbers, strings quoted. */
static const char *describe_key(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING)
        return lua_pushfstring(L, "\"%s\"", lua_tostring(L, idx));
    if (lua_type(L, idx) == LUA_TNUMBER)
        return lua_pushfstring(L, "%s", luaL_tolstring(L, idx, NULL));
    return lua_pushfstring(L, "of type %s", luaL_typename(L, idx));
}

static void enc_table(struct json_encoder *e, int idx)
{
    lua_State *L = e->L;
    const void *self = lua_topointer(L, idx);
    luaL_checkstack(L, 8, "triton.json.encode: nesting too deep");
    if (lua_rawgetp(L, e->open, self) != LUA_TNIL)
        encode_error(e, "table contains itself (a cycle)");
    lua_pop(L, 1);

    int force_array = 0;
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, JSON_ARRAY_MT);
        force_array = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }

    /* One pass to classify: a sequence 1..n, all string keys, or neither. */
    lua_Integer count = 0, max_index = 0;
    int string_keys = 0, int_keys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            string_keys++;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            int_keys++;
            if (lua_tointeger(L, -1) > max_index)
                max_index = lua_tointeger(L, -1);
        } else {
            encode_error(e, lua_pushfstring(L, "table key %s is neither a string nor an index >= 1",
                                            describe_key(L, -1)));
        }
        if (string_keys && int_keys) {
            /* Find one key of each kind to name both. The key strings stay alive:
             * the table holds them. */
            lua_pop(L, 1);
            const char *skey = NULL;
            lua_Integer ikey = 0;
            lua_pushnil(L);
            while (lua_next(L, idx)) {
                lua_pop(L, 1);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    if (!skey)
                        skey = lua_tostring(L, -1);
                } else if (ikey == 0) {
                    ikey = lua_tointeger(L, -1);
                }
            }
            encode_error(e, lua_pushfstring(L,
                                            "table mixes array and object keys (index %I "
                                            "and key \"%s\")",
                                            (LUAI_UACINT)ikey, skey));
        }
    }
    if (force_array && string_keys)
        encode_error(e, "table with json.array_mt has string keys");
    if (int_keys && max_index != count)
        encode_error(e, lua_pushfstring(L,
                                        "array is sparse: index %I but only %I elements "
                                        "(use triton.json.null for holes)",
                                        (LUAI_UACINT)max_index, (LUAI_UACINT)count));

    if (e->depth >= WIRE_JSON_MAX_DEPTH)
        encode_error(e, "nesting deeper than 1000 levels");
    struct json_step *step = &e->path[++e->depth];
    lua_pushboolean(L, 1);
    lua_rawsetp(L, e->open, self);

    if (int_keys || force_array) {
        enc_add(e, "[", 1);
        for (lua_Integer i = 1; i <= count; i++) {
            if (i > 1)
                enc_add(e, ",", 1);
            step->is_index = 1;
            step->index = i;
            lua_rawgeti(L, idx, i);
            enc_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        enc_add(e, "]", 1);
    } else {
        struct json_key *keys = lua_newuserdatauv(L, (size_t)count * sizeof *keys + 1, 0);
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            /* Key strings stay alive: the table holds them and we do not change it. */
            keys[n].s = lua_tolstring(L, -1, &keys[n].len);
            n++;
        }
        qsort(keys, n, sizeof *keys, key_cmp);
        enc_add(e, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                enc_add(e, ",", 1);
            step->is_index = 0;
            step->key = keys[i].s;
            step->keylen = keys[i].len;
            wire_jbuf_string(&e->out, keys[i].s, keys[i].len, false);
            enc_add(e, ":", 1);
            lua_pushlstring(L, keys[i].s, keys[i].len);
            lua_rawget(L, idx);
            enc_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        enc_add(e, "}", 1);
        lua_pop(L, 1); /* keys */
    }
    lua_pushnil(L);
    lua_rawsetp(L, e->open, self);
    e->depth--;
}

static void enc_value(struct json_encoder *e, int idx)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        enc_add(e, "null", 4);
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            enc_add(e, "true", 4);
        else
            enc_add(e, "false", 5);
        break;
    case LUA_TNUMBER:
        enc_number(e, idx);
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        wire_jbuf_string(&e->out, s, len, false);
        break;
    }
    case LUA_TTABLE:
        enc_table(e, idx);
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            enc_add(e, "null", 4);
            break;
        }
        /* fall through */
    default: {
        const char *name = luaL_typename(L, idx);
        if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
            name = lua_tostring(L, -1);
        encode_error(e, lua_pushfstring(L, "cannot encode a %s value", name));
    }
    }
}

static int json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    struct json_encoder *e = lua_newuserdatauv(L, sizeof *e, 0);
    e->L = L;
    wire_jbuf_init(&e->out, 0, 0);
    e->depth = 0;
    luaL_setmetatable(L, JSON_ENCODER_NAME);
    lua_newtable(L);
    e->open = lua_gettop(L);
    enc_value(e, 1);
    if (wire_jbuf_failed(&e->out))
        return luaL_error(L, "triton.json.encode: out of memory");
    lua_pushlstring(L, e->out.data ? e->out.data : "", e->out.len);
    wire_jbuf_free(&e->out);
    return 1;
}

/* ---- json: decoding ----------------------------------------------------------------- */

/* The reader lives in a userdata whose __gc frees its scratch buffer, so a
 * decode error (raised from deep inside) leaks nothing. */
static int decoder_gc(lua_State *L)
{
    wire_json_reader_free(luaL_checkudata(L, 1, JSON_DECODER_NAME));
    return 0;
}

static int decode_error(lua_State *L, const struct wire_json_reader *r)
{
    if (r->no_memory)
        return luaL_error(L, "triton.json.decode: out of memory");
    return luaL_error(L, "triton.json.decode: %s", wire_json_error(r));
}

/* Pushes the value whose first token t the reader just read. */
static void dec_value(lua_State *L, struct wire_json_reader *r, enum wire_json_token t)
{
    luaL_checkstack(L, 4, "triton.json.decode: nesting too deep");
    switch (t) {
    case WIRE_JSON_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
    case WIRE_JSON_FALSE:
    case WIRE_JSON_TRUE:
        lua_pushboolean(L, t == WIRE_JSON_TRUE);
        break;
    case WIRE_JSON_INT:
        lua_pushinteger(L, (lua_Integer)r->num.i);
        break;
    case WIRE_JSON_UINT: /* beyond int64: a float (LuaJIT: the 64-bit rule) */
        lcompat_pushu64(L, r->num.u);
        break;
    case WIRE_JSON_DOUBLE:
        lua_pushnumber(L, (lua_Number)r->num.d);
        break;
    case WIRE_JSON_STRING:
        lua_pushlstring(L, r->str, r->len);
        break;
    case WIRE_JSON_ARRAY: {
        lua_newtable(L);
        lua_Integer i = 1;
        while ((t = wire_json_next(r)) != WIRE_JSON_ARRAY_END) {
            dec_value(L, r, t);
            lua_rawseti(L, -2, i++);
        }
        if (i == 1)
            luaL_setmetatable(L, JSON_ARRAY_MT);
        break;
    }
    case WIRE_JSON_OBJECT:
        lua_newtable(L);
        while ((t = wire_json_next(r)) == WIRE_JSON_KEY) {
            lua_pushlstring(L, r->str, r->len);
            dec_value(L, r, wire_json_next(r));
            lua_rawset(L, -3);
        }
        if (t != WIRE_JSON_OBJECT_END)
            decode_error(L, r);
        break;
    default:
        decode_error(L, r);
    }
}

static int json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct wire_json_reader *r = lua_newuserdatauv(L, sizeof *r, 0);
    wire_json_reader_init(r, s, len);
    luaL_setmetatable(L, JSON_DECODER_NAME);
    dec_value(L, r, wire_json_next(r));
    if (wire_json_next(r) != WIRE_JSON_EOF)
        decode_error(L, r);
    wire_json_reader_free(r);
    return 1;
}

/* ---- base64 (internal: perf_cli's {"b64": ...} input data) -------------------- */

/* core.base64_decode(text): the bytes, or nil and a message naming the
 * character at fault. */
static int util_base64_decode(lua_State *L)
{
    size_t n, at = 0;
    const char *text = luaL_checklstring(L, 1, &n);
    const char *why = NULL;
    /* Scratch space as a userdata: the collector frees it, whatever raises. */
    void *out = lua_newuserdatauv(L, n / 4 * 3 + 1, 0);
    long long got = wire_unbase64(text, n, out, &why, &at);
    if (got < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "not base64 at character %zu: %s", at, why);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_pushlstring(L, out, (size_t)got);
    return 1;
}

/* ---- numbers (internal: triton.compat's math_type where math.type is missing) ---- */

/* core.math_type(v): "integer", "float" or nil, by the rule the C side reads
 * integers with (lua_isinteger: under LuaJIT, whole within 2^53 and not -0.0),
 * so that the library's Lua and C never disagree on what an integer is. */
static int util_math_type(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TNUMBER)
        lua_pushnil(L);
    else if (lua_isinteger(L, 1))
        lua_pushliteral(L, "integer");
    else
        lua_pushliteral(L, "float");
    return 1;
}

/* ---- registration ---------------------------------------------------------------- */

void lutil_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"now", util_now},
                                     {"sleep", util_sleep},
                                     {"base64_decode", util_base64_decode},
                                     {"math_type", util_math_type},
                                     {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);

    lua_pushliteral(L, TRITON_VERSION);
    lua_setfield(L, -2, "version");

    if (luaL_newmetatable(L, JSON_ENCODER_NAME)) {
        lua_pushcfunction(L, encoder_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, JSON_DECODER_NAME)) {
        lua_pushcfunction(L, decoder_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_decode);
    lua_setfield(L, -2, "decode");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    luaL_newmetatable(L, JSON_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");
    lua_setfield(L, -2, "json");
}
