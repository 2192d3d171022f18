/* The tensor core: dtypes, shape checks, buffers, views, element stores and
 * conversions between dtypes. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tensor/tensor.h"

static struct triton_error err;

static void reset(void)
{
    triton_error_clear(&err);
}

static void test_dtypes(void)
{
    CHECK_INT(tensor_dtype_from_name("FP32", 4), TENSOR_FP32);
    CHECK_INT(tensor_dtype_from_name("BYTES", 5), TENSOR_BYTES);
    CHECK_INT(tensor_dtype_from_name("FP3", 3), TENSOR_INVALID);
    CHECK_INT(tensor_dtype_from_name("fp32", 4), TENSOR_INVALID);
    CHECK_INT(tensor_dtype_from_name("FP32x", 4), TENSOR_FP32); /* length decides */
    CHECK(strcmp(tensor_dtype_name(TENSOR_BF16), "BF16") == 0);
    CHECK_INT(tensor_dtype_wire_size(TENSOR_FP16), 2);
    CHECK_INT(tensor_dtype_wire_size(TENSOR_BYTES), 0);
    CHECK_INT(tensor_dtype_elem_size(TENSOR_BYTES), sizeof(struct tensor_str));
    CHECK_INT(tensor_dtype_elem_size(TENSOR_UINT64), 8);
}

