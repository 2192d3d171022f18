/*
 * http_infer.c: see http_infer.h.
 */
#include "wire/http_infer.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/json_num.h"

/* Tensor bytes go on the wire as they are in memory: that is only the wire
 * layout on a little-endian host. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the HTTP wire code sends tensors in host byte order and needs a little-endian host"
#endif

/* Nested "data" arrays deeper than this are refused (Triton's own limit). */
#define MAX_JSON_DATA_DEPTH 100

/* ---- request ------------------------------------------------------------------- */

static const char *const reserved_request_params[] = {
    "sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "binary_data_output",
};

/* Writes `"key":` after a comma when *first is false. */
static void put_key(struct wire_jbuf *b, bool *first, const char *key)
{
    if (!*first)
        wire_jbuf_putc(b, ',');
    *first = false;
    wire_jbuf_string(b, key, strlen(key), false);
    wire_jbuf_putc(b, ':');
}

static int put_param(struct wire_jbuf *b, bool *first, const struct triton_param *p,
                     const char *where, struct triton_error *err)
{
    if (!p->key || !*p->key)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: a parameter has an empty name",
                           where);
    if (!*first)
        wire_jbuf_putc(b, ',');
    *first = false;
    if (wire_jbuf_string(b, p->key, strlen(p->key), true) < 0)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: parameter name is not valid UTF-8",
                           where);
    wire_jbuf_putc(b, ':');
    switch (p->type) {
    case TRITON_PARAM_BOOL:
        wire_jbuf_puts(b, p->v.b ? "true" : "false");
        break;
    case TRITON_PARAM_INT64:
        wire_jbuf_int64(b, p->v.i);
        break;
    case TRITON_PARAM_UINT64:
        wire_jbuf_uint64(b, p->v.u);
        break;
    case TRITON_PARAM_DOUBLE:
        if (wire_jbuf_double(b, p->v.d, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "%s: parameter '%s' is %g, which JSON cannot express", where, p->key,
                               p->v.d);
        break;
    case TRITON_PARAM_STRING:
        if (wire_jbuf_string(b, p->v.s.ptr ? p->v.s.ptr : "", p->v.s.len, true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "%s: parameter '%s' is not valid UTF-8", where, p->key);
        break;
    default:
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: parameter '%s' has a bad type", where,
                           p->key);
    }
    return 0;
}

static int put_params(struct wire_jbuf *b, bool *first, const struct triton_param *params, size_t n,
                      const char *where, struct triton_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (put_param(b, first, &params[i], where, err) < 0)
            return -1;
    return 0;
}

static void put_shm(struct wire_jbuf *b, bool *first, const char *region, uint64_t size,
                    uint64_t offset)
{
    put_key(b, first, "shared_memory_region");
    wire_jbuf_string(b, region, strlen(region), false);
    put_key(b, first, "shared_memory_byte_size");
    wire_jbuf_uint64(b, size);
    if (offset) {
        put_key(b, first, "shared_memory_offset");
        wire_jbuf_uint64(b, offset);
    }
}

/* Writes the "data" array of a JSON input. */
static int put_json_data(struct wire_jbuf *b, const struct triton_infer_input *in,
                         struct triton_error *err)
{
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

static int check_input(const struct triton_infer_input *in, size_t index, struct triton_error *err)
{
    if (!in->name || !*in->name)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "input %zu has no name", index + 1);
    if (!in->datatype || !*in->datatype)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "input '%s' has no datatype", in->name);
    if (in->ndim < 0 || in->ndim > TENSOR_MAX_DIMS || (in->ndim > 0 && !in->shape))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "input '%s' has a bad shape", in->name);
    if (!in->data) {
        if (!in->shm_region)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "input '%s' has neither data nor a shared-memory region", in->name);
        return 0;
    }
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

/* Whether input data can go on the wire straight from the tensor's memory. */
static bool sent_in_place(const struct tensor *t)
{
    return t->dtype != TENSOR_BYTES && tensor_is_contiguous(t);
}

static void put_request_params(struct wire_jbuf *b, const struct triton_infer_request *req,
                               bool *first)
{
    bool seq = false;
    if (req->sequence_id_str && *req->sequence_id_str) {
        put_key(b, first, "sequence_id");
        wire_jbuf_string(b, req->sequence_id_str, strlen(req->sequence_id_str), false);
        seq = true;
    } else if (req->sequence_id) {
        put_key(b, first, "sequence_id");
        wire_jbuf_uint64(b, req->sequence_id);
        seq = true;
    }
    if (seq) {
        put_key(b, first, "sequence_start");
        wire_jbuf_puts(b, req->sequence_start ? "true" : "false");
        put_key(b, first, "sequence_end");
        wire_jbuf_puts(b, req->sequence_end ? "true" : "false");
    }
    if (req->priority) {
        put_key(b, first, "priority");
        wire_jbuf_uint64(b, req->priority);
    }
    if (req->timeout_us) {
        put_key(b, first, "timeout");
        wire_jbuf_uint64(b, req->timeout_us);
    }
    if (req->n_outputs == 0 && req->binary_data_output) {
        put_key(b, first, "binary_data_output");
        wire_jbuf_puts(b, "true");
    }
}

