-- bench/client.lua: one row of the client benchmark, our side (scripts/bench).
--
--   tritonlua bench/client.lua URL MODE CASE CONCURRENCY REQUESTS [WARMUP [FLEET]]
--     MODE  sync     c:infer in a loop (concurrency 1 only)
--           async    async_infer futures, CONCURRENCY in flight, oldest awaited first
--           spawn    CONCURRENCY coroutines (triton.spawn) each calling c:infer in a loop
--           perf     triton.perf (the callback form)
--           triton   the sync loop in Triton's style: a list of InferInput and the
--                    option {outputs = {InferRequestedOutput, ...}} (concurrency 1 only)
--           script   the sync loop without its call: each round reads the outputs of
--                    one result kept from a single c:infer (concurrency 1 only), so
--                    that a sync row's cost splits into the script's and the call's
--                    (bench/instructions.lua)
--     CASE  simple (2 x 16 INT32 to `simple`) or big (64 MiB FP32 to `identity_fp32`)
--     FLEET 0 (default): triton.connect(URL); N: triton.connect({URL, ...}), a fleet
--           of N servers, all this one (each its own connections): what balancing
--           over a fleet costs the client
--
-- Prints one JSON line as bench/baseline_http.c does: requests, errors, seconds,
-- cpu (getrusage user + system of the measured requests), maxrss (peak bytes) and
-- minflt (minor page faults of the measured requests; in perf mode, of its warm-up
-- too). Each run is its own process, so that maxrss is this row's alone.
local triton = require "triton"
local core = require "triton.core"

local url, mode, case = arg[1], arg[2], arg[3]
local conc, total, warmup = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6] or "0")
local fleet = tonumber(arg[7] or "0")
assert(url and mode and case and conc and total and fleet,
  "usage: client.lua URL MODE CASE CONC N [WARMUP [FLEET]]")
local target = url
if fleet > 0 then
  target = {}
  for i = 1, fleet do target[i] = url end
end
local c = triton.connect(target, { concurrency = math.max(conc, 8) })
local errors = 0

local model, inputs, outputs
if case == "big" then
  -- Filled, not zeroed, so that every page is really there, as in the baseline.
  model = "identity_fp32"
  inputs = { INPUT0 = triton.arange(0, 16 * 1024 * 1024, "FP32") }
  outputs = { "OUTPUT0" }
else
  local a, b = {}, {}
  for i = 1, 16 do a[i], b[i] = i, 2 * i end
  model = "simple"
  inputs = { INPUT0 = triton.tensor({ a }, "INT32"), INPUT1 = triton.tensor({ b }, "INT32") }
  outputs = { "OUTPUT0", "OUTPUT1" }
end

-- What a script does with a result: takes its output tensors (and fails if one
-- is missing), as the baselines copy each reply out of the transport.
local function read_outputs(r)
  for _, name in ipairs(outputs) do
    if r:as_tensor(name) == nil then error("no output " .. name) end
  end
end

local function infer_and_read()
  read_outputs(c:infer(model, inputs))
end

local function run_sync(n)
  for _ = 1, n do
    if not pcall(infer_and_read) then errors = errors + 1 end
  end
end

-- A ring of CONCURRENCY slots, as the baselines keep a fixed array of calls: a
-- table indexed by an ever-growing counter would make Lua rehash it on every
-- request (about 3.7k instructions each), which no client work causes.
local function run_async(n)
  local ring, sent, done = {}, 0, 0
  while done < n do
    while sent < n and sent - done < conc do
      ring[sent % conc + 1] = c:async_infer(model, inputs)
      sent = sent + 1
    end
    local slot = done % conc + 1
    local f = ring[slot]
    ring[slot] = false
    done = done + 1
    local ok, r = pcall(f.get_result, f)
    if not (ok and pcall(read_outputs, r)) then errors = errors + 1 end
  end
end

local function run_spawn(n)
  local left = n
  for _ = 1, conc do
    triton.spawn(function()
      while left > 0 do
        left = left - 1
        if not pcall(infer_and_read) then errors = errors + 1 end
      end
    end)
  end
  triton.run()
end

-- The same request built as tritonclient users write it, once, and sent as the
-- sync loop sends the map: the InferInput form and a call with options.
local function run_triton(n)
  local list, requested = {}, {}
  for name, t in pairs(inputs) do
    list[#list + 1] = triton.InferInput(name, t.shape, t.dtype):set_data(t)
  end
  table.sort(list, function(a, b) return a:name() < b:name() end)
  for i, name in ipairs(outputs) do requested[i] = triton.InferRequestedOutput(name) end
  local opts = { outputs = requested }
  local function call() read_outputs(c:infer(model, list, opts)) end
  for _ = 1, n do
    if not pcall(call) then errors = errors + 1 end
  end
end

-- The sync loop's rounds with c:infer taken out: what the script itself costs.
local kept
local function read_kept()
  read_outputs(kept)
end

local function run_script(n)
  kept = kept or c:infer(model, inputs)
  for _ = 1, n do
    if not pcall(read_kept) then errors = errors + 1 end
  end
end

local runners = { sync = run_sync, async = run_async, spawn = run_spawn, script = run_script,
  triton = run_triton }

-- This process's minor page faults so far: field 10 of /proc/self/stat, the
-- 8th after the command name (which may itself hold spaces and parentheses).
local function minor_faults()
  local f = assert(io.open("/proc/self/stat", "r"))
  local stat = f:read("a")
  f:close()
  local n = 0
  for field in stat:match(".*%) (.*)"):gmatch("%S+") do
    n = n + 1
    if n == 8 then return tonumber(field) end
  end
  error("unexpected /proc/self/stat: " .. stat)
end

local seconds, cpu, faults
if mode == "perf" then
  faults = minor_faults()
  local s = triton.perf(c, model, inputs,
    { concurrency = conc, requests = total, warmup = warmup, progress = false })
  errors, seconds, cpu = s.errors, s.duration, s.cpu_per_request * s.requests
else
  local run = assert(runners[mode], "unknown mode " .. mode)
  if mode == "sync" or mode == "script" or mode == "triton" then
    assert(conc == 1, mode .. " runs at concurrency 1")
  end
  if warmup > 0 then run(warmup) end
  errors = 0
  collectgarbage("collect")
  faults = minor_faults()
  local cpu0 = core.rusage()
  local t0 = triton.now()
  run(total)
  seconds = triton.now() - t0
  cpu = core.rusage() - cpu0
end
faults = minor_faults() - faults
local _, maxrss = core.rusage()
print(string.format('{"requests":%d,"errors":%d,"seconds":%.6f,"cpu":%.6f,"maxrss":%d,"minflt":%d}',
  total, errors, seconds, cpu, maxrss, faults))
c:close()
os.exit(errors == 0 and 0 or 1)
