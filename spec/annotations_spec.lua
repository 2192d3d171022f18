-- The LuaLS annotation files (types/*.lua) against the running module. Every
-- public function and value of `triton` and its submodules and every method of
-- its objects has an entry there, with a doc comment; every entry names
-- something that exists; every type used is defined. So adding a function
-- without annotating it, or renaming one and leaving the old entry, fails here.
--
-- What counts as public: keys not starting with "_", in `triton` and its
-- submodules (spec/support/api_names.lua; as this Lua and as the tritonlua host,
-- which adds a few values, see them), and in the methods of its classes: the
-- metatables registered as triton.<Name> (internal ones are triton.core.*) and
-- those of a client, an InferInput and an InferRequestedOutput. Entries are
-- read from lines `function triton.image.load(`, `function Tensor:sum(` (class
-- triton.Tensor), `triton.version = ` and `---@class triton.Tensor`.
local h = require "support.harness"
local triton = h.triton()

local api_names = require "support.api_names"

local SOURCE = os.getenv("TRITON_SOURCE_DIR") or "."
local TYPES = SOURCE .. "/types"

local q = h.shell_quote

local function type_files()
  local p = assert(io.popen("ls '" .. TYPES .. "'/*.lua"))
  local files = {}
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  return files
end

-- entries["triton.image.load"], entries["Tensor:sum"], entries["triton.version"]
-- = {where = "file:line", documented = bool}; classes["triton.Tensor"] = "file:line";
-- types: every class or alias defined; used["triton.Tensor"] = where it is first used.
local function read_types()
  local entries, classes, types, used = {}, {}, {}, {}
  for _, file in ipairs(type_files()) do
    local n, prev = 0, ""
    for line in io.lines(file) do
      n = n + 1
      local where = file:match("[^/]+$") .. ":" .. n
      local owner, sep, name = line:match("^function ([%w_.]+)([.:])([%w_]+)%(")
      local entry = owner and owner .. sep .. name or line:match("^(triton%.[%w_.]+)%s*=")
      if entry then
        entries[entry] = { where = where, documented = prev:match("^%-%-%-") ~= nil }
      end
      local kind, defined = line:match("^%-%-%-@(%a+) ([%w_.]+)")
      if kind == "class" then classes[defined] = where end
      if kind == "class" or kind == "alias" then
        types[defined] = true
      elseif kind then
        for t in line:gmatch("triton%.[%w_.]+") do used[t] = used[t] or where end
      end
      prev = line
    end
  end
  return entries, classes, types, used
end

local public = api_names.public

-- "triton.x.y" -> true for every public name, in this Lua and in the tritonlua host.
local function module_names()
  local names = api_names.module_names(triton, "triton", {})
  local host = os.getenv("TRITONLUA")
  assert(host and host ~= "", "TRITONLUA is not set (run the specs through ctest)")
  local out, ok = h.command(q(host) .. " " .. q(SOURCE .. "/spec/support/api_names.lua"))
  local n = 0
  for name in out:gmatch("[^\n]+") do
    names[name], n = true, n + 1
  end
  assert(ok and n > 0, "the tritonlua host did not list triton's names")
  return names
end

-- "triton.Tensor" -> set of method names.
local function runtime_classes()
  local mts = {}
  for k, v in pairs(debug.getregistry()) do
    if type(k) == "string" and k:match("^triton%.[%w_]+$") and type(v) == "table" then
      mts[k] = v
    end
  end
  local c = h.closing(triton.connect("http://127.0.0.1:1")) -- making a client does not connect
  for _, obj in ipairs { c, triton.InferInput("X", { 1 }, "INT32"), triton.InferRequestedOutput("X") } do
    local mt = getmetatable(obj)
    mts[mt.__name] = mt
  end
  local classes = {}
  for name, mt in pairs(mts) do
    local methods = {}
    local function add(t)
      for k, v in pairs(t) do
        if public(k) and type(v) == "function" then methods[k] = true end
      end
    end
    add(mt)
    for _, v in pairs(mt) do -- __index, or the table an __index function reads
      if type(v) == "table" then add(v) end
    end
    classes[name] = methods
  end
  return classes
end

local function short(class) return (class:gsub("^triton%.", "")) end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

local function expect_none(list, what)
  assert(#list == 0, what .. ":\n  " .. table.concat(list, "\n  "))
end

describe("LuaLS annotations (types/)", function()
  local entries, classes, types, used = read_types()
  local runtime = runtime_classes()
  local names = module_names()

  it("are Lua that loads", function()
    local files = type_files()
    assert(#files > 0, "no files in " .. TYPES)
    for _, f in ipairs(files) do
      assert(loadfile(f))
    end
  end)

  it("cover every function and value of triton and its submodules", function()
    local missing = {}
    for _, name in ipairs(sorted(names)) do
      if not entries[name] then missing[#missing + 1] = name end
    end
    expect_none(missing, "no annotation in types/ for")
  end)

  it("cover every class and every method of its objects", function()
    local missing = {}
    for _, class in ipairs(sorted(runtime)) do
      if not classes[class] then missing[#missing + 1] = "---@class " .. class end
      for _, m in ipairs(sorted(runtime[class])) do
        local entry = short(class) .. ":" .. m
        if not entries[entry] then missing[#missing + 1] = string.format("%s (%s)", entry, class) end
      end
    end
    expect_none(missing, "no annotation in types/ for")
  end)

  it("use only types they define", function()
    local undefined = {}
    for _, t in ipairs(sorted(used)) do
      if not types[t] then undefined[#undefined + 1] = t .. " at " .. used[t] end
    end
    expect_none(undefined, "neither a ---@class nor an ---@alias")
  end)

  it("document every entry", function()
    local bare = {}
    for _, name in ipairs(sorted(entries)) do
      if not entries[name].documented then
        bare[#bare + 1] = name .. " at " .. entries[name].where
      end
    end
    expect_none(bare, "no ---comment or ---@annotation right above")
  end)

  it("name only what the module has", function()
    local stale = {}
    for _, name in ipairs(sorted(entries)) do
      local class, method = name:match("^([%w_]+):([%w_]+)$")
      local exists
      if class then
        local methods = runtime["triton." .. class]
        exists = methods ~= nil and methods[method] == true
      else
        exists = names[name] == true
      end
      if not exists then stale[#stale + 1] = name .. " at " .. entries[name].where end
    end
    expect_none(stale, "annotated in types/ but not in the module")
  end)
end)
