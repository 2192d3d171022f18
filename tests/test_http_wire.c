/*
 * test_http_wire.c: the HTTP wire code without a server: classification
 * strings, the server-sent-events parser, infer request bodies and infer
 * replies, most of them hostile. (JSON itself: tests/test_json.c.)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/secret.h"
#include "http/http.h"
#include "wire/classification.h"
#include "wire/http_infer.h"
#include "wire/json.h"
#include "wire/sse.h"

/* ---- classification -------------------------------------------------------------- */

static void test_classification(void)
{
    struct wire_classification c;
    struct triton_error err = {0};
    const char *s = "3.300000:1:label";
    CHECK(wire_classification_parse(s, strlen(s), &c, &err) == 0);
    CHECK(fabs(c.score - 3.3) < 1e-12 && c.index == 1 && c.label_len == 5 &&
          memcmp(c.label, "label", 5) == 0);
    s = "0.5:2";
    CHECK(wire_classification_parse(s, strlen(s), &c, &err) == 0);
    CHECK(c.score == 0.5 && c.index == 2 && c.label == NULL);
    s = "-1e3:7:a:b";
    CHECK(wire_classification_parse(s, strlen(s), &c, &err) == 0);
    CHECK(c.score == -1000 && c.index == 7 && c.label_len == 3 && memcmp(c.label, "a:b", 3) == 0);
    s = "1:2:"; /* an empty label is still a label */
    CHECK(wire_classification_parse(s, strlen(s), &c, &err) == 0 && c.label && c.label_len == 0);
    /* not NUL-terminated: only n bytes are read */
    CHECK(wire_classification_parse("1.5:3:xyz", 5, &c, &err) == 0 && c.index == 3 && !c.label);

    static const char *const bad[] = {"",         "abc",   "1.0:", "1.0:x",
                                      ":1",       "x:1",   " 1:1", "1.0:99999999999999999999",
                                      "1.0:1x:l", "1.0:-", "1e:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        triton_error_clear(&err);
        CHECK(wire_classification_parse(bad[i], strlen(bad[i]), &c, &err) < 0);
        CHECK_ERR(err, TRITON_PROTOCOL, "score:index[:label]");
    }
    char big[200];
    memset(big, '1', sizeof(big));
    triton_error_clear(&err);
    CHECK(wire_classification_parse(big, sizeof(big), &c, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "...");
}

/* ---- server-sent events --------------------------------------------------------- */

struct sse_log {
    char text[4096];
    int events;
    int fail_at; /* fail on this event (1-based); 0 = never */
};

static int sse_collect(void *ctx, const char *event, const char *data, size_t len,
                       struct triton_error *err)
{
    struct sse_log *l = ctx;
    l->events++;
    if (l->fail_at == l->events)
        return triton_fail(err, TRITON_PROTOCOL, "stop at %d", l->events);
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "[%s|%.*s]", event, (int)len, data);
    return 0;
}

static void test_sse(void)
{
    const char *stream = ": keep-alive\r\n"
                         "data: {\"a\":1}\r\n\r\n"
                         "event: tick\n"
                         "data:x\n"
                         "data:  y\n"
                         "id: 7\n"
                         "retry: 10\n"
                         "\n"
                         "data\r"
                         "\r"
                         "event: empty\n\n"
                         "data: last without blank line";
    const char *want = "[message|{\"a\":1}][tick|x\n y][message|]";
    size_t n = strlen(stream);
    /* every split point, including inside CRLF pairs */
    for (size_t cut = 0; cut <= n; cut++) {
        struct sse_log l = {0};
        struct wire_sse p;
        struct triton_error err = {0};
        wire_sse_init(&p, 0, sse_collect, &l);
        CHECK(wire_sse_feed(&p, stream, cut, &err) == 0);
        CHECK(wire_sse_feed(&p, stream + cut, n - cut, &err) == 0);
        if (strcmp(l.text, want) != 0) {
            fprintf(stderr, "cut %zu: %s\n", cut, l.text);
            CHECK(0);
        }
        CHECK(wire_sse_pending(&p));
        wire_sse_free(&p);
    }
    /* byte by byte */
    struct sse_log l = {0};
    struct wire_sse p;
    struct triton_error err = {0};
    wire_sse_init(&p, 0, sse_collect, &l);
    for (size_t i = 0; i < n; i++)
        CHECK(wire_sse_feed(&p, stream + i, 1, &err) == 0);
    CHECK_STR(l.text, want);
    wire_sse_free(&p);

    /* an event past the limit fails, in one feed or spread over many */
    memset(&l, 0, sizeof(l));
    triton_error_clear(&err);
    wire_sse_init(&p, 16, sse_collect, &l);
    CHECK(wire_sse_feed(&p, "data: 0123456789abcdefXYZ\n\n", 27, &err) < 0);
    CHECK_ERR(err, TRITON_NO_MEMORY, "larger than the 16 bytes");
    triton_error_clear(&err);
    CHECK(wire_sse_feed(&p, "data: x\n\n", 9, &err) < 0); /* stays failed */
    wire_sse_free(&p);
    memset(&l, 0, sizeof(l));
    triton_error_clear(&err);
    wire_sse_init(&p, 16, sse_collect, &l);
    int rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++)
        rc = wire_sse_feed(&p, "ab", 2, &err);
    CHECK(rc < 0);
    wire_sse_free(&p);
    memset(&l, 0, sizeof(l));
    triton_error_clear(&err);
    wire_sse_init(&p, 16, sse_collect, &l);
    rc = 0;
    for (int i = 0; i < 40 && rc == 0; i++)
        rc = wire_sse_feed(&p, "data: ab\n", 9, &err); /* many small lines, one event */
    CHECK(rc < 0 && l.events == 0);
    wire_sse_free(&p);

    /* a failing callback stops the parser */
    memset(&l, 0, sizeof(l));
    l.fail_at = 2;
    triton_error_clear(&err);
    wire_sse_init(&p, 0, sse_collect, &l);
    CHECK(wire_sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "stop at 2");
    CHECK(l.events == 2);
    wire_sse_free(&p);
}

/* ---- infer requests -------------------------------------------------------------- */

static void make_i32(struct tensor *t, int64_t n, int32_t base)
{
    int64_t shape[1] = {n};
    tensor_init(t, TENSOR_INT32, shape, 1, NULL);
    for (int64_t i = 0; i < n; i++)
        ((int32_t *)t->buf->data)[i] = base + (int32_t)i;
}

