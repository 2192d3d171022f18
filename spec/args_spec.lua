-- The one argument layer (src/lua/largs.c): a bad shape, dtype or option gives
-- the same message through every entry point that takes it, raised at the line
-- of the user's call (never inside lua/triton), at the limit and one past it.
local h = require "support.harness"
local triton = h.triton()

local HERE = debug.getinfo(1, "S").short_src
local DTYPES = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, "
  .. "FP32, FP64, BYTES"

-- entry.call(value) must raise exactly "<this file>:<line of the call>: <want>";
-- each call below is written on one line, the line its function is defined on,
-- and in parentheses: a tail call would leave no frame for that line.
local function expect_error(entry, value, want)
  local ok, err = pcall(entry.call, value)
  assert.is_false(ok, "expected an error from " .. entry.fname)
  local line = debug.getinfo(entry.call, "S").linedefined
  assert.are.equal(string.format("%s:%d: %s", HERE, line, want), err)
end

local function expect_ok(entry, value)
  local ok, err = pcall(entry.call, value)
  assert.is_true(ok, tostring(err))
end

-- "bad argument #n to 'f' (what)" for a shape or dtype entry point.
local function bad_argument(entry, what)
  return string.format("bad argument #%d to '%s' (%s)", entry.arg, entry.fname, what)
end

local function ones(n, first)
  local s = { first }
  for i = #s + 1, n do s[i] = 1 end
  return s
end

local region -- a shared memory region for region:read
setup(function() region = triton.shm.create("args", h.shm_key("args"), 64) end)
teardown(function() region:destroy() end)

describe("a shape", function()
  -- unknown: the entry point takes -1 for a dimension it works out itself.
  local takers = {
    { fname = "zeros", arg = 1, call = function(s) return (triton.zeros(s, "UINT8")) end },
    { fname = "ones", arg = 1, call = function(s) return (triton.ones(s, "UINT8")) end },
    { fname = "full", arg = 1, call = function(s) return (triton.full(s, 7, "UINT8")) end },
    { fname = "tensor", arg = 3, unknown = true,
      call = function(s) return (triton.tensor({}, "UINT8", s)) end },
    { fname = "tensor", arg = 3, unknown = true,
      call = function(s) return (triton.tensor("", "UINT8", s)) end },
    { fname = "reshape", arg = 1, unknown = true,
      call = function(s) return (triton.zeros({ 0 }, "UINT8"):reshape(s)) end },
    { fname = "read", arg = 2, call = function(s) return (region:read("UINT8", s)) end },
    { fname = "InferInput", arg = 2, unknown = true,
      call = function(s) return (triton.InferInput("x", s, "UINT8")) end },
    { fname = "set_shape", arg = 1, unknown = true,
      call = function(s) return (triton.InferInput("x", { 1 }, "UINT8"):set_shape(s)) end },
  }
  local bad = {
    { "a negative dimension", { 1, -2 }, "shape[2] must be a non-negative integer, got -2" },
    { "a fraction", { 1, 1.5 }, "shape[2] must be a non-negative integer, got 1.5" },
    { "NaN", { 0 / 0 }, "shape[1] must be a non-negative integer, got nan" },
    { "a string dimension", { 1, "2" }, "shape[2] must be a non-negative integer, got string" },
    { "2^63, one past the largest dimension", { 0, 2.0 ^ 63 },
      "shape[2] must be a non-negative integer, got 9.2233720368548e+18" },
    { "a string", "2x2", "shape must be a table of integers, got string" },
    { "33 dimensions, one past the limit", ones(33, 0), "shape has 33 dimensions, at most 32" },
  }
  for _, row in ipairs(bad) do
    it("with " .. row[1] .. " reads the same from every entry point", function()
      for _, entry in ipairs(takers) do
        expect_error(entry, row[2], bad_argument(entry, row[3]))
      end
    end)
  end

  it("with -1 is refused where no dimension can be unknown, and taken where one can", function()
    for _, entry in ipairs(takers) do
      if entry.unknown then
        expect_ok(entry, { 1, -1 })
      else
        expect_error(entry, { 1, -1 }, bad_argument(entry, "shape[2] must be a non-negative integer, got -1"))
      end
    end
  end)

  it("at the limits (32 dimensions, a dimension of 2^63-1) is taken everywhere", function()
    for _, entry in ipairs(takers) do
      expect_ok(entry, ones(32, 0))
      expect_ok(entry, { 0, h.maxinteger })
      -- an integral float is an integer, as in luaL_checkinteger (LuaJIT: up to 2^53)
      expect_ok(entry, { 0, h.lua == "jit" and 2.0 ^ 53 or 2.0 ^ 62 })
    end
    assert.are.same({ 0, h.maxinteger }, triton.InferInput("x", { 0, h.maxinteger }, "UINT8"):shape())
  end)
end)

