# The Lua C module (`require "triton"` from a stock interpreter), built once per
# Lua: 5.4 (required), 5.3 and LuaJIT 2.1 (the 5.1 API), from the same
# src/lua/*.c (src/lua/lcompat.h holds every difference). TRITON_LUA_VERSIONS
# picks them; by default 5.4 and every other one whose development package
# pkg-config finds. Each goes to its own folder of the build tree, which a
# LUA_CPATH of that version points at:
#   5.4  ${build}/lua/triton/core.so     (target triton_module)
#   5.3  ${build}/lua5.3/triton/core.so  (target triton_module_lua53)
#   jit  ${build}/luajit/triton/core.so  (target triton_module_luajit)
# and installs on the paths that version's stock interpreter searches: the C
# module under TRITON_LUA*_CMOD_DIR/triton, lua/triton/*.lua under
# TRITON_LUA*_LMOD_DIR/triton. The tritonlua host and the static libraries stay
# 5.4. Inputs: TRITON_BINDING_SOURCES, TRITON_MULTIARCH, TRITON_LUA_MODULES.

# `luarocks make` builds for the Lua it runs for: TRITON_LUA_INTERPRETER names it
# (the rockspec passes $(LUA)); then only that one is built, installed on
# TRITON_LUA_CMOD_DIR and TRITON_LUA_LMOD_DIR (the rock's folders).

pkg_check_modules(LUA53 QUIET IMPORTED_TARGET lua5.3)
pkg_check_modules(LUAJIT QUIET IMPORTED_TARGET luajit)
set(_versions 5.4)
if(LUA53_FOUND)
    list(APPEND _versions 5.3)
endif()
if(LUAJIT_FOUND)
    list(APPEND _versions jit)
endif()
set(TRITON_LUA_VERSIONS "${_versions}" CACHE STRING
    "Luas to build the module for: a list of 5.4, 5.3, jit (the tests need 5.4)")
set(TRITON_LUA_INTERPRETER "" CACHE FILEPATH
    "Build the module only for the Lua this interpreter runs (luarocks)")
set(_for_interpreter "")
if(TRITON_LUA_INTERPRETER)
    execute_process(COMMAND ${TRITON_LUA_INTERPRETER} -e
                            "print(rawget(_G, 'jit') and 'jit' or _VERSION:match('%d+%.%d+'))"
                    OUTPUT_VARIABLE _for_interpreter OUTPUT_STRIP_TRAILING_WHITESPACE
                    RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0 OR NOT _for_interpreter MATCHES "^(5\\.4|5\\.3|jit)$")
        message(FATAL_ERROR "tritonlua needs Lua 5.3, 5.4 or LuaJIT 2.1: "
                            "${TRITON_LUA_INTERPRETER} is '${_for_interpreter}'")
    endif()
    set(TRITON_LUA_VERSIONS ${_for_interpreter})
endif()
if(TRITON_BUILD_TESTS AND NOT "5.4" IN_LIST TRITON_LUA_VERSIONS)
    message(FATAL_ERROR "the tests need the Lua 5.4 module: add 5.4 to TRITON_LUA_VERSIONS")
endif()

# Where a stock interpreter of ABI `abi` (5.4, 5.3, 5.1) looks under the prefix.
function(triton_lua_dirs abi cmod_var lmod_var)
    if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND TRITON_MULTIARCH)
        set(${cmod_var} "lib/${TRITON_MULTIARCH}/lua/${abi}" PARENT_SCOPE)
    else()
        set(${cmod_var} "lib/lua/${abi}" PARENT_SCOPE)
    endif()
    set(${lmod_var} "share/lua/${abi}" PARENT_SCOPE)
endfunction()

# One core.so: target `target` against the headers of pkg-config module `pc`.
function(triton_lua_module target folder lua_includes)
    add_library(${target} MODULE ${TRITON_BINDING_SOURCES})
    target_link_libraries(${target} PRIVATE triton)
    target_include_directories(${target} BEFORE PRIVATE ${lua_includes})
    target_compile_definitions(${target} PRIVATE TRITON_VERSION="${PROJECT_VERSION}")
    set_target_properties(${target} PROPERTIES
        OUTPUT_NAME core PREFIX ""
        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/${folder}/triton
        C_VISIBILITY_PRESET hidden)
    # and nothing of a static library linked into it is exported either
    target_link_options(${target} PRIVATE -Wl,--exclude-libs,ALL)
