-- Bad input from Lua: every public function called with wrong types, nil, NaN,
-- huge and negative shapes, sizes that disagree, closed clients, tensors and
-- shared memory regions. Each gives a Lua error whose message names the
-- argument or the problem; none crashes the process or leaves it unusable.
local h = require "support.harness"
local f = require "support.faults"
local triton = h.triton()

local NAN, INF = 0 / 0, math.huge
-- A dimension and a second one whose product is 2^64, which a wrapping int64 count
-- would take for 0: 2^62 * 4, or under LuaJIT, whose integers stop at 2^53, 2^53 * 2^11.
local HUGE, TIMES = 0x4000000000000000, 4
if h.lua == "jit" then HUGE, TIMES = 2 ^ 53, 2 ^ 11 end

-- Calls fn(...), which must raise; the message (a triton.Error's message, or
-- the string) must contain every plain-text fragment in `want` (a string or a list).
local function raises(want, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error, the call succeeded")
  local msg = getmetatable(err) == triton.Error and err.message or tostring(err)
  for _, frag in ipairs(type(want) == "table" and want or { want }) do
    assert.is_truthy(msg:find(frag, 1, true),
      string.format("error message %q does not mention %q", msg, frag))
  end
  return err
end

local function int32(values) return triton.tensor(values, "INT32") end

describe("triton.connect", function()
  local url = h.server().http_url

  it("wants a URL string", function()
    raises({ "url", "connect", "got nil" }, triton.connect)
    raises({ "url", "got number" }, triton.connect, 8000)
    raises({ "url", "empty string" }, triton.connect, "")
  end)

  it("refuses URLs it cannot use", function()
    raises({ "scheme", "ftp" }, triton.connect, "ftp://h:1")
    raises({ "has a path" }, triton.connect, "http://h:1/v2")
    raises({ "no host" }, triton.connect, "http://")
    raises({ "is http but the client is grpc" }, triton.connect, url, { protocol = "grpc" })
  end)

  it("checks its options table", function()
    raises({ "#2", "table expected" }, triton.connect, url, 5)
    raises({ "unknown option 'timout'" }, triton.connect, url, { timout = 1 })
    raises({ "connection_timeout" }, triton.connect, url, { connection_timeout = -1 })
    raises({ "connection_timeout" }, triton.connect, url, { connection_timeout = NAN })
    raises({ "network_timeout" }, triton.connect, url, { network_timeout = "1" })
    raises({ "max_response_size" }, triton.connect, url, { max_response_size = -5 })
    raises({ "max_response_size" }, triton.connect, url, { max_response_size = 1.5 })
    raises({ "concurrency" }, triton.connect, url, { concurrency = 0 })
    raises({ "concurrency" }, triton.connect, url, { concurrency = 0x10000000000 })
    raises({ "verbose", "boolean" }, triton.connect, url, { verbose = 1 })
    raises({ "compression" }, triton.connect, url, { compression = "br" })
    raises({ "ssl.ca_file", "string" }, triton.connect, url, { ssl = { ca_file = 1 } })
    raises({ "unknown option 'verify'" }, triton.connect, url, { ssl = { verify = false } })
    raises({ "headers" }, triton.connect, url, { headers = { [1] = "x" } })
    raises({ "headers" }, triton.connect, url, { headers = "x-a: b" })
    raises({ "gRPC clients only" }, triton.connect, url, { keepalive = {} })
  end)

  it("refuses header values that would split a request", function()
    -- Refused at connect or at the first call, never sent.
    for _, u in ipairs { url, h.server().grpc_url } do
      raises({ "x-a" }, function()
        local c = triton.connect(u, { headers = { ["x-a"] = "b\r\nx-fault: close" } })
        local ok, err = pcall(c.is_server_live, c)
        c:close()
        if not ok then error(err) end
      end)
    end
  end)

  it("checks gRPC channel arguments", function()
    local gurl = h.server().grpc_url
    raises({ "channel_args" }, triton.connect, gurl, { channel_args = { x = {} } })
    raises({ "channel_args" }, triton.connect, gurl, { channel_args = { [1] = 2 } })
    raises({ "keepalive.time_ms" }, triton.connect, gurl, { keepalive = { time_ms = -1 } })
  end)

  it("fails at connect on a TLS file it cannot read", function()
    raises({ "ssl.ca_file", "/nonexistent/ca.pem" }, triton.connect, "https://127.0.0.1:1",
      { ssl = { ca_file = "/nonexistent/ca.pem" } })
  end)

  it("triton.http.client and triton.grpc.client want an options table with a url", function()
    raises({ "http.client", "table expected" }, triton.http.client)
    raises({ "url", "grpc.client" }, triton.grpc.client, {})
  end)
end)

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("client methods", function()
    it("name a missing or mistyped model argument", function()
      raises({ "#1", "'infer'", "string expected" }, c.infer, c)
      raises({ "#1", "is_model_ready", "got number" }, c.is_model_ready, c, 5)
      raises({ "#2", "model_metadata", "version" }, c.model_metadata, c, "simple", 1.5)
      raises({ "#1", "load_model" }, c.load_model, c, {})
      raises({ "#1", "update_trace_settings", "table expected" }, c.update_trace_settings, c)
      raises({ "#3", "register_system_shared_memory" }, c.register_system_shared_memory, c,
        "r", "/k", -1)
      raises({ "#2", "generate", "table expected" }, c.generate, c, "echo_llm", 5)
    end)

    it("check inputs", function()
      raises({ "#2", "infer" }, c.infer, c, "simple")
      raises({ "input 'INPUT0' must be a tensor" }, c.infer, c, "simple", { INPUT0 = 5 })
      raises({ "inputs[1] is not an InferInput" }, c.infer, c, "simple", { 1, 2 })
      raises({ "has no data" }, c.infer, c, "simple", { triton.InferInput("INPUT0", { 2 }, "INT32") })
      local closed = int32({ 1, 2 })
      closed:close()
      raises({ "closed tensor" }, c.infer, c, "identity_int32", { INPUT0 = closed })
    end)

    it("check infer's inputs alike with and without options, sync and async, at the caller's line",
      function()
        local t = int32({ 1 })
        local cases = {
          { nil, { INPUT0 = t }, "bad argument #1 to 'FN' (string expected, got no value)" },
          { 5, { INPUT0 = t }, "bad argument #1 to 'FN' (string expected, got number)" },
          { "simple", nil, "bad argument #2 to 'FN' " ..
            "(list of InferInput or map of name -> tensor expected, got nil)" },
          { "simple", "x", "bad argument #2 to 'FN' " ..
            "(list of InferInput or map of name -> tensor expected, got string)" },
          { "simple", { INPUT0 = t, [7] = t }, "bad argument #2 to 'FN' (mixed list and map of inputs)" },
          { "simple", { INPUT0 = {} },
            "bad argument #2 to 'FN' (input 'INPUT0' must be a tensor (triton.tensor(data, dtype)))" },
          { "simple", { t }, "bad argument #2 to 'FN' (inputs[1] is not an InferInput)" },
          { "simple", { triton.InferInput("INPUT0", { 1 }, "INT32"):set_data(t), INPUT1 = t },
            "bad argument #2 to 'FN' (mixed list and map of inputs)" },
          { "simple", { triton.InferInput("INPUT0", { 1 }, "INT32") },
            "input 'INPUT0' has no data: call set_data or set_shared_memory" },
          { "simple", { triton.InferInput("INPUT0", { 1 }, "INT32"):set_data(t):set_shape({ 1, -1 }) },
            "input 'INPUT0' has shape {1,-1}: set_shape a concrete shape first" },
          { "simple", { triton.InferInput("INPUT0", { -1 }, "INT32"):set_shared_memory("r", 4) },
            "input 'INPUT0' has shape {-1}: set_shape a concrete shape first" },
        }
        -- Without options, with options (both read in C), and with what only
        -- client.lua takes: infer's split, async_infer's callback.
        local lua_only = { infer = { { split = false } }, async_infer = { {}, function() end } }
        for _, case in ipairs(cases) do
          for _, fname in ipairs { "infer", "async_infer" } do
            for _, extra in ipairs { {}, { {} }, lua_only[fname] } do
              local line
              local ok, err = pcall(function()
                line = debug.getinfo(1, "l").currentline + 1
                local r = c[fname](c, case[1], case[2], extra[1], extra[2])
                return r -- not a tail call: this function's line is the caller's
              end)
              assert.is_false(ok)
              local where = string.format("bad_input_spec.lua:%d: ", line)
              assert.equal(where .. case[3]:gsub("FN", fname), tostring(err):match("[^/]*$"))
            end
          end
        end
      end)

    it("name a bad model before bad options, whichever way the call goes", function()
      local inputs = { INPUT0 = int32({ 1 }) }
      local routes = {
        { "infer", { bogus = 1 } }, { "infer", { bogus = 1, split = false } },
        { "infer", { bogus = 1, query_params = {} } }, { "async_infer", { bogus = 1 } },
        { "async_infer", { bogus = 1 }, function() end },
      }
      for _, r in ipairs(routes) do
        raises({ "#1", "'" .. r[1] .. "'", "string expected, got number" }, c[r[1]], c, 5, inputs, r[2], r[3])
      end
    end)

    it("check options: types, NaN, negative numbers and typos", function()
      local inputs = { INPUT0 = int32({ 1 }) }
      raises({ "#3", "options table" }, c.infer, c, "identity_int32", inputs, 5)
      raises({ "unknown option 'client_timout'" }, c.infer, c, "identity_int32", inputs,
        { client_timout = 1 })
      raises({ "client_timeout" }, c.infer, c, "identity_int32", inputs, { client_timeout = NAN })
      raises({ "client_timeout" }, c.infer, c, "identity_int32", inputs, { client_timeout = -1 })
      raises({ "sequence_id" }, c.infer, c, "identity_int32", inputs, { sequence_id = -1 })
      raises({ "priority" }, c.infer, c, "identity_int32", inputs, { priority = 1.5 })
      raises({ "request_id", "string" }, c.infer, c, "identity_int32", inputs, { request_id = 5 })
      raises({ "parameters" }, c.infer, c, "identity_int32", inputs, { parameters = { [1] = 2 } })
      raises({ "outputs[1]" }, c.infer, c, "identity_int32", inputs, { outputs = { 5 } })
      raises({ "timeout" }, c.is_server_live, c, { timeout = NAN })
      raises({ "timeout" }, c.is_server_live, c, { timeout = -1 })
      raises({ "'is_server_live'", "table expected" }, c.is_server_live, c, 5)
      raises({ "#4", "async_infer", "function expected" }, c.async_infer, c, "identity_int32",
        inputs, {}, 5)
    end)

    it("refuse values JSON cannot carry, naming the field", function()
      raises({ ".x", "NaN" }, c.update_trace_settings, c, { x = NAN })
      raises({ ".x", "function" }, c.update_log_settings, c, { x = print })
      raises({ "text_input", "function" }, c.generate, c, "echo_llm", { text_input = print })
      local cyclic = {}
      cyclic.a = cyclic
      raises({ "cycle" }, c.load_model, c, "x", { config = cyclic })
      local ro = triton.InferRequestedOutput("OUTPUT0"):set_parameter("k", {})
      raises({ "parameter 'k'" }, c.infer, c, "identity_int32", { INPUT0 = int32({ 1 }) },
        { outputs = { ro } })
    end)

    it("refuse NaN and infinite parameters on both transports, naming the key", function()
      -- JSON cannot carry them, so HTTP refused them while gRPC sent them.
      local inputs = { INPUT0 = int32({ 1 }) }
      for _, bad in ipairs({ NAN, INF, -INF }) do
        raises({ "bad option 'parameters.p' to 'infer' (finite number expected" }, c.infer, c,
          "identity_int32", inputs, { parameters = { p = bad } })
        raises({ "#2", "set_parameter", "parameter 'q'", "finite" },
          triton.InferInput("INPUT0", { 1 }, "INT32").set_parameter,
          triton.InferInput("INPUT0", { 1 }, "INT32"), "q", bad)
        raises({ "#2", "set_parameter", "parameter 'r'", "finite" },
          triton.InferRequestedOutput("OUTPUT0").set_parameter,
          triton.InferRequestedOutput("OUTPUT0"), "r", bad)
      end
      -- Finite floats and huge integers still go through.
      local r = c:infer("identity_int32", inputs, { parameters = { p = 1.5, q = h.maxinteger } })
      assert.equal(1, r:as_tensor("OUTPUT0")[1])
    end)

    it("take an enormous timeout as no limit, and an infinite one as that or an error", function()
      -- Regression test: gRPC's deadline_after (src/grpc/grpc.c) once converted
      -- seconds * 1e6 to int64 unbounded, so 1e300 became a deadline in the past.
      local r = c:infer("identity_int32", { INPUT0 = int32({ 7 }) }, { client_timeout = 1e300 })
      assert.equal(7, r:as_tensor("OUTPUT0")[1])
      assert.is_true(c:is_server_live { timeout = 1e300 })
      local ok, err = pcall(c.is_server_live, c, { timeout = INF })
      if not ok then assert.matches("timeout", tostring(err)) end
    end)

    it("results check their arguments", function()
      local r = c:infer("identity_int32", { INPUT0 = int32({ 1, 2 }) })
      raises({ "string expected", "got no value" }, r.output, r)
      -- Regression test: a number was looked up as a name ("5") and gave nil.
      -- (not tail calls: LuaJIT names the method only in a call it can still see)
      raises({ "#1", "'as_tensor'", "string expected, got number" }, function() return (r:as_tensor(5)) end)
      raises({ "#1", "'output'", "string expected, got number" }, function() return (r:output(5)) end)
      raises({ "no output 'OUTPUT9' in this result" }, r.as_tensor, r, "OUTPUT9")
      raises({ "no output 'OUTPUT9' in this result" }, r.output, r, "OUTPUT9")
      raises({ "not a classification" }, r.classification, r, "OUTPUT0")
      raises({ "triton.Future expected" }, c:async_infer("identity_int32",
        { INPUT0 = int32({ 1 }) }).get_result, {})
      -- Each class checks self against its own metatable, not another class's.
      local fut = c:async_infer("identity_int32", { INPUT0 = int32({ 1 }) })
      raises({ "triton.InferResult expected, got triton.Future" }, r.as_tensor, fut, "OUTPUT0")
      raises({ "triton.Future expected, got triton.InferResult" }, fut.get_result, r)
      raises({ "triton.InferResult expected, got triton.Tensor" }, r.outputs, int32({ 1 }))
      assert.equal(1, fut:get_result():as_tensor("OUTPUT0"):numel())
    end)
  end)

  describe("a shape that disagrees with its data", function()
    -- A client to a port with nothing behind it: a refusal there proves the
    -- check ran in the client, before any byte went out.
    local offline
    setup(function()
      offline = triton.connect(proto .. "://127.0.0.1:" .. f.dead_port(), { connection_timeout = 1 })
    end)
    teardown(function() offline:close() end)

    it("is refused by set_data", function()
      local i = triton.InferInput("X", { 2, 2 }, "INT32")
      raises({ "set_data", "4 elements", "the data has 3" }, i.set_data, i, { 1, 2, 3 })
      raises({ "set_data", "3 bytes", "expected 16" }, i.set_data, i, "abc")
      raises({ "set_data", "17 bytes" }, i.set_data, i, ("x"):rep(17))
      raises({ "set_data", "is INT32, the tensor is FP32" }, i.set_data, i,
        triton.tensor({ 1, 2, 3, 4 }, "FP32"))
      raises({ "set_data", "does not fit INT32" }, i.set_data, i, { NAN, 1, 2, 3 })
    end)

    it("is refused before sending when set_shape changed it after set_data", function()
      -- Regression test: over gRPC the request once went out and only the
      -- server refused it.
      local i = triton.InferInput("INPUT0", { 2 }, "INT32"):set_data({ 1, 2 })
      i:set_shape({ 3 })
      local err = h.error_of(offline.infer, offline, "identity_int32", { i })
      assert.equal("invalid_argument", err.code)
    end)

    it("is refused when its element count overflows int64",
      function()
        -- {2^62, 4} has 2^64 elements: a wrapping count would be 0 and match {}.
        local i = triton.InferInput("INPUT0", { HUGE, TIMES }, "INT32")
        raises({ "set_data" }, i.set_data, i, {})
        i = triton.InferInput("INPUT0", { 2 }, "INT32"):set_data({ 1, 2 })
        i:set_shape({ HUGE, TIMES })
        local err = h.error_of(offline.infer, offline, "identity_int32", { i })
        assert.is_truthy(err.code == "invalid_argument" or err.code == "out_of_range", err.code)
      end)
  end)

  describe("a closed client", function()
    it("refuses every call, and closing again is harmless", function()
      local c2 = triton.connect(url)
      c2:close()
      local inputs = { INPUT0 = int32({ 1 }) }
      raises("closed client", c2.infer, c2, "identity_int32", inputs)
      raises("closed client", c2.async_infer, c2, "identity_int32", inputs)
      raises("closed client", c2.is_server_live, c2)
      raises("closed client", c2.model_metadata, c2, "simple")
      raises("closed client", function()
        for _ in c2:generate_stream("echo_llm", { text_input = "a" }) do end
      end)
      if proto == "grpc" then raises("closed client", c2.start_stream, c2, function() end) end
      c2:close()
      assert.matches("closed", tostring(c2))
    end)

    it("says so at the line of the user's call", function()
      local c2 = triton.connect(url)
      c2:close()
      local x = { INPUT0 = int32({ 1 }) }
      -- each call on its line, not a tail call, so that its line is the caller's
      for _, call in ipairs {
        function() local r = c2:infer("identity_int32", x); return r end,
        function() local r = c2:async_infer("identity_int32", x, {}); return r end,
        function() local r = c2:is_server_live(); return r end,
      } do
        local ok, err = pcall(call)
        assert.is_false(ok)
        local line = debug.getinfo(call, "S").linedefined
        assert.equal(string.format("bad_input_spec.lua:%d: attempt to use a closed client", line),
          tostring(err):match("[^/]*$"))
      end
    end)

    it("cancels the futures it had in flight", function()
      local c2 = triton.connect(url)
      local fut = c2:async_infer("slow", { INPUT0 = int32({ 200 }) })
      c2:close()
      local err = h.error_of(fut.get_result, fut)
      assert.equal("cancelled", err.code)
      assert.is_true(fut:done())
      fut:cancel()
      collectgarbage()
      assert.is_true(c:is_server_live())
    end)
  end)
end)

