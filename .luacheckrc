-- luacheck configuration. The library (lua/triton) and the specs run under Lua
-- 5.4, 5.3 and LuaJIT 2.1, so they are checked against the globals all of them
-- have ("min"): a call that one of them lacks (math.type, table.unpack,
-- string.pack, utf8...) fails lint. lua/triton/compat.lua and the spec harness
-- bridge each such difference once and may see every version's globals.
-- The rest is Lua 5.4 (the tritonlua host).
std = "lua54"
max_line_length = 110
files["lua/triton/"] = { std = "min" }
files["lua/triton/compat.lua"] = { std = "max" }
files["spec/"] = { std = "min+busted" }
files["spec/support/harness.lua"] = { std = "max+busted" }
files["bench/"] = { globals = { "triton" } }
files["examples/"] = { read_globals = { "triton", "client" } }
