-- triton.spawn / triton.run: many requests at once from plain sequential code.
--
--   triton.spawn(function(a, b) ... c:infer(...) ... end, a, b)
--   local ok, errors = triton.run()
--
-- Each spawned function runs in a coroutine of its own. Inside one, every call
-- that would block (infer and the other client calls, future:get_result and
-- future:wait, triton.wait, stream_infer and generate_stream iteration,
-- triton.sleep) yields to the scheduler instead, so N coroutines keep N
-- requests in flight on the one event loop. Spawned coroutines run inside
-- triton.run(), which returns once every one of them has finished and every
-- call made with a callback has delivered it, or inside triton.poll() for a
-- host that drives the loop itself (triton.fd() tells it when).
--
-- How a coroutine waits, and how the scheduler learns that it may go on:
--   * a future: future:get_result and future:wait (src/lua/lfuture.c) yield
--     core.await_token, the future and a deadline (or nil); when the reply is
--     handed to Lua the binding puts the coroutine on the woken list, read here
--     with core.take_woken() after each loop step; the deadline wakes it too;
--   * a condition (stream queues): wait_until(fn) yields fn; it is checked
--     after each loop step;
--   * a timer: sleep(s) yields a deadline; the loop step waits no longer than
--     the nearest one, and the loop's timer (core.set_wakeup) makes triton.fd()
--     readable then.
-- A coroutine that yields anything else (a plain coroutine.yield()) is simply
-- resumed again after the others had their turn.
--
-- Errors: an error in one coroutine is written to stderr with the coroutine's
-- traceback and does not stop the others. run() then returns false and the
-- list of error values (in the order they happened); it returns true when every
-- coroutine finished cleanly. run() itself raises only when the wait is cut
-- short: an interrupt (Ctrl-C: every request in flight is cancelled and the
-- unfinished coroutines are closed) or a loop failure.
local core = require "triton.core"
local compat = require "triton.compat"
local unpack = compat.unpack

local M = {}

local SLEEP, COND = {}, {} -- what a coroutine yields besides core.await_token

local tasks = {}        -- coroutine -> "ready" | "await" | "sleep" | "cond"
core.set_tasks(tasks)   -- the binding yields instead of blocking in these
-- The ready queue, in order: ready_co[i] and its packed spawn args (or false)
-- in ready_args[i], for i up to n_ready. Two pairs of arrays take turns, so that
-- a round of resumes makes no table (a request's round trip would otherwise
-- leave one or two behind for the collector).
local ready_co, ready_args, n_ready = {}, {}, 0
local spare_co, spare_args = {}, {}
local sleepers = {}     -- co -> deadline (triton.now() seconds)
local conds = {}        -- co -> condition function
-- Whether sleepers and conds may have entries: false when they certainly have
-- none, so that a round of the scheduler does not walk two empty tables.
local any_sleeper, any_cond = false, false
local count = 0         -- coroutines spawned and not finished
local running = false
local failures

-- core.set_wakeup, called only when the time changes: most rounds of the
-- scheduler have no sleeper, and so would stop a stopped timer every round.
local wakeup -- the time last set, nil for none
local function set_wakeup(t)
  if t ~= wakeup then
    wakeup = t
    core.set_wakeup(t)
  end
end

-- Whether the running code is one of our coroutines (and so may yield).
local function in_task()
  local co, main = coroutine.running()
  return not main and tasks[co] ~= nil
end
M.in_task = in_task

function M.spawn(fn, ...)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local co = coroutine.create(fn)
  tasks[co] = "ready"
  n_ready = n_ready + 1
  ready_co[n_ready], ready_args[n_ready] = co, compat.pack(...)
  count = count + 1
  if not running then set_wakeup(core.now()) end -- a host polling on triton.fd() starts it
  return co
end

-- In a spawned coroutine: yields until ready() holds and returns true. Outside
-- one: returns false at once (the caller steps the loop itself).
function M.wait_until(ready_fn)
  if not in_task() then return false end
  while not ready_fn() do
    coroutine.yield(COND, ready_fn)
  end
  return true
end

-- triton.sleep(s): yields in a spawned coroutine; otherwise steps the loop for
-- s seconds, so that callbacks run meanwhile.
function M.sleep(...)
  local s = ...
  if type(s) ~= "number" then
    error("bad argument #1 to 'sleep' (number expected, got "
      .. (select("#", ...) == 0 and "no value" or type(s)) .. ")", 2)
  end
  if s ~= s or s < 0 or s > 1e9 then
    error("bad argument #1 to 'sleep' (seconds must be between 0 and 1e9)", 2)
  end
  local deadline = core.now() + s
  if in_task() then
    repeat
      coroutine.yield(SLEEP, deadline)
    until core.now() >= deadline
    return
  end
  repeat
    core.poll(math.max(0, deadline - core.now()))
  until core.now() >= deadline
end