describe("InferInput and InferRequestedOutput", function()
  it("check the constructor's arguments", function()
    raises({ "#1", "InferInput", "string expected, got number" }, triton.InferInput, 5, { 1 }, "INT32")
    raises("bad argument #1 to 'InferInput' (string expected, got no value)", triton.InferInput)
    raises({ "#2", "shape[1] must be a non-negative integer, got -2" }, triton.InferInput, "X",
      { -2 }, "INT32")
    raises({ "#2", "shape[1]" }, triton.InferInput, "X", { 1.5 }, "INT32")
    raises({ "#2", "shape[1]" }, triton.InferInput, "X", { NAN }, "INT32")
    raises({ "#2", "shape must be a table of integers, got string" }, triton.InferInput, "X", "2x2", "INT32")
    raises({ "#3", "dtype", "NOPE" }, triton.InferInput, "X", { 1 }, "NOPE")
    raises({ "#3", "dtype" }, triton.InferInput, "X", { 1 })
  end)

  it("check their methods' arguments", function()
    local i = triton.InferInput("X", { 2, 2 }, "INT32")
    raises({ "#1", "set_data", "got nil" }, i.set_data, i)
    raises({ "#1", "set_data", "got number" }, i.set_data, i, 5)
    raises({ "unknown option 'binary'" }, i.set_data, i, { 1, 2, 3, 4 }, { binary = true })
    raises({ "bad option 'binary_data' to 'set_data' (boolean expected, got 1)" }, i.set_data, i,
      { 1, 2, 3, 4 }, { binary_data = 1 })
    raises({ "#1", "set_shared_memory", "region name" }, i.set_shared_memory, i, 5, 16)
    raises({ "#2", "set_shared_memory", "byte size" }, i.set_shared_memory, i, "r", -1)
    raises({ "#3", "set_shared_memory", "offset" }, i.set_shared_memory, i, "r", 16, -1)
    raises("bad argument #1 to 'set_parameter' (string expected, got number)", i.set_parameter, i,
      1, 1)
    raises({ "#2", "set_parameter", "got table" }, i.set_parameter, i, "k", {})
    raises({ "#1", "set_shape" }, i.set_shape, i, "x")
    local o = triton.InferRequestedOutput("Y")
    raises("bad argument #1 to 'InferRequestedOutput' (string expected, got no value)",
      triton.InferRequestedOutput)
    raises({ "#2", "InferRequestedOutput", "table expected" }, triton.InferRequestedOutput, "Y", 5)
    raises({ "class_count" }, triton.InferRequestedOutput, "Y", { class_count = -1 })
    raises({ "class_count" }, triton.InferRequestedOutput, "Y", { class_count = 1.5 })
    raises({ "unknown option 'clas_count'" }, triton.InferRequestedOutput, "Y", { clas_count = 1 })
    raises({ "#1", "set_shared_memory" }, o.set_shared_memory, o, 5, 1)
    raises({ "#1", "set_parameter" }, o.set_parameter, o, 1, 1)
  end)
end)

