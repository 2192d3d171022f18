/*
 * ops.c: tensor math (see ops.h for the dtype rules).
 *
 * Everything runs through one strided iterator: it walks a broadcast shape over
 * up to three operands (strides in bytes, 0 for a broadcast dim), merges dims
 * that are contiguous in every operand, and hands the innermost runs to a kernel.
 * Kernels take typed fast loops for contiguous FP32/FP64/INT32/INT64 and
 * otherwise load a chunk of elements into double or int64 scratch arrays (one
 * dtype switch per chunk, not per element), compute there and store back.
 */
#include "tensor/ops.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITER_MAX_OPS 3
#define CHUNK        256

/* In-memory element sizes, known at compile time for the inner loops. */
static size_t esize(enum tensor_dtype dt)
{
    switch (dt) {
#define X(e, name, ctype, size)                                                                    \
    case TENSOR_##e:                                                                               \
        return sizeof(ctype);
        TENSOR_DTYPES(X)
#undef X
    default:
        return 0;
    }
}

bool tensor_dtype_is_float(enum tensor_dtype dt)
{
    return dt == TENSOR_FP16 || dt == TENSOR_BF16 || dt == TENSOR_FP32 || dt == TENSOR_FP64;
}

static bool is_unsigned(enum tensor_dtype dt)
{
    return dt == TENSOR_UINT8 || dt == TENSOR_UINT16 || dt == TENSOR_UINT32 || dt == TENSOR_UINT64;
}

static const char *dtname(enum tensor_dtype dt)
{
    const char *n = tensor_dtype_name(dt);
    return n ? n : "?";
}

const char *tensor_binop_name(enum tensor_binop op)
{
    static const char *const names[] = {"+", "-", "*", "/"};
    return names[op];
}

const char *tensor_unop_name(enum tensor_unop op)
{
    static const char *const names[] = {"unary -", "abs", "exp", "log", "sqrt", "sigmoid"};
    return names[op];
}

const char *tensor_reduction_name(enum tensor_reduction op)
{
    static const char *const names[] = {"sum", "mean", "max", "min", "argmax", "argmin"};
    return names[op];
}

