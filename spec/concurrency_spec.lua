-- Many requests at once from one Lua state: futures, callbacks, triton.wait,
-- triton.spawn + triton.run, triton.sleep in coroutines, clients closed or
-- collected with requests in flight, Ctrl-C in the tritonlua host.
local h = require "support.harness"
local triton = h.triton()

local simple_inputs = h.simple_inputs

local function check_simple(r, k)
  local sum, diff = r:as_tensor("OUTPUT0"), r:as_tensor("OUTPUT1")
  for i = 1, 16 do
    assert.equal(3 * i + k, sum:get(1, i))
    assert.equal(k - i, diff:get(1, i))
  end
end

local function slow(ms)
  return { INPUT0 = triton.tensor({ ms }, "INT32") }
end

-- Runs a tritonlua script (the host binary of this build) with `url` in $U;
-- with `interrupt`, sends SIGINT once the script has written "ready" to stderr.
-- Returns the exit status and its stderr. The scripts wait on requests that
-- never end by themselves (h.NEVER_MS, in $NEVER): they exit only by cancelling.
local function run_host(script, url, interrupt)
  local host = os.getenv("TRITONLUA")
  assert(host and host ~= "", "TRITONLUA is not set (run the specs through ctest)")
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local errpath = os.tmpname()
  local cmd = string.format("U='%s' NEVER=%d '%s' '%s' 2>'%s' & p=$!; ", url, h.NEVER_MS, host, path, errpath)
  if interrupt then cmd = cmd .. h.sigint_when(errpath, "ready", "p") end
  cmd = cmd .. "wait $p"
  local _, _, status = h.execute(cmd)
  local ef = assert(io.open(errpath, "r"))
  local stderr = ef:read("a")
  ef:close()
  os.remove(path)
  os.remove(errpath)
  return status, stderr
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url, { concurrency = 128 }) end)
  teardown(function() c:close() end)

  describe("async_infer", function()
    it("keeps 100 requests in flight, all completed and correct", function()
      local futures = {}
      for k = 1, 100 do futures[k] = c:async_infer("simple", simple_inputs(k)) end
      local results = triton.wait(futures)
      assert.equal(100, #results)
      for k = 1, 100 do
        assert.is_true(futures[k]:done())
        check_simple(results[k], k)
      end
    end)

    it("calls each of 100 callbacks exactly once", function()
      local calls, futures = {}, {}
      for k = 1, 100 do
        futures[k] = c:async_infer("simple", simple_inputs(k), function(r, err)
          assert(err == nil, tostring(err))
          check_simple(r, k)
          calls[k] = (calls[k] or 0) + 1
          collectgarbage()
        end)
      end
      triton.wait(futures)
      for k = 1, 100 do assert.equal(1, calls[k]) end
    end)

    it("keeps going after a callback raises", function()
      local ok_calls, futures = 0, {}
      for k = 1, 20 do
        futures[k] = c:async_infer("simple", simple_inputs(k), function()
          if k % 2 == 0 then error("callback " .. k .. " fails on purpose") end
          ok_calls = ok_calls + 1
        end)
      end
      local results = triton.wait(futures)
      assert.equal(10, ok_calls)
      for k = 1, 20 do check_simple(results[k], k) end
      -- The loop still serves new requests.
      check_simple(c:infer("simple", simple_inputs(0)), 0)
    end)
  end)

  describe("spawn and run", function()
    it("interleaves 50 coroutines each making a sequence of calls", function()
      -- One client carries them all, and first a request that never ends by
      -- itself: the 50 can finish only if their calls run beside it, not queued
      -- behind it. The last of them closes the client, which cancels it.
      local c2 = triton.connect(url, { concurrency = 128 })
      local started, ended, done, blocker = {}, {}, 0, nil
      triton.spawn(function()
        local ok, e = pcall(c2.infer, c2, "slow", slow(h.NEVER_MS))
        assert.is_false(ok)
        blocker = { err = e, done = done }
      end)
      for k = 1, 50 do
        triton.spawn(function(n)
          started[n] = triton.now()
          local r = c2:infer("slow", slow(200))
          assert.equal(200, r:as_tensor("OUTPUT0")[1])
          assert.is_true(c2:is_model_ready("simple"))
          assert.equal("simple", c2:model_metadata("simple").name)
          check_simple(c2:infer("simple", simple_inputs(n)), n)
          ended[n] = triton.now()
          done = done + 1
          if done == 50 then c2:close() end
        end, k)
      end
      assert.is_true(triton.run())
      assert.equal(50, done)
      assert.equal("cancelled", blocker.err.code)
      assert.equal(50, blocker.done) -- it ended after all of them, by the close
      -- Every coroutine had started before the first one ended: they overlapped.
      local last_start, first_end = 0, math.huge
      for k = 1, 50 do
        last_start = math.max(last_start, started[k])
        first_end = math.min(first_end, ended[k])
      end
      assert.is_true(last_start < first_end)
    end)

    it("passes arguments, allows nested spawns and returns true when all succeed", function()
      local seen = {}
      triton.spawn(function(a, b)
        seen[#seen + 1] = a + b
        triton.spawn(function() seen[#seen + 1] = c:is_server_live() end)
      end, 1, 2)
      assert.is_true(triton.run())
      assert.same({ 3, true }, seen)
      assert.is_true(triton.run()) -- nothing spawned: returns at once
    end)

    it("reports an error in one coroutine and lets the others finish", function()
      local finished = 0
      for k = 1, 4 do
        triton.spawn(function()
          c:infer("slow", slow(50))
          if k == 2 then error("coroutine 2 fails on purpose") end
          if k == 3 then c:infer("no_such_model", simple_inputs(0)) end
          finished = finished + 1
        end)
      end
      local ok, errs = triton.run()
      assert.is_false(ok)
      assert.equal(2, finished)
      assert.equal(2, #errs)
      local saw_plain, saw_triton = false, false
      for _, e in ipairs(errs) do
        if type(e) == "string" and e:find("coroutine 2 fails on purpose", 1, true) then
          saw_plain = true
        elseif getmetatable(e) == triton.Error then
          assert.equal("not_found", e.code)
          saw_triton = true
        end
      end
      assert.is_true(saw_plain and saw_triton)
    end)

    it("yields in future:get_result, triton.wait and plain coroutine.yield", function()
      local outside = c:async_infer("slow", slow(100))
      local got, order = {}, {}
      triton.spawn(function()
        got.outside = outside:get_result():as_tensor("OUTPUT0")[1]
        order[#order + 1] = "outside"
      end)
      triton.spawn(function()
        local rs = triton.wait({ c:async_infer("slow", slow(100)), c:async_infer("slow", slow(50)) })
        got.waited = rs[1]:as_tensor("OUTPUT0")[1] + rs[2]:as_tensor("OUTPUT0")[1]
        order[#order + 1] = "waited"
      end)
      triton.spawn(function()
        for _ = 1, 3 do coroutine.yield() end
        got.yielded = true
        order[#order + 1] = "yielded"
      end)
      assert.is_true(triton.run())
      assert.same({ outside = 100, waited = 150, yielded = true }, got)
      -- The first two were spawned first, yet the third finished before them:
      -- get_result and wait let it run instead of blocking the state.
      assert.equal("yielded", order[1])
    end)

    it("yields in c:infer and c:async_infer called with options or a callback", function()
      -- With options or a callback the methods run their Lua half (the common
      -- call stays in C): each coroutine's calls must still let the others run,
      -- so the one plain coroutine finishes first, while they wait.
      local order, got = {}, {}
      triton.spawn(function()
        got.options = c:infer("slow", slow(100), { client_timeout = 30 }):as_tensor("OUTPUT0")[1]
        order[#order + 1] = "options"
      end)
      triton.spawn(function()
        local f = c:async_infer("slow", slow(100), { request_id = "x" })
        got.async = f:get_result():as_tensor("OUTPUT0")[1]
        order[#order + 1] = "async"
      end)
      triton.spawn(function()
        local seen
        local f = c:async_infer("slow", slow(50), function(r) seen = r:as_tensor("OUTPUT0")[1] end)
        f:get_result()
        got.callback = seen
        order[#order + 1] = "callback"
      end)
      triton.spawn(function()
        for _ = 1, 3 do coroutine.yield() end
        order[#order + 1] = "yielded"
      end)
      assert.is_true(triton.run())
      assert.same({ options = 100, async = 100, callback = 50 }, got)
      assert.equal("yielded", order[1])
    end)

    it("makes triton.sleep yield", function()
      -- The first coroutine sleeps until the second is done, however long that
      -- takes: the order holds only if each sleep let the other run.
      local order, done = {}, false
      triton.spawn(function()
        repeat triton.sleep(0.02) until done
        order[#order + 1] = "long"
      end)
      triton.spawn(function()
        triton.sleep(0.05)
        order[#order + 1] = "short"
        c:infer("slow", slow(50))
        order[#order + 1] = "request"
        done = true
      end)
      local t0 = triton.now()
      assert.is_true(triton.run())
      assert.same({ "short", "request", "long" }, order)
      -- run waited for the sleeps (a lower bound: never too early, however slow)
      assert.is_true(triton.now() - t0 >= 0.05)
    end)

    it("refuses triton.run inside a spawned coroutine", function()
      triton.spawn(function() triton.run() end)
      local ok, errs = triton.run()
      assert.is_false(ok)
      assert.truthy(tostring(errs[1]):find("called from a spawned coroutine", 1, true))
    end)

    if proto == "grpc" then
      it("yields while iterating stream_infer", function()
        local got, seen = {}, {}
        for k = 1, 2 do
          triton.spawn(function()
            local cs = triton.connect(url)
            -- The first stream's last response comes well after the second's first.
            local ins = {
              IN = triton.tensor({ 10 * k, 10 * k + 1, 10 * k + 2 }, "INT32"),
              DELAY = triton.tensor({ 50, 50, k == 1 and 200 or 50 }, "UINT32"),
              WAIT = triton.tensor({ 0 }, "UINT32"),
            }
            local outs = {}
            for r in cs:stream_infer("repeat_int32", ins) do
              outs[#outs + 1] = r:as_tensor("OUT")[1]
              seen[#seen + 1] = outs[#outs]
            end
            got[k] = outs
            cs:close()
          end)
        end
        assert.is_true(triton.run())
        assert.same({ { 10, 11, 12 }, { 20, 21, 22 } }, got)
        -- The second stream was read while the first one was still open.
        local pos = {}
        for i, v in ipairs(seen) do pos[v] = i end
        assert.is_true(pos[20] < pos[12], table.concat(seen, " "))
      end)
    end
  end)

  describe("a client with requests in flight", function()
    it("ends them with 'cancelled' when closed, also for waiting coroutines", function()
      local c2 = triton.connect(url)
      local f = c2:async_infer("slow", slow(h.NEVER_MS))
      local err
      triton.spawn(function()
        local ok, e = pcall(c2.infer, c2, "slow", slow(h.NEVER_MS))
        assert.is_false(ok)
        err = e
      end)
      triton.spawn(function()
        triton.sleep(0.1)
        c2:close()
      end)
      assert.is_true(triton.run())
      assert.equal("cancelled", err.code)
      assert.equal("cancelled", h.error_of(f.get_result, f).code)
    end)

    it("does not crash when collected, in this state and at exit", function()
      do
        local c2 = triton.connect(url)
        for _ = 1, 5 do c2:async_infer("slow", slow(300)) end
        c2:async_infer("slow", slow(100), function() end)
      end
      collectgarbage()
      collectgarbage()
      c:infer("slow", slow(400)) -- outlives the collected client's requests
      collectgarbage()
      check_simple(c:infer("simple", simple_inputs(1)), 1)
      -- A process that exits with requests in flight cancels them at lua_close
      -- (under the sanitizer build the host is instrumented, leaks included).
      local status, stderr = run_host([[
        local c = triton.connect(os.getenv("U"))
        local never = {INPUT0 = triton.tensor({tonumber(os.getenv("NEVER"))}, "INT32")}
        for _ = 1, 10 do c:async_infer("slow", never) end
        c:async_infer("slow", never, function() end)
        triton.spawn(function() c:infer("slow", never) end)
      ]], url)
      assert.equal(0, status, stderr)
    end)
  end)

  describe("Ctrl-C in tritonlua", function()
    it("cancels a blocking call in flight", function()
      local status, stderr = run_host([[
        local c = triton.connect(os.getenv("U"))
        io.stderr:write("ready\n")
        c:infer("slow", {INPUT0 = triton.tensor({tonumber(os.getenv("NEVER"))}, "INT32")})
        print("not reached")
      ]], url, true)
      assert.are_not.equal(0, status)
      assert.truthy(stderr:find("interrupted", 1, true), stderr)
    end)

    it("cancels triton.run and the requests of its coroutines", function()
      local status, stderr = run_host([[
        local c = triton.connect(os.getenv("U"))
        local never = tonumber(os.getenv("NEVER"))
        for _ = 1, 4 do
          triton.spawn(function() c:infer("slow", {INPUT0 = triton.tensor({never}, "INT32")}) end)
        end
        triton.spawn(function() triton.sleep(never / 1000) end)
        io.stderr:write("ready\n")
        triton.run()
      ]], url, true)
      assert.are_not.equal(0, status)
      assert.truthy(stderr:find("interrupted", 1, true), stderr)
    end)
  end)
end)
