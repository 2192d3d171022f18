/* Triton's wire layout: round trips for every dtype, views over an owner's
 * memory, and BYTES parsing of truncated and hostile input. */
#include <stdlib.h>

#include "check.h"
#include "tensor/tensor.h"

static struct triton_error err;

static void reset(void)
{
    triton_error_clear(&err);
}

/* Wire bytes of t in a malloc'd block (caller frees). */
static unsigned char *to_wire(const struct tensor *t, size_t *size)
{
    reset();
    CHECK_INT(tensor_wire_size(t, size, &err), 0);
    unsigned char *out = malloc(*size ? *size : 1);
    CHECK_INT(tensor_to_wire(t, out, &err), 0);
    return out;
}

static void test_round_trip_every_dtype(void)
{
    int64_t shape[] = {2, 3};
    for (int dt = 0; dt < TENSOR_NDTYPES; dt++) {
        if (dt == TENSOR_BYTES)
            continue;
        struct tensor t = {0}, back = {0};
        reset();
        CHECK_INT(tensor_init(&t, dt, shape, 2, &err), 0);
        for (int i = 0; i < 6; i++)
            tensor_set_i64(dt, tensor_elem_ptr(&t, i), i == 5 ? -3 : i);
        size_t size;
        unsigned char *w = to_wire(&t, &size);
        CHECK_INT(size, 6 * tensor_dtype_wire_size(dt));
        CHECK_INT(tensor_from_wire(&back, dt, shape, 2, w, size, NULL, &err), 0);
        CHECK(memcmp(back.buf->data, t.buf->data, size) == 0);
        for (int i = 0; i < 6; i++)
            CHECK(tensor_get_f64(dt, tensor_elem_ptr(&back, i)) ==
                  tensor_get_f64(dt, tensor_elem_ptr(&t, i)));
        free(w);
        tensor_release(&back);
        reset();
        CHECK_INT(tensor_from_wire(&back, dt, shape, 2, "x", 1, NULL, &err), -1);
        CHECK_CONTAINS(err.message, "bytes of data for 6");
        tensor_release(&t);
    }
}

static void test_little_endian(void)
{
    struct tensor t = {0};
    int64_t shape[] = {2};
    reset();
    CHECK_INT(tensor_init(&t, TENSOR_INT32, shape, 1, &err), 0);
    ((int32_t *)t.buf->data)[0] = 0x01020304;
    ((int32_t *)t.buf->data)[1] = -2;
    size_t size;
    unsigned char *w = to_wire(&t, &size);
    unsigned char expect[] = {4, 3, 2, 1, 0xfe, 0xff, 0xff, 0xff};
    CHECK(size == sizeof expect && memcmp(w, expect, size) == 0);
    free(w);
    tensor_release(&t);
}

static void test_strided_to_wire(void)
{
    struct tensor t = {0}, tr = {0};
    int64_t shape[] = {2, 3};
    reset();
    CHECK_INT(tensor_init(&t, TENSOR_INT16, shape, 2, &err), 0);
    for (int i = 0; i < 6; i++)
        ((int16_t *)t.buf->data)[i] = (int16_t)i;
    CHECK_INT(tensor_transpose(&tr, &t, 0, 1, &err), 0);
    size_t size;
    unsigned char *w = to_wire(&tr, &size);
    int16_t got[6];
    memcpy(got, w, sizeof got);
    CHECK(got[0] == 0 && got[1] == 3 && got[2] == 1 && got[3] == 4 && got[4] == 2 && got[5] == 5);
    free(w);
    tensor_release(&tr);
    tensor_release(&t);
}

static void keep_memory(void *ctx, void *data)
{
    (void)ctx;
    (void)data;
}

static void test_view_over_owner(void)
{
    struct tensor_buffer *owner = tensor_buffer_new(64, &err);
    float *f = owner->data;
    for (int i = 0; i < 16; i++)
        f[i] = (float)i;
    struct tensor t = {0};
    int64_t shape[] = {2, 2};
    reset();
    /* a view over bytes 16..31 of the owner: no copy, the owner's own buffer at
     * an offset, which it keeps alive */
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, shape, 2, f + 4, 16, owner, &err), 0);
    CHECK(t.buf == owner && t.offset == 4 && tensor_elem_ptr(&t, 0) == (void *)(f + 4));
    CHECK_INT(atomic_load(&owner->refs), 2);
    tensor_buffer_unref(owner);
    CHECK(*(float *)tensor_elem_ptr(&t, 3) == 7.0f);
    tensor_release(&t); /* frees the owner (ASan reports a leak or a double free) */

    /* misaligned for the element type: copied instead */
    owner = tensor_buffer_new(64, &err);
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, shape, 2, (char *)owner->data + 1, 16, owner, &err),
              0);
    CHECK(t.buf != owner && t.buf->data != (char *)owner->data + 1);
    CHECK_INT(atomic_load(&owner->refs), 1);
    tensor_release(&t);

    /* data outside the owner's bytes, or running past their end: copied */
    float outside[4] = {1, 2, 3, 4};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, shape, 2, outside, 16, owner, &err), 0);
    CHECK(t.buf != owner && *(float *)tensor_elem_ptr(&t, 3) == 4.0f);
    CHECK_INT(atomic_load(&owner->refs), 1);
    tensor_release(&t);
    float part[16] = {0}; /* an owner covering only its first 32 bytes */
    struct tensor_buffer *half = tensor_buffer_wrap(part, 32, keep_memory, NULL, &err);
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, shape, 2, part + 6, 16, half, &err), 0);
    CHECK(t.buf != half);
    CHECK_INT(atomic_load(&half->refs), 1);
    tensor_release(&t);
    tensor_buffer_unref(half);

    /* aligned data a fraction of an element into the owner's bytes (a big gRPC
     * reply aligns its first output's address, not its offset): not copied, a
     * buffer over the data that holds the owner */
    float spaced[8] = {0, 5, 6, 7, 8, 0, 0, 0};
    struct tensor_buffer *shifted =
        tensor_buffer_wrap((char *)spaced + 2, sizeof spaced - 2, keep_memory, NULL, &err);
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, shape, 2, spaced + 1, 16, shifted, &err), 0);
    CHECK(t.buf != shifted && tensor_elem_ptr(&t, 0) == (void *)(spaced + 1));
    CHECK_INT(atomic_load(&shifted->refs), 2);
    CHECK(*(float *)tensor_elem_ptr(&t, 3) == 8.0f);
    tensor_release(&t);
    CHECK_INT(atomic_load(&shifted->refs), 1);
    tensor_buffer_unref(shifted);

    /* no data at all (NULL): the tensor still gets a buffer of its own */
    int64_t none[] = {0, 3};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_FP32, none, 2, NULL, 0, owner, &err), 0);
    CHECK(t.buf != NULL && t.buf->data != NULL);
    CHECK_INT(atomic_load(&owner->refs), 1);
    CHECK_INT(tensor_numel(&t), 0);
    tensor_release(&t);
    tensor_buffer_unref(owner);
}