static void test_numel(void)
{
    int64_t n = -1;
    int64_t ok[] = {2, 3, 4};
    reset();
    CHECK_INT(tensor_numel_checked(ok, 3, TENSOR_FP32, &n, &err), 0);
    CHECK_INT(n, 24);
    CHECK_INT(tensor_numel_checked(ok, 0, TENSOR_FP32, &n, &err), 0);
    CHECK_INT(n, 1); /* a scalar */

    int64_t big[] = {INT64_C(1) << 32, INT64_C(1) << 32};
    reset();
    CHECK_INT(tensor_numel_checked(big, 2, TENSOR_UINT8, &n, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");
    CHECK_INT(err.code, TRITON_OUT_OF_RANGE);

    int64_t bytes_overflow[] = {INT64_C(1) << 61}; /* elements fit, bytes do not */
    reset();
    CHECK_INT(tensor_numel_checked(bytes_overflow, 1, TENSOR_INT8, &n, &err), 0);
    CHECK_INT(tensor_numel_checked(bytes_overflow, 1, TENSOR_FP64, &n, &err), -1);
    CHECK_CONTAINS(err.message, "element count overflows (shape too large)");
    CHECK_INT(err.code, TRITON_OUT_OF_RANGE);

    int64_t zero_first[] = {0, INT64_MAX / 8, 1}; /* an empty dim anywhere: 0 */
    reset();
    CHECK_INT(tensor_numel_checked(zero_first, 3, TENSOR_FP64, &n, &err), 0);
    CHECK_INT(n, 0);
    int64_t zero_last[] = {INT64_MAX / 8, 1, 0};
    CHECK_INT(tensor_numel_checked(zero_last, 3, TENSOR_FP64, &n, &err), 0);
    CHECK_INT(n, 0);
    /* Empty, and the other dimensions' product fits int64 but not once in bytes:
     * tensor_iter's byte steps would overflow (found by fuzzing tensor_from_wire). */
    int64_t zero_bytes_overflow[] = {0, 6, INT64_MAX / 16};
    reset();
    CHECK_INT(tensor_numel_checked(zero_bytes_overflow, 3, TENSOR_UINT8, &n, &err), 0);
    CHECK_INT(n, 0);
    CHECK_INT(tensor_numel_checked(zero_bytes_overflow, 3, TENSOR_UINT32, &n, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");
    reset();
    int64_t zero_int64_max[] = {INT64_MAX, 0};
    CHECK_INT(tensor_numel_checked(zero_int64_max, 2, TENSOR_UINT8, &n, &err), 0);
    CHECK_INT(tensor_numel_checked(zero_int64_max, 2, TENSOR_UINT16, &n, &err), -1);
    /* Empty, but the other dimensions' product overflows: their strides would too
     * (found by fuzzing the gRPC reply parser). */
    int64_t zero_overflow[] = {0, 77, INT64_C(120000000000000000)};
    reset();
    CHECK_INT(tensor_numel_checked(zero_overflow, 3, TENSOR_FP32, &n, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");

    int64_t neg[] = {2, -3};
    reset();
    CHECK_INT(tensor_numel_checked(neg, 2, TENSOR_FP32, &n, &err), -1);
    CHECK_CONTAINS(err.message, "negative dimension -3 at dim 2");
    CHECK_INT(err.code, TRITON_INVALID_ARGUMENT);
    /* A negative dimension is reported before an overflow of the dimensions
     * ahead of it, and before one in bytes. */
    int64_t neg_after_overflow[] = {INT64_C(1) << 62, 4, -1};
    reset();
    CHECK_INT(tensor_numel_checked(neg_after_overflow, 3, TENSOR_UINT8, &n, &err), -1);
    CHECK_CONTAINS(err.message, "negative dimension -1 at dim 3");
    int64_t neg_after_bytes[] = {INT64_C(1) << 61, -2};
    reset();
    CHECK_INT(tensor_numel_checked(neg_after_bytes, 2, TENSOR_FP64, &n, &err), -1);
    CHECK_CONTAINS(err.message, "negative dimension -2 at dim 2");

    int64_t many[TENSOR_MAX_DIMS + 1];
    for (int i = 0; i <= TENSOR_MAX_DIMS; i++)
        many[i] = 1;
    reset();
    CHECK_INT(tensor_check_shape(many, TENSOR_MAX_DIMS, TENSOR_FP32, &err), 0);
    CHECK_INT(tensor_check_shape(many, TENSOR_MAX_DIMS + 1, TENSOR_FP32, &err), -1);
    CHECK_CONTAINS(err.message, "too many dimensions");
    struct tensor t = {0};
    reset();
    CHECK_INT(tensor_init(&t, TENSOR_FP32, many, TENSOR_MAX_DIMS + 1, &err), -1);
    CHECK(t.buf == NULL);
    CHECK_INT(tensor_init(&t, TENSOR_FP32, big, 2, &err), -1);
    CHECK(t.buf == NULL);
}

static void test_resolve(void)
{
    int64_t s[] = {2, -1, 3};
    reset();
    CHECK_INT(tensor_resolve_shape(s, 3, 24, &err), 0);
    CHECK_INT(s[1], 4);
    int64_t bad[] = {5, -1};
    reset();
    CHECK_INT(tensor_resolve_shape(bad, 2, 24, &err), -1);
    CHECK_CONTAINS(err.message, "cannot resolve -1");
    int64_t two[] = {-1, -1};
    reset();
    CHECK_INT(tensor_resolve_shape(two, 2, 4, &err), -1);
    CHECK_CONTAINS(err.message, "only one dimension can be -1");
    int64_t zero[] = {0, -1};
    reset();
    CHECK_INT(tensor_resolve_shape(zero, 2, 0, &err), -1); /* 0 * x = 0 for any x */
    int64_t mismatch[] = {2, 2};
    reset();
    CHECK_INT(tensor_resolve_shape(mismatch, 2, 5, &err), -1);
    CHECK_CONTAINS(err.message, "shape has 4 elements, expected 5");
    int64_t huge[] = {INT64_MAX, 2, -1};
    reset();
    CHECK_INT(tensor_resolve_shape(huge, 3, 8, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");
}

static float f32_at(const struct tensor *t, int64_t i)
{
    return *(const float *)tensor_elem_ptr(t, i);
}

static void test_views(void)
{
    struct tensor t = {0}, row = {0}, col = {0}, tr = {0}, sl = {0}, r = {0}, sq = {0}, un = {0};
    int64_t shape[] = {2, 3};
    reset();
    CHECK_INT(tensor_init(&t, TENSOR_FP32, shape, 2, &err), 0);
    for (int i = 0; i < 6; i++)
        ((float *)t.buf->data)[i] = (float)i;
    CHECK(tensor_is_contiguous(&t));
    CHECK_INT(tensor_numel(&t), 6);

    CHECK_INT(tensor_select(&row, &t, 0, 1, &err), 0);
    CHECK_INT(row.ndim, 1);
    CHECK(f32_at(&row, 0) == 3.0f && f32_at(&row, 2) == 5.0f);
    *(float *)tensor_elem_ptr(&row, 0) = 42.0f; /* a view writes through */
    CHECK(((float *)t.buf->data)[3] == 42.0f);
    CHECK_INT(atomic_load(&t.buf->refs), 2);

    CHECK_INT(tensor_select(&col, &t, 1, 2, &err), 0);
    CHECK(f32_at(&col, 0) == 2.0f && f32_at(&col, 1) == 5.0f);
    CHECK(!tensor_is_contiguous(&col));

    CHECK_INT(tensor_transpose(&tr, &t, 0, 1, &err), 0);
    CHECK_INT(tr.shape[0], 3);
    CHECK(!tensor_is_contiguous(&tr));
    CHECK(f32_at(&tr, 1) == 42.0f); /* tr[0][1] = t[1][0] */
    struct tensor_iter it;
    float order[6];
    int k = 0;
    for (tensor_iter_init(&it, &tr); it.left > 0; tensor_iter_next(&it))
        order[k++] = *(float *)it.ptr;
    CHECK_INT(k, 6);
    CHECK(order[0] == 0 && order[1] == 42 && order[2] == 1 && order[3] == 4 && order[4] == 2 &&
          order[5] == 5);

    /* a view of a view: the same elements, strides and buffer, one more reference */
    struct tensor v;
    memset(&v, 0x5a, sizeof v);
    size_t refs = atomic_load(&t.buf->refs);
    tensor_init_view(&v, &tr);
    CHECK(v.buf == t.buf && v.dtype == tr.dtype && v.ndim == 2 && v.offset == tr.offset);
    CHECK(v.shape[0] == 3 && v.shape[1] == 2 && v.strides[0] == tr.strides[0] &&
          v.strides[1] == tr.strides[1]);
    CHECK_INT(atomic_load(&t.buf->refs), refs + 1);
    CHECK(f32_at(&v, 1) == 42.0f);
    tensor_init_view(&v, &v); /* in place: only the reference */
    CHECK_INT(atomic_load(&t.buf->refs), refs + 2);
    tensor_release(&v);
    tensor_buffer_unref(t.buf);
    CHECK_INT(atomic_load(&t.buf->refs), refs);
    struct tensor six = {0}, six_view;
    int64_t six_shape[] = {1, 2, 1, 3, 1, 2};
    CHECK_INT(tensor_init(&six, TENSOR_INT8, six_shape, 6, &err), 0);
    tensor_init_view(&six_view, &six);
    CHECK_INT(six_view.ndim, 6);
    for (int d = 0; d < 6; d++)
        CHECK(six_view.shape[d] == six_shape[d] && six_view.strides[d] == six.strides[d]);
    tensor_release(&six_view);
    tensor_release(&six);

    /* reshape of a non-contiguous view copies; of a contiguous one it shares */
    int64_t flat[] = {-1};
    CHECK_INT(tensor_reshape(&r, &tr, flat, 1, &err), 0);
    CHECK(r.buf != t.buf);
    CHECK(f32_at(&r, 1) == 42.0f && f32_at(&r, 5) == 5.0f);
    tensor_release(&r);
    CHECK_INT(tensor_reshape(&r, &t, flat, 1, &err), 0);
    CHECK(r.buf == t.buf);
    tensor_release(&r);
    /* An empty tensor has 0 elements in any shape with a 0, but strides are
     * computed from the other dims: their product must still fit, in bytes. */
    struct tensor empty = {0};
    int64_t empty_shape[] = {0, 3};
    int64_t empty_huge[] = {3, 0, INT64_MAX / 2};
    int64_t empty_wide[] = {4, 0, INT64_MAX / 8};
    reset();
    CHECK_INT(tensor_init(&empty, TENSOR_FP32, empty_shape, 2, &err), 0);
    CHECK_INT(tensor_reshape(&r, &empty, empty_huge, 3, &err), -1);
    CHECK_CONTAINS(err.message, "overflow");
    reset();
    CHECK_INT(tensor_reshape(&r, &empty, empty_wide, 3, &err), -1); /* 2^62 FP32s: 2^64 bytes */
    CHECK_CONTAINS(err.message, "overflow");
    empty_wide[2] = INT64_MAX / 16;
    reset();
    CHECK_INT(tensor_reshape(&r, &empty, empty_wide, 3, &err), 0);
    CHECK_INT(tensor_numel(&r), 0);
    tensor_release(&r);
    tensor_release(&empty);

    CHECK_INT(tensor_slice(&sl, &t, 1, 1, 3, &err), 0);
    CHECK_INT(sl.shape[1], 2);
    CHECK(f32_at(&sl, 0) == 1.0f && f32_at(&sl, 3) == 5.0f);
    reset();
    CHECK_INT(tensor_slice(&r, &t, 1, 2, 4, &err), -1);
    CHECK_CONTAINS(err.message, "out of range");
    reset();
    CHECK_INT(tensor_slice(&r, &t, 1, 3, 3, &err), 0); /* empty is fine */
    CHECK_INT(tensor_numel(&r), 0);
    CHECK(tensor_is_contiguous(&r));
    tensor_release(&r);
    reset();
    CHECK_INT(tensor_select(&r, &t, 0, 2, &err), -1);
    CHECK_CONTAINS(err.message, "index 3 out of range for dim 1 of size 2");
    reset();
    CHECK_INT(tensor_select(&r, &t, 2, 0, &err), -1);
    CHECK_CONTAINS(err.message, "dim 3 out of range");

    CHECK_INT(tensor_unsqueeze(&un, &t, 0, &err), 0);
    CHECK_INT(un.ndim, 3);
    CHECK(un.shape[0] == 1 && un.shape[1] == 2);
    CHECK(tensor_is_contiguous(&un));
    CHECK_INT(tensor_squeeze(&sq, &un, -1, &err), 0);
    CHECK_INT(sq.ndim, 2);
    reset();
    CHECK_INT(tensor_squeeze(&r, &t, 1, &err), -1);
    CHECK_CONTAINS(err.message, "cannot squeeze dim 2 of size 3");

    int perm_bad[] = {0, 0};
    reset();
    CHECK_INT(tensor_permute(&r, &t, perm_bad, &err), -1);
    CHECK_CONTAINS(err.message, "not a permutation");

    /* the source goes first; the views keep the buffer alive (ASan checks) */
    tensor_release(&t);
    CHECK(f32_at(&row, 0) == 42.0f);
    tensor_release(&row);
    tensor_release(&row); /* twice is harmless */
    tensor_release(&col);
    tensor_release(&tr);
    tensor_release(&sl);
    tensor_release(&sq);
    tensor_release(&un);
}

static void test_exact_stores(void)
{
    uint8_t u8;
    int32_t i32;
    uint64_t u64;
    float f;
    uint16_t h;
    reset();
    CHECK_INT(tensor_set_i64_exact(TENSOR_UINT8, &u8, 255, &err), 0);
    CHECK_INT(u8, 255);
    CHECK_INT(tensor_set_i64_exact(TENSOR_UINT8, &u8, 300, &err), -1);
    CHECK_CONTAINS(err.message, "value 300 does not fit UINT8");
    reset();
    CHECK_INT(tensor_set_i64_exact(TENSOR_UINT8, &u8, -1, &err), -1);
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_INT32, &i32, 1.5, &err), -1);
    CHECK_CONTAINS(err.message, "1.5 does not fit INT32");
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_INT32, &i32, -7.0, &err), 0);
    CHECK_INT(i32, -7);
    CHECK_INT(tensor_set_f64_exact(TENSOR_INT32, &i32, NAN, &err), -1);
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_INT32, &i32, INFINITY, &err), -1);
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_INT32, &i32, 2147483648.0, &err), -1);
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_UINT64, &u64, 0x1p63, &err), 0);
    CHECK_HEX(u64, UINT64_C(1) << 63);
    CHECK_INT(tensor_set_f64_exact(TENSOR_UINT64, &u64, 0x1p64, &err), -1);
    reset();
    CHECK_INT(tensor_set_i64_exact(TENSOR_UINT64, &u64, -1, &err), -1);
    reset();
    CHECK_INT(tensor_set_u64_exact(TENSOR_UINT64, &u64, UINT64_MAX, &err), 0);
    CHECK_HEX(u64, UINT64_MAX);
    CHECK_INT(tensor_set_u64_exact(TENSOR_INT64, &u64, UINT64_MAX, &err), -1);
    reset();
    CHECK_INT(tensor_set_i64_exact(TENSOR_BOOL, &u8, 1, &err), 0);
    CHECK_INT(tensor_set_i64_exact(TENSOR_BOOL, &u8, 2, &err), -1);
    reset();
    CHECK_INT(tensor_set_f64_exact(TENSOR_FP32, &f, 1e300, &err), 0); /* floats round */
    CHECK(isinf(f) && f > 0);
    CHECK_INT(tensor_set_f64_exact(TENSOR_FP16, &h, 70000.0, &err), 0);
    CHECK_HEX(h, 0x7c00);
    CHECK_INT(tensor_set_i64_exact(TENSOR_BYTES, &u64, 1, &err), -1);
    CHECK_CONTAINS(err.message, "BYTES");

    CHECK(tensor_f64_to_f32(DBL_MAX) == INFINITY);
    CHECK(tensor_f64_to_f32(-0x1.fffffefp127) == -FLT_MAX);
    CHECK(tensor_f64_to_f32(0x1.ffffffp127) == INFINITY); /* the tie goes to even: Inf */
    CHECK(isnan(tensor_f64_to_f32(NAN)));
}

