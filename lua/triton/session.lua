-- triton.session: what `tritonlua -u URL` gives a script or the REPL.
--
--   session.install(env, url [, headers [, verbose]])
--     makes env.client a client connected to url on first access (a script that
--     never touches `client` never connects, and `tritonlua -e 'print(1)'` does
--     not fail for want of a server). A failed connect raises at that access,
--     naming the URL, and the next access tries again. Also sets env.help
--     (lua/triton/help.lua).
--   session.prototype(env, name)
--     for a global install() makes on first use (`client`) that is not made yet,
--     the table its methods come from (the client class), so that the REPL can
--     complete `client:` without connecting; nil otherwise.
--   session.model_names(client)
--     the repository's model names, sorted, for the REPL's tab completion;
--     cached for a few seconds per client so that completing costs one request
--     per burst of <Tab>s, and never raising (completion must not break the line
--     being edited).
local M = {}

-- Seconds a client's list of model names is reused (tests may change it).
M.cache_seconds = 5
-- Client-side timeout of the index request made for completion: a stalled
-- server must not freeze the line editor.
M.completion_timeout = 2

local function triton()
  return require "triton"
end

local function check_install_args(env, url, headers, verbose)
  if type(env) ~= "table" then
    error("bad argument #1 to 'install' (table expected, got " .. type(env) .. ")", 3)
  end
  if type(url) ~= "string" or url == "" then
    error("bad argument #2 to 'install' (non-empty string expected, got " ..
      (url == "" and "an empty string" or type(url)) .. ")", 3)
  end
  if headers ~= nil and type(headers) ~= "table" then
    error("bad argument #3 to 'install' (table expected, got " .. type(headers) .. ")", 3)
  end
  if verbose ~= nil and type(verbose) ~= "boolean" then
    error("bad argument #4 to 'install' (boolean expected, got " .. type(verbose) .. ")", 3)
  end
end

-- The error raised when the global client cannot be made: a triton.Error keeps
-- its code and status, with the URL in front of its message.
local function connect_error(url, err)
  local t = triton()
  local what = "cannot connect the global 'client' to " .. url .. ": "
  if getmetatable(err) == t.Error then
    return setmetatable({ code = err.code, status = err.status, message = what .. err.message },
      t.Error)
  end
  return what .. tostring(err)
end

-- env -> {name -> function returning the class of a global made on first use}
local lazy = setmetatable({}, { __mode = "k" })

function M.prototype(env, name)
  local made = lazy[env] and lazy[env][name]
  if made == nil or rawget(env, name) ~= nil then return nil end
  return made()
end

function M.install(env, url, headers, verbose)
  check_install_args(env, url, headers, verbose)
  rawset(env, "help", require("triton.help").help)
  lazy[env] = { client = function() return require("triton.client").Client end }
  local opts = { headers = headers, verbose = verbose }
  local mt = getmetatable(env)
  if mt == nil then
    mt = {}
    setmetatable(env, mt)
  end
  local previous = mt.__index -- whatever env looked up before keeps working
  mt.__index = function(t, k)
    if k == "client" then
      local ok, c = pcall(triton().connect, url, opts)
      if not ok then error(connect_error(url, c), 2) end
      rawset(t, "client", c)
      return c
    end
    if type(previous) == "function" then return previous(t, k) end
    if type(previous) == "table" then return previous[k] end
    return nil
  end
  return env
end

local cache = setmetatable({}, { __mode = "k" }) -- client -> {names=, at=}

function M.model_names(client)
  if client == nil then return {} end
  local now = triton().now()
  local hit = cache[client]
  if hit and now - hit.at < M.cache_seconds then return hit.names end
  local ok, index = pcall(client.model_repository_index, client,
    { timeout = M.completion_timeout })
  if not ok or type(index) ~= "table" then
    -- keep offering what was known; ask again on the next <Tab>
    return hit and hit.names or {}
  end
  local names, seen = {}, {}
  for _, m in ipairs(index) do
    if type(m) == "table" and type(m.name) == "string" and not seen[m.name] then
      seen[m.name] = true
      names[#names + 1] = m.name
    end
  end
  table.sort(names)
  cache[client] = { names = names, at = now }
  return names
end

return M
