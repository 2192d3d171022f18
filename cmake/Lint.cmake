# Tidiness as tests (plain build only): C formatted as .clang-format says, Lua clean
# under luacheck (.luacheckrc), no switch on call kinds outside src/client and the
# transports' kind tables. Fix with: clang-format -i <files>; luacheck <files>.
find_program(CLANG_FORMAT clang-format)
find_program(LUACHECK luacheck)
if(NOT TRITON_SANITIZE)
    add_test(NAME lint.call_kinds COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-call-kinds
                                          ${CMAKE_SOURCE_DIR})
    # every #include points down the layers (docs/INTERNALS.md, "Layers")
    add_test(NAME lint.layers COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layers
                                      ${CMAKE_SOURCE_DIR})
    if(CLANG_FORMAT)
        file(GLOB_RECURSE TRITON_C_FILES CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/src/*.[ch] ${CMAKE_SOURCE_DIR}/src/*.cc ${CMAKE_SOURCE_DIR}/include/*.h
             ${CMAKE_SOURCE_DIR}/tests/*.[ch] ${CMAKE_SOURCE_DIR}/bench/*.[ch]
             ${CMAKE_SOURCE_DIR}/fuzz/*.[ch])
        add_test(NAME lint.clang-format
                 COMMAND ${CLANG_FORMAT} --dry-run --Werror ${TRITON_C_FILES}
                 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    endif()
    if(LUACHECK)
        add_test(NAME lint.luacheck
                 COMMAND ${LUACHECK} --no-color -q lua spec examples bench
                 WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    endif()
    # the library and the specs parse under Lua 5.3 and LuaJIT too (no <close>, //, bit operators)
    find_program(LUAC53 luac5.3)
    find_program(LUAJIT_BIN luajit)
    if(LUAC53 AND LUAJIT_BIN)
        file(GLOB TRITON_PORTABLE_LUA CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/lua/triton/*.lua
             ${CMAKE_SOURCE_DIR}/spec/*.lua ${CMAKE_SOURCE_DIR}/spec/support/*.lua ${CMAKE_SOURCE_DIR}/bench/*.lua)
        add_test(NAME lint.lua-versions
                 COMMAND sh -c "${LUAC53} -p \"$@\" && for f; do ${LUAJIT_BIN} -b \"$f\" /dev/null || exit 1; done"
                         lint ${TRITON_PORTABLE_LUA})
    endif()
endif()
