-- The fault matrix: every way a server or the network can fail a call, over
-- both transports and each way of calling (sync, async future, stream). Each
-- fault gives a triton.Error with the code a caller can act on, within the
-- call's timeout, and the same client then succeeds against a healthy server.
--
-- Faults on the shared reference server come from its x-fault header
-- (docs/reference-server.md, "Faults"); the rest need servers of their own:
-- one killed with SIGKILL mid-request and mid-stream, a black hole that accepts
-- and never answers, a port with nothing behind it, TLS servers whose
-- certificate the client must refuse, replies above max_response_size.
local h = require "support.harness"
local f = require "support.faults"
local triton = h.triton()

-- The client-side timeout of every faulted call that is not about timeouts.
local CALL_TIMEOUT = 3

local function simple_inputs()
  local a = {}
  for i = 1, 16 do a[i] = i end
  local t = triton.tensor({ a }, "INT32")
  return { INPUT0 = t, INPUT1 = t }
end

-- The same client answers a healthy request correctly.
local function assert_healthy(c)
  local r = c:infer("simple", simple_inputs(), { client_timeout = CALL_TIMEOUT })
  assert.equal(2, r:as_tensor("OUTPUT0"):get(1, 1))
  assert.equal(0, r:as_tensor("OUTPUT1"):get(1, 16))
end

