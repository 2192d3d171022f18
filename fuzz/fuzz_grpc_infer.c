/*
 * fuzz_grpc_infer.c: the gRPC infer reply parsers (grpc/grpc_wire.h), which walk
 * a ModelInferResponse or ModelStreamInferResponse by hand to keep
 * raw_output_contents in place, over bytes a hostile server could send.
 *
 * Input: one flags byte, then the message bytes.
 *   flags & 1   a ModelStreamInferResponse (else a ModelInferResponse)
 *   flags >> 1  misalignment (0..7) of the message in its owner buffer
 * The reply always lives in an owner buffer, as grpc_wire_read gives it; the
 * owner's reference is dropped before the outputs are read.
 *
 * A ModelInferResponse is also read by the general reader (protobuf-c's), by
 * the fast reader alone and from a gRPC byte buffer as a ModelInfer reply is
 * (read in place, raw contents moved): the readers the client uses must give
 * the general reader's outcome on every input (the same result, or the same
 * error), and so must the fast reader wherever it does not decline the reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/slice.h>

#include "same_result.h"
#include "support.h"
#include "grpc/grpc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t error_bytes;

static void sink_string(const char *s)
{
    error_bytes += strlen(s);
}

/* Holds one reader's outcome against the general reader's. */
static void check_same_outcome(const char *reader, int rc, const struct triton_infer_result *r,
                               const struct triton_error *err, int want_rc,
                               const struct triton_infer_result *want,
                               const struct triton_error *want_err)
{
    if (rc != want_rc)
        fuzz_fail("%s reader: %s, general reader: %s", reader, rc < 0 ? err->message : "a result",
                  want_rc < 0 ? want_err->message : "a result");
    if (rc < 0 && (err->code != want_err->code || strcmp(err->message, want_err->message) != 0))
        fuzz_fail("%s reader's error (%s) differs from the general reader's (%s)", reader,
                  err->message, want_err->message);
    const char *diff = rc == 0 ? same_result_difference(r, want) : NULL;
    if (diff)
        fuzz_fail("%s reader's result differs from the general reader's: %s", reader, diff);
}

static void check_readers(const uint8_t *msg, size_t n, struct tensor_buffer *owner, int rc,
                          const struct triton_infer_result *r, const struct triton_error *err)
{
    struct triton_error gerr = {0}, ferr = {0};
    struct triton_infer_result *g = NULL, *f = NULL;
    int grc =
        grpc_wire_parse_infer_response_with(msg, n, owner, GRPC_WIRE_READER_GENERAL, &g, &gerr);
    check_same_outcome("the client's", rc, r, err, grc, g, &gerr);
    int frc = grpc_wire_parse_infer_response_with(msg, n, owner, GRPC_WIRE_READER_FAST, &f, &ferr);
    if (frc != 1)
        check_same_outcome("the fast", frc, f, &ferr, grc, g, &gerr);
    triton_infer_result_free(f);
    /* as a ModelInfer reply arrives: one slice, read in place */
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)msg, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    struct triton_error berr = {0};
    struct triton_infer_result *b = NULL;
    int brc = grpc_wire_read_infer_response(bb, &b, &berr);
    grpc_byte_buffer_destroy(bb);
    check_same_outcome("the byte buffer", brc, b, &berr, grc, g, &gerr);
    if (b)
        fuzz_check_result(b);
    triton_infer_result_free(b);
    triton_infer_result_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    struct tensor_buffer *owner = fuzz_owner_copy(in.p, in.n, flags >> 1);
    const uint8_t *msg = owner->data;
    struct triton_error err = {0};
    struct triton_infer_result *r = NULL;
    char *error_message = NULL;
    int rc;
    if (flags & 1) {
        rc = grpc_wire_parse_stream_response(msg, in.n, owner, &error_message, &r, &err);
    } else {
        rc = grpc_wire_parse_infer_response(msg, in.n, owner, &r, &err);
        check_readers(msg, in.n, owner, rc, r, &err);
    }
    tensor_buffer_unref(owner);
    if (rc < 0) {
        if (r || error_message)
            fuzz_fail("failed parse left a result behind");
        if (!err.message[0] || err.code == TRITON_OK)
            fuzz_fail("failed parse without an error message");
        return 0;
    }
    /* grpc_wire.h promises a non-empty error_message, but one whose first byte
     * is NUL comes back as "" (strndup stops there): harmless for the caller,
     * which only tests for NULL, so not stopped on here */
    if (error_message)
        sink_string(error_message);
    free(error_message);
    if (r) {
        fuzz_check_result(r);
        triton_infer_result_free(r);
    }
    return 0;
}
