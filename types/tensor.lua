---@meta _
-- LuaLS annotations: tensors (triton.tensor and friends, InferResult:as_tensor,
-- triton.image). Indices and dimensions are 1-based; negative ones count from
-- the end. Views share memory with the tensor they come from.

---@class triton.Tensor
---@field dtype triton.dtype
---@field shape integer[] a new table each time
---@field [integer] triton.Tensor|number|boolean|string on n-d, t[i] is a view of row i
---@operator len: integer
---@operator add(triton.Tensor|number): triton.Tensor
---@operator sub(triton.Tensor|number): triton.Tensor
---@operator mul(triton.Tensor|number): triton.Tensor
---@operator div(triton.Tensor|number): triton.Tensor
---@operator unm: triton.Tensor
local Tensor = {}

---The number of elements.
---@return integer
function Tensor:numel() end

---The number of dimensions.
---@return integer
function Tensor:dim() end

---The element at 1-based indices, one per dimension.
---@param ... integer
---@return number|boolean|string
function Tensor:get(...) end

---Stores a value at 1-based indices: `t:set(i, j, v)`.
---@param ... integer|number|boolean|string indices, then the value
function Tensor:set(...) end

---A view of another shape (one size may be -1); `t:reshape(d1, d2, ...)` works too.
---@param shape triton.shape|integer
---@param ... integer
---@return triton.Tensor
function Tensor:reshape(shape, ...) end

---A 1-d view.
---@return triton.Tensor
function Tensor:flatten() end

---Drops dimensions of size 1 (only `dim`, which must be 1, when given).
---@param dim? integer
---@return triton.Tensor
function Tensor:squeeze(dim) end

---Adds a dimension of size 1 at `dim`.
---@param dim integer
---@return triton.Tensor
function Tensor:unsqueeze(dim) end

---Elements first..last (inclusive) along `dim`.
---@param dim integer
---@param first integer
---@param last? integer
---@return triton.Tensor
function Tensor:slice(dim, first, last) end

---Swaps two dimensions (the last two by default).
---@param d1? integer
---@param d2? integer
---@return triton.Tensor
function Tensor:transpose(d1, d2) end

---Reorders the dimensions: `t:permute{3, 1, 2}` or `t:permute(3, 1, 2)`.
---@param dims integer[]|integer
---@param ... integer
---@return triton.Tensor
function Tensor:permute(dims, ...) end

---The tensor itself when contiguous, else a contiguous copy.
---@return triton.Tensor
function Tensor:contiguous() end

---A copy converted to `dtype` (float to integer truncates and saturates).
---@param dtype triton.dtype
---@return triton.Tensor
function Tensor:astype(dtype) end

---A copy.
---@return triton.Tensor
function Tensor:clone() end

---Nested Lua tables (the value itself for a 0-d tensor).
---@return table|number|boolean|string
function Tensor:totable() end

---The wire layout (BYTES: a 4-byte length before each element).
---@return string
function Tensor:bytes() end

---Releases the tensor (once no view uses its memory); a second call does nothing.
function Tensor:close() end

---A new tensor of `fn(x)` for every element.
---@param fn fun(x: number|boolean|string): number|boolean|string
---@return triton.Tensor
function Tensor:map(fn) end

---Values limited to [lo, hi] (either may be nil).
---@param lo? number
---@param hi? number
---@return triton.Tensor
function Tensor:clamp(lo, hi) end

---@return triton.Tensor
function Tensor:abs() end

---@return triton.Tensor
function Tensor:exp() end

---@return triton.Tensor
function Tensor:log() end

---@return triton.Tensor
function Tensor:sqrt() end

---@return triton.Tensor
function Tensor:sigmoid() end

---The sum: a number without `dim`, a tensor along it.
---@param dim? integer
---@return number|triton.Tensor
function Tensor:sum(dim) end

---The mean: a number without `dim`, a tensor along it.
---@param dim? integer
---@return number|triton.Tensor
function Tensor:mean(dim) end

---The largest value: a number without `dim`, a tensor along it.
---@param dim? integer
---@return number|triton.Tensor
function Tensor:max(dim) end

---The smallest value: a number without `dim`, a tensor along it.
---@param dim? integer
---@return number|triton.Tensor
function Tensor:min(dim) end

---The 1-based index of the largest value (flat without `dim`).
---@param dim? integer
---@return integer|triton.Tensor
function Tensor:argmax(dim) end

---The 1-based index of the smallest value (flat without `dim`).
---@param dim? integer
---@return integer|triton.Tensor
function Tensor:argmin(dim) end

---Softmax along `dim` (the last by default).
---@param dim? integer
---@return triton.Tensor
function Tensor:softmax(dim) end

---The `k` largest values along `dim` (the last by default) and their 1-based indices.
---@param k integer
---@param dim? integer
---@return triton.Tensor values
---@return triton.Tensor indices
function Tensor:topk(k, dim) end
