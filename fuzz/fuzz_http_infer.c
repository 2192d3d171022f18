/*
 * fuzz_http_infer.c: the HTTP/REST infer reply parser (wire/http_infer.h) and
 * the error-body reader, over bytes a hostile server could send; and the
 * request writer, whose kept header must always equal a fresh one.
 *
 * Input: one flags byte, then (when flags & 2) the Inference-Header-Content-Length
 * value up to a '\n', then the body.
 *   flags & 1   parse with an owner buffer (outputs may be views over the body)
 *   flags & 2   an Inference-Header-Content-Length header is present
 *   flags >> 2  misalignment (0..7) of the body in its owner buffer
 * The owner's last reference is dropped before the outputs are read, so a view
 * that does not keep its reply alive is a use-after-free. The reply is parsed
 * three times: without a memo, then twice with one (the first parse fills it,
 * the second may take the header from it): outcomes must be the same.
 *
 * flags & 0x80 selects the request writer instead: two bytes of position and
 * one of mask, then a request description (decode_request). Request A is read
 * from the description, request B from it with the byte at the position
 * (modulo its length) XORed with the mask, so that B is A with one thing
 * changed, or A itself. A is built, then B into the same request struct (which
 * keeps A's header when B reads alike), then B into a fresh one: outcome,
 * header and pieces must be the same.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "same_result.h"
#include "support.h"
#include "wire/http_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the request writer ---------------------------------------------------------- */

#define MAX_IO 4

struct req_store {
    struct triton_infer_request req;
    struct triton_infer_input in[MAX_IO];
    struct triton_infer_requested_output out[MAX_IO];
    struct triton_param params[3 * (1 + 2 * MAX_IO)]; /* 3 per owner */
    size_t n_params;
    int64_t shapes[MAX_IO][3];
    struct tensor tensors[MAX_IO];
    int n_tensors;
    char text[4096];
    size_t used;
};

/* A NUL-terminated copy of up to max bytes of the input (zero bytes cut it). */
static const char *take_text(struct req_store *s, struct fuzz_input *in, size_t max)
{
    size_t n;
    const uint8_t *p = fuzz_bytes(in, max, &n);
    if (s->used + n + 1 > sizeof s->text)
        n = 0;
    if (s->used + 1 > sizeof s->text)
        return "";
    char *d = s->text + s->used;
    memcpy(d, p, n);
    d[n] = '\0';
    s->used += n + 1;
    return d;
}

/* NULL, "" or a text, as the next byte says. Every field of a description is
 * read whatever its value, so that a changed byte changes one field. */
static const char *take_name(struct req_store *s, struct fuzz_input *in)
{
    uint8_t k = fuzz_u8(in);
    const char *text = take_text(s, in, 12);
    return k == 0 ? NULL : k == 1 ? "" : text;
}

/* Three parameters, of which the first byte says how many count. */
static const struct triton_param *take_params(struct req_store *s, struct fuzz_input *in, size_t *n)
{
    *n = fuzz_u8(in) % 4;
    if (3 > sizeof s->params / sizeof *s->params - s->n_params)
        fuzz_fail("too many parameters");
    struct triton_param *ps = &s->params[s->n_params];
    s->n_params += 3;
    for (size_t i = 0; i < 3; i++) {
        struct triton_param *p = &ps[i];
        p->key = take_name(s, in);
        p->type = (enum triton_param_type)(fuzz_u8(in) % 6); /* 5: not a type */
        uint64_t v = fuzz_u64(in);
        const char *text = take_text(s, in, 12);
        switch (p->type) {
        case TRITON_PARAM_BOOL:
            p->v.b = v & 1;
            break;
        case TRITON_PARAM_INT64:
            p->v.i = (int64_t)v;
            break;
        case TRITON_PARAM_DOUBLE:
            memcpy(&p->v.d, &v, sizeof v);
            break;
        case TRITON_PARAM_STRING:
            p->v.s.ptr = v & 1 ? NULL : text;
            p->v.s.len = p->v.s.ptr ? strlen(p->v.s.ptr) : 0;
            break;
        default:
            p->v.u = v;
        }
    }
    return ps;
}

