-- Ctrl-C (SIGINT; issue 10, item 9) while a script waits on the server, in the
-- stock interpreter and in the tritonlua host: the wait notices it,
-- cancels what is in flight and raises a triton.Error with code "cancelled"
-- (catchable with pcall); a reply is never turned into an "internal" error by
-- it, and an interrupt that was spent elsewhere does not cancel a later,
-- unrelated call.
local h = require "support.harness"

local q = h.shell_quote

local function slurp(path) -- and remove it
  local s = h.slurp(path)
  os.remove(path)
  return s
end

-- The interpreters to run scripts in: the host of this build, and the stock
-- interpreter running these specs (lua5.4, lua5.3 or luajit; none can load the
-- module of a sanitizer build).
local interpreters = { { name = "tritonlua", cmd = os.getenv("TRITONLUA") } }
if os.getenv("TRITON_SANITIZE") ~= "1" then
  local stock = h.interpreter()
  interpreters[#interpreters + 1] = { name = stock:match("[^/]*$"), cmd = stock }
end

-- Runs `script` in interpreter `cmd` with $U = url, and sends it SIGINT once
-- it wrote `marker` to stderr. Returns the exit status, stdout and stderr.
-- Scripts that wait on a call say so from a callback run inside that wait
-- (`marker_inside(c)`), so that the signal cannot come before the wait began.
local function run(cmd, script, url, marker)
  assert(cmd and cmd ~= "", "TRITONLUA is not set (run the specs through ctest)")
  local path, out, err = os.tmpname(), os.tmpname(), os.tmpname()
  local f = assert(io.open(path, "w"))
  -- (LuaJIT: its compiled loops never run the hook that turns SIGINT into an
  -- error, so the spinning scripts below run interpreted)
  f:write([[
    if jit then jit.off() end
    local triton = require 'triton'
    local function marker_inside(c)
      c:async_infer("slow", {INPUT0 = triton.tensor({1}, "INT32")}, function()
        io.stderr:write("waiting\n")
      end)
    end
  ]], script)
  f:close()
  local sh = string.format("U=%s %s %s >%s 2>%s & p=$!; %swait $p", q(url), q(cmd), q(path), q(out),
    q(err), h.sigint_when(err, marker, "p"))
  local _, _, status = h.execute(sh)
  os.remove(path)
  return status, slurp(out), slurp(err)
end

h.transports(function(_, url)
  for _, interp in ipairs(interpreters) do
    describe("Ctrl-C in " .. interp.name, function()
      it("raises a cancelled triton.Error from a blocking call, never an internal one", function()
        local status, out, err = run(interp.cmd, [[
          local c = triton.connect(os.getenv("U"))
          marker_inside(c)
          c:infer("slow", {INPUT0 = triton.tensor({20000}, "INT32")})
          print("not reached")
        ]], url, "waiting")
        assert.are_not.equal(0, status)
        assert.equal("", out)
        assert.matches("triton.Error: cancelled: interrupted", err)
        assert.is_nil(err:find("internal", 1, true), err)
      end)

      it("is catchable with pcall, cancels the request in flight and leaves the loop working",
        function()
          local status, out, err = run(interp.cmd, [[
            local c = triton.connect(os.getenv("U"))
            local f = c:async_infer("slow", {INPUT0 = triton.tensor({20000}, "INT32")})
            marker_inside(c)
            local ok, e = pcall(f.get_result, f)
            print(ok, getmetatable(e) == triton.Error, e.code, e.message)
            -- The request itself was cancelled, not only the wait.
            local ok2, e2 = pcall(f.get_result, f)
            print(ok2, e2.code)
            print(c:infer("slow", {INPUT0 = triton.tensor({5}, "INT32")}):as_tensor("OUTPUT0")[1])
          ]], url, "waiting")
          assert.equal(0, status, err)
          assert.equal("false\ttrue\tcancelled\tinterrupted\nfalse\tcancelled\n5\n", out)
        end)

      it("stops a callback that runs when it comes, and the wait it runs in", function()
        local status, out, err = run(interp.cmd, [[
          local c = triton.connect(os.getenv("U"))
          local f = c:async_infer("slow", {INPUT0 = triton.tensor({1}, "INT32")}, function()
            io.stderr:write("in callback\n")
            while true do end
          end)
          local ok, e = pcall(f.get_result, f)
          print(ok, e.code)
          print(c:is_server_live())
        ]], url, "in callback")
        assert.equal(0, status, err)
        assert.equal("false\tcancelled\ntrue\n", out)
      end)

      -- Lua code stops at the interpreter's hook: lua.c raises its string
      -- "interrupted!", the tritonlua host the triton.Error the waits raise.
      it("spent on Lua code does not cancel the next call", function()
        local status, out, err = run(interp.cmd, [[
          local c = triton.connect(os.getenv("U"))
          local ok, e = pcall(function()
            io.stderr:write("spinning\n")
            while true do end
          end)
          print(ok, getmetatable(e) == triton.Error and e.code or (tostring(e):gsub("^.*: ", "")))
          print(c:infer("slow", {INPUT0 = triton.tensor({7}, "INT32")}):as_tensor("OUTPUT0")[1])
        ]], url, "spinning")
        assert.equal(0, status, err)
        local stopped = interp.name == "tritonlua" and "cancelled" or "interrupted!"
        assert.equal("false\t" .. stopped .. "\n7\n", out)
      end)
    end)
  end
end)
