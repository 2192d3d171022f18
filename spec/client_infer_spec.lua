-- Inference: Triton style and map style, all 14 dtypes in JSON and binary,
-- large tensors, BYTES with zeros, classification, async calls and futures.
local h = require "support.harness"
local triton = h.triton()

local dtypes = { "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
  "FP16", "BF16", "FP32", "FP64", "BYTES" }

local function sample(dt)
  if dt == "BOOL" then return { true, false, true, true } end
  if dt == "BYTES" then return { "a", "", "b\0c", "\255\0" } end
  if dt:match("^FP") or dt == "BF16" then return { 1.5, -2, 0.25, 1024 } end
  if dt:match("^UINT") then return { 0, 1, 200, 7 } end
  return { -1, 0, 100, -100 }
end

local function simple_inputs()
  local a, b = {}, {}
  for i = 1, 16 do a[i], b[i] = i, 2 * i end
  return triton.tensor({ a }, "INT32"), triton.tensor({ b }, "INT32")
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("infer", function()
    it("runs simple in Triton style", function()
      local t0, t1 = simple_inputs()
      local inputs = {
        triton.InferInput("INPUT0", { 1, 16 }, "INT32"):set_data(t0),
        triton.InferInput("INPUT1", { 1, 16 }, "INT32"):set_data(t1),
      }
      local outputs = { triton.InferRequestedOutput("OUTPUT0"), triton.InferRequestedOutput("OUTPUT1") }
      local r = c:infer("simple", inputs, { outputs = outputs, request_id = "r1" })
      local sum, diff = r:as_tensor("OUTPUT0"), r:as_tensor("OUTPUT1")
      for i = 1, 16 do
        assert.equal(3 * i, sum:get(1, i))
        assert.equal(-i, diff:get(1, i))
      end
      local info = r:output("OUTPUT0")
      assert.equal("INT32", info.datatype)
      assert.same({ 1, 16 }, info.shape)
      local resp = r:response()
      assert.equal("simple", resp.model_name)
      assert.equal("r1", resp.id)
      assert.equal(2, #resp.outputs)
      -- An unknown name is a script's bug: it raises, naming the output.
      assert.has_error(function() r:as_tensor("NOPE") end, "no output 'NOPE' in this result")
      assert.has_error(function() r:output("NOPE") end, "no output 'NOPE' in this result")
    end)

    it("runs simple in map style", function()
      local t0, t1 = simple_inputs()
      local out = c:infer("simple", { INPUT0 = t0, INPUT1 = t1 }):outputs()
      assert.equal(3, out.OUTPUT0:get(1, 1))
      assert.equal(-16, out.OUTPUT1:get(1, 16))
    end)

    it("sends every input of a big map, in name order", function()
      -- identity_fp32 takes INPUT0 only: the server names the first other input
      -- it reads, and the inputs go out sorted by name.
      local inputs = { INPUT0 = triton.tensor({ 1, 2 }, "FP32") }
      for i = 1, 11 do inputs[string.format("X%02d", i)] = triton.tensor({ i }, "FP32") end
      local err = h.error_of(c.infer, c, "identity_fp32", inputs)
      assert.matches("unexpected inference input 'X01'", err.message, 1, true)
      -- each input is read: a closed one fails wherever the map keeps it
      for name, t in pairs(inputs) do
        t:close()
        assert.has_error(function() c:infer("identity_fp32", inputs) end, "attempt to use a closed tensor")
        inputs[name] = triton.tensor({ 0 }, "FP32")
      end
    end)

    it("takes tables as input data", function()
      local a = {}
      for i = 1, 16 do a[i] = i end
      local r = c:infer("simple", {
        triton.InferInput("INPUT0", { 1, 16 }, "INT32"):set_data(a),
        triton.InferInput("INPUT1", { 1, 16 }, "INT32"):set_data(a),
      })
      assert.equal(32, r:as_tensor("OUTPUT0"):get(1, 16))
    end)

    for _, dt in ipairs(dtypes) do
      it("round-trips " .. dt .. " in binary", function()
        local t = triton.tensor(sample(dt), dt)
        local r = c:infer("identity_" .. dt:lower(), { INPUT0 = t })
        local out = r:as_tensor("OUTPUT0")
        assert.equal(dt, out.dtype)
        assert.same(t:totable(), out:totable())
      end)
      if dt ~= "FP16" and dt ~= "BF16" and not (proto == "http" and dt == "BYTES") then
        it("round-trips " .. dt .. " as JSON", function()
          local t = triton.tensor(sample(dt), dt)
          local r = c:infer("identity_" .. dt:lower(), {
            triton.InferInput("INPUT0", { 4 }, dt):set_data(t, { binary_data = false }),
          }, { outputs = { triton.InferRequestedOutput("OUTPUT0", { binary_data = false }) } })
          assert.same(t:totable(), r:as_tensor("OUTPUT0"):totable())
        end)
      end
    end

    it("round-trips 64 MiB of FP32 through identity_fp32, byte for byte", function()
      local n = 16 * 1024 * 1024
      local t = triton.arange(0, n, "FP32")
      local out = c:infer("identity_fp32", { INPUT0 = t }):as_tensor("OUTPUT0")
      assert.equal(n, out:numel())
      assert.equal(t:bytes(), out:bytes())
      assert.equal(n - 1, out[n])
    end)

    it("keeps embedded zeros in BYTES", function()
      local s = { "\0", "a\0b\0", string.rep("\0", 100) }
      local out = c:infer("identity_bytes", { INPUT0 = triton.tensor(s, "BYTES") }):as_tensor("OUTPUT0")
      assert.same(s, out:totable())
    end)

    it("keeps embedded zeros in BYTES sent and answered as JSON", function()
      -- JSON has no form for bytes that are not UTF-8, so the sample is UTF-8;
      -- the server escapes each NUL as \u0000.
      local s = { "a", "", "b\0c", "\0\0", "\xc3\xa9\0", string.rep("x\0", 50) }
      local r = c:infer("identity_bytes", {
        triton.InferInput("INPUT0", { #s }, "BYTES"):set_data(s, { binary_data = false }),
      }, { outputs = { triton.InferRequestedOutput("OUTPUT0", { binary_data = false }) } })
      assert.same(s, r:as_tensor("OUTPUT0"):totable())
    end)

    it("answers classification outputs with parsed classes", function()
      local scores = {}
      for i = 1, 10 do scores[i] = i / 10 end
      local r = c:infer("classifier", {
        triton.InferInput("INPUT0", { 1, 10 }, "FP32"):set_data({ scores }),
      }, { outputs = { triton.InferRequestedOutput("OUTPUT0", { class_count = 3 }) } })
      local raw = r:as_tensor("OUTPUT0")
      assert.equal("BYTES", raw.dtype)
      local classes = r:classification("OUTPUT0")
      assert.equal(1, #classes)
      assert.equal(3, #classes[1])
      assert.equal(10, classes[1][1].index)
      assert.near(1.0, classes[1][1].score, 1e-6)
      assert.is_string(classes[1][1].label)
      assert.is_true(classes[1][1].score >= classes[1][2].score)
    end)

    it("sends sequence requests over unary calls", function()
      local function step(v, o)
        local r = c:infer("simple_sequence", {
          triton.InferInput("INPUT", { 1, 1 }, "INT32"):set_data({ { v } }) }, o)
        return r:as_tensor("OUTPUT"):get(1, 1)
      end
      local first = step(0, { sequence_id = 1001, sequence_start = true })
      local last = step(5, { sequence_id = 1001, sequence_end = true })
      assert.is_number(first)
      assert.is_number(last)
    end)
  end)

  describe("async_infer", function()
    it("returns a future whose get_result drives the call", function()
      local t0, t1 = simple_inputs()
      local f = c:async_infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      local r = f:get_result()
      assert.is_true(f:done())
      assert.equal(3, r:as_tensor("OUTPUT0"):get(1, 1))
      assert.equal(r, f:get_result())
    end)

    it("runs the callback once per call, on the Lua thread", function()
      local t0, t1 = simple_inputs()
      local calls, futures = {}, {}
      for i = 1, 5 do
        futures[i] = c:async_infer("simple", { INPUT0 = t0, INPUT1 = t1 }, nil, function(r, err)
          calls[#calls + 1] = { r = r, err = err, i = i }
          collectgarbage()
        end)
      end
      local results = triton.wait(futures)
      assert.equal(5, #results)
      assert.equal(5, #calls)
      for _, call in ipairs(calls) do
        assert.is_nil(call.err)
        assert.equal(3, call.r:as_tensor("OUTPUT0"):get(1, 1))
      end
    end)

    it("keeps input tensors alive while the call is in flight", function()
      local f
      do
        local t0, t1 = simple_inputs()
        f = c:async_infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      end
      collectgarbage()
      collectgarbage()
      assert.equal(48, f:get_result():as_tensor("OUTPUT0"):get(1, 16))
    end)

    it("keeps output tensors valid after their result is gone, each closed on its own", function()
      local t0, t1 = simple_inputs()
      local r = c:infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      local a, b = r:as_tensor("OUTPUT0"), r:as_tensor("OUTPUT0")
      local diff = r:outputs().OUTPUT1
      a:close()
      assert.equal("tensor(closed)", tostring(a))
      assert.has_error(function() a:numel() end, "attempt to use a closed tensor")
      assert.is_nil(a:close())
      assert.equal(3, b:get(1, 1))
      assert.equal(6, r:as_tensor("OUTPUT0"):get(1, 2))
      local row = b[1]
      r = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
      assert.equal(48, b:get(1, 16))
      assert.equal(45, row[15])
      assert.equal(-16, diff:get(1, 16))
      assert.same({ 1, 16 }, b.shape)
      b:close()
      assert.equal(3, row[1])
    end)

    it("closes output tensors whose result was finalized first", function()
      -- An output tensor keeps its result alive, so the result's finalizer
      -- frees the reply only once no tensor can reach it, except from another
      -- finalizer that runs after the result's: there the tensor reads as
      -- closed. Lua 5.3 and 5.4 run finalizers newest first, so the result's
      -- comes first here; LuaJIT gives no order, and either outcome is right
      -- as long as the tensor is read whole or not at all.
      local seen
      local function leave_behind()
        local held = {}
        local owner = h.on_gc(function() seen = { pcall(function() return held.t:get(1, 1) end) } end)
        local t0, t1 = simple_inputs()
        held.t = c:infer("simple", { INPUT0 = t0, INPUT1 = t1 }):as_tensor("OUTPUT0")
        return owner
      end
      leave_behind()
      collectgarbage()
      collectgarbage()
      assert.is_table(seen)
      if h.lua == "jit" and seen[1] then
        assert.equal(3, seen[2])
      else
        assert.is_false(seen[1])
        assert.matches("attempt to use a closed tensor", seen[2])
      end
      local t0, t1 = simple_inputs()
      local r = c:infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      local t = r:as_tensor("OUTPUT0")
      getmetatable(r).__gc(r) -- a finalizer called by hand closes its tensors too
      assert.has_error(function() r:as_tensor("OUTPUT0") end, "attempt to use a released infer result")
      assert.has_error(function() t:get(1, 1) end, "attempt to use a closed tensor")
      assert.equal("tensor(closed)", tostring(t))
      assert.is_nil(t:close())
    end)

    it("gives output tensors the one tensor metatable, and takes them as inputs", function()
      local t0, t1 = simple_inputs()
      local r = c:infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      local sum = r:as_tensor("OUTPUT0")
      assert.equal(getmetatable(t0), getmetatable(sum))
      assert.is_true(triton.is_tensor(sum))
      assert.equal("INT32", sum.dtype)
      local again = c:infer("simple", { INPUT0 = sum, INPUT1 = r:outputs().OUTPUT1 })
      for i = 1, 16 do assert.equal(2 * i, again:as_tensor("OUTPUT0"):get(1, i)) end
      local inputs = { triton.InferInput("INPUT0", { 1, 16 }, "INT32"):set_data(sum),
        triton.InferInput("INPUT1", { 1, 16 }, "INT32"):set_data(t1) }
      assert.equal(5 * 16, c:infer("simple", inputs):as_tensor("OUTPUT0"):get(1, 16))
      assert.equal(6, (sum + sum):get(1, 1))
    end)

    it("reports errors through the future and the callback", function()
      local got
      local f = c:async_infer("no_such_model", { INPUT0 = triton.tensor({ 1 }, "INT32") }, nil,
        function(r, err) got = { r, err } end)
      local ok, err = pcall(f.get_result, f)
      assert.is_false(ok)
      assert.equal(triton.Error, getmetatable(err))
      assert.is_nil(got[1])
      assert.equal(err.code, got[2].code)
    end)

    it("triton.wait raises the first error after all calls ended", function()
      local t0, t1 = simple_inputs()
      local good = c:async_infer("simple", { INPUT0 = t0, INPUT1 = t1 })
      local bad = c:async_infer("no_such_model", { INPUT0 = t0 })
      local err = h.error_of(triton.wait, { good, bad })
      assert.equal("not_found", err.code)
      assert.is_true(good:done())
    end)

    it("a callback error is reported and does not break the loop", function()
      local t0, t1 = simple_inputs()
      local f = c:async_infer("simple", { INPUT0 = t0, INPUT1 = t1 }, nil, function() error("boom") end)
      local r = f:get_result()
      assert.equal(3, r:as_tensor("OUTPUT0"):get(1, 1))
      assert.is_true(c:is_server_live())
    end)

    it("closing a client with calls in flight cancels them", function()
      local c2 = triton.connect(url)
      local got
      local f = c2:async_infer("slow", { INPUT0 = triton.tensor({ 2000 }, "INT32") }, nil,
        function(_, err) got = err end)
      c2:close()
      local err = h.error_of(f.get_result, f)
      assert.equal("cancelled", err.code)
      assert.equal("cancelled", got.code)
    end)
  end)
end)