static int check_reserved(const struct triton_infer_request *req, struct triton_error *err)
{
    for (size_t i = 0; i < req->n_params; i++) {
        const char *k = req->params[i].key ? req->params[i].key : "";
        for (size_t j = 0; j < sizeof(reserved_request_params) / sizeof(*reserved_request_params);
             j++)
            if (strcmp(k, reserved_request_params[j]) == 0)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "parameter '%s' is reserved: use the request option of that "
                                   "name",
                                   k);
    }
    return 0;
}

static int write_inputs(struct wire_jbuf *b, const struct triton_infer_request *req,
                        const size_t *wire_sizes, struct triton_error *err)
{
    wire_jbuf_puts(b, ",\"inputs\":[");
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (i)
            wire_jbuf_putc(b, ',');
        wire_jbuf_puts(b, "{\"name\":");
        if (wire_jbuf_string(b, in->name, strlen(in->name), true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "input %zu: name is not valid UTF-8",
                               i + 1);
        wire_jbuf_puts(b, ",\"shape\":[");
        for (int d = 0; d < in->ndim; d++) {
            if (d)
                wire_jbuf_putc(b, ',');
            wire_jbuf_int64(b, in->shape[d]);
        }
        wire_jbuf_puts(b, "],\"datatype\":");
        wire_jbuf_string(b, in->datatype, strlen(in->datatype), false);
        bool binary = in->data && !in->json;
        if (in->n_params || binary || !in->data) {
            bool first = true;
            wire_jbuf_puts(b, ",\"parameters\":{");
            if (put_params(b, &first, in->params, in->n_params, in->name, err) < 0)
                return -1;
            if (!in->data) {
                put_shm(b, &first, in->shm_region, in->shm_byte_size, in->shm_offset);
            } else if (binary) {
                put_key(b, &first, "binary_data_size");
                wire_jbuf_uint64(b, wire_sizes[i]);
            }
            wire_jbuf_putc(b, '}');
        }
        if (in->data && in->json && put_json_data(b, in, err) < 0)
            return -1;
        wire_jbuf_putc(b, '}');
    }
    wire_jbuf_putc(b, ']');
    return 0;
}

static int write_outputs(struct wire_jbuf *b, const struct triton_infer_request *req,
                         struct triton_error *err)
{
    if (req->n_outputs == 0)
        return 0;
    wire_jbuf_puts(b, ",\"outputs\":[");
    for (size_t i = 0; i < req->n_outputs; i++) {
        const struct triton_infer_requested_output *o = &req->outputs[i];
        if (!o->name || !*o->name)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "requested output %zu has no name",
                               i + 1);
        if (i)
            wire_jbuf_putc(b, ',');
        wire_jbuf_puts(b, "{\"name\":");
        if (wire_jbuf_string(b, o->name, strlen(o->name), true) < 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "requested output %zu: name is not valid UTF-8", i + 1);
        wire_jbuf_puts(b, ",\"parameters\":{");
        bool first = true;
        if (put_params(b, &first, o->params, o->n_params, o->name, err) < 0)
            return -1;
        if (o->class_count > 0) {
            put_key(b, &first, "classification");
            wire_jbuf_int64(b, o->class_count);
        }
        if (o->shm_region) {
            put_shm(b, &first, o->shm_region, o->shm_byte_size, o->shm_offset);
        } else {
            bool bin = o->binary < 0 ? req->binary_data_output : o->binary != 0;
            put_key(b, &first, "binary_data");
            wire_jbuf_puts(b, bin ? "true" : "false");
        }
        wire_jbuf_puts(b, "}}");
    }
    wire_jbuf_putc(b, ']');
    return 0;
}

void wire_http_request_free(struct wire_http_request *r)
{
    free(r->json);
    free(r->pieces);
    free(r->scratch);
    memset(r, 0, sizeof(*r));
}

int wire_http_infer_request_build(const struct triton_infer_request *req,
                                  struct wire_http_request *out, struct triton_error *err)
{
    memset(out, 0, sizeof(*out));
    if (req->n_inputs && !req->inputs)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed infer request");
    if (check_reserved(req, err) < 0)
        return -1;
    size_t *wire_sizes = calloc(req->n_inputs ? req->n_inputs : 1, sizeof(*wire_sizes));
    out->pieces = calloc(req->n_inputs + 1, sizeof(*out->pieces));
    if (!wire_sizes || !out->pieces) {
        free(wire_sizes);
        wire_http_request_free(out);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory building an infer request");
    }
    /* Sizes first: the header carries them, and converted inputs share one block. */
    size_t scratch_size = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (check_input(in, i, err) < 0)
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

