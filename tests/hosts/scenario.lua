-- scenario.lua: what every host-loop test asserts, whatever the loop (luv,
-- cqueues, Neovim's vim.loop, the C host of examples/hosts/c_host.c).
--
--   local scenario = require "scenario"
--   local s = scenario.new(triton, {http = URL, grpc = URL})
--   -- the host: a 10 ms timer of its own calls s.tick(); its recipe calls triton.poll(0)
--   s.start()            -- from the host's loop, once it runs
--   ... until s.done() ...
--   os.exit(s.finish())  -- prints the findings, returns 0 (all held) or 1
--
-- Per transport: an async infer with a callback on `simple` that the server
-- answers after 300 ms (x-fault delay=300), one whose client_timeout (0.2 s)
-- runs out first, and a generate_stream on echo_llm (4 events, 100 ms apart)
-- inside triton.spawn; and a spawned coroutine that calls triton.sleep(0.1)
-- three times. The last two need the library's own timers, which reach the host
-- only through triton.fd() (the recipes run no timer for triton). Asserted, none
-- of it a wall-clock bound on the machine's speed:
--   * the answers are right (sums and differences; deadline_exceeded; the 4
--     words in order);
--   * every reply and event was handed over inside a triton.poll(0) that the host's
--     loop made (never a poll that waits), and nothing else ran the loop;
--   * the host's timer ticked while each call was in flight (between submit and
--     reply), which it can only do if the loop was free meanwhile (the delays
--     are long enough that even a loaded machine runs the 10 ms timer in between);
--   * the descriptor does not stay readable with nothing to do (the host would
--     spin): at most IDLE_POLLS polls run nothing;
--   * each of our calls the host made (poll, async_infer, spawn) returned within
--     50 ms: the host's loop is never held longer than that by triton. A call's
--     time is its wall-clock time less the time the kernel kept this thread
--     waiting for a CPU meanwhile (run_delay in /proc/thread-self/schedstat):
--     waiting on the network counts, being preempted on a loaded machine does
--     not, so the bound tests our code and not the machine's load.
-- The timer's largest gap is printed, as information only: on a loaded machine
-- (ctest runs tests in parallel) the scheduler alone can stretch it.
local M = {}

local unpack = table.unpack or _G.unpack -- 5.1 (LuaJIT) has only the global
local LUA_NAME = rawget(_G, "jit") and _G.jit.version or _VERSION

M.CALL_BOUND = 0.05 -- seconds: the longest any one of our calls may hold the host's loop
M.MAX_TICKS = 3000  -- done() gives up after this many timer ticks (30 s at 10 ms): no hang
-- Polls that may run nothing (a wakeup for part of a reply, a timer that ended a
-- wait): a few dozen in a run; a descriptor that stayed readable with nothing to
-- do would make the host spin, tens of thousands a second.
M.IDLE_POLLS = 1000

local WORDS = { "the", " quick", " brown", " fox" }

-- Seconds this thread has spent runnable but not running (the kernel's
-- run_delay); 0 where /proc/thread-self/schedstat is missing.
local function run_delay()
  local f = io.open("/proc/thread-self/schedstat", "r")
  if not f then return 0 end
  local line = f:read("*l") or ""
  f:close()
  return (tonumber(line:match("^%d+ (%d+)")) or 0) * 1e-9
end