static void take_input(struct req_store *s, struct fuzz_input *in, size_t i)
{
    static const enum tensor_dtype dtypes[] = {TENSOR_INT32, TENSOR_FP32,  TENSOR_BOOL,
                                               TENSOR_BYTES, TENSOR_INT64, TENSOR_UINT8,
                                               TENSOR_FP16,  TENSOR_FP64};
    struct triton_infer_input *x = &s->in[i];
    x->name = take_name(s, in);
    uint8_t k = fuzz_u8(in);
    enum tensor_dtype dt = dtypes[k % 8];
    x->ndim = fuzz_u8(in) % 4;
    int64_t dims[3];
    for (int d = 0; d < 3; d++)
        dims[d] = fuzz_u8(in) % 4;
    /* the dimensions turned: another shape of as many elements */
    uint8_t turn = fuzz_u8(in);
    for (int d = 0; d < x->ndim; d++)
        s->shapes[i][d] = dims[(d + turn) % x->ndim];
    x->shape = s->shapes[i];
    /* the declared datatype: the data's, another, or none */
    uint8_t decl = fuzz_u8(in);
    x->datatype = decl < 200   ? tensor_dtype_name(dt)
                  : decl < 250 ? tensor_dtype_name(dtypes[decl % 8])
                               : NULL;
    x->params = take_params(s, in, &x->n_params);
    const char *region = take_name(s, in);
    uint8_t shm_size = fuzz_u8(in), shm_offset = fuzz_u8(in);
    uint8_t raw[16];
    for (size_t j = 0; j < sizeof raw; j++)
        raw[j] = fuzz_u8(in);
    const char *text = take_text(s, in, 8);
    if (k & 0x80) { /* in shared memory */
        x->shm_region = region;
        x->shm_byte_size = shm_size;
        x->shm_offset = shm_offset % 3;
        return;
    }
    x->json = k & 0x40;
    /* the data: of the declared shape, or flat with (k & 0x20) one more element */
    int64_t flat = 1;
    for (int d = 0; d < x->ndim; d++)
        flat *= x->shape[d];
    flat += k & 0x20 ? 1 : 0;
    struct tensor *t = &s->tensors[s->n_tensors];
    bool flatten = k & 0x30;
    if (tensor_init(t, dt, flatten ? &flat : x->shape, flatten ? 1 : x->ndim, NULL) < 0)
        return;
    s->n_tensors++;
    x->data = t;
    int64_t n = tensor_numel(t);
    size_t tlen = strlen(text);
    for (int64_t j = 0; j < n; j++) {
        if (dt == TENSOR_BYTES) {
            struct tensor_str *e = (struct tensor_str *)t->buf->data + j;
            e->ptr = text;
            e->len = (size_t)j % (tlen + 1);
            continue;
        }
        size_t es = tensor_dtype_elem_size(dt);
        for (size_t b = 0; b < es; b++)
            ((uint8_t *)t->buf->data)[(size_t)j * es + b] = raw[((size_t)j * es + b) % sizeof raw];
        if (dt == TENSOR_BOOL)
            ((uint8_t *)t->buf->data)[j] &= 1;
    }
}

static void take_output(struct req_store *s, struct fuzz_input *in, size_t i)
{
    struct triton_infer_requested_output *o = &s->out[i];
    o->name = take_name(s, in);
    uint8_t k = fuzz_u8(in);
    o->binary = k % 3 - 1;
    o->class_count = (k >> 2) % 3;
    const char *region = take_name(s, in);
    uint8_t shm_size = fuzz_u8(in), shm_offset = fuzz_u8(in);
    if (k & 0x80) {
        o->shm_region = region ? region : "";
        o->shm_byte_size = shm_size;
        o->shm_offset = shm_offset % 3;
    }
    o->params = take_params(s, in, &o->n_params);
}

