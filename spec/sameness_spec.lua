-- One API, two transports, by construction: the sameness table. Every row runs
-- once over HTTP and once over gRPC against the same reference server, and the
-- two outcomes must be the same Lua value or, for a failure, the same error
-- code. The rows cover every client method with its arguments, every x-fault
-- mode of the reference server (docs/reference-server.md, "Faults"), and each
-- divergence found by the two trials of issue 10 (the `item` field names it).
--
-- A row: {name, run = function(c, ctx) ... end [, code = true [, expect = CODE]]
-- [, item = N]}. run returns the value to compare; `code = true` compares only
-- the error code of the failure that run must raise (`expect`: that code).
-- ctx holds per-transport helpers.
local h = require "support.harness"
local f = require "support.faults"
local triton = h.triton()

local function ints(n, v)
  local a = {}
  for i = 1, n do a[i] = v or i end
  return a
end

local function simple_inputs()
  local t = triton.tensor({ ints(16) }, "INT32")
  return { INPUT0 = t, INPUT1 = t }
end

-- A comparable plain value: tensors as {dtype, shape, bytes}, results as their
-- response() plus every output, tables copied deeply.
local function kind(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name
end

local function plain(v, seen)
  seen = seen or {}
  if kind(v) == "triton.Tensor" then
    return { dtype = v.dtype, shape = v.shape, bytes = v:bytes() }
  end
  if kind(v) == "triton.InferResult" then
    local out = { response = plain(v:response(), seen), outputs = {} }
    for name, t in pairs(v:outputs()) do out.outputs[name] = plain(t, seen) end
    return out
  end
  if type(v) ~= "table" or seen[v] then return v end
  seen[v] = true
  local out = {}
  for k, x in pairs(v) do out[k] = plain(x, seen) end
  return out
end

local function outcome(row, c, ctx)
  local ok, v = pcall(row.run, c, ctx)
  if ok then
    return { ok = true, value = plain(v) }
  end
  if getmetatable(v) ~= triton.Error then
    error(string.format("%s raised a non-triton.Error: %s", row.name, tostring(v)), 0)
  end
  return { ok = false, code = v.code, message = v.message }
end

local function stream_text(c, model, body)
  local parts = {}
  for ev in c:generate_stream(model, body) do parts[#parts + 1] = ev.text_output end
  return table.concat(parts, "|")
end

local rows = {
  -- ---- every method, with its arguments ------------------------------------------
  { name = "is_server_live", run = function(c) return c:is_server_live() end },
  { name = "is_server_ready", run = function(c) return c:is_server_ready() end },
  { name = "is_model_ready", run = function(c) return c:is_model_ready("simple") end },
  { name = "is_model_ready of a version", run = function(c) return c:is_model_ready("simple", "1") end },
  { name = "is_model_ready of no model", run = function(c) return c:is_model_ready("no_such_model") end },
  { name = "server_metadata", run = function(c) return c:server_metadata() end },
  { name = "model_metadata", run = function(c) return c:model_metadata("simple") end },
  { name = "model_metadata of BYTES and BF16 models",
    run = function(c) return { c:model_metadata("simple_string"), c:model_metadata("identity_bf16") } end },
  { name = "model_metadata of no model", code = true, run = function(c) return c:model_metadata("nope") end },
  { name = "model_config", run = function(c) return c:model_config("simple_sequence") end },
  { name = "model_config of a decoupled model", run = function(c) return c:model_config("repeat_int32") end },
  { name = "model_repository_index", run = function(c) return c:model_repository_index() end },
  { name = "model_repository_index ready only",
    run = function(c) return c:model_repository_index { ready = true } end },
  { name = "inference_statistics of one model",
    run = function(c) return c:inference_statistics("identity_uint16") end },
  { name = "trace_settings", run = function(c) return c:trace_settings() end },
  { name = "trace_settings of a model", run = function(c) return c:trace_settings("simple") end },
  { name = "log_settings", run = function(c) return c:log_settings() end },
  { name = "update_log_settings",
    run = function(c) return c:update_log_settings { log_verbose_level = 0 } end },
  { name = "system_shared_memory_status", run = function(c) return c:system_shared_memory_status() end },
  { name = "cuda_shared_memory_status", run = function(c) return c:cuda_shared_memory_status() end },
  { name = "register and unregister system shared memory", run = function(c, ctx)
      local region = h.closing(triton.shm.create("same_" .. ctx.proto, h.shm_key("same"), 64))
      c:register_system_shared_memory(region.name, region.key, region.byte_size)
      local st = c:system_shared_memory_status(region.name)
      c:unregister_system_shared_memory(region.name)
      st[1].name, st[1].key = nil, nil -- differ by construction (one region per transport)
      return st
    end },
  { name = "unload_model and load_model with a config",
    run = function(c)
      c:unload_model("simple_int8")
      local ready = c:is_model_ready("simple_int8")
      c:load_model("simple_int8", { config = { max_batch_size = 4 } })
      local mbs = c:model_config("simple_int8").max_batch_size
      c:load_model("simple_int8")
      return { ready, mbs, c:model_config("simple_int8").max_batch_size }
    end },
  { name = "infer, Lua style",
    run = function(c) return c:infer("simple", simple_inputs(), { request_id = "x" }) end },
  { name = "infer, Triton style with outputs",
    run = function(c)
      local t = triton.tensor({ ints(16) }, "INT32")
      return c:infer("simple", {
        triton.InferInput("INPUT0", { 1, 16 }, "INT32"):set_data(t),
        triton.InferInput("INPUT1", { 1, 16 }, "INT32"):set_data(t),
      }, { outputs = { triton.InferRequestedOutput("OUTPUT1") } })
    end },
  { name = "infer of BYTES", run = function(c)
      return c:infer("identity_bytes", { INPUT0 = triton.tensor({ "a", "b\0c", "" }, "BYTES") })
    end },
  { name = "infer with classification", run = function(c)
      local x = triton.tensor({ { 0.1, 0.9, 0.5, 0.2, 0, 0, 0, 0, 0.3, 0 } }, "FP32")
      return c:infer("classifier", { INPUT0 = x },
        { outputs = { triton.InferRequestedOutput("OUTPUT0", { class_count = 2 }) } })
    end },
  { name = "infer of no model", code = true, run = function(c) return c:infer("nope", simple_inputs()) end },
  { name = "infer with a wrong shape", code = true, run = function(c)
      local x = triton.ones({ 1, 15 }, "INT32")
      return c:infer("simple", { INPUT0 = x, INPUT1 = x })
    end },
  { name = "async_infer",
    run = function(c) return c:async_infer("simple", simple_inputs()):get_result() end },
  { name = "generate", run = function(c) return c:generate("echo_llm", { text_input = "a b c" }) end },
  { name = "generate_stream", run = function(c)
      return stream_text(c, "echo_llm", { text_input = "a b c", stream = true })
    end },

  -- ---- every fault mode of the reference server ----------------------------------
  { name = "x-fault close", code = true, run = function(c)
      return c:server_metadata { headers = { ["x-fault"] = "close" }, timeout = 5 }
    end },
  { name = "x-fault garbage", code = true, run = function(c)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] =
        "garbage" }, client_timeout = 5 })
    end },
  { name = "x-fault huge", code = true, run = function(c)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] =
        "huge" }, client_timeout = 5 })
    end },
  { name = "x-fault bad-length", code = true, run = function(c)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] =
        "bad-length" }, client_timeout = 5 })
    end },
  { name = "x-fault bad-binary-size", code = true, run = function(c)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] =
        "bad-binary-size" }, client_timeout = 5 })
    end },
  { name = "x-fault delay beyond the call's timeout", code = true, run = function(c)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] =
        "delay=3000" }, client_timeout = 0.3 })
    end },
  { name = "x-fault status unavailable", code = true, run = function(c, ctx)
      return c:is_server_live { headers = { ["x-fault"] = ctx.status("unavailable") } }
    end },
  { name = "x-fault status not found", code = true, run = function(c, ctx)
      return c:model_config("simple", { headers = { ["x-fault"] = ctx.status("not_found") } })
    end },
  { name = "x-fault status internal", code = true, run = function(c, ctx)
      return c:infer("simple", simple_inputs(), { headers = { ["x-fault"] = ctx.status("internal") } })
    end },
  { name = "x-fault status unauthenticated", code = true, run = function(c, ctx)
      return c:server_metadata { headers = { ["x-fault"] = ctx.status("unauthenticated") } }
    end },

  -- ---- the divergences the trials found (issue 10) --------------------------------
  { item = 4, name = "an unknown model on a generate_stream is not_found", code = true,
    run = function(c) return stream_text(c, "no_such_model", { text_input = "a" }) end },
  { item = 4, name = "generate with a body the model cannot take", code = true,
    run = function(c) return c:generate("simple", { text_input = "a" }) end },
  { item = 5, name = "a per-call timeout is a deadline for the whole call", code = true,
    run = function(c)
      return c:infer("slow", { INPUT0 = triton.tensor({ 3000 }, "INT32") }, { client_timeout = 0.3 })
    end },
  { item = 5, name = "network_timeout is an inactivity limit, not a deadline",
    run = function(_, ctx)
      -- twelve words 100 ms apart: a stream that keeps talking outlives a 1 s
      -- limit (each gap is a tenth of it, so a loaded machine cannot trip it)
      local c = h.closing(triton.connect(ctx.url, { network_timeout = 1 }))
      return stream_text(c, "echo_llm",
        { text_input = "a b c d e f g h i j k l", stream = true, parameters = { delay_ms = 100 } })
    end },
  { item = 5, name = "network_timeout ends a call whose server goes quiet", code = true,
    run = function(_, ctx)
      local c = h.closing(triton.connect(ctx.url, { network_timeout = 0.3 }))
      return c:infer("slow", { INPUT0 = triton.tensor({ 3000 }, "INT32") })
    end },
  { item = 5, name = "a server that accepts and never answers ends at the inactivity limit", code = true,
    run = function(_, ctx)
      local c = h.closing(triton.connect(ctx.blackhole_url, { network_timeout = 0.3 }))
      return c:is_server_live()
    end },
  { item = 5, name = "a server that never completes the connection ends at the connection timeout",
    code = true, expect = "unavailable",
    run = function(_, ctx)
      local c = h.closing(triton.connect(ctx.synhole_url, { connection_timeout = 0.3 }))
      return c:is_server_live()
    end },
  { item = 5, name = "math.huge means no limit for every timeout",
    run = function(_, ctx)
      local c = h.closing(triton.connect(ctx.url,
        { connection_timeout = math.huge, network_timeout = math.huge }))
      return c:is_server_live { timeout = math.huge }
    end },
  { item = 6, name = "ssl options with a plaintext URL raise", code = true,
    run = function(_, ctx) return triton.connect(ctx.url, { ssl = { insecure = true } }) end },
  { item = 7, name = "a per-call header replaces the client's header of the same name",
    run = function(_, ctx)
      -- the client's x-fault would make the call fail; the call's own replaces it
      local c = h.closing(triton.connect(ctx.url, { headers = { ["x-fault"] = "close" } }))
      return c:is_server_live { headers = { ["X-Fault"] = "delay=1" } }
    end },
  { item = 8, name = "a reserved request parameter is refused", code = true,
    run = function(c) return c:infer("simple", simple_inputs(), { parameters = { sequence_id = 5 } }) end },
  { item = 8, name = "a triton_ request parameter is refused", code = true,
    run = function(c) return c:infer("simple", simple_inputs(), { parameters = { triton_x = 5 } }) end },
  { item = 8, name = "non-UTF-8 generate text is refused", code = true,
    run = function(c) return c:generate("echo_llm", { text_input = "\255\254\128abc" }) end },
  { item = 8, name = "a non-UTF-8 request_id is refused", code = true,
    run = function(c) return c:infer("simple", simple_inputs(), { request_id = "\255\254abc" }) end },
  { item = 8, name = "a negative log level is refused", code = true,
    run = function(c) return c:update_log_settings { log_verbose_level = -1 } end },
  { item = 8, name = "model files without a config are refused", code = true,
    run = function(c) return c:load_model("simple_int8", { files = { ["file:1/model.bin"] = "x" } }) end },
  { item = 8, name = "a reply without an id has no id",
    run = function(c) return { id = c:infer("simple", simple_inputs()):response().id } end },
}

