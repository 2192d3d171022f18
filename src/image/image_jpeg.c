/*
 * image_jpeg.c: JPEG decoding with libjpeg-turbo, from memory.
 * libjpeg's default error handler calls exit(); ours keeps the first message and
 * longjmps back to image_decode_jpeg, which frees what was allocated. Settings
 * are libjpeg's defaults (islow DCT, fancy upsampling), which is what Pillow
 * decodes with, so both see the same pixels. Data that ends early is an error
 * (Pillow's "image file is truncated"); other libjpeg warnings are not, as in
 * Pillow. A progress hook stops files with more than IMAGE_MAX_JPEG_SCANS scans.
 *
 * Threads: a big baseline file may be decoded in two bands of rows. The calling
 * thread decodes from the top; a worker runs its own decompressor over the same
 * bytes, claims the bottom rows (how many depends on how far the top band has
 * come when the worker gets going: struct split), skips the rows above them
 * with jpeg_skip_scanlines (entropy decoding only, which libjpeg-turbo makes
 * give the same rows as a full decode) and writes its rows into the one image.
 * Each band keeps its own error and jump; the first failure in row order is
 * the one reported, and the worker is joined before anything is freed.
 * Progressive and multi-scan files decode on the calling thread.
 */
#include <pthread.h>
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

/* The rows' division between the calling thread (the top band) and the worker
 * (the bottom band), agreed under `lock`: the top band reserves one iMCU row
 * at a time and stops at `boundary`; the worker, once its own decompressor has
 * read the header, claims the rows from `boundary` on, chosen from how far the
 * top band has come, or nothing when it is `closed` (the top band reserved the
 * last row, or failed). So a worker that gets no CPU costs nothing but its
 * header: the top band then decodes every row itself. */
struct split {
    pthread_mutex_t lock;
    pthread_cond_t claimed; /* with fixed_split: signalled when closed is set */
    JDIMENSION unit, reserved, boundary;
    int closed, fixed_split;
};

/* Sets closed (under the lock) and wakes a top band waiting for it. */
static void split_close(struct split *sp)
{
    pthread_mutex_lock(&sp->lock);
    sp->closed = 1;
    pthread_cond_broadcast(&sp->claimed);
    pthread_mutex_unlock(&sp->lock);
}

