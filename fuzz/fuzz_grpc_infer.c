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
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "grpc/grpc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t error_bytes;

static void sink_string(const char *s)
{
    error_bytes += strlen(s);
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
    if (flags & 1)
        rc = grpc_wire_parse_stream_response(msg, in.n, owner, &error_message, &r, &err);
    else
        rc = grpc_wire_parse_infer_response(msg, in.n, owner, &r, &err);
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
