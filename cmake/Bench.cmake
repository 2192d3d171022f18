# Benchmarks (bench/): built with everything else so they keep compiling, run only
# by scripts/bench-tensor, never by ctest (timings are not pass/fail).

# The plain-C baseline bench/tensor.lua compares against; it embeds Lua only to
# read the same Lua table the tensor code reads.
add_executable(tensor_baseline ${CMAKE_SOURCE_DIR}/bench/tensor_baseline.c)
target_link_libraries(tensor_baseline PRIVATE PkgConfig::LUA m)
set_target_properties(tensor_baseline PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
