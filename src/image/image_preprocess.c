/*
 * image_preprocess.c: image_client.py's preprocess in C.
 *   sample = img.convert("L" if c == 1 else "RGB")
 *   resized = np.array(sample.resize((w, h), Image.BILINEAR))
 *   typed = resized.astype(dtype)
 *   INCEPTION: typed / 127.5 - 1     VGG: typed - (123, 117, 104) (or 128)
 *   NCHW: transposed to {C, H, W}
 * numpy does each step in the dtype of `typed`: a float dtype rounds after each
 * operation (FP16 through float32, as numpy does), an integer dtype wraps.
 */
#include <string.h>

#include "image/image.h"

int image_scaling_from_name(const char *name)
{
    if (strcmp(name, "NONE") == 0)
        return IMAGE_SCALING_NONE;
    if (strcmp(name, "INCEPTION") == 0)
        return IMAGE_SCALING_INCEPTION;
    if (strcmp(name, "VGG") == 0)
        return IMAGE_SCALING_VGG;
    return -1;
}

int image_layout_from_name(const char *name)
{
    if (strcmp(name, "NCHW") == 0)
        return IMAGE_NCHW;
    if (strcmp(name, "NHWC") == 0)
        return IMAGE_NHWC;
    return -1;
}

static const int vgg_rgb[3] = {123, 117, 104};
static const int vgg_grey = 128;

static int is_float(enum tensor_dtype dt)
{
    return dt == TENSOR_FP16 || dt == TENSOR_BF16 || dt == TENSOR_FP32 || dt == TENSOR_FP64;
}

/* x rounded to dt, as a double (exact for every float dtype). */
static double round_to(enum tensor_dtype dt, double x)
{
    switch (dt) {
    case TENSOR_FP16:
        return tensor_f16_to_f32(tensor_f32_to_f16((float)x));
    case TENSOR_BF16:
        return tensor_bf16_to_f32(tensor_f32_to_bf16((float)x));
    case TENSOR_FP32:
        return (float)x;
    default:
        return x;
    }
}

/* The value of one pixel channel after casting and scaling, per dtype class. */
static double scaled_float(enum tensor_dtype dt, enum image_scaling s, int v, int mean)
{
    if (s == IMAGE_SCALING_INCEPTION) {
        /* FP16/BF16 steps go through float32, as numpy's half arithmetic does */
        double q = dt == TENSOR_FP64 ? v / 127.5 : (double)((float)v / 127.5f);
        q = round_to(dt, q);
        return round_to(dt, dt == TENSOR_FP64 ? q - 1.0 : (double)((float)q - 1.0f));
    }
    if (s == IMAGE_SCALING_VGG)
        return round_to(dt, (double)(v - mean));
    return v;
}

/* FP32 with INCEPTION or NONE, the common case, without the per-element switch. */
static void fill_fp32(float *dst, const uint8_t *px, int64_t hw, int c, enum image_scaling s,
                      enum image_layout layout)
{
    float table[3][256];
    for (int ch = 0; ch < c; ch++)
        for (int v = 0; v < 256; v++)
            table[ch][v] = (float)scaled_float(TENSOR_FP32, s, v, c == 1 ? vgg_grey : vgg_rgb[ch]);
    if (layout == IMAGE_NHWC) {
        for (int64_t i = 0; i < hw * c; i++)
            dst[i] = table[i % c][px[i]];
        return;
    }
    for (int ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < hw; i++)
            dst[ch * hw + i] = table[ch][px[i * c + ch]];
}

static void fill(struct tensor *out, const uint8_t *px, int64_t hw, int c,
                 const struct image_preprocess_opts *o)
{
    enum tensor_dtype dt = o->dtype;
    if (dt == TENSOR_FP32) {
        fill_fp32(out->buf->data, px, hw, c, o->scaling, o->layout);
        return;
    }
    size_t esize = tensor_dtype_elem_size(dt);
    char *dst = out->buf->data;
    for (int ch = 0; ch < c; ch++) {
        int mean = o->scaling == IMAGE_SCALING_VGG ? (c == 1 ? vgg_grey : vgg_rgb[ch]) : 0;
        for (int64_t i = 0; i < hw; i++) {
            int64_t at = o->layout == IMAGE_NCHW ? ch * hw + i : i * c + ch;
            int v = px[i * c + ch];
            if (is_float(dt))
                tensor_set_f64(dt, dst + (size_t)at * esize, scaled_float(dt, o->scaling, v, mean));
            else
                tensor_set_i64(dt, dst + (size_t)at * esize, (int64_t)v - mean);
        }
    }
}

int image_preprocess(struct tensor *out, const struct tensor *img,
                     const struct image_preprocess_opts *o, struct triton_error *err)
{
    if (o->channels != 1 && o->channels != 3)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: preprocess makes 1 channel (L) or 3 (RGB), not %d", o->channels);
    if (o->dtype == TENSOR_BOOL || o->dtype == TENSOR_BYTES || o->dtype == TENSOR_INVALID)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: preprocess needs a numeric dtype, not %s",
                           o->dtype == TENSOR_INVALID ? "none" : tensor_dtype_name(o->dtype));
    if (o->scaling == IMAGE_SCALING_INCEPTION && !is_float(o->dtype))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: INCEPTION scaling needs a float dtype, not %s",
                           tensor_dtype_name(o->dtype));
    struct tensor conv = {0}, sized = {0};
    const struct tensor *src = img;
    int rc = -1;
    int64_t c_in = img->ndim == 3 ? img->shape[2] : 1;
    if (img->ndim < 2 || img->ndim > 3 || c_in != o->channels) {
        if (image_convert(&conv, img, o->channels, err) != 0)
            goto done;
        src = &conv;
    }
    if (image_resize(&sized, src, o->h, o->w, IMAGE_BILINEAR, &o->threads, err) != 0)
        goto done;
    int64_t c = o->channels, hw = o->h * o->w;
    int64_t shape[3];
    if (o->layout == IMAGE_NCHW) {
        shape[0] = c, shape[1] = o->h, shape[2] = o->w;
    } else {
        shape[0] = o->h, shape[1] = o->w, shape[2] = c;
    }
    if (tensor_init(out, o->dtype, shape, 3, err) != 0)
        goto done;
    fill(out, sized.buf->data, hw, (int)c, o);
    rc = 0;
done:
    tensor_release(&conv);
    tensor_release(&sized);
    return rc;
}
