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

static void axis_free(struct axis *a)
{
    free(a->first);
    free(a->count);
    free(a->k);
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

/* Horizontal pass: rows y0 .. y0 + rows - 1 of src (w columns) into dst. */
static void pass_h(uint8_t *dst, const uint8_t *src, int64_t rows, int64_t y0, int64_t w, int c,
                   const struct axis *a, int out_w)
{
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (int64_t y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)((y0 + y) * w * c);
        uint8_t *o = dst + (size_t)(y * out_w * c);
        for (int xx = 0; xx < out_w; xx++, o += c) {
            const int32_t *k = a->k + (size_t)xx * a->ksize;
            const uint8_t *p = in + (size_t)a->first[xx] * c;
            int n = a->count[xx];
            if (c == 3) {
                int32_t s0 = half, s1 = half, s2 = half;
                for (int x = 0; x < n; x++, p += 3) {
                    s0 += p[0] * k[x];
                    s1 += p[1] * k[x];
                    s2 += p[2] * k[x];
                }
                o[0] = clip8(s0);
                o[1] = clip8(s1);
                o[2] = clip8(s2);
            } else {
                for (int ch = 0; ch < c; ch++) {
                    int32_t s = half;
                    for (int x = 0; x < n; x++)
                        s += p[(size_t)x * c + ch] * k[x];
                    o[ch] = clip8(s);
                }
            }
        }
    }
}

/* Vertical pass: each output row is a weighted sum of whole input rows, so the
 * inner loop runs along the row (contiguous, and vectorisable). */
static int pass_v(uint8_t *dst, const uint8_t *src, int64_t rowlen, const struct axis *a,
                  int64_t first_row, int out_h, struct triton_error *err)
{
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)rowlen);
    if (!acc)
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory resizing");
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
                    int out_w, struct triton_error *err)
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
        pass_h(hout, src, y1 - y0, y0, w, c, &ax, out_w);
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
                 enum image_filter filter, struct triton_error *err)
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
        rc = bilinear(dst, pm, v.h, v.w, c, (int)h, (int)w, err);
        free(pm);
        if (rc == 0)
            unpremultiply(dst, (size_t)(h * w), c);
    } else if (filter == IMAGE_BILINEAR) {
        rc = bilinear(dst, src, v.h, v.w, c, (int)h, (int)w, err);
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
