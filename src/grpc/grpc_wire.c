/*
 * grpc_wire.c: see grpc_wire.h.
 */
#include "grpc/grpc_wire.h"

#include <limits.h>
#include <stdbool.h>
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

/* Every allocation of one request's protobuf-c tree, freed together after packing. */
struct builder {
    void **ptrs;
    size_t n, cap;
    struct triton_error *err;
};

static void *b_alloc(struct builder *b, size_t size)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        void **grown = realloc(b->ptrs, cap * sizeof *grown);
        if (!grown)
            goto oom;
        b->ptrs = grown;
        b->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p)
        goto oom;
    b->ptrs[b->n++] = p;
    return p;
oom:
    triton_fail(b->err, TRITON_NO_MEMORY, "out of memory building a gRPC request");
    return NULL;
}

static void b_free(struct builder *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->ptrs[i]);
    free(b->ptrs);
}

static char *b_strndup(struct builder *b, const char *s, size_t n)
{
    char *p = b_alloc(b, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

static char *b_str(struct builder *b, const char *s)
{
    return b_strndup(b, s ? s : "", s ? strlen(s) : 0);
}

/* All three ParametersEntry messages (request, input, output) share this
 * layout; protobuf-c packs them through their own descriptors. */
typedef Inference__ModelInferRequest__ParametersEntry param_entry;

struct param_list {
    param_entry **items;
    size_t n, cap;
};

static Inference__InferParameter *add_param(struct builder *b, struct param_list *l,
                                            const ProtobufCMessageDescriptor *entry_desc,
                                            const char *key)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        param_entry **grown = b_alloc(b, cap * sizeof *grown);
        if (!grown)
            return NULL;
        if (l->n)
            memcpy(grown, l->items, l->n * sizeof *grown);
        l->items = grown;
        l->cap = cap;
    }
    param_entry *e = b_alloc(b, sizeof *e);
    Inference__InferParameter *v = b_alloc(b, sizeof *v);
    char *k = b_str(b, key);
    if (!e || !v || !k)
        return NULL;
    protobuf_c_message_init(entry_desc, e);
    inference__infer_parameter__init(v);
    e->key = k;
    e->value = v;
    l->items[l->n++] = e;
    return v;
}

static int add_params(struct builder *b, struct param_list *l,
                      const ProtobufCMessageDescriptor *entry_desc, const struct triton_param *ps,
                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct triton_param *p = &ps[i];
        if (!p->key)
            return triton_fail(b->err, TRITON_INVALID_ARGUMENT, "a parameter without a name");
        Inference__InferParameter *v = add_param(b, l, entry_desc, p->key);
        if (!v)
            return -1;
        switch (p->type) {
        case TRITON_PARAM_BOOL:
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
            v->bool_param = p->v.b;
            break;
        case TRITON_PARAM_INT64:
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
            v->int64_param = p->v.i;
            break;
        case TRITON_PARAM_UINT64:
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM;
            v->uint64_param = p->v.u;
            break;
        case TRITON_PARAM_DOUBLE:
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM;
            v->double_param = p->v.d;
            break;
        case TRITON_PARAM_STRING:
            if (p->v.s.ptr && memchr(p->v.s.ptr, 0, p->v.s.len))
                return triton_fail(
                    b->err, TRITON_INVALID_ARGUMENT,
                    "parameter '%s': a gRPC string parameter cannot hold a zero byte", p->key);
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
            v->string_param = b_strndup(b, p->v.s.ptr ? p->v.s.ptr : "", p->v.s.len);
            if (!v->string_param)
                return -1;
            break;
        default:
            return triton_fail(b->err, TRITON_INVALID_ARGUMENT, "parameter '%s' has no type",
                               p->key);
        }
    }
    return 0;
}

static int add_int(struct builder *b, struct param_list *l, const ProtobufCMessageDescriptor *d,
                   const char *key, int64_t value)
{
    Inference__InferParameter *v = add_param(b, l, d, key);
    if (!v)
        return -1;
    v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    v->int64_param = value;
    return 0;
}

