# Fuzz targets: one per fuzz/fuzz_<name>.c, each a LLVMFuzzerTestOneInput over a
# parser of data that comes from the network or from the user.
#
# clang + TRITON_SANITIZE: libFuzzer executables fuzz_<name> (-fsanitize=fuzzer
#   on top of the build's ASan + UBSan). The core and the binding get
#   -fsanitize=fuzzer-no-link so that libFuzzer sees their coverage and their
#   comparisons; the sanitizer runtime supplies no-op hooks for the other
#   executables of this build. ctest's fuzz.<name> replays the seeds and the crash
#   reproducers, then fuzzes for TRITON_FUZZ_SMOKE_SECONDS (fuzz/smoke.sh);
#   scripts/fuzz runs them for longer.
# Any other build: fuzz_<name>_replay executables (fuzz/replay.c as main) run by
#   ctest's fuzz.<name> over the seeds and the reproducers, so that every crash
#   found stays a regression test in the plain and gcc builds too.
# Included from CMakeLists.txt after the core, the binding and the tests.

if(NOT TRITON_BUILD_TESTS)
    return()
endif()

file(GLOB TRITON_FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
# the targets that drive the Lua binding need the tritonlua library, not just the core
set(TRITON_FUZZ_LUA_TARGETS lua_tensor json)
set(TRITON_FUZZ_SMOKE_SECONDS 3 CACHE STRING "Seconds of fuzzing per target in ctest")

if(CMAKE_C_COMPILER_ID STREQUAL "Clang" AND TRITON_SANITIZE)
    set(TRITON_FUZZ_LIBFUZZER ON)
    target_compile_options(triton PRIVATE -fsanitize=fuzzer-no-link)
    target_compile_options(tritonlua PRIVATE -fsanitize=fuzzer-no-link)
else()
    set(TRITON_FUZZ_LIBFUZZER OFF)
endif()

add_library(triton_fuzz_support STATIC ${CMAKE_SOURCE_DIR}/fuzz/support.c)
target_link_libraries(triton_fuzz_support PUBLIC triton)
# tests/support/same_result.h: one comparison of infer results for tests and fuzz targets
target_include_directories(triton_fuzz_support PUBLIC ${CMAKE_SOURCE_DIR}/fuzz
                           ${CMAKE_SOURCE_DIR}/tests/support)
if(TRITON_FUZZ_LIBFUZZER)
    target_compile_options(triton_fuzz_support PRIVATE -fsanitize=fuzzer-no-link)
endif()

set(_triton_fuzz_all)
foreach(src ${TRITON_FUZZ_TARGETS})
    get_filename_component(target ${src} NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" name ${target})
    if(TRITON_FUZZ_LIBFUZZER)
        set(exe ${target})
        add_executable(${exe} ${src})
        target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
        target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
    else()
        set(exe ${target}_replay)
        add_executable(${exe} ${src} ${CMAKE_SOURCE_DIR}/fuzz/replay.c)
    endif()
    target_link_libraries(${exe} PRIVATE triton_fuzz_support)
    if(name IN_LIST TRITON_FUZZ_LUA_TARGETS)
        target_link_libraries(${exe} PRIVATE tritonlua)
    endif()
    set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    list(APPEND _triton_fuzz_all ${exe})

    if(TRITON_FUZZ_LIBFUZZER)
        add_test(NAME fuzz.${name}
                 COMMAND ${CMAKE_SOURCE_DIR}/fuzz/smoke.sh $<TARGET_FILE:${exe}> ${name}
                         ${TRITON_FUZZ_SMOKE_SECONDS} ${CMAKE_SOURCE_DIR}
                         ${CMAKE_BINARY_DIR}/fuzz-artifacts/${name})
        set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
    else()
        add_test(NAME fuzz.${name}
                 COMMAND ${exe} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name}
                         ${CMAKE_SOURCE_DIR}/fuzz/regressions/${name})
        set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
    endif()
endforeach()

# scripts/fuzz builds just these
add_custom_target(fuzz_targets DEPENDS ${_triton_fuzz_all})
