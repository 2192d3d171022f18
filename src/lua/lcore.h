/*
 * lcore.h: how the binding's parts join into the "triton.core" table.
 * Each binding file exports one opener that adds its functions to the table
 * on top of the stack (and creates its metatables). Keep this list short:
 * one entry per binding area.
 */
#ifndef TRITON_LCORE_H
#define TRITON_LCORE_H

#include <lua.h>

#include "lua/lcompat.h" /* the 5.4 API in 5.3 and LuaJIT too */

void ltensor_open(lua_State *L);      /* src/lua/ltensor.c: tensors */
void ltensor_ops_open(lua_State *L);  /* src/lua/ltensor_ops.c: tensor math (after ltensor_open) */
void ltensor_lent_open(lua_State *L); /* src/lua/ltensor.c: lent tensors' metatable (after ops) */
void lutil_open(lua_State *L);        /* src/lua/lutil.c: now, sleep, json, version */
void lclient_open(lua_State *L);      /* src/lua/lclient.c: clients, infer results, errors */
void limage_open(lua_State *L);       /* src/lua/limage.c: triton.image */

#endif
