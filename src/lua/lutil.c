/*
 * lutil.c: the utilities of API.md: triton.now, triton.sleep, triton.json,
 * triton.version (triton.dtypes comes with the tensors, src/lua/ltensor.c).
 *
 * triton.json is a codec between Lua values and JSON text written for Lua's
 * value model rather than over cJSON: cJSON keeps numbers only as doubles
 * (integers past 2^53 lose digits, 1.0 prints as 1) and strings as C strings
 * (an escaped \u0000 truncates them), so the rules below could not hold on top
 * of it. The rules:
 *   - Lua integers <-> JSON numbers without fraction or exponent, exactly
 *     (all of int64); a JSON integer beyond int64 decodes as a float.
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
 *   - Nesting is limited to JSON_MAX_DEPTH levels both ways; a table that
 *     contains itself is reported as a cycle.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/lcore.h"
#include "wire/json_num.h"

#ifndef TRITON_VERSION
#error "TRITON_VERSION must be defined by the build"
#endif

#define JSON_MAX_DEPTH    1000
#define JSON_ARRAY_MT     "triton.json.array_mt"
#define JSON_ENCODER_NAME "triton.json.encoder"

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
    const void *table; /* the table this level encodes: for cycle detection */
    int is_index;      /* the step into this level: index (array) or key (object) */
    lua_Integer index;
    const char *key;
    size_t keylen;
};

/* Lives in a userdata whose __gc frees buf, so an error raised halfway (a NaN,
 * a function value) leaks nothing. */
struct json_encoder {
    lua_State *L;
    char *buf;
    size_t len, cap;
    int depth;
    struct json_step path[JSON_MAX_DEPTH + 1];
};

static int encoder_gc(lua_State *L)
{
    struct json_encoder *e = luaL_checkudata(L, 1, JSON_ENCODER_NAME);
    free(e->buf);
    e->buf = NULL;
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

static void enc_reserve(struct json_encoder *e, size_t n)
{
    if (e->cap - e->len >= n)
        return;
    size_t cap = e->cap ? e->cap : 256;
    while (cap - e->len < n) {
        if (cap > SIZE_MAX / 2)
            luaL_error(e->L, "triton.json.encode: output too large");
        cap *= 2;
    }
    char *p = realloc(e->buf, cap);
    if (!p)
        luaL_error(e->L, "triton.json.encode: out of memory");
    e->buf = p;
    e->cap = cap;
}

static void enc_add(struct json_encoder *e, const char *s, size_t n)
{
    enc_reserve(e, n);
    memcpy(e->buf + e->len, s, n);
    e->len += n;
}

static void enc_string(struct json_encoder *e, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (len > (SIZE_MAX - 2) / 6)
        luaL_error(e->L, "triton.json.encode: string too large");
    enc_reserve(e, len * 6 + 2);
    char *out = e->buf + e->len;
    *out++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            *out++ = '\\';
            *out++ = '"';
            break;
        case '\\':
            *out++ = '\\';
            *out++ = '\\';
            break;
        case '\b':
            *out++ = '\\';
            *out++ = 'b';
            break;
        case '\f':
            *out++ = '\\';
            *out++ = 'f';
            break;
        case '\n':
            *out++ = '\\';
            *out++ = 'n';
            break;
        case '\r':
            *out++ = '\\';
            *out++ = 'r';
            break;
        case '\t':
            *out++ = '\\';
            *out++ = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(out, "\\u00", 4);
                out[4] = hex[c >> 4];
                out[5] = hex[c & 15];
                out += 6;
            } else {
                *out++ = (char)c;
            }
        }
    }
    *out++ = '"';
    e->len = (size_t)(out - e->buf);
}

