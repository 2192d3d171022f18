/*
 * tensor.h: the tensor core. Plain C, no Lua: the binding (src/lua/ltensor*.c),
 * the wire formats and both transports build on this.
 *
 * A tensor is a refcounted buffer plus dtype, shape, strides and an offset, so
 * that views (reshape, slice, transpose, row indexing) and output tensors over a
 * received reply share memory instead of copying it. Indices in this C API are
 * 0-based; the Lua binding converts from Lua's 1-based ones.
 *
 * BYTES elements are stored as struct tensor_str {ptr, len} in the buffer. The
 * bytes they point to live either in the buffer's string arena (strings set from
 * Lua) or in memory the buffer's owner keeps alive (a received reply), so a
 * BYTES view over a wire buffer needs no copy of the strings.
 *
 * Every fallible function returns 0 (or a pointer) on success and -1 (or NULL)
 * on failure with `err` filled (see common/error.h).
 */
#ifndef TRITON_TENSOR_H
#define TRITON_TENSOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* X(ENUM, "TRITON_NAME", c_type, element_size): Triton's 14 dtypes, in one place.
 * FP16 and BF16 are stored as their raw 16-bit patterns. BYTES elements are
 * struct tensor_str in memory; their wire element size is variable (0 here). */
#define TENSOR_DTYPES(X)                                                                           \
    X(BOOL, "BOOL", uint8_t, 1)                                                                    \
    X(UINT8, "UINT8", uint8_t, 1)                                                                  \
    X(UINT16, "UINT16", uint16_t, 2)                                                               \
    X(UINT32, "UINT32", uint32_t, 4)                                                               \
    X(UINT64, "UINT64", uint64_t, 8)                                                               \
    X(INT8, "INT8", int8_t, 1)                                                                     \
    X(INT16, "INT16", int16_t, 2)                                                                  \
    X(INT32, "INT32", int32_t, 4)                                                                  \
    X(INT64, "INT64", int64_t, 8)                                                                  \
    X(FP16, "FP16", uint16_t, 2)                                                                   \
    X(BF16, "BF16", uint16_t, 2)                                                                   \
    X(FP32, "FP32", float, 4)                                                                      \
    X(FP64, "FP64", double, 8)                                                                     \
    X(BYTES, "BYTES", struct tensor_str, 0)

enum tensor_dtype {
#define X(e, name, ctype, size) TENSOR_##e,
    TENSOR_DTYPES(X)
#undef X
        TENSOR_NDTYPES,
    TENSOR_INVALID = -1
};

struct tensor_str {
    const char *ptr; /* not NUL-terminated; may contain zeros */
    size_t len;
};

/* Triton's dtype name <-> enum; TENSOR_INVALID for an unknown name. */
enum tensor_dtype tensor_dtype_from_name(const char *name, size_t len);
const char *tensor_dtype_name(enum tensor_dtype dt);
/* Bytes per element on the wire (0 for BYTES). */
size_t tensor_dtype_wire_size(enum tensor_dtype dt);
/* Bytes per element in memory (sizeof(struct tensor_str) for BYTES). */
size_t tensor_dtype_elem_size(enum tensor_dtype dt);
/* Value range of an integer dtype: BOOL is 0..1, INT64 and UINT64 their full
 * ranges (UINT64's upper end only fits in hi). Other dtypes: INT64's range. */
void tensor_dtype_int_range(enum tensor_dtype dt, int64_t *lo, uint64_t *hi);

/* ---- buffers ------------------------------------------------------------------ */

/* Memory a tensor's elements live in. Refcounted with atomics because transports
 * may drop their reference from an I/O thread (a gRPC slice destroy callback). */
struct tensor_buffer {
    atomic_size_t refs;
    void *data;
    size_t size; /* bytes at data */
    /* Frees data (and whatever owns it). NULL when data was malloc'd by us. */
    void (*release)(void *ctx, void *data);
    void *ctx;
    struct tensor_arena *strings; /* BYTES contents set from C/Lua; NULL until used */
};

/* A new zero-filled buffer of `size` bytes (refs = 1). */
struct tensor_buffer *tensor_buffer_new(size_t size, struct triton_error *err);
/* A new buffer of `size` bytes, not zeroed, allocated with its header in one
 * block (refs = 1): data is aligned as malloc's memory is and belongs to the
 * buffer for good (never replaced). */
struct tensor_buffer *tensor_buffer_new_inline(size_t size, struct triton_error *err);
/* Wraps memory owned elsewhere (refs = 1); release(ctx, data) runs at the last unref. */
struct tensor_buffer *tensor_buffer_wrap(void *data, size_t size,
                                         void (*release)(void *ctx, void *data), void *ctx,
                                         struct triton_error *err);
