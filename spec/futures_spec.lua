-- Futures and the loop (issue 10, item 3): a call goes out when it is made;
-- callbacks and replies are handed over from poll, sleep, done, wait and run;
-- f:done() never blocks but makes progress; f:wait, get_result(block, timeout)
-- and triton.wait honour their timeouts; triton.run() returns only when every
-- call made with a callback has delivered it. Counts are exact: a missing or an
-- extra callback fails.
local h = require "support.harness"
local triton = h.triton()

local function simple_inputs()
  local t = triton.ones({ 1, 16 }, "INT32")
  return { INPUT0 = t, INPUT1 = t }
end

local function slow(ms)
  return { INPUT0 = triton.tensor({ ms }, "INT32") }
end

h.transports(function(_, url)
  describe("futures", function()
    local c
    setup(function() c = triton.connect(url, { concurrency = 8 }) end)
    teardown(function() c:close() end)

    it("f:done() makes progress: a loop on it and triton.sleep ends", function()
      local f = c:async_infer("simple", simple_inputs())
      local spins = 0
      while not f:done() do
        spins = spins + 1
        assert.is_true(spins < 10000, "f:done() never turned true")
        triton.sleep(0.01)
      end
      assert.equal(2, f:get_result():as_tensor("OUTPUT0"):get(1, 1))
    end)

    it("sends calls beyond the concurrency limit while nothing waits but triton.sleep", function()
      local got = 0
      for _ = 1, 10 do
        c:async_infer("simple", simple_inputs(), {}, function(r, err)
          assert.is_nil(err)
          assert.equal(2, r:as_tensor("OUTPUT0"):get(1, 1))
          got = got + 1
        end)
      end
      local deadline = triton.now() + 30
      while got < 10 and triton.now() < deadline do triton.sleep(0.05) end
      assert.equal(10, got)
      collectgarbage()
    end)

    it("triton.poll(timeout) runs callbacks and returns how many ran", function()
      local got = 0
      c:async_infer("simple", simple_inputs(), {}, function() got = got + 1 end)
      local n = 0
      local deadline = triton.now() + 30
      while got == 0 and triton.now() < deadline do n = n + triton.poll(0.05) end
      assert.equal(1, got)
      assert.is_true(n >= 1)
      assert.equal(0, triton.poll(0))
    end)

    it("triton.fd() is a descriptor number, the same every time", function()
      local fd = triton.fd()
      assert.equal("integer", math.type(fd))
      assert.is_true(fd >= 0)
      assert.equal(fd, triton.fd())
    end)

    it("f:wait(timeout) is false when the timeout runs out first, and the call goes on", function()
      local f = c:async_infer("slow", slow(500))
      assert.is_false(f:wait(0.05))
      assert.is_true(f:wait(30))
      assert.is_true(f:done())
      assert.equal(500, f:get_result():as_tensor("OUTPUT0")[1])
    end)

    it("get_result(false) is nil while not done; get_result(true, timeout) raises in time", function()
      local f = c:async_infer("slow", slow(500))
      assert.is_nil(f:get_result(false))
      local err = h.error_of(f.get_result, f, true, 0.05)
      assert.equal("deadline_exceeded", err.code)
      assert.matches("get_result: no result within 0.05 s", err.message, 1, true)
      assert.equal(500, f:get_result(true, 30):as_tensor("OUTPUT0")[1])
    end)

    it("triton.wait(futures, {timeout = s}) raises deadline_exceeded in time", function()
      local f = c:async_infer("slow", slow(500))
      local err = h.error_of(triton.wait, { f }, { timeout = 0.05 })
      assert.equal("deadline_exceeded", err.code)
      assert.equal(1, #triton.wait({ f }, { timeout = 30 }))
      assert.has_error(function() triton.wait({ f }, { timout = 1 }) end,
        "unknown option 'timout' in wait options")
    end)

    it("triton.run() returns only once every callback was delivered", function()
      for _ = 1, 20 do
        local got = 0
        for _ = 1, 10 do
          c:async_infer("simple", simple_inputs(), {}, function() got = got + 1 end)
        end
        c:async_infer("simple", simple_inputs()):get_result()
        triton.run()
        assert.equal(10, got)
      end
    end)
  end)
end)
