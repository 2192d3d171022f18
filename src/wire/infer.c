/*
 * infer.c: freeing an inference result (see infer.h).
 */
#include "wire/infer.h"

#include <stdlib.h>

void triton_infer_result_free(struct triton_infer_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_outputs; i++) {
        struct triton_infer_output *o = &r->outputs[i];
        free(o->name);
        free(o->datatype);
        cJSON_Delete(o->parameters);
        if (o->has_data)
            tensor_release(&o->tensor);
    }
    free(r->outputs);
    free(r->model_name);
    free(r->model_version);
    free(r->id);
    cJSON_Delete(r->parameters);
    free(r);
}
