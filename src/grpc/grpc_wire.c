/*
 * grpc_wire.c: see grpc_wire.h.
 */
#include "grpc/grpc_wire.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>

#include "wire/json.h"
#include "wire/reply_block.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw tensor contents are sent from memory as is: a little-endian host is assumed"
#endif

/* ---- building requests ----------------------------------------------------------------- */

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

/* A protobuf writer in one pass, into memory that grows as it must. A
 * sub-message's length comes before its body but is known only after it: the
 * body is written after one byte left for the length (enough below 128 bytes)
 * and moved up in the rare case the length needs more. Out of memory, it
 * stops writing and says so in `failed`. */
struct pbw {
    uint8_t *p;
    size_t n, cap; /* bytes written; room at p */
    bool heap;     /* p is malloc'd here (else the caller's) */
    bool failed;
};

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    for (; v >= 0x80; v >>= 7)
        n++;
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

static bool w_grow(struct pbw *w, size_t need)
{
    if (w->failed || need > SIZE_MAX / 2 - w->n) {
        w->failed = true;
        return false;
    }
    size_t cap = w->cap * 2 > w->n + need ? w->cap * 2 : w->n + need;
    uint8_t *p = w->heap ? realloc(w->p, cap) : malloc(cap);
    if (!p) {
        w->failed = true;
        return false;
    }
    if (!w->heap && w->n)
        memcpy(p, w->p, w->n);
    w->p = p;
    w->cap = cap;
    w->heap = true;
    return true;
}

/* Room for need more bytes. */
static bool w_room(struct pbw *w, size_t need)
{
    return w->cap - w->n >= need || w_grow(w, need);
}

static void w_varint(struct pbw *w, uint64_t v)
{
    if (w_room(w, 10))
        w->n = (size_t)(put_varint(w->p + w->n, v) - w->p);
}

static void w_tag(struct pbw *w, uint32_t field, int wire_type)
{
    w_varint(w, (uint64_t)field << 3 | (uint64_t)wire_type);
}

static void w_raw(struct pbw *w, const void *data, size_t len)
{
    if (len && w_room(w, len)) {
        memcpy(w->p + w->n, data, len);
        w->n += len;
    }
}

/* A key and length (room made for both, 20 bytes, and `more` bytes after them):
 * where what follows goes, NULL out of memory. */
static uint8_t *w_key_len(struct pbw *w, uint32_t field, size_t len, size_t more)
{
    if (more > SIZE_MAX / 2 || !w_room(w, 20 + more)) {
        w->failed = true;
        return NULL;
    }
    return put_varint(put_varint(w->p + w->n, (uint64_t)field << 3 | WT_LEN), len);
}

static void w_bytes(struct pbw *w, uint32_t field, const void *data, size_t len)
{
    uint8_t *p = w_key_len(w, field, len, len);
    if (p) {
        if (len)
            memcpy(p, data, len);
        w->n = (size_t)(p + len - w->p);
    }
}

/* A proto3 string field: left out when empty (protobuf-c's canonical form). */
static void w_string(struct pbw *w, uint32_t field, const char *s)
{
    if (s && *s)
        w_bytes(w, field, s, strlen(s));
}

typedef void (*w_body_fn)(struct pbw *w, const void *arg);

/* A length-delimited sub-message: its length, then its body. */
static void w_message(struct pbw *w, uint32_t field, w_body_fn body, const void *arg)
{
    uint8_t *p = w_key_len(w, field, 0, 0); /* the length byte, rewritten below */
    if (!p)
        return;
    size_t start = w->n = (size_t)(p - w->p);
    body(w, arg);
    if (w->failed)
        return;
    size_t len = w->n - start, more = varint_size(len) - 1;
    if (more) {
        if (!w_room(w, more))
            return;
        memmove(w->p + start + more, w->p + start, len);
        w->n += more;
    }
    put_varint(w->p + start - 1, len);
}

/* InferParameter: the oneof member of the parameter's type. */
static void w_param_value(struct pbw *w, const void *arg)
{
    const struct triton_param *p = arg;
    switch (p->type) {
    case TRITON_PARAM_BOOL:
        w_tag(w, INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM, WT_VARINT);
        w_varint(w, p->v.b ? 1 : 0);
        break;
    case TRITON_PARAM_INT64:
        w_tag(w, INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM, WT_VARINT);
        w_varint(w, (uint64_t)p->v.i);
        break;
    case TRITON_PARAM_STRING:
        w_bytes(w, INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM, p->v.s.ptr,
                p->v.s.len);
        break;
    case TRITON_PARAM_DOUBLE:
        w_tag(w, INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM, WT_FIXED64);
        w_raw(w, &p->v.d, 8);
        break;
    case TRITON_PARAM_UINT64:
        w_tag(w, INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM, WT_VARINT);
        w_varint(w, p->v.u);
        break;
    }
}

/* A map<string, InferParameter> entry: key = 1, value = 2. */
static void w_param_entry(struct pbw *w, const void *arg)
{
    const struct triton_param *p = arg;
    w_string(w, 1, p->key);
    w_message(w, 2, w_param_value, p);
}

/* The parameters of one message: those the client derives from options
 * (sequence, shared memory, ...) first, then the caller's own. */
struct param_lists {
    const struct triton_param *own;
    size_t n_own;
    const struct triton_param *custom;
    size_t n_custom;
};

static inline void w_params(struct pbw *w, uint32_t field, const struct param_lists *l)
{
    for (size_t i = 0; i < l->n_own; i++)
        w_message(w, field, w_param_entry, &l->own[i]);
    for (size_t i = 0; i < l->n_custom; i++)
        w_message(w, field, w_param_entry, &l->custom[i]);
}

static int check_params(const struct triton_param *ps, size_t n, struct triton_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct triton_param *p = &ps[i];
        if (!p->key)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "a parameter without a name");
        if (p->type == TRITON_PARAM_STRING && p->v.s.ptr && memchr(p->v.s.ptr, 0, p->v.s.len))
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "parameter '%s': a gRPC string parameter cannot hold a zero byte",
                               p->key);
        if (p->type != TRITON_PARAM_BOOL && p->type != TRITON_PARAM_INT64 &&
            p->type != TRITON_PARAM_UINT64 && p->type != TRITON_PARAM_DOUBLE &&
            p->type != TRITON_PARAM_STRING)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "parameter '%s' has no type", p->key);
    }
    return 0;
}

static struct triton_param int_param(const char *key, int64_t value)
{
    return (struct triton_param){.key = key, .type = TRITON_PARAM_INT64, .v.i = value};
}

/* The shared-memory parameters of an input or output, appended at ps[*n]
 * (room for three). */
static int shm_params(const char *region, uint64_t byte_size, uint64_t offset,
                      struct triton_param *ps, size_t *n, struct triton_error *err)
{
    if (byte_size > INT64_MAX || offset > INT64_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "shared memory size or offset out of range for region '%s'", region);
    ps[(*n)++] = (struct triton_param){.key = "shared_memory_region",
                                       .type = TRITON_PARAM_STRING,
                                       .v.s = {region, strlen(region)}};
    ps[(*n)++] = int_param("shared_memory_byte_size", (int64_t)byte_size);
    if (offset)
        ps[(*n)++] = int_param("shared_memory_offset", (int64_t)offset);
    return 0;
}

/* A raw input: the bytes to send and the buffer that owns them. */
struct raw_piece {
    const uint8_t *ptr;
    size_t len;
    struct tensor_buffer *owner; /* one reference held by the piece */
};

struct input_enc {
    const struct triton_infer_input *in;
    struct triton_param own[3]; /* shared memory */
    struct param_lists params;
};

struct output_enc {
    const struct triton_infer_requested_output *out;
    struct triton_param own[4]; /* classification, shared memory */
    struct param_lists params;
};

