/*
 * image_resize.c: Pillow's Image.resize, BILINEAR and NEAREST, to the bit.
 *
 * BILINEAR (Resample.c): for each output column a window of input columns and
 * its weights, the triangle filter 1 - |x| stretched by the scale factor when
 * shrinking (so every input pixel counts, which antialiases), normalised to sum
 * to 1 and rounded to 22-bit fixed point. The horizontal pass runs first, over
 * just the rows the vertical pass will read; each sum starts at one half and is
 * shifted back and clamped to 0..255. A dimension that keeps its size skips its
 * pass. Images with alpha (C = 2 or 4) are premultiplied around the resize and
 * divided back afterwards, with Pillow's roundings.
 * Speed, same bytes: the sums are integers, so any order of adding gives
 * Pillow's; on CPUs with AVX2 both passes add 8 int32 products at a time, and
 * the horizontal pass (the costly one: every input row) runs in bands of rows
 * on the threads image_threads allows.
 * NEAREST (Geometry.c, ImagingScaleAffine): the source of output pixel x is
 * floor(scale / 2 + x * scale), the position stepped by repeated addition.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define PRECISION_BITS 22

/* One axis's windows: window i covers inputs first[i] .. first[i] + count[i] - 1
 * with weights k[i * ksize ..]. */
struct axis {
    int ksize;
    int *first, *count;
    int32_t *k;
};

/* Leaves a empty, so that freeing it again (as bilinear does after a failed
 * axis_init) frees nothing twice. */
static void axis_free(struct axis *a)
{
    free(a->first);
    free(a->count);
    free(a->k);
    memset(a, 0, sizeof *a);
}

static double triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter. */
static int axis_init(struct axis *a, int in, int out, struct triton_error *err)
{
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    memset(a, 0, sizeof *a);
    a->ksize = ksize;
    a->first = malloc(sizeof(int) * (size_t)out);
    a->count = malloc(sizeof(int) * (size_t)out);
    a->k = calloc((size_t)out * (size_t)ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)ksize);
    if (!a->first || !a->count || !a->k || !w) {
        free(w);
        axis_free(a);
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
    }
    for (int xx = 0; xx < out; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0)
            xmin = 0;
        if (xmax > in)
            xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
                                   : 0.5 + v * (1 << PRECISION_BITS));
        }
        a->first[xx] = xmin;
        a->count[xx] = xmax;
    }
    free(w);
    return 0;
}

static inline uint8_t clip8(int32_t v)
{
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The horizontal pass of one row: Pillow's loop, for any C. */
static void hrow_scalar(uint8_t *o, const uint8_t *in, int c, const struct axis *a, int out_w)
{
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (int xx = 0; xx < out_w; xx++, o += c) {
        const int32_t *k = a->k + (size_t)xx * a->ksize;
        const uint8_t *p = in + (size_t)a->first[xx] * c;
        int n = a->count[xx];
        for (int ch = 0; ch < c; ch++) {
            int32_t s = half;
            for (int x = 0; x < n; x++)
                s += p[(size_t)x * c + ch] * k[x];
            o[ch] = clip8(s);
        }
    }
}

/* The same sums with AVX2, for C = 1, 3 and 4 on CPUs that have it. Integer
 * sums in another order are the same integers, so the bytes are Pillow's. Each
 * window is padded to kp taps of zero weight.
 *   C = 1: pixels widened to int32 and multiplied by their weights (vpmulld),
 *     8 taps a step; k32 holds kp weights per window.
 *   C = 3, 4: each 22-bit weight split as k = hi * 2^11 + lo, both of which
 *     fit int16, so that vpmaddwd can take pairs of taps: sum(p * k) =
 *     sum(p * hi) * 2^11 + sum(p * lo) exactly. k16 holds, per window and step
 *     of 4 taps, 16 his (hi(j), hi(j + 1)) x 4, (hi(j + 2), hi(j + 3)) x 4,
 *     then the 16 los the same way.
 * A window reads up to kp * C + 16 bytes from its first pixel (vector loads,
 * the padding multiplied by zero), so the caller hands rows near the buffer's
 * end over in a padded copy. */
struct hsimd {
    int kp;
    int32_t *k32;
    int16_t *k16;
};

#define LO_BITS 11

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

static int have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}

#define AVX2 __attribute__((target("avx2")))

