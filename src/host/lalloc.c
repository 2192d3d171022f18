/*
 * lalloc.c: the host's Lua allocator. Lua's collector frees in bursts: a sweep
 * gives back hundreds of small objects of a few sizes at once (a request
 * leaves an infer result and its output tensors behind). glibc keeps 7 freed
 * blocks of a size at hand; the rest go to its fastbins, which the next
 * allocation over 1 KiB (an infer reply's result block, gRPC's call arena)
 * merges back into the heap, so most of Lua's next allocations take malloc's
 * slow path: about 300 instructions each against 60, measured per `simple`
 * request under callgrind.
 *
 * So the host keeps Lua's freed small blocks itself, a list per exact size,
 * up to HOST_POOL_BYTES in all, and hands them out again before asking
 * malloc. Every block, kept or not, is one malloc'd block of exactly the size
 * Lua asked for; that is why a block luaL_newstate's allocator made can be
 * kept, and why a kept block serves any later request of its size. Lua calls
 * its allocator from one thread at a time per state, as the manual requires of
 * the state; the pool belongs to the one state the host makes.
 */
#include <stdlib.h>

#include <lauxlib.h>

#include "host/host.h"

/* Blocks of 8 to HOST_POOL_MAX bytes are kept (Lua's small objects: a
 * userdata, a short string, a table's header or small array). */
#define HOST_POOL_MAX   256
#define HOST_POOL_BYTES ((size_t)4 << 20)

struct host_pool {
    void *head[HOST_POOL_MAX + 1]; /* by exact size; a kept block's first word links the next */
    size_t kept;                   /* bytes in the lists */
};

static struct host_pool pool;

static void *pool_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct host_pool *p = ud;
    if (nsize == 0) {
        if (ptr && osize >= sizeof(void *) && osize <= HOST_POOL_MAX &&
            p->kept + osize <= HOST_POOL_BYTES) {
            *(void **)ptr = p->head[osize];
            p->head[osize] = ptr;
            p->kept += osize;
        } else {
            free(ptr);
        }
        return NULL;
    }
    if (!ptr && nsize <= HOST_POOL_MAX && p->head[nsize]) {
        void *b = p->head[nsize];
        p->head[nsize] = *(void **)b;
        p->kept -= nsize;
        return b;
    }
    return realloc(ptr, nsize);
}

static void pool_free_all(struct host_pool *p)
{
    for (size_t n = 0; n <= HOST_POOL_MAX; n++) {
        while (p->head[n]) {
            void *b = p->head[n];
            p->head[n] = *(void **)b;
            free(b);
        }
    }
    p->kept = 0;
}

lua_State *host_newstate(void)
{
    /* luaL_newstate sets the panic and warning functions lauxlib keeps to
     * itself; the allocator is changed after it. */
    lua_State *L = luaL_newstate();
    if (L)
        lua_setallocf(L, pool_alloc, &pool);
    return L;
}

void host_close(lua_State *L)
{
    lua_close(L);
    pool_free_all(&pool);
}
