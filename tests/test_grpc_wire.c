/*
 * test_grpc_wire.c: the protobuf-c -> JSON converter (pb_json) and the
 * zero-copy infer request/reply code (grpc_wire), with hostile replies. The
 * request writer is held to protobuf-c's canonical packing, the fast reply
 * reader to protobuf-c's reading.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice_buffer.h>

#include "check.h"
#include "grpc/grpc_generate.h"
#include "grpc/grpc_wire.h"
#include "same_result.h"
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
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    CHECK(grpc_wire_infer_request(&req, bb, &err) == 0);
    /* The buffer holds a reference on the tensor's memory until gRPC drops it. */
    CHECK(atomic_load(&t.buf->refs) == 2);
    size_t len, n_slices;
    uint8_t *bytes = bb_bytes(bb, &len, &n_slices);
    CHECK(n_slices >= 2); /* header bytes + a slice over the tensor */
    /* gRPC takes a sent message's slices out of the buffer, and a call state
     * writes its next request into the same buffer: the same bytes again. */
    grpc_slice_buffer_reset_and_unref(&bb->data.raw.slice_buffer);
    CHECK(atomic_load(&t.buf->refs) == 1);
    CHECK(grpc_wire_infer_request(&req, bb, &err) == 0);
    size_t len2, n_slices2;
    uint8_t *again = bb_bytes(bb, &len2, &n_slices2);
    CHECK(len2 == len && n_slices2 == n_slices && memcmp(again, bytes, len) == 0);
    free(again);
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

/* Encodes req and reads it back with protobuf-c, which must find every byte
 * canonical: protobuf-c packs what it read back into the very same bytes.
 * NULL (checks failed) when either step fails. */
static Inference__ModelInferRequest *encode_canonical(const struct triton_infer_request *req,
                                                      size_t *n_slices)
{
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    struct triton_error err = {0};
    if (grpc_wire_infer_request(req, bb, &err) < 0) {
        CHECK(!"the request encodes");
        fprintf(stderr, "  error: %s\n", err.message);
        grpc_byte_buffer_destroy(bb);
        return NULL;
    }
    size_t len, n;
    uint8_t *bytes = bb_bytes(bb, &len, &n);
    grpc_byte_buffer_destroy(bb);
    if (n_slices)
        *n_slices = n;
    Inference__ModelInferRequest *m = inference__model_infer_request__unpack(NULL, len, bytes);
    CHECK(m != NULL);
    if (m) {
        size_t repacked_len = inference__model_infer_request__get_packed_size(m);
        uint8_t *repacked = malloc(repacked_len);
        inference__model_infer_request__pack(m, repacked);
        CHECK(repacked_len == len && memcmp(repacked, bytes, len) == 0);
        free(repacked);
    }
    free(bytes);
    return m;
}

/* The parameter of that name in a protobuf-c map, or NULL. */
static const Inference__InferParameter *
param_named(Inference__ModelInferRequest__ParametersEntry *const *entries, size_t n,
            const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entries[i]->key, key) == 0)
            return entries[i]->value;
    return NULL;
}

#define PARAM(msg, key)                                                                            \
    param_named((Inference__ModelInferRequest__ParametersEntry *const *)(msg)->parameters,         \
                (msg)->n_parameters, key)

