-- triton.spawn / triton.run: many requests at once from plain sequential code.
--
--   triton.spawn(function(a, b) ... c:infer(...) ... end, a, b)
--   local ok, errors = triton.run()
--
-- Each spawned function runs in a coroutine of its own. Inside one, every call
-- that would block (infer and the other client calls, future:get_result,
-- triton.wait, stream_infer and generate_stream iteration, triton.sleep) yields
-- to the scheduler instead, so N coroutines keep N requests in flight on the
-- one event loop. Nothing runs until triton.run(), which resumes coroutines as
-- what they wait for completes and returns once all of them have finished.
--
-- How a coroutine waits, and how the scheduler learns that it may go on:
--   * a future: future:get_result (src/lua/lclient.c) yields core.await_token;
--     when the reply is handed to Lua the binding puts the coroutine on the
--     woken list, read here with core.take_woken() after each loop step;
--   * a condition (stream queues): wait_until(fn) yields fn; it is checked
--     after each loop step;
--   * a timer: sleep(s) yields a deadline; the loop step waits no longer than
--     the nearest one.
-- A coroutine that yields anything else (a plain coroutine.yield()) is simply
-- resumed again after the others had their turn.
--
-- Errors: an error in one coroutine is written to stderr with the coroutine's
-- traceback and does not stop the others. run() then returns false and the
-- list of error values (in the order they happened); it returns true when every
-- coroutine finished cleanly. run() itself raises only when the wait is cut
-- short: Ctrl-C in tritonlua ("interrupted": every request in flight is
-- cancelled and the unfinished coroutines are closed) or a loop failure.
local core = require "triton.core"

local M = {}

local SLEEP, COND = {}, {} -- what a coroutine yields besides core.await_token

