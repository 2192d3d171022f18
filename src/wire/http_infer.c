/*
 * http_infer.c: see http_infer.h.
 */
#include "wire/http_infer.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/json.h"

/* Tensor bytes go on the wire as they are in memory: that is only the wire
 * layout on a little-endian host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the HTTP wire code sends tensors in host byte order and needs a little-endian host"
#endif

/* Nested "data" arrays deeper than this are refused (Triton's own limit). */
#define MAX_JSON_DATA_DEPTH 100

/* ---- request ------------------------------------------------------------------- */

/* The header is written by one walk over the request (walk_header and the
 * put_* functions below it). Every value of the request the walk reads, the
 * ones that steer it included, comes through a tr_* function, and it reads
 * nothing else: the trace (those values, in the order read) determines the
 * header, errors included. A request struct keeps the header it wrote last
 * with its trace; the next build walks its request in compare mode first, where
 * nothing is written and each value read is compared with the trace, and keeps
 * the header when the whole trace matches. A JSON "data" array is not traced:
 * a request with one is always written. */

struct walk {
    struct wire_jbuf *b;         /* the header being written; NULL in compare mode */
    struct wire_http_request *r; /* holds the trace */
    const char *trace;           /* compare mode: r's trace, */
    size_t pos, len;             /* the next byte to compare and its length */
    bool differs;                /* compare mode: a value is not the trace's */
    bool untraced;               /* write mode: the trace is incomplete (no memory, JSON data) */
};

static void trace_put(struct walk *w, const void *p, size_t n)
{
    struct wire_http_request *r = w->r;
    if (w->untraced)
        return;
    if (n > r->trace_cap - r->trace_len) {
        size_t cap = r->trace_cap ? r->trace_cap : 256;
        while (cap - r->trace_len < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        char *grown = cap - r->trace_len < n ? NULL : realloc(r->trace, cap);
        if (!grown) {
            w->untraced = true;
            return;
        }
        r->trace = grown;
        r->trace_cap = cap;
    }
    memcpy(r->trace + r->trace_len, p, n);
    r->trace_len += n;
}

/* n bytes at p: appended to the trace, or compared with it. */
static void trace(struct walk *w, const void *p, size_t n)
{
    if (w->b) {
        trace_put(w, p, n);
        return;
    }
    if (w->differs)
        return;
    if (n > w->len - w->pos || memcmp(w->trace + w->pos, p, n) != 0) {
        w->differs = true;
        return;
    }
    w->pos += n;
}

/* A word of the trace: most values are one, and most compare equal. */
static inline void trace_word(struct walk *w, uint64_t v)
{
    uint64_t had;
    if (!w->b && w->len - w->pos >= sizeof had) {
        memcpy(&had, w->trace + w->pos, sizeof had);
        if (had == v) {
            w->pos += sizeof had;
            return;
        }
    }
    trace(w, &v, sizeof v);
}

static uint64_t tr_u64(struct walk *w, uint64_t v)
{
    trace_word(w, v);
    return v;
}

static int64_t tr_i64(struct walk *w, int64_t v)
{
    trace_word(w, (uint64_t)v);
    return v;
}

static bool tr_bool(struct walk *w, bool v)
{
    trace_word(w, v);
    return v;
}

static double tr_double(struct walk *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    trace_word(w, bits);
    return v;
}

/* n bytes at s (s may be NULL), traced with their length. */
static const char *tr_bytes(struct walk *w, const char *s, size_t n)
{
    trace_word(w, s ? (uint64_t)n : UINT64_MAX);
    if (s)
        trace(w, s, n);
    return s;
}

/* A C string (or NULL); *len gets its length (0 for NULL). */
static const char *tr_str(struct walk *w, const char *s, size_t *len)
{
    *len = s ? strlen(s) : 0;
    return tr_bytes(w, s, *len);
}

/* A value the trace cannot hold: the header is written, and not kept. */
static void tr_untraceable(struct walk *w)
{
    if (w->b)
        w->untraced = true;
    else
        w->differs = true;
}

/* The header's text: nothing in compare mode, where the trace matching so far
 * means the text does too. */
static void put(struct walk *w, const char *s, size_t n)
{
    if (w->b)
        wire_jbuf_put(w->b, s, n);
}
#define PUT_LIT(w, lit) put(w, lit, sizeof lit - 1)

static void put_c(struct walk *w, char c)
{
    if (w->b)
        wire_jbuf_putc(w->b, c);
}

static void put_i64(struct walk *w, int64_t v)
{
    if (w->b)
        wire_jbuf_int64(w->b, v);
}

static void put_u64(struct walk *w, uint64_t v)
{
    if (w->b)
        wire_jbuf_uint64(w->b, v);
}

static void put_bool(struct walk *w, bool v)
{
    if (v)
        PUT_LIT(w, "true");
    else
        PUT_LIT(w, "false");
}

/* As wire_jbuf_string; in compare mode the text was valid when written. */
static int put_string(struct walk *w, const char *s, size_t n, bool check_utf8)
{
    return w->b ? wire_jbuf_string(w->b, s ? s : "", n, check_utf8) : 0;
}

static int put_double(struct walk *w, double v)
{
    return w->b ? wire_jbuf_double(w->b, v, true) : 0;
}

/* Writes `"key":` after a comma when *first is false. The keys are this
 * file's own literals, with nothing to escape. */
static void put_key(struct walk *w, bool *first, const char *key)
{
    bool was_first = *first;
    *first = false;
    if (!w->b)
        return;
    wire_jbuf_put(w->b, was_first ? "\"" : ",\"", was_first ? 1 : 2);
    wire_jbuf_puts(w->b, key);
    wire_jbuf_put(w->b, "\":", 2);
}

static int put_param(struct walk *w, bool *first, const struct triton_param *p, const char *where,
                     struct triton_error *err)
{
    size_t klen;
    const char *key = tr_str(w, p->key, &klen);
    if (!key || !*key)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: a parameter has an empty name",
                           where);
    if (!*first)
        put_c(w, ',');
    *first = false;
    if (put_string(w, key, klen, true) < 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: parameter name is not valid UTF-8",
                           where);
    put_c(w, ':');
    switch (tr_u64(w, p->type)) {
    case TRITON_PARAM_BOOL:
        put_bool(w, tr_bool(w, p->v.b));
        break;
    case TRITON_PARAM_INT64:
        put_i64(w, tr_i64(w, p->v.i));
        break;
    case TRITON_PARAM_UINT64:
        put_u64(w, tr_u64(w, p->v.u));
        break;
    case TRITON_PARAM_DOUBLE: {
        double d = tr_double(w, p->v.d);
        if (put_double(w, d) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "%s: parameter '%s' is %g, which JSON cannot express", where, key,
                               d);
        break;
    }
    case TRITON_PARAM_STRING: {
        const char *s = tr_bytes(w, p->v.s.ptr, p->v.s.len);
        if (put_string(w, s, s ? p->v.s.len : 0, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "%s: parameter '%s' is not valid UTF-8", where, key);
        break;
    }
    default:
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: parameter '%s' has a bad type", where,
                           key);
    }
    return 0;
}

/* n: the number of params, traced by the caller */
static int put_params(struct walk *w, bool *first, const struct triton_param *params, size_t n,
                      const char *where, struct triton_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (put_param(w, first, &params[i], where, err) < 0)
            return -1;
    return 0;
}