void tensor_format_shape(const int64_t *shape, int ndim, char *out, size_t size)
{
    size_t used = 0;
    int n = snprintf(out, size, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int d = 0; d < ndim && used < size; d++) {
        n = snprintf(out + used, size - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size)
        snprintf(out + used, size - used, "]");
}

static int64_t numel_of(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* ---- the strided iterator ---------------------------------------------------------- */

struct iter {
    int ndim;
    int nops;
    int64_t shape[TENSOR_MAX_DIMS];
    char *base[ITER_MAX_OPS];
    int64_t stride[ITER_MAX_OPS][TENSOR_MAX_DIMS]; /* bytes */
};

/* Called per innermost run of n elements; ptr[k] and stride[k] for operand k.
 * Returns 0 to go on, -1 to stop the walk. */
typedef int (*iter_fn)(void *ctx, int64_t n, char *const *ptr, const int64_t *stride);

static void iter_init(struct iter *it, const int64_t *shape, int ndim)
{
    memset(it, 0, sizeof *it);
    it->ndim = ndim;
    memcpy(it->shape, shape, sizeof(int64_t) * (size_t)ndim);
}

static char *data_of(const struct tensor *t)
{
    if (!t->buf || !t->buf->data)
        return NULL;
    return (char *)t->buf->data + t->offset * (int64_t)esize(t->dtype);
}

/* Adds t, whose shape broadcasts to the iterator's (checked by the caller). */
static void iter_add(struct iter *it, const struct tensor *t)
{
    int k = it->nops++;
    int64_t es = (int64_t)esize(t->dtype);
    int lead = it->ndim - t->ndim;
    it->base[k] = data_of(t);
    for (int d = 0; d < it->ndim; d++) {
        int td = d - lead;
        it->stride[k][d] = (td < 0 || t->shape[td] == 1) ? 0 : t->strides[td] * es;
    }
}

/* Adds one value repeated everywhere (a number operand). */
static void iter_add_repeated(struct iter *it, void *value)
{
    int k = it->nops++;
    it->base[k] = value;
    for (int d = 0; d < it->ndim; d++)
        it->stride[k][d] = 0;
}

/* Drops dims of size 1 and merges neighbours that are contiguous in every
 * operand, so a contiguous tensor becomes one long run. Order is kept. */
static void iter_coalesce(struct iter *it)
{
    int nd = 0;
    for (int d = 0; d < it->ndim; d++) {
        if (it->shape[d] == 1)
            continue;
        it->shape[nd] = it->shape[d];
        for (int k = 0; k < it->nops; k++)
            it->stride[k][nd] = it->stride[k][d];
        nd++;
    }
    if (nd == 0) {
        it->ndim = 0;
        return;
    }
    int w = 0;
    for (int d = 1; d < nd; d++) {
        bool merge = true;
        for (int k = 0; k < it->nops; k++)
            if (it->stride[k][w] != it->stride[k][d] * it->shape[d])
                merge = false;
        if (merge) {
            it->shape[w] *= it->shape[d];
            for (int k = 0; k < it->nops; k++)
                it->stride[k][w] = it->stride[k][d];
        } else {
            w++;
            it->shape[w] = it->shape[d];
            for (int k = 0; k < it->nops; k++)
                it->stride[k][w] = it->stride[k][d];
        }
    }
    it->ndim = w + 1;
}

static int iter_run(struct iter *it, iter_fn fn, void *ctx)
{
    for (int d = 0; d < it->ndim; d++)
        if (it->shape[d] == 0)
            return 0;
    iter_coalesce(it);
    char *ptr[ITER_MAX_OPS];
    int64_t inner[ITER_MAX_OPS] = {0};
    for (int k = 0; k < it->nops; k++)
        ptr[k] = it->base[k];
    if (it->ndim == 0)
        return fn(ctx, 1, ptr, inner);
    int last = it->ndim - 1;
    for (int k = 0; k < it->nops; k++)
        inner[k] = it->stride[k][last];
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    for (;;) {
        if (fn(ctx, it->shape[last], ptr, inner))
            return -1;
        int d = last - 1;
        for (; d >= 0; d--) {
            for (int k = 0; k < it->nops; k++)
                ptr[k] += it->stride[k][d];
            if (++idx[d] < it->shape[d])
                break;
            for (int k = 0; k < it->nops; k++)
                ptr[k] -= it->stride[k][d] * it->shape[d];
            idx[d] = 0;
        }
        if (d < 0)
            return 0;
    }
}

/* A shallow copy of a without dim (no buffer reference: never released). */
static void view_without_dim(struct tensor *v, const struct tensor *a, int dim)
{
    *v = *a;
    for (int d = dim; d + 1 < a->ndim; d++) {
        v->shape[d] = a->shape[d + 1];
        v->strides[d] = a->strides[d + 1];
    }
    v->ndim = a->ndim - 1;
}

/* ---- loading and storing chunks ------------------------------------------------- */

/* memcpy keeps unaligned views (tensors over wire buffers) defined; compilers
 * turn it into a plain load. */
#define LOAD_LOOP(T, EXPR)                                                                         \
    for (int64_t i = 0; i < n; i++, p += s) {                                                      \
        T v;                                                                                       \
        memcpy(&v, p, sizeof v);                                                                   \
        out[i] = (EXPR);                                                                           \
    }                                                                                              \
    break

static void load_f64(enum tensor_dtype dt, const char *p, int64_t s, int64_t n, double *out)
{
    switch (dt) {
    case TENSOR_BOOL:
        LOAD_LOOP(uint8_t, v != 0);
    case TENSOR_UINT8:
        LOAD_LOOP(uint8_t, v);
    case TENSOR_UINT16:
        LOAD_LOOP(uint16_t, v);
    case TENSOR_UINT32:
        LOAD_LOOP(uint32_t, v);
    case TENSOR_UINT64:
        LOAD_LOOP(uint64_t, (double)v);
    case TENSOR_INT8:
        LOAD_LOOP(int8_t, v);
    case TENSOR_INT16:
        LOAD_LOOP(int16_t, v);
    case TENSOR_INT32:
        LOAD_LOOP(int32_t, v);
    case TENSOR_INT64:
        LOAD_LOOP(int64_t, (double)v);
    case TENSOR_FP16:
        LOAD_LOOP(uint16_t, tensor_f16_to_f32(v));
    case TENSOR_BF16:
        LOAD_LOOP(uint16_t, tensor_bf16_to_f32(v));
    case TENSOR_FP32:
        LOAD_LOOP(float, v);
    case TENSOR_FP64:
        LOAD_LOOP(double, v);
    default:
        memset(out, 0, sizeof(double) * (size_t)n);
    }
}

/* Integer dtypes and BOOL only; UINT64 is wrapped into int64_t. */
static void load_i64(enum tensor_dtype dt, const char *p, int64_t s, int64_t n, int64_t *out)
{
    switch (dt) {
    case TENSOR_BOOL:
        LOAD_LOOP(uint8_t, v != 0);
    case TENSOR_UINT8:
        LOAD_LOOP(uint8_t, v);
    case TENSOR_UINT16:
        LOAD_LOOP(uint16_t, v);
    case TENSOR_UINT32:
        LOAD_LOOP(uint32_t, v);
    case TENSOR_UINT64:
        LOAD_LOOP(uint64_t, (int64_t)v);
    case TENSOR_INT8:
        LOAD_LOOP(int8_t, v);
    case TENSOR_INT16:
        LOAD_LOOP(int16_t, v);
    case TENSOR_INT32:
        LOAD_LOOP(int32_t, v);
    case TENSOR_INT64:
        LOAD_LOOP(int64_t, v);
    default:
        memset(out, 0, sizeof(int64_t) * (size_t)n);
    }
}

#define STORE_LOOP(T, EXPR)                                                                        \
    for (int64_t i = 0; i < n; i++, p += s) {                                                      \
        T v = (T)(EXPR);                                                                           \
        memcpy(p, &v, sizeof v);                                                                   \
    }                                                                                              \
    break

/* Float dtypes only: one rounding from double; past FP32's range gives +-Inf
 * (tensor_f64_to_f32 avoids C's undefined out-of-range cast). */
static void store_f64(enum tensor_dtype dt, char *p, int64_t s, int64_t n, const double *in)
{
    switch (dt) {
    case TENSOR_FP16:
        STORE_LOOP(uint16_t, tensor_f64_to_f16(in[i]));
    case TENSOR_BF16:
        STORE_LOOP(uint16_t, tensor_f64_to_bf16(in[i]));
    case TENSOR_FP32:
        STORE_LOOP(float, tensor_f64_to_f32(in[i]));
    case TENSOR_FP64:
        STORE_LOOP(double, in[i]);
    default:
        break;
    }
}

/* Integer dtypes and BOOL: truncation modulo 2^bits (BOOL: nonzero is 1). */
static void store_i64(enum tensor_dtype dt, char *p, int64_t s, int64_t n, const int64_t *in)
{
    switch (dt) {
    case TENSOR_BOOL:
        STORE_LOOP(uint8_t, in[i] != 0);
    case TENSOR_UINT8:
        STORE_LOOP(uint8_t, (uint64_t)in[i]);
    case TENSOR_UINT16:
        STORE_LOOP(uint16_t, (uint64_t)in[i]);
    case TENSOR_UINT32:
        STORE_LOOP(uint32_t, (uint64_t)in[i]);
    case TENSOR_UINT64:
        STORE_LOOP(uint64_t, (uint64_t)in[i]);
    case TENSOR_INT8:
        STORE_LOOP(int8_t, (uint8_t)(uint64_t)in[i]);
    case TENSOR_INT16:
        STORE_LOOP(int16_t, (uint16_t)(uint64_t)in[i]);
    case TENSOR_INT32:
        STORE_LOOP(int32_t, (uint32_t)(uint64_t)in[i]);
    case TENSOR_INT64:
        STORE_LOOP(int64_t, in[i]);
    default:
        break;
    }
}

/* ---- dtype rules ------------------------------------------------------------------- */

static int no_bytes(const char *what, enum tensor_dtype dt, struct triton_error *err)
{
    if (dt == TENSOR_BYTES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s is not defined for BYTES tensors",
                           what);
    if (dt < 0 || dt >= TENSOR_BYTES)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: invalid dtype", what);
    return 0;
}

static enum tensor_dtype promote_ints(enum tensor_dtype a, enum tensor_dtype b)
{
    if (a == TENSOR_BOOL && b == TENSOR_BOOL)
        return TENSOR_INT64;
    if (a == TENSOR_BOOL)
        return b;
    if (b == TENSOR_BOOL || a == b)
        return a;
    if (is_unsigned(a) == is_unsigned(b))
        return esize(a) >= esize(b) ? a : b;
    enum tensor_dtype s = is_unsigned(a) ? b : a, u = is_unsigned(a) ? a : b;
    if (esize(s) > esize(u))
        return s;
    switch (esize(u)) {
    case 1:
        return TENSOR_INT16;
    case 2:
        return TENSOR_INT32;
    default:
        return TENSOR_INT64;
    }
}

static int float_rank(enum tensor_dtype dt)
{
    return dt == TENSOR_FP64 ? 3 : dt == TENSOR_FP32 ? 2 : 1;
}

int tensor_binop_dtype(enum tensor_binop op, enum tensor_dtype a, enum tensor_dtype b,
                       enum tensor_dtype *out, struct triton_error *err)
{
    const char *what = tensor_binop_name(op);
    if (no_bytes(what, a, err) || no_bytes(what, b, err))
        return -1;
    bool fa = tensor_dtype_is_float(a), fb = tensor_dtype_is_float(b);
    enum tensor_dtype r;
    if (fa && fb) {
        if (a == b)
            r = a;
        else if (float_rank(a) == 1 && float_rank(b) == 1)
            r = TENSOR_FP32; /* FP16 with BF16: neither holds the other */
        else
            r = float_rank(a) >= float_rank(b) ? a : b;
    } else if (fa || fb) {
        r = fa ? a : b;
    } else {
        r = promote_ints(a, b);
    }
    if (op == TENSOR_DIV && !tensor_dtype_is_float(r))
        r = TENSOR_FP32;
    *out = r;
    return 0;
}

int tensor_binop_scalar_dtype(enum tensor_binop op, enum tensor_dtype a,
                              const struct tensor_scalar *s, enum tensor_dtype *out,
                              struct triton_error *err)
{
    if (no_bytes(tensor_binop_name(op), a, err))
        return -1;
    enum tensor_dtype r = a;
    if (!tensor_dtype_is_float(a)) {
        if (!s->is_int)
            r = TENSOR_FP32;
        else if (a == TENSOR_BOOL)
            r = TENSOR_INT64;
    }
    if (op == TENSOR_DIV && !tensor_dtype_is_float(r))
        r = TENSOR_FP32;
    *out = r;
    return 0;
}

int tensor_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out,
                           int *nout, struct triton_error *err)
{
    int n = na > nb ? na : nb;
    for (int d = 0; d < n; d++) {
        int da = d - (n - na), db = d - (n - nb);
        int64_t sa = da < 0 ? 1 : a[da], sb = db < 0 ? 1 : b[db];
        if (sa != sb && sa != 1 && sb != 1) {
            char as[256], bs[256];
            tensor_format_shape(a, na, as, sizeof as);
            tensor_format_shape(b, nb, bs, sizeof bs);
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "shapes %s and %s cannot be broadcast together", as, bs);
        }
        out[d] = sa == 1 ? sb : sa;
    }
    *nout = n;
    return 0;
}

