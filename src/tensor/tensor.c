/*
 * tensor.c: dtypes, buffers, tensors and views, element conversions.
 */
#include "tensor/tensor.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/arena.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
/* Buffers hold elements in host order and the wire is little-endian; the
 * contiguous fast paths (memcpy in and out) rely on the two being the same. */
#error "tritonlua's tensor core supports little-endian hosts only"
#endif

/* ---- dtypes --------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t name_len;
    size_t wire_size;
    size_t elem_size;
} dtype_info[TENSOR_NDTYPES] = {
#define X(e, name, ctype, size) {name, sizeof name - 1, size, sizeof(ctype)},
    TENSOR_DTYPES(X)
#undef X
};

enum tensor_dtype tensor_dtype_from_name(const char *name, size_t len)
{
    for (int i = 0; i < TENSOR_NDTYPES; i++)
        if (dtype_info[i].name_len == len && memcmp(dtype_info[i].name, name, len) == 0)
            return (enum tensor_dtype)i;
    return TENSOR_INVALID;
}

const char *tensor_dtype_name(enum tensor_dtype dt)
{
    return dt >= 0 && dt < TENSOR_NDTYPES ? dtype_info[dt].name : "INVALID";
}

size_t tensor_dtype_wire_size(enum tensor_dtype dt)
{
    return dt >= 0 && dt < TENSOR_NDTYPES ? dtype_info[dt].wire_size : 0;
}

size_t tensor_dtype_elem_size(enum tensor_dtype dt)
{
    return dt >= 0 && dt < TENSOR_NDTYPES ? dtype_info[dt].elem_size : 0;
}

/* ---- buffers ------------------------------------------------------------------ */

struct tensor_buffer *tensor_buffer_new(size_t size, struct triton_error *err)
{
    struct tensor_buffer *b = malloc(sizeof *b);
    /* calloc checks nothing we have not checked, but zero-fills in one pass; one
     * byte at least so that an empty tensor still has a buffer. */
    void *data = b ? calloc(size ? size : 1, 1) : NULL;
    if (!data) {
        free(b);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory allocating %zu bytes for a tensor", size);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->size = size;
    b->release = NULL;
    b->ctx = NULL;
    b->strings = NULL;
    return b;
}

/* An inline buffer's data is freed with its header. */
static void release_inline(void *ctx, void *data)
{
    (void)ctx;
    (void)data;
}

struct tensor_buffer *tensor_buffer_new_inline(size_t size, struct triton_error *err)
{
    const size_t align = _Alignof(max_align_t);
    size_t head = (sizeof(struct tensor_buffer) + align - 1) / align * align;
    struct tensor_buffer *b = size <= SIZE_MAX - head ? malloc(head + size) : NULL;
    if (!b) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory allocating %zu bytes for a tensor", size);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = (char *)b + head;
    b->size = size;
    b->release = release_inline;
    b->ctx = NULL;
    b->strings = NULL;
    return b;
}

struct tensor_buffer *tensor_buffer_wrap(void *data, size_t size,
                                         void (*release)(void *ctx, void *data), void *ctx,
                                         struct triton_error *err)
{
    struct tensor_buffer *b = malloc(sizeof *b);
    if (!b) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory wrapping a tensor buffer");
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->data = data;
    b->size = size;
    b->release = release;
    b->ctx = ctx;
    b->strings = NULL;
    return b;
}

void tensor_buffer_ref(struct tensor_buffer *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void tensor_buffer_unref(struct tensor_buffer *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->release)
        b->release(b->ctx, b->data);
    else
        free(b->data);
    tensor_arena_free(b->strings);
    free(b);
}

const char *tensor_buffer_intern(struct tensor_buffer *b, const char *s, size_t n,
                                 struct triton_error *err)
{
    if (n == 0)
        return "";
    if (!b->strings && !(b->strings = tensor_arena_new(err)))
        return NULL;
    char *copy = tensor_arena_alloc(b->strings, n, err);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

/* ---- shapes ------------------------------------------------------------------- */

/* The failures of the shape checks below: one message each. */
static int fail_ndim(int ndim, struct triton_error *err)
{
    return triton_fail(err, TRITON_INVALID_ARGUMENT, "too many dimensions (%d, at most %d)", ndim,
                       TENSOR_MAX_DIMS);
}

static int fail_negative(int64_t dim, int d, struct triton_error *err)
{
    return triton_fail(err, TRITON_INVALID_ARGUMENT, "negative dimension %lld at dim %d",
                       (long long)dim, d + 1);
}

static int fail_overflow(struct triton_error *err)
{
    return triton_fail(err, TRITON_OUT_OF_RANGE, "element count overflows (shape too large)");
}

/* The one rule for a tensor's number of dimensions. */
static int check_ndim(int ndim, struct triton_error *err)
{
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
        return fail_ndim(ndim, err);
    return 0;
}

int tensor_numel_checked(const int64_t *shape, int ndim, enum tensor_dtype dt, int64_t *numel,
                         struct triton_error *err)
{
    if (check_ndim(ndim, err) < 0)
        return -1;
    /* One pass: a negative dimension is reported before any overflow, wherever
     * each is. The product of the non-zero dimensions must fit even when a 0
     * makes the tensor empty: strides are computed from it (a shape such as
     * {0, 77, 1.2e17} would overflow them), and so must that product in bytes,
     * which tensor_iter's steps are (UINT32 {0, 6, INT64_MAX / 16} would overflow
     * those). */
    int64_t n = 1, bytes;
    bool empty = false, overflow = false;
    for (int d = 0; d < ndim; d++) {
        int64_t s = shape[d];
        if (s > 0)
            overflow |= __builtin_mul_overflow(n, s, &n);
        else if (s == 0)
            empty = true;
        else
            return fail_negative(s, d, err);
    }
    if (overflow || __builtin_mul_overflow(n, (int64_t)tensor_dtype_elem_size(dt), &bytes))
        return fail_overflow(err);
#if SIZE_MAX < INT64_MAX
    if (!empty && (uint64_t)bytes > SIZE_MAX)
        return fail_overflow(err);
#endif
    *numel = empty ? 0 : n;
    return 0;
}

int tensor_check_shape(const int64_t *shape, int ndim, enum tensor_dtype dt,
                       struct triton_error *err)
{
    int64_t n;
    return tensor_numel_checked(shape, ndim, dt, &n, err);
}

int64_t tensor_numel(const struct tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

void tensor_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d] ? shape[d] : 1;
    }
}

