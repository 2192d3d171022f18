/*
 * test_http_client.c: the HTTP transport against the reference server (real
 * sockets): every call kind, binary and JSON tensors, generate and its event
 * stream, compression, timeouts, cancellation, limits, fault modes and the
 * errors they map to, with the same client used again after each failure.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "client/client.h"
#include "testserver.h"
#include "wire/classification.h"

static struct test_server server;
static struct triton_loop *loop;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the done callback saw. */
struct outcome {
    int calls;  /* done invocations */
    int finals; /* of which final */
    int events; /* generate_stream events */
    double first_event_at, final_at;
    char text[1024]; /* generate_stream text_output, concatenated */
    bool boolean, failed;
    cJSON *json;
    struct triton_infer_result *result;
    struct triton_error err;
};

static void on_done(struct triton_call *call, struct triton_reply *reply,
                    const struct triton_error *err, bool final)
{
    struct outcome *o = call->user;
    o->calls++;
    if (!final) {
        if (o->events++ == 0)
            o->first_event_at = now();
        const cJSON *t = cJSON_GetObjectItem(reply->json, "text_output");
        if (cJSON_IsString(t))
            strncat(o->text, t->valuestring, sizeof(o->text) - strlen(o->text) - 1);
        return;
    }
    o->finals++;
    o->final_at = now();
    if (err) {
        o->failed = true;
        o->err = *err;
        return;
    }
    o->boolean = reply->boolean;
    o->json = reply->json;
    reply->json = NULL;
    o->result = reply->result;
    reply->result = NULL;
}

static void outcome_free(struct outcome *o)
{
    cJSON_Delete(o->json);
    triton_infer_result_free(o->result);
    memset(o, 0, sizeof(*o));
}

/* Submits and waits; the call's done must run exactly once with final. */
static void run(struct triton_client *c, struct triton_call *call, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    call->done = on_done;
    call->user = o;
    struct triton_error err = {0};
    if (triton_client_submit(c, call, &err) < 0) {
        o->failed = true;
        o->err = err;
        o->finals = 1;
        return;
    }
    if (triton_call_wait(c, call, &err) < 0) {
        fprintf(stderr, "wait failed: %s\n", err.message);
        CHECK(0);
    }
    CHECK(o->finals == 1);
}

static struct triton_client *connect_with(struct triton_client_options *opts)
{
    struct triton_error err = {0};
    if (!opts->url)
        opts->url = server.http_url;
    struct triton_client *c = triton_client_new(loop, opts, &err);
    if (!c)
        fprintf(stderr, "client: %s\n", err.message);
    return c;
}

/* ---- control plane ---------------------------------------------------------------- */

static void test_control(struct triton_client *c)
{
    struct outcome o;
    struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE};
    run(c, &call, &o);
    CHECK(!o.failed && o.boolean);
    call = (struct triton_call){.kind = TRITON_CALL_SERVER_READY};
    run(c, &call, &o);
    CHECK(!o.failed && o.boolean);
    call = (struct triton_call){.kind = TRITON_CALL_MODEL_READY, .model = "simple"};
    run(c, &call, &o);
    CHECK(!o.failed && o.boolean);
    call = (struct triton_call){.kind = TRITON_CALL_MODEL_READY, .model = "no_such_model"};
    run(c, &call, &o);
    CHECK(!o.failed && !o.boolean);

    call = (struct triton_call){.kind = TRITON_CALL_SERVER_METADATA};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_IsArray(cJSON_GetObjectItem(o.json, "extensions")));
    outcome_free(&o);

    call =
        (struct triton_call){.kind = TRITON_CALL_MODEL_METADATA, .model = "simple", .version = "1"};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetArraySize(cJSON_GetObjectItem(o.json, "inputs")) == 2);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_MODEL_CONFIG, .model = "simple"};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetObjectItem(o.json, "max_batch_size"));
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_REPOSITORY_INDEX, .flag = true};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetArraySize(o.json) > 5);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_STATISTICS, .model = "simple"};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetObjectItem(o.json, "model_stats"));
    outcome_free(&o);
    call = (struct triton_call){.kind = TRITON_CALL_STATISTICS};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetObjectItem(o.json, "model_stats"));
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_LOG_SETTINGS};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_IsObject(o.json));
    outcome_free(&o);
    cJSON *settings = cJSON_Parse("{\"log_verbose_level\":1}");
    call = (struct triton_call){.kind = TRITON_CALL_UPDATE_LOG_SETTINGS, .settings = settings};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetObjectItem(o.json, "log_verbose_level"));
    outcome_free(&o);
    cJSON_Delete(settings);

    call = (struct triton_call){.kind = TRITON_CALL_TRACE_SETTINGS};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_IsObject(o.json));
    outcome_free(&o);

    /* load with a config override, then unload */
    call = (struct triton_call){
        .kind = TRITON_CALL_LOAD_MODEL, .model = "simple", .config_json = "{\"max_batch_size\":4}"};
    run(c, &call, &o);
    if (o.failed)
        fprintf(stderr, "load: %s\n", o.err.message);
    CHECK(!o.failed && !o.json);
    call = (struct triton_call){.kind = TRITON_CALL_MODEL_CONFIG, .model = "simple"};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetObjectItem(o.json, "max_batch_size")->valuedouble == 4);
    outcome_free(&o);
    call = (struct triton_call){.kind = TRITON_CALL_UNLOAD_MODEL, .model = "simple_int8"};
    run(c, &call, &o);
    CHECK(!o.failed);
    call = (struct triton_call){.kind = TRITON_CALL_MODEL_READY, .model = "simple_int8"};
    run(c, &call, &o);
    CHECK(!o.failed && !o.boolean);
    call = (struct triton_call){.kind = TRITON_CALL_LOAD_MODEL, .model = "simple_int8"};
    run(c, &call, &o);
    CHECK(!o.failed);
    call = (struct triton_call){.kind = TRITON_CALL_LOAD_MODEL, .model = "simple"};
    run(c, &call, &o); /* back to its own config */
    CHECK(!o.failed);

    /* a model name that needs escaping reaches the server intact */
    call = (struct triton_call){.kind = TRITON_CALL_MODEL_METADATA, .model = "no such/model?"};
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_NOT_FOUND, "no such/model?");
    CHECK(o.err.status == 404);
}

