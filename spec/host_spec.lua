-- The tritonlua host: options, the `arg` table, exit status, tracebacks, Ctrl-C
-- and the REPL (through piped stdin and through a pseudo-terminal).
-- ctest sets TRITONLUA to the built host.
local HOST = assert(os.getenv("TRITONLUA"), "TRITONLUA must name the tritonlua binary (ctest sets it)")
local harness = require "support.harness"

local q, slurp = harness.shell_quote, harness.slurp

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Runs `env HOST args` with stdin from a string (or /dev/null); returns
-- {out=, err=, status=}.
local function run(args, stdin, env)
  local out, err, inp = os.tmpname(), os.tmpname(), os.tmpname()
  spit(inp, stdin or "")
  local cmd = string.format("%s %s %s <%s >%s 2>%s", env or "", q(HOST), args, inp, out, err)
  local _, _, status = harness.execute(cmd)
  local r = { out = slurp(out), err = slurp(err), status = status }
  os.remove(out)
  os.remove(err)
  os.remove(inp)
  return r
end

local function tmpfile(contents)
  local path = os.tmpname()
  spit(path, contents)
  return path
end

describe("tritonlua options", function()
  it("runs -e chunks in order with the triton global preloaded", function()
    local r = run("-e 'x = 1' -e 'print(x + 1, type(triton), triton.version)'")
    assert.equal(0, r.status)
    assert.equal("2\ttable\t" .. require("triton").version .. "\n", r.out)
    assert.equal("", r.err)
  end)

  it("accepts a value attached to the option (-eCODE)", function()
    local r = run("-e'print(3)'")
    assert.equal("3\n", r.out)
  end)

  it("prints the version with --version", function()
    local r = run("--version")
    assert.equal(0, r.status)
    assert.truthy(r.out:match("^tritonlua %d+%.%d+%.%d+ %(Lua 5%.4%.%d+%)\n$"), r.out)
  end)

  it("prints usage on stdout with -h and --help", function()
    for _, opt in ipairs { "-h", "--help" } do
      local r = run(opt)
      assert.equal(0, r.status)
      assert.truthy(r.out:find("usage: ", 1, true))
      assert.truthy(r.out:find("-u, --url URL", 1, true))
      assert.equal("", r.err)
    end
  end)

  it("rejects a bad option with usage on stderr and status 1", function()
    local r = run("-x")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("unrecognized option '-x'", 1, true), r.err)
    assert.truthy(r.err:find("usage: ", 1, true))
    assert.equal("", r.out)
    r = run("--nope")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("unrecognized option '--nope'", 1, true), r.err)
    r = run("-ix")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("unrecognized option '-ix'", 1, true), r.err)
  end)

  it("rejects an option without its value", function()
    for _, opt in ipairs { "-e", "-l", "-u", "-H", "--url" } do
      local r = run(opt)
      assert.equal(1, r.status)
      assert.truthy(r.err:find("'" .. opt .. "' needs an argument", 1, true), r.err)
    end
  end)

  it("stores -u/--url in triton.default_url, else $TRITON_URL, else localhost:8000", function()
    local show = "-e 'print(triton.default_url)'"
    assert.equal("grpc://h:8001\n", run("-u grpc://h:8001 " .. show).out)
    assert.equal("http://a:1\n", run("--url http://a:1 " .. show).out)
    assert.equal("http://b:2\n", run("--url=http://b:2 " .. show).out)
    assert.equal("http://env:3\n", run(show, nil, "env TRITON_URL=http://env:3").out)
    assert.equal("http://opt:4\n", run("-u http://opt:4 " .. show, nil, "env TRITON_URL=http://env:3").out)
    assert.equal("http://localhost:8000\n", run(show, nil, "env -u TRITON_URL").out)
  end)

  it("stores -H headers in triton.default_headers, trimmed", function()
    local r = run("-H 'X-Api-Key:  secret ' -H'Accept: a/b' -e " ..
      q("local h = triton.default_headers; print(h['X-Api-Key'] .. '|' .. h.Accept)"))
    assert.equal(0, r.status)
    assert.equal("secret|a/b\n", r.out)
    assert.equal("0\n", run("-e 'print(next(triton.default_headers) == nil and 0 or 1)'").out)
  end)

  it("rejects a header that is not 'Name: value'", function()
    for _, h in ipairs { "novalue", ": empty name", "bad name: x" } do
      local r = run("-H " .. q(h))
      assert.equal(1, r.status)
      assert.truthy(r.err:find("bad header '" .. h .. "' (expected 'Name: value')", 1, true), r.err)
    end
  end)

  it("sets triton.verbose with -v", function()
    assert.equal("true\n", run("-v -e 'print(triton.verbose)'").out)
    assert.equal("false\n", run("-e 'print(triton.verbose)'").out)
  end)

  it("requires a module into a global with -l MOD and -l name=MOD", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(harness.execute("mkdir " .. q(dir)))
    spit(dir .. "/hostspecmod.lua", "return { value = 'loaded' }")
    local env = "env LUA_PATH_5_4=" .. q(dir .. "/?.lua;;")
    local r = run("-l hostspecmod -l m=hostspecmod -e 'print(hostspecmod.value, m.value)'", nil, env)
    os.remove(dir .. "/hostspecmod.lua")
    os.remove(dir)
    assert.equal(0, r.status)
    assert.equal("loaded\tloaded\n", r.out)
    r = run("-l no_such_module_here")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("module 'no_such_module_here' not found", 1, true), r.err)
  end)
