-- Streams (gRPC: decoupled and sequence models) and the generate extension.
local h = require "support.harness"
local triton = h.triton()

local function repeat_inputs(values, delay_ms)
  local delays = {}
  for i = 1, #values do delays[i] = delay_ms or 0 end
  return {
    triton.InferInput("IN", { #values }, "INT32"):set_data(values),
    triton.InferInput("DELAY", { #values }, "UINT32"):set_data(delays),
    triton.InferInput("WAIT", { 1 }, "UINT32"):set_data({ 0 }),
  }
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("generate", function()
    it("answers one object", function()
      local out = c:generate("echo_llm",
        { text_input = "hello there world", parameters = { max_tokens = 2 } })
      assert.equal("echo_llm", out.model_name)
      assert.is_string(out.text_output)
      assert.matches("hello", out.text_output)
    end)

    it("streams events as they arrive, before the stream ends", function()
      -- With stream = true echo_llm (decoupled) sends one response per word, each
      -- after delay_ms: the events come one by one, not all at the end.
      local events, times = {}, {}
      local t0 = triton.now()
      for ev in c:generate_stream("echo_llm", { text_input = "one two three four", stream = true,
        parameters = { delay_ms = 200 } }) do
        events[#events + 1] = ev.text_output
        times[#times + 1] = triton.now() - t0
      end
      assert.same({ "one", " two", " three", " four" }, events)
      assert.is_true(times[1] < times[4] - 0.3, "first event at " .. times[1] .. " s, last at " .. times[4])
      -- without stream the model answers once, with the whole text
      local whole = {}
      for ev in c:generate_stream("echo_llm", { text_input = "one two" }) do
        whole[#whole + 1] = ev.text_output
      end
      assert.same({ "one two" }, whole)
    end)

    it("generate takes a single response and refuses several, as Triton's generate does", function()
      local err = h.error_of(c.generate, c, "echo_llm", { text_input = "a b c", stream = true })
      assert.equal("invalid_argument", err.code)
      assert.matches("generate expects model to produce exactly 1 response, got 3", err.message)
      assert.equal("a b c", c:generate("echo_llm", { text_input = "a b c" }).text_output)
    end)

    it("breaking out of the loop cancels the rest", function()
      local n = 0
      for _ in c:generate_stream("echo_llm", { text_input = "a b c d e f g h", stream = true }) do
        n = n + 1
        if n == 2 then break end
      end
      assert.equal(2, n)
      assert.is_true(c:is_server_live())
    end)

    it("raises errors from the stream", function()
      local err = h.error_of(function()
        for _ in c:generate_stream("no_such_model", { text_input = "x" }) do end
      end)
      assert.equal("not_found", err.code)
    end)
  end)

  describe("streams", function()
    if proto ~= "grpc" then
      it("need gRPC", function()
        local err = h.error_of(c.start_stream, c, function() end)
        assert.matches("needs gRPC", err.message)
        err = h.error_of(c.async_stream_infer, c, "simple", {})
        assert.matches("needs gRPC", err.message)
        err = h.error_of(c.stream_infer, c, "repeat_int32", repeat_inputs({ 1 }))
        assert.matches("needs gRPC", err.message)
      end)
      return
    end

    it("stream_infer yields a decoupled model's responses in order", function()
      local values = { 10, 20, 30, 40, 50 }
      local got = {}
      for r in c:stream_infer("repeat_int32", repeat_inputs(values, 20)) do
        got[#got + 1] = { out = r:as_tensor("OUT")[1], idx = r:as_tensor("IDX")[1] }
      end
      assert.equal(#values, #got)
      for i, v in ipairs(values) do
        assert.equal(v, got[i].out)
        assert.equal(i - 1, got[i].idx)
      end
    end)

    it("start_stream delivers each response to the callback", function()
      local responses, errors = {}, {}
      c:start_stream(function(r, err)
        if err then errors[#errors + 1] = err else responses[#responses + 1] = r end
      end)
      c:async_stream_infer("repeat_int32", repeat_inputs({ 1, 2, 3 }))
      c:async_stream_infer("repeat_int32", repeat_inputs({ 4, 5 }))
      c:stop_stream()
      assert.equal(0, #errors)
      assert.equal(5, #responses)
      local seen = {}
      for _, r in ipairs(responses) do seen[#seen + 1] = r:as_tensor("OUT")[1] end
      table.sort(seen)
      assert.same({ 1, 2, 3, 4, 5 }, seen)
    end)

    it("runs a sequence over a stream", function()
      local outs = {}
      c:start_stream(function(r, err)
        assert.is_nil(err)
        outs[#outs + 1] = r:as_tensor("OUTPUT"):get(1, 1)
      end)
      local values = { 0, 1, 2, 3 }
      for i, v in ipairs(values) do
        c:async_stream_infer("simple_sequence",
          { triton.InferInput("INPUT", { 1, 1 }, "INT32"):set_data({ { v } }) },
          { sequence_id = 77, sequence_start = i == 1, sequence_end = i == #values })
      end
      c:stop_stream()
      assert.equal(#values, #outs)
    end)

    it("errors inside the stream reach the callback without closing it", function()
      local responses, errors = 0, {}
      c:start_stream(function(r, err)
        if err then errors[#errors + 1] = err elseif r then responses = responses + 1 end
      end)
      c:async_stream_infer("no_such_model", { INPUT0 = triton.tensor({ 1 }, "INT32") })
      c:async_stream_infer("repeat_int32", repeat_inputs({ 9 }))
      c:stop_stream()
      assert.equal(1, #errors)
      assert.equal(triton.Error, getmetatable(errors[1]))
      assert.equal(1, responses)
    end)

    it("refuses a second stream on one client", function()
      c:start_stream(function() end)
      local err = h.error_of(c.start_stream, c, function() end)
      assert.equal("already_exists", err.code)
      c:stop_stream()
    end)
  end)
end)

-- stream_infer as a call (issue 10, item 4): a stream of its own per call, so
-- that several run at once and beside start_stream; headers and a deadline like
-- every call; the server's error with its own code.
describe("stream_infer over gRPC", function()
  local c
  setup(function() c = triton.connect(h.server().grpc_url) end)
  teardown(function() c:close() end)

  local function values(it)
    local out = {}
    for r in it do out[#out + 1] = r:as_tensor("OUT")[1] end
    return out
  end

  it("runs several at once on one client", function()
    local a = c:stream_infer("repeat_int32", repeat_inputs({ 1, 2, 3 }, 50))
    local b = c:stream_infer("repeat_int32", repeat_inputs({ 4, 5 }, 50))
    assert.same({ 4, 5 }, values(b))
    assert.same({ 1, 2, 3 }, values(a))
  end)

  it("takes options inherited through a metatable's __index, as infer does", function()
    local function names(r)
      local out = {}
      for k in pairs(r:outputs()) do out[#out + 1] = k end
      return table.concat(out, ",")
    end
    local only_out = setmetatable({}, { __index = { outputs = { "OUT" } } })
    local got = {}
    for r in c:stream_infer("repeat_int32", repeat_inputs({ 5, 6 }), only_out) do got[#got + 1] = names(r) end
    assert.same({ "OUT", "OUT" }, got)
    got = {}
    c:start_stream(function(r) if r then got[#got + 1] = names(r) end end)
    c:async_stream_infer("repeat_int32", repeat_inputs({ 1 }),
      setmetatable({}, { __index = { outputs = { "IDX" } } }))
    c:stop_stream()
    assert.same({ "IDX" }, got)
  end)

  it("leaves the caller's parameters as they were", function()
    local params = { note = "x" }
    assert.same({ 3 }, values(c:stream_infer("repeat_int32", repeat_inputs({ 3 }), { parameters = params })))
    assert.same({ note = "x" }, params)
  end)

  it("runs beside the client's start_stream", function()
    c:start_stream(function() end)
    assert.same({ 7 }, values(c:stream_infer("repeat_int32", repeat_inputs({ 7 }))))
    c:stop_stream()
  end)

  it("takes headers and a deadline for the whole stream", function()
    assert.same({ 8 }, values(c:stream_infer("repeat_int32", repeat_inputs({ 8 }),
      { headers = { ["x-test"] = "1" }, client_timeout = 30 })))
    local err = h.error_of(function()
      for _ in c:stream_infer("repeat_int32", repeat_inputs({ 1, 2 }, 3000), { client_timeout = 0.3 }) do end
    end)
    assert.equal("deadline_exceeded", err.code)
  end)

  it("ends with not_found for an unknown model, as infer does", function()
    local err = h.error_of(function()
      for _ in c:stream_infer("no_such_model", repeat_inputs({ 1 })) do end
    end)
    assert.equal("not_found", err.code)
    assert.equal("not_found", h.error_of(c.infer, c, "no_such_model", {}).code)
  end)
end)