/* Everything one request's encoding needs beside the request itself, checked
 * before a byte is written. Small requests keep it on the stack. */
#define ENC_INLINE 8
struct request_enc {
    const struct triton_infer_request *req;
    struct triton_param own[5]; /* sequence_id, sequence_start/end, priority, timeout */
    struct param_lists params;
    struct input_enc *inputs;
    struct output_enc *outputs;
    struct raw_piece *pieces;
    size_t n_pieces;
    struct input_enc inputs_inline[ENC_INLINE];
    struct output_enc outputs_inline[ENC_INLINE];
    struct raw_piece pieces_inline[ENC_INLINE];
};

static void w_input(struct pbw *w, const void *arg)
{
    const struct input_enc *e = arg;
    const struct triton_infer_input *in = e->in;
    w_string(w, 1, in->name);
    w_string(w, 2, in->datatype);
    if (in->ndim > 0) { /* packed repeated int64 */
        size_t len = 0;
        for (int d = 0; d < in->ndim; d++)
            len += varint_size((uint64_t)in->shape[d]);
        uint8_t *p = w_key_len(w, 3, len, len);
        if (!p)
            return;
        for (int d = 0; d < in->ndim; d++)
            p = put_varint(p, (uint64_t)in->shape[d]);
        w->n = (size_t)(p - w->p);
    }
    w_params(w, 4, &e->params);
}

static void w_output(struct pbw *w, const void *arg)
{
    const struct output_enc *e = arg;
    w_string(w, 1, e->out->name);
    w_params(w, 2, &e->params);
}

/* ModelInferRequest's fields 1 to 6; the raw contents (7) are the caller's. */
static void w_request_head(struct pbw *w, const void *arg)
{
    const struct request_enc *e = arg;
    const struct triton_infer_request *req = e->req;
    w_string(w, 1, req->model);
    w_string(w, 2, req->version);
    w_string(w, 3, req->id);
    w_params(w, 4, &e->params);
    for (size_t i = 0; i < req->n_inputs; i++)
        w_message(w, 5, w_input, &e->inputs[i]);
    for (size_t i = 0; i < req->n_outputs; i++)
        w_message(w, 6, w_output, &e->outputs[i]);
}

static void release_malloced(void *ctx, void *data)
{
    (void)ctx;
    free(data);
}

/* The wire bytes of one input: its own memory when that already is the wire
 * layout (contiguous, fixed-size elements), else a serialised copy. */
static int input_piece(const struct triton_infer_input *in, struct raw_piece *p,
                       struct triton_error *err)
{
    const struct tensor *t = in->data;
    if (!t->buf)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "input '%s' has no data", in->name);
    if (t->dtype != TENSOR_BYTES && tensor_is_contiguous(t)) {
        size_t esize = tensor_dtype_elem_size(t->dtype);
        int64_t numel = tensor_numel(t);
        p->ptr = (const uint8_t *)t->buf->data + (size_t)t->offset * esize;
        p->len = (size_t)numel * esize;
        if (numel == 0)
            p->ptr = (const uint8_t *)"";
        p->owner = t->buf;
        tensor_buffer_ref(t->buf);
        return 0;
    }
    size_t size;
    if (tensor_wire_size(t, &size, err) < 0)
        return -1;
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory serialising input '%s'", in->name);
    if (tensor_to_wire(t, copy, err) < 0) {
        free(copy);
        return -1;
    }
    p->owner = tensor_buffer_wrap(copy, size, release_malloced, NULL, err);
    if (!p->owner) {
        free(copy);
        return -1;
    }
    p->ptr = copy;
    p->len = size;
    return 0;
}

/* Request-level parameters the client derives from its options. */
static int request_own_params(struct request_enc *e, struct triton_error *err)
{
    const struct triton_infer_request *req = e->req;
    size_t n = 0;
    if (req->sequence_id_str) {
        e->own[n++] =
            (struct triton_param){.key = "sequence_id",
                                  .type = TRITON_PARAM_STRING,
                                  .v.s = {req->sequence_id_str, strlen(req->sequence_id_str)}};
    } else if (req->sequence_id) {
        /* Triton takes sequence_id as int64_param or string_param only. */
        if (req->sequence_id > INT64_MAX)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "sequence_id %llu does not fit gRPC's int64 parameter",
                               (unsigned long long)req->sequence_id);
        e->own[n++] = int_param("sequence_id", (int64_t)req->sequence_id);
    }
    if (n) {
        e->own[n++] = (struct triton_param){
            .key = "sequence_start", .type = TRITON_PARAM_BOOL, .v.b = req->sequence_start};
        e->own[n++] = (struct triton_param){
            .key = "sequence_end", .type = TRITON_PARAM_BOOL, .v.b = req->sequence_end};
    }
    if (req->priority)
        e->own[n++] = (struct triton_param){
            .key = "priority", .type = TRITON_PARAM_UINT64, .v.u = req->priority};
    if (req->timeout_us) {
        if (req->timeout_us > INT64_MAX)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "timeout out of range");
        e->own[n++] = int_param("timeout", (int64_t)req->timeout_us);
    }
    e->params = (struct param_lists){e->own, n, req->params, req->n_params};
    return check_params(req->params, req->n_params, err);
}

static int prepare_input(struct request_enc *e, size_t i, struct triton_error *err)
{
    const struct triton_infer_input *in = &e->req->inputs[i];
    struct input_enc *ie = &e->inputs[i];
    size_t n = 0;
    ie->in = in;
    if (triton_infer_input_check(in, i, err) < 0)
        return -1;
    if (in->shm_region) {
        if (shm_params(in->shm_region, in->shm_byte_size, in->shm_offset, ie->own, &n, err) < 0)
            return -1;
    } else if (in->data) {
        /* Raw contents are matched to inputs in order, skipping shm inputs. */
        if (input_piece(in, &e->pieces[e->n_pieces], err) < 0)
            return -1;
        e->n_pieces++;
    }
    ie->params = (struct param_lists){ie->own, n, in->params, in->n_params};
    return check_params(in->params, in->n_params, err);
}

static int prepare_output(struct request_enc *e, size_t i, struct triton_error *err)
{
    const struct triton_infer_requested_output *o = &e->req->outputs[i];
    struct output_enc *oe = &e->outputs[i];
    size_t n = 0;
    oe->out = o;
    if (triton_infer_output_check(o, i, err) < 0)
        return -1;
    if (o->class_count > 0)
        oe->own[n++] = int_param("classification", o->class_count);
    if (o->shm_region &&
        shm_params(o->shm_region, o->shm_byte_size, o->shm_offset, oe->own, &n, err) < 0)
        return -1;
    oe->params = (struct param_lists){oe->own, n, o->params, o->n_params};
    return check_params(o->params, o->n_params, err);
}

static void request_enc_free(struct request_enc *e)
{
    for (size_t i = 0; i < e->n_pieces; i++)
        tensor_buffer_unref(e->pieces[i].owner);
    if (e->inputs != e->inputs_inline)
        free(e->inputs);
    if (e->outputs != e->outputs_inline)
        free(e->outputs);
    if (e->pieces != e->pieces_inline)
        free(e->pieces);
}

/* Checks the request and gathers what its encoding needs (in the order the
 * checks have always run: request, inputs, outputs). */