end)

describe("tritonlua scripts", function()
  local script
  before_each(function()
    script = tmpfile([[
      print("dots", ...)
      print("arg", arg[-2], arg[-1], arg[0], arg[1], arg[2], #arg)
    ]])
  end)
  after_each(function() os.remove(script) end)

  it("builds `arg` as lua.c does and passes the arguments as ...", function()
    local r = run("-e 'x=1' " .. q(script) .. " a 'b c'")
    assert.equal(0, r.status)
    assert.equal("dots\ta\tb c\narg\t-e\tx=1\t" .. script .. "\ta\tb c\t2\n", r.out)
  end)

  it("stops handling options at --", function()
    local r = run("-- " .. q(script) .. " -e -x")
    assert.equal(0, r.status)
    assert.equal("dots\t-e\t-x\narg\t" .. HOST .. "\t--\t" .. script .. "\t-e\t-x\t2\n", r.out)
  end)

  it("treats options after the script as the script's arguments", function()
    local r = run(q(script) .. " -v --url")
    assert.equal("dots\t-v\t--url\narg\tnil\t" .. HOST .. "\t" .. script .. "\t-v\t--url\t2\n", r.out)
  end)

  it("reads the script from stdin with -", function()
    local r = run("- one", "print('stdin', ..., arg[0])")
    assert.equal(0, r.status)
    assert.equal("stdin\tone\t-\n", r.out)
  end)

  it("runs stdin when there is no script and stdin is not a terminal", function()
    local r = run("", "print('from stdin')")
    assert.equal(0, r.status)
    assert.equal("from stdin\n", r.out)
  end)

  it("gives `arg` the interpreter at 0 and the options from 1 when there is no script", function()
    local r = run("-e 'print(arg[0], arg[1], arg[2], arg[-1], #arg)'")
    assert.equal(HOST .. "\t-e\tprint(arg[0], arg[1], arg[2], arg[-1], #arg)\tnil\t2\n", r.out)
  end)

  it("exits with status 1 and a traceback on an uncaught error", function()
    local path = tmpfile("local function inner() error('deep trouble') end\ninner()\n")
    local r = run(q(path))
    os.remove(path)
    assert.equal(1, r.status)
    assert.truthy(r.err:find(path .. ":1: deep trouble", 1, true), r.err)
    assert.truthy(r.err:find("stack traceback:", 1, true), r.err)
    assert.truthy(r.err:find("in local 'inner'", 1, true), r.err)
    assert.truthy(r.err:find(path .. ":2: in main chunk", 1, true), r.err)
  end)

  it("shows error objects through __tostring", function()
    local r = run("-e " .. q("error(setmetatable({}, {__tostring = function() return 'custom error' end}))"))
    assert.equal(1, r.status)
    assert.truthy(r.err:find("custom error\nstack traceback:", 1, true), r.err)
    r = run("-e 'error({})'")
    assert.truthy(r.err:find("(error object is a table value)", 1, true), r.err)
  end)

  it("reports a syntax error and a missing script with status 1", function()
    local r = run("-e 'x ='")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("unexpected symbol near <eof>", 1, true), r.err)
    r = run("/nonexistent/script.lua")
    assert.equal(1, r.status)
    assert.truthy(r.err:find("cannot open /nonexistent/script.lua", 1, true), r.err)
  end)

  it("exits with the status given to os.exit", function()
    assert.equal(3, run("-e 'os.exit(3)'").status)
  end)

  it("turns SIGINT into a cancelled triton.Error while Lua code runs", function()
    local err = os.tmpname()
    local cmd = string.format("%s -e %s 2>%s & pid=$!; %s wait $pid",
      q(HOST), q("io.stderr:write('run', 'ning\\n') while true do end"), err,
      harness.sigint_when(err, "running", "pid"))
    local _, _, status = harness.execute(cmd)
    local text = slurp(err)
    os.remove(err)
    assert.equal(1, status)
    assert.truthy(text:find("cancelled: interrupted", 1, true), text)
  end)
end)

