-- triton.repl: the read-eval-print loop of the tritonlua host.
--
--   repl.run([opts])          runs until end of input (Ctrl-D)
--   repl.complete(word [, env [, before]]) -> sorted completions for a word; `before`
--                             is the line before it (after a quote: model names)
--
-- It works as lua.c's REPL does: a line is first tried as `return <line>;` so
-- that expressions print, `=expr` is the same as `return expr`, an incomplete
-- chunk (its syntax error ends in "<eof>") asks for more lines with ">> ",
-- errors print with a traceback and the loop goes on. Every value a chunk
-- returns is printed with triton.pretty, separated by tabs.
--
-- On a terminal it uses "triton.readline" (libedit, only in the host) for line
-- editing, tab completion and history (~/.tritonlua_history or
-- $TRITONLUA_HISTORY). Otherwise it reads plain lines from stdin and prints no
-- prompts, so that piped input gives clean output.
--
-- opts: call (function(f) -> true, results... | false, message; the host's
-- runs f with Ctrl-C turned into an "interrupted!" error), banner (print the
-- version first).
local pretty = require "triton.pretty"
local compat = require "triton.compat"

local M = {}

-- ---- completion -----------------------------------------------------------------

-- A field of v without running metamethods other than __index tables, so that
-- completing never runs user code (a lazily connected client, a proxy).
local function lookup(v, k)
  for _ = 1, 32 do -- bounded: __index chains can loop
    if type(v) == "table" then
      local r = rawget(v, k)
      if r ~= nil then return r end
    end
    local mt = getmetatable(v)
    local index = type(mt) == "table" and rawget(mt, "__index")
    if type(index) ~= "table" then return nil end
    v = index
  end
  return nil
end

-- Whether k is offered: never a metamethod ("__close"), and after ':' never a
-- private name ("_name") either.
local function offered(k, methods_only)
  return pretty.is_identifier(k) and k:sub(1, 2) ~= "__" and not (methods_only and k:sub(1, 1) == "_")
end

-- Adds to `into` the names reachable from v with '.' (fields) or ':' (methods).
local function collect(v, methods_only, into)
  local function add_from(t, functions_only)
    for k, val in next, t do
      if offered(k, methods_only) and (not functions_only or type(val) == "function") then
        into[k] = true
      end
    end
  end
  if type(v) == "table" then add_from(v, methods_only) end
  local seen = {}
  for _ = 1, 32 do
    local mt = getmetatable(v)
    if type(mt) ~= "table" or seen[mt] then break end
    seen[mt] = true
    local index = rawget(mt, "__index")
    if type(index) == "table" then
      add_from(index, methods_only)
      v = index
    else
      -- __index is a function (a userdata that also has fields, such as a
      -- tensor): the methods are then in the metatable's __methods table (our
      -- bindings' convention) or in the metatable itself.
      if type(index) == "function" then
        local methods = rawget(mt, "__methods")
        if type(methods) == "table" then add_from(methods, true) end
        for k, val in next, mt do
          if offered(k, true) and type(val) == "function" then
            into[k] = true
          end
        end
      end
      break
    end
  end
end

