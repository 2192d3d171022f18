-- Spec harness: one reference server per spec file, and `transports` to run a
-- describe block once over HTTP and once over gRPC.
--
--   local h = require "support.harness"
--   h.transports(function(proto, url) ... end)   -- url: "http://127.0.0.1:P" / "grpc://..."
--
-- The server (scripts/testserver on free ports) starts on first use and stops
-- when the Lua state closes; a watchdog shell also kills it if this process
-- dies without closing the state (a crash, SIGKILL), so no server outlives a run.
local M = {}

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
    M._sentinel = setmetatable({}, { __gc = M.stop })
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
