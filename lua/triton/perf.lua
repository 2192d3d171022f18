-- triton.perf: load-test a model from Lua, in the manner of perf_analyzer; and the
-- measuring core that `tritonlua perf` (lua/triton/perf_cli.lua) shares with it.
--
--   local s = triton.perf(client, "simple", inputs, {concurrency = 8, requests = 2000})
--   -- s.throughput (requests/s), s.latency.{min,p50,p90,p99,max} (seconds),
--   -- s.cpu_per_request (client CPU seconds), s.requests, s.errors, s.duration
--
-- Options (all optional):
--   concurrency  requests kept in flight (default 1)
--   requests     how many requests to measure (default 100 unless `duration`)
--   duration     measure for this many seconds instead
--   warmup       requests sent first and left out of the figures (default 0)
--   progress     a live line on stderr (default: when stderr is a terminal)
--   options      infer options (outputs, parameters, headers, ...) as c:infer takes
--
-- The request is built once and submitted again and again through the
-- callback form of async_infer, so the loop never waits on Lua: each reply's
-- callback starts the next request. The client's own `concurrency` option caps
-- what is really in flight (HTTP clients default to 8): make the client with at
-- least the concurrency you test. cpu_per_request is getrusage's user + system
-- time of the whole process over the measured window, divided by the requests
-- measured: the client's cost, which a local server does not add to. perf drives
-- the loop itself; called from a spawned coroutine it blocks the others.
--
-- The core (internal, for perf_cli.lua):
--   M.load(send, o)        a load: requests kept in flight (o.concurrency) or sent
--                          on a schedule (o.rate, o.poisson) whatever the replies
--   M.profile(load, o)     perf_analyzer's measurement of one load level: windows
--                          back to back until three agree (the stability rule)
--   M.summarize(windows)   the figures of some windows taken together
--   M.percentile(xs, p)    perf_analyzer's percentile of a sorted list
local core = require "triton.core"
local client = require "triton.client"
local compat = require "triton.compat"
local unpack = compat.unpack

local M = {}

local now, step = core.now, core.step

-- ---- figures ----------------------------------------------------------------------

-- The percentiles perf_analyzer always reports.
M.PERCENTILES = { 50, 90, 95, 99 }

-- perf_analyzer's rule: the element at round(p/100 * (n - 1)) of the sorted list.
function M.percentile(sorted, p)
  local n = #sorted
  if n == 0 then return nil end
  return sorted[math.floor(p / 100 * (n - 1) + 0.5) + 1]
end

-- Mean and sample standard deviation of a list (the deviation is inf for one value,
-- as perf_analyzer has it).
local function mean_std(xs)
  local n, sum = #xs, 0
  for i = 1, n do sum = sum + xs[i] end
  local mean = sum / n
  if n < 2 then return mean, math.huge end
  local sq = 0
  for i = 1, n do sq = sq + (xs[i] - mean) ^ 2 end
  return mean, math.sqrt(sq / (n - 1))
end

