-- triton.help: the `help` of the tritonlua host (REPL and scripts).
--
--   help()              an overview: what there is, by object
--   help("infer")       the signature and a line about every function or method so named
--   help(obj)           the methods of a client, tensor, result, future, InferInput,
--                       InferRequestedOutput or shm region; the entry of an API function
--
-- One entry per function of docs/API.md. Module functions are shown only when the
-- running module has them (triton.image, for one, is optional).
local M = {}

-- Groups in the order help() shows them: the prefix a call is written with, the
-- metatable __name of the objects help(obj) recognizes, and the entries
-- {name, arguments and result, what it does}.
local groups = {
  { title = "Clients", prefix = "triton.", entries = {
    { "connect", "(url [, opts]) -> client", "http://, https://, grpc://, grpcs:// or host:port" },
    { "http.client", "{url = ..., ...} -> client", "an HTTP client from an options table" },
    { "grpc.client", "{url = ..., ...} -> client", "a gRPC client from an options table" },
  } },
  { title = "Client methods", prefix = "c:", name = "triton.Client", entries = {
    { "is_server_live", "([opts]) -> boolean", "the server's liveness" },
    { "is_server_ready", "([opts]) -> boolean", "the server's readiness" },
    { "is_model_ready", "(model [, version] [, opts]) -> boolean", "a model's readiness" },
    { "server_metadata", "([opts]) -> {name, version, extensions}", "what the server is" },
    { "model_metadata", "(model [, version] [, opts]) -> table", "a model's inputs and outputs" },
    { "model_config", "(model [, version] [, opts]) -> table", "a model's configuration" },
    { "model_repository_index", "([{ready = bool}]) -> list", "the models in the repository" },
    { "load_model", "(model [, {config =, files =}])", "loads (or reloads) a model" },
    { "unload_model", "(model [, {unload_dependents = bool}])", "unloads a model" },
    { "inference_statistics", "([model [, version]]) -> table", "per-model statistics" },
    { "trace_settings", "([model]) -> table", "trace settings" },
    { "update_trace_settings", "(settings [, model]) -> table", "changes trace settings" },
    { "log_settings", "() -> table", "log settings" },
    { "update_log_settings", "(settings) -> table", "changes log settings" },
    { "system_shared_memory_status", "([name]) -> table", "registered system shm regions" },
    { "register_system_shared_memory", "(name, key, byte_size [, offset])", "registers a region" },
    { "unregister_system_shared_memory", "([name])", "unregisters one region, or all" },
    { "cuda_shared_memory_status", "([name]) -> table", "registered CUDA shm regions" },
    { "register_cuda_shared_memory", "(name, raw_handle, device_id, byte_size)", "registers one" },
    { "unregister_cuda_shared_memory", "([name])", "unregisters one, or all" },
    { "infer", "(model, inputs [, opts]) -> result",
      "inputs: {InferInput...} or {NAME = tensor}; opts: outputs, request_id, sequence_id, "
        .. "parameters, client_timeout, headers, ..." },
    { "async_infer", "(model, inputs [, opts] [, callback]) -> future", "infer without waiting" },
    { "start_stream", "(callback [, {headers =, stream_timeout =}])", "opens the gRPC stream" },
    { "async_stream_infer", "(model, inputs [, opts])", "sends a request on the stream" },
    { "stop_stream", "([{cancel_requests = bool}])", "closes the stream" },
    { "stream_infer", "(model, inputs [, opts]) -> iterator", "for r in c:stream_infer(...) do" },
    { "generate", "(model, {text_input =, parameters =} [, opts]) -> table", "the generate extension" },
    { "generate_stream", "(model, body [, opts]) -> iterator", "for ev in c:generate_stream(...) do" },
    { "close", "()", "closes the client (also at the end of a <close> scope)" },
  } },
  { title = "Inference objects", prefix = "triton.", entries = {
    { "InferInput", "(name, shape, datatype) -> input", "an input, Triton style" },
    { "InferRequestedOutput", "(name [, {binary_data =, class_count =}]) -> output", "an output to ask for" },
    { "wait", "({future...}) -> {result...}", "waits for all, results in order" },
    { "spawn", "(fn)", "runs fn as a coroutine: blocking calls in it yield" },
    { "run", "() -> ok [, errors]", "runs spawned coroutines and callbacks until all are done" },
  } },
  { title = "InferInput methods", prefix = "input:", name = "triton.InferInput", entries = {
    { "set_data", "(tensor | table | raw string [, {binary_data = bool}]) -> input", "the input's data" },
    { "set_shape", "(shape) -> input", "a new shape" },
    { "set_shared_memory", "(region, byte_size [, offset]) -> input", "data from a registered region" },
    { "set_parameter", "(key, value) -> input", "a request parameter of the input" },
    { "name", "() -> string", "" }, { "datatype", "() -> string", "" }, { "shape", "() -> table", "" },
  } },
  { title = "InferRequestedOutput methods", prefix = "output:", name = "triton.InferRequestedOutput",
    entries = {
      { "set_shared_memory", "(region, byte_size [, offset]) -> output", "the output into a region" },
      { "unset_shared_memory", "() -> output", "" },
      { "set_parameter", "(key, value) -> output", "a parameter of the output" },
      { "name", "() -> string", "" },
    } },
  { title = "Result methods", prefix = "r:", name = "triton.InferResult", entries = {
    { "as_tensor", "(name) -> tensor", "an output as a tensor (nil when in shared memory)" },
    { "output", "(name) -> {name, datatype, shape, parameters}", "an output's description" },
    { "outputs", "() -> {NAME = tensor}", "every output" },
    { "response", "() -> table", "model_name, model_version, id, parameters, outputs" },
    { "classification", "(name) -> list", "a classification output's {score, index, label}" },
  } },
  { title = "Future methods", prefix = "f:", name = "triton.Future", entries = {
    { "get_result", "() -> result", "waits for the result (raises its error)" },
    { "wait", "([timeout]) -> boolean", "true once done, false when timeout (s) ran out" },
    { "done", "() -> boolean", "whether it is done; never blocks" },
    { "cancel", "()", "cancels the call" },
  } },
  { title = "Tensors", prefix = "triton.", entries = {
    { "tensor", "(values [, dtype [, shape]]) -> tensor",
      "from nested tables, a flat table and a shape, or raw bytes" },
    { "zeros", "(shape [, dtype]) -> tensor", "" }, { "ones", "(shape [, dtype]) -> tensor", "" },
    { "full", "(shape, value [, dtype]) -> tensor", "" },
    { "arange", "([start,] stop [, step] [, dtype]) -> tensor", "stop excluded" },
    { "rand", "(shape [, dtype [, seed]]) -> tensor", "uniform in [0, 1)" },
    { "cat", "(list [, dim]) -> tensor", "joins along an existing dim" },
    { "stack", "(list [, dim]) -> tensor", "joins along a new dim" },
    { "allclose", "(a, b [, rtol, atol]) -> boolean", "" },
    { "is_tensor", "(v) -> boolean", "" },
  } },
  { title = "Tensor methods (and t.dtype, t.shape, #t, t[i], + - * /)", prefix = "t:",
    name = "triton.Tensor", entries = {
      { "numel", "() -> integer", "" }, { "dim", "() -> integer", "" },
      { "get", "(i, j, ...) -> value", "1-based" }, { "set", "(i, j, ..., v)", "1-based" },
      { "reshape", "(shape) -> tensor", "one dim may be -1" }, { "flatten", "() -> tensor", "" },
      { "squeeze", "([dim]) -> tensor", "" }, { "unsqueeze", "(dim) -> tensor", "" },
      { "slice", "(dim, first [, last]) -> tensor", "inclusive" },
      { "transpose", "([d1, d2]) -> tensor", "" }, { "permute", "{d1, d2, ...} -> tensor", "" },
      { "contiguous", "() -> tensor", "" }, { "astype", "(dtype) -> tensor", "a copy" },
      { "clone", "() -> tensor", "" }, { "totable", "() -> table", "" },
      { "bytes", "() -> string", "Triton's wire layout" }, { "close", "()", "frees the memory" },
      { "map", "(fn) -> tensor", "" }, { "clamp", "([lo] [, hi]) -> tensor", "" },
      { "abs", "() -> tensor", "" }, { "exp", "() -> tensor", "" }, { "log", "() -> tensor", "" },
      { "sqrt", "() -> tensor", "" }, { "sigmoid", "() -> tensor", "" },
      { "sum", "([dim])", "" }, { "mean", "([dim])", "" }, { "max", "([dim])", "" },
      { "min", "([dim])", "" }, { "argmax", "([dim])", "1-based" }, { "argmin", "([dim])", "1-based" },
      { "softmax", "([dim]) -> tensor", "" }, { "topk", "(k [, dim]) -> values, indices", "" },
    } },
  { title = "Shared memory", prefix = "triton.", entries = {
    { "shm.create", "(name, key, byte_size) -> region", "a POSIX shared memory region" },
  } },
  { title = "Region methods (and region.name, .key, .byte_size)", prefix = "region:",
    name = "triton.ShmRegion", entries = {
      { "write", "(tensor | string [, offset]) -> bytes written", "" },
      { "read", "(dtype, shape [, offset]) -> tensor", "a copy" },
      { "destroy", "()", "unmaps and unlinks" },
    } },
  { title = "Images", prefix = "triton.", entries = {
    { "image.load", "(path) -> tensor", "JPEG or PNG as UINT8 {H, W, C}" },
    { "image.decode", "(bytes) -> tensor", "" },
    { "image.resize", "(img, {h, w} [, \"nearest\"]) -> tensor", "bilinear by default" },
    { "image.preprocess", "(img, {size =, format =, dtype =, scaling =, channels =}) -> tensor",
      "as Triton's image_client.py" },
    { "image.encode", "(t, \"png\") -> string", "" },
  } },
  { title = "Utilities", prefix = "triton.", entries = {
    { "now", "() -> seconds", "a monotonic clock" },
    { "sleep", "(seconds)", "yields inside a spawned coroutine" },
    { "json.encode", "(v) -> string", "" }, { "json.decode", "(s) -> value", "" },
    { "version", "", "the module's version (a string)" },
    { "dtypes", "", "dtype name -> element size (0 for BYTES)" },
  } },
}

