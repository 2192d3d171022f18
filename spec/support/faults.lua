-- Fault helpers for the fault-matrix specs: servers that misbehave in ways the
-- reference server's x-fault modes cannot (a black hole, a dead port, a server
-- killed mid-request, a TLS server with a certificate the client must refuse).
--
--   local f = require "support.faults"
--   local bh = f.blackhole([{full=true}]) -- {port=, url=fn(scheme)}; f.stop(bh) ends it
--   local port = f.dead_port()      -- a port nothing listens on
--   local s = f.server()            -- a private reference server; f.kill9(s), f.stop(s)
--   local cert, key = f.make_cert(dir, "localhost")
local h = require "support.harness"

local M = {}

local shell_quote = h.shell_quote
M.shell_quote = shell_quote

local function source_dir()
  local dir = os.getenv("TRITON_SOURCE_DIR")
  if dir and dir ~= "" then return dir end
  return "."
end

-- A black-hole TCP server: accepts and never answers; with {full = true} it
-- never even completes a connection (its backlog is full, so the kernel drops
-- SYNs: a connect hangs until the client's connection timeout). Stops with this
-- process at the latest (blackhole.py watches our pid).
function M.blackhole(opts)
  local script = source_dir() .. "/spec/support/blackhole.py"
  local cmd = "/usr/bin/python3 " .. shell_quote(script) .. (opts and opts.full and " --full" or "") ..
    " --watch $PPID & echo pid=$!; wait"
  local handle = assert(io.popen(cmd, "r"))
  -- Two lines, in either order: the shell's "pid=" and the server's "ready port=".
  local pid, port
  for _ = 1, 2 do
    local line = handle:read("l") or ""
    pid = pid or tonumber(line:match("^pid=(%d+)$"))
    port = port or tonumber(line:match("^ready port=(%d+)$"))
  end
  if not (pid and port) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    handle:close()
    error("the black-hole server did not start: " .. script, 2)
  end
  return { pid = pid, handle = handle, port = port }
end

-- A TCP port on 127.0.0.1 that nothing listens on: bound by the OS, then
-- released (another process could take it in between; on a test machine the
-- window is microseconds and the OS does not hand the same port out again at once).
function M.dead_port()
  local p = assert(io.popen("/usr/bin/python3 -c 'import socket; s = socket.socket(); " ..
    "s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1]); s.close()'", "r"))
  local port = tonumber(p:read("l"))
  p:close()
  return assert(port, "could not find a free port")
end

-- A private reference server (extra: more testserver arguments, e.g. --tls).
function M.server(extra)
  return h.start_private(extra)
end

-- Kills a server (reference or black hole) with SIGKILL: no goodbye on its sockets.
function M.kill9(s)
  os.execute("kill -9 " .. s.pid .. " 2>/dev/null")
end

-- Stops a server started by M.server or M.blackhole (also after kill9).
function M.stop(s)
  os.execute("kill " .. s.pid .. " 2>/dev/null")
  s.handle:close()
end

-- A fresh temporary directory, removed by M.rmdir.
function M.tmpdir()
  local p = assert(io.popen("mktemp -d", "r"))
  local dir = p:read("l")
  p:close()
  return assert(dir, "mktemp -d failed")
end

function M.rmdir(dir)
  if dir and dir:match("^/tmp/") then os.execute("rm -rf " .. shell_quote(dir)) end
end

-- A self-signed certificate for `host` (CN and subjectAltName), made with
-- openssl in dir; returns the certificate and key paths.
function M.make_cert(dir, host, tag)
  tag = tag or host
  local cert, key = dir .. "/" .. tag .. ".crt", dir .. "/" .. tag .. ".key"
  local san = host:match("^[%d.]+$") and ("IP:" .. host) or ("DNS:" .. host)
  local cmd = table.concat({ "openssl req -x509 -newkey rsa:2048 -nodes -days 2",
    "-keyout", shell_quote(key), "-out", shell_quote(cert), "-subj", shell_quote("/CN=" .. host),
    "-addext", shell_quote("subjectAltName=" .. san), ">/dev/null 2>&1" }, " ")
  assert(h.execute(cmd), "openssl could not make a certificate")
  return cert, key
end

return M