static int add_shm(struct builder *b, struct param_list *l, const ProtobufCMessageDescriptor *d,
                   const char *region, uint64_t byte_size, uint64_t offset)
{
    Inference__InferParameter *v = add_param(b, l, d, "shared_memory_region");
    if (!v)
        return -1;
    v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    if (!(v->string_param = b_str(b, region)))
        return -1;
    if (byte_size > INT64_MAX || offset > INT64_MAX)
        return triton_fail(b->err, TRITON_INVALID_ARGUMENT,
                           "shared memory size or offset out of range for region '%s'", region);
    if (add_int(b, l, d, "shared_memory_byte_size", (int64_t)byte_size) < 0)
        return -1;
    if (offset && add_int(b, l, d, "shared_memory_offset", (int64_t)offset) < 0)
        return -1;
    return 0;
}

/* A raw input: the bytes to send and the buffer that owns them. */
struct raw_piece {
    const uint8_t *ptr;
    size_t len;
    struct tensor_buffer *owner; /* one reference held by the piece list */
};

/* The custom ProtobufCBuffer: small appends are gathered into `pending`,
 * big ones become slices over the caller's memory. */
struct slice_sink {
    ProtobufCBuffer base;
    grpc_slice *slices;
    size_t n, cap;
    uint8_t *pending;
    size_t pending_len, pending_cap;
    const struct raw_piece *pieces;
    size_t n_pieces;
    bool failed;
};

static void unref_owner(void *ud)
{
    tensor_buffer_unref(ud);
}

static bool sink_push(struct slice_sink *s, grpc_slice slice)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        grpc_slice *grown = realloc(s->slices, cap * sizeof *grown);
        if (!grown) {
            grpc_slice_unref(slice);
            return false;
        }
        s->slices = grown;
        s->cap = cap;
    }
    s->slices[s->n++] = slice;
    return true;
}

static bool sink_flush(struct slice_sink *s)
{
    if (!s->pending_len)
        return true;
    /* grpc_slice_new takes the malloc'd block without copying and frees it later. */
    grpc_slice slice = grpc_slice_new(s->pending, s->pending_len, free);
    s->pending = NULL;
    s->pending_len = s->pending_cap = 0;
    return sink_push(s, slice);
}

static void sink_append(ProtobufCBuffer *buffer, size_t len, const uint8_t *data)
{
    struct slice_sink *s = (struct slice_sink *)buffer;
    if (s->failed || len == 0)
        return;
    if (len >= GRPC_WIRE_SLICE_MIN) {
        for (size_t i = 0; i < s->n_pieces; i++) {
            const struct raw_piece *p = &s->pieces[i];
            if (p->ptr != data || p->len != len)
                continue;
            if (!sink_flush(s)) {
                s->failed = true;
                return;
            }
            tensor_buffer_ref(p->owner);
            grpc_slice slice =
                grpc_slice_new_with_user_data((void *)data, len, unref_owner, p->owner);
            if (!sink_push(s, slice))
                s->failed = true;
            return;
        }
    }
    if (s->pending_cap - s->pending_len < len) {
        size_t cap = s->pending_cap ? s->pending_cap : 256;
        while (cap - s->pending_len < len)
            cap *= 2;
        uint8_t *grown = realloc(s->pending, cap);
        if (!grown) {
            s->failed = true;
            return;
        }
        s->pending = grown;
        s->pending_cap = cap;
    }
    memcpy(s->pending + s->pending_len, data, len);
    s->pending_len += len;
}

static int pack_sink(const ProtobufCMessage *msg, const struct raw_piece *pieces, size_t n_pieces,
                     grpc_byte_buffer **out, struct triton_error *err)
{
    size_t total = protobuf_c_message_get_packed_size(msg);
    if (total > UINT32_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "request of %zu bytes exceeds gRPC's 4 GiB message limit", total);
    struct slice_sink s = {.base = {.append = sink_append}, .pieces = pieces, .n_pieces = n_pieces};
    protobuf_c_message_pack_to_buffer(msg, &s.base);
    bool ok = !s.failed && sink_flush(&s);
    if (ok)
        *out = grpc_raw_byte_buffer_create(s.slices, s.n);
    for (size_t i = 0; i < s.n; i++)
        grpc_slice_unref(s.slices[i]);
    free(s.slices);
    free(s.pending);
    if (!ok)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory serialising a gRPC request");
    return 0;
}

