# Tests of the apps that host Lua and own their event loop (docs/EMBEDDING.md):
# the recipes of examples/hosts/ driven by the tests of tests/hosts/, each
# against a fresh reference server on free ports (scripts/with-testserver).
#
#   hosts.luv.<lua>, hosts.cqueues.<lua>  a stock interpreter with Debian's
#       lua-luv / lua-cqueues, for every Lua whose module this build makes
#       (lua5.4, lua5.3, luajit);
#   hosts.apache       Apache httpd + mod_lua (Lua 5.3), examples/hosts/apache_handler.lua;
#   hosts.nvim.fast, hosts.nvim.scheduled  Neovim headless (LuaJIT), vim.loop;
#   hosts.c_host       examples/hosts/c_host.c: a C app's own poll() loop;
#   hosts.interrupts   tests/hosts/test_interrupts.c: per-state interrupts.
#
# A stock interpreter cannot load an ASan-built module (the sanitizer runtime
# must come first in the process), so the tests that run one are registered in
# the plain build only; the C ones link the static library and run in both.

# ---- C hosts (static library, Lua 5.4) ----------------------------------------
add_executable(c_host ${CMAKE_SOURCE_DIR}/examples/hosts/c_host.c)
target_link_libraries(c_host PRIVATE tritonlua)

set(TRITON_HOSTS_LUA_PATH
    "${CMAKE_SOURCE_DIR}/lua/?.lua\;${CMAKE_SOURCE_DIR}/lua/?/init.lua\;${CMAKE_SOURCE_DIR}/examples/hosts/?.lua\;${CMAKE_SOURCE_DIR}/tests/hosts/?.lua\;\;")
set(TRITON_HOSTS_ENV
    "TRITON_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "TRITON_REFSERVER_PROTO_DIR=${TRITON_REFSERVER_PROTO_DIR}"
    "${TRITON_LSAN_OPTIONS}")

add_test(NAME hosts.c_host
         COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver
                 $<TARGET_FILE:c_host> ${CMAKE_SOURCE_DIR}/tests/hosts/c_app.lua)
set_tests_properties(hosts.c_host PROPERTIES TIMEOUT 120 LABELS hosts
    ENVIRONMENT "${TRITON_HOSTS_ENV};LUA_PATH_5_4=${TRITON_HOSTS_LUA_PATH}")

add_executable(test_interrupts ${CMAKE_SOURCE_DIR}/tests/hosts/test_interrupts.c)
target_link_libraries(test_interrupts PRIVATE tritonlua triton_test_support)
add_test(NAME hosts.interrupts COMMAND test_interrupts)
set_tests_properties(hosts.interrupts PROPERTIES TIMEOUT 120 LABELS hosts
                     ENVIRONMENT "${TRITON_HOSTS_ENV}")

# ---- stock interpreters with luv and cqueues -------------------------------------
# triton_host_loop_tests(NAME LUA MODULE_DIR): hosts.luv.NAME and hosts.cqueues.NAME
# run LUA with MODULE_DIR/triton/core.so and the library's Lua files on its paths.
# (Every version reads LUA_PATH/LUA_CPATH; 5.3 and 5.4 read their own names first.)
function(triton_host_loop_tests name lua module_dir)
    set(cpath "${module_dir}/?.so\;\;")
    set(env ${TRITON_HOSTS_ENV}
        "LUA_PATH=${TRITON_HOSTS_LUA_PATH}" "LUA_PATH_5_3=${TRITON_HOSTS_LUA_PATH}"
        "LUA_PATH_5_4=${TRITON_HOSTS_LUA_PATH}"
        "LUA_CPATH=${cpath}" "LUA_CPATH_5_3=${cpath}" "LUA_CPATH_5_4=${cpath}")
    foreach(host luv cqueues)
        add_test(NAME hosts.${host}.${name}
                 COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver
                         ${lua} ${CMAKE_SOURCE_DIR}/tests/hosts/${host}_test.lua)
        set_tests_properties(hosts.${host}.${name} PROPERTIES TIMEOUT 120 LABELS hosts
                             ENVIRONMENT "${env}")
    endforeach()
endfunction()

# Every Lua this build makes the module for (cmake/LuaModules.cmake's targets).
if(NOT TRITON_SANITIZE)
    triton_host_loop_tests(lua5.4 ${LUA54} ${CMAKE_BINARY_DIR}/lua)
    if(TARGET triton_module_lua53)
        find_program(LUA53 lua5.3 REQUIRED)
        triton_host_loop_tests(lua5.3 ${LUA53} ${CMAKE_BINARY_DIR}/lua5.3)
        # Debian's mod_lua embeds Lua 5.3 (exit 77: apache2 or mod_lua missing)
        add_test(NAME hosts.apache
                 COMMAND ${CMAKE_SOURCE_DIR}/tests/hosts/apache_test.sh ${CMAKE_SOURCE_DIR}
                         ${CMAKE_BINARY_DIR}/lua5.3)
        set_tests_properties(hosts.apache PROPERTIES TIMEOUT 300 LABELS hosts
                             SKIP_RETURN_CODE 77 ENVIRONMENT "${TRITON_HOSTS_ENV}")
    endif()
    if(TARGET triton_module_luajit)
        find_program(LUAJIT luajit REQUIRED)
        triton_host_loop_tests(luajit ${LUAJIT} ${CMAKE_BINARY_DIR}/luajit)
        # Neovim runs LuaJIT, with luv as vim.loop; both ways of polling
        find_program(NVIM nvim)
        foreach(mode fast scheduled)
            if(NVIM)
                add_test(NAME hosts.nvim.${mode}
                         COMMAND ${CMAKE_SOURCE_DIR}/scripts/with-testserver ${NVIM} --headless
                                 -u NONE -i NONE +luafile\ ${CMAKE_SOURCE_DIR}/tests/hosts/nvim_test.lua)
            else()
                add_test(NAME hosts.nvim.${mode}
                         COMMAND sh -c "echo 'SKIP: nvim is not installed (scripts/setup installs it)'; exit 77")
            endif()
            set_tests_properties(hosts.nvim.${mode} PROPERTIES TIMEOUT 120 LABELS hosts
                SKIP_RETURN_CODE 77 ENVIRONMENT
                "${TRITON_HOSTS_ENV};TRITON_NVIM_MODE=${mode};TRITON_LUA_MODULES=${CMAKE_BINARY_DIR}/luajit")
        endforeach()
    endif()
endif()
