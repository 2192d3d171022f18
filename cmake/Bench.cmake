# Benchmarks (bench/): built with everything else so they keep compiling, run only
# by scripts/bench-tensor and scripts/bench, never by ctest (timings are not pass/fail).

# The plain-C baseline bench/tensor.lua compares against; it embeds Lua only to
# read the same Lua table the tensor code reads.
add_executable(tensor_baseline ${CMAKE_SOURCE_DIR}/bench/tensor_baseline.c)
target_link_libraries(tensor_baseline PRIVATE PkgConfig::LUA m)
set_target_properties(tensor_baseline PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

# The client benchmark's baselines (scripts/bench): plain C over libcurl and over
# gRPC's C core, sending a request built once to the reference server.
add_executable(baseline_http ${CMAKE_SOURCE_DIR}/bench/baseline_http.c)
target_link_libraries(baseline_http PRIVATE PkgConfig::CURL)
# baseline_grpc sets gRPC up as the client does, with the client's own switch for abseil.
add_executable(baseline_grpc ${CMAKE_SOURCE_DIR}/bench/baseline_grpc.c
               ${CMAKE_SOURCE_DIR}/src/grpc/grpc_absl.cc)
target_include_directories(baseline_grpc PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(baseline_grpc PRIVATE PkgConfig::GRPC)
set_target_properties(baseline_http baseline_grpc PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
