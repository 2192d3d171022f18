-- Test certificates made with openssl: a CA, a server certificate it signed
-- for localhost / 127.0.0.1, and two bad server certificates (one for another
-- host name signed by the same CA, one for the right names signed by a second
-- CA that the client does not trust). Files live in a fresh temporary
-- directory, removed by M.cleanup.
local h = require "support.harness"

local M = {}

local function sh(cmd)
  local ok = h.execute(cmd .. " >/dev/null 2>&1")
  if not ok then error("command failed: " .. cmd, 2) end
end

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A key and a certificate for `cn` with the given subjectAltName, signed by
-- the CA whose files are ca_cert / ca_key; usage: "serverAuth" (default) or
-- "clientAuth".
local function leaf_cert(dir, name, cn, san, ca_cert, ca_key, usage)
  local key, csr, crt, ext = dir .. "/" .. name .. ".key", dir .. "/" .. name .. ".csr",
    dir .. "/" .. name .. ".pem", dir .. "/" .. name .. ".ext"
  local f = assert(io.open(ext, "w"))
  f:write("subjectAltName=" .. san .. "\nbasicConstraints=CA:FALSE\n" ..
    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=" .. (usage or "serverAuth") .. "\n")
  f:close()
  sh("openssl req -new -newkey rsa:2048 -nodes -keyout " .. quote(key) .. " -out " .. quote(csr) ..
    " -subj /CN=" .. cn)
  sh("openssl x509 -req -in " .. quote(csr) .. " -CA " .. quote(ca_cert) .. " -CAkey " ..
    quote(ca_key) .. " -CAcreateserial -out " .. quote(crt) .. " -days 2 -extfile " .. quote(ext))
  return crt, key
end

local function ca(dir, name)
  local key, crt = dir .. "/" .. name .. ".key", dir .. "/" .. name .. ".pem"
  sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " .. quote(key) .. " -out " .. quote(crt) ..
    " -days 2 -subj '/CN=tritonlua test " .. name .. "' -addext basicConstraints=critical,CA:TRUE" ..
    " -addext keyUsage=critical,keyCertSign,cRLSign")
  return crt, key
end

-- Returns {dir=, ca=, cert=, key=, wrong_name_cert=, wrong_name_key=,
-- other_ca_cert=, other_ca_key=, client_cert=, client_key=,
-- other_ca_client_cert=, other_ca_client_key=}: paths of PEM files.
function M.make()
  local p = assert(io.popen("mktemp -d /tmp/tritonlua-tls-XXXXXX", "r"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir ~= "", "mktemp failed")
  local t = { dir = dir }
  local ca_key
  t.ca, ca_key = ca(dir, "ca")
  t.cert, t.key = leaf_cert(dir, "server", "localhost", "DNS:localhost,IP:127.0.0.1", t.ca, ca_key)
  t.wrong_name_cert, t.wrong_name_key = leaf_cert(dir, "wrongname", "elsewhere.invalid",
    "DNS:elsewhere.invalid", t.ca, ca_key)
  local other_ca, other_ca_key = ca(dir, "otherca")
  t.other_ca_cert, t.other_ca_key = leaf_cert(dir, "otherca_server", "localhost",
    "DNS:localhost,IP:127.0.0.1", other_ca, other_ca_key)
  t.client_cert, t.client_key = leaf_cert(dir, "client", "tritonlua-client", "DNS:client.invalid",
    t.ca, ca_key, "clientAuth")
  t.other_ca_client_cert, t.other_ca_client_key = leaf_cert(dir, "otherca_client",
    "tritonlua-client", "DNS:client.invalid", other_ca, other_ca_key, "clientAuth")
  return t
end

function M.cleanup(t)
  if t and t.dir and t.dir:match("^/tmp/tritonlua%-tls%-") then
    os.execute("rm -rf " .. quote(t.dir))
  end
end

return M
