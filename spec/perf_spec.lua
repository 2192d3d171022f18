-- triton.perf: a small load test over each transport returns sane figures.
-- No timing thresholds: only relations that hold on any machine.
local h = require "support.harness"
local triton = h.triton()

local function simple_inputs()
  local a, b = {}, {}
  for i = 1, 16 do a[i], b[i] = i, 2 * i end
  return { INPUT0 = triton.tensor({ a }, "INT32"), INPUT1 = triton.tensor({ b }, "INT32") }
end

local function check_sane(s, n)
  assert.equal(n, s.requests)
  assert.equal(0, s.errors)
  assert.is_true(s.throughput > 0)
  assert.is_true(s.cpu_per_request >= 0)
  local l = s.latency
  assert.is_true(0 < l.min and l.min <= l.p50 and l.p50 <= l.p90 and l.p90 <= l.p99
    and l.p99 <= l.max)
  assert.is_true(l.max <= s.duration)
end

h.transports(function(_, url)
  local c
  setup(function() c = triton.connect(url, { concurrency = 8 }) end)
  teardown(function() c:close() end)

  describe("triton.perf", function()
    it("measures a fixed number of requests", function()
      check_sane(triton.perf(c, "simple", simple_inputs(), { requests = 50, warmup = 5 }), 50)
    end)

    it("keeps `concurrency` requests in flight", function()
      -- 8 requests of 100 ms, 8 at a time: one round, far from eight.
      local s = triton.perf(c, "slow", { INPUT0 = triton.tensor({ 100 }, "INT32") },
        { concurrency = 8, requests = 8, progress = false })
      check_sane(s, 8)
      assert.is_true(s.latency.min >= 0.09)
      assert.is_true(s.duration < 8 * s.latency.min)
    end)

    it("runs for a duration", function()
      local s = triton.perf(c, "simple", simple_inputs(), { duration = 0.3, concurrency = 2 })
      assert.is_true(s.requests > 0)
      check_sane(s, s.requests)
      assert.is_true(s.duration >= 0.3)
    end)

    it("counts failed requests as errors", function()
      local s = triton.perf(c, "no_such_model", simple_inputs(), { requests = 10, concurrency = 3 })
      assert.equal(10, s.requests)
      assert.equal(10, s.errors)
      assert.equal("not_found", s.first_error.code)
      assert.is_nil(s.latency.p50)
    end)

    it("passes infer options through", function()
      local s = triton.perf(c, "simple", simple_inputs(), {
        requests = 5, options = { outputs = { triton.InferRequestedOutput("OUTPUT0") } },
      })
      check_sane(s, 5)
    end)

    it("rejects bad options by name", function()
      assert.has_error(function() triton.perf(c, "simple", simple_inputs(), { requets = 5 }) end,
        "unknown option 'requets' in perf options (did you mean 'requests'?)")
      assert.has_error(function() triton.perf(c, "simple", simple_inputs(), { duration = 0 }) end,
        "bad option 'duration' to 'perf' (number >= 0.001 expected, got 0)")
      assert.has_error(function() triton.perf(c, "simple", simple_inputs(), { progress = 1 }) end,
        "bad option 'progress' to 'perf' (boolean expected, got 1)")
      assert.has_error(function() triton.perf(c, "simple", simple_inputs(), 5) end,
        "bad argument #4 to 'perf' (options table expected, got 5)")
      assert.has_error(function()
        triton.perf(c, "simple", simple_inputs(), { requests = 5, duration = 1 })
      end, "perf takes 'requests' or 'duration', not both")
      assert.has_error(function() triton.perf(c, "simple", simple_inputs(), { concurrency = 0 }) end)
      assert.has_error(function() triton.perf({}, "simple", simple_inputs()) end,
        "bad argument #1 to 'perf' (triton client expected, got table)")
    end)

    it("names a bad model or bad inputs by their place in its own arguments", function()
      assert.has_error(function() triton.perf(c, 5, simple_inputs(), { requests = 1 }) end,
        "bad argument #2 to 'perf' (string expected, got number)")
      assert.has_error(function() triton.perf(c, nil, simple_inputs(), { bogus = 1 }) end,
        "bad argument #2 to 'perf' (string expected, got no value)")
      assert.has_error(function() triton.perf(c, "simple", 5, { requests = 1 }) end,
        "bad argument #3 to 'perf' (list of InferInput or map of name -> tensor expected, got number)")
      local bad = simple_inputs()
      bad.INPUT1 = 5
      assert.has_error(function() triton.perf(c, "simple", bad, { requests = 1 }) end,
        "bad argument #3 to 'perf' (input 'INPUT1' must be a tensor (triton.tensor(data, dtype)))")
      local outputs = { outputs = { 5 } }
      assert.has_error(function()
        triton.perf(c, "simple", simple_inputs(), { requests = 1, options = outputs })
      end, "bad argument #4 to 'perf' (outputs[1] is not an InferRequestedOutput or a name)")
    end)
  end)
end)
