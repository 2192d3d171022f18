/*
 * lclient.h: what the client binding's files (lclient.c, lshm.c, lcjson.c)
 * share: triton.Error values and argument helpers. Not part of lcore.h because
 * only lclient_open is an entry point; it opens the others.
 */
#ifndef TRITON_LCLIENT_H
#define TRITON_LCLIENT_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "common/error.h"
#include "lua/largs.h" /* the argument checkers */
#include "tensor/tensor.h"

#define LERROR_MT "triton.Error"

/* Which protocol an error came from: decides how `status` reads in Lua (an HTTP
 * status number, or a gRPC status name). */
enum lerror_origin { LERROR_LOCAL, LERROR_HTTP, LERROR_GRPC };

/* Pushes a triton.Error table {message=, status=, code=}. */
void lerror_push(lua_State *L, const struct triton_error *err, enum lerror_origin origin);
/* Raises it. */
int lerror_raise(lua_State *L, const struct triton_error *err, enum lerror_origin origin);
/* Raises a local triton.Error with the given code and message. */
int lerror_raisef(lua_State *L, enum triton_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Creates the triton.Error metatable and sets core.Error (table at -1). */
void lerror_open(lua_State *L);

void lshm_open(lua_State *L); /* src/lua/lshm.c: triton.shm (core table at -1) */

#endif