AVX2 static void hrow_avx2_grey(uint8_t *o, const uint8_t *in, const struct axis *a,
                                const struct hsimd *hs, int out_w)
{
    int kp = hs->kp;
    for (int xx = 0; xx < out_w; xx++) {
        const uint8_t *p = in + a->first[xx];
        const int32_t *k = hs->k32 + (size_t)xx * kp;
        __m256i acc = _mm256_setzero_si256();
        for (int j = 0; j < kp; j += 8) {
            __m256i px = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(p + j)));
            __m256i kv = _mm256_loadu_si256((const void *)(k + j));
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, kv));
        }
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        o[xx] = clip8(_mm_cvtsi128_si32(s) + (1 << (PRECISION_BITS - 1)));
    }
}

/* C = 3 or 4 (a constant where it is inlined): four taps a step. The 16 bytes
 * from the step's first pixel, in both halves of a register, are shuffled into
 * int16 pairs (channel of tap j, same channel of tap j + 1; taps j + 2 and
 * j + 3 in the upper half), and vpmaddwd multiplies each pair by its two
 * weights' high parts and, again, by their low parts: see struct hsimd. */
AVX2 static inline __attribute__((always_inline)) void
hrow_avx2_colour(uint8_t *o, const uint8_t *in, const int c, const struct axis *a,
                 const struct hsimd *hs, int out_w)
{
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    const char z = -1, c0 = (char)c, c2 = (char)(2 * c), c3 = (char)(3 * c);
    const __m256i pairs =
        _mm256_setr_epi8(0, z, c0, z, 1, z, (char)(c0 + 1), z, 2, z, (char)(c0 + 2), z,
                         c == 4 ? 3 : z, z, c == 4 ? (char)(c0 + 3) : z, z, c2, z, c3, z,
                         (char)(c2 + 1), z, (char)(c3 + 1), z, (char)(c2 + 2), z, (char)(c3 + 2), z,
                         c == 4 ? (char)(c2 + 3) : z, z, c == 4 ? (char)(c3 + 3) : z, z);
    int kp = hs->kp;
    for (int xx = 0; xx < out_w; xx++, o += c) {
        const uint8_t *p = in + (size_t)a->first[xx] * c;
        const int16_t *k = hs->k16 + (size_t)xx * kp * 8;
        __m256i acc_hi = _mm256_setzero_si256(), acc_lo = _mm256_setzero_si256();
        for (int j = 0; j < kp; j += 4, p += 4 * c, k += 32) {
            __m256i px = _mm256_shuffle_epi8(
                _mm256_broadcastsi128_si256(_mm_loadu_si128((const void *)p)), pairs);
            acc_hi = _mm256_add_epi32(acc_hi,
                                      _mm256_madd_epi16(px, _mm256_loadu_si256((const void *)k)));
            acc_lo = _mm256_add_epi32(
                acc_lo, _mm256_madd_epi16(px, _mm256_loadu_si256((const void *)(k + 16))));
        }
        __m256i acc = _mm256_add_epi32(_mm256_slli_epi32(acc_hi, LO_BITS), acc_lo);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
        s = _mm_srai_epi32(_mm_add_epi32(s, half), PRECISION_BITS);
        s = _mm_packus_epi16(_mm_packs_epi32(s, s), s);
        uint32_t v = (uint32_t)_mm_cvtsi128_si32(s);
        if (c == 4) {
            memcpy(o, &v, 4);
        } else {
            o[0] = (uint8_t)v;
            o[1] = (uint8_t)(v >> 8);
            o[2] = (uint8_t)(v >> 16);
        }
    }
}

AVX2 static void hrow_avx2(uint8_t *o, const uint8_t *in, int c, const struct axis *a,
                           const struct hsimd *hs, int out_w)
{
    if (c == 1)
        hrow_avx2_grey(o, in, a, hs, out_w);
    else if (c == 3)
        hrow_avx2_colour(o, in, 3, a, hs, out_w);
    else
        hrow_avx2_colour(o, in, 4, a, hs, out_w);
}
#else
static int have_avx2(void)
{
    return 0;
}

static void hrow_avx2(uint8_t *o, const uint8_t *in, int c, const struct axis *a,
                      const struct hsimd *hs, int out_w)
{
    hrow_scalar(o, in, c, a, out_w);
}
#endif