void tensor_buffer_ref(struct tensor_buffer *b);
void tensor_buffer_unref(struct tensor_buffer *b);
/* Copies n bytes into the buffer's string arena; the copy lives as long as the buffer. */
const char *tensor_buffer_intern(struct tensor_buffer *b, const char *s, size_t n,
                                 struct triton_error *err);

/* ---- tensors ------------------------------------------------------------------ */

#define TENSOR_MAX_DIMS 32

struct tensor {
    enum tensor_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t strides[TENSOR_MAX_DIMS]; /* in elements, may be 0 (broadcast) */
    int64_t offset;                   /* in elements from buf->data */
    struct tensor_buffer *buf;        /* one reference owned by this tensor */
};

/* Number of elements, and whether the shape is one: 0..TENSOR_MAX_DIMS dims, none
 * negative, shape * elem_size fitting size_t/int64 without overflow. Shapes are
 * checked here once so that nothing later multiplies blindly.
 * An empty tensor's non-zero dims must multiply to a size in bytes that fits
 * int64 as well: strides and tensor_iter's byte steps are computed from them. */
int tensor_numel_checked(const int64_t *shape, int ndim, enum tensor_dtype dt, int64_t *numel,
                         struct triton_error *err);
int64_t tensor_numel(const struct tensor *t);
bool tensor_is_contiguous(const struct tensor *t);
/* Pointer to the element at a flat row-major index of t (respects strides). */
void *tensor_elem_ptr(const struct tensor *t, int64_t flat_index);

/* A new contiguous zero-filled tensor (BYTES: all empty strings). */
int tensor_init(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                struct triton_error *err);
/* A view of src's buffer: takes a new reference. Sets t's dtype, ndim, offset,
 * buffer and its shape and strides up to ndim (no tensor reads past ndim). */
void tensor_init_view(struct tensor *t, const struct tensor *src);
/* Drops the buffer reference; safe on a zeroed or already released tensor. */
void tensor_release(struct tensor *t);

/* Resolves one -1 in shape against numel; checks the product matches. */
int tensor_resolve_shape(int64_t *shape, int ndim, int64_t numel, struct triton_error *err);

/* Contiguous row-major strides (in elements) for shape. */
void tensor_contiguous_strides(const int64_t *shape, int ndim, int64_t *strides);
/* Checks a shape (0..TENSOR_MAX_DIMS dims, no negative sizes, numel and bytes
 * representable) without allocating: tensor_numel_checked without the count. */
int tensor_check_shape(const int64_t *shape, int ndim, enum tensor_dtype dt,
                       struct triton_error *err);

/* Walks a tensor's elements in row-major order whatever its strides (an
 * odometer over the index, O(1) amortized per step):
 *     struct tensor_iter it;
 *     for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it)) use(it.ptr);
 */
struct tensor_iter {
    char *ptr;    /* the current element */
    int64_t left; /* elements not yet visited, the current one included */
    int ndim;
    int64_t index[TENSOR_MAX_DIMS];
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t step[TENSOR_MAX_DIMS]; /* strides in bytes */
};
void tensor_iter_init(struct tensor_iter *it, const struct tensor *t);
static inline void tensor_iter_next(struct tensor_iter *it)
{
    if (--it->left <= 0)
        return;
    for (int d = it->ndim - 1; d >= 0; d--) {
        it->ptr += it->step[d];
        if (++it->index[d] < it->shape[d])
            return;
        it->ptr -= it->step[d] * it->shape[d];
        it->index[d] = 0;
    }
}

/* ---- views -------------------------------------------------------------------- *
 * Each fills `out` (which must not hold a reference yet) with a view of t that
 * shares t's buffer, or fails without touching out. Dims and indices are 0-based.
 */

/* t with a new shape (one -1 allowed): a view when t is contiguous, a copy otherwise. */
int tensor_reshape(struct tensor *out, const struct tensor *t, const int64_t *shape, int ndim,
                   struct triton_error *err);
/* Elements start..stop-1 along dim (0 <= start <= stop <= shape[dim]). */
int tensor_slice(struct tensor *out, const struct tensor *t, int dim, int64_t start, int64_t stop,
                 struct triton_error *err);
/* Index `index` along dim, removing that dim (t[i] on a row is dim 0). */
int tensor_select(struct tensor *out, const struct tensor *t, int dim, int64_t index,
                  struct triton_error *err);
/* Dims reordered: out dim i is t's dim perm[i]; perm must be a permutation of 0..ndim-1. */
int tensor_permute(struct tensor *out, const struct tensor *t, const int *perm,
                   struct triton_error *err);
int tensor_transpose(struct tensor *out, const struct tensor *t, int d1, int d2,
                     struct triton_error *err);
