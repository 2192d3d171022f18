-- TLS: https:// and grpcs:// against reference servers started with --tls and
-- certificates this spec makes with openssl (spec/support/tls.lua): a CA and a
-- server certificate it signed for localhost / 127.0.0.1, one for another host
-- name and one signed by a CA the client does not trust.
local h = require "support.harness"
local tls = require "support.tls"
local triton = h.triton()

local certs, good, wrong_name, other_ca, mutual

local function url_of(server, proto, host)
  local port = proto == "http" and server.http_port or server.grpc_port
  return (proto == "http" and "https" or "grpcs") .. "://" .. (host or "127.0.0.1") .. ":" .. port
end

local function plain_url_of(server, proto)
  local port = proto == "http" and server.http_port or server.grpc_port
  return proto .. "://127.0.0.1:" .. port
end

local function is_tls_error(err)
  assert.equal("unavailable", err.code)
  assert.matches("^TLS failure: ", err.message)
  local m = err.message:lower()
  assert.is_truthy(m:find("certificate", 1, true) or m:find("ssl", 1, true),
    "the message names the certificate or SSL: " .. err.message)
end

local function infer_simple(c)
  local a = {}
  for i = 1, 16 do a[i] = i end
  local t = triton.tensor({ a }, "INT32")
  local r = c:infer("simple", { INPUT0 = t, INPUT1 = t })
  assert.equal(32, r:as_tensor("OUTPUT0"):get(1, 16))
  assert.equal(0, r:as_tensor("OUTPUT1"):get(1, 16))
end

