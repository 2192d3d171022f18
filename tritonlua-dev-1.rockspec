-- `luarocks make` in a checkout builds the module with the project's own CMake
-- and installs, for the Lua that luarocks runs for (`--lua-version 5.4` or 5.3;
-- LuaJIT where luarocks is set up for it, `--lua-dir`):
-- triton/core.so, lua/triton/*.lua, and the LuaLS annotations (types/) in the
-- rock's folder, share/tritonlua/types (`luarocks show --rock-dir tritonlua`).
-- Only CMake's "lua" install component: the host and the static libraries come
-- with `cmake --install` (README, "Packaging and editors").
-- The C libraries come from the system (scripts/setup lists Debian's packages);
-- nothing is fetched.
rockspec_format = "3.0"
package = "tritonlua"
version = "dev-1"
source = {
  url = "git+file://.", -- built from a checkout with `luarocks make`; nothing is downloaded
}
description = {
  summary = "Lua client for NVIDIA Triton Inference Server (KServe v2), over HTTP and gRPC",
  detailed = [[
tensors, infer, async calls and streams, shared memory, images and the generate
extension from Lua, with one API over both transports.]],
  license = "MIT",
}
-- The C part is built for the running Lua: 5.4, 5.3 or LuaJIT 2.1 (the 5.1
-- API); CMake refuses PUC Lua 5.1 (TRITON_LUA_INTERPRETER, cmake/LuaModules.cmake).
-- The tritonlua host, built with `cmake --install`, needs lua5.4's headers.
dependencies = {
  "lua >= 5.1, < 5.5",
}
build = {
  type = "command",
  build_command = [[cmake -S . -B build.luarocks -DCMAKE_BUILD_TYPE=Release ]]
    .. [[-DTRITON_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$(PREFIX)" ]]
    .. [[-DTRITON_LUA_INTERPRETER="$(LUA)" ]]
    .. [[-DTRITON_LUA_CMOD_DIR="$(LIBDIR)" -DTRITON_LUA_LMOD_DIR="$(LUADIR)" ]]
    .. [[&& cmake --build build.luarocks --target triton_lua_modules]],
  install_command = [[cmake --install build.luarocks --component lua]],
}