static int request_enc_init(struct request_enc *e, const struct triton_infer_request *req,
                            struct triton_error *err)
{
    e->req = req;
    e->n_pieces = 0;
    e->inputs = e->inputs_inline;
    e->outputs = e->outputs_inline;
    e->pieces = e->pieces_inline;
    if (req->n_inputs > ENC_INLINE) {
        e->inputs = calloc(req->n_inputs, sizeof *e->inputs);
        e->pieces = calloc(req->n_inputs, sizeof *e->pieces);
    }
    if (req->n_outputs > ENC_INLINE)
        e->outputs = calloc(req->n_outputs, sizeof *e->outputs);
    if (!e->inputs || !e->outputs || !e->pieces)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory building a gRPC request");
    if (!req->model || !*req->model)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "infer needs a model name");
    if (request_own_params(e, err) < 0)
        return -1;
    for (size_t i = 0; i < req->n_inputs; i++)
        if (prepare_input(e, i, err) < 0)
            return -1;
    for (size_t i = 0; i < req->n_outputs; i++)
        if (prepare_output(e, i, err) < 0)
            return -1;
    return 0;
}

static void unref_owner(void *ud)
{
    tensor_buffer_unref(ud);
}

/* Big raw contents travel as slices over their own memory. */
static bool is_big(const struct raw_piece *p)
{
    return p->len >= GRPC_WIRE_SLICE_MIN;
}

/* What precedes a raw_input_contents value (field 7): its key and length. */
static size_t raw_head_size(const struct raw_piece *p)
{
    return varint_size(7 << 3 | WT_LEN) + varint_size(p->len);
}

static uint8_t *put_raw_head(uint8_t *at, const struct raw_piece *p)
{
    return put_varint(put_varint(at, 7 << 3 | WT_LEN), p->len);
}

/* Hands gRPC the request: its head (fields 1 to 6, written) and raw contents
 * in one buffer, but for a slice over each big content between its pieces. */
static int request_slices(const struct request_enc *e, const uint8_t *head, size_t head_len,
                          grpc_byte_buffer *out, struct triton_error *err)
{
    size_t total = head_len, big = 0, n_big = 0;
    for (size_t i = 0; i < e->n_pieces; i++) {
        total += raw_head_size(&e->pieces[i]) + e->pieces[i].len;
        if (is_big(&e->pieces[i])) {
            big += e->pieces[i].len;
            n_big++;
        }
    }
    if (total > UINT32_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "request of %zu bytes exceeds gRPC's 4 GiB message limit", total);
    grpc_slice slices_inline[2 * ENC_INLINE + 1];
    grpc_slice *slices = slices_inline;
    if (2 * n_big + 1 > sizeof slices_inline / sizeof *slices_inline &&
        !(slices = malloc((2 * n_big + 1) * sizeof *slices)))
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory serialising a gRPC request");
    grpc_slice buf = grpc_slice_malloc(total - big);
    uint8_t *base = GRPC_SLICE_START_PTR(buf), *at = base + head_len;
    memcpy(base, head, head_len);
    size_t n = 0, from = 0;
    for (size_t i = 0; i < e->n_pieces; i++) {
        const struct raw_piece *p = &e->pieces[i];
        at = put_raw_head(at, p);
        if (!is_big(p)) {
            if (p->len)
                memcpy(at, p->ptr, p->len);
            at += p->len;
            continue;
        }
        size_t pos = (size_t)(at - base);
        slices[n++] = grpc_slice_sub(buf, from, pos);
        from = pos;
        tensor_buffer_ref(p->owner);
        slices[n++] = grpc_slice_new_with_user_data((void *)p->ptr, p->len, unref_owner, p->owner);
    }
    grpc_slice_buffer *sb = &out->data.raw.slice_buffer;
    size_t end = (size_t)(at - base);
    if (n) {
        if (from < end)
            slices[n++] = grpc_slice_sub(buf, from, end);
        for (size_t i = 0; i < n; i++)
            grpc_slice_buffer_add(sb, slices[i]); /* the buffer takes the reference */
        grpc_slice_unref(buf);
    } else {
        grpc_slice_buffer_add(sb, buf);
    }
    if (slices != slices_inline)
        free(slices);
    return 0;
}

/* Writes the request's head (where it fits, on the stack) and hands it on. */
static int request_write(const struct request_enc *e, grpc_byte_buffer *out,
                         struct triton_error *err)
{
    uint8_t head_inline[1024];
    struct pbw head = {.p = head_inline, .cap = sizeof head_inline};
    w_request_head(&head, e);
    int rc = head.failed
                 ? triton_fail(err, TRITON_NO_MEMORY, "out of memory serialising a gRPC request")
                 : request_slices(e, head.p, head.n, out, err);
    if (head.heap)
        free(head.p);
    return rc;
}

int grpc_wire_infer_request(const struct triton_infer_request *req, grpc_byte_buffer *out,
                            struct triton_error *err)
{
    struct request_enc e;
    int rc = request_enc_init(&e, req, err);
    if (rc == 0)
        rc = request_write(&e, out, err);
    request_enc_free(&e);
    return rc;
}

int grpc_wire_pack(const ProtobufCMessage *msg, grpc_byte_buffer *out, struct triton_error *err)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > UINT32_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "request of %zu bytes exceeds gRPC's 4 GiB message limit", n);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    grpc_slice_buffer_add(&out->data.raw.slice_buffer, slice);
    return 0;
}

/* ---- reading replies ------------------------------------------------------------------- */

/* Big replies arrive as ~64 KiB slices (docs/GRPC_CORE.md: 1070 of them for 64 MiB).
 * Copying them into one block while holding all of them would need the reply
 * twice in memory, so from this size on each slice is released as soon as it
 * is copied, and every TRIM_EVERY bytes the freed heap pages are given back
 * (malloc_trim), so that the slices shrink while the copy grows. The next reply
 * faults those pages in again, which costs more than the copy; keeping them (or
 * the block) was measured to save that only at the memory of the plain-C
 * baseline, 1.3-1.5x the memory goal for 64 MiB (README.md, Benchmarks). */
#define STREAMED_READ_MIN ((size_t)1 << 20)
#define TRIM_EVERY        ((size_t)8 << 20)
#define REPLY_ALIGN       16

/* A copied reply's block: where it starts (before the alignment padding) and
 * its capacity, which reply_block_free needs. */
struct padded_block {
    void *base;
    size_t cap;
};

static void release_padded(void *ctx, void *data)
{
    (void)data;
    struct padded_block *b = ctx;
    reply_block_free(b->base, b->cap);
    free(b);
}

static void release_base(void *ctx, void *data)
{
    (void)data;
    free(ctx);
}

static bool prefix_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
        uint8_t byte = p[(*pos)++];
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Where the first raw_output_contents value (top-level field 6) starts, going
 * by the first n bytes of the message; 0 if it is not found there. */