local function report(co, err)
  local msg = err
  if type(msg) ~= "string" then
    local mt = getmetatable(msg)
    msg = (mt and mt.__tostring) and tostring(msg) or
        string.format("(error object is a %s value)", type(msg))
  end
  io.stderr:write("triton: error in a spawned coroutine: ", debug.traceback(co, msg), "\n")
  io.stderr:flush()
  if failures then failures[#failures + 1] = err end
end

local function finish(co)
  tasks[co] = nil
  sleepers[co] = nil
  conds[co] = nil
  count = count - 1
end

local function resume(co, args)
  tasks[co] = "running"
  local ok, what, arg, deadline
  if args then
    ok, what, arg, deadline = coroutine.resume(co, unpack(args, 1, args.n))
  else
    ok, what, arg, deadline = coroutine.resume(co)
  end
  if coroutine.status(co) == "dead" then
    finish(co)
    if not ok then report(co, what) end
  elseif what == core.await_token then
    tasks[co] = "await"
    if deadline then -- a timed wait
      sleepers[co] = deadline
      any_sleeper = true
    end
  elseif what == SLEEP then
    tasks[co] = "sleep"
    sleepers[co] = arg
    any_sleeper = true
  elseif what == COND then
    tasks[co] = "cond"
    conds[co] = arg
    any_cond = true
  else
    tasks[co] = "ready"
    n_ready = n_ready + 1
    ready_co[n_ready], ready_args[n_ready] = co, false
  end
end

local function make_ready(co)
  tasks[co] = "ready"
  sleepers[co] = nil
  conds[co] = nil
  n_ready = n_ready + 1
  ready_co[n_ready], ready_args[n_ready] = co, false
end

-- Moves coroutines whose wait is over to `ready`; returns the nearest sleep
-- deadline (nil if none).
local function gather()
  local woken = core.take_woken()
  if woken then
    for i = 1, #woken do
      local co = woken[i]
      woken[i] = nil -- emptied for the binding to fill again (core.take_woken)
      if tasks[co] == "await" then make_ready(co) end
    end
  end
  if any_cond then
    for co, fn in pairs(conds) do
      if fn() then make_ready(co) end
    end
    any_cond = next(conds) ~= nil
  end
  local nearest
  if any_sleeper then
    local now = core.now()
    for co, deadline in pairs(sleepers) do
      if deadline <= now then
        make_ready(co)
      elseif not nearest or deadline < nearest then
        nearest = deadline
      end
    end
    any_sleeper = nearest ~= nil -- every sleeper left has a later deadline
  end
  return nearest
end

-- Resumes the coroutines that are ready now (one round): those queued before
-- it; what they make ready goes to the next round.
local function resume_ready()
  local cos, args, m = ready_co, ready_args, n_ready
  ready_co, ready_args, n_ready = spare_co, spare_args, 0
  spare_co, spare_args = cos, args -- emptied as the round goes
  local n = 0
  for i = 1, m do
    local co, a = cos[i], args[i]
    cos[i], args[i] = nil, nil
    if tasks[co] == "ready" then
      resume(co, a or nil)
      n = n + 1
    end
  end
  return n
end

local function schedule()
  while true do
    resume_ready()
    if count == 0 and core.callbacks() == 0 then return end
    local nearest = gather()
    if n_ready == 0 then
      set_wakeup(nearest)
      local timeout = nearest and math.max(0, nearest - core.now()) or -1
      local _, pending = core.step(timeout)
      nearest = gather()
      if n_ready == 0 and not nearest and pending == 0 then
        -- Nothing in flight: what the coroutines (or callbacks) wait for cannot come.
        if count == 0 then return end
        for co in pairs(tasks) do
          report(co, "triton.run: this coroutine waits for a reply that can no longer come")
          compat.close_coroutine(co)
          finish(co)
        end
        return
      end
    end
  end
end

-- Closes every unfinished coroutine (after an interrupt or a loop failure).
local function abandon()
  for co in pairs(tasks) do
    compat.close_coroutine(co)
  end
  for co in pairs(tasks) do tasks[co] = nil end
  ready_co, ready_args, n_ready, sleepers, conds, count = {}, {}, 0, {}, {}, 0
  any_sleeper, any_cond = false, false
  spare_co, spare_args = {}, {}
end

function M.run()
  if in_task() then
    error("triton.run: called from a spawned coroutine, which already runs inside triton.run", 2)
  end
  if running then
    error("triton.run: already running (called from a callback?)", 2)
  end
  running, failures = true, {}
  local ok, err = pcall(schedule)
  running = false
  set_wakeup(nil)
  local f = failures
  failures = nil
  if not ok then
    abandon()
    error(err, 0)
  end
  if #f == 0 then return true end
  return false, f
end

-- triton.poll([timeout]) -> n: runs what is ready (callbacks, and the spawned
-- coroutines whose wait is over) waiting up to timeout seconds (default 0) for
-- something; n counts replies handed over and coroutines resumed. Inside
-- triton.run (from a callback or a coroutine) only callbacks run, and a
-- coroutine's poll never waits.
function M.poll(timeout)
  if running or in_task() then
    return core.poll(timeout, in_task())
  end
  gather()
  local n = core.poll(timeout, n_ready > 0)
  gather()
  n = n + resume_ready()
  local nearest = gather()
  -- The host waits on triton.fd(): it must turn readable when a coroutine can go on.
  set_wakeup(n_ready > 0 and core.now() or nearest)
  return n
end

return M
