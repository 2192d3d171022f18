/*
 * image_jpeg.c: JPEG decoding with libjpeg-turbo, from memory.
 * libjpeg's default error handler calls exit(); ours keeps the first message and
 * longjmps back to image_decode_jpeg, which frees what was allocated. Settings
 * are libjpeg's defaults (islow DCT, fancy upsampling), which is what Pillow
 * decodes with, so both see the same pixels. Data that ends early is an error
 * (Pillow's "image file is truncated"); other libjpeg warnings are not, as in
 * Pillow. A progress hook stops files with more than IMAGE_MAX_JPEG_SCANS scans.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/image.h"

struct jpeg_guard {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
    jmp_buf jump;
    struct jpeg_progress_mgr progress;
    struct triton_error *err;
    uint8_t *cmyk_row; /* a CMYK scanline before conversion, when needed */
    int truncated;
};

static void on_error(j_common_ptr cinfo)
{
    struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    triton_fail(g->err, TRITON_INVALID_ARGUMENT, "image: corrupt JPEG: %s", text);
    longjmp(g->jump, 1);
}

/* level -1 is a warning about the data; higher levels are trace messages. */
static void on_message(j_common_ptr cinfo, int level)
{
    struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        g->truncated = 1;
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    struct jpeg_guard *g = (struct jpeg_guard *)cinfo->err;
    if (d->input_scan_number > IMAGE_MAX_JPEG_SCANS) {
        triton_fail(g->err, TRITON_INVALID_ARGUMENT,
                    "image: corrupt JPEG: more than %d progressive scans", IMAGE_MAX_JPEG_SCANS);
        longjmp(g->jump, 1);
    }
}

/* Pillow reads CMYK JPEGs with Adobe polarity (inverted) and converts them to
 * RGB as nk - nk * c' / 255 with c' = 255 - c and nk = k (MULDIV255 rounding). */
static void cmyk_to_rgb(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++, src += 4, dst += 3) {
        int nk = src[3];
        for (int ch = 0; ch < 3; ch++) {
            unsigned t = (unsigned)(255 - src[ch]) * (unsigned)nk + 128;
            int v = nk - (int)(((t >> 8) + t) >> 8);
            dst[ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* The decoding proper, between setjmp and the cleanup: returns 0 or longjmps. */
static void decode(struct jpeg_decompress_struct *d, struct jpeg_guard *g, struct tensor *out,
                   int64_t max_pixels)
{
    struct triton_error *err = g->err;
    jpeg_read_header(d, TRUE);
    if (image_check_size("JPEG", d->image_width, d->image_height, max_pixels, err) != 0)
        longjmp(g->jump, 1);
    int cmyk = d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
    if (cmyk)
        d->out_color_space = JCS_CMYK;
    else if (d->num_components == 1)
        d->out_color_space = JCS_GRAYSCALE;
    else
        d->out_color_space = JCS_RGB;
    jpeg_start_decompress(d);
    int channels = cmyk ? 3 : d->output_components;
    if (image_new_unfilled(out, d->output_height, d->output_width, channels, err) != 0)
        longjmp(g->jump, 1);
    size_t stride = (size_t)d->output_width * (size_t)channels;
    if (cmyk) {
        g->cmyk_row = malloc((size_t)d->output_width * 4);
        if (!g->cmyk_row) {
            triton_fail(err, TRITON_NO_MEMORY, "image: out of memory decoding a JPEG");
            longjmp(g->jump, 1);
        }
    }
    uint8_t *px = out->buf->data;
    while (d->output_scanline < d->output_height) {
        uint8_t *dst = px + (size_t)d->output_scanline * stride;
        JSAMPROW row = cmyk ? g->cmyk_row : dst;
        jpeg_read_scanlines(d, &row, 1);
        if (cmyk)
            cmyk_to_rgb(dst, g->cmyk_row, d->output_width);
    }
    jpeg_finish_decompress(d);
}

int image_decode_jpeg(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                      struct triton_error *err)
{
    struct jpeg_decompress_struct d;
    struct jpeg_guard g;
    memset(&g, 0, sizeof g);
    memset(out, 0, sizeof *out);
    g.err = err;
    d.err = jpeg_std_error(&g.mgr);
    g.mgr.error_exit = on_error;
    g.mgr.emit_message = on_message;
    g.progress.progress_monitor = on_progress;
    if (size > (unsigned long)-1)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "image: JPEG data too large");
    if (setjmp(g.jump)) {
        jpeg_destroy_decompress(&d);
        free(g.cmyk_row);
        tensor_release(out);
        return -1;
    }
    jpeg_create_decompress(&d);
    d.progress = &g.progress;
    jpeg_mem_src(&d, data, (unsigned long)size);
    decode(&d, &g, out, max_pixels);
    jpeg_destroy_decompress(&d);
    free(g.cmyk_row);
    if (g.truncated) {
        tensor_release(out);
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: truncated JPEG: the data ends before the image does");
    }
    return 0;
}
