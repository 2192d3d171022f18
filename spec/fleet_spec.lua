-- Fleets: one client over three reference servers on loopback ports, over both
-- transports: balancing, a server killed and restarted under load (with retries
-- and without), a stopped server, sequences kept on their server, writes sent to
-- every server, split = true, triton.map and its progress line (docs/FLEET.md).
-- Assertions are on order, counts and codes, never on how long anything took.
local h = require "support.harness"
local faults = require "support.faults"
local triton = h.triton()

local N_SERVERS = 3
local servers = {} -- private reference servers, each serving both transports

local function stop_all()
  for i = 1, N_SERVERS do
    if servers[i] then faults.stop(servers[i]) end
    servers[i] = nil
  end
end
-- Stops the servers when the state closes, should the teardown below not run
-- (an error in busted itself). Made anew after each start: at lua_close,
-- finalizers run newest first in Lua 5.4 and 5.3, and the servers' own pipes
-- (whose close waits for the server) must not be closed before this runs.
local sentinel
local function guard()
  sentinel = h.on_gc(function(self)
    if self == sentinel then stop_all() end -- older ones are just garbage
  end)
end
-- After the last spec of this file: LuaJIT does not promise the finalizers'
-- order, and a server pipe closed before stop_all waits forever.
teardown(stop_all)

local function start_all()
  for i = 1, N_SERVERS do
    if not servers[i] then
      servers[i] = h.start_private()
      guard()
    end
  end
  return sentinel
end

local restart

-- The servers' URLs for proto, every server up (one a failed spec left dead restarted).
local function urls(proto)
  start_all()
  local list = {}
  for i = 1, N_SERVERS do
    if servers[i].dead then restart(i) end
    list[i] = servers[i][proto .. "_url"]
  end
  return list
end

local function kill(i)
  faults.kill9(servers[i])
  servers[i].dead = true
end

-- Restarts server i on the ports it had (after kill or SIGSTOP).
function restart(i)
  local s = servers[i]
  os.execute("kill -9 " .. s.pid .. " 2>/dev/null")
  faults.stop(s)
  servers[i] = h.start_private({ "--http-port", tostring(s.http_port), "--grpc-port",
    tostring(s.grpc_port) })
  guard()
end

