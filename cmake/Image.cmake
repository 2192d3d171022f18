# triton.image against Pillow: tests/image/compare_pil.py draws and encodes the
# test images, runs tests/image/dump.lua in the tritonlua host (instrumented in
# the sanitizer build) and compares every stage with Debian's python3-pil and
# numpy doing what Triton's image_client.py does. Included from cmake/Tests.cmake.
add_test(NAME image.pil
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/image/compare_pil.py)
set_tests_properties(image.pil PROPERTIES
    ENVIRONMENT "TRITONLUA=$<TARGET_FILE:tritonlua_host>;${TRITON_LSAN_OPTIONS}"
    TIMEOUT 600 LABELS image)

# examples/image_client.lua needs flags and images, so cmake/Examples.cmake leaves
# it to this driver: it draws red, green and striped PNGs and compares the
# example's output with the expected lines, against a fresh reference server.
foreach(proto http grpc)
    add_test(NAME example.image_client.${proto}
             COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver
                     /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/image/image_client_check.py
                     $<TARGET_FILE:tritonlua_host> ${CMAKE_SOURCE_DIR}/examples/image_client.lua
                     ${proto})
    set_tests_properties(example.image_client.${proto} PROPERTIES
        ENVIRONMENT "TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR};${TRITON_LSAN_OPTIONS}"
        TIMEOUT 300 LABELS "example;image")
endforeach()
