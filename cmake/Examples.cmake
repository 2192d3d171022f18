# examples/*.lua run by ctest against a fresh reference server, once per transport
# each example names in a "-- transports: http grpc" line. They assert what they
# print, so a broken example fails the suite. They run in the tritonlua host (the
# sanitizer build's host is instrumented). demo.lua runs over both at once.
file(GLOB TRITON_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.lua)
foreach(example ${TRITON_EXAMPLES})
    get_filename_component(name ${example} NAME_WE)
    file(STRINGS ${example} transports_line REGEX "^-- transports:" LIMIT_COUNT 1)
    if(name STREQUAL "image_client") # needs flags and images: cmake/Image.cmake runs it
        continue()
    endif()
    if(name STREQUAL "demo")
        add_test(NAME example.demo
                 COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver
                         $<TARGET_FILE:tritonlua_host> ${example})
        set_tests_properties(example.demo PROPERTIES
            ENVIRONMENT "TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR};${TRITON_LSAN_OPTIONS}"
            TIMEOUT 300 LABELS example)
        continue()
    endif()
    if(NOT transports_line)
        message(FATAL_ERROR "${example}: needs a '-- transports: ...' line")
    endif()
    string(REGEX REPLACE "^-- transports:[ ]*" "" transports "${transports_line}")
    string(REPLACE " " ";" transports "${transports}")
    foreach(proto ${transports})
        string(TOUPPER ${proto} PROTO)
        # with-testserver exports TRITON_HTTP_URL / TRITON_GRPC_URL for the command.
        add_test(NAME example.${name}.${proto}
                 COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver
                         sh -c "exec \"$0\" \"$1\" \"$TRITON_${PROTO}_URL\""
                         $<TARGET_FILE:tritonlua_host> ${example})
        set_tests_properties(example.${name}.${proto} PROPERTIES
            ENVIRONMENT "TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR};${TRITON_LSAN_OPTIONS}"
            TIMEOUT 300 LABELS example)
    endforeach()
endforeach()
