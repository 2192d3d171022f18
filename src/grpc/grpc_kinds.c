/*
 * grpc_kinds.c: the request and reply of each call kind over gRPC (see
 * grpc_kinds.h). The call layer has checked each call's required arguments
 * (triton_call_check) before an encoder sees it.
 */
#include "grpc/grpc_kinds.h"

#include <stdlib.h>
#include <string.h>

#include "grpc/grpc_wire.h"
#include "proto/grpc_service.pb-c.h"
#include "wire/pb_json.h"
#include "wire/trace_setting.h"

static char *str_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

static int out_of_memory(struct triton_error *err)
{
    return triton_fail(err, TRITON_NO_MEMORY, "out of memory building a gRPC request");
}

/* ServerLive, ServerReady and ServerMetadata requests have no fields: each
 * packs to nothing. */
static int encode_nothing(const struct triton_call *call, grpc_byte_buffer *out,
                          struct triton_error *err)
{
    Inference__ServerLiveRequest m = INFERENCE__SERVER_LIVE_REQUEST__INIT;
    return grpc_wire_pack(&m.base, out, err);
}

/* ModelReady, ModelMetadata, ModelConfig and ModelStatistics requests are all
 * {string name = 1; string version = 2;} (statistics: "" = every model). */
static int encode_model(const struct triton_call *call, grpc_byte_buffer *out,
                        struct triton_error *err)
{
    Inference__ModelReadyRequest m = INFERENCE__MODEL_READY_REQUEST__INIT;
    m.name = str_or_empty(call->model);
    m.version = str_or_empty(call->version);
    return grpc_wire_pack(&m.base, out, err);
}

/* ---- the model repository ------------------------------------------------------------------- */

static int encode_index(const struct triton_call *call, grpc_byte_buffer *out,
                        struct triton_error *err)
{
    Inference__RepositoryIndexRequest m = INFERENCE__REPOSITORY_INDEX_REQUEST__INIT;
    m.ready = call->flag;
    return grpc_wire_pack(&m.base, out, err);
}

/* Repository parameters of load/unload (both map<string, ModelRepositoryParameter>,
 * so their entries share one layout). */
struct repo_params {
    Inference__RepositoryModelLoadRequest__ParametersEntry **entries;
    Inference__RepositoryModelLoadRequest__ParametersEntry *entry_mem;
    Inference__ModelRepositoryParameter *value_mem;
    size_t n;
};

static Inference__ModelRepositoryParameter *
repo_param(struct repo_params *p, const ProtobufCMessageDescriptor *d, const char *key)
{
    Inference__RepositoryModelLoadRequest__ParametersEntry *e = &p->entry_mem[p->n];
    Inference__ModelRepositoryParameter *v = &p->value_mem[p->n];
    protobuf_c_message_init(d, e);
    inference__model_repository_parameter__init(v);
    e->key = (char *)key;
    e->value = v;
    p->entries[p->n++] = e;
    return v;
}

static int repo_params_alloc(struct repo_params *p, size_t n, struct triton_error *err)
{
    p->entries = calloc(n ? n : 1, sizeof *p->entries);
    p->entry_mem = calloc(n ? n : 1, sizeof *p->entry_mem);
    p->value_mem = calloc(n ? n : 1, sizeof *p->value_mem);
    p->n = 0;
    if (!p->entries || !p->entry_mem || !p->value_mem)
        return out_of_memory(err);
    return 0;
}

static void repo_params_free(struct repo_params *p)
{
    free(p->entries);
    free(p->entry_mem);
    free(p->value_mem);
}

