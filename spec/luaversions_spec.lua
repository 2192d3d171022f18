-- One source, three Luas (issue 14): what the C binding does differently, or
-- must do the same, under Lua 5.4, Lua 5.3 and LuaJIT 2.1 (docs/API.md, "Lua
-- versions"). The rest of the suite runs under all three as it is (ctest:
-- spec.NAME, spec.lua53.NAME, spec.luajit.NAME).
--   * A spawned coroutine's blocking calls yield to the scheduler in every Lua;
--     LuaJIT has no C continuations, so there they go through a trampoline
--     (src/lua/lcompat.c): the same results, errors and timeouts.
--   * 64-bit integers: exact in 5.3 and 5.4; under LuaJIT numbers up to 2^53
--     and a "range" error beyond, never a silently rounded value.
--   * PUC Lua 5.1, which shares LuaJIT's module paths, is refused by name.
local h = require "support.harness"
local triton = h.triton()

local simple_inputs = h.simple_inputs

local function first_sum(r) return r:as_tensor("OUTPUT0"):get(1, 1) end

-- Little-endian bytes of 2^60 + 1 and of 2^63 + 1, as raw INT64/UINT64 data.
local BIG = string.char(1, 0, 0, 0, 0, 0, 0, 0x10)
local HUGE = string.char(1, 0, 0, 0, 0, 0, 0, 0x80)
local EXACT = string.char(0, 0, 0, 0, 0, 0, 0x20, 0) -- 2^53
local MINUS_EXACT = string.char(0, 0, 0, 0, 0, 0, 0xE0, 0xFF) -- -2^53

