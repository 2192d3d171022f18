-- tritonlua perf: perf_analyzer's command line, output and CSV, on triton.perf's
-- measuring core (lua/triton/perf.lua). docs/PERF.md is the user's page: the flags,
-- what differs from perf_analyzer and why, the CSV columns.
--
--   tritonlua perf -m simple --concurrency-range 1:4:1 -f out.csv
--
-- M.main(args) -> exit status: args are the words after `perf`. The host calls it
-- (src/host/tritonlua.c); everything it prints goes to io.stdout / io.stderr.
-- The parts, in order: the flag table (the usage text is made from it), reading
-- the model, building the requests' inputs (zero, random or a JSON file, in system
-- shared memory if asked), the senders (infer, or a gRPC stream), the measuring of
-- each load level, and the report (per level, a histogram, the summary, the CSV).
local triton = require "triton"
local core = require "triton.core"
local client = require "triton.client"
local perf = require "triton.perf"
local compat = require "triton.compat"
local math_type, unpack, idiv = compat.math_type, compat.unpack, compat.idiv

local M = {}

-- perf_analyzer's exit statuses.
local EXIT_STABILITY, EXIT_FAILURE = 2, 99

-- A failure reported to the user: "tritonlua perf: <message>", then exit `status`.
local Failure = {}
local function fail(fmt, ...)
  error(setmetatable({ message = string.format(fmt, ...), status = EXIT_FAILURE }, Failure), 0)
end

-- Ctrl-C: the host raises "interrupted!" in Lua and cancels the calls in flight.
local function is_interrupt(e)
  if type(e) == "string" then return e:find("interrupted!", 1, true) ~= nil end
  return getmetatable(e) == triton.Error and e.code == "cancelled"
end

-- Runs f and returns pcall's results. On Ctrl-C the host cancels the calls in
-- flight (an error from the one being waited for) and raises "interrupted!" at the
-- next Lua instruction, which may come after the inner pcall has returned: the
-- outer one takes it.
local function shielded(f)
  local ok, a, b = pcall(function()
    local inner_ok, err = pcall(f)
    return inner_ok, err
  end)
  if ok then return a, b end
  return false, a
end

local function warn(fmt, ...)
  io.stderr:write("tritonlua perf: warning: ", string.format(fmt, ...), "\n")
end

-- ---- flags --------------------------------------------------------------------------

local function integer_value(min)
  return function(v, flag)
    local n = compat.tointeger(tonumber(v))
    if not n or n < min then
      fail("%s expects an integer >= %d, got '%s'", flag, min, v)
    end
    return n
  end
end

local function number_value(v, flag)
  local n = tonumber(v)
  if not n or n ~= n or n < 0 or n == math.huge then
    fail("%s expects a non-negative number, got '%s'", flag, v)
  end
  return n
end

local function string_value(v) return v end

local function choice(...)
  local allowed = { ... }
  return function(v, flag)
    local lv = v:lower()
    for _, a in ipairs(allowed) do
      if lv == a then return a end
    end
    fail("%s expects %s, got '%s'", flag, table.concat(allowed, " or "), v)
  end
end

