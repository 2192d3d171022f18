# Tests run by ctest: C unit tests (tests/test_*.c, no Lua), the busted specs
# (spec/*_spec.lua) and the reference server's own tests.

# ---- C unit tests: one executable per tests/test_*.c, linked to the core ----
# Where the reference server (started by C tests, specs and examples) finds its
# generated Python modules: this build tree (cmake/RefServer.cmake makes them).
set(TRITON_REFSERVER_PROTO_DIR ${CMAKE_BINARY_DIR}/refserver-proto)
# LeakSanitizer: only documented third-party leaks are suppressed (see the file).
set(TRITON_LSAN_OPTIONS "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp")

# A hung test fails after this many seconds instead of holding up the run (ctest
# sets no limit of its own without CTest's dashboard files). The slowest, the
# fleet specs under ASan, take about 90 s.
set(TRITON_TEST_TIMEOUT 600)

# tests/support/*.c (e.g. starting the reference server) is linked into each.
file(GLOB TRITON_TEST_SUPPORT CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/support/*.c)
add_library(triton_test_support STATIC ${TRITON_TEST_SUPPORT})
target_link_libraries(triton_test_support PUBLIC triton)
target_include_directories(triton_test_support PUBLIC ${CMAKE_SOURCE_DIR}/tests
                           ${CMAKE_SOURCE_DIR}/tests/support)
file(GLOB TRITON_C_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.c)
foreach(src ${TRITON_C_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE triton_test_support)
    add_test(NAME c.${name} COMMAND ${name})
    set_tests_properties(c.${name} PROPERTIES TIMEOUT ${TRITON_TEST_TIMEOUT} ENVIRONMENT
        "TRITON_SOURCE_DIR=${CMAKE_SOURCE_DIR};TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR};${TRITON_LSAN_OPTIONS}")
endforeach()
# test_image_resize makes the core's allocations fail one by one: the link sends
# its malloc, calloc, realloc and free calls to the test's wrappers.
target_link_options(test_image_resize PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc
                    -Wl,--wrap=realloc -Wl,--wrap=free)

# ---- busted specs --------------------------------------------------------------
# The plain build runs them in a stock lua5.4 that loads build/lua/triton/core.so,
# which proves `require "triton"` works from any host. The sanitizer build runs
# them in the tritonlua host instead, so that every byte of our C is instrumented
# (a stock lua5.4 cannot load an ASan-built module).
find_program(BUSTED busted REQUIRED)
find_program(LUA54 lua5.4 REQUIRED)
if(TRITON_SANITIZE)
    set(TRITON_SPEC_LUA $<TARGET_FILE:tritonlua_host>)
else()
    set(TRITON_SPEC_LUA ${LUA54})
endif()
set(TRITON_TEST_ENV
    "LUA_PATH_5_4=${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_SOURCE_DIR}/spec/?.lua\;\;"
    "LUA_CPATH_5_4=${CMAKE_BINARY_DIR}/lua/?.so\;\;"
    "TRITONLUA=$<TARGET_FILE:tritonlua_host>"
    "TRITON_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR}"
    "TRITON_BUILD_DIR=${CMAKE_BINARY_DIR}"
    "TRITON_SANITIZE=$<BOOL:${TRITON_SANITIZE}>"
    "${TRITON_LSAN_OPTIONS}")

file(GLOB TRITON_SPECS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/spec/*_spec.lua)
foreach(spec ${TRITON_SPECS})
    get_filename_component(name ${spec} NAME_WE)
    string(REGEX REPLACE "_spec$" "" name ${name})
    add_test(NAME spec.${name}
             COMMAND ${TRITON_SPEC_LUA} ${BUSTED} --output=gtest ${spec}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(spec.${name} PROPERTIES TIMEOUT ${TRITON_TEST_TIMEOUT}
                         ENVIRONMENT "${TRITON_TEST_ENV}")
endforeach()

# The same specs again under Lua 5.3 and LuaJIT, each with its own core.so
# (cmake/LuaModules.cmake): spec.lua53.NAME, spec.luajit.NAME. Plain build only: a
# stock interpreter cannot load an ASan-built module, and the sanitizer build's
# host is 5.4. A case that holds only under some Luas says so (h.only, spec/support).
if(NOT TRITON_SANITIZE)
    foreach(v ${TRITON_LUA_VERSIONS})
        if(v STREQUAL "5.3")
            find_program(LUA53 lua5.3 REQUIRED)
            set(_lua ${LUA53})
            set(_tag lua53)
            set(_folder lua5.3)
            set(_suffix _5_3)
        elseif(v STREQUAL "jit")
            find_program(LUAJIT luajit REQUIRED)
            set(_lua ${LUAJIT})
            set(_tag luajit)
            set(_folder luajit)
            set(_suffix "") # LuaJIT reads LUA_PATH and LUA_CPATH
        else()
            continue()
        endif()
        set(_env ${TRITON_TEST_ENV})
        list(FILTER _env EXCLUDE REGEX "^LUA_C?PATH_5_4=")
        list(APPEND _env
            "LUA_PATH${_suffix}=${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_SOURCE_DIR}/spec/?.lua\;\;"
            "LUA_CPATH${_suffix}=${CMAKE_BINARY_DIR}/${_folder}/?.so\;\;")
        foreach(spec ${TRITON_SPECS})
            get_filename_component(name ${spec} NAME_WE)
            string(REGEX REPLACE "_spec$" "" name ${name})
            add_test(NAME spec.${_tag}.${name}
                     COMMAND ${_lua} ${BUSTED} --output=gtest ${spec}
                     WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
            set_tests_properties(spec.${_tag}.${name} PROPERTIES TIMEOUT ${TRITON_TEST_TIMEOUT}
                                 ENVIRONMENT "${_env}")
        endforeach()
    endforeach()
endif()

# ---- triton.image against Pillow (tests/image) -------------------------------------
include(${CMAKE_SOURCE_DIR}/cmake/Image.cmake)

# ---- reference server (scripts/refserver) ----------------------------------------
include(${CMAKE_SOURCE_DIR}/cmake/RefServer.cmake OPTIONAL)

# ---- examples (examples/*.lua run against the reference server) -----------------
include(${CMAKE_SOURCE_DIR}/cmake/Examples.cmake OPTIONAL)
include(${CMAKE_SOURCE_DIR}/cmake/Hosts.cmake) # apps that host Lua and own their loop
include(${CMAKE_SOURCE_DIR}/cmake/Lint.cmake)

# ---- installing and embedding (plain build: the staged install is this build) ------
if(NOT TRITON_SANITIZE)
    add_test(NAME install.embed
             COMMAND ${CMAKE_SOURCE_DIR}/tests/install/check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR}
                     "${TRITON_LUA_VERSIONS}")
    set_tests_properties(install.embed PROPERTIES TIMEOUT 300)
    # only luaopen_* and triton_lua_* leave each core.so and the static libraries
    set(_modules "")
    foreach(t ${TRITON_LUA_MODULE_TARGETS})
        list(APPEND _modules $<TARGET_FILE:${t}>)
    endforeach()
    add_test(NAME install.symbols
             COMMAND ${CMAKE_SOURCE_DIR}/tests/install/symbols.sh ${CMAKE_SOURCE_DIR}/include/triton_lua.h
                     $<TARGET_FILE:tritonlua> $<TARGET_FILE:triton> ${_modules})
    # `luarocks make` of a copy of the source into a temporary tree, offline, for
    # 5.4 and 5.3 (Debian's luarocks runs for both; for LuaJIT it needs --lua-dir)
    set(_rock_luas 5.4)
    if("5.3" IN_LIST TRITON_LUA_VERSIONS)
        list(APPEND _rock_luas 5.3)
    endif()
    add_test(NAME install.luarocks
             COMMAND ${CMAKE_SOURCE_DIR}/tests/install/luarocks.sh ${CMAKE_SOURCE_DIR} ${_rock_luas})
    set_tests_properties(install.luarocks PROPERTIES TIMEOUT 1200 SKIP_RETURN_CODE 77)
endif()
