/*
 * test_tensor_ops.c: the tensor math core (src/tensor/ops.c) without Lua:
 * dtype rules, broadcasting, each op on several dtypes, reductions along every
 * dim of non-contiguous 3-d views checked against a naive loop, softmax, topk,
 * cat/stack, allclose and the error messages.
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

/* A contiguous tensor of dt with the given values (converted by the core's rules). */
static struct tensor make(enum tensor_dtype dt, const int64_t *shape, int ndim, const double *v)
{
    struct tensor t = {0};
    struct triton_error err = {0};
    if (tensor_init(&t, dt, shape, ndim, &err)) {
        fprintf(stderr, "tensor_init: %s\n", err.message);
        exit(2);
    }
    int64_t n = tensor_numel(&t);
    for (int64_t i = 0; i < n && v; i++)
        tensor_set_f64(dt, tensor_elem_ptr(&t, i), v[i]);
    return t;
}

static double at(const struct tensor *t, int64_t flat)
{
    return tensor_get_f64(t->dtype, tensor_elem_ptr(t, flat));
}

static int64_t iat(const struct tensor *t, int64_t flat)
{
    return tensor_get_i64(t->dtype, tensor_elem_ptr(t, flat));
}

static void check_shape(const struct tensor *t, const int64_t *shape, int ndim)
{
    CHECK_INT(t->ndim, ndim);
    for (int d = 0; d < ndim && d < t->ndim; d++)
        CHECK_INT(t->shape[d], shape[d]);
}

static void test_broadcast_shapes(void)
{
    struct triton_error err = {0};
    int64_t out[TENSOR_MAX_DIMS];
    int n;
    CHECK_INT(tensor_broadcast_shape((int64_t[]){2, 3}, 2, (int64_t[]){3}, 1, out, &n, &err), 0);
    check_shape(&(struct tensor){.ndim = n, .shape = {out[0], out[1]}}, (int64_t[]){2, 3}, 2);
    CHECK_INT(tensor_broadcast_shape((int64_t[]){4, 1, 3}, 3, (int64_t[]){2, 1}, 2, out, &n, &err),
              0);
    CHECK_INT(n, 3);
    CHECK_INT(out[0], 4);
    CHECK_INT(out[1], 2);
    CHECK_INT(out[2], 3);
    CHECK_INT(tensor_broadcast_shape((int64_t[]){0, 3}, 2, (int64_t[]){1}, 1, out, &n, &err), 0);
    CHECK_INT(out[0], 0);
    CHECK_INT(tensor_broadcast_shape(NULL, 0, (int64_t[]){5}, 1, out, &n, &err), 0);
    CHECK_INT(n, 1);
    CHECK_INT(tensor_broadcast_shape((int64_t[]){2, 3}, 2, (int64_t[]){2}, 1, out, &n, &err), -1);
    CHECK_CONTAINS(err.message, "[2, 3]");
    CHECK_CONTAINS(err.message, "[2]");
    CHECK_CONTAINS(err.message, "broadcast");
}

