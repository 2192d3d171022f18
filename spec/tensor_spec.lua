-- Tensors: creation, dtypes, views, indexing, copies, printing and errors.
-- The part of API.md's Tensors section that is not math (see tensor_ops specs).
local h = require "support.harness"
local triton = require "triton"

local DTYPES = { "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                 "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES" }

-- Sample values for each dtype, chosen near the edges of its range.
local SAMPLES = {
  BOOL = { true, false, true, true },
  UINT8 = { 0, 1, 127, 255 },
  UINT16 = { 0, 1, 32768, 65535 },
  UINT32 = { 0, 1, 2147483648, 4294967295 },
  UINT64 = { 0, 1, h.maxinteger, 2.0^63 },
  INT8 = { -128, -1, 0, 127 },
  INT16 = { -32768, -1, 0, 32767 },
  INT32 = { -2147483648, -1, 0, 2147483647 },
  INT64 = { h.mininteger, -1, 0, h.maxinteger },
  FP16 = { -65504.0, -0.5, 2.0^-24, 65504.0 },
  BF16 = { -3.0, 0.5, 2.0^-133, 3.3895313892515355e38 },
  FP32 = { -3.4028234663852886e38, -0.25, 1.401298464324817e-45, 1.5 },
  FP64 = { -1.7976931348623157e308, 0.1, 4.9e-324, 1 / 3 },
  BYTES = { "", "a", "b\0c", string.rep("\255", 300) },
}

-- Expected wire bytes of SAMPLES (string.pack formats, with FP16/BF16 by pattern).
local WIRE = {
  BOOL = "\1\0\1\1",
  UINT8 = h.pack("<BBBB", 0, 1, 127, 255),
  UINT16 = h.pack("<I2I2I2I2", 0, 1, 32768, 65535),
  UINT32 = h.pack("<I4I4I4I4", 0, 1, 2147483648, 4294967295),
  UINT64 = h.pack("<i8i8i8i8", 0, 1, h.maxinteger, h.mininteger),
  INT8 = h.pack("<bbbb", -128, -1, 0, 127),
  INT16 = h.pack("<i2i2i2i2", -32768, -1, 0, 32767),
  INT32 = h.pack("<i4i4i4i4", -2147483648, -1, 0, 2147483647),
  INT64 = h.pack("<i8i8i8i8", h.mininteger, -1, 0, h.maxinteger),
  FP16 = h.pack("<I2I2I2I2", 0xfbff, 0xb800, 0x0001, 0x7bff),
  BF16 = h.pack("<I2I2I2I2", 0xc040, 0x3f00, 0x0001, 0x7f7f),
  FP32 = h.pack("<ffff", -3.4028234663852886e38, -0.25, 1.401298464324817e-45, 1.5),
  FP64 = h.pack("<dddd", -1.7976931348623157e308, 0.1, 4.9e-324, 1 / 3),
  BYTES = h.pack("<s4s4s4s4", "", "a", "b\0c", string.rep("\255", 300)),
}

-- Under LuaJIT, whose numbers are doubles, the 64-bit samples stay within 2^53,
-- the largest it holds exactly (docs/API.md, "Lua versions").
if h.lua == "jit" then
  SAMPLES.UINT64, WIRE.UINT64 = { 0, 1, 2 ^ 52, 2 ^ 53 }, h.pack("<I8I8I8I8", 0, 1, 2 ^ 52, 2 ^ 53)
  SAMPLES.INT64, WIRE.INT64 = { -2 ^ 53, -1, 0, 2 ^ 53 }, h.pack("<i8i8i8i8", -2 ^ 53, -1, 0, 2 ^ 53)
end

local function u16(t) return (h.unpack("<I2", t:bytes())) end

-- The error message of f(...), which must fail.
local function err(f, ...)
  local ok, msg = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(msg)
end

describe("triton.tensor", function()
  it("builds from nested tables with the shape inferred", function()
    local t = triton.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "FP32")
    assert.are.equal("FP32", t.dtype)
    assert.are.same({ 2, 3 }, t.shape)
    assert.are.equal(6, t:numel())
    assert.are.equal(2, t:dim())
    assert.are.equal(2, #t)
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
  end)

  it("builds from a flat table and a shape, with one -1 resolved", function()
    local t = triton.tensor({ 1, 2, 3, 4, 5, 6 }, "INT32", { 3, -1 })
    assert.are.same({ 3, 2 }, t.shape)
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, t:totable())
    -- a nested table with a shape is reshaped
    assert.are.same({ 4 }, triton.tensor({ { 1, 2 }, { 3, 4 } }, "INT8", { 4 }).shape)
  end)

  it("builds from raw little-endian bytes", function()
    local t = triton.tensor(h.pack("<ffff", 1, 2, 3, 4), "FP32", { 2, 2 })
    assert.are.same({ { 1, 2 }, { 3, 4 } }, t:totable())
    assert.are.same({ 4 }, triton.tensor(h.pack("<i2i2i2i2", 1, 2, 3, 4), "INT16").shape)
    assert.are.same({ 2, 2 }, triton.tensor(h.pack("<dddd", 1, 2, 3, 4), "FP64", { -1, 2 }).shape)
  end)

  it("picks a default dtype from the values, as torch does", function()
    assert.are.equal("INT64", triton.tensor({ 1, 2 }).dtype)
    assert.are.equal("FP32", triton.tensor({ { 1, 2 }, { 3, 4.5 } }).dtype)
    assert.are.equal("BOOL", triton.tensor({ true, false }).dtype)
    assert.are.equal("BYTES", triton.tensor({ "a" }).dtype)
    assert.are.equal("FP32", triton.tensor({}).dtype)
    assert.are.same({ 0 }, triton.tensor({}).shape)
  end)

  it("makes 0-d tensors from scalars and copies tensors", function()
    local s = triton.tensor(7)
    assert.are.equal(0, s:dim())
    assert.are.same({}, s.shape)
    assert.are.equal(7, s:get())
    assert.are.equal(7, s:totable())
    local src = triton.tensor({ 1.5, 2.5 }, "FP64")
    local copy = triton.tensor(src, "INT32")
    assert.are.same({ 1, 2 }, copy:totable())
    copy[1] = 9
    assert.are.equal(1.5, src[1])
  end)

  it("gives a new shape table each time", function()
    local t = triton.zeros({ 2, 3 })
    local s = t.shape
    s[1] = 99
    assert.are.same({ 2, 3 }, t.shape)
    assert.are_not.equal(t.shape, t.shape)
  end)
end)