/* The AVX2 weights for a, or none (k32 = k16 = NULL) when the scalar loop is
 * to run. */
static int hsimd_init(struct hsimd *hs, const struct axis *a, int c, int out,
                      struct triton_error *err)
{
    memset(hs, 0, sizeof *hs);
    if ((c != 1 && c != 3 && c != 4) || !have_avx2())
        return 0;
    int step = c == 1 ? 8 : 4;
    hs->kp = (a->ksize + step - 1) / step * step;
    size_t n = (size_t)out * (size_t)hs->kp;
    if (c == 1 ? !(hs->k32 = calloc(n, sizeof(int32_t))) : !(hs->k16 = calloc(n * 8, 2)))
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
    for (int xx = 0; xx < out; xx++) {
        const int32_t *k = a->k + (size_t)xx * a->ksize;
        for (int x = 0; x < a->count[xx]; x++) {
            if (c == 1) {
                hs->k32[(size_t)xx * hs->kp + x] = k[x];
                continue;
            }
            /* tap x is word x % 2 of each pair, in half (x % 4) / 2 of its step */
            int16_t *d = hs->k16 + ((size_t)xx * hs->kp + (size_t)(x / 4 * 4)) * 8;
            d += (x % 4) / 2 * 8 + x % 2;
            for (int pair = 0; pair < 4; pair++) {
                d[pair * 2] = (int16_t)(k[x] >> LO_BITS);
                d[pair * 2 + 16] = (int16_t)(k[x] & ((1 << LO_BITS) - 1));
            }
        }
    }
    return 0;
}

static void hsimd_free(struct hsimd *hs)
{
    free(hs->k32);
    free(hs->k16);
}

/* Bytes a row's windows may read past the row's first byte (see struct hsimd). */
static size_t hsimd_reach(const struct hsimd *hs, const struct axis *a, int c, int out_w)
{
    return ((size_t)a->first[out_w - 1] + (size_t)hs->kp) * (size_t)c + 16;
}

/* One band of the horizontal pass: rows [from, to) of the rows it covers. */
struct hband {
    uint8_t *dst;             /* output rows, out_w * c bytes each */
    const uint8_t *src, *end; /* the band's first input row; the input's end */
    int64_t from, to, w;
    int c, out_w;
    const struct axis *a;
    const struct hsimd *hs;
    uint8_t *pad; /* room for one row plus its reach, for rows near `end` */
};

static void hband_run(void *arg)
{
    struct hband *b = arg;
    size_t row = (size_t)b->w * (size_t)b->c, out_row = (size_t)b->out_w * (size_t)b->c;
    int simd = b->hs->k32 || b->hs->k16;
    size_t reach = simd ? hsimd_reach(b->hs, b->a, b->c, b->out_w) : 0;
    for (int64_t y = b->from; y < b->to; y++) {
        const uint8_t *in = b->src + (size_t)y * row;
        uint8_t *o = b->dst + (size_t)y * out_row;
        if (!simd) {
            hrow_scalar(o, in, b->c, b->a, b->out_w);
            continue;
        }
        if ((size_t)(b->end - in) < reach) {
            memcpy(b->pad, in, row);
            in = b->pad;
        }
        hrow_avx2(o, in, b->c, b->a, b->hs, b->out_w);
    }
}

/* Horizontal pass: rows y0 .. y0 + rows - 1 of src (h x w) into dst, in bands
 * of rows on as many threads as `threads` allows for an image of h * w pixels. */
static int pass_h(uint8_t *dst, const uint8_t *src, int64_t h, int64_t rows, int64_t y0, int64_t w,
                  int c, const struct axis *a, int out_w, const struct image_threads *threads,
                  struct triton_error *err)
{
    struct hsimd hs;
    if (hsimd_init(&hs, a, c, out_w, err) != 0)
        return -1;
    int64_t cap = rows < IMAGE_THREADS_MAX ? rows : IMAGE_THREADS_MAX;
    int n = image_threads_parts(threads, h * w, (int)cap);
    int simd = hs.k32 || hs.k16;
    size_t padsize = simd ? (size_t)w * c + hsimd_reach(&hs, a, c, out_w) : 0;
    uint8_t *pads = simd ? calloc((size_t)n, padsize) : NULL;
    if (simd && !pads) {
        hsimd_free(&hs);
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
    }
    struct hband bands[IMAGE_THREADS_MAX];
    for (int i = 0; i < n; i++)
        bands[i] = (struct hband){.dst = dst,
                                  .src = src + (size_t)(y0 * w * c),
                                  .end = src + (size_t)(h * w * c),
                                  .from = rows * i / n,
                                  .to = rows * (i + 1) / n,
                                  .w = w,
                                  .c = c,
                                  .out_w = out_w,
                                  .a = a,
                                  .hs = &hs,
                                  .pad = pads ? pads + (size_t)i * padsize : NULL};
    image_threads_run(hband_run, bands, sizeof bands[0], n);
    free(pads);
    hsimd_free(&hs);
    return 0;
}

