/*
 * half.c: FP16 (IEEE binary16) and BF16 (bfloat16) conversions.
 * Done on bit patterns rather than with _Float16 or F16C so that the result is
 * the same on every compiler and CPU: round-to-nearest-even, infinities and
 * signed zeros kept, NaN kept as a quiet NaN with its sign and top payload bits.
 * From a double we round once, straight to the narrow format: going through
 * float first would round twice and can be off by one unit in the last place.
 */
#include <stdint.h>
#include <string.h>

#include "tensor/tensor.h"

static uint32_t f32_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    return x;
}

static float f32_from_bits(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* m >> shift rounded to nearest, ties to even (1 <= shift <= 63). */
static uint64_t shift_round_even(uint64_t m, int shift)
{
    uint64_t q = m >> shift;
    uint64_t rem = m & ((UINT64_C(1) << shift) - 1);
    uint64_t half = UINT64_C(1) << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

uint16_t tensor_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) /* NaN: quiet bit set, top payload bits kept */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x1ff));
    if (ax >= 0x477ff000) /* >= 65520 (halfway past 65504) rounds to Inf; Inf stays Inf */
        return sign | 0x7c00;
    if (ax >= 0x38800000) /* normal in FP16: rebias 127 -> 15, round 23 -> 10 mantissa bits */
        return (uint16_t)(sign | shift_round_even(ax - 0x38000000, 13));
    if (ax <= 0x33000000) /* <= 2^-25: half the smallest subnormal or less rounds to zero */
        return sign;
    /* Subnormal in FP16: units of 2^-24. */
    uint32_t e = ax >> 23;
    uint64_t m = (ax & 0x7fffff) | 0x800000;
    return (uint16_t)(sign | shift_round_even(m, (int)(126 - e)));
}

float tensor_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ff;
    if (e == 0x1f)
        return f32_from_bits(sign | 0x7f800000 | (m << 13));
    if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t tensor_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((x >> 16) | 0x40);
    /* BF16 is the top half of a float: round the low 16 bits away. A carry into
     * the exponent is the right answer, up to Inf. */
    return (uint16_t)shift_round_even(x, 16);
}

float tensor_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* A double rounded once to a binary format with `ebits` exponent and `mbits`
 * mantissa bits (IEEE layout, with subnormals), as its bit pattern. */
static uint16_t f64_to_narrow(double d, int ebits, int mbits)
{
    uint64_t x;
    memcpy(&x, &d, sizeof x);
    uint16_t sign = (uint16_t)((x >> 63) << (ebits + mbits));
    uint64_t ax = x & INT64_MAX;
    uint16_t inf = (uint16_t)(((1u << ebits) - 1) << mbits);
    if (ax > UINT64_C(0x7ff0000000000000)) /* NaN */
        return (uint16_t)(sign | inf | (1u << (mbits - 1)) |
                          ((ax >> (52 - mbits)) & ((1u << (mbits - 1)) - 1)));
    if (ax == UINT64_C(0x7ff0000000000000))
        return sign | inf;
    int e = (int)(ax >> 52);
    if (e == 0) /* a double subnormal is far below either format's smallest subnormal */
        return sign;
    int bias = (1 << (ebits - 1)) - 1;
    int exp = e - 1023; /* unbiased */
    if (exp > bias)     /* at least twice the largest finite value */
        return sign | inf;
    uint64_t m = (ax & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int emin = 1 - bias;
    int shift = 52 - mbits + (exp < emin ? emin - exp : 0);
    if (shift > 54) /* below half the smallest subnormal */
        return sign;
    uint64_t q = shift_round_even(m, shift);
    /* Normal: biased exponent above the implicit bit, so that a rounding carry
     * moves into the exponent. Subnormal: q is the pattern (a carry makes it the
     * smallest normal). */
    uint64_t bits = exp < emin ? q : ((uint64_t)(exp + bias - 1) << mbits) + q;
    if (bits >= inf)
        return sign | inf;
    return (uint16_t)(sign | bits);
}

uint16_t tensor_f64_to_f16(double d)
{
    return f64_to_narrow(d, 5, 10);
}

uint16_t tensor_f64_to_bf16(double d)
{
    return f64_to_narrow(d, 8, 7);
}