static void put_shm(struct walk *w, bool *first, const char *region, uint64_t size, uint64_t offset)
{
    size_t len;
    region = tr_str(w, region, &len);
    put_key(w, first, "shared_memory_region");
    put_string(w, region, len, false);
    put_key(w, first, "shared_memory_byte_size");
    put_u64(w, tr_u64(w, size));
    if (tr_u64(w, offset)) {
        put_key(w, first, "shared_memory_offset");
        put_u64(w, offset);
    }
}

/* Writes the "data" array of a JSON input (not traced: see above). */
static int put_json_data(struct walk *w, const struct triton_infer_input *in,
                         struct triton_error *err)
{
    tr_untraceable(w);
    if (!w->b)
        return 0;
    struct wire_jbuf *b = w->b;
    const struct tensor *t = in->data;
    if (t->dtype == TENSOR_FP16 || t->dtype == TENSOR_BF16)
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "input '%s': %s cannot be sent as JSON; send it as binary data",
                           in->name, tensor_dtype_name(t->dtype));
    wire_jbuf_puts(b, ",\"data\":[");
    struct tensor_iter it;
    int64_t i = 0;
    for (tensor_iter_init(&it, t); it.left > 0; tensor_iter_next(&it), i++) {
        if (i)
            wire_jbuf_putc(b, ',');
        switch (t->dtype) {
        case TENSOR_BOOL:
            wire_jbuf_puts(b, *(const uint8_t *)it.ptr ? "true" : "false");
            break;
        case TENSOR_UINT64:
            wire_jbuf_uint64(b, *(const uint64_t *)it.ptr);
            break;
        case TENSOR_FP32:
            if (wire_jbuf_float(b, *(const float *)it.ptr) < 0)
                goto not_finite;
            break;
        case TENSOR_FP64:
            if (wire_jbuf_double(b, *(const double *)it.ptr, false) < 0)
                goto not_finite;
            break;
        case TENSOR_BYTES: {
            const struct tensor_str *s = (const struct tensor_str *)it.ptr;
            if (wire_jbuf_string(b, s->ptr ? s->ptr : "", s->len, true) < 0)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "input '%s': BYTES element %lld is not valid UTF-8, which "
                                   "JSON requires; send it as binary data",
                                   in->name, (long long)i + 1);
            break;
        }
        default: /* the signed and small unsigned integers */
            wire_jbuf_int64(b, tensor_get_i64(t->dtype, it.ptr));
        }
    }
    wire_jbuf_putc(b, ']');
    return 0;
not_finite:
    return triton_fail(err, TRITON_INVALID_ARGUMENT,
                       "input '%s': element %lld is NaN or infinite, which JSON cannot express; "
                       "send it as binary data",
                       in->name, (long long)i + 1);
}

static void put_request_params(struct walk *w, const struct triton_infer_request *req, bool *first)
{
    size_t len;
    const char *sid = tr_str(w, req->sequence_id_str, &len);
    bool seq = false;
    if (sid && *sid) {
        put_key(w, first, "sequence_id");
        put_string(w, sid, len, false);
        seq = true;
    } else if (tr_u64(w, req->sequence_id)) {
        put_key(w, first, "sequence_id");
        put_u64(w, req->sequence_id);
        seq = true;
    }
    if (seq) {
        put_key(w, first, "sequence_start");
        put_bool(w, tr_bool(w, req->sequence_start));
        put_key(w, first, "sequence_end");
        put_bool(w, tr_bool(w, req->sequence_end));
    }
    if (tr_u64(w, req->priority)) {
        put_key(w, first, "priority");
        put_u64(w, req->priority);
    }
    if (tr_u64(w, req->timeout_us)) {
        put_key(w, first, "timeout");
        put_u64(w, req->timeout_us);
    }
    if (tr_bool(w, req->n_outputs == 0 && req->binary_data_output)) {
        put_key(w, first, "binary_data_output");
        PUT_LIT(w, "true");
    }
}