    struct wire_jbuf b;
    wire_jbuf_init(&b, 512, 0);
    wire_jbuf_putc(&b, '{');
    bool first = true;
    if (req->id) {
        put_key(&b, &first, "id");
        if (wire_jbuf_string(&b, req->id, strlen(req->id), true) < 0) {
            wire_jbuf_free(&b);
            triton_fail(err, TRITON_INVALID_ARGUMENT, "request id is not valid UTF-8");
            goto fail;
        }
    }
    put_key(&b, &first, "parameters");
    wire_jbuf_putc(&b, '{');
    bool pfirst = true;
    put_request_params(&b, req, &pfirst);
    if (put_params(&b, &pfirst, req->params, req->n_params, "request", err) < 0) {
        wire_jbuf_free(&b);
        goto fail;
    }
    wire_jbuf_putc(&b, '}');
    if (write_inputs(&b, req, wire_sizes, err) < 0 || write_outputs(&b, req, err) < 0) {
        wire_jbuf_free(&b);
        goto fail;
    }
    wire_jbuf_putc(&b, '}');
    out->json = wire_jbuf_take(&b, &out->json_len);
    if (!out->json) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory writing the infer request header");
        goto fail;
    }

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
    free(wire_sizes);
    return 0;
fail:
    free(wire_sizes);
    wire_http_request_free(out);
    return -1;
}

/* ---- response -------------------------------------------------------------------- */

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
    if (v > body_len)
        return triton_fail(err, TRITON_PROTOCOL,
                           "Inference-Header-Content-Length is %zu but the body has only %zu bytes",
                           v, body_len);
    *out = v;
    return 0;
}

/* Reads a JSON number that must be a non-negative integer below 2^53 (where a
 * double still counts exactly). */
static bool json_size(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double d = item->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

static char *dup_string(const cJSON *item)
{
    return strdup(cJSON_IsString(item) && item->valuestring ? item->valuestring : "");
}

/* Counts the leaves of a (possibly nested) "data" array. */
static int count_leaves(const cJSON *a, int depth, int64_t *count, const char *name,
                        struct triton_error *err)
{
    if (depth > MAX_JSON_DATA_DEPTH)
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': data nested deeper than %d", name,
                           MAX_JSON_DATA_DEPTH);
    for (const cJSON *e = a->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (count_leaves(e, depth + 1, count, name, err) < 0)
                return -1;
        } else {
            ++*count;
        }
    }
    return 0;
}

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

/* ---- strings with NUL bytes ----------------------------------------------------
 * cJSON decodes "\u0000" (and copies a raw NUL) into its C strings, where
 * strlen() stops at the first NUL. A BYTES element must keep every byte, so
 * when the header holds a NUL of either kind, mark_nul_strings() walks the
 * parsed tree beside the raw text and, for each string item that decodes to a
 * NUL, puts our own decoding of its text in valuestring and its length in
 * valuedouble (which cJSON leaves 0 for strings). Decoding it ourselves, into
 * a buffer of the size we computed, keeps this memory-safe even if the walk
 * and cJSON ever disagreed about which text is which string. */

/* Decodes the raw string body [p, end) into out (when not NULL); returns the
 * decoded length and sets *has_nul when a NUL is among the decoded bytes. */
static size_t json_unescape(const char *p, const char *end, char *out, bool *has_nul)
{
    size_t n = 0;
    while (p < end) {
        unsigned cp;
        if (*p != '\\') {
            cp = (unsigned char)*p++;
            *has_nul |= cp == 0;
            if (out)
                out[n] = (char)cp;
            n++;
            continue;
        }
        if (end - p < 2)
            break;
        if (p[1] != 'u') {
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            const char *k = strchr(from, p[1]);
            if (out)
                out[n] = k ? to[k - from] : p[1]; /* \" \\ \/ stand for themselves */
            n++;
            p += 2;
            continue;
        }
        int hi = wire_json_hex4(p + 2, (size_t)(end - p - 2));
        if (hi < 0)
            break; /* cJSON accepted the text, so this is not reached */
        cp = (unsigned)hi;
        p += 6;
        int lo = cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u'
                     ? wire_json_hex4(p + 2, 4)
                     : -1;
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
        }
        *has_nul |= cp == 0;
        char u[4];
        size_t k = wire_utf8_encode(cp, u);
        if (out)
            memcpy(out + n, u, k);
        n += k;
    }
    return n;
}

/* The raw text's string tokens, in order; the text is valid JSON (cJSON parsed it). */
struct json_tokens {
    const char *p, *end;
};

static bool next_string_token(struct json_tokens *t, const char **start, const char **stop)
{
    bool in_string = false;
    for (; t->p < t->end; t->p++) {
        if (!in_string) {
            if (*t->p == '"') {
                in_string = true;
                *start = t->p + 1;
            }
        } else if (*t->p == '\\') {
            t->p++; /* the escaped character; \uXXXX's digits need no care */
        } else if (*t->p == '"') {
            *stop = t->p++;
            return true;
        }
    }
    return false;
}