static size_t first_raw_offset(const uint8_t *p, size_t n)
{
    size_t pos = 0;
    uint64_t key, len;
    while (pos < n && prefix_varint(p, n, &pos, &key)) {
        switch (key & 7) {
        case 0:
            if (!prefix_varint(p, n, &pos, &len))
                return 0;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        case 2:
            if (!prefix_varint(p, n, &pos, &len))
                return 0;
            if (key >> 3 == 6)
                return pos;
            if (len > n - pos)
                return 0;
            pos += (size_t)len;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* Output tensors can be views over the reply only where their data is
 * aligned, so a copy is placed to align the first (for one output: the only)
 * raw output: the padding before the copy that does so. */
static size_t reply_pad(const grpc_slice_buffer *sb)
{
    uint8_t head[4096];
    size_t head_len = 0;
    for (size_t i = 0; i < sb->count && head_len < sizeof head; i++) {
        size_t k = GRPC_SLICE_LENGTH(sb->slices[i]);
        if (k > sizeof head - head_len)
            k = sizeof head - head_len;
        memcpy(head + head_len, GRPC_SLICE_START_PTR(sb->slices[i]), k);
        head_len += k;
    }
    return (REPLY_ALIGN - first_raw_offset(head, head_len) % REPLY_ALIGN) % REPLY_ALIGN;
}

/* The streamed read described above; NULL (err set) on failure. The byte
 * buffer is left empty. */
static struct tensor_buffer *read_releasing(grpc_byte_buffer *bb, size_t len,
                                            struct triton_error *err)
{
    grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    size_t pad = reply_pad(sb);
    struct padded_block *block = malloc(sizeof *block);
    uint8_t *base =
        block && len <= SIZE_MAX - pad ? reply_block_alloc(len + pad, &block->cap) : NULL;
    if (!base) {
        free(block);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory reading a %zu-byte gRPC reply", len);
        return NULL;
    }
    size_t off = 0, since_trim = 0;
    while (sb->count > 0) {
        grpc_slice s = grpc_slice_buffer_take_first(sb);
        size_t k = GRPC_SLICE_LENGTH(s);
        if (k > len - off)
            k = len - off; /* cannot happen: len is the sum of the slices */
        memcpy(base + pad + off, GRPC_SLICE_START_PTR(s), k);
        off += k;
        grpc_slice_unref(s);
        since_trim += k;
        if (since_trim >= TRIM_EVERY) {
#ifdef __GLIBC__
            malloc_trim(0);
#endif
            since_trim = 0;
        }
    }
    block->base = base;
    struct tensor_buffer *buf = tensor_buffer_wrap(base + pad, off, release_padded, block, err);
    if (!buf)
        release_padded(block, NULL);
    return buf;
}

/* A small uncompressed reply: its slices copied into one malloc'd block. */
static struct tensor_buffer *read_small(const grpc_slice_buffer *sb, size_t len,
                                        struct triton_error *err)
{
    size_t pad = reply_pad(sb);
    uint8_t *base = malloc(pad + len ? pad + len : 1);
    if (!base) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory reading a gRPC reply");
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < sb->count; i++) {
        size_t k = GRPC_SLICE_LENGTH(sb->slices[i]);
        memcpy(base + pad + off, GRPC_SLICE_START_PTR(sb->slices[i]), k);
        off += k;
    }
    struct tensor_buffer *buf = tensor_buffer_wrap(base + pad, off, release_base, base, err);
    if (!buf)
        free(base);
    return buf;
}

/* A compressed reply, decompressed by gRPC's reader into one slice, which the
 * buffer then holds (no second copy of what may be a big reply). */
struct slice_holder {
    grpc_slice slice;
};

static void release_slice(void *ctx, void *data)
{
    (void)data;
    struct slice_holder *h = ctx;
    grpc_slice_unref(h->slice);
    free(h);
}

static struct tensor_buffer *read_decompressed(grpc_byte_buffer *bb, struct triton_error *err)
{
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb)) {
        triton_fail(err, TRITON_PROTOCOL, "could not read (decompress) the gRPC reply");
        return NULL;
    }
    struct slice_holder *h = malloc(sizeof *h);
    if (!h) {
        grpc_byte_buffer_reader_destroy(&reader);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory reading a gRPC reply");
        return NULL;
    }
    h->slice = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    /* Inlined (small) slices keep their bytes inside the struct: take the pointer
     * only now that the slice lives in the heap holder. */
    struct tensor_buffer *buf = tensor_buffer_wrap(
        GRPC_SLICE_START_PTR(h->slice), GRPC_SLICE_LENGTH(h->slice), release_slice, h, err);
    if (!buf) {
        grpc_slice_unref(h->slice);
        free(h);
    }
    return buf;
}

struct tensor_buffer *grpc_wire_read(grpc_byte_buffer *bb, struct triton_error *err)
{
    size_t len = grpc_byte_buffer_length(bb);
    if (bb->type != GRPC_BB_RAW || bb->data.raw.compression != GRPC_COMPRESS_NONE)
        return read_decompressed(bb, err);
    if (len >= STREAMED_READ_MIN)
        return read_releasing(bb, len, err);
    return read_small(&bb->data.raw.slice_buffer, len, err);
}

/* A cursor over one message's bytes. */
struct cursor {
    const uint8_t *p, *end;
};

static int read_varint(struct cursor *c, uint64_t *v, struct triton_error *err)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: truncated varint");
        uint8_t byte = *c->p++;
        x |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: varint longer than 10 bytes");
}

/* The highest field number protobuf allows. */
#define MAX_FIELD 536870911u

/* Reads one field's key and skips over its value; for length-delimited
 * values, *val and *val_len give the payload. */
static int next_field(struct cursor *c, uint32_t *field, int *wire_type, const uint8_t **val,
                      size_t *val_len, struct triton_error *err)
{
    uint64_t key = 0, n = 0; /* set on success; zero quiets -Wmaybe-uninitialized */
    if (read_varint(c, &key, err) < 0)
        return -1;
    *field = (uint32_t)(key >> 3);
    *wire_type = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > MAX_FIELD)
        return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: invalid field number");
    *val = NULL;
    *val_len = 0;
    switch (*wire_type) {
    case WT_VARINT:
        return read_varint(c, &n, err);
    case WT_FIXED64:
    case WT_FIXED32: {
        size_t w = *wire_type == WT_FIXED64 ? 8 : 4;
        if ((size_t)(c->end - c->p) < w)
            return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: truncated fixed-size field");
        c->p += w;
        return 0;
    }
    case WT_LEN:
        if (read_varint(c, &n, err) < 0)
            return -1;
        if (n > (uint64_t)(c->end - c->p))
            return triton_fail(err, TRITON_PROTOCOL,
                               "gRPC reply: field %u claims %llu bytes, %zu left", *field,
                               (unsigned long long)n, (size_t)(c->end - c->p));
        *val = c->p;
        *val_len = (size_t)n;
        c->p += n;
        return 0;
    default:
        return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: unsupported wire type %d",
                           *wire_type);
    }
}

/* A ModelInferResponse as its reader saw it: text and raw contents point into
 * the reply (or into protobuf-c's copy of it), nothing is converted yet. Both
 * readers below fill it; one function (build_result) turns it into a result,
 * so that they cannot disagree on anything but the wire. */

/* Text of the reply, not NUL-terminated. Cut at its first NUL byte, as
 * protobuf-c's C strings are, so that both readers see the same text. */
struct pstr {
    const char *p;
    size_t n;
};

static struct pstr pstr_of(const char *s)
{
    return (struct pstr){s ? s : "", s ? strlen(s) : 0};
}

static struct pstr pstr_wire(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n);
    return (struct pstr){(const char *)p, nul ? (size_t)(nul - p) : n};
}

/* Text the result holds only as a C string (an output's name and datatype,
 * the model's name and version) is not searched for a NUL: its copy (put_str)
 * ends at the first one as a C string, the same text as pstr_wire's. Only its
 * room in the result is counted by the whole length. */
static struct pstr pstr_cstring(const uint8_t *p, size_t n)
{
    return (struct pstr){(const char *)p, n};
}

static bool pstr_is(struct pstr s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* One map<string, InferParameter> entry. */
struct pparam {
    struct pstr key;
    Inference__InferParameter__ParameterChoiceCase kind; /* NOT_SET: no value */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct pstr s;
    } v;
};

struct pout {
    struct pstr name, datatype;
    size_t n_shape; /* every dimension sent, also past TENSOR_MAX_DIMS */
    int64_t shape[TENSOR_MAX_DIMS];
    size_t first_param, n_params;                   /* in the view's output_params */
    const Inference__InferTensorContents *contents; /* typed contents (protobuf-c's reader) */
};

struct praw {
    const uint8_t *ptr;
    size_t len;
};

/* A growable array that starts in storage of its owner's. */
struct parray {
    void *items;
    size_t n, cap;
    void *inline_items;
};

#define VIEW_INLINE 8
struct reply_view {
    struct pstr model_name, model_version, id;
    struct parray params, outputs, output_params, raw;
    struct pparam params_inline[VIEW_INLINE], output_params_inline[VIEW_INLINE];
    struct pout outputs_inline[VIEW_INLINE];
    struct praw raw_inline[VIEW_INLINE];
};

