/*
 * lshm.c: triton.shm, system shared memory regions as userdata.
 *
 *   local region = triton.shm.create(name, key, byte_size)
 *   region.name, region.key, region.byte_size
 *   region:write(tensor_or_string [, offset])   -> bytes written
 *   region:read(dtype, shape [, offset])        -> a new tensor (a copy)
 *   region:destroy()                            unmaps and unlinks the key
 *
 * `name` is what the region is registered under with the server, `key` the
 * POSIX shm name ("/..."). read copies, so a tensor read from a region stays
 * valid after the region is destroyed. __gc and __close destroy as well:
 * the region was created by this process, and leaving a key behind in /dev/shm
 * after the object is gone would leak it until reboot.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "client/shm.h"
#include "lua/lclient.h"
#include "lua/ltensor.h"

#define LSHM_MT "triton.ShmRegion"

struct lshm {
    struct shm_region region;
};

static struct lshm *check_region(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, LSHM_MT);
}

static struct lshm *check_open_region(lua_State *L, int idx)
{
    struct lshm *s = check_region(L, idx);
    if (!shm_region_is_open(&s->region))
        luaL_error(L, "attempt to use a destroyed shared memory region");
    return s;
}

static size_t check_offset(lua_State *L, int idx)
{
    lua_Integer off = luaL_optinteger(L, idx, 0);
    luaL_argcheck(L, off >= 0, idx, "offset must not be negative");
    return (size_t)off;
}

/* triton.shm.create(name, key, byte_size) */
static int shm_create(lua_State *L)
{
    luaL_checkstring(L, 1);
    size_t keylen;
    const char *key = luaL_checklstring(L, 2, &keylen);
    lua_Integer size = luaL_checkinteger(L, 3);
    luaL_argcheck(L, size > 0, 3, "byte size must be above 0");
    struct triton_error err = {0};
    if (shm_key_check(key, keylen, &err) != 0)
        return luaL_argerror(L, 2, err.message);

    /* Created closed, so that a failure below leaves a consistent object. */
    struct lshm *s = lua_newuserdatauv(L, sizeof(*s), 1);
    memset(s, 0, sizeof(*s));
    s->region.fd = -1;
    luaL_setmetatable(L, LSHM_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    if (shm_region_create(&s->region, key, (size_t)size, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    return 1;
}

/* region:write(tensor_or_string [, offset]) -> bytes written */
static int shm_write(lua_State *L)
{
    struct lshm *s = check_open_region(L, 1);
    size_t offset = check_offset(L, 3);
    struct triton_error err = {0};
    if (lua_type(L, 2) == LUA_TSTRING) {
        size_t n;
        const char *data = lua_tolstring(L, 2, &n);
        if (shm_region_write(&s->region, offset, data, n, &err) != 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
        lua_pushinteger(L, (lua_Integer)n);
        return 1;
    }
    struct tensor *t = ltensor_test(L, 2);
    if (!t)
        return luaL_typeerror(L, 2, "tensor or string");
    size_t n;
    if (tensor_wire_size(t, &n, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    void *dst = shm_region_at(&s->region, offset, n, &err);
    if (!dst || tensor_to_wire(t, dst, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* The wire size of numel BYTES elements starting at p (at most avail bytes). */
static int bytes_extent(const unsigned char *p, size_t avail, int64_t numel, size_t *size,
                        struct triton_error *err)
{
    size_t pos = 0;
    for (int64_t i = 0; i < numel; i++) {
        if (avail - pos < 4)
            return triton_fail(err, TRITON_OUT_OF_RANGE,
                               "BYTES element %lld runs past the end of the region",
                               (long long)i + 1);
        size_t len = (size_t)p[pos] | (size_t)p[pos + 1] << 8 | (size_t)p[pos + 2] << 16 |
                     (size_t)p[pos + 3] << 24;
        pos += 4;
        if (len > avail - pos)
            return triton_fail(err, TRITON_OUT_OF_RANGE,
                               "BYTES element %lld (%zu bytes) runs past the end of the region",
                               (long long)i + 1, len);
        pos += len;
    }
    *size = pos;
    return 0;
}

/* region:read(dtype, shape [, offset]) -> tensor */
static int shm_read(lua_State *L)
{
    struct lshm *s = check_open_region(L, 1);
    enum tensor_dtype dt = largs_check_dtype(L, 2, 2, NULL);
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = largs_check_shape(L, 3, 3, NULL, 0, shape);
    size_t offset = check_offset(L, 4);
    struct triton_error err = {0};
    int64_t numel;
    if (tensor_numel_checked(shape, ndim, dt, &numel, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    size_t n = 0; /* set on every path below; gcc cannot see through lerror_raise */
    if (dt == TENSOR_BYTES) {
        const unsigned char *p = shm_region_at(&s->region, offset, 0, &err);
        if (!p || bytes_extent(p, s->region.size - offset, numel, &n, &err) != 0)
            return lerror_raise(L, &err, LERROR_LOCAL);
    } else {
        n = (size_t)numel * tensor_dtype_wire_size(dt);
    }
    const void *src = shm_region_at(&s->region, offset, n, &err);
    if (!src)
        return lerror_raise(L, &err, LERROR_LOCAL);
    struct tensor *t = ltensor_push(L);
    if (tensor_from_wire(t, dt, shape, ndim, src, n, NULL, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    return 1;
}

static int shm_destroy(lua_State *L)
{
    struct lshm *s = check_region(L, 1);
    struct triton_error err = {0};
    if (shm_region_close(&s->region, s->region.owner, &err) != 0)
        return lerror_raise(L, &err, LERROR_LOCAL);
    return 0;
}

/* __gc and __close: never raise from a finalizer. */
static int shm_release(lua_State *L)
{
    struct lshm *s = check_region(L, 1);
    shm_region_close(&s->region, s->region.owner, NULL);
    return 0;
}

static int shm_index(lua_State *L)
{
    struct lshm *s = check_region(L, 1);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "name") == 0) {
        lua_getiuservalue(L, 1, 1);
    } else if (strcmp(k, "key") == 0) {
        lua_pushstring(L, s->region.key);
    } else if (strcmp(k, "byte_size") == 0) {
        if (!shm_region_is_open(&s->region))
            return luaL_error(L, "attempt to use a destroyed shared memory region");
        lua_pushinteger(L, (lua_Integer)s->region.size);
    } else {
        luaL_getmetatable(L, LSHM_MT);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

static int shm_tostring(lua_State *L)
{
    struct lshm *s = check_region(L, 1);
    lua_getiuservalue(L, 1, 1);
    if (shm_region_is_open(&s->region))
        lua_pushfstring(L, "triton.ShmRegion(%s, key %s, %I bytes)", lua_tostring(L, -1),
                        s->region.key, (lua_Integer)s->region.size);
    else
        lua_pushfstring(L, "triton.ShmRegion(%s, destroyed)", lua_tostring(L, -1));
    return 1;
}

void lshm_open(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"write", shm_write}, {"read", shm_read}, {"destroy", shm_destroy}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__index", shm_index},
                                    {"__gc", shm_release},
                                    {"__close", shm_release},
                                    {"__tostring", shm_tostring},
                                    {NULL, NULL}};
    luaL_newmetatable(L, LSHM_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);

    lua_newtable(L);
    lua_pushcfunction(L, shm_create);
    lua_setfield(L, -2, "create");
    lua_setfield(L, -2, "shm");
}