static void enc_number(struct json_encoder *e, int idx)
{
    lua_State *L = e->L;
    char buf[64];
    int n;
    if (lua_isinteger(L, idx)) {
        n = snprintf(buf, sizeof buf, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        enc_add(e, buf, (size_t)n);
        return;
    }
    double d = (double)lua_tonumber(L, idx);
    if (isnan(d))
        encode_error(e, "cannot encode NaN");
    if (isinf(d))
        encode_error(e, "cannot encode an infinite number");
    /* Fewest digits that read back as the same double. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    char point = localeconv()->decimal_point[0];
    int has_mark = 0;
    for (int i = 0; i < n; i++) {
        if (buf[i] == point)
            buf[i] = '.';
        if (buf[i] == '.' || buf[i] == 'e')
            has_mark = 1;
    }
    enc_add(e, buf, (size_t)n);
    if (!has_mark)
        enc_add(e, ".0", 2); /* keep it a float: 1.0 and 1 differ to Triton */
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
    for (int i = 1; i <= e->depth; i++) {
        if (e->path[i].table == self)
            encode_error(e, "table contains itself (a cycle)");
    }
    luaL_checkstack(L, 8, "triton.json.encode: nesting too deep");

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

    if (e->depth >= JSON_MAX_DEPTH)
        encode_error(e, "nesting deeper than 1000 levels");
    struct json_step *step = &e->path[++e->depth];
    step->table = self;

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
            enc_string(e, keys[i].s, keys[i].len);
            enc_add(e, ":", 1);
            lua_pushlstring(L, keys[i].s, keys[i].len);
            lua_rawget(L, idx);
            enc_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        enc_add(e, "}", 1);
        lua_pop(L, 1); /* keys */
    }
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
        enc_string(e, s, len);
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
    e->buf = NULL;
    e->len = e->cap = 0;
    e->depth = 0;
    luaL_setmetatable(L, JSON_ENCODER_NAME);
    enc_value(e, 1);
    lua_pushlstring(L, e->buf, e->len);
    free(e->buf);
    e->buf = NULL;
    return 1;
}

/* ---- json: decoding ----------------------------------------------------------------- */

struct json_decoder {
    lua_State *L;
    const char *start, *p, *end;
    int depth;
};

static int decode_error(struct json_decoder *d, const char *what)
{
    if (d->p >= d->end)
        return luaL_error(d->L, "triton.json.decode: %s at byte %d (end of input)", what,
                          (int)(d->p - d->start) + 1);
    unsigned char c = (unsigned char)*d->p;
    char found[16];
    if (c >= 0x20 && c < 0x7f)
        snprintf(found, sizeof found, "'%c'", c);
    else
        snprintf(found, sizeof found, "byte 0x%02X", (unsigned)c);
    return luaL_error(d->L, "triton.json.decode: %s at byte %d (found %s)", what,
                      (int)(d->p - d->start) + 1, found);
}

