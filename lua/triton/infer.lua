-- triton.infer: the Triton-style request objects (InferInput,
-- InferRequestedOutput) and the translation of an infer call's arguments into
-- the request table the C binding reads (src/lua/lbuild.c, lbuild_infer).
-- The objects' private fields (_name, _shape, ...) are what lbuild.c reads from
-- them: their methods set and check each field, lbuild.c what depends on the call.
local core = require "triton.core"
local compat = require "triton.compat"
local math_type = compat.math_type
local args = core.args -- the one argument layer (src/lua/largs.c)

local M = {}

-- Errors name the user's line, wherever in this file they are raised.
local argerror = args.argerror

-- The element count of a checked shape, or nil when it does not fit in an integer
-- (it would wrap, and a wrapped count could match the wrong data).
local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do
    if d ~= 0 and n > compat.idiv(compat.maxinteger, d) then return nil end
    n = n * d
  end
  return n
end

-- NaN and the infinities: JSON (the HTTP body) cannot carry them, so HTTP would
-- refuse them while gRPC's double_param would send them; refusing them here
-- makes a parameter mean the same on both transports.
local function non_finite(v)
  return math_type(v) == "float" and (v ~= v or v == math.huge or v == -math.huge)
end

-- ---- InferInput -----------------------------------------------------------------

-- Both metatables are made by the core, which knows them by name (__name).
local InferInput, InferRequestedOutput = core.infer_classes()
InferInput.__index = InferInput

function M.InferInput(name, shape, datatype)
  if type(name) ~= "string" then args.check_string(name, 1, "InferInput") end
  shape = args.check_shape(shape, 2, "InferInput", true)
  args.check_dtype(datatype, 3, "InferInput")
  return setmetatable({ _name = name, _shape = shape, _datatype = datatype }, InferInput)
end

function InferInput:name() return self._name end
function InferInput:datatype() return self._datatype end