function M.new(triton, urls)
  local s = {}
  local failures = {}
  local ticks, last_tick, max_gap = 0, nil, 0
  local in_poll, max_call, poll_calls, idle_polls = 0, 0, 0, 0
  local pending = 0
  local now = triton.now

  local function fail(fmt, ...)
    failures[#failures + 1] = string.format(fmt, ...)
  end

  -- One of our calls, timed: how long it held the host's loop.
  local function timed(what, fn, ...)
    local t0, d0 = now(), run_delay()
    local r = { fn(...) }
    local took = (now() - t0) - (run_delay() - d0)
    if took > max_call then max_call = took end
    if took > M.CALL_BOUND then fail("%s held the host's loop for %.3f s", what, took) end
    return unpack(r)
  end

  -- Every reply must come through here: the host's recipe calls triton.poll(0).
  local poll = triton.poll
  triton.poll = function(timeout, ...)
    if timeout ~= nil and timeout ~= 0 then
      fail("triton.poll(%s): a host loop polls with 0", tostring(timeout))
    end
    poll_calls = poll_calls + 1
    in_poll = in_poll + 1
    local ok, n = pcall(timed, "triton.poll", poll, timeout, ...)
    in_poll = in_poll - 1
    if not ok then error(n, 0) end
    if n == 0 then idle_polls = idle_polls + 1 end
    return n
  end

  local function handed_over(what)
    if in_poll == 0 then fail("%s was handed over outside the host's triton.poll(0)", what) end
  end

  local function simple_inputs()
    local a, b = {}, {}
    for i = 1, 16 do a[i], b[i] = i, 1 end
    return { INPUT0 = triton.tensor(a, "INT32", { 1, 16 }), INPUT1 = triton.tensor(b, "INT32", { 1, 16 }) }
  end

  -- An async infer on `simple` with a callback; judge(r, err) says what is wrong, if anything.
  local function infer(what, c, opts, judge)
    local at, calls = ticks, 0
    timed(what, c.async_infer, c, "simple", simple_inputs(), opts, function(r, err)
      calls = calls + 1
      handed_over(what .. "'s reply")
      if calls > 1 then return fail("%s: callback called %d times", what, calls) end
      pending = pending - 1
      if ticks == at then fail("%s: the host's timer never ticked while it was in flight", what) end
      local wrong = judge(r, err)
      if wrong then fail("%s: %s", what, wrong) end
    end)
  end

  local function right_sums(r, err)
    if err then return tostring(err) end
    local sum, diff = r:as_tensor("OUTPUT0"):totable()[1], r:as_tensor("OUTPUT1"):totable()[1]
    for i = 1, 16 do
      if sum[i] ~= i + 1 or diff[i] ~= i - 1 then
        return string.format("element %d is %s, %s; expected %d, %d", i, tostring(sum[i]),
          tostring(diff[i]), i + 1, i - 1)
      end
    end
  end

  local function deadline_passed(r, err)
    if r then return "answered; expected deadline_exceeded" end
    if err.code ~= "deadline_exceeded" then return "expected deadline_exceeded, got " .. tostring(err) end
  end

  -- The library's own timers reach the host through the descriptor as well.
  local function sleeper()
    timed("triton.spawn", triton.spawn, function()
      local at = ticks
      for _ = 1, 3 do
        triton.sleep(0.1)
        handed_over("a triton.sleep's end")
      end
      pending = pending - 1
      if ticks == at then fail("triton.sleep: the host's timer never ticked meanwhile") end
    end)
  end

  local function stream(proto, c)
    local what = proto .. " generate_stream"
    timed("triton.spawn", triton.spawn, function()
      local at = ticks
      local got = {}
      local ok, err = pcall(function()
        for ev in c:generate_stream("echo_llm", { text_input = table.concat(WORDS), stream = true,
          parameters = { delay_ms = 100 } }) do
          handed_over(what .. "'s event")
          got[#got + 1] = ev.text_output
        end
      end)
      pending = pending - 1
      if not ok then return fail("%s: %s", what, tostring(err)) end
      if ticks == at then fail("%s: the host's timer never ticked while it was in flight", what) end
      if table.concat(got, "|") ~= table.concat(WORDS, "|") then
        fail("%s: events %q, expected %q", what, table.concat(got, "|"), table.concat(WORDS, "|"))
      end
    end)
  end

  local clients = {}

  function s.start()
    for _, proto in ipairs({ "http", "grpc" }) do
      local url = assert(urls[proto], "no URL for " .. proto)
      local c = triton.connect(url)
      clients[#clients + 1] = c
      pending = pending + 3
      infer(proto .. " async_infer", c, { headers = { ["x-fault"] = "delay=300" } }, right_sums)
      infer(proto .. " async_infer past its client_timeout", c,
        { client_timeout = 0.2, headers = { ["x-fault"] = "delay=2000" } }, deadline_passed)
      stream(proto, c)
    end
    pending = pending + 1
    sleeper()
  end

  function s.tick()
    local t = now()
    if last_tick and t - last_tick > max_gap then max_gap = t - last_tick end
    last_tick = t
    ticks = ticks + 1
  end

  -- True once start() ran and every call finished, or the timer ticked MAX_TICKS
  -- times (finish() then fails).
  function s.done()
    return (#clients > 0 and pending == 0) or ticks >= M.MAX_TICKS
  end

  -- Prints what was seen; returns the exit status (0: everything held).
  function s.finish()
    for _, c in ipairs(clients) do c:close() end
    if #clients == 0 then fail("start() never ran") end
    if pending ~= 0 then fail("%d calls never finished", pending) end
    if poll_calls == 0 then fail("the host never called triton.poll") end
    if idle_polls > M.IDLE_POLLS then
      fail("%d polls ran nothing: the descriptor stays readable with no work (a busy host loop)", idle_polls)
    end
    print(string.format("%s: %d timer ticks, largest timer gap %.1f ms (information), " ..
      "%d polls (%d ran nothing), longest call into triton %.1f ms (bound %d ms)", LUA_NAME, ticks,
      max_gap * 1e3, poll_calls, idle_polls, max_call * 1e3, M.CALL_BOUND * 1e3))
    for _, f in ipairs(failures) do print("FAIL: " .. f) end
    if #failures > 0 then return 1 end
    print("ok")
    return 0
  end

  return s
end

-- The reference server's URLs, from scripts/with-testserver's environment.
function M.urls()
  local http, grpc = os.getenv("TRITON_HTTP_URL"), os.getenv("TRITON_GRPC_URL")
  assert(http and grpc, "TRITON_HTTP_URL and TRITON_GRPC_URL must be set (run under scripts/with-testserver)")
  return { http = http, grpc = grpc }
end

return M
