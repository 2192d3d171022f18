/*
 * grpc_generate.c: see grpc_generate.h.
 */
#include "grpc/grpc_generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc_wire.h"
#include "wire/json.h"

static const cJSON *find_input(const cJSON *metadata, const char *name)
{
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(metadata, "inputs"))
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "name"));
        if (n && strcmp(n, name) == 0)
            return in;
    }
    return NULL;
}

static int scalar_param(const cJSON *v, const char *key, struct triton_param *p,
                        struct triton_error *err)
{
    p->key = key;
    if (cJSON_IsBool(v)) {
        p->type = TRITON_PARAM_BOOL;
        p->v.b = cJSON_IsTrue(v);
    } else if (cJSON_IsString(v)) {
        p->type = TRITON_PARAM_STRING;
        p->v.s.ptr = v->valuestring;
        p->v.s.len = strlen(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        /* JSON integers are int64 parameters (exactly), other numbers doubles (as over HTTP). */
        if (wire_json_get_int64(v, &p->v.i)) {
            p->type = TRITON_PARAM_INT64;
        } else {
            p->type = TRITON_PARAM_DOUBLE;
            p->v.d = v->valuedouble;
        }
    } else {
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "generate: parameter '%s' must be a string, number or boolean", key);
    }
    return 0;
}

static int fill_element(struct tensor *t, int64_t i, const cJSON *v, const char *name,
                        struct triton_error *err)
{
    void *p = tensor_elem_ptr(t, i);
    if (t->dtype == TENSOR_BYTES) {
        if (!cJSON_IsString(v))
            return triton_fail(err, TRITON_INVALID_ARGUMENT, "generate: input '%s' takes strings",
                               name);
        struct tensor_str *s = p;
        s->len = strlen(v->valuestring);
        s->ptr = s->len ? tensor_buffer_intern(t->buf, v->valuestring, s->len, err) : "";
        return s->ptr ? 0 : -1;
    }
    if (cJSON_IsBool(v))
        return tensor_set_i64_exact(t->dtype, p, cJSON_IsTrue(v) ? 1 : 0, err);
    int64_t iv;
    uint64_t uv;
    if (cJSON_IsNumber(v) && v->valuestring && wire_json_get_int64(v, &iv))
        return tensor_set_i64_exact(t->dtype, p, iv, err); /* past 2^53: exactly */
    if (cJSON_IsNumber(v) && v->valuestring && wire_json_get_uint64(v, &uv))
        return tensor_set_u64_exact(t->dtype, p, uv, err);
    if (cJSON_IsNumber(v))
        return tensor_set_f64_exact(t->dtype, p, v->valuedouble, err);
    return triton_fail(err, TRITON_INVALID_ARGUMENT, "generate: input '%s' takes %s values", name,
                       tensor_dtype_name(t->dtype));
}

/* The tensor for one input from a JSON scalar or 1-D array. */
static int make_input(const cJSON *value, const cJSON *meta, struct triton_infer_input *in,
                      int64_t *shape, struct tensor *t, struct triton_error *err)
{
    const char *name = in->name;
    const char *dtname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "datatype"));
    enum tensor_dtype dt = dtname ? tensor_dtype_from_name(dtname, strlen(dtname)) : TENSOR_INVALID;
    if (dt == TENSOR_INVALID)
        return triton_fail(err, TRITON_PROTOCOL, "generate: input '%s' has an unknown datatype",
                           name);
    int64_t numel = 1;
    if (cJSON_IsArray(value)) {
        numel = cJSON_GetArraySize(value);
        const cJSON *e;
        cJSON_ArrayForEach(e, value)
        {
            if (cJSON_IsArray(e) || cJSON_IsObject(e))
                return triton_fail(err, TRITON_INVALID_ARGUMENT,
                                   "generate: input '%s' must be a scalar or a 1-D array", name);
        }
    } else if (cJSON_IsObject(value) || cJSON_IsNull(value)) {
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "generate: input '%s' must be a scalar or a 1-D array", name);
    }
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(meta, "shape");
    int ndim = cJSON_GetArraySize(dims);
    if (ndim > TENSOR_MAX_DIMS)
        return triton_fail(err, TRITON_PROTOCOL, "generate: input '%s' has too many dimensions",
                           name);
    int64_t known = 1;
    int last_wild = -1, i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, dims)
    {
        shape[i] = (int64_t)cJSON_GetNumberValue(d);
        if (shape[i] < 0) {
            last_wild = i;
            shape[i] = 1;
        } else {
            known *= shape[i];
        }
        i++;
    }
    if (ndim == 0) {
        shape[0] = numel;
        ndim = 1;
    } else if (last_wild >= 0 && known > 0 && numel % known == 0) {
        shape[last_wild] = numel / known;
    } else if (known != numel) {
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "generate: input '%s' got %lld elements for its shape", name,
                           (long long)numel);
    }
    if (tensor_init(t, dt, shape, ndim, err) < 0)
        return -1;
    if (cJSON_IsArray(value)) {
        int64_t k = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, value)
        {
            if (fill_element(t, k++, e, name, err) < 0)
                return -1;
        }
    } else if (fill_element(t, 0, value, name, err) < 0) {
        return -1;
    }
    in->datatype = tensor_dtype_name(dt);
    in->shape = shape;
    in->ndim = ndim;
    in->data = t;
    return 0;
}