static int encode_load(const struct triton_call *call, grpc_byte_buffer *out,
                       struct triton_error *err)
{
    Inference__RepositoryModelLoadRequest m = INFERENCE__REPOSITORY_MODEL_LOAD_REQUEST__INIT;
    m.model_name = str_or_empty(call->model);
    struct repo_params p;
    int rc = repo_params_alloc(&p, call->n_files + 1, err);
    const ProtobufCMessageDescriptor *d =
        &inference__repository_model_load_request__parameters_entry__descriptor;
    if (rc == 0 && call->config_json) {
        Inference__ModelRepositoryParameter *v = repo_param(&p, d, "config");
        v->parameter_choice_case =
            INFERENCE__MODEL_REPOSITORY_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
        v->string_param = (char *)call->config_json;
    }
    for (size_t i = 0; rc == 0 && i < call->n_files; i++) {
        if (!call->files[i].key) {
            rc = triton_fail(err, TRITON_INVALID_ARGUMENT, "a model file without a name");
            break;
        }
        Inference__ModelRepositoryParameter *v = repo_param(&p, d, call->files[i].key);
        v->parameter_choice_case =
            INFERENCE__MODEL_REPOSITORY_PARAMETER__PARAMETER_CHOICE_BYTES_PARAM;
        v->bytes_param.data = (uint8_t *)call->files[i].data;
        v->bytes_param.len = call->files[i].len;
    }
    if (rc == 0) {
        m.n_parameters = p.n;
        m.parameters = p.entries;
        rc = grpc_wire_pack(&m.base, out, err);
    }
    repo_params_free(&p);
    return rc;
}

static int encode_unload(const struct triton_call *call, grpc_byte_buffer *out,
                         struct triton_error *err)
{
    Inference__RepositoryModelUnloadRequest m = INFERENCE__REPOSITORY_MODEL_UNLOAD_REQUEST__INIT;
    m.model_name = str_or_empty(call->model);
    struct repo_params p;
    int rc = repo_params_alloc(&p, 1, err);
    if (rc == 0) {
        Inference__ModelRepositoryParameter *v = repo_param(
            &p, &inference__repository_model_unload_request__parameters_entry__descriptor,
            "unload_dependents");
        v->parameter_choice_case =
            INFERENCE__MODEL_REPOSITORY_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
        v->bool_param = call->flag;
        m.n_parameters = p.n;
        m.parameters = (Inference__RepositoryModelUnloadRequest__ParametersEntry **)p.entries;
        rc = grpc_wire_pack(&m.base, out, err);
    }
    repo_params_free(&p);
    return rc;
}

/* ---- trace and log settings -------------------------------------------------------------------
 */

static int encode_trace(const struct triton_call *call, grpc_byte_buffer *out,
                        struct triton_error *err)
{
    Inference__TraceSettingRequest m = INFERENCE__TRACE_SETTING_REQUEST__INIT;
    m.model_name = str_or_empty(call->model);
    return grpc_wire_pack(&m.base, out, err);
}

/* How many texts a setting value sends: null none, a list one per element. */
static size_t trace_texts(const cJSON *item)
{
    if (cJSON_IsNull(item))
        return 0;
    return cJSON_IsArray(item) ? (size_t)cJSON_GetArraySize(item) : 1;
}

/* Every value goes as its text (wire/trace_setting.h); numbers are written
 * into nums, strings are sent from the settings tree itself. */
struct trace_mem {
    Inference__TraceSettingRequest__SettingsEntry *entries, **eps;
    Inference__TraceSettingRequest__SettingValue *values;
    char **texts;
    char (*nums)[WIRE_JSON_NUM_MAX];
};

static int trace_mem_alloc(struct trace_mem *t, size_t n, size_t n_texts)
{
    t->entries = calloc(n ? n : 1, sizeof *t->entries);
    t->eps = calloc(n ? n : 1, sizeof *t->eps);
    t->values = calloc(n ? n : 1, sizeof *t->values);
    t->texts = calloc(n_texts ? n_texts : 1, sizeof *t->texts);
    t->nums = calloc(n_texts ? n_texts : 1, sizeof *t->nums);
    return t->entries && t->eps && t->values && t->texts && t->nums ? 0 : -1;
}

static void trace_mem_free(struct trace_mem *t)
{
    free(t->entries);
    free(t->eps);
    free(t->values);
    free(t->texts);
    free(t->nums);
}

