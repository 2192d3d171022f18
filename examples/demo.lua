-- demo.lua: a small inference workflow, run unchanged over HTTP and over gRPC.
--
--   scripts/demo                                   (starts the reference server for you)
--   tritonlua examples/demo.lua [URL ...]          (default: $TRITON_HTTP_URL and
--                                                   $TRITON_GRPC_URL, else localhost)
--
-- For each server URL: look at the server, preprocess a batch locally, classify it on
-- the server, check a sum on `simple`, round-trip a 16 MiB tensor, stream generated
-- text, and show that errors are values. The script never asks which transport it has.
local triton = require "triton"

local urls = {...}
if #urls == 0 then
  urls = {
    os.getenv("TRITON_HTTP_URL") or "http://localhost:8000",
    os.getenv("TRITON_GRPC_URL") or "grpc://localhost:8001",
  }
end

local function section(title) print(("-- %s"):format(title)) end

local function workflow(url)
  local c <close> = triton.connect(url)
  print(("== %s over %s"):format(url, c.protocol))

  section("server")
  local meta = c:server_metadata()
  print(("%s %s, live=%s, ready=%s, %d extensions"):format(meta.name, meta.version,
    c:is_server_live(), c:is_server_ready(), #meta.extensions))
  local model = c:model_metadata("classifier")
  print(("classifier: input %s %s %s"):format(model.inputs[1].name, model.inputs[1].datatype,
    table.concat(model.inputs[1].shape, "x")))

  section("preprocess locally, classify on the server")
  -- Two rows of raw readings, normalised per row (broadcasting a [2,1] column).
  local raw = triton.tensor({
    {0.1, 2.5, -1.0, 0.3, 4.2, 0.0, 1.1, -0.5, 3.3, 0.2},
    {5.0, 1.0, 0.5, 0.0, -2.0, 7.5, 1.5, 2.0, 0.0, 1.0},
  }, "FP32")
  local lo, hi = raw:min(2):unsqueeze(2), raw:max(2):unsqueeze(2)
  local x = (raw - lo) / (hi - lo)
  local r = c:infer("classifier", {triton.InferInput("INPUT0", x.shape, "FP32"):set_data(x)},
    {outputs = {triton.InferRequestedOutput("OUTPUT0", {class_count = 3})}})
  for row, classes in ipairs(r:classification("OUTPUT0")) do
    local names = {}
    for i, cls in ipairs(classes) do
      names[i] = ("%s (%.2f)"):format(cls.label, cls.score)
    end
    print(("row %d: top 3 = %s"):format(row, table.concat(names, ", ")))
    assert(classes[1].index == x[row]:argmax(), "server and local argmax disagree")
  end
  -- The same ranking computed locally from the raw scores.
  local scores = c:infer("classifier", {INPUT0 = x}):as_tensor("OUTPUT0")
  local p = scores:softmax(2)
  local top, idx = p:topk(3, 2)
  print("local softmax top 3 indices:", idx)
  print("probabilities:", top)

  section("simple: a batch of two")
  local a = triton.arange(0, 32, 1, "INT32"):reshape{2, 16}
  local b = triton.full({2, 16}, 3, "INT32")
  local out = c:infer("simple", {INPUT0 = a, INPUT1 = b}):outputs()
  assert(triton.allclose(out.OUTPUT0, a + b) and triton.allclose(out.OUTPUT1, a - b))
  print("OUTPUT0[2] =", out.OUTPUT0[2])

  section("16 MiB round trip")
  local big = triton.rand({4 * 1024 * 1024}, "FP32")
  local t0 = triton.now()
  local back = c:infer("identity_fp32", {INPUT0 = big}):as_tensor("OUTPUT0")
  local ms = (triton.now() - t0) * 1000
  assert(triton.allclose(big, back, 0, 0), "identity_fp32 changed the data")
  print(("identity_fp32: %d floats back intact in %.1f ms"):format(back:numel(), ms))

  section("generate_stream")
  io.write("echo_llm: ")
  for ev in c:generate_stream("echo_llm", {text_input = "the same script runs over HTTP and gRPC",
                                           stream = true}) do
    io.write(ev.text_output)
    io.flush()
  end
  io.write("\n")

  section("errors are values")
  local ok, err = pcall(c.infer, c, "no_such_model", {INPUT0 = a})
  assert(not ok and err.code == "not_found", tostring(err))
  print(("code=%s status=%s message=%q"):format(err.code, err.status, err.message))
  print()
end

for _, url in ipairs(urls) do
  workflow(url)
end
print("demo: done")