int grpc_wire_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out, struct triton_error *err)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > UINT32_MAX)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "request of %zu bytes exceeds gRPC's 4 GiB message limit", n);
    grpc_slice slice = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    *out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return 0;
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

/* The declared shape and datatype must describe the data (as over HTTP): the
 * server would refuse a mismatch, but only after the bytes went out, and an
 * input whose shape was changed after its data was set is the caller's bug. */
static int check_input_data(const struct triton_infer_input *in, struct triton_error *err)
{
    if (in->ndim < 0 || in->ndim > TENSOR_MAX_DIMS || (in->ndim > 0 && !in->shape))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "input '%s' has a bad shape", in->name);
    const char *dt = tensor_dtype_name(in->data->dtype);
    if (strcmp(dt, in->datatype) != 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "input '%s' is declared %s but its data is %s", in->name, in->datatype,
                           dt);
    int64_t numel;
    if (tensor_numel_checked(in->shape, in->ndim, in->data->dtype, &numel, err) < 0)
        return -1;
    if (numel != tensor_numel(in->data))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "input '%s': shape holds %lld elements but the data has %lld", in->name,
                           (long long)numel, (long long)tensor_numel(in->data));
    return 0;
}

int grpc_wire_infer_request(const struct triton_infer_request *req, grpc_byte_buffer **out,
                            struct triton_error *err)
{
    struct builder b = {.err = err};
    struct raw_piece *pieces = calloc(req->n_inputs ? req->n_inputs : 1, sizeof *pieces);
    size_t n_pieces = 0;
    int rc = -1;
    if (!pieces) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory building a gRPC request");
        return -1;
    }
    if (!req->model || !*req->model) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "infer needs a model name");
        goto done;
    }

    Inference__ModelInferRequest m = INFERENCE__MODEL_INFER_REQUEST__INIT;
    m.model_name = (char *)req->model;
    if (req->version)
        m.model_version = (char *)req->version;
    if (req->id)
        m.id = (char *)req->id;

    const ProtobufCMessageDescriptor *req_entry =
        &inference__model_infer_request__parameters_entry__descriptor;
    struct param_list params = {0};
    if (req->sequence_id_str || req->sequence_id) {
        Inference__InferParameter *v = add_param(&b, &params, req_entry, "sequence_id");
        if (!v)
            goto done;
        if (req->sequence_id_str) {
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
            v->string_param = (char *)req->sequence_id_str;
        } else {
            /* Triton takes sequence_id as int64_param or string_param only. */
            if (req->sequence_id > INT64_MAX) {
                triton_fail(err, TRITON_INVALID_ARGUMENT,
                            "sequence_id %llu does not fit gRPC's int64 parameter",
                            (unsigned long long)req->sequence_id);
                goto done;
            }
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
            v->int64_param = (int64_t)req->sequence_id;
        }
        const char *keys[2] = {"sequence_start", "sequence_end"};
        bool vals[2] = {req->sequence_start, req->sequence_end};
        for (int i = 0; i < 2; i++) {
            if (!(v = add_param(&b, &params, req_entry, keys[i])))
                goto done;
            v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
            v->bool_param = vals[i];
        }
    }
    if (req->priority) {
        Inference__InferParameter *v = add_param(&b, &params, req_entry, "priority");
        if (!v)
            goto done;
        v->parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM;
        v->uint64_param = req->priority;
    }
    if (req->timeout_us) {
        if (req->timeout_us > INT64_MAX) {
            triton_fail(err, TRITON_INVALID_ARGUMENT, "timeout out of range");
            goto done;
        }
        if (add_int(&b, &params, req_entry, "timeout", (int64_t)req->timeout_us) < 0)
            goto done;
    }
    if (add_params(&b, &params, req_entry, req->params, req->n_params) < 0)
        goto done;
    m.n_parameters = params.n;
    m.parameters = params.items;

    Inference__ModelInferRequest__InferInputTensor **inputs =
        b_alloc(&b, (req->n_inputs ? req->n_inputs : 1) * sizeof *inputs);
    ProtobufCBinaryData *raw = b_alloc(&b, (req->n_inputs ? req->n_inputs : 1) * sizeof *raw);
    if (!inputs || !raw)
        goto done;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        Inference__ModelInferRequest__InferInputTensor *t = b_alloc(&b, sizeof *t);
        if (!t)
            goto done;
        inference__model_infer_request__infer_input_tensor__init(t);
        if (!in->name || !in->datatype) {
            triton_fail(err, TRITON_INVALID_ARGUMENT, "input %zu needs a name and a datatype",
                        i + 1);
            goto done;
        }
        t->name = (char *)in->name;
        t->datatype = (char *)in->datatype;
        t->n_shape = (size_t)(in->ndim > 0 ? in->ndim : 0);
        t->shape = (int64_t *)in->shape;
        struct param_list ip = {0};
        const ProtobufCMessageDescriptor *in_entry =
            &inference__model_infer_request__infer_input_tensor__parameters_entry__descriptor;
        if (in->shm_region) {
            if (add_shm(&b, &ip, in_entry, in->shm_region, in->shm_byte_size, in->shm_offset) < 0)
                goto done;
        } else if (in->data) {
            /* Raw contents are matched to inputs in order, skipping shm inputs. */
            if (check_input_data(in, err) < 0 || input_piece(in, &pieces[n_pieces], err) < 0)
                goto done;
            raw[n_pieces].data = (uint8_t *)pieces[n_pieces].ptr;
            raw[n_pieces].len = pieces[n_pieces].len;
            n_pieces++;
        } else {
            triton_fail(err, TRITON_INVALID_ARGUMENT,
                        "input '%s' has neither data nor a shared memory region", in->name);
            goto done;
        }
        if (add_params(&b, &ip, in_entry, in->params, in->n_params) < 0)
            goto done;
        t->n_parameters = ip.n;
        t->parameters =
            (Inference__ModelInferRequest__InferInputTensor__ParametersEntry **)ip.items;
        inputs[i] = t;
    }
    m.n_inputs = req->n_inputs;
    m.inputs = inputs;
    m.n_raw_input_contents = n_pieces;
    m.raw_input_contents = raw;

    Inference__ModelInferRequest__InferRequestedOutputTensor **outputs =
        b_alloc(&b, (req->n_outputs ? req->n_outputs : 1) * sizeof *outputs);
    if (!outputs)
        goto done;
    for (size_t i = 0; i < req->n_outputs; i++) {
        const struct triton_infer_requested_output *o = &req->outputs[i];
        Inference__ModelInferRequest__InferRequestedOutputTensor *t = b_alloc(&b, sizeof *t);
        if (!t)
            goto done;
        inference__model_infer_request__infer_requested_output_tensor__init(t);
        if (!o->name) {
            triton_fail(err, TRITON_INVALID_ARGUMENT, "requested output %zu needs a name", i + 1);
            goto done;
        }
        t->name = (char *)o->name;
        struct param_list op = {0};
        const ProtobufCMessageDescriptor *out_entry =
            &inference__model_infer_request__infer_requested_output_tensor__parameters_entry__descriptor;
        if (o->class_count > 0 && add_int(&b, &op, out_entry, "classification", o->class_count) < 0)
            goto done;
        if (o->shm_region &&
            add_shm(&b, &op, out_entry, o->shm_region, o->shm_byte_size, o->shm_offset) < 0)
            goto done;
        if (add_params(&b, &op, out_entry, o->params, o->n_params) < 0)
            goto done;
        t->n_parameters = op.n;
        t->parameters =
            (Inference__ModelInferRequest__InferRequestedOutputTensor__ParametersEntry **)op.items;
        outputs[i] = t;
    }
    m.n_outputs = req->n_outputs;
    m.outputs = outputs;

    rc = pack_sink(&m.base, pieces, n_pieces, out, err);
