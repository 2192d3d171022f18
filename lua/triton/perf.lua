-- triton.perf: load-test a model from Lua, in the manner of perf_analyzer.
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
local core = require "triton.core"
local client = require "triton.client"

local M = {}

local option_names = {
  concurrency = true, requests = true, duration = true, warmup = true, progress = true,
  options = true,
}

local function positive_integer(v, name, allow_zero)
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < (allow_zero and 0 or 1) then
    error(string.format("bad option '%s' to 'perf' (%s integer expected, got %s)", name,
      allow_zero and "non-negative" or "positive", tostring(v)), 4)
  end
  return v
end

local function check_options(o)
  if o == nil then return {} end
  if type(o) ~= "table" then
    error("bad argument #4 to 'perf' (options table expected, got " .. type(o) .. ")", 3)
  end
  for k in pairs(o) do
    if not option_names[k] then
      error(string.format("unknown option '%s' in perf options", tostring(k)), 3)
    end
  end
  positive_integer(o.concurrency, "concurrency")
  positive_integer(o.requests, "requests")
  positive_integer(o.warmup, "warmup", true)
  if o.duration ~= nil and (type(o.duration) ~= "number" or o.duration ~= o.duration or o.duration <= 0) then
    error("bad option 'duration' to 'perf' (positive number of seconds expected)", 3)
  end
  if o.requests and o.duration then
    error("perf takes 'requests' or 'duration', not both", 3)
  end
  if o.progress ~= nil and type(o.progress) ~= "boolean" then
    error("bad option 'progress' to 'perf' (boolean expected)", 3)
  end
  if o.options ~= nil and type(o.options) ~= "table" then
    error("bad option 'options' to 'perf' (infer options table expected)", 3)
  end
  return o
end

-- q-quantile of the sorted list xs (nearest rank).
local function quantile(xs, q)
  local n = #xs
  if n == 0 then return nil end
  local i = math.ceil(q * n)
  if i < 1 then i = 1 end
  return xs[i]
end

-- Sends `total` requests (or until `deadline`), `concurrency` at a time.
-- Returns the list of latencies (when `lat` is given), the number of errors and
-- the first error.
local function drive(cc, args, concurrency, total, deadline, lat, progress)
  local now, step = core.now, core.step
  local started, completed, errors, inflight = 0, 0, 0, 0
  local first_err
  local stop = false
  local t0, next_report = now(), now() + 0.5
  local issue
  local function make_callback(t_start)
    return function(_, err)
      inflight = inflight - 1
      completed = completed + 1
      if err ~= nil then
        errors = errors + 1
        first_err = first_err or err
      elseif lat then
        lat[#lat + 1] = now() - t_start
      end
      if not stop then issue() end
    end
  end
  issue = function()
    if (total and started >= total) or (deadline and now() >= deadline) then
      stop = true
      return
    end
    started = started + 1
    inflight = inflight + 1
    cc:submit("infer", args, make_callback(now()))
  end
  for _ = 1, concurrency do issue() end
  while inflight > 0 do
    local ran, pending = step(0.25)
    if ran == 0 and pending == 0 and inflight > 0 then
      error(string.format("perf: %d requests were lost by the transport", inflight), 0)
    end
    if progress and now() >= next_report then
      next_report = now() + 0.5
      local elapsed = now() - t0
      io.stderr:write(string.format("\rperf: %d requests, %.1f/s, %d errors, %d in flight   ",
        completed, completed / elapsed, errors, inflight))
      io.stderr:flush()
    end
  end
  return completed, errors, first_err
end

-- triton.perf(client, model, inputs [, opts]) -> statistics (see the header)
function M.perf(c, model, inputs, o)
  if getmetatable(c) ~= client.Client then
    error("bad argument #1 to 'perf' (triton client expected, got " .. type(c) .. ")", 2)
  end
  o = check_options(o)
  local cc, args = client.prepare_infer(c, model, inputs, o.options, "perf")
  local concurrency = o.concurrency or 1
  local progress = o.progress
  if progress == nil then progress = core.isatty(2) end

  if (o.warmup or 0) > 0 then
    drive(cc, args, math.min(concurrency, o.warmup), o.warmup, nil, nil, false)
  end

  local total = o.requests or (not o.duration and 100 or nil)
  local lat = {}
  collectgarbage("collect")
  local cpu0 = core.rusage()
  local t0 = core.now()
  local deadline = o.duration and t0 + o.duration or nil
  local completed, errors, first_err = drive(cc, args, concurrency, total, deadline, lat, progress)
  local elapsed = core.now() - t0
  local cpu1 = core.rusage()
  if progress then io.stderr:write("\r\27[K") end

  table.sort(lat)
  local result = {
    requests = completed,
    errors = errors,
    duration = elapsed,
    concurrency = concurrency,
    throughput = elapsed > 0 and completed / elapsed or 0,
    cpu_per_request = completed > 0 and (cpu1 - cpu0) / completed or 0,
    latency = {
      min = lat[1], p50 = quantile(lat, 0.5), p90 = quantile(lat, 0.9), p99 = quantile(lat, 0.99),
      max = lat[#lat],
    },
  }
  if first_err ~= nil then result.first_error = first_err end
  return result
end

return M
