/*
 * limage.c: triton.image, the binding over src/image (decode, load, resize,
 * crop, convert, preprocess, encode). Images are UINT8 tensors {H, W, C}.
 * Argument mistakes raise Lua argument errors naming the argument; a corrupt
 * or oversized image, a file that cannot be read, or an operation the image
 * does not allow raises a triton.Error (code "invalid_argument" for bad data)
 * whose message says what is wrong. triton.image.threads (a module field the
 * user may set) is read at each decode, load, resize and preprocess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/image.h"
#include "lua/lclient.h"
#include "lua/lcore.h"
#include "lua/ltensor.h"

#define LIMAGE_BOX_MT "triton.image.buffer"

/* Raises err as a triton.Error, after the caller has freed what it held. */
static int limage_raise(lua_State *L, const struct triton_error *err)
{
    return lerror_raise(L, err, LERROR_LOCAL);
}

/* Pushes a finished tensor (taking over t) as a new userdata. */
static void push_tensor(lua_State *L, struct tensor *t)
{
    struct tensor *u = ltensor_push(L);
    *u = *t;
    ltensor_track(L, u);
}

/* Rejects keys of the options table at idx that are not in names. */
static void check_keys(lua_State *L, int idx, const char *what, const char *const *names)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (const char *const *n = names; *n && !known; n++)
                known = strcmp(lua_tostring(L, -1), *n) == 0;
        if (!known)
            luaL_error(L, "unknown option '%s' in %s options", luaL_tolstring(L, -1, NULL), what);
    }
}

/* opts.max_pixels at idx (an optional table), or 0 for the default limit. */
static int64_t check_decode_opts(lua_State *L, int idx)
{
    static const char *const names[] = {"max_pixels", NULL};
    if (lua_isnoneornil(L, idx))
        return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    check_keys(L, idx, "decode", names);
    lua_getfield(L, idx, "max_pixels");
    int ok = 1;
    lua_Integer n = lua_isnil(L, -1) ? 0 : lua_tointegerx(L, -1, &ok);
    if (!ok || (!lua_isnil(L, -1) && n < 1) || n > IMAGE_MAX_PIXELS)
        luaL_argerror(L, idx,
                      lua_pushfstring(L, "max_pixels must be an integer from 1 to %I",
                                      (lua_Integer)IMAGE_MAX_PIXELS));
    lua_pop(L, 1);
    return n;
}

/* triton.image.threads, read at every call that can use threads (the module
 * table is each function's upvalue): an integer from 1 to IMAGE_THREADS_MAX. */
static struct image_threads check_threads(lua_State *L)
{
    lua_getfield(L, lua_upvalueindex(1), "threads");
    int ok;
    lua_Integer n = lua_tointegerx(L, -1, &ok);
    if (!ok || n < 1 || n > IMAGE_THREADS_MAX)
        luaL_error(L, "triton.image.threads must be an integer from 1 to %d, got %s",
                   IMAGE_THREADS_MAX, luaL_tolstring(L, -1, NULL));
    lua_pop(L, 1);
    return (struct image_threads){.count = (int)n, .min_pixels = IMAGE_THREADS_MIN_PIXELS};
}

/* The default of triton.image.threads: the online CPUs, at most 4. */
static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 4 ? 4 : (int)n;
}

