---@meta _
-- LuaLS annotations: the objects of an infer call. Requests Triton style
-- (triton.InferInput, triton.InferRequestedOutput), results (c:infer,
-- fut:get_result, streams) and futures (c:async_infer).

---@class triton.InferInput
local InferInput = {}

---The input's data: a tensor of its dtype, a (nested) table or raw little-endian
---bytes, with as many elements as its shape says. `binary_data = false` sends JSON
---over HTTP.
---@param data triton.Tensor|table|string
---@param opts? {binary_data?: boolean}
---@return triton.InferInput self
function InferInput:set_data(data, opts) end

---A new shape.
---@param shape triton.shape
---@return triton.InferInput self
function InferInput:set_shape(shape) end

---Takes the data from a registered shared memory region instead.
---@param region string|triton.ShmRegion
---@param byte_size integer
---@param offset? integer
---@return triton.InferInput self
function InferInput:set_shared_memory(region, byte_size, offset) end

---A parameter of the input (a finite number, a boolean or a string).
---@param key string
---@param value boolean|number|string
---@return triton.InferInput self
function InferInput:set_parameter(key, value) end

---@return string
function InferInput:name() end

---@return triton.dtype
function InferInput:datatype() end

---A copy of the shape.
---@return integer[]
function InferInput:shape() end

---@class triton.InferRequestedOutput
local InferRequestedOutput = {}

---The output's name.
---@return string
function InferRequestedOutput:name() end

---Asks the server to write the output into a registered shared memory region.
---@param region string|triton.ShmRegion
---@param byte_size integer
---@param offset? integer
---@return triton.InferRequestedOutput self
function InferRequestedOutput:set_shared_memory(region, byte_size, offset) end

---Undoes set_shared_memory.
---@return triton.InferRequestedOutput self
function InferRequestedOutput:unset_shared_memory() end

---A parameter of the output (a finite number, a boolean or a string).
---@param key string
---@param value boolean|number|string
---@return triton.InferRequestedOutput self
function InferRequestedOutput:set_parameter(key, value) end

---@class triton.OutputInfo
---@field name string
---@field datatype triton.dtype
---@field shape integer[]
---@field parameters? table<string, boolean|number|string>

---@class triton.Response
---@field model_name string
---@field model_version string
---@field id? string
---@field parameters? table<string, boolean|number|string>
---@field outputs triton.OutputInfo[]

---@class triton.Class
---@field score number
---@field index integer 1-based
---@field label? string

---@class triton.InferResult
local InferResult = {}

---An output as a tensor (a view over the reply that outlives the result); nil for
---an output placed in shared memory. Raises for an unknown name.
---@param name string
---@return triton.Tensor?
function InferResult:as_tensor(name) end

---An output's description. Raises for an unknown name.
---@param name string
---@return triton.OutputInfo
function InferResult:output(name) end

---Same as output (tritonclient's name).
---@param name string
---@return triton.OutputInfo
function InferResult:get_output(name) end

---Every output not placed in shared memory, by name.
---@return table<string, triton.Tensor>
function InferResult:outputs() end

---The whole response (the same table over HTTP and gRPC).
---@return triton.Response
function InferResult:response() end

---Same as response (tritonclient's name).
---@return triton.Response
function InferResult:get_response() end

---A classification output parsed: a list of {score, index, label}, nested per batch row.
---@param name string
---@return triton.Class[]|triton.Class[][]
function InferResult:classification(name) end

---Whether this (streamed) response ends its request.
---@return boolean
function InferResult:final() end

---The URL of the server that answered (a split call: the list, one per chunk).
---@return string|string[]|nil
function InferResult:server() end

---@class triton.Future
local Future = {}

---Whether the call is done. Never blocks, but runs completions that are ready.
---@return boolean
function Future:done() end

---Waits for the result (the same one every time); raises the call's error.
---In a spawned coroutine it yields instead of blocking. `block = false` returns
---nil while the call is not done; a `timeout` (seconds) that runs out first
---raises a "deadline_exceeded" triton.Error (the call goes on).
---@param block? boolean
---@param timeout? number
---@return triton.InferResult|nil
function Future:get_result(block, timeout) end

---Waits until the call is done, at most `timeout` seconds (no limit without
---one): true once done, false when the timeout ran out first (the call goes on).
---@param timeout? number
---@return boolean
function Future:wait(timeout) end

---Cancels the call: it ends with a "cancelled" error unless it already ended.
function Future:cancel() end