static void test_request_encoding(void)
{
    struct triton_error err = {0};
    int64_t shape[2] = {1, 16}, neg_shape[1] = {-1};
    struct tensor a = {0}, b = {0}, s = {0};
    CHECK(tensor_init(&a, TENSOR_INT32, shape, 2, &err) == 0);
    CHECK(tensor_init(&b, TENSOR_FP32, shape, 2, &err) == 0);
    for (int i = 0; i < 16; i++)
        ((int32_t *)a.buf->data)[i] = i - 8;
    int64_t one = 1;
    CHECK(tensor_init(&s, TENSOR_BYTES, &one, 1, &err) == 0);
    struct tensor_str *text = s.buf->data;
    text->ptr = tensor_buffer_intern(s.buf, "text", 4, &err);
    text->len = 4;
    struct triton_param custom[] = {
        {.key = "flag", .type = TRITON_PARAM_BOOL, .v.b = false},
        {.key = "neg", .type = TRITON_PARAM_INT64, .v.i = -3},
        {.key = "big", .type = TRITON_PARAM_UINT64, .v.u = UINT64_MAX},
        {.key = "ratio", .type = TRITON_PARAM_DOUBLE, .v.d = -0.25},
        {.key = "empty", .type = TRITON_PARAM_STRING, .v.s = {NULL, 0}},
        {.key = "", .type = TRITON_PARAM_STRING, .v.s = {"v", 1}},
    };
    struct triton_infer_input ins[3] = {
        {.name = "A",
         .datatype = "INT32",
         .shape = shape,
         .ndim = 2,
         .data = &a,
         .params = custom,
         .n_params = 2},
        {.name = "SHM",
         .datatype = "FP32",
         .shape = neg_shape,
         .ndim = 1,
         .shm_region = "region",
         .shm_byte_size = 64,
         .shm_offset = 8},
        {.name = "S", .datatype = "BYTES", .shape = &one, .ndim = 1, .data = &s},
    };
    struct triton_infer_requested_output outs[2] = {
        {.name = "OUT0", .class_count = 3},
        {.name = "OUT1",
         .shm_region = "r2",
         .shm_byte_size = 16,
         .params = custom + 5,
         .n_params = 1},
    };
    struct triton_infer_request req = {.model = "m",
                                       .version = "2",
                                       .id = "req-1",
                                       .sequence_id_str = "seq",
                                       .sequence_end = true,
                                       .priority = 7,
                                       .timeout_us = 100,
                                       .params = custom,
                                       .n_params = 6,
                                       .inputs = ins,
                                       .n_inputs = 3,
                                       .outputs = outs,
                                       .n_outputs = 2};
    Inference__ModelInferRequest *m = encode_canonical(&req, NULL);
    if (m) {
        CHECK(strcmp(m->model_name, "m") == 0 && strcmp(m->model_version, "2") == 0 &&
              strcmp(m->id, "req-1") == 0);
        /* the options' parameters first, in this order, then the caller's */
        const char *keys[] = {
            "sequence_id", "sequence_start", "sequence_end", "priority", "timeout", "flag", "neg",
            "big",         "ratio",          "empty",        ""};
        CHECK_INT(m->n_parameters, 11);
        for (size_t i = 0; i < m->n_parameters && i < 11; i++)
            CHECK(strcmp(m->parameters[i]->key, keys[i]) == 0);
        const Inference__InferParameter *p = PARAM(m, "sequence_id");
        CHECK(p && strcmp(p->string_param, "seq") == 0);
        CHECK((p = PARAM(m, "sequence_start")) &&
              p->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM &&
              !p->bool_param);
        CHECK((p = PARAM(m, "sequence_end")) && p->bool_param);
        CHECK((p = PARAM(m, "priority")) && p->uint64_param == 7);
        CHECK((p = PARAM(m, "timeout")) && p->int64_param == 100);
        CHECK((p = PARAM(m, "neg")) && p->int64_param == -3);
        CHECK((p = PARAM(m, "big")) && p->uint64_param == UINT64_MAX);
        CHECK((p = PARAM(m, "ratio")) && p->double_param == -0.25);
        CHECK((p = PARAM(m, "empty")) &&
              p->parameter_choice_case ==
                  INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM &&
              strcmp(p->string_param, "") == 0);
        CHECK_INT(m->n_inputs, 3);
        if (m->n_inputs == 3) {
            const Inference__ModelInferRequest__InferInputTensor *t = m->inputs[0];
            CHECK(strcmp(t->name, "A") == 0 && strcmp(t->datatype, "INT32") == 0);
            CHECK(t->n_shape == 2 && t->shape[0] == 1 && t->shape[1] == 16);
            CHECK(t->n_parameters == 2 && (p = PARAM(t, "flag")) && !p->bool_param);
            t = m->inputs[1];
            CHECK(t->n_shape == 1 && t->shape[0] == -1);
            CHECK((p = PARAM(t, "shared_memory_region")) && strcmp(p->string_param, "region") == 0);
            CHECK((p = PARAM(t, "shared_memory_byte_size")) && p->int64_param == 64);
            CHECK((p = PARAM(t, "shared_memory_offset")) && p->int64_param == 8);
        }
        CHECK_INT(m->n_outputs, 2);
        if (m->n_outputs == 2) {
            const Inference__ModelInferRequest__InferRequestedOutputTensor *o = m->outputs[0];
            CHECK(strcmp(o->name, "OUT0") == 0 && (p = PARAM(o, "classification")) &&
                  p->int64_param == 3);
            o = m->outputs[1];
            CHECK(o->n_parameters == 3 && !PARAM(o, "shared_memory_offset") && PARAM(o, ""));
        }
        /* the shm input has no raw contents; the BYTES one is serialised */
        CHECK_INT(m->n_raw_input_contents, 2);
        if (m->n_raw_input_contents == 2) {
            CHECK(m->raw_input_contents[0].len == 64 &&
                  memcmp(m->raw_input_contents[0].data, a.buf->data, 64) == 0);
            CHECK(m->raw_input_contents[1].len == 8 &&
                  memcmp(m->raw_input_contents[1].data, "\x04\0\0\0text", 8) == 0);
        }
        inference__model_infer_request__free_unpacked(m, NULL);
    }

    /* The least a request can be: a model name; an empty input and output. */
    int64_t zero = 0;
    struct tensor e = {0};
    CHECK(tensor_init(&e, TENSOR_INT8, &zero, 1, &err) == 0);
    struct triton_infer_input ein = {
        .name = "E", .datatype = "INT8", .shape = &zero, .ndim = 1, .data = &e};
    struct triton_infer_request least = {.model = "x", .inputs = &ein, .n_inputs = 1};
    m = encode_canonical(&least, NULL);
    CHECK(m && m->n_inputs == 1 && m->n_raw_input_contents == 1 &&
          m->raw_input_contents[0].len == 0 && m->n_parameters == 0);
    if (m)
        inference__model_infer_request__free_unpacked(m, NULL);

    /* Big contents go as slices over the tensors between the written pieces. */
    int64_t big_shape[1] = {2048};
    struct tensor big = {0};
    CHECK(tensor_init(&big, TENSOR_FP32, big_shape, 1, &err) == 0);
    for (int i = 0; i < 2048; i++)
        ((float *)big.buf->data)[i] = (float)i / 3;
    struct triton_infer_input mixed[3] = {
        {.name = "B0", .datatype = "FP32", .shape = big_shape, .ndim = 1, .data = &big},
        ins[0],
        {.name = "B1", .datatype = "FP32", .shape = big_shape, .ndim = 1, .data = &big},
    };
    struct triton_infer_request bigreq = {.model = "m", .inputs = mixed, .n_inputs = 3};
    size_t n_slices = 0;
    m = encode_canonical(&bigreq, &n_slices);
    CHECK_INT(n_slices, 4); /* head, B0, A's bytes and B1's key, B1 */
    CHECK(m && m->n_raw_input_contents == 3 && m->raw_input_contents[1].len == 64);
    if (m && m->n_raw_input_contents == 3)
        CHECK(m->raw_input_contents[2].len == 8192 &&
              memcmp(m->raw_input_contents[2].data, big.buf->data, 8192) == 0);
    if (m)
        inference__model_infer_request__free_unpacked(m, NULL);
    CHECK(atomic_load(&big.buf->refs) == 1);
    tensor_release(&big);

    /* A head past the writer's first memory (1 KiB on the stack), sub-messages
     * whose lengths take 1, 2 and 3 bytes (their bodies moved up after the
     * fact), nested in one another: still the canonical bytes. */
    struct triton_param many[70];
    char names[70][8];
    static char long_text[20000];
    memset(long_text, 'x', sizeof long_text);
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        many[i] = (struct triton_param){.key = names[i], .type = TRITON_PARAM_INT64, .v.i = i};
    }
    many[1] = (struct triton_param){
        .key = "s127", .type = TRITON_PARAM_STRING, .v.s = {long_text, 127 - 10}};
    many[2] = (struct triton_param){
        .key = "s128", .type = TRITON_PARAM_STRING, .v.s = {long_text, 128 - 10}};
    many[3] = (struct triton_param){
        .key = "s20k", .type = TRITON_PARAM_STRING, .v.s = {long_text, sizeof long_text}};
    struct triton_infer_request wide = req;
    wide.params = many;
    wide.n_params = 70;
    struct triton_infer_input wide_ins[3];
    memcpy(wide_ins, ins, sizeof wide_ins);
    wide_ins[1].params = many + 1;
    wide_ins[1].n_params = 3;
    wide.inputs = wide_ins;
    m = encode_canonical(&wide, NULL);
    CHECK(m && m->n_parameters == 75 && m->n_inputs == 3 && m->n_outputs == 2);
    if (m) {
        const Inference__InferParameter *p = PARAM(m, "p69");
        CHECK(p && p->int64_param == 69);
        CHECK((p = PARAM(m, "s128")) && strlen(p->string_param) == 118);
        CHECK((p = PARAM(m->inputs[1], "s20k")) && strlen(p->string_param) == sizeof long_text);
        inference__model_infer_request__free_unpacked(m, NULL);
    }

    /* Checked before anything is written, in the order they always were. */
    struct triton_param nameless = {.type = TRITON_PARAM_BOOL};
    struct triton_infer_request bad = req;
    bad.model = "";
    memset(&err, 0, sizeof err);
    /* a failed encoding adds nothing to the buffer */
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    CHECK(grpc_wire_infer_request(&bad, bb, &err) < 0 && grpc_byte_buffer_length(bb) == 0 &&
          strcmp(err.message, "infer needs a model name") == 0);
    bad = req;
    bad.params = &nameless;
    bad.n_params = 1;
    bad.sequence_id_str = NULL;
    bad.sequence_id = (uint64_t)INT64_MAX + 1;
    memset(&err, 0, sizeof err);
    CHECK(grpc_wire_infer_request(&bad, bb, &err) < 0 && strstr(err.message, "sequence_id"));
    bad.sequence_id = 1;
    memset(&err, 0, sizeof err);
    CHECK(grpc_wire_infer_request(&bad, bb, &err) < 0 &&
          strcmp(err.message, "a parameter without a name") == 0);
    bad = req;
    ins[1].shm_offset = (uint64_t)INT64_MAX + 1;
    memset(&err, 0, sizeof err);
    CHECK(grpc_wire_infer_request(&bad, bb, &err) < 0 &&
          strstr(err.message, "out of range for region 'region'"));
    ins[1].shm_offset = 8;
    ins[0].datatype = "FP32";
    memset(&err, 0, sizeof err);
    CHECK(grpc_wire_infer_request(&bad, bb, &err) < 0 &&
          strcmp(err.message, "input 'A' is declared FP32 but its data is INT32") == 0);
    ins[0].datatype = "INT32";
    CHECK(grpc_byte_buffer_length(bb) == 0);
    grpc_byte_buffer_destroy(bb);
    /* a failed encoding holds no reference on any input */
    CHECK(atomic_load(&a.buf->refs) == 1 && atomic_load(&s.buf->refs) == 1);
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&s);
    tensor_release(&e);
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

