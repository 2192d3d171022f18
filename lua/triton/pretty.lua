-- triton.pretty: readable text for any Lua value, as the REPL shows results.
--
--   pretty.format(value [, opts]) -> string
--
-- Tables are shown as Lua constructors: the sequence part first, then the other
-- keys sorted (numbers, then strings, then the rest), nested tables indented when
-- they do not fit on one line. A table met again inside itself shows as
-- <cycle>; nesting past opts.depth shows as {...}; past opts.items entries a
-- table ends with "... (N more)". Strings are quoted with escapes, so 1 and "1"
-- differ; strings longer than opts.string_limit are cut, saying how long they
-- were. Values with a __tostring metamethod (tensors, triton.Error) show
-- through it. triton.json.null shows as json.null.
--
-- opts: depth (default 6), items (100), width (80), string_limit (2000).
local compat = require "triton.compat"
local math_type = compat.math_type

local M = {}

local DEFAULTS = { depth = 6, items = 100, width = 80, string_limit = 2000 }

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do
  KEYWORDS[w] = true
end
M.keywords = KEYWORDS

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not KEYWORDS[s]
end
M.is_identifier = is_identifier

local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\", ['"'] = '\\"' }

local function quote(s, limit)
  local cut = ""
  if #s > limit then
    cut = string.format("...(%d bytes)", #s)
    s = s:sub(1, limit)
  end
  s = s:gsub('[%c"\\\127]', function(c)
    return ESCAPES[c] or string.format("\\%03d", c:byte())
  end)
  return '"' .. s .. '"' .. cut
end

-- triton.json.null, if the C part is loaded; nil otherwise (then nothing matches).
local function json_null()
  local core = package.loaded["triton.core"]
  return core and core.json and core.json.null
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

local function key_rank(k)
  local t = type(k)
  if t == "number" then return 1 elseif t == "string" then return 2 else return 3 end
end

local function key_less(a, b)
  local ra, rb = key_rank(a), key_rank(b)
  if ra ~= rb then return ra < rb end
  if ra == 3 then return tostring(a) < tostring(b) end
  return a < b
end

local render

local function render_key(k, opts)
  if is_identifier(k) then return k end
  return "[" .. render(k, 0, {}, opts, 0) .. "]"
end

local function render_table(t, level, ancestors, opts, column)
  if ancestors[t] then return "<cycle>" end
  if level >= opts.depth then return "{...}" end
  ancestors[t] = true
  local parts, shown, total = {}, 0, 0
  local n = compat.rawlen(t)
  local seq_len = 0
  while seq_len < n and rawget(t, seq_len + 1) ~= nil do seq_len = seq_len + 1 end
  local keys = {}
  for k in next, t do
    total = total + 1
    if not (math_type(k) == "integer" and k >= 1 and k <= seq_len) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  local inner = column + 2
  for i = 1, seq_len do
    if shown >= opts.items then break end
    parts[#parts + 1] = render(rawget(t, i), level + 1, ancestors, opts, inner)
    shown = shown + 1
  end
  for _, k in ipairs(keys) do
    if shown >= opts.items then break end
    local ks = render_key(k, opts)
    parts[#parts + 1] = ks .. " = " .. render(rawget(t, k), level + 1, ancestors, opts, inner + #ks + 3)
    shown = shown + 1
  end
  if total > shown then parts[#parts + 1] = string.format("... (%d more)", total - shown) end
  ancestors[t] = nil
  if #parts == 0 then return "{}" end
  local line = "{" .. table.concat(parts, ", ") .. "}"
  if column + #line <= opts.width and not line:find("\n", 1, true) then return line end
  local pad = string.rep("  ", level + 1)
  -- Nested tables are already indented for their own level.
  for i, p in ipairs(parts) do
    parts[i] = pad .. p
  end
  return "{\n" .. table.concat(parts, ",\n") .. ",\n" .. string.rep("  ", level) .. "}"
end

function render(v, level, ancestors, opts, column)
  local t = type(v)
  if t == "string" then return quote(v, opts.string_limit) end
  if v ~= nil and v == json_null() then return "json.null" end
  if has_tostring(v) then
    local ok, s = pcall(tostring, v)
    if ok and type(s) == "string" then return s end
    return string.format("<%s: __tostring failed: %s>", t, tostring(s))
  end
  if t == "table" then return render_table(v, level, ancestors, opts, column) end
  return tostring(v)
end

function M.format(v, opts)
  local o = {}
  for k, d in pairs(DEFAULTS) do
    local given = opts and opts[k]
    if given ~= nil and math_type(given) ~= "integer" then
      error(string.format("pretty.format: option '%s' must be an integer", k), 2)
    end
    o[k] = given or d
  end
  if opts then
    for k in pairs(opts) do
      if DEFAULTS[k] == nil then
        error(string.format("pretty.format: unknown option '%s'", tostring(k)), 2)
      end
    end
  end
  return render(v, 0, {}, o, 0)
end

return M