/* Vertical pass: each output row is a weighted sum of whole input rows, so the
 * inner loop runs along the row (contiguous, and vectorisable). */
static inline void vrows(uint8_t *dst, const uint8_t *src, int32_t *acc, int64_t rowlen,
                         const struct axis *a, int64_t first_row, int out_h)
{
    for (int yy = 0; yy < out_h; yy++) {
        const int32_t *k = a->k + (size_t)yy * a->ksize;
        for (int64_t i = 0; i < rowlen; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < a->count[yy]; y++) {
            const uint8_t *in = src + (size_t)((a->first[yy] - first_row + y) * rowlen);
            int32_t kv = k[y];
            for (int64_t i = 0; i < rowlen; i++)
                acc[i] += in[i] * kv;
        }
        uint8_t *o = dst + (size_t)(yy * rowlen);
        for (int64_t i = 0; i < rowlen; i++)
            o[i] = clip8(acc[i]);
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* The same loops compiled for AVX2 (8 int32 lanes and vpmulld). */
AVX2 static void vrows_avx2(uint8_t *dst, const uint8_t *src, int32_t *acc, int64_t rowlen,
                            const struct axis *a, int64_t first_row, int out_h)
{
    vrows(dst, src, acc, rowlen, a, first_row, out_h);
}
#endif

static int pass_v(uint8_t *dst, const uint8_t *src, int64_t rowlen, const struct axis *a,
                  int64_t first_row, int out_h, struct triton_error *err)
{
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)rowlen);
    if (!acc)
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
#if defined(__x86_64__) || defined(__i386__)
    if (have_avx2())
        vrows_avx2(dst, src, acc, rowlen, a, first_row, out_h);
    else
#endif
        vrows(dst, src, acc, rowlen, a, first_row, out_h);
    free(acc);
    return 0;
}

/* Pillow's MULDIV255: a * b / 255 rounded, in integers. */
static inline uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* RGBA -> RGBa (and LA -> La): colour channels times alpha / 255. */
static void premultiply(uint8_t *px, size_t n, int c)
{
    for (size_t i = 0; i < n; i++, px += c)
        for (int ch = 0; ch < c - 1; ch++)
            px[ch] = muldiv255(px[ch], px[c - 1]);
}

