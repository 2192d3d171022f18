/*
 * test_grpc_wire.c: the protobuf-c -> JSON converter (pb_json) and the
 * zero-copy infer request/reply code (grpc_wire), with hostile replies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>

#include "check.h"
#include "grpc/grpc_generate.h"
#include "grpc/grpc_wire.h"
#include "proto/grpc_service.pb-c.h"
#include "wire/json.h"
#include "wire/pb_json.h"

/* The tree of JSON text (a NUL-terminated literal). */
static cJSON *json_of(const char *text)
{
    return wire_json_parse(text, strlen(text), NULL);
}

/* Compares a tree to JSON text (parsed, so key order and spacing do not matter). */
static bool json_equals(const cJSON *got, const char *want_text)
{
    cJSON *want = json_of(want_text);
    bool eq = want && got && cJSON_Compare(got, want, true);
    if (!eq) {
        char *s = got ? wire_json_print(got, NULL) : NULL;
        fprintf(stderr, "  got:  %s\n  want: %s\n", s ? s : "(null)", want_text);
        free(s);
    }
    cJSON_Delete(want);
    return eq;
}

static void test_model_config(void)
{
    Inference__ModelInput in = INFERENCE__MODEL_INPUT__INIT;
    int64_t dims[2] = {-1, 16};
    in.name = "INPUT0";
    in.data_type = INFERENCE__DATA_TYPE__TYPE_INT32;
    in.n_dims = 2;
    in.dims = dims;
    Inference__ModelInput *ins[1] = {&in};
    Inference__ModelConfig cfg = INFERENCE__MODEL_CONFIG__INIT;
    cfg.name = "m";
    cfg.max_batch_size = 8;
    cfg.n_input = 1;
    cfg.input = ins;
    Inference__ModelConfigResponse r = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    r.config = &cfg;
    struct triton_error err = {0};
    cJSON *j = pb_json_http_shape(&r.base, &err);
    CHECK(j != NULL);
    /* Every primitive field is printed (Triton's always_print_primitive_fields). */
    CHECK(cJSON_GetObjectItem(j, "platform") && cJSON_GetObjectItem(j, "output"));
    cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "input"), 0);
    CHECK(json_equals(cJSON_GetObjectItem(in0, "dims"), "[-1, 16]"));
    CHECK(json_equals(cJSON_GetObjectItem(in0, "data_type"), "\"TYPE_INT32\""));
    CHECK(json_equals(cJSON_GetObjectItem(in0, "format"), "\"FORMAT_NONE\""));
    CHECK(json_equals(cJSON_GetObjectItem(j, "max_batch_size"), "8"));
    /* Unset sub-messages stay absent. */
    CHECK(cJSON_GetObjectItem(j, "dynamic_batching") == NULL);
    cJSON_Delete(j);

    /* Without defaults only what is set appears. */
    j = pb_json_from_message(&cfg.base, false, &err);
    CHECK(json_equals(j, "{\"name\":\"m\",\"max_batch_size\":8,"
                         "\"input\":[{\"name\":\"INPUT0\",\"data_type\":\"TYPE_INT32\","
                         "\"dims\":[-1,16]}]}"));
    cJSON_Delete(j);
}

static void test_maps_oneofs_floats_bytes(void)
{
    /* map<string, ModelParameter>, float, bytes (base64) */
    Inference__ModelParameter pv = INFERENCE__MODEL_PARAMETER__INIT;
    pv.string_value = "7";
    Inference__ModelConfig__ParametersEntry pe = INFERENCE__MODEL_CONFIG__PARAMETERS_ENTRY__INIT;
    pe.key = "delay";
    pe.value = &pv;
    Inference__ModelConfig__ParametersEntry *pes[1] = {&pe};
    Inference__ModelConfig cfg = INFERENCE__MODEL_CONFIG__INIT;
    cfg.n_parameters = 1;
    cfg.parameters = pes;
    struct triton_error err = {0};
    cJSON *j = pb_json_from_message(&cfg.base, false, &err);
    CHECK(json_equals(j, "{\"parameters\":{\"delay\":{\"string_value\":\"7\"}}}"));
    cJSON_Delete(j);

    Inference__InferParameter ip = INFERENCE__INFER_PARAMETER__INIT;
    ip.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    ip.int64_param = -5;
    j = pb_json_from_message(&ip.base, true, &err);
    CHECK(json_equals(j, "{\"int64_param\":-5}")); /* only the member that is set */
    cJSON_Delete(j);

    Inference__ModelRepositoryParameter rp = INFERENCE__MODEL_REPOSITORY_PARAMETER__INIT;
    rp.parameter_choice_case = INFERENCE__MODEL_REPOSITORY_PARAMETER__PARAMETER_CHOICE_BYTES_PARAM;
    rp.bytes_param.data = (uint8_t *)"hello";
    rp.bytes_param.len = 5;
    j = pb_json_from_message(&rp.base, false, &err);
    CHECK(json_equals(j, "{\"bytes_param\":\"aGVsbG8=\"}"));
    cJSON_Delete(j);
}