/* A new contiguous tensor; on failure out stays released. */
static int new_tensor(struct tensor *out, enum tensor_dtype dt, const int64_t *shape, int ndim,
                      struct triton_error *err)
{
    memset(out, 0, sizeof *out);
    if (tensor_init(out, dt, shape, ndim, err)) {
        tensor_release(out);
        memset(out, 0, sizeof *out);
        return -1;
    }
    return 0;
}

/* ---- element-wise binary ---------------------------------------------------------- */

struct binary_ctx {
    enum tensor_binop op;
    enum tensor_dtype out, a, b;
};

static void apply_f64(enum tensor_binop op, double *x, const double *y, int64_t n)
{
    switch (op) {
    case TENSOR_ADD:
        for (int64_t i = 0; i < n; i++)
            x[i] += y[i];
        break;
    case TENSOR_SUB:
        for (int64_t i = 0; i < n; i++)
            x[i] -= y[i];
        break;
    case TENSOR_MUL:
        for (int64_t i = 0; i < n; i++)
            x[i] *= y[i];
        break;
    case TENSOR_DIV:
        for (int64_t i = 0; i < n; i++)
            x[i] /= y[i];
        break;
    }
}

/* Integer results only (division always yields a float dtype). */
static void apply_i64(enum tensor_binop op, int64_t *x, const int64_t *y, int64_t n)
{
    switch (op) {
    case TENSOR_ADD:
        for (int64_t i = 0; i < n; i++)
            x[i] = (int64_t)((uint64_t)x[i] + (uint64_t)y[i]);
        break;
    case TENSOR_SUB:
        for (int64_t i = 0; i < n; i++)
            x[i] = (int64_t)((uint64_t)x[i] - (uint64_t)y[i]);
        break;
    case TENSOR_MUL:
        for (int64_t i = 0; i < n; i++)
            x[i] = (int64_t)((uint64_t)x[i] * (uint64_t)y[i]);
        break;
    case TENSOR_DIV:
        break;
    }
}

/* Typed loops for one dtype throughout, out contiguous, each input contiguous or
 * repeated (stride 0). T is the element type, U the type the op is done in
 * (unsigned for wrapping integer arithmetic). */
#define FAST_BINARY_OP(T, U, OPER)                                                                 \
    do {                                                                                           \
        T *o = (T *)(void *)ptr[0];                                                                \
        const T *x = (const T *)(const void *)ptr[1], *y = (const T *)(const void *)ptr[2];        \
        if (st[1] && st[2]) {                                                                      \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = (T)((U)x[i] OPER(U) y[i]);                                                  \
        } else if (st[1]) {                                                                        \
            U yv = (U)y[0];                                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = (T)((U)x[i] OPER yv);                                                       \
        } else if (st[2]) {                                                                        \
            U xv = (U)x[0];                                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = (T)(xv OPER(U) y[i]);                                                       \
        } else {                                                                                   \
            T r = (T)((U)x[0] OPER(U) y[0]);                                                       \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = r;                                                                          \
        }                                                                                          \
    } while (0)

#define FAST_BINARY(T, U)                                                                          \
    switch (c->op) {                                                                               \
    case TENSOR_ADD:                                                                               \
        FAST_BINARY_OP(T, U, +);                                                                   \
        break;                                                                                     \
    case TENSOR_SUB:                                                                               \
        FAST_BINARY_OP(T, U, -);                                                                   \
        break;                                                                                     \
    case TENSOR_MUL:                                                                               \
        FAST_BINARY_OP(T, U, *);                                                                   \
        break;                                                                                     \
    case TENSOR_DIV:                                                                               \
        FAST_BINARY_OP(T, U, /);                                                                   \
        break;                                                                                     \
    }                                                                                              \
    return true

static bool aligned_to(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

static bool binary_fast(const struct binary_ctx *c, int64_t n, char *const *ptr, const int64_t *st)
{
    if (c->a != c->out || c->b != c->out)
        return false;
    int64_t es = (int64_t)esize(c->out);
    if (st[0] != es || (st[1] && st[1] != es) || (st[2] && st[2] != es))
        return false;
    for (int k = 0; k < 3; k++)
        if (!aligned_to(ptr[k], (size_t)es))
            return false;
    switch (c->out) {
    case TENSOR_FP32:
        FAST_BINARY(float, float);
    case TENSOR_FP64:
        FAST_BINARY(double, double);
    case TENSOR_INT32:
        if (c->op == TENSOR_DIV)
            return false;
        FAST_BINARY(int32_t, uint32_t);
    case TENSOR_INT64:
        if (c->op == TENSOR_DIV)
            return false;
        FAST_BINARY(int64_t, uint64_t);
    default:
        return false;
    }
}

static int binary_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct binary_ctx *c = vctx;
    if (binary_fast(c, n, ptr, st))
        return 0;
    bool fp = tensor_dtype_is_float(c->out);
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        char *po = ptr[0] + off * st[0];
        const char *pa = ptr[1] + off * st[1], *pb = ptr[2] + off * st[2];
        if (fp) {
            double x[CHUNK], y[CHUNK];
            load_f64(c->a, pa, st[1], m, x);
            load_f64(c->b, pb, st[2], m, y);
            apply_f64(c->op, x, y, m);
            store_f64(c->out, po, st[0], m, x);
        } else {
            int64_t x[CHUNK], y[CHUNK];
            load_i64(c->a, pa, st[1], m, x);
            load_i64(c->b, pb, st[2], m, y);
            apply_i64(c->op, x, y, m);
            store_i64(c->out, po, st[0], m, x);
        }
    }
    return 0;
}

int tensor_binary(struct tensor *out, enum tensor_binop op, const struct tensor *a,
                  const struct tensor *b, struct triton_error *err)
{
    struct binary_ctx c = {.op = op, .a = a->dtype, .b = b->dtype};
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = 0; /* set on success; zero quiets -Wmaybe-uninitialized at -O2 */
    if (tensor_binop_dtype(op, a->dtype, b->dtype, &c.out, err) ||
        tensor_broadcast_shape(a->shape, a->ndim, b->shape, b->ndim, shape, &ndim, err) ||
        new_tensor(out, c.out, shape, ndim, err))
        return -1;
    struct iter it;
    iter_init(&it, shape, ndim);
    iter_add(&it, out);
    iter_add(&it, a);
    iter_add(&it, b);
    iter_run(&it, binary_run, &c);
    return 0;
}

/* Room for one element of any non-BYTES dtype, aligned for all of them. */
union scalar_slot {
    uint64_t u;
    int64_t i;
    double f;
    unsigned char bytes[8];
};