describe("dtypes", function()
  it("lists every Triton dtype with its element size", function()
    local n = 0
    for _ in pairs(triton.dtypes) do n = n + 1 end
    assert.are.equal(14, n)
    assert.are.equal(4, triton.dtypes.FP32)
    assert.are.equal(2, triton.dtypes.BF16)
    assert.are.equal(0, triton.dtypes.BYTES)
  end)

  for _, dt in ipairs(DTYPES) do
    it(dt .. " round-trips through bytes() in Triton's layout", function()
      local t = triton.tensor(SAMPLES[dt], dt, { 2, 2 })
      local raw = t:bytes()
      assert.are.equal(WIRE[dt], raw)
      local back = triton.tensor(raw, dt, { 2, 2 })
      assert.are.equal(dt, back.dtype)
      assert.are.equal(raw, back:bytes())
      local flat = back:reshape(-1)
      for i = 1, 4 do
        assert.are.equal(SAMPLES[dt][i], flat[i])
      end
    end)
  end

  local it64 = h.only("5.3 5.4", "64-bit integers")
  it64("maps INT64 to Lua integers exactly", function()
    local t = triton.tensor({ h.maxinteger, h.mininteger, 2^53 + 1 }, "INT64")
    assert.are.equal(h.maxinteger, t[1])
    assert.are.equal(h.mininteger, t[2])
    assert.are.equal(2^53 + 1, t[3])
    h.assert_subtype("integer", t[3])
  end)

  it64("reads UINT64 >= 2^63 back as floats, below as integers", function()
    local t = triton.tensor(h.pack("<I8I8", 5, -1), "UINT64")
    h.assert_subtype("integer", t[1])
    h.assert_subtype("float", t[2])
    assert.are.equal(2.0^64, t[2])
    assert.has_error(function() triton.tensor({ -1 }, "UINT64") end,
      "bad value at [1]: value -1 does not fit UINT64")
  end)

  h.only("jit", "the 2^53 rule")("maps INT64 to numbers up to 2^53 and raises beyond", function()
    assert.are.same({ 2 ^ 53, -2 ^ 53 }, triton.tensor({ 2 ^ 53, -2 ^ 53 }, "INT64"):totable())
    local u = triton.tensor(h.pack("<I8I8", 5, -1), "UINT64")
    assert.are.equal(5, u[1])
    assert.are.equal(2.0 ^ 64, u[2]) -- from 2^63 a float, as under 5.4
    -- a whole float beyond 2^53 is stored exactly; reading it back raises
    local big = triton.tensor({ 2 ^ 54 }, "INT64")
    assert.are.equal(h.pack("<i8", 2 ^ 54), big:bytes())
    local ok, e = pcall(function() return (big[1]) end)
    assert.is_false(ok)
    assert.matches("range: integer 18014398509481984 .-is beyond 2%^53", tostring(e))
    assert.has_error(function() triton.tensor({ -1 }, "UINT64") end,
      "bad value at [1]: value -1 does not fit UINT64")
  end)

  it("maps BOOL to booleans and accepts 0 and 1", function()
    local t = triton.tensor({ true, 0, 1, false }, "BOOL")
    assert.are.same({ true, false, true, false }, t:totable())
    assert.has_error(function() triton.tensor({ 2 }, "BOOL") end,
      "bad value at [1]: value 2 does not fit BOOL")
  end)

  it("returns FP16 and BF16 values as Lua floats", function()
    h.assert_subtype("float", triton.tensor({ 1 }, "FP16")[1])
    assert.are.equal(0.5, triton.tensor({ 0.5 }, "BF16")[1])
  end)
end)