static void test_reshaping(void)
{
    struct triton_error err = {0};
    /* shm status: map -> list sorted by name */
    Inference__SystemSharedMemoryStatusResponse__RegionStatus rs[2] = {
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__REGION_STATUS__INIT,
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__REGION_STATUS__INIT};
    rs[0].name = "zeta";
    rs[0].key = "/z";
    rs[0].byte_size = 64;
    rs[1].name = "alpha";
    rs[1].key = "/a";
    rs[1].offset = 8;
    rs[1].byte_size = 16;
    Inference__SystemSharedMemoryStatusResponse__RegionsEntry re[2] = {
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__REGIONS_ENTRY__INIT,
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__REGIONS_ENTRY__INIT};
    re[0].key = "zeta";
    re[0].value = &rs[0];
    re[1].key = "alpha";
    re[1].value = &rs[1];
    Inference__SystemSharedMemoryStatusResponse__RegionsEntry *rep[2] = {&re[0], &re[1]};
    Inference__SystemSharedMemoryStatusResponse sr =
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_RESPONSE__INIT;
    sr.n_regions = 2;
    sr.regions = rep;
    cJSON *j = pb_json_http_shape(&sr.base, &err);
    CHECK(json_equals(j, "[{\"name\":\"alpha\",\"key\":\"/a\",\"offset\":8,\"byte_size\":16},"
                         "{\"name\":\"zeta\",\"key\":\"/z\",\"offset\":0,\"byte_size\":64}]"));
    cJSON_Delete(j);

    /* trace settings: trace_level stays a list, single values become strings */
    char *levels[2] = {"TIMESTAMPS", "TENSORS"};
    char *rate[1] = {"1000"};
    Inference__TraceSettingResponse__SettingValue v[3] = {
        INFERENCE__TRACE_SETTING_RESPONSE__SETTING_VALUE__INIT,
        INFERENCE__TRACE_SETTING_RESPONSE__SETTING_VALUE__INIT,
        INFERENCE__TRACE_SETTING_RESPONSE__SETTING_VALUE__INIT};
    v[0].n_value = 2;
    v[0].value = levels;
    v[1].n_value = 1;
    v[1].value = rate;
    Inference__TraceSettingResponse__SettingsEntry te[3] = {
        INFERENCE__TRACE_SETTING_RESPONSE__SETTINGS_ENTRY__INIT,
        INFERENCE__TRACE_SETTING_RESPONSE__SETTINGS_ENTRY__INIT,
        INFERENCE__TRACE_SETTING_RESPONSE__SETTINGS_ENTRY__INIT};
    te[0].key = "trace_level";
    te[0].value = &v[0];
    te[1].key = "trace_rate";
    te[1].value = &v[1];
    te[2].key = "trace_file";
    te[2].value = &v[2];
    Inference__TraceSettingResponse__SettingsEntry *tep[3] = {&te[0], &te[1], &te[2]};
    Inference__TraceSettingResponse tr = INFERENCE__TRACE_SETTING_RESPONSE__INIT;
    tr.n_settings = 3;
    tr.settings = tep;
    j = pb_json_http_shape(&tr.base, &err);
    CHECK(json_equals(j, "{\"trace_level\":[\"TIMESTAMPS\",\"TENSORS\"],\"trace_rate\":\"1000\","
                         "\"trace_file\":[]}"));
    cJSON_Delete(j);

    /* log settings: oneof -> plain values */
    Inference__LogSettingsResponse__SettingValue lv[3] = {
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__INIT,
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__INIT,
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__INIT};
    lv[0].parameter_choice_case =
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_BOOL_PARAM;
    lv[0].bool_param = 1;
    lv[1].parameter_choice_case =
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_UINT32_PARAM;
    lv[1].uint32_param = 3;
    lv[2].parameter_choice_case =
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTING_VALUE__PARAMETER_CHOICE_STRING_PARAM;
    lv[2].string_param = "default";
    Inference__LogSettingsResponse__SettingsEntry le[3] = {
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTINGS_ENTRY__INIT,
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTINGS_ENTRY__INIT,
        INFERENCE__LOG_SETTINGS_RESPONSE__SETTINGS_ENTRY__INIT};
    const char *keys[3] = {"log_info", "log_verbose_level", "log_format"};
    Inference__LogSettingsResponse__SettingsEntry *lep[3];
    for (int i = 0; i < 3; i++) {
        le[i].key = (char *)keys[i];
        le[i].value = &lv[i];
        lep[i] = &le[i];
    }
    Inference__LogSettingsResponse lr = INFERENCE__LOG_SETTINGS_RESPONSE__INIT;
    lr.n_settings = 3;
    lr.settings = lep;
    j = pb_json_http_shape(&lr.base, &err);
    CHECK(json_equals(j, "{\"log_info\":true,\"log_verbose_level\":3,\"log_format\":\"default\"}"));
    cJSON_Delete(j);

    /* repository index: the list of models with every field */
    Inference__RepositoryIndexResponse__ModelIndex mi =
        INFERENCE__REPOSITORY_INDEX_RESPONSE__MODEL_INDEX__INIT;
    mi.name = "simple";
    mi.state = "READY";
    Inference__RepositoryIndexResponse__ModelIndex *mip[1] = {&mi};
    Inference__RepositoryIndexResponse ri = INFERENCE__REPOSITORY_INDEX_RESPONSE__INIT;
    ri.n_models = 1;
    ri.models = mip;
    j = pb_json_http_shape(&ri.base, &err);
    CHECK(json_equals(j, "[{\"name\":\"simple\",\"version\":\"\",\"state\":\"READY\","
                         "\"reason\":\"\"}]"));
    cJSON_Delete(j);
}

