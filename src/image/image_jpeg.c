/*
 * image_jpeg.c: JPEG decoding with libjpeg-turbo, from memory.
 * libjpeg's default error handler calls exit(); ours keeps the first message and
 * longjmps back to image_decode_jpeg, which frees what was allocated. Settings
 * are libjpeg's defaults (islow DCT, fancy upsampling), which is what Pillow
 * decodes with, so both see the same pixels. Data that ends early is an error
 * (Pillow's "image file is truncated"); other libjpeg warnings are not, as in
 * Pillow. A progress hook stops files with more than IMAGE_MAX_JPEG_SCANS scans.
 *
 * Threads: a big baseline file is decoded in bands of rows, each by its own
 * decompressor over the same bytes; a band below the first skips the rows
 * above it with jpeg_skip_scanlines (entropy decoding only, which libjpeg-turbo
 * makes give the same rows as a full decode) and writes its rows into the one
 * image. Every band keeps its own error and jump; the first failure in row
 * order is the one reported, and every thread is joined before anything is
 * freed. Progressive and multi-scan files decode on the calling thread.
 */
#include <math.h>
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

/* One band of rows [from, to) and the decompressor that decodes it. */
struct part {
    struct jpeg_decompress_struct d;
    struct jpeg_guard g;
    struct triton_error err; /* a worker's own (part 0 writes the caller's) */
    const void *data;
    size_t size;
    J_COLOR_SPACE space;
    uint8_t *px; /* the image's first row */
    size_t stride;
    JDIMENSION w, h, from, to;
    int started, failed;
};

static void part_init(struct part *p, struct triton_error *err)
{
    memset(p, 0, sizeof *p);
    p->g.err = err;
    p->d.err = jpeg_std_error(&p->g.mgr);
    p->g.mgr.error_exit = on_error;
    p->g.mgr.emit_message = on_message;
    p->g.progress.progress_monitor = on_progress;
}

static void part_open(struct part *p)
{
    jpeg_create_decompress(&p->d);
    p->d.progress = &p->g.progress;
    jpeg_mem_src(&p->d, p->data, (unsigned long)p->size);
}

static void part_free(struct part *p)
{
    jpeg_destroy_decompress(&p->d);
    free(p->g.cmyk_row);
}

static int is_cmyk(const struct jpeg_decompress_struct *d)
{
    return d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK;
}

static _Noreturn void part_fail(struct part *p, const char *what)
{
    triton_fail(p->g.err, TRITON_INVALID_ARGUMENT, "image: corrupt JPEG: %s", what);
    longjmp(p->g.jump, 1);
}

/* Decodes rows from..to-1 (into the image at px) with p's decompressor: past
 * jpeg_start_decompress when p->started, else from the start of the data (a
 * worker, on the same bytes); the rows above `from` are skipped, which runs
 * the entropy decoder over them but no IDCT. Returns, or longjmps. */
static void part_decode(struct part *p)
{
    struct jpeg_decompress_struct *d = &p->d;
    if (!p->started) {
        part_open(p);
        jpeg_read_header(d, TRUE);
        d->out_color_space = p->space;
        jpeg_start_decompress(d);
        if (d->output_width != p->w || d->output_height != p->h)
            part_fail(p, "the header reads differently on a second pass");
    }
    int cmyk = p->space == JCS_CMYK;
    if (cmyk && !(p->g.cmyk_row = malloc((size_t)p->w * 4))) {
        triton_fail(p->g.err, TRITON_NO_MEMORY, "image: out of memory decoding a JPEG");
        longjmp(p->g.jump, 1);
    }
    if (p->from > 0 && jpeg_skip_scanlines(d, p->from) != p->from)
        part_fail(p, "rows above a band could not be skipped");
    while (d->output_scanline < p->to) {
        uint8_t *dst = p->px + (size_t)d->output_scanline * p->stride;
        JSAMPROW row = cmyk ? p->g.cmyk_row : dst;
        jpeg_read_scanlines(d, &row, 1);
        if (cmyk)
            cmyk_to_rgb(dst, p->g.cmyk_row, p->w);
    }
    if (p->to == p->h)
        jpeg_finish_decompress(d);
}

static void part_run(void *arg)
{
    struct part *p = arg;
    if (setjmp(p->g.jump)) {
        p->failed = 1;
        return;
    }
    part_decode(p);
}

/* Where the bands start: band 0 decodes its rows, band k > 0 first runs the
 * entropy decoder over all rows above its own (about JPEG_ENTROPY_SHARE of a
 * full decode's time per row), so the bands shrink downwards to finish
 * together: band k ends at s(k + 1) = t + (1 - e) s(k), s(1) = t. Starts are
 * whole iMCU rows, where skipping is cheapest. Returns how many bands are left
 * (empty ones are dropped). */