static void test_request_binary(void)
{
    struct tensor a, b;
    make_i32(&a, 16, 0);
    make_i32(&b, 16, 100);
    int64_t shape[2] = {1, 16};
    struct triton_param rp[2] = {{.key = "k_int", .type = TRITON_PARAM_INT64, .v.i = 1},
                                 {.key = "k_dbl", .type = TRITON_PARAM_DOUBLE, .v.d = 1.0}};
    struct triton_infer_input in[2] = {
        {.name = "INPUT0", .datatype = "INT32", .shape = shape, .ndim = 2, .data = &a},
        {.name = "INPUT1", .datatype = "INT32", .shape = shape, .ndim = 2, .data = &b},
    };
    struct triton_infer_requested_output out[2] = {
        {.name = "OUTPUT0", .binary = -1},
        {.name = "OUTPUT1", .binary = 0, .class_count = 3},
    };
    struct triton_infer_request req = {.model = "simple",
                                       .id = "r\"1",
                                       .sequence_id = UINT64_MAX,
                                       .sequence_start = true,
                                       .priority = 2,
                                       .timeout_us = 100,
                                       .params = rp,
                                       .n_params = 2,
                                       .inputs = in,
                                       .n_inputs = 2,
                                       .outputs = out,
                                       .n_outputs = 2,
                                       .binary_data_output = true};
    struct wire_http_request r = {0};
    struct triton_error err = {0};
    CHECK(wire_http_infer_request_build(&req, &r, &err) == 0);
    CHECK_STR(r.json,
              "{\"id\":\"r\\\"1\",\"parameters\":{\"sequence_id\":18446744073709551615,"
              "\"sequence_start\":true,\"sequence_end\":false,\"priority\":2,\"timeout\":100,"
              "\"k_int\":1,\"k_dbl\":1.0},\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],"
              "\"datatype\":\"INT32\",\"parameters\":{\"binary_data_size\":64}},{\"name\":"
              "\"INPUT1\",\"shape\":[1,16],\"datatype\":\"INT32\",\"parameters\":{"
              "\"binary_data_size\":64}}],\"outputs\":[{\"name\":\"OUTPUT0\",\"parameters\":{"
              "\"binary_data\":true}},{\"name\":\"OUTPUT1\",\"parameters\":{\"classification\":3,"
              "\"binary_data\":false}}]}");
    CHECK(r.binary && r.n_pieces == 3 && r.total == r.json_len + 128);
    /* no copy: the pieces point into the tensors */
    CHECK(r.pieces[1].ptr == a.buf->data && r.pieces[1].len == 64);
    CHECK(r.pieces[2].ptr == b.buf->data);
    CHECK(r.scratch == NULL);
    wire_http_request_free(&r);

    /* a strided view and BYTES go through the scratch block */
    struct tensor m, mt, s;
    int64_t ms[2] = {2, 3};
    tensor_init(&m, TENSOR_INT32, ms, 2, NULL);
    for (int i = 0; i < 6; i++)
        ((int32_t *)m.buf->data)[i] = i;
    CHECK(tensor_transpose(&mt, &m, 0, 1, NULL) == 0);
    int64_t ss[1] = {2};
    tensor_init(&s, TENSOR_BYTES, ss, 1, NULL);
    struct tensor_str *e = s.buf->data;
    e[0] = (struct tensor_str){"a\0b", 3};
    e[1] = (struct tensor_str){"", 0};
    int64_t ts[2] = {3, 2};
    struct triton_infer_input in2[2] = {
        {.name = "T", .datatype = "INT32", .shape = ts, .ndim = 2, .data = &mt},
        {.name = "S", .datatype = "BYTES", .shape = ss, .ndim = 1, .data = &s},
    };
    struct triton_infer_request req2 = {
        .model = "m", .inputs = in2, .n_inputs = 2, .binary_data_output = true};
    triton_error_clear(&err);
    CHECK(wire_http_infer_request_build(&req2, &r, &err) == 0);
    CHECK(r.scratch != NULL && r.n_pieces == 3);
    static const int32_t tr[6] = {0, 3, 1, 4, 2, 5};
    CHECK(r.pieces[1].len == 24 && memcmp(r.pieces[1].ptr, tr, 24) == 0);
    CHECK(r.pieces[2].len == 11 && memcmp(r.pieces[2].ptr, "\3\0\0\0a\0b\0\0\0\0", 11) == 0);
    CHECK(strstr(r.json, "\"binary_data_output\":true") != NULL);
    CHECK(strstr(r.json, "\"outputs\"") == NULL);
    wire_http_request_free(&r);

    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&m);
    tensor_release(&mt);
    tensor_release(&s);
}

