# triton.image against Pillow: tests/image/compare_pil.py draws and encodes the
# test images, runs tests/image/dump.lua in the tritonlua host (instrumented in
# the sanitizer build) and compares every stage with Debian's python3-pil and
# numpy doing what Triton's image_client.py does. Included from cmake/Tests.cmake.
add_test(NAME image.pil
         COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/image/compare_pil.py)
set_tests_properties(image.pil PROPERTIES
    ENVIRONMENT "TRITONLUA=$<TARGET_FILE:tritonlua_host>;${TRITON_LSAN_OPTIONS}"
    TIMEOUT 600 LABELS image)
