-- Tensor benchmark (issue 2, item 5): each row times our tensor code and, in the
-- same run, a plain-C baseline doing the same work (bench/tensor_baseline.c),
-- and prints the ratio ours / baseline. Best of N repeats each.
--
-- Usage: tritonlua bench/tensor.lua path/to/tensor_baseline [repeats]
--    or: lua5.4 bench/tensor.lua ... with triton on package.path/cpath
-- scripts/bench-tensor builds a Release tree and runs this.
local triton = require "triton"

local baseline_exe = arg[1] or error("usage: bench/tensor.lua path/to/tensor_baseline [repeats]")
local repeats = math.tointeger(tonumber(arg[2] or "10")) or error("repeats must be an integer")

local TABLE_N = 0x100000 -- 2^20
local BYTES_N = 0x1000000 -- 2^24 FP32 elements: 64 MiB
local VECTOR_N = 0x100000
local CONVERT_N = 0x1000000

-- Wall clock; os.clock (CPU time) only where triton.now is not there.
local now = triton.now or os.clock

local function best_ms(fn)
  local best = math.huge
  for _ = 1, repeats do
    collectgarbage()
    local t0 = now()
    fn()
    local dt = now() - t0
    if dt < best then best = dt end
  end
  return best * 1000
end

-- The baseline first, so both sides run on a machine in the same state.
local base = {}
do
  local p = assert(io.popen(string.format("%q %d", baseline_exe, repeats)))
  for line in p:lines() do
    local name, ms = line:match("^(%S+) (%S+)$")
    if name then base[name] = tonumber(ms) end
  end
  local ok, how, code = p:close()
  if not ok then error(string.format("%s failed (%s %s)", baseline_exe, how, code)) end
end

local rows = {}
local function row(name, ours, baseline_name, baseline_desc)
  rows[#rows + 1] = {name, ours, base[baseline_name], baseline_desc}
end

-- 1M-element Lua table -> FP32 tensor; the same values as the baseline's table.
local tbl = {}
for i = 1, TABLE_N do tbl[i] = (i % 1000) * 0.25 end
row("table -> FP32 tensor (1M)", best_ms(function() triton.tensor(tbl, "FP32") end),
  "table_to_fp32", "C loop: lua_rawgeti + lua_tonumber into a float array")
tbl = nil -- luacheck: ignore 311

-- t:bytes() of a 64 MiB FP32 tensor: one copy into a new Lua string. Two
-- baselines. The fair one copies into new memory, as making a string must; glibc
-- serves a block this large (above its mmap threshold, 32 MiB at most) with
-- fresh pages each time, so page faults cost more than the copy. The second
-- copies into a warm buffer reused across repeats: the copy alone, a lower bound
-- that no function returning new memory can reach.
local big = triton.rand({BYTES_N}, "FP32")
local bytes_ms = best_ms(function() big:bytes() end)
row("t:bytes() 64 MiB", bytes_ms, "memcpy_fresh", "malloc+memcpy into new memory (the fair one)")
row("t:bytes() 64 MiB", bytes_ms, "memcpy_warm", "memcpy into a warm reused buffer (copy only)")

-- argmax and softmax over 1M FP32.
local vec = big:slice(1, 1, VECTOR_N):contiguous()
row("argmax 1M FP32", best_ms(function() vec:argmax() end), "argmax", "plain C loop")
row("softmax 1M FP32", best_ms(function() vec:softmax() end), "softmax",
  "malloc + max / expf / sum / scale loops")

-- FP32 -> FP16 of 16M elements.
local conv = big:slice(1, 1, CONVERT_N)
row("astype FP16 16M", best_ms(function() conv:astype("FP16") end), "fp32_to_fp16",
  "malloc + plain C round-to-nearest-even loop")

print(string.format("tensor benchmark, best of %d (ms)", repeats))
print(string.format("%-26s %10s %10s %7s  %s", "benchmark", "ours", "baseline", "ratio", "baseline is"))
for _, r in ipairs(rows) do
  local ratio = r[3] and r[3] > 0 and string.format("%.2f", r[2] / r[3]) or "n/a"
  print(string.format("%-26s %10.3f %10s %7s  %s", r[1], r[2], r[3] and string.format("%.3f", r[3]) or "n/a",
    ratio, r[4]))
end