static void test_conversions(void)
{
    struct tensor src = {0}, dst = {0};
    int64_t shape[] = {6};
    reset();
    CHECK_INT(tensor_init(&src, TENSOR_FP64, shape, 1, &err), 0);
    double vals[] = {1.9, -1.9, NAN, 1e300, -1e300, 300.0};
    memcpy(src.buf->data, vals, sizeof vals);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_INT32, &err), 0);
    int32_t *i = dst.buf->data;
    CHECK(i[0] == 1 && i[1] == -1 && i[2] == 0 && i[3] == INT32_MAX && i[4] == INT32_MIN &&
          i[5] == 300);
    tensor_release(&dst);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_UINT8, &err), 0);
    uint8_t *u = dst.buf->data;
    CHECK(u[0] == 1 && u[1] == 0 && u[3] == 255 && u[5] == 255);
    tensor_release(&dst);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_BOOL, &err), 0);
    u = dst.buf->data;
    CHECK(u[0] == 1 && u[2] == 1);
    tensor_release(&dst);
    tensor_release(&src);

    /* integer to integer wraps; UINT64 keeps its full range on the way to floats */
    CHECK_INT(tensor_init(&src, TENSOR_INT64, shape, 1, &err), 0);
    int64_t ivals[] = {300, -1, INT64_MAX, INT64_MIN, 0, 1};
    memcpy(src.buf->data, ivals, sizeof ivals);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_UINT8, &err), 0);
    u = dst.buf->data;
    CHECK(u[0] == 44 && u[1] == 255 && u[2] == 255 && u[3] == 0);
    tensor_release(&dst);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_UINT64, &err), 0);
    CHECK_HEX(((uint64_t *)dst.buf->data)[1], UINT64_MAX);
    struct tensor back = {0};
    CHECK_INT(tensor_astype(&back, &dst, TENSOR_FP64, &err), 0);
    CHECK(((double *)back.buf->data)[1] == 0x1p64);
    tensor_release(&back);
    CHECK_INT(tensor_astype(&back, &dst, TENSOR_INT64, &err), 0);
    CHECK_INT(((int64_t *)back.buf->data)[1], -1); /* wraps back */
    tensor_release(&back);
    tensor_release(&dst);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_FP16, &err), 0);
    CHECK_HEX(((uint16_t *)dst.buf->data)[0], tensor_f32_to_f16(300.0f));
    CHECK_HEX(((uint16_t *)dst.buf->data)[2], 0x7c00);
    tensor_release(&dst);

    reset();
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_BYTES, &err), -1);
    CHECK_CONTAINS(err.message, "cannot convert INT64 to BYTES");
    CHECK(dst.buf == NULL);
    tensor_release(&src);

    CHECK(tensor_get_f64(TENSOR_BF16, &(uint16_t){0x3f80}) == 1.0);
    CHECK_INT(tensor_get_i64(TENSOR_FP32, &(float){-2.75f}), -2);
    CHECK_INT(tensor_get_i64(TENSOR_UINT64, &(uint64_t){UINT64_MAX}), INT64_MAX);
}