static int put_inputs(struct walk *w, const struct triton_infer_request *req,
                      const size_t *wire_sizes, struct triton_error *err)
{
    PUT_LIT(w, ",\"inputs\":[");
    size_t n = tr_u64(w, req->n_inputs);
    for (size_t i = 0; i < n; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (i)
            put_c(w, ',');
        PUT_LIT(w, "{\"name\":");
        size_t len;
        const char *s = tr_str(w, in->name, &len);
        if (put_string(w, s, len, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "input %zu: name is not valid UTF-8",
                               i + 1);
        PUT_LIT(w, ",\"shape\":[");
        int ndim = (int)tr_i64(w, in->ndim);
        for (int d = 0; d < ndim; d++) {
            if (d)
                put_c(w, ',');
            put_i64(w, tr_i64(w, in->shape[d]));
        }
        PUT_LIT(w, "],\"datatype\":");
        s = tr_str(w, in->datatype, &len);
        put_string(w, s, len, false);
        bool has_data = tr_bool(w, in->data != NULL);
        bool json = has_data && tr_bool(w, in->json);
        size_t n_params = tr_u64(w, in->n_params);
        if (n_params || !json) {
            bool first = true;
            PUT_LIT(w, ",\"parameters\":{");
            if (put_params(w, &first, in->params, n_params, in->name, err) < 0)
                return -1;
            if (!has_data) {
                put_shm(w, &first, in->shm_region, in->shm_byte_size, in->shm_offset);
            } else if (!json) {
                put_key(w, &first, "binary_data_size");
                put_u64(w, tr_u64(w, wire_sizes[i]));
            }
            put_c(w, '}');
        }
        if (json && put_json_data(w, in, err) < 0)
            return -1;
        put_c(w, '}');
    }
    put_c(w, ']');
    return 0;
}

static int put_outputs(struct walk *w, const struct triton_infer_request *req,
                       struct triton_error *err)
{
    size_t n = tr_u64(w, req->n_outputs);
    if (n == 0)
        return 0;
    PUT_LIT(w, ",\"outputs\":[");
    for (size_t i = 0; i < n; i++) {
        const struct triton_infer_requested_output *o = &req->outputs[i];
        size_t len;
        const char *name = tr_str(w, o->name, &len);
        if (triton_infer_output_check(o, i, err) < 0)
            return -1;
        if (i)
            put_c(w, ',');
        PUT_LIT(w, "{\"name\":");
        if (put_string(w, name, len, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "requested output %zu: name is not valid UTF-8", i + 1);
        PUT_LIT(w, ",\"parameters\":{");
        bool first = true;
        if (put_params(w, &first, o->params, tr_u64(w, o->n_params), name, err) < 0)
            return -1;
        if (tr_i64(w, o->class_count) > 0) {
            put_key(w, &first, "classification");
            put_i64(w, o->class_count);
        }
        if (tr_bool(w, o->shm_region != NULL)) {
            put_shm(w, &first, o->shm_region, o->shm_byte_size, o->shm_offset);
        } else {
            put_key(w, &first, "binary_data");
            put_bool(w, tr_bool(w, o->binary < 0 ? req->binary_data_output : o->binary != 0));
        }
        PUT_LIT(w, "}}");
    }
    put_c(w, ']');
    return 0;
}

/* The header of req, whose binary inputs take wire_sizes bytes: written to
 * w->b, or compared with the trace. */
static int walk_header(struct walk *w, const struct triton_infer_request *req,
                       const size_t *wire_sizes, struct triton_error *err)
{
    put_c(w, '{');
    bool first = true;
    size_t len;
    const char *id = tr_str(w, req->id, &len);
    if (id) {
        put_key(w, &first, "id");
        if (put_string(w, id, len, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "request id is not valid UTF-8");
    }
    put_key(w, &first, "parameters");
    put_c(w, '{');
    bool pfirst = true;
    put_request_params(w, req, &pfirst);
    if (put_params(w, &pfirst, req->params, tr_u64(w, req->n_params), "request", err) < 0)
        return -1;
    put_c(w, '}');
    if (put_inputs(w, req, wire_sizes, err) < 0 || put_outputs(w, req, err) < 0)
        return -1;
    put_c(w, '}');
    return 0;
}

/* Sets out->json to req's header: the one it holds when the trace matches,
 * else written anew (with its trace). */
static int write_header(const struct triton_infer_request *req, struct wire_http_request *out,
                        const size_t *wire_sizes, struct triton_error *err)
{
    if (out->trace_valid) {
        struct walk w = {.r = out, .trace = out->trace, .len = out->trace_len};
        struct triton_error ignored; /* a mismatch's: the header is written anew */
        if (walk_header(&w, req, wire_sizes, &ignored) == 0 && !w.differs &&
            w.pos == out->trace_len) {
            out->json[out->json_len] = '\0'; /* a transport may have appended there */
            return 0;
        }
    }
    out->trace_valid = false;
    out->trace_len = 0;
    struct wire_jbuf b;
    if (out->json)
        b = (struct wire_jbuf){.data = out->json, .cap = out->json_cap, .max = SIZE_MAX};
    else
        wire_jbuf_init(&b, 512, 0);
    struct walk w = {.b = &b, .r = out};
    int rc = walk_header(&w, req, wire_sizes, err);
    out->json_cap = b.cap;
    out->json = wire_jbuf_take(&b, &out->json_len);
    if (!out->json) {
        out->json_cap = out->json_len = 0;
        if (rc == 0)
            return triton_fail(err, TRITON_NO_MEMORY,
                               "out of memory writing the infer request header");
    }
    out->trace_valid = rc == 0 && !w.untraced;
    return rc;
}

/* Whether input data can go on the wire straight from the tensor's memory. */
static bool sent_in_place(const struct tensor *t)
{
    return t->dtype != TENSOR_BYTES && tensor_is_contiguous(t);
}

/* What a request struct keeps for the next build stays below this many bytes
 * per buffer: one large request does not hold its memory for good. */
#define KEEP_MAX (64 * 1024)

void wire_http_request_end(struct wire_http_request *r)
{
    free(r->scratch);
    r->scratch = NULL;
    r->n_pieces = 0;
    r->total = 0;
    r->binary = false;
    if (r->json_cap > KEEP_MAX || r->trace_cap > KEEP_MAX) {
        free(r->json);
        free(r->trace);
        r->json = r->trace = NULL;
        r->json_len = r->json_cap = r->trace_len = r->trace_cap = 0;
        r->trace_valid = false;
    }
    if (r->cap_pieces * sizeof *r->pieces > KEEP_MAX) {
        free(r->pieces);
        r->pieces = NULL;
        r->cap_pieces = 0;
    }
}

void wire_http_request_free(struct wire_http_request *r)
{
    free(r->json);
    free(r->pieces);
    free(r->scratch);
    free(r->trace);
    memset(r, 0, sizeof(*r));
}

/* Room for n pieces. */
static bool reserve_pieces(struct wire_http_request *r, size_t n)
{
    if (n <= r->cap_pieces)
        return true;
    if (n > SIZE_MAX / sizeof *r->pieces)
        return false;
    struct wire_piece *grown = realloc(r->pieces, n * sizeof *grown);
    if (!grown)
        return false;
    r->pieces = grown;
    r->cap_pieces = n;
    return true;
}

int wire_http_infer_request_build(const struct triton_infer_request *req,
                                  struct wire_http_request *out, struct triton_error *err)
{
    wire_http_request_end(out);
    if (req->n_inputs && !req->inputs) {
        wire_http_request_free(out);
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed infer request");
    }
    /* a request's inputs are usually few: their sizes on the stack then */
    size_t few[8];
    size_t *wire_sizes = req->n_inputs <= sizeof few / sizeof *few
                             ? memset(few, 0, sizeof few)
                             : calloc(req->n_inputs, sizeof(*wire_sizes));
    if (!wire_sizes || req->n_inputs == SIZE_MAX || !reserve_pieces(out, req->n_inputs + 1)) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory building an infer request");
        goto fail;
    }
    /* Sizes first: the header carries them, and converted inputs share one block. */
    size_t scratch_size = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (triton_infer_input_check(in, i, err) < 0)
            goto fail;
        if (!in->data || in->json)
            continue;
        if (tensor_wire_size(in->data, &wire_sizes[i], err) < 0)
            goto fail;
        if (!sent_in_place(in->data)) {
            if (scratch_size > SIZE_MAX - wire_sizes[i]) {
                triton_fail(err, TRITON_OUT_OF_RANGE, "infer request too large");
                goto fail;
            }
            scratch_size += wire_sizes[i];
        }
    }
    if (scratch_size && !(out->scratch = malloc(scratch_size))) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory converting %zu bytes of inputs",
                    scratch_size);
        goto fail;
    }
    if (write_header(req, out, wire_sizes, err) < 0)
        goto fail;

    out->pieces[0] = (struct wire_piece){out->json, out->json_len};
    out->n_pieces = 1;
    out->total = out->json_len;
    size_t spos = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (!in->data || in->json)
            continue;
        out->binary = true;
        if (wire_sizes[i] == 0)
            continue;
        const void *ptr;
        if (sent_in_place(in->data)) {
            size_t esize = tensor_dtype_elem_size(in->data->dtype);
            ptr = (const char *)in->data->buf->data + (size_t)in->data->offset * esize;
        } else {
            ptr = (char *)out->scratch + spos;
            if (tensor_to_wire(in->data, (char *)out->scratch + spos, err) < 0)
                goto fail;
            spos += wire_sizes[i];
        }
        out->pieces[out->n_pieces++] = (struct wire_piece){ptr, wire_sizes[i]};
        if (out->total > SIZE_MAX - wire_sizes[i]) {
            triton_fail(err, TRITON_OUT_OF_RANGE, "infer request too large");
            goto fail;
        }
        out->total += wire_sizes[i];
    }
    if (wire_sizes != few)
        free(wire_sizes);
    return 0;
fail:
    if (wire_sizes != few)
        free(wire_sizes);
    wire_http_request_free(out);
    return -1;
}

/* ---- response -------------------------------------------------------------------- */

/* The one check of the JSON header's length against the body's. */
static int header_fits(size_t header_len, size_t body_len, struct triton_error *err)
{
    if (header_len <= body_len)
        return 0;
    return triton_fail(
        err, TRITON_PROTOCOL,
        "Inference-Header-Content-Length is %zu, longer than the body (only %zu bytes)", header_len,
        body_len);
}