/* ---- inference ---------------------------------------------------------------------- */

static void simple_inputs(struct tensor *a, struct tensor *b, struct triton_infer_input in[2],
                          const int64_t *shape)
{
    tensor_init(a, TENSOR_INT32, shape, 2, NULL);
    tensor_init(b, TENSOR_INT32, shape, 2, NULL);
    for (int i = 0; i < 16; i++) {
        ((int32_t *)a->buf->data)[i] = i;
        ((int32_t *)b->buf->data)[i] = 1;
    }
    in[0] = (struct triton_infer_input){
        .name = "INPUT0", .datatype = "INT32", .shape = shape, .ndim = 2, .data = a};
    in[1] = (struct triton_infer_input){
        .name = "INPUT1", .datatype = "INT32", .shape = shape, .ndim = 2, .data = b};
}

static bool simple_ok(const struct triton_infer_result *r)
{
    if (!r || r->n_outputs != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        const struct triton_infer_output *o = &r->outputs[k];
        int sign = strcmp(o->name, "OUTPUT0") == 0 ? 1 : -1;
        if (!o->has_data || o->dtype != TENSOR_INT32 || tensor_numel(&o->tensor) != 16)
            return false;
        for (int i = 0; i < 16; i++)
            if (*(int32_t *)tensor_elem_ptr(&o->tensor, i) != i + sign)
                return false;
    }
    return true;
}

static void test_infer(struct triton_client *c)
{
    int64_t shape[2] = {1, 16};
    struct tensor a, b;
    struct triton_infer_input in[2];
    simple_inputs(&a, &b, in, shape);
    struct outcome o;

    /* binary both ways (all outputs) */
    struct triton_infer_request req = {
        .model = "simple", .inputs = in, .n_inputs = 2, .binary_data_output = true, .id = "req-1"};
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    CHECK(o.result && o.result->id && strcmp(o.result->id, "req-1") == 0);
    CHECK(o.result && strcmp(o.result->model_name, "simple") == 0);
    outcome_free(&o);

    /* JSON both ways */
    in[0].json = in[1].json = true;
    req.binary_data_output = false;
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    outcome_free(&o);

    /* requested outputs: one binary, one JSON */
    struct triton_infer_requested_output outs[2] = {{.name = "OUTPUT0", .binary = 1},
                                                    {.name = "OUTPUT1", .binary = 0}};
    req.outputs = outs;
    req.n_outputs = 2;
    in[0].json = false;
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    /* output 0 came as binary data, a view over the reply body (which its
     * buffer releases); output 1 as JSON, in memory of its own */
    CHECK(o.result && o.result->outputs[0].tensor.buf->release != NULL);
    CHECK(o.result && o.result->outputs[1].tensor.buf->release == NULL);
    /* the framing parameter is read, not kept among the output's parameters */
    CHECK(o.result && !cJSON_GetObjectItem(o.result->outputs[0].parameters, "binary_data_size"));
    outcome_free(&o);

    /* the model's error text, status and code; then the client works again */
    struct triton_infer_request bad = {.model = "no_such_model", .inputs = in, .n_inputs = 2};
    call.infer = &bad;
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_NOT_FOUND, "no_such_model");
    CHECK(o.err.status == 404);
    in[1].name = "NOPE";
    call.infer = &req;
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_INVALID_ARGUMENT, "NOPE");
    CHECK(o.err.status == 400);
    in[1].name = "INPUT1";
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    outcome_free(&o);
    tensor_release(&a);
    tensor_release(&b);
}

/* Round trip through identity_<dtype> for every dtype, binary and (where JSON
 * can carry it) JSON. */
