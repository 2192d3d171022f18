-- bench/instructions.lua: the instruction rows of the client benchmark (loaded by
-- bench/run.lua, which gives it the rows it measured and how to run a client).
--
-- CPU time on these machines moves by 10-50% between runs; instruction counts do
-- not. Each `simple` row's client, ours and the plain-C baseline alike, runs under
-- valgrind's callgrind twice, with N1 and then N2 measured requests after the same
-- warm-up. The instructions of the whole client process (all its threads; the
-- server is another process) are counted, and (Ir(N2) - Ir(N1)) / (N2 - N1) is what
-- one request costs: start-up, warm-up and exit cancel out. Repeated counts agree
-- within about 1%, so a regression of 3% shows. The big (64 MiB) rows are left
-- out: their instructions are a memcpy, and their cost is page faults and the
-- kernel, which callgrind does not see.
local M = {}

local N1, N2, WARMUP = 200, 1200, 50

-- Instructions callgrind collected over one run of cmd (which must succeed).
local function collected(cmd)
  local p = assert(io.popen("valgrind --tool=callgrind --callgrind-out-file=/dev/null " .. cmd ..
    " 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  local ir = out:match("Collected : (%d+)")
  if not (ok and ir) then error("callgrind run failed: " .. cmd .. "\n" .. out) end
  return tonumber(ir)
end

-- Instructions per request of the client that command(row, n, warmup [, mode]) runs.
local function per_request(command, row, mode)
  return (collected(command(row, N2, WARMUP, mode)) - collected(command(row, N1, WARMUP, mode))) /
    (N2 - N1)
end

local function fmt_k(ir) return string.format("%8.1fk", ir / 1e3) end

-- A sync row's cost is the script's (its loop, pcall and reading two outputs with
-- r:as_tensor) and the call's (c:infer). The script alone is counted too, as
-- bench/client.lua's `script` mode (the same rounds reading one kept result), and
-- printed with the call's part, the row less the script.
local function add_script(rows, ours)
  local split = {}
  for _, row in ipairs(rows) do
    if row.case == "simple" and row.mode == "sync" and row.instructions_per_request then
      row.script_instructions_per_request = per_request(ours, row, "script")
      row.call_instructions_per_request = row.instructions_per_request -
        row.script_instructions_per_request
      split[#split + 1] = row
    end
  end
  if #split == 0 then return end
  io.write("of a sync row: the script alone (bench/client.lua MODE script) and c:infer\n")
  io.write(string.format("%-5s | %9s %9s %9s\n", "proto", "row", "script", "c:infer"))
  for _, row in ipairs(split) do
    io.write(string.format("%-5s | %s %s %s\n", row.protocol, fmt_k(row.instructions_per_request),
      fmt_k(row.script_instructions_per_request), fmt_k(row.call_instructions_per_request)))
  end
end

-- Measures every row of `rows` whose case is `simple`, adding to it
-- instructions_per_request, baseline_instructions_per_request, instructions_ratio
-- and instructions_target_met (the ratio against the row's CPU target), and prints
-- them as a table; then splits the sync rows (add_script). baseline(row, n, warmup)
-- and ours(row, n, warmup [, mode]) give the command lines of that row's baseline
-- and of our client (in another mode than the row's when given).
function M.add(rows, baseline, ours)
  io.write(string.format("\ninstructions per request (callgrind, %d and %d requests)\n", N1, N2))
  io.write(string.format("%-5s %-6s %4s %-6s | %9s %9s %5s\n", "proto", "case", "conc", "mode",
    "ours", "base", "ratio"))
  local base_of = {}
  for _, row in ipairs(rows) do
    if row.case == "simple" then
      local key = row.protocol .. " " .. row.concurrency
      base_of[key] = base_of[key] or per_request(baseline, row)
      row.instructions_per_request = per_request(ours, row)
      row.baseline_instructions_per_request = base_of[key]
      row.instructions_ratio = row.instructions_per_request / base_of[key]
      row.instructions_target_met = row.instructions_ratio <= row.cpu_target
      io.write(string.format("%-5s %-6s %4d %-6s | %s %s %5.2f\n", row.protocol, row.case,
        row.concurrency, row.mode, fmt_k(row.instructions_per_request), fmt_k(base_of[key]),
        row.instructions_ratio))
      io.flush()
    end
  end
  add_script(rows, ours)
end

return M
