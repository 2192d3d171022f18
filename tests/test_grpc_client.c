/*
 * test_grpc_client.c: the gRPC transport against the reference server over a
 * real socket: every control-plane kind, infer (zero-copy inputs, views over
 * the reply), errors, streams, generate, concurrency and teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client/client.h"
#include "testserver.h"

/* What the completion saw. */
struct outcome {
    int calls, finals;
    bool boolean;
    cJSON *json;   /* last json reply (owned) */
    cJSON *events; /* generate_stream: every event */
    struct triton_infer_result *result;
    struct triton_error err;
    bool failed;
};

static void on_done(struct triton_call *call, struct triton_reply *reply,
                    const struct triton_error *err, bool final)
{
    struct outcome *o = call->user;
    o->calls++;
    if (final)
        o->finals++;
    if (err) {
        o->err = *err;
        o->failed = true;
        return;
    }
    o->boolean = reply->boolean;
    if (reply->json) {
        if (call->kind == TRITON_CALL_GENERATE_STREAM && !final) {
            if (!o->events)
                o->events = cJSON_CreateArray();
            cJSON_AddItemToArray(o->events, reply->json);
        } else {
            cJSON_Delete(o->json);
            o->json = reply->json;
        }
        reply->json = NULL;
    }
    if (reply->result) {
        triton_infer_result_free(o->result);
        o->result = reply->result;
        reply->result = NULL;
    }
}

static void outcome_free(struct outcome *o)
{
    cJSON_Delete(o->json);
    cJSON_Delete(o->events);
    triton_infer_result_free(o->result);
    memset(o, 0, sizeof *o);
}

static int run(struct triton_client *c, struct triton_call *call, struct outcome *o)
{
    struct triton_error err = {0};
    memset(o, 0, sizeof *o);
    call->done = on_done;
    call->user = o;
    if (triton_client_submit(c, call, &err) < 0) {
        o->err = err;
        o->failed = true;
        return -1;
    }
    if (triton_call_wait(c, call, &err) < 0) {
        fprintf(stderr, "wait: %s\n", err.message);
        check_failures++;
        return -1;
    }
    return o->failed ? -1 : 0;
}

static const char *jstr(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void test_control_plane(struct triton_client *c)
{
    struct outcome o;
    struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE};
    CHECK(run(c, &call, &o) == 0 && o.boolean && o.finals == 1 && call.finished);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_SERVER_READY};
    CHECK(run(c, &call, &o) == 0 && o.boolean);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_MODEL_READY, .model = "simple"};
    CHECK(run(c, &call, &o) == 0 && o.boolean);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_SERVER_METADATA};
    CHECK(run(c, &call, &o) == 0 && jstr(o.json, "name") &&
          cJSON_IsArray(cJSON_GetObjectItem(o.json, "extensions")));
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_MODEL_METADATA, .model = "simple"};
    CHECK(run(c, &call, &o) == 0);
    CHECK(jstr(o.json, "name") && strcmp(jstr(o.json, "name"), "simple") == 0);
    const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o.json, "inputs"), 0);
    CHECK(jstr(in0, "datatype") && strcmp(jstr(in0, "datatype"), "INT32") == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(in0, "shape")) == 2);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_MODEL_CONFIG, .model = "simple"};
    CHECK(run(c, &call, &o) == 0);
    CHECK(jstr(o.json, "name") && strcmp(jstr(o.json, "name"), "simple") == 0);
    const cJSON *cin = cJSON_GetArrayItem(cJSON_GetObjectItem(o.json, "input"), 0);
    CHECK(jstr(cin, "data_type") && strcmp(jstr(cin, "data_type"), "TYPE_INT32") == 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o.json, "max_batch_size")) == 8);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_REPOSITORY_INDEX};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsArray(o.json) && cJSON_GetArraySize(o.json) > 5);
    CHECK(jstr(cJSON_GetArrayItem(o.json, 0), "state") != NULL);
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_STATISTICS, .model = "simple"};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsArray(cJSON_GetObjectItem(o.json, "model_stats")));
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_LOG_SETTINGS};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsBool(cJSON_GetObjectItem(o.json, "log_info")));
    outcome_free(&o);

    cJSON *settings = cJSON_Parse("{\"log_verbose_level\": 1}");
    call = (struct triton_call){.kind = TRITON_CALL_UPDATE_LOG_SETTINGS, .settings = settings};
    CHECK(run(c, &call, &o) == 0 &&
          cJSON_GetNumberValue(cJSON_GetObjectItem(o.json, "log_verbose_level")) == 1);
    outcome_free(&o);
    cJSON_Delete(settings);

    call = (struct triton_call){.kind = TRITON_CALL_TRACE_SETTINGS};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsArray(cJSON_GetObjectItem(o.json, "trace_level")));
    outcome_free(&o);

    settings = cJSON_Parse("{\"trace_rate\": \"7\"}");
    call = (struct triton_call){.kind = TRITON_CALL_UPDATE_TRACE_SETTINGS, .settings = settings};
    CHECK(run(c, &call, &o) == 0 && jstr(o.json, "trace_rate") &&
          strcmp(jstr(o.json, "trace_rate"), "7") == 0);
    outcome_free(&o);
    cJSON_Delete(settings);

    call = (struct triton_call){.kind = TRITON_CALL_SYSTEM_SHM_STATUS};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsArray(o.json));
    outcome_free(&o);

    call = (struct triton_call){.kind = TRITON_CALL_CUDA_SHM_STATUS};
    CHECK(run(c, &call, &o) == 0 && cJSON_IsArray(o.json));
    outcome_free(&o);
}

