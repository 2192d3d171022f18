/*
 * lcjson.h: cJSON trees <-> Lua values, for the client's replies and settings.
 *
 * Replies (metadata, config, statistics, ...) arrive as cJSON trees from both
 * transports; lcjson_push turns them into plain Lua tables: objects become
 * tables with string keys, arrays sequences (empty arrays get
 * triton.json.array_mt when the json utilities are loaded, so they re-encode as
 * []), integral numbers within +-2^53 Lua integers, other numbers floats, null
 * triton.json.null (the NULL light userdata, as triton.json.decode gives it).
 * lcjson_check builds a tree from a Lua table, for settings and generate
 * request bodies.
 */
#ifndef TRITON_LCJSON_H
#define TRITON_LCJSON_H

#include <cjson/cJSON.h>
#include <lua.h>

#define LCJSON_MAX_DEPTH 200

/* Pushes v (NULL pushes nil). Raises on nesting beyond LCJSON_MAX_DEPTH. */
void lcjson_push(lua_State *L, const cJSON *v);
/* A new tree from the value at idx, or raises an argument error naming `arg`
 * (what was found and where). The caller owns the tree and must free it even if
 * a later Lua error could skip that: anchor it first or convert last. */
cJSON *lcjson_check(lua_State *L, int idx, int arg);

#endif