static void take_request(struct req_store *s, struct fuzz_input *in)
{
    struct triton_infer_request *r = &s->req;
    r->model = "m";
    r->id = take_name(s, in);
    uint8_t k = fuzz_u8(in);
    uint8_t seq = fuzz_u8(in), priority = fuzz_u8(in), timeout = fuzz_u8(in);
    const char *seq_str = take_name(s, in);
    if (k % 3 == 1)
        r->sequence_id = seq;
    else if (k % 3 == 2)
        r->sequence_id_str = seq_str;
    r->sequence_start = k & 4;
    r->sequence_end = k & 8;
    r->binary_data_output = k & 16;
    r->priority = k & 32 ? priority : 0;
    r->timeout_us = k & 64 ? timeout : 0;
    r->params = take_params(s, in, &r->n_params);
    uint8_t n = fuzz_u8(in);
    r->n_inputs = n % (MAX_IO + 1);
    r->n_outputs = n / (MAX_IO + 1) % (MAX_IO + 1);
    for (size_t i = 0; i < MAX_IO; i++)
        take_input(s, in, i);
    for (size_t i = 0; i < MAX_IO; i++)
        take_output(s, in, i);
    r->inputs = s->in;
    r->outputs = s->out;
}

static void store_free(struct req_store *s)
{
    for (int i = 0; i < s->n_tensors; i++)
        tensor_release(&s->tensors[i]);
    free(s);
}

static struct req_store *decode_request(const uint8_t *p, size_t n)
{
    struct req_store *s = calloc(1, sizeof *s);
    if (!s)
        fuzz_fail("out of memory");
    struct fuzz_input in = {p, n};
    take_request(s, &in);
    return s;
}

/* kept (built after another request) and fresh hold the same outcome. */
static void same_build(int rk, const struct wire_http_request *kept, const struct triton_error *ek,
                       int rf, const struct wire_http_request *fresh, const struct triton_error *ef)
{
    if (rk != rf)
        fuzz_fail("build after another request: %d, fresh: %d (%s / %s)", rk, rf, ek->message,
                  ef->message);
    if (rk < 0) {
        if (ek->code != ef->code || strcmp(ek->message, ef->message) != 0)
            fuzz_fail("errors differ: '%s' / '%s'", ek->message, ef->message);
        return;
    }
    if (kept->json_len != fresh->json_len || memcmp(kept->json, fresh->json, kept->json_len) != 0 ||
        kept->json[kept->json_len] != '\0')
        fuzz_fail("kept header '%s' is not the fresh one '%s'", kept->json, fresh->json);
    if (kept->n_pieces != fresh->n_pieces || kept->total != fresh->total ||
        kept->binary != fresh->binary)
        fuzz_fail("the bodies differ");
    for (size_t i = 0; i < kept->n_pieces; i++)
        if (kept->pieces[i].len != fresh->pieces[i].len ||
            memcmp(kept->pieces[i].ptr, fresh->pieces[i].ptr, kept->pieces[i].len) != 0)
            fuzz_fail("piece %zu differs", i);
}

/* What a transport does between two builds: ends the first, after writing
 * past the header where the buffer has room. */
static void as_sent(struct wire_http_request *r)
{
    if (r->json && r->json_cap > r->json_len)
        memset(r->json + r->json_len, 'x', r->json_cap - r->json_len);
    wire_http_request_end(r);
}