static int encode_update_trace(const struct triton_call *call, grpc_byte_buffer *out,
                               struct triton_error *err)
{
    if (wire_trace_settings_check(call->settings, err) < 0)
        return -1;
    size_t n = (size_t)cJSON_GetArraySize(call->settings), n_texts = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, call->settings)
    {
        n_texts += trace_texts(item);
    }
    struct trace_mem t;
    if (trace_mem_alloc(&t, n, n_texts) < 0) {
        trace_mem_free(&t);
        return out_of_memory(err);
    }
    size_t i = 0, k = 0;
    cJSON_ArrayForEach(item, call->settings)
    {
        inference__trace_setting_request__settings_entry__init(&t.entries[i]);
        inference__trace_setting_request__setting_value__init(&t.values[i]);
        t.entries[i].key = item->string;
        t.entries[i].value = &t.values[i];
        t.values[i].value = &t.texts[k];
        t.values[i].n_value = trace_texts(item);
        const cJSON *e = cJSON_IsArray(item) ? item->child : item;
        for (size_t j = 0; j < t.values[i].n_value; j++, k++, e = e->next)
            t.texts[k] = (char *)wire_trace_setting_text(e, t.nums[k]);
        t.eps[i] = &t.entries[i];
        i++;
    }
    Inference__TraceSettingRequest m = INFERENCE__TRACE_SETTING_REQUEST__INIT;
    m.model_name = str_or_empty(call->model);
    m.n_settings = n;
    m.settings = t.eps;
    int rc = grpc_wire_pack(&m.base, out, err);
    trace_mem_free(&t);
    return rc;
}

static int encode_log(const struct triton_call *call, grpc_byte_buffer *out,
                      struct triton_error *err)
{
    Inference__LogSettingsRequest m = INFERENCE__LOG_SETTINGS_REQUEST__INIT;
    return grpc_wire_pack(&m.base, out, err);
}

/* A log setting's value in the oneof Triton's LogSettingsRequest takes (the
 * call layer has checked the values: booleans, strings, uint32 integers). */
static int log_value(const cJSON *item, Inference__LogSettingsRequest__SettingValue *v,
                     struct triton_error *err)
{
    if (cJSON_IsBool(item)) {
        v->parameter_choice_case =
            INFERENCE__LOG_SETTINGS_REQUEST__SETTING_VALUE__PARAMETER_CHOICE_BOOL_PARAM;
        v->bool_param = cJSON_IsTrue(item);
    } else if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        v->parameter_choice_case =
            INFERENCE__LOG_SETTINGS_REQUEST__SETTING_VALUE__PARAMETER_CHOICE_UINT32_PARAM;
        v->uint32_param = (uint32_t)d;
    } else if (cJSON_IsString(item)) {
        v->parameter_choice_case =
            INFERENCE__LOG_SETTINGS_REQUEST__SETTING_VALUE__PARAMETER_CHOICE_STRING_PARAM;
        v->string_param = item->valuestring;
    } else {
        return triton_fail(err, TRITON_INTERNAL, "log setting '%s' was not checked", item->string);
    }
    return 0;
}

static int encode_update_log(const struct triton_call *call, grpc_byte_buffer *out,
                             struct triton_error *err)
{
    size_t n = (size_t)cJSON_GetArraySize(call->settings);
    Inference__LogSettingsRequest__SettingsEntry *entries = calloc(n ? n : 1, sizeof *entries);
    Inference__LogSettingsRequest__SettingsEntry **eps = calloc(n ? n : 1, sizeof *eps);
    Inference__LogSettingsRequest__SettingValue *values = calloc(n ? n : 1, sizeof *values);
    int rc = -1;
    if (!entries || !eps || !values) {
        out_of_memory(err);
        goto done;
    }
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, call->settings)
    {
        inference__log_settings_request__settings_entry__init(&entries[i]);
        inference__log_settings_request__setting_value__init(&values[i]);
        entries[i].key = item->string;
        entries[i].value = &values[i];
        if (log_value(item, &values[i], err) < 0)
            goto done;
        eps[i] = &entries[i];
        i++;
    }
    Inference__LogSettingsRequest m = INFERENCE__LOG_SETTINGS_REQUEST__INIT;
    m.n_settings = i;
    m.settings = eps;
    rc = grpc_wire_pack(&m.base, out, err);
done:
    free(entries);
    free(eps);
    free(values);
    return rc;
}

/* ---- shared memory ------------------------------------------------------------------------------
 */

/* System/CUDA status and unregister requests are all {string name = 1;} ("" =
 * every region). */