endfunction()

# Lua 5.4's folders, or those of TRITON_LUA_INTERPRETER's Lua
if(_for_interpreter STREQUAL "jit")
    triton_lua_dirs(5.1 _cmod _lmod)
elseif(_for_interpreter)
    triton_lua_dirs(${_for_interpreter} _cmod _lmod)
else()
    triton_lua_dirs(5.4 _cmod _lmod)
endif()
set(TRITON_LUA_CMOD_DIR "${_cmod}" CACHE STRING
    "Install dir for Lua 5.4 C modules (TRITON_LUA_INTERPRETER's Lua when given)")
set(TRITON_LUA_LMOD_DIR "${_lmod}" CACHE STRING
    "Install dir for Lua 5.4 modules (TRITON_LUA_INTERPRETER's Lua when given)")

# A Lua other than 5.4 (`v`: 5.3 or jit): its module `target` in `folder`,
# built against the pkg-config module found as `found` (`includes`), installed
# on the folders of ABI `abi`, kept in the cache as TRITON_<infix>_CMOD_DIR and
# TRITON_<infix>_LMOD_DIR; sets _target, _cdir and _ldir. `package` names the
# Debian package that a missing pkg-config module is in.
macro(triton_other_lua v found package target folder includes abi infix label)
    if(NOT ${found})
        message(FATAL_ERROR "TRITON_LUA_VERSIONS has ${v} but pkg-config finds no ${folder} "
                            "(Debian: ${package})")
    endif()
    triton_lua_module(${target} ${folder} "${includes}")
    triton_lua_dirs(${abi} _cmod _lmod)
    set(TRITON_${infix}_CMOD_DIR "${_cmod}" CACHE STRING "Install dir for ${label} C modules")
    set(TRITON_${infix}_LMOD_DIR "${_lmod}" CACHE STRING "Install dir for ${label} modules")
    set(_target ${target})
    set(_cdir ${TRITON_${infix}_CMOD_DIR})
    set(_ldir ${TRITON_${infix}_LMOD_DIR})
endmacro()

set(TRITON_LUA_MODULE_TARGETS "")
foreach(v ${TRITON_LUA_VERSIONS})
    if(v STREQUAL "5.4")
        triton_lua_module(triton_module lua "${LUA_INCLUDE_DIRS}")
        set(_target triton_module)
        set(_cdir ${TRITON_LUA_CMOD_DIR})
        set(_ldir ${TRITON_LUA_LMOD_DIR})
    elseif(v STREQUAL "5.3")
        triton_other_lua(5.3 LUA53_FOUND liblua5.3-dev triton_module_lua53 lua5.3
                         "${LUA53_INCLUDE_DIRS}" 5.3 LUA53 "Lua 5.3")
    elseif(v STREQUAL "jit")
        # the 5.3 API LuaJIT lacks: Debian's lua-compat53-dev (header only)
        find_path(TRITON_COMPAT53_DIR lua5.1/compat-5.3.h)
        if(LUAJIT_FOUND AND NOT TRITON_COMPAT53_DIR)
            message(FATAL_ERROR "the LuaJIT module needs lua5.1/compat-5.3.h "
                                "(Debian: lua-compat53-dev)")
        endif()
        # LuaJIT shares the 5.1 paths (PUC Lua 5.1 is refused by lua/triton/init.lua)
        triton_other_lua(jit LUAJIT_FOUND libluajit-5.1-dev triton_module_luajit luajit
                         "${LUAJIT_INCLUDE_DIRS}" 5.1 LUAJIT "LuaJIT")
    else()
        message(FATAL_ERROR "TRITON_LUA_VERSIONS: unknown Lua '${v}' (5.4, 5.3 or jit)")
    endif()
    if(_for_interpreter) # luarocks: the rock's folders
        set(_cdir ${TRITON_LUA_CMOD_DIR})
        set(_ldir ${TRITON_LUA_LMOD_DIR})
    endif()
    list(APPEND TRITON_LUA_MODULE_TARGETS ${_target})
    install(TARGETS ${_target} LIBRARY DESTINATION ${_cdir}/triton COMPONENT lua)
    install(FILES ${TRITON_LUA_MODULES} DESTINATION ${_ldir}/triton COMPONENT lua)
endforeach()
add_custom_target(triton_lua_modules DEPENDS ${TRITON_LUA_MODULE_TARGETS})