/* ---- the two reply readers ------------------------------------------------------------------ */

/* Reads a reply with each reader: the client's and the fast reader (unless it
 * declines) must give the general reader's outcome. The fast reader declines
 * it when fast_declines is 1, reads it when 0, either when -1. Returns the
 * client's rc. */
static int readers_agree(const uint8_t *data, size_t len, int fast_declines)
{
    void *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    struct triton_error err = {0};
    struct tensor_buffer *owner = tensor_buffer_wrap(copy, len, NULL, NULL, &err);
    struct triton_infer_result *r[3] = {NULL, NULL, NULL};
    struct triton_error e[3] = {{0}, {0}, {0}};
    enum grpc_wire_reader readers[3] = {GRPC_WIRE_READER_GENERAL, GRPC_WIRE_READER_AUTO,
                                        GRPC_WIRE_READER_FAST};
    int rc[3];
    for (int i = 0; i < 3; i++)
        rc[i] =
            grpc_wire_parse_infer_response_with(owner->data, len, owner, readers[i], &r[i], &e[i]);
    tensor_buffer_unref(owner);
    /* and as the client gets it: one slice read in place, raw contents moved */
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    struct triton_infer_result *from_bb = NULL;
    struct triton_error bb_err = {0};
    int bb_rc = grpc_wire_read_infer_response(bb, &from_bb, &bb_err);
    grpc_byte_buffer_destroy(bb);
    CHECK_INT(bb_rc, rc[0]);
    if (bb_rc == rc[0] && rc[0] < 0)
        CHECK(bb_err.code == e[0].code && strcmp(bb_err.message, e[0].message) == 0);
    if (bb_rc == rc[0] && rc[0] == 0)
        CHECK(!same_result_difference(from_bb, r[0]));
    /* Its output tensors outlive it (the reply's one allocation holds both):
     * views taken now read the same bytes after the result is freed. */
    struct tensor kept[4];
    size_t kept_at[4], n_kept = 0;
    for (size_t i = 0; bb_rc == 0 && rc[0] == 0 && i < from_bb->n_outputs && n_kept < 4; i++)
        if (from_bb->outputs[i].has_data && from_bb->outputs[i].dtype != TENSOR_BYTES &&
            r[0]->outputs[i].has_data) {
            kept_at[n_kept] = i;
            tensor_init_view(&kept[n_kept++], &from_bb->outputs[i].tensor);
        }
    triton_infer_result_free(from_bb);
    for (size_t k = 0; k < n_kept; k++) {
        const struct tensor *want = &r[0]->outputs[kept_at[k]].tensor;
        size_t es = tensor_dtype_elem_size(want->dtype), nb = (size_t)tensor_numel(want) * es;
        CHECK(tensor_numel(&kept[k]) == tensor_numel(want) &&
              memcmp((char *)kept[k].buf->data + kept[k].offset * (int64_t)es,
                     (char *)want->buf->data + want->offset * (int64_t)es, nb) == 0);
        tensor_release(&kept[k]);
    }
    if (fast_declines >= 0)
        CHECK((rc[2] == 1) == (fast_declines == 1));
    for (int i = 1; i < 3; i++) {
        if (rc[i] == 1)
            continue;
        CHECK_INT(rc[i], rc[0]);
        if (rc[i] == rc[0] && rc[0] < 0)
            CHECK(e[i].code == e[0].code && strcmp(e[i].message, e[0].message) == 0);
        if (rc[i] == rc[0] && rc[0] == 0) {
            CHECK(!same_result_difference(r[i], r[0]));
            CHECK(r[i]->one_block);
        }
    }
    for (int i = 0; i < 3; i++)
        triton_infer_result_free(r[i]);
    return rc[1];
}