-- The figures of a list of windows (as load:take returns them) taken together:
--   count (replies), errors, first_error, duration (s), throughput (replies/s),
--   latencies (sorted, s), avg, std, send, recv (average per reply, s; nil when
--   not timed), sent_rate (requests sent per second, the windows' mean), delayed
--   (requests sent more than 1 ms after their time).
function M.summarize(windows)
  local s = { count = 0, errors = 0, duration = 0, delayed = 0, latencies = {} }
  local send_sum, recv_sum, nrecv, rate_sum = 0, 0, 0, 0
  local lat = s.latencies
  for _, w in ipairs(windows) do
    s.count = s.count + w.n
    s.errors = s.errors + w.errors
    s.first_error = s.first_error or w.first_error
    s.duration = s.duration + w.duration
    s.delayed = s.delayed + w.delayed
    compat.move(w.latencies, 1, w.n, #lat + 1, lat)
    if w.send_sum then send_sum = send_sum + w.send_sum end
    recv_sum, nrecv = recv_sum + w.recv_sum, nrecv + w.nrecv
    rate_sum = rate_sum + (w.duration > 0 and w.sent / w.duration or 0)
  end
  table.sort(lat)
  s.throughput = s.duration > 0 and s.count / s.duration or 0
  s.sent_rate = #windows > 0 and rate_sum / #windows or 0
  if s.count > 0 then
    s.avg, s.std = mean_std(lat)
    if windows[1] and windows[1].send_sum then s.send = send_sum / s.count end
    if nrecv > 0 then s.recv = recv_sum / nrecv end
  end
  return s
end

-- ---- a load: requests issued on the loop ------------------------------------------

-- send(done) issues one request and arranges for done(r, err, final [, recv]) to be
-- called once when it completes: the arguments of the core's submit callback, plus
-- recv, the seconds spent turning the reply into Lua values when that was timed.
--
-- A load's state lives in the closures M.load makes, not in table fields: the
-- common request (concurrency mode, untimed) then costs one closure with one
-- fresh upvalue, as the hand-written loop it replaced did.
--
--   load:run([deadline [, tick]])  drives the loop until `deadline` (a triton.now()
--                                  time) or, with none, until every request it may
--                                  start has completed; tick(load) about twice a second
--   load:drain([tick])             stops issuing and waits for the requests in flight
--   load:stop()                    stops issuing (requests in flight complete later)
--   load:take()                    closes the current window and opens the next
--   load:window()                  the current window; load:inflight()
-- A window: {n=, latencies=, errors=, first_error=, sent=, delayed=, duration=,
--   send_sum=, recv_sum=, nrecv=, t0=} (replies completed in it, requests sent in it).

-- A request sent this long after its scheduled time counts as delayed
-- (perf_analyzer's tolerance).
local DELAY_TOLERANCE = 0.001
-- How often run() calls its tick function (a progress line), seconds.
local TICK = 0.5

-- M.load(send, o): o.concurrency (requests kept in flight) or o.rate (requests per
-- second, o.poisson for exponential gaps instead of constant ones); o.limit (start
-- at most this many); o.timing (also time each send call: the client send time).
function M.load(send, o)
  local concurrency, rate, poisson, limit, timing = o.concurrency, o.rate, o.poisson, o.limit, o.timing
  local started, inflight, stopping, running = 0, 0, false, false
  local window, next_due
  local load = {}

  local function full()
    return stopping or (limit ~= nil and started >= limit)
  end

  local issue
  local function complete(t0, err, sent_at, recv, late)
    local t1 = now()
    inflight = inflight - 1
    local w = window
    if err ~= nil then
      w.errors = w.errors + 1
      if w.first_error == nil then w.first_error = err end
    else
      local n = w.n + 1
      w.n = n
      w.latencies[n] = t1 - t0
      if sent_at then w.send_sum = w.send_sum + (sent_at - t0) end
      if recv then w.recv_sum, w.nrecv = w.recv_sum + recv, w.nrecv + 1 end
      if late then w.delayed = w.delayed + 1 end
    end
    if concurrency and not stopping and (limit == nil or started < limit) then issue() end
  end

  issue = function(due)
    local t0 = now()
    started, inflight = started + 1, inflight + 1
    window.sent = window.sent + 1
    if not timing and due == nil then
      send(function(_, err) complete(t0, err) end)
      return
    end
    local late = due ~= nil and t0 - due > DELAY_TOLERANCE
    local sent_at
    send(function(_, err, _, recv) complete(t0, err, sent_at, recv, late) end)
    sent_at = timing and now() or nil
  end

  local function gap()
    if poisson then return -math.log(1 - math.random()) / rate end
    return 1 / rate
  end

  local function start()
    running = true
    if rate then
      next_due = now()
    else
      for _ = 1, concurrency do
        if full() then break end
        issue()
      end
    end
  end

  function load.take()
    local t = now()
    local w = window
    if w then w.duration = t - w.t0 end
    window = {
      t0 = t, n = 0, latencies = {}, errors = 0, sent = 0, delayed = 0,
      send_sum = timing and 0 or nil, recv_sum = 0, nrecv = 0,
    }
    return w
  end

  function load.window() return window end
  function load.inflight() return inflight end
  function load.stop()
    running, stopping = true, true
  end

  local function lost()
    error(string.format("perf: %d requests were lost by the transport", inflight), 0)
  end

  function load.run(_, deadline, tick)
    if not running then start() end
    if not (deadline or tick or rate) then
      -- Kept in flight until the limit: nothing to time, only the loop to drive.
      while inflight > 0 do
        local ran, pending = step(TICK)
        if ran == 0 and pending == 0 and inflight > 0 then lost() end
      end
      return
    end
    local next_tick = now() + TICK
    while true do
      local t = now()
      if deadline and t >= deadline then return end
      if rate then
        while next_due <= t and not full() do
          issue(next_due)
          next_due = next_due + gap()
        end
      end
      if not deadline and inflight == 0 and (full() or not rate) then return end
      if tick and t >= next_tick then
        next_tick = t + TICK
        tick(load)
      end
      local wake = math.min(deadline or math.huge, tick and next_tick or math.huge)
      if rate and not full() then wake = math.min(wake, next_due) end
      -- The loop waits in whole milliseconds rounded up: wait the whole ones below
      -- the wake-up time, then poll, so that a send is not a millisecond late.
      local wait = wake - now()
      wait = wake == math.huge and TICK or (wait >= 0.001 and math.floor(wait * 1000) / 1000 or 0)
      local ran, pending = step(wait)
      if ran == 0 and pending == 0 and inflight > 0 then lost() end
    end
  end

  function load.drain(self, tick)
    load.stop()
    load.run(self, nil, tick)
  end

  load.take()
  return load
end

-- ---- one load level, as perf_analyzer measures it ----------------------------------

-- Windows whose throughput and latency must agree.
M.STABILITY_WINDOWS = 3

local function within(xs, first, last, threshold)
  local lo, hi = math.huge, -math.huge
  for i = first, last do
    lo, hi = math.min(lo, xs[i]), math.max(hi, xs[i])
  end
  return lo > 0 and hi / lo <= 1 + threshold
end

-- The latency a window is judged by: the average, or percentile p.
local function stabilizing_latency(s, p)
  if s.count == 0 then return math.huge end
  return p and M.percentile(s.latencies, p) or s.avg
end
M.stabilizing_latency = stabilizing_latency

-- M.profile(load, o) -> {stable=, latency_unstable=, windows=, summary=}
-- o.interval (seconds a window lasts), o.threshold (allowed max/min - 1),
-- o.max_trials, o.percentile (nil: judge the average latency), o.window_count (a
-- window lasts whole intervals until it holds that many replies), o.request_count
-- (measure exactly that many requests in one window instead), o.snapshot()
-- (called at each window boundary; windows[i].snap_start/snap_end keep what it
-- returns: the server's statistics), o.on_window(i, window, summary), o.tick.
-- A window that saw errors ends the level at once (summary.errors > 0).
-- As perf_analyzer's asynchronous mode: when only the latency never settles, the
-- level counts as stable with latency_unstable set.
function M.profile(load, o)
  local snap = o.snapshot and o.snapshot()
  if o.request_count then
    load:run(nil, o.tick)
    local w = load:take()
    w.snap_start, w.snap_end = snap, o.snapshot and o.snapshot()
    local s = M.summarize({ w })
    if o.on_window then o.on_window(1, w, s) end
    return { stable = true, windows = { w }, summary = s }
  end
  local windows, ips, lats = {}, {}, {}
  local k, stable = M.STABILITY_WINDOWS, false
  for trial = 1, o.max_trials do
    load:run(now() + o.interval, o.tick)
    while o.window_count and load:window().n < o.window_count do
      load:run(now() + o.interval, o.tick)
    end
    local w = load:take()
    w.snap_start, w.snap_end = snap, o.snapshot and o.snapshot()
    snap = w.snap_end
    local s = M.summarize({ w })
    windows[trial], ips[trial], lats[trial] = w, s.throughput, stabilizing_latency(s, o.percentile)
    if o.on_window then o.on_window(trial, w, s) end
    if s.errors > 0 then
      return { stable = false, windows = { w }, summary = s }
    end
    if trial >= k and within(ips, trial - k + 1, trial, o.threshold)
        and within(lats, trial - k + 1, trial, o.threshold) then
      stable = true
      break
    end
  end
  local n = #windows
  local latency_unstable = false
  if not stable and n >= k and within(ips, n - k + 1, n, o.threshold) then
    stable, latency_unstable = true, true
  end
  local last = { unpack(windows, math.max(1, n - k + 1), n) }
  return { stable = stable, latency_unstable = latency_unstable, windows = last,
    summary = M.summarize(last) }
end

-- ---- triton.perf ------------------------------------------------------------------

-- Checked by the one options checker (core.args), as every options table is.
local perf_options = core.args.option_spec {
  { "concurrency", "integer", min = 1 },
  { "requests", "integer", min = 1 },
  { "duration", "number", min = 0.001 }, -- seconds
  { "warmup", "integer", min = 0 },
  { "progress", "boolean" },
  { "options", "table" }, -- c:infer's, which client.prepare_infer checks
}

local function check_options(o)
  core.args.check_options(o, perf_options, "perf", 4)
  o = o or {}
  if o.requests and o.duration then core.args.usererror("perf takes 'requests' or 'duration', not both") end
  return o
end

local function progress_line(t0)
  return function(load)
    local w = load:window()
    local done = w.n + w.errors
    io.stderr:write(string.format("\rperf: %d requests, %.1f/s, %d errors, %d in flight   ",
      done, done / (now() - t0), w.errors, load:inflight()))
    io.stderr:flush()
  end
end

-- triton.perf(client, model, inputs [, opts]) -> statistics (see the header)
function M.perf(c, model, inputs, o)
  client.check_client_arg(c, "perf")
  client.check_string_arg(model, 2, "perf") -- the arguments in order, as c:infer checks them
  o = check_options(o)
  local send = client.prepare_infer(c, model, inputs, o.options, "perf", 2)
  local concurrency = o.concurrency or 1
  local progress = o.progress
  if progress == nil then progress = core.isatty(2) end

  if (o.warmup or 0) > 0 then
    M.load(send, { concurrency = math.min(concurrency, o.warmup), limit = o.warmup }):run()
  end

  local total = o.requests or (not o.duration and 100 or nil)
  local load = M.load(send, { concurrency = concurrency, limit = total })
  collectgarbage("collect")
  local cpu0 = core.rusage()
  local t0 = core.now()
  local tick = progress and progress_line(t0) or nil
  if o.duration then
    load:run(t0 + o.duration, tick)
    load:drain(tick)
  else
    load:run(nil, tick)
  end
  local elapsed = core.now() - t0
  local cpu1 = core.rusage()
  if progress then io.stderr:write("\r\27[K") end

  local w = load:take()
  local lat = w.latencies
  table.sort(lat)
  local completed = w.n + w.errors
  local result = {
    requests = completed,
    errors = w.errors,
    duration = elapsed,
    concurrency = concurrency,
    throughput = elapsed > 0 and completed / elapsed or 0,
    cpu_per_request = completed > 0 and (cpu1 - cpu0) / completed or 0,
    latency = {
      min = lat[1], p50 = M.percentile(lat, 50), p90 = M.percentile(lat, 90),
      p99 = M.percentile(lat, 99), max = lat[#lat],
    },
  }
  if w.first_error ~= nil then result.first_error = w.first_error end
  return result
end

return M