static void test_bytes_copies(void)
{
    struct tensor src = {0}, dst = {0};
    int64_t shape[] = {3};
    reset();
    CHECK_INT(tensor_init(&src, TENSOR_BYTES, shape, 1, &err), 0);
    struct tensor_str *s = src.buf->data;
    CHECK(s[0].len == 0); /* a new BYTES tensor holds empty strings */
    s[0].ptr = tensor_buffer_intern(src.buf, "a\0b", 3, &err);
    s[0].len = 3;
    /* many strings and one large one go through the arena's growth paths */
    char big[100000];
    memset(big, 'x', sizeof big);
    for (int k = 0; k < 2000; k++)
        s[1].ptr = tensor_buffer_intern(src.buf, "hello", 5, &err);
    s[1].len = 5;
    s[2].ptr = tensor_buffer_intern(src.buf, big, sizeof big, &err);
    s[2].len = sizeof big;
    CHECK(s[0].ptr && s[1].ptr && s[2].ptr);
    CHECK_INT(tensor_astype(&dst, &src, TENSOR_BYTES, &err), 0);
    tensor_release(&src); /* dst's strings were copied into its own arena */
    struct tensor_str *d = dst.buf->data;
    CHECK(d[0].len == 3 && memcmp(d[0].ptr, "a\0b", 3) == 0);
    CHECK(d[1].len == 5 && memcmp(d[1].ptr, "hello", 5) == 0);
    CHECK(d[2].len == sizeof big && d[2].ptr[sizeof big - 1] == 'x');
    tensor_release(&dst);
}