/* ---- infer request / reply ---------------------------------------------------------------- */

static uint8_t *bb_bytes(grpc_byte_buffer *bb, size_t *len, size_t *n_slices)
{
    *n_slices = bb->data.raw.slice_buffer.count;
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, bb);
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *len = GRPC_SLICE_LENGTH(s);
    uint8_t *out = malloc(*len ? *len : 1);
    memcpy(out, GRPC_SLICE_START_PTR(s), *len);
    grpc_slice_unref(s);
    return out;
}

static void test_request_zero_copy(void)
{
    struct triton_error err = {0};
    int64_t shape[1] = {4096};
    struct tensor t = {0};
    CHECK(tensor_init(&t, TENSOR_FP32, shape, 1, &err) == 0);
    for (int i = 0; i < 4096; i++)
        ((float *)t.buf->data)[i] = (float)i;
    struct triton_infer_input in = {
        .name = "INPUT0", .datatype = "FP32", .shape = shape, .ndim = 1, .data = &t};
    struct triton_infer_request req = {.model = "m",
                                       .sequence_id = 42,
                                       .sequence_start = true,
                                       .priority = 2,
                                       .timeout_us = 100,
                                       .inputs = &in,
                                       .n_inputs = 1};
    grpc_byte_buffer *bb = NULL;
    CHECK(grpc_wire_infer_request(&req, &bb, &err) == 0);
    /* The buffer holds a reference on the tensor's memory until gRPC drops it. */
    CHECK(atomic_load(&t.buf->refs) == 2);
    size_t len, n_slices;
    uint8_t *bytes = bb_bytes(bb, &len, &n_slices);
    CHECK(n_slices >= 2); /* header bytes + a slice over the tensor */
    grpc_byte_buffer_destroy(bb);
    CHECK(atomic_load(&t.buf->refs) == 1);
    Inference__ModelInferRequest *m = inference__model_infer_request__unpack(NULL, len, bytes);
    CHECK(m && m->n_raw_input_contents == 1 && m->raw_input_contents[0].len == 4096 * 4);
    CHECK(m && memcmp(m->raw_input_contents[0].data, t.buf->data, 4096 * 4) == 0);
    bool seq = false, prio = false, start = false;
    for (size_t i = 0; m && i < m->n_parameters; i++) {
        const Inference__InferParameter *p = m->parameters[i]->value;
        if (strcmp(m->parameters[i]->key, "sequence_id") == 0)
            seq = p->parameter_choice_case ==
                      INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM &&
                  p->int64_param == 42;
        if (strcmp(m->parameters[i]->key, "priority") == 0)
            prio = p->uint64_param == 2;
        if (strcmp(m->parameters[i]->key, "sequence_start") == 0)
            start = p->bool_param;
    }
    CHECK(seq && prio && start);
    inference__model_infer_request__free_unpacked(m, NULL);
    free(bytes);
    tensor_release(&t);
}