bool tensor_is_contiguous(const struct tensor *t)
{
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 0)
            return true;
        if (t->shape[d] != 1 && t->strides[d] != expected)
            return false;
        expected *= t->shape[d];
    }
    return true;
}

void *tensor_elem_ptr(const struct tensor *t, int64_t flat_index)
{
    int64_t off = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        off += (flat_index % n) * t->strides[d];
        flat_index /= n;
    }
    return (char *)t->buf->data + off * (int64_t)tensor_dtype_elem_size(t->dtype);
}

void tensor_iter_init(struct tensor_iter *it, const struct tensor *t)
{
    int64_t esize = (int64_t)tensor_dtype_elem_size(t->dtype);
    it->ndim = t->ndim;
    it->left = tensor_numel(t);
    it->ptr = t->buf ? (char *)t->buf->data + t->offset * esize : NULL;
    for (int d = 0; d < t->ndim; d++) {
        it->index[d] = 0;
        it->shape[d] = t->shape[d];
        it->step[d] = t->strides[d] * esize;
    }
}

/* ---- tensors ------------------------------------------------------------------ */

int tensor_init(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                struct triton_error *err)
{
    int64_t numel;
    if (dt < 0 || dt >= TENSOR_NDTYPES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "invalid dtype %d", (int)dt);
    if (tensor_numel_checked(shape, ndim, dt, &numel, err) < 0)
        return -1;
    struct tensor_buffer *b = tensor_buffer_new((size_t)numel * tensor_dtype_elem_size(dt), err);
    if (!b)
        return -1;
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim > 0) /* a 0-d tensor may come with shape == NULL, and memcpy's must not be */
        memcpy(t->shape, shape, sizeof *shape * (size_t)ndim);
    tensor_contiguous_strides(shape, ndim, t->strides);
    t->offset = 0;
    t->buf = b;
    return 0;
}

