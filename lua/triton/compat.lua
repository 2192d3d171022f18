-- triton.compat: what differs between the Luas the library runs in (5.4, 5.3 and
-- LuaJIT 2.1), written once. The library's files use only the syntax all three
-- parse (no <close> or <const>, no //, no bit operators); where one of them lacks
-- a library function, the files take it from here. Under 5.3 and 5.4 each name is
-- the standard function itself, so using it costs no more than a local.
--
-- Numbers: LuaJIT has no integer subtype. There a number counts as an integer
-- when it is whole and exact, |v| <= 2^53 (docs/API.md, "Lua versions").
local M = {}

-- Whether numbers have an integer subtype (5.3, 5.4) or are all doubles (LuaJIT).
M.has_integers = math.type ~= nil

local EXACT = 2 ^ 53 -- the largest magnitude up to which every whole double is exact

M.maxinteger = math.maxinteger or EXACT
M.mininteger = math.mininteger or -EXACT

M.unpack = table.unpack or unpack
M.pack = table.pack or function(...) return { n = select("#", ...), ... } end
M.move = table.move -- LuaJIT 2.1 has it too
M.rawlen = rawlen or function(t) return #t end -- LuaJIT: # on a table is raw

local floor = math.floor

-- math.type: "integer", "float", or nil for a value that is not a number. Under
-- LuaJIT, the C side's own rule (whole, within 2^53, not -0.0), so that Lua and C
-- agree on what an integer is.
M.math_type = math.type or require("triton.core").math_type

-- math.tointeger: v (a number or a numeric string) as an integer, or nil when it
-- has no exact integer value.
M.tointeger = math.tointeger or function(v)
  if type(v) == "string" then v = tonumber(v) end
  if M.math_type(v) == "integer" then return v end
  return nil
end

-- a // b: floor division (exact on integers under 5.3 and 5.4). The operator is
-- compiled only where it exists, so this file still parses under LuaJIT.
M.idiv = M.has_integers and assert(load("return function(a, b) return a // b end", "=idiv"))()
  or function(a, b) return floor(a / b) end

-- coroutine.close (5.4): under 5.3 and LuaJIT a coroutine has no to-be-closed
-- variables, so dropping it is all there is to do.
M.close_coroutine = coroutine.close or function() return true end

return M