/* s converted to dt the way a store into a tensor of dt converts it. */
static void scalar_to_slot(const struct tensor_scalar *s, enum tensor_dtype dt,
                           union scalar_slot *slot)
{
    memset(slot, 0, sizeof *slot);
    if (tensor_dtype_is_float(dt)) {
        double f = s->is_int ? (double)s->i : s->f;
        store_f64(dt, (char *)slot->bytes, 0, 1, &f);
    } else {
        store_i64(dt, (char *)slot->bytes, 0, 1, &s->i);
    }
}

int tensor_binary_scalar(struct tensor *out, enum tensor_binop op, const struct tensor *a,
                         const struct tensor_scalar *s, bool scalar_first, struct triton_error *err)
{
    enum tensor_dtype rt;
    if (tensor_binop_scalar_dtype(op, a->dtype, s, &rt, err))
        return -1;
    /* The number takes the result dtype first (numpy's weak scalars): FP32 * 0.1
     * multiplies by 0.1f. For integers this is exact modulo 2^bits. For a float
     * result from an integer tensor the number keeps full float precision. */
    union scalar_slot slot;
    enum tensor_dtype st = rt;
    if (!tensor_dtype_is_float(rt) || tensor_dtype_is_float(a->dtype)) {
        scalar_to_slot(s, rt, &slot);
    } else {
        st = TENSOR_FP64;
        slot.f = s->is_int ? (double)s->i : s->f;
    }
    if (new_tensor(out, rt, a->shape, a->ndim, err))
        return -1;
    struct binary_ctx c = {.op = op, .out = rt};
    struct iter it;
    iter_init(&it, a->shape, a->ndim);
    iter_add(&it, out);
    if (scalar_first) {
        c.a = st;
        c.b = a->dtype;
        iter_add_repeated(&it, slot.bytes);
        iter_add(&it, a);
    } else {
        c.a = a->dtype;
        c.b = st;
        iter_add(&it, a);
        iter_add_repeated(&it, slot.bytes);
    }
    iter_run(&it, binary_run, &c);
    return 0;
}

/* ---- element-wise unary ------------------------------------------------------------ */

struct unary_ctx {
    enum tensor_unop op;
    enum tensor_dtype out, in;
};

static double sigmoid(double x)
{
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x); /* no overflow for large negative x */
    return e / (1.0 + e);
}

static int unary_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct unary_ctx *c = vctx;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        char *po = ptr[0] + off * st[0];
        const char *pa = ptr[1] + off * st[1];
        if (tensor_dtype_is_float(c->out)) {
            double x[CHUNK];
            load_f64(c->in, pa, st[1], m, x);
            for (int64_t i = 0; i < m; i++) {
                switch (c->op) {
                case TENSOR_NEG:
                    x[i] = -x[i];
                    break;
                case TENSOR_ABS:
                    x[i] = fabs(x[i]);
                    break;
                case TENSOR_EXP:
                    x[i] = exp(x[i]);
                    break;
                case TENSOR_LOG:
                    x[i] = log(x[i]);
                    break;
                case TENSOR_SQRT:
                    x[i] = sqrt(x[i]);
                    break;
                case TENSOR_SIGMOID:
                    x[i] = sigmoid(x[i]);
                    break;
                }
            }
            store_f64(c->out, po, st[0], m, x);
        } else {
            int64_t x[CHUNK];
            load_i64(c->in, pa, st[1], m, x);
            bool negate_all = c->op == TENSOR_NEG;
            /* abs of an unsigned (or BOOL) value is the value itself */
            bool negate_negative =
                c->op == TENSOR_ABS && !is_unsigned(c->in) && c->in != TENSOR_BOOL;
            for (int64_t i = 0; i < m; i++)
                if (negate_all || (negate_negative && x[i] < 0))
                    x[i] = (int64_t)(0 - (uint64_t)x[i]);
            store_i64(c->out, po, st[0], m, x);
        }
    }
    return 0;
}

int tensor_unary(struct tensor *out, enum tensor_unop op, const struct tensor *a,
                 struct triton_error *err)
{
    if (no_bytes(tensor_unop_name(op), a->dtype, err))
        return -1;
    struct unary_ctx c = {.op = op, .in = a->dtype, .out = a->dtype};
    if (op == TENSOR_NEG && a->dtype == TENSOR_BOOL)
        c.out = TENSOR_INT64;
    else if (op != TENSOR_NEG && op != TENSOR_ABS && !tensor_dtype_is_float(a->dtype))
        c.out = TENSOR_FP32;
    if (new_tensor(out, c.out, a->shape, a->ndim, err))
        return -1;
    struct iter it;
    iter_init(&it, a->shape, a->ndim);
    iter_add(&it, out);
    iter_add(&it, a);
    iter_run(&it, unary_run, &c);
    return 0;
}

/* ---- clamp ----------------------------------------------------------------------- */

struct clamp_ctx {
    enum tensor_dtype dt;
    bool has_lo, has_hi;
    double flo, fhi;
    int64_t ilo, ihi;  /* signed dtypes, BOOL and unsigned below 64 bits */
    uint64_t ulo, uhi; /* UINT64 */
};

static double scalar_as_double(const struct tensor_scalar *s)
{
    return s->is_int ? (double)s->i : s->f;
}

/* A bound for an integer dtype: floats rounded inwards, then saturated. */
static void int_bound(const struct tensor_scalar *s, bool is_lo, enum tensor_dtype dt,
                      int64_t *ibound, uint64_t *ubound)
{
    if (dt == TENSOR_UINT64) {
        if (s->is_int)
            *ubound = s->i < 0 ? 0 : (uint64_t)s->i;
        else {
            double d = is_lo ? ceil(s->f) : floor(s->f);
            *ubound = d <= 0 ? 0 : d >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)d;
        }
        return;
    }
    int64_t v, lo;
    uint64_t hi;
    if (s->is_int) {
        v = s->i;
    } else {
        double d = is_lo ? ceil(s->f) : floor(s->f);
        v = d < -9223372036854775808.0   ? INT64_MIN
            : d >= 9223372036854775808.0 ? INT64_MAX
                                         : (int64_t)d;
    }
    tensor_dtype_int_range(dt, &lo, &hi); /* not UINT64 here, so hi <= INT64_MAX */
    *ibound = v < lo ? lo : v > (int64_t)hi ? (int64_t)hi : v;
}

static int clamp_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct clamp_ctx *c = vctx;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        char *po = ptr[0] + off * st[0];
        const char *pa = ptr[1] + off * st[1];
        if (tensor_dtype_is_float(c->dt)) {
            double x[CHUNK];
            load_f64(c->dt, pa, st[1], m, x);
            for (int64_t i = 0; i < m; i++) {
                if (c->has_lo && x[i] < c->flo)
                    x[i] = c->flo;
                else if (c->has_hi && x[i] > c->fhi)
                    x[i] = c->fhi;
            }
            store_f64(c->dt, po, st[0], m, x);
        } else if (c->dt == TENSOR_UINT64) {
            int64_t x[CHUNK];
            load_i64(c->dt, pa, st[1], m, x);
            for (int64_t i = 0; i < m; i++) {
                uint64_t u = (uint64_t)x[i];
                if (c->has_lo && u < c->ulo)
                    x[i] = (int64_t)c->ulo;
                else if (c->has_hi && u > c->uhi)
                    x[i] = (int64_t)c->uhi;
            }
            store_i64(c->dt, po, st[0], m, x);
        } else {
            int64_t x[CHUNK];
            load_i64(c->dt, pa, st[1], m, x);
            for (int64_t i = 0; i < m; i++) {
                if (c->has_lo && x[i] < c->ilo)
                    x[i] = c->ilo;
                else if (c->has_hi && x[i] > c->ihi)
                    x[i] = c->ihi;
            }
            store_i64(c->dt, po, st[0], m, x);
        }
    }
    return 0;
}

