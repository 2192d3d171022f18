-- apache_handler.lua: an Apache httpd (mod_lua) handler in front of Triton.
-- Debian's mod_lua embeds Lua 5.3, so the module must be the 5.3 build
-- (installed under lib/.../lua/5.3, or the build tree's lua5.3/ folder).
--
-- httpd.conf (tests/hosts/apache/httpd.conf is a whole, working one):
--   LoadModule lua_module /usr/lib/apache2/modules/mod_lua.so
--   LuaScope thread
--   LuaPackagePath  /path/to/share/lua/5.3/?.lua
--   LuaPackageCPath /path/to/lib/lua/5.3/?.so
--   LuaMapHandler ^/sum$ /path/to/apache_handler.lua handle
-- and the server's URL in httpd's environment (e.g. /etc/apache2/envvars):
--   export TRITON_URL=grpc://triton:8001
--
-- POST /sum {"a": [1, 2, 3], "b": [4, 5, 6]}  (up to 16 integers each, as many in b as in a)
--   200 {"sum": [5, 7, 9], "difference": [-3, -3, -3]}
--   400 {"error": "..."}                  the body is not what it should be
--   503 {"error": "...", "code": "unavailable"}   Triton cannot be reached
--   502 {"error": "...", "code": "..."}   Triton answered with an error
-- Pre-processing pads a and b with zeros to the 16 elements of the `simple`
-- model's inputs; post-processing cuts its outputs back to the length given.
--
-- Where the client lives: `LuaScope thread` gives every httpd worker thread a
-- Lua state of its own for the thread's whole life. This file runs once in
-- each, so each thread keeps one client (its connections, or its gRPC channel)
-- across the requests it serves, and no two threads share a state (the module
-- keeps its loop and interrupts per Lua state). A call blocks its worker thread
-- only, as any handler's work does; the other threads go on serving.
-- (`LuaScope request` would build a client per request; `server` pools states
-- the same way as `thread`, shared in turn by threads.)
-- luacheck: globals handle, read globals apache2
local triton = require "triton"

local URL = os.getenv("TRITON_URL") or "http://127.0.0.1:8000"
local WIDTH = 16        -- the `simple` model's INPUT0/INPUT1 are INT32 [-1, 16]
local CALL_TIMEOUT = 10 -- seconds for a whole call
local INT32_MIN, INT32_MAX = -2147483648, 2147483647

local client -- this state's (this thread's)

local function reply(r, status, body)
  r.status = status
  r.content_type = "application/json"
  r:puts(triton.json.encode(body), "\n")
  return apache2.OK
end

-- The field `name` of the request: a list of 1..WIDTH INT32 integers, or nil
-- and what is wrong with it.
local function int32_list(req, name, len)
  local v = req[name]
  if type(v) ~= "table" or #v == 0 or #v > WIDTH then
    return nil, string.format("'%s' must be a list of 1 to %d integers", name, WIDTH)
  end
  if len and #v ~= len then
    return nil, string.format("'%s' has %d elements, 'a' has %d", name, #v, len)
  end
  for i = 1, #v do
    local x = v[i]
    if type(x) ~= "number" or x ~= math.floor(x) or x < INT32_MIN or x > INT32_MAX then
      return nil, string.format("'%s'[%d] must be a 32-bit integer, found %s", name, i, tostring(x))
    end
  end
  return v
end

local function padded(list)
  local t = {}
  for i = 1, WIDTH do t[i] = list[i] or 0 end
  return triton.tensor(t, "INT32", { 1, WIDTH })
end

local function first(row, n)
  local t = {}
  for i = 1, n do t[i] = row[i] end
  return t
end

local function parse(body)
  local ok, req = pcall(triton.json.decode, body or "")
  if not ok then return nil, "the body must be JSON: " .. tostring(req) end
  if type(req) ~= "table" then return nil, "the body must be a JSON object" end
  local a, why = int32_list(req, "a")
  if not a then return nil, why end
  local b
  b, why = int32_list(req, "b", #a)
  if not b then return nil, why end
  return a, b
end

function handle(r)
  if r.method ~= "POST" then
    return reply(r, 405, { error = "POST a JSON object {\"a\": [...], \"b\": [...]}" })
  end
  local a, b = parse(r:requestbody())
  if not a then return reply(r, 400, { error = b }) end

  local ok, res = pcall(function()
    client = client or triton.connect(URL, { connection_timeout = 2 })
    return client:infer("simple", { INPUT0 = padded(a), INPUT1 = padded(b) }, { timeout = CALL_TIMEOUT })
  end)
  if not ok then
    if getmetatable(res) ~= triton.Error then error(res, 0) end -- a bug here: httpd's 500
    return reply(r, res.code == "unavailable" and 503 or 502, { error = tostring(res), code = res.code })
  end
  return reply(r, 200, {
    sum = first(res:as_tensor("OUTPUT0"):totable()[1], #a),
    difference = first(res:as_tensor("OUTPUT1"):totable()[1], #a),
  })
end