/* A packed ModelInferResponse with one INT32[n] output (raw contents). */
static uint8_t *make_reply(int n, size_t *len)
{
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse__InferOutputTensor o =
        INFERENCE__MODEL_INFER_RESPONSE__INFER_OUTPUT_TENSOR__INIT;
    int64_t shape[1] = {n};
    o.name = "OUT";
    o.datatype = "INT32";
    o.n_shape = 1;
    o.shape = shape;
    Inference__ModelInferResponse__InferOutputTensor *os[1] = {&o};
    r.model_name = "m";
    r.n_outputs = 1;
    r.outputs = os;
    int32_t data[64];
    for (int i = 0; i < n && i < 64; i++)
        data[i] = i * 3;
    ProtobufCBinaryData raw = {(size_t)n * 4, (uint8_t *)data};
    r.n_raw_output_contents = 1;
    r.raw_output_contents = &raw;
    *len = inference__model_infer_response__get_packed_size(&r);
    uint8_t *buf = malloc(*len);
    inference__model_infer_response__pack(&r, buf);
    return buf;
}

static int parse(const uint8_t *data, size_t len, struct triton_infer_result **r,
                 struct triton_error *err)
{
    /* Copy into an owner buffer as the transport does. */
    void *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    struct tensor_buffer *owner = tensor_buffer_wrap(copy, len, NULL, NULL, err);
    int rc = grpc_wire_parse_infer_response(owner->data, len, owner, r, err);
    tensor_buffer_unref(owner);
    return rc;
}

static void test_reply_parse(void)
{
    size_t len;
    uint8_t *buf = make_reply(8, &len);
    struct triton_infer_result *r = NULL;
    struct triton_error err = {0};
    CHECK(parse(buf, len, &r, &err) == 0);
    CHECK(r && r->n_outputs == 1 && r->outputs[0].has_data && r->final);
    for (int i = 0; r && r->n_outputs == 1 && i < 8; i++)
        CHECK(*(int32_t *)tensor_elem_ptr(&r->outputs[0].tensor, i) == i * 3);
    triton_infer_result_free(r);

    /* Every truncation fails cleanly with PROTOCOL (or parses a shorter valid prefix). */
    for (size_t cut = 0; cut < len; cut++) {
        r = NULL;
        struct triton_error e = {0};
        int rc = parse(buf, cut, &r, &e);
        if (rc < 0)
            CHECK(e.code == TRITON_PROTOCOL);
        triton_infer_result_free(r);
    }
    /* Every single-byte corruption: no crash, no leak, a clear error or a result. */
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 256; v += 51) {
            uint8_t *bad = malloc(len);
            memcpy(bad, buf, len);
            bad[i] = (uint8_t)v;
            r = NULL;
            struct triton_error e = {0};
            if (parse(bad, len, &r, &e) < 0)
                CHECK(e.code != TRITON_OK && e.message[0]);
            triton_infer_result_free(r);
            free(bad);
        }
    }
    free(buf);

    /* A length prefix claiming more than is there. */
    const uint8_t lie[] = {0x32, 0xff, 0xff, 0xff, 0x0f, 1, 2};
    struct triton_error e = {0};
    r = NULL;
    CHECK(parse(lie, sizeof lie, &r, &e) < 0 && e.code == TRITON_PROTOCOL);
    /* An endless varint. */
    const uint8_t varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    memset(&e, 0, sizeof e);
    CHECK(parse(varint, sizeof varint, &r, &e) < 0 && e.code == TRITON_PROTOCOL);
    /* A group wire type. */
    const uint8_t group[] = {0x0b};
    memset(&e, 0, sizeof e);
    CHECK(parse(group, sizeof group, &r, &e) < 0 && e.code == TRITON_PROTOCOL);
}

/* Packs a reply of one output of datatype dt and shape [n] carried as typed
 * contents (InferTensorContents), as a server that does not use
 * raw_output_contents sends it. */
