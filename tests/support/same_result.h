/*
 * same_result.h: where two infer results differ, for the tests and fuzz
 * targets that hold one reader of a reply to another (the gRPC fast and
 * general readers, the HTTP reader with and without its header memo). One
 * comparison for all of them, so that "the same result" means one thing.
 * Header-only: the fuzz targets and the C tests are separate link units.
 */
#ifndef TRITON_TESTS_SAME_RESULT_H
#define TRITON_TESTS_SAME_RESULT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tensor/tensor.h"
#include "wire/infer.h"

static inline bool same_result_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* JSON compared as printed: NaN is not equal to itself, its text is. */
static inline bool same_result_json(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    bool same = sa && sb && strcmp(sa, sb) == 0;
    free(sa);
    free(sb);
    return same;
}

/* Same dtype, shape and elements (BYTES elements by their bytes). */
static inline bool same_result_tensor(const struct tensor *a, const struct tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim ||
        memcmp(a->shape, b->shape, sizeof *a->shape * (size_t)a->ndim) != 0)
        return false;
    size_t esize = tensor_dtype_elem_size(a->dtype);
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        const void *x = tensor_elem_ptr(a, i), *y = tensor_elem_ptr(b, i);
        if (a->dtype != TENSOR_BYTES) {
            if (memcmp(x, y, esize) != 0)
                return false;
            continue;
        }
        const struct tensor_str *s = x, *t = y;
        if (s->len != t->len || (s->len && memcmp(s->ptr, t->ptr, s->len) != 0))
            return false;
    }
    return true;
}

/* What differs between two results, or NULL when they are alike in every
 * field and every element. */
static inline const char *same_result_difference(const struct triton_infer_result *a,
                                                 const struct triton_infer_result *b)
{
    if (!same_result_text(a->model_name, b->model_name) ||
        !same_result_text(a->model_version, b->model_version))
        return "model name or version";
    if (!same_result_text(a->id, b->id))
        return "id";
    if (a->final != b->final || !same_result_json(a->parameters, b->parameters))
        return "parameters";
    if (a->n_outputs != b->n_outputs)
        return "number of outputs";
    for (size_t i = 0; i < a->n_outputs; i++) {
        const struct triton_infer_output *o = &a->outputs[i], *p = &b->outputs[i];
        if (!same_result_text(o->name, p->name) || !same_result_text(o->datatype, p->datatype) ||
            o->dtype != p->dtype)
            return "an output's name or datatype";
        if (o->ndim != p->ndim || memcmp(o->shape, p->shape, sizeof *o->shape * (size_t)o->ndim))
            return "an output's shape";
        if (!same_result_json(o->parameters, p->parameters))
            return "an output's parameters";
        if (o->has_data != p->has_data ||
            (o->has_data && !same_result_tensor(&o->tensor, &p->tensor)))
            return "an output's data";
    }
    return NULL;
}

#endif
