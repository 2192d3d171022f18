/*
 * reply_block.c: see reply_block.h.
 */
#include "wire/reply_block.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

/* The huge page size of x86-64 and arm64 with 4 KiB pages; elsewhere the
 * alignment is merely wasted address space. */
#define HUGE_ALIGN ((size_t)2 << 20)

/* The one kept block (see reply_block.h). Replies are released on whichever
 * thread drops the last reference to their tensors, hence the lock. */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cached;
static size_t cached_cap;
static unsigned holders;

/* The kept block if it fits `size` without wasting more than half of itself;
 * otherwise it is freed, so that a new block is never mapped next to it. */
static void *take_cached(size_t size, size_t *cap)
{
    pthread_mutex_lock(&cache_lock);
    void *p = cached;
    size_t p_cap = cached_cap;
    cached = NULL;
    cached_cap = 0;
    pthread_mutex_unlock(&cache_lock);
    if (!p)
        return NULL;
    if (p_cap >= size && p_cap / 2 <= size) {
        *cap = p_cap;
        return p;
    }
    munmap(p, p_cap);
    return NULL;
}

static void *map_big(size_t size, size_t *cap)
{
    void *kept = take_cached(size, cap);
    if (kept)
        return kept;
    if (size > SIZE_MAX - 2 * HUGE_ALIGN)
        return NULL;
    size_t len = (size + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    /* map one alignment unit more and cut the ends off, so that the block
     * starts on a huge page boundary: only whole aligned 2 MiB ranges can be
     * backed by huge pages */
    size_t span = len + HUGE_ALIGN;
    uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + span - (p + len));
    if (tail)
        munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE); /* advice only: without it the block still works */
#endif
    *cap = len;
    return p;
}

void *reply_block_alloc(size_t size, size_t *cap)
{
    if (size >= REPLY_BLOCK_BIG)
        return map_big(size, cap);
    void *p = malloc(size ? size : 1);
    if (p)
        *cap = size;
    return p;
}

void *reply_block_grow(void *p, size_t cap, size_t used, size_t size, size_t *new_cap)
{
    if (!p)
        return reply_block_alloc(size, new_cap);
    if (size <= cap) {
        *new_cap = cap;
        return p;
    }
    if (cap < REPLY_BLOCK_BIG && size < REPLY_BLOCK_BIG) {
        void *grown = realloc(p, size);
        if (grown)
            *new_cap = size;
        return grown;
    }
    size_t grown_cap;
    void *grown = reply_block_alloc(size, &grown_cap);
    if (!grown)
        return NULL;
    memcpy(grown, p, used < cap ? used : cap);
    reply_block_free(p, cap);
    *new_cap = grown_cap;
    return grown;
}

void reply_block_free(void *p, size_t cap)
{
    if (!p)
        return;
    if (cap >= REPLY_BLOCK_BIG)
        munmap(p, cap);
    else
        free(p);
}

void reply_block_recycle(void *p, size_t cap)
{
    if (p && cap >= REPLY_BLOCK_BIG) {
        pthread_mutex_lock(&cache_lock);
        bool keep = holders > 0 && !cached;
        if (keep) {
            cached = p;
            cached_cap = cap;
        }
        pthread_mutex_unlock(&cache_lock);
        if (keep)
            return;
    }
    reply_block_free(p, cap);
}

void reply_block_hold(void)
{
    pthread_mutex_lock(&cache_lock);
    holders++;
    pthread_mutex_unlock(&cache_lock);
}

void reply_block_unhold(void)
{
    pthread_mutex_lock(&cache_lock);
    void *p = NULL;
    size_t cap = 0;
    if (holders > 0 && --holders == 0) {
        p = cached;
        cap = cached_cap;
        cached = NULL;
        cached_cap = 0;
    }
    pthread_mutex_unlock(&cache_lock);
    reply_block_free(p, cap);
}