/* The dimensions a view copies whatever its ndim: fixed-size copies are a few
 * moves, where copies of ndim dimensions would be calls to memmove. */
#define VIEW_FIXED_DIMS 4

void tensor_init_view(struct tensor *t, const struct tensor *src)
{
    if (t != src) { /* the dimensions in use, not all TENSOR_MAX_DIMS */
        t->dtype = src->dtype;
        t->ndim = src->ndim;
        memcpy(t->shape, src->shape, VIEW_FIXED_DIMS * sizeof *t->shape);
        memcpy(t->strides, src->strides, VIEW_FIXED_DIMS * sizeof *t->strides);
        if (src->ndim > VIEW_FIXED_DIMS) {
            size_t rest = (size_t)(src->ndim - VIEW_FIXED_DIMS) * sizeof *t->shape;
            memcpy(t->shape + VIEW_FIXED_DIMS, src->shape + VIEW_FIXED_DIMS, rest);
            memcpy(t->strides + VIEW_FIXED_DIMS, src->strides + VIEW_FIXED_DIMS, rest);
        }
        t->offset = src->offset;
        t->buf = src->buf;
    }
    if (t->buf)
        tensor_buffer_ref(t->buf);
}

void tensor_release(struct tensor *t)
{
    if (t->buf)
        tensor_buffer_unref(t->buf);
    t->buf = NULL;
}

int tensor_resolve_shape(int64_t *shape, int ndim, int64_t numel, struct triton_error *err)
{
    int unknown = -1;
    int64_t known = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1) {
            if (unknown >= 0)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "only one dimension can be -1 (dims %d and %d are)", unknown + 1,
                                   d + 1);
            unknown = d;
        } else if (shape[d] < 0) {
            return fail_negative(shape[d], d, err);
        } else if (shape[d] != 0 && known > INT64_MAX / shape[d]) {
            return fail_overflow(err);
        } else {
            known *= shape[d];
        }
    }
    if (unknown >= 0) {
        if (known == 0 || numel % known != 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "cannot resolve -1 at dim %d: %lld elements do not divide into "
                               "parts of %lld",
                               unknown + 1, (long long)numel, (long long)known);
        shape[unknown] = numel / known;
    } else if (known != numel) {
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "shape has %lld elements, expected %lld",
                           (long long)known, (long long)numel);
    }
    return 0;
}

/* ---- views -------------------------------------------------------------------- */

static int check_dim(const struct tensor *t, int dim, struct triton_error *err)
{
    if (dim < 0 || dim >= t->ndim)
        return triton_fail(err, TRITON_OUT_OF_RANGE, "dim %d out of range for a %d-d tensor",
                           dim + 1, t->ndim);
    return 0;
}

int tensor_reshape(struct tensor *out, const struct tensor *t, const int64_t *shape, int ndim,
                   struct triton_error *err)
{
    int64_t resolved[TENSOR_MAX_DIMS];
    if (check_ndim(ndim, err) < 0) /* before the copy into resolved */
        return -1;
    if (ndim > 0) /* shape may be NULL for a reshape to 0-d */
        memcpy(resolved, shape, sizeof *shape * (size_t)ndim);
    /* Resolving checks only the element count, which a 0 keeps at 0 whatever the
     * other dims are: the strides computed below need the full shape check. */
    if (tensor_resolve_shape(resolved, ndim, tensor_numel(t), err) < 0 ||
        tensor_check_shape(resolved, ndim, t->dtype, err) < 0)
        return -1;
    struct tensor src;
    if (tensor_is_contiguous(t))
        tensor_init_view(&src, t);
    else if (tensor_astype(&src, t, t->dtype, err) < 0)
        return -1;
    *out = src;
    out->ndim = ndim;
    memcpy(out->shape, resolved, sizeof *resolved * (size_t)ndim);
    tensor_contiguous_strides(resolved, ndim, out->strides);
    return 0;
}