static void test_request_json_and_errors(void)
{
    struct tensor i64, f16, f32, bs, bl;
    int64_t one[1] = {2};
    tensor_init(&i64, TENSOR_INT64, one, 1, NULL);
    ((int64_t *)i64.buf->data)[0] = INT64_MAX;
    ((int64_t *)i64.buf->data)[1] = INT64_MIN;
    tensor_init(&f16, TENSOR_FP16, one, 1, NULL);
    tensor_init(&f32, TENSOR_FP32, one, 1, NULL);
    ((float *)f32.buf->data)[0] = 0.5f;
    ((float *)f32.buf->data)[1] = 1.0f;
    tensor_init(&bl, TENSOR_BOOL, one, 1, NULL);
    ((uint8_t *)bl.buf->data)[1] = 1;
    tensor_init(&bs, TENSOR_BYTES, one, 1, NULL);
    struct tensor_str *e = bs.buf->data;
    e[0] = (struct tensor_str){"x\0y", 3};
    e[1] = (struct tensor_str){"\xff", 1};

    struct triton_infer_input in[4] = {
        {.name = "I", .datatype = "INT64", .shape = one, .ndim = 1, .data = &i64, .json = true},
        {.name = "F", .datatype = "FP32", .shape = one, .ndim = 1, .data = &f32, .json = true},
        {.name = "B", .datatype = "BOOL", .shape = one, .ndim = 1, .data = &bl, .json = true},
        {.name = "M",
         .datatype = "FP32",
         .shape = one,
         .ndim = 1,
         .shm_region = "r",
         .shm_byte_size = 8,
         .shm_offset = 4},
    };
    struct triton_infer_requested_output out = {
        .name = "O", .binary = 1, .shm_region = "o", .shm_byte_size = 16};
    struct triton_infer_request req = {.model = "m",
                                       .sequence_id_str = "corr",
                                       .sequence_end = true,
                                       .inputs = in,
                                       .n_inputs = 4,
                                       .outputs = &out,
                                       .n_outputs = 1};
    struct wire_http_request r = {0};
    struct triton_error err = {0};
    CHECK(wire_http_infer_request_build(&req, &r, &err) == 0);
    CHECK(!r.binary && r.n_pieces == 1 && r.total == r.json_len);
    CHECK(
        strstr(r.json, "\"sequence_id\":\"corr\",\"sequence_start\":false,\"sequence_end\":true"));
    CHECK(strstr(r.json, "\"data\":[9223372036854775807,-9223372036854775808]"));
    CHECK(strstr(r.json, "\"data\":[0.5,1]"));
    CHECK(strstr(r.json, "\"data\":[false,true]"));
    CHECK(strstr(r.json, "\"parameters\":{\"shared_memory_region\":\"r\","
                         "\"shared_memory_byte_size\":8,\"shared_memory_offset\":4}"));
    CHECK(strstr(r.json, "{\"name\":\"O\",\"parameters\":{\"shared_memory_region\":\"o\","
                         "\"shared_memory_byte_size\":16}}"));
    cJSON *parsed = wire_json_parse(r.json, r.json_len, NULL);
    CHECK(parsed != NULL);
    cJSON_Delete(parsed);
    wire_http_request_free(&r);

    /* failures: each names the cause, and nothing leaks (ASan) */
    struct {
        struct triton_infer_input in;
        const char *part;
    } bad[] = {
        {{.name = "H", .datatype = "FP16", .shape = one, .ndim = 1, .data = &f16, .json = true},
         "FP16 cannot be sent as JSON"},
        {{.name = "S", .datatype = "BYTES", .shape = one, .ndim = 1, .data = &bs, .json = true},
         "BYTES element 2 is not valid UTF-8"},
        {{.name = "X", .datatype = "INT32", .shape = one, .ndim = 1, .data = &i64},
         "declared INT32 but its data is INT64"},
        {{.name = "Y", .datatype = "INT64", .shape = (int64_t[]){3}, .ndim = 1, .data = &i64},
         "shape holds 3 elements but the data has 2"},
        {{.name = "Z", .datatype = "INT64", .shape = one, .ndim = 1}, "neither data nor"},
        {{.name = NULL, .datatype = "INT64", .shape = one, .ndim = 1, .data = &i64}, "no name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct triton_infer_input two[2] = {in[0], bad[i].in};
        struct triton_infer_request q = {.model = "m", .inputs = two, .n_inputs = 2};
        triton_error_clear(&err);
        CHECK(wire_http_infer_request_build(&q, &r, &err) < 0);
        CHECK_ERR(err, TRITON_INVALID_ARGUMENT, bad[i].part);
    }
    ((float *)f32.buf->data)[1] = NAN;
    struct triton_infer_request q = {.model = "m", .inputs = &in[1], .n_inputs = 1};
    triton_error_clear(&err);
    CHECK(wire_http_infer_request_build(&q, &r, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "element 2 is NaN or infinite");
    /* reserved parameters: the one request check, which the call layer applies
     * to both transports before any codec sees the request */
    struct triton_param p = {.key = "priority", .type = TRITON_PARAM_INT64, .v.i = 1};
    struct triton_infer_request q2 = {.model = "m", .params = &p, .n_params = 1};
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q2, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "'priority' is reserved");

    tensor_release(&i64);
    tensor_release(&f16);
    tensor_release(&f32);
    tensor_release(&bl);
    tensor_release(&bs);
}

/* ---- infer replies --------------------------------------------------------------- */

/* Builds header + binary tail in a malloc'd block placed so that the binary
 * part starts at an offset of `misalign` from 16-byte alignment. */
struct body {
    char *base, *data;
    size_t len;
};

static struct body make_body(const char *json, const void *bin, size_t bin_len, size_t misalign)
{
    struct body b;
    size_t hl = strlen(json);
    size_t pad = (16 - (hl % 16) + misalign) % 16;
    b.base = malloc(pad + hl + bin_len + 1);
    b.data = b.base + pad;
    memcpy(b.data, json, hl);
    if (bin_len)
        memcpy(b.data + hl, bin, bin_len);
    b.len = hl + bin_len;
    return b;
}

static void free_base(void *ctx, void *data)
{
    (void)ctx;
    free(data);
}

/* One line describing a parse result, for comparing two parses: every field,
 * and every element's bytes. */
static void describe_reply(const struct triton_infer_result *r, char *out, size_t cap)
{
    char *params = wire_json_print(r->parameters, NULL);
    size_t k = (size_t)snprintf(out, cap, "%s|%s|%s|%s|%d", r->model_name, r->model_version,
                                r->id ? r->id : "(none)", params ? params : "?", (int)r->final);
    free(params);
    for (size_t i = 0; i < r->n_outputs && k < cap; i++) {
        const struct triton_infer_output *o = &r->outputs[i];
        char *op = wire_json_print(o->parameters, NULL);
        k += (size_t)snprintf(out + k, cap - k, "|%s:%s:%d:%d", o->name, o->datatype, (int)o->dtype,
                              o->ndim);
        for (int d = 0; d < o->ndim && k < cap; d++)
            k += (size_t)snprintf(out + k, cap - k, ",%lld", (long long)o->shape[d]);
        if (k < cap)
            k += (size_t)snprintf(out + k, cap - k, ":%s:%d:", op ? op : "?", (int)o->has_data);
        free(op);
        if (!o->has_data)
            continue;
        size_t esize = tensor_dtype_elem_size(o->tensor.dtype);
        for (int64_t e = 0; e < tensor_numel(&o->tensor) && k < cap; e++) {
            const unsigned char *p = tensor_elem_ptr(&o->tensor, e);
            size_t n = esize;
            if (o->tensor.dtype == TENSOR_BYTES) {
                const struct tensor_str *str = (const struct tensor_str *)p;
                p = (const unsigned char *)str->ptr;
                n = str->len;
                k += (size_t)snprintf(out + k, cap - k, "[%zu]", n);
            }
            for (size_t j = 0; j < n && k < cap; j++)
                k += (size_t)snprintf(out + k, cap - k, "%02x", p[j]);
        }
    }
}

/* The outcome of a parse as one line: the result, or the error. */
static void describe_outcome(int rc, const struct triton_infer_result *r,
                             const struct triton_error *err, char *out, size_t cap)
{
    if (rc == 0 && r)
        describe_reply(r, out, cap);
    else
        snprintf(out, cap, "rc %d, %s: %s", rc, triton_code_word(err->code), err->message);
}

/* wire_http_infer_parse, and checked against itself with a memo: a memo
 * filled by the same header (kept or not) must give what a parse without one
 * gives, result or error, when it reads the header and when it keeps it. */
static int parse_reply(const char *body, size_t len, size_t hl, struct tensor_buffer *owner,
                       struct triton_infer_result **r, struct triton_error *err)
{
    int rc = wire_http_infer_parse(body, len, hl, owner, NULL, r, err);
    char want[4096], got[4096];
    describe_outcome(rc, *r, err, want, sizeof want);
    struct wire_http_reply_memo memo = {0};
    for (int i = 0; i < 2; i++) {
        struct triton_infer_result *m = NULL;
        struct triton_error merr = {0};
        int mrc = wire_http_infer_parse(body, len, hl, owner, &memo, &m, &merr);
        describe_outcome(mrc, m, &merr, got, sizeof got);
        CHECK_STR(got, want);
        triton_infer_result_free(m);
    }
    wire_http_reply_memo_free(&memo);
    return rc;
}

/* ---- the kept header ------------------------------------------------------------- */

/* One request, and each variation of it: a change to one thing the header says. */
enum {
    V_BASE,
    V_NAME,
    V_NAME_LEN,
    V_DTYPE,
    V_SHAPE_TURN,
    V_SHAPE_NDIM,
    V_ORDER,
    V_ONE_INPUT,
    V_IN_PARAM,
    V_IN_PARAM_VALUE,
    V_IN_PARAM_TYPE,
    V_IN_PARAM_KEY,
    V_BYTES_SIZE,
    V_JSON,
    V_JSON_DATA,
    V_SHM,
    V_SHM_REGION,
    V_SHM_SIZE,
    V_SHM_OFFSET,
    V_NO_OUTPUTS,
    V_NO_OUTPUTS_BINARY,
    V_OUT_NAME,
    V_OUT_ORDER,
    V_OUT_JSON,
    V_BINARY_DEFAULT,
    V_CLASS,
    V_OUT_SHM,
    V_OUT_PARAM,
    V_ID,
    V_ID_OTHER,
    V_ID_EMPTY,
    V_SEQ,
    V_SEQ_OTHER,
    V_SEQ_STR,
    V_SEQ_START,
    V_SEQ_END,
    V_PRIORITY,
    V_TIMEOUT,
    V_PARAM,
    V_PARAM_DOUBLE,
    V_PARAM_STRING,
    V_PARAM_BOOL,
    NVARIATIONS
};

struct variant {
    struct triton_infer_request req;
    struct triton_infer_input in[3];
    struct triton_infer_requested_output out[2];
    struct triton_param in_param, out_param, req_param;
    int64_t shape0[2], shape1[2];
    struct tensor a, b, f, s;
};

static void variant_make(struct variant *v, int which)
{
    memset(v, 0, sizeof *v);
    make_i32(&v->a, 16, 0);
    make_i32(&v->b, 16, 100);
    int64_t n16 = 16, n2 = 2;
    tensor_init(&v->f, TENSOR_FP32, &n16, 1, NULL);
    tensor_init(&v->s, TENSOR_BYTES, &n2, 1, NULL);
    struct tensor_str *e = v->s.buf->data;
    e[0] = (struct tensor_str){"ab", 2};
    e[1] = (struct tensor_str){which == V_BYTES_SIZE ? "cd" : "c", which == V_BYTES_SIZE ? 2 : 1};
    v->shape0[0] = v->shape1[0] = 1;
    v->shape0[1] = v->shape1[1] = 16;
    v->in[0] = (struct triton_infer_input){
        .name = "INPUT0", .datatype = "INT32", .shape = v->shape0, .ndim = 2, .data = &v->a};
    v->in[1] = (struct triton_infer_input){
        .name = "INPUT1", .datatype = "INT32", .shape = v->shape1, .ndim = 2, .data = &v->b};
    v->in[2] = (struct triton_infer_input){
        .name = "S", .datatype = "BYTES", .shape = v->s.shape, .ndim = 1, .data = &v->s};
    v->out[0] = (struct triton_infer_requested_output){.name = "OUTPUT0", .binary = -1};
    v->out[1] = (struct triton_infer_requested_output){.name = "OUTPUT1", .binary = -1};
    v->in_param = (struct triton_param){.key = "k", .type = TRITON_PARAM_INT64, .v.i = 1};
    v->out_param = v->in_param;
    v->req_param = v->in_param;
    v->req = (struct triton_infer_request){.model = "simple",
                                           .inputs = v->in,
                                           .n_inputs = 3,
                                           .outputs = v->out,
                                           .n_outputs = 2,
                                           .binary_data_output = true};
    struct triton_infer_input *in0 = &v->in[0];
    switch (which) {
    case V_NAME:
        in0->name = "INPUT9";
        break;
    case V_NAME_LEN:
        in0->name = "IN";
        break;
    case V_DTYPE:
        in0->datatype = "FP32";
        in0->data = &v->f;
        break;
    case V_SHAPE_TURN:
        v->shape0[0] = 16;
        v->shape0[1] = 1;
        break;
    case V_SHAPE_NDIM:
        v->shape0[0] = 16;
        in0->ndim = 1;
        break;
    case V_ORDER:
        v->in[0] = v->in[1];
        v->in[1] = (struct triton_infer_input){
            .name = "INPUT0", .datatype = "INT32", .shape = v->shape0, .ndim = 2, .data = &v->a};
        break;
    case V_ONE_INPUT:
        v->req.n_inputs = 1;
        break;
    case V_IN_PARAM_KEY:
        v->in_param.key = "j";
        /* fall through */
    case V_IN_PARAM_TYPE:
        if (which == V_IN_PARAM_TYPE)
            v->in_param.type = TRITON_PARAM_UINT64;
        /* fall through */
    case V_IN_PARAM_VALUE:
        if (which == V_IN_PARAM_VALUE)
            v->in_param.v.i = 2;
        /* fall through */
    case V_IN_PARAM:
        in0->params = &v->in_param;
        in0->n_params = 1;
        break;
    case V_JSON_DATA:
        ((int32_t *)v->b.buf->data)[3] = -7;
        /* fall through */
    case V_JSON:
        v->in[1].json = true;
        break;
    case V_SHM_OFFSET:
    case V_SHM_SIZE:
    case V_SHM_REGION:
    case V_SHM:
        in0->data = NULL;
        in0->shm_region = which == V_SHM_REGION ? "region2" : "region";
        in0->shm_byte_size = which == V_SHM_SIZE ? 128 : 64;
        in0->shm_offset = which == V_SHM_OFFSET ? 8 : 0;
        break;
    case V_NO_OUTPUTS_BINARY:
    case V_NO_OUTPUTS:
        v->req.n_outputs = 0;
        v->req.binary_data_output = which == V_NO_OUTPUTS_BINARY;
        break;
    case V_OUT_NAME:
        v->out[1].name = "OUTPUT2";
        break;
    case V_OUT_ORDER:
        v->out[0].name = "OUTPUT1";
        v->out[1].name = "OUTPUT0";
        break;
    case V_OUT_JSON:
        v->out[1].binary = 0;
        break;
    case V_BINARY_DEFAULT:
        v->req.binary_data_output = false;
        v->out[1].binary = 1;
        break;
    case V_CLASS:
        v->out[1].class_count = 3;
        break;
    case V_OUT_SHM:
        v->out[1].shm_region = "out";
        v->out[1].shm_byte_size = 64;
        break;
    case V_OUT_PARAM:
        v->out[1].params = &v->out_param;
        v->out[1].n_params = 1;
        break;
    case V_ID:
    case V_ID_OTHER:
    case V_ID_EMPTY:
        v->req.id = which == V_ID ? "1" : which == V_ID_OTHER ? "2" : "";
        break;
    case V_SEQ_END:
    case V_SEQ_START:
    case V_SEQ_OTHER:
    case V_SEQ:
        v->req.sequence_id = which == V_SEQ_OTHER ? 8 : 7;
        v->req.sequence_start = which == V_SEQ_START;
        v->req.sequence_end = which == V_SEQ_END;
        break;
    case V_SEQ_STR:
        v->req.sequence_id_str = "7";
        break;
    case V_PRIORITY:
        v->req.priority = 1;
        break;
    case V_TIMEOUT:
        v->req.timeout_us = 1000;
        break;
    case V_PARAM_DOUBLE:
        v->req_param.type = TRITON_PARAM_DOUBLE;
        v->req_param.v.d = 1.0;
        /* fall through */
    case V_PARAM_STRING:
        if (which == V_PARAM_STRING) {
            v->req_param.type = TRITON_PARAM_STRING;
            v->req_param.v.s.ptr = "1";
            v->req_param.v.s.len = 1;
        }
        /* fall through */
    case V_PARAM_BOOL:
        if (which == V_PARAM_BOOL) {
            v->req_param.type = TRITON_PARAM_BOOL;
            v->req_param.v.b = true;
        }
        /* fall through */
    case V_PARAM:
        v->req.params = &v->req_param;
        v->req.n_params = 1;
        break;
    }
}

static void variant_free(struct variant *v)
{
    tensor_release(&v->a);
    tensor_release(&v->b);
    tensor_release(&v->f);
    tensor_release(&v->s);
}

/* A request struct built into again (as a transport's task is, call after
 * call) keeps its header for a request that reads alike and writes it anew for
 * any other: request b built after request a equals b built fresh, for every
 * pair of variations, each of which changes the header. */
static void test_request_kept_header(void)
{
    static char fresh[NVARIATIONS][1024];
    struct variant *va = malloc(sizeof *va), *vb = malloc(sizeof *vb);
    struct triton_error err = {0};
    for (int i = 0; i < NVARIATIONS; i++) {
        struct wire_http_request r = {0};
        variant_make(va, i);
        CHECK(wire_http_infer_request_build(&va->req, &r, &err) == 0);
        CHECK(r.json_len < sizeof fresh[i]);
        snprintf(fresh[i], sizeof fresh[i], "%s", r.json);
        if (i != V_BASE && strcmp(fresh[i], fresh[V_BASE]) == 0)
            fprintf(stderr, "variation %d does not change the header\n", i);
        CHECK(i == V_BASE || strcmp(fresh[i], fresh[V_BASE]) != 0);
        wire_http_request_free(&r);
        variant_free(va);
    }
    for (int i = 0; i < NVARIATIONS; i++) {
        for (int j = 0; j < NVARIATIONS; j++) {
            struct wire_http_request r = {0};
            variant_make(va, i);
            variant_make(vb, j);
            CHECK(wire_http_infer_request_build(&va->req, &r, &err) == 0);
            /* as a transport does: the body packed after the header, then ended */
            memset(r.json + r.json_len, 'x', r.json_cap - r.json_len);
            wire_http_request_end(&r);
            CHECK(wire_http_infer_request_build(&vb->req, &r, &err) == 0);
            if (strcmp(r.json, fresh[j]) != 0)
                fprintf(stderr, "variation %d after %d: %s\n", j, i, r.json);
            CHECK(strcmp(r.json, fresh[j]) == 0 && r.json_len == strlen(fresh[j]));
            /* the same request again: its header is kept, not written (a mark
             * put in it stays), except with JSON data, which is always written */
            r.json[0] = '#';
            wire_http_request_end(&r);
            CHECK(wire_http_infer_request_build(&vb->req, &r, &err) == 0);
            bool json_data = j == V_JSON || j == V_JSON_DATA;
            CHECK(r.json[0] == (json_data ? '{' : '#'));
            wire_http_request_free(&r);
            variant_free(va);
            variant_free(vb);
        }
    }
    free(va);
    free(vb);
}

static void test_reply_binary(void)
{
    int32_t v[4] = {1, 2, 3, -4};
    unsigned char tail[16 + 10];
    memcpy(tail, v, 16);
    memcpy(tail + 16, "\2\0\0\0hi\0\0\0\0", 10);
    const char *json = "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"x\","
                       "\"parameters\":{\"p\":1},\"outputs\":["
                       "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2,2],"
                       "\"parameters\":{\"binary_data_size\":16}},"
                       "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],"
                       "\"parameters\":{\"binary_data_size\":10}},"
                       "{\"name\":\"M\",\"datatype\":\"FP32\",\"shape\":[4],"
                       "\"parameters\":{\"shared_memory_region\":\"r\"}},"
                       "{\"name\":\"N\",\"datatype\":\"FP32\",\"shape\":[4]}]}";
    for (size_t mis = 0; mis < 2; mis++) {
        struct body b = make_body(json, tail, sizeof(tail), mis);
        struct tensor_buffer *owner =
            tensor_buffer_wrap(b.base, (size_t)(b.data - b.base) + b.len, free_base, NULL, NULL);
        struct triton_infer_result *r;
        struct triton_error err = {0};
        CHECK(parse_reply(b.data, b.len, strlen(json), owner, &r, &err) == 0);
        tensor_buffer_unref(owner); /* the outputs keep it alive */
        if (!r)
            continue;
        CHECK_STR(r->model_name, "m");
        CHECK_STR(r->model_version, "1");
        CHECK_STR(r->id, "x");
        CHECK(cJSON_GetObjectItem(r->parameters, "p") != NULL);
        CHECK(r->n_outputs == 4);
        struct triton_infer_output *a = &r->outputs[0];
        CHECK(a->has_data && a->dtype == TENSOR_INT32 && a->ndim == 2 && a->shape[1] == 2);
        CHECK(memcmp(tensor_elem_ptr(&a->tensor, 0), v, 16) == 0);
        const char *bin_start = b.data + strlen(json);
        /* aligned: a view over the body; misaligned: a copy */
        CHECK((tensor_elem_ptr(&a->tensor, 0) == bin_start) == (mis == 0));
        struct triton_infer_output *s = &r->outputs[1];
        const struct tensor_str *e = tensor_elem_ptr(&s->tensor, 0);
        CHECK(s->has_data && e[0].len == 2 && memcmp(e[0].ptr, "hi", 2) == 0 && e[1].len == 0);
        CHECK(!r->outputs[2].has_data);
        CHECK(cJSON_GetObjectItem(r->outputs[2].parameters, "shared_memory_region"));
        /* Triton's answer for an output it wrote to shared memory: no data, no marker */
        CHECK(!r->outputs[3].has_data && r->outputs[3].ndim == 1);
        triton_infer_result_free(r);
    }
}

static void test_reply_json(void)
{
    const char *json =
        "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":["
        "{\"name\":\"B\",\"datatype\":\"BOOL\",\"shape\":[2],\"data\":[true,false]},"
        "{\"name\":\"U8\",\"datatype\":\"UINT8\",\"shape\":[2],\"data\":[0,255]},"
        "{\"name\":\"U16\",\"datatype\":\"UINT16\",\"shape\":[1],\"data\":[65535]},"
        "{\"name\":\"U32\",\"datatype\":\"UINT32\",\"shape\":[1],\"data\":[4294967295]},"
        "{\"name\":\"U64\",\"datatype\":\"UINT64\",\"shape\":[1],\"data\":[9007199254740992]},"
        "{\"name\":\"I8\",\"datatype\":\"INT8\",\"shape\":[2],\"data\":[-128,127]},"
        "{\"name\":\"I16\",\"datatype\":\"INT16\",\"shape\":[1],\"data\":[-32768]},"
        "{\"name\":\"I32\",\"datatype\":\"INT32\",\"shape\":[2,2],\"data\":[[1,2],[3,-4]]},"
        "{\"name\":\"I64\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[-9007199254740992]},"
        "{\"name\":\"F32\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.25]},"
        "{\"name\":\"F64\",\"datatype\":\"FP64\",\"shape\":[1],\"data\":[1e300]},"
        "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"a\",\"\"]},"
        "{\"name\":\"E\",\"datatype\":\"FP32\",\"shape\":[0,3],\"data\":[]}]}";
    struct triton_infer_result *r;
    struct triton_error err = {0};
    CHECK(parse_reply(json, strlen(json), WIRE_NO_HEADER_LENGTH, NULL, &r, &err) == 0);
    if (!r) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK(r->n_outputs == 13 && r->id == NULL);
    struct triton_infer_output *o = r->outputs;
    CHECK(((uint8_t *)tensor_elem_ptr(&o[0].tensor, 0))[0] == 1);
    CHECK(((uint8_t *)tensor_elem_ptr(&o[1].tensor, 0))[1] == 255);
    CHECK(*(uint16_t *)tensor_elem_ptr(&o[2].tensor, 0) == 65535);
    CHECK(*(uint32_t *)tensor_elem_ptr(&o[3].tensor, 0) == 4294967295u);
    CHECK(*(uint64_t *)tensor_elem_ptr(&o[4].tensor, 0) == 9007199254740992ull);
    CHECK(*(int8_t *)tensor_elem_ptr(&o[5].tensor, 0) == -128);
    CHECK(*(int16_t *)tensor_elem_ptr(&o[6].tensor, 0) == -32768);
    CHECK(*(int32_t *)tensor_elem_ptr(&o[7].tensor, 3) == -4);
    CHECK(*(int64_t *)tensor_elem_ptr(&o[8].tensor, 0) == -9007199254740992ll);
    CHECK(*(float *)tensor_elem_ptr(&o[9].tensor, 0) == 0.25f);
    CHECK(*(double *)tensor_elem_ptr(&o[10].tensor, 0) == 1e300);
    const struct tensor_str *s = tensor_elem_ptr(&o[11].tensor, 0);
    CHECK(s[0].len == 1 && s[0].ptr[0] == 'a' && s[1].len == 0);
    CHECK(o[12].has_data && tensor_numel(&o[12].tensor) == 0);
    triton_infer_result_free(r);
}

static void expect_bad_reply(const char *json, const void *bin, size_t bin_len, size_t hl,
                             const char *part, int line)
{
    struct body b = make_body(json, bin, bin_len, 0);
    struct triton_infer_result *r = (void *)1;
    struct triton_error err = {0};
    int rc = parse_reply(b.data, b.len, hl == 0 ? strlen(json) : hl, NULL, &r, &err);
    if (rc == 0 || r != NULL || err.code != TRITON_PROTOCOL || !strstr(err.message, part)) {
        check_failures++;
        fprintf(stderr, "%s:%d: reply %.60s: rc %d, %s '%s', want protocol_error '%s'\n", __FILE__,
                line, json, rc, triton_code_word(err.code), err.message, part);
    }
    triton_infer_result_free(rc == 0 ? r : NULL);
    free(b.base);
}

#define BAD(json, bin, n, hl, part) expect_bad_reply(json, bin, n, hl, part, __LINE__)

/* JSON BYTES elements keep their NUL bytes, whatever else the header holds
 * around them (keys, parameters, nesting, escapes, surrogates). A raw zero
 * byte in a string is not JSON (control characters must be escaped). */
/* A reply whose names outgrow the reader's first text buffer and outputs
 * array: every string still reads back whole, escapes decoded. */
static void test_reply_long_names(void)
{
    char name[12][80], json[4096];
    size_t n = (size_t)snprintf(json, sizeof json,
                                "{\"id\":\"r\\u00e9\",\"model_name\":\"%0300d\",\"model_version\":"
                                "\"7\",\"outputs\":[",
                                0);
    for (int i = 0; i < 12; i++) {
        snprintf(name[i], sizeof name[i], "out_%02d_%060d", i, 0);
        n += (size_t)snprintf(json + n, sizeof json - n,
                              "%s{\"name\":\"%s\",\"datatype\":\"INT32\",\"shape\":[1],"
                              "\"data\":[%d]}",
                              i ? "," : "", name[i], i);
    }
    n += (size_t)snprintf(json + n, sizeof json - n, "]}");
    CHECK(n < sizeof json);
    struct triton_infer_result *r;
    struct triton_error err = {0};
    CHECK(parse_reply(json, n, WIRE_NO_HEADER_LENGTH, NULL, &r, &err) == 0);
    if (!r) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK_STR(r->id, "r\xc3\xa9");
    CHECK(strlen(r->model_name) == 300 && r->model_name[299] == '0');
    CHECK_STR(r->model_version, "7");
    CHECK(r->n_outputs == 12);
    for (size_t i = 0; i < r->n_outputs && i < 12; i++) {
        CHECK_STR(r->outputs[i].name, name[i]);
        CHECK_STR(r->outputs[i].datatype, "INT32");
        CHECK(*(int32_t *)tensor_elem_ptr(&r->outputs[i].tensor, 0) == (int32_t)i);
    }
    triton_infer_result_free(r);
}

static void test_reply_json_nul(void)
{
    static const char json[] =
        "{\"model_name\":\"m\\u0000x\",\"parameters\":{\"k\\\"\":[\"\\u0000\",{\"a\":\"b\"}]},"
        "\"outputs\":[{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2,2],"
        "\"data\":[[\"a\\u0000b\",\"\\\\u0000\"],[\"\\ud83d\\ude00\\u0000\\u00e9\",\"r\\u0000\"]]},"
        "{\"name\":\"T\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"x\\u0000y\"]}]}";
    struct triton_infer_result *r;
    struct triton_error err = {0};
    CHECK(parse_reply(json, sizeof json - 1, WIRE_NO_HEADER_LENGTH, NULL, &r, &err) == 0);
    if (!r) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    CHECK(r->n_outputs == 2);
    const struct tensor_str *s = tensor_elem_ptr(&r->outputs[0].tensor, 0);
    CHECK(s[0].len == 3 && memcmp(s[0].ptr, "a\0b", 3) == 0);
    CHECK(s[1].len == 6 && memcmp(s[1].ptr, "\\u0000", 6) == 0); /* an escaped backslash */
    CHECK(s[2].len == 7 && memcmp(s[2].ptr, "\xf0\x9f\x98\x80\0\xc3\xa9", 7) == 0);
    CHECK(s[3].len == 2 && memcmp(s[3].ptr, "r\0", 2) == 0);
    s = tensor_elem_ptr(&r->outputs[1].tensor, 0);
    CHECK(s[0].len == 3 && memcmp(s[0].ptr, "x\0y", 3) == 0);
    size_t len;
    const char *k =
        wire_json_string(cJSON_GetArrayItem(cJSON_GetObjectItem(r->parameters, "k\""), 0), &len);
    CHECK(k && len == 1 && k[0] == '\0');
    triton_infer_result_free(r);

    static const char raw[] = "{\"outputs\":[{\"name\":\"T\",\"datatype\":\"BYTES\","
                              "\"shape\":[1],\"data\":[\"x\0y\"]}]}";
    r = (void *)1;
    CHECK(parse_reply(raw, sizeof raw - 1, WIRE_NO_HEADER_LENGTH, NULL, &r, &err) < 0);
    CHECK(r == NULL);
    CHECK_ERR(err, TRITON_PROTOCOL,
              "infer reply is not valid JSON: control character in string at byte 66 "
              "(found byte 0x00)");
}

static void test_reply_hostile(void)
{
    const char *ok = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
                     "\"parameters\":{\"binary_data_size\":8}}]}";
    char zeros[64] = {0};
    BAD("{\"outputs\":", NULL, 0, 0,
        "infer reply is not valid JSON: value expected at byte 12 (end of input)");
    BAD("\f{}", NULL, 0, 0,
        "infer reply is not valid JSON: unexpected character at byte 1 (found byte 0x0C)");
    BAD("{}x", NULL, 0, 0,
        "infer reply is not valid JSON: trailing characters after the value at byte 3 (found 'x')");
    /* an output of a datatype this client does not know, binary or JSON */
    BAD("{\"outputs\":[{\"name\":\"Q\",\"datatype\":\"FP128\",\"shape\":[1],"
        "\"parameters\":{\"binary_data_size\":16}}]}",
        zeros, 16, 0, "output 'Q' has datatype 'FP128', which this client does not know");
    BAD("{\"outputs\":[{\"name\":\"Q\",\"datatype\":\"QUANTUM\",\"shape\":[1],\"data\":[1]}]}",
        NULL, 0, 0, "output 'Q' has datatype 'QUANTUM', which this client does not know");
    BAD("[1,2]", NULL, 0, 0, "not a JSON object");
    BAD("{\"outputs\":{}}", NULL, 0, 0, "\"outputs\" is not an array");
    BAD("", NULL, 0, WIRE_NO_HEADER_LENGTH, "empty JSON header");
    BAD(ok, zeros, 4, 0, "goes past the end of the body"); /* truncated tail */
    BAD(ok, zeros, 12, 0, "outputs account for 8");        /* trailing bytes */
    BAD(ok, zeros, 8, 400, "longer than");                 /* header length past the body */
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[3],"
        "\"parameters\":{\"binary_data_size\":8}}]}",
        zeros, 8, 0, "binary_data_size is 8 but 3 INT32 elements take 12");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1e15,1e15],"
        "\"parameters\":{\"binary_data_size\":8}}]}",
        zeros, 8, 0, "output 'A'");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1000000000000],"
        "\"data\":[1]}]}",
        NULL, 0, 0, "\"data\" has 1 elements but the shape holds 1000000000000");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[-1],\"data\":[1]}]}", NULL,
        0, 0, "shape element 1 is not a non-negative integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1.5],\"data\":[1]}]}",
        NULL, 0, 0, "shape element 1");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1],"
        "\"parameters\":{\"binary_data_size\":-8}}]}",
        zeros, 8, 0, "binary_data_size is not a non-negative integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP16\",\"shape\":[1],\"data\":[1]}]}", NULL,
        0, 0, "FP16 data came as JSON");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"BF16\",\"shape\":[1],\"data\":[1]}]}", NULL,
        0, 0, "BF16 data came as JSON");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT8\",\"shape\":[1],\"data\":[128]}]}", NULL,
        0, 0, "data element 1 is not an integer in the datatype's range");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"UINT8\",\"shape\":[2],\"data\":[1,-1]}]}",
        NULL, 0, 0, "data element 2");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1],\"data\":[0.5]}]}",
        NULL, 0, 0, "not an integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[1]}]}", NULL,
        0, 0, "not a boolean");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[1]}]}", NULL,
        0, 0, "not a string");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[\"x\"]}]}",
        NULL, 0, 0, "not a number");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":{}}]}", NULL, 0,
        0, "\"data\" is not an array");
    BAD("{\"outputs\":[{\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}", NULL, 0, 0,
        "output 1 lacks");
    BAD("{\"outputs\":[7]}", NULL, 0, 0, "output 1 is not a JSON object");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],\"parameters\":3,"
        "\"data\":[1]}]}",
        NULL, 0, 0, "\"parameters\" is not an object");
    BAD("{\"parameters\":[],\"outputs\":[]}", NULL, 0, 0, "\"parameters\" is not an object");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,"
        "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data\":[1]}]}",
        NULL, 0, 0, "33 dimensions");
    /* BYTES length prefixes that lie */
    BAD("{\"outputs\":[{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[1],"
        "\"parameters\":{\"binary_data_size\":6}}]}",
        "\xff\xff\xff\x7f"
        "ab",
        6, 0, "exceeds");
    BAD("{\"outputs\":[{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":6}}]}",
        "\2\0\0\0ab", 6, 0, "output 'S'");
    BAD("{\"outputs\":[{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[100000000000],"
        "\"parameters\":{\"binary_data_size\":6}}]}",
        "\2\0\0\0ab", 6, 0, "too short");
    /* two outputs whose sizes together run past the body */
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT8\",\"shape\":[4],"
        "\"parameters\":{\"binary_data_size\":4}},{\"name\":\"B\",\"datatype\":\"INT8\","
        "\"shape\":[4],\"parameters\":{\"binary_data_size\":4}}]}",
        zeros, 6, 0, "output 'B': binary_data_size 4 goes past the end");
    /* deep nesting */
    char deep[700];
    size_t k = (size_t)sprintf(deep, "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\","
                                     "\"shape\":[1],\"data\":");
    for (int i = 0; i < 150; i++)
        deep[k++] = '[';
    deep[k++] = '1';
    for (int i = 0; i < 150; i++)
        deep[k++] = ']';
    strcpy(deep + k, "}]}");
    BAD(deep, NULL, 0, 0, "nested deeper than 100");

    /* every truncation of a good reply fails cleanly (or parses, never crashes) */
    int32_t v[2] = {5, 6};
    struct body b = make_body(ok, v, 8, 0);
    for (size_t cut = 0; cut < b.len; cut++) {
        struct triton_infer_result *r;
        struct triton_error err = {0};
        size_t hl = strlen(ok) < cut ? strlen(ok) : cut;
        CHECK(parse_reply(b.data, cut, hl, NULL, &r, &err) < 0);
        CHECK(err.code == TRITON_PROTOCOL);
    }
    free(b.base);

    size_t hl;
    struct triton_error err = {0};
    CHECK(wire_http_header_length(" 12 ", 4, 20, &hl, &err) == 0 && hl == 12);
    CHECK(wire_http_header_length("21", 2, 20, &hl, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "only 20 bytes");
    triton_error_clear(&err);
    CHECK(wire_http_header_length("1x", 2, 20, &hl, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "not a number");
    triton_error_clear(&err);
    CHECK(wire_http_header_length("99999999999999999999999", 23, SIZE_MAX, &hl, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "too large");
}

/* binary_data_size frames the body: it is read wherever it stands among an
 * output's parameters (the first one counts) and kept out of them. */
static void test_reply_framing_param(void)
{
    int32_t v[2] = {7, -8};
    static const struct {
        const char *json;
        size_t bin_len;     /* of v, after the header */
        const char *params; /* the output's parameters as printed; NULL for none */
    } good[] = {
        {"{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
         "\"parameters\":{\"binary_data_size\":8}}]}",
         8, NULL},
        {"{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
         "\"parameters\":{},\"data\":[7,-8]}]}",
         0, NULL},
        {"{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
         "\"parameters\":{\"x\":[1,{\"y\":null}],\"binary_data_size\":8,\"z\":\"w\"}}]}",
         8, "{\"x\":[1,{\"y\":null}],\"z\":\"w\"}"},
        {"{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
         "\"parameters\":{\"binary_data_size\":8,\"binary_data_size\":\"no\"}}]}",
         8, NULL},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct body b = make_body(good[i].json, v, good[i].bin_len, 0);
        struct triton_infer_result *r = NULL;
        struct triton_error err = {0};
        CHECK(parse_reply(b.data, b.len, strlen(good[i].json), NULL, &r, &err) == 0);
        free(b.base);
        if (!r)
            continue;
        const struct triton_infer_output *o = &r->outputs[0];
        CHECK(o->has_data && *(const int32_t *)tensor_elem_ptr(&o->tensor, 1) == -8);
        char *printed = wire_json_print(o->parameters, NULL);
        CHECK(good[i].params ? printed && strcmp(printed, good[i].params) == 0 : !o->parameters);
        free(printed);
        triton_infer_result_free(r);
    }
    char zeros[8] = {0};
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":\"8\"}}]}",
        zeros, 8, 0, "output 'A': binary_data_size is not a non-negative integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":[8]}}]}",
        zeros, 8, 0, "output 'A': binary_data_size is not a non-negative integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":8.5}}]}",
        zeros, 8, 0, "output 'A': binary_data_size is not a non-negative integer");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":{\"a\":]}}]}",
        zeros, 8, 0, "infer reply is not valid JSON: unexpected character at byte 94");
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":8,\"k\\u0000\":1}}]}",
        zeros, 8, 0, "infer reply: object key with a zero byte (not supported) at byte");
}