-- No test here bounds how long a call takes (this machine's timing is noisy);
-- the code says which way a call ended. A fault that ignored a timeout would
-- end in the server's own time with a different code (or none: a delayed
-- reply succeeds), and one that hung would be caught by ctest's time limit.
local function assert_error(err, code)
  assert.equal(triton.Error, getmetatable(err))
  assert.is_string(err.message)
  assert.is_true(#err.message > 0, "the error has an empty message")
  assert.equal(code, err.code, "code for: " .. tostring(err))
end

-- Per transport, the code each x-fault mode must give for an infer call, and
-- why. nil: the mode does not apply to this way of calling.
local infer_codes = {
  http = {
    close = "unavailable",                -- the connection drops with no answer
    truncate = "unavailable",             -- the connection drops inside the body
    ["bad-length"] = "protocol_error",    -- JSON header length beyond the body
    ["bad-binary-size"] = "protocol_error", -- binary sizes do not add up
    garbage = "protocol_error",           -- not JSON
    huge = "protocol_error",              -- an output claims 2^40 bytes
    ["status=503"] = "unavailable",
    ["status=500"] = "internal",
    ["status=404"] = "not_found",
    ["status=401"] = "unauthenticated",
  },
  grpc = {
    close = "unavailable",                -- RST_STREAM, read as the dropped call it is
    truncate = "protocol_error",          -- half a protobuf message
    ["bad-length"] = "protocol_error",    -- fewer raw_output_contents than outputs
    ["bad-binary-size"] = "protocol_error",
    garbage = "protocol_error",
    huge = "protocol_error",
    ["status=14"] = "unavailable",
    ["status=13"] = "internal",
    ["status=5"] = "not_found",
    ["status=16"] = "unauthenticated",
  },
}

-- HTTP generate_stream (server-sent events): the modes that act on it.
local sse_codes = {
  close = "unavailable",
  truncate = "unavailable", -- the last event is cut and the chunked body never ends
  garbage = "protocol_error",
  huge = "unavailable",     -- a chunk announces 2^40 bytes, then the connection closes
  ["status=503"] = "unavailable",
  ["status=500"] = "internal",
}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url, { connection_timeout = 2 }) end)
  teardown(function() c:close() end)

  local codes = infer_codes[proto]

  describe("x-fault on sync infer", function()
    for _, fault in ipairs(sorted_keys(codes)) do
      it(fault .. " -> " .. codes[fault] .. ", then the client works", function()
        local err = h.error_of(c.infer, c, "simple", simple_inputs(),
          { headers = { ["x-fault"] = fault }, client_timeout = CALL_TIMEOUT })
        assert_error(err, codes[fault])
        assert_healthy(c)
      end)
    end
  end)

  describe("x-fault on async_infer futures", function()
    for _, fault in ipairs(sorted_keys(codes)) do
      it(fault .. " -> " .. codes[fault] .. ", then the client works", function()
        local fut = c:async_infer("simple", simple_inputs(),
          { headers = { ["x-fault"] = fault }, client_timeout = CALL_TIMEOUT })
        local err = h.error_of(fut.get_result, fut)
        assert_error(err, codes[fault])
        assert.is_true(fut:done())
        -- A second get_result gives the same error again, not a crash or a hang.
        assert.equal(err.code, h.error_of(fut.get_result, fut).code)
        assert_healthy(c)
      end)
    end

    it("a faulted future does not disturb the ones in flight beside it", function()
      local futs = {}
      for i = 1, 6 do
        local o = { client_timeout = CALL_TIMEOUT }
        if i % 2 == 0 then o.headers = { ["x-fault"] = "garbage" } end
        futs[i] = c:async_infer("simple", simple_inputs(), o)
      end
      local err = h.error_of(triton.wait, futs)
      assert.equal("protocol_error", err.code)
      for i = 1, 6, 2 do
        assert.equal(2, futs[i]:get_result():as_tensor("OUTPUT0"):get(1, 1))
      end
    end)

    it("a callback gets the error as its second argument", function()
      local got_r, got_err, calls = nil, nil, 0
      local fut = c:async_infer("simple", simple_inputs(),
        { headers = { ["x-fault"] = "garbage" }, client_timeout = CALL_TIMEOUT },
        function(r, e) calls, got_r, got_err = calls + 1, r, e end)
      pcall(fut.get_result, fut)
      assert.equal(1, calls)
      assert.is_nil(got_r)
      assert.equal(triton.Error, getmetatable(got_err))
      assert.equal("protocol_error", got_err.code)
      assert_healthy(c)
    end)
  end)

  describe("x-fault on delay=MS past the call's timeout", function()
    it("sync infer is deadline_exceeded within the timeout", function()
      local err = h.error_of(c.infer, c, "simple", simple_inputs(),
        { headers = { ["x-fault"] = "delay=2000" }, client_timeout = 0.3 })
      assert_error(err, "deadline_exceeded")
      assert_healthy(c)
    end)

    it("a future is deadline_exceeded within the timeout", function()
      local fut = c:async_infer("simple", simple_inputs(),
        { headers = { ["x-fault"] = "delay=2000" }, client_timeout = 0.3 })
      local err = h.error_of(fut.get_result, fut)
      assert_error(err, "deadline_exceeded")
      assert_healthy(c)
    end)

    it("other methods honour a per-call timeout", function()
      local err = h.error_of(c.model_metadata, c, "simple",
        { headers = { ["x-fault"] = "delay=2000" }, timeout = 0.3 })
      assert_error(err, "deadline_exceeded")
      assert.is_true(c:is_server_live())
    end)
  end)

  describe("x-fault on calls other than infer", function()
    local meta_codes = proto == "http"
      and { close = "unavailable", garbage = "protocol_error", truncate = "unavailable",
        huge = "resource_exhausted", ["status=503"] = "unavailable" }
      or { close = "unavailable", garbage = "protocol_error", truncate = "protocol_error",
        ["status=14"] = "unavailable" }
    for _, fault in ipairs(sorted_keys(meta_codes)) do
      it("server_metadata: " .. fault .. " -> " .. meta_codes[fault], function()
        local err = h.error_of(c.server_metadata, c,
          { headers = { ["x-fault"] = fault }, timeout = CALL_TIMEOUT })
        assert_error(err, meta_codes[fault])
        assert.equal("triton", c:server_metadata().name)
      end)
    end

    -- The HTTP front answers a truncated health check with half of its header
    -- block ("HTTP/1.1 200 OK\r\n" and no blank line), then closes. libcurl
    -- accepts that as a complete 200 reply, so the client reports the server
    -- live on a reply that never finished. Known bug, see the report: the
    -- transport must see the end of the header block before it trusts the status.
    it("a health reply cut inside its headers is an error, not 'live'", function()
      local err = h.error_of(c.is_server_live, c,
        { headers = { ["x-fault"] = "truncate" }, timeout = CALL_TIMEOUT })
      assert_error(err, proto == "http" and "unavailable" or "protocol_error")
      assert.is_true(c:is_server_live())
    end)
  end)

  describe("x-fault on streams", function()
    if proto == "grpc" then
      for _, fault in ipairs(sorted_keys(codes)) do
        it("stream: " .. fault .. " -> " .. codes[fault] .. " in the callback", function()
          local responses, errors = 0, {}
          c:start_stream(function(r, err)
            if err then errors[#errors + 1] = err elseif r then responses = responses + 1 end
          end, { headers = { ["x-fault"] = fault }, stream_timeout = CALL_TIMEOUT })
          c:async_stream_infer("simple", simple_inputs())
          c:stop_stream()
          assert.equal(0, responses)
          assert.equal(1, #errors)
          assert_error(errors[1], codes[fault])
          -- The same client streams again, then infers.
          local n = 0
          c:start_stream(function(r, err)
            assert.is_nil(err)
            if r then n = n + 1 end
          end)
          c:async_stream_infer("simple", simple_inputs())
          c:stop_stream()
          assert.equal(1, n)
          assert_healthy(c)
        end)
      end

      it("stream: delay=MS past stream_timeout -> deadline_exceeded", function()
        local errors = {}
        c:start_stream(function(_, err) errors[#errors + 1] = err end,
          { headers = { ["x-fault"] = "delay=2000" }, stream_timeout = 0.3 })
        c:async_stream_infer("simple", simple_inputs())
        c:stop_stream()
        assert.equal(1, #errors)
        assert_error(errors[1], "deadline_exceeded")
        assert_healthy(c)
      end)
    else
      for _, fault in ipairs(sorted_keys(sse_codes)) do
        it("generate_stream: " .. fault .. " -> " .. sse_codes[fault], function()
          local err = h.error_of(function()
            for _ in c:generate_stream("echo_llm", { text_input = "a b c d" },
              { headers = { ["x-fault"] = fault }, timeout = CALL_TIMEOUT }) do
            end
          end)
          assert_error(err, sse_codes[fault])
          local words = {}
          for ev in c:generate_stream("echo_llm", { text_input = "a b c d", stream = true }) do
            words[#words + 1] = ev.text_output
          end
          assert.equal("a b c d", table.concat(words))
        end)
      end

      it("generate_stream: delay=MS past the timeout -> deadline_exceeded", function()
        local err = h.error_of(function()
          for _ in c:generate_stream("echo_llm", { text_input = "a" },
            { headers = { ["x-fault"] = "delay=2000" }, timeout = 0.3 }) do
          end
        end)
        assert_error(err, "deadline_exceeded")
        assert_healthy(c)
      end)
    end
  end)

  describe("replies larger than max_response_size", function()
    it("fail with resource_exhausted; smaller ones still pass", function()
      local small = triton.connect(url, { max_response_size = 4096 })
      local err = h.error_of(small.infer, small, "identity_fp32",
        { INPUT0 = triton.zeros({ 10000 }, "FP32") }, { client_timeout = CALL_TIMEOUT })
      assert_error(err, "resource_exhausted")
      local r = small:infer("identity_fp32", { INPUT0 = triton.ones({ 100 }, "FP32") })
      assert.equal(100, r:as_tensor("OUTPUT0"):sum())
      -- A future as well.
      local fut = small:async_infer("identity_fp32", { INPUT0 = triton.zeros({ 10000 }, "FP32") })
      assert.equal("resource_exhausted", h.error_of(fut.get_result, fut).code)
      small:close()
    end)
  end)
end)

-- ---- servers that die, never answer, or are not there ----------------------------

for _, proto in ipairs(h.protocols) do
  describe("over " .. proto, function()
    describe("a server killed with SIGKILL", function()
      local s, c
      before_each(function()
        s = f.server()
        c = triton.connect(s[proto .. "_url"], { connection_timeout = 2 })
        assert.is_true(c:is_server_live())
      end)
      after_each(function()
        c:close()
        f.stop(s)
      end)

      -- A new server on the same ports: the same client reconnects to it.
      local function restart()
        f.stop(s)
        s = f.server({ "--http-port", tostring(s.http_port), "--grpc-port", tostring(s.grpc_port) })
      end

      it("mid-request is unavailable long before the request's timeout", function()
        -- The kill comes from a shell in the background while infer blocks.
        os.execute(string.format("(sleep 0.3; kill -9 %d) >/dev/null 2>&1 &", s.pid))
        local err = h.error_of(c.infer, c, "slow",
          { INPUT0 = triton.tensor({ 5000 }, "INT32") }, { client_timeout = 10 })
        assert_error(err, "unavailable")
        restart()
        assert_healthy(c)
      end)

      it("mid-request fails a future the same way", function()
        local fut = c:async_infer("slow", { INPUT0 = triton.tensor({ 5000 }, "INT32") },
          { client_timeout = 10 })
        os.execute(string.format("(sleep 0.3; kill -9 %d) >/dev/null 2>&1 &", s.pid))
        local err = h.error_of(fut.get_result, fut)
        assert_error(err, "unavailable")
        restart()
        assert_healthy(c)
      end)

      it("mid-stream ends the stream with unavailable after the first response", function()
        if proto == "grpc" then
          local responses, errors = 0, {}
          c:start_stream(function(r, err)
            if err then errors[#errors + 1] = err
            elseif r then
              responses = responses + 1
              if responses == 1 then f.kill9(s) end
            end
          end, { stream_timeout = 10 })
          c:async_stream_infer("repeat_int32", {
            triton.InferInput("IN", { 3 }, "INT32"):set_data({ 1, 2, 3 }),
            triton.InferInput("DELAY", { 3 }, "UINT32"):set_data({ 0, 500, 500 }),
            triton.InferInput("WAIT", { 1 }, "UINT32"):set_data({ 0 }),
          })
          c:stop_stream()
          assert.equal(1, responses)
          assert.equal(1, #errors)
          assert_error(errors[1], "unavailable")
        else
          -- Known bug, see the report: generate_stream's iterator (client.lua
          -- step_until over core.step) sees events only when the whole stream
          -- has completed, so the kill comes after the last event and the loop
          -- ends without an error.
          local events = 0
          local err = h.error_of(function()
            for _ in c:generate_stream("repeat_int32",
              { IN = { 1, 2, 3 }, DELAY = { 0, 500, 500 }, WAIT = { 0 } }, { timeout = 10 }) do
              events = events + 1
              if events == 1 then f.kill9(s) end
            end
          end)
          assert.equal(1, events)
          assert_error(err, "unavailable")
        end
        restart()
        assert_healthy(c)
      end)
    end)

    describe("a server that accepts and never answers", function()
      local bh, healthy
      setup(function()
        bh = f.blackhole()
        healthy = triton.connect(h.server()[proto .. "_url"])
      end)
      teardown(function()
        healthy:close()
        f.stop(bh)
      end)

      -- HTTP: the request goes out and no reply comes: deadline_exceeded. gRPC:
      -- the HTTP/2 handshake never completes; the call fails at its deadline, or
      -- earlier with unavailable once the connect attempt times out
      -- (connection_timeout) and the channel turns to TRANSIENT_FAILURE.
      local function assert_timeout_error(err)
        if proto == "grpc" and err.code == "unavailable" then
          assert_error(err, "unavailable")
        else
          assert_error(err, "deadline_exceeded")
        end
      end

      it("sync calls end at the call's timeout", function()
        local c = triton.connect(proto .. "://127.0.0.1:" .. bh.port, { connection_timeout = 5 })
        local err = h.error_of(c.is_server_live, c, { timeout = 0.5 })
        assert_timeout_error(err)
        err = h.error_of(c.infer, c, "simple", simple_inputs(), { client_timeout = 0.5 })
        assert_timeout_error(err)
        c:close()
        assert_healthy(healthy)
      end)

      it("network_timeout bounds a call that has no timeout of its own", function()
        local c = triton.connect(proto .. "://127.0.0.1:" .. bh.port,
          { connection_timeout = 0.5, network_timeout = 0.5 })
        local err = h.error_of(c.server_metadata, c)
        assert_timeout_error(err)
        c:close()
        assert_healthy(healthy)
      end)

      it("a future ends at its timeout while a healthy client keeps working", function()
        local c = triton.connect(proto .. "://127.0.0.1:" .. bh.port, { connection_timeout = 5 })
        local stuck = c:async_infer("simple", simple_inputs(), { client_timeout = 0.8 })
        local good = healthy:async_infer("simple", simple_inputs())
        assert.equal(2, good:get_result():as_tensor("OUTPUT0"):get(1, 1))
        local err = h.error_of(stuck.get_result, stuck)
        assert_timeout_error(err)
        c:close()
      end)
    end)

    describe("a port with nothing listening", function()
      -- A connection timeout far past the call's: unavailable (not
      -- deadline_exceeded) can then come only from the refusal itself.
      it("is unavailable at once, for calls and futures", function()
        local c = triton.connect(proto .. "://127.0.0.1:" .. f.dead_port(),
          { connection_timeout = 60 })
        local err = h.error_of(c.is_server_live, c, { timeout = CALL_TIMEOUT })
        assert_error(err, "unavailable")
        local fut = c:async_infer("simple", simple_inputs(), { client_timeout = CALL_TIMEOUT })
        err = h.error_of(fut.get_result, fut)
        assert_error(err, "unavailable")
        c:close()
        local healthy = triton.connect(h.server()[proto .. "_url"])
        assert_healthy(healthy)
        healthy:close()
      end)
    end)

    describe("a TLS server whose certificate the client must refuse", function()
      local dir, tls, cert, other_cert
      local scheme = proto == "http" and "https" or "grpcs"
      setup(function()
        dir = f.tmpdir()
        local key
        cert, key = f.make_cert(dir, "localhost")
        other_cert = f.make_cert(dir, "localhost", "other")
        tls = f.server({ "--tls", cert, key })
      end)
      teardown(function()
        if tls then f.stop(tls) end
        f.rmdir(dir)
      end)

      local function refused(target, ssl)
        local c = triton.connect(scheme .. "://" .. target .. ":" .. tls[proto .. "_port"],
          { connection_timeout = 2, ssl = ssl })
        local err = h.error_of(c.is_server_live, c, { timeout = CALL_TIMEOUT })
        assert_error(err, "unavailable")
        err = h.error_of(c.infer, c, "simple", simple_inputs(), { client_timeout = CALL_TIMEOUT })
        assert.equal("unavailable", err.code)
        c:close()
      end

      it("self-signed, not in the trust store: unavailable", function()
        refused("localhost", nil)
      end)

      it("signed by a CA other than the one given in ssl.ca_file: unavailable", function()
        refused("localhost", { ca_file = other_cert })
      end)

      it("trusted but for another host name: unavailable", function()
        refused("127.0.0.1", { ca_file = cert })
      end)

      it("plaintext spoken to a TLS port: unavailable", function()
        local c = triton.connect(proto .. "://127.0.0.1:" .. tls[proto .. "_port"],
          { connection_timeout = 2 })
        local err = h.error_of(c.is_server_live, c, { timeout = CALL_TIMEOUT })
        assert_error(err, "unavailable")
        c:close()
      end)

      it("the right trust anchor and name work (the refusals above are the certificate's)",
        function()
          local c = triton.connect(scheme .. "://localhost:" .. tls[proto .. "_port"],
            { ssl = { ca_file = cert } })
          assert_healthy(c)
          c:close()
        end)
    end)
  end)
end
