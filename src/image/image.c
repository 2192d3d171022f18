/*
 * image.c: what every image operation shares (telling formats apart, the size
 * limit, reading a tensor as pixels), plus crop and colour conversion.
 * Conversions are Pillow's (Convert.c): "L" from RGB is the ITU-R 601-2 luma in
 * 16.16 fixed point, "RGB" from grey replicates it, alpha is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int image_decode(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                 const struct image_threads *threads, struct triton_error *err)
{
    const uint8_t *p = data;
    if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return image_decode_jpeg(out, data, size, max_pixels, threads, err);
    if (size >= sizeof png_signature && memcmp(p, png_signature, sizeof png_signature) == 0)
        return image_decode_png(out, data, size, max_pixels, err);
    if (size == 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "image: no data (0 bytes)");
    return triton_fail(err, TRITON_INVALID_ARGUMENT,
                       "image: not a JPEG or PNG (the first bytes are neither signature)");
}

int image_check_size(const char *format, uint64_t width, uint64_t height, int64_t max_pixels,
                     struct triton_error *err)
{
    if (max_pixels <= 0)
        max_pixels = IMAGE_MAX_PIXELS;
    if (width == 0 || height == 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "image: %s header claims %llux%llu pixels",
                           format, (unsigned long long)width, (unsigned long long)height);
    if (width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE || width * height > (uint64_t)max_pixels)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: %s header claims %llux%llu pixels, over the limit of %lld",
                           format, (unsigned long long)width, (unsigned long long)height,
                           (long long)max_pixels);
    return 0;
}

int image_new(struct tensor *out, int64_t h, int64_t w, int64_t c, struct triton_error *err)
{
    int64_t shape[3] = {h, w, c};
    return tensor_init(out, TENSOR_UINT8, shape, 3, err);
}

static void release_pixels(void *ctx, void *data)
{
    free(data);
}

int image_new_unfilled(struct tensor *out, int64_t h, int64_t w, int64_t c,
                       struct triton_error *err)
{
    int64_t shape[3] = {h, w, c};
    if (tensor_check_shape(shape, 3, TENSOR_UINT8, err) != 0)
        return -1;
    size_t size = (size_t)(h * w * c);
    void *px = malloc(size);
    struct tensor_buffer *b = px ? tensor_buffer_wrap(px, size, release_pixels, NULL, err) : NULL;
    if (!b) {
        free(px);
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory for %lldx%lldx%lld pixels",
                           (long long)h, (long long)w, (long long)c);
    }
    memset(out, 0, sizeof *out);
    out->dtype = TENSOR_UINT8;
    out->ndim = 3;
    memcpy(out->shape, shape, sizeof shape);
    tensor_contiguous_strides(shape, 3, out->strides);
    out->buf = b;
    return 0;
}

int image_view(struct image_view *v, const struct tensor *t, struct tensor *tmp,
               struct triton_error *err)
{
    memset(tmp, 0, sizeof *tmp);
    if (t->dtype != TENSOR_UINT8)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "image: expected a UINT8 tensor, got %s",
                           tensor_dtype_name(t->dtype));
    if (t->ndim != 2 && t->ndim != 3)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: expected a tensor {H, W, C} or {H, W}, got %d dimensions",
                           t->ndim);
    v->h = t->shape[0];
    v->w = t->shape[1];
    v->c = t->ndim == 3 ? t->shape[2] : 1;
    if (v->h < 1 || v->w < 1 || v->c < 1)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: expected at least one pixel and one channel, got %lldx%lldx%lld",
                           (long long)v->h, (long long)v->w, (long long)v->c);
    const struct tensor *src = t;
    if (!tensor_is_contiguous(t)) {
        if (tensor_astype(tmp, t, TENSOR_UINT8, err) != 0)
            return -1;
        src = tmp;
    }
    v->px = (const uint8_t *)src->buf->data + src->offset;
    return 0;
}

int image_filter_from_name(const char *name)
{
    if (strcmp(name, "bilinear") == 0)
        return IMAGE_BILINEAR;
    if (strcmp(name, "nearest") == 0)
        return IMAGE_NEAREST;
    return -1;
}

int image_crop(struct tensor *out, const struct tensor *img, int64_t top, int64_t left, int64_t h,
               int64_t w, struct triton_error *err)
{
    struct tensor tmp;
    struct image_view v;
    if (image_view(&v, img, &tmp, err) != 0)
        return -1;
    int rc = -1;
    if (top < 0 || left < 0 || h < 1 || w < 1 || top > v.h - h || left > v.w - w) {
        triton_fail(err, TRITON_OUT_OF_RANGE,
                    "image: crop box %lldx%lld at row %lld, column %lld does not lie inside the "
                    "%lldx%lld image",
                    (long long)h, (long long)w, (long long)top, (long long)left, (long long)v.h,
                    (long long)v.w);
        goto done;
    }
    if (image_new(out, h, w, v.c, err) != 0)
        goto done;
    uint8_t *dst = out->buf->data;
    size_t row = (size_t)(w * v.c);
    for (int64_t y = 0; y < h; y++)
        memcpy(dst + (size_t)y * row, v.px + ((size_t)(top + y) * v.w + left) * v.c, row);
    rc = 0;
done:
    tensor_release(&tmp);
    return rc;
}

/* Pillow's L24 luma: (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
static inline uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

static void to_grey(uint8_t *dst, const struct image_view *v)
{
    size_t n = (size_t)(v->h * v->w);
    if (v->c < 3) { /* grey, or grey + alpha: keep the grey */
        for (size_t i = 0; i < n; i++)
            dst[i] = v->px[i * v->c];
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = luma(v->px + i * v->c);
}

static void to_rgb(uint8_t *dst, const struct image_view *v)
{
    size_t n = (size_t)(v->h * v->w);
    if (v->c < 3) {
        for (size_t i = 0; i < n; i++)
            memset(dst + 3 * i, v->px[i * v->c], 3);
        return;
    }
    if (v->c == 3) {
        memcpy(dst, v->px, 3 * n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(dst + 3 * i, v->px + i * v->c, 3);
}

int image_convert(struct tensor *out, const struct tensor *img, int channels,
                  struct triton_error *err)
{
    if (channels != 1 && channels != 3)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: can convert to 1 channel (L) or 3 (RGB), not %d", channels);
    struct tensor tmp;
    struct image_view v;
    if (image_view(&v, img, &tmp, err) != 0)
        return -1;
    int rc = image_new(out, v.h, v.w, channels, err);
    if (rc == 0) {
        if (channels == 1)
            to_grey(out->buf->data, &v);
        else
            to_rgb(out->buf->data, &v);
    }
    tensor_release(&tmp);
    return rc;
}
