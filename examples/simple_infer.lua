-- simple_infer.lua: the `simple` model (INT32 sum and difference), Triton style.
-- Usage: tritonlua examples/simple_infer.lua [URL]   (http://, https://, grpc:// or grpcs://)
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)

local input0 = triton.arange(0, 16, 1, "INT32"):reshape{1, 16}
local input1 = triton.ones({1, 16}, "INT32")

local inputs = {
  triton.InferInput("INPUT0", {1, 16}, "INT32"):set_data(input0),
  triton.InferInput("INPUT1", {1, 16}, "INT32"):set_data(input1),
}
local outputs = {
  triton.InferRequestedOutput("OUTPUT0"),
  triton.InferRequestedOutput("OUTPUT1"),
}
local result = client:infer("simple", inputs, {outputs = outputs, request_id = "1"})

local sum, diff = result:as_tensor("OUTPUT0"), result:as_tensor("OUTPUT1")
for i = 1, 16 do
  local a, b = input0:get(1, i), input1:get(1, i)
  print(("%d + %d = %d    %d - %d = %d"):format(a, b, sum:get(1, i), a, b, diff:get(1, i)))
  assert(sum:get(1, i) == a + b, "wrong sum")
  assert(diff:get(1, i) == a - b, "wrong difference")
end
assert(result:response().id == "1")
print(("PASS: simple over %s"):format(client.protocol))