static void test_identity_dtypes(struct triton_client *c)
{
    for (int dt = 0; dt < TENSOR_NDTYPES; dt++) {
        char model[64];
        const char *name = tensor_dtype_name((enum tensor_dtype)dt);
        snprintf(model, sizeof(model), "identity_%s", name);
        for (char *p = model; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        int64_t shape[1] = {5};
        struct tensor t;
        tensor_init(&t, (enum tensor_dtype)dt, shape, 1, NULL);
        for (int i = 0; i < 5; i++) {
            void *p = tensor_elem_ptr(&t, i);
            if (dt == TENSOR_BYTES) {
                static const struct tensor_str s[5] = {
                    {"a", 1}, {"", 0}, {"x\0y", 3}, {"hello", 5}, {"\0", 1}};
                *(struct tensor_str *)p = s[i];
            } else if (dt == TENSOR_BOOL) {
                *(uint8_t *)p = (uint8_t)(i & 1);
            } else {
                tensor_set_f64((enum tensor_dtype)dt, p, i * 3 - (dt >= TENSOR_INT8 ? 5 : 0));
            }
        }
        if (dt == TENSOR_INT64)
            *(int64_t *)tensor_elem_ptr(&t, 4) = INT64_MAX; /* beyond a double: binary only */
        for (int json = 0; json < 2; json++) {
            if (json && (dt == TENSOR_FP16 || dt == TENSOR_BF16))
                continue;
            /* JSON strings cannot hold zero bytes for cJSON: binary only */
            if (json && dt == TENSOR_BYTES)
                continue;
            if (json && dt == TENSOR_INT64)
                *(int64_t *)tensor_elem_ptr(&t, 4) = 1;
            struct triton_infer_input in = {.name = "INPUT0",
                                            .datatype = name,
                                            .shape = shape,
                                            .ndim = 1,
                                            .data = &t,
                                            .json = json};
            struct triton_infer_request req = {
                .model = model, .inputs = &in, .n_inputs = 1, .binary_data_output = !json};
            struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
            struct outcome o;
            run(c, &call, &o);
            bool same = !o.failed && o.result && o.result->n_outputs == 1 &&
                        o.result->outputs[0].dtype == dt && o.result->outputs[0].has_data;
            if (same) {
                const struct tensor *r = &o.result->outputs[0].tensor;
                for (int i = 0; i < 5 && same; i++) {
                    const void *x = tensor_elem_ptr(&t, i), *y = tensor_elem_ptr(r, i);
                    if (dt == TENSOR_BYTES) {
                        const struct tensor_str *sx = x, *sy = y;
                        same = sx->len == sy->len && memcmp(sx->ptr, sy->ptr, sx->len) == 0;
                    } else {
                        same = memcmp(x, y, tensor_dtype_elem_size(dt)) == 0;
                    }
                }
            }
            if (!same)
                fprintf(stderr, "identity %s %s: %s\n", name, json ? "JSON" : "binary",
                        o.failed ? o.err.message : "values differ");
            CHECK(same);
            outcome_free(&o);
        }
        tensor_release(&t);
    }
}

static void test_large(struct triton_client *c)
{
    int64_t n = 16 << 20; /* 64 MiB of FP32 */
    int64_t shape[1] = {n};
    struct tensor t;
    tensor_init(&t, TENSOR_FP32, shape, 1, NULL);
    float *f = t.buf->data;
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)i * 0.5f;
    struct triton_infer_input in = {
        .name = "INPUT0", .datatype = "FP32", .shape = shape, .ndim = 1, .data = &t};
    struct triton_infer_request req = {
        .model = "identity_fp32", .inputs = &in, .n_inputs = 1, .binary_data_output = true};
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
    struct outcome o;
    double t0 = now();
    run(c, &call, &o);
    double dt = now() - t0;
    bool same = !o.failed && o.result && o.result->outputs[0].has_data &&
                tensor_numel(&o.result->outputs[0].tensor) == n;
    if (same) {
        const struct tensor *r = &o.result->outputs[0].tensor;
        same = memcmp(tensor_elem_ptr(r, 0), f, (size_t)n * 4) == 0;
        /* the reply was placed so that the output is a view, not a copy */
        CHECK(r->buf->release != NULL);
    }
    if (o.failed)
        fprintf(stderr, "large: %s\n", o.err.message);
    CHECK(same);
    printf("64 MiB FP32 identity round trip: %.0f ms\n", dt * 1000);
    outcome_free(&o);

    /* the same reply against a small max_response_size: a clean error, then fine */
    struct triton_client_options opts = {.max_response_size = 1 << 20};
    struct triton_client *small = connect_with(&opts);
    run(small, &call, &o);
    CHECK_ERR(o.err, TRITON_NO_MEMORY, "max_response_size");
    struct triton_call live = {.kind = TRITON_CALL_SERVER_LIVE};
    run(small, &live, &o);
    CHECK(!o.failed && o.boolean);
    triton_client_free(small);
    tensor_release(&t);
}