static void skip_ws(struct json_decoder *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static int hex4(struct json_decoder *d, const char *p)
{
    return wire_json_hex4(p, (size_t)(d->end - p));
}

static void add_utf8(luaL_Buffer *b, unsigned long cp)
{
    char out[4];
    luaL_addlstring(b, out, wire_utf8_encode(cp, out));
}

/* d->p is at the opening quote; pushes the string. */
static void dec_string(struct json_decoder *d)
{
    lua_State *L = d->L;
    const char *s = ++d->p;
    /* Fast path: no escapes. */
    while (d->p < d->end && *d->p != '"' && *d->p != '\\' && (unsigned char)*d->p >= 0x20)
        d->p++;
    if (d->p < d->end && *d->p == '"') {
        lua_pushlstring(L, s, (size_t)(d->p - s));
        d->p++;
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, s, (size_t)(d->p - s));
    for (;;) {
        if (d->p >= d->end)
            decode_error(d, "unterminated string");
        unsigned char c = (unsigned char)*d->p;
        if (c == '"') {
            d->p++;
            break;
        }
        if (c < 0x20)
            decode_error(d, "control character in string");
        if (c != '\\') {
            luaL_addchar(&b, (char)c);
            d->p++;
            continue;
        }
        d->p++;
        if (d->p >= d->end)
            decode_error(d, "unterminated string");
        char esc = *d->p++;
        switch (esc) {
        case '"':
        case '\\':
        case '/':
            luaL_addchar(&b, esc);
            break;
        case 'b':
            luaL_addchar(&b, '\b');
            break;
        case 'f':
            luaL_addchar(&b, '\f');
            break;
        case 'n':
            luaL_addchar(&b, '\n');
            break;
        case 'r':
            luaL_addchar(&b, '\r');
            break;
        case 't':
            luaL_addchar(&b, '\t');
            break;
        case 'u': {
            int u = hex4(d, d->p);
            if (u < 0)
                decode_error(d, "bad \\u escape (expected 4 hex digits)");
            d->p += 4;
            unsigned long cp = (unsigned long)u;
            if (u >= 0xD800 && u <= 0xDBFF) {
                int lo = (d->end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u')
                             ? hex4(d, d->p + 2)
                             : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    decode_error(d, "high surrogate not followed by a low surrogate");
                d->p += 6;
                cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                d->p -= 6;
                decode_error(d, "low surrogate without a high surrogate");
            }
            add_utf8(&b, cp);
            break;
        }
        default:
            d->p -= 2;
            decode_error(d, "bad escape in string");
        }
    }
    luaL_pushresult(&b);
}

/* JSON's number grammar, checked here; Lua then converts the exact text, which
 * gives an integer for an integer literal that fits int64 and a float otherwise. */
static void dec_number(struct json_decoder *d)
{
    const char *s = d->p;
    if (d->p < d->end && *d->p == '-')
        d->p++;
    if (d->p < d->end && *d->p == '0') {
        d->p++;
    } else if (d->p < d->end && *d->p >= '1' && *d->p <= '9') {
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    } else {
        decode_error(d, "bad number");
    }
    if (d->p < d->end && *d->p == '.') {
        d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9')
            decode_error(d, "bad number (digit expected after '.')");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
            d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9')
            decode_error(d, "bad number (digit expected in exponent)");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    lua_pushlstring(d->L, s, (size_t)(d->p - s));
    if (lua_stringtonumber(d->L, lua_tostring(d->L, -1)) == 0) {
        d->p = s;
        decode_error(d, "number out of range");
    }
    lua_remove(d->L, -2);
}

static void dec_literal(struct json_decoder *d, const char *word, size_t len)
{
    if ((size_t)(d->end - d->p) < len || memcmp(d->p, word, len) != 0)
        decode_error(d, "unexpected character");
    d->p += len;
}

static void dec_value(struct json_decoder *d);

static void dec_enter(struct json_decoder *d)
{
    if (++d->depth > JSON_MAX_DEPTH)
        decode_error(d, "nesting deeper than 1000 levels");
    luaL_checkstack(d->L, 4, "triton.json.decode: nesting too deep");
    d->p++;
    skip_ws(d);
}

static void dec_array(struct json_decoder *d)
{
    lua_State *L = d->L;
    dec_enter(d);
    lua_newtable(L);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        luaL_setmetatable(L, JSON_ARRAY_MT);
        d->depth--;
        return;
    }
    for (lua_Integer i = 1;; i++) {
        dec_value(d);
        lua_rawseti(L, -2, i);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            break;
        }
        decode_error(d, "expected ',' or ']'");
    }
    d->depth--;
}

static void dec_object(struct json_decoder *d)
{
    lua_State *L = d->L;
    dec_enter(d);
    lua_newtable(L);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        d->depth--;
        return;
    }
    for (;;) {
        skip_ws(d);
        if (d->p >= d->end || *d->p != '"')
            decode_error(d, "expected a string key");
        dec_string(d);
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            decode_error(d, "expected ':'");
        d->p++;
        dec_value(d);
        lua_rawset(L, -3);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        decode_error(d, "expected ',' or '}'");
    }
    d->depth--;
}

static void dec_value(struct json_decoder *d)
{
    skip_ws(d);
    if (d->p >= d->end)
        decode_error(d, "value expected");
    switch (*d->p) {
    case '{':
        dec_object(d);
        break;
    case '[':
        dec_array(d);
        break;
    case '"':
        dec_string(d);
        break;
    case 't':
        dec_literal(d, "true", 4);
        lua_pushboolean(d->L, 1);
        break;
    case 'f':
        dec_literal(d, "false", 5);
        lua_pushboolean(d->L, 0);
        break;
    case 'n':
        dec_literal(d, "null", 4);
        lua_pushlightuserdata(d->L, NULL);
        break;
    default:
        if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
            dec_number(d);
        else
            decode_error(d, "unexpected character");
    }
}

static int json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct json_decoder d = {L, s, s, s + len, 0};
    dec_value(&d);
    skip_ws(&d);
    if (d.p != d.end)
        decode_error(&d, "trailing characters after the value");
    return 1;
}

/* ---- registration ---------------------------------------------------------------- */

void lutil_open(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"now", util_now}, {"sleep", util_sleep}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);

    lua_pushliteral(L, TRITON_VERSION);
    lua_setfield(L, -2, "version");

    if (luaL_newmetatable(L, JSON_ENCODER_NAME)) {
        lua_pushcfunction(L, encoder_gc);
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
