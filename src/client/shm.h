/*
 * shm.h: POSIX system shared memory regions (shm_open + mmap) in plain C.
 *
 * This is the client's half of Triton's system shared memory extension: the
 * client creates a region and writes inputs into it, registers the region's key
 * with the server, and reads outputs the server wrote there. Every access is
 * checked against the mapping's size, since offsets and sizes come from users.
 *
 * Keys follow POSIX portable naming: a leading '/', no other '/', at most
 * SHM_KEY_MAX bytes, no NUL.
 */
#ifndef TRITON_SHM_H
#define TRITON_SHM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define SHM_KEY_MAX 255 /* NAME_MAX: the longest name shm_open accepts on Linux */

struct shm_region {
    char key[SHM_KEY_MAX + 1];
    void *base; /* NULL once closed */
    size_t size;
    int fd;     /* -1 once closed */
    bool owner; /* created by us: destroy unlinks the key */
};

/* Checks a key against the naming rules above. */
int shm_key_check(const char *key, size_t len, struct triton_error *err);

/* Creates (or opens and resizes, when it exists) the region `key` of `size`
 * bytes and maps it. On failure r is left closed. */
int shm_region_create(struct shm_region *r, const char *key, size_t size, struct triton_error *err);
/* Opens an existing region and maps its whole current size. */
int shm_region_open(struct shm_region *r, const char *key, struct triton_error *err);

/* Bounds-checked copies between the mapping and caller memory. */
int shm_region_write(struct shm_region *r, size_t offset, const void *data, size_t n,
                     struct triton_error *err);
int shm_region_read(const struct shm_region *r, size_t offset, void *out, size_t n,
                    struct triton_error *err);
/* A pointer to [offset, offset + n) inside the mapping, or NULL with err set. */
void *shm_region_at(const struct shm_region *r, size_t offset, size_t n, struct triton_error *err);

bool shm_region_is_open(const struct shm_region *r);
/* Unmaps and closes; unlinks the key too when `unlink` is true. Safe to call
 * twice. Returns -1 (err set) if unlinking failed; the mapping is gone anyway. */
int shm_region_close(struct shm_region *r, bool unlink, struct triton_error *err);

#endif