static void test_dtype_rules(void)
{
    struct triton_error err = {0};
    enum tensor_dtype r;
    struct {
        enum tensor_binop op;
        enum tensor_dtype a, b, want;
    } cases[] = {
        {TENSOR_ADD, TENSOR_FP32, TENSOR_FP32, TENSOR_FP32},
        {TENSOR_ADD, TENSOR_INT32, TENSOR_FP64, TENSOR_FP64},
        {TENSOR_MUL, TENSOR_FP16, TENSOR_BF16, TENSOR_FP32},
        {TENSOR_SUB, TENSOR_FP16, TENSOR_FP32, TENSOR_FP32},
        {TENSOR_ADD, TENSOR_INT64, TENSOR_FP16, TENSOR_FP16},
        {TENSOR_ADD, TENSOR_UINT8, TENSOR_INT8, TENSOR_INT16},
        {TENSOR_ADD, TENSOR_UINT32, TENSOR_INT64, TENSOR_INT64},
        {TENSOR_ADD, TENSOR_UINT64, TENSOR_INT8, TENSOR_INT64},
        {TENSOR_ADD, TENSOR_UINT16, TENSOR_UINT32, TENSOR_UINT32},
        {TENSOR_ADD, TENSOR_BOOL, TENSOR_INT8, TENSOR_INT8},
        {TENSOR_ADD, TENSOR_BOOL, TENSOR_BOOL, TENSOR_INT64},
        {TENSOR_DIV, TENSOR_INT32, TENSOR_INT32, TENSOR_FP32},
        {TENSOR_DIV, TENSOR_INT64, TENSOR_FP64, TENSOR_FP64},
        {TENSOR_DIV, TENSOR_FP16, TENSOR_FP16, TENSOR_FP16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(tensor_binop_dtype(cases[i].op, cases[i].a, cases[i].b, &r, &err), 0);
        CHECK_INT(r, cases[i].want);
    }
    struct tensor_scalar si = {.is_int = true, .i = 3}, sf = {.is_int = false, .f = 0.5};
    tensor_binop_scalar_dtype(TENSOR_MUL, TENSOR_INT8, &si, &r, &err);
    CHECK_INT(r, TENSOR_INT8);
    tensor_binop_scalar_dtype(TENSOR_MUL, TENSOR_INT8, &sf, &r, &err);
    CHECK_INT(r, TENSOR_FP32);
    tensor_binop_scalar_dtype(TENSOR_MUL, TENSOR_FP16, &sf, &r, &err);
    CHECK_INT(r, TENSOR_FP16);
    tensor_binop_scalar_dtype(TENSOR_ADD, TENSOR_BOOL, &si, &r, &err);
    CHECK_INT(r, TENSOR_INT64);
    tensor_binop_scalar_dtype(TENSOR_DIV, TENSOR_INT64, &si, &r, &err);
    CHECK_INT(r, TENSOR_FP32);
    CHECK_INT(err.code, TRITON_OK);
    CHECK_INT(tensor_binop_dtype(TENSOR_ADD, TENSOR_BYTES, TENSOR_FP32, &r, &err), -1);
    CHECK_CONTAINS(err.message, "BYTES");
}

static void test_binary(void)
{
    struct triton_error err = {0};
    struct tensor out = {0};

    /* contiguous FP32 (the fast path) and a broadcast row */
    struct tensor a = make(TENSOR_FP32, (int64_t[]){2, 3}, 2, (double[]){1, 2, 3, 4, 5, 6});
    struct tensor row = make(TENSOR_FP32, (int64_t[]){3}, 1, (double[]){10, 20, 30});
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &a, &row, &err), 0);
    check_shape(&out, (int64_t[]){2, 3}, 2);
    double want_add[] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(at(&out, i), want_add[i], 0);
    tensor_release(&out);

    /* a column [2,1] against a row [3] -> [2,3], in the other operand order */
    struct tensor col = make(TENSOR_FP32, (int64_t[]){2, 1}, 2, (double[]){100, 200});
    CHECK_INT(tensor_binary(&out, TENSOR_SUB, &row, &col, &err), 0);
    check_shape(&out, (int64_t[]){2, 3}, 2);
    double want_sub[] = {-90, -80, -70, -190, -180, -170};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(at(&out, i), want_sub[i], 0);
    tensor_release(&out);

    /* a transposed (non-contiguous) operand */
    struct tensor at_ = {0};
    CHECK_INT(tensor_transpose(&at_, &a, 0, 1, &err), 0); /* [3,2]: 1 4 / 2 5 / 3 6 */
    struct tensor b = make(TENSOR_FP32, (int64_t[]){3, 2}, 2, (double[]){1, 1, 2, 2, 3, 3});
    CHECK_INT(tensor_binary(&out, TENSOR_MUL, &at_, &b, &err), 0);
    double want_mul[] = {1, 4, 4, 10, 9, 18};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(at(&out, i), want_mul[i], 0);
    tensor_release(&out);
    tensor_release(&at_);
    tensor_release(&b);

    /* mismatched shapes name both */
    struct tensor c = make(TENSOR_FP32, (int64_t[]){2}, 1, (double[]){1, 2});
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &a, &c, &err), -1);
    CHECK_CONTAINS(err.message, "[2, 3] and [2]");
    CHECK(out.buf == NULL);
    triton_error_clear(&err);
    tensor_release(&c);

    /* INT32 wraps (fast path), INT8 wraps (generic path), UINT8 too */
    struct tensor i32 = make(TENSOR_INT32, (int64_t[]){2}, 1, (double[]){2147483647, -5});
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &i32, &i32, &err), 0);
    CHECK_INT(out.dtype, TENSOR_INT32);
    CHECK_INT(iat(&out, 0), -2);
    CHECK_INT(iat(&out, 1), -10);
    tensor_release(&out);
    struct tensor i8 = make(TENSOR_INT8, (int64_t[]){2}, 1, (double[]){127, -128});
    struct tensor one8 = make(TENSOR_INT8, (int64_t[]){1}, 1, (double[]){1});
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &i8, &one8, &err), 0);
    CHECK_INT(iat(&out, 0), -128);
    CHECK_INT(iat(&out, 1), -127);
    tensor_release(&out);
    struct tensor u8 = make(TENSOR_UINT8, (int64_t[]){2}, 1, (double[]){0, 200});
    struct tensor_scalar s1 = {.is_int = true, .i = 1}, s100 = {.is_int = true, .i = 100};
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_SUB, &u8, &s1, false, &err), 0);
    CHECK_INT(out.dtype, TENSOR_UINT8);
    CHECK_INT(iat(&out, 0), 255);
    tensor_release(&out);
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_ADD, &u8, &s100, false, &err), 0);
    CHECK_INT(iat(&out, 1), 44);
    tensor_release(&out);

    /* mixed: UINT8 + INT8 -> INT16 with exact values */
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &u8, &i8, &err), 0);
    CHECK_INT(out.dtype, TENSOR_INT16);
    CHECK_INT(iat(&out, 0), 127);
    CHECK_INT(iat(&out, 1), 72);
    tensor_release(&out);

    /* integer true division gives FP32; dividing by zero is IEEE */
    struct tensor i32b = make(TENSOR_INT32, (int64_t[]){2}, 1, (double[]){2, 0});
    CHECK_INT(tensor_binary(&out, TENSOR_DIV, &i32, &i32b, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK_NEAR(at(&out, 0), 1073741823.5, 64); /* rounded to FP32 */
    CHECK(isinf(at(&out, 1)) && at(&out, 1) < 0);
    tensor_release(&out);

    /* number on either side; a float number keeps FP32 and is rounded to it first */
    struct tensor_scalar ten = {.is_int = true, .i = 10}, tenth = {.is_int = false, .f = 0.1};
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_SUB, &a, &ten, true, &err), 0);
    CHECK_NEAR(at(&out, 0), 9, 0);
    CHECK_NEAR(at(&out, 5), 4, 0);
    tensor_release(&out);
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_MUL, &a, &tenth, false, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK(at(&out, 2) == (double)(3.0f * 0.1f));
    tensor_release(&out);
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_DIV, &i32b, &ten, true, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK_NEAR(at(&out, 0), 5, 0);
    CHECK(isinf(at(&out, 1)));
    tensor_release(&out);
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_MUL, &i32b, &tenth, false, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK(at(&out, 0) == (double)0.2f);
    tensor_release(&out);

    /* FP16: computed in double, rounded once: 1 + 2^-11 is a tie -> 1 (even) */
    struct tensor h = make(TENSOR_FP16, (int64_t[]){2}, 1, (double[]){1, 1 + 0x1p-10});
    struct tensor_scalar tiny = {.is_int = false, .f = 0x1p-11};
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_ADD, &h, &tiny, false, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP16);
    CHECK(at(&out, 0) == 1.0);
    CHECK(at(&out, 1) == 1 + 0x1p-9); /* 1+2^-10+2^-11: tie -> even mantissa */
    tensor_release(&out);
    struct tensor bf = make(TENSOR_BF16, (int64_t[]){1}, 1, (double[]){3});
    CHECK_INT(tensor_binary(&out, TENSOR_MUL, &bf, &h, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK(at(&out, 0) == 3.0);
    tensor_release(&out);

    /* BOOL counts as 0/1 */
    struct tensor bo = make(TENSOR_BOOL, (int64_t[]){2}, 1, (double[]){1, 0});
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &bo, &bo, &err), 0);
    CHECK_INT(out.dtype, TENSOR_INT64);
    CHECK_INT(iat(&out, 0), 2);
    tensor_release(&out);

    /* 0-d and empty tensors */
    struct tensor z = make(TENSOR_FP64, (int64_t[]){1}, 0, (double[]){4});
    CHECK_INT(tensor_binary(&out, TENSOR_MUL, &z, &a, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP64);
    check_shape(&out, (int64_t[]){2, 3}, 2);
    CHECK_NEAR(at(&out, 5), 24, 0);
    tensor_release(&out);
    struct tensor e = make(TENSOR_FP32, (int64_t[]){0, 3}, 2, NULL);
    CHECK_INT(tensor_binary(&out, TENSOR_ADD, &e, &row, &err), 0);
    check_shape(&out, (int64_t[]){0, 3}, 2);
    tensor_release(&out);

    /* BYTES has no arithmetic */
    struct tensor s = make(TENSOR_BYTES, (int64_t[]){1}, 1, NULL);
    CHECK_INT(tensor_binary_scalar(&out, TENSOR_ADD, &s, &ten, false, &err), -1);
    CHECK_CONTAINS(err.message, "BYTES");
    CHECK(out.buf == NULL);

    tensor_release(&s);
    tensor_release(&e);
    tensor_release(&z);
    tensor_release(&bo);
    tensor_release(&bf);
    tensor_release(&h);
    tensor_release(&i32b);
    tensor_release(&u8);
    tensor_release(&one8);
    tensor_release(&i8);
    tensor_release(&i32);
    tensor_release(&col);
    tensor_release(&row);
    tensor_release(&a);
}