static void fuzz_request(struct fuzz_input *in)
{
    size_t pos = fuzz_u8(in);
    pos |= (size_t)fuzz_u8(in) << 8;
    uint8_t mask = fuzz_u8(in);
    uint8_t *changed = malloc(in->n ? in->n : 1);
    if (!changed)
        fuzz_fail("out of memory");
    memcpy(changed, in->p, in->n);
    if (in->n)
        changed[pos % in->n] ^= mask;
    struct req_store *a = decode_request(in->p, in->n), *b = decode_request(changed, in->n);
    struct wire_http_request kept = {0}, fresh = {0};
    struct triton_error ea = {0}, ek = {0}, ef = {0};
    (void)wire_http_infer_request_build(&a->req, &kept, &ea);
    as_sent(&kept);
    int rk = wire_http_infer_request_build(&b->req, &kept, &ek);
    int rf = wire_http_infer_request_build(&b->req, &fresh, &ef);
    same_build(rk, &kept, &ek, rf, &fresh, &ef);
    /* and B once more over what B left */
    as_sent(&kept);
    triton_error_clear(&ek);
    rk = wire_http_infer_request_build(&b->req, &kept, &ek);
    same_build(rk, &kept, &ek, rf, &fresh, &ef);
    wire_http_request_free(&kept);
    wire_http_request_free(&fresh);
    store_free(a);
    store_free(b);
    free(changed);
}

/* ---- the reply parser -------------------------------------------------------------- */

/* Aborts unless two parses of one reply gave the same outcome: the same error,
 * or results alike in every field and every element. */
static void check_same_outcome(int rc_a, const struct triton_infer_result *a,
                               const struct triton_error *err_a, int rc_b,
                               const struct triton_infer_result *b,
                               const struct triton_error *err_b)
{
    if (rc_a != rc_b)
        fuzz_fail("with a memo the parse returned %d, without %d", rc_b, rc_a);
    if (rc_a < 0) {
        if (err_a->code != err_b->code || strcmp(err_a->message, err_b->message) != 0)
            fuzz_fail("with a memo the error is '%s', without '%s'", err_b->message,
                      err_a->message);
        return;
    }
    const char *diff = same_result_difference(a, b);
    if (diff)
        fuzz_fail("with a memo the result differs: %s", diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    if (flags & 0x80) {
        fuzz_request(&in);
        return 0;
    }
    const char *header = NULL;
    size_t header_n = 0;
    if (flags & 2) {
        const uint8_t *nl = memchr(in.p, '\n', in.n);
        if (!nl)
            return 0;
        header = (const char *)in.p;
        header_n = (size_t)(nl - in.p);
        in.n -= header_n + 1;
        in.p = nl + 1;
    }
    const char *body = (const char *)in.p;
    size_t body_len = in.n;

    char text[256];
    wire_http_error_text(body, body_len, text, sizeof text);
    if (strlen(text) >= sizeof text)
        fuzz_fail("error text overran its buffer");

    struct triton_error err = {0};
    size_t header_len = WIRE_NO_HEADER_LENGTH;
    if (header && wire_http_header_length(header, header_n, body_len, &header_len, &err) < 0)
        return 0;

    struct tensor_buffer *owner = NULL;
    if (flags & 1) {
        owner = fuzz_owner_copy(body, body_len, flags >> 2);
        body = owner->data;
    }
    struct triton_infer_result *r = NULL, *m[2] = {NULL, NULL};
    struct triton_error merr[2] = {{0}, {0}};
    int rc = wire_http_infer_parse(body, body_len, header_len, owner, NULL, &r, &err), mrc[2];
    struct wire_http_reply_memo memo = {0};
    for (int i = 0; i < 2; i++)
        mrc[i] = wire_http_infer_parse(body, body_len, header_len, owner, &memo, &m[i], &merr[i]);
    wire_http_reply_memo_free(&memo);
    tensor_buffer_unref(owner);
    for (int i = 0; i < 2; i++) {
        check_same_outcome(rc, r, &err, mrc[i], m[i], &merr[i]);
        triton_infer_result_free(m[i]);
    }
    if (rc < 0) {
        if (r)
            fuzz_fail("failed parse left a result behind");
        if (!err.message[0] || err.code == TRITON_OK)
            fuzz_fail("failed parse without an error message");
        return 0;
    }
    fuzz_check_result(r);
    triton_infer_result_free(r);
    return 0;
}