describe("FP16 and BF16", function()
  it("round to nearest, ties to even", function()
    assert.are.equal(0x3c00, u16(triton.tensor({ 1 + 2^-11 }, "FP16")))
    assert.are.equal(0x3c02, u16(triton.tensor({ 1 + 3 * 2^-11 }, "FP16")))
    assert.are.equal(0x3c01, u16(triton.tensor({ 1 + 2^-11 + 2^-20 }, "FP16")))
    assert.are.equal(0x3f80, u16(triton.tensor({ 1 + 2^-8 }, "BF16")))
    assert.are.equal(0x3f82, u16(triton.tensor({ 1 + 3 * 2^-8 }, "BF16")))
  end)

  it("round a double once, not through float", function()
    assert.are.equal(0x3c01, u16(triton.tensor({ 1 + 2^-11 + 2^-40 }, "FP16")))
    assert.are.equal(0x3f81, u16(triton.tensor({ 1 + 2^-8 + 2^-40 }, "BF16")))
  end)

  it("keep subnormals, signed zeros, infinities and NaN", function()
    assert.are.equal(0x0001, u16(triton.tensor({ 2^-24 }, "FP16")))
    assert.are.equal(0x0000, u16(triton.tensor({ 2^-25 }, "FP16")))
    assert.are.equal(0x0002, u16(triton.tensor({ 3 * 2^-25 }, "FP16")))
    assert.are.equal(0x8000, u16(triton.tensor({ -0.0 }, "FP16")))
    assert.are.equal(-math.huge, 1 / triton.tensor({ -0.0 }, "BF16")[1])
    assert.are.equal(0x7c00, u16(triton.tensor({ math.huge }, "FP16")))
    assert.are.equal(0xff80, u16(triton.tensor({ -math.huge }, "BF16")))
    local nan = triton.tensor({ 0 / 0 }, "FP16")[1]
    assert.is_true(nan ~= nan)
    nan = triton.tensor({ 0 / 0 }, "BF16")[1]
    assert.is_true(nan ~= nan)
  end)

  it("overflow to infinity past the largest finite value", function()
    assert.are.equal(0x7bff, u16(triton.tensor({ 65519 }, "FP16")))
    assert.are.equal(0x7c00, u16(triton.tensor({ 65520 }, "FP16")))
    assert.are.equal(math.huge, triton.tensor({ 1e39 }, "BF16")[1])
    assert.are.equal(-math.huge, triton.tensor({ -1e300 }, "FP32")[1])
  end)
end)