done:
    for (size_t i = 0; i < n_pieces; i++)
        tensor_buffer_unref(pieces[i].owner);
    free(pieces);
    b_free(&b);
    return rc;
}

/* ---- reading replies ------------------------------------------------------------------- */

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
 * by the first n bytes of the message; 0 if it is not found there. Output
 * tensors can be views over the reply only where their data is aligned, so the
 * copy is placed to align the first (for one output: the only) big tensor. */
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

/* The streamed read described above; NULL (err set) on failure. The byte
 * buffer is left empty. */
static struct tensor_buffer *read_releasing(grpc_byte_buffer *bb, size_t len,
                                            struct triton_error *err)
{
    grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
    uint8_t head[4096];
    size_t head_len = 0;
    for (size_t i = 0; i < sb->count && head_len < sizeof head; i++) {
        size_t k = GRPC_SLICE_LENGTH(sb->slices[i]);
        if (k > sizeof head - head_len)
            k = sizeof head - head_len;
        memcpy(head + head_len, GRPC_SLICE_START_PTR(sb->slices[i]), k);
        head_len += k;
    }
    size_t pad = (REPLY_ALIGN - first_raw_offset(head, head_len) % REPLY_ALIGN) % REPLY_ALIGN;
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

struct tensor_buffer *grpc_wire_read(grpc_byte_buffer *bb, struct triton_error *err)
{
    size_t len = grpc_byte_buffer_length(bb);
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        len >= STREAMED_READ_MIN)
        return read_releasing(bb, len, err);
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
    if (key >> 3 == 0 || key >> 3 > 536870911)
        return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: invalid field number");
    *val = NULL;
    *val_len = 0;
    switch (*wire_type) {
    case 0:
        return read_varint(c, &n, err);
    case 1:
    case 5: {
        size_t w = *wire_type == 1 ? 8 : 4;
        if ((size_t)(c->end - c->p) < w)
            return triton_fail(err, TRITON_PROTOCOL, "gRPC reply: truncated fixed-size field");
        c->p += w;
        return 0;
    }
    case 2:
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

cJSON *grpc_wire_param_value(const Inference__InferParameter *p)
{
    if (!p)
        return cJSON_CreateNull();
    switch (p->parameter_choice_case) {
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM:
        return cJSON_CreateBool(p->bool_param);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM:
        return wire_json_new_int64(p->int64_param);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM:
        return cJSON_CreateString(p->string_param ? p->string_param : "");
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM:
        return cJSON_CreateNumber(p->double_param);
    case INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM:
        return wire_json_new_uint64(p->uint64_param);
    default:
        return cJSON_CreateNull();
    }
}

static cJSON *params_json(size_t n, Inference__ModelInferResponse__ParametersEntry *const *entries,
                          struct triton_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; obj && i < n; i++) {
        if (!entries[i] || !entries[i]->key)
            continue;
        cJSON *v = grpc_wire_param_value(entries[i]->value);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, entries[i]->key);
        if (!v || !cJSON_AddItemToObject(obj, entries[i]->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            obj = NULL;
        }
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
    if (tensor_check_shape(shape, ndim, dt, err) < 0 ||
        tensor_numel_checked(shape, ndim, dt, &numel, err) < 0)
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

static bool
has_param(size_t n,
          Inference__ModelInferResponse__InferOutputTensor__ParametersEntry *const *entries,
          const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (entries[i] && entries[i]->key && strcmp(entries[i]->key, key) == 0)
            return true;
    return false;
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

int grpc_wire_parse_infer_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                   struct triton_infer_result **out, struct triton_error *err)
{
    struct cursor c = {data, data + len};
    /* Pass 1: count raw_output_contents and the bytes of everything else. */
    size_t n_raw = 0, rest = 0;
    while (c.p < c.end) {
        const uint8_t *start = c.p, *val;
        uint32_t field;
        int wt;
        size_t vlen;
        if (next_field(&c, &field, &wt, &val, &vlen, err) < 0)
            return -1;
        if (field == 6 && wt == 2)
            n_raw++;
        else
            rest += (size_t)(c.p - start);
    }
    struct {
        const uint8_t *ptr;
        size_t len;
    } *raw = calloc(n_raw ? n_raw : 1, sizeof *raw);
    uint8_t *small = malloc(rest ? rest : 1);
    if (!raw || !small) {
        free(raw);
        free(small);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
    }
    /* Pass 2: pieces point into the reply; the rest is gathered for protobuf-c. */
    c.p = data;
    size_t k = 0, pos = 0;
    while (c.p < c.end) {
        const uint8_t *start = c.p, *val;
        uint32_t field;
        int wt;
        size_t vlen;
        next_field(&c, &field, &wt, &val, &vlen, NULL); /* validated in pass 1 */
        if (field == 6 && wt == 2) {
            raw[k].ptr = val;
            raw[k].len = vlen;
            k++;
        } else {
            memcpy(small + pos, start, (size_t)(c.p - start));
            pos += (size_t)(c.p - start);
        }
    }
    Inference__ModelInferResponse *m = inference__model_infer_response__unpack(NULL, rest, small);
    free(small);
    if (!m) {
        free(raw);
        return triton_fail(err, TRITON_PROTOCOL, "malformed ModelInferResponse");
    }
    int rc = -1;
    struct triton_infer_result *r = calloc(1, sizeof *r);
    if (!r) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
        goto done;
    }
    r->final = true;
    /* proto3 cannot tell "no id" from "": both read as no id (nil), as over HTTP */
    bool has_id = m->id && *m->id;
    if (!(r->model_name = dup_str(m->model_name)) ||
        !(r->model_version = dup_str(m->model_version)) || (has_id && !(r->id = dup_str(m->id)))) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
        goto done;
    }
    if (m->n_parameters && !(r->parameters = params_json(m->n_parameters, m->parameters, err)))
        goto done;
    cJSON *fin = cJSON_GetObjectItemCaseSensitive(r->parameters, "triton_final_response");
    if (cJSON_IsBool(fin))
        r->final = cJSON_IsTrue(fin);
    if (n_raw && n_raw != m->n_outputs) {
        triton_fail(err, TRITON_PROTOCOL,
                    "ModelInferResponse has %zu raw_output_contents for %zu outputs", n_raw,
                    m->n_outputs);
        goto done;
    }
    r->outputs = calloc(m->n_outputs ? m->n_outputs : 1, sizeof *r->outputs);
    if (!r->outputs) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
        goto done;
    }
    for (size_t i = 0; i < m->n_outputs; i++) {
        const Inference__ModelInferResponse__InferOutputTensor *t = m->outputs[i];
        struct triton_infer_output *o = &r->outputs[i];
        r->n_outputs = i + 1;
        o->dtype = TENSOR_INVALID;
        if (!(o->name = dup_str(t->name)) || !(o->datatype = dup_str(t->datatype))) {
            triton_fail(err, TRITON_NO_MEMORY, "out of memory parsing a gRPC reply");
            goto done;
        }
        if (t->n_parameters &&
            !(o->parameters = params_json(
                  t->n_parameters, (Inference__ModelInferResponse__ParametersEntry **)t->parameters,
                  err)))
            goto done;
        if (t->n_shape > TENSOR_MAX_DIMS) {
            triton_fail(err, TRITON_PROTOCOL, "output '%s' has %zu dimensions (at most %d)",
                        o->name, t->n_shape, TENSOR_MAX_DIMS);
            goto done;
        }
        o->ndim = (int)t->n_shape;
        if (t->n_shape)
            memcpy(o->shape, t->shape, t->n_shape * sizeof *o->shape);
        if (triton_infer_output_dtype(o, err) < 0)
            goto done;
        if (has_param(t->n_parameters, t->parameters, "shared_memory_region"))
            continue;
        if (n_raw) {
            int64_t numel = 0;
            /* An empty entry stands for an output placed in shared memory. */
            if (raw[i].len == 0 &&
                (tensor_numel_checked(o->shape, o->ndim, o->dtype, &numel, NULL) < 0 || numel))
                continue;
            if (tensor_from_wire(&o->tensor, o->dtype, o->shape, o->ndim, raw[i].ptr, raw[i].len,
                                 owner, err) < 0) {
                if (err) /* the reply is at fault, not the caller */
                    err->code = TRITON_PROTOCOL;
                goto done;
            }
            o->has_data = true;
        } else if (t->contents) {
            if (tensor_from_contents(&o->tensor, o->dtype, o->shape, o->ndim, t->contents, o->name,
                                     err) < 0)
                goto done;
            o->has_data = true;
        }
    }
    rc = 0;
    *out = r;
    r = NULL;
done:
    triton_infer_result_free(r);
    inference__model_infer_response__free_unpacked(m, NULL);
    free(raw);
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
