-- Futures and the loop (issue 10, item 3) as docs/API.md promises them ("Many
-- requests at once"): a call is on its way when it is made, callbacks and
-- replies are handed over from get_result, wait, run, poll, sleep and f:done(),
-- f:done() never blocks but makes progress, timeouts are honoured (the call goes
-- on), triton.run waits for every callback, and an error in a callback is
-- reported without breaking the loop. Counts are exact: a missing or an extra
-- callback fails.
local h = require "support.harness"
local triton = h.triton()

local simple_inputs = h.simple_inputs

local function check_simple(r, k)
  assert.equal(3 + k, r:as_tensor("OUTPUT0"):get(1, 1))
end

local function slow(ms)
  return { INPUT0 = triton.tensor({ ms }, "INT32") }
end

-- Calls step() until done() holds, at most `rounds` times; returns done().
-- The bound only stops a broken build from spinning forever.
local function until_done(done, step, rounds)
  for _ = 1, rounds or 20000 do
    if done() then return true end
    step()
  end
  return done()
end

-- A callback that counts its calls per key and checks each reply.
local function counter()
  local calls, total = {}, 0
  local function make(k)
    return function(r, err)
      assert(err == nil, tostring(err))
      check_simple(r, k)
      calls[k] = (calls[k] or 0) + 1
      total = total + 1
      collectgarbage()
    end
  end
  return make, calls, function() return total end
end

h.transports(function(_, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("f:done()", function()
    it("makes progress, so that a loop over done() and triton.sleep ends", function()
      local f = c:async_infer("slow", slow(50))
      assert.is_true(until_done(function() return f:done() end, function() triton.sleep(0.01) end))
      assert.equal(50, f:get_result():as_tensor("OUTPUT0")[1])
    end)

    it("runs ready callbacks, and never blocks", function()
      local got = 0
      c:async_infer("simple", simple_inputs(1), function() got = got + 1 end)
      local f = c:async_infer("slow", slow(30))
      assert.is_true(until_done(function() return f:done() end, function() end, math.huge))
      assert.equal(1, got)
    end)
  end)

  describe("calls made with nothing waiting", function()
    it("are all sent and call back once each, beyond the concurrency limit too", function()
      local c2 = triton.connect(url, { concurrency = 2 })
      local before = c2:inference_statistics("simple").model_stats[1].inference_stats.success.count
      local make, calls, total = counter()
      for k = 1, 10 do c2:async_infer("simple", simple_inputs(k), make(k)) end
      collectgarbage()
      assert.is_true(until_done(function() return total() == 10 end,
        function() triton.sleep(0.01) end))
      for k = 1, 10 do assert.equal(1, calls[k]) end
      triton.sleep(0.05) -- no call comes twice
      assert.equal(10, total())
      local after = c2:inference_statistics("simple").model_stats[1].inference_stats.success.count
      assert.equal(10, after - before)
      c2:close()
    end)

    it("call back from f:wait, triton.poll and triton.wait as well", function()
      local make, calls, total = counter()
      local fs = {}
      for k = 1, 3 do fs[k] = c:async_infer("simple", simple_inputs(k), {}, make(k)) end
      assert.is_true(fs[1]:wait())
      assert.is_true(until_done(function() return total() == 3 end, function() triton.poll(0.01) end))
      for k = 1, 3 do assert.equal(1, calls[k]) end
      fs[4] = c:async_infer("simple", simple_inputs(4), make(4))
      triton.wait(fs)
      assert.equal(4, total())
      assert.equal(1, calls[4])
    end)
  end)

  describe("f:get_result(block, timeout)", function()
    it("raises deadline_exceeded when the timeout runs out first; the call goes on", function()
      local f = c:async_infer("slow", slow(1500))
      local err = h.error_of(f.get_result, f, true, 0.05)
      assert.equal("deadline_exceeded", err.code)
      assert.matches("get_result: no result within 0.05 s (the call goes on)", err.message, 1, true)
      assert.is_false(f:done())
      assert.equal(1500, f:get_result():as_tensor("OUTPUT0")[1])
      assert.equal(1500, f:get_result(true, 0.05):as_tensor("OUTPUT0")[1]) -- done: no wait
    end)

    it("returns nil without blocking while the reply is not in (block = false)", function()
      local f = c:async_infer("slow", slow(300))
      assert.is_nil(f:get_result(false))
      assert.equal(300, f:get_result(true):as_tensor("OUTPUT0")[1])
      assert.equal(300, f:get_result(false):as_tensor("OUTPUT0")[1])
    end)

    it("checks its arguments", function()
      local f = c:async_infer("simple", simple_inputs(0))
      for _, bad in ipairs { -1, 0 / 0, -math.huge, "soon" } do
        local ok, msg = pcall(f.get_result, f, true, bad)
        assert.is_false(ok)
        assert.matches("timeout", tostring(msg))
      end
      assert.is_true(f:wait(math.huge)) -- math.huge: no limit, as for every timeout
      assert.has_error(function() f:get_result("yes") end)
      check_simple(f:get_result(), 0)
    end)
  end)

  describe("f:wait([timeout])", function()
    it("is false when the timeout runs out first and true once done", function()
      local f = c:async_infer("slow", slow(400))
      assert.is_false(f:wait(0.02))
      assert.is_true(f:wait())
      assert.is_true(f:wait(0))
      assert.equal(400, f:get_result():as_tensor("OUTPUT0")[1])
    end)

    it("does not raise the call's error; get_result does", function()
      local f = c:async_infer("no_such_model", simple_inputs(0))
      assert.is_true(f:wait())
      assert.equal("not_found", h.error_of(f.get_result, f).code)
    end)
  end)

  describe("a future whose result was taken", function()
    it("answers every method as before, with its value or its error", function()
      local f = c:async_infer("simple", simple_inputs(3))
      local r = f:get_result()
      check_simple(r, 3)
      assert.equal(r, f:get_result())
      assert.equal(r, f:get_result(false))
      assert.is_true(f:done())
      assert.is_true(f:wait(0))
      f:cancel()
      assert.equal("triton.Future(infer, done)", tostring(f))
      collectgarbage()
      assert.equal(r, f:get_result(true, 0))
      local bad = c:async_infer("no_such_model", simple_inputs(0))
      assert.equal("not_found", h.error_of(bad.get_result, bad).code)
      assert.equal("not_found", h.error_of(bad.get_result, bad).code)
      assert.is_true(bad:done())
    end)

    it("is asked from callbacks, its own and another's, while replies are handed over", function()
      local own, other = {}, c:async_infer("simple", simple_inputs(5))
      own.f = c:async_infer("simple", simple_inputs(4), function(r)
        own.same = own.f:get_result() == r
        own.other = other:get_result()
      end)
      check_simple(own.f:get_result(), 4)
      assert.is_true(own.same)
      check_simple(own.other, 5)
      check_simple(other:get_result(), 5)
    end)
  end)

  describe("triton.wait(futures, {timeout = s})", function()
    it("raises deadline_exceeded when they are not all done in time; the calls go on", function()
      local fs = { c:async_infer("simple", simple_inputs(1)), c:async_infer("slow", slow(1500)) }
      local err = h.error_of(triton.wait, fs, { timeout = 0.05 })
      assert.equal("deadline_exceeded", err.code)
      local rs = triton.wait(fs)
      check_simple(rs[1], 1)
      assert.equal(1500, rs[2]:as_tensor("OUTPUT0")[1])
    end)

    it("refuses unknown options and bad timeouts", function()
      local fs = { c:async_infer("simple", simple_inputs(1)) }
      assert.has_error(function() triton.wait(fs, { timout = 1 }) end,
        "unknown option 'timout' in wait options (did you mean 'timeout'?)")
      assert.has_error(function() triton.wait(fs, { timeout = -1 }) end)
      check_simple(triton.wait(fs)[1], 1)
    end)
  end)

  describe("triton.poll and triton.fd", function()
    it("poll(0) runs nothing with nothing in flight, and runs a reply once it is in", function()
      while triton.poll(0) > 0 do end -- whatever earlier tests left
      assert.equal(0, triton.poll(0))
      local got = 0
      c:async_infer("simple", simple_inputs(2), function(r)
        check_simple(r, 2)
        got = got + 1
      end)
      local n = 0
      assert.is_true(until_done(function() return got == 1 end,
        function() n = n + triton.poll(0.01) end))
      assert.is_true(n >= 1)
      assert.equal(1, got)
      assert.equal(0, triton.poll(0))
    end)

    it("fd is one descriptor for the state's life", function()
      local fd = triton.fd()
      h.assert_subtype("integer", fd)
      assert.is_true(fd >= 0)
      assert.equal(fd, triton.fd())
    end)

    it("poll resumes spawned coroutines without triton.run", function()
      local done = false
      triton.spawn(function()
        check_simple(c:infer("simple", simple_inputs(3)), 3)
        triton.sleep(0.01)
        done = true
      end)
      assert.is_true(until_done(function() return done end, function() triton.poll(0.01) end))
      assert.is_true(triton.run()) -- nothing left to run
    end)

    it("poll checks its timeout", function()
      assert.has_error(function() triton.poll(-1) end)
      assert.has_error(function() triton.poll(0 / 0) end)
    end)
  end)

  describe("triton.run", function()
    it("returns only once every call made with a callback has called it", function()
      for _ = 1, 20 do
        local make, calls, total = counter()
        for k = 1, 10 do c:async_infer("simple", simple_inputs(k), make(k)) end
        check_simple(c:async_infer("simple", simple_inputs(0)):get_result(), 0)
        assert.is_true(triton.run())
        assert.equal(10, total())
        for k = 1, 10 do assert.equal(1, calls[k]) end
        collectgarbage()
      end
    end)

    it("waits with timeouts in spawned coroutines", function()
      local got = {}
      triton.spawn(function()
        local f = c:async_infer("slow", slow(300))
        got.waited = f:wait(0.02)
        got.err = h.error_of(f.get_result, f, true, 0.02).code
        got.value = f:get_result():as_tensor("OUTPUT0")[1]
        got.after = f:wait(0)
      end)
      assert.is_true(triton.run())
      assert.same({ waited = false, err = "deadline_exceeded", value = 300, after = true }, got)
    end)
  end)

  describe("errors in callbacks", function()
    it("go to triton.on_callback_error's function, once each, and the loop goes on", function()
      local reported = {}
      triton.on_callback_error(function(err, traceback)
        reported[#reported + 1] = { err = err, traceback = traceback }
      end)
      local fs = {}
      for k = 1, 4 do
        fs[k] = c:async_infer("simple", simple_inputs(k), function()
          if k % 2 == 0 then error("callback " .. k .. " fails on purpose") end
        end)
      end
      local rs = triton.wait(fs)
      triton.on_callback_error(nil)
      for k = 1, 4 do check_simple(rs[k], k) end
      assert.equal(2, #reported)
      for _, rep in ipairs(reported) do
        assert.matches("fails on purpose", rep.err)
        assert.matches("stack traceback", rep.traceback)
      end
      check_simple(c:infer("simple", simple_inputs(0)), 0)
    end)

    it("are reported on stderr by default, with a traceback", function()
      local host = os.getenv("TRITONLUA")
      assert(host and host ~= "", "TRITONLUA is not set (run the specs through ctest)")
      local path, errpath = os.tmpname(), os.tmpname()
      local f = assert(io.open(path, "w"))
      f:write(string.format([[
        local c = triton.connect(%q)
        c:async_infer("slow", {INPUT0 = triton.tensor({1}, "INT32")}, function()
          error("on purpose")
        end):get_result()
        print(c:is_server_live())
      ]], url))
      f:close()
      local p = assert(io.popen(string.format("'%s' '%s' 2>'%s'", host, path, errpath)))
      local out = p:read("a")
      p:close()
      local ef = assert(io.open(errpath))
      local stderr = ef:read("a")
      ef:close()
      os.remove(path)
      os.remove(errpath)
      assert.equal("true\n", out)
      assert.matches("triton: error in a callback: .-on purpose\nstack traceback", stderr)
    end)
  end)
end)