static int released;

static void count_release(void *ctx, void *data)
{
    released++;
    CHECK(ctx == (void *)&released);
    free(data);
}

static void test_wrap(void)
{
    reset();
    struct tensor_buffer *b = tensor_buffer_wrap(malloc(16), 16, count_release, &released, &err);
    tensor_buffer_ref(b);
    tensor_buffer_unref(b);
    CHECK_INT(released, 0);
    tensor_buffer_unref(b);
    CHECK_INT(released, 1);
}

/* A buffer allocated with its header: aligned, sized, the last unref frees both
 * (a leak or a double free shows under the sanitizer build and valgrind). */
static void test_inline(void)
{
    reset();
    struct tensor_buffer *b = tensor_buffer_new_inline(100, &err);
    CHECK(b != NULL);
    CHECK_INT(b->size, 100);
    CHECK_INT((uintptr_t)b->data % _Alignof(max_align_t), 0);
    CHECK((char *)b->data >= (char *)(b + 1));
    memset(b->data, 0xab, 100);
    tensor_buffer_ref(b);
    tensor_buffer_unref(b);
    CHECK_INT(((unsigned char *)b->data)[99], 0xab);
    tensor_buffer_unref(b);
    struct tensor_buffer *empty = tensor_buffer_new_inline(0, &err);
    CHECK(empty != NULL && empty->data != NULL);
    CHECK_INT(empty->size, 0);
    tensor_buffer_unref(empty);
    CHECK(tensor_buffer_new_inline(SIZE_MAX, &err) == NULL);
    CHECK_INT(err.code, TRITON_NO_MEMORY);
}