/* And back: 255 * v / alpha clamped, unless alpha is 0 or 255. */
static void unpremultiply(uint8_t *px, size_t n, int c)
{
    for (size_t i = 0; i < n; i++, px += c) {
        unsigned alpha = px[c - 1];
        if (alpha == 0 || alpha == 255)
            continue;
        for (int ch = 0; ch < c - 1; ch++) {
            unsigned v = 255u * px[ch] / alpha;
            px[ch] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

static int bilinear(uint8_t *dst, const uint8_t *src, int64_t h, int64_t w, int c, int out_h,
                    int out_w, const struct image_threads *threads, struct triton_error *err)
{
    struct axis ax = {0}, ay = {0};
    uint8_t *tmp = NULL;
    int rc = -1;
    int do_h = out_w != w, do_v = out_h != h;
    if (axis_init(&ax, (int)w, out_w, err) != 0 || axis_init(&ay, (int)h, out_h, err) != 0)
        goto done;
    int64_t y0 = do_h && do_v ? ay.first[0] : 0;
    int64_t y1 = do_h && do_v ? ay.first[out_h - 1] + ay.count[out_h - 1] : h;
    const uint8_t *vin = src;
    if (do_h) {
        uint8_t *hout = dst;
        if (do_v) {
            tmp = malloc((size_t)((y1 - y0) * out_w * c));
            if (!tmp) {
                triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
                goto done;
            }
            hout = tmp;
        }
        if (pass_h(hout, src, h, y1 - y0, y0, w, c, &ax, out_w, threads, err) != 0)
            goto done;
        vin = tmp;
    }
    if (do_v && pass_v(dst, vin, (int64_t)out_w * c, &ay, y0, out_h, err) != 0)
        goto done;
    if (!do_h && !do_v)
        memcpy(dst, src, (size_t)(h * w * c));
    rc = 0;
done:
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return rc;
}

/* Pillow's ImagingScaleAffine with fill: positions that land outside stay 0. */
static int nearest(uint8_t *dst, const uint8_t *src, int64_t h, int64_t w, int c, int out_h,
                   int out_w, struct triton_error *err)
{
    int64_t *xin = malloc(sizeof(int64_t) * (size_t)out_w);
    if (!xin)
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
    double sx = (double)w / out_w, sy = (double)h / out_h;
    double xo = 0.0 + sx * 0.5, yo = 0.0 + sy * 0.5;
    for (int x = 0; x < out_w; x++, xo += sx)
        xin[x] = xo < 0.0 ? -1 : (int64_t)xo;
    memset(dst, 0, (size_t)out_h * (size_t)out_w * (size_t)c);
    for (int y = 0; y < out_h; y++, yo += sy) {
        int64_t yi = yo < 0.0 ? -1 : (int64_t)yo;
        if (yi < 0 || yi >= h)
            continue;
        const uint8_t *in = src + (size_t)(yi * w * c);
        uint8_t *o = dst + (size_t)y * out_w * c;
        for (int x = 0; x < out_w; x++)
            if (xin[x] >= 0 && xin[x] < w)
                memcpy(o + (size_t)x * c, in + (size_t)xin[x] * c, (size_t)c);
    }
    free(xin);
    return 0;
}

int image_resize(struct tensor *out, const struct tensor *img, int64_t h, int64_t w,
                 enum image_filter filter, const struct image_threads *threads,
                 struct triton_error *err)
{
    if (h < 1 || w < 1 || h > IMAGE_MAX_SIDE || w > IMAGE_MAX_SIDE || h * w > IMAGE_MAX_PIXELS)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: cannot resize to %lldx%lld: sizes go from 1 to %d, and at "
                           "most %lld pixels",
                           (long long)h, (long long)w, IMAGE_MAX_SIDE, (long long)IMAGE_MAX_PIXELS);
    struct tensor tmp;
    struct image_view v;
    if (image_view(&v, img, &tmp, err) != 0)
        return -1;
    int rc = -1;
    int c = (int)v.c, alpha = filter == IMAGE_BILINEAR && (c == 2 || c == 4);
    if (v.h > IMAGE_MAX_SIDE || v.w > IMAGE_MAX_SIDE) {
        triton_fail(err, TRITON_INVALID_ARGUMENT,
                    "image: cannot resize a %lldx%lld image: "
                    "sides go up to %d",
                    (long long)v.h, (long long)v.w, IMAGE_MAX_SIDE);
        goto done;
    }
    if (image_new(out, h, w, c, err) != 0)
        goto done;
    uint8_t *dst = out->buf->data;
    const uint8_t *src = v.px;
    if (h == v.h && w == v.w) { /* Pillow returns a copy, untouched */
        memcpy(dst, src, (size_t)(h * w * c));
        rc = 0;
        goto done;
    }
    if (alpha) { /* premultiply a private copy */
        uint8_t *pm = malloc((size_t)(v.h * v.w * c));
        if (!pm) {
            triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
            goto fail;
        }
        memcpy(pm, src, (size_t)(v.h * v.w * c));
        premultiply(pm, (size_t)(v.h * v.w), c);
        rc = bilinear(dst, pm, v.h, v.w, c, (int)h, (int)w, threads, err);
        free(pm);
        if (rc == 0)
            unpremultiply(dst, (size_t)(h * w), c);
    } else if (filter == IMAGE_BILINEAR) {
        rc = bilinear(dst, src, v.h, v.w, c, (int)h, (int)w, threads, err);
    } else {
        rc = nearest(dst, src, v.h, v.w, c, (int)h, (int)w, err);
    }
fail:
    if (rc != 0)
        tensor_release(out);
done:
    tensor_release(&tmp);
    return rc;
}
