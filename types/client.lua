---@meta _
-- LuaLS annotations: the client (triton.connect, triton.http.client,
-- triton.grpc.client) and its options. Every method takes the same Lua values
-- and returns the same Lua values over HTTP and gRPC (docs/API.md).

---What async_infer and start_stream call with each result, or with the error.
---@alias triton.InferCallback fun(result: triton.InferResult?, err: triton.Error?)

---@class triton.ClientOptions
---@field url? string required by the http.client and grpc.client constructors
---@field protocol? "http"|"grpc"
---@field verbose? boolean log each request and response to stderr (credentials redacted)
---@field headers? table<string, string|number> sent with every call
---@field connection_timeout? number seconds (default 20): TCP and TLS connect
---@field network_timeout? number seconds (default 60): the longest wait for the next bytes
---@field ssl? {ca_file?: string, cert_file?: string, key_file?: string, insecure?: boolean}
---@field compression? "gzip"|"deflate" for requests
---@field response_compression? "gzip"|"deflate" HTTP only
---@field concurrency? integer requests in flight at once (default 32)
---@field max_response_size? integer bytes; larger replies fail cleanly
---@field keepalive? {time_ms?: integer, timeout_ms?: integer, permit_without_calls?: boolean} gRPC only
---@field channel_args? table<string, string|number> raw gRPC channel arguments
---@field resolve? number resolve the URL's host to all its addresses, again every so many seconds (0: once)
---@field balance? "least_requests"|"round_robin" how a fleet picks a server (default least_requests)
---@field health? {interval?: number, models?: string[]} probe ServerReady (and ModelReady) every interval seconds (default 2)
---@field retry? {attempts?: integer, on?: string[], backoff?: number, max_backoff?: number, budget?: number} retry idempotent calls by policy (docs/FLEET.md)

---One server of a fleet, as c:servers() reports it.
---@class triton.ServerInfo
---@field url string
---@field healthy boolean
---@field in_flight integer
---@field requests integer
---@field failures integer
---@field probes integer health probe rounds finished
---@field last_error? string

---Per-call options of every method but infer and the streams.
---@class triton.CallOptions
---@field headers? table<string, string|number> per call; replaces a client header of the same name
---@field timeout? number client-side limit for the whole call, seconds
---@field query_params? table<string, string|number> HTTP only

---@class triton.InferOptions
---@field outputs? triton.InferRequestedOutput[]
---@field model_version? string|integer
---@field request_id? string
---@field sequence_id? integer|string
---@field sequence_start? boolean
---@field sequence_end? boolean
---@field priority? integer
---@field timeout? integer Triton's server-side timeout, microseconds
---@field client_timeout? number client-side limit for the whole call, seconds
---@field parameters? table<string, boolean|number|string>
---@field headers? table<string, string|number>
---@field query_params? table<string, string|number> HTTP only
---@field split? boolean infer only: a batch beyond the model's max_batch_size goes as chunks, outputs concatenated

---@class triton.StreamInferOptions
---@field outputs? triton.InferRequestedOutput[]
---@field model_version? string|integer
---@field request_id? string
---@field sequence_id? integer|string
---@field sequence_start? boolean
---@field sequence_end? boolean
---@field priority? integer
---@field timeout? integer Triton's server-side timeout, microseconds
---@field parameters? table<string, boolean|number|string>
---@field enable_empty_final_response? boolean

---@class triton.ServerMetadata
---@field name string
---@field version string
---@field extensions string[]

---@class triton.TensorMetadata
---@field name string
---@field datatype triton.dtype
---@field shape integer[]

---@class triton.ModelMetadata
---@field name string
---@field versions string[]
---@field platform string
---@field inputs triton.TensorMetadata[]
---@field outputs triton.TensorMetadata[]

---@class triton.ModelIndexEntry
---@field name string
---@field version? string
---@field state? string
---@field reason? string

---@class triton.Client
---@field protocol "http"|"grpc"
---@field url string|string[] the URL (or the list of URLs) it was made with
local Client = {}

---The fleet's servers with their counters (a plain client: its one server).
---@return triton.ServerInfo[]
function Client:servers() end

---Calls `fn(url, client)` for every server, `client` a client of that server alone.
---@param fn fun(url: string, client: triton.Client)
function Client:each(fn) end

---Closes the client (also at the end of a `<close>` scope); calls in flight fail.
function Client:close() end

---The server's liveness.
---@param opts? triton.CallOptions
---@return boolean
function Client:is_server_live(opts) end

---The server's readiness.
---@param opts? triton.CallOptions
---@return boolean
function Client:is_server_ready(opts) end

---A model's readiness.
---@param model string
---@param version? string|integer
---@param opts? triton.CallOptions
---@return boolean
function Client:is_model_ready(model, version, opts) end

---What the server is.
---@param opts? triton.CallOptions
---@return triton.ServerMetadata
function Client:server_metadata(opts) end

---A model's inputs and outputs.
---@param model string
---@param version? string|integer
---@param opts? triton.CallOptions
---@return triton.ModelMetadata
function Client:model_metadata(model, version, opts) end

