/*
 * shm.c: see shm.h.
 */
#include "client/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int shm_key_check(const char *key, size_t len, struct triton_error *err)
{
    if (len == 0 || key[0] != '/')
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory key '%.*s' must start with '/'", (int)len, key);
    if (len < 2)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory key '/' needs a name after the '/'");
    if (len > SHM_KEY_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory key is %zu bytes long, the limit is %d", len,
                           SHM_KEY_MAX);
    if (memchr(key, '\0', len))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory key must not contain a zero byte");
    if (memchr(key + 1, '/', len - 1))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory key '%s' must not contain '/' after the first byte", key);
    return 0;
}

static void region_reset(struct shm_region *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static int map_fd(struct shm_region *r, const char *key, int fd, size_t size, bool owner,
                  struct triton_error *err)
{
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        return triton_fail(err, e == ENOMEM ? TRITON_NO_MEMORY : TRITON_INTERNAL,
                           "mmap of shared memory '%s' (%zu bytes) failed: %s", key, size,
                           strerror(e));
    }
    strcpy(r->key, key); /* length checked by shm_key_check */
    r->base = base;
    r->size = size;
    r->fd = fd;
    r->owner = owner;
    return 0;
}

static enum triton_code errno_code(int e)
{
    switch (e) {
    case ENOENT:
        return TRITON_NOT_FOUND;
    case EACCES:
    case EPERM:
        return TRITON_PERMISSION_DENIED;
    case ENOMEM:
    case ENOSPC:
    case EFBIG:
    case EMFILE:
    case ENFILE:
        return TRITON_NO_MEMORY;
    case EINVAL:
    case ENAMETOOLONG:
        return TRITON_INVALID_ARGUMENT;
    default:
        return TRITON_INTERNAL;
    }
}

int shm_region_create(struct shm_region *r, const char *key, size_t size, struct triton_error *err)
{
    region_reset(r);
    if (shm_key_check(key, strlen(key), err) != 0)
        return -1;
    if (size == 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory region '%s' needs a byte size above 0", key);
    if ((uint64_t)size > (uint64_t)INT64_MAX)
        return triton_fail(err, TRITON_OUT_OF_RANGE, "shared memory size %zu is too large", size);
    int fd = shm_open(key, O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        int e = errno;
        return triton_fail(err, errno_code(e), "shm_open('%s') failed: %s", key, strerror(e));
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        return triton_fail(err, errno_code(e),
                           "resizing shared memory '%s' to %zu bytes failed: %s", key, size,
                           strerror(e));
    }
    return map_fd(r, key, fd, size, true, err);
}

int shm_region_open(struct shm_region *r, const char *key, struct triton_error *err)
{
    region_reset(r);
    if (shm_key_check(key, strlen(key), err) != 0)
        return -1;
    int fd = shm_open(key, O_RDWR, 0);
    if (fd < 0) {
        int e = errno;
        return triton_fail(err, errno_code(e), "shm_open('%s') failed: %s", key, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return triton_fail(err, errno_code(e), "fstat of shared memory '%s' failed: %s", key,
                           strerror(e));
    }
    if (st.st_size <= 0) {
        close(fd);
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "shared memory '%s' is empty", key);
    }
    return map_fd(r, key, fd, (size_t)st.st_size, false, err);
}

bool shm_region_is_open(const struct shm_region *r)
{
    return r->base != NULL;
}

void *shm_region_at(const struct shm_region *r, size_t offset, size_t n, struct triton_error *err)
{
    if (!r->base) {
        triton_fail(err, TRITON_INVALID_ARGUMENT,
                    "attempt to use a destroyed shared memory region");
        return NULL;
    }
    /* Written so that offset + n cannot overflow. */
    if (offset > r->size || n > r->size - offset) {
        triton_fail(err, TRITON_OUT_OF_RANGE,
                    "%zu bytes at offset %zu do not fit in shared memory '%s' of %zu bytes", n,
                    offset, r->key, r->size);
        return NULL;
    }
    return (char *)r->base + offset;
}

int shm_region_write(struct shm_region *r, size_t offset, const void *data, size_t n,
                     struct triton_error *err)
{
    void *p = shm_region_at(r, offset, n, err);
    if (!p)
        return -1;
    if (n)
        memcpy(p, data, n);
    return 0;
}

int shm_region_read(const struct shm_region *r, size_t offset, void *out, size_t n,
                    struct triton_error *err)
{
    const void *p = shm_region_at(r, offset, n, err);
    if (!p)
        return -1;
    if (n)
        memcpy(out, p, n);
    return 0;
}

int shm_region_close(struct shm_region *r, bool unlink, struct triton_error *err)
{
    if (!r->base)
        return 0;
    munmap(r->base, r->size);
    if (r->fd >= 0)
        close(r->fd);
    int rc = 0;
    if (unlink && shm_unlink(r->key) != 0 && errno != ENOENT) {
        int e = errno;
        rc = triton_fail(err, errno_code(e), "shm_unlink('%s') failed: %s", r->key, strerror(e));
    }
    char key[sizeof r->key];
    memcpy(key, r->key, sizeof key);
    region_reset(r);
    memcpy(r->key, key, sizeof key); /* kept for messages about the closed region */
    return rc;
}
