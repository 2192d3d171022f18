/*
 * half.c: FP16 (IEEE binary16) and BF16 (bfloat16) conversions.
 * Done on bit patterns rather than with _Float16 or F16C so that the result is
 * the same on every compiler and CPU: round-to-nearest-even, infinities and
 * signed zeros kept, NaN kept as a quiet NaN with its sign and top payload bits.
 * The float conversions use integer arithmetic only, never a float add that
 * would depend on the caller's rounding mode or flush-to-zero setting, and
 * compute every case before picking one, so that the hot loops over arrays
 * compile to selects instead of data-dependent branches.
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

/* Adding half a unit minus one, plus the lowest kept bit, carries into the kept
 * bits exactly when the discarded part is above half, or is half and the kept
 * part is odd: round to nearest even with one add and one shift. */
static inline uint16_t f16_from_f32_bits(uint32_t x)
{
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffff;
    /* Normal in FP16: rebias 127 -> 15 and round 23 -> 10 mantissa bits. A carry
     * out of the mantissa moves into the exponent; from just under 2^16 it gives
     * exponent 31 with a zero mantissa, which is Inf, as it should. */
    uint32_t normal = (ax - 0x38000000 + 0xfff + ((ax >> 13) & 1)) >> 13;
    /* Subnormal in FP16 (below 2^-14): the value in units of 2^-24 is
     * m * 2^(e - 126) for the 24-bit mantissa m, so shift right by 126 - e,
     * clamped to a range where the shifts are defined; from a shift of 25 on the
     * result is 0 (at most half the smallest subnormal), and 31 keeps it so. */
    int32_t shift = 126 - (int32_t)(ax >> 23);
    shift = shift < 14 ? 14 : shift > 31 ? 31 : shift;
    uint32_t m = (ax & 0x7fffff) | 0x800000;
    uint32_t subnormal = (m + (UINT32_C(1) << (shift - 1)) - 1 + ((m >> shift) & 1)) >> shift;
    /* Inf stays Inf; NaN gets the quiet bit and keeps its top payload bits. */
    uint32_t special = ax > 0x7f800000 ? 0x7e00 | ((ax >> 13) & 0x1ff) : 0x7c00;
    uint32_t h = ax < 0x38800000 ? subnormal : ax < 0x47800000 ? normal : special;
    return (uint16_t)(sign | h);
}

static inline uint32_t f32_bits_from_f16(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t shifted = (uint32_t)(h & 0x7fff) << 13; /* exponent and mantissa in place */
    uint32_t exp = shifted & 0x0f800000;
    uint32_t normal = shifted + 0x38000000;  /* rebias 15 -> 127 */
    uint32_t special = shifted + 0x70000000; /* exponent 31 -> 255: Inf and NaN */
    /* zero or subnormal: mantissa * 2^-24, exact in float */
    uint32_t subnormal = f32_bits((float)(h & 0x3ff) * 0x1p-24f);
    return sign | (exp == 0 ? subnormal : exp == 0x0f800000 ? special : normal);
}

static inline uint16_t bf16_from_f32_bits(uint32_t x)
{
    /* BF16 is the top half of a float: round the low 16 bits away. A carry into
     * the exponent is the right answer, up to Inf. NaN keeps its sign and top
     * payload bits and gets the quiet bit, so a low-bits-only payload stays NaN. */
    uint16_t rounded = (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
    uint16_t nan = (uint16_t)((x >> 16) | 0x40);
    return (x & 0x7fffffff) > 0x7f800000 ? nan : rounded;
}

uint16_t tensor_f32_to_f16(float f)
{
    return f16_from_f32_bits(f32_bits(f));
}

float tensor_f16_to_f32(uint16_t h)
{
    return f32_from_bits(f32_bits_from_f16(h));
}

uint16_t tensor_f32_to_bf16(float f)
{
    return bf16_from_f32_bits(f32_bits(f));
}

float tensor_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* The array forms: one call per run of elements instead of one per element, so
 * the compiler can keep the loop tight (and vectorize where it can). */
void tensor_f32_to_f16_array(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f16_from_f32_bits(f32_bits(src[i]));
}

void tensor_f16_to_f32_array(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_from_bits(f32_bits_from_f16(src[i]));
}

void tensor_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = bf16_from_f32_bits(f32_bits(src[i]));
}

void tensor_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = f32_from_bits((uint32_t)src[i] << 16);
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
