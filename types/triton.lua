---@meta triton
-- LuaLS annotations for `require "triton"` (docs/API.md is the contract): the
-- module's functions and values. The objects they return are in the other files
-- of this folder. Point LuaLS's `workspace.library` at this folder (README,
-- "Packaging and editors"); spec/annotations_spec.lua checks that every public
-- function and method of the running module has an entry here.

---@alias triton.dtype
---| "BOOL"
---| "UINT8"
---| "UINT16"
---| "UINT32"
---| "UINT64"
---| "INT8"
---| "INT16"
---| "INT32"
---| "INT64"
---| "FP16"
---| "BF16"
---| "FP32"
---| "FP64"
---| "BYTES"

---A shape: one size per dimension, outermost first.
---@alias triton.shape integer[]

---The inputs of an infer call: InferInputs (Triton style) or name -> tensor (Lua style).
---@alias triton.Inputs triton.InferInput[]|table<string, triton.Tensor>

local triton = {}

---The module's version ("0.1.0").
---@type string
triton.version = nil

---dtype name -> element size in bytes (0 for BYTES).
---@type table<triton.dtype, integer>
triton.dtypes = nil

---The metatable of every error the module raises: `getmetatable(e) == triton.Error`
---tells them from other errors.
---@type triton.Error
triton.Error = nil

-- Set by the tritonlua host (src/host), absent in other hosts: what it was started with.

