-- 64-bit integers and unknown datatypes, as a user meets them: INT64 and UINT64
-- tensor data requested as JSON, 64-bit fields of control replies, and a reply
-- naming a datatype this client does not know. Over both transports: gRPC
-- carries tensors in binary form anyway, and its control replies go through the
-- protobuf -> JSON conversion, which must be just as exact.
local h = require "support.harness"
local triton = h.triton()

-- 2^53 + 1: the first integer a double cannot hold (under LuaJIT this literal
-- rounds to 2^53: only the cases marked it64 use it).
local BIG = 9007199254740993

-- Cases that need 64-bit Lua integers (5.3, 5.4). Under LuaJIT, whose numbers
-- are doubles, the cases marked itjit assert its rule instead (docs/API.md,
-- "Lua versions"): exact up to 2^53, a "range" error naming where beyond it.
local it64 = h.only("5.3 5.4", "64-bit integers")
local itjit = h.only("jit", "the 2^53 rule")
local EXACT = 2 ^ 53
-- 2^53 + 1 and 2^64 - 1 as wire bytes (int64 little-endian), which every Lua can write
local BIG_BYTES, ALL_ONES = "\1\0\0\0\0\0\32\0", ("\255"):rep(8)

-- Raises unless fn() fails with the range error naming the value (not wrapped in
-- another error).
local function range_error(digits, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected a range error for " .. digits)
  local msg = tostring(err)
  assert.matches("range: integer " .. digits:gsub("%-", "%%-") .. " .-is beyond 2%^53", msg)
  assert.is_nil(msg:find("internal", 1, true), msg)
end

-- The bytes of 64-bit integers as the tensor wire layout has them.
local function int64_bytes(...)
  return h.pack("<" .. string.rep("i8", select("#", ...)), ...)
end

h.transports(function(_, url)
  local c

  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  -- Sends values through an identity model as JSON both ways and returns the output.
  local function echo_json(model, dtype, t)
    local input = triton.InferInput("INPUT0", t.shape, dtype):set_data(t, { binary_data = false })
    local output = triton.InferRequestedOutput("OUTPUT0", { binary_data = false })
    return c:infer(model, { input }, { outputs = { output } }):as_tensor("OUTPUT0")
  end

  describe("INT64 data requested as JSON", function()
    it64("comes back exactly at math.maxinteger, math.mininteger and 2^53+1", function()
      local sent = triton.tensor({ h.maxinteger, h.mininteger, BIG, -BIG, 0 }, "INT64")
      local got = echo_json("identity_int64", "INT64", sent)
      assert.equal(sent:bytes(), got:bytes())
      assert.equal(h.maxinteger, got[1])
      h.assert_subtype("integer", got[1])
      assert.equal(BIG, got[3])
      assert.equal(-BIG, got[4])
    end)
  end)

  describe("UINT64 data requested as JSON", function()
    it64("comes back exactly at 2^53+1, 2^63 and 2^64-1", function()
      local raw = int64_bytes(BIG, h.mininteger, -1, 0)
      local sent = triton.tensor(raw, "UINT64", { 4 })
      local got = echo_json("identity_uint64", "UINT64", sent)
      assert.equal(raw, got:bytes())
      assert.equal(BIG, got[1])
      h.assert_subtype("integer", got[1])
      -- from 2^63 on, elements read as floats (the rule of docs/API.md)
      h.assert_subtype("float", got[3])
      assert.equal(2.0 ^ 64, got[3])
    end)
  end)

  describe("INT64 and UINT64 data under LuaJIT", function()
    itjit("comes back exactly as bytes; elements read up to 2^53, raise beyond, from 2^63 floats", function()
      local raw = BIG_BYTES .. int64_bytes(EXACT, -EXACT, 0)
      local got = echo_json("identity_int64", "INT64", triton.tensor(raw, "INT64", { 4 }))
      assert.equal(raw, got:bytes())
      assert.same({ EXACT, -EXACT, 0 }, { got[2], got[3], got[4] })
      range_error("9007199254740993", function() return got[1] end)
      raw = ALL_ONES .. int64_bytes(EXACT)
      got = echo_json("identity_uint64", "UINT64", triton.tensor(raw, "UINT64", { 2 }))
      assert.equal(raw, got:bytes())
      assert.equal(EXACT, got[2])
      assert.equal(2.0 ^ 64, got[1]) -- from 2^63 a float, as under 5.4
    end)

    itjit("keeps INT64 inputs and outputs of generate exact up to 2^53", function()
      local out = c:generate("identity_int64", { INPUT0 = { EXACT, -EXACT } })
      assert.same({ EXACT, -EXACT }, out.OUTPUT0)
    end)
  end)

  describe("generate", function()
    it64("keeps INT64 inputs and outputs exact at 2^53+1 and math.maxinteger", function()
      local out = c:generate("identity_int64", { INPUT0 = { BIG, h.maxinteger, -BIG } })
      assert.same({ BIG, h.maxinteger, -BIG }, out.OUTPUT0)
      h.assert_subtype("integer", out.OUTPUT0[2])
    end)
  end)

  describe("control replies", function()
    it64("read a uint64 config field of 2^53+1 back exactly", function()
      c:load_model("identity_uint8", {
        config = { dynamic_batching = { max_queue_delay_microseconds = BIG } },
      })
      local v = c:model_config("identity_uint8").dynamic_batching.max_queue_delay_microseconds
      h.assert_subtype("integer", v)
      assert.equal(BIG, v)
    end)

    it64("read int64 dims of 2^53+1 and math.maxinteger back exactly, in config and metadata", function()
      c:load_model("identity_int8", { config = { input = {
        { name = "INPUT0", data_type = "TYPE_INT8", dims = { BIG, h.maxinteger } },
      } } })
      local dims = c:model_config("identity_int8").input[1].dims
      assert.same({ BIG, h.maxinteger }, dims)
      h.assert_subtype("integer", dims[1])
      local shape = c:model_metadata("identity_int8").inputs[1].shape
      assert.same({ BIG, h.maxinteger }, shape)
    end)

    itjit("read a field of 2^53 exactly, and raise a range error on 2^53+1", function()
      c:load_model("identity_uint8", {
        config = { dynamic_batching = { max_queue_delay_microseconds = EXACT } },
      })
      assert.equal(EXACT, c:model_config("identity_uint8").dynamic_batching.max_queue_delay_microseconds)
      c:load_model("identity_int8", {
        config = '{"input": [{"name": "INPUT0", "data_type": "TYPE_INT8", "dims": [9007199254740993]}]}',
      })
      range_error("9007199254740993", function() return c:model_config("identity_int8") end)
      range_error("9007199254740993", function() return c:model_metadata("identity_int8") end)
    end)

    it("read a uint64 field of 2^64-1 as the float 2^64, as UINT64 tensors do", function()
      c:load_model("identity_uint16", {
        config = '{"dynamic_batching": {"max_queue_delay_microseconds": 18446744073709551615}}',
      })
      local v = c:model_config("identity_uint16").dynamic_batching.max_queue_delay_microseconds
      h.assert_subtype("float", v)
      assert.equal(2.0 ^ 64, v)
    end)
  end)

  describe("an output whose datatype the client does not know", function()
    local function inputs()
      local t = triton.tensor({ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } }, "INT32")
      return { INPUT0 = t, INPUT1 = t }
    end
    local message = "output 'OUTPUT0' has datatype 'FP128', which this client does not know"

    for _, binary in ipairs { true, false } do
      it("is a protocol_error naming the output and the datatype (binary_data = "
        .. tostring(binary) .. ")", function()
        local outputs = {
          triton.InferRequestedOutput("OUTPUT0", { binary_data = binary }),
          triton.InferRequestedOutput("OUTPUT1", { binary_data = binary }),
        }
        local opts = { outputs = outputs, headers = { ["x-fault"] = "bad-dtype" } }
        local err = h.error_of(function() return c:infer("simple", inputs(), opts) end)
        assert.equal("protocol_error", err.code)
        assert.matches(message, err.message, 1, true)
        local f = c:async_infer("simple", inputs(), opts)
        err = h.error_of(function() return f:get_result() end)
        assert.equal("protocol_error", err.code)
        assert.matches(message, err.message, 1, true)
      end)
    end

    it("leaves the client working", function()
      local r = c:infer("simple", inputs())
      assert.equal(2, r:as_tensor("OUTPUT0"):get(1, 1))
    end)
  end)
end)

describe("triton.json", function()
  it64("keeps every int64 and refuses a number beyond a double", function()
    assert.equal(h.maxinteger, triton.json.decode("9223372036854775807"))
    assert.equal('[9007199254740993,-9223372036854775808]',
      triton.json.encode(triton.json.decode("[9007199254740993, -9223372036854775808]")))
    assert.equal(2.0 ^ 64, triton.json.decode("18446744073709551615"))
    assert.has_error(function() triton.json.decode("1e400") end,
      "triton.json.decode: number out of range at byte 1 (found '1')")
    assert.has_error(function() triton.json.decode("[1, -1e400]") end,
      "triton.json.decode: number out of range at byte 5 (found '-')")
  end)

  itjit("keeps integers up to 2^53 and raises a range error beyond", function()
    assert.equal(EXACT, triton.json.decode("9007199254740992"))
    assert.equal("[9007199254740992,-9007199254740992]",
      triton.json.encode(triton.json.decode("[9007199254740992, -9007199254740992]")))
    range_error("9223372036854775807", function() return triton.json.decode("9223372036854775807") end)
  end)
end)
