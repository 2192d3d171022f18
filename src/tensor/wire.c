/*
 * wire.c: a tensor's bytes in Triton's layout (the HTTP binary extension, gRPC
 * raw_input_contents / raw_output_contents, shared memory): row-major,
 * little-endian, and for BYTES each element as a uint32 little-endian length
 * followed by that many bytes. Input from the wire is hostile until checked:
 * every length prefix is checked against the bytes that remain.
 */
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int tensor_wire_size(const struct tensor *t, size_t *size, struct triton_error *err)
{
    int64_t n = tensor_numel(t);
    if (t->dtype != TENSOR_BYTES) {
        size_t esize = tensor_dtype_wire_size(t->dtype);
        if ((uint64_t)n > SIZE_MAX / esize)
            return triton_fail(err, TRITON_OUT_OF_RANGE, "tensor too large for the wire");
        *size = (size_t)n * esize;
        return 0;
    }
    size_t total = 0;
    struct tensor_iter it;
    int64_t i = 0;
    for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it), i++) {
        size_t len = ((const struct tensor_str *)it.ptr)->len;
        if (len > UINT32_MAX)
            return triton_fail(err, TRITON_OUT_OF_RANGE,
                               "BYTES element %lld is %zu bytes, more than a 4-byte length "
                               "prefix can describe",
                               (long long)i + 1, len);
        if (total > SIZE_MAX - 4 - len)
            return triton_fail(err, TRITON_OUT_OF_RANGE, "tensor too large for the wire");
        total += 4 + len;
    }
    *size = total;
    return 0;
}

int tensor_to_wire(const struct tensor *t, void *out, struct triton_error *err)
{
    unsigned char *o = out;
    struct tensor_iter it;
    if (t->dtype == TENSOR_BYTES) {
        for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it)) {
            const struct tensor_str *s = (const struct tensor_str *)it.ptr;
            if (s->len > UINT32_MAX)
                return triton_fail(err, TRITON_OUT_OF_RANGE, "BYTES element too long for the wire");
            store_le32(o, (uint32_t)s->len);
            if (s->len)
                memcpy(o + 4, s->ptr, s->len);
            o += 4 + s->len;
        }
        return 0;
    }
    size_t esize = tensor_dtype_elem_size(t->dtype);
    int64_t n = tensor_numel(t);
    if (n == 0)
        return 0;
    if (tensor_is_contiguous(t)) {
        memcpy(o, (const char *)t->buf->data + t->offset * (int64_t)esize, (size_t)n * esize);
        return 0;
    }
    tensor_iter_init(&it, t);
    /* The innermost dim is the hot loop; specialise the common element sizes so
     * the compiler emits plain loads and stores instead of memcpy calls. */
    for (; it.left > 0; tensor_iter_next(&it), o += esize) {
        switch (esize) {
        case 1:
            *o = *(const unsigned char *)it.ptr;
            break;
        case 2:
            memcpy(o, it.ptr, 2);
            break;
        case 4:
            memcpy(o, it.ptr, 4);
            break;
        default:
            memcpy(o, it.ptr, 8);
            break;
        }
    }
    return 0;
}

/* Releases the {ptr, len} array of a BYTES view over wire data and the
 * reference it holds on the buffer the strings point into. */
static void release_str_view(void *ctx, void *data)
{
    free(data);
    tensor_buffer_unref(ctx);
}

static void release_owner_ref(void *ctx, void *data)
{
    (void)data;
    tensor_buffer_unref(ctx);
}