describe("tritonlua REPL (piped stdin)", function()
  it("prints the value of every expression, strings quoted, several values tab-separated", function()
    local r = run("-i", "1 + 1\n=2, 'x'\n'a\\nb'\nnil\nx = 5\nx\nprint('side effect')\n")
    assert.equal(0, r.status)
    assert.equal('2\n2\t"x"\n"a\\nb"\nnil\n5\nside effect\n', r.out)
    assert.equal("", r.err)
  end)

  it("reads a multi-line chunk until it is complete", function()
    local r = run("-i", "function twice(v)\n  return v * 2\nend\ntwice(21)\nlocal t = {\n1,\n2}\n")
    assert.equal("42\n", r.out)
    assert.equal("", r.err)
  end)

  it("pretty-prints tables: nested, sorted keys, cycles marked", function()
    local r = run("-i", "{3, 2, b = {c = true}, a = 'x', [10] = 1.5}\nlocal t = {}; t.self = t; return t\n")
    assert.equal('{3, 2, [10] = 1.5, a = "x", b = {c = true}}\n{self = <cycle>}\n', r.out)
  end)

  it("prints an error with its traceback and carries on", function()
    local r = run("-i", "error('oops')\nprint('still here')\nlocal = 1\n2 + 2\n")
    assert.equal("still here\n4\n", r.out)
    assert.truthy(r.err:find("stdin:1: oops\nstack traceback:\n", 1, true), r.err)
    assert.truthy(r.err:find("stdin:1: in main chunk", 1, true), r.err)
    assert.truthy(r.err:find("stdin:1: <name> expected near '='", 1, true), r.err)
    -- the REPL's own frames are cut from the traceback
    assert.falsy(r.err:find("repl.lua", 1, true), r.err)
  end)

  it("reports an unfinished chunk at end of input", function()
    local r = run("-i", "for i = 1, 2 do\n")
    assert.equal(0, r.status)
    assert.truthy(r.err:find("'end' expected near <eof>", 1, true), r.err)
  end)

  it("runs after the script and -e with -i", function()
    local r = run("-e 'y = 7' -i", "y * 6\n")
    assert.equal("42\n", r.out)
  end)

  it("survives Ctrl-C during a chunk and reads the next line", function()
    local input, out = os.tmpname(), os.tmpname()
    spit(input, "io.write('run', 'ning\\n') io.flush() while true do end\nprint('after interrupt')\n")
    local cmd = string.format("%s -i <%s >%s 2>&1 & pid=$!; %s wait $pid",
      q(HOST), input, out, harness.sigint_when(out, "running", "pid"))
    local _, _, status = harness.execute(cmd)
    local text = slurp(out)
    os.remove(input)
    os.remove(out)
    assert.equal(0, status)
    assert.truthy(text:find("cancelled: interrupted", 1, true), text)
    assert.truthy(text:find("after interrupt", 1, true), text)
  end)
end)

