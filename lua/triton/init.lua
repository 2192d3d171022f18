-- The triton module: the C part (triton.core) plus what is simpler in Lua.
-- See docs/API.md for the contract; this file only assembles it.
-- PUC Lua 5.1 shares LuaJIT's module paths but not its C API: say so rather
-- than fail to load the C part with an undefined symbol.
if _VERSION == "Lua 5.1" and not rawget(_G, "jit") then
  error("triton needs Lua 5.3, 5.4 or LuaJIT 2.1 (this is PUC Lua 5.1)", 0)
end
local core = require "triton.core"
local client = require "triton.client"
local infer = require "triton.infer"
local spawn = require "triton.spawn"
local perf = require "triton.perf"

local triton = {}
for k, v in pairs(core) do
  triton[k] = v
end

-- The binding's internals stay in triton.core; they are not API.
triton.client_new, triton.step = nil, nil
triton.set_tasks, triton.take_woken, triton.await_token = nil, nil, nil
triton.set_wakeup, triton.callbacks = nil, nil
triton.rusage, triton.isatty, triton.code_words = nil, nil, nil
triton.base64_decode = nil -- perf_cli's {"b64": ...} data (src/lua/lutil.c)
triton.math_type = nil -- triton.compat's math.type under LuaJIT (src/lua/lutil.c)
triton.args = nil -- the argument checkers the Lua files share (src/lua/largs.c)
triton.infer_classes = nil -- InferInput's and InferRequestedOutput's metatables (lclient.c)
triton.client_methods = nil -- a client's infer and async_infer (src/lua/lclient.c)

triton.connect = client.connect
triton.http = { client = client.client_for("http") }
triton.grpc = { client = client.client_for("grpc") }
triton.InferInput = infer.InferInput
triton.InferRequestedOutput = infer.InferRequestedOutput
triton.wait = client.wait
triton.spawn = spawn.spawn
triton.run = spawn.run
triton.sleep = spawn.sleep -- yields inside a spawned coroutine
triton.poll = spawn.poll   -- also resumes spawned coroutines (core.poll does not)
-- triton.fd and triton.on_callback_error come from the core as they are.
triton.perf = perf.perf
triton.map = client.map
-- triton.Error is the metatable of every error value the client raises:
-- getmetatable(err) == triton.Error tells them from other errors.
triton.Error = core.Error

return triton
