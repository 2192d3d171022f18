# Generates the protobuf-c code for proto/*.proto into the build tree (never
# into src/) and compiles it into the `triton` core library, where src/grpc and
# src/wire/pb_json.c include it as "proto/grpc_service.pb-c.h".
# Included from CMakeLists.txt right after add_library(triton ...).
find_program(PROTOC_C protoc-c REQUIRED)

set(TRITON_PROTO_DIR ${CMAKE_SOURCE_DIR}/proto)
set(TRITON_PROTO_OUT ${CMAKE_BINARY_DIR}/generated/proto)
set(TRITON_PROTO_NAMES grpc_service model_config)

set(_triton_proto_files)
set(_triton_proto_outputs)
foreach(name ${TRITON_PROTO_NAMES})
    list(APPEND _triton_proto_files ${TRITON_PROTO_DIR}/${name}.proto)
    list(APPEND _triton_proto_outputs ${TRITON_PROTO_OUT}/${name}.pb-c.c
         ${TRITON_PROTO_OUT}/${name}.pb-c.h)
endforeach()

file(MAKE_DIRECTORY ${TRITON_PROTO_OUT})
add_custom_command(
    OUTPUT ${_triton_proto_outputs}
    COMMAND ${PROTOC_C} -I${TRITON_PROTO_DIR} --c_out=${TRITON_PROTO_OUT} ${_triton_proto_files}
    DEPENDS ${_triton_proto_files}
    COMMENT "protoc-c: generating C for proto/*.proto"
    VERBATIM)

set(_triton_proto_sources)
foreach(name ${TRITON_PROTO_NAMES})
    list(APPEND _triton_proto_sources ${TRITON_PROTO_OUT}/${name}.pb-c.c)
endforeach()
target_sources(triton PRIVATE ${_triton_proto_sources})
# Generated code is not ours to keep warning-free under our strict flags.
set_source_files_properties(${_triton_proto_sources} PROPERTIES
    COMPILE_OPTIONS "-Wno-missing-prototypes;-Wno-strict-prototypes;-Wno-shadow;-Wno-unused-parameter")
target_include_directories(triton PUBLIC $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/generated>)
