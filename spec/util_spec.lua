-- The utilities of API.md: triton.now, triton.sleep, triton.json, triton.version,
-- triton.dtypes.
local h = require "support.harness"
local triton = require "triton"
local json = triton.json

describe("triton.now", function()
  it("is a monotonic clock in seconds with sub-millisecond resolution", function()
    local a = triton.now()
    h.assert_subtype("float", a)
    -- Resolution, not speed: a clock counting whole milliseconds gives only
    -- multiples of 0.001, whatever the scheduler does between reads.
    local finer = false
    for _ = 1, 100 do
      local b = triton.now()
      assert.is_true(b >= a)
      local ms = b * 1000
      finer = finer or math.abs(ms - math.floor(ms + 0.5)) > 1e-3
      a = b
    end
    assert.is_true(finer, "every reading was a whole number of milliseconds")
  end)
end)

describe("triton.sleep", function()
  it("sleeps for the given number of seconds", function()
    local t0 = triton.now()
    triton.sleep(0.05)
    local dt = triton.now() - t0
    assert.is_true(dt >= 0.05, "slept " .. dt)
  end)

  it("accepts zero and integers", function()
    triton.sleep(0)
    triton.sleep(0.0)
  end)

  it("rejects negative, NaN, huge and non-number arguments", function()
    assert.has_error(function() triton.sleep(-1) end,
      "bad argument #1 to 'sleep' (seconds must be between 0 and 1e9)")
    assert.has_error(function() triton.sleep(0 / 0) end,
      "bad argument #1 to 'sleep' (seconds must be between 0 and 1e9)")
    assert.has_error(function() triton.sleep(1e10) end,
      "bad argument #1 to 'sleep' (seconds must be between 0 and 1e9)")
    assert.has_error(function() triton.sleep("soon") end,
      "bad argument #1 to 'sleep' (number expected, got string)")
    assert.has_error(function() triton.sleep() end,
      "bad argument #1 to 'sleep' (number expected, got no value)")
  end)
end)

describe("triton.version and triton.dtypes", function()
  it("gives the project version", function()
    assert.is_string(triton.version)
    assert.truthy(triton.version:match("^%d+%.%d+%.%d+$"))
  end)

  it("maps the 14 Triton dtypes to their element size", function()
    local expected = {
      BOOL = 1, UINT8 = 1, UINT16 = 2, UINT32 = 4, UINT64 = 8, INT8 = 1, INT16 = 2, INT32 = 4,
      INT64 = 8, FP16 = 2, BF16 = 2, FP32 = 4, FP64 = 8, BYTES = 0,
    }
    assert.same(expected, triton.dtypes)
  end)
end)