static int encode_region(const struct triton_call *call, grpc_byte_buffer *out,
                         struct triton_error *err)
{
    Inference__SystemSharedMemoryStatusRequest m =
        INFERENCE__SYSTEM_SHARED_MEMORY_STATUS_REQUEST__INIT;
    m.name = str_or_empty(call->region);
    return grpc_wire_pack(&m.base, out, err);
}

static int encode_system_register(const struct triton_call *call, grpc_byte_buffer *out,
                                  struct triton_error *err)
{
    Inference__SystemSharedMemoryRegisterRequest m =
        INFERENCE__SYSTEM_SHARED_MEMORY_REGISTER_REQUEST__INIT;
    m.name = str_or_empty(call->region);
    m.key = str_or_empty(call->key);
    m.offset = call->offset;
    m.byte_size = call->byte_size;
    return grpc_wire_pack(&m.base, out, err);
}

static int encode_cuda_register(const struct triton_call *call, grpc_byte_buffer *out,
                                struct triton_error *err)
{
    Inference__CudaSharedMemoryRegisterRequest m =
        INFERENCE__CUDA_SHARED_MEMORY_REGISTER_REQUEST__INIT;
    m.name = str_or_empty(call->region);
    m.raw_handle.data = (uint8_t *)call->raw_handle;
    m.raw_handle.len = call->raw_handle_len;
    m.device_id = call->device_id;
    m.byte_size = call->byte_size;
    return grpc_wire_pack(&m.base, out, err);
}

static int encode_infer(const struct triton_call *call, grpc_byte_buffer *out,
                        struct triton_error *err)
{
    return grpc_wire_infer_request(call->infer, out, err);
}

/* ---- the table
 * ------------------------------------------------------------------------------------- */

#define UNARY(method, encode, reply)                                                               \
    {                                                                                              \
        GRPC_METHOD(method), encode, &inference__##reply##_response__descriptor, false             \
    }

const struct grpc_kind grpc_kinds[TRITON_CALL_NKINDS] = {
    [TRITON_CALL_SERVER_LIVE] = UNARY("ServerLive", encode_nothing, server_live),
    [TRITON_CALL_SERVER_READY] = UNARY("ServerReady", encode_nothing, server_ready),
    [TRITON_CALL_MODEL_READY] = UNARY("ModelReady", encode_model, model_ready),
    [TRITON_CALL_SERVER_METADATA] = UNARY("ServerMetadata", encode_nothing, server_metadata),
    [TRITON_CALL_MODEL_METADATA] = UNARY("ModelMetadata", encode_model, model_metadata),
    [TRITON_CALL_MODEL_CONFIG] = UNARY("ModelConfig", encode_model, model_config),
    [TRITON_CALL_REPOSITORY_INDEX] = UNARY("RepositoryIndex", encode_index, repository_index),
    [TRITON_CALL_LOAD_MODEL] = UNARY("RepositoryModelLoad", encode_load, repository_model_load),
    [TRITON_CALL_UNLOAD_MODEL] =
        UNARY("RepositoryModelUnload", encode_unload, repository_model_unload),
    [TRITON_CALL_STATISTICS] = UNARY("ModelStatistics", encode_model, model_statistics),
    [TRITON_CALL_TRACE_SETTINGS] = UNARY("TraceSetting", encode_trace, trace_setting),
    [TRITON_CALL_UPDATE_TRACE_SETTINGS] = UNARY("TraceSetting", encode_update_trace, trace_setting),
    [TRITON_CALL_LOG_SETTINGS] = UNARY("LogSettings", encode_log, log_settings),
    [TRITON_CALL_UPDATE_LOG_SETTINGS] = UNARY("LogSettings", encode_update_log, log_settings),
    [TRITON_CALL_SYSTEM_SHM_STATUS] =
        UNARY("SystemSharedMemoryStatus", encode_region, system_shared_memory_status),
    [TRITON_CALL_SYSTEM_SHM_REGISTER] =
        UNARY("SystemSharedMemoryRegister", encode_system_register, system_shared_memory_register),
    [TRITON_CALL_SYSTEM_SHM_UNREGISTER] =
        UNARY("SystemSharedMemoryUnregister", encode_region, system_shared_memory_unregister),
    [TRITON_CALL_CUDA_SHM_STATUS] =
        UNARY("CudaSharedMemoryStatus", encode_region, cuda_shared_memory_status),
    [TRITON_CALL_CUDA_SHM_REGISTER] =
        UNARY("CudaSharedMemoryRegister", encode_cuda_register, cuda_shared_memory_register),
    [TRITON_CALL_CUDA_SHM_UNREGISTER] =
        UNARY("CudaSharedMemoryUnregister", encode_region, cuda_shared_memory_unregister),
    /* grpc_wire packs and parses ModelInfer's messages, tensor bytes in place */
    [TRITON_CALL_INFER] = {GRPC_METHOD("ModelInfer"), encode_infer, NULL, false},
    /* one ModelStreamInfer request, after a ModelMetadata call (grpc.c) */
    [TRITON_CALL_GENERATE] = {GRPC_METHOD("ModelStreamInfer"), NULL, NULL, true},
    [TRITON_CALL_GENERATE_STREAM] = {GRPC_METHOD("ModelStreamInfer"), NULL, NULL, true},
};

