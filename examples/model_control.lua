-- model_control.lua: the repository index, unloading and loading a model (with a
-- config override), and readiness, as Triton's simple_http_model_control.py /
-- simple_grpc_model_control.py do. The server must run in explicit model-control
-- mode (the reference server does). Usage: tritonlua examples/model_control.lua [URL]
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)
local model = "simple"

local function state_of(name)
  for _, m in ipairs(client:model_repository_index()) do
    if m.name == name then return m.state, m.reason end
  end
end

local index = client:model_repository_index()
print(("%d models in the repository"):format(#index))
for _, m in ipairs(index) do
  if m.name == model then
    print(("  %s version %s: %s"):format(m.name, m.version, m.state))
  end
end
assert(client:is_model_ready(model), model .. " should start ready")

client:unload_model(model)
local state, reason = state_of(model)
print(("after unload: ready=%s, state=%s (%s)"):format(tostring(client:is_model_ready(model)), state,
  reason))
assert(not client:is_model_ready(model), "unloaded, yet ready")
assert(state == "UNAVAILABLE")
-- An unloaded model answers infer with an error, which the script can catch.
local ok, err = pcall(client.infer, client, model,
  {INPUT0 = triton.zeros({1, 16}, "INT32"), INPUT1 = triton.zeros({1, 16}, "INT32")})
print("infer while unloaded: " .. tostring(err))
assert(not ok and err.code == "unavailable")

-- Load it back with a configuration override (a table or a JSON string).
client:load_model(model, {config = {max_batch_size = 16}})
print(("after load with an override: ready=%s, max_batch_size=%d"):format(
  tostring(client:is_model_ready(model)), client:model_config(model).max_batch_size))
assert(client:is_model_ready(model))
assert(client:model_config(model).max_batch_size == 16)
assert(state_of(model) == "READY")

-- Load again without an override: the repository's own configuration.
client:load_model(model)
print(("after plain load: max_batch_size=%d"):format(client:model_config(model).max_batch_size))
assert(client:model_config(model).max_batch_size == 8)

-- A model the repository does not have cannot be loaded without a config.
ok, err = pcall(client.load_model, client, "no_such_model")
print("load of an unknown model: " .. tostring(err))
assert(not ok and err.message:find("failed to load 'no_such_model'", 1, true))
print(("PASS: model control over %s"):format(client.protocol))