describe("triton.json.encode", function()
  local enc = json.encode

  it("encodes scalars", function()
    assert.equal("true", enc(true))
    assert.equal("false", enc(false))
    assert.equal("null", enc(nil))
    assert.equal("null", enc(json.null))
    assert.equal("12", enc(12))
    assert.equal('"hi"', enc("hi"))
  end)

  it("encodes integers up to 2^53 exactly", function()
    assert.equal("9007199254740992", enc(0x20000000000000))
    assert.equal("-9007199254740992", enc(-0x20000000000000))
  end)

  local it64 = h.only("5.3 5.4", "64-bit integers")
  local itfloat = h.only("5.3 5.4", "a float subtype")
  it64("encodes every Lua integer exactly, beyond 2^53 too", function()
    assert.equal("9007199254740993", enc(0x20000000000001))
    assert.equal("9223372036854775807", enc(h.maxinteger))
    assert.equal("-9223372036854775808", enc(h.mininteger))
  end)

  itfloat("encodes floats so that they read back equal and stay floats", function()
    assert.equal("1.0", enc(1.0))
    assert.equal("-0.0", enc(-0.0))
    assert.equal("0.1", enc(0.1))
    assert.equal("1e+300", enc(1e300))
    local samples = { 0.1, 1 / 3, math.pi, 2 ^ 60 + 0.0, 5e-324, 1.7976931348623157e308, -123.456 }
    for _, x in ipairs(samples) do
      local back = json.decode(enc(x))
      h.assert_subtype("float", back)
      assert.equal(x, back)
    end
  end)

  it("rejects NaN and infinities, naming where they are", function()
    assert.has_error(function() enc({ a = { 0 / 0 } }) end,
      "triton.json.encode: cannot encode NaN at $.a[1]")
    assert.has_error(function() enc(math.huge) end,
      "triton.json.encode: cannot encode an infinite number at $")
    assert.has_error(function() enc({ -math.huge }) end,
      "triton.json.encode: cannot encode an infinite number at $[1]")
  end)

  it("escapes quotes, backslashes and control characters, NUL included", function()
    assert.equal([["a\"b\\c\n\t\r\b\f\u0000\u001f"]], enc('a"b\\c\n\t\r\b\f\0\31'))
  end)

  it("passes other bytes through unchanged (UTF-8 or not)", function()
    assert.equal('"h\xc3\xa9 \xff"', enc("h\xc3\xa9 \xff"))
  end)

  it("encodes sequences as arrays and string-keyed tables as objects with sorted keys", function()
    assert.equal("[1,2,3]", enc({ 1, 2, 3 }))
    assert.equal('{"a":1,"b":[true,null],"c":{"d":"e"}}',
      enc({ c = { d = "e" }, a = 1, b = { true, json.null } }))
  end)

  it("encodes an empty table as an object unless it has json.array_mt", function()
    assert.equal("{}", enc({}))
    assert.equal("[]", enc(setmetatable({}, json.array_mt)))
    assert.equal("[1]", enc(setmetatable({ 1 }, json.array_mt)))
  end)

  h.only("jit", "no float subtype")("encodes whole numbers as integers, others to read back equal", function()
    assert.equal("1", enc(1.0))
    assert.equal("0.1", enc(0.1))
    assert.equal("9007199254740992", enc(2 ^ 53))
    for _, x in ipairs { 0.1, 1 / 3, math.pi, 5e-324, 1.7976931348623157e308, -123.456 } do
      assert.equal(x, json.decode(enc(x)))
    end
  end)

  it("rejects sparse arrays, mixed tables and other keys, naming the key", function()
    assert.has_error(function() enc({ 1, nil, 3 }) end, "triton.json.encode: array is sparse: "
      .. "index 3 but only 2 elements (use triton.json.null for holes) at $")
    assert.has_error(function() enc({ x = { 1, y = 2 } }) end,
      'triton.json.encode: table mixes array and object keys (index 1 and key "y") at $.x')
    assert.has_error(function() enc({ [true] = 1 }) end,
      "triton.json.encode: table key of type boolean is neither a string nor an index >= 1 at $")
    assert.has_error(function() enc({ [1.5] = 1 }) end,
      "triton.json.encode: table key 1.5 is neither a string nor an index >= 1 at $")
    assert.has_error(function() enc({ [0] = 1 }) end,
      "triton.json.encode: table key 0 is neither a string nor an index >= 1 at $")
    assert.has_error(function() enc(setmetatable({ a = 1 }, json.array_mt)) end,
      "triton.json.encode: table with json.array_mt has string keys at $")
  end)

  it("rejects functions, userdata and threads", function()
    assert.has_error(function() enc({ f = print }) end,
      "triton.json.encode: cannot encode a function value at $.f")
    -- a userdata is named by its metatable's __name, which LuaJIT's files lack
    local file = h.lua == "jit" and "userdata" or "FILE*"
    assert.has_error(function() enc({ ["a b"] = { io.stdout } }) end,
      'triton.json.encode: cannot encode a ' .. file .. ' value at $["a b"][1]')
    assert.has_error(function() enc(coroutine.create(print)) end,
      "triton.json.encode: cannot encode a thread value at $")
  end)

  it("reports cycles", function()
    local t = { a = {} }
    t.a.back = t
    assert.has_error(function() enc(t) end,
      "triton.json.encode: table contains itself (a cycle) at $.a.back")
  end)

  it("encodes 1000 levels of nesting and refuses 1001", function()
    local function nest(n)
      local root = {}
      local cur = root
      for _ = 2, n do
        cur[1] = {}
        cur = cur[1]
      end
      return root
    end
    assert.equal(string.rep("[", 999) .. "{}" .. string.rep("]", 999), enc(nest(1000)))
    assert.has_error(function() enc(nest(1001)) end,
      "triton.json.encode: nesting deeper than 1000 levels at $"
        .. string.rep("[1]", 8) .. "..." .. string.rep("[1]", 8))
  end)

  it("needs an argument", function()
    assert.has_error(function() json.encode() end, "bad argument #1 to 'encode' (value expected)")
  end)
end)