/* A 0-d tensor needs no shape array: NULL with ndim 0 is valid everywhere. */
static void test_scalar_without_shape(void)
{
    struct tensor t = {0}, r = {0};
    reset();
    CHECK_INT(tensor_init(&t, TENSOR_FP32, NULL, 0, &err), 0);
    CHECK_INT(t.ndim, 0);
    CHECK_INT(tensor_numel(&t), 1);
    CHECK_INT(tensor_reshape(&r, &t, NULL, 0, &err), 0);
    CHECK_INT(tensor_numel(&r), 1);
    tensor_release(&r);
    tensor_release(&t);
}

static uint32_t next_random(uint32_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
    return *s;
}

/* Fills n elements of dtype dt with edge cases first, then random bit patterns. */
static void fill_edge_cases(enum tensor_dtype dt, void *p, size_t n)
{
    static const float f32[] = {0.0f,     -0.0f,    1.0f,         -2.5f,       2.5f,
                                65504.0f, 65519.0f, 65520.0f,     0x1p-24f,    0x1p-25f,
                                0x3p-25f, 0x1p-14f, 0x1p-149f,    3.4e38f,     -1e10f,
                                0x1p31f,  -0x1p31f, 2147483520.f, INFINITY,    -INFINITY,
                                NAN,      -NAN,     1.00048828f,  16777217.0f, -0.49999997f};
    static const double f64[] = {0.0,    -0.0,     1.9,       -1.9,      1e300,
                                 -1e300, 0x1p63,   -0x1p63,   0x1p-1074, 3.4028235677973366e38,
                                 1e-46,  INFINITY, -INFINITY, NAN,       9007199254740993.0};
    static const int64_t i64[] = {
        0,        -1,        1,         INT32_MAX, INT32_MIN,
        16777217, -16777217, INT64_MAX, INT64_MIN, (INT64_C(1) << 53) + 1};
    size_t es = tensor_dtype_elem_size(dt);
    uint32_t r = 0x2545f491;
    for (size_t i = 0; i < n; i++) {
        char *e = (char *)p + i * es;
        uint32_t lo = next_random(&r), hi = next_random(&r);
        uint64_t bits = (uint64_t)hi << 32 | lo;
        if (dt == TENSOR_FP32 && i < sizeof f32 / sizeof *f32)
            memcpy(e, &f32[i], es);
        else if (dt == TENSOR_FP64 && i < sizeof f64 / sizeof *f64)
            memcpy(e, &f64[i], es);
        else if ((dt == TENSOR_INT32 || dt == TENSOR_INT64) && i < sizeof i64 / sizeof *i64)
            tensor_set_i64(dt, e, i64[i]);
        else
            memcpy(e, &bits, es); /* little-endian: the low bytes */
    }
}

