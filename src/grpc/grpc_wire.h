/*
 * grpc_wire.h: ModelInferRequest / ModelInferResponse on the wire, without
 * copying tensor bytes where it can be avoided.
 *
 * Sending: a ModelInferRequest is written field by field in one pass, then
 * copied into one buffer, in the canonical form protobuf-c would pack it;
 * every big raw_input_contents (>= GRPC_WIRE_SLICE_MIN bytes) is not copied
 * but goes as an external gRPC slice over the tensor's memory, holding a
 * reference on its tensor_buffer, which therefore stays alive until gRPC drops
 * the slice, whenever that is.
 *
 * Receiving: the reply is read into one contiguous buffer (owned by a
 * tensor_buffer) and read in place by a reader of its own, which declines any
 * reply protobuf-c might read differently (unusual encodings, sub-messages sent
 * twice, typed contents): those go to the general reader, which keeps
 * raw_output_contents in place and hands the rest (small) to protobuf-c. Both
 * produce the same view of the reply, from which one function builds the
 * result: the result, its outputs and their text in one allocation, output
 * tensors as views over the buffer (or copies where the element alignment does
 * not allow a view). Every length read from the wire is checked against what
 * is left before use.
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

/* Both writers add one message to out, an empty raw byte buffer the caller owns
 * (grpc_raw_byte_buffer_create(NULL, 0)), and add nothing on failure: a call
 * state keeps its byte buffer from call to call, since gRPC takes the slices
 * of a sent message out of it and leaves the buffer itself to its owner. */

/* Serialises an infer request; its big pieces are slices over the inputs'
 * tensor memory (each holding a buffer reference). */
int grpc_wire_infer_request(const struct triton_infer_request *req, grpc_byte_buffer *out,
                            struct triton_error *err);

/* Packs any message (one copy; for control-plane requests). */
int grpc_wire_pack(const ProtobufCMessage *msg, grpc_byte_buffer *out, struct triton_error *err);

/* The whole reply in one buffer: a tensor_buffer (refs = 1) over the bytes. */
struct tensor_buffer *grpc_wire_read(grpc_byte_buffer *bb, struct triton_error *err);

/* Reads the ModelInferResponse in bb: a small reply in one slice is read where
 * gRPC holds it and only its raw contents are copied (each output a view over
 * the copy), any other through grpc_wire_read. */
int grpc_wire_read_infer_response(grpc_byte_buffer *bb, struct triton_infer_result **out,
                                  struct triton_error *err);

/* Parses a ModelInferResponse at data[0..len) (inside owner's memory). */
int grpc_wire_parse_infer_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                   struct triton_infer_result **out, struct triton_error *err);

/* The same with a chosen reader, so that tests can hold the two readers
 * against each other: AUTO is the above; FAST returns 1 (nothing set) for a
 * reply it declines; GENERAL is protobuf-c's. */
enum grpc_wire_reader { GRPC_WIRE_READER_AUTO, GRPC_WIRE_READER_FAST, GRPC_WIRE_READER_GENERAL };
int grpc_wire_parse_infer_response_with(const uint8_t *data, size_t len,
                                        struct tensor_buffer *owner, enum grpc_wire_reader reader,
                                        struct triton_infer_result **out, struct triton_error *err);

/* Parses a ModelStreamInferResponse: either *error_message (malloc'd, non-empty)
 * or *out is set (both may be set if the server sent both; both NULL for an
 * empty message). */
int grpc_wire_parse_stream_response(const uint8_t *data, size_t len, struct tensor_buffer *owner,
                                    char **error_message, struct triton_infer_result **out,
                                    struct triton_error *err);

#endif
