/*
 * grpc_wire.h: ModelInferRequest / ModelInferResponse on the wire, without
 * copying tensor bytes where it can be avoided.
 *
 * Sending: the request is packed through a custom ProtobufCBuffer that turns
 * every big piece (>= GRPC_WIRE_SLICE_MIN bytes: raw_input_contents taken
 * straight from tensor memory) into an external gRPC slice holding a reference
 * on its tensor_buffer, and copies only the small framing bytes. The tensor's
 * memory therefore stays alive until gRPC drops the slice, whenever that is.
 *
 * Receiving: the reply is read into one contiguous buffer (owned by a
 * tensor_buffer), its top-level fields are walked by hand, raw_output_contents
 * are kept as (ptr, len) pieces into that buffer and everything else (small) is
 * handed to protobuf-c. Output tensors are then views over the buffer (or
 * copies where the element alignment does not allow a view). Every length read
 * from the wire is checked against what is left before use.
 */
#ifndef TRITON_GRPC_WIRE_H
#define TRITON_GRPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/byte_buffer.h>

#include "client/client.h"
#include "proto/grpc_service.pb-c.h"
#include "common/error.h"
#include "tensor/tensor.h"

#define GRPC_WIRE_SLICE_MIN 4096

/* Serialises an infer request; *out is a new byte buffer whose big pieces are
 * slices over the inputs' tensor memory (each holding a buffer reference). */
int grpc_wire_infer_request(const struct triton_infer_request *req, grpc_byte_buffer **out,
                            struct triton_error *err);

/* Packs any message into a byte buffer (one copy; for control-plane requests). */
int grpc_wire_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out, struct triton_error *err);

/* The whole reply in one buffer: a tensor_buffer (refs = 1) over the bytes. */
struct tensor_buffer *grpc_wire_read(grpc_byte_buffer *bb, struct triton_error *err);

/* Parses a ModelInferResponse at data[0..len) (inside owner's memory). */
int grpc_wire_parse_infer_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                   struct triton_infer_result **out, struct triton_error *err);

/* Parses a ModelStreamInferResponse: either *error_message (malloc'd, non-empty)
 * or *out is set (both may be set if the server sent both; both NULL for an
 * empty message). */
int grpc_wire_parse_stream_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                    char **error_message, struct triton_infer_result **out,
                                    struct triton_error *err);

/* An InferParameter as a plain JSON value (null when unset). */
cJSON *grpc_wire_param_value(const Inference__InferParameter *p);

#endif