/* Equal elements, where any NaN equals any NaN in a float result (a float NaN may
 * or may not be quietened on its way through a double). */
static bool same_elements(enum tensor_dtype dt, const void *a, const void *b, size_t n)
{
    size_t es = tensor_dtype_elem_size(dt);
    for (size_t i = 0; i < n; i++) {
        const char *x = (const char *)a + i * es, *y = (const char *)b + i * es;
        if (memcmp(x, y, es) == 0)
            continue;
        if ((dt == TENSOR_FP32 || dt == TENSOR_FP64) && isnan(tensor_get_f64(dt, x)) &&
            isnan(tensor_get_f64(dt, y)))
            continue;
        fprintf(stderr, "element %zu differs\n", i);
        return false;
    }
    return true;
}

/* One element converted by the documented rules, through the public per-element
 * API: the reference the typed loops are checked against. */
static void convert_reference(enum tensor_dtype to, void *dst, enum tensor_dtype from,
                              const void *src)
{
    if (from == TENSOR_FP16 || from == TENSOR_BF16 || from == TENSOR_FP32 || from == TENSOR_FP64)
        tensor_set_f64(to, dst, tensor_get_f64(from, src));
    else
        tensor_set_i64(to, dst, tensor_get_i64(from, src));
}

/* The typed conversion loops, over contiguous tensors and over strided views (in
 * several chunks), give what the rules give element by element. FP32 -> UINT8,
 * which has no typed loop, checks the element-by-element path itself. */