static int bytes_from_wire(struct tensor *t, const int64_t *shape, int ndim, int64_t numel,
                           const unsigned char *data, size_t size, struct tensor_buffer *owner,
                           struct triton_error *err)
{
    /* Each element needs at least its 4-byte prefix: checking this first keeps a
     * hostile shape from making us allocate a huge array for a small message. */
    if ((uint64_t)numel > size / 4)
        return triton_fail(err, TRITON_PROTOCOL,
                           "BYTES data of %zu bytes is too short for %lld elements", size,
                           (long long)numel);
    struct tensor out = {0};
    if (tensor_init(&out, TENSOR_BYTES, shape, ndim, err) < 0)
        return -1;
    struct tensor_str *elems = out.buf->data;
    size_t pos = 0;
    for (int64_t i = 0; i < numel; i++) {
        if (size - pos < 4) {
            tensor_release(&out);
            return triton_fail(err, TRITON_PROTOCOL,
                               "BYTES element %lld: length prefix truncated at byte %zu of %zu",
                               (long long)i + 1, pos, size);
        }
        size_t len = load_le32(data + pos);
        pos += 4;
        if (len > size - pos) {
            tensor_release(&out);
            return triton_fail(err, TRITON_PROTOCOL,
                               "BYTES element %lld: length %zu exceeds the %zu bytes left",
                               (long long)i + 1, len, size - pos);
        }
        elems[i].len = len;
        elems[i].ptr = (const char *)data + pos;
        pos += len;
    }
    if (pos != size) {
        tensor_release(&out);
        return triton_fail(err, TRITON_PROTOCOL, "BYTES data has %zu bytes after its %lld elements",
                           size - pos, (long long)numel);
    }
    if (owner) {
        /* Hand the {ptr, len} array to a wrapping buffer that also keeps owner alive. */
        struct tensor_buffer *view =
            tensor_buffer_wrap(elems, out.buf->size, release_str_view, owner, err);
        if (!view) {
            tensor_release(&out);
            return -1;
        }
        tensor_buffer_ref(owner);
        out.buf->data = NULL; /* now view's */
        tensor_buffer_unref(out.buf);
        out.buf = view;
    } else {
        for (int64_t i = 0; i < numel; i++) {
            if (elems[i].len == 0)
                continue;
            elems[i].ptr = tensor_buffer_intern(out.buf, elems[i].ptr, elems[i].len, err);
            if (!elems[i].ptr) {
                tensor_release(&out);
                return -1;
            }
        }
    }
    *t = out;
    return 0;
}

int tensor_from_wire(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                     const void *data, size_t size, struct tensor_buffer *owner,
                     struct triton_error *err)
{
    int64_t numel;
    if (dt < 0 || dt >= TENSOR_NDTYPES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "invalid dtype %d", (int)dt);
    if (tensor_numel_checked(shape, ndim, dt, &numel, err) < 0)
        return -1;
    if (dt == TENSOR_BYTES)
        return bytes_from_wire(t, shape, ndim, numel, data, size, owner, err);
    size_t esize = tensor_dtype_wire_size(dt);
    if (size != (size_t)numel * esize)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "%zu bytes of data for %lld %s elements (expected %zu)", size,
                           (long long)numel, tensor_dtype_name(dt), (size_t)numel * esize);
    /* No data (which may come as NULL) is copied as well: every tensor then has
     * a real buffer that pointer arithmetic on its elements can start from. A
     * view is of owner itself, at an offset in elements, so the data must lie
     * within owner's bytes a whole number of elements from their start. */
    uintptr_t at = (uintptr_t)data, base = owner ? (uintptr_t)owner->data : 0;
    if (owner && size > 0 && base && at >= base && at - base <= owner->size &&
        size <= owner->size - (at - base) && at % esize == 0) {
        struct tensor_buffer *buf = owner;
        int64_t offset = (int64_t)((at - base) / esize);
        if ((at - base) % esize != 0) {
            /* Aligned data a fraction of an element into owner (a big gRPC
             * reply aligns its first output's address, not its offset): a
             * buffer of its own over the data, holding owner. Still no copy. */
            buf = tensor_buffer_wrap((void *)data, size, release_owner_ref, owner, err);
            if (!buf)
                return -1;
            offset = 0;
        }
        tensor_buffer_ref(owner); /* nothing fails from here: t is filled in place */
        t->dtype = dt;
        t->ndim = ndim;
        memcpy(t->shape, shape, sizeof *shape * (size_t)ndim);
        tensor_contiguous_strides(shape, ndim, t->strides);
        t->offset = offset;
        t->buf = buf;
        return 0;
    }
    /* No owner, no data, data outside owner or misaligned for the element
     * type: copy. */
    struct tensor out = {0};
    if (tensor_init(&out, dt, shape, ndim, err) < 0)
        return -1;
    if (size)
        memcpy(out.buf->data, data, size);
    *t = out;
    return 0;
}
