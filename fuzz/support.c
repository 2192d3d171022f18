/*
 * support.c: see support.h.
 */
#include "support.h"
#include "wire/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Results go here so that the compiler cannot drop the reads. */
static volatile uint64_t sink;

_Noreturn void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

uint8_t fuzz_u8(struct fuzz_input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

uint64_t fuzz_u64(struct fuzz_input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fuzz_u8(in) << (8 * i);
    return v;
}

const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t max, size_t *len)
{
    size_t n = fuzz_u8(in);
    if (n > max)
        n = max;
    if (n > in->n)
        n = in->n;
    const uint8_t *p = in->p;
    in->p += n;
    in->n -= n;
    *len = n;
    return p;
}

static void release_placed(void *ctx, void *data)
{
    (void)data;
    free(ctx);
}

struct tensor_buffer *fuzz_owner_copy(const void *data, size_t len, unsigned misalign)
{
    misalign &= 7;
    size_t size = misalign + len;
    /* never malloc(0): an empty reply gets one byte, and starts past it */
    char *block = malloc(size ? size : 1);
    if (!block)
        fuzz_fail("out of memory copying %zu bytes", len);
    char *start = size ? block + misalign : block + 1;
    if (len)
        memcpy(start, data, len);
    struct triton_error err = {0};
    struct tensor_buffer *b = tensor_buffer_wrap(start, len, release_placed, block, &err);
    if (!b)
        fuzz_fail("tensor_buffer_wrap: %s", err.message);
    return b;
}

void fuzz_touch_tensor(const struct tensor *t)
{
    uint64_t acc = 0;
    size_t esize = tensor_dtype_elem_size(t->dtype);
    struct tensor_iter it;
    for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it)) {
        if (t->dtype == TENSOR_BYTES) {
            const struct tensor_str *s = (const struct tensor_str *)it.ptr;
            if (s->len && !s->ptr)
                fuzz_fail("BYTES element with length %zu and no bytes", s->len);
            for (size_t i = 0; i < s->len; i++)
                acc += (unsigned char)s->ptr[i];
        } else {
            for (size_t i = 0; i < esize; i++)
                acc += (unsigned char)it.ptr[i];
        }
    }
    sink += acc;
}

static bool same_shape(const struct tensor *a, const struct tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

void fuzz_check_wire_roundtrip(const struct tensor *t)
{
    struct triton_error err = {0};
    size_t size;
    if (tensor_wire_size(t, &size, &err) < 0)
        fuzz_fail("tensor_wire_size of a parsed tensor failed: %s", err.message);
    char *wire = malloc(size ? size : 1);
    char *again = malloc(size ? size : 1);
    if (!wire || !again)
        fuzz_fail("out of memory for %zu wire bytes", size);
    if (tensor_to_wire(t, wire, &err) < 0)
        fuzz_fail("tensor_to_wire of a parsed tensor failed: %s", err.message);
    struct tensor copy = {0};
    if (tensor_from_wire(&copy, t->dtype, t->shape, t->ndim, wire, size, NULL, &err) < 0)
        fuzz_fail("a tensor's own wire layout does not read back: %s", err.message);
    if (!same_shape(t, &copy))
        fuzz_fail("wire round trip changed dtype or shape");
    if (tensor_to_wire(&copy, again, &err) < 0)
        fuzz_fail("tensor_to_wire of the round-tripped tensor failed: %s", err.message);
    if (size && memcmp(wire, again, size) != 0)
        fuzz_fail("wire round trip changed the %zu bytes", size);
    tensor_release(&copy);
    free(wire);
    free(again);
}

static void touch_json(const cJSON *j)
{
    if (!j)
        return;
    char *text = wire_json_print(j, NULL);
    if (text)
        sink += strlen(text);
    free(text);
}

void fuzz_check_result(const struct triton_infer_result *r)
{
    if (!r->model_name || !r->model_version)
        fuzz_fail("infer result without model_name or model_version");
    /* NULL stands for no parameters (client.h) */
    if (r->parameters && !cJSON_IsObject(r->parameters))
        fuzz_fail("infer result parameters is not an object");
    touch_json(r->parameters);
    sink += strlen(r->model_name) + strlen(r->model_version) + (r->id ? strlen(r->id) : 0);
    if (r->n_outputs && !r->outputs)
        fuzz_fail("%zu outputs and no array", r->n_outputs);
    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct triton_infer_output *o = &r->outputs[i];
        if (!o->name || !o->datatype)
            fuzz_fail("output %zu without name or datatype", i);
        if (o->parameters && !cJSON_IsObject(o->parameters))
            fuzz_fail("output '%s': parameters is not an object", o->name);
        touch_json(o->parameters);
        if (o->ndim < 0 || o->ndim > TENSOR_MAX_DIMS)
            fuzz_fail("output '%s': ndim %d", o->name, o->ndim);
        if (!o->has_data)
            continue;
        const struct tensor *t = &o->tensor;
        if (t->dtype != o->dtype || t->ndim != o->ndim ||
            memcmp(t->shape, o->shape, sizeof *t->shape * (size_t)t->ndim) != 0)
            fuzz_fail("output '%s': tensor disagrees with the output's datatype or shape", o->name);
        fuzz_touch_tensor(t);
        fuzz_check_wire_roundtrip(t);
    }
}
