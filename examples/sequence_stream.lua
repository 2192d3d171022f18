-- sequence_stream.lua: two interleaved sequences on one gRPC stream, as Triton's
-- simple_grpc_sequence_stream_infer_client.py does. The sequence id, start and end
-- flags route each request to its sequence's state on the server.
-- `simple_sequence` answers a START request with value + 1 and later requests with
-- their value (docs/reference-server.md). Usage: tritonlua examples/sequence_stream.lua [grpc://...]
-- transports: grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_GRPC_URL") or os.getenv("TRITON_URL")
  or "grpc://localhost:8001"
local client <close> = triton.connect(url)

local values = {11, 7, 5, 3, 2, 0, 1}
local results = {[1000] = {}, [1001] = {}}

client:start_stream(function(r, err)
  if err then error(err) end
  local id = r:response().id
  local seq = tonumber(id:match("^(%d+)/"))
  local n = tonumber(id:match("/(%d+)$"))
  results[seq][n] = r:as_tensor("OUTPUT"):get(1, 1)
end)

for i, v in ipairs(values) do
  for _, seq in ipairs{1000, 1001} do
    local value = seq == 1000 and v or -v
    client:async_stream_infer("simple_sequence", {INPUT = triton.tensor({{value}}, "INT32")}, {
      request_id = ("%d/%d"):format(seq, i),
      sequence_id = seq,
      sequence_start = i == 1,
      sequence_end = i == #values,
    })
  end
end
client:stop_stream()

for _, seq in ipairs{1000, 1001} do
  local sign = seq == 1000 and 1 or -1
  for i, v in ipairs(values) do
    local want = sign * v + (i == 1 and 1 or 0)
    print(("sequence %d, request %d: sent %3d got %3d"):format(seq, i, sign * v, results[seq][i]))
    assert(results[seq][i] == want, "unexpected sequence result")
  end
end
print("PASS: simple_sequence over " .. client.protocol)
