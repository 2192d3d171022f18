-- image_client.lua: Triton's image_client.py in Lua. Classifies an image, or every
-- image in a folder, with an image classification model (densenet_onnx,
-- inception_graphdef), preprocessing as the Python client does (triton.image:
-- Pillow's bilinear resize, scaling NONE / INCEPTION / VGG) and printing the top
-- classes the server's classification extension returns:
--   Request 1, batch size 1
--       10.000000 (949) = STRAWBERRY
-- Usage: tritonlua examples/image_client.lua -m MODEL [-x VERSION] [-b BATCH] [-c CLASSES]
--          [-s NONE|INCEPTION|VGG] [-u URL] [-i HTTP|gRPC] [-a|--async] [--streaming] [-v]
--          IMAGE_OR_FOLDER
-- As in Python, a batch that runs past the last image starts over with the first.
-- Run by ctest through tests/image/image_client_check.py, not with a bare URL.
local triton = require "triton"

local USAGE = "usage: image_client.lua -m MODEL [-x VERSION] [-b BATCH] [-c CLASSES] " ..
    "[-s NONE|INCEPTION|VGG] [-u URL] [-i HTTP|gRPC] [-a] [--streaming] [-v] IMAGE_OR_FOLDER"

local function fail(msg)
  io.stderr:write(msg, "\n")
  os.exit(1)
end

-- ---- flags, as image_client.py's argparse has them ----------------------------------
local function parse_flags(argv)
  local flags = {model_version = "", batch_size = 1, classes = 1, scaling = "NONE",
                 url = "localhost:8000", protocol = "HTTP", async = false, streaming = false,
                 verbose = false}
  local valued = {["-m"] = "model_name", ["--model-name"] = "model_name",
                  ["-x"] = "model_version", ["--model-version"] = "model_version",
                  ["-b"] = "batch_size", ["--batch-size"] = "batch_size",
                  ["-c"] = "classes", ["--classes"] = "classes",
                  ["-s"] = "scaling", ["--scaling"] = "scaling",
                  ["-u"] = "url", ["--url"] = "url", ["-i"] = "protocol", ["--protocol"] = "protocol"}
  local switches = {["-a"] = "async", ["--async"] = "async", ["--streaming"] = "streaming",
                    ["-v"] = "verbose", ["--verbose"] = "verbose"}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if valued[a] then
      if argv[i + 1] == nil then fail(USAGE .. "\nerror: " .. a .. " expects a value") end
      flags[valued[a]] = argv[i + 1]
      i = i + 2
    elseif switches[a] then
      flags[switches[a]] = true
      i = i + 1
    elseif a:sub(1, 1) == "-" then
      fail(USAGE .. "\nerror: unrecognized argument " .. a)
    elseif flags.image_filename then
      fail(USAGE .. "\nerror: only one image or folder")
    else
      flags.image_filename = a
      i = i + 1
    end
  end
  if not flags.model_name then fail(USAGE .. "\nerror: -m/--model-name is required") end
  for _, k in ipairs({"batch_size", "classes"}) do
    flags[k] = math.tointeger(tonumber(flags[k]))
    if not flags[k] then fail(USAGE .. "\nerror: -b and -c take integers") end
  end
  if not ({NONE = true, INCEPTION = true, VGG = true})[flags.scaling] then
    fail(USAGE .. "\nerror: -s is one of NONE, INCEPTION, VGG")
  end
  if not flags.image_filename then fail(USAGE .. "\nerror: an image or a folder is required") end
  flags.protocol = flags.protocol:lower()
  return flags
end

-- ---- the model's requirements (parse_model) ------------------------------------------
local function parse_model(metadata, config)
  if #metadata.inputs ~= 1 then error(("expecting 1 input, got %d"):format(#metadata.inputs)) end
  if #metadata.outputs ~= 1 then error(("expecting 1 output, got %d"):format(#metadata.outputs)) end
  if #config.input ~= 1 then
    error(("expecting 1 input in model configuration, got %d"):format(#config.input))
  end
  local input, input_config, output = metadata.inputs[1], config.input[1], metadata.outputs[1]
  if output.datatype ~= "FP32" then
    error(("expecting output datatype to be FP32, model '%s' output type is %s")
      :format(metadata.name, output.datatype))
  end
  -- the output is a vector: every dimension but one (and the batch one) is 1
  local batched = (config.max_batch_size or 0) > 0
  local non_one = 0
  for d, dim in ipairs(output.shape) do
    if not (batched and d == 1) and dim > 1 then
      non_one = non_one + 1
      if non_one > 1 then error("expecting model output to be a vector") end
    end
  end
  local expected = 3 + (batched and 1 or 0)
  if #input.shape ~= expected then
    error(("expecting input to have %d dimensions, model '%s' input has %d")
      :format(expected, metadata.name, #input.shape))
  end
  local format = input_config.format
  if format ~= "FORMAT_NCHW" and format ~= "FORMAT_NHWC" then
    error(("unexpected input format %s, expecting FORMAT_NCHW or FORMAT_NHWC"):format(tostring(format)))
  end
  local b = batched and 1 or 0
  local c, h, w
  if format == "FORMAT_NHWC" then
    h, w, c = input.shape[b + 1], input.shape[b + 2], input.shape[b + 3]
  else
    c, h, w = input.shape[b + 1], input.shape[b + 2], input.shape[b + 3]
  end
  return {max_batch_size = config.max_batch_size or 0, input_name = input.name,
          output_name = output.name, c = c, h = h, w = w, format = format,
          dtype = input.datatype}
end

-- ---- images ---------------------------------------------------------------------------
-- A regular file reads (or is at its end); a folder opens but refuses to read.
local function is_file(path)
  local f = io.open(path, "rb")
  if not f then return false end
  local data, err = f:read(1)
  f:close()
  return data ~= nil or err == nil
end

local function image_files(path)
  if is_file(path) then return {path} end
  local names = {}
  local ls = io.popen("ls -A -- '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
  for name in ls:lines() do
    local full = path:gsub("/$", "") .. "/" .. name
    if is_file(full) then names[#names + 1] = full end
  end
  ls:close()
  if #names == 0 then fail("no image files in " .. path) end
  table.sort(names)
  return names
end

local function preprocess(filename, m, scaling)
  local img = triton.image.load(filename)
  return triton.image.preprocess(img, {size = {m.h, m.w}, channels = m.c == 1 and 1 or 3,
                                       format = m.format, dtype = m.dtype, scaling = scaling})
end

-- ---- results ----------------------------------------------------------------------------
local function postprocess(result, output_name, batch_size, batching)
  local classes = result:as_tensor(output_name)
  local rows = batching and classes.shape[1] or 1
  if batching and rows ~= batch_size then
    error(("expected %d results, got %d"):format(batch_size, rows))
  end
  local per_row = batching and classes.shape[2] or classes.shape[1]
  for r = 1, rows do
    for k = 1, per_row do
      local cell = batching and classes:get(r, k) or classes:get(k)
      local score, index, label = cell:match("^([^:]*):([^:]*):?(.*)$")
      print(("    %s (%s) = %s"):format(score, index, label))
    end
  end
end

-- ---- main -------------------------------------------------------------------------------
local FLAGS = parse_flags(arg)
if FLAGS.streaming and FLAGS.protocol ~= "grpc" then
  fail("Streaming is only allowed with gRPC protocol")
end
local url = FLAGS.url
if not url:match("^%a+://") then url = (FLAGS.protocol == "grpc" and "grpc://" or "http://") .. url end
local ok, client = pcall(triton.connect, url, {verbose = FLAGS.verbose})
if not ok then
  print("client creation failed: " .. tostring(client))
  os.exit(1)
end
local version = FLAGS.model_version ~= "" and FLAGS.model_version or nil

local metadata, config
ok, metadata = pcall(client.model_metadata, client, FLAGS.model_name, version)
if not ok then
  print("failed to retrieve the metadata: " .. tostring(metadata))
  os.exit(1)
end
ok, config = pcall(client.model_config, client, FLAGS.model_name, version)
if not ok then
  print("failed to retrieve the config: " .. tostring(config))
  os.exit(1)
end
local m = parse_model(metadata, config)
local batching = m.max_batch_size > 0
if not batching and FLAGS.batch_size ~= 1 then
  print("ERROR: This model doesn't support batching.")
  os.exit(1)
end

local filenames = image_files(FLAGS.image_filename)
local image_data = {}
for i, filename in ipairs(filenames) do image_data[i] = preprocess(filename, m, FLAGS.scaling) end

local responses, futures = {}, {}
local function on_result(r, err)
  if err then
    print("inference failed: " .. tostring(err))
    os.exit(1)
  end
  responses[#responses + 1] = r
end
if FLAGS.streaming then client:start_stream(on_result) end

local image_idx, sent_count, last_request = 0, 0, false
while not last_request do
  local batch = {}
  for _ = 1, FLAGS.batch_size do
    batch[#batch + 1] = image_data[image_idx + 1]
    image_idx = (image_idx + 1) % #image_data
    if image_idx == 0 then last_request = true end
  end
  -- stacked along a new batch dimension: the tensors' bytes one after another
  local shape = {table.unpack(batch[1].shape)}
  local bytes = {}
  for i, t in ipairs(batch) do bytes[i] = t:bytes() end
  if batching then table.insert(shape, 1, #batch) end
  local inputs = {triton.InferInput(m.input_name, shape, m.dtype):set_data(table.concat(bytes))}
  local outputs = {triton.InferRequestedOutput(m.output_name, {class_count = FLAGS.classes})}
  sent_count = sent_count + 1
  local opts = {request_id = tostring(sent_count), model_version = version, outputs = outputs}
  local sent, err = pcall(function()
    if FLAGS.streaming then
      client:async_stream_infer(FLAGS.model_name, inputs, opts)
    elseif FLAGS.async and FLAGS.protocol == "grpc" then -- results in completion order
      futures[#futures + 1] = client:async_infer(FLAGS.model_name, inputs, opts, on_result)
    elseif FLAGS.async then
      futures[#futures + 1] = client:async_infer(FLAGS.model_name, inputs, opts)
    else
      responses[#responses + 1] = client:infer(FLAGS.model_name, inputs, opts)
    end
  end)
  if not sent then
    print("inference failed: " .. tostring(err))
    if FLAGS.streaming then client:stop_stream() end
    os.exit(1)
  end
end

if FLAGS.streaming then
  client:stop_stream() -- waits for the responses to what was sent
elseif FLAGS.async and FLAGS.protocol == "grpc" then
  triton.wait(futures) -- on_result has run for each, in completion order
else
  for _, f in ipairs(futures) do responses[#responses + 1] = f:get_result() end
end

for _, r in ipairs(responses) do
  print(("Request %s, batch size %d"):format(r:response().id, FLAGS.batch_size))
  postprocess(r, m.output_name, FLAGS.batch_size, batching)
end
client:close()
print("PASS")