static void test_classification(struct triton_client *c)
{
    int64_t shape[2] = {1, 10};
    struct tensor t;
    tensor_init(&t, TENSOR_FP32, shape, 2, NULL);
    for (int i = 0; i < 10; i++)
        ((float *)t.buf->data)[i] = (float)((i * 7) % 10);
    struct triton_infer_input in = {
        .name = "INPUT0", .datatype = "FP32", .shape = shape, .ndim = 2, .data = &t};
    for (int binary = 0; binary < 2; binary++) {
        struct triton_infer_requested_output out = {
            .name = "OUTPUT0", .binary = binary, .class_count = 3};
        struct triton_infer_request req = {
            .model = "classifier", .inputs = &in, .n_inputs = 1, .outputs = &out, .n_outputs = 1};
        struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
        struct outcome o;
        run(c, &call, &o);
        CHECK(!o.failed && o.result && o.result->outputs[0].dtype == TENSOR_BYTES);
        if (o.result && o.result->outputs[0].has_data &&
            tensor_numel(&o.result->outputs[0].tensor) == 3) {
            const struct tensor_str *s = tensor_elem_ptr(&o.result->outputs[0].tensor, 0);
            struct wire_classification cl;
            struct triton_error err = {0};
            CHECK(wire_classification_parse(s[0].ptr, s[0].len, &cl, &err) == 0);
            /* scores are (i*7)%10: the top one is 9 at index 7, labelled "seven" */
            CHECK(cl.score == 9 && cl.index == 7 && cl.label_len == 5 &&
                  memcmp(cl.label, "seven", 5) == 0);
        } else {
            CHECK(0);
        }
        outcome_free(&o);
    }
    tensor_release(&t);
}

/* done for a stream that cancels its own call at the first event, and submits
 * another call from there (inside curl's write callback) */
struct cancel_ctx {
    struct outcome o;
    struct triton_client *c;
    struct triton_call *self, *other, *silent;
    struct outcome other_o;
};

static void cancel_on_first(struct triton_call *call, struct triton_reply *reply,
                            const struct triton_error *err, bool final)
{
    struct cancel_ctx *x = call->user;
    call->user = &x->o;
    on_done(call, reply, err, final);
    call->user = x;
    if (!final && x->o.events == 1) {
        struct triton_error e = {0};
        x->other->done = on_done;
        x->other->user = &x->other_o;
        if (triton_client_submit(x->c, x->other, &e) < 0)
            x->other_o.failed = true;
        triton_client_cancel(x->c, x->self);
        if (x->silent)
            triton_client_cancel(x->c, x->silent);
    }
}

static void slow_call(struct triton_infer_request *req, struct triton_infer_input *in,
                      struct tensor *t, int ms);

static void test_generate(struct triton_client *c)
{
    cJSON *body = cJSON_Parse("{\"text_input\":\"one two three four\","
                              "\"parameters\":{\"max_tokens\":3}}");
    struct triton_call call = {.kind = TRITON_CALL_GENERATE, .model = "echo_llm", .settings = body};
    struct outcome o;
    run(c, &call, &o);
    const cJSON *t = cJSON_GetObjectItem(o.json, "text_output");
    CHECK(!o.failed && cJSON_IsString(t) && strcmp(t->valuestring, "one two three") == 0);
    outcome_free(&o);

    call.kind = TRITON_CALL_GENERATE_STREAM;
    run(c, &call, &o);
    CHECK(!o.failed && o.events >= 1 && o.calls == o.events + 1);
    CHECK(strstr(o.text, "one") != NULL);
    outcome_free(&o);

    /* a decoupled model through generate_stream: three responses 300 ms apart,
     * each delivered when it arrives, not when the stream ends */
    cJSON *rep = cJSON_Parse("{\"IN\":[1,2,3],\"DELAY\":[0,300,300],\"WAIT\":[0]}");
    struct triton_call scall = {
        .kind = TRITON_CALL_GENERATE_STREAM, .model = "repeat_int32", .settings = rep};
    run(c, &scall, &o);
    if (o.failed)
        fprintf(stderr, "generate_stream repeat_int32: %s\n", o.err.message);
    CHECK(!o.failed && o.events == 3);
    CHECK(o.final_at - o.first_event_at > 0.45);
    outcome_free(&o);
    cJSON_Delete(rep);

    /* cancelled from its own event callback, which also starts another call and
     * cancels a third whose server is still silent: each cancelled transfer
     * leaves the loop with that step, not when its server next speaks */
    rep = cJSON_Parse("{\"IN\":[1,2,3],\"DELAY\":[0,300,300],\"WAIT\":[0]}");
    struct cancel_ctx x = {.c = c};
    struct triton_call other = {.kind = TRITON_CALL_SERVER_LIVE};
    struct triton_infer_request sreq;
    struct triton_infer_input sin;
    struct tensor st;
    slow_call(&sreq, &sin, &st, 3000);
    struct outcome so = {0};
    struct triton_call silent = {
        .kind = TRITON_CALL_INFER, .infer = &sreq, .done = on_done, .user = &so};
    scall = (struct triton_call){.kind = TRITON_CALL_GENERATE_STREAM,
                                 .model = "repeat_int32",
                                 .settings = rep,
                                 .done = cancel_on_first,
                                 .user = &x};
    x.self = &scall;
    x.other = &other;
    x.silent = &silent;
    struct triton_error werr = {0};
    CHECK(triton_client_submit(c, &silent, &werr) == 0);
    CHECK(triton_client_submit(c, &scall, &werr) == 0);
    CHECK(triton_call_wait(c, &scall, &werr) == 0);
    CHECK(x.o.events == 1 && x.o.finals == 1);
    CHECK_ERR(x.o.err, TRITON_CANCELLED, "cancelled");
    CHECK(triton_call_wait(c, &silent, &werr) == 0);
    CHECK_ERR(so.err, TRITON_CANCELLED, "cancelled");
    CHECK(triton_call_wait(c, &other, &werr) == 0);
    CHECK(!x.other_o.failed && x.other_o.boolean);
    CHECK_INT(triton_loop_pending(loop), 0);
    tensor_release(&st);
    cJSON_Delete(rep);

    call.model = "no_such_model";
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_NOT_FOUND, "no_such_model");
    CHECK(o.events == 0);
    cJSON_Delete(body);
}

