-- triton.client: clients as API.md describes them, over the C binding (triton.core).
--
-- Everything here is option handling and shaping: option tables checked by the
-- one argument layer (core.args, src/lua/largs.c: an unknown key, a wrong type,
-- a negative, NaN or infinite number is an error naming the user's own option,
-- at the user's line), URL parsing, overloads such as
-- `c:is_model_ready(model [, version] [, opts])`, and the Lua tables handed to
-- the core client (`cc:call(kind, args)`, `cc:submit(kind, args, cb)`). I/O,
-- reply conversion and the event loop live in src/lua/lclient.c.
local core = require "triton.core"
local infer = require "triton.infer"
local spawn = require "triton.spawn"
local fleet = require "triton.fleet"
local compat = require "triton.compat"
local math_type = compat.math_type
local checks = core.args -- the one argument layer (src/lua/largs.c)

local M = {}

local Error = core.Error

-- A triton.Error raised from Lua (argument shapes the C side never sees).
local function raise(code, fmt, ...)
  error(setmetatable({ code = code, message = string.format(fmt, ...) }, Error), 3)
end
M.raise = raise

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

-- ---- URLs -------------------------------------------------------------------

local schemes = {
  ["http"] = { protocol = "http", tls = false },
  ["https"] = { protocol = "http", tls = true },
  ["grpc"] = { protocol = "grpc", tls = false },
  ["grpcs"] = { protocol = "grpc", tls = true },
}

-- "http://h:p" -> "http", "h:p", false; a bare "h:p" (or a gRPC target such as
-- "ipv4:a:1,b:2") -> nil, "h:p", nil. A path after host:port is refused:
-- Triton's endpoints live at the root.
function M.parse_url(url)
  local shown = core.url_redacted(url) -- messages never carry a password
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then
    return nil, url, nil
  end
  local s = schemes[scheme:lower()]
  if not s then
    error(string.format("unsupported URL scheme '%s' in '%s' (use http, https, grpc or grpcs)",
      scheme, shown), 4)
  end
  rest = rest:gsub("/+$", "")
  if rest == "" then
    error(string.format("URL '%s' has no host", shown), 4)
  end
  if rest:find("/", 1, true) then
    error(string.format("URL '%s' has a path; give only scheme://host:port", shown), 4)
  end
  return s.protocol, rest, s.tls
end

-- ---- clients ----------------------------------------------------------------

-- ---- fleets -------------------------------------------------------------------

-- The fleet options (docs/FLEET.md); a plain client is a fleet of one and takes them too.
local fleet_options = checks.option_spec {
  { "resolve", "number", min = 0 },
  { "balance", "string", one_of = { "least_requests", "round_robin" } },
  { "health", "table", fields = {
    { "interval", "number", min = 0.001 },
    { "models", "table" },
  } },
  { "retry", "table", fields = {
    { "attempts", "integer", min = 1, max = 100 },
    { "on", "table" },
    { "backoff", "number", min = 0 },
    { "max_backoff", "number", min = 0 },
    { "budget", "number", min = 0 },
  } },
}
-- What a retry table leaves out; retries are off when no retry table is given.
M.retry_defaults = {
  attempts = 3, on = { "unavailable", "resource_exhausted", "deadline_exceeded" },
  backoff = 0.05, max_backoff = 1, budget = 0.2,
}
M.health_interval_default = 2
local code_words = set(core.code_words)

local function check_list_of_strings(t, name, fname, allowed)
  for i = 1, #t do
    if type(t[i]) ~= "string" or (allowed and not allowed[t[i]]) then
      error(string.format("bad option '%s' to '%s' (%s expected at [%d], got %s)", name, fname,
        allowed and "a code word such as \"unavailable\"" or "a string",
        i, type(t[i]) == "string" and string.format("%q", t[i]) or type(t[i])), 4)
    end
  end
  for k in pairs(t) do
    if math_type(k) ~= "integer" or k < 1 or k > #t then
      error(string.format("bad option '%s' to '%s' (a list expected, found key %s)", name, fname,
        tostring(k)), 4)
    end
  end
end

-- Copies the checked fleet options of opts into o, the core client's options.
local function fleet_args(opts, o, fname)
  checks.check_options({ resolve = opts.resolve, balance = opts.balance, health = opts.health,
    retry = opts.retry }, fleet_options, fname)
  o.balance = opts.balance
  if opts.health then
    o.health_interval = opts.health.interval or M.health_interval_default
    if opts.health.models ~= nil then
      check_list_of_strings(opts.health.models, "health.models", fname)
      o.health_models = opts.health.models
    end
  end
  if opts.retry then
    local r, d = opts.retry, M.retry_defaults
    if r.on ~= nil then check_list_of_strings(r.on, "retry.on", fname, code_words) end
    o.retry_attempts, o.retry_on = r.attempts or d.attempts, r.on or d.on
    o.retry_backoff, o.retry_budget = r.backoff or d.backoff, r.budget or d.budget
    o.retry_max_backoff = r.max_backoff or math.max(d.max_backoff, o.retry_backoff)
    if o.retry_max_backoff < o.retry_backoff then
      error(string.format("bad option 'retry.max_backoff' to '%s' (at least backoff, %g, expected)",
        fname, o.retry_backoff), 4)
    end
  end
end

local function scheme_word(protocol, tls)
  if not protocol then return "without a scheme" end
  return protocol .. (tls and " over TLS" or "")
end

-- A list of URLs -> their protocol, targets, TLS and shown names; one protocol for all.
local function parse_urls(list, fname)
  if #list == 0 then
    error(string.format("bad argument 'url' to '%s' (a URL or a non-empty list of URLs expected)",
      fname), 4)
  end
  local targets, first = {}, nil
  for i, u in ipairs(list) do
    if type(u) ~= "string" or u == "" then
      error(string.format("bad argument 'url' to '%s' (a non-empty string expected at [%d], got %s)",
        fname, i, u == "" and "an empty string" or type(u)), 4)
    end
    local protocol, target, tls = M.parse_url(u)
    local this = { url = u, protocol = protocol, tls = tls }
    if not first then
      first = this
    elseif this.protocol ~= first.protocol or this.tls ~= first.tls then
      error(string.format("a fleet has one protocol: '%s' is %s but '%s' is %s",
        core.url_redacted(first.url), scheme_word(first.protocol, first.tls),
        core.url_redacted(u), scheme_word(protocol, tls)), 4)
    end
    targets[i] = target
  end
  return first.url, targets
end
-- Every client option (docs/API.md), the fleet's included.
local compressions = { "gzip", "deflate" }
local int_ms = 2147483647 -- gRPC takes milliseconds as an int
local client_options = checks.option_spec {
  fleet_options,
  { "url", "string|table" },
  { "protocol", "string", one_of = { "http", "grpc" } },
  { "verbose", "boolean" },
  { "headers", "map", values = "string|number" },
  { "connection_timeout", "number", min = 0, forever = true },
  { "network_timeout", "number", min = 0, forever = true },
  { "ssl", "table", fields = {
    { "ca_file", "string", text = true },
    { "cert_file", "string", text = true },
    { "key_file", "string", text = true },
    { "insecure", "boolean" },
  } },
  { "compression", "string", one_of = compressions },
  { "response_compression", "string", one_of = compressions },
  { "concurrency", "integer", min = 1, max = 1000000 },
  { "max_response_size", "integer", min = 1 },
  { "keepalive", "table", fields = {
    { "time_ms", "integer", min = 0, max = int_ms },
    { "timeout_ms", "integer", min = 0, max = int_ms },
    { "permit_without_calls", "boolean" },
  } },
  { "channel_args", "map", values = "integer|boolean|string" },
}

local Client = {}
Client.__index = Client
Client.__name = "triton.Client"
M.Client = Client

-- Builds a client from a URL (or a list of URLs: a fleet) and an options table
-- (argument #argn of fname; nil: none).
local function new_client(url, opts, fname, fixed_protocol, argn)
  checks.check_options(opts, client_options, fname, argn)
  opts = opts or {}
  local given, targets = url, nil
  if type(url) == "table" then
    if opts.resolve ~= nil then
      error(string.format("option 'resolve' to '%s' takes one URL (a name to resolve), not a list",
        fname), 3)
    end
    url, targets = parse_urls(url, fname)
  end
  if type(url) ~= "string" or url == "" then
    error(string.format("bad argument 'url' to '%s' (non-empty string expected, got %s)", fname,
      url == "" and "an empty string" or type(url)), 3)
  end
  local scheme_protocol, target, tls = M.parse_url(url)
  local protocol = fixed_protocol or opts.protocol or scheme_protocol or "http"
  if scheme_protocol and scheme_protocol ~= protocol then
    error(string.format("URL '%s' is %s but the client is %s", core.url_redacted(url),
      scheme_protocol, protocol), 3)
  end
  if protocol == "grpc" and target:find("@", 1, true) then
    -- gRPC has no userinfo: the resolver would take "user:password@host" for a
    -- host name and put it, password and all, in its error message.
    error(string.format("URL '%s' has user:password@, which gRPC does not use; send credentials " ..
      "as headers (gRPC metadata)", core.url_redacted(url)), 3)
  end
  if opts.protocol and fixed_protocol and opts.protocol ~= fixed_protocol then
    error(string.format("option 'protocol' is %s but %s makes %s clients", opts.protocol, fname,
      fixed_protocol), 3)
  end
  local o = { protocol = protocol, urls = targets or { target }, use_tls = tls or false,
    scheme = protocol .. (tls and "s" or "") }
  fleet_args(opts, o, fname)
  if opts.resolve ~= nil then
    o.urls, o.resolve, o.resolve_interval = nil, target, opts.resolve
  end
  o.verbose, o.headers = opts.verbose, opts.headers
  o.connection_timeout, o.network_timeout = opts.connection_timeout, opts.network_timeout
  if opts.ssl ~= nil then
    local s = opts.ssl
    o.ca_file, o.cert_file, o.key_file, o.insecure = s.ca_file, s.cert_file, s.key_file, s.insecure
    o.ssl = true
  end
  o.compression, o.response_compression = opts.compression, opts.response_compression
  o.concurrency, o.max_response_size = opts.concurrency, opts.max_response_size
  if opts.keepalive ~= nil or opts.channel_args ~= nil then
    if protocol ~= "grpc" then
      error(string.format("options 'keepalive' and 'channel_args' apply to gRPC clients only"), 3)
    end
    local ka = opts.keepalive or {}
    o.keepalive_time_ms = ka.time_ms
    o.keepalive_timeout_ms = ka.timeout_ms
    o.keepalive_permit_without_calls = ka.permit_without_calls
    o.channel_args = opts.channel_args
  end
  local cc = core.client_new(o)
  -- _shown: the URL for tostring and messages, a password in it redacted.
  local shown = core.url_redacted(url)
  if targets and #targets > 1 then shown = string.format("%s and %d more", shown, #targets - 1) end
  return setmetatable({ protocol = protocol, url = given, _shown = shown, _cc = cc }, Client)
end

-- triton.connect(url [, opts]), triton.connect({url, ...} [, opts])
function M.connect(url, opts)
  if type(opts) == "table" and opts.url ~= nil then
    error("option 'url' does not apply to triton.connect: the URL is its first argument", 2)
  end
  return new_client(url, opts, "connect", nil, 2)
end

-- triton.http.client{url = ...}, triton.grpc.client{url = ...}
function M.client_for(protocol)
  local fname = protocol .. ".client"
  return function(opts)
    if type(opts) ~= "table" then
      checks.argerror(1, fname, "options table expected, got " .. (opts == nil and "no value" or
        type(opts)))
    end
    return new_client(opts.url, opts, fname, protocol, 1)
  end
end

function Client:close()
  self._cc:close()
end
Client.__close = Client.close

function Client.__tostring(c)
  return string.format("triton.Client(%s, %s%s)", c.protocol, c._shown,
    c._cc:is_closed() and ", closed" or "")
end

-- c:servers() -> {{url=, healthy=, in_flight=, requests=, failures=, last_error=}, ...}
function Client:servers()
  local list = self._cc:servers()
  for _, s in ipairs(list) do s.index = nil end
  return list
end

-- c:each(fn): fn(url, client) for every server, client a triton.Client of that
-- server alone (every method; it shares the fleet's connections and closes with it).
function Client:each(fn)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'each' (function expected, got " .. type(fn) .. ")", 2)
  end
  for _, s in ipairs(self._cc:servers()) do
    local one = setmetatable({ protocol = self.protocol, url = s.url, _shown = s.url,
      _cc = self._cc:view(s.index) }, Client)
    fn(s.url, one)
  end
end

-- ---- per-call options -------------------------------------------------------

-- What every call takes (docs/API.md): headers, a deadline, HTTP query parameters.
local call_options = checks.option_spec {
  { "headers", "map", values = "string|number" },
  { "timeout", "number", min = 0, forever = true },
  { "query_params", "map", values = "string|number" },
}
M.call_options = call_options
-- Calls with options of their own, beside those.
local index_options = checks.option_spec { call_options, { "ready", "boolean" } }
local load_options = checks.option_spec {
  call_options, { "config", "table|string" }, { "files", "map", values = "string" },
}
local unload_options = checks.option_spec { call_options, { "unload_dependents", "boolean" } }

-- Checks the options table `o` (nil allowed) of method `fname` against `spec`
-- (default: call_options; `arg`: its argument's position, for "options table
-- expected") and copies the per-call ones into args.
local function call_args(self, o, fname, spec, args, arg)
  args = args or {}
  if o == nil then return args end
  checks.check_options(o, spec or call_options, fname, arg or 0)
  if o.query_params ~= nil and self.protocol ~= "http" then
    checks.usererror(string.format("option 'query_params' of '%s' applies to HTTP clients only",
      fname))
  end
  args.headers, args.timeout, args.query_params = o.headers, o.timeout, o.query_params
  return args
end
M.call_args = call_args

-- Raised at the user's line (checks.argerror), however deep in this file the check runs.
local function check_string_arg(v, n, fname, optional)
  if v == nil and optional then return nil end
  if type(v) ~= "string" then checks.check_string(v, n, fname) end -- raises its one message
  return v
end
M.check_string_arg = check_string_arg

-- The client that functions such as triton.map(c, ...) take as argument #1.
function M.check_client_arg(c, fname)
  if getmetatable(c) ~= Client then
    checks.argerror(1, fname, "triton client expected, got " .. type(c))
  end
  return c
end

-- A version argument: string or integer, optional.
local function version_arg(v, n, fname)
  if v == nil then return nil end
  if math_type(v) == "integer" then return string.format("%d", v) end
  if type(v) ~= "string" then
    error(string.format("bad argument #%d to '%s' (version string or integer expected, got %s)",
      n, fname, type(v)), 3)
  end
  return v
end

-- ---- server, models, repository ----------------------------------------------

function Client:is_server_live(o)
  return self._cc:call("is_server_live", call_args(self, o, "is_server_live"))
end

function Client:is_server_ready(o)
  return self._cc:call("is_server_ready", call_args(self, o, "is_server_ready"))
end

function Client:server_metadata(o)
  return self._cc:call("server_metadata", call_args(self, o, "server_metadata"))
end

-- Methods taking (model [, version] [, opts]).
for _, kind in ipairs { "is_model_ready", "model_metadata", "model_config" } do
  Client[kind] = function(self, model, version, o)
    check_string_arg(model, 1, kind)
    if type(version) == "table" and o == nil then version, o = nil, version end
    local args = call_args(self, o, kind)
    args.model, args.version = model, version_arg(version, 2, kind)
    return self._cc:call(kind, args)
  end
end

function Client:model_repository_index(o)
  local args = call_args(self, o, "model_repository_index", index_options)
  args.flag = o and o.ready or false
  return self._cc:call("model_repository_index", args)
end

function Client:load_model(model, o)
  check_string_arg(model, 1, "load_model")
  local args = call_args(self, o, "load_model", load_options)
  args.model = model
  if o and o.config ~= nil then
    args.config = type(o.config) == "table" and core.json.encode(o.config) or o.config
  end
  args.files = o and o.files
  self._cc:call("load_model", args)
end

function Client:unload_model(model, o)
  check_string_arg(model, 1, "unload_model")
  local args = call_args(self, o, "unload_model", unload_options)
  args.model = model
  args.flag = o and o.unload_dependents or false
  self._cc:call("unload_model", args)
end

function Client:inference_statistics(model, version, o)
  if type(model) == "table" and version == nil and o == nil then model, o = nil, model end
  if type(version) == "table" and o == nil then version, o = nil, version end
  check_string_arg(model, 1, "inference_statistics", true)
  local args = call_args(self, o, "inference_statistics")
  args.model, args.version = model, version_arg(version, 2, "inference_statistics")
  return self._cc:call("inference_statistics", args)
end

function Client:trace_settings(model, o)
  if type(model) == "table" and o == nil then model, o = nil, model end
  check_string_arg(model, 1, "trace_settings", true)
  local args = call_args(self, o, "trace_settings")
  args.model = model
  return self._cc:call("trace_settings", args)
end

function Client:update_trace_settings(settings, model, o)
  if type(settings) ~= "table" then
    error("bad argument #1 to 'update_trace_settings' (table expected, got " .. type(settings)
      .. ")", 2)
  end
  if type(model) == "table" and o == nil then model, o = nil, model end
  check_string_arg(model, 2, "update_trace_settings", true)
  local args = call_args(self, o, "update_trace_settings")
  args.model, args.settings = model, settings
  return self._cc:call("update_trace_settings", args)
end

function Client:log_settings(o)
  return self._cc:call("log_settings", call_args(self, o, "log_settings"))
end

function Client:update_log_settings(settings, o)
  if type(settings) ~= "table" then
    error("bad argument #1 to 'update_log_settings' (table expected, got " .. type(settings)
      .. ")", 2)
  end
  local args = call_args(self, o, "update_log_settings")
  args.settings = settings
  return self._cc:call("update_log_settings", args)
end

-- ---- shared memory ------------------------------------------------------------

local function region_name_arg(v, n, fname, optional)
  if type(v) == "userdata" then return v.name end -- a triton.shm region
  return check_string_arg(v, n, fname, optional)
end

local function size_arg(v, n, fname, optional)
  if v == nil and optional then return nil end
  if math_type(v) ~= "integer" or v < 0 then
    error(string.format("bad argument #%d to '%s' (non-negative integer expected, got %s)", n,
      fname, v == nil and "no value" or tostring(v)), 3)
  end
  return v
end

for _, kind in ipairs { "system_shared_memory_status", "cuda_shared_memory_status" } do
  Client[kind] = function(self, name, o)
    if type(name) == "table" and o == nil then name, o = nil, name end
    local args = call_args(self, o, kind)
    args.region = region_name_arg(name, 1, kind, true)
    return self._cc:call(kind, args)
  end
end

for _, kind in ipairs { "unregister_system_shared_memory", "unregister_cuda_shared_memory" } do
  Client[kind] = function(self, name, o)
    if type(name) == "table" and o == nil then name, o = nil, name end
    local args = call_args(self, o, kind)
    args.region = region_name_arg(name, 1, kind, true)
    self._cc:call(kind, args)
  end
end

function Client:register_system_shared_memory(name, key, byte_size, offset, o)
  local f = "register_system_shared_memory"
  if type(offset) == "table" and o == nil then offset, o = nil, offset end
  local args = call_args(self, o, f)
  args.region = region_name_arg(name, 1, f)
  args.key = check_string_arg(key, 2, f)
  args.byte_size = size_arg(byte_size, 3, f)
  args.offset = size_arg(offset, 4, f, true)
  self._cc:call("register_system_shared_memory", args)
end

function Client:register_cuda_shared_memory(name, raw_handle, device_id, byte_size, o)
  local f = "register_cuda_shared_memory"
  local args = call_args(self, o, f)
  args.region = region_name_arg(name, 1, f)
  args.raw_handle = check_string_arg(raw_handle, 2, f)
  args.device_id = size_arg(device_id, 3, f)
  args.byte_size = size_arg(byte_size, 4, f)
  self._cc:call("register_cuda_shared_memory", args)
end

-- ---- inference ------------------------------------------------------------------

-- infer's own options (lua/triton/infer.lua): `timeout` is Triton's server-side
-- timeout parameter (microseconds), `client_timeout` the client-side one
-- (seconds), as tritonclient; `split` is infer's alone (a fleet's batches).
local split_options = checks.option_spec { infer.infer_options, { "split", "boolean" } }

-- The request table the core reads, plus the per-call args around it. `arg`
-- is the model's argument number in the user's function fname (nil: 1, a
-- method's); the inputs and the options follow it.
local function infer_args(self, model, inputs, o, fname, arg)
  arg = arg or 1
  check_string_arg(model, arg, fname)
  -- o's one check; its timeout is the server's, and client_timeout the call's
  local args = call_args(self, o, fname, infer.infer_options, nil, arg + 2)
  if o ~= nil then args.timeout = o.client_timeout end
  args.infer = infer.request(model, inputs, o, fname, arg)
  return args
end

-- For triton.perf and tritonlua perf: submit(cb) -> future, which sends one
-- infer call with these arguments, checked once here; cb(value, err, final) as
-- cc:submit calls it. The core reads the arguments as they are (as c:infer
-- does) unless query_params make it the args table's way. fname and arg: as
-- infer_args.
function M.prepare_infer(self, model, inputs, o, fname, arg)
  local cc, args = self._cc, infer_args(self, model, inputs, o, fname, arg)
  if args.query_params ~= nil then
    return function(cb) return cc:submit("infer", args, cb) end
  end
  return function(cb) return cc:submit_infer(model, inputs, o, fname, arg, cb) end
end

-- c:infer and c:async_infer are C functions (lclient.c, core.client_methods):
-- they check the model (with check_string_arg's message) and the options (against
-- infer.infer_options) and read the call as it is. Only the other forms come
-- here: a callback, c:infer's split, query_params (call_args has their rule).

-- c:infer(model, inputs, opts) -> result
local function infer_with_options(self, model, inputs, o)
  if type(o) == "table" and o.split ~= nil then
    check_string_arg(model, 1, "infer") -- the model first, as on every route
    checks.check_options(o, split_options, "infer", 3)
    -- o without split, and with what o inherits through a metatable too
    local given = o
    local rest = setmetatable({}, { __index = function(_, k)
      if k ~= "split" then return given[k] end
    end })
    if o.split then return fleet.split_infer(self, model, inputs, rest, M.wait, core.cat) end
    o = rest
  end
  return self._cc:call("infer", infer_args(self, model, inputs, o, "infer"))
end

-- c:async_infer(model, inputs [, opts] [, callback]) -> future, with opts or callback
local function async_infer_with(self, model, inputs, o, callback)
  if type(o) == "function" and callback == nil then o, callback = nil, o end
  if callback ~= nil and type(callback) ~= "function" then
    checks.argerror(4, "async_infer", "function expected, got " .. type(callback))
  end
  local cb
  if callback then
    cb = function(r, err) callback(r, err) end
  end
  if o == nil then
    return self._cc:submit_infer(model, inputs, nil, "async_infer", nil, cb)
  end
  return self._cc:submit("infer", infer_args(self, model, inputs, o, "async_infer"), cb)
end

Client.infer, Client.async_infer = core.client_methods(infer_with_options, async_infer_with,
  infer.infer_options)

-- Steps the loop until `ready()` holds; fails instead of spinning when nothing
-- is in flight any more. In a spawned coroutine it yields to triton.run instead.
local function step_until(ready, what)
  if spawn.wait_until(ready) then return end
  while not ready() do
    local ran, pending = core.step()
    if ran == 0 and pending == 0 and not ready() then
      raise("internal", "%s: the transport dropped the call", what)
    end
  end
end

-- ---- streams (gRPC) -----------------------------------------------------------------

local function needs_grpc(self, fname)
  if self.protocol ~= "grpc" then
    raise("unimplemented", "%s needs gRPC: streams are not available over HTTP (client %s)", fname,
      self._shown)
  end
end

local start_stream_options = checks.option_spec {
  { "headers", "map", values = "string|number" },
  { "stream_timeout", "number", min = 0, forever = true },
}

function Client:start_stream(callback, o)
  needs_grpc(self, "start_stream")
  if type(callback) ~= "function" then
    error("bad argument #1 to 'start_stream' (function expected, got " .. type(callback) .. ")", 2)
  end
  checks.check_options(o, start_stream_options, "start_stream", 2)
  o = o or {}
  if self._stream and self._stream:active() then
    raise("already_exists", "a stream is already open on this client; stop_stream() first")
  end
  self._stream = self._cc:stream_open(function(r, err)
    if r ~= nil or err ~= nil then callback(r, err) end
  end, { headers = o.headers, timeout = o.stream_timeout })
end

-- stream_infer also takes what every infer call takes: headers and client_timeout.
local stream_infer_options = checks.option_spec {
  infer.stream_options,
  { "headers", "map", values = "string|number" },
  { "client_timeout", "number", min = 0, forever = true },
}
-- The request of a stream call. The core reads the request's own options from o
-- and leaves the stream's (headers, client_timeout, enable_empty_final_response)
-- alone. empty_final: whether to ask the server for an empty final response, a
-- parameter added to a copy of the user's parameters, in a view of o (which
-- stays as it was).
local function stream_request(model, inputs, o, fname, spec, empty_final)
  check_string_arg(model, 1, fname)
  checks.check_options(o, spec or infer.stream_options, fname, 3)
  if empty_final or (o and o.enable_empty_final_response) then
    local given = o or {}
    local params = {}
    for k, v in pairs(given.parameters or {}) do params[k] = v end
    params.triton_enable_empty_final_response = true
    o = setmetatable({ parameters = params }, { __index = given })
  end
  return infer.request(model, inputs, o, fname)
end

-- The stream start_stream opened, or an error.
local function open_stream(self)
  local s = self._stream
  if not (s and s:active()) then
    raise("invalid_argument", "no stream is open: call start_stream first")
  end
  return s
end

function Client:async_stream_infer(model, inputs, o)
  needs_grpc(self, "async_stream_infer")
  open_stream(self):send(stream_request(model, inputs, o, "async_stream_infer"))
end

local stop_stream_options = checks.option_spec { { "cancel_requests", "boolean" } }

function Client:stop_stream(o)
  needs_grpc(self, "stop_stream")
  checks.check_options(o, stop_stream_options, "stop_stream", 1)
  local s = self._stream
  if not s then return end
  self._stream = nil
  if o and o.cancel_requests then
    s:cancel()
  else
    s:close()
  end
end

-- for r in c:stream_infer(model, inputs, opts) do ... end: one request on a
-- stream of its own (any number at once); ends after the response that
-- completes the request. headers and client_timeout (seconds, a deadline for
-- the whole stream) as infer takes them; the stream asks the server to end it
-- with a real status, so that a failure has its own code (not_found, ...).
function Client:stream_infer(model, inputs, o)
  needs_grpc(self, "stream_infer")
  local req = stream_request(model, inputs, o, "stream_infer", stream_infer_options, true)
  local per_call = o and call_args(self, { headers = o.headers, timeout = o.client_timeout },
    "stream_infer")
  local queue, head, tail, ended = {}, 1, 0, false
  local s = self._cc:stream_open(function(r, err, final)
    if r ~= nil or err ~= nil then
      tail = tail + 1
      queue[tail] = { r, err }
    end
    if final then ended = true end
  end, { headers = per_call and per_call.headers, timeout = per_call and per_call.timeout,
    status_errors = true })
  s:send(req)
  local finished = false
  local function close()
    if not ended and s:active() then s:cancel() end
  end
  local function iter()
    if finished then return nil end
    step_until(function() return queue[head] ~= nil or ended end, "stream_infer")
    local item = queue[head]
    if item == nil then
      finished = true
      return nil
    end
    queue[head] = nil
    head = head + 1
    local r, err = item[1], item[2]
    if err ~= nil then
      finished = true
      close()
      error(err, 2)
    end
    if r:final() then
      finished = true
      s:close()
      if #r:response().outputs == 0 then return nil end
    end
    return r
  end
  return iter, nil, nil, setmetatable({}, { __close = close })
end

-- ---- generate ------------------------------------------------------------------------

local function generate_args(self, model, body, o, fname)
  check_string_arg(model, 1, fname)
  if type(body) ~= "table" then
    error(string.format("bad argument #2 to '%s' (table expected, got %s)", fname, type(body)), 3)
  end
  local args = call_args(self, o, fname)
  args.model, args.settings = model, body
  return args
end

function Client:generate(model, body, o)
  return self._cc:call("generate", generate_args(self, model, body, o, "generate"))
end

-- for ev in c:generate_stream(model, body) do ... end: events as they arrive.
function Client:generate_stream(model, body, o)
  local args = generate_args(self, model, body, o, "generate_stream")
  local queue, head, tail, ended = {}, 1, 0, false
  local fut = self._cc:submit("generate_stream", args, function(ev, err, final)
    if ev ~= nil or err ~= nil then
      tail = tail + 1
      queue[tail] = { ev, err }
    end
    if final then ended = true end
  end)
  local function iter()
    step_until(function() return queue[head] ~= nil or ended end, "generate_stream")
    local item = queue[head]
    if item == nil then return nil end
    queue[head] = nil
    head = head + 1
    if item[2] ~= nil then error(item[2], 2) end
    return item[1]
  end
  return iter, nil, nil, setmetatable({}, {
    __close = function() if not ended then fut:cancel() end end,
  })
end

-- ---- triton.map -----------------------------------------------------------------------

-- for i, r, err in triton.map(c, model, source [, opts]) do ... end (lua/triton/fleet.lua).
-- Each item goes to the core as c:async_infer with a callback sends one; its
-- inputs are checked as map's third argument, and a bad item is that item's
-- error, not the loop's.
function M.map(c, model, source, o)
  M.check_client_arg(c, "map")
  check_string_arg(model, 2, "map")
  local cc = c._cc
  local function send(inputs, cb) return cc:submit_infer(model, inputs, nil, "map", 2, cb) end
  return fleet.map(source, o, send, step_until)
end

-- ---- futures -------------------------------------------------------------------------

-- triton.wait(futures [, {timeout = s}]) -> results in order; waits for all,
-- then raises the first error if any failed. With a timeout it raises a
-- "deadline_exceeded" triton.Error if they were not all done in time (the
-- calls go on), as get_result(true, timeout) does for one.
local wait_options = checks.option_spec { { "timeout", "number", min = 0, forever = true } }

function M.wait(futures, o)
  if type(futures) ~= "table" then
    error("bad argument #1 to 'wait' (list of futures expected, got " .. type(futures) .. ")", 2)
  end
  for i, f in ipairs(futures) do
    local mt = type(f) == "userdata" and getmetatable(f)
    if not (type(mt) == "table" and mt.__name == "triton.Future") then
      error(("bad argument #1 to 'wait' (element %d is not a future, got %s)"):format(i, type(f)), 2)
    end
  end
  checks.check_options(o, wait_options, "wait", 2)
  local deadline = o and o.timeout and o.timeout < math.huge and core.now() + o.timeout or nil
  for i, f in ipairs(futures) do
    if not f:wait(deadline and math.max(0, deadline - core.now())) then
      raise("deadline_exceeded", "wait: future %d of %d was not done within %g s (the calls go on)",
        i, #futures, o.timeout)
    end
  end
  local results, first_err = {}, nil
  for i, f in ipairs(futures) do
    local ok, r = pcall(f.get_result, f)
    if ok then
      results[i] = r
    elseif first_err == nil then
      first_err = r
    end
  end
  if first_err ~= nil then error(first_err, 2) end
  return results
end

return M