int wire_http_header_length(const char *value, size_t n, size_t body_len, size_t *out,
                            struct triton_error *err)
{
    size_t i = 0;
    while (i < n && (value[i] == ' ' || value[i] == '\t'))
        i++;
    while (n > i && isspace((unsigned char)value[n - 1]))
        n--;
    if (i == n)
        return triton_fail(err, TRITON_PROTOCOL, "empty Inference-Header-Content-Length header");
    size_t v = 0;
    for (; i < n; i++) {
        if (value[i] < '0' || value[i] > '9')
            return triton_fail(err, TRITON_PROTOCOL,
                               "Inference-Header-Content-Length is not a number");
        unsigned digit = (unsigned)(value[i] - '0');
        if (v > (SIZE_MAX - digit) / 10)
            return triton_fail(err, TRITON_PROTOCOL, "Inference-Header-Content-Length too large");
        v = v * 10 + digit;
    }
    if (header_fits(v, body_len, err) < 0)
        return -1;
    *out = v;
    return 0;
}

/* The reply header is read straight from the JSON reader's tokens: no tree is
 * built except for "parameters" objects, numbers stay exact (INT64 and UINT64
 * data to the last digit) and strings keep their zero bytes. The whole header
 * is read before any output's data, so that a header that is not valid JSON is
 * reported as such whatever else is wrong in it; past that, the first problem
 * in document order is the one reported. Of a key given twice, the first
 * counts (as Triton's own reader finds it). */

/* One output's "data" value, as text of the header: read once the header is
 * known to be valid JSON and the output's datatype and shape are known. */
struct data_text {
    const char *p;
    size_t n;
};

/* What the header says about an output beside its result fields: where its
 * "data" lies, and its binary_data_size. That parameter frames the body and is
 * read here, not kept among the output's parameters (the Lua results leave it
 * out, as gRPC has none): an output whose parameters hold nothing else, the
 * common reply, needs no tree. */
enum { BDS_NONE, BDS_OK, BDS_BAD };
struct output_side {
    struct data_text data; /* p NULL for none */
    uint64_t bds;
    unsigned char bds_state; /* BDS_*: the first binary_data_size member counts */
};

#define FEW_OUTPUTS 8
/* The strings of a reply up to this many bytes are gathered on the stack. */
#define FEW_TEXT 512

/* The header is read into the reader (the result, its outputs, their text in
 * one buffer), and the result is then made one block (one_block) from it. */
struct reply_reader {
    struct wire_json_reader json;
    struct triton_infer_result *r; /* &res while the header is read */
    struct triton_infer_result res;
    size_t cap;               /* outputs (and sides) allocated */
    struct output_side *side; /* per output: few, or malloc'd beyond FEW_OUTPUTS */
    struct output_side few[FEW_OUTPUTS];
    struct triton_infer_output few_outputs[FEW_OUTPUTS];
    /* The strings kept (names, datatypes, model_name, ...), each with its NUL:
     * few_text, or malloc'd when they grow past it. */
    char *text;
    size_t text_len, text_cap;
    char few_text[FEW_TEXT];
    struct triton_error problem; /* the first problem with the content, if any */
    struct triton_error *err;
};

/* An error to fill, made empty without zeroing its whole message buffer (as
 * `= {0}` would, per output). */
static void no_error(struct triton_error *e)
{
    e->code = TRITON_OK;
    e->status = 0;
    e->message[0] = '\0';
}

static int reply_no_memory(struct triton_error *err)
{
    return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading an infer reply");
}

static int no_memory(struct reply_reader *rr)
{
    return reply_no_memory(rr->err);
}

/* Stops the read: the header is not valid JSON, or memory ran out. */
static int json_broken(struct reply_reader *rr)
{
    if (rr->json.no_memory)
        return no_memory(rr);
    return triton_fail(rr->err, TRITON_PROTOCOL, "infer reply is not valid JSON: %s",
                       wire_json_error(&rr->json));
}

/* Reads past the value whose first token is t: 0, or -1 when it is not valid JSON. */
static int skip(struct reply_reader *rr, enum wire_json_token t)
{
    return wire_json_skip(&rr->json, t) == WIRE_JSON_ERROR ? json_broken(rr) : 0;
}

/* Points a result's strings (every one that points into text at `from`) at the
 * same offsets from `to`: the one list of the strings a reply's text holds. */
static void rebase_text(struct triton_infer_result *r, const char *from, char *to)
{
#define MOVE(p) ((p) = (p) ? to + ((p)-from) : NULL)
    MOVE(r->model_name);
    MOVE(r->model_version);
    MOVE(r->id);
    for (size_t i = 0; i < r->n_outputs; i++) {
        MOVE(r->outputs[i].name);
        MOVE(r->outputs[i].datatype);
    }
#undef MOVE
}

/* Moves the text kept so far to `to` (the strings that point into it too). */
static void move_text(struct reply_reader *rr, char *to)
{
    rebase_text(rr->r, rr->text, to);
    memcpy(to, rr->text, rr->text_len);
    rr->text = to;
}

/* A copy of n bytes at s, with a NUL, in rr's text; NULL when out of memory. */
static char *keep_text(struct reply_reader *rr, const char *s, size_t n)
{
    if (n >= rr->text_cap - rr->text_len) {
        if (n > SIZE_MAX / 4 - rr->text_len)
            return NULL;
        size_t cap =
            2 * rr->text_cap > rr->text_len + n + 1 ? 2 * rr->text_cap : rr->text_len + n + 1;
        char *grown = malloc(cap), *old = rr->text;
        if (!grown)
            return NULL;
        move_text(rr, grown);
        if (old != rr->few_text)
            free(old);
        rr->text_cap = cap;
    }
    char *d = rr->text + rr->text_len;
    memcpy(d, s, n);
    d[n] = '\0';
    rr->text_len += n + 1;
    return d;
}

/* A string value into *out; anything else is skipped. */
static int read_string(struct reply_reader *rr, char **out)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_STRING)
        return skip(rr, t);
    if (!(*out = keep_text(rr, rr->json.str, rr->json.len)))
        return no_memory(rr);
    return 0;
}

/* A value that wire_json_read_value or wire_json_read_member could not read. */
static int value_failed(struct reply_reader *rr, const struct triton_error *sub)
{
    if (sub->code == TRITON_NO_MEMORY)
        return no_memory(rr);
    if (wire_json_error(&rr->json)[0])
        return json_broken(rr);
    return triton_fail(rr->err, TRITON_PROTOCOL, "infer reply: %s", sub->message);
}

/* A "parameters" value into *out: an object, or *bad is set. */
static int read_params(struct reply_reader *rr, cJSON **out, bool *bad)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_OBJECT) {
        *bad = true;
        return skip(rr, t);
    }
    struct triton_error sub = {0};
    if ((*out = wire_json_read_value(&rr->json, t, &sub)))
        return 0;
    return value_failed(rr, &sub);
}

/* A non-negative integer (exactly; or a double with an integral value), as a
 * shape element or a binary_data_size: false for anything else. */
static bool token_count(const struct wire_json_reader *j, enum wire_json_token t, int64_t *out)
{
    if (t == WIRE_JSON_INT && j->num.i >= 0) {
        *out = j->num.i;
        return true;
    }
    if (t == WIRE_JSON_DOUBLE && j->num.d >= 0 && j->num.d < 9223372036854775808.0 &&
        j->num.d == floor(j->num.d)) {
        *out = (int64_t)j->num.d;
        return true;
    }
    return false;
}

/* The keys the reader looks for, with their lengths. */
struct known_key {
    const char *s;
    size_t n;
};
#define KNOWN(lit)                                                                                 \
    {                                                                                              \
        lit, sizeof lit - 1                                                                        \
    }