int tensor_clamp(struct tensor *out, const struct tensor *a, const struct tensor_scalar *lo,
                 const struct tensor_scalar *hi, struct triton_error *err)
{
    if (no_bytes("clamp", a->dtype, err))
        return -1;
    if ((lo && !lo->is_int && isnan(lo->f)) || (hi && !hi->is_int && isnan(hi->f)))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "clamp: a bound is NaN");
    if (lo && hi) {
        bool inverted =
            lo->is_int && hi->is_int ? lo->i > hi->i : scalar_as_double(lo) > scalar_as_double(hi);
        if (inverted)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "clamp: lower bound %.17g is above upper bound %.17g",
                               scalar_as_double(lo), scalar_as_double(hi));
    }
    struct clamp_ctx c = {.dt = a->dtype, .has_lo = lo != NULL, .has_hi = hi != NULL};
    if (tensor_dtype_is_float(a->dtype)) {
        /* Bounds rounded to the dtype, so a clamped element equals the bound. */
        union scalar_slot slot;
        if (lo) {
            scalar_to_slot(lo, a->dtype, &slot);
            load_f64(a->dtype, (const char *)slot.bytes, 0, 1, &c.flo);
        }
        if (hi) {
            scalar_to_slot(hi, a->dtype, &slot);
            load_f64(a->dtype, (const char *)slot.bytes, 0, 1, &c.fhi);
        }
    } else {
        if (lo)
            int_bound(lo, true, a->dtype, &c.ilo, &c.ulo);
        if (hi)
            int_bound(hi, false, a->dtype, &c.ihi, &c.uhi);
    }
    if (new_tensor(out, a->dtype, a->shape, a->ndim, err))
        return -1;
    struct iter it;
    iter_init(&it, a->shape, a->ndim);
    iter_add(&it, out);
    iter_add(&it, a);
    iter_run(&it, clamp_run, &c);
    return 0;
}

/* ---- reductions ------------------------------------------------------------------- */

enum domain { DOM_F64, DOM_I64, DOM_U64 };

struct reducer {
    enum tensor_reduction op;
    enum tensor_dtype dt;
    enum domain dom;
    int64_t count; /* elements fed so far: the flat index of the next one */
    double fsum;
    uint64_t isum; /* wraps, as C unsigned arithmetic does */
    bool have;     /* a best value was seen */
    bool done;     /* a NaN was seen: it is the answer for max/min/arg* */
    double fbest;
    int64_t ibest;
    uint64_t ubest;
    int64_t best_idx;
};

static bool is_sum(enum tensor_reduction op)
{
    return op == TENSOR_SUM || op == TENSOR_MEAN;
}

static bool wants_max(enum tensor_reduction op)
{
    return op == TENSOR_MAX || op == TENSOR_ARGMAX;
}

static void reducer_init(struct reducer *r, enum tensor_reduction op, enum tensor_dtype dt)
{
    memset(r, 0, sizeof *r);
    r->op = op;
    r->dt = dt;
    if (tensor_dtype_is_float(dt))
        r->dom = DOM_F64;
    else if (dt == TENSOR_UINT64 && !is_sum(op))
        r->dom = DOM_U64;
    else
        r->dom = DOM_I64;
}

/* Contiguous, aligned runs of the four common dtypes, read in place. Floats
 * compare in their own type (exact) and sum in double; `!(x <= best)` is true
 * for a larger x or a NaN, and the first NaN ends the search. */
#define FEED_FLOAT(NAME, T)                                                                        \
    static void NAME(struct reducer *r, const T *x, int64_t n)                                     \
    {                                                                                              \
        int64_t base = r->count;                                                                   \
        r->count += n;                                                                             \
        if (is_sum(r->op)) {                                                                       \
            double s = 0;                                                                          \
            for (int64_t i = 0; i < n; i++)                                                        \
                s += x[i];                                                                         \
            r->fsum += s;                                                                          \
            return;                                                                                \
        }                                                                                          \
        if (r->done || n == 0)                                                                     \
            return;                                                                                \
        int64_t i = 0, idx;                                                                        \
        T best;                                                                                    \
        if (!r->have) {                                                                            \
            best = x[0], idx = base, i = 1;                                                        \
            r->have = true;                                                                        \
        } else {                                                                                   \
            best = (T)r->fbest, idx = r->best_idx;                                                 \
        }                                                                                          \
        if (isnan(best)) {                                                                         \
            r->done = true;                                                                        \
        } else if (wants_max(r->op)) {                                                             \
            for (; i < n; i++)                                                                     \
                if (!(x[i] <= best)) {                                                             \
                    best = x[i], idx = base + i;                                                   \
                    if (isnan(best)) {                                                             \
                        r->done = true;                                                            \
                        break;                                                                     \
                    }                                                                              \
                }                                                                                  \
        } else {                                                                                   \
            for (; i < n; i++)                                                                     \
                if (!(x[i] >= best)) {                                                             \
                    best = x[i], idx = base + i;                                                   \
                    if (isnan(best)) {                                                             \
                        r->done = true;                                                            \
                        break;                                                                     \
                    }                                                                              \
                }                                                                                  \
        }                                                                                          \
        r->fbest = best;                                                                           \
        r->best_idx = idx;                                                                         \
    }

#define FEED_INT(NAME, T, BEST, ACC)                                                               \
    static void NAME(struct reducer *r, const T *x, int64_t n)                                     \
    {                                                                                              \
        int64_t base = r->count;                                                                   \
        r->count += n;                                                                             \
        if (is_sum(r->op)) {                                                                       \
            uint64_t s = 0;                                                                        \
            for (int64_t i = 0; i < n; i++)                                                        \
                s += (uint64_t)(ACC)x[i];                                                          \
            r->isum += s;                                                                          \
            return;                                                                                \
        }                                                                                          \
        if (n == 0)                                                                                \
            return;                                                                                \
        int64_t i = 0, idx;                                                                        \
        T best;                                                                                    \
        if (!r->have) {                                                                            \
            best = x[0], idx = base, i = 1;                                                        \
            r->have = true;                                                                        \
        } else {                                                                                   \
            best = (T)r->BEST, idx = r->best_idx;                                                  \
        }                                                                                          \
        if (wants_max(r->op)) {                                                                    \
            for (; i < n; i++)                                                                     \
                if (x[i] > best)                                                                   \
                    best = x[i], idx = base + i;                                                   \
        } else {                                                                                   \
            for (; i < n; i++)                                                                     \
                if (x[i] < best)                                                                   \
                    best = x[i], idx = base + i;                                                   \
        }                                                                                          \
        r->BEST = best;                                                                            \
        r->best_idx = idx;                                                                         \
    }

FEED_FLOAT(feed_f32, float)
FEED_FLOAT(feed_f64, double)
FEED_INT(feed_i32, int32_t, ibest, int64_t)
FEED_INT(feed_i64, int64_t, ibest, int64_t)
FEED_INT(feed_u64, uint64_t, ubest, uint64_t)

static bool feed_fast(struct reducer *r, const char *p, int64_t s, int64_t n)
{
    if (s != (int64_t)esize(r->dt) || !aligned_to(p, esize(r->dt)))
        return false;
    switch (r->dt) {
    case TENSOR_FP32:
        feed_f32(r, (const float *)(const void *)p, n);
        return true;
    case TENSOR_FP64:
        feed_f64(r, (const double *)(const void *)p, n);
        return true;
    case TENSOR_INT32:
        feed_i32(r, (const int32_t *)(const void *)p, n);
        return true;
    case TENSOR_INT64:
        feed_i64(r, (const int64_t *)(const void *)p, n);
        return true;
    default:
        return false;
    }
}