describe("HTTP and gRPC give the same outcome", function()
  local s, bh, synhole
  local ctx = {}
  local clients = {}
  -- The fault header's status argument: an HTTP status or a gRPC status number.
  local statuses = {
    http = { unavailable = 503, not_found = 404, internal = 500, unauthenticated = 401 },
    grpc = { unavailable = 14, not_found = 5, internal = 13, unauthenticated = 16 },
  }
  setup(function()
    s = h.server()
    bh = f.blackhole()
    synhole = f.blackhole { full = true }
    for _, proto in ipairs(h.protocols) do
      clients[proto] = triton.connect(s[proto .. "_url"])
      ctx[proto] = {
        proto = proto,
        url = s[proto .. "_url"],
        blackhole_url = proto .. "://127.0.0.1:" .. bh.port,
        synhole_url = proto .. "://127.0.0.1:" .. synhole.port,
        status = function(code) return "status=" .. statuses[proto][code] end,
      }
    end
  end)
  teardown(function()
    for _, c in pairs(clients) do c:close() end
    f.stop(bh)
    f.stop(synhole)
  end)

  for _, row in ipairs(rows) do
    it((row.item and ("item " .. row.item .. ": ") or "") .. row.name, function()
      local a = outcome(row, clients.http, ctx.http)
      local b = outcome(row, clients.grpc, ctx.grpc)
      if row.code then
        assert.is_false(a.ok, "HTTP: the call succeeded")
        assert.is_false(b.ok, "gRPC: the call succeeded")
        assert.equal(a.code, b.code, string.format("HTTP: %s: %s\ngRPC: %s: %s", a.code, a.message,
          b.code, b.message))
        if row.expect then assert.equal(row.expect, a.code, a.message) end
      else
        assert.is_true(a.ok, "HTTP failed: " .. tostring(a.message))
        assert.is_true(b.ok, "gRPC failed: " .. tostring(b.message))
        assert.same(a.value, b.value)
      end
    end)
  end
end)