static void test_unary_and_clamp(void)
{
    struct triton_error err = {0};
    struct tensor out = {0};
    struct tensor i8 = make(TENSOR_INT8, (int64_t[]){3}, 1, (double[]){-128, -3, 5});
    CHECK_INT(tensor_unary(&out, TENSOR_NEG, &i8, &err), 0);
    CHECK_INT(out.dtype, TENSOR_INT8);
    CHECK_INT(iat(&out, 0), -128); /* wraps, as C does */
    CHECK_INT(iat(&out, 1), 3);
    tensor_release(&out);
    CHECK_INT(tensor_unary(&out, TENSOR_ABS, &i8, &err), 0);
    CHECK_INT(iat(&out, 1), 3);
    CHECK_INT(iat(&out, 2), 5);
    tensor_release(&out);
    struct tensor u64 = make(TENSOR_UINT64, (int64_t[]){1}, 1, NULL);
    tensor_set_u64_exact(TENSOR_UINT64, tensor_elem_ptr(&u64, 0), UINT64_MAX, &err);
    CHECK_INT(tensor_unary(&out, TENSOR_ABS, &u64, &err), 0);
    CHECK_HEX(*(uint64_t *)tensor_elem_ptr(&out, 0), UINT64_MAX);
    tensor_release(&out);

    struct tensor i32 = make(TENSOR_INT32, (int64_t[]){3}, 1, (double[]){0, 1, 4});
    CHECK_INT(tensor_unary(&out, TENSOR_EXP, &i32, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK_NEAR(at(&out, 1), exp(1.0), 1e-6);
    tensor_release(&out);
    CHECK_INT(tensor_unary(&out, TENSOR_SQRT, &i32, &err), 0);
    CHECK_NEAR(at(&out, 2), 2, 0);
    tensor_release(&out);
    CHECK_INT(tensor_unary(&out, TENSOR_LOG, &i32, &err), 0);
    CHECK(isinf(at(&out, 0)) && at(&out, 0) < 0);
    tensor_release(&out);

    struct tensor f64 = make(TENSOR_FP64, (int64_t[]){4}, 1, (double[]){-1000, 0, 2, 1000});
    CHECK_INT(tensor_unary(&out, TENSOR_SIGMOID, &f64, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP64);
    CHECK(at(&out, 0) >= 0 && at(&out, 0) < 1e-300); /* no overflow, no NaN */
    CHECK_NEAR(at(&out, 1), 0.5, 0);
    CHECK_NEAR(at(&out, 2), 1 / (1 + exp(-2.0)), 1e-15);
    CHECK_NEAR(at(&out, 3), 1, 0);
    tensor_release(&out);
    struct tensor h = make(TENSOR_FP16, (int64_t[]){2}, 1, (double[]){-2.5, 4});
    CHECK_INT(tensor_unary(&out, TENSOR_NEG, &h, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP16);
    CHECK_NEAR(at(&out, 0), 2.5, 0);
    tensor_release(&out);
    CHECK_INT(tensor_unary(&out, TENSOR_SQRT, &h, &err), 0);
    CHECK(isnan(at(&out, 0)));
    CHECK_NEAR(at(&out, 1), 2, 0);
    tensor_release(&out);

    /* clamp: floats keep NaN, integers round float bounds inwards */
    struct tensor f = make(TENSOR_FP32, (int64_t[]){4}, 1, (double[]){-5, 0.5, NAN, 7});
    struct tensor_scalar lo = {.is_int = false, .f = -1.5}, hi = {.is_int = false, .f = 2.5};
    CHECK_INT(tensor_clamp(&out, &f, &lo, &hi, &err), 0);
    CHECK_NEAR(at(&out, 0), -1.5, 0);
    CHECK_NEAR(at(&out, 1), 0.5, 0);
    CHECK(isnan(at(&out, 2)));
    CHECK_NEAR(at(&out, 3), 2.5, 0);
    tensor_release(&out);
    struct tensor iv = make(TENSOR_INT32, (int64_t[]){4}, 1, (double[]){-5, 0, 2, 7});
    CHECK_INT(tensor_clamp(&out, &iv, &lo, &hi, &err), 0);
    CHECK_INT(out.dtype, TENSOR_INT32);
    CHECK_INT(iat(&out, 0), -1);
    CHECK_INT(iat(&out, 2), 2);
    CHECK_INT(iat(&out, 3), 2);
    tensor_release(&out);
    CHECK_INT(tensor_clamp(&out, &iv, NULL, &(struct tensor_scalar){.is_int = true, .i = 0}, &err),
              0);
    CHECK_INT(iat(&out, 0), -5);
    CHECK_INT(iat(&out, 3), 0);
    tensor_release(&out);
    struct tensor u8 = make(TENSOR_UINT8, (int64_t[]){2}, 1, (double[]){0, 255});
    CHECK_INT(tensor_clamp(&out, &u8, &(struct tensor_scalar){.is_int = true, .i = -5},
                           &(struct tensor_scalar){.is_int = true, .i = 300}, &err),
              0);
    CHECK_INT(iat(&out, 0), 0);
    CHECK_INT(iat(&out, 1), 255);
    tensor_release(&out);
    CHECK_INT(tensor_clamp(&out, &iv, &hi, &lo, &err), -1);
    CHECK_CONTAINS(err.message, "above upper bound");
    triton_error_clear(&err);
    CHECK_INT(tensor_clamp(&out, &f, &(struct tensor_scalar){.f = NAN}, NULL, &err), -1);
    CHECK_CONTAINS(err.message, "NaN");

    tensor_release(&u8);
    tensor_release(&iv);
    tensor_release(&f);
    tensor_release(&h);
    tensor_release(&f64);
    tensor_release(&i32);
    tensor_release(&u64);
    tensor_release(&i8);
}

/* Naive reference for a reduction along dim of a 3-d tensor, element by element. */
static void check_reduction_dim(const struct tensor *v, enum tensor_reduction op, int dim)
{
    struct triton_error err = {0};
    struct tensor out = {0};
    if (tensor_reduce_dim(&out, op, v, dim, &err)) {
        fprintf(stderr, "reduce_dim %s dim %d: %s\n", tensor_reduction_name(op), dim, err.message);
        check_failures++;
        return;
    }
    CHECK_INT(out.ndim, 2);
    bool fl = tensor_dtype_is_float(v->dtype);
    if (op == TENSOR_SUM)
        CHECK_INT(out.dtype, fl ? v->dtype : TENSOR_INT64);
    else if (op == TENSOR_ARGMAX || op == TENSOR_ARGMIN)
        CHECK_INT(out.dtype, TENSOR_INT64);
    else if (op == TENSOR_MEAN)
        CHECK_INT(out.dtype, fl ? v->dtype : TENSOR_FP32);
    else
        CHECK_INT(out.dtype, v->dtype);
    const int64_t *s = v->shape;
    int64_t o = 0;
    int other[2], k = 0;
    for (int d = 0; d < 3; d++)
        if (d != dim)
            other[k++] = d;
    for (int64_t i = 0; i < s[other[0]]; i++) {
        for (int64_t j = 0; j < s[other[1]]; j++, o++) {
            double sum = 0, best = 0;
            int64_t best_idx = -1;
            for (int64_t r = 0; r < s[dim]; r++) {
                int64_t idx[3];
                idx[dim] = r, idx[other[0]] = i, idx[other[1]] = j;
                double x = at(v, (idx[0] * s[1] + idx[1]) * s[2] + idx[2]);
                sum += x;
                bool better = (op == TENSOR_MAX || op == TENSOR_ARGMAX) ? x > best : x < best;
                if (best_idx < 0 || better)
                    best = x, best_idx = r;
            }
            switch (op) {
            case TENSOR_SUM:
                CHECK_NEAR(at(&out, o), sum, 0);
                break;
            case TENSOR_MEAN:
                CHECK_NEAR(at(&out, o), sum / (double)s[dim], 2e-3 * fabs(sum));
                break;
            case TENSOR_MAX:
            case TENSOR_MIN:
                CHECK_NEAR(at(&out, o), best, 0);
                break;
            default:
                CHECK_INT(iat(&out, o), best_idx);
            }
        }
    }
    tensor_release(&out);
}

static void test_reductions_3d_views(void)
{
    enum tensor_dtype dts[] = {TENSOR_FP32, TENSOR_FP64,  TENSOR_INT32, TENSOR_INT64,
                               TENSOR_FP16, TENSOR_UINT8, TENSOR_INT16, TENSOR_BF16};
    for (size_t t = 0; t < sizeof dts / sizeof dts[0]; t++) {
        enum tensor_dtype dt = dts[t];
        double vals[5 * 4 * 6];
        for (int i = 0; i < 5 * 4 * 6; i++) /* repeats, so ties are exercised */
            vals[i] = dt == TENSOR_UINT8 ? (i * 7) % 11 : (i * 7) % 11 - 5;
        struct tensor base = make(dt, (int64_t[]){5, 4, 6}, 3, vals);
        struct triton_error err = {0};
        /* non-contiguous: permuted, then every other element along the last dim */
        struct tensor perm = {0}, v = {0};
        CHECK_INT(tensor_permute(&perm, &base, (int[]){2, 0, 1}, &err), 0); /* [6,5,4] */
        CHECK_INT(tensor_slice(&v, &perm, 2, 1, 4, &err), 0);               /* [6,5,3] */
        CHECK(!tensor_is_contiguous(&v));
        for (int op = TENSOR_SUM; op <= TENSOR_ARGMIN; op++)
            for (int dim = 0; dim < 3; dim++)
                check_reduction_dim(&v, (enum tensor_reduction)op, dim);
        /* the contiguous base too (fast paths along the last dim) */
        for (int op = TENSOR_SUM; op <= TENSOR_ARGMIN; op++)
            for (int dim = 0; dim < 3; dim++)
                check_reduction_dim(&base, (enum tensor_reduction)op, dim);

        /* whole-tensor reductions agree with the flat reference */
        struct tensor_scalar r;
        double sum = 0, mx = -1e9, mn = 1e9;
        int64_t imx = 0, imn = 0, n = tensor_numel(&v);
        for (int64_t i = 0; i < n; i++) {
            double x = at(&v, i);
            sum += x;
            if (x > mx)
                mx = x, imx = i;
            if (x < mn)
                mn = x, imn = i;
        }
        bool fl = tensor_dtype_is_float(dt);
        CHECK_INT(tensor_reduce_all(TENSOR_SUM, &v, &r, &err), 0);
        CHECK(r.is_int == !fl);
        CHECK_NEAR(r.is_int ? (double)r.i : r.f, sum, 0);
        CHECK_INT(tensor_reduce_all(TENSOR_MEAN, &v, &r, &err), 0);
        CHECK(!r.is_int);
        CHECK_NEAR(r.f, sum / (double)n, 1e-12);
        CHECK_INT(tensor_reduce_all(TENSOR_MAX, &v, &r, &err), 0);
        CHECK_NEAR(r.is_int ? (double)r.i : r.f, mx, 0);
        CHECK_INT(tensor_reduce_all(TENSOR_MIN, &v, &r, &err), 0);
        CHECK_NEAR(r.is_int ? (double)r.i : r.f, mn, 0);
        CHECK_INT(tensor_reduce_all(TENSOR_ARGMAX, &v, &r, &err), 0);
        CHECK(r.is_int);
        CHECK_INT(r.i, imx);
        CHECK_INT(tensor_reduce_all(TENSOR_ARGMIN, &v, &r, &err), 0);
        CHECK_INT(r.i, imn);
        tensor_release(&v);
        tensor_release(&perm);
        tensor_release(&base);
    }
}

static void test_reduction_edges(void)
{
    struct triton_error err = {0};
    struct tensor_scalar r;
    struct tensor out = {0};

    /* NaN: max/min give NaN, argmax/argmin the first NaN (fast and generic paths) */
    enum tensor_dtype fdts[] = {TENSOR_FP32, TENSOR_FP16};
    for (int k = 0; k < 2; k++) {
        struct tensor f = make(fdts[k], (int64_t[]){5}, 1, (double[]){1, NAN, 9, NAN, -3});
        CHECK_INT(tensor_reduce_all(TENSOR_MAX, &f, &r, &err), 0);
        CHECK(isnan(r.f));
        CHECK_INT(tensor_reduce_all(TENSOR_MIN, &f, &r, &err), 0);
        CHECK(isnan(r.f));
        CHECK_INT(tensor_reduce_all(TENSOR_ARGMAX, &f, &r, &err), 0);
        CHECK_INT(r.i, 1);
        CHECK_INT(tensor_reduce_all(TENSOR_ARGMIN, &f, &r, &err), 0);
        CHECK_INT(r.i, 1);
        tensor_release(&f);
    }
    /* ties: the first index wins; a long contiguous run crosses chunk boundaries */
    double *big = calloc(1000, sizeof *big);
    big[700] = 5, big[900] = 5, big[300] = -2, big[301] = -2;
    struct tensor g = make(TENSOR_FP32, (int64_t[]){1000}, 1, big);
    struct tensor g16 = make(TENSOR_BF16, (int64_t[]){1000}, 1, big);
    free(big);
    CHECK_INT(tensor_reduce_all(TENSOR_ARGMAX, &g, &r, &err), 0);
    CHECK_INT(r.i, 700);
    CHECK_INT(tensor_reduce_all(TENSOR_ARGMIN, &g16, &r, &err), 0);
    CHECK_INT(r.i, 300);
    tensor_release(&g);
    tensor_release(&g16);

    /* integer sums accumulate in int64 */
    struct tensor i8 = make(TENSOR_INT8, (int64_t[]){3}, 1, (double[]){100, 100, 100});
    CHECK_INT(tensor_reduce_all(TENSOR_SUM, &i8, &r, &err), 0);
    CHECK(r.is_int);
    CHECK_INT(r.i, 300);
    tensor_release(&i8);
    struct tensor bo = make(TENSOR_BOOL, (int64_t[]){3}, 1, (double[]){1, 0, 1});
    CHECK_INT(tensor_reduce_all(TENSOR_SUM, &bo, &r, &err), 0);
    CHECK_INT(r.i, 2);
    CHECK_INT(tensor_reduce_all(TENSOR_MEAN, &bo, &r, &err), 0);
    CHECK_NEAR(r.f, 2.0 / 3, 1e-15);
    tensor_release(&bo);
    /* UINT64 compares unsigned; values >= 2^63 come back as doubles */
    struct tensor u = make(TENSOR_UINT64, (int64_t[]){2}, 1, (double[]){1, 0});
    tensor_set_u64_exact(TENSOR_UINT64, tensor_elem_ptr(&u, 1), UINT64_C(1) << 63, &err);
    CHECK_INT(tensor_reduce_all(TENSOR_MAX, &u, &r, &err), 0);
    CHECK(!r.is_int && r.f == 0x1p63);
    CHECK_INT(tensor_reduce_all(TENSOR_ARGMIN, &u, &r, &err), 0);
    CHECK_INT(r.i, 0);
    tensor_release(&u);

    /* empty: sum 0, mean NaN, max and argmax fail */
    struct tensor e = make(TENSOR_INT32, (int64_t[]){0}, 1, NULL);
    CHECK_INT(tensor_reduce_all(TENSOR_SUM, &e, &r, &err), 0);
    CHECK(r.is_int && r.i == 0);
    CHECK_INT(tensor_reduce_all(TENSOR_MEAN, &e, &r, &err), 0);
    CHECK(isnan(r.f));
    CHECK_INT(tensor_reduce_all(TENSOR_MAX, &e, &r, &err), -1);
    CHECK_CONTAINS(err.message, "max of an empty tensor");
    triton_error_clear(&err);
    CHECK_INT(tensor_reduce_all(TENSOR_ARGMAX, &e, &r, &err), -1);
    CHECK_CONTAINS(err.message, "argmax of an empty tensor");
    triton_error_clear(&err);
    tensor_release(&e);
    struct tensor e2 = make(TENSOR_FP32, (int64_t[]){2, 0}, 2, NULL);
    CHECK_INT(tensor_reduce_dim(&out, TENSOR_SUM, &e2, 1, &err), 0);
    check_shape(&out, (int64_t[]){2}, 1);
    CHECK_NEAR(at(&out, 1), 0, 0);
    tensor_release(&out);
    CHECK_INT(tensor_reduce_dim(&out, TENSOR_MAX, &e2, 0, &err), 0); /* [0]: nothing to do */
    check_shape(&out, (int64_t[]){0}, 1);
    tensor_release(&out);
    CHECK_INT(tensor_reduce_dim(&out, TENSOR_ARGMIN, &e2, 1, &err), -1);
    CHECK_CONTAINS(err.message, "argmin along a dimension of size 0");
    triton_error_clear(&err);
    CHECK_INT(tensor_reduce_dim(&out, TENSOR_SUM, &e2, 2, &err), -1);
    CHECK_CONTAINS(err.message, "out of range");
    triton_error_clear(&err);
    tensor_release(&e2);

    /* a 1-d reduction along its only dim gives a 0-d tensor */
    struct tensor v = make(TENSOR_INT64, (int64_t[]){3}, 1, (double[]){4, -9, 4});
    CHECK_INT(tensor_reduce_dim(&out, TENSOR_ARGMAX, &v, 0, &err), 0);
    CHECK_INT(out.ndim, 0);
    CHECK_INT(iat(&out, 0), 0);
    tensor_release(&out);
    tensor_release(&v);

    struct tensor s = make(TENSOR_BYTES, (int64_t[]){1}, 1, NULL);
    CHECK_INT(tensor_reduce_all(TENSOR_SUM, &s, &r, &err), -1);
    CHECK_CONTAINS(err.message, "sum is not defined for BYTES");
    tensor_release(&s);
}

static void test_softmax(void)
{
    struct triton_error err = {0};
    struct tensor out = {0};
    /* large values: stable (no inf/NaN) */
    struct tensor a =
        make(TENSOR_FP32, (int64_t[]){2, 3}, 2, (double[]){1000, 1001, 1002, -1, 0, 1});
    CHECK_INT(tensor_softmax(&out, &a, 1, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    double e0 = exp(-2.0), e1 = exp(-1.0), z = e0 + e1 + 1;
    for (int r = 0; r < 2; r++) {
        CHECK_NEAR(at(&out, r * 3 + 0), e0 / z, 1e-6);
        CHECK_NEAR(at(&out, r * 3 + 2), 1 / z, 1e-6);
        CHECK_NEAR(at(&out, r * 3) + at(&out, r * 3 + 1) + at(&out, r * 3 + 2), 1, 1e-6);
    }
    tensor_release(&out);
    /* along dim 0 (strided rows), FP64 */
    struct tensor d = make(TENSOR_FP64, (int64_t[]){2, 3}, 2, (double[]){0, 1, 2, 0, 3, 2});
    CHECK_INT(tensor_softmax(&out, &d, 0, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP64);
    CHECK_NEAR(at(&out, 0), 0.5, 1e-15);
    CHECK_NEAR(at(&out, 1) + at(&out, 4), 1, 1e-15);
    CHECK_NEAR(at(&out, 4), exp(3.0) / (exp(1.0) + exp(3.0)), 1e-15);
    tensor_release(&out);
    /* a transposed FP32 view and an integer input (-> FP32) */
    struct tensor t = {0};
    CHECK_INT(tensor_transpose(&t, &d, 0, 1, &err), 0);
    struct tensor t32 = {0};
    CHECK_INT(tensor_astype(&t32, &t, TENSOR_FP32, &err), 0);
    struct tensor tv = {0};
    CHECK_INT(tensor_transpose(&tv, &t32, 0, 1, &err), 0); /* [2,3] view, non-contiguous */
    CHECK_INT(tensor_softmax(&out, &tv, 1, &err), 0);
    CHECK_NEAR(at(&out, 0) + at(&out, 1) + at(&out, 2), 1, 1e-6);
    CHECK_NEAR(at(&out, 2), exp(2.0) / (1 + exp(1.0) + exp(2.0)), 1e-6);
    tensor_release(&out);
    struct tensor i = make(TENSOR_INT32, (int64_t[]){4}, 1, (double[]){1, 1, 1, 1});
    CHECK_INT(tensor_softmax(&out, &i, 0, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP32);
    CHECK_NEAR(at(&out, 3), 0.25, 1e-7);
    tensor_release(&out);
    /* a long row, FP16 */
    double *ones = malloc(3000 * sizeof *ones);
    for (int k = 0; k < 3000; k++)
        ones[k] = k % 3;
    struct tensor h = make(TENSOR_FP16, (int64_t[]){3000}, 1, ones);
    free(ones);
    CHECK_INT(tensor_softmax(&out, &h, 0, &err), 0);
    CHECK_INT(out.dtype, TENSOR_FP16);
    struct tensor_scalar r;
    tensor_reduce_all(TENSOR_SUM, &out, &r, &err);
    CHECK_NEAR(r.f, 1, 2e-3);
    tensor_release(&out);
    CHECK_INT(tensor_softmax(&out, &h, 1, &err), -1);
    CHECK_CONTAINS(err.message, "softmax: dim 1 out of range");
    tensor_release(&h);
    tensor_release(&i);
    tensor_release(&tv);
    tensor_release(&t32);
    tensor_release(&t);
    tensor_release(&d);
    tensor_release(&a);
}

static void test_topk(void)
{
    struct triton_error err = {0};
    struct tensor v = {0}, ix = {0};
    struct tensor a =
        make(TENSOR_FP32, (int64_t[]){2, 6}, 2, (double[]){3, 1, 4, 1, 5, 9, 2, 7, 7, 1, 7, 0});
    CHECK_INT(tensor_topk(&v, &ix, &a, 3, 1, &err), 0);
    check_shape(&v, (int64_t[]){2, 3}, 2);
    CHECK_INT(v.dtype, TENSOR_FP32);
    CHECK_INT(ix.dtype, TENSOR_INT64);
    double wv[] = {9, 5, 4, 7, 7, 7};
    int64_t wi[] = {5, 4, 2, 1, 2, 4}; /* ties: lower index first */
    for (int k = 0; k < 6; k++) {
        CHECK_NEAR(at(&v, k), wv[k], 0);
        CHECK_INT(iat(&ix, k), wi[k]);
    }
    tensor_release(&v);
    tensor_release(&ix);
    /* k = size: a full descending sort, stable */
    CHECK_INT(tensor_topk(&v, &ix, &a, 6, 1, &err), 0);
    int64_t wall[] = {5, 4, 2, 0, 1, 3};
    for (int k = 0; k < 6; k++)
        CHECK_INT(iat(&ix, k), wall[k]);
    tensor_release(&v);
    tensor_release(&ix);
    /* along dim 0 */
    CHECK_INT(tensor_topk(&v, &ix, &a, 1, 0, &err), 0);
    check_shape(&v, (int64_t[]){1, 6}, 2);
    CHECK_INT(iat(&ix, 0), 0);
    CHECK_INT(iat(&ix, 1), 1);
    CHECK_INT(iat(&ix, 3), 0); /* 1 vs 1: first */
    CHECK_NEAR(at(&v, 5), 9, 0);
    tensor_release(&v);
    tensor_release(&ix);
    /* NaN ranks first; negative numbers and -0 order correctly; k = 0 */
    struct tensor f = make(TENSOR_FP64, (int64_t[]){5}, 1, (double[]){-0.0, -2, NAN, 0.0, -1});
    CHECK_INT(tensor_topk(&v, &ix, &f, 5, 0, &err), 0);
    int64_t wf[] = {2, 0, 3, 4, 1};
    for (int k = 0; k < 5; k++)
        CHECK_INT(iat(&ix, k), wf[k]);
    tensor_release(&v);
    tensor_release(&ix);
    CHECK_INT(tensor_topk(&v, &ix, &f, 0, 0, &err), 0);
    check_shape(&v, (int64_t[]){0}, 1);
    tensor_release(&v);
    tensor_release(&ix);
    /* signed and unsigned integers */
    struct tensor i = make(TENSOR_INT16, (int64_t[]){4}, 1, (double[]){-5, 3, -32768, 32767});
    CHECK_INT(tensor_topk(&v, &ix, &i, 2, 0, &err), 0);
    CHECK_INT(iat(&v, 0), 32767);
    CHECK_INT(iat(&v, 1), 3);
    tensor_release(&v);
    tensor_release(&ix);
    struct tensor u = make(TENSOR_UINT64, (int64_t[]){3}, 1, (double[]){5, 0, 7});
    tensor_set_u64_exact(TENSOR_UINT64, tensor_elem_ptr(&u, 1), UINT64_MAX, &err);
    CHECK_INT(tensor_topk(&v, &ix, &u, 1, 0, &err), 0);
    CHECK_INT(iat(&ix, 0), 1);
    tensor_release(&v);
    tensor_release(&ix);
    /* errors */
    CHECK_INT(tensor_topk(&v, &ix, &a, 7, 1, &err), -1);
    CHECK_CONTAINS(err.message, "k = 7");
    CHECK(v.buf == NULL && ix.buf == NULL);
    triton_error_clear(&err);
    CHECK_INT(tensor_topk(&v, &ix, &a, -1, 1, &err), -1);
    triton_error_clear(&err);
    tensor_release(&u);
    tensor_release(&i);
    tensor_release(&f);
    tensor_release(&a);
}

static void test_cat_stack(void)
{
    struct triton_error err = {0};
    struct tensor out = {0};
    struct tensor a = make(TENSOR_INT32, (int64_t[]){2, 2}, 2, (double[]){1, 2, 3, 4});
    struct tensor b = make(TENSOR_INT32, (int64_t[]){1, 2}, 2, (double[]){5, 6});
    struct tensor bt = {0};
    CHECK_INT(tensor_transpose(&bt, &b, 0, 1, &err), 0); /* [2,1] view */
    const struct tensor *rows[] = {&a, &b};
    CHECK_INT(tensor_cat(&out, rows, 2, 0, &err), 0);
    check_shape(&out, (int64_t[]){3, 2}, 2);
    for (int k = 0; k < 6; k++)
        CHECK_INT(iat(&out, k), k + 1);
    tensor_release(&out);
    const struct tensor *cols[] = {&a, &bt};
    CHECK_INT(tensor_cat(&out, cols, 2, 1, &err), 0);
    check_shape(&out, (int64_t[]){2, 3}, 2);
    int64_t wc[] = {1, 2, 5, 3, 4, 6};
    for (int k = 0; k < 6; k++)
        CHECK_INT(iat(&out, k), wc[k]);
    tensor_release(&out);
    CHECK_INT(tensor_cat(&out, rows, 2, 1, &err), -1);
    CHECK_CONTAINS(err.message, "tensor #2 has shape [1, 2]");
    CHECK_CONTAINS(err.message, "[2, 2]");
    triton_error_clear(&err);
    struct tensor f = make(TENSOR_FP32, (int64_t[]){1, 2}, 2, NULL);
    const struct tensor *mixed[] = {&a, &f};
    CHECK_INT(tensor_cat(&out, mixed, 2, 0, &err), -1);
    CHECK_CONTAINS(err.message, "tensor #2 is FP32, tensor #1 is INT32");
    triton_error_clear(&err);
    CHECK_INT(tensor_cat(&out, rows, 0, 0, &err), -1);
    triton_error_clear(&err);

    /* stack: a new dim at the front, the middle and the end */
    struct tensor c = make(TENSOR_INT32, (int64_t[]){2, 2}, 2, (double[]){5, 6, 7, 8});
    const struct tensor *pair[] = {&a, &c};
    CHECK_INT(tensor_stack(&out, pair, 2, 0, &err), 0);
    check_shape(&out, (int64_t[]){2, 2, 2}, 3);
    for (int k = 0; k < 8; k++)
        CHECK_INT(iat(&out, k), k + 1);
    tensor_release(&out);
    CHECK_INT(tensor_stack(&out, pair, 2, 2, &err), 0);
    check_shape(&out, (int64_t[]){2, 2, 2}, 3);
    int64_t ws[] = {1, 5, 2, 6, 3, 7, 4, 8};
    for (int k = 0; k < 8; k++)
        CHECK_INT(iat(&out, k), ws[k]);
    tensor_release(&out);
    CHECK_INT(tensor_stack(&out, rows, 2, 0, &err), -1);
    CHECK_CONTAINS(err.message, "stack: tensor #2 has shape [1, 2], tensor #1 has shape [2, 2]");
    triton_error_clear(&err);
    CHECK_INT(tensor_stack(&out, pair, 2, 3, &err), -1);
    triton_error_clear(&err);

    /* BYTES: the strings are copied, so the result outlives its sources */
    struct tensor s1 = make(TENSOR_BYTES, (int64_t[]){1}, 1, NULL);
    struct tensor s2 = make(TENSOR_BYTES, (int64_t[]){2}, 1, NULL);
    struct tensor_str *e1 = tensor_elem_ptr(&s1, 0), *e2 = tensor_elem_ptr(&s2, 1);
    e1->ptr = tensor_buffer_intern(s1.buf, "a\0b", 3, &err), e1->len = 3;
    e2->ptr = tensor_buffer_intern(s2.buf, "xyz", 3, &err), e2->len = 3;
    const struct tensor *strs[] = {&s1, &s2};
    CHECK_INT(tensor_cat(&out, strs, 2, 0, &err), 0);
    tensor_release(&s1);
    tensor_release(&s2);
    const struct tensor_str *o0 = tensor_elem_ptr(&out, 0), *o1 = tensor_elem_ptr(&out, 1),
                            *o2 = tensor_elem_ptr(&out, 2);
    CHECK(o0->len == 3 && memcmp(o0->ptr, "a\0b", 3) == 0);
    CHECK_INT(o1->len, 0);
    CHECK(o2->len == 3 && memcmp(o2->ptr, "xyz", 3) == 0);
    tensor_release(&out);

    tensor_release(&c);
    tensor_release(&f);
    tensor_release(&bt);
    tensor_release(&b);
    tensor_release(&a);
}

static void test_allclose(void)
{
    struct triton_error err = {0};
    bool close;
    struct tensor a = make(TENSOR_FP32, (int64_t[]){2, 2}, 2, (double[]){1, 2, 3, INFINITY});
    struct tensor b = make(TENSOR_FP64, (int64_t[]){2, 2}, 2, (double[]){1, 2 + 1e-6, 3, INFINITY});
    CHECK_INT(tensor_allclose(&a, &b, 1e-5, 1e-8, &close, &err), 0);
    CHECK(close);
    CHECK_INT(tensor_allclose(&a, &b, 0, 0, &close, &err), 0);
    CHECK(!close);
    struct tensor row = make(TENSOR_INT32, (int64_t[]){2}, 1, (double[]){1, 2});
    struct tensor two = make(TENSOR_FP32, (int64_t[]){2, 2}, 2, (double[]){1, 2, 1, 2});
    CHECK_INT(tensor_allclose(&two, &row, 0, 0, &close, &err), 0); /* broadcast */
    CHECK(close);
    struct tensor n = make(TENSOR_FP32, (int64_t[]){1}, 1, (double[]){NAN});
    CHECK_INT(tensor_allclose(&n, &n, 1, 1, &close, &err), 0);
    CHECK(!close);
    struct tensor ninf = make(TENSOR_FP32, (int64_t[]){1}, 1, (double[]){-INFINITY});
    struct tensor pinf = make(TENSOR_FP32, (int64_t[]){1}, 1, (double[]){INFINITY});
    CHECK_INT(tensor_allclose(&ninf, &pinf, 1, 1e300, &close, &err), 0);
    CHECK(!close);
    struct tensor three = make(TENSOR_FP32, (int64_t[]){3}, 1, NULL);
    CHECK_INT(tensor_allclose(&a, &three, 1, 1, &close, &err), -1);
    CHECK_CONTAINS(err.message, "[2, 2] and [3]");
    triton_error_clear(&err);
    CHECK_INT(tensor_allclose(&a, &a, -1, 0, &close, &err), -1);
    CHECK_CONTAINS(err.message, ">= 0");
    tensor_release(&three);
    tensor_release(&pinf);
    tensor_release(&ninf);
    tensor_release(&n);
    tensor_release(&two);
    tensor_release(&row);
    tensor_release(&b);
    tensor_release(&a);
}

int main(void)
{
    test_broadcast_shapes();
    test_dtype_rules();
    test_binary();
    test_unary_and_clamp();
    test_reductions_3d_views();
    test_reduction_edges();
    test_softmax();
    test_topk();
    test_cat_stack();
    test_allclose();
    return check_report("test_tensor_ops");
}
