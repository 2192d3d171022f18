/*
 * lcjson.c: see lcjson.h.
 */
#include "lua/lcjson.h"

#include <math.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "wire/json.h"

#define JSON_ARRAY_MT "triton.json.array_mt"

/* triton.json.null is a NULL light userdata (src/lua/lutil.c). */
static void push_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
}

static void push_number(lua_State *L, const cJSON *v)
{
    int64_t i;
    if (wire_json_get_int64(v, &i))
        lua_pushinteger(L, (lua_Integer)i);
    else
        lua_pushnumber(L, v->valuedouble); /* the nearest double, also for exact text */
}

static void push_value(lua_State *L, const cJSON *v, int depth)
{
    if (depth > WIRE_JSON_MAX_DEPTH)
        luaL_error(L, "JSON reply nested deeper than %d levels", WIRE_JSON_MAX_DEPTH);
    luaL_checkstack(L, 3, "JSON reply too deep");
    if (!v || cJSON_IsNull(v)) {
        push_null(L);
    } else if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else if (cJSON_IsNumber(v)) {
        push_number(L, v);
    } else if (cJSON_IsString(v)) {
        size_t len;
        const char *s = wire_json_string(v, &len);
        lua_pushlstring(L, s, len);
    } else if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        lua_createtable(L, n, 0);
        lua_Integer i = 1;
        for (const cJSON *e = v->child; e; e = e->next) {
            push_value(L, e, depth + 1);
            lua_rawseti(L, -2, i++);
        }
        if (n == 0) {
            luaL_getmetatable(L, JSON_ARRAY_MT);
            if (lua_istable(L, -1))
                lua_setmetatable(L, -2);
            else
                lua_pop(L, 1);
        }
    } else if (cJSON_IsObject(v)) {
        lua_createtable(L, 0, cJSON_GetArraySize(v));
        for (const cJSON *e = v->child; e; e = e->next) {
            if (!e->string)
                continue;
            push_value(L, e, depth + 1);
            lua_setfield(L, -2, e->string);
        }
    } else {
        lua_pushnil(L);
    }
}

void lcjson_push(lua_State *L, const cJSON *v)
{
    if (!v) {
        lua_pushnil(L);
        return;
    }
    push_value(L, v, 0);
}

/* ---- Lua -> cJSON -------------------------------------------------------------- */

struct build {
    lua_State *L;
    int arg;
    char where[256]; /* path of the value being converted, for messages */
    char problem[200];
};

static cJSON *build_value(struct build *b, int idx, int depth);

static bool is_array(lua_State *L, int idx, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return false;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        count++;
    }
    *n = count;
    if (count == 0) {
        /* An empty table is an object unless it carries the array metatable. */
        if (!lua_getmetatable(L, idx))
            return false;
        luaL_getmetatable(L, JSON_ARRAY_MT);
        bool arr = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        return arr;
    }
    return max == count;
}

static cJSON *fail(struct build *b, const char *what)
{
    snprintf(b->problem, sizeof b->problem, "%s", what);
    return NULL;
}

static cJSON *build_table(struct build *b, int idx, int depth)
{
    lua_State *L = b->L;
    lua_Integer n;
    size_t wlen = strlen(b->where);
    if (is_array(L, idx, &n)) {
        cJSON *arr = cJSON_CreateArray();
        if (!arr)
            return fail(b, "out of memory");
        for (lua_Integer i = 1; i <= n; i++) {
            snprintf(b->where + wlen, sizeof b->where - wlen, "[%lld]", (long long)i);
            lua_rawgeti(L, idx, i);
            cJSON *e = build_value(b, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            if (e && !cJSON_AddItemToArray(arr, e)) {
                cJSON_Delete(e);
                e = fail(b, "out of memory");
            }
            if (!e) {
                cJSON_Delete(arr);
                return NULL;
            }
        }
        b->where[wlen] = '\0';
        return arr;
    }
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return fail(b, "out of memory");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            cJSON_Delete(obj);
            return fail(b, "a table mixing array and object keys (or non-string keys)");
        }
        size_t klen;
        const char *k = lua_tolstring(L, -2, &klen);
        snprintf(b->where + wlen, sizeof b->where - wlen, ".%s", k);
        cJSON *e = strlen(k) == klen ? build_value(b, lua_gettop(L), depth + 1)
                                     : fail(b, "a key with a zero byte");
        lua_pop(L, 1);
        if (e && !cJSON_AddItemToObject(obj, k, e)) {
            cJSON_Delete(e);
            e = fail(b, "out of memory");
        }
        if (!e) {
            lua_pop(L, 1);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    b->where[wlen] = '\0';
    return obj;
}

static cJSON *build_value(struct build *b, int idx, int depth)
{
    lua_State *L = b->L;
    if (depth > WIRE_JSON_MAX_DEPTH)
        return fail(b, "a table nested too deeply (or containing itself)");
    if (!lua_checkstack(L, 4))
        return fail(b, "a table nested too deeply for the Lua stack");
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx))
            return wire_json_new_int64((int64_t)lua_tointeger(L, idx));
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            return fail(b, "NaN or infinity, which JSON cannot hold");
        return cJSON_CreateNumber(d);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (strlen(s) != len)
            return fail(b, "a string with a zero byte");
        return cJSON_CreateString(s);
    }
    case LUA_TTABLE:
        return build_table(b, idx, depth);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL)
            return cJSON_CreateNull();
        /* fall through */
    default: {
        char what[64];
        snprintf(what, sizeof what, "a %s value", luaL_typename(L, idx));
        return fail(b, what);
    }
    }
}

cJSON *lcjson_check(lua_State *L, int idx, int arg)
{
    struct build b = {.L = L, .arg = arg};
    idx = lua_absindex(L, idx);
    cJSON *v = build_value(&b, idx, 0);
    if (!v) {
        const char *msg = lua_pushfstring(L, "cannot convert %s to JSON: %s",
                                          b.where[0] ? b.where : "the value", b.problem);
        luaL_argerror(L, arg, msg);
    }
    return v;
}
