-- Spec harness: one reference server per spec file, and `transports` to run a
-- describe block once over HTTP and once over gRPC.
--
--   local h = require "support.harness"
--   h.transports(function(proto, url) ... end)   -- url: "http://127.0.0.1:P" / "grpc://..."
--
-- The server (scripts/testserver on free ports) starts on first use and stops
-- when the Lua state closes; a watchdog shell also kills it if this process
-- dies without closing the state (a crash, SIGKILL), so no server outlives a run.
--
-- The specs run under Lua 5.4, 5.3 and LuaJIT (docs/API.md, "Lua versions"), so
-- they are written in the syntax all three parse. What differs is bridged here
-- once: h.lua names the running Lua, h.only marks a case that holds on some of
-- them (h.run_source compiles code only those parse), h.assert_subtype checks
-- integer/float where Lua has subtypes, h.closing stands in for <close>,
-- h.execute and h.command give os.execute's and popen's exit status, h.pack,
-- h.unpack and h.bit stand in for string.pack and the bit operators, and
-- h.interpreter names the Lua to run a child process in.
local M = {}

-- The Lua running the specs: "5.4", "5.3" or "jit".
M.lua = rawget(_G, "jit") and "jit" or _VERSION:match("%d+%.%d+")

-- Asserts that number v has subtype kind ("integer" or "float") where Lua has
-- subtypes (5.3, 5.4). LuaJIT has none (its numbers are doubles): there v must
-- be a number, and whole for "integer"; that a result is a float cannot show.
function M.assert_subtype(kind, v)
  if M.lua ~= "jit" then
    return assert(math.type(v) == kind, string.format("expected %s, got %s", kind, math.type(v)))
  end
  assert(type(v) == "number", "expected a number, got " .. type(v))
  if kind == "integer" then assert(v == math.floor(v), "expected a whole number, got " .. tostring(v)) end
end

