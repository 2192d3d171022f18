# The reference server (scripts/refserver, a Triton stand-in in Python).
# Its gRPC modules are generated from proto/ into this build tree; its own tests
# (tests/refserver/test_*.py) run only in the plain build: they exercise Python
# code, which the sanitizer build has nothing to add to.

find_program(TRITON_PROTOC protoc PATHS /usr/bin NO_DEFAULT_PATH)
find_program(TRITON_GRPC_PYTHON_PLUGIN grpc_python_plugin PATHS /usr/bin NO_DEFAULT_PATH)
set(TRITON_SYSTEM_PYTHON /usr/bin/python3)
set(TRITON_REFSERVER_PROTO_DIR ${CMAKE_BINARY_DIR}/refserver-proto)

if(TRITON_PROTOC AND TRITON_GRPC_PYTHON_PLUGIN)
    set(_refserver_protos ${CMAKE_SOURCE_DIR}/proto/model_config.proto
                          ${CMAKE_SOURCE_DIR}/proto/grpc_service.proto)
    set(_refserver_outputs ${TRITON_REFSERVER_PROTO_DIR}/model_config_pb2.py
                           ${TRITON_REFSERVER_PROTO_DIR}/grpc_service_pb2.py
                           ${TRITON_REFSERVER_PROTO_DIR}/grpc_service_pb2_grpc.py)
    add_custom_command(
        OUTPUT ${_refserver_outputs}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${TRITON_REFSERVER_PROTO_DIR}
        COMMAND ${TRITON_PROTOC} -I${CMAKE_SOURCE_DIR}/proto
                --python_out=${TRITON_REFSERVER_PROTO_DIR}
                --grpc_out=${TRITON_REFSERVER_PROTO_DIR}
                --plugin=protoc-gen-grpc=${TRITON_GRPC_PYTHON_PLUGIN}
                ${_refserver_protos}
        DEPENDS ${_refserver_protos}
        COMMENT "Generating the reference server's gRPC modules")
    add_custom_target(refserver_protos ALL DEPENDS ${_refserver_outputs})
else()
    message(WARNING "protoc or grpc_python_plugin not found: the reference server generates "
                    "its modules when it starts")
endif()

if(NOT TRITON_SANITIZE)
    file(GLOB TRITON_REFSERVER_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/refserver/test_*.py)
    foreach(test_file ${TRITON_REFSERVER_TESTS})
        get_filename_component(module ${test_file} NAME_WE)
        string(REGEX REPLACE "^test_" "" short ${module})
        add_test(NAME refserver.${short}
                 COMMAND ${TRITON_SYSTEM_PYTHON} -m unittest -v ${module}
                 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/refserver)
        set_tests_properties(refserver.${short} PROPERTIES
            ENVIRONMENT "PYTHONPATH=${CMAKE_SOURCE_DIR}/scripts:${CMAKE_SOURCE_DIR}/tests/refserver;TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR};TRITON_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
            TIMEOUT 300
            LABELS refserver)
    endforeach()
endif()
