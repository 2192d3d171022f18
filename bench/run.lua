-- bench/run.lua: the client benchmark table (run by scripts/bench, which starts a
-- fresh reference server and sets TRITON_HTTP_URL / TRITON_GRPC_URL).
--
--   tritonlua bench/run.lua BENCH_DIR OUT.json [REPEATS]
--
-- Every row runs in processes of its own: our client (bench/client.lua, in the
-- tritonlua host) and the plain-C baseline for the same transport, case and
-- concurrency (bench/baseline_http.c, bench/baseline_grpc.c), alternately,
-- REPEATS times; the figures kept are the lowest CPU per request and the highest
-- requests/s of the repeats, for both sides alike, because this machine is noisy.
-- Ratios are ours / baseline for CPU (lower is better) and for requests/s
-- (higher is better). The reference server is Python and is the limit on
-- requests/s; client CPU per request is what compares the clients. The 64 MiB
-- rows also show minor page faults per request (getrusage), where most of their
-- CPU goes. Then, unless TRITON_BENCH_INSTRUCTIONS=0, the `simple` rows are
-- counted in instructions per request under callgrind (bench/instructions.lua).
--
-- Fleet rows follow: the same client given a list of one URL and of three (all this
-- server, each with its own connections), next to the plain client in the same run,
-- as ratios of CPU per request (targets: 1.05 and 1.10).
local triton = require "triton"

local bench_dir, out_path = arg[1], arg[2]
local repeats = tonumber(arg[3] or "3")
assert(bench_dir and out_path, "usage: run.lua BENCH_DIR OUT.json [REPEATS]")
local host = os.getenv("TRITONLUA") or arg[-1]
local script_dir = arg[0]:match("^(.*)/[^/]*$") or "."
local urls = { http = os.getenv("TRITON_HTTP_URL"), grpc = os.getenv("TRITON_GRPC_URL") }
assert(urls.http and urls.grpc, "TRITON_HTTP_URL and TRITON_GRPC_URL must be set")

local MiB = 1024 * 1024
local PAYLOAD = 64 * MiB
local RSS_LIMIT = 2.5 * PAYLOAD + 20 * MiB

local cases = {
  { case = "simple", conc = 1, requests = 3000, warmup = 200,
    modes = { "sync", "triton", "async", "spawn", "perf" } },
  { case = "simple", conc = 16, requests = 3000, warmup = 200, modes = { "async", "spawn", "perf" } },
  { case = "big", conc = 1, requests = 4, warmup = 1, modes = { "sync", "async", "spawn" } },
}

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The command lines of one row's baseline and of our client, for n measured
-- requests after `warmup` ones.
local function baseline_cmd(proto, cs, n, warmup)
  return string.format("%s %s %s %d %d %d", q(bench_dir .. "/baseline_" .. proto), q(urls[proto]),
    cs.case, cs.conc, n, warmup)
end

local function client_cmd(proto, cs, mode, n, warmup)
  return string.format("%s %s %s %s %s %d %d %d", q(host), q(script_dir .. "/client.lua"),
    q(urls[proto]), mode, cs.case, cs.conc, n, warmup)
end

