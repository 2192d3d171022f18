-- triton_cqueues.lua: drive tritonlua from a cqueues controller (Debian's
-- lua-cqueues). Copy this file next to your code; it runs under Lua 5.4, 5.3
-- and LuaJIT.
--
--   local cqueues = require "cqueues"
--   local triton = require "triton"
--   local drive = require "triton_cqueues"
--   local cq = cqueues.new()
--   local stop = drive(cq, triton)
--   cq:wrap(function()
--     c:async_infer("simple", inputs, function(r, err) ... end)          -- returns at once
--     triton.spawn(function() for ev in c:generate_stream(...) do ... end end)
--     ...
--     stop()                              -- when no more replies are wanted
--   end)
--   assert(cq:loop())
--
-- How: one coroutine of the controller waits in cqueues.poll on triton.fd(), a
-- descriptor that turns readable whenever triton.poll(0) has work (replies, the
-- library's own timers, spawned coroutines to resume), and then calls
-- triton.poll(0), which runs what is ready and never waits. Callbacks and
-- triton.spawn coroutines run inside that poll; the controller's own coroutines
-- go on meanwhile. (A triton call made in a cqueues coroutine, rather than in
-- triton.spawn, would block the whole controller: use the callback forms or
-- triton.spawn there.)
--
-- on_error (optional) gets what triton.poll raised: an interrupt (triton.Error
-- with code "cancelled") or a failure of the loop itself. Default: printed on
-- stderr, and the loop goes on. (A callback's own error goes to
-- triton.on_callback_error.)

local function report(err)
  io.stderr:write("triton_cqueues: ", tostring(err), "\n")
end

return function(cq, triton, on_error)
  local cqueues = require "cqueues"
  local condition = require "cqueues.condition"
  on_error = on_error or report
  local readable = { pollfd = triton.fd(), events = "r" } -- what cqueues.poll waits on
  local stopping = condition.new()
  local stopped = false

  cq:wrap(function()
    while not stopped do
      if cqueues.poll(readable, stopping) == readable then
        local ok, err = pcall(triton.poll, 0)
        if not ok then on_error(err) end
      end
    end
  end)

  return function()
    stopped = true
    stopping:signal()
  end
end
