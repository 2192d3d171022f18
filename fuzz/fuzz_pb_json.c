/*
 * fuzz_pb_json.c: the protobuf-c reply -> cJSON converter (wire/pb_json.h), the
 * path every gRPC control-plane reply takes to the binding.
 *
 * Input: a selector byte (which reply message the bytes are, mod the table
 * below), then the message bytes. What protobuf-c unpacks is converted with
 * pb_json_http_shape (the per-reply reshaping) and with the generic conversion,
 * with and without defaults; each tree is printed, which walks all of it, and
 * must read back as what was printed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "proto/grpc_service.pb-c.h"
#include "wire/json.h"
#include "wire/pb_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every reply of the GRPCInferenceService; the order fixes the selector byte of
 * the seed files (fuzz/capture.py writes the same table). */
static const ProtobufCMessageDescriptor *const replies[] = {
    &inference__server_live_response__descriptor,
    &inference__server_ready_response__descriptor,
    &inference__model_ready_response__descriptor,
    &inference__server_metadata_response__descriptor,
    &inference__model_metadata_response__descriptor,
    &inference__model_infer_response__descriptor,
    &inference__model_stream_infer_response__descriptor,
    &inference__model_config_response__descriptor,
    &inference__model_statistics_response__descriptor,
    &inference__repository_index_response__descriptor,
    &inference__repository_model_load_response__descriptor,
    &inference__repository_model_unload_response__descriptor,
    &inference__system_shared_memory_status_response__descriptor,
    &inference__system_shared_memory_register_response__descriptor,
    &inference__system_shared_memory_unregister_response__descriptor,
    &inference__cuda_shared_memory_status_response__descriptor,
    &inference__cuda_shared_memory_register_response__descriptor,
    &inference__cuda_shared_memory_unregister_response__descriptor,
    &inference__trace_setting_response__descriptor,
    &inference__log_settings_response__descriptor,
};
#define N_REPLIES (sizeof replies / sizeof replies[0])

static void print_and_free(cJSON *j, const struct triton_error *err, const char *what)
{
    if (!j) {
        if (!err->message[0])
            fuzz_fail("%s failed without an error message", what);
        return;
    }
    size_t n, n2;
    char *text = wire_json_print(j, &n);
    if (!text)
        fuzz_fail("%s gave a tree that does not print", what);
    /* what we print must read back, and print the same again: a tree with an
     * invalid string or an inexact number would reach Lua as a value HTTP
     * could never have produced */
    struct triton_error perr = {0};
    cJSON *back = wire_json_parse(text, n, &perr);
    if (!back)
        fuzz_fail("%s printed JSON that does not parse (%s): %.200s", what, perr.message, text);
    char *again = wire_json_print(back, &n2);
    if (!again || n != n2 || memcmp(text, again, n) != 0)
        fuzz_fail("%s printed JSON that reads back different: %.200s", what, text);
    free(again);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    const ProtobufCMessageDescriptor *desc = replies[fuzz_u8(&in) % N_REPLIES];
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, in.n, in.p);
    if (!msg)
        return 0;
    struct triton_error err = {0};
    print_and_free(pb_json_http_shape(msg, &err), &err, "pb_json_http_shape");
    struct triton_error err2 = {0};
    print_and_free(pb_json_from_message(msg, true, &err2), &err2, "pb_json_from_message");
    struct triton_error err3 = {0};
    print_and_free(pb_json_from_message(msg, false, &err3), &err3, "pb_json_from_message");
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
