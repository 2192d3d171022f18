---@meta _
-- LuaLS annotations: system shared memory regions (triton.shm.create). A region
-- is accepted wherever a region name is; destroy (also __gc and __close) unmaps
-- and unlinks it.

---@class triton.ShmRegion
---@field name string what the region is registered under with the server
---@field key string the POSIX shm name ("/...")
---@field byte_size integer
local ShmRegion = {}

---Writes a tensor's wire bytes or a string at `offset` (0 by default).
---@param data triton.Tensor|string
---@param offset? integer
---@return integer bytes written
function ShmRegion:write(data, offset) end

---A tensor copied from the region.
---@param dtype triton.dtype
---@param shape triton.shape
---@param offset? integer
---@return triton.Tensor
function ShmRegion:read(dtype, shape, offset) end

---Unmaps and unlinks the region; a second call does nothing.
function ShmRegion:destroy() end
