-- Soak (issue 7): many requests over each transport with a fixed window in
-- flight, a mix of models and sizes, and a reference-server fault every 100
-- requests; every result is checked, and the process's resident set size is
-- printed at each 10%. A client that leaks, or corrupts results under load or
-- after faults, shows here long before a user sees it.
--
-- Usage: tritonlua bench/soak.lua [requests per transport] [window]
--        (lua5.4 works too with triton on package.path/cpath)
-- Needs TRITON_HTTP_URL and TRITON_GRPC_URL (scripts/with-testserver sets them);
-- scripts/soak builds a Release tree and runs this.
--
-- Verdict per transport: the RSS (sampled after a full garbage collection) is
-- "flat" when no sample after the warm-up (the first 20%) exceeds the sample at
-- 20% by more than 10%. Exit status 0
-- when every transport is flat with zero wrong results, 1 otherwise.
local triton = require "triton"

local requests = math.tointeger(tonumber(arg[1] or "200000"))
local window = math.tointeger(tonumber(arg[2] or "32"))
assert(requests and requests >= 10, "requests must be an integer >= 10")
assert(window and window >= 1, "window must be a positive integer")

local FAULT_EVERY = 100
-- Faults that fail one request and leave the connection usable (or reconnect).
local FAULTS = {
  http = { "garbage", "status=503", "bad-binary-size", "close", "truncate", "huge", "bad-length" },
  grpc = { "garbage", "status=14", "bad-binary-size", "close", "truncate", "huge", "bad-length" },
}
local FP32_SIZES = { 1, 16, 256, 4096, 65536 }

local function rss_kb()
  local f = assert(io.open("/proc/self/status", "r"))
  local kb
  for line in f:lines() do
    kb = kb or tonumber(line:match("^VmRSS:%s*(%d+)%s*kB"))
  end
  f:close()
  return kb
end

-- Inputs built once, with the outputs each must produce.
local simple_cases = {}
for v = 1, 7 do
  local a, b, sum, diff = {}, {}, {}, {}
  for i = 1, 16 do
    a[i], b[i] = v * 100 + i, v - i
    sum[i], diff[i] = a[i] + b[i], a[i] - b[i]
  end
  simple_cases[v] = {
    inputs = { INPUT0 = triton.tensor({ a }, "INT32"), INPUT1 = triton.tensor({ b }, "INT32") },
    sum = triton.tensor({ sum }, "INT32"):bytes(),
    diff = triton.tensor({ diff }, "INT32"):bytes(),
  }
end
local fp32_cases = {}
for k, n in ipairs(FP32_SIZES) do
  local t = triton.arange(0, n, 1, "FP32") * 0.5 + k
  fp32_cases[k] = { inputs = { INPUT0 = t }, bytes = t:bytes() }
end

-- Request i: what to send and how to check what comes back. check(r, err)
-- returns true when the outcome is right.
local function plan(proto, i)
  if i % FAULT_EVERY == 0 then
    local faults = FAULTS[proto]
    local fault = faults[math.floor(i / FAULT_EVERY) % #faults + 1]
    local case = simple_cases[i % #simple_cases + 1]
    return "simple", case.inputs, { headers = { ["x-fault"] = fault } }, function(r, err)
      return r == nil and getmetatable(err) == triton.Error and err.code ~= nil
    end
  elseif i % 3 == 0 then
    local case = simple_cases[i % #simple_cases + 1]
    return "simple", case.inputs, nil, function(r, err)
      return err == nil and r:as_tensor("OUTPUT0"):bytes() == case.sum
        and r:as_tensor("OUTPUT1"):bytes() == case.diff
    end
  else
    local case = fp32_cases[i % #fp32_cases + 1]
    return "identity_fp32", case.inputs, nil, function(r, err)
      return err == nil and r:as_tensor("OUTPUT0"):bytes() == case.bytes
    end
  end
end

local function soak(proto, url)
  local c = triton.connect(url, { concurrency = window })
  local inflight = {} -- ring of {future, check}
  local head, tail = 1, 0
  local sent, done, wrong = 0, 0, 0
  local first_wrong
  local samples = {}
  local t0 = triton.now()
  local next_mark = 1

  local function finish_one()
    local slot = inflight[head]
    inflight[head] = nil
    head = head + 1
    local ok, r = pcall(slot[1].get_result, slot[1])
    local good
    if ok then
      good = slot[2](r, nil)
    else
      good = slot[2](nil, r)
    end
    if not good then
      wrong = wrong + 1
      first_wrong = first_wrong or string.format("request %d: %s", slot[3], ok and "unexpected result"
        or tostring(r))
    end
    done = done + 1
    if done * 10 >= next_mark * requests then
      -- A full collection first: the sample then shows memory still held, not
      -- garbage the collector has not reached yet (it does not see the C-side
      -- size of tensors and replies, so between cycles RSS saw-tooths).
      collectgarbage()
      local kb = rss_kb()
      samples[next_mark] = kb
      local secs = triton.now() - t0
      print(string.format("%-4s %3d%%  %7d requests  RSS %7d kB  %6.1f s  %7.0f req/s  wrong %d",
        proto, next_mark * 10, done, kb, secs, done / secs, wrong))
      io.stdout:flush()
      next_mark = next_mark + 1
    end
  end

  while done < requests do
    while sent < requests and tail - head + 1 < window do
      sent = sent + 1
      local model, inputs, opts, check = plan(proto, sent)
      tail = tail + 1
      inflight[tail] = { c:async_infer(model, inputs, opts), check, sent }
    end
    finish_one()
  end
  c:close()

  -- Flat: no sample after the warm-up above the 20% sample by more than 10%.
  local base, peak = samples[2], 0
  for k = 3, 10 do
    if samples[k] and samples[k] > peak then peak = samples[k] end
  end
  local flat = peak <= base * 1.10
  local series = table.concat(samples, " ")
  print(string.format("%-4s RSS kB at each 10%%: %s", proto, series))
  print(string.format("%-4s RSS %s: warm (20%%) %d kB, later peak %d kB (%+.1f%%); wrong results: %d%s",
    proto, flat and "flat" or "NOT flat", base, peak, (peak - base) * 100.0 / base, wrong,
    first_wrong and (" (first: " .. first_wrong .. ")") or ""))
  return flat and wrong == 0
end

local urls = {
  http = os.getenv("TRITON_HTTP_URL") or error("TRITON_HTTP_URL is not set (use scripts/soak)"),
  grpc = os.getenv("TRITON_GRPC_URL") or error("TRITON_GRPC_URL is not set (use scripts/soak)"),
}
print(string.format("soak: %d requests per transport, %d in flight, a fault every %d",
  requests, window, FAULT_EVERY))
local all_ok = true
for _, proto in ipairs { "http", "grpc" } do
  if not soak(proto, urls[proto]) then all_ok = false end
end
os.exit(all_ok and 0 or 1)