static int decode_to_lua(lua_State *L, const void *data, size_t size, int64_t max_pixels)
{
    struct image_threads threads = check_threads(L);
    struct tensor t;
    struct triton_error err = {0};
    if (image_decode(&t, data, size, max_pixels, &threads, &err) != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* triton.image.decode(bytes [, {max_pixels=}]) */
static int l_decode(lua_State *L)
{
    size_t size;
    const char *data = luaL_checklstring(L, 1, &size);
    return decode_to_lua(L, data, size, check_decode_opts(L, 2));
}

/* The whole file at path in a new malloc'd block, or NULL with err set. A file
 * larger than any image the limit allows at 8 bytes a pixel is refused unread. */
static char *read_file(const char *path, size_t *size, struct triton_error *err)
{
    const long max = (long)IMAGE_MAX_PIXELS * 8;
    FILE *f = fopen(path, "rb");
    if (!f) {
        triton_fail(err, errno == ENOENT ? TRITON_NOT_FOUND : TRITON_INVALID_ARGUMENT,
                    "image: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *data = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        triton_fail(err, TRITON_INVALID_ARGUMENT, "image: cannot read %s: not a regular file",
                    path);
    else if (n > max)
        triton_fail(err, TRITON_INVALID_ARGUMENT, "image: %s has %ld bytes, over the limit of %ld",
                    path, n, max);
    else if (!(data = malloc(n ? (size_t)n : 1)))
        triton_fail(err, TRITON_NO_MEMORY, "image: out of memory reading %s", path);
    else if (fread(data, 1, (size_t)n, f) != (size_t)n) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "image: cannot read %s: %s", path,
                    ferror(f) ? strerror(errno) : "it shrank while being read");
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

/* triton.image.load(path [, {max_pixels=}]) */
static int l_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int64_t max_pixels = check_decode_opts(L, 2);
    struct image_threads threads = check_threads(L);
    struct triton_error err = {0};
    size_t size;
    char *data = read_file(path, &size, &err);
    if (!data)
        return limage_raise(L, &err);
    struct tensor t;
    int rc = image_decode(&t, data, size, max_pixels, &threads, &err);
    free(data);
    if (rc != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* n integers >= lo from the sequence at idx; errors name argument arg and `what`. */
static void check_ints(lua_State *L, int idx, int arg, int n, int64_t lo, const char *what,
                       int64_t *out)
{
    if (lua_type(L, idx) != LUA_TTABLE || luaL_len(L, idx) != n)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected %s, %d integers", what, n));
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < lo)
            luaL_argerror(L, arg,
                          lua_pushfstring(L, "expected %s: item %d must be an integer >= %I", what,
                                          i + 1, (lua_Integer)lo));
        out[i] = v;
        lua_pop(L, 1);
    }
}

/* triton.image.resize(img, {h, w} [, "bilinear" | "nearest"]) */
static int l_resize(lua_State *L)
{
    struct tensor *img = ltensor_check(L, 1);
    int64_t size[2];
    check_ints(L, 2, 2, 2, 1, "a size {height, width}", size);
    const char *name = luaL_optstring(L, 3, "bilinear");
    int filter = image_filter_from_name(name);
    if (filter < 0)
        return luaL_argerror(
            L, 3, lua_pushfstring(L, "expected \"bilinear\" or \"nearest\", got \"%s\"", name));
    struct image_threads threads = check_threads(L);
    struct tensor t;
    struct triton_error err = {0};
    if (image_resize(&t, img, size[0], size[1], (enum image_filter)filter, &threads, &err) != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* triton.image.crop(img, {top, left, height, width}): top and left 1-based. */
static int l_crop(lua_State *L)
{
    struct tensor *img = ltensor_check(L, 1);
    int64_t box[4];
    check_ints(L, 2, 2, 4, 1, "a box {top, left, height, width}", box);
    struct tensor t;
    struct triton_error err = {0};
    if (image_crop(&t, img, box[0] - 1, box[1] - 1, box[2], box[3], &err) != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* The channels a Pillow mode name means: "L" 1, "RGB" 3; -1 otherwise. */
static int mode_channels(const char *mode)
{
    return strcmp(mode, "L") == 0 ? 1 : strcmp(mode, "RGB") == 0 ? 3 : -1;
}

/* triton.image.convert(img, "L" | "RGB") */
static int l_convert(lua_State *L)
{
    struct tensor *img = ltensor_check(L, 1);
    const char *mode = luaL_checkstring(L, 2);
    int channels = mode_channels(mode);
    if (channels < 0)
        return luaL_argerror(L, 2,
                             lua_pushfstring(L, "expected \"L\" or \"RGB\", got \"%s\"", mode));
    struct tensor t;
    struct triton_error err = {0};
    if (image_convert(&t, img, channels, &err) != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* opts.<key> as one of the names accepted by from_name, or dflt when absent. */
static int check_name(lua_State *L, int idx, const char *key, const char *expected,
                      int (*from_name)(const char *), int dflt)
{
    int v = dflt;
    if (lua_getfield(L, idx, key) != LUA_TNIL) {
        const char *s = lua_tostring(L, -1);
        v = s && lua_type(L, -1) == LUA_TSTRING ? from_name(s) : -1;
        if (v < 0)
            luaL_argerror(L, idx,
                          lua_pushfstring(L, "%s must be %s, got %s", key, expected,
                                          luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
    return v;
}

static int layout_name(const char *s)
{
    /* a model config's format reads FORMAT_NCHW; both spellings are accepted */
    return image_layout_from_name(strncmp(s, "FORMAT_", 7) == 0 ? s + 7 : s);
}

static int dtype_name(const char *s)
{
    return (int)tensor_dtype_from_name(s, strlen(s));
}

static void check_preprocess_opts(lua_State *L, int idx, struct image_preprocess_opts *o)
{
    static const char *const names[] = {"size", "format", "dtype", "scaling", "channels", NULL};
    luaL_checktype(L, idx, LUA_TTABLE);
    check_keys(L, idx, "preprocess", names);
    lua_getfield(L, idx, "size");
    int64_t size[2];
    check_ints(L, lua_gettop(L), idx, 2, 1, "size = {height, width}", size);
    lua_pop(L, 1);
    o->h = size[0];
    o->w = size[1];
    o->layout = check_name(L, idx, "format", "\"NCHW\" or \"NHWC\"", layout_name, IMAGE_NCHW);
    o->scaling = check_name(L, idx, "scaling", "\"NONE\", \"INCEPTION\" or \"VGG\"",
                            image_scaling_from_name, IMAGE_SCALING_NONE);
    o->dtype = check_name(L, idx, "dtype", "a Triton dtype name", dtype_name, TENSOR_FP32);
    o->channels = 3;
    if (lua_getfield(L, idx, "channels") != LUA_TNIL) {
        int ok;
        lua_Integer c = lua_tointegerx(L, -1, &ok);
        if (!ok || (c != 1 && c != 3))
            luaL_argerror(L, idx, "channels must be 1 (L) or 3 (RGB)");
        o->channels = (int)c;
    }
    lua_pop(L, 1);
}

/* triton.image.preprocess(img, {size=, format=, dtype=, scaling=, channels=}) */
static int l_preprocess(lua_State *L)
{
    struct tensor *img = ltensor_check(L, 1);
    struct image_preprocess_opts o;
    check_preprocess_opts(L, 2, &o);
    o.threads = check_threads(L);
    struct tensor t;
    struct triton_error err = {0};
    if (image_preprocess(&t, img, &o, &err) != 0)
        return limage_raise(L, &err);
    push_tensor(L, &t);
    return 1;
}

/* triton.image.encode(img, "png") -> string */
static int l_encode(lua_State *L)
{
    struct tensor *img = ltensor_check(L, 1);
    const char *format = luaL_optstring(L, 2, "png");
    if (strcmp(format, "png") != 0)
        return luaL_argerror(L, 2, lua_pushfstring(L, "expected \"png\", got \"%s\"", format));
    /* the encoded bytes sit in a box whose __gc frees them, so that a failing
     * lua_pushlstring (out of memory) cannot leak them */
    void **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, LIMAGE_BOX_MT);
    size_t size;
    struct triton_error err = {0};
    if (image_encode_png(img, box, &size, &err) != 0)
        return limage_raise(L, &err);
    lua_pushlstring(L, *box, size);
    free(*box);
    *box = NULL;
    return 1;
}

static int box_gc(lua_State *L)
{
    void **box = luaL_checkudata(L, 1, LIMAGE_BOX_MT);
    free(*box);
    *box = NULL;
    return 0;
}

void limage_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"decode", l_decode},   {"load", l_load},
                                   {"resize", l_resize},   {"crop", l_crop},
                                   {"convert", l_convert}, {"preprocess", l_preprocess},
                                   {"encode", l_encode},   {NULL, NULL}};
    luaL_newmetatable(L, LIMAGE_BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newlibtable(L, fns);
    lua_pushvalue(L, -1);
    luaL_setfuncs(L, fns, 1);
    lua_pushinteger(L, IMAGE_MAX_PIXELS);
    lua_setfield(L, -2, "MAX_PIXELS");
    lua_pushinteger(L, default_threads());
    lua_setfield(L, -2, "threads");
    lua_setfield(L, -2, "image");
}