static void view_init(struct reply_view *v)
{
    v->model_name = v->model_version = v->id = pstr_of(NULL);
    v->params = (struct parray){v->params_inline, 0, VIEW_INLINE, v->params_inline};
    v->output_params =
        (struct parray){v->output_params_inline, 0, VIEW_INLINE, v->output_params_inline};
    v->outputs = (struct parray){v->outputs_inline, 0, VIEW_INLINE, v->outputs_inline};
    v->raw = (struct parray){v->raw_inline, 0, VIEW_INLINE, v->raw_inline};
}

static void view_free(struct reply_view *v)
{
    struct parray *arrays[] = {&v->params, &v->output_params, &v->outputs, &v->raw};
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        if (arrays[i]->items != arrays[i]->inline_items)
            free(arrays[i]->items);
}

/* A new item at the end of a, for the caller to fill; NULL when out of memory. */
static void *parray_push(struct parray *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap * 2;
        void *grown = malloc(cap * size);
        if (!grown)
            return NULL;
        memcpy(grown, a->items, a->n * size);
        if (a->items != a->inline_items)
            free(a->items);
        a->items = grown;
        a->cap = cap;
    }
    return (char *)a->items + a->n++ * size;
}

/* ---- the fast reader: the reply's bytes read in place ---- */

/* What the fast reader makes of a reply: a view, or a reply it leaves to
 * protobuf-c because protobuf-c's reading of it might differ from a plain
 * one: a field encoded unusually (a key over 5 bytes, a length over 5 bytes or
 * past the end, a truncated value, a group), a known field of the wrong wire
 * type, a sub-message sent twice (protobuf-c merges the two), typed contents. */
enum fast_outcome { FAST_OK, FAST_DECLINED, FAST_NO_MEMORY };

struct pfield {
    uint32_t num;
    int wt;
    const uint8_t *val; /* WT_LEN: the payload; else the value's bytes */
    size_t len;
    uint64_t u; /* WT_VARINT: the value */
};

/* A varint of at most max bytes; false if it does not end by then or by c->end. */
static inline bool strict_varint(struct cursor *c, size_t max, uint64_t *v)
{
    if (c->p < c->end && *c->p < 0x80) { /* one byte: most keys and lengths */
        *v = *c->p++;
        return true;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < max && c->p + i < c->end; i++) {
        uint8_t byte = c->p[i];
        x |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            c->p += i + 1;
            *v = x;
            return true;
        }
    }
    return false;
}

/* One field as protobuf-c reads it (protobuf-c.c: parse_tag_and_wiretype,
 * scan_length_prefixed_data); false for anything the fast reader declines. */
static inline bool strict_field(struct cursor *c, struct pfield *f)
{
    uint64_t key, n;
    if (!strict_varint(c, 5, &key) || key >> 3 == 0 || key >> 3 > MAX_FIELD)
        return false;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->val = c->p;
    f->u = 0;
    switch (f->wt) {
    case WT_VARINT:
        if (!strict_varint(c, 10, &f->u))
            return false;
        f->len = (size_t)(c->p - f->val);
        return true;
    case WT_FIXED64:
    case WT_FIXED32:
        f->len = f->wt == WT_FIXED64 ? 8 : 4;
        if ((size_t)(c->end - c->p) < f->len)
            return false;
        c->p += f->len;
        return true;
    case WT_LEN:
        if (!strict_varint(c, 5, &n) || n > INT_MAX || n > (uint64_t)(c->end - c->p))
            return false;
        f->val = c->p;
        f->len = (size_t)n;
        c->p += n;
        return true;
    default:
        return false;
    }
}

static enum fast_outcome fast_param_value(const uint8_t *p, size_t len, struct pparam *pp)
{
    struct cursor c = {p, p + len};
    pp->kind = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE__NOT_SET;
    while (c.p < c.end) {
        struct pfield f;
        if (!strict_field(&c, &f))
            return FAST_DECLINED;
        /* oneof: the last member sent wins */
        switch (f.num) {
        case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM:
            if (f.wt != WT_VARINT)
                return FAST_DECLINED;
            pp->v.b = false; /* protobuf-c: true if any of the varint's bits is */
            for (size_t i = 0; i < f.len; i++)
                pp->v.b |= (f.val[i] & 0x7f) != 0;
            break;
        case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM:
            if (f.wt != WT_VARINT)
                return FAST_DECLINED;
            pp->v.i = (int64_t)f.u;
            break;
        case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM:
            if (f.wt != WT_LEN)
                return FAST_DECLINED;
            pp->v.s = pstr_wire(f.val, f.len);
            break;
        case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM:
            if (f.wt != WT_FIXED64)
                return FAST_DECLINED;
            memcpy(&pp->v.d, f.val, 8);
            break;
        case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM:
            if (f.wt != WT_VARINT)
                return FAST_DECLINED;
            pp->v.u = f.u;
            break;
        default:
            continue; /* unknown: skipped */
        }
        pp->kind = (Inference__InferParameter__ParameterChoiceCase)f.num;
    }
    return FAST_OK;
}

/* A map<string, InferParameter> entry (key = 1, value = 2) into a. */
static enum fast_outcome fast_param(const uint8_t *p, size_t len, struct parray *a)
{
    struct pparam *pp = parray_push(a, sizeof *pp);
    if (!pp)
        return FAST_NO_MEMORY;
    pp->key = pstr_of(NULL);
    pp->kind = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE__NOT_SET;
    struct cursor c = {p, p + len};
    bool has_value = false;
    while (c.p < c.end) {
        struct pfield f;
        if (!strict_field(&c, &f))
            return FAST_DECLINED;
        if (f.num == 1 || f.num == 2) {
            if (f.wt != WT_LEN || (f.num == 2 && has_value))
                return FAST_DECLINED;
            if (f.num == 1) {
                pp->key = pstr_wire(f.val, f.len);
            } else {
                enum fast_outcome o = fast_param_value(f.val, f.len, pp);
                if (o != FAST_OK)
                    return o;
                has_value = true;
            }
        }
    }
    return FAST_OK;
}

/* A packed run of shape dimensions. */
static bool fast_shape_packed(const uint8_t *p, size_t len, struct pout *o)
{
    struct cursor c = {p, p + len};
    while (c.p < c.end) {
        uint64_t d;
        if (!strict_varint(&c, 10, &d))
            return false;
        if (o->n_shape < TENSOR_MAX_DIMS)
            o->shape[o->n_shape] = (int64_t)d;
        o->n_shape++;
    }
    return true;
}

static enum fast_outcome fast_output(const uint8_t *p, size_t len, struct reply_view *v)
{
    struct pout *o = parray_push(&v->outputs, sizeof *o);
    if (!o)
        return FAST_NO_MEMORY;
    o->name = o->datatype = pstr_of(NULL);
    o->n_shape = 0;
    o->first_param = v->output_params.n;
    o->n_params = 0;
    o->contents = NULL;
    struct cursor c = {p, p + len};
    while (c.p < c.end) {
        struct pfield f;
        if (!strict_field(&c, &f))
            return FAST_DECLINED;
        switch (f.num) {
        case 1:
        case 2:
            if (f.wt != WT_LEN)
                return FAST_DECLINED;
            *(f.num == 1 ? &o->name : &o->datatype) = pstr_cstring(f.val, f.len);
            break;
        case 3:
            if (f.wt == WT_VARINT) {
                if (o->n_shape < TENSOR_MAX_DIMS)
                    o->shape[o->n_shape] = (int64_t)f.u;
                o->n_shape++;
            } else if (f.wt != WT_LEN || !fast_shape_packed(f.val, f.len, o)) {
                return FAST_DECLINED;
            }
            break;
        case 4: {
            if (f.wt != WT_LEN)
                return FAST_DECLINED;
            enum fast_outcome r = fast_param(f.val, f.len, &v->output_params);
            if (r != FAST_OK)
                return r;
            break;
        }
        case 5: /* typed contents: protobuf-c's */
            return FAST_DECLINED;
        default:
            break;
        }
    }
    o->n_params = v->output_params.n - o->first_param;
    return FAST_OK;
}

