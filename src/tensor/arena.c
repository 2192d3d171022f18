#include "tensor/arena.h"

#include <stdint.h>
#include <stdlib.h>

/* Chunks grow geometrically from ARENA_MIN to ARENA_MAX, so many small strings
 * cost few mallocs; a string larger than half a chunk gets a chunk of its own so
 * that one big string does not waste the rest of a shared chunk. */
#define ARENA_MIN ((size_t)4096)
#define ARENA_MAX ((size_t)1 << 20)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size;
    size_t used;
    char data[];
};

struct tensor_arena {
    struct arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t next_size;
};

struct tensor_arena *tensor_arena_new(struct triton_error *err)
{
    struct tensor_arena *a = calloc(1, sizeof *a);
    if (!a) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory for a string arena");
        return NULL;
    }
    a->next_size = ARENA_MIN;
    return a;
}

static struct arena_chunk *chunk_new(size_t size, struct triton_error *err)
{
    if (size > SIZE_MAX - sizeof(struct arena_chunk)) {
        triton_fail(err, TRITON_NO_MEMORY, "string of %zu bytes is too large", size);
        return NULL;
    }
    struct arena_chunk *c = malloc(sizeof *c + size);
    if (!c) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory for %zu bytes of strings", size);
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *tensor_arena_alloc(struct tensor_arena *a, size_t n, struct triton_error *err)
{
    struct arena_chunk *c = a->head;
    if (c && c->size - c->used >= n) {
        void *p = c->data + c->used;
        c->used += n;
        return p;
    }
    if (n > a->next_size / 2) {
        /* Its own chunk, linked behind the head so the head keeps its free space. */
        struct arena_chunk *own = chunk_new(n ? n : 1, err);
        if (!own)
            return NULL;
        own->used = n;
        if (c) {
            own->next = c->next;
            c->next = own;
        } else {
            a->head = own;
        }
        return own->data;
    }
    struct arena_chunk *fresh = chunk_new(a->next_size, err);
    if (!fresh)
        return NULL;
    if (a->next_size < ARENA_MAX)
        a->next_size *= 2;
    fresh->next = c;
    a->head = fresh;
    fresh->used = n;
    return fresh->data;
}

void tensor_arena_free(struct tensor_arena *a)
{
    if (!a)
        return;
    for (struct arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}