/* Feeds n elements of r->dt at p, s bytes apart, in row-major order. */
static void reducer_feed(struct reducer *r, const char *p, int64_t s, int64_t n)
{
    if (feed_fast(r, p, s, n))
        return;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        const char *q = p + off * s;
        if (r->dom == DOM_F64) {
            double x[CHUNK];
            load_f64(r->dt, q, s, m, x);
            feed_f64(r, x, m);
        } else {
            int64_t x[CHUNK];
            load_i64(r->dt, q, s, m, x);
            if (r->dom == DOM_U64)
                feed_u64(r, (const uint64_t *)x, m);
            else
                feed_i64(r, x, m);
        }
    }
}

static enum tensor_dtype reduction_dtype(enum tensor_reduction op, enum tensor_dtype dt)
{
    switch (op) {
    case TENSOR_SUM:
        return tensor_dtype_is_float(dt) ? dt : TENSOR_INT64;
    case TENSOR_MEAN:
        return tensor_dtype_is_float(dt) ? dt : TENSOR_FP32;
    case TENSOR_ARGMAX:
    case TENSOR_ARGMIN:
        return TENSOR_INT64;
    default:
        return dt;
    }
}

static double reducer_mean(const struct reducer *r)
{
    if (r->count == 0)
        return NAN;
    double s = r->dom == DOM_F64 ? r->fsum : (double)(int64_t)r->isum;
    return s / (double)r->count;
}

/* UINT64 results >= 2^63 become the nearest double, as the binding reads them. */
static void set_integer_result(struct tensor_scalar *v, bool is_u64, uint64_t u, int64_t i)
{
    if (is_u64 && u > INT64_MAX) {
        v->is_int = false;
        v->f = (double)u;
    } else {
        v->is_int = true;
        v->i = is_u64 ? (int64_t)u : i;
    }
}

static void reducer_result(const struct reducer *r, struct tensor_scalar *v)
{
    memset(v, 0, sizeof *v);
    switch (r->op) {
    case TENSOR_SUM:
        if (r->dom == DOM_F64)
            v->f = r->fsum;
        else
            v->is_int = true, v->i = (int64_t)r->isum;
        break;
    case TENSOR_MEAN:
        v->f = reducer_mean(r);
        break;
    case TENSOR_MAX:
    case TENSOR_MIN:
        if (r->dom == DOM_F64)
            v->f = r->fbest;
        else
            set_integer_result(v, r->dom == DOM_U64, r->dom == DOM_U64 ? r->ubest : 0, r->ibest);
        break;
    case TENSOR_ARGMAX:
    case TENSOR_ARGMIN:
        v->is_int = true, v->i = r->best_idx;
        break;
    }
}

/* Writes r's result as one element of out_dt at p. */
static void reducer_store(const struct reducer *r, enum tensor_dtype out_dt, char *p)
{
    struct tensor_scalar v;
    reducer_result(r, &v);
    if (tensor_dtype_is_float(out_dt))
        store_f64(out_dt, p, 0, 1, &v.f);
    else
        store_i64(out_dt, p, 0, 1, &v.i);
}

struct reduce_all_ctx {
    struct reducer r;
};

static int reduce_all_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    struct reduce_all_ctx *c = vctx;
    reducer_feed(&c->r, ptr[0], st[0], n);
    return 0;
}

int tensor_reduce_all(enum tensor_reduction op, const struct tensor *a,
                      struct tensor_scalar *result, struct triton_error *err)
{
    if (no_bytes(tensor_reduction_name(op), a->dtype, err))
        return -1;
    if (!is_sum(op) && numel_of(a->shape, a->ndim) == 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s of an empty tensor",
                           tensor_reduction_name(op));
    struct reduce_all_ctx c;
    reducer_init(&c.r, op, a->dtype);
    struct iter it;
    iter_init(&it, a->shape, a->ndim);
    iter_add(&it, a);
    iter_run(&it, reduce_all_run, &c);
    reducer_result(&c.r, result);
    return 0;
}

struct reduce_dim_ctx {
    enum tensor_reduction op;
    enum tensor_dtype in, out;
    int64_t len, stride; /* the reduced dim: size, and stride in bytes */
};

static int reduce_dim_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct reduce_dim_ctx *c = vctx;
    for (int64_t j = 0; j < n; j++) {
        struct reducer r;
        reducer_init(&r, c->op, c->in);
        reducer_feed(&r, ptr[1] + j * st[1], c->stride, c->len);
        reducer_store(&r, c->out, ptr[0] + j * st[0]);
    }
    return 0;
}

static int check_dim(const char *what, const struct tensor *a, int dim, struct triton_error *err)
{
    if (dim < 0 || dim >= a->ndim)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "%s: dim %d out of range for a %d-d tensor", what, dim, a->ndim);
    return 0;
}

int tensor_reduce_dim(struct tensor *out, enum tensor_reduction op, const struct tensor *a, int dim,
                      struct triton_error *err)
{
    const char *what = tensor_reduction_name(op);
    if (no_bytes(what, a->dtype, err) || check_dim(what, a, dim, err))
        return -1;
    struct tensor rest;
    view_without_dim(&rest, a, dim);
    if (!is_sum(op) && a->shape[dim] == 0 && numel_of(rest.shape, rest.ndim) > 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "%s along a dimension of size 0 (an empty tensor)", what);
    struct reduce_dim_ctx c = {.op = op,
                               .in = a->dtype,
                               .out = reduction_dtype(op, a->dtype),
                               .len = a->shape[dim],
                               .stride = a->strides[dim] * (int64_t)esize(a->dtype)};
    if (new_tensor(out, c.out, rest.shape, rest.ndim, err))
        return -1;
    struct iter it;
    iter_init(&it, rest.shape, rest.ndim);
    iter_add(&it, out);
    iter_add(&it, &rest);
    iter_run(&it, reduce_dim_run, &c);
    return 0;
}

/* ---- softmax ------------------------------------------------------------------------ */

struct softmax_ctx {
    enum tensor_dtype in, out;
    int64_t len, in_stride, out_stride; /* along dim, bytes */
    double *row;                        /* len scratch elements */
};

/* FP32 results are computed in float with expf, as a C programmer would write it
 * (and as fast); every other float dtype in double and rounded once. */
static void softmax_row_f32(const struct softmax_ctx *c, const char *pa, char *po)
{
    float *y = (float *)(void *)c->row;
    const float *x;
    if (c->in == TENSOR_FP32 && c->in_stride == 4 && aligned_to(pa, 4)) {
        x = (const float *)(const void *)pa;
    } else {
        for (int64_t off = 0; off < c->len; off += CHUNK) {
            int64_t m = c->len - off < CHUNK ? c->len - off : CHUNK;
            double tmp[CHUNK];
            load_f64(c->in, pa + off * c->in_stride, c->in_stride, m, tmp);
            for (int64_t i = 0; i < m; i++)
                y[off + i] = (float)tmp[i];
        }
        x = y;
    }
    bool direct = c->out_stride == 4 && aligned_to(po, 4);
    float *o = direct ? (float *)(void *)po : y;
    float mx = x[0];
    for (int64_t i = 1; i < c->len; i++)
        if (x[i] > mx)
            mx = x[i];
    double sum = 0;
    for (int64_t i = 0; i < c->len; i++) {
        float e = expf(x[i] - mx);
        o[i] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < c->len; i++)
        o[i] *= inv;
    if (!direct)
        for (int64_t i = 0; i < c->len; i++)
            memcpy(po + i * c->out_stride, &o[i], sizeof(float));
}