/* ---- transport behaviour ------------------------------------------------------------ */

static void slow_call(struct triton_infer_request *req, struct triton_infer_input *in,
                      struct tensor *t, int ms)
{
    static int64_t shape[1] = {1};
    tensor_init(t, TENSOR_INT32, shape, 1, NULL);
    *(int32_t *)t->buf->data = ms;
    *in = (struct triton_infer_input){
        .name = "INPUT0", .datatype = "INT32", .shape = shape, .ndim = 1, .data = t};
    *req = (struct triton_infer_request){
        .model = "slow", .inputs = in, .n_inputs = 1, .binary_data_output = true};
}

static void test_timeouts_cancel_concurrency(struct triton_client *c)
{
    struct triton_infer_request req;
    struct triton_infer_input in;
    struct tensor t;
    slow_call(&req, &in, &t, 1500);
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req, .timeout = 0.2};
    struct outcome o;
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_DEADLINE_EXCEEDED, "timeout of 0.2 s");

    /* cancel a call in flight: done runs later, from a step, with CANCELLED */
    memset(&o, 0, sizeof(o));
    call =
        (struct triton_call){.kind = TRITON_CALL_INFER, .infer = &req, .done = on_done, .user = &o};
    struct triton_error err = {0};
    CHECK(triton_client_submit(c, &call, &err) == 0);
    triton_loop_step(loop, 0.05, &err);
    triton_client_cancel(c, &call);
    CHECK(o.calls == 0);
    CHECK(triton_call_wait(c, &call, &err) == 0);
    CHECK_ERR(o.err, TRITON_CANCELLED, "cancelled");
    tensor_release(&t);

    /* concurrency 2: six 200 ms calls take about three rounds */
    struct triton_client_options opts = {.concurrency = 2};
    struct triton_client *c2 = connect_with(&opts);
    struct triton_infer_request reqs[6];
    struct triton_infer_input ins[6];
    struct tensor ts[6];
    struct triton_call calls[6];
    struct outcome os[6];
    double t0 = now();
    for (int i = 0; i < 6; i++) {
        slow_call(&reqs[i], &ins[i], &ts[i], 200);
        memset(&os[i], 0, sizeof(os[i]));
        calls[i] = (struct triton_call){
            .kind = TRITON_CALL_INFER, .infer = &reqs[i], .done = on_done, .user = &os[i]};
        CHECK(triton_client_submit(c2, &calls[i], &err) == 0);
    }
    /* cancel one that is still queued */
    triton_client_cancel(c2, &calls[5]);
    for (int i = 0; i < 6; i++)
        CHECK(triton_call_wait(c2, &calls[i], &err) == 0);
    double dt = now() - t0;
    for (int i = 0; i < 5; i++)
        CHECK(!os[i].failed && os[i].finals == 1);
    CHECK_ERR(os[5].err, TRITON_CANCELLED, "cancelled");
    CHECK(dt > 0.55); /* at most two at once: three rounds at least (never a bound above) */
    for (int i = 0; i < 6; i++) {
        outcome_free(&os[i]);
        tensor_release(&ts[i]);
    }

    /* destroying a client cancels what it has in flight */
    slow_call(&reqs[0], &ins[0], &ts[0], 1000);
    memset(&os[0], 0, sizeof(os[0]));
    calls[0] = (struct triton_call){
        .kind = TRITON_CALL_INFER, .infer = &reqs[0], .done = on_done, .user = &os[0]};
    CHECK(triton_client_submit(c2, &calls[0], &err) == 0);
    triton_client_free(c2);
    CHECK_ERR(os[0].err, TRITON_CANCELLED, "closed");
    tensor_release(&ts[0]);
}

/* ---- connection reuse ------------------------------------------------------------------- */

/* The local ports of this process's TCP connections to port `to` (at most
 * max): the sockets among its descriptors that /proc/net/tcp lists with that
 * remote port. */
static int ports_to(int to, int *ports, int max)
{
    unsigned long inodes[512];
    int n_inodes = 0, n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d)) && n_inodes < 512) {
        char path[300], link[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k <= 0)
            continue;
        link[k] = '\0';
        if (sscanf(link, "socket:[%lu]", &inodes[n_inodes]) == 1)
            n_inodes++;
    }
    if (d)
        closedir(d);
    FILE *f = fopen("/proc/self/net/tcp", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f) && n < max) {
        unsigned lport, rport, st;
        unsigned long inode;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport, &rport,
                   &st, &inode) != 4 ||
            (int)rport != to)
            continue;
        for (int i = 0; i < n_inodes; i++)
            if (inodes[i] == inode)
                ports[n++] = (int)lport;
    }
    if (f)
        fclose(f);
    return n;
}