/* 1 << the index of key (len bytes) in names, 0 when it is none of them. */
static unsigned key_bit(const struct known_key *names, unsigned n, const char *key, size_t len)
{
    for (unsigned i = 0; i < n; i++)
        if (names[i].n == len && memcmp(names[i].s, key, len) == 0)
            return 1u << i;
    return 0;
}

/* What the header says about one output, while its object is read. */
struct output_keys {
    unsigned seen;   /* KEY_* bits */
    int ndim;        /* shape elements, counted past TENSOR_MAX_DIMS */
    int bad_dim;     /* the first shape element that is not a count (1-based), 0 none */
    bool shape_ok;   /* "shape" is an array */
    bool bad_params; /* "parameters" is not an object */
};

enum { KEY_NAME = 1, KEY_DATATYPE = 2, KEY_SHAPE = 4, KEY_PARAMETERS = 8, KEY_DATA = 16 };

static int read_shape(struct reply_reader *rr, struct triton_infer_output *o, struct output_keys *k)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_ARRAY)
        return skip(rr, t);
    k->shape_ok = true;
    while ((t = wire_json_next(&rr->json)) != WIRE_JSON_ARRAY_END) {
        int64_t v;
        if (t == WIRE_JSON_ERROR)
            return json_broken(rr);
        if (!token_count(&rr->json, t, &v)) {
            if (!k->bad_dim)
                k->bad_dim = k->ndim + 1;
            if (skip(rr, t) < 0)
                return -1;
        } else if (k->ndim < TENSOR_MAX_DIMS) {
            o->shape[k->ndim] = v;
        }
        k->ndim++;
    }
    return 0;
}

/* Where output index's "data" value lies in the header. */
static int read_data(struct reply_reader *rr, size_t index)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    const char *start = rr->json.tok;
    if (skip(rr, t) < 0)
        return -1;
    rr->side[index].data =
        (struct data_text){start, wire_json_pos(&rr->json) - (size_t)(start - rr->json.start)};
    return 0;
}

/* An output's "parameters": an object (else *bad is set) whose members but
 * binary_data_size (the first of which counts) go to *out, as read_params
 * reads them. */
static int read_output_params(struct reply_reader *rr, cJSON **out, struct output_side *side,
                              bool *bad)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_OBJECT) {
        *bad = true;
        return skip(rr, t);
    }
    static const char bds[] = "binary_data_size";
    while ((t = wire_json_next(&rr->json)) == WIRE_JSON_KEY) {
        if (rr->json.len == sizeof bds - 1 && memcmp(rr->json.str, bds, sizeof bds - 1) == 0) {
            t = wire_json_next(&rr->json);
            if (side->bds_state == BDS_NONE)
                side->bds_state =
                    wire_json_num_uint64(t, &rr->json.num, &side->bds) ? BDS_OK : BDS_BAD;
            if (skip(rr, t) < 0)
                return -1;
            continue;
        }
        struct triton_error sub = {0};
        if (wire_json_read_member(&rr->json, out, &sub) < 0)
            return value_failed(rr, &sub);
    }
    return t == WIRE_JSON_OBJECT_END ? 0 : json_broken(rr);
}

/* The value of key (len bytes) of output o, at index. */
static int read_output_key(struct reply_reader *rr, struct triton_infer_output *o, size_t index,
                           struct output_keys *k, const char *key, size_t len)
{
    static const struct known_key names[] = {KNOWN("name"), KNOWN("datatype"), KNOWN("shape"),
                                             KNOWN("parameters"), KNOWN("data")};
    unsigned bit = key_bit(names, sizeof names / sizeof *names, key, len);
    if (!bit || (k->seen & bit))
        return skip(rr, wire_json_next(&rr->json));
    k->seen |= bit;
    switch (bit) {
    case KEY_NAME:
        return read_string(rr, &o->name);
    case KEY_DATATYPE:
        return read_string(rr, &o->datatype);
    case KEY_SHAPE:
        return read_shape(rr, o, k);
    case KEY_PARAMETERS:
        return read_output_params(rr, &o->parameters, &rr->side[index], &k->bad_params);
    default:
        return read_data(rr, index);
    }
}

/* Records the first thing wrong with an output whose object was read. */
static void check_output(struct reply_reader *rr, struct triton_infer_output *o, size_t index,
                         const struct output_keys *k)
{
    struct triton_error *p = &rr->problem;
    if (!o->name || !o->datatype || !k->shape_ok)
        triton_fail(
            p, TRITON_PROTOCOL,
            "output %zu lacks a string \"name\", a string \"datatype\" or a \"shape\" array",
            index + 1);
    else if (k->ndim > TENSOR_MAX_DIMS)
        triton_fail(p, TRITON_PROTOCOL, "output '%s': shape has %d dimensions (max %d)", o->name,
                    k->ndim, TENSOR_MAX_DIMS);
    else if (k->bad_dim)
        triton_fail(p, TRITON_PROTOCOL,
                    "output '%s': shape element %d is not a non-negative integer", o->name,
                    k->bad_dim);
    else if (k->bad_params)
        triton_fail(p, TRITON_PROTOCOL, "output '%s': \"parameters\" is not an object", o->name);
    else
        o->ndim = k->ndim;
}

static int read_output(struct reply_reader *rr, struct triton_infer_output *o, size_t index)
{
    struct output_keys k = {0};
    enum wire_json_token t;
    while ((t = wire_json_next(&rr->json)) == WIRE_JSON_KEY)
        if (read_output_key(rr, o, index, &k, rr->json.str, rr->json.len) < 0)
            return -1;
    if (t != WIRE_JSON_OBJECT_END)
        return json_broken(rr);
    check_output(rr, o, index, &k);
    return 0;
}

/* Room for one more output, zeroed. */
static struct triton_infer_output *new_output(struct reply_reader *rr)
{
    struct triton_infer_result *r = rr->r;
    if (r->n_outputs == rr->cap) {
        size_t grown = 2 * rr->cap;
        if (grown > SIZE_MAX / sizeof(*r->outputs))
            return NULL;
        bool few = r->outputs == rr->few_outputs;
        struct triton_infer_output *o = realloc(few ? NULL : r->outputs, grown * sizeof(*o));
        struct output_side *d = o ? realloc(few ? NULL : rr->side, grown * sizeof(*d)) : NULL;
        if (!d) {
            if (few)
                free(o);
            else if (o)
                r->outputs = o;
            return NULL;
        }
        if (few) {
            memcpy(o, rr->few_outputs, sizeof rr->few_outputs);
            memcpy(d, rr->few, sizeof rr->few);
        }
        r->outputs = o;
        rr->side = d;
        rr->cap = grown;
    }
    /* Zeroed one at a time, as taken: an output is large (its tensor view
     * holds fixed-size shape and stride arrays), and only n_outputs are freed. */
    struct triton_infer_output *o = &r->outputs[r->n_outputs];
    memset(o, 0, sizeof(*o));
    o->dtype = TENSOR_INVALID;
    memset(&rr->side[r->n_outputs], 0, sizeof *rr->side);
    r->n_outputs++;
    return o;
}