static enum fast_outcome fast_view(const uint8_t *data, size_t len, struct reply_view *v)
{
    struct cursor c = {data, data + len};
    while (c.p < c.end) {
        struct pfield f;
        if (!strict_field(&c, &f))
            return FAST_DECLINED;
        if (f.num > 6)
            continue; /* unknown: skipped */
        if (f.wt != WT_LEN)
            return FAST_DECLINED;
        enum fast_outcome r = FAST_OK;
        switch (f.num) {
        case 1:
            v->model_name = pstr_cstring(f.val, f.len);
            break;
        case 2:
            v->model_version = pstr_cstring(f.val, f.len);
            break;
        case 3:
            v->id = pstr_wire(f.val, f.len);
            break;
        case 4:
            r = fast_param(f.val, f.len, &v->params);
            break;
        case 5:
            r = fast_output(f.val, f.len, v);
            break;
        case 6: {
            struct praw *raw = parray_push(&v->raw, sizeof *raw);
            if (!raw)
                return FAST_NO_MEMORY;
            raw->ptr = f.val;
            raw->len = f.len;
            break;
        }
        }
        if (r != FAST_OK)
            return r;
    }
    return FAST_OK;
}

/* ---- the general reader: protobuf-c, around the raw contents ---- */

static int no_memory(struct triton_error *err)
{
    return triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
}

static int general_param(const Inference__ModelInferResponse__ParametersEntry *e, struct parray *a,
                         struct triton_error *err)
{
    struct pparam *pp = parray_push(a, sizeof *pp);
    if (!pp)
        return no_memory(err);
    pp->key = pstr_of(e->key);
    const Inference__InferParameter *p = e->value;
    pp->kind = p ? p->parameter_choice_case : INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE__NOT_SET;
    switch (pp->kind) {
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM:
        pp->v.b = p->bool_param;
        break;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM:
        pp->v.i = p->int64_param;
        break;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM:
        pp->v.s = pstr_of(p->string_param);
        break;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM:
        pp->v.d = p->double_param;
        break;
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM:
        pp->v.u = p->uint64_param;
        break;
    default:
        break;
    }
    return 0;
}

/* The view of protobuf-c's message m (which must outlive it). */
static int general_fill(const Inference__ModelInferResponse *m, struct reply_view *v,
                        struct triton_error *err)
{
    v->model_name = pstr_of(m->model_name);
    v->model_version = pstr_of(m->model_version);
    v->id = pstr_of(m->id);
    for (size_t i = 0; i < m->n_parameters; i++)
        if (general_param(m->parameters[i], &v->params, err) < 0)
            return -1;
    for (size_t i = 0; i < m->n_outputs; i++) {
        const Inference__ModelInferResponse__InferOutputTensor *t = m->outputs[i];
        struct pout *o = parray_push(&v->outputs, sizeof *o);
        if (!o)
            return no_memory(err);
        o->name = pstr_of(t->name);
        o->datatype = pstr_of(t->datatype);
        o->n_shape = t->n_shape;
        if (t->n_shape)
            memcpy(o->shape, t->shape,
                   (t->n_shape < TENSOR_MAX_DIMS ? t->n_shape : TENSOR_MAX_DIMS) *
                       sizeof *o->shape);
        o->first_param = v->output_params.n;
        o->n_params = t->n_parameters;
        for (size_t k = 0; k < t->n_parameters; k++)
            if (general_param(
                    (const Inference__ModelInferResponse__ParametersEntry *)t->parameters[k],
                    &v->output_params, err) < 0)
                return -1;
        o->contents = t->contents;
    }
    return 0;
}

/* raw_output_contents are kept in place (pieces into the reply); everything
 * else (small) is gathered and handed to protobuf-c. *m is its message, which
 * the view points into. */
static int general_view(const uint8_t *data, size_t len, struct reply_view *v,
                        Inference__ModelInferResponse **m, struct triton_error *err)
{
    struct cursor c = {data, data + len};
    /* Pass 1: the bytes of everything but raw_output_contents. */
    size_t rest = 0;
    while (c.p < c.end) {
        const uint8_t *start = c.p, *val;
        uint32_t field;
        int wt;
        size_t vlen;
        if (next_field(&c, &field, &wt, &val, &vlen, err) < 0)
            return -1;
        if (!(field == 6 && wt == WT_LEN))
            rest += (size_t)(c.p - start);
    }
    uint8_t *small = malloc(rest ? rest : 1);
    if (!small)
        return no_memory(err);
    /* Pass 2: pieces point into the reply; the rest is gathered for protobuf-c. */
    c.p = data;
    size_t pos = 0;
    while (c.p < c.end) {
        const uint8_t *start = c.p, *val;
        uint32_t field;
        int wt;
        size_t vlen;
        next_field(&c, &field, &wt, &val, &vlen, NULL); /* validated in pass 1 */
        if (field == 6 && wt == WT_LEN) {
            struct praw *raw = parray_push(&v->raw, sizeof *raw);
            if (!raw) {
                free(small);
                return no_memory(err);
            }
            raw->ptr = val;
            raw->len = vlen;
        } else {
            memcpy(small + pos, start, (size_t)(c.p - start));
            pos += (size_t)(c.p - start);
        }
    }
    *m = inference__model_infer_response__unpack(NULL, rest, small);
    free(small);
    if (!*m)
        return triton_fail(err, TRITON_PROTOCOL, "malformed ModelInferResponse");
    return general_fill(*m, v, err);
}

/* ---- from the view to the result ---- */

/* p's text as a C string: in buf when it fits, else malloc'd (free if != buf). */
static char *pstr_cstr(struct pstr s, char *buf, size_t cap)
{
    char *out = s.n < cap ? buf : malloc(s.n + 1);
    if (out) {
        memcpy(out, s.p, s.n);
        out[s.n] = '\0';
    }
    return out;
}

/* An InferParameter as a plain JSON value (null when unset). */
static cJSON *param_value_json(const struct pparam *p)
{
    switch (p->kind) {
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM:
        return cJSON_CreateBool(p->v.b);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM:
        return wire_json_new_int64(p->v.i);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM: {
        char buf[128];
        char *s = pstr_cstr(p->v.s, buf, sizeof buf);
        cJSON *j = s ? cJSON_CreateString(s) : NULL;
        if (s != buf)
            free(s);
        return j;
    }
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM:
        return cJSON_CreateNumber(p->v.d);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM:
        return wire_json_new_uint64(p->v.u);
    default:
        return cJSON_CreateNull();
    }
}

/* A parameter map as a JSON object; a key sent twice keeps its last value. */
static cJSON *params_json(const struct pparam *ps, size_t n, struct triton_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < n; i++) {
        char buf[128];
        char *key = pstr_cstr(ps[i].key, buf, sizeof buf);
        cJSON *v = key ? param_value_json(&ps[i]) : NULL;
        if (key)
            cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        if (!v || !cJSON_AddItemToObject(obj, key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            obj = NULL;
        }
        if (key != buf)
            free(key);
    }
    if (!obj)
        triton_fail(err, TRITON_NO_MEMORY, "out of memory converting parameters");
    return obj;
}