static uint8_t *make_typed_reply(const char *dt, int64_t n, const Inference__InferTensorContents *c,
                                 size_t *len)
{
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse__InferOutputTensor o =
        INFERENCE__MODEL_INFER_RESPONSE__INFER_OUTPUT_TENSOR__INIT;
    int64_t shape[1] = {n};
    o.name = "OUT";
    o.datatype = (char *)dt;
    o.n_shape = 1;
    o.shape = shape;
    o.contents = (Inference__InferTensorContents *)c;
    Inference__ModelInferResponse__InferOutputTensor *os[1] = {&o};
    r.model_name = "m";
    r.n_outputs = 1;
    r.outputs = os;
    *len = inference__model_infer_response__get_packed_size(&r);
    uint8_t *buf = malloc(*len);
    inference__model_infer_response__pack(&r, buf);
    return buf;
}

/* Parses a typed reply; returns its single output's tensor (in *r) or NULL
 * with err set. */
static const struct tensor *parse_typed(const char *dt, int64_t n,
                                        const Inference__InferTensorContents *c,
                                        struct triton_infer_result **r, struct triton_error *err)
{
    size_t len;
    uint8_t *buf = make_typed_reply(dt, n, c, &len);
    *r = NULL;
    int rc = parse(buf, len, r, err);
    free(buf);
    if (rc < 0 || !*r || (*r)->n_outputs != 1 || !(*r)->outputs[0].has_data)
        return NULL;
    return &(*r)->outputs[0].tensor;
}

static void test_typed_contents(void)
{
    struct triton_infer_result *r;
    struct triton_error err = {0};
    const struct tensor *t;

    protobuf_c_boolean bools[3] = {1, 0, 1};
    Inference__InferTensorContents c = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_bool_contents = 3;
    c.bool_contents = bools;
    t = parse_typed("BOOL", 3, &c, &r, &err);
    CHECK(t && ((uint8_t *)t->buf->data)[0] == 1 && ((uint8_t *)t->buf->data)[1] == 0);
    triton_infer_result_free(r);

    int32_t ints[3] = {-128, 0, 127};
    c = (Inference__InferTensorContents)INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_int_contents = 3;
    c.int_contents = ints;
    t = parse_typed("INT8", 3, &c, &r, &err);
    CHECK(t && *(int8_t *)tensor_elem_ptr(t, 0) == -128 && *(int8_t *)tensor_elem_ptr(t, 2) == 127);
    triton_infer_result_free(r);
    t = parse_typed("INT32", 3, &c, &r, &err);
    CHECK(t && *(int32_t *)tensor_elem_ptr(t, 0) == -128);
    triton_infer_result_free(r);
    /* A value outside INT8's range is the server's error, not a wrapped number. */
    ints[1] = 300;
    memset(&err, 0, sizeof err);
    CHECK(!parse_typed("INT8", 3, &c, &r, &err) && err.code == TRITON_PROTOCOL &&
          strstr(err.message, "typed element 2 is 300, outside INT8's range"));
    triton_infer_result_free(r);
    /* More or fewer elements than the shape holds. */
    memset(&err, 0, sizeof err);
    CHECK(!parse_typed("INT32", 4, &c, &r, &err) && err.code == TRITON_PROTOCOL &&
          strstr(err.message, "3 typed elements for a shape of 4 elements"));
    triton_infer_result_free(r);

    uint32_t uints[2] = {65535, 65536};
    c = (Inference__InferTensorContents)INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_uint_contents = 2;
    c.uint_contents = uints;
    t = parse_typed("UINT32", 2, &c, &r, &err);
    CHECK(t && *(uint32_t *)tensor_elem_ptr(t, 1) == 65536);
    triton_infer_result_free(r);
    memset(&err, 0, sizeof err);
    CHECK(!parse_typed("UINT16", 2, &c, &r, &err) && err.code == TRITON_PROTOCOL);
    triton_infer_result_free(r);

    int64_t i64[2] = {INT64_MIN, INT64_MAX};
    uint64_t u64[2] = {0, UINT64_MAX};
    float f32[2] = {1.5f, -0.0f};
    double f64[2] = {1e300, -2.5};
    c = (Inference__InferTensorContents)INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_int64_contents = 2;
    c.int64_contents = i64;
    c.n_uint64_contents = 2;
    c.uint64_contents = u64;
    c.n_fp32_contents = 2;
    c.fp32_contents = f32;
    c.n_fp64_contents = 2;
    c.fp64_contents = f64;
    t = parse_typed("INT64", 2, &c, &r, &err);
    CHECK(t && *(int64_t *)tensor_elem_ptr(t, 0) == INT64_MIN);
    triton_infer_result_free(r);
    t = parse_typed("UINT64", 2, &c, &r, &err);
    CHECK(t && *(uint64_t *)tensor_elem_ptr(t, 1) == UINT64_MAX);
    triton_infer_result_free(r);
    t = parse_typed("FP32", 2, &c, &r, &err);
    CHECK(t && *(float *)tensor_elem_ptr(t, 0) == 1.5f);
    triton_infer_result_free(r);
    t = parse_typed("FP64", 2, &c, &r, &err);
    CHECK(t && *(double *)tensor_elem_ptr(t, 0) == 1e300);
    triton_infer_result_free(r);
    /* FP16 has no typed field: refused, naming the output. */
    memset(&err, 0, sizeof err);
    CHECK(!parse_typed("FP16", 2, &c, &r, &err) && err.code == TRITON_PROTOCOL &&
          strstr(err.message, "output 'OUT': FP16 cannot travel as typed contents"));
    triton_infer_result_free(r);

    ProtobufCBinaryData strs[3] = {{3, (uint8_t *)"a\0b"}, {0, NULL}, {1, (uint8_t *)"z"}};
    c = (Inference__InferTensorContents)INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_bytes_contents = 3;
    c.bytes_contents = strs;
    t = parse_typed("BYTES", 3, &c, &r, &err);
    const struct tensor_str *e = t ? tensor_elem_ptr(t, 0) : NULL;
    CHECK(e && e[0].len == 3 && memcmp(e[0].ptr, "a\0b", 3) == 0 && e[1].len == 0 &&
          e[2].len == 1 && e[2].ptr[0] == 'z');
    triton_infer_result_free(r);
}

