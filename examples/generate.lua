-- generate.lua: the generate extension, one reply or a stream of events.
-- Usage: tritonlua examples/generate.lua [URL]
-- transports: http grpc
local triton = require "triton"

local url = arg and arg[1] or os.getenv("TRITON_URL") or "http://localhost:8000"
local client <close> = triton.connect(url)

local prompt = "the same script runs over HTTP and gRPC unchanged"
local out = client:generate("echo_llm", {text_input = prompt, parameters = {max_tokens = 4}})
print("generate:", out.text_output)
assert(out.text_output == "the same script runs", out.text_output)

-- echo_llm is decoupled, as LLM backends are: with stream = true (an input, as
-- vLLM's backend takes it) it answers word by word, over HTTP and gRPC alike.
local words = {}
for ev in client:generate_stream("echo_llm", {text_input = prompt, stream = true}) do
  words[#words + 1] = ev.text_output
  io.write(ev.text_output)
  io.flush()
end
io.write("\n")
assert(#words == 9, "one event per word expected, got " .. #words)
assert(table.concat(words) == prompt, table.concat(words))
print("PASS: echo_llm over " .. client.protocol)