static void test_errors(struct triton_client *c)
{
    struct outcome o;
    struct triton_call call = {.kind = TRITON_CALL_MODEL_METADATA, .model = "no_such_model"};
    CHECK(run(c, &call, &o) < 0 && o.err.code == TRITON_NOT_FOUND && o.err.status == 5);
    CHECK(strstr(o.err.message, "no_such_model") != NULL);
    outcome_free(&o);

    /* A bad header is refused before anything is sent. */
    struct triton_kv bad = {"x-bad", "line\nbreak"};
    call = (struct triton_call){.kind = TRITON_CALL_SERVER_LIVE, .headers = &bad, .n_headers = 1};
    CHECK(run(c, &call, &o) < 0 && o.err.code == TRITON_INVALID_ARGUMENT);
    outcome_free(&o);

    /* A deadline. */
    struct triton_kv fault = {"x-fault", "delay=2000"};
    call = (struct triton_call){
        .kind = TRITON_CALL_SERVER_LIVE, .headers = &fault, .n_headers = 1, .timeout = 0.2};
    CHECK(run(c, &call, &o) < 0 && o.err.code == TRITON_DEADLINE_EXCEEDED);
    outcome_free(&o);

    /* Still usable. */
    call = (struct triton_call){.kind = TRITON_CALL_SERVER_LIVE};
    CHECK(run(c, &call, &o) == 0 && o.boolean);
    outcome_free(&o);
}

static void test_infer(struct triton_client *c)
{
    struct triton_error err = {0};
    int64_t shape[2] = {1, 16};
    struct tensor a = {0}, b = {0};
    CHECK(tensor_init(&a, TENSOR_INT32, shape, 2, &err) == 0);
    CHECK(tensor_init(&b, TENSOR_INT32, shape, 2, &err) == 0);
    for (int i = 0; i < 16; i++) {
        ((int32_t *)a.buf->data)[i] = i;
        ((int32_t *)b.buf->data)[i] = 1;
    }
    struct triton_infer_input inputs[2] = {
        {.name = "INPUT0", .datatype = "INT32", .shape = shape, .ndim = 2, .data = &a},
        {.name = "INPUT1", .datatype = "INT32", .shape = shape, .ndim = 2, .data = &b},
    };
    struct triton_param p = {.key = "custom", .type = TRITON_PARAM_DOUBLE, .v.d = 1.5};
    struct triton_infer_request req = {.model = "simple",
                                       .id = "req-1",
                                       .inputs = inputs,
                                       .n_inputs = 2,
                                       .params = &p,
                                       .n_params = 1};
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
    struct outcome o;
    CHECK(run(c, &call, &o) == 0 && o.result);
    if (o.result) {
        CHECK(strcmp(o.result->model_name, "simple") == 0);
        CHECK(strcmp(o.result->id, "req-1") == 0);
        CHECK(o.result->n_outputs == 2);
        for (size_t i = 0; i < o.result->n_outputs; i++) {
            struct triton_infer_output *out = &o.result->outputs[i];
            CHECK(out->has_data && out->dtype == TENSOR_INT32 && out->ndim == 2);
            int sign = strcmp(out->name, "OUTPUT0") == 0 ? 1 : -1;
            for (int k = 0; out->has_data && k < 16; k++)
                CHECK(*(int32_t *)tensor_elem_ptr(&out->tensor, k) == k + sign);
        }
    }
    outcome_free(&o);

    /* A wrong shape is the server's INVALID_ARGUMENT. */
    int64_t bad_shape[2] = {1, 15};
    inputs[0].shape = bad_shape;
    CHECK(run(c, &call, &o) < 0 && o.err.code == TRITON_INVALID_ARGUMENT);
    outcome_free(&o);
    tensor_release(&a);
    tensor_release(&b);
}

