/*
 * ops.h: tensor math in plain C: element-wise arithmetic with numpy broadcasting,
 * unary functions, reductions, softmax, topk, cat/stack and allclose.
 * Dims and indices are 0-based here; the Lua binding (src/lua/ltensor_ops.c)
 * converts to and from Lua's 1-based ones.
 *
 * Every function that produces a tensor writes a new contiguous tensor into `out`
 * (which must be zeroed or released; on failure it is left released) and never
 * modifies its inputs. Inputs may be any view (strides, offsets, zero strides).
 *
 * Result dtypes (the same rules the Lua API documents):
 *  - BYTES has no arithmetic: every op here except cat/stack rejects it.
 *  - tensor op tensor, + - *: the same dtype stays; a float with an integer gives
 *    the float dtype; FP16 with BF16 gives FP32; a wider float wins; two integer
 *    dtypes give the wider one, signed with unsigned the smallest signed dtype that
 *    holds both (INT64 at most). BOOL counts as integer 0/1 that takes the other
 *    operand's dtype (BOOL with BOOL: INT64).
 *  - tensor op number: the number adapts to the tensor (numpy's "weak" scalar):
 *    an integer number keeps the tensor's dtype, a float number keeps a float
 *    dtype and turns an integer (or BOOL) tensor into FP32. BOOL with an integer
 *    number gives INT64.
 *  - `/` is true division: the dtype from the rules above, or FP32 if that is an
 *    integer dtype. Division by zero follows IEEE (inf/nan).
 *  - Integer arithmetic wraps modulo 2^bits, as C unsigned arithmetic does.
 *  - FP16/BF16 are computed in double and rounded once to the result dtype.
 *  - exp/log/sqrt/sigmoid/softmax/mean give FP32 for integer and BOOL inputs and
 *    keep float dtypes; abs/neg/clamp/max/min keep the dtype (neg of BOOL: INT64).
 *  - sum of an integer or BOOL tensor accumulates in int64 (wrapping) and gives
 *    INT64; float sums accumulate in double and keep the dtype.
 *  - NaN propagates through max/min; argmax/argmin/topk treat NaN as larger than
 *    every number and the first NaN wins (numpy's behaviour).
 * Results returned as numbers (struct tensor_scalar) follow the binding's reading of
 * elements: integers exact, UINT64 values >= 2^63 as the nearest double.
 */
#ifndef TRITON_TENSOR_OPS_H
#define TRITON_TENSOR_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "tensor/tensor.h"

enum tensor_binop { TENSOR_ADD, TENSOR_SUB, TENSOR_MUL, TENSOR_DIV };
enum tensor_unop { TENSOR_NEG, TENSOR_ABS, TENSOR_EXP, TENSOR_LOG, TENSOR_SQRT, TENSOR_SIGMOID };
enum tensor_reduction {
    TENSOR_SUM,
    TENSOR_MEAN,
    TENSOR_MAX,
    TENSOR_MIN,
    TENSOR_ARGMAX,
    TENSOR_ARGMIN
};

/* A number as Lua has it: an integer or a float. Keeping the two apart lets the
 * result dtype follow the number's kind and lets INT64 values stay exact. */
struct tensor_scalar {
    bool is_int;
    union {
        int64_t i;
        double f;
    };
};

/* "+", "sum", ...: for error messages. */
const char *tensor_binop_name(enum tensor_binop op);
const char *tensor_unop_name(enum tensor_unop op);
const char *tensor_reduction_name(enum tensor_reduction op);

bool tensor_dtype_is_float(enum tensor_dtype dt);
/* Writes "[2, 3]" (a shape the way error messages show it) into out. */
void tensor_format_shape(const int64_t *shape, int ndim, char *out, size_t size);

/* numpy broadcasting of two shapes: dims aligned at the end, each pair equal or
 * one of them 1. `out` holds up to TENSOR_MAX_DIMS dims. */
int tensor_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out,
                           int *nout, struct triton_error *err);

/* The result dtype of a op b, and of a op number (see the rules above). */
int tensor_binop_dtype(enum tensor_binop op, enum tensor_dtype a, enum tensor_dtype b,
                       enum tensor_dtype *out, struct triton_error *err);
int tensor_binop_scalar_dtype(enum tensor_binop op, enum tensor_dtype a,
                              const struct tensor_scalar *s, enum tensor_dtype *out,
                              struct triton_error *err);

/* out = a op b, broadcast. */
int tensor_binary(struct tensor *out, enum tensor_binop op, const struct tensor *a,
                  const struct tensor *b, struct triton_error *err);
/* out = a op s, or s op a when scalar_first. */
int tensor_binary_scalar(struct tensor *out, enum tensor_binop op, const struct tensor *a,
                         const struct tensor_scalar *s, bool scalar_first,
                         struct triton_error *err);
int tensor_unary(struct tensor *out, enum tensor_unop op, const struct tensor *a,
                 struct triton_error *err);
/* Elements below lo become lo, above hi become hi (either may be NULL: no bound);
 * NaN stays NaN. Integer tensors round the bounds inwards (lo up, hi down) and
 * saturate them to the dtype's range; lo > hi is an error. */
int tensor_clamp(struct tensor *out, const struct tensor *a, const struct tensor_scalar *lo,
                 const struct tensor_scalar *hi, struct triton_error *err);

/* Reduction over every element. Integer results (integer sums, integer max/min,
 * arg* as a 0-based row-major flat index) have is_int set. Empty tensor: sum 0,
 * mean NaN, the others fail. */
int tensor_reduce_all(enum tensor_reduction op, const struct tensor *a,
                      struct tensor_scalar *result, struct triton_error *err);
/* Reduction along dim: out has a's shape without dim (arg*: INT64, 0-based). */
int tensor_reduce_dim(struct tensor *out, enum tensor_reduction op, const struct tensor *a, int dim,
                      struct triton_error *err);

/* Numerically stable softmax along dim (subtracts the maximum first). */
int tensor_softmax(struct tensor *out, const struct tensor *a, int dim, struct triton_error *err);
/* The k largest along dim, sorted descending, ties lower index first: values keep
 * a's dtype, indices are INT64 0-based; both have a's shape with dim of size k. */
int tensor_topk(struct tensor *values, struct tensor *indices, const struct tensor *a, int64_t k,
                int dim, struct triton_error *err);

/* Joins n >= 1 tensors of one dtype along an existing dim (shapes equal elsewhere),
 * or along a new dim at position dim (0..ndim, all shapes equal). BYTES strings are
 * copied into the result's buffer. */
int tensor_cat(struct tensor *out, const struct tensor *const *list, int n, int dim,
               struct triton_error *err);
int tensor_stack(struct tensor *out, const struct tensor *const *list, int n, int dim,
                 struct triton_error *err);

/* numpy.allclose: |a - b| <= atol + rtol * |b| everywhere (broadcast); NaN is
 * never close, infinities only to themselves. */
int tensor_allclose(const struct tensor *a, const struct tensor *b, double rtol, double atol,
                    bool *result, struct triton_error *err);

#endif