describe("tensors", function()
  it("check data, dtype and shape", function()
    raises({ "#1", "got no value" }, triton.tensor)
    raises({ "unknown dtype 'NOPE'" }, triton.tensor, { 1 }, "NOPE")
    raises({ "does not fit shape" }, triton.tensor, { 1, 2 }, "INT32", { 3 })
    raises({ "3 bytes of data", "expected 4" }, triton.tensor, "abc", "INT32", { 1 })
    raises({ "ragged" }, triton.tensor, { { 1, 2 }, { 3 } }, "INT32")
    raises({ "ragged" }, triton.tensor, { 1, { 2 } }, "INT32")
    -- # of {1, nil, 3} may be either border: 3 (5.3, 5.4: a nil element) or 1 (LuaJIT: a stray key)
    raises(h.lua == "jit" and { "key 3 outside its sequence 1..1" } or { "[2]", "got nil" },
      triton.tensor, { 1, nil, 3 }, "INT32")
    raises({ "shape[1] must be a non-negative integer, got 1.5" }, triton.tensor, { 1 }, "INT32", { 1.5 })
    raises({ "shape has 65 dimensions, at most 32" }, triton.tensor, { 1 }, "INT32", (function()
      local s = {}
      for k = 1, 65 do s[k] = 1 end
      return s
    end)())
  end)

  it("refuse values that do not fit the dtype, NaN included", function()
    raises({ "[1]", "-nan", "INT32" }, triton.tensor, { NAN }, "INT32")
    raises({ "inf", "INT64" }, triton.tensor, { INF }, "INT64")
    raises({ "does not fit INT8" }, triton.tensor, { 1e300 }, "INT8")
    raises({ "300 does not fit UINT8" }, triton.tensor, { 300 }, "UINT8")
    raises({ "-1 does not fit UINT8" }, triton.tensor, { -1 }, "UINT8")
    raises({ "1.5 does not fit INT32" }, triton.tensor, { 1.5 }, "INT32")
    raises({ "expected a number for FP32, got string" }, triton.tensor, { "1.5" }, "FP32")
    raises({ "expected a string for BYTES, got number" }, triton.tensor, { 1 }, "BYTES")
    raises({ "expected a number for INT32, got boolean" }, triton.tensor, { true }, "INT32")
    raises({ "does not fit INT32" }, triton.full, { 2 }, NAN, "INT32")
  end)

  it("refuse nesting deeper than the dimension limit without exhausting the C stack", function()
    local deep = { 1 }
    for _ = 1, 100000 do deep = { deep } end
    raises({ "too many dimensions" }, triton.tensor, deep, "INT32")
  end)

  it("refuse negative and huge shapes before allocating", function()
    raises({ "shape[1] must be a non-negative integer, got -1" }, triton.zeros, { -1 }, "INT32")
    raises({ "overflows" }, triton.zeros, { 0x10000000000, 0x10000000000 }, "FP32")
    raises({ "overflows" }, triton.zeros, { HUGE, TIMES }, "FP32")
    raises({ "overflows" }, triton.ones, { HUGE, TIMES, 4 }, "INT8")
    raises({ "overflows" }, triton.tensor, "", "INT32", { 0x10000000000, 0x10000000000 })
    raises({ "overflows" }, triton.rand, { 0x10000000000, 0x10000000000 }, "FP32")
    -- A 4 TiB allocation that fails: ASan aborts on it unless told to return NULL.
    if os.getenv("TRITON_SANITIZE") ~= "1"
      or (os.getenv("ASAN_OPTIONS") or ""):find("allocator_may_return_null=1", 1, true) then
      raises({ "out of memory" }, triton.zeros, { 0x10000000000 }, "FP32")
    end
    raises({ "#1", "shape must be a table of integers, got string" }, triton.zeros, "x", "FP32")
    raises({ "overflows" }, triton.arange, 0, 1e18, 1, "INT64")
    raises({ "overflows" }, triton.arange, 0, INF, 1, "FP64")
    raises({ "step", "NaN" }, triton.arange, 0, 10, 0, "INT32")
    raises({ "NaN" }, triton.arange, 0, NAN, 1, "FP32")
  end)

  it("check indices and dimensions", function()
    local t = triton.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "FP32")
    raises({ "index 0 out of range" }, t.get, t, 0, 1)
    raises({ "index 100 out of range" }, t.get, t, 100, 1)
    raises({ "expected 2 indices", "got 3" }, t.get, t, 1, 1, 1)
    raises({ "must be an integer" }, t.get, t, NAN, 1)
    raises({ "index 4 out of range" }, function() return t[4] end)
    raises({ "expected a number for FP32, got string" }, t.set, t, 1, 1, "x")
    raises({ "cannot set field 'x'" }, function() t.x = 1 end)
    raises({ "only one dimension can be -1" }, t.reshape, t, { -1, -1 })
    raises({ "4 elements, expected 6" }, t.reshape, t, { 4 })
    raises({ "overflows" }, t.reshape, t, { HUGE, TIMES, 0 })
    raises({ "out of range" }, t.slice, t, 1, 5, 2)
    raises({ "dim 9 out of range" }, t.transpose, t, 1, 9)
    raises({ "not a permutation" }, t.permute, t, { 1, 1 })
    raises({ "dim 9 out of range" }, t.squeeze, t, 9)
    raises({ "unknown dtype 'NOPE'" }, t.astype, t, "NOPE")
    raises({ "cannot convert FP32 to BYTES" }, t.astype, t, "BYTES")
    raises({ "k = 100 is out of range" }, t.topk, t, 100)
    raises({ "k = -1 is out of range" }, t.topk, t, -1)
    raises({ "dim 9 out of range" }, t.softmax, t, 9)
    raises({ "dim 0 out of range" }, t.argmax, t, 0)
  end)

  it("check operands of arithmetic and functions", function()
    local t = triton.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "FP32")
    raises({ "expected a tensor or a number" }, function() return t + "x" end)
    raises({ "cannot be broadcast" }, function() return t + triton.tensor({ 1, 2 }, "FP32") end)
    raises({ "not defined for BYTES" }, function() return triton.tensor({ "a" }, "BYTES") + 1 end)
    raises({ "#2", "function expected" }, t.map, t, 5)
    raises({ "expected a number for FP32, got string" }, t.map, t, function() return "x" end)
    raises({ "boom" }, t.map, t, function() error("boom") end)
    raises({ "#2", "number expected" }, t.clamp, t, "a", 1)
    raises({ "NaN" }, t.clamp, t, NAN, NAN)
    local empty = triton.tensor("", "FP32", { 0 })
    raises({ "empty tensor" }, empty.max, empty)
    raises({ "empty tensor" }, empty.argmax, empty)
    raises({ "empty list" }, triton.cat, {}, 1)
    raises({ "element 2", "expected a tensor" }, triton.cat, { int32({ 1 }), 5 }, 1)
    raises({ "tensor #2 is FP32" }, triton.cat, { int32({ 1 }), triton.tensor({ 1 }, "FP32") }, 1)
    raises({ "dim 9 out of range" }, triton.cat, { int32({ 1 }), int32({ 1 }) }, 9)
    raises({ "tensor #2 has shape" }, triton.stack, { int32({ 1 }), int32({ 1, 2 }) }, 1)
    raises({ "#2", "triton.Tensor expected" }, triton.allclose, triton.tensor({ 1 }, "FP32"), 5)
  end)

  it("refuse every use once closed, and stay printable", function()
    local t = int32({ 1, 2, 3 })
    local view = t[1] == 1 and t:reshape({ 3, 1 }) or nil
    t:close()
    raises("closed tensor", function() return t:numel() end)
    raises("closed tensor", function() return t[1] end)
    raises("closed tensor", function() return t + 1 end)
    raises("closed tensor", function() return triton.InferInput("X", { 3 }, "INT32"):set_data(t) end)
    assert.matches("closed", tostring(t))
    t:close()
    -- A view taken before the close keeps its data alive.
    collectgarbage()
    assert.equal(3, view:get(3, 1))
    raises({ "#1", "triton.Tensor expected" }, view.numel, {})
  end)