/* A memo keeps a reply's header for the next reply: the same header gives the
 * same result over that reply's own data; any other header is read. */
static void test_reply_memo(void)
{
    const char *usual = "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":["
                        "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1,2],"
                        "\"parameters\":{\"binary_data_size\":8}},"
                        "{\"name\":\"B\",\"datatype\":\"INT32\",\"shape\":[2],"
                        "\"parameters\":{\"binary_data_size\":8}}]}";
    /* as long as usual, one byte apart */
    const char *other = "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":["
                        "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1,2],"
                        "\"parameters\":{\"binary_data_size\":8}},"
                        "{\"name\":\"C\",\"datatype\":\"INT32\",\"shape\":[2],"
                        "\"parameters\":{\"binary_data_size\":8}}]}";
    const char *with_params = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\","
                              "\"shape\":[4],\"parameters\":{\"binary_data_size\":16,\"p\":1}}]}";
    const char *with_data = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\","
                            "\"shape\":[4],\"data\":[5,6,7,8]}]}";
    static const struct {
        const char *json;
        int32_t first; /* the first element of the first output */
        const char *second_name;
        bool kept; /* the memo holds the header afterwards */
    } steps[] = {
        {NULL, 1, "B", true},      {NULL, 101, "B", true}, /* kept, over new data */
        {"other", 201, "C", true}, {NULL, 301, "B", true},        {"with_params", 401, NULL, false},
        {NULL, 501, "B", true},    {"bad", 0, NULL, true}, /* a bad reply leaves it */
        {NULL, 601, "B", true},    {"with_data", 5, NULL, false}, {NULL, 701, "B", true},
    };
    struct wire_http_reply_memo memo = {0};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        const char *name = steps[i].json;
        const char *json = !name                              ? usual
                           : strcmp(name, "other") == 0       ? other
                           : strcmp(name, "with_params") == 0 ? with_params
                           : strcmp(name, "with_data") == 0   ? with_data
                                                              : "{\"outputs\":[}";
        int32_t v[4];
        for (int k = 0; k < 4; k++)
            v[k] = steps[i].first + k;
        size_t bin_len = name && strcmp(name, "with_data") == 0 ? 0 : sizeof v;
        if (name && strcmp(name, "bad") == 0)
            bin_len = 0;
        struct body b = make_body(json, v, bin_len, 0);
        bool was_kept = memo.block_len != 0;
        struct triton_infer_result *r = NULL;
        struct triton_error err = {0};
        int rc = wire_http_infer_parse(b.data, b.len, strlen(json), NULL, &memo, &r, &err);
        if (name && strcmp(name, "bad") == 0) {
            CHECK(rc < 0 && err.code == TRITON_PROTOCOL);
            CHECK((memo.block_len != 0) == was_kept);
        } else {
            CHECK(rc == 0);
            CHECK((memo.block_len != 0) == steps[i].kept);
        }
        if (rc == 0 && r) {
            CHECK(*(const int32_t *)tensor_elem_ptr(&r->outputs[0].tensor, 0) == steps[i].first);
            CHECK(r->outputs[0].ndim == (json == usual || json == other ? 2 : 1));
            if (steps[i].second_name) {
                CHECK(r->n_outputs == 2);
                CHECK_STR(r->outputs[1].name, steps[i].second_name);
                CHECK(*(const int32_t *)tensor_elem_ptr(&r->outputs[1].tensor, 1) ==
                      steps[i].first + 3);
                CHECK_STR(r->model_name, "m");
            }
        }
        triton_infer_result_free(r);
        free(b.base);
    }
    wire_http_reply_memo_free(&memo);
    CHECK(memo.mem == NULL && memo.block_len == 0);
}

/* Each pair below is the same reply once in the usual form and once spelled
 * otherwise (escapes, unknown keys, non-integer spellings of integers, blanks,
 * repeated keys): both must give the same. */
static void test_reply_spellings_agree(void)
{
    int32_t v[4] = {1, 2, 3, -4};
    static const struct {
        const char *json[2];
        size_t bin_len;
    } pairs[] = {
        {{"{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"x\",\"parameters\":{\"s\":\"t\","
          "\"i\":-3,\"z\":-0,\"b\":true,\"f\":false,\"s\":\"dup\"},\"outputs\":[{\"name\":\"A\","
          "\"datatype\":\"INT32\",\"shape\":[2,2],\"parameters\":{\"binary_data_size\":16}}]}",
          "{\"model_name\":\"\\u006d\",\"model_version\":\"1\",\"id\":\"x\",\"extra\":null,"
          "\"parameters\":{\"s\":\"t\",\"i\":-3.0,\"z\":-0,\"b\":true,\"f\":false,\"s\":\"dup\"},"
          "\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2.0,2e0],"
          "\"parameters\":{\"binary_data_size\":1.6e1}}]}"},
         16},
        {{" { \"outputs\" : [ { \"name\" : \"A\" , \"datatype\" : \"INT32\" , \"shape\" : [ 4 ] , "
          "\"parameters\" : { \"binary_data_size\" : 16 } } ] } \r\n",
          "\t\r\n{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[4],"
          "\"parameters\":{\"binary_data_size\":16}}]}"},
         16},
        /* the first of a repeated key counts, as Triton's reader finds it */
        {{"{\"model_name\":\"a\",\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[],"
          "\"parameters\":{\"binary_data_size\":4}},{\"name\":\"B\",\"datatype\":\"INT32\","
          "\"shape\":[3],\"parameters\":{\"binary_data_size\":12}}]}",
          "{\"model_name\":\"a\",\"model_name\":\"b\",\"outputs\":[{\"name\":\"A\","
          "\"datatype\":\"INT32\",\"shape\":[],\"parameters\":{\"binary_data_size\":4}},"
          "{\"name\":\"B\",\"datatype\":\"INT32\",\"shape\":[3],\"shape\":[9],"
          "\"datatype\":\"WEIRD\",\"parameters\":{\"binary_data_size\":12},"
          "\"parameters\":3}]}"},
         16},
        {{"{}", "{\"outputs\":[]}"}, 0},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
        char seen[2][1024];
        for (int j = 0; j < 2; j++) {
            const char *json = pairs[i].json[j];
            size_t bin_len = pairs[i].bin_len;
            struct body b = make_body(json, v, bin_len, 0);
            struct triton_infer_result *r = NULL;
            struct triton_error err = {0};
            int rc = parse_reply(b.data, b.len, strlen(json), NULL, &r, &err);
            CHECK(rc == 0);
            if (rc == 0)
                describe_reply(r, seen[j], sizeof(seen[j]));
            else
                snprintf(seen[j], sizeof(seen[j]), "error: %s", err.message);
            triton_infer_result_free(r);
            free(b.base);
        }
        CHECK_STR(seen[0], seen[1]);
    }
    /* and so do their data errors */
    const char *usual = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[3],"
                        "\"parameters\":{\"binary_data_size\":8}}]}";
    const char *unusual =
        "{\"outputs\":[{\"name\":\"\\u0041\",\"datatype\":\"INT32\",\"shape\":[3],"
        "\"parameters\":{\"binary_data_size\":8}}]}";
    const char *bad_size = "binary_data_size is 8 but 3 INT32 elements take 12";
    BAD(usual, v, 8, 0, bad_size);
    BAD(unusual, v, 8, 0, bad_size);
    usual = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
            "\"parameters\":{\"binary_data_size\":8}}]}";
    unusual = "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
              "\"parameters\":{\"binary_data_size\":8.0}}]}";
    BAD(usual, v, 12, 0, "outputs account for 8");
    BAD(unusual, v, 12, 0, "outputs account for 8");
    /* a usual-looking header that is not valid JSON further on is refused whole */
    BAD("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[3],"
        "\"parameters\":{\"binary_data_size\":8}}],}",
        v, 8, 0, "not valid JSON");
}

static void test_error_text_and_mapping(void)
{
    char t[64];
    wire_http_error_text("{\"error\":\"model 'x' not found\"}", 31, t, sizeof(t));
    CHECK_STR(t, "model 'x' not found");
    wire_http_error_text("<html>Bad\r\nGateway</html>\n", 26, t, sizeof(t));
    CHECK_STR(t, "<html>Bad  Gateway</html>");
    wire_http_error_text("", 0, t, sizeof(t));
    CHECK_STR(t, "");
    wire_http_error_text("{\"error\":3}", 11, t, sizeof(t));
    CHECK_STR(t, "{\"error\":3}");
    char small[5];
    wire_http_error_text("abcdefgh", 8, small, sizeof(small));
    CHECK_STR(small, "abcd");

    CHECK(triton_http_status_code(400) == TRITON_INVALID_ARGUMENT);
    CHECK(triton_http_status_code(401) == TRITON_UNAUTHENTICATED);
    CHECK(triton_http_status_code(403) == TRITON_PERMISSION_DENIED);
    CHECK(triton_http_status_code(404) == TRITON_NOT_FOUND);
    CHECK(triton_http_status_code(429) == TRITON_NO_MEMORY);
    CHECK(triton_http_status_code(500) == TRITON_INTERNAL);
    CHECK(triton_http_status_code(501) == TRITON_UNIMPLEMENTED);
    CHECK(triton_http_status_code(503) == TRITON_UNAVAILABLE);
    CHECK(triton_http_status_code(418) == TRITON_INVALID_ARGUMENT);
    CHECK(triton_http_status_code(599) == TRITON_INTERNAL);

    static const char *const secret[] = {"Authorization", "proxy-authorization", "Cookie",
                                         "X-Api-Key",     "x-auth-token",        "Client-Secret",
                                         "DB_PASSWORD"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++)
        CHECK(triton_header_is_secret(secret[i], strlen(secret[i])));
    static const char *const plain[] = {"Content-Type", "Inference-Header-Content-Length",
                                        "Accept-Encoding", "X-Request-Id"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++)
        CHECK(!triton_header_is_secret(plain[i], strlen(plain[i])));

    static const char *const urls[][2] = {
        {"http://u:pw@host:8000", "http://[redacted]@host:8000"},
        {"u:pw@host", "[redacted]@host"},
        {"https://host:8000", "https://host:8000"},
        {"host:8000", "host:8000"},
        {"http://host/a@b", "http://host/a@b"}, /* an '@' after the authority is not userinfo */
        {"http://u:p@ss@host", "http://[redacted]@host"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(*urls); i++) {
        char *shown = triton_url_redacted(urls[i][0]);
        CHECK(shown && strcmp(shown, urls[i][1]) == 0);
        free(shown);
    }
}

int main(void)
{
    test_classification();
    test_sse();
    test_request_binary();
    test_request_json_and_errors();
    test_request_kept_header();
    test_reply_binary();
    test_reply_json();
    test_reply_long_names();
    test_reply_json_nul();
    test_reply_hostile();
    test_reply_framing_param();
    test_reply_spellings_agree();
    test_reply_memo();
    test_error_text_and_mapping();
    return check_report("test_http_wire");
}
