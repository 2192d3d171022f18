-- triton.fleet: what a fleet adds above single calls, in Lua over the core client
-- (docs/FLEET.md):
--
--   M.split_infer(c, model, inputs, o)   c:infer(model, inputs, {split = true}): a batch
--                                        beyond the model's max_batch_size as chunks sent
--                                        at once, outputs concatenated in order
--   M.map(c, model, source, o)           triton.map: a dataset runner yielding i, r, err
--
-- Balancing, health, sequences and retries are the C core's (src/client/fleet.c);
-- these only shape calls, so they work the same on a plain client (a fleet of one).
local core = require "triton.core"
local compat = require "triton.compat"
local idiv = compat.idiv

local args = core.args

local M = {}

-- ---- results of a split call ------------------------------------------------------

-- The outputs of the chunks, concatenated along dimension 1, with the methods of a
-- triton.InferResult, so that code reading one reads the other.
local SplitResult = {}
SplitResult.__index = SplitResult
SplitResult.__name = "triton.InferResult"

local function output_named(self, name)
  if type(name) ~= "string" then
    args.argerror(1, "as_tensor", "string expected, got " .. type(name))
  end
  local t = self._outputs[name]
  if t == nil and not self._info[name] then
    args.usererror(string.format("no output '%s' in this result", name))
  end
  return t
end

function SplitResult:as_tensor(name) return output_named(self, name) end

function SplitResult:output(name)
  output_named(self, name)
  return self._info[name]
end
SplitResult.get_output = SplitResult.output

function SplitResult:outputs()
  local o = {}
  for k, v in pairs(self._outputs) do o[k] = v end
  return o
end

function SplitResult:response() return self._response end
SplitResult.get_response = SplitResult.response

function SplitResult.final() return true end

-- The servers that answered, one per chunk, in order.
function SplitResult:server() return self._servers end

function SplitResult.classification()
  args.usererror("classification: not available on a result put together by split = true; " ..
    "ask for the raw output and use t:topk")
end