/* Typed contents (InferTensorContents) into a new tensor. */
static int tensor_from_contents(struct tensor *t, enum tensor_dtype dt, const int64_t *shape,
                                int ndim, const Inference__InferTensorContents *c, const char *name,
                                struct triton_error *err)
{
    int64_t numel;
    if (tensor_numel_checked(shape, ndim, dt, &numel, err) < 0)
        return -1;
    size_t have;
    switch (dt) {
    case TENSOR_BOOL:
        have = c->n_bool_contents;
        break;
    case TENSOR_INT8:
    case TENSOR_INT16:
    case TENSOR_INT32:
        have = c->n_int_contents;
        break;
    case TENSOR_INT64:
        have = c->n_int64_contents;
        break;
    case TENSOR_UINT8:
    case TENSOR_UINT16:
    case TENSOR_UINT32:
        have = c->n_uint_contents;
        break;
    case TENSOR_UINT64:
        have = c->n_uint64_contents;
        break;
    case TENSOR_FP32:
        have = c->n_fp32_contents;
        break;
    case TENSOR_FP64:
        have = c->n_fp64_contents;
        break;
    case TENSOR_BYTES:
        have = c->n_bytes_contents;
        break;
    default:
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': %s cannot travel as typed contents",
                           name, tensor_dtype_name(dt));
    }
    if ((uint64_t)numel != have)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s': %zu typed elements for a shape of %lld elements", name,
                           have, (long long)numel);
    /* INT8/16 and UINT8/16 travel in 32-bit fields: a hostile server can send
     * values that do not fit, which would otherwise be silently cut. */
    int64_t lo = 0;
    uint64_t hi = 0;
    tensor_dtype_int_range(dt, &lo, &hi);
    for (int64_t i = 0; i < numel; i++) {
        int64_t v;
        if (dt == TENSOR_INT8 || dt == TENSOR_INT16)
            v = c->int_contents[i];
        else if (dt == TENSOR_UINT8 || dt == TENSOR_UINT16)
            v = c->uint_contents[i];
        else
            continue;
        if (v < lo || (v > 0 && (uint64_t)v > hi))
            return triton_fail(err, TRITON_PROTOCOL,
                               "output '%s': typed element %lld is %lld, outside %s's range", name,
                               (long long)i + 1, (long long)v, tensor_dtype_name(dt));
    }
    if (tensor_init(t, dt, shape, ndim, err) < 0)
        return -1;
    char *base = t->buf->data;
    size_t esize = tensor_dtype_elem_size(dt);
    for (int64_t i = 0; i < numel; i++) {
        void *p = base + (size_t)i * esize;
        switch (dt) {
        case TENSOR_BOOL:
            tensor_set_i64(dt, p, c->bool_contents[i] ? 1 : 0);
            break;
        case TENSOR_INT8:
        case TENSOR_INT16:
        case TENSOR_INT32:
            tensor_set_i64(dt, p, c->int_contents[i]);
            break;
        case TENSOR_INT64:
            tensor_set_i64(dt, p, c->int64_contents[i]);
            break;
        case TENSOR_UINT8:
        case TENSOR_UINT16:
        case TENSOR_UINT32:
            tensor_set_i64(dt, p, c->uint_contents[i]);
            break;
        case TENSOR_UINT64:
            memcpy(p, &c->uint64_contents[i], 8);
            break;
        case TENSOR_FP32:
            memcpy(p, &c->fp32_contents[i], 4);
            break;
        case TENSOR_FP64:
            memcpy(p, &c->fp64_contents[i], 8);
            break;
        case TENSOR_BYTES: {
            struct tensor_str *s = p;
            const ProtobufCBinaryData *bd = &c->bytes_contents[i];
            s->len = bd->len;
            s->ptr =
                bd->len ? tensor_buffer_intern(t->buf, (const char *)bd->data, bd->len, err) : "";
            if (!s->ptr) {
                tensor_release(t);
                return -1;
            }
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static bool has_param(const struct pparam *ps, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (pstr_is(ps[i].key, key))
            return true;
    return false;
}

static char *put_str(char **at, struct pstr s)
{
    char *d = *at;
    memcpy(d, s.p, s.n);
    d[s.n] = '\0';
    *at += s.n + 1;
    return d;
}

/* The bytes of v's result block: the result, its outputs and all their text
 * (one_block); *head is where the outputs start in it. */
static size_t result_block_size(const struct reply_view *v, size_t *head)
{
    const struct pout *outs = v->outputs.items;
    size_t n = v->outputs.n, align = _Alignof(struct triton_infer_output);
    *head = (sizeof(struct triton_infer_result) + align - 1) / align * align;
    size_t text = v->model_name.n + 1 + v->model_version.n + 1 + (v->id.n ? v->id.n + 1 : 0);
    for (size_t i = 0; i < n; i++)
        text += outs[i].name.n + 1 + outs[i].datatype.n + 1;
    return *head + n * sizeof(struct triton_infer_output) + text;
}

/* v's result block made at block (result_block_size bytes, aligned for it). */
static struct triton_infer_result *result_block_at(const struct reply_view *v, char *block,
                                                   size_t head)
{
    const struct pout *outs = v->outputs.items;
    size_t n = v->outputs.n;
    struct triton_infer_result *r = (struct triton_infer_result *)block;
    memset(r, 0, sizeof *r);
    r->one_block = true;
    r->outputs = (struct triton_infer_output *)(block + head);
    char *at = block + head + n * sizeof *r->outputs;
    r->model_name = put_str(&at, v->model_name);
    r->model_version = put_str(&at, v->model_version);
    /* proto3 cannot tell "no id" from "": both read as no id (nil), as over HTTP */
    if (v->id.n)
        r->id = put_str(&at, v->id);
    /* An output is not zeroed as a whole (2 KB of shapes and strides for two):
     * its shape is read up to ndim and its tensor when has_data, which
     * build_output sets together with them. */
    for (size_t i = 0; i < n; i++) {
        struct triton_infer_output *o = &r->outputs[i];
        o->name = put_str(&at, outs[i].name);
        o->datatype = put_str(&at, outs[i].datatype);
        o->dtype = TENSOR_INVALID;
        o->ndim = 0;
        o->parameters = NULL;
        o->has_data = false;
        o->tensor.buf = NULL;
    }
    r->n_outputs = n;
    return r;
}

/* v's result block in a malloc'd block of its own. */
static struct triton_infer_result *result_block(const struct reply_view *v)
{
    size_t head, size = result_block_size(v, &head);
    char *block = malloc(size);
    return block ? result_block_at(v, block, head) : NULL;
}

static int build_output(const struct reply_view *v, size_t i, struct triton_infer_output *o,
                        struct tensor_buffer *owner, struct triton_error *err)
{
    const struct pout *t = &((const struct pout *)v->outputs.items)[i];
    const struct pparam *params = (const struct pparam *)v->output_params.items + t->first_param;
    if (t->n_params && !(o->parameters = params_json(params, t->n_params, err)))
        return -1;
    if (t->n_shape > TENSOR_MAX_DIMS)
        return triton_fail(err, TRITON_PROTOCOL, "output '%s' has %zu dimensions (at most %d)",
                           o->name, t->n_shape, TENSOR_MAX_DIMS);
    o->ndim = (int)t->n_shape;
    memcpy(o->shape, t->shape, t->n_shape * sizeof *o->shape);
    if (triton_infer_output_dtype(o, err) < 0)
        return -1;
    if (has_param(params, t->n_params, "shared_memory_region"))
        return 0;
    if (v->raw.n) {
        const struct praw *raw = &((const struct praw *)v->raw.items)[i];
        int64_t numel = 0;
        /* An empty entry stands for an output placed in shared memory. */
        if (raw->len == 0 &&
            (tensor_numel_checked(o->shape, o->ndim, o->dtype, &numel, NULL) < 0 || numel))
            return 0;
        if (tensor_from_wire(&o->tensor, o->dtype, o->shape, o->ndim, raw->ptr, raw->len, owner,
                             err) < 0) {
            if (err) /* the reply is at fault, not the caller */
                err->code = TRITON_PROTOCOL;
            return -1;
        }
        o->has_data = true;
    } else if (t->contents) {
        if (tensor_from_contents(&o->tensor, o->dtype, o->shape, o->ndim, t->contents, o->name,
                                 err) < 0)
            return -1;
        o->has_data = true;
    }
    return 0;
}

/* The result of v into r (from result_block, NULL when out of memory), which
 * build_result owns from here. */
static int build_result(const struct reply_view *v, struct triton_infer_result *r,
                        struct tensor_buffer *owner, struct triton_infer_result **out,
                        struct triton_error *err)
{
    if (!r)
        return no_memory(err);
    r->final = true;
    if (v->params.n && !(r->parameters = params_json(v->params.items, v->params.n, err)))
        goto fail;
    cJSON *fin = cJSON_GetObjectItemCaseSensitive(r->parameters, "triton_final_response");
    if (cJSON_IsBool(fin))
        r->final = cJSON_IsTrue(fin);
    if (v->raw.n && v->raw.n != v->outputs.n) {
        triton_fail(err, TRITON_PROTOCOL,
                    "ModelInferResponse has %zu raw_output_contents for %zu outputs", v->raw.n,
                    v->outputs.n);
        goto fail;
    }
    for (size_t i = 0; i < r->n_outputs; i++)
        if (build_output(v, i, &r->outputs[i], owner, err) < 0)
            goto fail;
    *out = r;
    return 0;
fail:
    triton_infer_result_free(r);
    return -1;
}

/* The view of the reply at data[0..len) by the chosen reader: 0, 1 when the
 * fast reader (alone) declines it, -1 (err set). *m is protobuf-c's message
 * when the general reader ran (the view points into it). */
static int read_view(const uint8_t *data, size_t len, enum grpc_wire_reader reader,
                     struct reply_view *v, Inference__ModelInferResponse **m,
                     struct triton_error *err)
{
    if (reader != GRPC_WIRE_READER_GENERAL) {
        enum fast_outcome o = fast_view(data, len, v);
        if (o == FAST_OK)
            return 0;
        if (o == FAST_NO_MEMORY)
            return no_memory(err);
        if (reader == GRPC_WIRE_READER_FAST)
            return 1;
        view_free(v);
        view_init(v);
    }
    return general_view(data, len, v, m, err);
}

int grpc_wire_parse_infer_response_with(const uint8_t *data, size_t len,
                                        struct tensor_buffer *owner, enum grpc_wire_reader reader,
                                        struct triton_infer_result **out, struct triton_error *err)
{
    struct reply_view v;
    Inference__ModelInferResponse *m = NULL;
    view_init(&v);
    int rc = read_view(data, len, reader, &v, &m, err);
    if (rc == 0)
        rc = build_result(&v, result_block(&v), owner, out, err);
    view_free(&v);
    if (m)
        inference__model_infer_response__free_unpacked(m, NULL);
    return rc;
}

int grpc_wire_parse_infer_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                   struct triton_infer_result **out, struct triton_error *err)
{
    return grpc_wire_parse_infer_response_with(data, len, owner, GRPC_WIRE_READER_AUTO, out, err);
}

static size_t align_up(size_t n)
{
    return (n + REPLY_ALIGN - 1) / REPLY_ALIGN * REPLY_ALIGN;
}

/* The view's raw contents moved into one new buffer (allocated with its
 * header), each at an aligned offset so that every output can be a view over
 * it; the view then points there. The result block follows them in the same
 * allocation (*r, which holds a reference to the buffer): one malloc for the
 * reply, freed when the result and its output tensors are all gone. */
_Static_assert(REPLY_ALIGN <= _Alignof(max_align_t),
               "an inline buffer's data is aligned as malloc's");
_Static_assert(_Alignof(struct triton_infer_result) <= REPLY_ALIGN &&
                   _Alignof(struct triton_infer_output) <= REPLY_ALIGN,
               "a result block after the raw contents is aligned");
static struct tensor_buffer *move_raw(struct reply_view *v, struct triton_infer_result **r,
                                      struct triton_error *err)
{
    struct praw *raw = v->raw.items;
    size_t size = 0, head, result_size = result_block_size(v, &head);
    for (size_t i = 0; i < v->raw.n; i++)
        size += align_up(raw[i].len);
    struct tensor_buffer *buf =
        size <= SIZE_MAX - result_size ? tensor_buffer_new_inline(size + result_size, NULL) : NULL;
    if (!buf) {
        no_memory(err);
        return NULL;
    }
    uint8_t *block = buf->data;
    for (size_t i = 0, off = 0; i < v->raw.n; off += align_up(raw[i].len), i++) {
        memcpy(block + off, raw[i].ptr, raw[i].len);
        raw[i].ptr = block + off;
    }
    buf->size = size; /* the raw contents: views are checked against them alone */
    *r = result_block_at(v, (char *)block + size, head);
    (*r)->block = buf;
    tensor_buffer_ref(buf);
    return buf;
}

int grpc_wire_read_infer_response(grpc_byte_buffer *bb, struct triton_infer_result **out,
                                  struct triton_error *err)
{
    const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    if (bb->type != GRPC_BB_RAW || bb->data.raw.compression != GRPC_COMPRESS_NONE ||
        sb->count != 1 || sb->length >= STREAMED_READ_MIN) {
        struct tensor_buffer *buf = grpc_wire_read(bb, err);
        if (!buf)
            return -1;
        int rc = grpc_wire_parse_infer_response(buf->data, buf->size, buf, out, err);
        tensor_buffer_unref(buf);
        return rc;
    }
    /* One small slice: read where gRPC holds it, and copy only the raw
     * contents, which the outputs keep. */
    struct reply_view v;
    Inference__ModelInferResponse *m = NULL;
    view_init(&v);
    int rc = read_view(GRPC_SLICE_START_PTR(sb->slices[0]), GRPC_SLICE_LENGTH(sb->slices[0]),
                       GRPC_WIRE_READER_AUTO, &v, &m, err);
    struct tensor_buffer *owner = NULL;
    struct triton_infer_result *r = NULL;
    if (rc == 0 && !(owner = move_raw(&v, &r, err)))
        rc = -1;
    if (rc == 0)
        rc = build_result(&v, r, owner, out, err);
    tensor_buffer_unref(owner);
    view_free(&v);
    if (m)
        inference__model_infer_response__free_unpacked(m, NULL);
    return rc;
}

int grpc_wire_parse_stream_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                    char **error_message, struct triton_infer_result **out,
                                    struct triton_error *err)
{
    struct cursor c = {data, data + len};
    const uint8_t *resp = NULL, *msg = NULL;
    size_t resp_len = 0, msg_len = 0;
    *error_message = NULL;
    *out = NULL;
    while (c.p < c.end) {
        const uint8_t *val;
        uint32_t field;
        int wt;
        size_t vlen;
        if (next_field(&c, &field, &wt, &val, &vlen, err) < 0)
            return -1;
        if ((field == 1 || field == 2) && wt != 2)
            return triton_fail(err, TRITON_PROTOCOL,
                               "malformed ModelStreamInferResponse (field %u, wire type %d)", field,
                               wt);
        /* Repeated occurrences: the last one wins, as for any singular field. */
        if (field == 1) {
            msg = val;
            msg_len = vlen;
        } else if (field == 2) {
            resp = val;
            resp_len = vlen;
        }
    }
    if (msg && msg_len) {
        if (!(*error_message = strndup((const char *)msg, msg_len)))
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
    }
    if (resp && grpc_wire_parse_infer_response(resp, resp_len, owner, out, err) < 0) {
        free(*error_message);
        *error_message = NULL;
        return -1;
    }
    return 0;
}
