/*
 * image.h: images in plain C (no Lua): JPEG and PNG decoding, PNG encoding,
 * resizing, cropping, colour conversion and the preprocessing that Triton's
 * image_client.py does before it sends an image to a classification model.
 *
 * An image is a UINT8 tensor {H, W, C} (C = 1 grey, 3 RGB, 4 RGBA; functions
 * that take an image also accept {H, W} as C = 1, and any strides). The
 * numbers follow Pillow's definitions (Image.resize with BILINEAR or NEAREST,
 * Image.convert to "L" or "RGB"), so that a model sees the same tensor as it
 * does from NVIDIA's Python client; docs/API.md, "Images", lists the rules.
 *
 * Hostile input: the decoders read the image's size from its header and refuse
 * it before allocating anything when width * height is over max_pixels
 * (IMAGE_MAX_PIXELS unless the caller asks for less), and every libjpeg/libpng
 * error returns through setjmp/longjmp to a clean exit with nothing leaked.
 * Every fallible function returns 0 on success and -1 with err filled.
 */
#ifndef TRITON_IMAGE_H
#define TRITON_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tensor/tensor.h"

/* Pillow's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS): 1 GiB of
 * 24-bit pixels. A header that claims more is refused before any allocation. */
#define IMAGE_MAX_PIXELS ((int64_t)89478485)
/* Widest or tallest image accepted (JPEG itself stops at 65500). */
#define IMAGE_MAX_SIDE 65535
/* Progressive JPEG scans read before the data is called corrupt: a valid file
 * has a few dozen at most, a hostile one can repeat tiny scans for minutes. */
#define IMAGE_MAX_JPEG_SCANS 500

/* ---- threads ------------------------------------------------------------------- */

/* How an operation may share its work with other threads: up to `count` in all
 * (<= 1: the calling thread alone), on images of at least min_pixels pixels
 * (< 0: IMAGE_THREADS_MIN_PIXELS; the input's pixels for decoding and resizing).
 * A NULL pointer means the calling thread alone. Results are the same bit for
 * bit however many threads run. What uses them: image_decode_jpeg for baseline
 * (not progressive) files, two threads at most, and the horizontal pass of a
 * bilinear resize. */
struct image_threads {
    int count;
    int64_t min_pixels;
    /* For tests and fuzzing: where the work is split must not depend on the
     * scheduler (the JPEG decoder's top band waits for the worker's claim). */
    int fixed_split;
};
/* Below this many pixels, starting a thread costs about what it saves. */
#define IMAGE_THREADS_MIN_PIXELS ((int64_t)1 << 18)
/* Most threads one operation uses. */
#define IMAGE_THREADS_MAX 8

/* How many parts to cut an operation on `pixels` pixels into (1 to max_parts). */
int image_threads_parts(const struct image_threads *t, int64_t pixels, int max_parts);
/* Runs fn on each of the n parts (an array of n elements of part_size bytes):
 * part 0 on the calling thread, the others on threads joined before returning;
 * a part whose thread cannot start runs on the calling thread before part 0. */
void image_threads_run(void (*fn)(void *part), void *parts, size_t part_size, int n);

/* ---- decoding ------------------------------------------------------------------ */

/* JPEG or PNG (told by the signature) into a new contiguous image.
 *   JPEG: grey -> C = 1; YCbCr/RGB -> 3; CMYK and YCCK -> 3, converted to RGB
 *         as Pillow converts its "CMYK" images (Adobe polarity); progressive
 *         files are decoded. Data that ends early is an error.
 *   PNG:  grey (1, 2, 4, 8 bit) -> 1; grey + alpha -> 4 (grey copied into R, G, B);
 *         RGB -> 3; RGBA -> 4; palette -> 3, or 4 when it has transparency;
 *         16-bit samples keep their high byte; interlaced files are decoded.
 * max_pixels <= 0 means IMAGE_MAX_PIXELS. threads: see above (PNG decodes on
 * the calling thread). */
