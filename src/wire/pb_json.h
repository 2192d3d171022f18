/*
 * pb_json.h: protobuf-c messages as cJSON trees, driven by protobuf-c's
 * descriptors, so that gRPC replies reach the binding in the same shape as
 * Triton's HTTP/REST JSON.
 *
 * The generic conversion (pb_json_from_message) follows protobuf's JSON
 * mapping with Triton's printer options (preserve_proto_field_names, and
 * always_print_primitive_fields when `emit_defaults`):
 *   - field names as in the .proto (snake_case);
 *   - enums as their value names ("TYPE_INT32"); an unknown value as its number;
 *   - every integer type (int64 and uint64 included) as a JSON number, as Triton
 *     fixes up its model-config JSON, exactly (wire/json.h's number nodes);
 *   - float as the shortest decimal that reads back as the same float (0.1f
 *     gives 0.1, as Python's protobuf prints it), double as is;
 *   - bytes as standard base64 (protobuf's JSON mapping);
 *   - float and double NaN and infinities as the strings "NaN", "Infinity" and
 *     "-Infinity" (protobuf's JSON mapping: JSON has no such numbers);
 *   - integer map keys as their exact decimal text;
 *   - map fields (repeated *Entry messages with key and value) as objects;
 *   - oneofs: only the member that is set;
 *   - repeated fields as arrays, nested messages as objects; an unset nested
 *     message is omitted even with emit_defaults (proto3 keeps its presence).
 *
 * pb_json_http_shape reshapes the replies whose gRPC and HTTP forms differ (see
 * the .c for each), and applies emit_defaults where Triton's HTTP JSON prints
 * every field.
 */
#ifndef TRITON_WIRE_PB_JSON_H
#define TRITON_WIRE_PB_JSON_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"

/* The generic conversion; NULL with err set (out of memory, nesting too deep). */
cJSON *pb_json_from_message(const ProtobufCMessage *msg, bool emit_defaults,
                            struct triton_error *err);

/* The reply of a GRPCInferenceService control-plane method in the shape of the
 * HTTP reply for the same request:
 *   ServerMetadataResponse, ModelMetadataResponse, ModelStatisticsResponse: the
 *     message itself with every field printed;
 *   ModelConfigResponse: its `config` (every field printed, as Triton's HTTP does);
 *   RepositoryIndexResponse: the list of models [{name, version, state, reason}];
 *   System/CudaSharedMemoryStatusResponse: the map's values as a list sorted by
 *     region name (Triton keeps its regions in a sorted std::map);
 *   TraceSettingResponse: {key: value}, value a list for trace_level and a plain
 *     string for other keys with exactly one value (a list otherwise);
 *   LogSettingsResponse: {key: bool | number | string} (null when unset);
 *   any other message: the generic conversion with defaults. */
cJSON *pb_json_http_shape(const ProtobufCMessage *msg, struct triton_error *err);

#endif