static void softmax_row_f64(const struct softmax_ctx *c, const char *pa, char *po)
{
    double *x = c->row;
    load_f64(c->in, pa, c->in_stride, c->len, x);
    double mx = x[0];
    for (int64_t i = 1; i < c->len; i++)
        if (x[i] > mx)
            mx = x[i];
    double sum = 0;
    for (int64_t i = 0; i < c->len; i++) {
        x[i] = exp(x[i] - mx);
        sum += x[i];
    }
    for (int64_t i = 0; i < c->len; i++)
        x[i] /= sum;
    store_f64(c->out, po, c->out_stride, c->len, x);
}

static int softmax_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct softmax_ctx *c = vctx;
    for (int64_t j = 0; j < n; j++) {
        if (c->out == TENSOR_FP32)
            softmax_row_f32(c, ptr[1] + j * st[1], ptr[0] + j * st[0]);
        else
            softmax_row_f64(c, ptr[1] + j * st[1], ptr[0] + j * st[0]);
    }
    return 0;
}

int tensor_softmax(struct tensor *out, const struct tensor *a, int dim, struct triton_error *err)
{
    if (no_bytes("softmax", a->dtype, err) || check_dim("softmax", a, dim, err))
        return -1;
    enum tensor_dtype odt = tensor_dtype_is_float(a->dtype) ? a->dtype : TENSOR_FP32;
    if (new_tensor(out, odt, a->shape, a->ndim, err))
        return -1;
    if (numel_of(a->shape, a->ndim) == 0)
        return 0;
    struct softmax_ctx c = {.in = a->dtype,
                            .out = odt,
                            .len = a->shape[dim],
                            .in_stride = a->strides[dim] * (int64_t)esize(a->dtype),
                            .out_stride = out->strides[dim] * (int64_t)sizeof(float)};
    if (odt != TENSOR_FP32)
        c.out_stride = out->strides[dim] * (int64_t)esize(odt);
    c.row = malloc(sizeof(double) * (size_t)c.len);
    if (!c.row) {
        tensor_release(out);
        return triton_fail(err, TRITON_NO_MEMORY, "softmax: out of memory");
    }
    struct tensor rest_in, rest_out;
    view_without_dim(&rest_in, a, dim);
    view_without_dim(&rest_out, out, dim);
    struct iter it;
    iter_init(&it, rest_in.shape, rest_in.ndim);
    iter_add(&it, &rest_out);
    iter_add(&it, &rest_in);
    iter_run(&it, softmax_run, &c);
    free(c.row);
    return 0;
}

/* ---- topk ----------------------------------------------------------------------------- */

/* Keys whose unsigned order is the order of the values: NaN above everything,
 * -0 equal to +0, signed integers with the sign bit flipped. */
static uint64_t key_of_double(double x)
{
    if (isnan(x))
        return UINT64_MAX;
    if (x == 0)
        x = 0.0;
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

struct ranked {
    uint64_t key;
    int64_t idx;
};

/* a ranks below b: smaller, or equal and later (ties go to the lower index). */
static bool ranks_below(const struct ranked *a, const struct ranked *b)
{
    return a->key < b->key || (a->key == b->key && a->idx > b->idx);
}

/* Min-heap on rank: the root is the weakest of those kept. */
static void sift_down(struct ranked *h, int64_t i, int64_t n)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && ranks_below(&h[l], &h[m]))
            m = l;
        if (r < n && ranks_below(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        struct ranked t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(struct ranked *h, int64_t i)
{
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!ranks_below(&h[i], &h[p]))
            return;
        struct ranked t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

struct topk_ctx {
    enum tensor_dtype dt;
    int64_t k, len, in_stride, val_stride, idx_stride; /* along dim, bytes */
    struct ranked *heap;                               /* k entries */
};

static void topk_offer(const struct topk_ctx *c, int64_t *size, uint64_t key, int64_t idx)
{
    struct ranked e = {key, idx};
    if (*size < c->k) {
        c->heap[*size] = e;
        sift_up(c->heap, (*size)++);
    } else if (ranks_below(&c->heap[0], &e)) {
        c->heap[0] = e;
        sift_down(c->heap, 0, c->k);
    }
}

static int topk_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct topk_ctx *c = vctx;
    size_t es = esize(c->dt);
    for (int64_t j = 0; j < n; j++) {
        char *pv = ptr[0] + j * st[0], *pi = ptr[1] + j * st[1];
        const char *pa = ptr[2] + j * st[2];
        int64_t size = 0;
        for (int64_t off = 0; off < c->len; off += CHUNK) {
            int64_t m = c->len - off < CHUNK ? c->len - off : CHUNK;
            const char *q = pa + off * c->in_stride;
            if (tensor_dtype_is_float(c->dt)) {
                double x[CHUNK];
                load_f64(c->dt, q, c->in_stride, m, x);
                for (int64_t i = 0; i < m; i++)
                    topk_offer(c, &size, key_of_double(x[i]), off + i);
            } else {
                int64_t x[CHUNK];
                load_i64(c->dt, q, c->in_stride, m, x);
                uint64_t flip = c->dt == TENSOR_UINT64 ? 0 : UINT64_C(1) << 63;
                for (int64_t i = 0; i < m; i++)
                    topk_offer(c, &size, (uint64_t)x[i] ^ flip, off + i);
            }
        }
        /* Heapsort: popping the weakest to the back leaves the best first. */
        for (int64_t end = size - 1; end > 0; end--) {
            struct ranked t = c->heap[0];
            c->heap[0] = c->heap[end];
            c->heap[end] = t;
            sift_down(c->heap, 0, end);
        }
        for (int64_t i = 0; i < size; i++) {
            memcpy(pv + i * c->val_stride, pa + c->heap[i].idx * c->in_stride, es);
            memcpy(pi + i * c->idx_stride, &c->heap[i].idx, sizeof(int64_t));
        }
    }
    return 0;
}

int tensor_topk(struct tensor *values, struct tensor *indices, const struct tensor *a, int64_t k,
                int dim, struct triton_error *err)
{
    memset(values, 0, sizeof *values);
    memset(indices, 0, sizeof *indices);
    if (no_bytes("topk", a->dtype, err) || check_dim("topk", a, dim, err))
        return -1;
    if (k < 0 || k > a->shape[dim])
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "topk: k = %lld is out of range for a dimension of size %lld",
                           (long long)k, (long long)a->shape[dim]);
    int64_t shape[TENSOR_MAX_DIMS];
    memcpy(shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    shape[dim] = k;
    if (new_tensor(values, a->dtype, shape, a->ndim, err))
        return -1;
    if (new_tensor(indices, TENSOR_INT64, shape, a->ndim, err)) {
        tensor_release(values);
        return -1;
    }
    if (numel_of(shape, a->ndim) == 0)
        return 0;
    struct topk_ctx c = {.dt = a->dtype,
                         .k = k,
                         .len = a->shape[dim],
                         .in_stride = a->strides[dim] * (int64_t)esize(a->dtype),
                         .val_stride = values->strides[dim] * (int64_t)esize(a->dtype),
                         .idx_stride = indices->strides[dim] * (int64_t)sizeof(int64_t)};
    c.heap = malloc(sizeof(struct ranked) * (size_t)k);
    if (!c.heap) {
        tensor_release(values);
        tensor_release(indices);
        return triton_fail(err, TRITON_NO_MEMORY, "topk: out of memory");
    }
    struct tensor rv, ri, ra;
    view_without_dim(&rv, values, dim);
    view_without_dim(&ri, indices, dim);
    view_without_dim(&ra, a, dim);
    struct iter it;
    iter_init(&it, ra.shape, ra.ndim);
    iter_add(&it, &rv);
    iter_add(&it, &ri);
    iter_add(&it, &ra);
    iter_run(&it, topk_run, &c);
    free(c.heap);
    return 0;
}

/* ---- cat / stack ------------------------------------------------------------------------ */

struct copy_ctx {
    enum tensor_dtype dt;
    struct tensor_buffer *dst_buf; /* BYTES: strings are interned here */
    struct triton_error *err;
};

static int copy_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    const struct copy_ctx *c = vctx;
    size_t es = esize(c->dt);
    if (c->dt == TENSOR_BYTES) {
        for (int64_t i = 0; i < n; i++) {
            struct tensor_str s;
            memcpy(&s, ptr[1] + i * st[1], sizeof s);
            if (s.len > 0) {
                s.ptr = tensor_buffer_intern(c->dst_buf, s.ptr, s.len, c->err);
                if (!s.ptr)
                    return -1;
            }
            memcpy(ptr[0] + i * st[0], &s, sizeof s);
        }
    } else if (st[0] == (int64_t)es && st[1] == (int64_t)es) {
        memcpy(ptr[0], ptr[1], es * (size_t)n);
    } else {
        for (int64_t i = 0; i < n; i++)
            memcpy(ptr[0] + i * st[0], ptr[1] + i * st[1], es);
    }
    return 0;
}

