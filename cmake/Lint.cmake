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
             ${CMAKE_SOURCE_DIR}/src/*.[ch] ${CMAKE_SOURCE_DIR}/include/*.h
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
endif()