/* A band's rows and the decompressor that decodes them. */
struct part {
    struct jpeg_decompress_struct d;
    struct jpeg_guard g;
    struct triton_error err; /* the worker's own (part 0 writes the caller's) */
    const void *data;
    size_t size;
    J_COLOR_SPACE space;
    uint8_t *px; /* the image's first row */
    size_t stride;
    JDIMENSION w, h;
    struct split *split; /* NULL: one band, all rows */
    int worker, claimed, failed;
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

/* Rows from the decompressor's next one up to `to`, into the image. */
static void read_rows(struct part *p, JDIMENSION to)
{
    struct jpeg_decompress_struct *d = &p->d;
    int cmyk = p->space == JCS_CMYK;
    if (cmyk && !p->g.cmyk_row && !(p->g.cmyk_row = malloc((size_t)p->w * 4))) {
        triton_fail(p->g.err, TRITON_NO_MEMORY, "image: out of memory decoding a JPEG");
        longjmp(p->g.jump, 1);
    }
    while (d->output_scanline < to) {
        uint8_t *dst = p->px + (size_t)d->output_scanline * p->stride;
        JSAMPROW row = cmyk ? p->g.cmyk_row : dst;
        jpeg_read_scanlines(d, &row, 1);
        if (cmyk)
            cmyk_to_rgb(dst, p->g.cmyk_row, p->w);
    }
}

/* The top band, on the calling thread (past jpeg_start_decompress): every row
 * when it decodes alone, else one iMCU row at a time until the boundary. */
static void decode_top(struct part *p)
{
    struct jpeg_decompress_struct *d = &p->d;
    struct split *sp = p->split;
    if (sp && sp->fixed_split) {
        pthread_mutex_lock(&sp->lock);
        while (!sp->closed)
            pthread_cond_wait(&sp->claimed, &sp->lock);
        pthread_mutex_unlock(&sp->lock);
    }
    while (sp && d->output_scanline < p->h) {
        pthread_mutex_lock(&sp->lock);
        JDIMENSION end = sp->boundary;
        if (d->output_scanline < end) {
            end = d->output_scanline + sp->unit < end ? d->output_scanline + sp->unit : end;
            sp->reserved = end;
            sp->closed |= end == p->h;
        }
        pthread_mutex_unlock(&sp->lock);
        if (d->output_scanline >= end)
            return; /* the worker has the rest */
        read_rows(p, end);
    }
    read_rows(p, p->h);
    jpeg_finish_decompress(d);
}

/* Where the worker's band starts when the top band has reserved rows up to r:
 * the top band has s - r rows left to decode, the worker s rows to skip (the
 * entropy decoder alone, about JPEG_ENTROPY_SHARE of a full row's time) and
 * h - s to decode, which take as long when s = (h + r) / (2 - e). */
#define JPEG_ENTROPY_SHARE 0.55
static JDIMENSION worker_start(JDIMENSION h, JDIMENSION r, JDIMENSION unit)
{
    JDIMENSION s = (JDIMENSION)((h + (double)r) / (2.0 - JPEG_ENTROPY_SHARE)) / unit * unit;
    return s > r ? s : r;
}

/* The worker: its own decompressor over the same bytes, a claim on the bottom
 * rows, then jpeg_skip_scanlines over the rows above them (no IDCT; the rows
 * that follow are the same as a full decode's) and its rows into the image. */
static void decode_bottom(struct part *p)
{
    struct jpeg_decompress_struct *d = &p->d;
    struct split *sp = p->split;
    part_open(p);
    jpeg_read_header(d, TRUE);
    d->out_color_space = p->space;
    jpeg_start_decompress(d);
    if (d->output_width != p->w || d->output_height != p->h)
        part_fail(p, "the header reads differently on a second pass");
    JDIMENSION from = p->h;
    pthread_mutex_lock(&sp->lock);
    if (!sp->closed) {
        from = worker_start(p->h, sp->reserved, sp->unit);
        if (from < p->h)
            sp->boundary = from;
        sp->closed = 1;
        pthread_cond_broadcast(&sp->claimed);
    }
    pthread_mutex_unlock(&sp->lock);
    if (from >= p->h)
        return;
    p->claimed = 1;
    if (jpeg_skip_scanlines(d, from) != from)
        part_fail(p, "rows above a band could not be skipped");
    read_rows(p, p->h);
    jpeg_finish_decompress(d);
}

static void part_run(void *arg)
{
    struct part *p = arg;
    if (setjmp(p->g.jump)) {
        p->failed = 1;
        if (p->split) /* the top band: no worker starts on a failed image; the
                       * worker: a top band waiting for its claim goes on */
            split_close(p->split);
        return;
    }
    if (p->worker)
        decode_bottom(p);
    else
        decode_top(p);
}

/* After jpeg_start_decompress on part 0: the rows, on one thread or two as
 * `threads` allows, and the first failure in row order. A worker's failure
 * counts only when it had claimed rows: before that, the top band decodes
 * them all, as it would alone. */
static int decode_bands(struct part *parts, const struct image_threads *threads,
                        struct triton_error *err)
{
    struct part *top = &parts[0], *bottom = &parts[1];
    struct jpeg_decompress_struct *d = &top->d;
    struct split sp = {.unit = (JDIMENSION)d->max_v_samp_factor * DCTSIZE,
                       .boundary = d->output_height,
                       .fixed_split = threads && threads->fixed_split};
    int n = 1;
    if (!jpeg_has_multiple_scans(d))
        n = image_threads_parts(threads, (int64_t)d->output_width * d->output_height,
                                d->output_height > sp.unit ? 2 : 1);
    if (n > 1) {
        pthread_mutex_init(&sp.lock, NULL);
        pthread_cond_init(&sp.claimed, NULL);
        top->split = &sp;
        part_init(bottom, &bottom->err);
        bottom->data = top->data;
        bottom->size = top->size;
        bottom->space = top->space;
        bottom->px = top->px;
        bottom->stride = top->stride;
        bottom->w = top->w;
        bottom->h = top->h;
        bottom->split = &sp;
        bottom->worker = 1;
    }
    image_threads_run(part_run, parts, sizeof parts[0], n);
    int rc = top->failed ? -1 : 0;
    int truncated = top->g.truncated;
    if (n > 1) {
        if (rc == 0 && bottom->claimed && bottom->failed)
            rc = triton_fail(err, bottom->err.code, "%s", bottom->err.message);
        truncated |= bottom->claimed && bottom->g.truncated;
        part_free(bottom);
        pthread_mutex_destroy(&sp.lock);
        pthread_cond_destroy(&sp.claimed);
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
}

int image_decode_jpeg(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                      const struct image_threads *threads, struct triton_error *err)
{
    struct part parts[2];
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