int tensor_cat(struct tensor *out, const struct tensor *const *list, int n, int dim,
               struct triton_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "cat: no tensors to join");
    const struct tensor *first = list[0];
    if (first->ndim == 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "cat: cannot join 0-d tensors (use stack)");
    if (check_dim("cat", first, dim, err))
        return -1;
    int64_t shape[TENSOR_MAX_DIMS];
    memcpy(shape, first->shape, sizeof(int64_t) * (size_t)first->ndim);
    shape[dim] = 0;
    for (int i = 0; i < n; i++) {
        const struct tensor *t = list[i];
        if (t->dtype != first->dtype)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "cat: tensor #%d is %s, tensor #1 is %s", i + 1, dtname(t->dtype),
                               dtname(first->dtype));
        bool same = t->ndim == first->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            if (d != dim && t->shape[d] != first->shape[d])
                same = false;
        if (!same) {
            char ts[256], fs[256];
            tensor_format_shape(t->shape, t->ndim, ts, sizeof ts);
            tensor_format_shape(first->shape, first->ndim, fs, sizeof fs);
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "cat: tensor #%d has shape %s, which does not match tensor #1's "
                               "shape %s outside the joined dimension",
                               i + 1, ts, fs);
        }
        if (t->shape[dim] > INT64_MAX - shape[dim])
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "cat: result too large");
        shape[dim] += t->shape[dim];
    }
    if (new_tensor(out, first->dtype, shape, first->ndim, err))
        return -1;
    struct copy_ctx c = {.dt = first->dtype, .dst_buf = out->buf, .err = err};
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        const struct tensor *t = list[i];
        struct tensor part = *out; /* shallow: the slice of out that t fills */
        part.shape[dim] = t->shape[dim];
        part.offset = out->offset + pos * out->strides[dim];
        pos += t->shape[dim];
        struct iter it;
        iter_init(&it, t->shape, t->ndim);
        iter_add(&it, &part);
        iter_add(&it, t);
        if (iter_run(&it, copy_run, &c)) {
            tensor_release(out);
            return -1;
        }
    }
    return 0;
}

int tensor_stack(struct tensor *out, const struct tensor *const *list, int n, int dim,
                 struct triton_error *err)
{
    memset(out, 0, sizeof *out);
    if (n < 1)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "stack: no tensors to join");
    const struct tensor *first = list[0];
    if (dim < 0 || dim > first->ndim)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "stack: dim %d out of range for %d-d tensors", dim, first->ndim);
    if (first->ndim + 1 > TENSOR_MAX_DIMS)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "stack: result would have more than %d "
                           "dimensions",
                           TENSOR_MAX_DIMS);
    struct tensor *views = calloc((size_t)n, sizeof *views);
    const struct tensor **ptrs = calloc((size_t)n, sizeof *ptrs);
    int rc = -1;
    if (!views || !ptrs) {
        triton_fail(err, TRITON_NO_MEMORY, "stack: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const struct tensor *t = list[i];
        bool same = t->ndim == first->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            if (t->shape[d] != first->shape[d])
                same = false;
        if (!same) {
            char ts[256], fs[256];
            tensor_format_shape(t->shape, t->ndim, ts, sizeof ts);
            tensor_format_shape(first->shape, first->ndim, fs, sizeof fs);
            triton_fail(err, TRITON_INVALID_ARGUMENT,
                        "stack: tensor #%d has shape %s, tensor #1 has shape %s", i + 1, ts, fs);
            goto done;
        }
        /* t with a dim of size 1 inserted at dim (shallow view, not released) */
        struct tensor *v = &views[i];
        *v = *t;
        for (int d = t->ndim; d > dim; d--) {
            v->shape[d] = t->shape[d - 1];
            v->strides[d] = t->strides[d - 1];
        }
        v->shape[dim] = 1;
        v->strides[dim] = 0;
        v->ndim = t->ndim + 1;
        ptrs[i] = v;
    }
    rc = tensor_cat(out, ptrs, n, dim, err);
done:
    free(views);
    free(ptrs);
    return rc;
}

/* ---- allclose ------------------------------------------------------------------------- */

struct allclose_ctx {
    enum tensor_dtype a, b;
    double rtol, atol;
    bool close;
};

static int allclose_run(void *vctx, int64_t n, char *const *ptr, const int64_t *st)
{
    struct allclose_ctx *c = vctx;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int64_t m = n - off < CHUNK ? n - off : CHUNK;
        double x[CHUNK], y[CHUNK];
        load_f64(c->a, ptr[0] + off * st[0], st[0], m, x);
        load_f64(c->b, ptr[1] + off * st[1], st[1], m, y);
        for (int64_t i = 0; i < m; i++) {
            if (x[i] == y[i]) /* also equal infinities */
                continue;
            if (!isfinite(x[i]) || !isfinite(y[i]) ||
                !(fabs(x[i] - y[i]) <= c->atol + c->rtol * fabs(y[i]))) {
                c->close = false;
                return -1;
            }
        }
    }
    return 0;
}

int tensor_allclose(const struct tensor *a, const struct tensor *b, double rtol, double atol,
                    bool *result, struct triton_error *err)
{
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim;
    if (no_bytes("allclose", a->dtype, err) || no_bytes("allclose", b->dtype, err) ||
        tensor_broadcast_shape(a->shape, a->ndim, b->shape, b->ndim, shape, &ndim, err))
        return -1;
    if (isnan(rtol) || isnan(atol) || rtol < 0 || atol < 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "allclose: rtol and atol must be numbers >= 0");
    struct allclose_ctx c = {
        .a = a->dtype, .b = b->dtype, .rtol = rtol, .atol = atol, .close = true};
    struct iter it;
    iter_init(&it, shape, ndim);
    iter_add(&it, a);
    iter_add(&it, b);
    iter_run(&it, allclose_run, &c);
    *result = c.close;
    return 0;
}
