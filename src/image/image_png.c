/*
 * image_png.c: PNG decoding and encoding with libpng, from and to memory.
 * libpng reports errors by longjmp to the setjmp of its png_struct; both
 * directions keep the first message and free what they allocated. The decoder
 * asks libpng to expand every colour type to 8-bit grey, RGB or RGBA (see
 * image.h) and checks the header's size against the pixel limit before it
 * allocates the image.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image/image.h"

struct png_io {
    const uint8_t *data;
    size_t size, pos;
    struct triton_error *err;
    png_bytep *rows;
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_io *io = png_get_error_ptr(png);
    triton_fail(io->err, TRITON_INVALID_ARGUMENT, "image: corrupt PNG: %s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    struct png_io *io = png_get_io_ptr(png);
    if (n > io->size - io->pos) {
        triton_fail(io->err, TRITON_INVALID_ARGUMENT,
                    "image: truncated PNG: the data ends before the image does");
        png_longjmp(png, 1);
    }
    memcpy(dst, io->data + io->pos, n);
    io->pos += n;
}

/* Every ancillary chunk but tRNS is skipped unread (libpng reads past it in
 * small pieces). Kept, libpng would allocate what a text or profile chunk
 * claims (up to 2 GiB for a 100-byte file) before finding the data missing. */
static void ignore_ancillary(png_structp png)
{
    static const png_byte chunks[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0"
                                     "pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, chunks, (int)(sizeof chunks / 5));
}

/* Reads the header, sets up the expansions, returns the channels of the result. */
static int read_header(png_structp png, png_infop info)
{
    png_read_info(png, info);
    int type = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16)
        png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS))
            png_set_tRNS_to_alpha(png);
    } else if (type == PNG_COLOR_TYPE_GRAY) {
        png_set_expand_gray_1_2_4_to_8(png);
    } else if (type == PNG_COLOR_TYPE_GRAY_ALPHA) {
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    return png_get_channels(png, info);
}

static void decode(png_structp png, png_infop info, struct png_io *io, struct tensor *out,
                   int64_t max_pixels)
{
    int channels = read_header(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (image_check_size("PNG", w, h, max_pixels, io->err) != 0)
        png_longjmp(png, 1);
    if (channels != 1 && channels != 3 && channels != 4) {
        triton_fail(io->err, TRITON_INVALID_ARGUMENT, "image: PNG decodes to %d channels",
                    channels);
        png_longjmp(png, 1);
    }
    if (image_new_unfilled(out, h, w, channels, io->err) != 0)
        png_longjmp(png, 1);
    io->rows = malloc(sizeof *io->rows * h);
    if (!io->rows) {
        triton_fail(io->err, TRITON_NO_MEMORY, "image: out of memory decoding a PNG");
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < h; y++)
        io->rows[y] = (png_bytep)out->buf->data + (size_t)y * w * (size_t)channels;
    png_read_image(png, io->rows);
}

int image_decode_png(struct tensor *out, const void *data, size_t size, int64_t max_pixels,
                     struct triton_error *err)
{
    struct png_io io = {.data = data, .size = size, .err = err};
    memset(out, 0, sizeof *out);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory starting a PNG decoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(io.rows);
        tensor_release(out);
        return -1;
    }
    png_set_read_fn(png, &io, on_read);
    png_set_user_limits(png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
    ignore_ancillary(png);
    decode(png, info, &io, out, max_pixels);
    png_destroy_read_struct(&png, &info, NULL);
    free(io.rows);
    return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

struct png_sink {
    uint8_t *data;
    size_t size, cap;
    struct triton_error *err;
};

static void on_write(png_structp png, png_bytep src, size_t n)
{
    struct png_sink *s = png_get_io_ptr(png);
    if (n > s->cap - s->size) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap - s->size < n) {
            if (cap > SIZE_MAX / 2) {
                triton_fail(s->err, TRITON_NO_MEMORY, "image: PNG too large to encode");
                png_longjmp(png, 1);
            }
            cap *= 2;
        }
        uint8_t *p = realloc(s->data, cap);
        if (!p) {
            triton_fail(s->err, TRITON_NO_MEMORY, "image: out of memory encoding a PNG");
            png_longjmp(png, 1);
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->size, src, n);
    s->size += n;
}

static void on_flush(png_structp png)
{
}

static void on_encode_error(png_structp png, png_const_charp msg)
{
    struct png_sink *s = png_get_error_ptr(png);
    triton_fail(s->err, TRITON_INTERNAL, "image: PNG encoding failed: %s", msg);
    png_longjmp(png, 1);
}

int image_encode_png(const struct tensor *img, void **data, size_t *size, struct triton_error *err)
{
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    struct tensor tmp;
    struct image_view v;
    if (image_view(&v, img, &tmp, err) != 0)
        return -1;
    if (v.c > 4 || v.h > IMAGE_MAX_SIDE || v.w > IMAGE_MAX_SIDE) {
        tensor_release(&tmp);
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "image: PNG holds up to %d x %d pixels of 1 to 4 channels, not "
                           "%lldx%lldx%lld",
                           IMAGE_MAX_SIDE, IMAGE_MAX_SIDE, (long long)v.h, (long long)v.w,
                           (long long)v.c);
    }
    struct png_sink s = {.err = err};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, on_encode_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        tensor_release(&tmp);
        return triton_fail(err, TRITON_NO_MEMORY, "image: out of memory starting a PNG encoder");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(s.data);
        tensor_release(&tmp);
        return -1;
    }
    png_set_write_fn(png, &s, on_write, on_flush);
    png_set_IHDR(png, info, (png_uint_32)v.w, (png_uint_32)v.h, 8, types[v.c], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < v.h; y++)
        png_write_row(png, v.px + (size_t)(y * v.w * v.c));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    tensor_release(&tmp);
    *data = s.data;
    *size = s.size;
    return 0;
}