local function triton() return require "triton" end

-- The value at a dotted path of the triton table ("image.load"), or nil.
local function resolve(path)
  local v = triton()
  for part in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

-- Whether obj has a field k (indexing a tensor or a result runs no user code).
local function has(obj, k)
  local ok, v = pcall(function() return obj[k] end)
  return ok and v ~= nil
end

-- Entries of group g that exist here: module functions are looked up, methods
-- in obj when given, else in the client class.
local function present(g, obj)
  local out = {}
  for _, e in ipairs(g.entries) do
    local here = true
    if g.prefix == "triton." then
      here = resolve(e[1]) ~= nil
    elseif obj ~= nil then
      here = has(obj, e[1])
    elseif g.name == "triton.Client" then
      here = require("triton.client").Client[e[1]] ~= nil
    end
    if here then out[#out + 1] = e end
  end
  return out
end

local function line(g, e)
  local s = "  " .. g.prefix .. e[1] .. e[2]
  if e[3] ~= "" then s = s .. "\n      " .. e[3] end
  return s
end

-- "title (prefixNAME): a, b, c" folded at 78 columns.
local function folded(title, prefix, names)
  local lines, cur = {}, string.format("%s (%sNAME):", title, prefix)
  for i, n in ipairs(names) do
    local word = " " .. n .. (i < #names and "," or "")
    if #cur + #word > 78 then
      lines[#lines + 1] = cur
      cur = "   "
    end
    cur = cur .. word
  end
  lines[#lines + 1] = cur
  return table.concat(lines, "\n")
end

local function overview()
  local out = { "tritonlua: Lua for Triton Inference Server. help(\"infer\") or help(obj) for more;",
    "the global `client` connects to the -u URL on first use." }
  for _, g in ipairs(groups) do
    local names = {}
    for _, e in ipairs(present(g)) do names[#names + 1] = e[1] end
    if #names > 0 then out[#out + 1] = folded(g.title, g.prefix, names) end
  end
  return table.concat(out, "\n")
end

local function by_name(name)
  local out = {}
  for _, g in ipairs(groups) do
    for _, e in ipairs(present(g)) do
      if e[1] == name or (g.prefix .. e[1]) == name then out[#out + 1] = line(g, e) end
    end
  end
  if #out == 0 then return "no function or method named '" .. name .. "' (help() lists them)" end
  return table.concat(out, "\n")
end

local function group_text(g, obj)
  local out = { g.title .. ":" }
  for _, e in ipairs(present(g, obj)) do out[#out + 1] = line(g, e) end
  return table.concat(out, "\n")
end

-- The entry of a function of the API, found by identity.
local function function_text(fn)
  for _, g in ipairs(groups) do
    if g.prefix == "triton." then
      for _, e in ipairs(present(g)) do
        if resolve(e[1]) == fn then return line(g, e) end
      end
    end
  end
  local Client = require("triton.client").Client
  for _, e in ipairs(groups[2].entries) do
    if Client[e[1]] == fn then return line(groups[2], e) end
  end
  return nil
end

--- The text help(x) prints.
function M.text(x)
  if x == nil or x == triton() then return overview() end
  if type(x) == "string" then return by_name(x) end
  if type(x) == "function" then
    return function_text(x) or "a function that is not part of the triton API"
  end
  local mt = getmetatable(x)
  local name = type(mt) == "table" and rawget(mt, "__name")
  for _, g in ipairs(groups) do
    if g.name and g.name == name then return group_text(g, x) end
  end
  return "no help for a " .. type(x) .. " (help() lists what there is)"
end

--- help([x]): prints M.text(x).
function M.help(x)
  print(M.text(x))
end

return M
