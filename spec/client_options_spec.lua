-- Client options against the reference server: compression both ways,
-- round-robin balancing over two gRPC servers, the verbose wire log (with
-- credentials redacted), max_response_size, every fault mode on every kind of
-- call, and triton.session (the host's lazily connected global `client`).
local h = require "support.harness"
local triton = h.triton()
local session = require "triton.session"

local shell_quote = h.shell_quote

-- Runs Lua code in the tritonlua host (a separate process, so that its stderr
-- can be read) and returns everything it wrote on stdout and stderr, and
-- whether it exited successfully. env: extra environment variables.
local function run_host(code, env)
  local host = os.getenv("TRITONLUA")
  assert(host and host ~= "", "TRITONLUA (the tritonlua binary) must be set to run this spec")
  local prefix = ""
  for k, v in pairs(env or {}) do prefix = prefix .. k .. "=" .. shell_quote(v) .. " " end
  return h.command(prefix .. shell_quote(host) .. " -e " .. shell_quote(code) .. " 2>&1")
end

local function lines_matching(text, pattern)
  local found = {}
  for line in text:gmatch("[^\n]+") do
    if line:find(pattern) then found[#found + 1] = line end
  end
  return found
end

local function ramp(n, dtype)
  return triton.arange(0, n, 1, dtype or "FP32")
end

local function success_count(c, model)
  local st = c:inference_statistics(model).model_stats[1]
  return st.inference_stats.success.count
end

-- ---- compression -------------------------------------------------------------------

h.transports(function(proto, url)
  describe("compression", function()
    -- Over gRPC the server picks how to compress its replies, so the option
    -- cannot apply there and raises (see below).
    local function reply_alg(alg) return proto == "http" and alg or nil end

    if proto == "grpc" then
      it("refuses response_compression, which cannot apply to gRPC", function()
        local err = h.error_of(triton.connect, url, { response_compression = "gzip" })
        assert.equal("invalid_argument", err.code)
        assert.matches("response_compression does not apply to gRPC clients", err.message)
      end)
    end

    for _, alg in ipairs { "gzip", "deflate" } do
      it(alg .. " requests and replies carry values intact", function()
        local c = h.closing(triton.connect(url, { compression = alg, response_compression = reply_alg(alg) }))
        local x = ramp(100000)
        local r = c:infer("identity_fp32", { INPUT0 = x })
        assert.is_true(triton.allclose(x, r:as_tensor("OUTPUT0"), 0, 0))
        -- JSON inputs and outputs compress too
        local s = triton.InferInput("INPUT0", { 3 }, "BYTES"):set_data({ "a", "b c", "" },
          { binary_data = false })
        r = c:infer("identity_bytes", { s }, {
          outputs = { triton.InferRequestedOutput("OUTPUT0", { binary_data = false }) } })
        assert.same({ "a", "b c", "" }, r:as_tensor("OUTPUT0"):totable())
      end)

      it(alg .. " leaves every other call working (only infer bodies are compressed)", function()
        local c = h.closing(triton.connect(url, { compression = alg, response_compression = reply_alg(alg) }))
        assert.is_true(#c:model_repository_index() > 10)
        assert.is_true(#c:model_repository_index { ready = true } > 10)
        c:load_model("simple_int8", { config = { max_batch_size = 4 } })
        assert.equal(4, c:model_config("simple_int8").max_batch_size)
        c:load_model("simple_int8")
        assert.equal(8, c:model_config("simple_int8").max_batch_size)
        assert.equal("a b", c:generate("echo_llm", { text_input = "a b" }).text_output)
        local text = {}
        for ev in c:generate_stream("echo_llm", { text_input = "x y" }) do
          text[#text + 1] = ev.text_output
        end
        assert.equal("x y", table.concat(text))
        c:update_log_settings { log_verbose_level = 0 }
        local region = h.closing(triton.shm.create("comp_" .. alg, h.shm_key("comp"), 64))
        c:register_system_shared_memory(region.name, region.key, region.byte_size)
        c:unregister_system_shared_memory(region.name)
      end)
    end

    if proto == "http" then
      it("the server receives compressed bodies and sends compressed replies", function()
        local code = ([[
          local triton = require "triton"
          local c = triton.connect(%q, {compression = "gzip", response_compression = "deflate",
                                        verbose = true})
          local r = c:infer("identity_int32", {INPUT0 = triton.zeros({100000}, "INT32")})
          assert(r:as_tensor("OUTPUT0"):sum() == 0)
          print("DONE")
        ]]):format(url)
        local out, ok = run_host(code)
        assert.is_true(ok, out)
        assert.matches("DONE", out)
        -- the request: gzip'd, far smaller than its 400000 tensor bytes
        assert.equal(1, #lines_matching(out, "^> Content%-Encoding: gzip$"), out)
        local sent = tonumber(out:match("> POST [^\n]*/infer %((%d+) bytes%)"))
        assert.is_number(sent, out)
        assert.is_true(sent < 10000, out)
        -- the reply: deflated by the server, inflated by the client
        assert.equal(1, #lines_matching(out, "^< Content%-Encoding: deflate$"), out)
        local wire = tonumber(out:match("< Content%-Length: (%d+)"))
        local body = tonumber(out:match("< POST [^\n]*/infer: HTTP 200, (%d+) bytes"))
        assert.is_true(wire < 10000 and body > 400000, out)
      end)
    else
      it("messages go out compressed (gRPC's compression trace shows it)", function()
        local code = ([[
          local triton = require "triton"
          local c = triton.connect(%q, {compression = "gzip"})
          local r = c:infer("identity_int32", {INPUT0 = triton.zeros({100000}, "INT32")})
          assert(r:as_tensor("OUTPUT0"):sum() == 0)
          print("DONE")
        ]]):format(url)
        local out, ok = run_host(code, { GRPC_TRACE = "compression", GRPC_VERBOSITY = "DEBUG" })
        assert.is_true(ok, out)
        assert.matches("DONE", out)
        local from, to = out:match("Compressed%[gzip%] (%d+) bytes vs%. (%d+) bytes")
        assert.is_truthy(from, out)
        assert.is_true(tonumber(from) > 400000 and tonumber(to) < 10000, out)
      end)
    end
  end)
end)

-- ---- round robin -------------------------------------------------------------------------

describe("gRPC channel_args", function()
  it("a key the caller gives wins over the library's own setting", function()
    -- the library sets grpc.max_receive_message_length to max_response_size; the
    -- caller's 100 bytes must be what gRPC enforces
    local c = h.closing(triton.connect(h.server().grpc_url,
      { channel_args = { ["grpc.max_receive_message_length"] = 100 } }))
    local err = h.error_of(c.infer, c, "identity_fp32", { INPUT0 = triton.zeros({ 1000 }, "FP32") })
    assert.equal("resource_exhausted", err.code)
    assert.is_true(c:is_server_live())
  end)

  -- The server fails only the first request that carries a key (x-fault
  -- status-once), so a call that succeeds was retried by someone.
  local keys = 0
  local function once_unavailable()
    keys = keys + 1
    local key = ("retry-%d-%d-%d"):format(os.time(), math.random(1073741824), keys)
    return { headers = { ["x-fault"] = "status-once=14:" .. key } }, key
  end
  local inputs = { INPUT0 = triton.tensor({ 7 }, "INT32") }

  -- gRPC's retry layer is off by default (a cost cut: it retries nothing
  -- without a retryPolicy either), so the next test is what guards the switch.
  it("an unavailable reply reaches the caller: nothing retries it unasked", function()
    local c = h.closing(triton.connect(h.server().grpc_url))
    local opts = once_unavailable()
    local err = h.error_of(c.infer, c, "identity_int32", inputs, opts)
    assert.equal("unavailable", err.code)
    -- the same key again is answered: the fault was the server's, once
    assert.equal(7, c:infer("identity_int32", inputs, opts):as_tensor("OUTPUT0")[1])
  end)

  it("a grpc.service_config with a retryPolicy turns it back on", function()
    local config = [[{"methodConfig": [{"name": [{"service": "inference.GRPCInferenceService"}],
      "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
      "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}]]
    local c = h.closing(triton.connect(h.server().grpc_url,
      { channel_args = { ["grpc.service_config"] = config } }))
    local r = c:infer("identity_int32", inputs, (once_unavailable()))
    assert.equal(7, r:as_tensor("OUTPUT0")[1])
  end)
end)

describe("two gRPC servers with round_robin", function()
  local second
  setup(function() second = h.start_private() end)
  teardown(function() h.stop_private(second) end)

  it("both serve requests", function()
    local first = h.server()
    local a = h.closing(triton.connect(first.grpc_url))
    local b = h.closing(triton.connect(second.grpc_url))
    local model = "identity_int16"
    local a0, b0 = success_count(a, model), success_count(b, model)
    local target = ("ipv4:127.0.0.1:%d,127.0.0.1:%d"):format(first.grpc_port, second.grpc_port)
    local c = h.closing(triton.connect(target, {
      protocol = "grpc", channel_args = { ["grpc.lb_policy_name"] = "round_robin" } }))
    -- round_robin sends only to connected servers: until the second connection
    -- is up (later on a loaded machine), the first takes every call. Count from
    -- the moment both have served one.
    for _ = 1, 1000 do
      if success_count(a, model) > a0 and success_count(b, model) > b0 then break end
      c:infer(model, { INPUT0 = triton.tensor({ 0 }, "INT16") })
    end
    a0, b0 = success_count(a, model), success_count(b, model)
    local n = 20
    for i = 1, n do
      local r = c:infer(model, { INPUT0 = triton.tensor({ i }, "INT16") })
      assert.equal(i, r:as_tensor("OUTPUT0")[1])
    end
    local da, db = success_count(a, model) - a0, success_count(b, model) - b0
    assert.equal(n, da + db)
    assert.is_true(da >= n / 4 and db >= n / 4, ("first served %d, second %d"):format(da, db))
  end)

  it("without round_robin one server takes every request (pick_first)", function()
    local first = h.server()
    local a = h.closing(triton.connect(first.grpc_url))
    local b = h.closing(triton.connect(second.grpc_url))
    local model = "identity_int16"
    local a0, b0 = success_count(a, model), success_count(b, model)
    local target = ("ipv4:127.0.0.1:%d,127.0.0.1:%d"):format(first.grpc_port, second.grpc_port)
    local c = h.closing(triton.connect(target, { protocol = "grpc" }))
    for i = 1, 6 do c:infer(model, { INPUT0 = triton.tensor({ i }, "INT16") }) end
    local da, db = success_count(a, model) - a0, success_count(b, model) - b0
    assert.equal(6, da + db)
    assert.is_true(da == 0 or db == 0)
  end)
end)

-- ---- verbose ---------------------------------------------------------------------------------

h.transports(function(proto, url)
  describe("verbose", function()
    it("logs method, URL, status and sizes on stderr, with credentials redacted", function()
      local code = ([[
        local triton = require "triton"
        local c = triton.connect(%q, {verbose = true,
          headers = {Authorization = "Bearer TOPSECRET1", ["X-Trace"] = "visible-value"}})
        assert(c:is_server_live({headers = {["x-api-key"] = "TOPSECRET2"}}))
        local r = c:infer("identity_int32", {INPUT0 = triton.tensor({1, 2, 3}, "INT32")})
        assert(r:as_tensor("OUTPUT0")[3] == 3)
        local ok = pcall(c.model_metadata, c, "no_such_model")
        assert(not ok)
        io.stdout:write("STDOUT-DONE\n")
      ]]):format(url)
      local out, ok = run_host(code)
      assert.is_true(ok, out)
      assert.matches("STDOUT%-DONE", out)
      assert.is_nil(out:find("TOPSECRET", 1, true), out)
      assert.matches("visible%-value", out)
      if proto == "http" then
        assert.equal(1, #lines_matching(out, "^> GET http://[%d.:]+/v2/health/live %(0 bytes%)$"), out)
        assert.equal(1, #lines_matching(out,
          "^< GET http://[%d.:]+/v2/health/live: HTTP 200, 0 bytes, [%d.]+ ms$"), out)
        assert.equal(1, #lines_matching(out,
          "^> POST http://[%d.:]+/v2/models/identity_int32/infer %(%d+ bytes%)$"), out)
        assert.equal(1, #lines_matching(out, "^< POST [^ ]+/infer: HTTP 200, %d+ bytes"), out)
        assert.equal(1, #lines_matching(out,
          "^< GET [^ ]+/v2/models/no_such_model: HTTP 404, %d+ bytes, [%d.]+ ms, error: "), out)
        assert.equal(3, #lines_matching(out, "^> Authorization: %[redacted%]$"), out)
        assert.equal(1, #lines_matching(out, "^> x%-api%-key: %[redacted%]$"), out)
      else
        assert.equal(1, #lines_matching(out, "^grpc: channel to [%d.:]+ %(plaintext%)$"), out)
        assert.equal(1, #lines_matching(out,
          "^grpc > [%d.:]+ /inference%.GRPCInferenceService/ServerLive %(0 bytes%)$"), out)
        assert.equal(1, #lines_matching(out,
          "^grpc < [%d.:]+ /inference%.GRPCInferenceService/ServerLive: OK, %d+ bytes, [%d.]+ ms$"), out)
        assert.equal(1, #lines_matching(out,
          "^grpc > [%d.:]+ /inference%.GRPCInferenceService/ModelInfer %(%d+ bytes%)$"), out)
        assert.equal(1, #lines_matching(out, "^grpc < [^ ]+ [^ ]+/ModelMetadata: NOT_FOUND, "), out)
        assert.equal(3, #lines_matching(out, "^grpc > authorization: %[redacted%]$"), out)
        assert.equal(1, #lines_matching(out, "^grpc > x%-api%-key: %[redacted%]$"), out)
      end
    end)

    it("is silent when off", function()
      local code = ([[
        local triton = require "triton"
        local c = triton.connect(%q, {headers = {Authorization = "Bearer TOPSECRET1"}})
        assert(c:is_server_live())
      ]]):format(url)
      local out, ok = run_host(code)
      assert.is_true(ok, out)
      assert.equal("", out)
    end)
  end)
end)

-- ---- max_response_size ---------------------------------------------------------------------

h.transports(function(proto, url)
  describe("max_response_size", function()
    it("fails a larger reply cleanly, then the same client succeeds", function()
      local c = h.closing(triton.connect(url, { max_response_size = 4096 }))
      local err = h.error_of(c.infer, c, "identity_int32", { INPUT0 = triton.zeros({ 4096 }, "INT32") })
      assert.equal("resource_exhausted", err.code)
      if proto == "http" then
        assert.matches("larger than max_response_size %(4096 bytes%)", err.message)
      else
        assert.equal("RESOURCE_EXHAUSTED", err.status)
        assert.matches("larger than max", err.message)
      end
      local r = c:infer("identity_int32", { INPUT0 = triton.tensor({ 7, 8 }, "INT32") })
      assert.same({ 7, 8 }, r:as_tensor("OUTPUT0"):totable())
      -- control-plane replies are bounded too
      local small = h.closing(triton.connect(url, { max_response_size = 64 }))
      assert.equal("resource_exhausted", h.error_of(small.model_config, small, "simple").code)
      assert.is_true(small:is_server_live())
    end)

    if proto == "http" then
      it("bounds the decompressed size, not only the bytes on the wire", function()
        local c = h.closing(triton.connect(url,
          { max_response_size = 100000, response_compression = "gzip" }))
        -- zeros: a few hundred bytes on the wire, 400000 once inflated
        local err = h.error_of(c.infer, c, "identity_int32", { INPUT0 = triton.zeros({ 100000 }, "INT32") })
        assert.equal("resource_exhausted", err.code)
        assert.equal(0, c:infer("identity_int32", { INPUT0 = triton.zeros({ 1000 }, "INT32") })
          :as_tensor("OUTPUT0"):sum())
      end)
    end
  end)
end)

-- ---- every fault mode on every kind of call --------------------------------------------------

h.transports(function(proto, url)
  describe("fault modes on every kind of call", function()
    local c
    setup(function() c = triton.connect(url, { network_timeout = 20 }) end)
    teardown(function() c:close() end)

    local calls = {
      is_server_live = function(o) return c:is_server_live(o) end,
      server_metadata = function(o) return c:server_metadata(o).name end,
      model_config = function(o) return c:model_config("simple", o).name end,
      model_repository_index = function(o) return #c:model_repository_index(o) end,
      infer_one_output = function(o)
        return c:infer("identity_int32", { INPUT0 = triton.tensor({ 5, 6 }, "INT32") }, o)
          :as_tensor("OUTPUT0")[2]
      end,
      generate = function(o) return c:generate("echo_llm", { text_input = "a b c" }, o).text_output end,
      generate_stream = function(o)
        local text = {}
        for ev in c:generate_stream("echo_llm", { text_input = "a b c" }, o) do
          text[#text + 1] = ev.text_output
        end
        return table.concat(text)
      end,
    }
    local expected = {
      is_server_live = true, server_metadata = "triton", model_config = "simple",
      infer_one_output = 6, generate = "a b c", generate_stream = "a b c",
    }
    local function healthy()
      assert.equal("triton", c:server_metadata().name)
      assert.equal(6, calls.infer_one_output())
    end

    -- Faults that break every reply of these kinds, per transport; the others
    -- (bad-length, bad-binary-size, huge on a call without tensors) may leave a
    -- reply intact, and must then give the right value.
    local always = {
      http = { close = true, truncate = true, garbage = true, huge = true, ["status=503"] = true },
      grpc = { close = true, truncate = true, garbage = true, ["status=14"] = true },
    }
    local faults = { "close", "truncate", "bad-length", "bad-binary-size", "garbage", "huge",
      proto == "http" and "status=503" or "status=14" }
    local names = { "is_server_live", "server_metadata", "model_config", "model_repository_index",
      "infer_one_output", "generate", "generate_stream" }
    for _, fault in ipairs(faults) do
      for _, name in ipairs(names) do
        it(fault .. " on " .. name .. ": a clear error or the right value, then success", function()
          local o = { headers = { ["x-fault"] = fault } }
          local ok, v = pcall(calls[name], o)
          if ok then
            -- HTTP reads any status of a health call as a boolean, as Triton's clients
            -- do, and a health reply's body is not read (garbage there is harmless)
            local health_status = proto == "http" and name == "is_server_live" and
              fault:match("^status=") ~= nil
            local benign = not always[proto][fault] or health_status or
              (proto == "http" and name == "is_server_live" and fault == "garbage")
            assert.is_true(benign, fault .. " on " .. name .. " succeeded with " .. tostring(v))
            if health_status then
              assert.is_false(v)
            elseif expected[name] ~= nil then
              assert.equal(expected[name], v)
            end
          else
            assert.equal(triton.Error, getmetatable(v), tostring(v))
            assert.not_equal("ok", v.code)
            assert.is_true(#v.message > 0)
          end
          healthy()
        end)
      end
    end

    it("each fault on infer of a tensor-carrying reply is an error", function()
      for _, fault in ipairs(faults) do
        local ok, v = pcall(calls.infer_one_output, { headers = { ["x-fault"] = fault } })
        assert.is_false(ok, fault .. " gave " .. tostring(v))
        assert.equal(triton.Error, getmetatable(v))
        healthy()
      end
    end)

    it("delay=MS delays every kind of call", function()
      for _, name in ipairs(names) do
        local t0 = triton.now()
        local v = calls[name] { headers = { ["x-fault"] = "delay=200" } }
        assert.is_true(triton.now() - t0 >= 0.18, name)
        if expected[name] ~= nil then assert.equal(expected[name], v) end
      end
    end)

    it("an unknown fault is an invalid_argument error naming it", function()
      local err = h.error_of(c.server_metadata, c, { headers = { ["x-fault"] = "explode" } })
      assert.equal("invalid_argument", err.code)
      assert.matches("unknown x%-fault 'explode'", err.message)
    end)

    if proto == "grpc" then
      it("faults on a stream end it with an error or reach the callback, then streams work", function()
        local stream_faults = { "close", "truncate", "bad-length", "bad-binary-size", "garbage",
          "huge", "status=14" }
        local inputs = { IN = triton.tensor({ 1, 2, 3 }, "INT32"),
          DELAY = triton.tensor({ 0, 0, 0 }, "UINT32"), WAIT = triton.tensor({ 0 }, "UINT32") }
        for _, fault in ipairs(stream_faults) do
          local results, errors = 0, {}
          c:start_stream(function(_, err)
            if err then errors[#errors + 1] = err else results = results + 1 end
          end, { headers = { ["x-fault"] = fault } })
          c:async_stream_infer("repeat_int32", inputs, { request_id = fault })
          c:stop_stream() -- waits for the stream's end
          assert.is_true(#errors >= 1, fault .. ": no error reached the callback (" .. results ..
            " results)")
          for _, e in ipairs(errors) do
            assert.equal(triton.Error, getmetatable(e))
            assert.is_true(#e.message > 0)
          end
          local n = 0
          for r in c:stream_infer("repeat_int32", inputs) do
            n = n + 1
            assert.equal(n, r:as_tensor("OUT")[1])
          end
          assert.equal(3, n)
        end
      end)
    end
  end)
end)

-- ---- triton.session --------------------------------------------------------------------------

describe("triton.session", function()
  local url
  setup(function() url = h.server().http_url end)

  it("connects env.client on first access, once", function()
    local env = {}
    session.install(env, url, { ["x-test"] = "1" }, false)
    assert.is_nil(rawget(env, "client"))
    local c = env.client
    assert.equal("triton.Client", getmetatable(c).__name)
    assert.equal(url, c.url)
    assert.equal("http", c.protocol)
    assert.equal(c, rawget(env, "client"))
    assert.equal(c, env.client)
    assert.is_true(env.client:is_server_live())
    c:close()
  end)

  it("connects gRPC URLs too", function()
    local env = {}
    session.install(env, h.server().grpc_url)
    assert.equal("grpc", env.client.protocol)
    assert.is_true(env.client:is_server_ready())
    env.client:close()
  end)

  it("keeps other lookups of env working, including an earlier __index", function()
    local env = setmetatable({}, { __index = { print = print, answer = 42 } })
    session.install(env, url)
    assert.equal(42, env.answer)
    assert.equal(print, env.print)
    assert.is_nil(env.nothing)
    local plain = session.install({}, url)
    assert.is_nil(plain.nothing)
  end)

  it("a user's own `client` wins and never connects", function()
    local env = { client = "mine" }
    session.install(env, "bogus://nowhere")
    assert.equal("mine", env.client)
  end)

  it("raises a clear error at first use when the client cannot be made, and retries", function()
    local env = {}
    session.install(env, "bogus://nowhere:1")
    local ok, err = pcall(function() return env.client end)
    assert.is_false(ok)
    assert.matches("cannot connect the global 'client' to bogus://nowhere:1: ", tostring(err))
    assert.matches("unsupported URL scheme 'bogus'", tostring(err))
    assert.is_nil(rawget(env, "client"))
    assert.is_false(pcall(function() return env.client end))
  end)

  it("keeps the code of a triton.Error raised while connecting", function()
    local env = {}
    session.install(env, "https://127.0.0.1:1", nil, nil)
    -- an unreadable CA file cannot be given through install; a bad header can
    local env2 = {}
    session.install(env2, url, { ["bad header"] = "x" })
    local ok, err = pcall(function() return env2.client end)
    assert.is_false(ok)
    assert.matches("cannot connect the global 'client' to " .. url:gsub("%p", "%%%0"), tostring(err))
    if getmetatable(err) == triton.Error then assert.equal("invalid_argument", err.code) end
    -- connecting is lazy: a server that is down fails at the first call, not at install
    local c = env.client
    assert.equal("unavailable", h.error_of(c.is_server_live, c).code)
    c:close()
  end)

  it("checks its arguments", function()
    assert.has_error(function() session.install(nil, url) end,
      "bad argument #1 to 'install' (table expected, got nil)")
    assert.has_error(function() session.install({}, "") end,
      "bad argument #2 to 'install' (non-empty string expected, got an empty string)")
    assert.has_error(function() session.install({}, url, "x") end,
      "bad argument #3 to 'install' (table expected, got string)")
    assert.has_error(function() session.install({}, url, nil, 1) end,
      "bad argument #4 to 'install' (boolean expected, got number)")
  end)

  it("passes verbose through", function()
    local code = ([[
      local env = {}
      require("triton.session").install(env, %q, {Authorization = "Bearer TOPSECRET"}, true)
      assert(env.client:is_server_live())
    ]]):format(url)
    local out, ok = run_host(code)
    assert.is_true(ok, out)
    assert.matches("> GET [^\n]*/v2/health/live", out)
    assert.matches("> Authorization: %[redacted%]", out)
    assert.is_nil(out:find("TOPSECRET", 1, true))
  end)

  describe("model_names", function()
    it("lists the repository's models, sorted", function()
      local c = h.closing(triton.connect(url))
      local names = session.model_names(c)
      assert.is_true(#names > 10)
      local sorted = {}
      for i, n in ipairs(names) do sorted[i] = n end
      table.sort(sorted)
      assert.same(sorted, names)
      local set = {}
      for _, n in ipairs(names) do set[n] = true end
      assert.is_true(set.simple and set.identity_fp32 and set.echo_llm)
    end)

    it("caches the list briefly, per client", function()
      local calls = 0
      local fake = { model_repository_index = function()
        calls = calls + 1
        return { { name = "b" }, { name = "a" }, { name = "a" } }
      end }
      assert.same({ "a", "b" }, session.model_names(fake))
      assert.same({ "a", "b" }, session.model_names(fake))
      assert.equal(1, calls)
      local saved = session.cache_seconds
      session.cache_seconds = 0
      session.model_names(fake)
      session.cache_seconds = saved
      assert.equal(2, calls)
    end)

    it("never raises: an empty list, or the last known one", function()
      assert.same({}, session.model_names(nil))
      local down = h.closing(triton.connect("http://127.0.0.1:1"))
      assert.same({}, session.model_names(down))
      local fail = false
      local flaky = { model_repository_index = function()
        if fail then error("down") end
        return { { name = "m" } }
      end }
      assert.same({ "m" }, session.model_names(flaky))
      fail = true
      local saved = session.cache_seconds
      session.cache_seconds = 0
      assert.same({ "m" }, session.model_names(flaky))
      session.cache_seconds = saved
    end)
  end)
end)
