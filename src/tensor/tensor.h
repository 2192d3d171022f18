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

/* Number of elements, and whether shape * elem_size fits in size_t/int64 without
 * overflow. Shapes are checked here once so that nothing later multiplies blindly. */
int tensor_numel_checked(const int64_t *shape, int ndim, enum tensor_dtype dt, int64_t *numel,
                         struct triton_error *err);
int64_t tensor_numel(const struct tensor *t);
bool tensor_is_contiguous(const struct tensor *t);
/* Pointer to the element at a flat row-major index of t (respects strides). */
void *tensor_elem_ptr(const struct tensor *t, int64_t flat_index);

/* A new contiguous zero-filled tensor (BYTES: all empty strings). */
int tensor_init(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                struct triton_error *err);
/* A view of src's buffer: takes a new reference. */
void tensor_init_view(struct tensor *t, const struct tensor *src);
/* Drops the buffer reference; safe on a zeroed or already released tensor. */
void tensor_release(struct tensor *t);

/* Resolves one -1 in shape against numel; checks the product matches. */
int tensor_resolve_shape(int64_t *shape, int ndim, int64_t numel, struct triton_error *err);

/* ---- wire layout ---------------------------------------------------------------- */

/* Size of t in Triton's wire layout (little-endian, row-major; BYTES as
 * uint32 LE length + bytes per element). Fails if a BYTES element is >= 4 GiB. */
int tensor_wire_size(const struct tensor *t, size_t *size, struct triton_error *err);
/* Writes the wire layout into out (exactly tensor_wire_size bytes). */
int tensor_to_wire(const struct tensor *t, void *out, struct triton_error *err);
/* A tensor from wire bytes. With owner != NULL the tensor is a view over
 * data (no copy; fixed-size dtypes need data aligned for the element type, BYTES
 * elements point into data) and takes a reference on owner; otherwise the bytes
 * are copied. Every length prefix is checked against `size`. */
int tensor_from_wire(struct tensor *t, enum tensor_dtype dt, const int64_t *shape, int ndim,
                     const void *data, size_t size, struct tensor_buffer *owner,
                     struct triton_error *err);

/* ---- half precision ---------------------------------------------------------- */

/* Round-to-nearest-even; NaN stays NaN (quiet), infinities and signed zeros kept. */
uint16_t tensor_f32_to_f16(float f);
float tensor_f16_to_f32(uint16_t h);
uint16_t tensor_f32_to_bf16(float f);
float tensor_bf16_to_f32(uint16_t h);
uint16_t tensor_f64_to_f16(double d); /* rounded once, from the double */

#endif