---tritonlua only: the server URL (-u, else $TRITON_URL, else http://localhost:8000);
---the global `client` connects to it on first use.
---@type string?
triton.default_url = nil

---tritonlua only: the -H headers, name -> value, sent by the global `client`.
---@type table<string, string>?
triton.default_headers = nil

---tritonlua only: whether -v (log every request and response) was given.
---@type boolean?
triton.verbose = nil

-- ---- clients ------------------------------------------------------------------

---A client for one server, or for a fleet given a list of URLs (one protocol) or
---`opts.resolve`. The URL's scheme picks the transport (http://, https://,
---grpc://, grpcs://); a bare host:port is HTTP unless `opts.protocol` says "grpc".
---Creating a client does not connect: the first call does.
---@param url string|string[]
---@param opts? triton.ClientOptions
---@return triton.Client
function triton.connect(url, opts) end

---HTTP clients from an options table.
triton.http = {}

---An HTTP client from an options table (`url` required).
---@param opts triton.ClientOptions
---@return triton.Client
function triton.http.client(opts) end

---gRPC clients from an options table.
triton.grpc = {}

---A gRPC client from an options table (`url` required).
---@param opts triton.ClientOptions
---@return triton.Client
function triton.grpc.client(opts) end

---The URL with any password replaced, as `tostring(client)` and error messages show it.
---@param url string
---@return string
function triton.url_redacted(url) end

-- ---- tensors --------------------------------------------------------------------

---A tensor from a nested table (shape inferred), a flat table and a shape, or raw
---little-endian bytes and a shape. Without a dtype: integers give INT64, any float
---FP32, booleans BOOL, strings BYTES.
---@param values table|string
---@param dtype? triton.dtype
---@param shape? triton.shape
---@return triton.Tensor
function triton.tensor(values, dtype, shape) end

---A tensor of zeros (FP32 unless `dtype`).
---@param shape triton.shape
---@param dtype? triton.dtype
---@return triton.Tensor
function triton.zeros(shape, dtype) end

---A tensor of ones (FP32 unless `dtype`).
---@param shape triton.shape
---@param dtype? triton.dtype
---@return triton.Tensor
function triton.ones(shape, dtype) end

---A tensor filled with `value` (dtype from the value unless given).
---@param shape triton.shape
---@param value number|boolean|string
---@param dtype? triton.dtype
---@return triton.Tensor
function triton.full(shape, value, dtype) end

---start, start + step, ... up to `stop` excluded, as numpy's arange.
---@param start number
---@param stop number
---@param step? number
---@param dtype? triton.dtype
---@return triton.Tensor
---@overload fun(stop: number, dtype?: triton.dtype): triton.Tensor
function triton.arange(start, stop, step, dtype) end

---Uniform random values in [0, 1) of a float dtype (FP32 unless given).
---@param shape triton.shape
---@param dtype? triton.dtype
---@param seed? integer the same seed gives the same values
---@return triton.Tensor
function triton.rand(shape, dtype, seed) end

---Joins tensors along an existing dimension (1 unless given; negative counts from the end).
---@param list triton.Tensor[]
---@param dim? integer
---@return triton.Tensor
function triton.cat(list, dim) end

---Joins tensors of one shape along a new dimension.
---@param list triton.Tensor[]
---@param dim? integer
---@return triton.Tensor
function triton.stack(list, dim) end

---Whether `a` and `b` are equal within `atol + rtol * |b|` element-wise (numpy's rule).
---@param a triton.Tensor
---@param b triton.Tensor
---@param rtol? number
---@param atol? number
---@return boolean
function triton.allclose(a, b, rtol, atol) end

---Whether `v` is a tensor.
---@param v any
---@return boolean
function triton.is_tensor(v) end

-- ---- inference ----------------------------------------------------------------------

---An input of an infer request, Triton style: give it data with `:set_data`.
---@param name string
---@param shape triton.shape
---@param datatype triton.dtype
---@return triton.InferInput
function triton.InferInput(name, shape, datatype) end

---An output to ask for (binary_data = true by default; class_count > 0 asks for
---the classification extension's top classes).
---@param name string
---@param opts? {binary_data?: boolean, class_count?: integer}
---@return triton.InferRequestedOutput
function triton.InferRequestedOutput(name, opts) end

---Waits for every future and returns their results in order; raises the first
---error once all are done, or "deadline_exceeded" when `opts.timeout` runs out.
---@param futures triton.Future[]
---@param opts? {timeout?: number}
---@return triton.InferResult[]
function triton.wait(futures, opts) end

---Runs what is ready (completions, callbacks), waiting up to `timeout` seconds
---(default 0) for something; returns how many ran. For a host's own event loop.
---@param timeout? number
---@return integer
function triton.poll(timeout) end

---A descriptor that turns readable when `triton.poll(0)` has work: watch it from a
---host's event loop (luv, cqueues, a C poll() loop).
---@return integer
function triton.fd() end

---Reports errors raised in callbacks with `fn(err, traceback)` instead of printing
---the traceback to stderr (nil: back to that default).
---@param fn? fun(err: any, traceback: string)
function triton.on_callback_error(fn) end

---Starts `fn(...)` as a coroutine that `triton.run` drives: inside it every blocking
---call yields instead of blocking.
---@param fn async fun(...)
---@param ... any
---@return thread
function triton.spawn(fn, ...) end

---Runs spawned coroutines and callbacks until all are done. Returns true, or false
---and the errors raised in coroutines (in the order they happened).
---@return boolean ok
---@return any[]? errors
function triton.run() end

---Sleeps `seconds`, running callbacks and sending calls meanwhile; in a spawned
---coroutine it yields to the others instead.
---@param seconds number
function triton.sleep(seconds) end

---A monotonic clock in seconds (sub-millisecond).
---@return number
function triton.now() end

---Load-tests a model as perf_analyzer does, from Lua.
---@param client triton.Client
---@param model string
---@param inputs triton.Inputs
---@param opts? triton.PerfOptions
---@return triton.PerfStats
function triton.perf(client, model, inputs, opts) end

---Runs a model over a dataset: `for i, r, err in triton.map(c, model, source, opts)`;
---`source` an array or an iterator of input maps; per-item errors, the run goes on.
---@param client triton.Client
---@param model string
---@param source triton.Inputs[]|fun(): triton.Inputs?
---@param opts? {concurrency?: integer, ordered?: boolean, progress?: boolean}
---@return fun(): integer?, triton.InferResult?, triton.Error?
function triton.map(client, model, source, opts) end

---@class triton.PerfOptions
---@field concurrency? integer requests kept in flight (default 1)
---@field requests? integer how many to measure (default 100 unless `duration`)
---@field duration? number measure for this many seconds instead
---@field warmup? integer requests sent first and left out of the figures
---@field progress? boolean a live line on stderr (default: when it is a terminal)
---@field options? triton.InferOptions infer options, as `c:infer` takes them

---@class triton.PerfStats
---@field throughput number requests per second
---@field latency {min: number, p50: number, p90: number, p99: number, max: number} seconds
---@field cpu_per_request number client CPU seconds per request
---@field requests integer
---@field errors integer
---@field first_error any
---@field duration number seconds
---@field concurrency integer

-- ---- system shared memory ----------------------------------------------------------

---System shared memory regions, to register with the server.
triton.shm = {}

---Creates (and maps) a POSIX shared memory region: `name` is what it is registered
---under with the server, `key` the shm name ("/...").
---@param name string
---@param key string
---@param byte_size integer
---@return triton.ShmRegion
function triton.shm.create(name, key, byte_size) end

-- ---- JSON ----------------------------------------------------------------------------

---The JSON codec the client uses: int64 exact, byte strings kept.
triton.json = {}

---JSON null in decoded values (a light userdata); encodes as null.
---@type lightuserdata
triton.json.null = nil

---The metatable of decoded `[]`: an empty table with it encodes as `[]`, not `{}`.
---@type table
triton.json.array_mt = nil

---JSON text of a Lua value: integers exact, floats shortest, keys sorted.
---@param v any
---@return string
function triton.json.encode(v) end

---The Lua value of JSON text.
---@param s string
---@return any
function triton.json.decode(s) end

-- ---- images ---------------------------------------------------------------------------

---JPEG and PNG to tensors, and preprocessing as Triton's image_client.py.
triton.image = {}

---The most pixels an image may have (Pillow's decompression-bomb threshold).
---@type integer
triton.image.MAX_PIXELS = nil

---Threads that decode, load, resize and preprocess may use (1 to 8; 1: the
---calling thread only), for images of at least 2^18 pixels. Default: the online
---CPUs, at most 4. Read at each call; a bad value is an error there.
---@type integer
triton.image.threads = nil

---Reads a JPEG or PNG file into a UINT8 tensor {H, W, C}.
---@param path string
---@param opts? {max_pixels?: integer}
---@return triton.Tensor
function triton.image.load(path, opts) end

---Decodes JPEG or PNG bytes into a UINT8 tensor {H, W, C}.
---@param bytes string
---@param opts? {max_pixels?: integer}
---@return triton.Tensor
function triton.image.decode(bytes, opts) end

---Resizes as Pillow's Image.resize (bilinear by default).
---@param img triton.Tensor
---@param size integer[] {height, width}
---@param filter? "bilinear"|"nearest"
---@return triton.Tensor
function triton.image.resize(img, size, filter) end

---Copies the box {top, left, height, width} (top and left 1-based).
---@param img triton.Tensor
---@param box integer[]
---@return triton.Tensor
function triton.image.crop(img, box) end

---Converts as Pillow's Image.convert: "L" (grey) or "RGB".
---@param img triton.Tensor
---@param mode "L"|"RGB"
---@return triton.Tensor
function triton.image.convert(img, mode) end

---image_client.py's preprocess: convert, resize, cast, scale, lay out.
---@param img triton.Tensor
---@param opts triton.PreprocessOptions
---@return triton.Tensor
function triton.image.preprocess(img, opts) end

---@class triton.PreprocessOptions
---@field size integer[] {height, width}
---@field format? "NCHW"|"NHWC"|"FORMAT_NCHW"|"FORMAT_NHWC" "NCHW" by default
---@field dtype? triton.dtype "FP32" by default
---@field scaling? "NONE"|"INCEPTION"|"VGG" "NONE" by default
---@field channels? 1|3 3 (RGB) by default

---A PNG file's bytes from a UINT8 image of 1 to 4 channels.
---@param img triton.Tensor
---@param format "png"
---@return string
function triton.image.encode(img, format) end

return triton