end)

describe("triton.shm", function()
  it("checks name, key and size", function()
    raises({ "#1", "string expected" }, triton.shm.create)
    raises({ "must start with '/'" }, triton.shm.create, "r", "noslash", 10)
    raises({ "must not contain '/'" }, triton.shm.create, "r", "/a/b", 10)
    raises({ "zero byte" }, triton.shm.create, "r", "/a\0b", 10)
    raises({ "needs a name" }, triton.shm.create, "r", "/", 10)
    raises({ "301 bytes long", "limit is 255" }, triton.shm.create, "r", "/" .. ("a"):rep(300), 10)
    raises({ "#3", "above 0" }, triton.shm.create, "r", h.shm_key("z"), 0)
    raises({ "#3", "above 0" }, triton.shm.create, "r", h.shm_key("z"), -1)
    raises({ "#3" }, triton.shm.create, "r", h.shm_key("z"), NAN)
    local err = raises({ "failed" }, triton.shm.create, "r", h.shm_key("z"), HUGE)
    assert.equal(triton.Error, getmetatable(err))
  end)

  it("checks offsets and sizes on write and read", function()
    local r = h.closing(triton.shm.create("r", h.shm_key("rw"), 16))
    raises({ "#3", "offset must not be negative" }, r.write, r, "x", -1)
    raises({ "17 bytes at offset 0 do not fit" }, r.write, r, ("x"):rep(17))
    raises({ "2 bytes at offset 15" }, r.write, r, "xx", 15)
    raises({ "do not fit" }, r.write, r, "x", h.maxinteger)
    raises({ "#2", "tensor or string expected" }, r.write, r, 5)
    raises({ "20 bytes at offset 0" }, r.write, r, int32({ 1, 2, 3, 4, 5 }))
    raises({ "unknown dtype 'NOPE'" }, r.read, r, "NOPE", { 1 })
    raises({ "shape[1]", "non-negative" }, r.read, r, "INT32", { -1 })
    raises({ "20 bytes at offset 0" }, r.read, r, "INT32", { 5 })
    raises({ "do not fit" }, r.read, r, "INT32", { 1 }, h.maxinteger)
    raises({ "overflows" }, r.read, r, "INT32", { HUGE, TIMES })
    -- BYTES lengths read from the region are checked against its end.
    r:write(("\255"):rep(16))
    raises({ "BYTES element 1", "runs past the end" }, r.read, r, "BYTES", { 1 })
    raises({ "runs past the end" }, r.read, r, "BYTES", { 1 }, 16)
  end)

  it("refuses every use once destroyed, and destroying again is harmless", function()
    local r = triton.shm.create("r", h.shm_key("d"), 16)
    r:destroy()
    raises("destroyed shared memory region", r.write, r, "x")
    raises("destroyed shared memory region", r.read, r, "INT32", { 1 })
    raises("destroyed shared memory region", function() return r.byte_size end)
    r:destroy()
    assert.matches("destroyed", tostring(r))
    raises({ "#1", "triton.ShmRegion expected" }, r.write, {}, "x")
  end)
end)