--- Completions for `word`, the text before the cursor back to the last
--- character that cannot be part of a name path: "pri", "triton.te", "t:res".
--- Returns full replacements for the word, sorted.
function M.complete(word, env, before)
  env = env or _G
  local names, out = {}, {}
  -- Inside a string literal ("sim<Tab> after a quote): the server's model names.
  if before and before:match("[\"']$") and word:match("^[%w_%.%-]*$") then
    local ok, c = pcall(function() return env.client end)
    if ok and c then
      for _, name in ipairs(require("triton.session").model_names(c)) do
        if name:sub(1, #word) == word then out[#out + 1] = name end
      end
    end
    return out
  end
  local base, sep, partial = word:match("^(.-)([.:])([%a_]?[%w_]*)$")
  if not base then
    if not word:match("^[%a_]?[%w_]*$") then return out end
    collect(env, false, names)
    for k in pairs(pretty.keywords) do names[k] = true end
    partial, base, sep = word, "", ""
  else
    if base == "" or base:find("^%.") or base:find("%.$") or base:find("..", 1, true) then return out end
    local v = env
    for part in base:gmatch("[^.]+") do
      if not pretty.is_identifier(part) then return out end
      -- A global made on first use (the host's `client`) completes from its class.
      local found = lookup(v, part)
      if found == nil and v == env then found = require("triton.session").prototype(env, part) end
      v = found
      if v == nil then return out end
    end
    collect(v, sep == ":", names)
  end
  for k in pairs(names) do
    if k:sub(1, #partial) == partial then out[#out + 1] = base .. sep .. k end
  end
  table.sort(out)
  return out
end

-- ---- reading and compiling chunks -------------------------------------------------------

local function is_incomplete(err)
  return err:sub(-5) == "<eof>"
end

-- Compiles what the user typed, reading continuation lines while the chunk is
-- incomplete. Returns the function, nil and the whole chunk text, or nil, the
-- error and the text (the text goes to the history either way), or nil, nil and
-- the text when Ctrl-C abandoned it.
local function compile(line, read_more)
  if line:sub(1, 1) == "=" then line = "return " .. line:sub(2) end
  -- `return <line>` through an identity function rather than directly: the line
  -- is then evaluated in the chunk's own frame, not tail-called from it, so an
  -- error in a call keeps "stdin:1" in its traceback (and a triton.Error its
  -- position). The newline ends a trailing comment.
  local f = load("return (function(...) return ... end)(" .. line .. "\n)", "=stdin", "t")
  if f then return f, nil, line end
  local chunk = line
  while true do
    local g, err = load(chunk, "=stdin", "t")
    if g then return g, nil, chunk end
    if not is_incomplete(err) then return nil, err, chunk end
    local more, why = read_more()
    if more == nil then
      if why == "interrupted" then return nil, nil, chunk end -- Ctrl-C drops the chunk
      return nil, err, chunk
    end
    chunk = chunk .. "\n" .. more
  end
end
M.compile = compile

-- The host's traceback runs on below the chunk into this file; cut it there.
local function trim_traceback(msg)
  local last
  local from = 1
  while true do
    local s, e = msg:find("\n\tstdin:%d+: in main chunk", from)
    if not s then break end
    last, from = e, e + 1
  end
  if last then return msg:sub(1, last) end
  return msg
end

local function format_results(results)
  local parts = {}
  for i = 2, results.n do
    local ok, s = pcall(pretty.format, results[i])
    parts[#parts + 1] = ok and s or ("<cannot print: " .. tostring(s) .. ">")
  end
  return table.concat(parts, "\t")
end

-- ---- the loop ----------------------------------------------------------------------------

local function history_file()
  local path = os.getenv("TRITONLUA_HISTORY")
  if path and path ~= "" then return path end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.tritonlua_history" end
  return nil
end

-- Line sources: libedit on a terminal, plain stdin otherwise.
local function terminal_reader(rl)
  local path = history_file()
  if path then rl.read_history(path) end -- a missing file is the normal first run
  rl.set_completer(function(word, before) return M.complete(word, nil, before) end)
  local function read(prompt) return rl.readline(prompt) end
  local function remember(chunk)
    if chunk:find("%S") then
      rl.add_history(chunk)
      if path then rl.write_history(path) end
    end
  end
  return read, remember
end

local function pipe_reader()
  return function() return io.stdin:read("l") end, function() end
end

function M.run(opts)
  opts = opts or {}
  local call = opts.call or function(f) return xpcall(f, debug.traceback) end
  local has_rl, rl = pcall(require, "triton.readline")
  local read, remember
  local tty = has_rl and rl.isatty(0)
  if tty then read, remember = terminal_reader(rl) else read, remember = pipe_reader() end
  if opts.banner and tty then
    local triton = require "triton"
    io.stdout:write(string.format("tritonlua %s (%s), `triton` is loaded; Ctrl-D exits\n",
      triton.version, _VERSION))
  end
  while true do
    local line, why = read("> ")
    if line == nil and why ~= "interrupted" then break end
    if line == nil then
      io.stdout:write("\n") -- Ctrl-C at the prompt: a fresh prompt, as shells do
    elseif line:find("%S") then
      local f, err, chunk = compile(line, function() return read(">> ") end)
      remember(chunk)
      if not f then
        io.stderr:write(err or "", "\n")
      else
        local results = compat.pack(call(f))
        if results[1] then
          if results.n > 1 then io.stdout:write(format_results(results), "\n") end
        else
          io.stderr:write(trim_traceback(tostring(results[2])), "\n")
        end
      end
      io.stdout:flush()
      io.stderr:flush()
    end
  end
  if tty then io.stdout:write("\n") end
end

return M