/* A 16 MiB FP32 identity round trip: input bytes sent as slices over the tensor. */
static void test_large(struct triton_client *c)
{
    struct triton_error err = {0};
    int64_t n = 4 << 20;
    int64_t shape[1] = {n};
    struct tensor t = {0};
    CHECK(tensor_init(&t, TENSOR_FP32, shape, 1, &err) == 0);
    float *f = t.buf->data;
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)i * 0.5f;
    struct triton_infer_input in = {
        .name = "INPUT0", .datatype = "FP32", .shape = shape, .ndim = 1, .data = &t};
    struct triton_infer_request req = {.model = "identity_fp32", .inputs = &in, .n_inputs = 1};
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
    struct outcome o;
    CHECK(run(c, &call, &o) == 0 && o.result && o.result->n_outputs == 1);
    if (o.result && o.result->n_outputs == 1) {
        struct tensor *out = &o.result->outputs[0].tensor;
        CHECK(tensor_numel(out) == n);
        CHECK(memcmp(tensor_elem_ptr(out, 0), f, (size_t)n * 4) == 0);
    }
    outcome_free(&o);
    tensor_release(&t);
}

static void test_bytes_and_classification(struct triton_client *c)
{
    struct triton_error err = {0};
    int64_t shape[1] = {3};
    struct tensor t = {0};
    CHECK(tensor_init(&t, TENSOR_BYTES, shape, 1, &err) == 0);
    const char *words[3] = {"", "hello", "wide\0zero"};
    size_t lens[3] = {0, 5, 9};
    struct tensor_str *s = t.buf->data;
    for (int i = 0; i < 3; i++) {
        s[i].len = lens[i];
        s[i].ptr = lens[i] ? tensor_buffer_intern(t.buf, words[i], lens[i], &err) : "";
    }
    struct triton_infer_input in = {
        .name = "INPUT0", .datatype = "BYTES", .shape = shape, .ndim = 1, .data = &t};
    struct triton_infer_request req = {.model = "identity_bytes", .inputs = &in, .n_inputs = 1};
    struct triton_call call = {.kind = TRITON_CALL_INFER, .infer = &req};
    struct outcome o;
    CHECK(run(c, &call, &o) == 0 && o.result && o.result->n_outputs == 1);
    if (o.result && o.result->n_outputs == 1) {
        struct tensor *out = &o.result->outputs[0].tensor;
        CHECK(out->dtype == TENSOR_BYTES && tensor_numel(out) == 3);
        for (int i = 0; i < 3 && tensor_numel(out) == 3; i++) {
            struct tensor_str *e = tensor_elem_ptr(out, i);
            CHECK(e->len == lens[i] && memcmp(e->ptr, words[i], lens[i]) == 0);
        }
    }
    outcome_free(&o);
    tensor_release(&t);

    int64_t cshape[2] = {1, 10};
    struct tensor sc = {0};
    CHECK(tensor_init(&sc, TENSOR_FP32, cshape, 2, &err) == 0);
    for (int i = 0; i < 10; i++)
        ((float *)sc.buf->data)[i] = (float)i;
    struct triton_infer_input cin = {
        .name = "INPUT0", .datatype = "FP32", .shape = cshape, .ndim = 2, .data = &sc};
    struct triton_infer_requested_output cout = {.name = "OUTPUT0", .class_count = 2};
    struct triton_infer_request creq = {
        .model = "classifier", .inputs = &cin, .n_inputs = 1, .outputs = &cout, .n_outputs = 1};
    call = (struct triton_call){.kind = TRITON_CALL_INFER, .infer = &creq};
    CHECK(run(c, &call, &o) == 0 && o.result && o.result->n_outputs == 1);
    if (o.result && o.result->n_outputs == 1 && o.result->outputs[0].has_data) {
        struct tensor *out = &o.result->outputs[0].tensor;
        CHECK(out->dtype == TENSOR_BYTES && tensor_numel(out) == 2);
        struct tensor_str *e = tensor_elem_ptr(out, 0);
        CHECK(e->len > 0 && strncmp(e->ptr, "9.000000:9", 10) == 0);
    }
    outcome_free(&o);
    tensor_release(&sc);
}