-- "start[:end[:step]]"; end 0 means no limit (the latency threshold stops the search).
local function range_value(integer)
  return function(v, flag)
    local parts = {}
    for p in (v .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
    if #parts < 1 or #parts > 3 then
      fail("%s expects start[:end[:step]], got '%s'", flag, v)
    end
    local r = {}
    for i, p in ipairs(parts) do
      local n = tonumber(p)
      if integer then n = compat.tointeger(n) end
      if not n or n ~= n or n < 0 or n == math.huge then
        fail("%s expects start[:end[:step]] of %s, got '%s'", flag,
          integer and "non-negative integers" or "non-negative numbers", v)
      end
      r[i] = n
    end
    local range = { start = r[1], stop = r[2] or r[1], step = r[3] or 1 }
    if range.start <= 0 or range.step <= 0 then
      fail("%s expects a start and a step above 0, got '%s'", flag, v)
    end
    if range.stop ~= 0 and range.stop < range.start then
      fail("%s expects an end of 0 (no limit) or at least the start, got '%s'", flag, v)
    end
    return range
  end
end

-- "NAME:d1,d2,...": an input's shape without the batch dimension.
local function shape_value(v, flag)
  local name, dims = v:match("^(.+):([%d,]+)$")
  if not name then
    fail("%s expects NAME:d1,d2,... (dimensions as non-negative integers), got '%s'", flag, v)
  end
  local shape = {}
  for d in (dims .. ","):gmatch("([^,]*),") do
    local n = compat.tointeger(tonumber(d))
    if not n then fail("%s expects NAME:d1,d2,..., got '%s'", flag, v) end
    shape[#shape + 1] = n
  end
  return { name = name, shape = shape }
end

local function header_value(v, flag)
  local name, value = v:match("^([^:%s]+)%s*:%s*(.-)%s*$")
  if not name then fail("%s expects 'Name: value', got '%s'", flag, v) end
  return { name = name, value = value }
end

-- The flags tritonlua perf takes: names, the key in the options table, the value's
-- parser (nil for a switch), whether it repeats, a default, and the usage line.
local FLAGS = {
  { { "-m" }, "model", string_value, help = "model to measure (required)", arg = "MODEL" },
  { { "-x" }, "model_version", string_value, help = "model version (default: the latest)",
    arg = "VERSION" },
  { { "-u" }, "url", string_value, arg = "URL",
    help = "server (default localhost:8000 for HTTP, localhost:8001 for gRPC)" },
  { { "-i" }, "protocol", choice("http", "grpc"), arg = "http|grpc", help = "protocol (default http)" },
  { { "-H" }, "headers", header_value, many = true, arg = "'Name: value'",
    help = "a header on every request (repeatable)" },
  { { "--service-kind" }, "service_kind", choice("triton"), arg = "triton",
    help = "only Triton's protocol (the default)" },
  { { "--streaming" }, "streaming", help = "send over one bidirectional gRPC stream" },
  { { "--grpc-compression-algorithm" }, "compression", choice("none", "gzip", "deflate"),
    arg = "none|gzip|deflate", help = "compress gRPC requests" },
  { { "--concurrency-range" }, "concurrency_range", range_value(true), arg = "START:END:STEP",
    help = "requests kept in flight, level by level (default 1)" },
  { { "--request-rate-range" }, "request_rate_range", range_value(false), arg = "START:END:STEP",
    help = "requests sent per second, level by level, whatever the replies" },
  { { "--request-distribution" }, "distribution", choice("constant", "poisson"),
    arg = "constant|poisson", default = "constant", help = "gaps between sends in rate mode" },
  { { "-p", "--measurement-interval" }, "interval", integer_value(1), arg = "MS", default = 5000,
    help = "length of a measurement window in milliseconds" },
  { { "--measurement-mode" }, "measurement_mode", choice("time_windows", "count_windows"),
    arg = "time_windows|count_windows", default = "time_windows",
    help = "windows of a fixed time, or of at least --measurement-request-count replies" },
  { { "--measurement-request-count" }, "window_count", integer_value(1), arg = "N", default = 50,
    help = "replies a count window holds at least" },
  { { "-s", "--stability-percentage" }, "stability", number_value, arg = "P", default = 10,
    help = "how far the last 3 windows may differ, in percent" },
  { { "-r", "--max-trials" }, "max_trials", integer_value(1), arg = "N", default = 10,
    help = "windows measured at most per level" },
  { { "--percentile" }, "percentile", integer_value(1), arg = "P",
    help = "judge and report latency by this percentile instead of the average" },
  { { "--request-count" }, "request_count", integer_value(1), arg = "N",
    help = "measure exactly N requests per level, in one window" },
  { { "--warmup-request-count" }, "warmup", integer_value(0), arg = "N", default = 0,
    help = "requests sent before each level and left out" },
  { { "-l", "--latency-threshold" }, "latency_threshold", integer_value(0), arg = "MS", default = 0,
    help = "stop the search once latency reaches this (0: no limit)" },
  { { "-a", "--async" }, "async", help = "accepted: requests are always asynchronous" },
  { { "--max-threads" }, "max_threads", integer_value(1), arg = "N",
    help = "accepted: one thread drives every request" },
  { { "-b" }, "batch", integer_value(1), arg = "N", default = 1, help = "batch size" },
  { { "--input-data" }, "input_data", string_value, arg = "zero|random|FILE.json", default = "random",
    help = "what the inputs hold" },
  { { "-z" }, "zero", help = "the same as --input-data zero" },
  { { "--shape" }, "shapes", shape_value, many = true, arg = "NAME:d1,d2",
    help = "shape of an input with variable dimensions, no batch dimension (repeatable)" },
  { { "--string-length" }, "string_length", integer_value(0), arg = "N", default = 128,
    help = "length of the random strings of BYTES inputs" },
  { { "--string-data" }, "string_data", string_value, arg = "TEXT",
    help = "the string every element of BYTES inputs holds" },
  { { "--shared-memory" }, "shared_memory", choice("none", "system"), arg = "none|system",
    default = "none", help = "inputs and outputs in system shared memory" },
  { { "--output-shared-memory-size" }, "output_shm_size", integer_value(1), arg = "BYTES",
    default = 102400, help = "region size of an output whose size is not known" },
  { { "--input-tensor-format" }, "input_format", choice("binary", "json"), arg = "binary|json",
    default = "binary", help = "HTTP: inputs as binary data or JSON" },
  { { "--output-tensor-format" }, "output_format", choice("binary", "json"), arg = "binary|json",
    default = "binary", help = "HTTP: outputs as binary data or JSON" },
  { { "-f" }, "csv", string_value, arg = "FILE", help = "write the results as CSV" },
  { { "--verbose-csv" }, "verbose_csv", help = "more columns in the CSV" },
  { { "-v" }, "verbose", help = "print every measurement window" },
  { { "--version" }, "version", help = "print the version" },
  { { "-h", "--help", "-?" }, "help", help = "print this help" },
}

-- perf_analyzer flags that tritonlua perf does not have, and why (docs/PERF.md).
local UNSUPPORTED = {
  ["--sync"] = "requests are always asynchronous, driven from one event loop",
  ["--binary-search"] = "only the linear search over the range",
  ["--periodic-concurrency-range"] = "no periodic concurrency mode",
  ["--request-period"] = "no periodic concurrency mode",
  ["--request-parameter"] = "no custom request parameters",
  ["--request-intervals"] = "no custom interval mode",
  ["--fixed-schedule"] = "no fixed schedule mode",
  ["--session-concurrency"] = "no session concurrency mode (OpenAI only)",
  ["--num-of-sequences"] = "no sequence models",
  ["--sequence-length"] = "no sequence models",
  ["--sequence-length-variation"] = "no sequence models",
  ["--sequence-id-range"] = "no sequence models",
  ["--serial-sequences"] = "no sequence models",
  ["--bls-composing-models"] = "no BLS composing model statistics",
  ["--model-signature-name"] = "TensorFlow Serving only",
  ["--endpoint"] = "Triton's protocol only",
  ["--data-directory"] = "input data from a JSON file only",
  ["--profile-export-file"] = "no profile export",
  ["--collect-metrics"] = "no Prometheus metrics",
  ["--metrics-url"] = "no Prometheus metrics",
  ["--metrics-interval"] = "no Prometheus metrics",
  ["--trace-level"] = "no trace settings (use client:update_trace_settings)",
  ["--trace-rate"] = "no trace settings (use client:update_trace_settings)",
  ["--trace-count"] = "no trace settings (use client:update_trace_settings)",
  ["--log-frequency"] = "no trace settings (use client:update_trace_settings)",
  ["--triton-server-directory"] = "no in-process C API",
  ["--model-repository"] = "no in-process C API",
  ["--grpc-method"] = "Triton's protocol only",
  ["--proto"] = "Triton's protocol only",
  ["-t"] = "deprecated: use --concurrency-range",
  ["-c"] = "deprecated: use --concurrency-range",
  ["-d"] = "deprecated: use --concurrency-range",
}
local UNSUPPORTED_PREFIX = { ["--ssl-"] = "no TLS options: give an https:// or grpcs:// URL" }

local by_name = {}
for _, f in ipairs(FLAGS) do
  for _, n in ipairs(f[1]) do by_name[n] = f end
end

local function usage()
  local lines = { "usage: tritonlua perf -m MODEL [options]", "",
    "perf_analyzer's flags (see docs/PERF.md for what differs):" }
  for _, f in ipairs(FLAGS) do
    local names = table.concat(f[1], ", ") .. (f.arg and " " .. f.arg or "")
    local help = f.help .. (f.default ~= nil and " (default " .. tostring(f.default) .. ")" or "")
    lines[#lines + 1] = string.format("  %-36s %s", names, help)
  end
  return table.concat(lines, "\n") .. "\n"
end
M.usage = usage

local function unsupported(name)
  local why = UNSUPPORTED[name]
  if not why then
    for prefix, reason in pairs(UNSUPPORTED_PREFIX) do
      if name:sub(1, #prefix) == prefix then why = reason end
    end
  end
  return why
end

-- argv -> options table (defaults filled in); raises a Failure naming the flag.
function M.parse(argv)
  local o = {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, value = a, nil
    if a:sub(1, 2) == "--" then
      name, value = a:match("^(%-%-[^=]+)=(.*)$")
      if not name then name = a end
    elseif a:sub(1, 1) == "-" and #a > 2 and by_name[a:sub(1, 2)] and by_name[a:sub(1, 2)][3] then
      name, value = a:sub(1, 2), a:sub(3) -- -mMODEL
    end
    local f = by_name[name]
    if not f then
      local why = unsupported(name)
      if why then fail("%s is not supported by tritonlua perf: %s", name, why) end
      if a:sub(1, 1) == "-" then fail("unknown flag '%s' (tritonlua perf -h lists them)", a) end
      fail("unexpected argument '%s' (flags only; tritonlua perf -h lists them)", a)
    end
    local key, parse = f[2], f[3]
    if parse then
      if value == nil then
        i = i + 1
        value = argv[i]
        if value == nil then fail("%s needs a value (%s)", name, f.arg) end
      end
      local v = parse(value, name)
      if f.many then
        o[key] = o[key] or {}
        table.insert(o[key], v)
      else
        o[key] = v
      end
    else
      if value ~= nil then fail("%s takes no value, got '%s'", name, a) end
      o[key] = true
    end
    i = i + 1
  end
  for _, f in ipairs(FLAGS) do
    if o[f[2]] == nil and f.default ~= nil then o[f[2]] = f.default end
  end
  if o.help or o.version then return o end
  if not o.model then fail("-m MODEL is required (tritonlua perf -h lists the flags)") end
  if o.zero then o.input_data = "zero" end
  if o.concurrency_range and o.request_rate_range then
    fail("--concurrency-range and --request-rate-range exclude each other")
  end
  local range = o.concurrency_range or o.request_rate_range
  if range and range.stop == 0 and o.latency_threshold == 0 then
    fail("an end of 0 (no limit) in %s needs --latency-threshold",
      o.concurrency_range and "--concurrency-range" or "--request-rate-range")
  end
  if o.percentile and o.percentile > 99 then
    fail("--percentile expects 1 to 99, got %d", o.percentile)
  end
  return o
end

-- ---- the model --------------------------------------------------------------------------

local DEFAULT_URL = { http = "localhost:8000", grpc = "localhost:8001" }

local function connect(o, cap)
  local scheme = o.url and o.url:match("^(%a[%w+.-]*)://")
  local from_scheme = scheme and client.parse_url(o.url) or nil
  if from_scheme and o.protocol and from_scheme ~= o.protocol then
    fail("-u %s is %s but -i says %s", o.url, from_scheme, o.protocol)
  end
  local protocol = from_scheme or o.protocol or "http"
  local headers
  for _, h in ipairs(o.headers or {}) do
    headers = headers or {}
    headers[h.name] = h.value
  end
  local copts = { protocol = not from_scheme and protocol or nil, headers = headers, concurrency = cap }
  if o.compression and o.compression ~= "none" then
    if protocol ~= "grpc" then fail("--grpc-compression-algorithm needs -i grpc") end
    copts.compression = o.compression
  end
  return triton.connect(o.url or DEFAULT_URL[protocol], copts), protocol
end

local function shape_text(shape)
  return "[" .. table.concat(shape, ",") .. "]"
end

-- The model's inputs with the shapes requests use (no batch dimension), its
-- outputs, and whether it batches.
local function read_model(c, o)
  local meta = c:model_metadata(o.model, o.model_version)
  local cfg = c:model_config(o.model, o.model_version)
  local m = { max_batch = cfg.max_batch_size or 0, inputs = {}, outputs = {}, by_name = {} }
  local policy = cfg.model_transaction_policy
  if policy and policy.decoupled then
    fail("model '%s' is decoupled: tritonlua perf measures models that answer each request once",
      o.model)
  end
  if o.batch > 1 and m.max_batch == 0 then
    fail("-b %d: model '%s' does not batch (max_batch_size is 0)", o.batch, o.model)
  end
  if o.batch > m.max_batch and m.max_batch > 0 then
    fail("-b %d is more than model '%s' takes (max_batch_size %d)", o.batch, o.model, m.max_batch)
  end
  local given = {}
  for _, s in ipairs(o.shapes or {}) do given[s.name] = s.shape end
  local function dims_of(t)
    local dims = {}
    for i = (m.max_batch > 0 and 2 or 1), #t.shape do dims[#dims + 1] = t.shape[i] end
    return dims
  end
  for _, t in ipairs(meta.inputs) do
    local input = { name = t.name, datatype = t.datatype, model_dims = dims_of(t) }
    input.dims = input.model_dims
    if given[t.name] then
      input.dims = given[t.name]
      given[t.name] = nil
      local ok = #input.dims == #input.model_dims
      for i, d in ipairs(input.model_dims) do
        if d ~= -1 and input.dims[i] ~= d then ok = false end
      end
      if not ok then
        fail("--shape %s:%s does not fit input '%s' of shape %s", t.name,
          table.concat(input.dims, ","), t.name, shape_text(input.model_dims))
      end
    end
    m.inputs[#m.inputs + 1] = input
    m.by_name[t.name] = input
  end
  local unknown = next(given)
  if unknown then fail("--shape names '%s', which model '%s' has no input of", unknown, o.model) end
  for _, t in ipairs(meta.outputs) do
    m.outputs[#m.outputs + 1] = { name = t.name, datatype = t.datatype, dims = dims_of(t) }
  end
  return m
end

local function variable(dims)
  for _, d in ipairs(dims) do
    if d < 0 then return true end
  end
  return false
end

local function numel(dims)
  local n = 1
  for _, d in ipairs(dims) do n = n * d end
  return n
end

-- ---- input data ---------------------------------------------------------------------------

local STRING_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

local function random_string(n)
  local t = {}
  for i = 1, n do
    local k = math.random(#STRING_CHARS)
    t[i] = STRING_CHARS:sub(k, k)
  end
  return table.concat(t)
end

-- n random bytes, three from each draw (every Lua draws 24 bits exactly).
local function random_bytes(n)
  local parts = {}
  for i = 1, math.ceil(n / 3) do
    local x = math.random(0, 0xFFFFFF)
    parts[i] = string.char(x % 256, math.floor(x / 256) % 256, math.floor(x / 65536))
  end
  return table.concat(parts):sub(1, n)
end

-- One batch-1 tensor of zeros or random data, as perf_analyzer makes them.
local function generated_tensor(input, o)
  if variable(input.dims) then
    fail("input '%s' has variable shape %s: give its shape with --shape %s:d1,d2,...",
      input.name, shape_text(input.model_dims), input.name)
  end
  local n = numel(input.dims)
  if input.datatype == "BYTES" then
    local list = {}
    for i = 1, n do list[i] = o.string_data or random_string(o.string_length) end
    return triton.tensor(list, "BYTES", input.dims)
  end
  if o.input_data == "zero" then return triton.zeros(input.dims, input.datatype) end
  local size = triton.dtypes[input.datatype]
  local raw
  if input.datatype == "BOOL" then
    local t = {}
    for i = 1, n do t[i] = string.char(math.random(0, 1)) end
    raw = table.concat(t)
  else
    raw = random_bytes(n * size)
  end
  return triton.tensor(raw, input.datatype, input.dims)
end

-- BYTES elements from their wire layout (a 4-byte little-endian length before each).
local function bytes_elements(raw, where)
  local list, pos = {}, 1
  while pos <= #raw do
    if pos + 3 > #raw then
      fail("%s: BYTES data ends inside an element's 4-byte length, at byte %d", where, pos)
    end
    local b1, b2, b3, b4 = raw:byte(pos, pos + 3)
    local n = ((b4 * 256 + b3) * 256 + b2) * 256 + b1
    pos = pos + 4
    if n > #raw - pos + 1 then
      fail("%s: a BYTES element of %d bytes runs past the end (%d bytes left)", where, n,
        #raw - pos + 1)
    end
    list[#list + 1] = raw:sub(pos, pos + n - 1)
    pos = pos + n
  end
  return list
end

local function json_shape(v, where)
  if type(v) ~= "table" then fail("%s: \"shape\" must be a list of dimensions", where) end
  for i, d in ipairs(v) do
    if math_type(d) ~= "integer" or d < 0 then
      fail("%s: \"shape\" dimension %d must be a non-negative integer", where, i)
    end
  end
  return v
end

-- One batch-1 tensor from an entry of a JSON data file (docs/PERF.md has the format).
local function json_tensor(v, input, where)
  local content, dims = v, nil
  if type(v) == "table" and (v.content ~= nil or v.shape ~= nil) then
    content, dims = v.content, v.shape and json_shape(v.shape, where)
    if content == nil then fail("%s: \"shape\" without \"content\"", where) end
  end
  dims = dims or input.dims
  if variable(dims) then
    fail("%s: input '%s' has variable shape %s: give \"shape\" in the file or --shape %s:d1,...",
      where, input.name, shape_text(input.model_dims), input.name)
  end
  local fits = #dims == #input.model_dims
  for i, d in ipairs(input.model_dims) do
    if d ~= -1 and dims[i] ~= d then fits = false end
  end
  if not fits then
    fail("%s: shape %s does not fit input '%s' of shape %s", where, shape_text(dims), input.name,
      shape_text(input.model_dims))
  end
  local n = numel(dims)
  if type(content) == "table" and type(content.b64) == "string" then
    local raw, err = core.base64_decode(content.b64)
    if not raw then fail("%s: %s", where, err) end
    if input.datatype == "BYTES" then
      content = bytes_elements(raw, where)
    else
      local want = n * triton.dtypes[input.datatype]
      if #raw ~= want then
        fail("%s: %d bytes of data, input '%s' of shape %s and type %s needs %d", where, #raw,
          input.name, shape_text(dims), input.datatype, want)
      end
      return triton.tensor(raw, input.datatype, dims)
    end
  end
  if type(content) ~= "table" then
    fail("%s: a list of values, {\"b64\": ...} or {\"content\": ..., \"shape\": ...} expected", where)
  end
  if #content ~= n then
    fail("%s: %d values, input '%s' of shape %s needs %d", where, #content, input.name,
      shape_text(dims), n)
  end
  local ok, t = pcall(triton.tensor, content, input.datatype, dims)
  if not ok then fail("%s: %s", where, tostring(t)) end
  return t
end

local function read_json_data(path, m)
  local f, err = io.open(path, "rb")
  if not f then fail("--input-data: cannot read %s", err) end
  local text = f:read("a")
  f:close()
  local ok, doc = pcall(triton.json.decode, text)
  if not ok then fail("--input-data %s: not JSON: %s", path, tostring(doc)) end
  if type(doc) ~= "table" or type(doc.data) ~= "table" or #doc.data == 0 then
    fail("--input-data %s: {\"data\": [...]} with at least one entry expected", path)
  end
  for k in pairs(doc) do
    if k ~= "data" and k ~= "validation_data" then
      fail("--input-data %s: unknown key '%s' (\"data\" expected)", path, tostring(k))
    end
  end
  if doc.validation_data ~= nil then warn("%s: validation_data is not checked", path) end
  local entries = {}
  for i, e in ipairs(doc.data) do
    local where = string.format("--input-data %s, entry %d", path, i)
    if type(e) ~= "table" or #e > 0 then
      fail("%s: an object of input name -> data expected (streams of steps are for sequence " ..
        "models, which tritonlua perf does not measure)", where)
    end
    for name in pairs(e) do
      if not m.by_name[name] then fail("%s: model has no input '%s'", where, tostring(name)) end
    end
    local entry = {}
    for _, input in ipairs(m.inputs) do
      if e[input.name] == nil then fail("%s: no data for input '%s'", where, input.name) end
      entry[input.name] = json_tensor(e[input.name], input, where .. ", input '" .. input.name .. "'")
    end
    entries[i] = entry
  end
  return entries
end

local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

-- The input tensors of each distinct request: maps of name -> tensor with the batch
-- dimension when the model batches. Entries (batch-1 data) are taken in turn, -b of
-- them per request, as perf_analyzer does.
local function build_requests(m, o)
  local entries
  if o.input_data == "zero" or o.input_data == "random" then
    local entry = {}
    for _, input in ipairs(m.inputs) do entry[input.name] = generated_tensor(input, o) end
    entries = { entry }
  else
    entries = read_json_data(o.input_data, m)
  end
  local b, n = o.batch, #entries
  local requests = {}
  for k = 1, idiv(n, gcd(n, b)) do
    local req = {}
    for _, input in ipairs(m.inputs) do
      if m.max_batch == 0 then
        req[input.name] = entries[(k - 1) % n + 1][input.name]
      else
        local items = {}
        for j = 1, b do items[j] = entries[((k - 1) * b + j - 1) % n + 1][input.name] end
        local ok, t = pcall(triton.stack, items, 1)
        if not ok then
          fail("--input-data: the entries batched into one request differ in shape for input '%s'",
            input.name)
        end
        req[input.name] = t
      end
    end
    requests[k] = req
  end
  return requests
end

-- ---- requests: plain, JSON-formatted, in shared memory -------------------------------

local function process_id()
  local f = io.open("/proc/self/stat", "r")
  local pid = f and tonumber((f:read("l") or ""):match("^(%d+)"))
  if f then f:close() end
  return pid or math.random(1, 0x40000000)
end

-- Output region sizes: what a fixed-size output needs, else --output-shared-memory-size.
local function output_size(out, m, o)
  local size = triton.dtypes[out.datatype]
  if size == 0 or variable(out.dims) then return o.output_shm_size end
  return numel(out.dims) * size * (m.max_batch > 0 and o.batch or 1)
end

-- Puts every request's inputs in one registered region and the outputs in another
-- (shared by all requests, as perf_analyzer does); returns the requests as lists
-- of InferInput plus the outputs list, and registers cleanups.
local function shm_requests(c, m, o, requests, cleanups)
  local base = "tritonlua_perf_" .. process_id()
  local in_size = 0
  for _, req in ipairs(requests) do
    for _, input in ipairs(m.inputs) do in_size = in_size + #req[input.name]:bytes() end
  end
  local out_size = 0
  for _, out in ipairs(m.outputs) do out_size = out_size + output_size(out, m, o) end
  local regions = {}
  for _, r in ipairs { { base .. "_input", in_size }, { base .. "_output", out_size } } do
    local region = triton.shm.create(r[1], "/" .. r[1], math.max(r[2], 1))
    cleanups[#cleanups + 1] = function() region:destroy() end
    c:register_system_shared_memory(region.name, region.key, region.byte_size)
    cleanups[#cleanups + 1] = function() c:unregister_system_shared_memory(region.name) end
    regions[#regions + 1] = region
  end
  local inreg, outreg = regions[1], regions[2]
  local lists, offset = {}, 0
  for k, req in ipairs(requests) do
    local list = {}
    for _, input in ipairs(m.inputs) do
      local t = req[input.name]
      local size = inreg:write(t, offset)
      list[#list + 1] = triton.InferInput(input.name, t.shape, input.datatype)
          :set_shared_memory(inreg, size, offset)
      offset = offset + size
    end
    lists[k] = list
  end
  local outputs, ooffset = {}, 0
  for _, out in ipairs(m.outputs) do
    local size = output_size(out, m, o)
    outputs[#outputs + 1] = triton.InferRequestedOutput(out.name):set_shared_memory(outreg, size, ooffset)
    ooffset = ooffset + size
  end
  return lists, outputs
end

-- Each request's (inputs, options) as c:infer takes them.
local function request_calls(c, m, o, protocol, cleanups)
  local requests = build_requests(m, o)
  local json_in = o.input_format == "json"
  local json_out = o.output_format == "json"
  if (json_in or json_out) and protocol ~= "http" then
    fail("--%s-tensor-format json needs HTTP (-i http)", json_in and "input" or "output")
  end
  local calls = {}
  local outputs
  if o.shared_memory == "system" then
    local lists
    lists, outputs = shm_requests(c, m, o, requests, cleanups)
    for k, list in ipairs(lists) do calls[k] = { inputs = list } end
  else
    if json_out then
      outputs = {}
      for _, out in ipairs(m.outputs) do
        outputs[#outputs + 1] = triton.InferRequestedOutput(out.name, { binary_data = false })
      end
    end
    for k, req in ipairs(requests) do
      local inputs = req
      if json_in then
        inputs = {}
        for _, input in ipairs(m.inputs) do
          local t = req[input.name]
          inputs[#inputs + 1] = triton.InferInput(input.name, t.shape, input.datatype)
              :set_data(t, { binary_data = false })
        end
      end
      calls[k] = { inputs = inputs }
    end
  end
  for _, call in ipairs(calls) do
    call.options = (outputs or o.model_version) and { outputs = outputs, model_version = o.model_version }
        or nil
  end
  return calls
end

-- The reply turned into Lua tensors: the client receive time.
local function receive(r)
  local t = core.now()
  r:outputs()
  return core.now() - t
end

-- send(done) for perf.load: infer calls in turn.
local function infer_sender(c, o, calls)
  local prepared = {}
  for k, call in ipairs(calls) do
    prepared[k] = client.prepare_infer(c, o.model, call.inputs, call.options, "perf")
  end
  local n, i = #prepared, 0
  return function(done)
    i = i % n + 1
    prepared[i](function(r, err, final)
      if err ~= nil then return done(r, err, final) end
      done(r, nil, final, receive(r))
    end)
  end
end

-- send(done) for perf.load over one gRPC stream: replies are matched to requests by
-- request id; an error the stream reports without one fails the oldest request.
local function stream_sender(c, o, calls, cleanups)
  local waiting, order, head, tail, next_id = {}, {}, 1, 0, 0
  c:start_stream(function(r, err)
    local id = r and r:response().id
    if id == nil then
      while head <= tail and not waiting[order[head]] do head = head + 1 end
      id = order[head]
    end
    local done = id and waiting[id]
    if not done then return end
    waiting[id] = nil
    if err ~= nil then return done(r, err, true) end
    done(r, nil, true, receive(r))
  end)
  cleanups[#cleanups + 1] = function() c:stop_stream({ cancel_requests = true }) end
  local n, i = #calls, 0
  return function(done)
    i = i % n + 1
    next_id = next_id + 1
    local id = tostring(next_id)
    waiting[id] = done
    tail = tail + 1
    order[tail] = id
    local opts = { request_id = id, model_version = o.model_version }
    if calls[i].options then opts.outputs = calls[i].options.outputs end
    c:async_stream_infer(o.model, calls[i].inputs, opts)
  end
end

-- ---- server statistics ------------------------------------------------------------------

local PHASES = { "success", "queue", "compute_input", "compute_infer", "compute_output", "cache_hit",
  "cache_miss" }

-- The counters of the model's statistics: {inference_count=, execution_count=,
-- success = {count=, ns=}, queue = ..., ...}; the given version, else the latest.
local function model_counters(stats, o)
  local best, best_v
  for _, s in ipairs(stats.model_stats or {}) do
    local v = tonumber(s.version) or -1
    if s.name == o.model and (o.model_version == nil and (best_v == nil or v > best_v)
          or s.version == o.model_version) then
      best, best_v = s, v
    end
  end
  if not best then fail("the server's statistics have no entry for model '%s'", o.model) end
  local r = { inference_count = best.inference_count or 0, execution_count = best.execution_count or 0 }
  local is = best.inference_stats or {}
  for _, p in ipairs(PHASES) do
    local ph = is[p] or {}
    r[p] = { count = ph.count or 0, ns = ph.ns or 0 }
  end
  return r
end

-- What the server did over the windows: end counters minus start, summed.
local function server_delta(windows)
  local d = { inference_count = 0, execution_count = 0 }
  for _, p in ipairs(PHASES) do d[p] = { count = 0, ns = 0 } end
  for _, w in ipairs(windows) do
    local a, b = w.snap_start, w.snap_end
    d.inference_count = d.inference_count + b.inference_count - a.inference_count
    d.execution_count = d.execution_count + b.execution_count - a.execution_count
    for _, p in ipairs(PHASES) do
      d[p].count = d[p].count + b[p].count - a[p].count
      d[p].ns = d[p].ns + b[p].ns - a[p].ns
    end
  end
  return d
end

-- Average microseconds of a phase (perf_analyzer's integer arithmetic).
local function avg_us(phase)
  return phase.count > 0 and idiv(phase.ns, phase.count * 1000) or 0
end

-- The server-side breakdown perf_analyzer prints and writes, in microseconds.
local function server_figures(d, level)
  local f = { queue = avg_us(d.queue), compute_input = avg_us(d.compute_input),
    compute_infer = avg_us(d.compute_infer), compute_output = avg_us(d.compute_output),
    cache_hit = avg_us(d.cache_hit), cache_miss = avg_us(d.cache_miss), request = avg_us(d.success) }
  local n = d.compute_input.count
  f.compute = n > 0 and idiv(d.compute_input.ns + d.compute_infer.ns + d.compute_output.ns, n * 1000) or 0
  f.overhead = math.max(0, f.request - f.queue - f.compute)
  -- What the client waited beyond what the server accounts for: the network and
  -- the server's own send and receive.
  local wait = level.avg_us - level.send_us - level.recv_us
  f.network = math.max(0, wait - (f.queue + f.compute + f.cache_hit + f.cache_miss))
  return f
end

-- ---- the report ---------------------------------------------------------------------------

local function us(seconds) return math.floor((seconds or 0) * 1e6) end
local function g(x) return string.format("%g", x) end

local function out(fmt, ...) io.stdout:write(string.format(fmt, ...), "\n") end

local function prerun_report(o)
  out("*** Measurement Settings ***")
  out("  Batch size: %d", o.batch)
  out("  Service Kind: TRITON")
  if o.warmup > 0 then out("  Sending %d warmup request%s", o.warmup, o.warmup > 1 and "s" or "") end
  if o.request_count then
    out("  Sending %d benchmark request%s", o.request_count, o.request_count > 1 and "s" or "")
  else
    out("  Using \"%s\" mode for stabilization", o.measurement_mode)
    out("  Stabilizing using %s throughput", o.percentile and "p" .. o.percentile or "average")
    if o.measurement_mode == "time_windows" then
      out("  Measurement window: %d msec", o.interval)
    else
      out("  Minimum number of samples in each window: %d", o.window_count)
    end
  end
  local range = o.concurrency_range or o.request_rate_range
  if range.stop ~= range.start then
    out("  Latency limit: %d msec", o.latency_threshold)
    if range.stop ~= 0 then
      if o.concurrency_range then
        out("  Concurrency limit: %d concurrent requests", math.max(range.start, range.stop))
      else
        out("  Request Rate limit: %s requests per seconds", g(math.max(range.start, range.stop)))
      end
    end
  end
  if o.request_rate_range then
    out("  Using %s distribution on request generation",
      o.distribution == "poisson" and "poisson" or "uniform")
  end
  out("  Using asynchronous calls for inference")
  if o.shared_memory == "system" then out("  Using system shared memory for inputs and outputs") end
  if o.streaming then out("  Using a bidirectional gRPC stream") end
  out("")
end

-- The figures of a level in perf_analyzer's units (integer microseconds).
local function level_figures(s, o)
  local f = { count = s.count, throughput = s.throughput * o.batch, avg_us = us(s.avg),
    std_us = s.std == math.huge and compat.maxinteger or us(s.std), send_us = us(s.send),
    recv_us = us(s.recv), percentiles = {}, sent_rate = s.sent_rate,
    delayed_pct = s.count > 0 and 100 * s.delayed / s.count or 0 }
  local ps = { unpack(perf.PERCENTILES) }
  if o.percentile then
    local seen = false
    for _, p in ipairs(ps) do seen = seen or p == o.percentile end
    if not seen then ps[#ps + 1] = o.percentile end
    table.sort(ps)
  end
  for i, p in ipairs(ps) do f.percentiles[i] = { p, us(perf.percentile(s.latencies, p)) } end
  f.stabilizing_us = us(perf.stabilizing_latency(s, o.percentile))
  return f
end

local function level_report(f, server, protocol, o)
  out("  Client: ")
  out("    Request count: %d", f.count)
  if o.request_rate_range then
    out("    Avg send request rate: %.2f infer/sec", f.sent_rate)
    if f.delayed_pct > 1 then
      out("    [WARNING] Perf Analyzer was not able to keep up with the desired request rate. " ..
        "%s%% of the requests were delayed. ", g(f.delayed_pct))
    end
  end
  out("    Throughput: %s infer/sec", g(f.throughput))
  if not o.percentile then
    out("    Avg latency: %d usec (standard deviation %d usec)", f.avg_us, f.std_us)
  end
  for _, p in ipairs(f.percentiles) do out("    p%d latency: %d usec", p[1], p[2]) end
  local sendrecv = f.send_us + f.recv_us
  if protocol == "grpc" then
    out("    Avg gRPC time: %d usec ((un)marshal request/response %d usec + response wait %d usec)",
      f.avg_us, sendrecv, f.avg_us - sendrecv)
  else
    out("    Avg HTTP time: %d usec (send/recv %d usec + response wait %d usec)", f.avg_us, sendrecv,
      f.avg_us - sendrecv)
  end
  if server then
    local d, sf = server.delta, server.figures
    out("  Server: ")
    if d.success.count == 0 then
      out("    Request count: 0")
      return
    end
    out("    Inference count: %d", d.inference_count)
    out("    Execution count: %d", d.execution_count)
    out("    Successful request count: %d", d.success.count)
    out("    Avg request latency: %d usec (overhead %d usec + queue %d usec + compute input %d usec" ..
      " + compute infer %d usec + compute output %d usec)", sf.request, sf.overhead, sf.queue,
      sf.compute_input, sf.compute_infer, sf.compute_output)
  end
end

-- Latency histogram in text bars: ten buckets from the fastest reply to the p99 one,
-- the slower rest in the last.
local HISTOGRAM_BUCKETS, HISTOGRAM_WIDTH = 10, 40

local function histogram(latencies)
  local n = #latencies
  if n == 0 then return end
  local lo, hi = us(latencies[1]), us(perf.percentile(latencies, 99))
  local width = math.max(1, math.ceil((hi - lo + 1) / HISTOGRAM_BUCKETS))
  local counts = {}
  for b = 1, HISTOGRAM_BUCKETS do counts[b] = 0 end
  for _, l in ipairs(latencies) do
    local b = math.min(HISTOGRAM_BUCKETS, idiv(us(l) - lo, width) + 1)
    counts[b] = counts[b] + 1
  end
  local most = math.max(unpack(counts))
  out("  Latency histogram (usec):")
  for b = 1, HISTOGRAM_BUCKETS do
    local from = lo + (b - 1) * width
    local label = b < HISTOGRAM_BUCKETS and string.format("%d-%d", from, from + width - 1)
        or string.format(">= %d", from)
    out("    %16s |%-" .. HISTOGRAM_WIDTH .. "s| %d", label,
      string.rep("#", math.ceil(counts[b] * HISTOGRAM_WIDTH / most)), counts[b])
  end
end

-- CSV columns and rows as perf_analyzer's report writer makes them.
local function csv_header(o, with_server, f)
  local cols = { o.concurrency_range and "Concurrency" or "Request Rate", "Inferences/Second",
    "Client Send" }
  if with_server then
    for _, c in ipairs { "Network+Server Send/Recv", "Server Queue", "Server Compute Input",
      "Server Compute Infer", "Server Compute Output" } do
      cols[#cols + 1] = c
    end
  end
  cols[#cols + 1] = "Client Recv"
  for _, p in ipairs(f.percentiles) do cols[#cols + 1] = "p" .. p[1] .. " latency" end
  if o.verbose_csv then
    if not o.percentile then cols[#cols + 1] = "Avg latency" end
    cols[#cols + 1] = "request/response"
    cols[#cols + 1] = "response wait"
  end
  return table.concat(cols, ",")
end
M.csv_header = csv_header

local function csv_row(o, lvl)
  local f = lvl.figures
  local row = { o.concurrency_range and tostring(lvl.value) or g(lvl.value), g(f.throughput), f.send_us }
  if lvl.server then
    local sf = lvl.server.figures
    for _, v in ipairs { sf.network, sf.queue, sf.compute_input, sf.compute_infer, sf.compute_output } do
      row[#row + 1] = v
    end
  end
  row[#row + 1] = f.recv_us
  for _, p in ipairs(f.percentiles) do row[#row + 1] = p[2] end
  if o.verbose_csv then
    if not o.percentile then row[#row + 1] = f.avg_us end
    row[#row + 1] = f.send_us + f.recv_us
    row[#row + 1] = f.avg_us - f.send_us - f.recv_us
  end
  return table.concat(row, ",")
end

local function write_csv(o, levels)
  local rows = { unpack(levels) }
  table.sort(rows, function(a, b) return a.figures.throughput < b.figures.throughput end)
  local f, err = io.open(o.csv, "w")
  if not f then fail("-f: cannot write %s", err) end
  f:write(csv_header(o, levels[1].server ~= nil, levels[1].figures), "\n")
  for _, lvl in ipairs(rows) do f:write(csv_row(o, lvl), "\n") end
  f:close()
end

local function summary_report(o, levels)
  out("Inferences/Second vs. Client %s Batch Latency",
    o.percentile and "p" .. o.percentile or "Average")
  for _, lvl in ipairs(levels) do
    out("%s: %s, throughput: %s infer/sec, latency %d usec",
      o.concurrency_range and "Concurrency" or "Request Rate",
      o.concurrency_range and tostring(lvl.value) or g(lvl.value), g(lvl.figures.throughput),
      lvl.figures.stabilizing_us)
  end
end

-- ---- measuring -------------------------------------------------------------------------------

-- The values of a range: start, start + step, ... up to end (no end when it is 0).
local function level_values(range)
  local k = 0
  return function()
    local v = range.start + k * range.step
    if range.stop ~= 0 and v > range.stop + 1e-9 then return nil end
    k = k + 1
    return v
  end
end

-- The progress line on stderr while a level is measured (when stderr is a terminal).
local function progress(what)
  if not core.isatty(2) then return nil, function() end end
  local trial = 1
  local function tick(load)
    local w = load:window()
    local elapsed = core.now() - w.t0
    io.stderr:write(string.format("\r\27[K  %s: window %d, %d replies, %.1f infer/sec, %d in flight",
      what, trial, w.n, elapsed > 0 and w.n / elapsed or 0, load:inflight()))
    io.stderr:flush()
  end
  return tick, function(next_trial)
    trial = next_trial or trial
    io.stderr:write("\r\27[K")
    io.stderr:flush()
  end
end

-- Measures one level; returns its record for the report, or nil and why it ended
-- the search ("unstable" or "threshold").
local function measure_level(o, value, send, snapshot, protocol, state)
  local mode = o.concurrency_range and { concurrency = value }
      or { rate = value, poisson = o.distribution == "poisson" }
  local what = o.concurrency_range and "concurrency " .. value or "request rate " .. g(value)
  if o.concurrency_range then
    out("Request concurrency: %d", value)
  else
    out("Request Rate: %s inference requests per second", g(value))
  end
  io.stdout:flush()
  if o.warmup > 0 then
    local w = { limit = o.warmup }
    for k, v in pairs(mode) do w[k] = v end
    state.load = perf.load(send, w)
    state.load:run()
  end
  local lo = { timing = true, limit = o.request_count }
  for k, v in pairs(mode) do lo[k] = v end
  local load = perf.load(send, lo)
  state.load = load
  local tick, clear = progress(what)
  local interval = o.interval / 1000
  if o.measurement_mode == "count_windows" then interval = 1 end
  local result = perf.profile(load, {
    interval = interval, threshold = o.stability / 100, max_trials = o.max_trials,
    percentile = o.percentile, request_count = o.request_count, snapshot = snapshot, tick = tick,
    on_window = function(i, _, s)
      clear(i + 1)
      if o.verbose then
        local lat = o.percentile and string.format("p%d latency: %d usec", o.percentile,
          us(perf.percentile(s.latencies, o.percentile)))
            or string.format("Avg latency: %d usec (std %d usec). ", us(s.avg),
              s.std == math.huge and compat.maxinteger or us(s.std))
        out("  Pass [%d] throughput: %s infer/sec. %s", i, g(s.throughput * o.batch), lat)
      end
    end,
    window_count = o.measurement_mode == "count_windows" and o.window_count or nil,
  })
  load:drain()
  clear()
  local s = result.summary
  if s.errors > 0 then
    if is_interrupt(s.first_error) then error(s.first_error, 0) end
    fail("a request failed at %s: %s", what, tostring(s.first_error))
  end
  if s.count == 0 then
    fail("no reply came within a measurement window at %s; use a larger --measurement-interval", what)
  end
  if result.latency_unstable then
    io.stderr:write("Warning: Request latency is not stabilizing. Please try lowering the request rate.\n")
  end
  local f = level_figures(s, o)
  if o.latency_threshold > 0 and idiv(f.stabilizing_us, 1000) >= o.latency_threshold then
    io.stderr:write(string.format("Measured latency went over the set limit of %d msec. \n",
      o.latency_threshold))
    return nil, "threshold"
  end
  if not result.stable then
    if o.concurrency_range then
      io.stderr:write(string.format("Failed to obtain stable measurement within %d measurement " ..
        "windows for concurrency %d. Please try to increase the --measurement-interval.\n",
        o.max_trials, value))
    else
      io.stderr:write("Failed to obtain stable measurement.\n")
    end
    return nil, "unstable"
  end
  local lvl = { value = value, figures = f, latencies = s.latencies }
  if snapshot then
    local d = server_delta(result.windows)
    lvl.server = { delta = d, figures = server_figures(d, f) }
  end
  level_report(f, lvl.server, protocol, o)
  if core.isatty(1) then histogram(s.latencies) end
  out("")
  return lvl
end

-- The whole run; returns the exit status.
local function run(o, cleanups)
  if not (o.concurrency_range or o.request_rate_range) then
    o.concurrency_range = { start = 1, stop = 1, step = 1 }
  end
  local range = o.concurrency_range or o.request_rate_range
  local cap = o.concurrency_range and (range.stop ~= 0 and range.stop or 1024) or 256
  local c, protocol = connect(o, cap)
  cleanups[#cleanups + 1] = function() c:close() end
  if o.streaming and protocol ~= "grpc" then fail("--streaming needs gRPC (-i grpc)") end
  local m = read_model(c, o)
  local calls = request_calls(c, m, o, protocol, cleanups)
  local send = o.streaming and stream_sender(c, o, calls, cleanups) or infer_sender(c, o, calls)
  local snapshot
  local extensions = c:server_metadata().extensions or {}
  for _, e in ipairs(extensions) do
    if e == "statistics" then
      snapshot = function() return model_counters(c:inference_statistics(o.model, o.model_version), o) end
    end
  end
  prerun_report(o)
  local levels, first_failed, state = {}, false, {}
  local ok, err = shielded(function()
    for value in level_values(range) do
      local lvl, why = measure_level(o, value, send, snapshot, protocol, state)
      if not lvl then
        first_failed = why == "unstable" and #levels == 0 and value == range.start
        break
      end
      levels[#levels + 1] = lvl
    end
  end)
  if not ok and state.load then state.load:stop() end -- closing must not send more
  local interrupted = not ok and is_interrupt(err)
  if not ok and not interrupted then error(err, 0) end
  if first_failed then
    io.stderr:write("Failed to obtain stable measurement.\n")
    return EXIT_STABILITY
  end
  if #levels > 0 then
    summary_report(o, levels)
    if o.csv then write_csv(o, levels) end
  end
  if interrupted then
    io.stderr:write("tritonlua perf: interrupted\n")
    return 130
  end
  return 0
end

function M.main(argv)
  local cleanups = {}
  local ok, status = pcall(function()
    local o = M.parse(argv)
    if o.help then
      io.stdout:write(usage())
      return 0
    end
    if o.version then
      out("tritonlua perf %s", triton.version)
      return 0
    end
    return run(o, cleanups)
  end)
  for i = #cleanups, 1, -1 do pcall(cleanups[i]) end
  io.stdout:flush()
  if ok then return status end
  local e = status
  if getmetatable(e) == Failure then
    io.stderr:write("tritonlua perf: ", e.message, "\n")
    return e.status
  end
  io.stderr:write("tritonlua perf: ", tostring(e), "\n")
  return EXIT_FAILURE
end

return M
