---@meta _
-- LuaLS annotations: the error values the module raises (catch them with pcall).

---@class triton.Error
---@field message string
---@field code string the same word over both transports ("not_found", "unavailable", ...)
---@field status? integer|string HTTP status number or gRPC status name; nil when no server answered
