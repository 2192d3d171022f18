-- Errors: triton.Error values for server errors, transport failures and each
-- fault mode of the reference server; the client stays usable after each.
local h = require "support.harness"
local triton = h.triton()

local function simple_inputs()
  local a = {}
  for i = 1, 16 do a[i] = i end
  local t = triton.tensor({ a }, "INT32")
  return { INPUT0 = t, INPUT1 = t }
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("a triton.Error", function()
    it("has message, status and code and reads well", function()
      local err = h.error_of(c.model_metadata, c, "no_such_model")
      assert.equal(triton.Error, getmetatable(err))
      assert.equal("not_found", err.code)
      assert.matches("no_such_model", err.message)
      if proto == "http" then
        assert.is_number(err.status)
        assert.matches("^triton.Error: not_found %(HTTP %d+%): ", tostring(err))
      else
        assert.equal("NOT_FOUND", err.status)
        assert.matches("^triton.Error: not_found %(gRPC NOT_FOUND%): ", tostring(err))
      end
    end)

    it("comes from infer on an unknown model", function()
      local err = h.error_of(c.infer, c, "no_such_model", simple_inputs())
      assert.equal("not_found", err.code)
    end)

    it("of one blocking call is not the outcome of the next (each its own)", function()
      for _ = 1, 3 do
        assert.equal("not_found", h.error_of(c.infer, c, "no_such_model", simple_inputs()).code)
        assert.equal(2, c:infer("simple", simple_inputs()):as_tensor("OUTPUT0")[1][1])
        assert.is_true(c:is_server_live())
      end
    end)

    it("comes from a wrong input name", function()
      local t = triton.tensor({ 1, 2, 3 }, "INT32")
      local err = h.error_of(c.infer, c, "identity_int32", { WRONG = t })
      assert.equal("invalid_argument", err.code)
      assert.matches("WRONG", err.message)
    end)

    it("comes from a wrong dtype", function()
      local t = triton.tensor({ 1, 2, 3 }, "FP32")
      local err = h.error_of(c.infer, c, "identity_int32", { INPUT0 = t })
      assert.equal("invalid_argument", err.code)
    end)
  end)

  describe("transport failures", function()
    it("connection refused is unavailable", function()
      -- A port that was free a moment ago: bind-free ports are not reserved,
      -- but nothing listens on port 1.
      local scheme = url:match("^(%a+)://")
      local c2 = triton.connect(scheme .. "://127.0.0.1:1", { connection_timeout = 2 })
      local err = h.error_of(c2.is_server_live, c2)
      assert.equal("unavailable", err.code)
      c2:close()
    end)

    it("a client-side timeout against the slow model is deadline_exceeded", function()
      -- The reply never comes in time: only the timeout ends the call.
      local err = h.error_of(c.infer, c, "slow", { INPUT0 = triton.tensor({ h.NEVER_MS }, "INT32") },
        { client_timeout = 0.3 })
      assert.equal("deadline_exceeded", err.code)
      assert.is_true(c:is_server_live())
    end)

    it("a per-call timeout applies to other methods too", function()
      local err = h.error_of(c.server_metadata, c,
        { timeout = 0.2, headers = { ["x-fault"] = "delay=1500" } })
      assert.equal("deadline_exceeded", err.code)
      assert.is_true(c:is_server_live())
    end)
  end)

  describe("fault modes", function()
    local faults = { "close", "truncate", "bad-length", "bad-binary-size", "garbage", "huge", "status=503" }
    for _, fault in ipairs(faults) do
      it(fault .. " gives a clear error, then the same client succeeds", function()
        local err = h.error_of(c.infer, c, "simple", simple_inputs(), { headers = { ["x-fault"] = fault } })
        assert.is_string(err.message)
        assert.is_true(#err.message > 0)
        assert.is_string(err.code)
        assert.not_equal("ok", err.code)
        local r = c:infer("simple", simple_inputs())
        assert.equal(2, r:as_tensor("OUTPUT0"):get(1, 1))
      end)
    end

    it("status=CODE maps to the transport-neutral code", function()
      local code = proto == "http" and "503" or "14"
      local err = h.error_of(c.server_metadata, c, { headers = { ["x-fault"] = "status=" .. code } })
      assert.equal("unavailable", err.code)
    end)

    it("delay=MS delays the answer", function()
      local t0 = triton.now()
      assert.is_true(c:is_server_live { headers = { ["x-fault"] = "delay=300" } })
      assert.is_true(triton.now() - t0 >= 0.25)
    end)
  end)

  describe("argument checking", function()
    it("names the argument", function()
      assert.has_error(function() c:infer(1, {}) end,
        "bad argument #1 to 'infer' (string expected, got number)")
      assert.has_error(function() c:infer("simple", 5) end)
      assert.has_error(function() triton.InferInput("X", { 1 }, "fp32") end,
        "bad argument #3 to 'InferInput' (unknown dtype 'fp32' (did you mean 'FP32'?))")
      assert.has_error(function() triton.InferRequestedOutput("X", { clas_count = 1 }) end,
        "unknown option 'clas_count' in InferRequestedOutput options (did you mean 'class_count'?)")
    end)
    it("names a bad self of infer and async_infer, and a bad callback", function()
      assert.has_error(function() c.infer(42, "simple", simple_inputs()) end,
        "calling 'infer' on bad self (triton.Client expected, got number)")
      assert.has_error(function() c.async_infer(nil, "simple", simple_inputs()) end,
        "calling 'async_infer' on bad self (triton.Client expected, got nil)")
      assert.has_error(function() c.infer({}, "simple", simple_inputs()) end)
      assert.has_error(function() c:async_infer("simple", simple_inputs(), {}, 5) end,
        "bad argument #4 to 'async_infer' (function expected, got number)")
    end)
    it("rejects data that does not fit the input's shape", function()
      assert.has_error(function()
        triton.InferInput("X", { 2, 2 }, "INT32"):set_data({ 1, 2, 3 })
      end)
    end)
    it("streams over HTTP raise a 'needs gRPC' error", function()
      if proto ~= "http" then return end
      local err = h.error_of(c.start_stream, c, function() end)
      assert.equal("unimplemented", err.code)
      assert.matches("needs gRPC", err.message)
      err = h.error_of(c.stream_infer, c, "simple", simple_inputs())
      assert.matches("needs gRPC", err.message)
    end)
  end)
end)