---A model's configuration, with model_config.proto's snake_case field names.
---@param model string
---@param version? string|integer
---@param opts? triton.CallOptions
---@return table
function Client:model_config(model, version, opts) end

---The models in the repository.
---@param opts? triton.CallOptions|{ready?: boolean}
---@return triton.ModelIndexEntry[]
function Client:model_repository_index(opts) end

---Loads (or reloads) a model, optionally with a config (table or JSON text) and
---files ("file:<version>/<name>" -> bytes).
---@param model string
---@param opts? triton.CallOptions|{config?: table|string, files?: table<string, string>}
function Client:load_model(model, opts) end

---Unloads a model.
---@param model string
---@param opts? triton.CallOptions|{unload_dependents?: boolean}
function Client:unload_model(model, opts) end

---Per-model statistics (all models without `model`).
---@param model? string
---@param version? string|integer
---@param opts? triton.CallOptions
---@return table
function Client:inference_statistics(model, version, opts) end

---Trace settings (the server's, or a model's).
---@param model? string
---@param opts? triton.CallOptions
---@return table
function Client:trace_settings(model, opts) end

---Changes trace settings; returns the new ones.
---@param settings table
---@param model? string
---@param opts? triton.CallOptions
---@return table
function Client:update_trace_settings(settings, model, opts) end

---Log settings.
---@param opts? triton.CallOptions
---@return table
function Client:log_settings(opts) end

---Changes log settings; returns the new ones.
---@param settings table
---@param opts? triton.CallOptions
---@return table
function Client:update_log_settings(settings, opts) end

---Registered system shared memory regions (one, or all).
---@param name? string|triton.ShmRegion
---@param opts? triton.CallOptions
---@return table
function Client:system_shared_memory_status(name, opts) end

---Registers a system shared memory region with the server.
---@param name string|triton.ShmRegion
---@param key string
---@param byte_size integer
---@param offset? integer
---@param opts? triton.CallOptions
function Client:register_system_shared_memory(name, key, byte_size, offset, opts) end

---Unregisters one system shared memory region, or all.
---@param name? string|triton.ShmRegion
---@param opts? triton.CallOptions
function Client:unregister_system_shared_memory(name, opts) end

---Registered CUDA shared memory regions (one, or all).
---@param name? string
---@param opts? triton.CallOptions
---@return table
function Client:cuda_shared_memory_status(name, opts) end

---Registers a CUDA shared memory region (raw_handle: the serialized cudaIpcMemHandle_t).
---@param name string
---@param raw_handle string
---@param device_id integer
---@param byte_size integer
---@param opts? triton.CallOptions
function Client:register_cuda_shared_memory(name, raw_handle, device_id, byte_size, opts) end

---Unregisters one CUDA shared memory region, or all.
---@param name? string
---@param opts? triton.CallOptions
function Client:unregister_cuda_shared_memory(name, opts) end

---Runs a model: inputs Triton style ({InferInput...}) or Lua style ({NAME = tensor}).
---@param model string
---@param inputs triton.Inputs
---@param opts? triton.InferOptions
---@return triton.InferResult
function Client:infer(model, inputs, opts) end

---infer without waiting: returns a future at once, or calls `callback(result, err)`
---from the loop when given one.
---@param model string
---@param inputs triton.Inputs
---@param opts? triton.InferOptions
---@param callback? triton.InferCallback
---@return triton.Future
---@overload fun(self: triton.Client, model: string, inputs: triton.Inputs, callback: triton.InferCallback): triton.Future
function Client:async_infer(model, inputs, opts, callback) end

---Opens the client's gRPC stream; `callback(result, err)` gets every response.
---@param callback triton.InferCallback
---@param opts? {headers?: table<string, string|number>, stream_timeout?: number}
function Client:start_stream(callback, opts) end

---Sends a request on the stream opened by start_stream (gRPC).
---@param model string
---@param inputs triton.Inputs
---@param opts? triton.StreamInferOptions
function Client:async_stream_infer(model, inputs, opts) end

---Closes the stream after its requests complete, or at once with cancel_requests.
---@param opts? {cancel_requests?: boolean}
function Client:stop_stream(opts) end

---One request on a stream of its own (gRPC): `for r in c:stream_infer(...) do`
---ends after the response that completes the request; breaking out cancels it.
---@param model string
---@param inputs triton.Inputs
---@param opts? triton.StreamInferOptions
---@return fun(): triton.InferResult?
function Client:stream_infer(model, inputs, opts) end

---The generate extension: the model's single response as a table.
---@param model string
---@param body table e.g. {text_input = "hi", parameters = {max_tokens = 8}}
---@param opts? triton.CallOptions
---@return table
function Client:generate(model, body, opts) end

---`for ev in c:generate_stream(model, body) do` one event per response of the model.
---@param model string
---@param body table
---@param opts? triton.CallOptions
---@return fun(): table?
function Client:generate_stream(model, body, opts) end
