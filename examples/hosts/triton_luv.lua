-- triton_luv.lua: drive tritonlua from a libuv loop through luv (Debian's
-- lua-luv; Neovim's vim.loop, vim.uv in later versions, is the same library).
-- Copy this file next to your code; it runs under Lua 5.4, 5.3 and LuaJIT.
--
--   local uv = require "luv"
--   local triton = require "triton"
--   local drive = require "triton_luv"
--   local handle = drive(uv, triton)        -- Neovim: drive(vim.loop, triton, {schedule = vim.schedule})
--   c:async_infer("simple", inputs, function(r, err) ... end)            -- returns at once
--   triton.spawn(function() for ev in c:generate_stream(...) do ... end end)
--   uv.run()                                 -- runs until handle:close() and your own handles end
--
-- How: triton.fd() is one descriptor that turns readable whenever triton.poll(0)
-- has work (replies, the library's own timers and deadlines, spawned coroutines
-- to resume). A luv poll handle watches it and calls triton.poll(0), which runs
-- what is ready and never waits, so the host's loop is never blocked. Callbacks
-- and spawned coroutines run inside that poll, on the loop's thread.
--
-- Options:
--   schedule  a function that runs a function later, outside luv's callback
--             (Neovim: vim.schedule, so that callbacks may call vim.api; luv
--             callbacks are "fast events" there). The handle pauses until it ran.
--   on_error  gets what triton.poll raised: an interrupt (triton.Error with code
--             "cancelled") or a failure of the loop itself. Default: printed on
--             stderr. (A callback's own error goes to triton.on_callback_error.)
--             luv's default for an error escaping a callback is to exit the
--             process, so none escapes from here.
--
-- The handle keeps uv.run() going while it is open: close it (handle:close())
-- once you need no more replies, as with any luv handle.

local function report(err)
  io.stderr:write("triton_luv: ", tostring(err), "\n")
end

return function(uv, triton, opts)
  opts = opts or {}
  local on_error = opts.on_error or report
  local schedule = opts.schedule
  local handle = uv.new_poll(triton.fd())

  local function run_poll()
    local ok, err = pcall(triton.poll, 0)
    if not ok then on_error(err) end
  end

  local on_readable
  if schedule then
    on_readable = function(err)
      if err then return on_error(err) end
      handle:stop() -- the descriptor stays readable until the poll runs
      schedule(function()
        if handle:is_closing() then return end
        run_poll()
        handle:start("r", on_readable)
      end)
    end
  else
    on_readable = function(err)
      if err then return on_error(err) end
      run_poll()
    end
  end
  handle:start("r", on_readable)
  return handle
end
