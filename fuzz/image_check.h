/*
 * image_check.h: what fuzz_jpeg.c and fuzz_png.c check on every input (static
 * functions, so that fuzz/support.c stays the transports' own).
 *   - a failure leaves a message starting "image: " (what the user reads);
 *   - a decoded image is UINT8 {H, W, C}, C = 1, 3 or 4, within the pixel limit;
 *   - small images then go through resize (both filters), crop, convert,
 *     preprocess and a PNG encode + decode that must give back the same bytes,
 *     so the operations' own loops meet odd shapes from the decoders; the
 *     bilinear resize runs on one thread and in bands on several (whatever
 *     the size), which must give the same bytes.
 */
#ifndef TRITON_FUZZ_IMAGE_CHECK_H
#define TRITON_FUZZ_IMAGE_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "support.h"

/* Low enough that a lying header costs milliseconds, high enough for real files. */
#define FUZZ_IMAGE_MAX_PIXELS ((int64_t)1 << 20)
/* Images up to this size also go through every operation. */
#define FUZZ_IMAGE_OPS_PIXELS 4096

/* Threads for every image, however small, with the split fixed whatever the
 * scheduler does, so that the banded paths are fuzzed every time. */
static const struct image_threads fuzz_image_threads = {
    .count = 3, .min_pixels = 0, .fixed_split = 1};

static void fuzz_check_same(const struct tensor *a, const struct tensor *b, const char *what)
{
    size_t n = (size_t)tensor_numel(a);
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof a->shape[0] * (size_t)a->ndim) ||
        memcmp(a->buf->data, b->buf->data, n) != 0)
        fuzz_fail("%s changed the image", what);
}

static void fuzz_check_message(const struct triton_error *err)
{
    if (strncmp(err->message, "image: ", 7) != 0)
        fuzz_fail("an image error without its prefix: %s", err->message);
}

static void fuzz_check_op(int rc, struct tensor *t, const struct triton_error *err)
{
    if (rc != 0)
        fuzz_fail("an operation failed on a decoded image: %s", err->message);
    fuzz_touch_tensor(t);
    tensor_release(t);
}

static void fuzz_check_png_roundtrip(const struct tensor *img)
{
    struct triton_error err = {0};
    void *png;
    size_t size;
    if (image_encode_png(img, &png, &size, &err) != 0)
        fuzz_fail("encoding a decoded image failed: %s", err.message);
    struct tensor back;
    if (image_decode_png(&back, png, size, 0, &err) != 0)
        fuzz_fail("our own PNG does not decode: %s", err.message);
    free(png);
    size_t n = (size_t)tensor_numel(img);
    if (tensor_numel(&back) != (int64_t)n || memcmp(back.buf->data, img->buf->data, n) != 0)
        fuzz_fail("a PNG round trip changed the image");
    tensor_release(&back);
}

static void fuzz_image_check(const struct tensor *img)
{
    if (img->dtype != TENSOR_UINT8 || img->ndim != 3 || img->shape[0] < 1 || img->shape[1] < 1)
        fuzz_fail("a decoded image is not UINT8 {H, W, C}");
    int64_t c = img->shape[2], pixels = img->shape[0] * img->shape[1];
    if ((c != 1 && c != 3 && c != 4) || pixels > FUZZ_IMAGE_MAX_PIXELS)
        fuzz_fail("a decoded image has %lld channels and %lld pixels", (long long)c,
                  (long long)pixels);
    fuzz_touch_tensor(img);
    if (pixels > FUZZ_IMAGE_OPS_PIXELS)
        return;
    struct triton_error err = {0};
    struct tensor t;
    int64_t h = img->shape[0], w = img->shape[1];
    struct tensor banded;
    if (image_resize(&t, img, h / 2 + 1, w * 2 + 1, IMAGE_BILINEAR, NULL, &err) != 0 ||
        image_resize(&banded, img, h / 2 + 1, w * 2 + 1, IMAGE_BILINEAR, &fuzz_image_threads,
                     &err) != 0)
        fuzz_fail("a resize failed on a decoded image: %s", err.message);
    fuzz_check_same(&t, &banded, "resizing in bands");
    tensor_release(&banded);
    fuzz_check_op(0, &t, &err);
    fuzz_check_op(image_resize(&t, img, h + 3, w / 3 + 1, IMAGE_NEAREST, NULL, &err), &t, &err);
    fuzz_check_op(image_crop(&t, img, h / 2, w / 3, h - h / 2, w - w / 3, &err), &t, &err);
    fuzz_check_op(image_convert(&t, img, 1, &err), &t, &err);
    struct image_preprocess_opts o = {.h = 5,
                                      .w = 3,
                                      .channels = 3,
                                      .dtype = TENSOR_FP16,
                                      .scaling = IMAGE_SCALING_INCEPTION,
                                      .layout = IMAGE_NCHW};
    fuzz_check_op(image_preprocess(&t, img, &o, &err), &t, &err);
    fuzz_check_png_roundtrip(img);
}

#endif
