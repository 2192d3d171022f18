/*
 * reply_block.h: memory for the bytes of one reply.
 *
 * A big reply (a 64 MiB tensor) gets a block the kernel has never touched, since
 * glibc maps blocks above 32 MiB afresh each time and unmaps them on free: filling
 * it costs one page fault per 4 KiB, which was a sixth of a 64 MiB round trip's
 * client CPU. Blocks from REPLY_BLOCK_BIG on are therefore mapped here, aligned
 * and marked for transparent huge pages (one fault per 2 MiB where the system
 * allows it). Smaller blocks come from malloc, where the heap already reuses them.
 *
 * The caller keeps the capacity a call returned and passes it back: it tells
 * which of the two a block is.
 *
 * A client that reads a big reply into one block (HTTP) hands the block back
 * with reply_block_recycle once the reply is released: one such block is kept
 * and given to the next big reply it fits, so that a loop of round trips
 * fills pages that are already there instead of having the kernel clear new
 * ones (a fifth of a 64 MiB round trip). It is kept only while a client that
 * holds the cache (reply_block_hold) exists, taken by the next big allocation
 * or freed by it when it does not fit, so it never adds to the peak of a loop
 * of round trips: it stands where the previous reply stood. gRPC frees its
 * blocks instead: its reply arrives in slices before it is copied, and a kept
 * block would sit next to them.
 */
#ifndef TRITON_REPLY_BLOCK_H
#define TRITON_REPLY_BLOCK_H

#include <stddef.h>

#define REPLY_BLOCK_BIG ((size_t)4 << 20)

/* A block of at least `size` bytes (NULL when out of memory); *cap gets its
 * capacity, which is at least size. */
void *reply_block_alloc(size_t size, size_t *cap);
/* Grows block p of capacity cap, whose first `used` bytes matter, to at least
 * `size` bytes, like realloc: NULL (p left intact) when out of memory. */
void *reply_block_grow(void *p, size_t cap, size_t used, size_t size, size_t *new_cap);
/* Frees a block; NULL is allowed. */
void reply_block_free(void *p, size_t cap);
/* Frees a block, or keeps it for the next big reply (see above). */
void reply_block_recycle(void *p, size_t cap);
/* A client starts and stops holding the cache; the kept block is freed when
 * the last one stops. */
void reply_block_hold(void);
void reply_block_unhold(void);

#endif