int tensor_slice(struct tensor *out, const struct tensor *t, int dim, int64_t start, int64_t stop,
                 struct triton_error *err)
{
    if (check_dim(t, dim, err) < 0)
        return -1;
    if (start < 0 || stop < start || stop > t->shape[dim])
        return triton_fail(
            err, TRITON_OUT_OF_RANGE, "slice %lld..%lld out of range for dim %d of size %lld",
            (long long)start + 1, (long long)stop, dim + 1, (long long)t->shape[dim]);
    tensor_init_view(out, t);
    if (stop > start)
        out->offset += start * t->strides[dim];
    out->shape[dim] = stop - start;
    return 0;
}

int tensor_select(struct tensor *out, const struct tensor *t, int dim, int64_t index,
                  struct triton_error *err)
{
    if (check_dim(t, dim, err) < 0)
        return -1;
    if (index < 0 || index >= t->shape[dim])
        return triton_fail(err, TRITON_OUT_OF_RANGE,
                           "index %lld out of range for dim %d of size %lld", (long long)index + 1,
                           dim + 1, (long long)t->shape[dim]);
    tensor_init_view(out, t);
    out->offset += index * t->strides[dim];
    for (int d = dim; d < t->ndim - 1; d++) {
        out->shape[d] = t->shape[d + 1];
        out->strides[d] = t->strides[d + 1];
    }
    out->ndim--;
    return 0;
}

int tensor_permute(struct tensor *out, const struct tensor *t, const int *perm,
                   struct triton_error *err)
{
    bool seen[TENSOR_MAX_DIMS] = {false};
    for (int d = 0; d < t->ndim; d++) {
        if (perm[d] < 0 || perm[d] >= t->ndim || seen[perm[d]])
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "not a permutation of the %d dims",
                               t->ndim);
        seen[perm[d]] = true;
    }
    tensor_init_view(out, t);
    for (int d = 0; d < t->ndim; d++) {
        out->shape[d] = t->shape[perm[d]];
        out->strides[d] = t->strides[perm[d]];
    }
    return 0;
}

int tensor_transpose(struct tensor *out, const struct tensor *t, int d1, int d2,
                     struct triton_error *err)
{
    if (check_dim(t, d1, err) < 0 || check_dim(t, d2, err) < 0)
        return -1;
    int perm[TENSOR_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++)
        perm[d] = d;
    perm[d1] = d2;
    perm[d2] = d1;
    return tensor_permute(out, t, perm, err);
}

int tensor_squeeze(struct tensor *out, const struct tensor *t, int dim, struct triton_error *err)
{
    if (dim >= 0) {
        if (check_dim(t, dim, err) < 0)
            return -1;
        if (t->shape[dim] != 1)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "cannot squeeze dim %d of size %lld (only size 1)", dim + 1,
                               (long long)t->shape[dim]);
    }
    tensor_init_view(out, t);
    int n = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d == dim || (dim < 0 && t->shape[d] == 1))
            continue;
        out->shape[n] = t->shape[d];
        out->strides[n] = t->strides[d];
        n++;
    }
    out->ndim = n;
    return 0;
}

int tensor_unsqueeze(struct tensor *out, const struct tensor *t, int dim, struct triton_error *err)
{
    if (dim < 0 || dim > t->ndim)
        return triton_fail(err, TRITON_OUT_OF_RANGE,
                           "dim %d out of range for unsqueeze of a %d-d tensor", dim + 1, t->ndim);
    if (check_ndim(t->ndim + 1, err) < 0)
        return -1;
    tensor_init_view(out, t);
    for (int d = t->ndim; d > dim; d--) {
        out->shape[d] = t->shape[d - 1];
        out->strides[d] = t->strides[d - 1];
    }
    out->shape[dim] = 1;
    /* Any stride works for a size-1 dim; this one keeps contiguous tensors contiguous. */
    out->strides[dim] = dim < t->ndim ? t->shape[dim] * t->strides[dim] : 1;
    out->ndim++;
    return 0;
}

/* ---- element values ----------------------------------------------------------- */

static bool is_float(enum tensor_dtype dt)
{
    return dt == TENSOR_FP16 || dt == TENSOR_BF16 || dt == TENSOR_FP32 || dt == TENSOR_FP64;
}