#define JPEG_ENTROPY_SHARE 0.55
static int band_starts(JDIMENSION *start, int n, JDIMENSION h, JDIMENSION unit)
{
    double e = JPEG_ENTROPY_SHARE, t = e / (1.0 - pow(1.0 - e, n)), s = 0.0;
    int m = 1;
    start[0] = 0;
    for (int k = 1; k < n; k++) {
        s = t + (1.0 - e) * s;
        JDIMENSION at = (JDIMENSION)(s * h) / unit * unit;
        if (at > start[m - 1] && at < h)
            start[m++] = at;
    }
    start[m] = h;
    return m;
}

/* After jpeg_start_decompress on part 0: the bands, their decoding (on as many
 * threads as `threads` allows), and the first failure in row order. */
static int decode_bands(struct part *parts, const struct image_threads *threads,
                        struct triton_error *err)
{
    struct jpeg_decompress_struct *d = &parts[0].d;
    JDIMENSION unit = (JDIMENSION)d->max_v_samp_factor * DCTSIZE;
    int n = 1;
    if (!jpeg_has_multiple_scans(d)) {
        JDIMENSION rows = (d->output_height + unit - 1) / unit;
        n = image_threads_parts(threads, (int64_t)d->output_width * d->output_height,
                                rows < IMAGE_THREADS_MAX ? (int)rows : IMAGE_THREADS_MAX);
    }
    JDIMENSION start[IMAGE_THREADS_MAX + 1];
    n = band_starts(start, n < IMAGE_THREADS_MAX ? n : IMAGE_THREADS_MAX, d->output_height, unit);
    for (int i = 0; i < n; i++) {
        struct part *p = &parts[i];
        if (i > 0) {
            part_init(p, &p->err);
            p->data = parts[0].data;
            p->size = parts[0].size;
            p->space = parts[0].space;
            p->px = parts[0].px;
            p->stride = parts[0].stride;
            p->w = parts[0].w;
            p->h = parts[0].h;
        }
        p->from = start[i];
        p->to = start[i + 1];
    }
    image_threads_run(part_run, parts, sizeof parts[0], n);
    int rc = 0, truncated = 0;
    for (int i = 0; i < n; i++) {
        if (parts[i].failed && rc == 0) {
            if (i > 0)
                triton_fail(err, parts[i].err.code, "%s", parts[i].err.message);
            rc = -1;
        }
        truncated |= parts[i].g.truncated;
        if (i > 0)
            part_free(&parts[i]);
    }
    if (rc == 0 && truncated)
        rc = triton_fail(err, TRITON_INVALID_ARGUMENT,
                         "image: truncated JPEG: the data ends before the image does");
    return rc;
}

/* Part 0, on the calling thread: the header, the size check, the image. */
static void decode_start(struct part *p, struct tensor *out, int64_t max_pixels)
{
    struct jpeg_decompress_struct *d = &p->d;
    jpeg_read_header(d, TRUE);
    if (image_check_size("JPEG", d->image_width, d->image_height, max_pixels, p->g.err) != 0)
        longjmp(p->g.jump, 1);
    if (is_cmyk(d))
        p->space = JCS_CMYK;
    else if (d->num_components == 1)
        p->space = JCS_GRAYSCALE;
    else
        p->space = JCS_RGB;
    d->out_color_space = p->space;
    jpeg_start_decompress(d);
    int channels = is_cmyk(d) ? 3 : d->output_components;
    if (image_new_unfilled(out, d->output_height, d->output_width, channels, p->g.err) != 0)
        longjmp(p->g.jump, 1);
    p->px = out->buf->data;
    p->w = d->output_width;
    p->h = d->output_height;
    p->stride = (size_t)p->w * (size_t)channels;
    p->started = 1;
}

int image_decode_jpeg(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                      const struct image_threads *threads, struct triton_error *err)
{
    struct part parts[IMAGE_THREADS_MAX];
    memset(out, 0, sizeof *out);
    if (size > (unsigned long)-1)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "image: JPEG data too large");
    part_init(&parts[0], err);
    parts[0].data = data;
    parts[0].size = size;
    if (setjmp(parts[0].g.jump)) {
        part_free(&parts[0]);
        tensor_release(out);
        return -1;
    }
    part_open(&parts[0]);
    decode_start(&parts[0], out, max_pixels);
    int rc = decode_bands(parts, threads, err);
    part_free(&parts[0]);
    if (rc != 0)
        tensor_release(out);
    return rc;
}