static void test_stream_reply(void)
{
    Inference__ModelStreamInferResponse s = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
    s.error_message = "model went away";
    size_t len = inference__model_stream_infer_response__get_packed_size(&s);
    uint8_t *buf = malloc(len);
    inference__model_stream_infer_response__pack(&s, buf);
    char *msg = NULL;
    struct triton_infer_result *r = NULL;
    struct triton_error err = {0};
    CHECK(grpc_wire_parse_stream_response(buf, len, NULL, &msg, &r, &err) == 0);
    CHECK(msg && strcmp(msg, "model went away") == 0 && r == NULL);
    free(msg);
    free(buf);
}

static void test_generate_mapping(void)
{
    cJSON *meta = json_of("{\"inputs\":[{\"name\":\"text_input\",\"datatype\":\"BYTES\","
                          "\"shape\":[1]},{\"name\":\"max_tokens\",\"datatype\":\"INT32\","
                          "\"shape\":[-1]}]}");
    cJSON *body = json_of("{\"text_input\":\"hi there\",\"max_tokens\":[3,4],"
                          "\"temperature\":0.5,\"parameters\":{\"stream\":false}}");
    grpc_byte_buffer *bb = NULL;
    struct triton_error err = {0};
    CHECK(grpc_generate_request("llm", "", body, meta, &bb, &err) == 0);
    if (bb) {
        size_t len, n;
        uint8_t *bytes = bb_bytes(bb, &len, &n);
        grpc_byte_buffer_destroy(bb);
        Inference__ModelInferRequest *m = inference__model_infer_request__unpack(NULL, len, bytes);
        CHECK(m && m->n_inputs == 2 && m->n_parameters == 2);
        CHECK(m && m->n_inputs == 2 && m->inputs[1]->shape[0] == 2);
        CHECK(m && m->n_raw_input_contents == 2 && m->raw_input_contents[0].len == 4 + 8);
        inference__model_infer_request__free_unpacked(m, NULL);
        free(bytes);
    }
    cJSON *bad = json_of("{\"text_input\":{\"nested\":1}}");
    memset(&err, 0, sizeof err);
    CHECK(grpc_generate_request("llm", "", bad, meta, &bb, &err) < 0 &&
          err.code == TRITON_INVALID_ARGUMENT);
    cJSON_Delete(bad);
    cJSON_Delete(body);
    cJSON_Delete(meta);
}

int main(void)
{
    grpc_init();
    test_model_config();
    test_maps_oneofs_floats_bytes();
    test_reshaping();
    test_request_zero_copy();
    test_reply_parse();
    test_typed_contents();
    test_stream_reply();
    test_generate_mapping();
    grpc_shutdown();
    return check_report("test_grpc_wire");
}