describe("a dtype", function()
  local takers = {
    { fname = "tensor", arg = 2, call = function(d) return (triton.tensor({ 1 }, d)) end },
    { fname = "tensor", arg = 2, required = true,
      call = function(d) return (triton.tensor("\0\0\0\0", d)) end },
    { fname = "zeros", arg = 2, call = function(d) return (triton.zeros({ 1 }, d)) end },
    { fname = "ones", arg = 2, call = function(d) return (triton.ones({ 1 }, d)) end },
    { fname = "full", arg = 3, call = function(d) return (triton.full({ 1 }, 1, d)) end },
    { fname = "arange", arg = 4, call = function(d) return (triton.arange(0, 3, 1, d)) end },
    { fname = "rand", arg = 2, call = function(d) return (triton.rand({ 1 }, d)) end },
    { fname = "astype", arg = 1, required = true,
      call = function(d) return (triton.zeros({ 1 }):astype(d)) end },
    { fname = "read", arg = 1, required = true, call = function(d) return (region:read(d, { 1 })) end },
    { fname = "InferInput", arg = 3, required = true,
      call = function(d) return (triton.InferInput("x", { 1 }, d)) end },
  }
  local bad = {
    { "an unknown name", "FP33", "unknown dtype 'FP33' (expected one of " .. DTYPES .. ")" },
    { "a name in lower case", "fp32", "unknown dtype 'fp32' (did you mean 'FP32'?)" },
    { "a number", 5, "dtype name expected (one of " .. DTYPES .. "), got 5" },
    { "a boolean", true, "dtype name expected (one of " .. DTYPES .. "), got boolean" },
  }
  for _, row in ipairs(bad) do
    it("given as " .. row[1] .. " reads the same from every entry point", function()
      for _, entry in ipairs(takers) do
        expect_error(entry, row[2], bad_argument(entry, row[3]))
      end
    end)
  end

  it("is required where there is no default", function()
    for _, entry in ipairs(takers) do
      if entry.required then
        local want = "dtype name expected (one of " .. DTYPES .. "), got nil"
        expect_error(entry, nil, bad_argument(entry, want))
      else
        expect_ok(entry, nil)
      end
      expect_ok(entry, "FP32")
    end
  end)
end)

describe("an options table", function()
  -- Entry points that take binary_data.
  local binary = {
    { fname = "set_data",
      call = function(o) return (triton.InferInput("x", { 1 }, "INT32"):set_data({ 1 }, o)) end },
    { fname = "InferRequestedOutput", call = function(o) return (triton.InferRequestedOutput("y", o)) end },
  }
  local rows = {
    { "a value of the wrong type", { binary_data = 1 },
      "bad option 'binary_data' to 'FN' (boolean expected, got 1)" },
    { "an unknown key", { binary = true }, "unknown option 'binary' in FN options" },
    { "a typo", { binary_dat = true },
      "unknown option 'binary_dat' in FN options (did you mean 'binary_data'?)" },
    { "a positional value", { true }, "unknown option [1] in FN options" },
    { "no table at all", "x", "bad argument #2 to 'FN' (options table expected, got string)" },
  }
  for _, row in ipairs(rows) do
    it("with " .. row[1] .. " reads the same from every entry point", function()
      for _, entry in ipairs(binary) do
        expect_error(entry, row[2], (row[3]:gsub("FN", entry.fname)))
      end
    end)
  end

  it("refuses negative, fractional, NaN and infinite counts, at the limit and past it", function()
    local entry = binary[2]
    local function want(got) return "bad option 'class_count' to 'InferRequestedOutput' (" .. got .. ")" end
    expect_error(entry, { class_count = -1 }, want("integer >= 0 expected, got -1"))
    expect_error(entry, { class_count = 1.5 }, want("integer expected, got 1.5"))
    expect_error(entry, { class_count = 0 / 0 }, want("integer expected, got nan"))
    expect_error(entry, { class_count = math.huge }, want("integer expected, got inf"))
    expect_ok(entry, { class_count = 0 })
    expect_ok(entry, { class_count = h.maxinteger })
  end)

  h.transports(function(_, url)
    local c
    setup(function() c = triton.connect(url) end)
    teardown(function() c:close() end)
    local inputs = function() return { INPUT0 = triton.tensor({ 1 }, "INT32") } end
    local callers = {
      { fname = "infer", call = function(o) return (c:infer("identity_int32", inputs(), o)) end },
      { fname = "async_infer",
        call = function(o) return (c:async_infer("identity_int32", inputs(), o)) end },
    }
    local infer_rows = {
      { { priority = -1 }, "bad option 'priority' to 'FN' (integer >= 0 expected, got -1)" },
      { { priority = 1.5 }, "bad option 'priority' to 'FN' (integer expected, got 1.5)" },
      { { timeout = 0 / 0 }, "bad option 'timeout' to 'FN' (integer expected, got nan)" },
      { { sequence_id = -1 }, "bad option 'sequence_id' to 'FN' (integer >= 0 expected, got -1)" },
      { { sequence_id = {} }, "bad option 'sequence_id' to 'FN' (integer or string expected, got table)" },
      { { model_version = 1.5 }, "bad option 'model_version' to 'FN' (integer or string expected, got 1.5)" },
      { { request_id = 5 }, "bad option 'request_id' to 'FN' (string expected, got 5)" },
      { { request_id = "a\0b" },
        "bad option 'request_id' to 'FN' (string without zero bytes expected, got one at byte 2)" },
      { { parameters = { p = 0 / 0 } },
        "bad option 'parameters.p' to 'FN' (finite number expected, got nan)" },
      { { parameters = { p = -math.huge } },
        "bad option 'parameters.p' to 'FN' (finite number expected, got -inf)" },
      { { parameters = { 1 } },
        "bad option 'parameters' to 'FN' (table with string keys expected, got key 1)" },
      { { client_timeout = math.huge },
        "bad option 'client_timeout' to 'FN' (finite number expected, got inf)" },
    }
    it("of an infer call reads the same from infer and async_infer, at the user's line", function()
      for _, row in ipairs(infer_rows) do
        for _, entry in ipairs(callers) do
          expect_error(entry, row[1], (row[2]:gsub("FN", entry.fname)))
        end
      end
    end)

    it("of an infer call takes the limits", function()
      local r = c:infer("identity_int32", inputs(), { priority = 0, timeout = 0, request_id = "",
        parameters = { p = 1.5, q = h.maxinteger }, client_timeout = 0x1p60 })
      assert.are.equal(1, r:as_tensor("OUTPUT0")[1])
    end)
  end)
end)