describe("TLS", function()
  setup(function()
    certs = tls.make()
    good = h.start_private { "--tls", certs.cert, certs.key }
    wrong_name = h.start_private { "--tls", certs.wrong_name_cert, certs.wrong_name_key }
    other_ca = h.start_private { "--tls", certs.other_ca_cert, certs.other_ca_key }
    mutual = h.start_private { "--tls", certs.cert, certs.key, "--tls-client-ca", certs.ca }
  end)
  teardown(function()
    for _, s in ipairs { good, wrong_name, other_ca, mutual } do h.stop_private(s) end
    tls.cleanup(certs)
  end)

  for _, proto in ipairs(h.protocols) do
    describe("over " .. proto, function()
      it("verifies the server against ssl.ca_file, by IP and by host name", function()
        for _, host in ipairs { "127.0.0.1", "localhost" } do
          local c = h.closing(triton.connect(url_of(good, proto, host), { ssl = { ca_file = certs.ca } }))
          assert.equal(proto, c.protocol)
          assert.is_true(c:is_server_live())
          assert.equal("triton", c:server_metadata().name)
          infer_simple(c)
        end
      end)

      it("streams over TLS", function()
        local c = h.closing(triton.connect(url_of(good, proto), { ssl = { ca_file = certs.ca } }))
        local text = {}
        for ev in c:generate_stream("echo_llm", { text_input = "one two three", stream = true }) do
          text[#text + 1] = ev.text_output
        end
        assert.same({ "one", " two", " three" }, text)
        if proto == "grpc" then
          local n = 0
          for r in c:stream_infer("repeat_int32", {
            IN = triton.tensor({ 4, 5 }, "INT32"), DELAY = triton.tensor({ 0, 0 }, "UINT32"),
            WAIT = triton.tensor({ 0 }, "UINT32"),
          }) do
            n = n + 1
            assert.equal(n + 3, r:as_tensor("OUT")[1])
          end
          assert.equal(2, n)
        end
      end)

      it("fails verification without ssl.ca_file: a clear unavailable error", function()
        local c = h.closing(triton.connect(url_of(good, proto)))
        is_tls_error(h.error_of(c.is_server_live, c))
        -- the client stays usable: the same failure again, not a crash
        is_tls_error(h.error_of(c.server_metadata, c))
      end)

      it("skips verification with ssl.insecure = true", function()
        local c = h.closing(triton.connect(url_of(good, proto), { ssl = { insecure = true } }))
        assert.is_true(c:is_server_live())
        infer_simple(c)
      end)

      it("refuses a certificate for another host name, then a healthy server works", function()
        local c = h.closing(triton.connect(url_of(wrong_name, proto), { ssl = { ca_file = certs.ca } }))
        local err = h.error_of(c.infer, c, "simple", { INPUT0 = triton.zeros({ 1, 16 }, "INT32"),
          INPUT1 = triton.zeros({ 1, 16 }, "INT32") })
        is_tls_error(err)
        assert.is_truthy(err.message:find("127.0.0.1", 1, true), err.message)
        is_tls_error(h.error_of(c.is_server_live, c))
        local ok = h.closing(triton.connect(url_of(good, proto), { ssl = { ca_file = certs.ca } }))
        infer_simple(ok)
        -- insecure skips the host name check too
        local any = h.closing(triton.connect(url_of(wrong_name, proto), { ssl = { insecure = true } }))
        assert.is_true(any:is_server_live())
      end)

      it("refuses a certificate from an untrusted CA, then a healthy server works", function()
        local c = h.closing(triton.connect(url_of(other_ca, proto), { ssl = { ca_file = certs.ca } }))
        is_tls_error(h.error_of(c.is_server_live, c))
        is_tls_error(h.error_of(c.model_config, c, "simple"))
        local ok = h.closing(triton.connect(url_of(good, proto), { ssl = { ca_file = certs.ca } }))
        infer_simple(ok)
      end)

      it("presents ssl.cert_file and ssl.key_file to a server that requires a client certificate",
        function()
          local c = h.closing(triton.connect(url_of(mutual, proto), { ssl = {
            ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key } }))
          assert.is_true(c:is_server_live())
          infer_simple(c)
        end)

      it("without a client certificate, or with one the server does not trust, fails cleanly",
        function()
          local cases = {
            { ca_file = certs.ca },
            { ca_file = certs.ca, cert_file = certs.other_ca_client_cert,
              key_file = certs.other_ca_client_key },
          }
          for _, ssl in ipairs(cases) do
            local c = h.closing(triton.connect(url_of(mutual, proto), { ssl = ssl }))
            local err = h.error_of(c.is_server_live, c, { timeout = 5 })
            assert.equal("unavailable", err.code, err.message)
            assert.is_true(#err.message > 0)
          end
          local ok = h.closing(triton.connect(url_of(mutual, proto), { ssl = {
            ca_file = certs.ca, cert_file = certs.client_cert, key_file = certs.client_key } }))
          infer_simple(ok)
        end)

      it("a plaintext client against a TLS server fails cleanly", function()
        local c = h.closing(triton.connect(plain_url_of(good, proto), { connection_timeout = 5 }))
        local err = h.error_of(c.server_metadata, c, { timeout = 5 })
        assert.is_string(err.code)
        assert.not_equal("ok", err.code)
        assert.is_true(#err.message > 0)
      end)

      it("a TLS client against a plaintext server fails cleanly", function()
        local s = h.server()
        local c = h.closing(triton.connect(url_of(s, proto), { ssl = { ca_file = certs.ca } }))
        local err = h.error_of(c.is_server_live, c)
        assert.equal("unavailable", err.code)
        assert.is_true(#err.message > 0)
        local plain = h.closing(triton.connect(s[proto .. "_url"]))
        assert.is_true(plain:is_server_live())
      end)

      it("a TLS file that cannot be read fails the connect, naming the option", function()
        local missing = certs.dir .. "/no_such.pem"
        for _, k in ipairs { "ca_file", "cert_file", "key_file" } do
          local ssl = { [k] = missing }
          if k == "cert_file" then ssl.key_file = certs.key end
          if k == "key_file" then ssl.cert_file = certs.cert end
          local ok, err = pcall(triton.connect, url_of(good, proto), { ssl = ssl })
          assert.is_false(ok)
          assert.matches("ssl%." .. k .. ": cannot open '.*no_such%.pem'", tostring(err))
        end
      end)
    end)
  end
end)