-- The interpreter running the specs, for a child process that must load the
-- same module: the tritonlua host in the sanitizer build, else lua5.4, lua5.3
-- or luajit (busted's arg[-1]).
function M.interpreter()
  if os.getenv("TRITON_SANITIZE") == "1" then return assert(os.getenv("TRITONLUA")) end
  return assert(arg and arg[-1], "no interpreter in arg[-1]")
end

-- The library's bridges (lua/triton/compat.lua): math.type, the largest exact
-- integers (2^63-1 under 5.3 and 5.4, 2^53 under LuaJIT), table.pack/unpack.
local compat = require "triton.compat"
M.math_type, M.maxinteger, M.mininteger = compat.math_type, compat.maxinteger, compat.mininteger
M.table_pack, M.table_unpack = compat.pack, compat.unpack

-- The `it` to use for a case that holds only under some Luas (versions: a list
-- such as "5.4" or "5.3 5.4"). Elsewhere the case is reported pending, with the
-- reason it does not apply, so a run shows what it left out and why.
function M.only(versions, reason)
  local busted = require "busted"
  for v in versions:gmatch("%S+") do
    if v == M.lua then return busted.it end
  end
  return function(name) -- a tail call: busted reports the spec's line, not this one
    return busted.pending(string.format("%s [Lua %s only: %s]", name, versions, reason))
  end
end

-- Compiles and runs Lua source that only some versions parse (e.g. <close>),
-- passing it the given values as `...`; call it from a case marked with M.only.
function M.run_source(src, ...)
  return assert(load(src, "=h.run_source"))(...)
end

-- Closes obj when the running case ends, passed or failed: what `local obj
-- <close> = ...` does under 5.4 (its __close metamethod), in a form every Lua
-- parses. Returns obj.
local to_close = {}
local function close_all()
  local list = to_close
  to_close = {}
  local first_error
  for i = #list, 1, -1 do
    local mt = getmetatable(list[i])
    local ok, err = pcall(type(mt) == "table" and mt.__close or list[i].close, list[i])
    first_error = first_error or (not ok and err) or nil
  end
  if first_error then error(first_error, 0) end
  return nil, true -- busted's mediator: let the other subscribers see the event
end
function M.closing(obj)
  if M._closer == nil then
    M._closer = require("busted").subscribe({ "test", "end" }, close_all)
  end
  to_close[#to_close + 1] = obj
  return obj
end

-- An object whose collection calls fn: LuaJIT runs __gc only on userdata.
local function on_gc(fn)
  if rawget(_G, "newproxy") then
    local p = rawget(_G, "newproxy")(true)
    getmetatable(p).__gc = fn
    return p
  end
  return setmetatable({}, { __gc = fn })
end
M.on_gc = on_gc

-- os.execute(cmd) with 5.2's results under every Lua: true or nil, "exit" or
-- "signal", and the code (LuaJIT returns the raw wait status instead).
function M.execute(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) ~= "number" then return ok, how, code end
  if ok % 256 == 0 then
    code = ok / 256
    return code == 0 or nil, "exit", code
  end
  return nil, "signal", ok % 128
end

-- string.pack and string.unpack; under LuaJIT, which has neither, the formats
-- the specs use ("<" or ">", then b B i2 I2 i4 I4 i8 I8 f d s4) through the FFI.
-- There 64-bit fields take numbers or int64 cdata, and unpack returns cdata.
local function ffi_pack()
  local ffi = require "ffi"
  local CTYPE = { b = "int8_t", B = "uint8_t", i2 = "int16_t", I2 = "uint16_t", i4 = "int32_t",
    I4 = "uint32_t", i8 = "int64_t", I8 = "uint64_t", f = "float", d = "double" }
  local function fields(fmt) -- yields big_endian, code for each field of fmt
    return coroutine.wrap(function()
      local big = false
      for mark, code in fmt:gmatch("([<>]?)(%a%d*)") do
        if mark ~= "" then big = mark == ">" end
        assert(CTYPE[code] or code == "s4", "h.pack: unsupported format '" .. code .. "'")
        coroutine.yield(big, code)
      end
    end)
  end
  local function bytes_of(ctype, v, big) -- the host is little-endian (x86-64, aarch64)
    local s = ffi.string(ffi.new(ctype .. "[1]", v), ffi.sizeof(ctype))
    return big and s:reverse() or s
  end
  local function value_of(ctype, s, pos, big)
    local n = ffi.sizeof(ctype)
    local raw = s:sub(pos, pos + n - 1)
    assert(#raw == n, "h.unpack: data string too short")
    local v = ffi.new(ctype .. "[1]")
    ffi.copy(v, big and raw:reverse() or raw, n)
    return n < 8 and tonumber(v[0]) or ctype:find("int") and v[0] or tonumber(v[0]), pos + n
  end
  local function pack(fmt, ...)
    local out, i = {}, 0
    for big, code in fields(fmt) do
      i = i + 1
      local v = select(i, ...)
      if code == "s4" then
        out[#out + 1] = bytes_of("uint32_t", #v, big) .. v
      else
        -- a negative number as I8: its two's complement, as string.pack writes it
        local ctype = (code == "I8" and type(v) == "number" and v < 0) and "int64_t" or CTYPE[code]
        out[#out + 1] = bytes_of(ctype, v, big)
      end
    end
    return table.concat(out)
  end
  local function unpack_fields(fmt, s, pos)
    local values = {}
    pos = pos or 1
    for big, code in fields(fmt) do
      local v
      if code == "s4" then
        local n
        n, pos = value_of("uint32_t", s, pos, big)
        v, pos = s:sub(pos, pos + n - 1), pos + n
      else
        v, pos = value_of(CTYPE[code], s, pos, big)
      end
      values[#values + 1] = v
    end
    values[#values + 1] = pos
    return rawget(_G, "unpack")(values, 1, #values)
  end
  return pack, unpack_fields
end
if string.pack then
  M.pack, M.unpack = string.pack, string.unpack
else
  M.pack, M.unpack = ffi_pack()
end

-- The bit operations: LuaJIT's bit library (32-bit), elsewhere the operators,
-- compiled only where they parse.
M.bit = rawget(_G, "bit") or assert(load([[return {
  band = function(a, b) return a & b end, bor = function(a, b) return a | b end,
  bxor = function(a, b) return a ~ b end, bnot = function(a) return ~a end,
  lshift = function(a, n) return a << n end, rshift = function(a, n) return a >> n end }]], "=bit"))()

-- Runs a shell command and returns its standard output, whether it exited 0,
-- and its exit code (under LuaJIT a popen handle's close reports no status).
function M.command(cmd)
  local p = assert(io.popen("(" .. cmd .. "\n); printf '\\n%d' $?", "r"))
  local text = p:read("a")
  p:close()
  local out, code = text:match("^(.*)\n(%d+)$")
  code = tonumber(code)
  return out, code == 0, code
end

local server -- {pid=, http=, grpc=, handle=}

local function source_dir()
  local dir = os.getenv("TRITON_SOURCE_DIR")
  if dir and dir ~= "" then return dir end
  return "."
end

-- A word for sh: s in single quotes, its own single quotes escaped.
local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

-- The whole content of a file (binary-safe).
function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.stop()
  if not server then return end
  local s = server
  server = nil
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  s.handle:close() -- waits for the wrapper shell, which waits for the server
end

-- Starts the server (once) and returns {http_url=, grpc_url=, http_port=, grpc_port=}.
-- extra: more testserver arguments (e.g. {"--tls", cert, key}) for a private server,
-- which the caller stops with M.stop_private(s).
local function launch(extra)
  local script = source_dir() .. "/scripts/testserver"
  local args = { shell_quote(script), "--http-port", "0", "--grpc-port", "0", "--host", "127.0.0.1" }
  for _, a in ipairs(extra or {}) do args[#args + 1] = shell_quote(a) end
  -- `p=$PPID` is this Lua process: the watchdog kills the server once it is gone.
  local cmd = "p=$PPID; " .. table.concat(args, " ") .. " & s=$!; echo pid=$s; " ..
    "(while kill -0 $p 2>/dev/null && kill -0 $s 2>/dev/null; do sleep 1; done; " ..
    "kill $s 2>/dev/null) </dev/null >/dev/null 2>&1 & wait $s"
  local handle = assert(io.popen(cmd, "r"))
  local pid = tonumber((handle:read("l") or ""):match("^pid=(%d+)$"))
  local ready = handle:read("l")
  local http, grpc = (ready or ""):match("^ready http=(%d+) grpc=(%d+)$")
  if not (pid and http) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    handle:close()
    error("the reference server did not start (" .. tostring(ready) .. "): " .. script, 2)
  end
  return {
    pid = pid, handle = handle, http_port = tonumber(http), grpc_port = tonumber(grpc),
    http_url = "http://127.0.0.1:" .. http, grpc_url = "grpc://127.0.0.1:" .. grpc,
  }
end

function M.server()
  if not server then
    server = launch()
    -- Stops the server when the state closes, whatever happened to the specs.
    M._sentinel = on_gc(M.stop)
  end
  return server
end

function M.start_private(extra)
  return launch(extra)
end

function M.stop_private(s)
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  s.handle:close()
end

M.protocols = { "http", "grpc" }

-- Runs fn(proto, url) inside describe("over <proto>") for each transport.
-- busted's API lives in the spec file's environment, not in _G; require "busted"
-- reaches the same functions from a module.
function M.transports(fn)
  local describe = require("busted").describe
  local s = M.server()
  for _, proto in ipairs(M.protocols) do
    describe("over " .. proto, function()
      fn(proto, s[proto .. "_url"])
    end)
  end
end

-- The triton module: loaded once, so that every spec shares its loop.
function M.triton()
  return require "triton"
end

-- Inputs for the reference server's `simple` model (OUTPUT0 = INPUT0 + INPUT1,
-- OUTPUT1 = INPUT0 - INPUT1), shape [1, 16]: INPUT0[i] = i + k and INPUT1[i] =
-- 2i, so that OUTPUT0[i] = 3i + k and OUTPUT1[i] = k - i.
function M.simple_inputs(k)
  local triton = M.triton()
  local a, b = {}, {}
  for i = 1, 16 do a[i], b[i] = i + k, 2 * i end
  return { INPUT0 = triton.tensor({ a }, "INT32"), INPUT1 = triton.tensor({ b }, "INT32") }
end

-- A fresh POSIX shm key for this process.
local shm_count = 0
function M.shm_key(tag)
  shm_count = shm_count + 1
  return string.format("/tritonlua_spec_%s_%d_%d", tag or "r", M.pid(), shm_count)
end

local my_pid
function M.pid()
  if not my_pid then
    local f = io.open("/proc/self/stat", "r")
    local line = f and f:read("l") or ""
    if f then f:close() end
    my_pid = tonumber(line:match("^(%d+)")) or math.random(1, 1e9)
  end
  return my_pid
end

-- Calls fn and returns the triton.Error it raised (fails if it raised nothing or
-- something else).
function M.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, the call succeeded")
  local triton = M.triton()
  assert(getmetatable(err) == triton.Error, "expected a triton.Error, got: " .. tostring(err))
  return err
end

-- Runs a program on a pseudo-terminal driven by spec/support/ptydrive.py (its
-- header has the step language): steps is a list of lines ("type TEXT", "send
-- TEXT", "expect TEXT"), argv the program and its arguments, env (optional) the
-- environment variables to set. Returns the exit status and the terminal's
-- output without carriage returns; or nil and the reason when this machine has
-- no pseudo-terminal (ptydrive.py's status 125), for the case to report pending.
function M.pty_run(steps, argv, env)
  local stepfile, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(stepfile, "w"))
  f:write(table.concat(steps, "\n"), "\n")
  f:close()
  local words = { "env" }
  for name, value in pairs(env or {}) do words[#words + 1] = name .. "=" .. shell_quote(value) end
  words[#words + 1] = "/usr/bin/python3 " .. shell_quote(source_dir() .. "/spec/support/ptydrive.py")
  words[#words + 1] = shell_quote(stepfile) .. " --"
  for _, a in ipairs(argv) do words[#words + 1] = shell_quote(a) end
  local _, _, status = M.execute(table.concat(words, " ") .. " >" .. shell_quote(out) .. " 2>&1")
  local text = M.slurp(out):gsub("\r", "")
  os.remove(stepfile)
  os.remove(out)
  if status == 125 then return nil, "no pseudo-terminal on this machine: " .. text end
  return status, text
end

-- A delay in milliseconds (for the reference server's `slow` model, or an
-- x-fault delay) that outlasts any test run, ctest's timeout included: a case
-- waiting on it can pass only by cancelling the request (a timeout, close, exit,
-- Ctrl-C), and a hang is caught by ctest rather than passing slowly.
M.NEVER_MS = 3600 * 1000

-- Shell code that sends SIGINT to the process whose pid is in $<pidvar> once
-- `file` contains `marker` (at most ~20 s of waiting). The program under test
-- writes the marker when it is where the spec wants to interrupt it; a fixed
-- sleep instead would, on a slow machine, interrupt it before its handler is
-- in place and kill it.
function M.sigint_when(file, marker, pidvar)
  return string.format("n=0; until grep -qF %s %s 2>/dev/null || [ $n -ge 400 ]; do sleep 0.05; " ..
    "n=$((n+1)); done; kill -INT $%s; ", shell_quote(marker), shell_quote(file), pidvar)
end

return M