function InferInput:shape()
  return compat.move(self._shape, 1, #self._shape, 1, {})
end

function InferInput:set_shape(shape)
  self._shape = args.check_shape(shape, 1, "set_shape", true)
  return self
end

local set_data_options = args.option_spec { { "binary_data", "boolean" } }

-- input:set_data(tensor | table | raw string [, {binary_data = bool}])
function InferInput:set_data(x, o)
  args.check_options(o, set_data_options, "set_data", 2)
  local t
  if core.is_tensor(x) then
    t = x
    if t.dtype ~= self._datatype then
      argerror(1, "set_data", string.format("input '%s' is %s, the tensor is %s", self._name,
        self._datatype, t.dtype))
    end
  elseif type(x) == "table" or type(x) == "string" then
    local ok, r = pcall(core.tensor, x, self._datatype,
      type(x) == "string" and self._shape or nil)
    if not ok then -- r names the user's line already: say it once
      argerror(1, "set_data", string.format("input '%s': %s", self._name,
        tostring(r):gsub("^[^\n]-:%d+: ", "", 1)))
    end
    t = r
  else
    argerror(1, "set_data", "tensor, table or string expected, got " .. type(x))
  end
  local want = numel(self._shape)
  if not want then
    argerror(1, "set_data", string.format("input '%s' has shape {%s}: too many elements",
      self._name, table.concat(self._shape, ",")))
  end
  if t:numel() ~= want then
    argerror(1, "set_data", string.format("input '%s' has shape {%s} (%d elements), the data has %d",
      self._name, table.concat(self._shape, ","), want, t:numel()))
  end
  self._data = t
  self._json = o ~= nil and o.binary_data == false or nil
  self._shm = nil
  return self
end

-- input:set_shared_memory(region, byte_size [, offset]); region: a name or a
-- triton.shm region (its name is used).
function InferInput:set_shared_memory(region, byte_size, offset)
  if type(region) == "userdata" then region = region.name end
  if type(region) ~= "string" then argerror(1, "set_shared_memory", "region name expected") end
  if math_type(byte_size) ~= "integer" or byte_size < 0 then
    argerror(2, "set_shared_memory", "non-negative integer byte size expected")
  end
  if offset ~= nil and (math_type(offset) ~= "integer" or offset < 0) then
    argerror(3, "set_shared_memory", "non-negative integer offset expected")
  end
  self._shm = { region, byte_size, offset or 0 }
  self._data, self._json = nil, nil
  return self
end

function InferInput:set_parameter(k, v)
  if type(k) ~= "string" then args.check_string(k, 1, "set_parameter") end
  local tv = type(v)
  if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
    argerror(2, "set_parameter", "boolean, number or string expected, got " .. tv)
  end
  if non_finite(v) then
    argerror(2, "set_parameter", "parameter '" .. k .. "' must be a finite number, got " .. tostring(v))
  end
  self._params = self._params or {}
  self._params[k] = v
  return self
end

function InferInput:__tostring()
  return string.format("triton.InferInput(%s, %s, {%s})", self._name, self._datatype,
    table.concat(self._shape, ", "))
end

-- ---- InferRequestedOutput ---------------------------------------------------------

InferRequestedOutput.__index = InferRequestedOutput

local output_options = args.option_spec {
  { "binary_data", "boolean" },
  { "class_count", "integer", min = 0 },
}

-- InferRequestedOutput(name [, {binary_data = true, class_count = 0}])
function M.InferRequestedOutput(name, o)
  if type(name) ~= "string" then args.check_string(name, 1, "InferRequestedOutput") end
  o = args.check_options(o, output_options, "InferRequestedOutput", 2) or {}
  return setmetatable({ _name = name, _binary = o.binary_data ~= false,
    _class_count = o.class_count or 0 }, InferRequestedOutput)
end

function InferRequestedOutput:name() return self._name end

function InferRequestedOutput:set_shared_memory(region, byte_size, offset)
  if type(region) == "userdata" then region = region.name end
  if type(region) ~= "string" then argerror(1, "set_shared_memory", "region name expected") end
  if math_type(byte_size) ~= "integer" or byte_size < 0 then
    argerror(2, "set_shared_memory", "non-negative integer byte size expected")
  end
  if offset ~= nil and (math_type(offset) ~= "integer" or offset < 0) then
    argerror(3, "set_shared_memory", "non-negative integer offset expected")
  end
  self._shm = { region, byte_size, offset or 0 }
  return self
end

function InferRequestedOutput:unset_shared_memory()
  self._shm = nil
  return self
end

function InferRequestedOutput:set_parameter(k, v)
  if type(k) ~= "string" then args.check_string(k, 1, "set_parameter") end
  -- Other value types are left to the request encoder, which names the parameter.
  if non_finite(v) then
    argerror(2, "set_parameter", "parameter '" .. k .. "' must be a finite number, got " .. tostring(v))
  end
  self._params = self._params or {}
  self._params[k] = v
  return self
end

function InferRequestedOutput:__tostring()
  return string.format("triton.InferRequestedOutput(%s)", self._name)
end

-- ---- requests -------------------------------------------------------------------------

M.is_input = function(v) return getmetatable(v) == InferInput end
M.is_output = function(v) return getmetatable(v) == InferRequestedOutput end

-- The options of an infer request (src/lua/lbuild.c reads them, under these
-- names). M.infer_options and M.stream_options add the keys of the calls that
-- send one.
local request_options = args.option_spec {
  { "outputs", "table" },
  { "model_version", "integer|string", text = true },
  { "request_id", "string", text = true },
  { "sequence_id", "integer|string", min = 0, text = true },
  { "sequence_start", "boolean" },
  { "sequence_end", "boolean" },
  { "priority", "integer", min = 0 },
  { "timeout", "integer", min = 0 }, -- Triton's server-side timeout, microseconds
  { "parameters", "map", values = "boolean|number|string" },
}
-- c:infer and c:async_infer: client_timeout is the client-side one, in seconds.
M.infer_options = args.option_spec {
  request_options,
  { "client_timeout", "number", min = 0 },
  { "headers", "map", values = "string|number" },
  { "query_params", "map", values = "string|number" },
}
M.stream_options = args.option_spec {
  request_options,
  { "enable_empty_final_response", "boolean" },
}

-- The request table the core reads (src/lua/lbuild.c, lbuild_infer): the model,
-- the inputs as the user gave them (a list of InferInput or a map name ->
-- tensor), the options `o` (nil, or checked against M.infer_options or
-- M.stream_options; the core reads the request's own and leaves the rest) and
-- the user's function name and its model's argument number (nil: 1), for the
-- messages of the checks the core makes as it reads them. c:infer and
-- c:async_infer without a callback, split or query_params never come here:
-- the core reads their arguments as they are.
function M.request(model, inputs, o, fname, arg)
  return { model = model, inputs = inputs, options = o, fname = fname, arg = arg }
end

return M