/* Replaces a string item's text by our decoding of [start, stop) when that
 * holds a NUL; false when out of memory. */
static bool keep_nul_string(cJSON *c, const char *start, const char *stop)
{
    bool has_nul = false;
    size_t n = json_unescape(start, stop, NULL, &has_nul);
    if (!has_nul)
        return true;
    char *text = cJSON_malloc(n + 1);
    if (!text)
        return false;
    (void)json_unescape(start, stop, text, &has_nul);
    text[n] = '\0';
    cJSON_free(c->valuestring);
    c->valuestring = text;
    c->valuedouble = (double)n;
    return true;
}

/* Walks items in document order, taking one token per key and per string
 * value: 1 when done, 0 when the tokens ran out (the rest is left as cJSON
 * made it), -1 when out of memory. */
static int mark_walk(cJSON *item, struct json_tokens *t, int depth)
{
    const char *start, *stop;
    if (depth > CJSON_NESTING_LIMIT + 1)
        return 0;
    for (cJSON *c = item->child; c; c = c->next) {
        if (cJSON_IsObject(item) && !next_string_token(t, &start, &stop))
            return 0; /* the key */
        int rc = 1;
        if (cJSON_IsString(c)) {
            if (!next_string_token(t, &start, &stop))
                return 0;
            rc = keep_nul_string(c, start, stop) ? 1 : -1;
        } else if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
            rc = mark_walk(c, t, depth + 1);
        }
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* root: an object cJSON parsed from text. False when out of memory. */
static bool mark_nul_strings(cJSON *root, const char *text, size_t len)
{
    static const char escape[] = "\\u0000";
    if (!memchr(text, '\0', len) && !memmem(text, len, escape, sizeof escape - 1))
        return true;
    struct json_tokens t = {text, text + len};
    return mark_walk(root, &t, 0) >= 0;
}

/* A string item's length in bytes, NULs included (see mark_nul_strings). */
static size_t json_string_length(const cJSON *e)
{
    size_t n = strlen(e->valuestring);
    if (e->valuedouble > (double)n)
        n = (size_t)e->valuedouble;
    return n;
}

static int fill_one(struct json_fill *f, const cJSON *e, struct triton_error *err)
{
    struct tensor *t = f->t;
    void *p = tensor_elem_ptr(t, f->pos);
    switch (t->dtype) {
    case TENSOR_BOOL:
        if (!cJSON_IsBool(e))
            return bad_element(f, "a boolean", err);
        *(uint8_t *)p = cJSON_IsTrue(e) ? 1 : 0;
        break;
    case TENSOR_BYTES: {
        if (!cJSON_IsString(e) || !e->valuestring)
            return bad_element(f, "a string", err);
        size_t n = json_string_length(e);
        struct tensor_str *s = p;
        s->len = n;
        s->ptr = n ? tensor_buffer_intern(t->buf, e->valuestring, n, err) : "";
        if (!s->ptr)
            return -1;
        break;
    }
    case TENSOR_FP32:
    case TENSOR_FP64:
        if (!cJSON_IsNumber(e))
            return bad_element(f, "a number", err);
        tensor_set_f64(t->dtype, p, e->valuedouble);
        break;
    default: { /* integers: in range and integral */
        if (!cJSON_IsNumber(e))
            return bad_element(f, "a number", err);
        static const double lo[TENSOR_NDTYPES] = {[TENSOR_INT8] = -128.0,
                                                  [TENSOR_INT16] = -32768.0,
                                                  [TENSOR_INT32] = -2147483648.0,
                                                  [TENSOR_INT64] = -9223372036854775808.0};
        static const double hi[TENSOR_NDTYPES] = {
            [TENSOR_UINT8] = 255.0,         [TENSOR_UINT16] = 65535.0,
            [TENSOR_UINT32] = 4294967295.0, [TENSOR_UINT64] = 18446744073709549568.0,
            [TENSOR_INT8] = 127.0,          [TENSOR_INT16] = 32767.0,
            [TENSOR_INT32] = 2147483647.0,  [TENSOR_INT64] = 9223372036854774784.0};
        double d = e->valuedouble;
        if (d != floor(d) || d < lo[t->dtype] || d > hi[t->dtype])
            return bad_element(f, "an integer in the datatype's range", err);
        if (t->dtype == TENSOR_UINT64)
            *(uint64_t *)p = (uint64_t)d;
        else
            tensor_set_i64(t->dtype, p, (int64_t)d);
    }
    }
    f->pos++;
    return 0;
}

static int fill_leaves(struct json_fill *f, const cJSON *a, struct triton_error *err)
{
    for (const cJSON *e = a->child; e; e = e->next) {
        int rc = cJSON_IsArray(e) ? fill_leaves(f, e, err) : fill_one(f, e, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The shape of an output as the peer sent it: a bad one is the peer's fault. */
static int check_output_shape(const struct triton_infer_output *o, int64_t *numel,
                              struct triton_error *err)
{
    struct triton_error sub = {0};
    if (tensor_check_shape(o->shape, o->ndim, o->dtype, &sub) < 0 ||
        tensor_numel_checked(o->shape, o->ndim, o->dtype, numel, &sub) < 0)
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': %s", o->name, sub.message);
    return 0;
}

static int output_from_json(struct triton_infer_output *o, const cJSON *data,
                            struct triton_error *err)
{
    if (!cJSON_IsArray(data))
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': \"data\" is not an array", o->name);
    if (o->dtype == TENSOR_FP16 || o->dtype == TENSOR_BF16)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s': %s data came as JSON, which has no form for it", o->name,
                           o->datatype);
    int64_t numel, count = 0;
    if (check_output_shape(o, &numel, err) < 0 || count_leaves(data, 1, &count, o->name, err) < 0)
        return -1;
    /* compared before allocating, so a hostile shape cannot make us allocate */
    if (count != numel)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s': \"data\" has %lld elements but the shape holds %lld",
                           o->name, (long long)count, (long long)numel);
    if (tensor_init(&o->tensor, o->dtype, o->shape, o->ndim, err) < 0)
        return -1;
    struct json_fill f = {&o->tensor, 0, o->name};
    if (fill_leaves(&f, data, err) < 0) {
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
    struct triton_error sub = {0};
    if (tensor_from_wire(&o->tensor, o->dtype, o->shape, o->ndim, data, size, owner, &sub) < 0) {
        /* the tensor core words it for any caller; here the peer is to blame */
        return triton_fail(err, sub.code == TRITON_NO_MEMORY ? TRITON_NO_MEMORY : TRITON_PROTOCOL,
                           "output '%s': %s", o->name, sub.message);
    }
    o->has_data = true;
    return 0;
}

/* Fills o's tensor from the binary data its parameters' binary_data_size
 * names (advancing *binary_pos over it) or else from the JSON "data" array. */
static int output_data(struct triton_infer_output *o, const cJSON *data, const char *bin,
                       size_t bin_len, size_t *binary_pos, struct tensor_buffer *owner,
                       struct triton_error *err)
{
    const cJSON *bds = cJSON_GetObjectItemCaseSensitive(o->parameters, "binary_data_size");
    if (bds) {
        uint64_t size;
        if (!json_size(bds, &size))
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
        if (o->dtype == TENSOR_INVALID)
            return 0; /* kept as metadata only: we cannot decode a datatype we do not know */
        return output_from_binary(o, p, (size_t)size, owner, err);
    }
    if (data) {
        if (o->dtype == TENSOR_INVALID)
            return 0;
        return output_from_json(o, data, err);
    }
    /* No data at all: Triton answers so for an output it wrote into the client's
     * shared-memory region (without naming the region). */
    return 0;
}

/* Fills o from one element of "outputs"; *binary_pos advances over its binary data. */
static int parse_output(struct triton_infer_output *o, cJSON *j, size_t index, const char *bin,
                        size_t bin_len, size_t *binary_pos, struct tensor_buffer *owner,
                        struct triton_error *err)
{
    if (!cJSON_IsObject(j))
        return triton_fail(err, TRITON_PROTOCOL, "output %zu is not a JSON object", index + 1);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *datatype = cJSON_GetObjectItemCaseSensitive(j, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    if (!cJSON_IsString(name) || !cJSON_IsString(datatype) || !cJSON_IsArray(shape))
        return triton_fail(err, TRITON_PROTOCOL,
                           "output %zu lacks a string \"name\", a string \"datatype\" or a "
                           "\"shape\" array",
                           index + 1);
    o->name = dup_string(name);
    o->datatype = dup_string(datatype);
    if (!o->name || !o->datatype)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading an infer reply");
    o->dtype = tensor_dtype_from_name(o->datatype, strlen(o->datatype));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > TENSOR_MAX_DIMS)
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': shape has %d dimensions (max %d)",
                           o->name, ndim, TENSOR_MAX_DIMS);
    int d = 0;
    for (const cJSON *e = shape->child; e; e = e->next, d++) {
        uint64_t v;
        if (!json_size(e, &v))
            return triton_fail(err, TRITON_PROTOCOL,
                               "output '%s': shape element %d is not a non-negative integer",
                               o->name, d + 1);
        o->shape[d] = (int64_t)v;
    }
    o->ndim = ndim;

    cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(j, "parameters");
    if (params && !cJSON_IsObject(params)) {
        cJSON_Delete(params);
        return triton_fail(err, TRITON_PROTOCOL, "output '%s': \"parameters\" is not an object",
                           o->name);
    }
    o->parameters = params;

    return output_data(o, cJSON_GetObjectItemCaseSensitive(j, "data"), bin, bin_len, binary_pos,
                       owner, err);
}

static char *take_string(cJSON *root, const char *key, bool optional)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (optional && !cJSON_IsString(v))
        return NULL;
    return dup_string(v);
}

/* ---- the usual reply header, read directly ---------------------------------------- */

/* Nearly every infer reply header has one shape: model_name, model_version,
 * maybe id and parameters, and outputs that each have a name, a datatype, a
 * shape and parameters naming their binary_data_size. Reading that directly
 * costs a fraction of building and freeing a cJSON tree for it, which was the
 * largest part of a small request's client CPU. The reader takes a strict
 * subset of JSON: strings without escapes or control characters, integers of
 * at most 15 digits, the known keys once each, parameters whose values are
 * strings, integers or booleans, and no JSON "data". Anything else, malformed
 * replies included, is left to the cJSON path, so every reply still gets the
 * result and the error message that path gives. The only errors raised after
 * this reader succeeds are the data checks both paths share. */

struct jscan {
    const char *p, *end;
};

static void js_blank(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Consumes c (after blanks) when it is next. */
static bool js_take(struct jscan *s, char c)
{
    js_blank(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static bool js_peek(struct jscan *s, char c)
{
    js_blank(s);
    return s->p < s->end && *s->p == c;
}

/* A string without escapes or control characters: then its text is its bytes
 * in the header, with no NUL among them. */
static bool js_string(struct jscan *s, const char **str, size_t *len)
{
    if (!js_take(s, '"'))
        return false;
    const char *start = s->p;
    for (; s->p < s->end; s->p++) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *str = start;
            *len = (size_t)(s->p - start);
            s->p++;
            return true;
        }
        if (c == '\\' || c < 0x20)
            return false;
    }
    return false;
}

/* An integer of 1 to 15 digits without a leading zero, which a double holds
 * exactly, as cJSON would store it; negative only when allowed. */
static bool js_int(struct jscan *s, bool negative_ok, double *out)
{
    js_blank(s);
    bool negative = false;
    if (negative_ok && s->p < s->end && *s->p == '-') {
        negative = true;
        s->p++;
    }
    const char *start = s->p;
    uint64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (s->p - start == 15)
            return false;
        v = v * 10 + (uint64_t)(*s->p - '0');
        s->p++;
    }
    size_t n = (size_t)(s->p - start);
    if (n == 0 || (n > 1 && *start == '0'))
        return false;
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
        return false;
    *out = negative ? -(double)v : (double)v;
    return true;
}

static bool js_word(struct jscan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

#define JS_KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

/* Longest parameter name the reader copies onto the stack; longer ones go to cJSON. */
#define JS_MAX_PARAM_KEY 128

/* One parameter value as the cJSON item cJSON's parser would make of it. */
static cJSON *js_param_value(struct jscan *s)
{
    js_blank(s);
    if (s->p >= s->end)
        return NULL;
    if (*s->p == '"') {
        const char *v;
        size_t n;
        if (!js_string(s, &v, &n))
            return NULL;
        char *text = strndup(v, n);
        cJSON *item = text ? cJSON_CreateString(text) : NULL;
        free(text);
        return item;
    }
    if (*s->p == 't' || *s->p == 'f') {
        if (js_word(s, "true", 4))
            return cJSON_CreateTrue();
        if (js_word(s, "false", 5))
            return cJSON_CreateFalse();
        return NULL;
    }
    double d;
    return js_int(s, true, &d) ? cJSON_CreateNumber(d) : NULL;
}

/* A "parameters" object of strings, integers and booleans, as a cJSON object
 * the way cJSON's parser would build it; NULL when it is anything else or
 * memory ran out. */
static cJSON *js_params(struct jscan *s)
{
    if (!js_take(s, '{'))
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    if (js_take(s, '}'))
        return obj;
    do {
        const char *k;
        size_t kn;
        char key[JS_MAX_PARAM_KEY];
        if (!js_string(s, &k, &kn) || kn >= sizeof(key) || !js_take(s, ':'))
            goto bail;
        memcpy(key, k, kn);
        key[kn] = '\0';
        cJSON *item = js_param_value(s);
        if (!item)
            goto bail;
        if (!cJSON_AddItemToObject(obj, key, item)) {
            cJSON_Delete(item);
            goto bail;
        }
    } while (js_take(s, ','));
    if (js_take(s, '}'))
        return obj;
bail:
    cJSON_Delete(obj);
    return NULL;
}

/* One element of "outputs" into o (whose allocations the caller frees either
 * way); false when it is not the usual shape. */
static bool js_output(struct jscan *s, struct triton_infer_output *o)
{
    enum { NAME = 1, DATATYPE = 2, SHAPE = 4, PARAMETERS = 8 };
    unsigned seen = 0;
    const char *name = NULL, *datatype = NULL;
    size_t name_len = 0, datatype_len = 0;
    int ndim = 0;
    if (!js_take(s, '{'))
        return false;
    do {
        const char *k;
        size_t kn;
        unsigned bit;
        if (!js_string(s, &k, &kn) || !js_take(s, ':'))
            return false;
        if (JS_KEY_IS(k, kn, "name"))
            bit = NAME;
        else if (JS_KEY_IS(k, kn, "datatype"))
            bit = DATATYPE;
        else if (JS_KEY_IS(k, kn, "shape"))
            bit = SHAPE;
        else if (JS_KEY_IS(k, kn, "parameters"))
            bit = PARAMETERS;
        else
            return false;
        if (seen & bit)
            return false;
        seen |= bit;
        switch (bit) {
        case NAME:
            if (!js_string(s, &name, &name_len))
                return false;
            break;
        case DATATYPE:
            if (!js_string(s, &datatype, &datatype_len))
                return false;
            break;
        case SHAPE:
            if (!js_take(s, '['))
                return false;
            if (js_take(s, ']'))
                break;
            do {
                double d;
                if (ndim == TENSOR_MAX_DIMS || !js_int(s, false, &d))
                    return false;
                o->shape[ndim++] = (int64_t)d;
            } while (js_take(s, ','));
            if (!js_take(s, ']'))
                return false;
            break;
        default:
            if (!(o->parameters = js_params(s)))
                return false;
        }
    } while (js_take(s, ','));
    if (!js_take(s, '}') || (seen & (NAME | DATATYPE | SHAPE)) != (NAME | DATATYPE | SHAPE))
        return false;
    o->name = strndup(name, name_len);
    o->datatype = strndup(datatype, datatype_len);
    if (!o->name || !o->datatype)
        return false;
    o->dtype = tensor_dtype_from_name(o->datatype, datatype_len);
    o->ndim = ndim;
    return true;
}

/* The "outputs" array into r->outputs, grown as elements come. */
static bool js_outputs(struct jscan *s, struct triton_infer_result *r)
{
    if (!js_take(s, '['))
        return false;
    if (js_take(s, ']'))
        return true;
    size_t cap = 0;
    do {
        if (r->n_outputs == cap) {
            size_t grown = cap ? 2 * cap : 4;
            if (grown > SIZE_MAX / sizeof(*r->outputs))
                return false;
            struct triton_infer_output *o = realloc(r->outputs, grown * sizeof(*o));
            if (!o)
                return false;
            r->outputs = o;
            cap = grown;
        }
        /* Zeroed one at a time, as taken: an output is large (its tensor view
         * holds fixed-size shape and stride arrays), and only n_outputs of the
         * cap are ever freed. */
        struct triton_infer_output *o = &r->outputs[r->n_outputs++];
        memset(o, 0, sizeof(*o));
        o->dtype = TENSOR_INVALID;
        if (!js_output(s, o))
            return false;
    } while (js_take(s, ','));
    return js_take(s, ']');
}

static char *js_dup(struct jscan *s)
{
    const char *v;
    size_t n;
    return js_string(s, &v, &n) ? strndup(v, n) : NULL;
}

/* Reads a header of the usual shape into r (fresh from calloc; the caller
 * frees it either way); false when it is not that shape. */
static bool js_reply(const char *header, size_t len, struct triton_infer_result *r)
{
    enum { MODEL_NAME = 1, MODEL_VERSION = 2, ID = 4, PARAMETERS = 8, OUTPUTS = 16 };
    struct jscan s = {header, header + len};
    unsigned seen = 0;
    if (!js_take(&s, '{'))
        return false;
    if (!js_peek(&s, '}')) {
        do {
            const char *k;
            size_t kn;
            unsigned bit;
            if (!js_string(&s, &k, &kn) || !js_take(&s, ':'))
                return false;
            if (JS_KEY_IS(k, kn, "model_name"))
                bit = MODEL_NAME;
            else if (JS_KEY_IS(k, kn, "model_version"))
                bit = MODEL_VERSION;
            else if (JS_KEY_IS(k, kn, "id"))
                bit = ID;
            else if (JS_KEY_IS(k, kn, "parameters"))
                bit = PARAMETERS;
            else if (JS_KEY_IS(k, kn, "outputs"))
                bit = OUTPUTS;
            else
                return false;
            if (seen & bit)
                return false;
            seen |= bit;
            bool ok;
            switch (bit) {
            case MODEL_NAME:
                ok = (r->model_name = js_dup(&s)) != NULL;
                break;
            case MODEL_VERSION:
                ok = (r->model_version = js_dup(&s)) != NULL;
                break;
            case ID:
                ok = (r->id = js_dup(&s)) != NULL;
                break;
            case PARAMETERS:
                ok = (r->parameters = js_params(&s)) != NULL;
                break;
            default:
                ok = js_outputs(&s, r);
            }
            if (!ok)
                return false;
        } while (js_take(&s, ','));
    }
    if (!js_take(&s, '}'))
        return false;
    js_blank(&s);
    if (s.p != s.end)
        return false;
    if (!r->model_name)
        r->model_name = strdup("");
    if (!r->model_version)
        r->model_version = strdup("");
    return r->model_name && r->model_version;
}

/* Every byte after the JSON header must belong to an output. */
static int check_binary_used(size_t bin_len, size_t used, struct triton_error *err)
{
    if (used != bin_len)
        return triton_fail(err, TRITON_PROTOCOL,
                           "infer reply has %zu bytes after its JSON header but its outputs "
                           "account for %zu",
                           bin_len, used);
    return 0;
}

/* The whole parse for a header of the usual shape: 1 when done (*out set), -1
 * on an error in the outputs' data, 0 when the header is left to cJSON. */
static int parse_usual_reply(const char *header, size_t header_len, const char *bin, size_t bin_len,
                             struct tensor_buffer *owner, struct triton_infer_result **out,
                             struct triton_error *err)
{
    struct triton_infer_result *r = calloc(1, sizeof(*r));
    if (!r || !js_reply(header, header_len, r)) {
        triton_infer_result_free(r);
        return 0;
    }
    r->final = true;
    size_t pos = 0;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (output_data(&r->outputs[i], NULL, bin, bin_len, &pos, owner, err) < 0)
            goto fail;
    if (check_binary_used(bin_len, pos, err) < 0)
        goto fail;
    *out = r;
    return 1;
fail:
    triton_infer_result_free(r);
    return -1;
}

int wire_http_infer_parse(const char *body, size_t body_len, size_t header_len,
                          struct tensor_buffer *owner, struct triton_infer_result **out,
                          struct triton_error *err)
{
    *out = NULL;
    if (header_len == WIRE_NO_HEADER_LENGTH)
        header_len = body_len;
    if (header_len > body_len)
        return triton_fail(err, TRITON_PROTOCOL,
                           "infer reply header of %zu bytes is longer than the %zu-byte body",
                           header_len, body_len);
    if (header_len == 0)
        return triton_fail(err, TRITON_PROTOCOL, "infer reply has an empty JSON header");
    const char *bin = body + header_len;
    size_t bin_len = body_len - header_len, pos = 0;
    int fast = parse_usual_reply(body, header_len, bin, bin_len, owner, out, err);
    if (fast != 0)
        return fast < 0 ? -1 : 0;

    cJSON *root = cJSON_ParseWithLength(body, header_len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= body && at <= body + header_len ? (size_t)(at - body) : 0;
        return triton_fail(err, TRITON_PROTOCOL,
                           "infer reply is not valid JSON (near byte %zu of its %zu-byte header)",
                           off, header_len);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return triton_fail(err, TRITON_PROTOCOL, "infer reply is not a JSON object");
    }
    if (!mark_nul_strings(root, body, header_len)) {
        cJSON_Delete(root);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading an infer reply");
    }
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (outputs && !cJSON_IsArray(outputs)) {
        cJSON_Delete(root);
        return triton_fail(err, TRITON_PROTOCOL, "infer reply: \"outputs\" is not an array");
    }
    struct triton_infer_result *r = calloc(1, sizeof(*r));
    int n = outputs ? cJSON_GetArraySize(outputs) : 0;
    if (r && n > 0)
        r->outputs = calloc((size_t)n, sizeof(*r->outputs));
    if (!r || (n > 0 && !r->outputs)) {
        free(r);
        cJSON_Delete(root);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading an infer reply");
    }
    r->final = true;
    r->model_name = take_string(root, "model_name", false);
    r->model_version = take_string(root, "model_version", false);
    r->id = take_string(root, "id", true);
    cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(root, "parameters");
    if (params && !cJSON_IsObject(params)) {
        cJSON_Delete(params);
        params = NULL;
        triton_fail(err, TRITON_PROTOCOL, "infer reply: \"parameters\" is not an object");
        goto fail;
    }
    r->parameters = params;
    if (!r->model_name || !r->model_version) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory reading an infer reply");
        goto fail;
    }
    size_t i = 0;
    for (cJSON *o = outputs ? outputs->child : NULL; o; o = o->next, i++) {
        r->n_outputs = i + 1;
        r->outputs[i].dtype = TENSOR_INVALID;
        if (parse_output(&r->outputs[i], o, i, bin, bin_len, &pos, owner, err) < 0)
            goto fail;
    }
    if (check_binary_used(bin_len, pos, err) < 0)
        goto fail;
    cJSON_Delete(root);
    *out = r;
    return 0;
fail:
    cJSON_Delete(root);
    triton_infer_result_free(r);
    return -1;
}

void wire_http_error_text(const char *body, size_t len, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (len == 0)
        return;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *text = body;
    size_t n = len;
    if (cJSON_IsString(e) && e->valuestring) {
        text = e->valuestring;
        n = strlen(text);
    }
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