/* A little protobuf writer for replies protobuf-c would not pack. */
struct pb {
    uint8_t b[256];
    size_t n;
};

static void pb_varint(struct pb *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        p->b[p->n++] = (uint8_t)(v | 0x80);
    p->b[p->n++] = (uint8_t)v;
}

static void pb_len(struct pb *p, uint32_t field, const void *data, size_t len)
{
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, len);
    memcpy(p->b + p->n, data, len);
    p->n += len;
}

static void pb_msg(struct pb *p, uint32_t field, const struct pb *m)
{
    pb_len(p, field, m->b, m->n);
}

static void test_reply_readers(void)
{
    /* Everything a reply can hold but typed contents, packed by protobuf-c. */
    Inference__InferParameter pv[6];
    Inference__ModelInferResponse__ParametersEntry pe[6];
    Inference__ModelInferResponse__ParametersEntry *pep[6];
    const char *keys[6] = {"b", "i", "s", "d", "u", "b"};
    for (int i = 0; i < 6; i++) {
        inference__infer_parameter__init(&pv[i]);
        inference__model_infer_response__parameters_entry__init(&pe[i]);
        pe[i].key = (char *)keys[i];
        pe[i].value = &pv[i];
        pep[i] = &pe[i];
    }
    pv[0].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
    pv[0].bool_param = 1;
    pv[1].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    pv[1].int64_param = INT64_MIN;
    pv[2].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    pv[2].string_param = "text";
    pv[3].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_DOUBLE_PARAM;
    pv[3].double_param = 0.5;
    pv[4].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM;
    pv[4].uint64_param = UINT64_MAX;
    /* pv[5]: no member set, under a key sent before */
    Inference__ModelInferResponse__InferOutputTensor o[2];
    Inference__ModelInferResponse__InferOutputTensor *op[2] = {&o[0], &o[1]};
    int64_t shape0[2] = {2, 2}, shape1[1] = {4};
    for (int i = 0; i < 2; i++)
        inference__model_infer_response__infer_output_tensor__init(&o[i]);
    o[0].name = "OUT0";
    o[0].datatype = "INT32";
    o[0].n_shape = 2;
    o[0].shape = shape0;
    o[0].n_parameters = 2;
    o[0].parameters = (Inference__ModelInferResponse__InferOutputTensor__ParametersEntry **)pep;
    Inference__ModelInferResponse__ParametersEntry shm = pe[2];
    Inference__ModelInferResponse__ParametersEntry *shmp = &shm;
    shm.key = "shared_memory_region";
    o[1].name = "OUT1";
    o[1].datatype = "FP16";
    o[1].n_shape = 1;
    o[1].shape = shape1;
    o[1].n_parameters = 1;
    o[1].parameters = (Inference__ModelInferResponse__InferOutputTensor__ParametersEntry **)&shmp;
    int32_t data0[4] = {1, -2, 3, -4};
    ProtobufCBinaryData raw[2] = {{16, (uint8_t *)data0}, {0, NULL}};
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    r.model_name = "model";
    r.model_version = "3";
    r.id = "id-1";
    r.n_parameters = 6;
    r.parameters = pep;
    r.n_outputs = 2;
    r.outputs = op;
    r.n_raw_output_contents = 2;
    r.raw_output_contents = raw;
    size_t len = inference__model_infer_response__get_packed_size(&r);
    uint8_t *buf = malloc(len);
    inference__model_infer_response__pack(&r, buf);
    CHECK(readers_agree(buf, len, 0) == 0);
    /* Every truncation and every single-byte change: the same outcome. */
    for (size_t cut = 0; cut < len; cut++)
        readers_agree(buf, cut, -1);
    uint8_t *bad = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 256; v++) {
            memcpy(bad, buf, len);
            bad[i] = (uint8_t)v;
            readers_agree(bad, len, -1);
        }
    }
    free(bad);
    free(buf);

    /* Typed contents are protobuf-c's: the fast reader declines them. */
    int32_t ints[2] = {5, 6};
    Inference__InferTensorContents c = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    c.n_int_contents = 2;
    c.int_contents = ints;
    buf = make_typed_reply("INT32", 2, &c, &len);
    CHECK(readers_agree(buf, len, 1) == 0);
    free(buf);

    /* Shape dimensions one by one (unpacked), unknown fields at every level, a
     * bool whose only set bit is past 64 bits (protobuf-c reads it as true), a
     * NUL inside a name: read alike, without protobuf-c. */
    struct pb value = {0}, entry = {0}, out = {0}, reply = {0};
    const uint8_t bool_past_64[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x02};
    memcpy(value.b, bool_past_64, sizeof bool_past_64);
    value.n = sizeof bool_past_64;
    pb_len(&value, 9, "x", 1); /* unknown */
    pb_len(&entry, 1, "flag", 4);
    pb_msg(&entry, 2, &value);
    pb_varint(&entry, 3 << 3); /* unknown varint field 3 */
    pb_varint(&entry, 5);
    pb_len(&out, 1, "O\0UT", 4);
    pb_len(&out, 2, "INT8\0x", 6);
    pb_varint(&out, 3 << 3);
    pb_varint(&out, 2);
    pb_varint(&out, 3 << 3);
    pb_varint(&out, 1);
    pb_msg(&out, 4, &entry);
    pb_varint(&out, 7 << 3 | 5); /* unknown fixed32 */
    memcpy(out.b + out.n, "\1\2\3\4", 4);
    out.n += 4;
    pb_len(&reply, 1, "m\0odel", 6);
    pb_len(&reply, 2, "1\0", 2);
    pb_len(&reply, 3, "\0id", 3);
    pb_msg(&reply, 5, &out);
    pb_len(&reply, 6, "\x01\x02", 2);
    pb_varint(&reply, 12 << 3 | 1); /* unknown fixed64 */
    memcpy(reply.b + reply.n, "12345678", 8);
    reply.n += 8;
    CHECK(readers_agree(reply.b, reply.n, 0) == 0);
    /* every text ends at its NUL, as protobuf-c's C strings do; an id that
     * starts with one is no id */
    struct triton_infer_result *cut = NULL;
    struct triton_error cut_err = {0};
    CHECK(grpc_wire_parse_infer_response_with(reply.b, reply.n, NULL, GRPC_WIRE_READER_FAST, &cut,
                                              &cut_err) == 0);
    CHECK(cut && strcmp(cut->model_name, "m") == 0 && strcmp(cut->model_version, "1") == 0 &&
          cut->id == NULL && cut->n_outputs == 1 && strcmp(cut->outputs[0].name, "O") == 0 &&
          strcmp(cut->outputs[0].datatype, "INT8") == 0 && cut->outputs[0].dtype == TENSOR_INT8);
    triton_infer_result_free(cut);

    /* An entry whose value comes twice: protobuf-c merges the two, so the fast
     * reader declines it. */
    entry.n = 0;
    pb_len(&entry, 1, "k", 1);
    pb_msg(&entry, 2, &value);
    pb_len(&entry, 2, "\x10\x07", 2); /* int64_param = 7 */
    reply.n = 0;
    pb_msg(&reply, 4, &entry);
    CHECK(readers_agree(reply.b, reply.n, 1) == 0);

    /* Keys in more bytes than they need (model_name = 1, wire type 2): up to 5
     * bytes protobuf-c takes them, and so does the fast reader; a longer one
     * protobuf-c refuses, and the fast reader leaves it to protobuf-c. */
    const uint8_t long_key[] = {0x8a, 0x80, 0x80, 0x80, 0x00, 0x01, 'm'};
    CHECK(readers_agree(long_key, sizeof long_key, 0) == 0);
    const uint8_t too_long_key[] = {0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 'm'};
    CHECK(readers_agree(too_long_key, sizeof too_long_key, 1) < 0);
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
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(NULL, 0);
    struct triton_error err = {0};
    CHECK(grpc_generate_request("llm", "", body, meta, bb, &err) == 0);
    {
        size_t len, n;
        uint8_t *bytes = bb_bytes(bb, &len, &n);
        grpc_slice_buffer_reset_and_unref(&bb->data.raw.slice_buffer);
        Inference__ModelInferRequest *m = inference__model_infer_request__unpack(NULL, len, bytes);
        CHECK(m && m->n_inputs == 2 && m->n_parameters == 2);
        CHECK(m && m->n_inputs == 2 && m->inputs[1]->shape[0] == 2);
        CHECK(m && m->n_raw_input_contents == 2 && m->raw_input_contents[0].len == 4 + 8);
        inference__model_infer_request__free_unpacked(m, NULL);
        free(bytes);
    }
    cJSON *bad = json_of("{\"text_input\":{\"nested\":1}}");
    memset(&err, 0, sizeof err);
    CHECK(grpc_generate_request("llm", "", bad, meta, bb, &err) < 0 &&
          err.code == TRITON_INVALID_ARGUMENT && grpc_byte_buffer_length(bb) == 0);
    grpc_byte_buffer_destroy(bb);
    cJSON_Delete(bad);
    cJSON_Delete(body);
    cJSON_Delete(meta);
}