int grpc_generate_request(const char *model, const char *version, const cJSON *body,
                          const cJSON *metadata, grpc_byte_buffer *out, struct triton_error *err)
{
    if (!cJSON_IsObject(body))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "generate: the body must be an object");
    size_t n = (size_t)cJSON_GetArraySize(body);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "parameters");
    size_t n_params_max = n + (size_t)(cJSON_IsObject(params) ? cJSON_GetArraySize(params) : 0);
    struct triton_infer_input *inputs = calloc(n ? n : 1, sizeof *inputs);
    struct tensor *tensors = calloc(n ? n : 1, sizeof *tensors);
    int64_t(*shapes)[TENSOR_MAX_DIMS] = calloc(n ? n : 1, sizeof *shapes);
    struct triton_param *ps = calloc(n_params_max ? n_params_max : 1, sizeof *ps);
    size_t n_inputs = 0, n_ps = 0;
    int rc = -1;
    struct triton_infer_request req = {.model = model, .version = version};
    if (!inputs || !tensors || !shapes || !ps) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory building a generate request");
        goto done;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, body)
    {
        const char *key = item->string;
        if (strcmp(key, "id") == 0 && cJSON_IsString(item)) {
            req.id = item->valuestring;
        } else if (strcmp(key, "parameters") == 0 && cJSON_IsObject(item)) {
            const cJSON *p;
            cJSON_ArrayForEach(p, item)
            {
                if (scalar_param(p, p->string, &ps[n_ps], err) < 0)
                    goto done;
                n_ps++;
            }
        } else {
            const cJSON *meta = find_input(metadata, key);
            if (meta) {
                inputs[n_inputs].name = key;
                if (make_input(item, meta, &inputs[n_inputs], shapes[n_inputs], &tensors[n_inputs],
                               err) < 0)
                    goto done;
                n_inputs++;
            } else {
                if (scalar_param(item, key, &ps[n_ps], err) < 0)
                    goto done;
                n_ps++;
            }
        }
    }
    req.inputs = inputs;
    req.n_inputs = n_inputs;
    req.params = ps;
    req.n_params = n_ps;
    rc = grpc_wire_infer_request(&req, out, err);
done:
    for (size_t i = 0; i < n && tensors; i++)
        tensor_release(&tensors[i]);
    free(inputs);
    free(tensors);
    free(shapes);
    free(ps);
    return rc;
}

static cJSON *element_json(const struct tensor *t, int64_t i)
{
    const void *p = tensor_elem_ptr(t, i);
    switch (t->dtype) {
    case TENSOR_BYTES: {
        const struct tensor_str *s = p;
        return wire_json_new_strn(s->ptr, s->len);
    }
    case TENSOR_BOOL:
        return cJSON_CreateBool(*(const uint8_t *)p != 0);
    case TENSOR_FP16:
    case TENSOR_BF16:
    case TENSOR_FP32:
    case TENSOR_FP64:
        return cJSON_CreateNumber(tensor_get_f64(t->dtype, p));
    case TENSOR_UINT64:
        return wire_json_new_uint64(*(const uint64_t *)p);
    default:
        return wire_json_new_int64(tensor_get_i64(t->dtype, p));
    }
}

cJSON *grpc_generate_reply(const struct triton_infer_result *r, struct triton_error *err)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        goto oom;
    if (!cJSON_AddStringToObject(obj, "model_name", r->model_name ? r->model_name : "") ||
        !cJSON_AddStringToObject(obj, "model_version", r->model_version ? r->model_version : ""))
        goto oom;
    if (r->id && *r->id && !cJSON_AddStringToObject(obj, "id", r->id))
        goto oom;
    for (size_t i = 0; i < r->n_outputs; i++) {
        const struct triton_infer_output *o = &r->outputs[i];
        cJSON *v;
        if (!o->has_data) {
            /* generate places nothing in shared memory: every output has data */
            cJSON_Delete(obj);
            triton_fail(err, TRITON_PROTOCOL,
                        "generate: the reply's output '%s' came without data (no "
                        "raw_output_contents entry)",
                        o->name);
            return NULL;
        } else if (!o->has_data) {
            v = cJSON_CreateNull();
        } else {
            int64_t numel = tensor_numel(&o->tensor);
            if (numel == 1) {
                v = element_json(&o->tensor, 0);
            } else {
                v = cJSON_CreateArray();
                for (int64_t k = 0; v && k < numel; k++) {
                    cJSON *e = element_json(&o->tensor, k);
                    if (!e || !cJSON_AddItemToArray(v, e)) {
                        cJSON_Delete(e);
                        cJSON_Delete(v);
                        v = NULL;
                    }
                }
            }
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, o->name);
        if (!v || !cJSON_AddItemToObject(obj, o->name, v)) {
            cJSON_Delete(v);
            goto oom;
        }
    }
    return obj;
oom:
    cJSON_Delete(obj);
    triton_fail(err, TRITON_NO_MEMORY, "out of memory building a generate reply");
    return NULL;
}