static void test_conversion_loops(void)
{
    static const enum tensor_dtype pairs[][2] = {
        {TENSOR_FP32, TENSOR_FP16},  {TENSOR_FP16, TENSOR_FP32},  {TENSOR_FP32, TENSOR_BF16},
        {TENSOR_BF16, TENSOR_FP32},  {TENSOR_FP32, TENSOR_FP64},  {TENSOR_FP64, TENSOR_FP32},
        {TENSOR_INT32, TENSOR_FP32}, {TENSOR_FP32, TENSOR_INT32}, {TENSOR_INT64, TENSOR_FP64},
        {TENSOR_FP64, TENSOR_INT64}, {TENSOR_UINT8, TENSOR_FP32}, {TENSOR_FP32, TENSOR_UINT8},
    };
    enum { N = 5000 };
    int64_t shape[] = {N, 2};
    static uint64_t expected[N];
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        enum tensor_dtype from = pairs[k][0], to = pairs[k][1];
        struct tensor base = {0}, column = {0}, strided = {0}, packed = {0}, fast = {0};
        reset();
        CHECK_INT(tensor_init(&base, from, shape, 2, &err), 0);
        fill_edge_cases(from, base.buf->data, 2 * N);
        CHECK_INT(tensor_select(&column, &base, 1, 0, &err), 0); /* stride 2 */
        CHECK(!tensor_is_contiguous(&column));
        CHECK_INT(tensor_astype(&strided, &column, to, &err), 0);
        CHECK_INT(tensor_astype(&packed, &column, from, &err), 0);
        CHECK(tensor_is_contiguous(&packed));
        CHECK_INT(tensor_astype(&fast, &packed, to, &err), 0);
        size_t from_size = tensor_dtype_elem_size(from), to_size = tensor_dtype_elem_size(to);
        for (size_t i = 0; i < N; i++)
            convert_reference(to, (char *)expected + i * to_size, from,
                              (const char *)packed.buf->data + i * from_size);
        if (!same_elements(to, expected, strided.buf->data, N) ||
            !same_elements(to, expected, fast.buf->data, N)) {
            fprintf(stderr, "%s -> %s: a conversion loop differs from the rules\n",
                    tensor_dtype_name(from), tensor_dtype_name(to));
            CHECK(false);
        }
        tensor_release(&fast);
        tensor_release(&packed);
        tensor_release(&strided);
        tensor_release(&column);
        tensor_release(&base);
    }
}

int main(void)
{
    test_dtypes();
    test_numel();
    test_resolve();
    test_views();
    test_exact_stores();
    test_conversions();
    test_bytes_copies();
    test_wrap();
    test_inline();
    test_scalar_without_shape();
    test_conversion_loops();
    return check_report("test_tensor");
}