/* The text rules every request obeys before either transport encodes it
 * (triton_infer_request_check): UTF-8, however much of a name is ASCII. */
static void test_request_text(void)
{
    struct triton_error err;
    const char *good[] = {"simple", "", "caf\xc3\xa9", "\xe2\x82\xac",
                          "a\xf0\x9f\x98\x80"
                          "b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct triton_infer_request q = {.model = good[i]};
        triton_error_clear(&err);
        CHECK(triton_infer_request_check(&q, &err) == 0);
    }
    struct {
        const char *text, *part;
    } bad[] = {
        {"\xff", "the model name is not valid UTF-8 (byte 1)"},
        {"simpl\xc3", "the model name is not valid UTF-8 (byte 6)"},
        {"caf\xc3\xa9\x80", "the model name is not valid UTF-8 (byte 6)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct triton_infer_request q = {.model = bad[i].text};
        triton_error_clear(&err);
        CHECK(triton_infer_request_check(&q, &err) < 0);
        CHECK_ERR(err, TRITON_INVALID_ARGUMENT, bad[i].part);
    }
    struct triton_infer_input in = {.name = "INPUT\xc0\xaf", .datatype = "INT32"};
    struct triton_infer_request q = {.model = "m", .inputs = &in, .n_inputs = 1};
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "the input name is not valid UTF-8 (byte 6)");
    in.name = "INPUT0";
    in.shm_region = "r\xed\xa0\x80"; /* a surrogate */
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT,
              "the shared-memory region of input 'INPUT0' is not valid UTF-8 (byte 2)");

    /* the parameters of the request, of an input and of an output */
    in.shm_region = NULL;
    struct triton_param nameless = {.type = TRITON_PARAM_INT64};
    struct triton_param zero = {.key = "k", .type = TRITON_PARAM_STRING, .v.s = {"a\0b", 3}};
    struct triton_param latin1 = {.key = "k", .type = TRITON_PARAM_STRING, .v.s = {"\xe9", 1}};
    struct triton_infer_requested_output out = {.name = "OUTPUT0"};
    q.outputs = &out;
    q.n_outputs = 1;
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) == 0);
    q.params = &nameless;
    q.n_params = 1;
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "a request parameter 1 has no name");
    q.n_params = 0;
    in.params = &zero;
    in.n_params = 1;
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "parameter 'k' holds a zero byte");
    in.n_params = 0;
    out.params = &latin1;
    out.n_params = 1;
    triton_error_clear(&err);
    CHECK(triton_infer_request_check(&q, &err) < 0);
    CHECK_ERR(err, TRITON_INVALID_ARGUMENT, "parameter 'k' is not valid UTF-8 (byte 1)");
}

int main(void)
{
    grpc_init();
    test_model_config();
    test_maps_oneofs_floats_bytes();
    test_reshaping();
    test_request_zero_copy();
    test_request_encoding();
    test_reply_parse();
    test_typed_contents();
    test_reply_readers();
    test_stream_reply();
    test_generate_mapping();
    test_request_text();
    grpc_shutdown();
    return check_report("test_grpc_wire");
}
