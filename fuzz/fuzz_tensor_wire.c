/*
 * fuzz_tensor_wire.c: tensor_from_wire (tensor/tensor.h), the deserializer every
 * binary output of both transports goes through, BYTES length prefixes included.
 *
 * Input: dtype byte, ndim byte, one byte per dim, flags byte, then the wire data.
 *   dtype % 16      one of the 14 dtypes, or an invalid one (14, 15 -> -1, 99)
 *   ndim % 6        dimensions (0..5)
 *   dim byte        0..239 as is; 240.. pick hostile sizes (2^31, 2^62, -1, ...)
 *   flags & 1       with an owner buffer (a view over the data), else copied
 *   flags >> 1      misalignment (0..7) of the data in its owner buffer
 * A tensor that parses must re-encode to exactly the input bytes, since the
 * format leaves no freedom (the byte count must match and nothing may trail).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t dim_from_byte(uint8_t b)
{
    static const int64_t hostile[] = {
        INT64_C(1) << 31,
        INT64_C(1) << 32,
        INT64_C(1) << 40,
        INT64_C(1) << 62,
        INT64_MAX,
        INT64_C(1) << 61,
        -1,
        -2,
        INT64_MIN,
        INT64_C(0x100000001),
        1000,
        65536,
        INT64_C(1) << 29,
        INT64_C(3) << 60,
        4095,
        INT64_MAX / 16,
    };
    return b < 240 ? b : hostile[b - 240];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t dt_byte = fuzz_u8(&in) % 16;
    enum tensor_dtype dt = dt_byte < TENSOR_NDTYPES ? (enum tensor_dtype)dt_byte
                           : dt_byte == 14          ? TENSOR_INVALID
                                                    : (enum tensor_dtype)99;
    int ndim = fuzz_u8(&in) % 6;
    int64_t shape[TENSOR_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        shape[d] = dim_from_byte(fuzz_u8(&in));
    uint8_t flags = fuzz_u8(&in);

    struct tensor_buffer *owner = NULL;
    const void *wire = in.p;
    if (flags & 1) {
        owner = fuzz_owner_copy(in.p, in.n, flags >> 1);
        wire = owner->data;
    }
    struct triton_error err = {0};
    struct tensor t = {0};
    int rc = tensor_from_wire(&t, dt, shape, ndim, wire, in.n, owner, &err);
    tensor_buffer_unref(owner);
    if (rc < 0) {
        if (t.buf)
            fuzz_fail("failed tensor_from_wire left a buffer behind");
        if (!err.message[0])
            fuzz_fail("failed tensor_from_wire without an error message");
        return 0;
    }
    if (t.dtype != dt || t.ndim != ndim || memcmp(t.shape, shape, sizeof *shape * (size_t)ndim))
        fuzz_fail("tensor_from_wire changed dtype or shape");
    fuzz_touch_tensor(&t);
    size_t wsize;
    if (tensor_wire_size(&t, &wsize, &err) < 0)
        fuzz_fail("tensor_wire_size: %s", err.message);
    if (wsize != in.n)
        fuzz_fail("%zu wire bytes parsed into a tensor of %zu wire bytes", in.n, wsize);
    char *again = malloc(wsize ? wsize : 1);
    if (!again)
        fuzz_fail("out of memory");
    if (tensor_to_wire(&t, again, &err) < 0)
        fuzz_fail("tensor_to_wire: %s", err.message);
    if (wsize && memcmp(again, in.p, wsize) != 0)
        fuzz_fail("re-encoding changed the wire bytes");
    free(again);
    tensor_release(&t);
    return 0;
}
