-- decoupled_repeat.lua: a decoupled model answers one request with several responses.
-- `repeat_int32` sends back each element of IN as its own response, DELAY ms apart.
-- Streams need gRPC. Usage: tritonlua examples/decoupled_repeat.lua [grpc://host:port]
-- transports: grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_GRPC_URL") or os.getenv("TRITON_URL")
  or "grpc://localhost:8001"
local client <close> = triton.connect(url)

local values = {4, 2, 0, 1, 8}
local inputs = {
  IN = triton.tensor(values, "INT32"),
  DELAY = triton.full({#values}, 20, "UINT32"),
  WAIT = triton.tensor({0}, "UINT32"),
}

-- The iterator form: ends at the request's final response.
local n, t0 = 0, triton.now()
for r in client:stream_infer("repeat_int32", inputs) do
  n = n + 1
  local out, idx = r:as_tensor("OUT")[1], r:as_tensor("IDX")[1]
  print(("response %d after %4.0f ms: OUT=%d IDX=%d"):format(n, (triton.now() - t0) * 1000, out, idx))
  assert(out == values[n] and idx == n - 1, "responses out of order")
end
assert(n == #values, ("expected %d responses, got %d"):format(#values, n))

-- The callback form: several requests on one stream.
local got = {}
client:start_stream(function(r, err)
  assert(not err, err)
  got[#got + 1] = r:as_tensor("OUT")[1]
end)
for _, v in ipairs{7, 9} do
  client:async_stream_infer("repeat_int32", {IN = triton.tensor({v, v}, "INT32"),
    DELAY = triton.zeros({2}, "UINT32"), WAIT = triton.tensor({0}, "UINT32")})
end
client:stop_stream()  -- waits for what was sent
table.sort(got)
assert(#got == 4 and got[1] == 7 and got[4] == 9, "stream callback missed responses")
print("PASS: repeat_int32 over " .. client.protocol)