static int read_outputs(struct reply_reader *rr)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_ARRAY) {
        triton_fail(&rr->problem, TRITON_PROTOCOL, "infer reply: \"outputs\" is not an array");
        return skip(rr, t);
    }
    while ((t = wire_json_next(&rr->json)) != WIRE_JSON_ARRAY_END) {
        if (t == WIRE_JSON_ERROR)
            return json_broken(rr);
        size_t index = rr->r->n_outputs;
        struct triton_infer_output *o = new_output(rr);
        if (!o)
            return no_memory(rr);
        if (t != WIRE_JSON_OBJECT) {
            triton_fail(&rr->problem, TRITON_PROTOCOL, "output %zu is not a JSON object",
                        index + 1);
            if (skip(rr, t) < 0)
                return -1;
        } else if (read_output(rr, o, index) < 0) {
            return -1;
        }
    }
    return 0;
}

enum {
    TOP_MODEL_NAME = 1,
    TOP_MODEL_VERSION = 2,
    TOP_ID = 4,
    TOP_PARAMETERS = 8,
    TOP_OUTPUTS = 16
};

static int read_top_key(struct reply_reader *rr, unsigned *seen, const char *key, size_t len)
{
    static const struct known_key names[] = {KNOWN("model_name"), KNOWN("model_version"),
                                             KNOWN("id"), KNOWN("parameters"), KNOWN("outputs")};
    unsigned bit = key_bit(names, sizeof names / sizeof *names, key, len);
    if (!bit || (*seen & bit))
        return skip(rr, wire_json_next(&rr->json));
    *seen |= bit;
    struct triton_infer_result *r = rr->r;
    switch (bit) {
    case TOP_MODEL_NAME:
        return read_string(rr, &r->model_name);
    case TOP_MODEL_VERSION:
        return read_string(rr, &r->model_version);
    case TOP_ID:
        return read_string(rr, &r->id);
    case TOP_PARAMETERS: {
        bool bad = false;
        if (read_params(rr, &r->parameters, &bad) < 0)
            return -1;
        if (bad)
            triton_fail(&rr->problem, TRITON_PROTOCOL,
                        "infer reply: \"parameters\" is not an object");
        return 0;
    }
    default:
        return read_outputs(rr);
    }
}

/* The header, whole: -1 when it is not valid JSON (or memory ran out); a
 * problem with its content is left in rr->problem. */
static int read_header(struct reply_reader *rr)
{
    enum wire_json_token t = wire_json_next(&rr->json);
    if (t != WIRE_JSON_OBJECT) {
        if (skip(rr, t) < 0)
            return -1;
        if (wire_json_next(&rr->json) != WIRE_JSON_EOF)
            return json_broken(rr);
        return triton_fail(rr->err, TRITON_PROTOCOL, "infer reply is not a JSON object");
    }
    unsigned seen = 0;
    while ((t = wire_json_next(&rr->json)) == WIRE_JSON_KEY)
        if (read_top_key(rr, &seen, rr->json.str, rr->json.len) < 0)
            return -1;
    if (t != WIRE_JSON_OBJECT_END || wire_json_next(&rr->json) != WIRE_JSON_EOF)
        return json_broken(rr);
    struct triton_infer_result *r = rr->r;
    if ((!r->model_name && !(r->model_name = keep_text(rr, "", 0))) ||
        (!r->model_version && !(r->model_version = keep_text(rr, "", 0))))
        return no_memory(rr);
    return 0;
}

/* Where p (in rr's text, or NULL) lies in the block's text. */
static char *moved(const struct reply_reader *rr, char *text, const char *p)
{
    return p ? text + (p - rr->text) : NULL;
}

/* The result read, as one block of *len bytes: the result, its outputs and
 * their text. NULL when out of memory. */
static struct triton_infer_result *result_block(const struct reply_reader *rr, size_t *len)
{
    const struct triton_infer_result *from = rr->r;
    size_t n = from->n_outputs, align = _Alignof(struct triton_infer_output);
    size_t head = (sizeof *from + align - 1) / align * align;
    size_t outs = n * sizeof(struct triton_infer_output);
    *len = head + outs + rr->text_len;
    char *block = malloc(*len);
    if (!block)
        return NULL;
    struct triton_infer_result *r = (struct triton_infer_result *)block;
    *r = *from;
    r->one_block = true;
    r->outputs = n ? (struct triton_infer_output *)(block + head) : NULL;
    if (n)
        memcpy(r->outputs, from->outputs, outs);
    char *text = block + head + outs;
    memcpy(text, rr->text, rr->text_len);
    r->model_name = moved(rr, text, from->model_name);
    r->model_version = moved(rr, text, from->model_version);
    r->id = moved(rr, text, from->id);
    for (size_t i = 0; i < n; i++) {
        r->outputs[i].name = moved(rr, text, from->outputs[i].name);
        r->outputs[i].datatype = moved(rr, text, from->outputs[i].datatype);
    }
    return r;
}

/* Frees what the reader holds of a result that did not become a block. */
static void reader_drop(struct reply_reader *rr)
{
    struct triton_infer_result *r = rr->r;
    for (size_t i = 0; i < r->n_outputs; i++)
        cJSON_Delete(r->outputs[i].parameters);
    cJSON_Delete(r->parameters);
}

/* Frees what the reader allocated beyond its own few outputs and text. */
static void reader_end(struct reply_reader *rr)
{
    if (rr->side != rr->few) {
        free(rr->side);
        free(rr->res.outputs);
    }
    if (rr->text != rr->few_text)
        free(rr->text);
}

/* The header (header_len bytes at body) read into *out as one block (*len
 * bytes), its outputs' data not yet read: -1 with err set when it is not valid
 * JSON or says something wrong. rr->side then has each output's framing until
 * reader_end. */
static int read_result(struct reply_reader *rr, const char *body, size_t header_len,
                       struct triton_infer_result **out, size_t *len, struct triton_error *err)
{
    /* Set field by field: zeroing the reader's buffers whole would cost more
     * than reading a small reply. */
    rr->res = (struct triton_infer_result){.final = true, .outputs = rr->few_outputs};
    rr->r = &rr->res;
    rr->side = rr->few; /* each output's side is zeroed as the output is taken */
    rr->cap = FEW_OUTPUTS;
    rr->err = err;
    rr->text = rr->few_text;
    rr->text_len = 0;
    rr->text_cap = FEW_TEXT;
    no_error(&rr->problem);
    wire_json_reader_init(&rr->json, body, header_len);
    int rc = read_header(rr);
    wire_json_reader_free(&rr->json);
    if (rc == 0 && rr->problem.code != TRITON_OK)
        rc = triton_fail(err, rr->problem.code, "%s", rr->problem.message);
    if (rc == 0 && !(*out = result_block(rr, len)))
        rc = no_memory(rr);
    if (rc < 0)
        reader_drop(rr);
    return rc;
}

/* ---- the reply memo --------------------------------------------------------------- */

/* The memo's mem holds, when block_len is not 0: the result block as
 * read_result made it, its outputs' sides (at memo_sides_at), then the
 * header's bytes. The block's pointers point into mem. */

void wire_http_reply_memo_free(struct wire_http_reply_memo *m)
{
    free(m->mem);
    memset(m, 0, sizeof *m);
}

/* A copy at `to` of the result block of len bytes at `from`, its pointers
 * moved into the copy. */
static struct triton_infer_result *block_copy(char *to, const void *from, size_t len)
{
    memcpy(to, from, len);
    struct triton_infer_result *r = (struct triton_infer_result *)to;
    if (r->outputs)
        r->outputs = (void *)(to + ((const char *)r->outputs - (const char *)from));
    rebase_text(r, from, to);
    return r;
}

