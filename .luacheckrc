-- luacheck configuration: Lua 5.4, busted globals in specs.
std = "lua54"
max_line_length = 110
files["spec/"] = { std = "+busted" }
files["bench/"] = { globals = { "triton" } }
files["examples/"] = { read_globals = { "triton", "client" } }
