-- The triton module: the C part (triton.core) plus what is simpler in Lua.
-- See ../shared/API.md for the contract; this file only assembles it.
local core = require "triton.core"

local triton = {}
for k, v in pairs(core) do
  triton[k] = v
end

return triton