describe("triton.json.decode", function()
  local dec = json.decode

  local it64 = h.only("5.3 5.4", "64-bit integers")
  it64("decodes integers without fraction or exponent as Lua integers, exactly", function()
    assert.equal(h.maxinteger, dec("9223372036854775807"))
    assert.equal(h.mininteger, dec("-9223372036854775808"))
    h.assert_subtype("integer", dec("9007199254740993"))
    assert.equal(9007199254740993, dec("9007199254740993"))
    h.assert_subtype("integer", dec("-0"))
  end)

  h.only("jit", "the 2^53 rule")("decodes integers exactly up to 2^53 and refuses bigger ones", function()
    assert.equal(2 ^ 53, dec("9007199254740992"))
    assert.equal(-2 ^ 53, dec("-9007199254740992"))
    assert.has_error(function() dec("9007199254740993") end)
    local ok, err = pcall(dec, "[1, -9223372036854775808]")
    assert.is_false(ok)
    assert.matches("range: integer %-9223372036854775808 .* beyond 2%^53", tostring(err))
  end)

  it("decodes other numbers as floats", function()
    h.assert_subtype("float", dec("1.0"))
    h.assert_subtype("float", dec("1e2"))
    assert.equal(100.0, dec("1E+2"))
    assert.equal(-0.5, dec("-5e-1"))
    -- an integer literal past int64 cannot be an integer
    h.assert_subtype("float", dec("9223372036854775808"))
    assert.equal(2.0 ^ 63, dec("9223372036854775808"))
  end)

  it("decodes strings with every escape, surrogate pairs and embedded zeros", function()
    assert.equal('a"b\\c/\b\f\n\r\t', dec([["a\"b\\c\/\b\f\n\r\t"]]))
    assert.equal("\0x\0", dec([["\u0000x\u0000"]]))
    assert.equal("\xc3\xa9\xe2\x82\xac", dec([["\u00e9\u20AC"]]))
    assert.equal("\xf0\x9f\x98\x80", dec([["\ud83d\ude00"]]))
    assert.equal("\xff raw", dec('"\xff raw"'))
  end)

  it("decodes arrays and objects into tables, null into json.null", function()
    assert.same({ 1, "two", { three = 3 }, true, false },
      dec(' [1, "two", {"three": 3}, true, false] '))
    local v = dec('[null, {"k": null}]')
    assert.equal(json.null, v[1])
    assert.equal(json.null, v[2].k)
    assert.equal(2, #v)
  end)

  it("gives [] json.array_mt so that it encodes as [] again", function()
    local v = dec('{"a": [], "o": {}}')
    assert.equal(json.array_mt, getmetatable(v.a))
    assert.is_nil(getmetatable(v.o))
    assert.equal('{"a":[],"o":{}}', json.encode(v))
  end)

  it("round-trips a nested document", function()
    local doc = {
      name = "m", versions = { "1", "2" },
      inputs = { { name = "I", datatype = "INT64", shape = { -1, 16 } } },
      big = h.maxinteger, ratio = 0.25, ok = true,
    }
    assert.same(doc, dec(json.encode(doc)))
  end)

  it("reports malformed input with the byte position", function()
    local cases = {
      [""] = "value expected at byte 1 (end of input)",
      ["[1,"] = "value expected at byte 4 (end of input)",
      ['{"a" 1}'] = "expected ':' at byte 6 (found '1')",
      ['{"a":1 "b":2}'] = "expected ',' or '}' at byte 8 (found '\"')",
      ["[1 2]"] = "expected ',' or ']' at byte 4 (found '2')",
      ["{1:2}"] = "expected a string key at byte 2 (found '1')",
      ["01"] = "trailing characters after the value at byte 2 (found '1')",
      ["1."] = "bad number (digit expected after '.') at byte 3 (end of input)",
      ["1e"] = "bad number (digit expected in exponent) at byte 3 (end of input)",
      ["-"] = "bad number at byte 2 (end of input)",
      ["tru"] = "unexpected character at byte 1 (found 't')",
      ["nul"] = "unexpected character at byte 1 (found 'n')",
      ["'a'"] = "unexpected character at byte 1 (found ''')",
      ['"abc'] = "unterminated string at byte 5 (end of input)",
      ['"a\nb"'] = "control character in string at byte 3 (found byte 0x0A)",
      ['"\\x"'] = "bad escape in string at byte 2 (found '\\')",
      ['"\\u12"'] = "bad \\u escape (expected 4 hex digits) at byte 4 (found '1')",
      ['"\\ud800"'] = "high surrogate not followed by a low surrogate at byte 8 (found '\"')",
      ['"\\udc00"'] = "low surrogate without a high surrogate at byte 2 (found '\\')",
      ["[1] x"] = "trailing characters after the value at byte 5 (found 'x')",
      ["NaN"] = "unexpected character at byte 1 (found 'N')",
    }
    for input, message in pairs(cases) do
      assert.has_error(function() dec(input) end, "triton.json.decode: " .. message)
    end
  end)

  it("decodes 1000 levels of nesting and refuses 1001", function()
    local ok = dec(string.rep("[", 1000) .. string.rep("]", 1000))
    assert.equal("table", type(ok))
    assert.has_error(function() dec(string.rep("[", 1001) .. string.rep("]", 1001)) end,
      "triton.json.decode: nesting deeper than 1000 levels at byte 1001 (found '[')")
    assert.has_error(function() dec(string.rep('{"a":', 1001)) end,
      "triton.json.decode: nesting deeper than 1000 levels at byte 5001 (found '{')")
  end)

  it("needs a string", function()
    assert.has_error(function() json.decode({}) end,
      "bad argument #1 to 'decode' (string expected, got table)")
  end)
end)