static bool has_port(const int *ports, int n, int port)
{
    for (int i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* Connections stay for the next calls when every transfer of a batch ends
 * before the next batch starts, as async callers' do (curl's own cache limit
 * falls as transfers end): three batches of 16 calls, ending one after
 * another, use no more connections than one batch. */
static void test_connection_reuse(void)
{
    enum { N = 16 };
    struct triton_client_options opts = {.concurrency = N};
    struct triton_client *c = connect_with(&opts);
    int before[64], seen[256], now[64];
    int n_before = ports_to(server.http_port, before, 64), n_seen = 0;
    struct triton_infer_request reqs[N];
    struct triton_infer_input ins[N];
    struct tensor ts[N];
    struct triton_call calls[N];
    struct outcome os[N];
    struct triton_error err = {0};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            slow_call(&reqs[i], &ins[i], &ts[i], 40 + 15 * i);
            memset(&os[i], 0, sizeof(os[i]));
            calls[i] = (struct triton_call){
                .kind = TRITON_CALL_INFER, .infer = &reqs[i], .done = on_done, .user = &os[i]};
            CHECK(triton_client_submit(c, &calls[i], &err) == 0);
        }
        /* the connections the batch runs on, looked at while it runs */
        for (int step = 0; step < 3; step++)
            triton_loop_step(loop, 0.005, &err);
        int k = ports_to(server.http_port, now, 64);
        for (int i = 0; i < k && n_seen < 256; i++)
            if (!has_port(before, n_before, now[i]) && !has_port(seen, n_seen, now[i]))
                seen[n_seen++] = now[i];
        for (int i = 0; i < N; i++) {
            CHECK(triton_call_wait(c, &calls[i], &err) == 0);
            CHECK(!os[i].failed && os[i].finals == 1);
            outcome_free(&os[i]);
            tensor_release(&ts[i]);
        }
    }
    CHECK(n_seen > 0);
    if (n_seen > N) {
        fprintf(stderr, "three batches of %d calls opened %d connections\n", N, n_seen);
        CHECK(n_seen <= N);
    }
    triton_client_free(c);
}

static void test_faults(struct triton_client *c)
{
    int64_t shape[2] = {1, 16};
    struct tensor a, b;
    struct triton_infer_input in[2];
    simple_inputs(&a, &b, in, shape);
    struct triton_infer_request req = {
        .model = "simple", .inputs = in, .n_inputs = 2, .binary_data_output = true};
    static const struct {
        const char *fault;
        enum triton_code code;
        const char *part;
    } faults[] = {
        {"close", TRITON_UNAVAILABLE, ""},
        {"truncate", TRITON_UNAVAILABLE, ""},
        {"bad-length", TRITON_PROTOCOL, "Inference-Header-Content-Length"},
        {"bad-binary-size", TRITON_PROTOCOL, "binary_data_size"},
        {"garbage", TRITON_PROTOCOL, "not valid JSON"},
        /* an output claiming 2^40 bytes in a small body */
        {"huge", TRITON_PROTOCOL, "goes past the end of the body"},
        {"status=503", TRITON_UNAVAILABLE, "status=503"},
        {"status=401", TRITON_UNAUTHENTICATED, "status=401"},
        {"status=403", TRITON_PERMISSION_DENIED, "status=403"},
        {"status=429", TRITON_NO_MEMORY, "status=429"},
        {"status=500", TRITON_INTERNAL, "status=500"},
        {"status=501", TRITON_UNIMPLEMENTED, "status=501"},
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(*faults); i++) {
        struct triton_kv h = {"x-fault", faults[i].fault};
        struct triton_call call = {
            .kind = TRITON_CALL_INFER, .infer = &req, .headers = &h, .n_headers = 1};
        struct outcome o;
        run(c, &call, &o);
        if (!o.failed || o.err.code != faults[i].code || !strstr(o.err.message, faults[i].part))
            fprintf(stderr, "fault %s: %s %s\n", faults[i].fault,
                    o.failed ? triton_code_word(o.err.code) : "success", o.err.message);
        CHECK_ERR(o.err, faults[i].code, faults[i].part);
        outcome_free(&o);
        /* the same client goes on working */
        call = (struct triton_call){.kind = TRITON_CALL_INFER, .infer = &req};
        run(c, &call, &o);
        CHECK(!o.failed && simple_ok(o.result));
        outcome_free(&o);
    }
    tensor_release(&a);
    tensor_release(&b);

    /* a reply announcing 2^40 bytes is refused before it is received */
    struct triton_kv huge = {"x-fault", "huge"};
    struct triton_call meta = {
        .kind = TRITON_CALL_SERVER_METADATA, .headers = &huge, .n_headers = 1};
    struct outcome mo;
    run(c, &meta, &mo);
    CHECK_ERR(mo.err, TRITON_NO_MEMORY, "max_response_size");
    meta = (struct triton_call){.kind = TRITON_CALL_SERVER_METADATA};
    run(c, &meta, &mo);
    CHECK(!mo.failed && mo.json);
    outcome_free(&mo);
    /* a generate_stream whose body is cut off mid-event */
    cJSON *gen = cJSON_Parse("{\"text_input\":\"a b\"}");
    struct triton_kv trunc = {"x-fault", "truncate"};
    meta = (struct triton_call){.kind = TRITON_CALL_GENERATE_STREAM,
                                .model = "echo_llm",
                                .settings = gen,
                                .headers = &trunc,
                                .n_headers = 1};
    run(c, &meta, &mo);
    CHECK(mo.failed);
    outcome_free(&mo);
    cJSON_Delete(gen);

    /* connection refused and DNS failure */
    struct triton_client_options opts = {.url = "127.0.0.1:1"};
    struct triton_client *dead = connect_with(&opts);
    struct triton_call live = {.kind = TRITON_CALL_SERVER_METADATA};
    struct outcome o;
    run(dead, &live, &o);
    CHECK_ERR(o.err, TRITON_UNAVAILABLE, "");
    triton_client_free(dead);
    opts.url = "no-such-host.invalid:8000";
    dead = connect_with(&opts);
    run(dead, &live, &o);
    CHECK_ERR(o.err, TRITON_UNAVAILABLE, "");
    triton_client_free(dead);

    /* streams belong to gRPC */
    struct triton_stream s = {0};
    struct triton_error err = {0};
    CHECK(c->transport->stream_open(c, &s, &err) < 0);
    CHECK(err.code == TRITON_UNIMPLEMENTED && strstr(err.message, "gRPC"));
}

