/*
 * grpc_generate.h: the generate extension over gRPC. Triton serves generate
 * only over HTTP; to keep scripts transport-neutral the gRPC client maps a
 * generate body onto a ModelInferRequest (sent over ModelStreamInfer, which
 * decoupled models need; src/grpc/grpc.c) with the model's own tensors, as
 * Triton's HTTP front does (docs/PROTOCOL.md 2.7): a top-level key naming a model
 * input becomes that input (a scalar or a 1-D array, its count filled into the
 * -1 dimensions of the input's shape, the last -1 first), `parameters` and every
 * other key become request parameters, `id` the request id. The reply is
 * {model_name, model_version, id (when not empty), <output>: value} with
 * one-element outputs unwrapped.
 */
#ifndef TRITON_GRPC_GENERATE_H
#define TRITON_GRPC_GENERATE_H

#include <cjson/cJSON.h>
#include <grpc/byte_buffer.h>

#include "client/client.h"

/* metadata: the model's metadata in its HTTP shape ({inputs: [{name, datatype, shape}]}).
 * The ModelInferRequest is added to out, an empty raw byte buffer (nothing on failure). */
int grpc_generate_request(const char *model, const char *version, const cJSON *body,
                          const cJSON *metadata, grpc_byte_buffer *out, struct triton_error *err);

cJSON *grpc_generate_reply(const struct triton_infer_result *r, struct triton_error *err);

#endif