static size_t memo_sides_at(size_t block_len)
{
    size_t a = _Alignof(struct output_side);
    return (block_len + a - 1) / a * a;
}

/* Whether all the header said of r is in its block and sides: no parameters
 * trees, no JSON data in the header's text. */
static bool memo_fits(const struct triton_infer_result *r, const struct output_side *sides)
{
    if (r->parameters)
        return false;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (r->outputs[i].parameters || sides[i].data.p)
            return false;
    return true;
}

/* Keeps the header and what read_result made of it (r, block_len bytes, and
 * its sides), or nothing when that cannot be kept. */
static void memo_keep(struct wire_http_reply_memo *m, const char *header, size_t header_len,
                      const struct triton_infer_result *r, size_t block_len,
                      const struct output_side *sides)
{
    m->block_len = 0;
    if (!memo_fits(r, sides) || block_len > WIRE_REPLY_MEMO_MAX ||
        header_len > WIRE_REPLY_MEMO_MAX || r->n_outputs > WIRE_REPLY_MEMO_MAX)
        return;
    size_t at = memo_sides_at(block_len), n = r->n_outputs * sizeof *sides;
    size_t need = at + n + header_len;
    if (need > WIRE_REPLY_MEMO_MAX)
        return;
    if (need > m->cap) {
        free(m->mem);
        m->cap = 0;
        if (!(m->mem = malloc(need)))
            return;
        m->cap = need;
    }
    block_copy(m->mem, r, block_len);
    memcpy(m->mem + at, sides, n);
    memcpy(m->mem + at + n, header, header_len);
    m->block_len = block_len;
    m->header_len = header_len;
}

/* When the header is the one m keeps: a copy of the result it read (its
 * pointers moved into the copy) in *out, and *sides its outputs' framing; 1, or
 * -1 with err set when out of memory. 0 for another header. */
static int memo_result(const struct wire_http_reply_memo *m, const char *header, size_t header_len,
                       struct triton_infer_result **out, const struct output_side **sides,
                       struct triton_error *err)
{
    if (!m || !m->block_len || m->header_len != header_len)
        return 0;
    const struct triton_infer_result *kept = (const struct triton_infer_result *)m->mem;
    size_t at = memo_sides_at(m->block_len), n = kept->n_outputs * sizeof **sides;
    if (memcmp(m->mem + at + n, header, header_len) != 0)
        return 0;
    char *block = malloc(m->block_len);
    if (!block)
        return reply_no_memory(err);
    *out = block_copy(block, m->mem, m->block_len);
    *sides = (const struct output_side *)(m->mem + at);
    return 1;
}

/* ---- output data ------------------------------------------------------------------- */

struct json_fill {
    struct tensor *t;
    int64_t pos;
    const char *name;
};

static int bad_element(struct json_fill *f, const char *what, struct triton_error *err)
{
    return triton_fail(err, TRITON_PROTOCOL, "output '%s': data element %lld is not %s", f->name,
                       (long long)f->pos + 1, what);
}

/* A number token as an integer: exactly, or a double with an integral value
 * in int64's or uint64's range. *neg: it is below zero (then *i holds it). */
static bool token_integer(const struct wire_json_reader *j, enum wire_json_token t, int64_t *i,
                          uint64_t *u, bool *neg)
{
    double d = j->num.d;
    switch (t) {
    case WIRE_JSON_INT:
        *i = j->num.i;
        *u = (uint64_t)j->num.i;
        *neg = j->num.i < 0;
        return true;
    case WIRE_JSON_UINT:
        *u = j->num.u;
        *i = INT64_MAX; /* above every signed range */
        *neg = false;
        return true;
    case WIRE_JSON_DOUBLE:
        if (d != floor(d) || !(d >= -9223372036854775808.0 && d < 18446744073709551616.0))
            return false;
        *neg = d < 0;
        *u = d < 0 ? 0 : (uint64_t)d;
        *i = d < 9223372036854775808.0 ? (int64_t)d : INT64_MAX;
        return true;
    default:
        return false;
    }
}

/* An integer element of t's dtype, checked against the dtype's range. */
static int fill_integer(struct json_fill *f, void *p, const struct wire_json_reader *j,
                        enum wire_json_token t, struct triton_error *err)
{
    static const int64_t lo[TENSOR_NDTYPES] = {[TENSOR_INT8] = INT8_MIN,
                                               [TENSOR_INT16] = INT16_MIN,
                                               [TENSOR_INT32] = INT32_MIN,
                                               [TENSOR_INT64] = INT64_MIN};
    static const uint64_t hi[TENSOR_NDTYPES] = {
        [TENSOR_UINT8] = UINT8_MAX,   [TENSOR_UINT16] = UINT16_MAX, [TENSOR_UINT32] = UINT32_MAX,
        [TENSOR_UINT64] = UINT64_MAX, [TENSOR_INT8] = INT8_MAX,     [TENSOR_INT16] = INT16_MAX,
        [TENSOR_INT32] = INT32_MAX,   [TENSOR_INT64] = INT64_MAX};
    enum tensor_dtype dt = f->t->dtype;
    int64_t i;
    uint64_t u;
    bool neg;
    if (t != WIRE_JSON_INT && t != WIRE_JSON_UINT && t != WIRE_JSON_DOUBLE)
        return bad_element(f, "a number", err);
    if (!token_integer(j, t, &i, &u, &neg) || (neg ? i < lo[dt] : u > hi[dt]))
        return bad_element(f, "an integer in the datatype's range", err);
    if (dt == TENSOR_UINT64)
        *(uint64_t *)p = u;
    else
        tensor_set_i64(dt, p, i);
    return 0;
}

/* The element the reader's token t stands for, at f->pos. */
static int fill_one(struct json_fill *f, const struct wire_json_reader *j, enum wire_json_token t,
                    struct triton_error *err)
{
    struct tensor *tn = f->t;
    void *p = tensor_elem_ptr(tn, f->pos);
    switch (tn->dtype) {
    case TENSOR_BOOL:
        if (t != WIRE_JSON_TRUE && t != WIRE_JSON_FALSE)
            return bad_element(f, "a boolean", err);
        *(uint8_t *)p = t == WIRE_JSON_TRUE;
        return 0;
    case TENSOR_BYTES: {
        if (t != WIRE_JSON_STRING)
            return bad_element(f, "a string", err);
        struct tensor_str *s = p;
        s->len = j->len;
        s->ptr = j->len ? tensor_buffer_intern(tn->buf, j->str, j->len, err) : "";
        return s->ptr ? 0 : -1;
    }
    case TENSOR_FP32:
    case TENSOR_FP64: {
        double d;
        if (t == WIRE_JSON_INT)
            d = (double)j->num.i;
        else if (t == WIRE_JSON_UINT)
            d = (double)j->num.u;
        else if (t == WIRE_JSON_DOUBLE)
            d = j->num.d;
        else
            return bad_element(f, "a number", err);
        tensor_set_f64(tn->dtype, p, d);
        return 0;
    }
    default:
        return fill_integer(f, p, j, t, err);
    }
}

/* Walks a "data" array: counts its leaves (fill NULL) or stores them. The
 * text is valid JSON (the header was read whole) and starts with '['. */