h.transports(function(_, url)
  describe("a spawned coroutine", function()
    it("yields in c:infer, f:wait and f:get_result, with their values and errors", function()
      local c = triton.connect(url)
      local log, sums, codes = {}, {}, {}
      for k = 1, 3 do
        triton.spawn(function()
          log[#log + 1] = "start"
          local s = first_sum(c:infer("simple", simple_inputs(k)))
          local f = c:async_infer("simple", simple_inputs(k + 10))
          assert.is_true(f:wait())
          sums[k] = { s, first_sum(f:get_result()) }
          codes[k] = h.error_of(function()
            return c:async_infer("nosuchmodel", simple_inputs(k)):get_result()
          end).code
          log[#log + 1] = "end"
        end)
      end
      assert.is_true(triton.run())
      -- every coroutine reached its first call before any finished: the calls yielded
      assert.same({ "start", "start", "start", "end", "end", "end" }, log)
      for k = 1, 3 do
        assert.same({ 3 + k, 13 + k }, sums[k])
        assert.equal("not_found", codes[k])
      end
      c:close()
    end)

    it("waits instead of yielding in a callback, which C calls and which may not yield", function()
      local c = triton.connect(url)
      local got = {}
      triton.spawn(function()
        local f = c:async_infer("simple", simple_inputs(1), function()
          got[#got + 1] = first_sum(c:infer("simple", simple_inputs(2)))
        end)
        assert.is_true(f:wait())
        got[#got + 1] = "after"
      end)
      assert.is_true(triton.run())
      assert.same({ 5, "after" }, got)
      c:close()
    end)

    it("gets deadline_exceeded from get_result(true, t) across a yield; the call goes on", function()
      local c = triton.connect(url)
      local code, done_after
      triton.spawn(function()
        local f = c:async_infer("slow", { INPUT0 = triton.tensor({ 1000 }, "INT32") })
        code = h.error_of(function() return f:get_result(true, 0.01) end).code
        assert.is_false(f:wait(0))
        done_after = f:wait()
      end)
      assert.is_true(triton.run())
      assert.equal("deadline_exceeded", code)
      assert.is_true(done_after)
      c:close()
    end)
  end)
end)

describe("64-bit integers", function()
  h.only("5.3 5.4", "integers are 64-bit there")("are exact both ways", function()
    local t = triton.tensor(BIG, "INT64", { 1 })
    assert.equal(1152921504606846977, t:get(1))
    h.assert_subtype("integer", t:get(1))
    assert.equal(BIG, triton.tensor({ 1152921504606846977 }, "INT64"):bytes())
    assert.equal(9007199254740993, triton.json.decode("[9007199254740993]")[1])
    -- beyond int64, a float (the nearest double) in every version
    h.assert_subtype("float", triton.tensor(HUGE, "UINT64", { 1 }):get(1))
  end)

  h.only("jit", "LuaJIT numbers are doubles")("are numbers up to 2^53, a range error beyond", function()
    assert.equal(2 ^ 53, triton.tensor(EXACT, "INT64", { 1 }):get(1))
    assert.equal(-2 ^ 53, triton.tensor(MINUS_EXACT, "INT64", { 1 }):get(1))
    assert.equal(2 ^ 53, triton.json.decode("[9007199254740992]")[1])
    for _, case in ipairs {
      { "1152921504606846977", function() return triton.tensor(BIG, "INT64", { 1 }):get(1) end },
      { "1152921504606846977", function() return triton.tensor(BIG, "UINT64", { 1 }):totable() end },
      { "1152921504606846977", function() return triton.tensor(BIG, "INT64", { 1 })[1] end },
      { "9007199254740993", function() return triton.json.decode("[9007199254740993]") end },
    } do
      local ok, err = pcall(case[2])
      assert.is_false(ok)
      -- named where the call shows (not in a tail call: LuaJIT keeps no name there)
      assert.matches("range: integer " .. case[1] .. " [^\n]*is beyond 2%^53", tostring(err))
    end
    -- beyond int64, a float (the nearest double) in every version
    assert.equal(2 ^ 64, triton.json.decode("[18446744073709551615]")[1])
  end)

  h.only("jit", "LuaJIT numbers are doubles")("count as integers when whole and within 2^53", function()
    assert.equal("INT64", triton.tensor({ 1, 2 }).dtype)
    assert.equal("FP32", triton.tensor({ 1.5, 2 }).dtype) -- the default float dtype
    assert.equal("FP32", triton.tensor({ 2 ^ 60 }).dtype) -- beyond 2^53: not an integer
    assert.equal(2 ^ 60, triton.tensor({ 2 ^ 60 }, "INT64"):astype("FP64"):get(1)) -- stored exactly
    assert.has_error(function() triton.tensor({ 2.5 }, "INT32") end)
    assert.has_error(function() triton.tensor({ 1 }):get(1.5) end)
    -- -0.0 keeps its sign: it is a float, as in 5.4
    assert.equal(string.char(0, 0x80), triton.tensor({ -0.0 }, "FP16"):bytes())
  end)

  it("are the same to the library's Lua as to its C", function()
    local math_type = require("triton.compat").math_type
    for _, v in ipairs({ 1, 0, -0.0, 1.5, 2 ^ 53, 2 ^ 53 + 2, -(2 ^ 53), 2 ^ 60 }) do
      local c_says = triton.tensor({ v }).dtype == "INT64" and "integer" or "float"
      assert.equal(c_says, math_type(v), "for " .. string.format("%.17g", v))
    end
  end)
end)

describe("PUC Lua 5.1", function()
  it("is refused by name, not with an undefined symbol", function()
    -- where `cmake --install` puts LuaJIT's files, which lua5.1 searches too
    local src, build = os.getenv("TRITON_SOURCE_DIR") or ".", os.getenv("TRITON_BUILD_DIR") or "build"
    local out, ok = h.command(string.format("LUA_PATH=%s LUA_CPATH=%s lua5.1 -e %s 2>&1",
      h.shell_quote(src .. "/lua/?.lua;" .. src .. "/lua/?/init.lua"), h.shell_quote(build .. "/luajit/?.so"),
      h.shell_quote('require "triton"')))
    assert.is_false(ok)
    assert.matches("triton needs Lua 5.3, 5.4 or LuaJIT 2.1 (this is PUC Lua 5.1)", out, 1, true)
    assert.is_nil(out:find("undefined symbol", 1, true))
  end)
end)
