-- classification.lua: Triton's classification extension. Asking an output for
-- `class_count = k` makes the server return the top k classes of each batch row
-- instead of the raw scores; r:classification() parses them into
-- {score=, index=, label=} (index 1-based, as everything in Lua). `classifier`
-- returns its FP32 input as scores over ten labelled classes ("zero".."nine").
-- Usage: tritonlua examples/classification.lua [URL]
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)

local scores = triton.tensor({
  {0.1, 0.7, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1}, -- class 2 ("one") wins
  {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.5},   -- class 10 ("nine") wins
}, "FP32")
local k = 3
local result = client:infer("classifier", {
  triton.InferInput("INPUT0", scores.shape, "FP32"):set_data(scores),
}, {outputs = {triton.InferRequestedOutput("OUTPUT0", {class_count = k})}})

-- The raw output: BYTES strings "score:index:label", top k per row.
local raw = result:as_tensor("OUTPUT0")
assert(raw.dtype == "BYTES" and raw.shape[1] == 2 and raw.shape[2] == k)

local expected = {{2, 1, 10}, {10, 9, 8}}
local labels = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
for row, classes in ipairs(result:classification("OUTPUT0")) do
  print(("row %d (argmax %d):"):format(row, scores[row]:argmax()))
  assert(#classes == k)
  for rank, c in ipairs(classes) do
    print(("  %d. %-6s index %2d  score %.2f   (raw \"%s\")"):format(rank, c.label, c.index, c.score,
      raw:get(row, rank)))
    assert(c.index == expected[row][rank], "unexpected class")
    assert(c.label == labels[c.index], "label does not match the index")
    assert(math.abs(c.score - scores:get(row, c.index)) < 1e-6, "score does not match the input")
  end
  assert(classes[1].index == scores[row]:argmax())
end
print(("PASS: classification over %s"):format(client.protocol))