-- The state letter of a process ("T": stopped), from /proc.
local function state_of(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  local line = f and f:read("l") or ""
  if f then f:close() end
  return line:match("^%d+ %b() (%a)")
end

-- Sends sig to server i; a SIGSTOP returns once the server is stopped.
local function signal(i, sig)
  local pid = servers[i].pid
  os.execute("kill -" .. sig .. " " .. pid)
  for _ = 1, 200 do
    if sig ~= "STOP" or state_of(pid) == "T" then return end
    triton.sleep(0.01)
  end
  error("server " .. i .. " did not stop")
end

local ones = triton.ones({ 1, 16 }, "INT32")

-- The inputs of request n: INPUT0 = n .. n + 15, INPUT1 = 1.
local function inputs_of(n)
  return { INPUT0 = triton.arange(n, n + 16, "INT32"):reshape { 1, 16 }, INPUT1 = ones }
end

-- Whether r is simple's answer to inputs_of(n).
local function correct(r, n)
  local sum, diff = r:as_tensor("OUTPUT0"), r:as_tensor("OUTPUT1")
  return sum:get(1, 1) == n + 1 and sum:get(1, 16) == n + 16 and diff:get(1, 1) == n - 1 and
    diff:get(1, 16) == n + 14
end

-- Sends `total` simple requests through triton.map at concurrency 32, calling
-- at(n) as request n is produced; returns per-request {server=, err=} and a count
-- of wrong or repeated results.
local function run_load(c, total, at)
  local seen, wrong, n = {}, 0, 0
  local function source()
    if n == total then return nil end
    n = n + 1
    if at then at(n) end
    return inputs_of(n)
  end
  for i, r, err in triton.map(c, "simple", source, { concurrency = 32, progress = false }) do
    if seen[i] or (r and not correct(r, i)) then wrong = wrong + 1 end
    seen[i] = { server = r and r:server(), err = err }
  end
  return seen, wrong
end

local function server_info(c, url)
  for _, s in ipairs(c:servers()) do
    if s.url == url then return s end
  end
end

-- Asserts that requests 1 .. n of a run were split evenly over the servers of
-- list: each took 33% +- 10% (issue 11).
local function assert_even_split(seen, n, list)
  local per = {}
  for i = 1, n do
    local server = seen[i].server
    per[server] = (per[server] or 0) + 1
  end
  for _, url in ipairs(list) do
    local share = (per[url] or 0) / n
    assert.is_true(share >= 0.23 and share <= 0.43, url .. " took " .. share)
  end
end

h.transports(function(proto)
  describe("a fleet of three servers", function()
    it("takes a list of URLs of one protocol, and refuses a mixed list", function()
      local list = urls(proto)
      local c = triton.connect(list)
      local shown = {}
      for i, s in ipairs(c:servers()) do
        shown[i] = s.url
        assert.is_true(s.healthy)
        assert.equal(0, s.in_flight)
      end
      assert.same(list, shown)
      local other = proto == "http" and servers[1].grpc_url or servers[1].http_url
      local ok, err = pcall(triton.connect, { list[1], other })
      assert.is_false(ok)
      assert.matches("a fleet has one protocol", tostring(err), 1, true)
      c:close()
    end)

    it("checks its options with one message per mistake", function()
      local list = urls(proto)
      local cases = {
        { { retry = { on = { "unavailble" } } }, "retry.on" },
        { { retry = { attempts = 0 } }, "retry.attempts" },
        { { balance = "random" }, "balance" },
        { { health = { intervall = 1 } }, "intervall" },
        { { resolve = 30 }, "resolve" },
      }
      for _, case in ipairs(cases) do
        local ok, err = pcall(triton.connect, list, case[1])
        assert.is_false(ok)
        assert.matches(case[2], tostring(err), 1, true)
      end
    end)

    it("balances 20,000 requests with retries through a SIGKILL and a restart", function()
      local list = urls(proto)
      local victim, total = 2, 20000
      local kill_at, restart_at = math.floor(total / 3), math.floor(2 * total / 3)
      local c = triton.connect(list, {
        -- the default balance: least_requests. A probe may take up to the interval:
        -- 0.5 s, since on a loaded machine all three servers once took over 0.25 s
        -- to answer one, leaving no server in the rotation
        health = { interval = 0.5 },
        retry = { attempts = 5, backoff = 0.01, max_backoff = 0.1, budget = 0.5 },
      })
      -- at_kill: the victim's counters at the kill; probes_to_leave: how many of
      -- its health probes had run since then when it was first seen out of the
      -- rotation (sampled as each request is made, so in probes, not seconds)
      local at_kill, at_restart, probes_to_leave
      local seen, wrong = run_load(c, total, function(n)
        if n == kill_at then
          at_kill = server_info(c, list[victim])
          kill(victim)
        elseif n == restart_at then
          at_restart = server_info(c, list[victim])
          restart(victim)
        elseif at_kill and not at_restart and not probes_to_leave then
          local now = server_info(c, list[victim])
          if not now.healthy then probes_to_leave = now.probes - at_kill.probes end
        end
      end)
      assert.equal(0, wrong)
      local after_restart, failed = 0, 0
      for i = 1, total do
        local s = assert(seen[i], "no result for request " .. i)
        if s.err then failed = failed + 1 end
        if i > restart_at and s.server == list[victim] then after_restart = after_restart + 1 end
      end
      assert.equal(0, failed)
      -- while all were up (requests before kill_at - 32 were all answered before the kill)
      assert_even_split(seen, kill_at - 40, list)
      -- the dead server left the rotation within two health intervals: at most two
      -- of its probes ran between the kill and its leaving
      assert(probes_to_leave, "the dead server was still in the rotation at its restart")
      assert.is_true(probes_to_leave <= 2, "it left after " .. tostring(probes_to_leave) .. " probes")
      -- out of the rotation while dead: few requests reached it (those in flight
      -- when it died), and it was unhealthy when it was restarted
      assert.is_false(at_restart.healthy)
      assert.is_true(at_restart.requests - at_kill.requests <= 64,
        "requests sent to the dead server: " .. (at_restart.requests - at_kill.requests))
      -- back in the rotation once a probe passes (gRPC reconnects with a backoff
      -- of its own, so this may come after the run): then it takes requests again
      for _ = 1, 400 do
        if after_restart > 0 or server_info(c, list[victim]).healthy then break end
        triton.sleep(0.05)
      end
      local again = run_load(c, 30)
      for i = 1, 30 do
        if again[i].server == list[victim] then after_restart = after_restart + 1 end
      end
      assert.is_true(after_restart > 0)
      c:close()
    end)

    it("fails only the dead server's requests, as unavailable naming it, without retries", function()
      local list = urls(proto)
      local victim, total = 3, 9000
      local c = triton.connect(list, { balance = "round_robin" })
      local kill_at, restart_at = math.floor(total / 3), math.floor(2 * total / 3)
      local seen, wrong = run_load(c, total, function(n)
        if n == kill_at then kill(victim) elseif n == restart_at then restart(victim) end
      end)
      assert.equal(0, wrong)
      assert_even_split(seen, math.floor(total / 3) - 40, list)
      local failed = 0
      for i = 1, total do
        local err = seen[i].err
        if err then
          failed = failed + 1
          assert.equal("unavailable", err.code)
          assert.matches(list[victim], err.message, 1, true)
        end
      end
      assert.is_true(failed > 0)
      c:close()
    end)

    it("ends calls to a stopped server at the inactivity limit and retries them elsewhere", function()
      local list = urls(proto)
      local victim = 1
      local retrying = triton.connect(list, { network_timeout = 1, retry = {}, balance = "round_robin" })
      local plain = triton.connect(list, { network_timeout = 1, balance = "round_robin" })
      for _, c in ipairs { retrying, plain } do assert.is_true(c:is_server_ready()) end
      signal(victim, "STOP")
      local ok, results = pcall(function()
        local out = {}
        for i = 1, 6 do
          local f = retrying:async_infer("simple", inputs_of(i))
          out[i] = { f = f, n = i }
        end
        for _, o in ipairs(out) do o.r = o.f:get_result() end
        local errs = {}
        for i = 1, 3 do errs[i] = select(2, pcall(plain.infer, plain, "simple", inputs_of(i))) end
        return { out = out, errs = errs }
      end)
      signal(victim, "CONT")
      assert(ok, tostring(results))
      for _, o in ipairs(results.out) do
        assert.is_true(correct(o.r, o.n))
        assert.are_not.equal(list[victim], o.r:server())
      end
      local info = server_info(retrying, list[victim])
      assert.is_true(info.failures >= 1)
      assert.matches("deadline_exceeded", info.last_error, 1, true)
      local timed_out = 0
      for _, e in ipairs(results.errs) do
        if getmetatable(e) == triton.Error then
          timed_out = timed_out + 1
          assert.equal("deadline_exceeded", e.code)
          assert.matches(list[victim], e.message, 1, true)
        end
      end
      assert.equal(1, timed_out)
      retrying:close()
      plain:close()
    end)

    it("keeps each of 50 interleaved sequences on one server; a kill fails only its own", function()
      local list = urls(proto)
      local c = triton.connect(list)
      local function step(seq, k, last)
        local value = triton.tensor({ { seq * 10 + k } }, "INT32")
        return c:async_infer("simple_sequence", { INPUT = value }, { sequence_id = 5000 + seq,
          sequence_start = k == 1, sequence_end = last })
      end
      local home, used = {}, {}
      for k = 1, 3 do
        local futures = {}
        for seq = 1, 50 do futures[seq] = step(seq, k, k == 3) end
        for seq, r in ipairs(triton.wait(futures)) do
          local want = seq * 10 + k + (k == 1 and 1 or 0)
          assert.equal(want, r:as_tensor("OUTPUT"):get(1, 1))
          home[seq] = home[seq] or r:server()
          assert.equal(home[seq], r:server())
          used[home[seq]] = true
        end
      end
      local n_used = 0
      for _ in pairs(used) do n_used = n_used + 1 end
      assert.equal(N_SERVERS, n_used)

      -- New sequences; one server dies after their first step.
      local victim = 3
      local first = {}
      for seq = 1, 50 do first[seq] = step(seq, 1, false) end
      triton.wait(first)
      kill(victim)
      local lost, kept = 0, 0
      for seq = 1, 50 do
        local ok, err = pcall(function() return step(seq, 2, true):get_result() end)
        if home[seq] == list[victim] then
          assert.is_false(ok)
          assert.equal("unavailable", err.code)
          assert.matches(list[victim], err.message, 1, true)
          lost = lost + 1
        else
          assert(ok, tostring(err))
          kept = kept + 1
        end
      end
      assert.is_true(lost > 0 and kept > 0)
      restart(victim)
      c:close()
    end)

    it("splits a batch of 100 by max_batch_size 8, equal to 100 single-row calls", function()
      local list = urls(proto)
      local c = triton.connect(list)
      local a = triton.arange(0, 1600, "INT32"):reshape { 100, 16 }
      local b = triton.arange(3, 1603, "INT32"):reshape { 100, 16 }
      local r = c:infer("simple", { INPUT0 = a, INPUT1 = b }, { split = true })
      local sum, diff = r:as_tensor("OUTPUT0"), r:as_tensor("OUTPUT1")
      assert.same({ 100, 16 }, sum.shape)
      assert.same({ 100, 16 }, r:output("OUTPUT1").shape)
      for i = 1, 100 do
        local one = c:infer("simple", { INPUT0 = a:slice(1, i, i), INPUT1 = b:slice(1, i, i) })
        assert.same(one:as_tensor("OUTPUT0"):totable()[1], sum[i]:totable())
        assert.same(one:as_tensor("OUTPUT1"):totable()[1], diff[i]:totable())
      end
      local chunks, where = r:server(), {}
      assert.equal(13, #chunks) -- 12 chunks of 8 and one of 4
      for _, url in ipairs(chunks) do where[url] = true end
      for _, url in ipairs(list) do assert.is_true(where[url], url .. " took no chunk") end
      -- within the limit: one plain call
      local small = c:infer("simple", { INPUT0 = a:slice(1, 1, 8), INPUT1 = b:slice(1, 1, 8) },
        { split = true })
      assert.equal("string", type(small:server()))
      c:close()
    end)

    it("runs triton.map over 1,000 items in order, with per-item errors", function()
      local c = triton.connect(urls(proto))
      local items = {}
      for i = 1, 1000 do items[i] = inputs_of(i) end
      items[500] = { INPUT0 = ones } -- INPUT1 missing: this item fails, the run goes on
      local order, errors = {}, 0
      for i, r, err in triton.map(c, "simple", items, { concurrency = 16, progress = false }) do
        order[#order + 1] = i
        if i == 500 then
          assert.equal("invalid_argument", err.code)
          errors = errors + 1
        else
          assert.is_nil(err)
          assert.is_true(correct(r, i))
        end
      end
      assert.equal(1000, #order)
      for k = 1, 1000 do assert.equal(k, order[k]) end
      assert.equal(1, errors)
      -- as they finish: every item once
      local got = {}
      for i in triton.map(c, "simple", items, { ordered = false, progress = false }) do
        assert.is_nil(got[i])
        got[i] = true
      end
      for k = 1, 1000 do assert.is_true(got[k]) end
      c:close()
    end)

    it("names an item's bad inputs as triton.map's third argument", function()
      local c = triton.connect(urls(proto))
      local items = { inputs_of(1), { INPUT0 = ones, INPUT1 = 5 }, 7 }
      local errs = {}
      for i, r, err in triton.map(c, "simple", items, { progress = false }) do
        if i == 1 then assert.is_true(correct(r, 1)) else errs[i] = tostring(err) end
      end
      assert.matches("bad argument #3 to 'map' (input 'INPUT1' must be a tensor", errs[2], 1, true)
      assert.matches("bad argument #3 to 'map' (list of InferInput or map of name -> tensor " ..
        "expected, got number)", errs[3], 1, true)
      assert.has_error(function() triton.map(c, 5, items) end,
        "bad argument #2 to 'map' (string expected, got number)")
      assert.has_error(function() triton.map(nil, "simple", items) end,
        "bad argument #1 to 'map' (triton client expected, got nil)")
      c:close()
    end)

    it("draws triton.map's progress line on a terminal only", function()
      local list = urls(proto)
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(string.format([[
local triton = require "triton"
local c = triton.connect({%q, %q, %q})
local items = {}
local one = triton.ones({1, 16}, "INT32")
for i = 1, 1000 do items[i] = {INPUT0 = one, INPUT1 = one} end
local n = 0
for _ in triton.map(c, "simple", items) do n = n + 1 end
print("mapped " .. n)
]], list[1], list[2], list[3]))
      f:close()
      local host = assert(os.getenv("TRITONLUA"), "TRITONLUA must name the tritonlua binary")
      local q = faults.shell_quote
      local out = os.tmpname()
      -- not a terminal: no progress line
      assert(h.execute(string.format("%s %s >%s 2>&1", q(host), q(script), q(out))))
      local text = assert(io.open(out)):read("a")
      os.remove(out)
      assert.matches("mapped 1000", text, 1, true)
      assert.is_nil(text:find("map:", 1, true))
      -- a terminal: the line, finished at 1000/1000
      local status
      status, text = h.pty_run({ "expect mapped 1000" }, { host, script })
      os.remove(script)
      if not status then
        pending(text)
        return
      end
      assert.equal(0, status, text)
      assert.matches("map: 1000/1000", text, 1, true)
      assert.matches("ETA", text, 1, true)
      assert.matches("0 errors", text, 1, true)
    end)

    it("loads a model on every server, and names the one that is down", function()
      local list = urls(proto)
      local c = triton.connect(list)
      c:unload_model("simple_int8")
      c:each(function(_, one) assert.is_false(one:is_model_ready("simple_int8")) end)
      local victim = 2
      kill(victim)
      local err = h.error_of(c.load_model, c, "simple_int8")
      assert.matches("failed on 1 of 3 servers", err.message, 1, true)
      assert.matches(list[victim], err.message, 1, true)
      local ready = {}
      c:each(function(url, one)
        if url ~= list[victim] then ready[#ready + 1] = one:is_model_ready("simple_int8") end
      end)
      assert.same({ true, true }, ready)
      restart(victim)
      c:close()
    end)

    it("gives a plain client the same API: a fleet of one", function()
      local list = urls(proto)
      local c = triton.connect(list[1], { retry = {}, health = { interval = 1 } })
      local r = c:infer("simple", inputs_of(7))
      assert.equal(list[1], r:server())
      local info = c:servers()
      assert.equal(1, #info)
      assert.equal(list[1], info[1].url)
      assert.equal(1, info[1].requests)
      local urls_seen = {}
      c:each(function(url, one)
        urls_seen[#urls_seen + 1] = url
        assert.is_true(correct(one:infer("simple", inputs_of(3)), 3))
      end)
      assert.same({ list[1] }, urls_seen)
      c:close()
      -- a name resolved to its addresses
      local resolved = triton.connect(list[1], { resolve = 30 })
      assert.equal(list[1], resolved:servers()[1].url)
      assert.is_true(correct(resolved:infer("simple", inputs_of(2)), 2))
      resolved:close()
    end)
  end)
end)