describe("triton.json", function()
  it("encode refuses what JSON cannot hold, saying where", function()
    raises({ "function" }, triton.json.encode, print)
    raises({ "NaN" }, triton.json.encode, NAN)
    raises({ "infinite", "$[1]" }, triton.json.encode, { INF })
    local cyc = {}
    cyc[1] = cyc
    raises({ "cycle" }, triton.json.encode, cyc)
    raises({ "mixes array and object" }, triton.json.encode, { 1, a = 2 })
    raises({ "sparse" }, triton.json.encode, { 1, nil, 3 })
    raises({ "table key" }, triton.json.encode, { [{}] = 1 })
    local deep = {}
    local cur = deep
    for _ = 1, 5000 do
      cur[1] = {}
      cur = cur[1]
    end
    raises({ "nesting deeper than 1000" }, triton.json.encode, deep)
  end)

  it("decode refuses malformed text, saying where", function()
    raises({ "#1", "string expected" }, triton.json.decode)
    raises({ "byte 2" }, triton.json.decode, "{")
    raises({ "nesting deeper than 1000" }, triton.json.decode, ("["):rep(100000))
    raises({ "trailing characters" }, triton.json.decode, "1 2")
    raises({ "control character" }, triton.json.decode, "\"a\0b\"")
    raises({ "surrogate" }, triton.json.decode, '"\\ud800"')
    raises({ "value expected" }, triton.json.decode, "")
  end)
end)

