/*
 * lcjson.h: cJSON trees <-> Lua values, for the client's replies and settings.
 *
 * Replies (metadata, config, statistics, ...) arrive as cJSON trees from both
 * transports (read by wire/json.h's reader, or converted from protobuf by
 * pb_json); lcjson_push turns them into plain Lua tables: objects become
 * tables with string keys, arrays sequences (empty arrays get
 * triton.json.array_mt when the json utilities are loaded, so they re-encode as
 * []), strings Lua strings with every byte (zero bytes included), null
 * triton.json.null (the NULL light userdata, as triton.json.decode gives it).
 * Numbers follow the tensors' rule (src/lua/ltensor.c): an integer in int64's
 * range, exactly, is a Lua integer (whether it came as 9007199254740993 or as
 * 2.0); above that (UINT64 values from 2^63) and for every other number, a
 * float.
 * lcjson_check builds a tree from a Lua table, for settings and generate
 * request bodies: Lua integers become exact integer nodes.
 */
#ifndef TRITON_LCJSON_H
#define TRITON_LCJSON_H

#include <cjson/cJSON.h>
#include <lua.h>

#include "lua/lcompat.h" /* the 5.4 API in 5.3 and LuaJIT too */

/* Pushes v (NULL pushes nil). Raises on nesting beyond WIRE_JSON_MAX_DEPTH. */
void lcjson_push(lua_State *L, const cJSON *v);
/* A new tree from the value at idx, or raises an argument error naming `arg`
 * (what was found and where). The caller owns the tree and must free it even if
 * a later Lua error could skip that: anchor it first or convert last. */
cJSON *lcjson_check(lua_State *L, int idx, int arg);

#endif