static int walk_data(const struct data_text *d, struct json_fill *f, int64_t *leaves,
                     const char *name, struct triton_error *err)
{
    struct wire_json_reader j;
    wire_json_reader_init(&j, d->p, d->n);
    enum wire_json_token t = wire_json_next(&j);
    int rc = 0;
    *leaves = 0;
    while (rc == 0 && j.depth > 0) {
        t = wire_json_next(&j);
        if (t == WIRE_JSON_ARRAY) {
            if (j.depth > MAX_JSON_DATA_DEPTH)
                rc = triton_fail(err, TRITON_PROTOCOL, "output '%s': data nested deeper than %d",
                                 name, MAX_JSON_DATA_DEPTH);
            continue;
        }
        if (t == WIRE_JSON_ARRAY_END)
            continue;
        if (t == WIRE_JSON_ERROR) /* only memory can fail here */
            rc = triton_fail(err, TRITON_NO_MEMORY, "out of memory reading output '%s'", name);
        else if (f)
            rc = fill_one(f, &j, t, err);
        if (rc == 0 && t == WIRE_JSON_OBJECT && wire_json_skip(&j, t) == WIRE_JSON_ERROR)
            rc = triton_fail(err, TRITON_NO_MEMORY, "out of memory reading output '%s'", name);
        if (f)
            f->pos++;
        ++*leaves;
    }
    wire_json_reader_free(&j);
    return rc;
}

/* The shape of an output as the peer sent it: a bad one is the peer's fault.
 * Its dimensions were counted against TENSOR_MAX_DIMS as the header was read
 * (check_output), so what tensor_check_shape adds to this is already known. */
static int check_output_shape(const struct triton_infer_output *o, int64_t *numel,
                              struct triton_error *err)
{
    struct triton_error sub;
    no_error(&sub);
    if (tensor_numel_checked(o->shape, o->ndim, o->dtype, numel, &sub) < 0)
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': %s", o->name, sub.message);
    return 0;
}

static int output_from_json(struct triton_infer_output *o, const struct data_text *d,
                            struct triton_error *err)
{
    if (d->n == 0 || d->p[0] != '[')
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': \"data\" is not an array", o->name);
    if (o->dtype == TENSOR_FP16 || o->dtype == TENSOR_BF16)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s': %s data came as JSON, which has no form for it", o->name,
                           o->datatype);
    int64_t numel, count;
    if (check_output_shape(o, &numel, err) < 0 || walk_data(d, NULL, &count, o->name, err) < 0)
        return -1;
    /* compared before allocating, so a hostile shape cannot make us allocate */
    if (count != numel)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s': \"data\" has %lld elements but the shape holds %lld",
                           o->name, (long long)count, (long long)numel);
    if (tensor_init(&o->tensor, o->dtype, o->shape, o->ndim, err) < 0)
        return -1;
    struct json_fill f = {&o->tensor, 0, o->name};
    if (walk_data(d, &f, &count, o->name, err) < 0) {
        tensor_release(&o->tensor);
        return -1;
    }
    o->has_data = true;
    return 0;
}

static int output_from_binary(struct triton_infer_output *o, const char *data, size_t size,
                              struct tensor_buffer *owner, struct triton_error *err)
{
    int64_t numel;
    if (check_output_shape(o, &numel, err) < 0)
        return -1;
    if (o->dtype != TENSOR_BYTES) {
        size_t want = (size_t)numel * tensor_dtype_wire_size(o->dtype);
        if (want != size)
            return triton_fail(err, TRITON_PROTOCOL,
                               "output '%s': binary_data_size is %zu but %lld %s elements take "
                               "%zu bytes",
                               o->name, size, (long long)numel, o->datatype, want);
    }
    struct triton_error sub;
    no_error(&sub);
    if (tensor_from_wire(&o->tensor, o->dtype, o->shape, o->ndim, data, size, owner, &sub) < 0) {
        /* the tensor core words it for any caller; here the peer is to blame */
        return triton_fail(err, sub.code == TRITON_NO_MEMORY ? TRITON_NO_MEMORY : TRITON_PROTOCOL,
                           "output '%s': %s", o->name, sub.message);
    }
    o->has_data = true;
    return 0;
}

/* Fills o's tensor from the binary data its parameters' binary_data_size
 * names (advancing *binary_pos over it) or else from its JSON "data". */
static int output_data(struct triton_infer_output *o, const struct output_side *side,
                       const char *bin, size_t bin_len, size_t *binary_pos,
                       struct tensor_buffer *owner, struct triton_error *err)
{
    if (triton_infer_output_dtype(o, err) < 0)
        return -1;
    if (side->bds_state != BDS_NONE) {
        uint64_t size = side->bds;
        if (side->bds_state == BDS_BAD)
            return triton_fail(err, TRITON_PROTOCOL,
                               "output '%s': binary_data_size is not a non-negative integer",
                               o->name);
        if (size > bin_len - *binary_pos)
            return triton_fail(err, TRITON_PROTOCOL,
                               "output '%s': binary_data_size %llu goes past the end of the "
                               "body (%zu bytes left)",
                               o->name, (unsigned long long)size, bin_len - *binary_pos);
        const char *p = bin + *binary_pos;
        *binary_pos += (size_t)size;
        return output_from_binary(o, p, (size_t)size, owner, err);
    }
    if (side->data.p)
        return output_from_json(o, &side->data, err);
    /* No data at all: Triton answers so for an output it wrote into the client's
     * shared-memory region (without naming the region). */
    return 0;
}

int wire_http_infer_parse(const char *body, size_t body_len, size_t header_len,
                          struct tensor_buffer *owner, struct wire_http_reply_memo *memo,
                          struct triton_infer_result **out, struct triton_error *err)
{
    *out = NULL;
    if (header_len == WIRE_NO_HEADER_LENGTH)
        header_len = body_len;
    if (header_fits(header_len, body_len, err) < 0)
        return -1;
    if (header_len == 0)
        return triton_fail(err, TRITON_PROTOCOL, "infer reply has an empty JSON header");
    struct reply_reader rr;
    struct triton_infer_result *r = NULL;
    const struct output_side *sides = NULL;
    int rc = memo_result(memo, body, header_len, &r, &sides, err);
    bool reading = rc == 0;
    if (reading) {
        size_t len = 0;
        rc = read_result(&rr, body, header_len, &r, &len, err);
        sides = rr.side;
        if (rc == 0 && memo)
            memo_keep(memo, body, header_len, r, len, sides);
    }
    rc = rc < 0 ? -1 : 0;
    const char *bin = body + header_len;
    size_t bin_len = body_len - header_len, pos = 0;
    for (size_t i = 0; rc == 0 && i < r->n_outputs; i++)
        rc = output_data(&r->outputs[i], &sides[i], bin, bin_len, &pos, owner, err);
    /* Every byte after the JSON header must belong to an output. */
    if (rc == 0 && pos != bin_len)
        rc = triton_fail(err, TRITON_PROTOCOL,
                         "infer reply has %zu bytes after its JSON header but its outputs "
                         "account for %zu",
                         bin_len, pos);
    if (reading)
        reader_end(&rr);
    if (rc < 0) {
        triton_infer_result_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void wire_http_error_text(const char *body, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (len == 0)
        return;
    cJSON *root = wire_json_parse(body, len, NULL);
    const char *text = body;
    size_t n = len;
    const char *e = wire_json_string(cJSON_GetObjectItemCaseSensitive(root, "error"), &n);
    if (e)
        text = e;
    else
        n = len;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
    cJSON_Delete(root);
}