local function measure(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  local line = out:match("(%b{})")
  if not line then error("no result from: " .. cmd .. "\n" .. out) end
  local r = triton.json.decode(line)
  r.cpu_per_request = r.cpu / r.requests
  r.faults_per_request = r.minflt / r.requests
  r.rps = r.requests / r.seconds
  return r
end

-- Keeps the best of the repeats: lowest CPU, highest rate, lowest peak RSS and
-- faults.
local function best(a, b)
  if not a then return b end
  return {
    requests = a.requests, errors = math.max(a.errors, b.errors),
    cpu_per_request = math.min(a.cpu_per_request, b.cpu_per_request),
    rps = math.max(a.rps, b.rps), maxrss = math.min(a.maxrss, b.maxrss),
    faults_per_request = math.min(a.faults_per_request, b.faults_per_request),
  }
end

local rows, row_case = {}, {}
local function fmt_cpu(s)
  if s >= 1e-3 then return string.format("%8.2f ms", s * 1e3) end
  return string.format("%8.1f us", s * 1e6)
end

io.write(string.format("%-5s %-6s %4s %-6s | %11s %11s %5s | %9s %9s %5s | %8s\n", "proto", "case",
  "conc", "mode", "cpu/req", "base", "ratio", "req/s", "base", "ratio", "peak RSS"))
for _, proto in ipairs { "http", "grpc" } do
  for _, cs in ipairs(cases) do
    local base_cmd = baseline_cmd(proto, cs, cs.requests, cs.warmup)
    local ours_cmd = {}
    for _, mode in ipairs(cs.modes) do
      ours_cmd[mode] = client_cmd(proto, cs, mode, cs.requests, cs.warmup)
    end
    local base, ours = nil, {}
    for _ = 1, repeats do
      base = best(base, measure(base_cmd))
      for _, mode in ipairs(cs.modes) do
        ours[mode] = best(ours[mode], measure(ours_cmd[mode]))
      end
    end
    for _, mode in ipairs(cs.modes) do
      local o = ours[mode]
      local row = {
        protocol = proto, case = cs.case, concurrency = cs.conc, mode = mode, requests = cs.requests,
        cpu_per_request = o.cpu_per_request, baseline_cpu_per_request = base.cpu_per_request,
        cpu_ratio = o.cpu_per_request / base.cpu_per_request,
        requests_per_second = o.rps, baseline_requests_per_second = base.rps,
        rps_ratio = o.rps / base.rps, errors = o.errors + base.errors,
        peak_rss = o.maxrss, baseline_peak_rss = base.maxrss,
        minor_faults_per_request = o.faults_per_request,
        baseline_minor_faults_per_request = base.faults_per_request,
      }
      local cpu_target = cs.case == "big" and 1.15 or 1.3
      row.cpu_target = cpu_target
      row.cpu_target_met = row.cpu_ratio <= cpu_target
      if cs.conc > 1 then row.rps_target_met = row.rps_ratio >= 0.9 end
      if cs.case == "big" then
        row.rss_limit = RSS_LIMIT
        row.rss_target_met = o.maxrss <= RSS_LIMIT
      end
      rows[#rows + 1] = row
      row_case[row] = cs
      io.write(string.format("%-5s %-6s %4d %-6s | %s %s %5.2f | %9.0f %9.0f %5.2f | %s\n", proto,
        cs.case, cs.conc, mode, fmt_cpu(row.cpu_per_request), fmt_cpu(row.baseline_cpu_per_request),
        row.cpu_ratio, row.requests_per_second, row.baseline_requests_per_second, row.rps_ratio,
        cs.case == "big" and string.format("%.0f MiB (base %.0f, limit %.0f), faults/req %.0f (base %.0f)",
          o.maxrss / MiB, base.maxrss / MiB, RSS_LIMIT / MiB, o.faults_per_request,
          base.faults_per_request) or ""))
      io.flush()
    end
  end
end

if os.getenv("TRITON_BENCH_INSTRUCTIONS") ~= "0" then
  local instructions = dofile(script_dir .. "/instructions.lua")
  instructions.add(rows, function(row, n, warmup)
    return baseline_cmd(row.protocol, row_case[row], n, warmup)
  end, function(row, n, warmup, mode)
    return client_cmd(row.protocol, row_case[row], mode or row.mode, n, warmup)
  end)
end

-- ---- fleet rows -----------------------------------------------------------------

local fleet_cases = {
  { case = "simple", conc = 1, mode = "sync", requests = 3000, warmup = 200 },
  { case = "simple", conc = 16, mode = "async", requests = 3000, warmup = 200 },
}
local fleet_targets = { [1] = 1.05, [3] = 1.10 }

io.write(string.format("\n%-5s %-6s %4s %-6s %-7s | %11s %11s %5s %6s\n", "proto", "case", "conc",
  "mode", "fleet", "cpu/req", "plain", "ratio", "target"))
for _, proto in ipairs { "http", "grpc" } do
  for _, fc in ipairs(fleet_cases) do
    local function cmd(fleet)
      return string.format("%s %s %s %s %s %d %d %d %d", q(host), q(script_dir .. "/client.lua"),
        q(urls[proto]), fc.mode, fc.case, fc.conc, fc.requests, fc.warmup, fleet)
    end
    local got = {}
    for _ = 1, repeats do
      for _, fleet in ipairs { 0, 1, 3 } do got[fleet] = best(got[fleet], measure(cmd(fleet))) end
    end
    for _, fleet in ipairs { 1, 3 } do
      local row = {
        protocol = proto, case = fc.case, concurrency = fc.conc, mode = fc.mode, fleet = fleet,
        requests = fc.requests, cpu_per_request = got[fleet].cpu_per_request,
        plain_cpu_per_request = got[0].cpu_per_request,
        cpu_ratio = got[fleet].cpu_per_request / got[0].cpu_per_request,
        cpu_target = fleet_targets[fleet], errors = got[fleet].errors + got[0].errors,
      }
      row.cpu_target_met = row.cpu_ratio <= row.cpu_target
      rows[#rows + 1] = row
      io.write(string.format("%-5s %-6s %4d %-6s %-7s | %s %s %5.2f %6.2f\n", proto, fc.case,
        fc.conc, fc.mode, "of " .. fleet, fmt_cpu(row.cpu_per_request),
        fmt_cpu(row.plain_cpu_per_request), row.cpu_ratio, row.cpu_target))
      io.flush()
    end
  end
end

local f = assert(io.open(out_path, "w"))
f:write(triton.json.encode({ repeats = repeats, rows = rows }), "\n")
f:close()
io.write("written: ", out_path, "\n")
