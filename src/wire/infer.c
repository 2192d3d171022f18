/*
 * infer.c: freeing an inference result, checking a request and its inputs,
 * reading an output's datatype (see infer.h).
 */
#include "wire/infer.h"

#include <stdlib.h>
#include <string.h>

#include "wire/json.h"

void triton_infer_result_free(struct triton_infer_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_outputs; i++) {
        struct triton_infer_output *o = &r->outputs[i];
        if (!r->one_block) {
            free(o->name);
            free(o->datatype);
        }
        cJSON_Delete(o->parameters);
        if (o->has_data)
            tensor_release(&o->tensor);
    }
    if (!r->one_block) {
        free(r->outputs);
        free(r->model_name);
        free(r->model_version);
        free(r->id);
    }
    cJSON_Delete(r->parameters);
    if (r->block)
        tensor_buffer_unref(r->block); /* r lies in it: the last use of r */
    else
        free(r);
}

/* Names Triton keeps for its own request options (docs/PROTOCOL.md 2.5): a custom
 * parameter may not take them; each has a request option of the same name. */
static const char *const reserved_params[] = {
    "sequence_id", "sequence_start", "sequence_end",       "priority",
    "timeout",     "headers",        "binary_data_output",
};
/* Of the "triton_" names, the only one a request may carry. */
#define TRITON_PARAM_PREFIX      "triton_"
#define TRITON_EMPTY_FINAL_PARAM "triton_enable_empty_final_response"

static int check_text(const char *s, const char *what, const char *name, struct triton_error *err)
{
    if (!s)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && *p < 0x80) /* all ASCII, as names mostly are: valid, in one pass */
        p++;
    if (!*p)
        return 0;
    size_t n = strlen(s), bad = wire_utf8_invalid_at(s, n);
    if (bad == n)
        return 0;
    return triton_fail(err, TRITON_INVALID_ARGUMENT,
                       "%s%s%s%s is not valid UTF-8 (byte %zu): JSON and gRPC carry only UTF-8 "
                       "text; send bytes as a BYTES tensor",
                       what, name ? " '" : "", name ? name : "", name ? "'" : "", bad + 1);
}

static int check_param_list(const struct triton_param *p, size_t n, const char *where,
                            struct triton_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!p[i].key || !*p[i].key)
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s parameter %zu has no name", where,
                               i + 1);
        if (check_text(p[i].key, "a parameter name", NULL, err) < 0)
            return -1;
        if (p[i].type == TRITON_PARAM_STRING) {
            if (memchr(p[i].v.s.ptr, '\0', p[i].v.s.len))
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "parameter '%s' holds a zero byte, which JSON and gRPC "
                                   "strings cannot carry alike",
                                   p[i].key);
            size_t bad = wire_utf8_invalid_at(p[i].v.s.ptr, p[i].v.s.len);
            if (bad != p[i].v.s.len)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "parameter '%s' is not valid UTF-8 (byte %zu): JSON and gRPC "
                                   "carry only UTF-8 text",
                                   p[i].key, bad + 1);
        }
    }
    return 0;
}

/* Most requests, inputs and outputs have no parameters: no call for those. */
static inline int check_params(const struct triton_param *p, size_t n, const char *where,
                               struct triton_error *err)
{
    return n ? check_param_list(p, n, where, err) : 0;
}

int triton_infer_input_check(const struct triton_infer_input *in, size_t index,
                             struct triton_error *err)
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

int triton_infer_output_check(const struct triton_infer_requested_output *o, size_t index,
                              struct triton_error *err)
{
    if (!o->name || !*o->name)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "requested output %zu has no name",
                           index + 1);
    return 0;
}

int triton_infer_request_check(const struct triton_infer_request *req, struct triton_error *err)
{
    if (check_text(req->model, "the model name", NULL, err) < 0 ||
        check_text(req->version, "the model version", NULL, err) < 0 ||
        check_text(req->id, "the request_id", NULL, err) < 0 ||
        check_text(req->sequence_id_str, "the sequence_id", NULL, err) < 0 ||
        check_params(req->params, req->n_params, "a request", err) < 0)
        return -1;
    for (size_t i = 0; i < req->n_params; i++) {
        const char *k = req->params[i].key;
        for (size_t j = 0; j < sizeof reserved_params / sizeof *reserved_params; j++)
            if (strcmp(k, reserved_params[j]) == 0)
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "parameter '%s' is reserved: use the request option of that "
                                   "name",
                                   k);
        if (strncmp(k, TRITON_PARAM_PREFIX, strlen(TRITON_PARAM_PREFIX)) == 0 &&
            strcmp(k, TRITON_EMPTY_FINAL_PARAM) != 0)
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "parameter '%s' is reserved: names starting with \"triton_\" are "
                               "Triton's own",
                               k);
    }
    for (size_t i = 0; i < req->n_inputs; i++) {
        const struct triton_infer_input *in = &req->inputs[i];
        if (check_text(in->name, "the input name", NULL, err) < 0 ||
            check_text(in->shm_region, "the shared-memory region of input", in->name, err) < 0 ||
            check_params(in->params, in->n_params, "an input", err) < 0)
            return -1;
    }
    for (size_t i = 0; i < req->n_outputs; i++) {
        const struct triton_infer_requested_output *o = &req->outputs[i];
        if (check_text(o->name, "the output name", NULL, err) < 0 ||
            check_text(o->shm_region, "the shared-memory region of output", o->name, err) < 0 ||
            check_params(o->params, o->n_params, "an output", err) < 0)
            return -1;
    }
    return 0;
}

int triton_infer_output_dtype(struct triton_infer_output *o, struct triton_error *err)
{
    o->dtype = tensor_dtype_from_name(o->datatype, strlen(o->datatype));
    if (o->dtype == TENSOR_INVALID)
        return triton_fail(err, TRITON_PROTOCOL,
                           "output '%s' has datatype '%s', which this client does not know",
                           o->name, o->datatype);
    return 0;
}