describe("BYTES", function()
  it("keeps strings binary-safe", function()
    local s = triton.tensor({ "a", "b\0c", "" }, "BYTES")
    assert.are.equal("b\0c", s[2])
    assert.are.equal(3, #s[2])
    assert.are.equal("", s[3])
    assert.are.equal(h.pack("<s4s4s4", "a", "b\0c", ""), s:bytes())
  end)

  it("parses Triton's length-prefixed layout from a raw string", function()
    local raw = h.pack("<s4s4", "hello", "\0\1\2")
    local t = triton.tensor(raw, "BYTES")
    assert.are.same({ 2 }, t.shape)
    assert.are.same({ "hello", "\0\1\2" }, t:totable())
    assert.are.same({ 1, 2 }, triton.tensor(raw, "BYTES", { 1, -1 }).shape)
  end)

  it("rejects truncated or overlong length-prefixed data", function()
    local raw = h.pack("<s4s4", "hello", "xyz")
    assert.has_error(function() triton.tensor(raw:sub(1, -2), "BYTES", { 2 }) end,
      "BYTES element 2: length 3 exceeds the 2 bytes left")
    assert.has_error(function() triton.tensor(raw, "BYTES", { 1 }) end,
      "BYTES data has 7 bytes after its 1 elements")
    assert.has_error(function() triton.tensor(raw .. "\1\0", "BYTES") end,
      "BYTES element 3: length prefix truncated")
    assert.has_error(function() triton.tensor("\255\255\255\255", "BYTES") end,
      "BYTES element 1: length 4294967295 exceeds the 0 bytes left")
  end)

  it("sets elements from strings, keeping them after the source string is gone", function()
    local t = triton.tensor({ "x", "y" }, "BYTES")
    t[1] = string.rep("z", 1000) .. "\0"
    collectgarbage()
    assert.are.equal(1001, #t[1])
    assert.are.equal(t:clone():bytes(), t:bytes())
  end)
end)

describe("views", function()
  it("share the buffer with their source", function()
    local t = triton.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "INT32")
    local row = t[2]
    row[1] = 40
    assert.are.equal(40, t:get(2, 1))
    local col = t:slice(2, 3, 3)
    col:set(1, 1, 30)
    assert.are.equal(30, t:get(1, 3))
    local tr = t:transpose()
    tr:set(3, 2, 60)
    assert.are.equal(60, t:get(2, 3))
    local flat = t:reshape(-1)
    flat[2] = 20
    assert.are.equal(20, t[1][2])
    t:set(1, 1, 10)
    assert.are.same({ 10, 20, 30, 40, 5, 60 }, t:flatten():totable())
    assert.are.same({ 10, 40 }, tr[1]:totable())
  end)

  it("keep the buffer alive after the source is collected", function()
    local row
    do
      local t = triton.arange(6, "FP64"):reshape(2, 3)
      row = t[2]
    end
    collectgarbage()
    collectgarbage()
    assert.are.same({ 3, 4, 5 }, row:totable())
  end)

  it("slice inclusively, 1-based, with negatives from the end", function()
    local t = triton.arange(1, 11)
    assert.are.same({ 3, 4, 5 }, t:slice(1, 3, 5):totable())
    assert.are.same({ 8, 9, 10 }, t:slice(1, -3):totable())
    assert.are.same({ 9 }, t:slice(1, -2, -2):totable())
    assert.are.same({}, t:slice(1, 4, 3):totable())
  end)

  it("squeeze, unsqueeze, permute and flatten", function()
    local t = triton.zeros({ 1, 3, 1 })
    assert.are.same({ 3 }, t:squeeze().shape)
    assert.are.same({ 3, 1 }, t:squeeze(1).shape)
    assert.are.same({ 1, 3 }, t:squeeze(-1).shape)
    assert.are.same({ 1, 1, 3, 1 }, t:unsqueeze(1).shape)
    assert.are.same({ 1, 3, 1, 1 }, t:unsqueeze(-1).shape)
    local p = triton.arange(24):reshape(2, 3, 4):permute { 3, 1, 2 }
    assert.are.same({ 4, 2, 3 }, p.shape)
    assert.are.equal(triton.arange(24):reshape(2, 3, 4):get(2, 3, 4), p:get(4, 2, 3))
    assert.are.same({ 24 }, p:flatten().shape)
    assert.are.equal(23, p:flatten()[24])
  end)

  it("contiguous returns the tensor itself or a packed copy", function()
    local t = triton.arange(6):reshape(2, 3)
    assert.are.equal(t, t:contiguous())
    local tr = t:transpose()
    local c = tr:contiguous()
    assert.are_not.equal(tr, c)
    assert.are.equal(tr:bytes(), c:bytes())
    assert.are.equal(h.pack("<i8i8i8i8i8i8", 0, 3, 1, 4, 2, 5), tr:bytes())
  end)
end)

describe("indexing", function()
  it("reads elements of 1-d tensors and rows of n-d ones, 1-based", function()
    local t = triton.tensor({ 10, 20, 30 }, "INT16")
    assert.are.equal(10, t[1])
    assert.are.equal(30, t[-1])
    assert.are.equal(30, t:get(3))
    local m = triton.tensor({ { 1, 2 }, { 3, 4 } }, "FP32")
    assert.is_true(triton.is_tensor(m[1]))
    assert.are.same({ 3, 4 }, m[2]:totable())
    assert.are.equal(4, m:get(2, 2))
    assert.are.equal(4, m:get(-1, -1))
  end)

  it("assigns elements, and rows from numbers, tables or tensors", function()
    local m = triton.zeros({ 2, 2 }, "INT32")
    m[1] = 7
    m[2] = { 8, 9 }
    assert.are.same({ { 7, 7 }, { 8, 9 } }, m:totable())
    m[1] = triton.tensor({ 1.0, 2.0 }, "FP64")
    m:set(2, 2, -1)
    assert.are.same({ { 1, 2 }, { 8, -1 } }, m:totable())
    m[2] = m[1] -- overlapping source and destination in one buffer
    assert.are.same({ { 1, 2 }, { 1, 2 } }, m:totable())
  end)

  h.only("5.3 5.4", "ipairs on a userdata (LuaJIT's needs a table)")(
    "iterates with ipairs: elements of a vector, rows of a matrix, stopping at the end", function()
    local seen = {}
    for i, v in ipairs(triton.tensor({ 10, 20, 30 }, "INT32")) do seen[i] = v end
    assert.are.same({ 10, 20, 30 }, seen)
    local rows = {}
    for i, row in ipairs(triton.tensor({ { 1, 2 }, { 3, 4 } }, "FP32")) do rows[i] = row:totable() end
    assert.are.same({ { 1, 2 }, { 3, 4 } }, rows)
    for _ in ipairs(triton.zeros({ 0 })) do error("an empty tensor has no elements") end
  end)

  it("checks bounds and values with clear errors", function()
    local t = triton.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, "UINT8")
    assert.is_nil(t[3]) -- one past the end, as in a table (ipairs stops there)
    assert.has_error(function() return t[4] end, "index 4 out of range for dim 1 of size 2")
    assert.has_error(function() return t[0] end, "index 0 out of range for dim 1 of size 2")
    assert.has_error(function() return t[-3] end, "index -3 out of range for dim 1 of size 2")
    assert.has_error(function() return t:get(1, 4) end, "index 4 out of range for dim 2 of size 3")
    assert.has_error(function() return t:get(1) end, "expected 2 indices for a 2-d tensor, got 1")
    assert.has_error(function() t:set(1, 1, 256) end, "value 256 does not fit UINT8")
    assert.has_error(function() t[1][1] = 1.5 end, "value 1.5 does not fit UINT8")
    assert.has_error(function() t[1][1] = "1" end, "expected a number for UINT8, got string")
    assert.has_error(function() t.foo = 1 end, "cannot set field 'foo' of a tensor")
    assert.has_error(function() return t[1.5] end, "tensor index must be an integer, got number")
    assert.has_error(function() return #triton.tensor(1) end, "a 0-d tensor has no length")
    assert.has_error(function() t[1] = { 1, 2 } end,
      "cannot assign values of shape {2} to a row of shape {3}")
    assert.has_error(function() t[1] = triton.zeros({ 1, 3 }) end,
      "cannot assign values of shape {1, 3} to a row of shape {3}")
  end)
end)

describe("copies", function()
  it("astype converts with numpy-like rules", function()
    local t = triton.tensor({ 1.9, -1.9, 300, 0 / 0 }, "FP64")
    assert.are.same({ 1, -1, 300, 0 }, t:astype("INT32"):totable())
    assert.are.same({ 1, 0, 255, 0 }, t:astype("UINT8"):totable())
    assert.are.same({ 44, 255 }, triton.tensor({ 300, -1 }, "INT64"):astype("UINT8"):totable())
    assert.are.same({ true, false }, triton.tensor({ 2, 0 }):astype("BOOL"):totable())
    assert.has_error(function() t:astype("BYTES") end, "cannot convert FP64 to BYTES")
  end)

  it("clone is independent of its source", function()
    local t = triton.tensor({ 1, 2 }, "FP32")
    local c = t:clone()
    c[1] = 5
    assert.are.equal(1, t[1])
  end)

  it("bytes() of a strided view is its row-major layout", function()
    local t = triton.tensor({ { 1, 2 }, { 3, 4 } }, "FP16")
    assert.are.equal(t:transpose():contiguous():bytes(), t:transpose():bytes())
    local words = triton.tensor({ { "a", "b" }, { "c", "d" } })
    assert.are.equal(h.pack("<s4s4s4s4", "a", "c", "b", "d"), words:transpose():bytes())
    assert.are.equal(h.pack("<s4s4", "b", "d"), words:slice(2, 2):bytes())
  end)
end)

describe("creation functions", function()
  it("zeros, ones, full", function()
    assert.are.same({ { 0, 0 } }, triton.zeros({ 1, 2 }):totable())
    assert.are.equal("FP32", triton.zeros({ 1 }).dtype)
    assert.are.same({ 1, 1, 1 }, triton.ones(3, "INT8"):totable())
    assert.are.same({ { 7, 7 } }, triton.full({ 1, 2 }, 7):totable())
    assert.are.equal("INT64", triton.full({ 1 }, 7).dtype)
    assert.are.same({ "x", "x" }, triton.full({ 2 }, "x"):totable())
    assert.are.same({ "", "" }, triton.zeros({ 2 }, "BYTES"):totable())
  end)

  it("arange excludes its stop, as numpy's does", function()
    assert.are.same({ 0, 1, 2 }, triton.arange(3):totable())
    assert.are.same({ 2, 4, 6 }, triton.arange(2, 8, 2):totable())
    assert.are.same({ 5, 4 }, triton.arange(5, 3, -1, "INT8"):totable())
    assert.are.same({ 0, 0.5 }, triton.arange(0, 1, 0.5):totable())
    assert.are.equal("FP32", triton.arange(0, 1, 0.5).dtype)
    assert.are.same({}, triton.arange(3, 1):totable())
    assert.has_error(function() triton.arange(0, 300, 1, "UINT8") end, "value 256 does not fit UINT8")
    assert.has_error(function() triton.arange(0, 1, 0) end)
  end)

  it("rand draws from [0, 1), repeatably with a seed", function()
    for _, dt in ipairs { "FP16", "BF16", "FP32", "FP64" } do
      local r = triton.rand({ 1000 }, dt)
      for i = 1, 1000 do
        assert.is_true(r[i] >= 0 and r[i] < 1)
      end
    end
    assert.are.equal(triton.rand({ 8 }, "FP64", 42):bytes(), triton.rand({ 8 }, "FP64", 42):bytes())
    assert.has_error(function() triton.rand({ 2 }, "INT32") end)
  end)
end)

describe("tostring", function()
  it("prints like numpy", function()
    assert.are.equal("tensor([[1., 2.],\n        [3., 4.]], dtype=FP32)",
      tostring(triton.tensor({ { 1, 2 }, { 3, 4 } }, "FP32")))
    assert.are.equal("tensor([ 1, -2], dtype=INT8)", tostring(triton.tensor({ 1, -2 }, "INT8")))
    assert.are.equal("tensor(5, dtype=INT64)", tostring(triton.tensor(5)))
    assert.are.equal("tensor([], shape={0, 3}, dtype=FP32)", tostring(triton.zeros({ 0, 3 })))
    assert.are.equal('tensor([    "a", "\\x00b"], dtype=BYTES)', tostring(triton.tensor({ "a", "\0b" })))
    assert.are.equal("tensor([ true, false], dtype=BOOL)", tostring(triton.tensor({ true, false })))
    assert.are.equal("tensor([ 0.1,  nan, -inf], dtype=FP32)",
      tostring(triton.tensor({ 0.1, 0 / 0, -math.huge }, "FP32")))
  end)

  -- Each expected text is numpy 1.24's repr of the same array (Debian 12's
  -- python3-numpy), "array" and the dtype's name aside.
  local numpy = {
    { { 10, 20, 100 }, "FP32", "[ 10.,  20., 100.]" },
    { { 0.1, 1.5, 2 }, "FP32", "[0.1, 1.5, 2. ]" },
    { { -1.5, 22.25, 333.125 }, "FP64", "[ -1.5  ,  22.25 , 333.125]" },
    { { 1 / 3 }, "FP64", "[0.33333333]" },
    { { 0.123456789 }, "FP64", "[0.12345679]" },
    { { 99999992 }, "FP32", "[99999992.]" },
    { { -0.0, 1 }, "FP64", "[-0.,  1.]" },
    { { 1, 0 / 0 }, "FP64", "[ 1., nan]" },
    { { 0 / 0, -math.huge }, "FP64", "[ nan, -inf]" },
    { { 1.5, math.huge, -math.huge }, "FP64", "[ 1.5,  inf, -inf]" },
    -- scientific when the largest is >= 1e8, the smallest nonzero < 1e-4, or
    -- their ratio > 1000
    { { 1e8, 1 }, "FP64", "[1.e+08, 1.e+00]" },
    { { 1e-5, 1 }, "FP32", "[1.e-05, 1.e+00]" },
    { { 0, 1e-5 }, "FP64", "[0.e+00, 1.e-05]" },
    { { 1.5e-5, 1 }, "FP64", "[1.5e-05, 1.0e+00]" },
    { { 1234.5, 0.001 }, "FP64", "[1.2345e+03, 1.0000e-03]" },
    { { 0.0001, 0.5 }, "FP64", "[1.e-04, 5.e-01]" },
    { { 123456789, -1 }, "FP64", "[ 1.23456789e+08, -1.00000000e+00]" },
    { { 1e-100, 1 }, "FP64", "[1.e-100, 1.e+000]" },
    { { 1e5, 1e-5, -math.huge }, "FP64", "[1.e+05, 1.e-05,   -inf]" },
    -- the fewest digits that read back in the tensor's own dtype
    { { 65504, -0.5 }, "FP16", "[ 6.55e+04, -5.00e-01]" },
    { { 2 ^ -24 }, "FP16", "[6.e-08]" },
    { { { 1.5, 2 }, { 3, 4 } }, "FP16", "[[1.5, 2. ],\n        [3. , 4. ]]" },
  }
  for _, case in ipairs(numpy) do
    it("writes " .. case[3]:gsub("\n%s*", " ") .. " (" .. case[2] .. ") as numpy does", function()
      assert.are.equal("tensor(" .. case[3] .. ", dtype=" .. case[2] .. ")",
        tostring(triton.tensor(case[1], case[2])))
    end)
  end

  it("writes a 0-d float and long float tensors as numpy does", function()
    assert.are.equal("tensor(3., dtype=FP32)", tostring(triton.tensor(3.0, "FP32")))
    assert.are.equal("tensor([0.000e+00, 1.000e+00, 2.000e+00, ..., 1.997e+03, 1.998e+03,\n"
      .. "        1.999e+03], dtype=FP32)", tostring(triton.arange(0, 2000, 1, "FP32")))
  end)

  it("wraps long rows at numpy's 75 columns, under the first element", function()
    assert.are.equal(
      "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,\n"
        .. "        13., 14., 15., 16., 17., 18., 19.], dtype=FP64)",
      tostring(triton.arange(0, 20, 1, "FP64")))
    assert.are.equal(
      "tensor([[ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,\n"
        .. "         16, 17, 18, 19],\n"
        .. "        [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n"
        .. "         36, 37, 38, 39]], dtype=INT64)",
      tostring(triton.arange(0, 40):reshape(2, 20)))
    -- the dtype goes on a line of its own when it would pass column 75
    local s = tostring(triton.arange(0, 16, 1, "INT8"))
    assert.are.equal("tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15],\n"
      .. "       dtype=INT8)", s)
  end)

  it("abbreviates long tensors", function()
    assert.are.equal("tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=INT64)",
      tostring(triton.arange(2000)))
    local s = tostring(triton.arange(10000):reshape(100, 100))
    assert.truthy(s:find("[9900, 9901, 9902, ..., 9997, 9998, 9999]]", 1, true))
    assert.truthy(s:find("\n        ...,\n", 1, true))
  end)

  it("abbreviates empty tensors with many rows", function()
    assert.are.equal("tensor([[],\n        [],\n        []], shape={3, 0}, dtype=FP32)",
      tostring(triton.zeros({ 3, 0 })))
    -- printed in full, this shape would be 1e8 rows of "[]"
    assert.are.equal("tensor([[],\n        [],\n        [],\n        ...,\n        [],\n"
      .. "        [],\n        []], shape={100000000, 0}, dtype=FP32)",
      tostring(triton.tensor({}, nil, { 1e8, 0 })))
    local s = tostring(triton.zeros({ 2147483647, 2147483647, 0 }, "INT8"))
    assert.is_true(#s < 1000)
    assert.truthy(s:find("shape={2147483647, 2147483647, 0}, dtype=INT8)", 1, true))
  end)
end)

describe("closing", function()
  h.only("5.4", "<close> syntax")("frees the buffer at scope end and refuses later use", function()
    local escaped = h.run_source([[
      local triton = ...
      local escaped
      do
        local t <close> = triton.zeros({ 4 })
        escaped = t
      end
      return escaped]], triton)
    assert.are.equal("tensor(closed)", tostring(escaped))
    assert.has_error(function() escaped:numel() end, "attempt to use a closed tensor")
    assert.has_error(function() return escaped[1] end, "attempt to use a closed tensor")
    getmetatable(escaped).__close(escaped) -- a second release is harmless
    getmetatable(escaped).__gc(escaped)
  end)

  it("lets t:close() be called again, and nothing else", function()
    local t = triton.ones({ 1000 })
    local view = t:reshape({ 10, 100 })
    assert.is_nil(t:close())
    assert.is_nil(t:close()) -- a second close is not an error
    assert.are.equal("tensor(closed)", tostring(t))
    assert.has_error(function() return t.close2 end, "attempt to use a closed tensor")
    assert.has_error(function() return t.dtype end, "attempt to use a closed tensor")
    assert.has_error(function() t:sum() end, "attempt to use a closed tensor")
    -- a view keeps the buffer it shares alive past the close of its base
    assert.are.equal(1000, view:sum())
    view:close()
    view:close()
  end)
end)

describe("errors", function()
  it("tables with keys besides their sequence, naming the key", function()
    -- Regression test: {a = 1} once became an empty tensor, the key dropped.
    local function has(msg, ...)
      local m = err(triton.tensor, ...)
      assert.is_truthy(m:find(msg, 1, true), string.format("%q does not mention %q", m, msg))
    end
    has("(table has non-integer key 'a')", { a = 1 })
    has("bad argument #1 to", { a = 1 })
    has("table has non-integer key 'a'", { 1, 2, a = 1 }, "FP32")
    has("table has non-integer key 'a'", { 1, 2, a = 1 }, "FP32", { 2, 1 })
    has("table has non-integer key 'a'", { a = "x" }, "BYTES")
    has("table has non-integer key (a boolean)", { 1, [true] = 2 })
    has("table has key 3 outside its sequence 1..1", { [1] = 1, [3] = 3 })
    has("table has non-integer key '1.5'", { 1, ["1.5"] = 2 })
    has("nested table [2] has non-integer key 'x'", { { 1, 2 }, { 3, 4, x = 1 } })
    has("nested table [1][2] has non-integer key 'y'", { { { 1 }, { 2, y = 0 } } }, "INT8")
    -- # of {1, nil, 3} may be either border: 3 (5.3, 5.4: a nil element) or 1 (LuaJIT: a stray key)
    has(h.lua == "jit" and "key 3 outside its sequence 1..1" or "bad value at [2]", { 1, nil, 3 }, "INT32")
    local long = {}
    for i = 1, 100000 do long[i] = i end
    long.z = true
    has("table has non-integer key 'z'", long, "FP32")
    local t = triton.zeros({ 2, 2 }, "INT32")
    assert.has_error(function() t[1] = { 1, 2, k = 3 } end, "table has non-integer key 'k'")
    -- A sequence with nothing else is still fine, empty or not.
    assert.equal(0, triton.tensor({}, "FP32"):numel())
    assert.same({ 2, 0 }, triton.tensor({ {}, {} }, "FP32").shape)
  end)

  it("ragged nested tables", function()
    assert.has_error(function() triton.tensor({ { 1, 2 }, { 3 } }, "FP32") end,
      "ragged nested table: [2] has 1 elements, expected 2")
    assert.has_error(function() triton.tensor({ { 1, 2 }, 3 }, "FP32") end,
      "ragged nested table: [2] is a number, expected a table of 2 elements")
    assert.has_error(function() triton.tensor({ 1, { 2 } }, "FP32") end,
      "ragged nested table: [2] is a table, expected a value (dims 1)")
  end)

  it("ragged nested tables name the type of the value found", function()
    -- the path is built on the Lua stack: the type must be taken before it
    assert.has_error(function() triton.tensor({ { 1, 2 }, 3 }) end,
      "ragged nested table: [2] is a number, expected a table of 2 elements")
    assert.has_error(function() triton.tensor({ { 1 }, true }) end,
      "ragged nested table: [2] is a boolean, expected a table of 1 elements")
    assert.has_error(function() triton.tensor({ { { 1 } }, { "x" } }) end,
      "ragged nested table: [2][1] is a string, expected a table of 1 elements")
  end)

  it("ragged nested tables are refused before anything is allocated", function()
    -- The first elements give the shape {4096, 4096, 4096, 4096}: 2^48 bytes,
    -- which no allocation can give, while the table itself is a few hundred KB.
    local function row(first)
      local r = { first }
      for i = 2, 4096 do r[i] = 1 end
      return r
    end
    local ragged = row(row(row(row(1))))
    assert.has_error(function() triton.tensor(ragged, "INT8") end,
      "ragged nested table: [1][1][2] is a number, expected a table of 4096 elements")
    assert.has_error(function() triton.tensor(ragged) end,
      "ragged nested table: [1][1][2] is a number, expected a table of 4096 elements")
  end)

  it("an empty table with a shape whose other dims overflow", function()
    -- 0 elements fit any shape with a 0, but strides come from the other dims
    assert.has_error(function() triton.tensor({}, "UINT64", { 3, 255, 0, 2^53, 2 }) end,
      "table of 0 elements does not fit shape: element count overflows (shape too large)")
    -- the dims fit as a count, not as bytes (under LuaJIT, where a dimension stops at
    -- 2^53, the same products from two dimensions)
    local count61 = h.lua == "jit" and { 0, 2^53, 2^8 } or { 0, 2^61 }
    local count60 = h.lua == "jit" and { 0, 2^53, 2^7 } or { 0, 2^60 }
    assert.has_error(function() triton.tensor({}, "FP32", count61) end,
      "table of 0 elements does not fit shape: element count overflows (shape too large)")
    assert.are.same(count60, triton.tensor({}, "UINT8", count60).shape)
    local strides64 = h.lua == "jit" and { 3, 0, 2^53, 2^11 } or { 3, 0, h.maxinteger }
    assert.has_error(function() triton.zeros({ 0, 3 }):reshape(h.table_unpack(strides64)) end,
      "element count overflows (shape too large)")
  end)

  it("totable refuses to make millions of tables for an empty tensor", function()
    local t = triton.tensor({}, nil, { 2147483647, 0 })
    assert.has_error(function() t:totable() end,
      "totable: a tensor of shape {2147483647, 0} would make more than 4194304 nested tables "
        .. "(flatten() it first, or use bytes())")
    assert.has_error(function() triton.zeros({ 2^21, 2, 0 }):totable() end)
    assert.are.same({}, t:flatten():totable())
    assert.are.same({ {}, {}, {} }, triton.zeros({ 3, 0, 2^40 }):totable())
    assert.are.equal(2000, #triton.zeros({ 2000, 1 }):totable())
  end)

  it("values that do not fit the dtype", function()
    assert.has_error(function() triton.tensor({ 300 }, "UINT8") end,
      "bad value at [1]: value 300 does not fit UINT8")
    assert.has_error(function() triton.tensor({ { 1, 1.5 } }, "INT32") end,
      "bad value at [1][2]: value 1.5 does not fit INT32")
    assert.has_error(function() triton.tensor({ "x" }, "FP32") end,
      "bad value at [1]: expected a number for FP32, got string")
    assert.has_error(function() triton.tensor({ 1, nil, 3 }, "FP32") end, h.lua == "jit"
      and "bad argument #1 to 'tensor' (table has key 3 outside its sequence 1..1 (holes are not allowed))"
      or "bad value at [2]: expected a number for FP32, got nil") -- # may give either border
    assert.has_error(function() triton.tensor({ 1 }, "BYTES") end,
      "bad value at [1]: expected a string for BYTES, got number")
  end)

  it("wrong dtype names", function()
    local msg = err(triton.tensor, { 1 }, "FLOAT32")
    assert.truthy(msg:find("unknown dtype 'FLOAT32' (expected one of BOOL,", 1, true))
  end)

  it("shapes: unresolvable -1, overflow, negative dims, too many dims", function()
    assert.has_error(function() triton.tensor({ 1, 2, 3 }, "FP32", { 2, -1 }) end,
      "table of 3 elements does not fit shape: "
        .. "cannot resolve -1 at dim 2: 3 elements do not divide into parts of 2")
    assert.has_error(function() triton.tensor({ 1, 2, 3 }, "FP32", { 2, 2 }) end,
      "table of 3 elements does not fit shape: shape has 4 elements, expected 3")
    assert.has_error(function() triton.arange(6):reshape(4, -1) end)
    assert.has_error(function() triton.arange(6):reshape(-1, -1) end,
      "only one dimension can be -1 (dims 1 and 2 are)")
    assert.has_error(function() triton.zeros({ 2^40, 2^40 }) end, "element count overflows (shape too large)")
    -- (LuaJIT: 2^53 * 2^11, as its dimensions stop at 2^53)
    assert.has_error(function() triton.zeros({ h.maxinteger, h.lua == "jit" and 2^11 or 2 }) end,
      "element count overflows (shape too large)")
    assert.truthy(err(triton.zeros, { 2, -3 })
      :find("shape[2] must be a non-negative integer, got -3", 1, true))
    local dims = {}
    for i = 1, 33 do dims[i] = 1 end
    assert.truthy(err(triton.zeros, dims):find("shape has 33 dimensions, at most 32", 1, true))
    local deep = 1
    for _ = 1, 33 do deep = { deep } end
    assert.has_error(function() triton.tensor(deep) end,
      "too many dimensions (nested tables deeper than 32)")
    assert.has_error(function() triton.zeros({ 1 }):unsqueeze(3) end)
  end)

  it("raw strings whose length does not match the shape", function()
    assert.has_error(function() triton.tensor("abc", "FP32", { 1 }) end,
      "3 bytes of data for 1 FP32 elements (expected 4)")
    assert.has_error(function() triton.tensor("abc", "FP32") end,
      "raw data of 3 bytes is not a whole number of FP32 elements")
    assert.has_error(function() triton.tensor("abcdefgh", "FP32", { 3 }) end,
      "8 bytes of data for 3 FP32 elements (expected 12)")
  end)

  it("bad view arguments", function()
    local t = triton.zeros({ 2, 3 })
    assert.truthy(err(t.slice, t, 3, 1, 1):find("dim 3 out of range for a 2-d tensor", 1, true))
    assert.has_error(function() t:slice(2, 2, 4) end, "slice 2..4 out of range for dim 2 of size 3")
    assert.has_error(function() t:squeeze(1) end, "cannot squeeze dim 1 of size 2 (only size 1)")
    assert.has_error(function() t:permute { 1, 1 } end, "not a permutation of the 2 dims")
    assert.has_error(function() t:permute { 1 } end, "permute needs 2 dims, got 1")
    assert.has_error(function() triton.zeros({ 2 }):transpose() end,
      "transpose needs a tensor of at least 2 dims")
  end)
end)
