-- Argument errors of the client's methods (issue 10, item 11): every options
-- table goes through the one options checker (core.args, src/lua/largs.c), so a
-- wrong value reads the same wherever it is passed, names the option as the user
-- wrote it (request_id, client_timeout, ssl.insecure) and points at the user's
-- own line, never into lua/triton. math.huge is "no limit" for every timeout.
local h = require "support.harness"
local triton = h.triton()
local HERE = debug.getinfo(1, "S").short_src

-- Calls `call` (a function defined on one line of this file) and checks that it
-- raises exactly "<this file>:<that line>: <want>".
local function expect_error(call, want)
  local ok, err = pcall(call)
  assert.is_false(ok, "the call succeeded")
  local line = debug.getinfo(call, "S").linedefined
  assert.are.equal(string.format("%s:%d: %s", HERE, line, want), err)
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)
  local inputs = { INPUT0 = triton.tensor({ 1 }, "INT32") }
  local inherited = setmetatable({}, { __index = { client_timeout = -1 } })

  describe("option errors", function()
    it("name the user's option and point at the user's line", function()
      local rows = {
        { function() return (c:infer("identity_int32", inputs, 5)) end,
          "bad argument #3 to 'infer' (options table expected, got 5)" },
        { function() return (c:infer("identity_int32", inputs, { timout = 1 })) end,
          "unknown option 'timout' in infer options (did you mean 'timeout'?)" },
        { function() return (c:infer("identity_int32", inputs, { client_timeout = -1 })) end,
          "bad option 'client_timeout' to 'infer' (number >= 0 expected, got -1)" },
        { function() return (c:infer("identity_int32", inputs, { client_timeout = 0 / 0 })) end,
          "bad option 'client_timeout' to 'infer' (finite number expected, got nan)" },
        { function() return (c:infer("identity_int32", inputs, { request_id = 5 })) end,
          "bad option 'request_id' to 'infer' (string expected, got 5)" },
        { function() return (c:infer("identity_int32", inputs, { headers = { a = {} } })) end,
          "bad option 'headers.a' to 'infer' (number or string expected, got table)" },
        { function() return (c:async_infer("identity_int32", inputs, { client_timeout = -1 })) end,
          "bad option 'client_timeout' to 'async_infer' (number >= 0 expected, got -1)" },
        { function() return (c:is_server_live { timeout = -1 }) end,
          "bad option 'timeout' to 'is_server_live' (number >= 0 expected, got -1)" },
        { function() return (c:model_metadata("simple", { timeout = 0 / 0 })) end,
          "bad option 'timeout' to 'model_metadata' (finite number expected, got nan)" },
        { function() return (c:model_repository_index { ready = 1 }) end,
          "bad option 'ready' to 'model_repository_index' (boolean expected, got 1)" },
        { function() return (triton.connect(url, { network_timeout = -1 })) end,
          "bad option 'network_timeout' to 'connect' (number >= 0 expected, got -1)" },
        { function() return (triton.connect(url, { concurrency = 0 })) end,
          "bad option 'concurrency' to 'connect' (integer >= 1 expected, got 0)" },
        { function() return (triton.connect(url, { ssl = { insecure = 1 } })) end,
          "bad option 'ssl.insecure' to 'connect' (boolean expected, got 1)" },
        { function() return (triton.connect(url, { compression = "zip" })) end,
          "bad option 'compression' to 'connect' (\"gzip\" or \"deflate\" expected, got \"zip\")" },
        { function() return (triton.wait({}, { timeout = -1 })) end,
          "bad option 'timeout' to 'wait' (number >= 0 expected, got -1)" },
        -- an option inherited through __index is checked as one set in the table
        { function() return (c:infer("identity_int32", inputs, inherited)) end,
          "bad option 'client_timeout' to 'infer' (number >= 0 expected, got -1)" },
      }
      if proto == "grpc" then -- streams need gRPC
        rows[#rows + 1] = {
          function() return (c:stream_infer("repeat_int32", inputs, { client_timeout = -1 })) end,
          "bad option 'client_timeout' to 'stream_infer' (number >= 0 expected, got -1)" }
      end
      for _, row in ipairs(rows) do expect_error(row[1], row[2]) end
    end)

    it("are taken from a metatable's __index as from the table, whichever way the call goes",
      function()
        local both = { INPUT0 = triton.zeros({ 1, 16 }, "INT32"), INPUT1 = triton.ones({ 1, 16 }, "INT32") }
        local function names(r)
          local out = {}
          for k in pairs(r:outputs()) do out[#out + 1] = k end
          return out
        end
        local base = { outputs = { "OUTPUT1" } }
        local opts = setmetatable({}, { __index = base }) -- read in C
        local split = setmetatable({ split = false }, { __index = base }) -- through client.lua
        for _, r in ipairs { c:infer("simple", both, opts), c:infer("simple", both, split),
          c:async_infer("simple", both, opts):get_result() } do
          assert.same({ "OUTPUT1" }, names(r))
        end
        local got
        assert.is_true(c:async_infer("simple", both, opts, function(r) got = names(r) end):wait(10))
        assert.same({ "OUTPUT1" }, got)
      end)

    it("take math.huge as no limit for every timeout", function()
      local c2 = triton.connect(url, { connection_timeout = math.huge, network_timeout = math.huge })
      assert.is_true(c2:is_server_live { timeout = math.huge })
      local f = c2:async_infer("identity_int32", inputs)
      assert.is_true(f:wait(math.huge))
      assert.equal(1, #triton.wait({ f }, { timeout = math.huge }))
      c2:close()
    end)
  end)
end)