struct log_capture {
    char text[16384];
};

static void capture(void *ctx, const char *line)
{
    struct log_capture *l = ctx;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "%s\n", line);
}

static void test_options(void)
{
    struct log_capture log = {0};
    struct triton_kv hdrs[2] = {{"Authorization", "Bearer sekrit1"}, {"X-Custom", "visible"}};
    struct triton_client_options opts = {.verbose = true,
                                         .log = capture,
                                         .log_ctx = &log,
                                         .headers = hdrs,
                                         .n_headers = 2,
                                         .compression = "gzip",
                                         .response_compression = "gzip"};
    struct triton_client *c = connect_with(&opts);
    int64_t shape[2] = {1, 16};
    struct tensor a, b;
    struct triton_infer_input in[2];
    simple_inputs(&a, &b, in, shape);
    struct triton_infer_request req = {
        .model = "simple", .inputs = in, .n_inputs = 2, .binary_data_output = true};
    struct triton_kv call_hdr = {"X-Api-Key", "sekrit2"};
    /* escaping: a reserved byte first, last and in runs, one beyond ASCII */
    struct triton_kv query[2] = {{"q", "a b"}, {"k~._-", "/\xc3\xbc%&"}};
    struct triton_call call = {.kind = TRITON_CALL_INFER,
                               .infer = &req,
                               .headers = &call_hdr,
                               .n_headers = 1,
                               .query = query,
                               .n_query = 2};
    struct outcome o;
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    outcome_free(&o);
    CHECK(strstr(log.text, "POST http://") &&
          strstr(log.text, "/v2/models/simple/infer?q=a%20b&k~._-=%2F%C3%BC%25%26 "));
    CHECK(strstr(log.text, "Authorization: [redacted]") &&
          strstr(log.text, "X-Api-Key: [redacted]"));
    CHECK(strstr(log.text, "X-Custom: visible"));
    CHECK(strstr(log.text, "Content-Encoding: gzip"));
    CHECK(strstr(log.text, "HTTP 200"));
    CHECK(!strstr(log.text, "sekrit"));
    if (check_failures)
        fputs(log.text, stderr);
    triton_client_free(c);

    opts =
        (struct triton_client_options){.compression = "deflate", .response_compression = "deflate"};
    c = connect_with(&opts);
    call = (struct triton_call){.kind = TRITON_CALL_INFER, .infer = &req};
    run(c, &call, &o);
    CHECK(!o.failed && simple_ok(o.result));
    outcome_free(&o);
    triton_client_free(c);

    struct triton_error err = {0};
    opts = (struct triton_client_options){.url = server.http_url, .compression = "brotli"};
    CHECK(triton_client_new(loop, &opts, &err) == NULL && err.code == TRITON_INVALID_ARGUMENT);
    struct triton_kv evil = {"X-Evil", "a\r\nInjected: 1"};
    triton_error_clear(&err);
    opts = (struct triton_client_options){.url = server.http_url, .headers = &evil, .n_headers = 1};
    CHECK(triton_client_new(loop, &opts, &err) == NULL && err.code == TRITON_INVALID_ARGUMENT);
    tensor_release(&a);
    tensor_release(&b);
}

