-- tritonlua perf: perf_analyzer's flags, report and CSV against the reference server.
-- Windows are short and --stability-percentage wide, so that the stability rule
-- does not depend on how busy the machine is; nothing asserts a speed. The
-- request-rate check is on the rate the scheduler sent at, which the scheduler
-- alone decides.
local h = require "support.harness"
local triton = h.triton()

local HOST = os.getenv("TRITONLUA")

local q, slurp = h.shell_quote, h.slurp

local function tmpfile(content)
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write(content)
  f:close()
  return name
end

-- Runs `tritonlua perf ARGS...`: exit status, stdout, stderr.
local function perf(...)
  local words = { q(HOST), "perf" }
  for _, a in ipairs { ... } do words[#words + 1] = q(a) end
  local out, err = os.tmpname(), os.tmpname()
  local _, _, status = h.execute(table.concat(words, " ") .. " >" .. out .. " 2>" .. err .. " </dev/null")
  local o, e = slurp(out), slurp(err)
  os.remove(out)
  os.remove(err)
  return status, o, e
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- perf_analyzer's CSV header (src/report_writer.cc) for these runs.
local CSV_COLUMNS = "Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue," ..
    "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv," ..
    "p50 latency,p90 latency,p95 latency,p99 latency"
local SHORT = { "--measurement-interval", "300", "--stability-percentage", "1000" }

local function with_short(...)
  local args = { ... }
  for _, a in ipairs(SHORT) do args[#args + 1] = a end
  return h.table_unpack(args)
end

h.transports(function(proto, url)
  describe("tritonlua perf", function()
    it("reports each concurrency level and writes perf_analyzer's CSV", function()
      local csv = os.tmpname()
      local status, out, err = perf(with_short("-m", "simple", "-u", url, "--concurrency-range", "1:4:1",
        "-f", csv))
      assert.equal(0, status, err)
      local text = slurp(csv)
      os.remove(csv)
      for c = 1, 4 do
        assert.truthy(out:find("Request concurrency: " .. c .. "\n  Client: \n    Request count: %d+\n"),
          out)
        assert.truthy(out:find("\nConcurrency: " .. c ..
            ", throughput: [%d.e+]+ infer/sec, latency %d+ usec\n"),
          out)
      end
      assert.truthy(out:find("Avg " .. (proto == "grpc" and "gRPC" or "HTTP") .. " time: %d+ usec"), out)
      assert.truthy(out:find("  Server: \n    Inference count: %d+\n"), out)
      assert.truthy(out:find("Avg request latency: %d+ usec %(overhead %d+ usec %+ queue %d+ usec %+ " ..
        "compute input %d+ usec %+ compute infer %d+ usec %+ compute output %d+ usec%)"), out)
      assert.falsy(out:find("Latency histogram", 1, true)) -- stdout is not a terminal
      assert.falsy(err:find("window 1", 1, true))          -- nor is stderr: no progress line
      local rows = lines(text)
      assert.equal("Concurrency," .. CSV_COLUMNS, rows[1])
      assert.equal(5, #rows)
      local seen = {}
      for i = 2, 5 do
        local fields = {}
        for f in (rows[i] .. ","):gmatch("([^,]*),") do fields[#fields + 1] = f end
        assert.equal(13, #fields, rows[i])
        for _, f in ipairs(fields) do assert.truthy(tonumber(f), rows[i]) end
        seen[tonumber(fields[1])] = true
        -- rows are sorted by throughput, as perf_analyzer sorts them
        local previous = i > 2 and tonumber(rows[i - 1]:match("^[^,]+,([^,]+)")) or 0
        assert.is_true(tonumber(fields[2]) >= previous, text)
      end
      assert.same({ true, true, true, true }, seen)
    end)

    it("holds the asked request rate", function()
      local csv = os.tmpname()
      local status, out, err = perf("-m", "simple", "-u", url, "--request-rate-range", "200",
        "--measurement-interval", "1000", "--stability-percentage", "1000", "-f", csv, "--verbose-csv")
      assert.equal(0, status, err)
      local header = lines(slurp(csv))[1]
      os.remove(csv)
      assert.truthy(out:find("Request Rate: 200 inference requests per second\n", 1, true), out)
      assert.truthy(out:find("\nRequest Rate: 200, throughput: ", 1, true), out)
      local sent = tonumber(out:match("Avg send request rate: ([%d.]+) infer/sec"))
      assert.is_true(math.abs(sent - 200) <= 0.05 * 200, out)
      assert.equal("Request Rate," .. CSV_COLUMNS .. ",Avg latency,request/response,response wait", header)
    end)

    it("sends on a Poisson schedule", function()
      local status, out, err = perf(with_short("-m", "simple", "-u", url, "--request-rate-range", "100",
        "--request-distribution", "poisson", "--request-count", "20"))
      assert.equal(0, status, err)
      assert.truthy(out:find("Using poisson distribution on request generation", 1, true), out)
      assert.truthy(out:find("Request count: 20\n", 1, true), out)
    end)

    it("takes the server's figures for each level alone", function()
      -- exactly the requests measured: statistics are read before and after
      local status, out, err = perf("-m", "simple", "-u", url, "--request-count", "20", "-b", "2",
        "--warmup-request-count", "5")
      assert.equal(0, status, err)
      assert.truthy(out:find("Request count: 20\n", 1, true), out)
      assert.truthy(out:find("Inference count: 40\n", 1, true), out)
      assert.truthy(out:find("Successful request count: 20\n", 1, true), out)
    end)

    it("puts inputs and outputs in system shared memory and unregisters them", function()
      local status, out, err = perf("-m", "simple", "-u", url, "--shared-memory", "system",
        "--request-count", "10")
      assert.equal(0, status, err)
      assert.truthy(out:find("Successful request count: 10\n", 1, true), out)
      local c = h.closing(triton.connect(url))
      assert.same({}, c:system_shared_memory_status())
    end)

    it("reads input data from a JSON file, values and base64", function()
      local b64 = "AQAAAAIAAAADAAAABAAAAAUAAAAGAAAABwAAAAgAAAAJAAAACgAAAAsAAAAMAAAADQAAAA4AAAAPAAAAEAAAAA=="
      local data = tmpfile('{"data": [{"INPUT0": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],' ..
        ' "INPUT1": {"content": {"b64": "' .. b64 .. '"}, "shape": [16]}},' ..
        ' {"INPUT0": {"b64": "' .. b64 .. '"}, "INPUT1": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}')
      local status, out, err = perf("-m", "simple", "-u", url, "--input-data", data, "--request-count", "6",
        "-b", "3")
      os.remove(data)
      assert.equal(0, status, err)
      assert.truthy(out:find("Inference count: 18\n", 1, true), out)
    end)

    it("names the entry, input and character of bad base64 input data", function()
      local cases = {
        { "AQAA*gAA", "not base64 at character 5: not a base64 character" },
        { "AQ=AAgAA", "not base64 at character 3: '=' padding before the end of a group of 4" },
        { "AQAAAg==AQAA", "not base64 at character 9: text after the final '=' padding" },
        { "AQAAAgA", "not base64 at character 7: the text ends inside a group of 4 characters" },
      }
      for _, case in ipairs(cases) do
        local data = tmpfile('{"data": [{"INPUT0": {"b64": "' .. case[1] .. '"}, "INPUT1": [1]}]}')
        local status, out, err = perf("-m", "simple", "-u", url, "--input-data", data, "--request-count", "1")
        os.remove(data)
        assert.equal(99, status, out)
        local want = "--input-data " .. data .. ", entry 1, input 'INPUT0': " .. case[2]
        assert.truthy(err:find(want, 1, true), err)
      end
    end)

    it("gives BYTES inputs their --string-data", function()
      local status, out, err = perf("-m", "simple_string", "-u", url, "--string-data", "7",
        "--request-count", "5")
      assert.equal(0, status, err)
      assert.truthy(out:find("Successful request count: 5\n", 1, true), out)
    end)

    it("reports a failed request and stops", function()
      -- random strings are not the decimal integers simple_string adds
      local status, _, err = perf("-m", "simple_string", "-u", url, "--request-count", "5")
      assert.equal(99, status)
      assert.truthy(err:find("tritonlua perf: a request failed at concurrency 1: .*" ..
        "must hold decimal integers"), err)
    end)

    it("fails as perf_analyzer does when no level is stable", function()
      -- three windows must agree: one window is never enough
      local status, out, err = perf("-m", "simple", "-u", url, "--measurement-interval", "100",
        "--max-trials", "1")
      assert.equal(2, status)
      assert.truthy(err:find("Failed to obtain stable measurement within 1 measurement windows for " ..
        "concurrency 1. Please try to increase the --measurement-interval.\n", 1, true), err)
      assert.falsy(out:find("Inferences/Second vs.", 1, true), out)
    end)

    if proto == "grpc" then
      it("streams requests over one gRPC stream", function()
        local status, out, err = perf("-m", "simple", "-u", url, "--streaming", "--request-count", "30",
          "--concurrency-range", "3")
        assert.equal(0, status, err)
        assert.truthy(out:find("Request count: 30\n", 1, true), out)
        assert.truthy(out:find("Successful request count: 30\n", 1, true), out)
      end)
    else
      it("refuses --streaming over HTTP", function()
        local status, _, err = perf("-m", "simple", "-u", url, "--streaming")
        assert.equal(99, status)
        assert.equal("tritonlua perf: --streaming needs gRPC (-i grpc)\n", err)
      end)

      it("sends JSON tensors over HTTP when asked", function()
        local status, out, err = perf("-m", "simple", "-u", url, "--input-tensor-format", "json",
          "--output-tensor-format", "json", "--request-count", "5")
        assert.equal(0, status, err)
        assert.truthy(out:find("Successful request count: 5\n", 1, true), out)
      end)
    end

    it("names the input whose shape it needs", function()
      local status, _, err = perf("-m", "identity_int32", "-u", url)
      assert.equal(99, status)
      assert.equal("tritonlua perf: input 'INPUT0' has variable shape [-1]: give its shape with " ..
        "--shape INPUT0:d1,d2,...\n", err)
      local ok, out, err2 = perf("-m", "identity_int32", "-u", url, "--shape", "INPUT0:8",
        "--request-count", "3")
      assert.equal(0, ok, err2)
      assert.truthy(out:find("Request count: 3\n", 1, true), out)
    end)

    it("reports the server's error for an unknown model", function()
      local status, _, err = perf("-m", "no_such_model", "-u", url)
      assert.equal(99, status)
      assert.truthy(err:find("^tritonlua perf: .*not_found"), err)
    end)
  end)
end)

describe("tritonlua perf flags", function()
  local cases = {
    { {}, "-m MODEL is required (tritonlua perf -h lists the flags)" },
    { { "-m", "simple", "--bogus" }, "unknown flag '--bogus' (tritonlua perf -h lists them)" },
    { { "-m", "simple", "--sync" },
      "--sync is not supported by tritonlua perf: requests are always asynchronous, driven from one " ..
      "event loop" },
    { { "-m", "simple", "--shared-memory", "cuda" }, "--shared-memory expects none or system, got 'cuda'" },
    { { "-m", "simple", "--concurrency-range", "4:1" },
      "--concurrency-range expects an end of 0 (no limit) or at least the start, got '4:1'" },
    { { "-m", "simple", "--concurrency-range", "1:x" },
      "--concurrency-range expects start[:end[:step]] of non-negative integers, got '1:x'" },
    { { "-m", "simple", "--concurrency-range", "1:0" },
      "an end of 0 (no limit) in --concurrency-range needs --latency-threshold" },
    { { "-m", "simple", "--concurrency-range", "1", "--request-rate-range", "5" },
      "--concurrency-range and --request-rate-range exclude each other" },
    { { "-m", "simple", "--measurement-interval", "0" },
      "--measurement-interval expects an integer >= 1, got '0'" },
    { { "-m", "simple", "-p" }, "-p needs a value (MS)" },
    { { "-m", "simple", "--percentile", "100" }, "--percentile expects 1 to 99, got 100" },
    { { "-m", "simple", "--shape", "INPUT0" },
      "--shape expects NAME:d1,d2,... (dimensions as non-negative integers), got 'INPUT0'" },
    { { "-m", "simple", "--ssl-grpc-use-ssl" },
      "--ssl-grpc-use-ssl is not supported by tritonlua perf: no TLS options: give an https:// or " ..
      "grpcs:// URL" },
    { { "-m", "simple", "--streaming=yes" }, "--streaming takes no value, got '--streaming=yes'" },
    { { "-m", "simple", "extra" }, "unexpected argument 'extra' (flags only; tritonlua perf -h lists them)" },
  }
  for _, case in ipairs(cases) do
    it("refuses " .. table.concat(case[1], " ") .. " by name", function()
      local status, out, err = perf(h.table_unpack(case[1]))
      assert.equal(99, status)
      assert.equal("", out)
      assert.equal("tritonlua perf: " .. case[2] .. "\n", err)
    end)
  end

  it("prints its usage with -h", function()
    local status, out = perf("-h")
    assert.equal(0, status)
    assert.truthy(out:find("^usage: tritonlua perf %-m MODEL %[options%]\n"))
    assert.truthy(out:find("\n  --concurrency-range START:END:STEP ", 1, true), out)
    assert.truthy(out:find("\n  -p, --measurement-interval MS ", 1, true), out)
  end)

  it("takes --flag=value and -mMODEL", function()
    local s = h.server()
    local status, out, err = perf("-msimple", "--request-count=4", "-u", s.http_url)
    assert.equal(0, status, err)
    assert.truthy(out:find("Request count: 4\n", 1, true), out)
  end)
end)

describe("tritonlua perf on a terminal", function()
  it("draws a latency histogram and a progress line", function()
    local s = h.server()
    local status, text = h.pty_run({ "expect window 1, ", "expect Latency histogram (usec):" },
      { HOST, "perf", "-m", "simple", "-u", s.http_url, "-p", "600", "-s", "1000" })
    if not status then
      pending(text)
      return
    end
    assert.equal(0, status, text)
    assert.truthy(text:find("\n +%d+%-%d+ |#+ *| %d+\n"), text)
  end)
end)
