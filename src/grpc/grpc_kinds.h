/*
 * grpc_kinds.h: how each call kind (client.h's call table) travels over gRPC:
 * its method on GRPCInferenceService, the function that packs its request,
 * and the message its reply comes in.
 *
 * This table, indexed by enum triton_call_kind, is the one place in the gRPC
 * transport that tells call kinds apart. Replies are decoded by the kind's
 * reply shape: a boolean from the reply's one bool field, nothing, the reply in
 * its HTTP JSON shape (pb_json), or an infer result (grpc_wire). generate and
 * generate_stream are not unary calls: grpc.c maps their body onto the model's
 * inputs (grpc_generate.h) and runs them over ModelStreamInfer.
 */
#ifndef TRITON_GRPC_GRPC_KINDS_H
#define TRITON_GRPC_GRPC_KINDS_H

#include <stdbool.h>

#include <grpc/byte_buffer.h>
#include <protobuf-c/protobuf-c.h>

#include "client/client.h"

#define GRPC_METHOD(name) "/inference.GRPCInferenceService/" name

/* Adds the call's request message to out, an empty raw byte buffer the caller
 * owns (one a call state keeps from call to call); adds nothing on failure. */
typedef int (*grpc_encode_fn)(const struct triton_call *call, grpc_byte_buffer *out,
                              struct triton_error *err);

struct grpc_kind {
    const char *method;
    grpc_encode_fn encode;                   /* NULL for generate kinds */
    const ProtobufCMessageDescriptor *reply; /* NULL where grpc_wire parses it */
    bool generate;                           /* grpc.c's generate path, not a unary call */
};

extern const struct grpc_kind grpc_kinds[TRITON_CALL_NKINDS];

/* Decodes the reply bb of a unary call of `kind` into reply by the kind's
 * reply shape. req is the infer request of an infer call (outputs it placed in
 * shared memory come without data), else NULL. */
int grpc_decode(enum triton_call_kind kind, const struct triton_infer_request *req,
                grpc_byte_buffer *bb, struct triton_reply *reply, struct triton_error *err);

#endif