describe("tritonlua REPL completion", function()
  local repl = require "triton.repl"

  it("completes globals and keywords", function()
    local env = { print = print, printf = print, pairs = pairs }
    assert.same({ "print", "printf" }, repl.complete("pri", env))
    assert.same({ "pairs" }, repl.complete("pa", env))
    assert.same({ "return", "repeat" }, { repl.complete("re", env)[2], repl.complete("re", env)[1] })
  end)

  it("completes table fields after '.'", function()
    local env = { triton = { tensor = 1, tensors = 2, json = { encode = 1, decode = 2 }, now = 3 } }
    assert.same({ "triton.tensor", "triton.tensors" }, repl.complete("triton.te", env))
    assert.same({ "triton.json.decode", "triton.json.encode" }, repl.complete("triton.json.", env))
    assert.same({}, repl.complete("triton.nothing.", env))
    assert.same({}, repl.complete("triton..x", env))
  end)

  it("completes methods after ':' from the metatable's __index", function()
    local methods = { reshape = function() end, resize = function() end, rows = 3 }
    local t = setmetatable({}, { __index = methods })
    local s = "text"
    local env = { t = t, s = s }
    assert.same({ "t:reshape", "t:resize" }, repl.complete("t:res", env))
    assert.same({ "s:upper" }, repl.complete("s:upp", env))
  end)

  it("completes methods of a userdata through its __index table", function()
    assert.same({ "f:seek", "f:setvbuf" }, repl.complete("f:se", { f = io.stdout }))
  end)

  it("completes methods kept in the metatable or its __methods when __index is a function", function()
    local mt = {}
    mt.__index = function(_, k) return rawget(mt, k) end
    mt.__tostring = function() return "obj" end
    mt.reshape = function() end
    mt.shape = function() end
    local env = { v = setmetatable({}, mt) }
    assert.same({ "v:reshape" }, repl.complete("v:re", env))
    assert.same({ "v:reshape", "v:shape" }, repl.complete("v:", env))
    mt.__methods = { resize = function() end, size = 1 }
    assert.same({ "v:reshape", "v:resize" }, repl.complete("v:re", env))
  end)

  it("completes the host's client before its first use, and never metamethods", function()
    local session = require "triton.session"
    local env = setmetatable({}, { __index = _G })
    session.install(env, "http://127.0.0.1:1")
    local methods = repl.complete("client:", env)
    assert.is_true(#methods > 20, table.concat(methods, " "))
    assert.same({ "client:infer", "client:inference_statistics" }, repl.complete("client:inf", env))
    assert.is_nil(rawget(env, "client")) -- completing did not make it
    local c = env.client
    assert.same(methods, repl.complete("client:", env)) -- the same once it is made
    for _, m in ipairs(methods) do assert.falsy(m:find(":_", 1, true), m) end
    assert.same({}, repl.complete("client:__", env))
    c:close()
  end)

  it("never calls __index functions while completing", function()
    local called = false
    local env = setmetatable({}, { __index = function() called = true end })
    assert.same({}, repl.complete("client.", env))
    assert.is_false(called)
  end)

  it("completes with TAB on a terminal, handles Ctrl-C and keeps a history file", function()
    -- Each key is typed only once the REPL is ready for it (ptydrive.py says
    -- why), so the spec does not depend on the machine's speed.
    local steps = {
      "expect > ",
      "type x_unique_var = 42\\n", "expect > ",
      "type x_uniq\\t + 1\\n", "expect \\n43", "expect > ",
      "type triton.json.enc\\t(7)\\n", "expect \\n\"7\"", "expect > ",
      "type s = 'abc'\\n", "expect > ",
      "type s:upp\\t()\\n", "expect \\n\"ABC\"", "expect > ",
      -- Ctrl-C at the prompt drops the line and keeps the REPL.
      "type discarded", "expect discarded", "type \\x03", "expect > ",
      "type 5 * 5\\n", "expect \\n25", "expect > ",
      -- Ctrl-C while a chunk runs interrupts it; the chunk says when it runs.
      "type io.write('spin', 'ning\\\\n') io.flush() while true do end\\n", "expect spinning",
      "send \\x03", "expect cancelled: interrupted", "expect > ",
      "type 6 * 6\\n", "expect \\n36", "expect > ",
      "type \\x04",
    }
    local hist = os.tmpname()
    os.remove(hist)
    local status, text = harness.pty_run(steps, { HOST }, { TRITONLUA_HISTORY = hist })
    local history = io.open(hist) and slurp(hist) or ""
    os.remove(hist)
    if not status then
      pending(text)
      return
    end
    assert.equal(0, status, text)
    assert.truthy(history:find("x_unique_var\\040+\\0401", 1, true), history)
    assert.falsy(history:find("discarded", 1, true), history)
  end)
end)

describe("tritonlua REPL completion of the client on a terminal", function()
  it("completes client:<Tab> before the client was used", function()
    -- Nothing listens on port 1: the completed call runs, and fails as unavailable;
    -- without the completion it would be a call of the missing method is_server_li.
    local steps = { "expect > ", "type client:is_server_li\\t()\\n", "expect unavailable", "expect > ",
      "type \\x04" }
    local status, text = harness.pty_run(steps, { HOST, "-u", "http://127.0.0.1:1" },
      { TRITONLUA_HISTORY = "/dev/null" })
    if not status then
      pending(text)
      return
    end
    assert.equal(0, status, text)
    assert.truthy(text:find("stdin:1: triton.Error: unavailable", 1, true), text)
  end)
end)

describe("tritonlua -u", function()
  local h = require "support.harness"
  local s = h.server()
  local source = os.getenv("TRITON_SOURCE_DIR") or "."
  local no_urls = "env -u TRITON_URL -u TRITON_HTTP_URL -u TRITON_GRPC_URL"

  it("exports the URL as TRITON_URL and TRITON_GRPC_URL or TRITON_HTTP_URL", function()
    local show = " -e " .. q("print(os.getenv('TRITON_URL'), os.getenv('TRITON_GRPC_URL'), "
      .. "os.getenv('TRITON_HTTP_URL'))")
    assert.equal("grpc://h:1\tgrpc://h:1\tnil\n", run("-u grpc://h:1" .. show, nil, no_urls).out)
    assert.equal("https://h:2\tnil\thttps://h:2\n", run("-u https://h:2" .. show, nil, no_urls).out)
    assert.equal("h:3\tnil\tnil\n", run("-u h:3" .. show, nil, no_urls).out)
  end)

  for _, proto in ipairs(h.protocols) do
    it("runs an example against its URL, over " .. proto, function()
      local r = run("-u " .. q(s[proto .. "_url"]) .. " " .. q(source .. "/examples/simple_infer.lua"),
        nil, no_urls)
      assert.equal(0, r.status, r.err)
      assert.truthy(r.out:find("PASS: simple over " .. proto, 1, true), r.out)
    end)

    it("shows a server's error at the script's line, without the module's frames, over " .. proto,
      function()
        local script = tmpfile("local c = triton.connect(...)\nlocal m = c:model_metadata('nope')\n")
        local r = run(q(script) .. " " .. q(s[proto .. "_url"]))
        os.remove(script)
        assert.equal(1, r.status)
        assert.truthy(r.err:find(script .. ":2: triton.Error: not_found", 1, true), r.err)
        assert.truthy(r.err:find("stack traceback:\n\t" .. script .. ":2: in main chunk", 1, true), r.err)
        assert.falsy(r.err:find("triton/[%w_]+%.lua"), r.err)
        r = run("-u " .. q(s[proto .. "_url"]) .. " -i", "client:model_metadata('nope')\n")
        assert.truthy(r.err:find("stdin:1: triton.Error: not_found", 1, true), r.err)
        assert.falsy(r.err:find("triton/[%w_]+%.lua"), r.err)
      end)
  end

  it("lets the gRPC-only examples find their server under scripts/with-testserver", function()
    local out = os.tmpname()
    local cmd = string.format("%s %s %s %s >%s 2>&1", no_urls, q(source .. "/scripts/with-testserver"),
      q(HOST), q(source .. "/examples/sequence_stream.lua"), q(out))
    local _, _, status = harness.execute(cmd)
    local text = slurp(out)
    os.remove(out)
    assert.equal(0, status, text)
    assert.truthy(text:find("PASS: simple_sequence over grpc", 1, true), text)
  end)

  for _, proto in ipairs(h.protocols) do
    it("connects the global client on first use, over " .. proto, function()
      local url = s[proto .. "_url"]
      local r = run("-u " .. q(url) .. " -e " .. q("print(client.protocol, client:is_server_live())"))
      assert.equal(0, r.status, r.err)
      assert.equal(proto .. "\ttrue\n", r.out)
    end)
  end

  it("does not connect when the script never uses client", function()
    local r = run("-u http://127.0.0.1:1 -e " .. q("print(rawget(_G, 'client'))"))
    assert.equal(0, r.status, r.err)
    assert.equal("nil\n", r.out)
  end)

  it("raises a clear error when the server is not there", function()
    local r = run("-u http://127.0.0.1:1 -e " .. q("print(client:is_server_live())"))
    assert.equal(1, r.status)
    assert.truthy(r.err:find("unavailable", 1, true), r.err)
    assert.truthy(r.err:find("127.0.0.1", 1, true), r.err)
  end)

  it("completes model names inside a string in the REPL", function()
    local code = "local repl = require 'triton.repl'; " ..
      "print(table.concat(repl.complete('simple_s', _G, 'client:infer(\"'), ' '))"
    local r = run("-u " .. q(s.http_url) .. " -e " .. q(code))
    assert.equal(0, r.status, r.err)
    assert.equal("simple_sequence simple_string simple_string_dyna_sequence\n", r.out)
  end)
end)

describe("tritonlua help", function()
  it("gives an overview with help()", function()
    local r = run("-e 'help()'")
    assert.equal(0, r.status, r.err)
    assert.truthy(r.out:find("Client methods (c:NAME): is_server_live,", 1, true), r.out)
    assert.truthy(r.out:find("Tensors (triton.NAME): tensor, zeros,", 1, true), r.out)
  end)

  it("gives the signature of a function or method by name", function()
    local r = run("-e " .. q("help('infer') help('triton.zeros') help('nope')"))
    assert.equal(0, r.status, r.err)
    assert.truthy(r.out:find("  c:infer(model, inputs [, opts]) -> result\n", 1, true), r.out)
    assert.truthy(r.out:find("  triton.zeros(shape [, dtype]) -> tensor\n", 1, true), r.out)
    assert.truthy(r.out:find("no function or method named 'nope'", 1, true), r.out)
  end)

  it("describes an object's methods, and a function of the API", function()
    local r = run("-e " .. q("help(triton.tensor({1})) help(triton.InferInput('x', {1}, 'INT32')) "
      .. "help(triton.arange) help(print)"))
    assert.equal(0, r.status, r.err)
    assert.truthy(r.out:find("  t:reshape(shape) -> tensor\n", 1, true), r.out)
    assert.truthy(r.out:find("  input:set_data(tensor | table | raw string", 1, true), r.out)
    assert.truthy(r.out:find("  triton.arange([start,] stop [, step] [, dtype]) -> tensor", 1, true), r.out)
    assert.truthy(r.out:find("a function that is not part of the triton API", 1, true), r.out)
  end)

  it("is there in the REPL, and describes the client without connecting it", function()
    local r = run("-u http://127.0.0.1:1 -i", "help('sleep')\nhelp(client)\n")
    assert.equal(0, r.status, r.err)
    assert.truthy(r.out:find("  triton.sleep(seconds)\n", 1, true), r.out)
    assert.truthy(r.out:find("  c:infer(model, inputs [, opts]) -> result", 1, true), r.out)
  end)
end)

describe("tritonlua in the build tree", function()
  it("needs no LUA_PATH or LUA_CPATH: the Lua part is compiled in", function()
    local r = run("-e " .. q("print(triton.tensor({1, 2}):numel(), require('triton.session') ~= nil)"),
      nil, "env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH -u LUA_CPATH")
    assert.equal(0, r.status, r.err)
    assert.equal("2\ttrue\n", r.out)
  end)
end)
