-- dump.lua: the triton.image half of compare_pil.py. Reads a plan (one line per
-- job: "decode|convert|resize|preprocess OUT IMAGE [args...]") and writes each
-- result's raw bytes to OUT, its shape to OUT.shape.
-- Usage: tritonlua tests/image/dump.lua PLAN
local triton = require "triton"

local images = {}
local function image(path)
  images[path] = images[path] or triton.image.load(path)
  return images[path]
end

local function write(path, t)
  local f <close> = assert(io.open(path, "wb"))
  f:write(t:bytes())
  local s <close> = assert(io.open(path .. ".shape", "w"))
  s:write(table.concat(t.shape, " "))
end

local jobs = {
  decode = function(img) return img end,
  convert = function(img, mode) return triton.image.convert(img, mode) end,
  resize = function(img, mode, h, w, filter)
    return triton.image.resize(triton.image.convert(img, mode), {tonumber(h), tonumber(w)}, filter)
  end,
  resize_raw = function(img, h, w, filter)
    return triton.image.resize(img, {tonumber(h), tonumber(w)}, filter)
  end,
  preprocess = function(img, channels, h, w, scaling, format, dtype)
    return triton.image.preprocess(img, {size = {tonumber(h), tonumber(w)},
      channels = tonumber(channels), scaling = scaling, format = format, dtype = dtype})
  end,
}

for line in io.lines(arg[1]) do
  local words = {}
  for word in line:gmatch("%S+") do words[#words + 1] = word end
  local kind, out, path = words[1], words[2], words[3]
  write(out, jobs[kind](image(path), table.unpack(words, 4)))
end
print("dumped")