static void test_bytes(void)
{
    static const unsigned char wire[] = {3, 0, 0, 0, 'a', 0, 'b', 0, 0, 0, 0, 2, 0, 0, 0, 'x', 'y'};
    int64_t shape[] = {3};
    struct tensor t = {0};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, shape, 1, wire, sizeof wire, NULL, &err), 0);
    struct tensor_str *s = t.buf->data;
    CHECK(s[0].len == 3 && memcmp(s[0].ptr, "a\0b", 3) == 0);
    CHECK(s[0].ptr != (const char *)wire + 4); /* copied */
    CHECK(s[1].len == 0);
    CHECK(s[2].len == 2 && memcmp(s[2].ptr, "xy", 2) == 0);
    size_t size;
    unsigned char *w = to_wire(&t, &size);
    CHECK(size == sizeof wire && memcmp(w, wire, size) == 0);
    free(w);
    tensor_release(&t);

    /* over an owner: the strings point into it */
    struct tensor_buffer *owner = tensor_buffer_new(sizeof wire, &err);
    memcpy(owner->data, wire, sizeof wire);
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, shape, 1, owner->data, sizeof wire, owner, &err),
              0);
    s = t.buf->data;
    CHECK(s[2].ptr == (char *)owner->data + 15);
    tensor_buffer_unref(owner);
    CHECK(memcmp(s[0].ptr, "a\0b", 3) == 0);
    tensor_release(&t);

    int64_t two[] = {2}, four[] = {4}, hostile[] = {INT64_C(1) << 40};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, two, 1, wire, sizeof wire, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "bytes after its 2 elements");
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, four, 1, wire, sizeof wire, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "element 4: length prefix truncated at byte 17 of 17");
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, shape, 1, wire, sizeof wire - 1, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "element 3: length 2 exceeds the 1 bytes left");
    CHECK_INT(err.code, TRITON_PROTOCOL);
    static const unsigned char huge_len[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c', 'd'};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, two, 1, huge_len, sizeof huge_len, NULL, &err),
              -1);
    CHECK_CONTAINS(err.message, "length 4294967295 exceeds");
    static const unsigned char cut_prefix[] = {0, 0, 0, 0, 1, 0, 0, 0};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, two, 1, cut_prefix, sizeof cut_prefix, NULL, &err),
              -1);
    CHECK_CONTAINS(err.message, "element 2: length 1 exceeds the 0 bytes left");
    /* a shape claiming 2^40 strings in 17 bytes fails before any allocation */
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, hostile, 1, wire, sizeof wire, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "too short");
    CHECK(t.buf == NULL);

    int64_t empty[] = {0};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_BYTES, empty, 1, NULL, 0, NULL, &err), 0);
    CHECK_INT(tensor_numel(&t), 0);
    w = to_wire(&t, &size);
    CHECK_INT(size, 0);
    free(w);
    tensor_release(&t);
}

/* An empty tensor whose other dims multiply to a count that fits int64 but not
 * once in bytes: refused, as tensor_iter's byte steps would overflow (a
 * reproducer of fuzz/regressions/tensor_wire/iter-step-overflow-zero-numel). */
static void test_empty_with_huge_dims(void)
{
    struct tensor t = {0};
    int64_t shape[] = {0, 6, INT64_MAX / 16};
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_UINT32, shape, 3, "", 0, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");
    CHECK(t.buf == NULL);
    reset();
    CHECK_INT(tensor_from_wire(&t, TENSOR_UINT8, shape, 3, "", 0, NULL, &err), 0);
    CHECK_INT(tensor_numel(&t), 0);
    size_t size;
    unsigned char *w = to_wire(&t, &size); /* walks the (empty) tensor's steps */
    CHECK_INT(size, 0);
    free(w);
    tensor_release(&t);
}

int main(void)
{
    test_round_trip_every_dtype();
    test_little_endian();
    test_strided_to_wire();
    test_view_over_owner();
    test_bytes();
    test_empty_with_huge_dims();
    return check_report("test_tensor_wire");
}
