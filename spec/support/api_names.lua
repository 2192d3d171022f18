-- The public names of the triton module, for spec/annotations_spec.lua:
-- "triton.x.y" for every key not starting with "_" of triton and of its
-- submodules (tables that hold functions).
-- Run as a script by the host (`tritonlua spec/support/api_names.lua`) it prints
-- them one a line, so that the spec also sees what the host adds to triton.
local M = {}

function M.public(k)
  return type(k) == "string" and not k:match("^_")
end

local function has_functions(t)
  for k, v in pairs(t) do
    if M.public(k) and type(v) == "function" then return true end
  end
  return false
end

-- Adds "path.k" -> true to `out` for every public key of t, recursively.
function M.module_names(t, path, out)
  for k, v in pairs(t) do
    if M.public(k) then
      out[path .. "." .. k] = true
      if type(v) == "table" and has_functions(v) then M.module_names(v, path .. "." .. k, out) end
    end
  end
  return out
end

if ... == nil then -- a script: the host preloads triton as a global
  for name in pairs(M.module_names(triton, "triton", {})) do print(name) end -- luacheck: globals triton
end
return M