static void test_shm(struct triton_client *c)
{
    char key[64];
    snprintf(key, sizeof(key), "/triton_http_test_%d", (int)getpid());
    int fd = shm_open(key, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 256) == 0);
    int32_t *mem = mmap(NULL, 256, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    for (int i = 0; i < 16; i++) {
        mem[i] = i;
        mem[16 + i] = 2;
    }
    struct outcome o;
    struct triton_call call = {
        .kind = TRITON_CALL_SYSTEM_SHM_REGISTER, .region = "in_out", .key = key, .byte_size = 256};
    run(c, &call, &o);
    if (o.failed)
        fprintf(stderr, "shm register: %s\n", o.err.message);
    CHECK(!o.failed);
    call = (struct triton_call){.kind = TRITON_CALL_SYSTEM_SHM_STATUS};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetArraySize(o.json) == 1);
    outcome_free(&o);

    int64_t shape[2] = {1, 16};
    struct triton_infer_input in[2] = {
        {.name = "INPUT0",
         .datatype = "INT32",
         .shape = shape,
         .ndim = 2,
         .shm_region = "in_out",
         .shm_byte_size = 64},
        {.name = "INPUT1",
         .datatype = "INT32",
         .shape = shape,
         .ndim = 2,
         .shm_region = "in_out",
         .shm_byte_size = 64,
         .shm_offset = 64},
    };
    struct triton_infer_requested_output out[2] = {
        {.name = "OUTPUT0", .shm_region = "in_out", .shm_byte_size = 64, .shm_offset = 128},
        {.name = "OUTPUT1", .binary = 1}};
    struct triton_infer_request req = {
        .model = "simple", .inputs = in, .n_inputs = 2, .outputs = out, .n_outputs = 2};
    call = (struct triton_call){.kind = TRITON_CALL_INFER, .infer = &req};
    run(c, &call, &o);
    if (o.failed)
        fprintf(stderr, "shm infer: %s\n", o.err.message);
    CHECK(!o.failed && o.result && !o.result->outputs[0].has_data && o.result->outputs[1].has_data);
    bool same = true;
    for (int i = 0; i < 16; i++)
        same = same && mem[32 + i] == i + 2;
    CHECK(same);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_SYSTEM_SHM_UNREGISTER};
    run(c, &call, &o);
    CHECK(!o.failed);
    call = (struct triton_call){.kind = TRITON_CALL_SYSTEM_SHM_STATUS};
    run(c, &call, &o);
    CHECK(!o.failed && cJSON_GetArraySize(o.json) == 0);
    outcome_free(&o);
    munmap(mem, 256);
    shm_unlink(key);
}

/* HTTPS against a server started with a certificate made here. */
static void test_tls(void)
{
    char dir[] = "/tmp/triton_tls_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char cmd[1024], cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "tls: openssl failed\n");
        CHECK(0);
        return;
    }
    const char *args[] = {"--tls", cert, key, "--no-grpc", NULL};
    struct test_server tls;
    if (test_server_start(&tls, args) < 0) {
        CHECK(0);
        return;
    }
    struct triton_call call = {.kind = TRITON_CALL_SERVER_METADATA};
    struct outcome o;
    /* verified against our CA file */
    struct triton_client_options opts = {.url = tls.http_url, .use_tls = true, .ca_file = cert};
    struct triton_client *c = connect_with(&opts);
    run(c, &call, &o);
    if (o.failed)
        fprintf(stderr, "tls: %s\n", o.err.message);
    CHECK(!o.failed && o.json);
    outcome_free(&o);
    triton_client_free(c);
    /* verification fails without it, and says TLS */
    opts = (struct triton_client_options){.url = tls.http_url, .use_tls = true};
    c = connect_with(&opts);
    run(c, &call, &o);
    CHECK_ERR(o.err, TRITON_UNAVAILABLE, "TLS");
    triton_client_free(c);
    /* unless asked not to verify */
    opts = (struct triton_client_options){.url = tls.http_url, .use_tls = true, .insecure = true};
    c = connect_with(&opts);
    run(c, &call, &o);
    CHECK(!o.failed && o.json);
    outcome_free(&o);
    triton_client_free(c);
    /* plain HTTP to a TLS port fails cleanly */
    opts = (struct triton_client_options){.url = tls.http_url};
    c = connect_with(&opts);
    run(c, &call, &o);
    CHECK(o.failed);
    outcome_free(&o);
    triton_client_free(c);
    test_server_stop(&tls);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    if (test_server_start(&server, NULL) < 0)
        return 1;
    struct triton_error err = {0};
    loop = triton_loop_new(&err);
    struct triton_client_options opts = {0};
    struct triton_client *c = connect_with(&opts);
    if (!loop || !c) {
        test_server_stop(&server);
        return 1;
    }
    test_control(c);
    test_infer(c);
    test_identity_dtypes(c);
    test_classification(c);
    test_generate(c);
    test_timeouts_cancel_concurrency(c);
    test_connection_reuse();
    test_faults(c);
    test_options();
    test_shm(c);
    test_tls();
    test_large(c);
    triton_client_free(c);
    CHECK(triton_loop_pending(loop) == 0);
    triton_loop_free(loop);
    test_server_stop(&server);
    return check_report("test_http_client");
}