struct stream_seen {
    int responses, errors, finals;
    int32_t outs[16];
    bool final_flags[16];
    struct triton_error last_err;
};

static void on_stream(struct triton_call *call, struct triton_reply *reply,
                      const struct triton_error *err, bool final)
{
    struct stream_seen *s = call->user;
    if (final) {
        s->finals++;
        if (err)
            s->last_err = *err;
        return;
    }
    if (err) {
        s->errors++;
        s->last_err = *err;
        return;
    }
    struct triton_infer_result *r = reply->result;
    for (size_t i = 0; r && i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].name, "OUT") == 0 && r->outputs[i].has_data && s->responses < 16)
            s->outs[s->responses] = *(int32_t *)tensor_elem_ptr(&r->outputs[i].tensor, 0);
    if (s->responses < 16)
        s->final_flags[s->responses] = r && r->final;
    s->responses++;
}

static void test_stream(struct triton_client *c)
{
    struct triton_error err = {0};
    struct stream_seen seen = {0};
    struct triton_stream s = {.done = on_stream, .user = &seen};
    CHECK(c->transport->stream_open(c, &s, &err) == 0);
    int64_t n4[1] = {4}, n1[1] = {1};
    struct tensor in = {0}, delay = {0}, wait = {0};
    tensor_init(&in, TENSOR_INT32, n4, 1, &err);
    tensor_init(&delay, TENSOR_UINT32, n4, 1, &err);
    tensor_init(&wait, TENSOR_UINT32, n1, 1, &err);
    for (int i = 0; i < 4; i++)
        ((int32_t *)in.buf->data)[i] = 10 + i;
    struct triton_infer_input inputs[3] = {
        {.name = "IN", .datatype = "INT32", .shape = n4, .ndim = 1, .data = &in},
        {.name = "DELAY", .datatype = "UINT32", .shape = n4, .ndim = 1, .data = &delay},
        {.name = "WAIT", .datatype = "UINT32", .shape = n1, .ndim = 1, .data = &wait},
    };
    struct triton_param empty_final = {
        .key = "triton_enable_empty_final_response", .type = TRITON_PARAM_BOOL, .v.b = true};
    struct triton_infer_request req = {.model = "repeat_int32",
                                       .inputs = inputs,
                                       .n_inputs = 3,
                                       .params = &empty_final,
                                       .n_params = 1};
    CHECK(c->transport->stream_send(c, &s, &req, &err) == 0);
    /* An in-band error: unknown model; the stream stays open. */
    struct triton_infer_request bad = {.model = "no_such_model", .inputs = inputs, .n_inputs = 1};
    CHECK(c->transport->stream_send(c, &s, &bad, &err) == 0);
    CHECK(c->transport->stream_send(c, &s, &req, &err) == 0);
    c->transport->stream_close(c, &s);
    while (!s.finished)
        if (triton_loop_step(c->loop, -1, &err) < 0)
            break;
    CHECK(seen.finals == 1 && seen.last_err.code == TRITON_UNKNOWN);
    CHECK(seen.errors == 1);
    /* 2 requests x (4 responses + an empty final one) */
    CHECK(seen.responses == 10);
    CHECK(seen.outs[0] == 10 && seen.outs[3] == 13 && !seen.final_flags[0] && seen.final_flags[4]);
    tensor_release(&in);
    tensor_release(&delay);
    tensor_release(&wait);

    /* Cancel: final done with CANCELLED. */
    struct stream_seen seen2 = {0};
    struct triton_stream s2 = {.done = on_stream, .user = &seen2};
    CHECK(c->transport->stream_open(c, &s2, &err) == 0);
    c->transport->stream_cancel(c, &s2);
    while (!s2.finished)
        if (triton_loop_step(c->loop, -1, &err) < 0)
            break;
    CHECK(seen2.finals == 1 && seen2.last_err.code == TRITON_CANCELLED);
}

static void test_generate(struct triton_client *c)
{
    struct outcome o;
    cJSON *body = cJSON_Parse("{\"text_input\": \"a b c d\", \"parameters\": {\"max_tokens\": 2}}");
    struct triton_call call = {.kind = TRITON_CALL_GENERATE, .model = "echo_llm", .settings = body};
    CHECK(run(c, &call, &o) == 0);
    CHECK(jstr(o.json, "text_output") && strcmp(jstr(o.json, "text_output"), "a b") == 0);
    CHECK(jstr(o.json, "model_name") && strcmp(jstr(o.json, "model_name"), "echo_llm") == 0);
    outcome_free(&o);

    call = (struct triton_call){
        .kind = TRITON_CALL_GENERATE_STREAM, .model = "echo_llm", .settings = body};
    CHECK(run(c, &call, &o) == 0 && o.finals == 1);
    CHECK(cJSON_GetArraySize(o.events) >= 1);
    outcome_free(&o);
    cJSON_Delete(body);
}

