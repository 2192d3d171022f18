/*
 * tensor_baseline.c: the plain-C side of bench/tensor.lua. Does the same work as
 * each tensor benchmark with the simplest C a programmer would write, and prints
 * one line per benchmark: "<name> <best ms>". bench/tensor.lua runs this in the
 * same run and prints both side by side.
 *
 * Every baseline allocates its result fresh each time, as the tensor code must
 * (a new tensor or a new Lua string), except "memcpy_warm", which copies into a
 * buffer reused across repeats: the copy alone, a lower bound for bytes() that
 * nothing returning new memory can reach. glibc maps blocks above its mmap
 * threshold (32 MiB at most) fresh on every malloc, so "memcpy_fresh" pays the
 * page faults a new 64 MiB Lua string pays; we leave glibc's tuning (mallopt)
 * alone, as a library must.
 *
 * Usage: tensor_baseline [repeats]
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_N   (1 << 20) /* 1M elements */
#define BYTES_N   (1 << 24) /* 16M FP32 = 64 MiB */
#define VECTOR_N  (1 << 20) /* argmax and softmax */
#define CONVERT_N (1 << 24) /* FP32 -> FP16 */

/* Keeps results observable so the compiler cannot drop the work. */
static volatile double sink;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "tensor_baseline: out of memory\n");
        exit(1);
    }
    return p;
}

/* Uniform in [0, 1), like triton.rand (the values only matter for branching). */
static float *random_floats(size_t n)
{
    float *x = xmalloc(n * sizeof *x);
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)(s >> 40) * 0x1p-24f;
    }
    return x;
}

/* 1M-element Lua table -> float array: lua_rawgeti + lua_tonumber per element. */
static void table_to_fp32(lua_State *L)
{
    float *dst = xmalloc(TABLE_N * sizeof *dst);
    for (lua_Integer i = 1; i <= TABLE_N; i++) {
        lua_rawgeti(L, 1, i);
        dst[i - 1] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    sink += dst[TABLE_N / 2];
    free(dst);
}

static const float *bytes_src;
static char *warm_dst;

static void memcpy_fresh(void)
{
    char *dst = xmalloc((size_t)BYTES_N * 4);
    memcpy(dst, bytes_src, (size_t)BYTES_N * 4);
    sink += dst[12345];
    free(dst);
}

static void memcpy_warm(void)
{
    memcpy(warm_dst, bytes_src, (size_t)BYTES_N * 4);
    sink += warm_dst[12345];
}

static const float *vec;

static void argmax(void)
{
    float best = vec[0];
    size_t idx = 0;
    for (size_t i = 1; i < VECTOR_N; i++)
        if (vec[i] > best)
            best = vec[i], idx = i;
    sink += (double)idx;
}

static void softmax(void)
{
    float *y = xmalloc(VECTOR_N * sizeof *y);
    float mx = vec[0];
    for (size_t i = 1; i < VECTOR_N; i++)
        if (vec[i] > mx)
            mx = vec[i];
    double sum = 0;
    for (size_t i = 0; i < VECTOR_N; i++) {
        y[i] = expf(vec[i] - mx);
        sum += y[i];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < VECTOR_N; i++)
        y[i] *= inv;
    sink += y[VECTOR_N / 2];
    free(y);
}

/* FP32 -> FP16, round to nearest even, NaN quiet, overflow to Inf: the usual
 * bit-twiddling with a float add doing the subnormal rounding. */
static uint16_t f32_to_f16(float f)
{
    const uint32_t f32_inf = 255u << 23, f16_overflow = (127u + 16) << 23;
    const uint32_t denorm_magic = ((127u - 15) + (23 - 10) + 1) << 23;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = u & 0x80000000u;
    u ^= sign;
    uint16_t h;
    if (u >= f16_overflow) {
        h = u > f32_inf ? 0x7e00 : 0x7c00;
    } else if (u < (113u << 23)) {
        float v, magic;
        memcpy(&v, &u, sizeof v);
        memcpy(&magic, &denorm_magic, sizeof magic);
        v += magic;
        memcpy(&u, &v, sizeof u);
        h = (uint16_t)(u - denorm_magic);
    } else {
        uint32_t odd = (u >> 13) & 1;
        u += (uint32_t)(-112 * (1 << 23)) + 0xfff + odd; /* rebias 127 -> 15, round */
        h = (uint16_t)(u >> 13);
    }
    return (uint16_t)(h | (sign >> 16));
}

static const float *convert_src;

static void fp32_to_fp16(void)
{
    uint16_t *dst = xmalloc((size_t)CONVERT_N * sizeof *dst);
    for (size_t i = 0; i < CONVERT_N; i++)
        dst[i] = f32_to_f16(convert_src[i]);
    sink += dst[CONVERT_N / 2];
    free(dst);
}

static double best_of(int repeats, void (*fn)(void))
{
    double best = INFINITY;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_ms();
        fn();
        double dt = now_ms() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

static lua_State *table_state;

static void table_to_fp32_run(void)
{
    table_to_fp32(table_state);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 10;
    if (repeats < 1)
        repeats = 1;

    /* the same table bench/tensor.lua builds */
    table_state = luaL_newstate();
    if (!table_state)
        return 1;
    lua_createtable(table_state, TABLE_N, 0);
    for (lua_Integer i = 1; i <= TABLE_N; i++) {
        lua_pushnumber(table_state, (lua_Number)(i % 1000) * 0.25);
        lua_rawseti(table_state, 1, i);
    }
    printf("table_to_fp32 %.3f\n", best_of(repeats, table_to_fp32_run));
    lua_close(table_state);

    float *src = random_floats(BYTES_N);
    bytes_src = src;
    warm_dst = xmalloc((size_t)BYTES_N * 4);
    memset(warm_dst, 0, (size_t)BYTES_N * 4);
    printf("memcpy_fresh %.3f\n", best_of(repeats, memcpy_fresh));
    printf("memcpy_warm %.3f\n", best_of(repeats, memcpy_warm));
    free(warm_dst);

    vec = src; /* the first 1M of the same random floats */
    printf("argmax %.3f\n", best_of(repeats, argmax));
    printf("softmax %.3f\n", best_of(repeats, softmax));

    convert_src = src;
    printf("fp32_to_fp16 %.3f\n", best_of(repeats, fp32_to_fp16));
    free(src);
    return 0;
}
