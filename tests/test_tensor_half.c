/* FP16/BF16 conversions: rounding ties, subnormals, overflow, NaN/Inf/-0, and the
 * float and double paths cross-checked against each other. */
#include <math.h>

#include "check.h"
#include "tensor/tensor.h"

static float bits_f32(uint32_t x)
{
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static void test_f16_values(void)
{
    CHECK_HEX(tensor_f32_to_f16(1.0f), 0x3c00);
    CHECK_HEX(tensor_f32_to_f16(-2.0f), 0xc000);
    CHECK_HEX(tensor_f32_to_f16(0.0f), 0x0000);
    CHECK_HEX(tensor_f32_to_f16(-0.0f), 0x8000);
    CHECK_HEX(tensor_f32_to_f16(65504.0f), 0x7bff);
    CHECK_HEX(tensor_f32_to_f16(65519.0f), 0x7bff); /* below the halfway point */
    CHECK_HEX(tensor_f32_to_f16(65520.0f), 0x7c00); /* halfway, odd mantissa: up to Inf */
    CHECK_HEX(tensor_f32_to_f16(-1e10f), 0xfc00);   /* overflow keeps the sign */
    CHECK_HEX(tensor_f32_to_f16(INFINITY), 0x7c00);
    CHECK_HEX(tensor_f32_to_f16(-INFINITY), 0xfc00);
    CHECK_HEX(tensor_f32_to_f16(0x1p-14f), 0x0400);  /* smallest normal */
    CHECK_HEX(tensor_f32_to_f16(0x1p-24f), 0x0001);  /* smallest subnormal */
    CHECK_HEX(tensor_f32_to_f16(0x1p-25f), 0x0000);  /* tie between 0 and 1: even */
    CHECK_HEX(tensor_f32_to_f16(-0x1p-25f), 0x8000); /* and the sign kept */
    CHECK_HEX(tensor_f32_to_f16(0x1.000002p-25f), 0x0001);
    CHECK_HEX(tensor_f32_to_f16(0x3p-25f), 0x0002);           /* tie between 1 and 2 units: even */
    CHECK_HEX(tensor_f32_to_f16(0x5p-25f), 0x0002);           /* tie between 2 and 3 units: even */
    CHECK_HEX(tensor_f32_to_f16(0x3ffp-24f), 0x03ff);         /* largest subnormal */
    CHECK_HEX(tensor_f32_to_f16(0x7ffp-25f), 0x0400);         /* rounds up into the normals */
    CHECK_HEX(tensor_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);    /* tie: down to even */
    CHECK_HEX(tensor_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);    /* tie: up to even */
    CHECK_HEX(tensor_f32_to_f16(1.0f + 0x1.2p-11f), 0x3c01);  /* past the tie */
    CHECK_HEX(tensor_f32_to_f16(1.0f + 0x1.fcp-12f), 0x3c00); /* short of the tie */
    CHECK_HEX(tensor_f32_to_f16(2047.0f / 1024.0f), 0x3fff);
    CHECK_HEX(tensor_f32_to_f16(0x1.ffep0f), 0x4000); /* carry into the exponent */

    uint16_t qnan = tensor_f32_to_f16(NAN);
    CHECK((qnan & 0x7c00) == 0x7c00 && (qnan & 0x3ff) != 0);
    uint16_t neg_nan = tensor_f32_to_f16(-NAN);
    CHECK(neg_nan & 0x8000);
    /* A signalling NaN whose payload sits only in the low bits must not become Inf. */
    uint16_t snan = tensor_f32_to_f16(bits_f32(0x7f800001));
    CHECK((snan & 0x7c00) == 0x7c00 && (snan & 0x3ff) != 0);

    CHECK(tensor_f16_to_f32(0x3c00) == 1.0f);
    CHECK(tensor_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(tensor_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(tensor_f16_to_f32(0xfc00)) && tensor_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(tensor_f16_to_f32(0x7e00)));
    CHECK(signbit(tensor_f16_to_f32(0x8000)) && tensor_f16_to_f32(0x8000) == 0.0f);
}

static void test_f16_round_trips(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = tensor_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            uint16_t back = tensor_f32_to_f16(f);
            bad += (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) || (back & 0x8000) != (h & 0x8000);
            continue;
        }
        bad += tensor_f32_to_f16(f) != h;
        bad += tensor_f64_to_f16((double)f) != h;
    }
    CHECK_INT(bad, 0);
}

/* The float path (bit tricks) and the double path (generic rounding) are written
 * independently; they must agree on every float, since float -> double is exact. */
