-- shared_memory.lua: `simple` with its inputs and outputs in POSIX shared memory, as
-- Triton's simple_http_shm_client.py / simple_grpc_shm_client.py do: the tensors
-- never travel in the request or the reply, only region names and offsets do.
-- The server must run on this machine (it maps the same regions).
-- Usage: tritonlua examples/shared_memory.lua [URL]
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)

-- Start clean: regions a previous run left registered would collide by name.
client:unregister_system_shared_memory()

local n = 16
local bytes = n * triton.dtypes.INT32 -- one [1,16] INT32 tensor
-- Keys are system-wide names: make them unique to this process.
local tag = tostring(os.time()) .. tostring(math.random(1e6))
local input_region = triton.shm.create("input_data", "/tritonlua_ex_in_" .. tag, 2 * bytes)
local output_region = triton.shm.create("output_data", "/tritonlua_ex_out_" .. tag, 2 * bytes)

-- INPUT0 at offset 0, INPUT1 right after it.
local input0 = triton.arange(0, n, 1, "INT32"):reshape{1, n}
local input1 = triton.ones({1, n}, "INT32")
input_region:write(input0)
input_region:write(input1, bytes)

client:register_system_shared_memory(input_region.name, input_region.key, input_region.byte_size)
client:register_system_shared_memory(output_region.name, output_region.key, output_region.byte_size)
local status = client:system_shared_memory_status()
print(("%d regions registered"):format(#status))
assert(#status == 2, "expected two registered regions")

local inputs = {
  triton.InferInput("INPUT0", {1, n}, "INT32"):set_shared_memory(input_region, bytes),
  triton.InferInput("INPUT1", {1, n}, "INT32"):set_shared_memory(input_region, bytes, bytes),
}
local outputs = {
  triton.InferRequestedOutput("OUTPUT0"):set_shared_memory(output_region, bytes),
  triton.InferRequestedOutput("OUTPUT1"):set_shared_memory(output_region, bytes, bytes),
}
local result = client:infer("simple", inputs, {outputs = outputs})
-- The reply names the outputs but carries no data: it is in the region.
assert(result:as_tensor("OUTPUT0") == nil, "OUTPUT0 should be in shared memory")
assert(result:output("OUTPUT0").datatype == "INT32")

local sum = output_region:read("INT32", {1, n})
local diff = output_region:read("INT32", {1, n}, bytes)
for i = 1, n do
  local a, b = input0:get(1, i), input1:get(1, i)
  print(("%d + %d = %d    %d - %d = %d"):format(a, b, sum:get(1, i), a, b, diff:get(1, i)))
  assert(sum:get(1, i) == a + b, "wrong sum")
  assert(diff:get(1, i) == a - b, "wrong difference")
end

client:unregister_system_shared_memory(input_region.name)
client:unregister_system_shared_memory(output_region.name)
assert(#client:system_shared_memory_status() == 0, "regions still registered")
input_region:destroy()
output_region:destroy()
print(("PASS: shared memory over %s"):format(client.protocol))
