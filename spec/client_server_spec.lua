-- Clients: connecting, health, metadata, config, repository, statistics and
-- settings, over both transports against the reference server.
local h = require "support.harness"
local triton = h.triton()

h.transports(function(proto, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  describe("a client", function()
    it("knows its protocol and URL", function()
      assert.equal(proto, c.protocol)
      assert.equal(url, c.url)
    end)

    it("is made by triton.<proto>.client{url=} from host:port too", function()
      local hostport = url:gsub("^%a+://", "")
      local c2 = triton[proto].client { url = hostport }
      assert.equal(proto, c2.protocol)
      assert.is_true(c2:is_server_live())
      c2:close()
    end)

    it("is made by triton.connect(host:port, {protocol=})", function()
      local hostport = url:gsub("^%a+://", "")
      local c2 = triton.connect(hostport, { protocol = proto })
      assert.is_true(c2:is_server_ready())
      c2:close()
    end)

    h.only("5.4", "<close> syntax")("closes at the end of a <close> scope and then refuses calls", function()
      local outer = h.run_source([[
        local triton, url = ...
        local outer
        do
          local c2 <close> = triton.connect(url)
          outer = c2
          assert(c2:is_server_live())
        end
        return outer]], triton, url)
      assert.has_error(function() outer:is_server_live() end, "attempt to use a closed client")
    end)
  end)

  describe("health", function()
    it("reports the server live and ready", function()
      assert.is_true(c:is_server_live())
      assert.is_true(c:is_server_ready())
    end)
    it("reports model readiness, with and without a version", function()
      assert.is_true(c:is_model_ready("simple"))
      assert.is_true(c:is_model_ready("simple", "1"))
      assert.is_true(c:is_model_ready("simple", 1))
      assert.is_false(c:is_model_ready("no_such_model"))
    end)
  end)

  describe("metadata", function()
    it("describes the server", function()
      local m = c:server_metadata()
      assert.is_string(m.name)
      assert.is_string(m.version)
      assert.is_table(m.extensions)
      local has = {}
      for _, e in ipairs(m.extensions) do has[e] = true end
      assert.is_true(has.binary_tensor_data or has.system_shared_memory or #m.extensions > 0)
    end)
    it("describes a model", function()
      local m = c:model_metadata("simple")
      assert.equal("simple", m.name)
      assert.is_table(m.versions)
      assert.equal(2, #m.inputs)
      local names = {}
      for _, i in ipairs(m.inputs) do names[i.name] = i end
      assert.equal("INT32", names.INPUT0.datatype)
      assert.same({ -1, 16 }, names.INPUT0.shape)
      assert.equal(2, #m.outputs)
    end)
    it("gives the model config with snake_case names", function()
      local cfg = c:model_config("simple")
      assert.equal("simple", cfg.name)
      assert.equal(8, cfg.max_batch_size)
      assert.is_table(cfg.input)
      assert.equal("INPUT0", cfg.input[1].name)
      assert.equal("TYPE_INT32", cfg.input[1].data_type)
    end)
    it("lists the repository index, optionally only ready models", function()
      local idx = c:model_repository_index()
      assert.is_true(#idx > 5)
      local found
      for _, m in ipairs(idx) do
        if m.name == "simple" then found = m end
      end
      assert.is_table(found)
      assert.equal("READY", found.state)
      local ready = c:model_repository_index { ready = true }
      for _, m in ipairs(ready) do assert.equal("READY", m.state) end
    end)
  end)

  describe("model control", function()
    it("unloads and loads a model", function()
      c:unload_model("simple_int8")
      assert.is_false(c:is_model_ready("simple_int8"))
      c:load_model("simple_int8")
      assert.is_true(c:is_model_ready("simple_int8"))
    end)
    it("loads a model with a config override given as a table", function()
      local cfg = c:model_config("identity_int32")
      cfg.max_batch_size = 0
      cfg.parameters = nil
      c:load_model("identity_int32", { config = { name = "identity_int32", backend = cfg.backend,
        max_batch_size = 0, input = cfg.input, output = cfg.output } })
      assert.is_true(c:is_model_ready("identity_int32"))
      c:load_model("identity_int32")
    end)
    it("unloads with unload_dependents", function()
      c:unload_model("simple_string", { unload_dependents = true })
      assert.is_false(c:is_model_ready("simple_string"))
      c:load_model("simple_string")
      assert.is_true(c:is_model_ready("simple_string"))
    end)
  end)

  describe("statistics", function()
    it("reflect the calls made", function()
      local function count()
        local s = c:inference_statistics("simple")
        local m = s.model_stats[1]
        return m.inference_count or 0, m.inference_stats.success.count or 0
      end
      local n0, s0 = count()
      local t = triton.tensor({ { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } }, "INT32")
      c:infer("simple", { INPUT0 = t, INPUT1 = t })
      c:infer("simple", { INPUT0 = t, INPUT1 = t })
      local n1, s1 = count()
      assert.equal(n0 + 2, n1)
      assert.equal(s0 + 2, s1)
    end)
    it("cover every model without a name", function()
      local s = c:inference_statistics()
      assert.is_true(#s.model_stats > 1)
    end)
  end)

  describe("settings", function()
    it("reads and updates log settings", function()
      local s = c:log_settings()
      assert.is_not_nil(s.log_info)
      local u = c:update_log_settings { log_verbose_level = 2 }
      assert.equal(2, u.log_verbose_level)
      assert.equal(2, c:log_settings().log_verbose_level)
      c:update_log_settings { log_verbose_level = 0 }
    end)
    it("reads and updates trace settings, global and per model", function()
      local s = c:trace_settings()
      assert.is_table(s)
      local u = c:update_trace_settings({ trace_rate = "7" }, "simple")
      assert.same({ "7" }, type(u.trace_rate) == "table" and u.trace_rate or { u.trace_rate })
      assert.is_table(c:trace_settings("simple"))
    end)
    it("sends trace setting numbers as the text Triton's trace API takes", function()
      local u = c:update_trace_settings({ trace_rate = 5, trace_count = -1, log_frequency = { 0 } },
        "simple")
      assert.equal("5", u.trace_rate)
      assert.equal("-1", u.trace_count)
      assert.equal("0", u.log_frequency)
      assert.equal("5", c:trace_settings("simple").trace_rate)
      local back = c:update_trace_settings({ trace_rate = triton.json.null }, "simple")
      assert.equal(c:trace_settings().trace_rate, back.trace_rate)
    end)
    it("refuses a trace setting value that has no text, naming it", function()
      local err = h.error_of(c.update_trace_settings, c, { trace_rate = { x = 1 } })
      assert.equal("invalid_argument", err.code)
      assert.equal("trace setting 'trace_rate' must be a string, a number, a list of them or null,"
        .. " not a table", err.message)
      err = h.error_of(c.update_trace_settings, c, { trace_level = { "TIMESTAMPS", { 1 } } })
      assert.equal("trace setting 'trace_level' must be a string, a number, a list of them or"
        .. " null, not a list holding a list", err.message)
    end)
  end)

  describe("options", function()
    it("rejects unknown keys, naming them", function()
      assert.has_error(function() triton.connect(url, { timout = 1 }) end,
        "unknown option 'timout' in connect options")
      assert.has_error(function() c:server_metadata { timout = 1 } end,
        "unknown option 'timout' in server_metadata options (did you mean 'timeout'?)")
      assert.has_error(function() c:infer("simple", {}, { timout = 1 }) end,
        "unknown option 'timout' in infer options (did you mean 'timeout'?)")
    end)
    it("rejects wrong argument types, naming the argument", function()
      assert.has_error(function() c:model_metadata(42) end,
        "bad argument #1 to 'model_metadata' (string expected, got number)")
      assert.has_error(function() c:is_model_ready() end,
        "bad argument #1 to 'is_model_ready' (string expected, got no value)")
      assert.has_error(function() triton.connect(42) end)
    end)
    it("rejects unknown URL schemes", function()
      assert.has_error(function() triton.connect("ftp://x:1") end,
        "unsupported URL scheme 'ftp' in 'ftp://x:1' (use http, https, grpc or grpcs)")
    end)
    it("rejects a scheme that contradicts the protocol", function()
      local other = proto == "http" and "grpc" or "http"
      assert.has_error(function() triton[other].client { url = url } end)
    end)
    it("sends per-client and per-call headers", function()
      local c2 = triton.connect(url, { headers = { ["x-test"] = "1" } })
      assert.is_true(c2:is_server_live { headers = { ["x-other"] = "2" } })
      c2:close()
    end)
  end)
end)