static void test_concurrency_and_cancel(struct triton_client *c)
{
    struct triton_error err = {0};
    struct outcome o[6];
    struct triton_call calls[6];
    struct triton_kv fault = {"x-fault", "delay=100"};
    for (int i = 0; i < 6; i++) {
        memset(&o[i], 0, sizeof o[i]);
        calls[i] = (struct triton_call){.kind = TRITON_CALL_SERVER_LIVE,
                                        .headers = &fault,
                                        .n_headers = 1,
                                        .done = on_done,
                                        .user = &o[i]};
        CHECK(triton_client_submit(c, &calls[i], &err) == 0);
    }
    triton_client_cancel(c, &calls[5]); /* queued (concurrency 2) */
    triton_client_cancel(c, &calls[0]); /* running */
    for (int i = 0; i < 6; i++)
        CHECK(triton_call_wait(c, &calls[i], &err) == 0);
    CHECK(o[0].failed && o[0].err.code == TRITON_CANCELLED);
    CHECK(o[5].failed && o[5].err.code == TRITON_CANCELLED);
    for (int i = 1; i < 5; i++)
        CHECK(!o[i].failed && o[i].boolean && o[i].finals == 1);
    for (int i = 0; i < 6; i++)
        outcome_free(&o[i]);
}

static void test_unavailable(struct triton_loop *loop)
{
    struct triton_error err = {0};
    struct triton_client_options opts = {.protocol = TRITON_PROTOCOL_GRPC, .url = "127.0.0.1:1"};
    struct triton_client *c = triton_client_new(loop, &opts, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    struct outcome o;
    struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE};
    CHECK(run(c, &call, &o) < 0 && o.err.code == TRITON_UNAVAILABLE && o.err.status == 14);
    outcome_free(&o);
    /* Destroy with a call in flight: it ends CANCELLED inside free. */
    struct triton_kv fault = {"x-fault", "delay=1000"};
    (void)fault;
    triton_client_free(c);
}

static void test_destroy_in_flight(struct triton_loop *loop, const char *url)
{
    struct triton_error err = {0};
    struct triton_client_options opts = {.protocol = TRITON_PROTOCOL_GRPC, .url = url};
    struct triton_client *c = triton_client_new(loop, &opts, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    struct outcome o = {0};
    struct triton_kv fault = {"x-fault", "delay=2000"};
    struct triton_call call = {.kind = TRITON_CALL_SERVER_LIVE,
                               .headers = &fault,
                               .n_headers = 1,
                               .done = on_done,
                               .user = &o};
    CHECK(triton_client_submit(c, &call, &err) == 0);
    struct stream_seen seen = {0};
    struct triton_stream s = {.done = on_stream, .user = &seen};
    CHECK(c->transport->stream_open(c, &s, &err) == 0);
    triton_client_free(c);
    CHECK(call.finished && o.failed && o.err.code == TRITON_CANCELLED);
    CHECK(s.finished && seen.finals == 1);
    outcome_free(&o);
}

int main(void)
{
    struct test_server server;
    if (test_server_start(&server, NULL) < 0)
        return 1;
    struct triton_error err = {0};
    struct triton_loop *loop = triton_loop_new(&err);
    struct triton_kv hdr = {"X-Client", "test"};
    struct triton_client_options opts = {.protocol = TRITON_PROTOCOL_GRPC,
                                         .url = server.grpc_url,
                                         .headers = &hdr,
                                         .n_headers = 1,
                                         .concurrency = 2};
    struct triton_client *c = triton_client_new(loop, &opts, &err);
    if (!c) {
        fprintf(stderr, "client: %s\n", err.message);
        test_server_stop(&server);
        return 1;
    }
    test_control_plane(c);
    test_errors(c);
    test_infer(c);
    test_large(c);
    test_bytes_and_classification(c);
    test_stream(c);
    test_generate(c);
    test_concurrency_and_cancel(c);
    triton_client_free(c);
    test_unavailable(loop);
    test_destroy_in_flight(loop, server.grpc_url);
    triton_loop_free(loop);
    test_server_stop(&server);
    return check_report("test_grpc_client");
}