local tasks = {}        -- coroutine -> "ready" | "await" | "sleep" | "cond"
core.set_tasks(tasks)   -- the binding yields instead of blocking in these
local ready = {}        -- {co, packed args or nil}, in order
local sleepers = {}     -- co -> deadline (triton.now() seconds)
local conds = {}        -- co -> condition function
local count = 0         -- coroutines spawned and not finished
local running = false
local failures

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
  ready[#ready + 1] = { co, table.pack(...) }
  count = count + 1
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

-- Seconds from argument `n` of `fname`: a number in [0, 1e9] (nil allowed when
-- `optional`), raised at the caller's caller otherwise.
local function seconds(v, n, fname, optional, nargs)
  if v == nil and optional then return nil end
  if type(v) ~= "number" then
    error(("bad argument #%d to '%s' (number expected, got %s)"):format(n, fname,
      (nargs or 1) < n and "no value" or type(v)), 3)
  end
  if v ~= v or v < 0 or v > 1e9 then
    error(("bad argument #%d to '%s' (seconds must be between 0 and 1e9)"):format(n, fname), 3)
  end
  return v
end

-- triton.sleep(s): yields in a spawned coroutine; elsewhere it drives the loop
-- for s seconds, so that calls go out and callbacks run meanwhile.
function M.sleep(...)
  local s = seconds((...), 1, "sleep", false, select("#", ...))
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

-- triton.poll([timeout]) -> n: runs what is ready, waiting up to timeout seconds.
function M.poll(timeout)
  return core.poll(seconds(timeout, 1, "poll", true))
end

-- ---- futures: the methods written in Lua -------------------------------------------

local Future = core.Future.__index
local get_result = Future.get_result -- the C one: the future alone on the stack

local function timed_out(what, timeout)
  error(setmetatable({ code = "deadline_exceeded",
    message = ("%s: no result within %g s (the call goes on)"):format(what, timeout) },
    core.Error), 3)
end

-- f:wait([timeout]) -> true once done; false when timeout ran out first.
function Future.wait(f, timeout)
  timeout = seconds(timeout, 1, "wait", true)
  if f:done() then return true end
  local deadline = timeout and core.now() + timeout
  if in_task() then
    while not f:done() do
      if deadline and core.now() >= deadline then return false end
      coroutine.yield(COND, function() return f:done() end, deadline)
    end
    return true
  end
  while not f:done() do
    local left = deadline and deadline - core.now()
    if left and left <= 0 then return false end
    core.poll(left and math.min(left, 1) or 1)
  end
  return true
end

-- f:get_result([block [, timeout]]) as tritonclient's: block = false returns nil
-- while the call is not done; a timeout that runs out raises deadline_exceeded.
function Future.get_result(f, block, timeout)
  if block == false then
    if not f:done() then return nil end
  elseif timeout ~= nil then
    timeout = seconds(timeout, 2, "get_result")
    if not f:wait(timeout) then timed_out("get_result", timeout) end
  end
  return get_result(f)
end

-- triton.wait(futures [, {timeout = s}]) -> results in order; waits for all, then
-- raises the first error if any failed; deadline_exceeded if timeout ran out.
function M.wait(futures, opts)
  if type(futures) ~= "table" then
    error("bad argument #1 to 'wait' (list of futures expected, got " .. type(futures) .. ")", 2)
  end
  for i, f in ipairs(futures) do
    if getmetatable(f) ~= core.Future then
      error(("bad argument #1 to 'wait' (element %d is not a future, got %s)"):format(i, type(f)), 2)
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'wait' (options table expected, got " .. type(opts) .. ")", 2)
  end
  for k in pairs(opts or {}) do
    if k ~= "timeout" then error(("unknown option '%s' in wait options"):format(tostring(k)), 2) end
  end
  local timeout = seconds(opts and opts.timeout, 2, "wait", true)
  local deadline = timeout and core.now() + timeout
  local results, first_err = {}, nil
  for i, f in ipairs(futures) do
    if deadline and not f:wait(math.max(0, deadline - core.now())) then
      timed_out("wait", timeout)
    end
    local ok, r = pcall(get_result, f)
    if ok then
      results[i] = r
    elseif first_err == nil then
      first_err = r
    end
  end
  if first_err ~= nil then error(first_err, 2) end
  return results
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
  failures[#failures + 1] = err
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
    ok, what, arg, deadline = coroutine.resume(co, table.unpack(args, 1, args.n))
  else
    ok, what, arg, deadline = coroutine.resume(co)
  end
  if coroutine.status(co) == "dead" then
    finish(co)
    if not ok then report(co, what) end
  elseif what == core.await_token then
    tasks[co] = "await"
  elseif what == SLEEP then
    tasks[co] = "sleep"
    sleepers[co] = arg
  elseif what == COND then
    tasks[co] = "cond"
    conds[co] = arg
    sleepers[co] = deadline -- a condition may also have a deadline (f:wait)
  else
    tasks[co] = "ready"
    ready[#ready + 1] = { co }
  end
end

local function make_ready(co)
  if tasks[co] == "ready" then return end -- both its condition and its deadline came
  conds[co], sleepers[co] = nil, nil
  tasks[co] = "ready"
  ready[#ready + 1] = { co }
end

-- Moves coroutines whose wait is over to `ready`; returns the nearest sleep
-- deadline (nil if none).
local function gather()
  local woken = core.take_woken()
  if woken then
    for i = 1, #woken do
      local co = woken[i]
      if tasks[co] == "await" then make_ready(co) end
    end
  end
  for co, fn in pairs(conds) do
    if fn() then
      conds[co] = nil
      make_ready(co)
    end
  end
  local nearest
  if next(sleepers) then
    local now = core.now()
    for co, deadline in pairs(sleepers) do
      if deadline <= now then
        sleepers[co] = nil
        make_ready(co)
      elseif not nearest or deadline < nearest then
        nearest = deadline
      end
    end
  end
  return nearest
end

local function schedule()
  while true do
    local batch = ready
    ready = {}
    for i = 1, #batch do
      local co = batch[i][1]
      if tasks[co] == "ready" then resume(co, batch[i][2]) end
    end
    if count == 0 then
      -- every coroutine finished: run() still waits for the calls made with a
      -- callback, as libuv's uv_run waits for its active handles
      if core.callbacks_pending() == 0 then return end
      core.step(-1)
      gather()
      goto continue
    end
    local nearest = gather()
    if #ready == 0 then
      local timeout = nearest and math.max(0, nearest - core.now()) or -1
      local _, pending = core.step(timeout)
      nearest = gather()
      if #ready == 0 and not nearest and pending == 0 then
        -- Every coroutine waits for something no request in flight will bring.
        for co in pairs(tasks) do
          report(co, "triton.run: this coroutine waits for a reply that can no longer come")
          coroutine.close(co)
          finish(co)
        end
        return
      end
    end
    ::continue::
  end
end

-- Closes every unfinished coroutine (after an interrupt or a loop failure).
local function abandon()
  for co in pairs(tasks) do
    coroutine.close(co)
  end
  for co in pairs(tasks) do tasks[co] = nil end
  ready, sleepers, conds, count = {}, {}, {}, 0
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
  local f = failures
  failures = nil
  if not ok then
    abandon()
    error(err, 0)
  end
  if #f == 0 then return true end
  return false, f
end

return M
