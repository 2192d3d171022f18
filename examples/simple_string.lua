-- simple_string.lua: `simple_string` adds and subtracts numbers sent as BYTES strings.
-- Usage: tritonlua examples/simple_string.lua [URL]
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)

local a, b = {}, {}
for i = 1, 16 do
  a[i], b[i] = tostring(i - 1), "1"
end
local result = client:infer("simple_string", {
  INPUT0 = triton.tensor({a}, "BYTES"),
  INPUT1 = triton.tensor({b}, "BYTES"),
})
local sum, diff = result:as_tensor("OUTPUT0"), result:as_tensor("OUTPUT1")
assert(sum.dtype == "BYTES")
for i = 1, 16 do
  print(("%s + %s = %s    %s - %s = %s"):format(a[i], b[i], sum:get(1, i), a[i], b[i], diff:get(1, i)))
  assert(tonumber(sum:get(1, i)) == tonumber(a[i]) + 1)
  assert(tonumber(diff:get(1, i)) == tonumber(a[i]) - 1)
end
print(("PASS: simple_string over %s"):format(client.protocol))