float tensor_f64_to_f32(double d)
{
    if (fabs(d) <= FLT_MAX || isnan(d))
        return (float)d;
    /* Past FLT_MAX: below the halfway point to 2^128 rounds down to FLT_MAX; the
     * halfway point itself goes to Inf (FLT_MAX's mantissa is odd). */
    if (fabs(d) < 0x1.ffffffp127)
        return d < 0 ? -FLT_MAX : FLT_MAX;
    return d < 0 ? -INFINITY : INFINITY;
}

/* Truncation toward zero, saturated; NaN -> 0. */
static int64_t f64_to_i64_sat(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 0x1p63)
        return INT64_MAX;
    if (d < -0x1p63)
        return INT64_MIN;
    return (int64_t)d;
}

static uint64_t f64_to_u64_sat(double d)
{
    if (isnan(d) || d <= 0)
        return 0;
    if (d >= 0x1p64)
        return UINT64_MAX;
    return (uint64_t)d;
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

double tensor_get_f64(enum tensor_dtype dt, const void *p)
{
    switch (dt) {
    case TENSOR_BOOL:
        return *(const uint8_t *)p != 0;
    case TENSOR_UINT8:
        return *(const uint8_t *)p;
    case TENSOR_UINT16:
        return *(const uint16_t *)p;
    case TENSOR_UINT32:
        return *(const uint32_t *)p;
    case TENSOR_UINT64:
        return (double)*(const uint64_t *)p;
    case TENSOR_INT8:
        return *(const int8_t *)p;
    case TENSOR_INT16:
        return *(const int16_t *)p;
    case TENSOR_INT32:
        return *(const int32_t *)p;
    case TENSOR_INT64:
        return (double)*(const int64_t *)p;
    case TENSOR_FP16:
        return tensor_f16_to_f32(*(const uint16_t *)p);
    case TENSOR_BF16:
        return tensor_bf16_to_f32(*(const uint16_t *)p);
    case TENSOR_FP32:
        return *(const float *)p;
    case TENSOR_FP64:
        return *(const double *)p;
    default:
        return 0;
    }
}

int64_t tensor_get_i64(enum tensor_dtype dt, const void *p)
{
    switch (dt) {
    case TENSOR_BOOL:
        return *(const uint8_t *)p != 0;
    case TENSOR_UINT8:
        return *(const uint8_t *)p;
    case TENSOR_UINT16:
        return *(const uint16_t *)p;
    case TENSOR_UINT32:
        return *(const uint32_t *)p;
    case TENSOR_UINT64: {
        uint64_t u = *(const uint64_t *)p;
        return u > INT64_MAX ? INT64_MAX : (int64_t)u;
    }
    case TENSOR_INT8:
        return *(const int8_t *)p;
    case TENSOR_INT16:
        return *(const int16_t *)p;
    case TENSOR_INT32:
        return *(const int32_t *)p;
    case TENSOR_INT64:
        return *(const int64_t *)p;
    case TENSOR_FP16:
    case TENSOR_BF16:
    case TENSOR_FP32:
    case TENSOR_FP64:
        return f64_to_i64_sat(tensor_get_f64(dt, p));
    default:
        return 0;
    }
}

/* Stores the low bits of v: integer dtypes wrap, as numpy's astype does. */
static void store_wrapped(enum tensor_dtype dt, void *p, uint64_t v)
{
    switch (dt) {
    case TENSOR_BOOL:
        *(uint8_t *)p = v != 0;
        break;
    case TENSOR_UINT8:
    case TENSOR_INT8:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case TENSOR_UINT16:
    case TENSOR_INT16:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case TENSOR_UINT32:
    case TENSOR_INT32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    case TENSOR_UINT64:
    case TENSOR_INT64:
        *(uint64_t *)p = v;
        break;
    default:
        break;
    }
}

void tensor_dtype_int_range(enum tensor_dtype dt, int64_t *lo, uint64_t *hi)
{
    switch (dt) {
    case TENSOR_BOOL:
        *lo = 0, *hi = 1;
        break;
    case TENSOR_UINT8:
        *lo = 0, *hi = UINT8_MAX;
        break;
    case TENSOR_UINT16:
        *lo = 0, *hi = UINT16_MAX;
        break;
    case TENSOR_UINT32:
        *lo = 0, *hi = UINT32_MAX;
        break;
    case TENSOR_UINT64:
        *lo = 0, *hi = UINT64_MAX;
        break;
    case TENSOR_INT8:
        *lo = INT8_MIN, *hi = INT8_MAX;
        break;
    case TENSOR_INT16:
        *lo = INT16_MIN, *hi = INT16_MAX;
        break;
    case TENSOR_INT32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        break;
    default:
        *lo = INT64_MIN, *hi = INT64_MAX;
        break;
    }
}

void tensor_set_f64(enum tensor_dtype dt, void *p, double v)
{
    switch (dt) {
    case TENSOR_BOOL:
        *(uint8_t *)p = v != 0; /* NaN too */
        break;
    case TENSOR_UINT64:
        *(uint64_t *)p = f64_to_u64_sat(v);
        break;
    case TENSOR_UINT8:
    case TENSOR_UINT16:
    case TENSOR_UINT32:
    case TENSOR_INT8:
    case TENSOR_INT16:
    case TENSOR_INT32:
    case TENSOR_INT64: {
        /* Saturate into the dtype's range; the store then only drops zero bits. */
        int64_t lo;
        uint64_t hi;
        tensor_dtype_int_range(dt, &lo, &hi);
        store_wrapped(dt, p, (uint64_t)clamp_i64(f64_to_i64_sat(v), lo, (int64_t)hi));
        break;
    }
    case TENSOR_FP16:
        *(uint16_t *)p = tensor_f64_to_f16(v);
        break;
    case TENSOR_BF16:
        *(uint16_t *)p = tensor_f64_to_bf16(v);
        break;
    case TENSOR_FP32:
        *(float *)p = tensor_f64_to_f32(v);
        break;
    case TENSOR_FP64:
        *(double *)p = v;
        break;
    default:
        break;
    }
}

void tensor_set_i64(enum tensor_dtype dt, void *p, int64_t v)
{
    if (is_float(dt))
        tensor_set_f64(dt, p, (double)v);
    else
        store_wrapped(dt, p, (uint64_t)v);
}

int tensor_set_i64_exact(enum tensor_dtype dt, void *p, int64_t v, struct triton_error *err)
{
    if (dt == TENSOR_BYTES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "expected a string for BYTES, got %lld",
                           (long long)v);
    if (!is_float(dt)) {
        int64_t lo;
        uint64_t hi;
        tensor_dtype_int_range(dt, &lo, &hi);
        if (v < lo || (v > 0 && (uint64_t)v > hi))
            return triton_fail(err, TRITON_OUT_OF_RANGE, "value %lld does not fit %s", (long long)v,
                               tensor_dtype_name(dt));
    }
    tensor_set_i64(dt, p, v);
    return 0;
}

int tensor_set_u64_exact(enum tensor_dtype dt, void *p, uint64_t v, struct triton_error *err)
{
    if (v <= INT64_MAX)
        return tensor_set_i64_exact(dt, p, (int64_t)v, err);
    if (dt == TENSOR_UINT64) {
        *(uint64_t *)p = v;
        return 0;
    }
    if (is_float(dt)) {
        tensor_set_f64(dt, p, (double)v);
        return 0;
    }
    return triton_fail(err, TRITON_OUT_OF_RANGE, "value %llu does not fit %s",
                       (unsigned long long)v, tensor_dtype_name(dt));
}

int tensor_set_f64_exact(enum tensor_dtype dt, void *p, double v, struct triton_error *err)
{
    if (is_float(dt)) {
        tensor_set_f64(dt, p, v);
        return 0;
    }
    if (dt == TENSOR_BYTES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "expected a string for BYTES, got %.17g",
                           v);
    if (v != floor(v)) /* fractions and NaN; +-Inf fail the range checks below */
        return triton_fail(err, TRITON_OUT_OF_RANGE, "value %.17g does not fit %s", v,
                           tensor_dtype_name(dt));
    if (v >= -0x1p63 && v < 0x1p63)
        return tensor_set_i64_exact(dt, p, (int64_t)v, err);
    if (v >= 0x1p63 && v < 0x1p64)
        return tensor_set_u64_exact(dt, p, (uint64_t)v, err);
    return triton_fail(err, TRITON_OUT_OF_RANGE, "value %.17g does not fit %s", v,
                       tensor_dtype_name(dt));
}

/* ---- copies ------------------------------------------------------------------- */

static bool is_unsigned64(enum tensor_dtype dt)
{
    return dt == TENSOR_UINT64;
}

/* One element from src (dtype sd) to dst (dtype dd), neither BYTES. */
static void convert_elem(enum tensor_dtype dd, void *dst, enum tensor_dtype sd, const void *src)
{
    if (is_float(sd))
        tensor_set_f64(dd, dst, tensor_get_f64(sd, src));
    else if (is_unsigned64(sd) && is_float(dd))
        tensor_set_f64(dd, dst, (double)*(const uint64_t *)src);
    else if (is_unsigned64(sd))
        store_wrapped(dd, dst, *(const uint64_t *)src);
    else
        tensor_set_i64(dd, dst, tensor_get_i64(sd, src));
}

/* f64_to_i64_sat narrowed to INT32 as tensor_set_f64 does it, without the double. */
static int32_t f32_to_i32_sat(float v)
{
    if (isnan(v))
        return 0;
    if (v >= 0x1p31f)
        return INT32_MAX;
    if (v < -0x1p31f)
        return INT32_MIN;
    return (int32_t)v;
}

#define CONVERT_LOOP(dst_type, src_type, expr)                                                     \
    do {                                                                                           \
        dst_type *d = dst;                                                                         \
        const src_type *s = src;                                                                   \
        for (size_t i = 0; i < n; i++) {                                                           \
            src_type v = s[i];                                                                     \
            d[i] = (dst_type)(expr);                                                               \
        }                                                                                          \
    } while (0)

/* Converts n contiguous elements with a loop typed for the pair of dtypes, for the
 * common conversions; false, touching nothing, for the others, which go element
 * by element through convert_elem (so n = 0 asks whether a loop exists). Each
 * loop gives exactly what convert_elem gives. */
static bool convert_contiguous(enum tensor_dtype dd, void *dst, enum tensor_dtype sd,
                               const void *src, size_t n)
{
#define PAIR(a, b) ((unsigned)(a)*TENSOR_NDTYPES + (unsigned)(b))
    switch (PAIR(dd, sd)) {
    case PAIR(TENSOR_FP16, TENSOR_FP32):
        tensor_f32_to_f16_array(dst, src, n);
        return true;
    case PAIR(TENSOR_FP32, TENSOR_FP16):
        tensor_f16_to_f32_array(dst, src, n);
        return true;
    case PAIR(TENSOR_BF16, TENSOR_FP32):
        tensor_f32_to_bf16_array(dst, src, n);
        return true;
    case PAIR(TENSOR_FP32, TENSOR_BF16):
        tensor_bf16_to_f32_array(dst, src, n);
        return true;
    case PAIR(TENSOR_FP64, TENSOR_FP32):
        CONVERT_LOOP(double, float, v);
        return true;
    case PAIR(TENSOR_FP32, TENSOR_FP64):
        CONVERT_LOOP(float, double, tensor_f64_to_f32(v));
        return true;
    case PAIR(TENSOR_FP32, TENSOR_INT32): /* rounded once: int32 -> double is exact */
        CONVERT_LOOP(float, int32_t, v);
        return true;
    case PAIR(TENSOR_FP64, TENSOR_INT64):
        CONVERT_LOOP(double, int64_t, v);
        return true;
    case PAIR(TENSOR_FP32, TENSOR_UINT8): /* images */
        CONVERT_LOOP(float, uint8_t, v);
        return true;
    case PAIR(TENSOR_INT32, TENSOR_FP32):
        CONVERT_LOOP(int32_t, float, f32_to_i32_sat(v));
        return true;
    case PAIR(TENSOR_INT64, TENSOR_FP64):
        CONVERT_LOOP(int64_t, double, f64_to_i64_sat(v));
        return true;
    default:
        return false;
    }
#undef PAIR
}

/* One element of es bytes; constant sizes let the compiler emit a plain move. */
static inline void copy_elem(void *dst, const void *src, size_t es)
{
    switch (es) {
    case 1:
        memcpy(dst, src, 1);
        break;
    case 2:
        memcpy(dst, src, 2);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    default:
        memcpy(dst, src, es);
        break;
    }
}

/* A strided conversion between dtypes convert_contiguous has a loop for: src is
 * gathered a chunk at a time into a packed buffer, converted there by the typed
 * loop and scattered into dst, so that views (a transposed image, a column) get
 * the fast loops too. */
static void convert_strided(struct tensor_iter *di, enum tensor_dtype dd, struct tensor_iter *si,
                            enum tensor_dtype sd)
{
    enum { CHUNK = 512 };
    double packed_src[CHUNK], packed_dst[CHUNK]; /* aligned room for any element */
    size_t ses = tensor_dtype_elem_size(sd), des = tensor_dtype_elem_size(dd);
    while (si->left > 0) {
        size_t m = si->left < CHUNK ? (size_t)si->left : CHUNK;
        char *p = (char *)packed_src;
        for (size_t k = 0; k < m; k++, p += ses, tensor_iter_next(si))
            copy_elem(p, si->ptr, ses);
        convert_contiguous(dd, packed_dst, sd, packed_src, m);
        p = (char *)packed_dst;
        for (size_t k = 0; k < m; k++, p += des, tensor_iter_next(di))
            copy_elem(di->ptr, p, des);
    }
}

static bool same_shape(const struct tensor *a, const struct tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

int tensor_copy(struct tensor *dst, const struct tensor *src, struct triton_error *err)
{
    if (!same_shape(dst, src))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "copy between different shapes");
    if ((dst->dtype == TENSOR_BYTES) != (src->dtype == TENSOR_BYTES))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "cannot convert %s to %s",
                           tensor_dtype_name(src->dtype), tensor_dtype_name(dst->dtype));
    int64_t n = tensor_numel(src);
    size_t esize = tensor_dtype_elem_size(src->dtype);
    if (n > 0 && src->dtype != TENSOR_BYTES && dst->dtype != TENSOR_BYTES &&
        tensor_is_contiguous(dst) && tensor_is_contiguous(src)) {
        char *d =
            (char *)dst->buf->data + dst->offset * (int64_t)tensor_dtype_elem_size(dst->dtype);
        const char *s = (const char *)src->buf->data + src->offset * (int64_t)esize;
        if (dst->dtype == src->dtype) {
            memmove(d, s, (size_t)n * esize);
            return 0;
        }
        /* The typed loops read and write forward in different element sizes:
         * they need two separate buffers. */
        if (dst->buf != src->buf && convert_contiguous(dst->dtype, d, src->dtype, s, (size_t)n))
            return 0;
    }
    /* Overlapping strided copies within one buffer are not supported: the
     * callers copy into fresh tensors or into a disjoint view. */
    struct tensor_iter si, di;
    tensor_iter_init(&si, src);
    tensor_iter_init(&di, dst);
    if (dst->dtype == TENSOR_BYTES) {
        bool shared = dst->buf == src->buf;
        for (; si.left > 0; tensor_iter_next(&si), tensor_iter_next(&di)) {
            struct tensor_str s = *(const struct tensor_str *)si.ptr;
            if (!shared && s.len > 0 &&
                !(s.ptr = tensor_buffer_intern(dst->buf, s.ptr, s.len, err)))
                return -1;
            *(struct tensor_str *)di.ptr = s;
        }
    } else if (dst->dtype == src->dtype) {
        for (; si.left > 0; tensor_iter_next(&si), tensor_iter_next(&di))
            copy_elem(di.ptr, si.ptr, esize);
    } else if (convert_contiguous(dst->dtype, NULL, src->dtype, NULL, 0)) {
        convert_strided(&di, dst->dtype, &si, src->dtype); /* a typed loop exists */
    } else {
        for (; si.left > 0; tensor_iter_next(&si), tensor_iter_next(&di))
            convert_elem(dst->dtype, di.ptr, src->dtype, si.ptr);
    }
    return 0;
}

int tensor_astype(struct tensor *out, const struct tensor *src, enum tensor_dtype dt,
                  struct triton_error *err)
{
    struct tensor t = {0};
    if (tensor_init(&t, dt, src->shape, src->ndim, err) < 0)
        return -1;
    if (tensor_copy(&t, src, err) < 0) {
        tensor_release(&t);
        return -1;
    }
    *out = t;
    return 0;
}