/* Removes dim (which must have size 1), or every size-1 dim when dim < 0. */
int tensor_squeeze(struct tensor *out, const struct tensor *t, int dim, struct triton_error *err);
/* Inserts a size-1 dim at position dim (0..ndim). */
int tensor_unsqueeze(struct tensor *out, const struct tensor *t, int dim, struct triton_error *err);

/* ---- element values and conversions ------------------------------------------ *
 * Conversions between dtypes follow one rule set, used by astype, copies between
 * dtypes and the math code:
 *   - to a float dtype: rounded to nearest even, once (FP16/BF16 from a double
 *     directly); out of range gives +-Inf; NaN stays NaN.
 *   - float to an integer dtype: truncated toward zero and saturated to the
 *     dtype's range; NaN gives 0 (C leaves these undefined; this is what
 *     torch and Rust do).
 *   - integer to integer: wraps modulo 2^bits, as numpy's astype does.
 *   - to BOOL: nonzero (NaN included) is true. BOOL reads as 0/1.
 *   - BYTES converts only to and from BYTES.
 * p points to one element of dtype dt (never BYTES for these four).
 */
double tensor_get_f64(enum tensor_dtype dt, const void *p);
/* Floats truncated and saturated; UINT64 above INT64_MAX saturates to INT64_MAX. */
int64_t tensor_get_i64(enum tensor_dtype dt, const void *p);
void tensor_set_f64(enum tensor_dtype dt, void *p, double v);
void tensor_set_i64(enum tensor_dtype dt, void *p, int64_t v);
/* Strict stores for values that come from users: fail unless v fits dt (an
 * integer dtype takes only integral values in range, BOOL only 0 or 1; float
 * dtypes take any number, rounded). */
int tensor_set_f64_exact(enum tensor_dtype dt, void *p, double v, struct triton_error *err);
int tensor_set_i64_exact(enum tensor_dtype dt, void *p, int64_t v, struct triton_error *err);
/* UINT64 values >= 2^63 (which int64 cannot hold). */
int tensor_set_u64_exact(enum tensor_dtype dt, void *p, uint64_t v, struct triton_error *err);
/* double -> float rounded to nearest, +-Inf past FLT_MAX (no undefined cast). */
float tensor_f64_to_f32(double d);

/* Copies src's elements into dst (same shape, any strides), converting between
 * dtypes by the rules above. BYTES contents are interned into dst's buffer unless
 * both share a buffer. */
int tensor_copy(struct tensor *dst, const struct tensor *src, struct triton_error *err);
/* A new contiguous tensor with src's values as dtype dt (a copy even when dt is
 * src's dtype). */
int tensor_astype(struct tensor *out, const struct tensor *src, enum tensor_dtype dt,
                  struct triton_error *err);

/* ---- wire layout ---------------------------------------------------------------- */

/* Size of t in Triton's wire layout (little-endian, row-major; BYTES as
 * uint32 LE length + bytes per element). Fails if a BYTES element is >= 4 GiB. */
int tensor_wire_size(const struct tensor *t, size_t *size, struct triton_error *err);
/* Writes the wire layout into out (exactly tensor_wire_size bytes). */
int tensor_to_wire(const struct tensor *t, void *out, struct triton_error *err);
/* A tensor from wire bytes. With owner != NULL (data must lie in memory owner
 * keeps alive) the tensor holds a reference on owner and copies no fixed-size
 * elements: it is a view of owner's buffer at data (of a buffer of its own over
 * data, holding owner, when data is a fraction of an element into owner's
 * bytes), and BYTES elements point into data (only their {ptr, len} array is
 * allocated). Fixed-size data that is misaligned for its element type, or not
 * within owner's own bytes, is copied instead. With owner == NULL everything is copied.
 * The byte count must match the shape exactly; every BYTES length prefix is
 * checked against the bytes left, and trailing bytes are an error. */
int tensor_from_wire(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                     const void *data, size_t size, struct tensor_buffer *owner,
                     struct triton_error *err);

/* ---- half precision ---------------------------------------------------------- */

/* Round-to-nearest-even; NaN stays NaN (quiet), infinities and signed zeros kept. */
uint16_t tensor_f32_to_f16(float f);
float tensor_f16_to_f32(uint16_t h);
uint16_t tensor_f32_to_bf16(float f);
float tensor_bf16_to_f32(uint16_t h);
uint16_t tensor_f64_to_f16(double d);  /* rounded once, from the double */
uint16_t tensor_f64_to_bf16(double d); /* rounded once, from the double */
/* The same conversions over n contiguous elements (dst and src must not overlap). */
void tensor_f32_to_f16_array(uint16_t *dst, const float *src, size_t n);
void tensor_f16_to_f32_array(float *dst, const uint16_t *src, size_t n);
void tensor_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n);
void tensor_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n);

#endif