function SplitResult.__tostring(r)
  return string.format("triton.InferResult(%s, %d chunks, split)", r._response.model_name,
    #r._servers)
end

local function concat_results(results, triton_cat)
  local first = results[1]:response()
  local outputs, info, response_outputs = {}, {}, {}
  for k, o in ipairs(first.outputs) do
    local parts, rows = {}, 0
    for i, r in ipairs(results) do
      parts[i] = r:as_tensor(o.name)
      if parts[i] then rows = rows + parts[i].shape[1] end
    end
    local shape = {}
    for d, n in ipairs(o.shape) do shape[d] = n end
    shape[1] = rows
    local merged = { name = o.name, datatype = o.datatype, shape = shape, parameters = o.parameters }
    if parts[1] then outputs[o.name] = #parts == 1 and parts[1] or triton_cat(parts, 1) end
    info[o.name], response_outputs[k] = merged, merged
  end
  first.outputs = response_outputs
  local servers = {}
  for i, r in ipairs(results) do servers[i] = r:server() end
  return setmetatable({ _outputs = outputs, _info = info, _response = first, _servers = servers },
    SplitResult)
end

-- ---- split = true ----------------------------------------------------------------------

-- The model's max_batch_size, read from its config once per client, model and version.
local function max_batch(c, model, version)
  c._max_batch = c._max_batch or {}
  local key = model .. "\0" .. (version or "")
  local n = c._max_batch[key]
  if n == nil then
    local cfg = c:model_config(model, version)
    n = compat.tointeger(cfg.max_batch_size) or 0
    c._max_batch[key] = n
  end
  return n
end

-- The batch size shared by every input of a map of tensors (dimension 1).
local function batch_of(inputs, fname)
  if type(inputs) ~= "table" or getmetatable(inputs) ~= nil or #inputs > 0 then
    args.argerror(2, fname, "split = true takes inputs as a map {NAME = tensor}")
  end
  local batch, first_name
  for name, t in pairs(inputs) do
    if type(t) ~= "userdata" or type(t.shape) ~= "table" or #t.shape == 0 then
      args.argerror(2, fname, string.format("split = true: input '%s' must be a tensor with a " ..
        "batch dimension", tostring(name)))
    end
    local rows = t.shape[1]
    if batch and rows ~= batch then
      args.argerror(2, fname, string.format("split = true: inputs '%s' (%d rows) and '%s' (%d " ..
        "rows) differ in batch size", first_name, batch, tostring(name), rows))
    end
    batch, first_name = rows, first_name or tostring(name)
  end
  return batch or 0
end

-- c:infer(model, inputs, o) with o.split (removed from o by the caller).
function M.split_infer(c, model, inputs, o, triton_wait, triton_cat)
  if o and (o.sequence_id or o.sequence_start or o.sequence_end) then
    args.argerror(3, "infer", "split = true cannot be used in a sequence (a sequence's " ..
      "requests are one row each, in order)")
  end
  local batch = batch_of(inputs, "infer")
  local limit = max_batch(c, model, o and o.model_version)
  if limit <= 0 or batch <= limit then return c:infer(model, inputs, o) end
  local futures = {}
  for first = 1, batch, limit do
    local last = math.min(first + limit - 1, batch)
    local chunk = {}
    for name, t in pairs(inputs) do chunk[name] = t:slice(1, first, last) end
    futures[#futures + 1] = c:async_infer(model, chunk, o)
  end
  return concat_results(triton_wait(futures), triton_cat)
end

-- ---- triton.map ----------------------------------------------------------------------------

local map_options = args.option_spec {
  { "concurrency", "integer", min = 1, max = 100000 },
  { "ordered", "boolean" },
  { "progress", "boolean" },
}
M.map_defaults = { concurrency = 64, ordered = true, progress = true }

-- How often the progress line is redrawn, seconds.
local PROGRESS_EVERY = 0.1

local function clock(s)
  if s ~= s or s == math.huge then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", idiv(s, 3600), idiv(s % 3600, 60), s % 60) end
  return string.format("%02d:%02d", idiv(s, 60), s % 60)
end

-- A progress line on stderr, as tqdm draws one: done/total, rate, ETA, errors.
local function progress_bar(total)
  local t0, last = core.now(), -math.huge
  local function draw(done, errors, final)
    local t = core.now()
    if not final and t - last < PROGRESS_EVERY then return end
    last = t
    local rate = done / math.max(t - t0, 1e-9)
    local eta = total and (total - done) / rate or 0 / 0
    local count = total and string.format("%d/%d", done, total) or tostring(done)
    io.stderr:write(string.format("\r\27[Kmap: %s  %.1f/s  ETA %s  %d error%s", count, rate,
      final and clock(0) or clock(eta), errors, errors == 1 and "" or "s"), final and "\n" or "")
    io.stderr:flush()
  end
  return draw
end

-- for i, r, err in triton.map(c, model, source [, o]) do ... end, once
-- client.lua checked c and model: `send(inputs, cb)` sends one item (cb(r, err)
-- gets its outcome) or raises what is wrong with its inputs, and
-- `step_until(ready, what)` drives the loop (client.lua's, spawn-aware).
function M.map(source, o, send, step_until)
  local next_input, total
  if type(source) == "table" then
    total = #source
    local i = 0
    next_input = function()
      i = i + 1
      return source[i]
    end
  elseif type(source) == "function" then
    next_input = source
  else
    args.argerror(3, "map", "an array or an iterator of input maps expected, got " .. type(source))
  end
  args.check_options(o, map_options, "map", 4)
  o = o or {}
  local d = M.map_defaults
  local concurrency = o.concurrency or d.concurrency
  local ordered = o.ordered
  if ordered == nil then ordered = d.ordered end
  local show = o.progress
  if show == nil then show = d.progress end
  local draw = show and core.isatty(2) and progress_bar(total) or nil

  local sent, yielded, inflight, errors, exhausted = 0, 0, 0, 0, false
  local done = {}                     -- i -> {r, err}, until yielded
  local finished, fhead, ftail = {}, 1, 0 -- as-finished order
  local next_ordered = 1
  local ended = false

  local function complete(i, r, err)
    inflight = inflight - 1
    if err ~= nil then errors = errors + 1 end
    done[i] = { r, err }
    if not ordered then
      ftail = ftail + 1
      finished[ftail] = i
    end
  end

  local function send_more()
    while not exhausted and inflight < concurrency and
      (not ordered or sent - next_ordered + 1 < concurrency) do
      local inputs = next_input()
      if inputs == nil then
        exhausted = true
        break
      end
      sent = sent + 1
      local i = sent
      inflight = inflight + 1
      local ok, err = pcall(send, inputs, function(r, e) complete(i, r, e) end)
      if not ok then complete(i, nil, err) end -- this item's inputs were refused
    end
  end

  local function ready()
    if ordered then return done[next_ordered] ~= nil end
    return fhead <= ftail
  end

  return function()
    if ended then return nil end
    send_more()
    if inflight == 0 and exhausted and not ready() then
      ended = true
      if draw then draw(yielded, errors, true) end
      return nil
    end
    step_until(function()
      if draw then draw(yielded, errors) end
      return ready()
    end, "map")
    local i
    if ordered then
      i = next_ordered
      next_ordered = next_ordered + 1
    else
      i = finished[fhead]
      finished[fhead] = nil
      fhead = fhead + 1
    end
    local item = done[i]
    done[i] = nil
    yielded = yielded + 1
    if draw then draw(yielded, errors) end
    return i, item[1], item[2]
  end
end

return M
