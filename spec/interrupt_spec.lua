-- Ctrl-C (issue 10, item 9): a SIGINT while a script waits for a reply cancels
-- what is in flight and raises the documented triton.Error (code "cancelled"),
-- in a stock lua5.4 as in the tritonlua host; pcall catches it; a good reply is
-- never turned into an internal error; an interrupt consumed by one wait does
-- not cancel the next call.
local h = require "support.harness"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path, "r")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return s
end

-- Runs `script` with `program`, SIGINT once it wrote "waiting" to stderr.
-- Returns the exit status and everything it wrote.
local function run_interrupted(program, script, url)
  local path, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local cmd = ("U=%s %s %s >%s 2>&1 & p=$!; %s wait $p"):format(q(url), program, q(path), q(out),
    h.sigint_when(out, "waiting", "p"))
  local _, _, status = os.execute(cmd)
  local text = slurp(out)
  os.remove(path)
  os.remove(out)
  return status, text
end

local programs = {}
if os.getenv("TRITON_SANITIZE") ~= "1" then -- an ASan module cannot load in a stock lua5.4
  programs["stock lua5.4"] = "lua5.4"
end
programs.tritonlua = q(os.getenv("TRITONLUA") or "tritonlua")

h.transports(function(_, url)
  for name, program in pairs(programs) do
    describe("Ctrl-C in " .. name, function()
      it("while waiting for a reply raises a cancelled triton.Error, not an internal one", function()
        local status, text = run_interrupted(program, [[
          local triton = require "triton"
          local c = triton.connect(os.getenv("U"))
          io.stderr:write("waiting\n") io.stderr:flush()
          c:infer("slow", {INPUT0 = triton.tensor({20000}, "INT32")})
          print("not reached")
        ]], url)
        assert.equal(1, status, text)
        assert.truthy(text:find("cancelled: interrupted", 1, true), text)
        assert.falsy(text:find("internal", 1, true), text)
        assert.falsy(text:find("not reached", 1, true), text)
      end)

      it("is a value pcall catches, and the same client works after it", function()
        local status, text = run_interrupted(program, [[
          local triton = require "triton"
          local c = triton.connect(os.getenv("U"))
          io.stderr:write("waiting\n") io.stderr:flush()
          local ok, err = pcall(c.infer, c, "slow", {INPUT0 = triton.tensor({20000}, "INT32")})
          assert(not ok and getmetatable(err) == triton.Error, tostring(err))
          print("code", err.code)
          -- consumed: the next call is not cancelled by it
          local t = triton.ones({1, 16}, "INT32")
          print("next", c:infer("simple", {INPUT0 = t, INPUT1 = t}):as_tensor("OUTPUT0"):get(1, 1))
        ]], url)
        assert.equal(0, status, text)
        assert.truthy(text:find("code\tcancelled", 1, true), text)
        assert.truthy(text:find("next\t2", 1, true), text)
      end)
    end)
  end
end)