describe("triton.wait and triton.sleep", function()
  it("wait wants a list of futures", function()
    raises({ "#1", "wait", "got nil" }, triton.wait)
    -- Known bug, see the report: a list element that is not a future raises
    -- "attempt to index a number value (local 'f')" from inside client.lua.
    raises({ "wait", "future" }, triton.wait, { 5 })
    raises({ "wait", "future" }, triton.wait, { {} })
    assert.same({}, triton.wait({}))
  end)

  it("sleep wants seconds in range", function()
    raises({ "#1", "sleep" }, triton.sleep, -1)
    raises({ "#1", "sleep" }, triton.sleep, "x")
    raises({ "#1", "sleep" }, triton.sleep, NAN)
    raises({ "#1", "sleep" }, triton.sleep, INF)
  end)
end)

describe("verbose logs", function()
  -- The log goes to stderr, so a child interpreter (the one running this spec,
  -- with the same LUA_PATH/LUA_CPATH) makes the calls and we read what it wrote.
  local function verbose_output(url)
    local interp = h.interpreter()
    local code = string.format([[
      local triton = require "triton"
      local c = triton.connect(%q, { verbose = true, headers = {
        Authorization = "Bearer hunter2", ["x-api-key"] = "hunter2" } })
      print(c)
      print(select(2, pcall(c.is_server_live, c)))
      print(select(2, pcall(c.start_stream, c, function() end)))
      c:close()
      print(c)]], url)
    return (h.command(f.shell_quote(interp) .. " -e " .. f.shell_quote(code) .. " 2>&1"))
  end

  for _, proto in ipairs(h.protocols) do
    it("never show credentials over " .. proto, function()
      local port = h.server()[proto .. "_port"]
      local out = verbose_output(proto .. "://127.0.0.1:" .. port)
      assert.matches("redacted", out)
      assert.is_nil(out:find("hunter2", 1, true), "a header's secret reached the log:\n" .. out)
    end)
  end

  -- Regression test: the HTTP log lines once printed the URL as given,
  -- user:password included, and tostring(client) (which the REPL prints) and
  -- the gRPC log still did.
  it("never show a password given in the URL, nor does tostring(client)", function()
    local out = verbose_output("http://user:hunter2@127.0.0.1:" .. h.server().http_port)
    assert.matches("GET", out)
    assert.matches("triton.Client%(http, http://%[redacted%]@127.0.0.1:%d+%)", out)
    assert.matches("triton.Client%(http, http://%[redacted%]@127.0.0.1:%d+, closed%)", out)
    assert.is_nil(out:find("hunter2", 1, true), "the URL's password reached the output:\n" .. out)
  end)

  it("refuse user:password@ in a gRPC URL, without showing the password", function()
    local url = "grpc://user:hunter2@127.0.0.1:" .. h.server().grpc_port
    local ok, err = pcall(triton.connect, url)
    assert.is_false(ok)
    assert.matches("grpc://%[redacted%]@127.0.0.1:%d+' has user:password@, which gRPC does not use", err)
    assert.is_nil(err:find("hunter2", 1, true), err)
    ok, err = pcall(triton.http.client, { url = "ftp://user:hunter2@x" })
    assert.is_false(ok)
    assert.matches("unsupported URL scheme 'ftp' in 'ftp://%[redacted%]@x'", err)
  end)
end)