int image_decode(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                 const struct image_threads *threads, struct triton_error *err);
int image_decode_jpeg(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                      const struct image_threads *threads, struct triton_error *err);
int image_decode_png(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                     struct triton_error *err);
/* The check both decoders make on the header, before allocating: one message. */
int image_check_size(const char *format, uint64_t width, uint64_t height, int64_t max_pixels,
                     struct triton_error *err);

/* ---- encoding ------------------------------------------------------------------ */

/* A PNG of img (C = 1, 2, 3 or 4: grey, grey + alpha, RGB, RGBA) in *data
 * (malloc'd, the caller frees it) of *size bytes. */
int image_encode_png(const struct tensor *img, void **data, size_t *size, struct triton_error *err);

/* ---- pixels -------------------------------------------------------------------- */

/* A contiguous image's geometry and bytes, as every operation below reads it. */
struct image_view {
    const uint8_t *px;
    int64_t h, w, c;
};
/* Checks that t is an image ({H, W} or {H, W, C}, UINT8, H, W, C >= 1) and
 * points v at contiguous bytes: t's own when t is contiguous, else a copy made
 * in *tmp (which the caller releases with tensor_release either way). */
int image_view(struct image_view *v, const struct tensor *t, struct tensor *tmp,
               struct triton_error *err);
/* A new contiguous image {h, w, c}, zero-filled. */
int image_new(struct tensor *out, int64_t h, int64_t w, int64_t c, struct triton_error *err);
/* The same, not zero-filled: only for a caller that writes every byte before
 * anyone can read it (the decoders, which free it on any error). */
int image_new_unfilled(struct tensor *out, int64_t h, int64_t w, int64_t c,
                       struct triton_error *err);

enum image_filter { IMAGE_BILINEAR, IMAGE_NEAREST };
/* The filter named "bilinear" or "nearest"; -1 otherwise. */
int image_filter_from_name(const char *name);

/* img resized to h x w. BILINEAR is Pillow's: a triangle filter whose support
 * widens by the scale factor when shrinking (antialiasing), fixed-point with 22
 * fractional bits, horizontal pass first; with C = 2 or 4 the colour channels
 * are premultiplied by the last (alpha) channel around it, as Pillow does. */
int image_resize(struct tensor *out, const struct tensor *img, int64_t h, int64_t w,
                 enum image_filter filter, const struct image_threads *threads,
                 struct triton_error *err);
/* Rows top..top+h-1, columns left..left+w-1 (0-based) of img, as a new image;
 * the box must lie inside img. */
int image_crop(struct tensor *out, const struct tensor *img, int64_t top, int64_t left, int64_t h,
               int64_t w, struct triton_error *err);
/* img as grey (channels 1, Pillow's "L": ITU-R 601-2 luma, (19595 R + 38470 G +
 * 7471 B + 32768) >> 16) or RGB (channels 3: grey replicated, alpha dropped). */
int image_convert(struct tensor *out, const struct tensor *img, int channels,
                  struct triton_error *err);

/* ---- preprocessing ------------------------------------------------------------- */

enum image_scaling { IMAGE_SCALING_NONE, IMAGE_SCALING_INCEPTION, IMAGE_SCALING_VGG };
enum image_layout { IMAGE_NCHW, IMAGE_NHWC };

struct image_preprocess_opts {
    int64_t h, w;
    int channels; /* 1 or 3 */
    enum tensor_dtype dtype;
    enum image_scaling scaling;
    enum image_layout layout;
    struct image_threads threads; /* for the resize */
};

/* Names -> values; -1 for an unknown name (the binding says what was expected). */
int image_scaling_from_name(const char *name);
int image_layout_from_name(const char *name);

/* image_client.py's preprocess: convert to L or RGB, bilinear resize, cast to
 * dtype, scale (NONE; INCEPTION x / 127.5 - 1; VGG x - (123, 117, 104), or 128
 * for grey), and lay out as {C, H, W} or {H, W, C}. Arithmetic is done in the
 * output dtype, one rounding per step, as numpy does it: float dtypes round each
 * step, integer dtypes wrap; INCEPTION needs a float dtype. */
int image_preprocess(struct tensor *out, const struct tensor *img,
                     const struct image_preprocess_opts *opts, struct triton_error *err);

#endif