static void test_f32_f64_paths_agree(void)
{
    int bad = 0;
    for (uint64_t x = 0; x <= 0xffffffffu; x += 997) {
        float f = bits_f32((uint32_t)x);
        if (isnan(f))
            continue;
        bad += tensor_f32_to_f16(f) != tensor_f64_to_f16((double)f);
        bad += tensor_f32_to_bf16(f) != tensor_f64_to_bf16((double)f);
    }
    /* and densely around the f16 subnormal/normal boundary and the overflow point */
    for (uint32_t x = 0x33000000 - 64; x < 0x38800000 + 4096; x++) {
        float f = bits_f32(x);
        bad += tensor_f32_to_f16(f) != tensor_f64_to_f16((double)f);
    }
    for (uint32_t x = 0x477fe000 - 4096; x < 0x47800000 + 4096; x++) {
        float f = bits_f32(x);
        bad += tensor_f32_to_f16(f) != tensor_f64_to_f16((double)f);
    }
    CHECK_INT(bad, 0);
}

static void test_double_rounds_once(void)
{
    /* Just above the tie between 1 and 1+2^-10: as a float the excess is lost and
     * the tie rounds down to even; from the double it must round up. */
    double d = 1.0 + 0x1p-11 + 0x1p-40;
    CHECK_HEX(tensor_f32_to_f16((float)d), 0x3c00);
    CHECK_HEX(tensor_f64_to_f16(d), 0x3c01);
    double b = 1.0 + 0x1p-8 + 0x1p-40;
    CHECK_HEX(tensor_f32_to_bf16((float)b), 0x3f80);
    CHECK_HEX(tensor_f64_to_bf16(b), 0x3f81);
    CHECK_HEX(tensor_f64_to_f16(1e300), 0x7c00);
    CHECK_HEX(tensor_f64_to_f16(-1e-300), 0x8000);
    CHECK_HEX(tensor_f64_to_f16(0x1p-1074), 0x0000); /* a double subnormal */
    CHECK_HEX(tensor_f64_to_bf16(1e300), 0x7f80);
    uint16_t n = tensor_f64_to_f16(-NAN);
    CHECK((n & 0xfc00) == 0xfc00 && (n & 0x3ff));
}

static void test_bf16(void)
{
    CHECK_HEX(tensor_f32_to_bf16(1.0f), 0x3f80);
    CHECK_HEX(tensor_f32_to_bf16(-0.0f), 0x8000);
    CHECK_HEX(tensor_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie: down to even */
    CHECK_HEX(tensor_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82); /* tie: up to even */
    CHECK_HEX(tensor_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);
    CHECK_HEX(tensor_f32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds to Inf */
    CHECK_HEX(tensor_f32_to_bf16(-INFINITY), 0xff80);
    CHECK_HEX(tensor_f32_to_bf16(bits_f32(0x00010000)), 0x0001); /* subnormal */
    uint16_t n = tensor_f32_to_bf16(bits_f32(0x7f800001));       /* NaN with a low payload */
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f));
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = tensor_bf16_to_f32((uint16_t)h);
        if (isnan(f))
            bad += !isnan(tensor_bf16_to_f32(tensor_f32_to_bf16(f)));
        else
            bad += tensor_f32_to_bf16(f) != h || tensor_f64_to_bf16((double)f) != h;
    }
    CHECK_INT(bad, 0);
}

/* The array forms agree with the double path (written independently) on a
 * sample of every float, and with the scalar forms on every 16-bit pattern. */
static void test_arrays(void)
{
    enum { N = 1 << 16 };
    static float f[N], back[N];
    static uint16_t h[N], b[N], all[N];
    int bad = 0;
    for (uint32_t i = 0; i < N; i++)
        f[i] = bits_f32(i * 65537u + (i >> 3)); /* spread over all exponents and signs */
    tensor_f32_to_f16_array(h, f, N);
    tensor_f32_to_bf16_array(b, f, N);
    for (uint32_t i = 0; i < N; i++) {
        if (isnan(f[i])) {
            bad += (h[i] & 0x7e00) != 0x7e00 || (b[i] & 0x7fc0) != 0x7fc0;
            continue;
        }
        bad += h[i] != tensor_f64_to_f16((double)f[i]);
        bad += b[i] != tensor_f64_to_bf16((double)f[i]);
    }
    for (uint32_t i = 0; i < N; i++)
        all[i] = (uint16_t)i;
    tensor_f16_to_f32_array(back, all, N);
    for (uint32_t i = 0; i < N; i++)
        bad += memcmp(&back[i], &(float){tensor_f16_to_f32(all[i])}, sizeof(float)) != 0;
    tensor_bf16_to_f32_array(back, all, N);
    for (uint32_t i = 0; i < N; i++)
        bad += memcmp(&back[i], &(float){tensor_bf16_to_f32(all[i])}, sizeof(float)) != 0;
    CHECK_INT(bad, 0);
}

int main(void)
{
    test_f16_values();
    test_f16_round_trips();
    test_f32_f64_paths_agree();
    test_double_rounds_once();
    test_bf16();
    test_arrays();
    return check_report("test_tensor_half");
}