/* ---- replies
 * -------------------------------------------------------------------------------------- */

/* The value of a health reply's one bool field (live or ready). */
static bool bool_field(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_BOOL &&
            d->fields[i].label != PROTOBUF_C_LABEL_REPEATED)
            return *(const protobuf_c_boolean *)((const char *)m + d->fields[i].offset);
    return false;
}

/* An output the reply carries no data for (no raw_output_contents entry, no
 * typed contents) is fine only when the request placed it in shared memory:
 * Triton sends every other output's bytes, so anything else is a malformed
 * reply (e.g. raw_output_contents cut short), not an output to leave empty. */
static int check_outputs_have_data(const struct triton_infer_request *req,
                                   const struct triton_infer_result *r, struct triton_error *err)
{
    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct triton_infer_output *o = &r->outputs[i];
        if (o->has_data)
            continue;
        bool in_shm = false;
        for (size_t k = 0; req && k < req->n_outputs && !in_shm; k++)
            in_shm = req->outputs[k].shm_region && req->outputs[k].name &&
                     strcmp(req->outputs[k].name, o->name) == 0;
        if (!in_shm)
            return triton_fail(err, TRITON_PROTOCOL,
                               "ModelInferResponse: output '%s' came without data (no "
                               "raw_output_contents entry and no contents)",
                               o->name);
    }
    return 0;
}

static int decode_result(const struct triton_infer_request *req, grpc_byte_buffer *bb,
                         struct triton_reply *reply, struct triton_error *err)
{
    if (grpc_wire_read_infer_response(bb, &reply->result, err) < 0)
        return -1;
    if (reply->result && check_outputs_have_data(req, reply->result, err) < 0) {
        triton_infer_result_free(reply->result);
        reply->result = NULL;
        return -1;
    }
    return 0;
}

static int decode_message(const ProtobufCMessageDescriptor *d, enum triton_reply_shape shape,
                          struct tensor_buffer *buf, struct triton_reply *reply,
                          struct triton_error *err)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, buf->size, buf->data);
    if (!m)
        return triton_fail(err, TRITON_PROTOCOL, "malformed %s", d->name);
    int rc = 0;
    if (shape == TRITON_REPLY_BOOLEAN)
        reply->boolean = bool_field(m);
    else if (shape == TRITON_REPLY_TABLE && !(reply->json = pb_json_http_shape(m, err)))
        rc = -1;
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int grpc_decode(enum triton_call_kind kind, const struct triton_infer_request *req,
                grpc_byte_buffer *bb, struct triton_reply *reply, struct triton_error *err)
{
    if (!bb)
        return triton_fail(err, TRITON_PROTOCOL, "the server sent status OK but no reply");
    enum triton_reply_shape shape = triton_call_info(kind)->reply;
    if (shape == TRITON_REPLY_RESULT)
        return decode_result(req, bb, reply, err);
    struct tensor_buffer *buf = grpc_wire_read(bb, err);
    if (!buf)
        return -1;
    const struct grpc_kind *k = &grpc_kinds[kind];
    int rc;
    if (k->reply)
        rc = decode_message(k->reply, shape, buf, reply, err);
    else
        rc = triton_fail(err, TRITON_INTERNAL, "%s has no unary reply over gRPC",
                         triton_call_kind_name(kind));
    tensor_buffer_unref(buf);
    return rc;
}
