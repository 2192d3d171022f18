-- Images: triton.image decode/load (JPEG, PNG), the pixel limit and hostile
-- input, resize, crop, convert, preprocess and encode (API.md, "Images").
-- PNGs are drawn here: triton.image.encode for the plain ones, and a small
-- PNG writer below (stored deflate blocks) for the kinds it does not make
-- (16-bit, palette, 1-bit grey, interlaced, lying headers). JPEGs come from
-- Debian's python3-pil. tests/image/compare_pil.py checks the numbers against
-- Pillow on larger images; this file pins the API's promises and messages.
local h = require "support.harness"
local triton = h.triton()
local image = triton.image

-- ---- a PNG writer for crafted files -------------------------------------------------
local band, bxor, rshift = h.bit.band, h.bit.bxor, h.bit.rshift
local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    c = band(c, 1) ~= 0 and bxor(0xEDB88320, rshift(c, 1)) or rshift(c, 1)
  end
  crc_table[i] = c
end
local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = bxor(crc_table[band(bxor(c, s:byte(i)), 0xFF)], rshift(c, 8))
  end
  c = bxor(c, 0xFFFFFFFF)
  return c < 0 and c + 0x100000000 or c -- LuaJIT's bit results are signed 32-bit
end

local function adler32(s)
  local a, b = 1, 0
  for i = 1, #s do
    a = (a + s:byte(i)) % 65521
    b = (b + a) % 65521
  end
  return b * 65536 + a
end

-- zlib stream of stored (uncompressed) deflate blocks
local function zlib_store(data)
  local out = { "\x78\x01" }
  local pos = 1
  repeat
    local piece = data:sub(pos, pos + 65534)
    pos = pos + #piece
    local final = pos > #data and 1 or 0
    out[#out + 1] = h.pack("<BI2I2", final, #piece, 0xFFFF - #piece) .. piece
  until pos > #data
  out[#out + 1] = h.pack(">I4", adler32(data))
  return table.concat(out)
end

local function chunk(kind, data)
  return h.pack(">I4", #data) .. kind .. data .. h.pack(">I4", crc32(kind .. data))
end

-- A PNG of w x h with the given bit depth and colour type; rows are the raw
-- scanlines (filter byte 0 is added), extra = chunks between IHDR and IDAT.
local function png(w, hgt, depth, ctype, rows, extra, interlace)
  local raw = {}
  for i, r in ipairs(rows) do raw[i] = "\0" .. r end
  return "\x89PNG\r\n\x1a\n" ..
      chunk("IHDR", h.pack(">I4I4BBBBB", w, hgt, depth, ctype, 0, 0, interlace or 0)) ..
      (extra or "") .. chunk("IDAT", zlib_store(table.concat(raw))) .. chunk("IEND", "")
end

-- ---- JPEGs from Pillow ----------------------------------------------------------------
local function tmpname(suffix)
  local name = os.tmpname()
  os.remove(name)
  return name .. suffix
end


-- Pillow draws and saves `code` (Python with Image, np and `out` in scope).
local function pil(code)
  local out = tmpname(".img")
  local script = tmpname(".py")
  local f = assert(io.open(script, "w"))
  f:write("import numpy as np\nfrom PIL import Image\nout = ", string.format("%q", out), "\n", code, "\n")
  f:close()
  assert(h.execute("/usr/bin/python3 " .. script), "python3-pil could not draw the image")
  os.remove(script)
  local data = h.slurp(out)
  os.remove(out)
  return data
end

local function solid_jpeg(mode, colour, extra)
  return pil(("Image.new(%q, (32, 16), %s).save(out, 'JPEG', quality=95%s)")
    :format(mode, colour, extra or ""))
end

local function pixel(t, y, x)
  local px = {}
  for ch = 1, t.shape[3] do px[ch] = t:get(y, x, ch) end
  return px
end

local function near(want, got, tol)
  for i = 1, #want do
    if math.abs(want[i] - got[i]) > tol then
      return false
    end
  end
  return #want == #got
end

local function check_error(fn, code, message)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.are.equal(triton.Error, getmetatable(err))
  assert.are.equal(code, err.code)
  assert.are.equal(message, err.message)
end

local function image_of(hgt, w, c, fn)
  local t = triton.zeros({ hgt, w, c }, "UINT8")
  for y = 1, hgt do
    for x = 1, w do
      for ch = 1, c do t:set(y, x, ch, fn(y, x, ch)) end
    end
  end
  return t
end

local LIMIT = image.MAX_PIXELS

describe("triton.image.decode", function()
  it("decodes a baseline, a progressive and a 4:4:4 RGB JPEG to {H, W, 3}", function()
    for _, extra in ipairs({ "", ", progressive=True", ", subsampling=0" }) do
      local t = image.decode(solid_jpeg("RGB", "(200, 30, 60)", extra))
      assert.are.same({ 16, 32, 3 }, t.shape)
      assert.are.equal("UINT8", t.dtype)
      assert.is_true(near({ 200, 30, 60 }, pixel(t, 9, 17), 3))
    end
  end)

  it("decodes a grey JPEG to one channel", function()
    local t = image.decode(solid_jpeg("L", "90"))
    assert.are.same({ 16, 32, 1 }, t.shape)
    assert.is_true(near({ 90 }, pixel(t, 1, 1), 1))
  end)

  it("decodes a CMYK JPEG to RGB as Pillow converts it", function()
    local data = pil("Image.new('CMYK', (8, 8), (0, 255, 255, 0)).save(out, 'JPEG', quality=100)")
    local t = image.decode(data)
    assert.are.same({ 8, 8, 3 }, t.shape)
    assert.is_true(near({ 255, 0, 0 }, pixel(t, 4, 4), 3))
  end)

  it("round-trips PNGs of 1 to 4 channels through encode exactly", function()
    for c = 1, 4 do
      local t = image_of(5, 7, c, function(y, x, ch) return (y * 31 + x * 7 + ch * 50) % 256 end)
      local back = image.decode(image.encode(t, "png"))
      -- grey + alpha comes back as RGBA with the grey copied into R, G and B
      local want = c == 2 and { 5, 7, 4 } or { 5, 7, c }
      assert.are.same(want, back.shape)
      local v = t:get(3, 4, 1)
      assert.are.equal(v, back:get(3, 4, 1))
      assert.are.equal(t:get(3, 4, c), back:get(3, 4, want[3]))
    end
  end)

  it("keeps the high byte of 16-bit PNG samples", function()
    local data = png(2, 1, 16, 2, { h.pack(">I2I2I2I2I2I2", 0x1234, 0xABCD, 0x00FF, 0xFF00, 1, 0x8080) })
    local t = image.decode(data)
    assert.are.same({ 1, 2, 3 }, t.shape)
    assert.are.same({ 0x12, 0xAB, 0x00 }, pixel(t, 1, 1))
    assert.are.same({ 0xFF, 0x00, 0x80 }, pixel(t, 1, 2))
  end)

  it("expands palettes to RGB, or to RGBA when they have transparency", function()
    local plte = chunk("PLTE", "\255\0\0\0\255\0")
    local rows = { "\0\1" }
    local t = image.decode(png(2, 1, 8, 3, rows, plte))
    assert.are.same({ 1, 2, 3 }, t.shape)
    assert.are.same({ 0, 255, 0 }, pixel(t, 1, 2))
    t = image.decode(png(2, 1, 8, 3, rows, plte .. chunk("tRNS", "\128")))
    assert.are.same({ 1, 2, 4 }, t.shape)
    assert.are.same({ 255, 0, 0, 128 }, pixel(t, 1, 1))
    assert.are.same({ 0, 255, 0, 255 }, pixel(t, 1, 2))
  end)

  it("scales 1-bit grey to 0 and 255, and decodes interlaced PNGs", function()
    local t = image.decode(png(3, 1, 1, 0, { "\xA0" }))
    assert.are.same({ 1, 3, 1 }, t.shape)
    assert.are.same({ 255, 0, 255 }, { t:get(1, 1, 1), t:get(1, 2, 1), t:get(1, 3, 1) })
    -- Adam7 with one pixel: only pass 1 has data
    t = image.decode(png(1, 1, 8, 2, { "\10\20\30" }, nil, 1))
    assert.are.same({ 10, 20, 30 }, pixel(t, 1, 1))
  end)

  it("refuses what is not an image, clearly", function()
    check_error(function() image.decode("") end, "invalid_argument", "image: no data (0 bytes)")
    check_error(function() image.decode("GIF89a....") end, "invalid_argument",
      "image: not a JPEG or PNG (the first bytes are neither signature)")
  end)

  it("refuses truncated and corrupt data", function()
    local p = image.encode(image_of(8, 8, 3, function() return 7 end), "png")
    check_error(function() image.decode(p:sub(1, #p - 20)) end, "invalid_argument",
      "image: truncated PNG: the data ends before the image does")
    local bad = p:sub(1, 29) .. "X" .. p:sub(31) -- inside IHDR: its CRC no longer matches
    local ok, err = pcall(image.decode, bad)
    assert.is_false(ok)
    assert.are.equal("invalid_argument", err.code)
    assert.matches("^image: corrupt PNG: ", err.message)
    local j = pil("Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), " ..
      "dtype=np.uint8)).save(out, 'JPEG', quality=90)")
    check_error(function() image.decode(j:sub(1, math.floor(#j * 3 / 4))) end, "invalid_argument",
      "image: truncated JPEG: the data ends before the image does")
    ok, err = pcall(image.decode, j:sub(1, 200))
    assert.is_false(ok)
    assert.are.equal("invalid_argument", err.code)
    assert.matches("^image: ", err.message)
  end)

  it("skips ancillary chunks unread, whatever size they claim", function()
    local function peak_kb() -- the process's peak resident memory (Linux)
      for line in io.lines("/proc/self/status") do
        local kb = line:match("^VmHWM:%s*(%d+)")
        if kb then return tonumber(kb) end
      end
    end
    -- a 100-byte file whose tEXt chunk claims 2 GiB, before the image data
    local lying = "\x89PNG\r\n\x1a\n" .. chunk("IHDR", h.pack(">I4I4BBBBB", 4, 4, 8, 0, 0, 0, 0)) ..
        h.pack(">I4", 0x7FFF0000) .. "tEXtComment\0tiny"
    local before = peak_kb()
    check_error(function() image.decode(lying) end, "invalid_argument",
      "image: truncated PNG: the data ends before the image does")
    assert.is_true(peak_kb() - before < 256 * 1024, "decoding allocated what the chunk claimed")
  end)

  it("refuses a 60000x60000 header before allocating anything", function()
    check_error(function() image.decode(png(60000, 60000, 8, 2, {})) end, "invalid_argument",
      ("image: PNG header claims 60000x60000 pixels, over the limit of %d"):format(LIMIT))
    -- a real JPEG whose frame header is rewritten to claim 60000x60000
    local j = solid_jpeg("RGB", "(1, 2, 3)")
    local sof = j:find("\xFF\xC0", 1, true)
    local huge = j:sub(1, sof + 4) .. h.pack(">I2I2", 60000, 60000) .. j:sub(sof + 9)
    check_error(function() image.decode(huge) end, "invalid_argument",
      ("image: JPEG header claims 60000x60000 pixels, over the limit of %d"):format(LIMIT))
  end)

  it("takes a lower pixel limit, up to the limit and not one past it", function()
    local p = image.encode(image_of(10, 10, 1, function() return 1 end), "png")
    assert.are.same({ 10, 10, 1 }, image.decode(p, { max_pixels = 100 }).shape)
    check_error(function() image.decode(p, { max_pixels = 99 }) end, "invalid_argument",
      "image: PNG header claims 10x10 pixels, over the limit of 99")
    assert.has_error(function() image.decode(p, { max_pixels = LIMIT + 1 }) end,
      ("bad argument #2 to 'decode' (max_pixels must be an integer from 1 to %d)"):format(LIMIT))
    assert.has_error(function() image.decode(p, { max_pixel = 5 }) end,
      "unknown option 'max_pixel' in decode options")
  end)
end)

describe("triton.image.load", function()
  it("reads and decodes a file", function()
    local path = tmpname(".png")
    local f = assert(io.open(path, "wb"))
    f:write(image.encode(image_of(3, 4, 3, function(y, x, ch) return y + x + ch end), "png"))
    f:close()
    local t = image.load(path)
    os.remove(path)
    assert.are.same({ 3, 4, 3 }, t.shape)
    assert.are.equal(2 + 3 + 3, t:get(2, 3, 3))
  end)

  it("says which file it cannot open", function()
    check_error(function() image.load("/nonexistent/cat.jpg") end, "not_found",
      "image: cannot open /nonexistent/cat.jpg: No such file or directory")
  end)
end)

describe("triton.image.resize", function()
  local grad = image_of(4, 4, 1, function(y, x) return (y - 1) * 64 + (x - 1) * 16 end)

  it("averages with Pillow's antialiasing triangle filter when shrinking", function()
    local t = image.resize(grad, { 1, 1 })
    assert.are.same({ 1, 1, 1 }, t.shape)
    -- Pillow gives 120: every pixel counts, weighted 1:3:3:1 along each axis
    assert.are.equal(120, t:get(1, 1, 1))
    assert.are.same({ 2, 2, 1 }, image.resize(grad, { 2, 2 }).shape)
  end)

  it("picks the source pixel under each centre with nearest", function()
    local t = image.resize(grad, { 2, 2 }, "nearest")
    assert.are.same({ 80, 112, 208, 240 },
      { t:get(1, 1, 1), t:get(1, 2, 1), t:get(2, 1, 1), t:get(2, 2, 1) })
  end)

  it("returns an equal copy at the same size and accepts {H, W} tensors and views", function()
    local t = image.resize(grad, { 4, 4 })
    assert.are.equal(grad:bytes(), t:bytes())
    local flat = grad:reshape({ 4, 4 })
    assert.are.same({ 8, 8, 1 }, image.resize(flat, { 8, 8 }).shape)
    local view = grad:slice(2, 2, 3)
    assert.are.same({ 4, 2, 1 }, view.shape)
    assert.are.same({ 2, 1, 1 }, image.resize(view, { 2, 1 }, "nearest").shape)
  end)

  it("names its bad arguments", function()
    assert.has_error(function() image.resize(grad, { 0, 2 }) end,
      "bad argument #2 to 'resize' (expected a size {height, width}: item 1 must be an integer >= 1)")
    assert.has_error(function() image.resize(grad, { 2 }) end,
      "bad argument #2 to 'resize' (expected a size {height, width}, 2 integers)")
    assert.has_error(function() image.resize(grad, { 2, 2 }, "bicubic") end,
      "bad argument #3 to 'resize' (expected \"bilinear\" or \"nearest\", got \"bicubic\")")
    check_error(function() image.resize(triton.zeros({ 2, 2 }, "FP32"), { 1, 1 }) end,
      "invalid_argument", "image: expected a UINT8 tensor, got FP32")
    check_error(function() image.resize(grad, { 70000, 1 }) end, "invalid_argument",
      ("image: cannot resize to 70000x1: sizes go from 1 to 65535, and at most %d pixels")
      :format(LIMIT))
  end)
end)

describe("triton.image.crop", function()
  local t = image_of(4, 5, 3, function(y, x, ch) return y * 10 + x + ch * 60 end)

  it("copies a box given as {top, left, height, width}, 1-based", function()
    local c = image.crop(t, { 2, 3, 2, 3 })
    assert.are.same({ 2, 3, 3 }, c.shape)
    assert.are.same({ 83, 143, 203 }, pixel(c, 1, 1))
    assert.are.same({ 95, 155, 215 }, pixel(c, 2, 3))
  end)

  it("refuses a box that leaves the image", function()
    check_error(function() image.crop(t, { 3, 1, 3, 1 }) end, "out_of_range",
      "image: crop box 3x1 at row 2, column 0 does not lie inside the 4x5 image")
  end)
end)

describe("triton.image.convert", function()
  local colours = { { 255, 0, 0, 9 }, { 0, 255, 0, 9 }, { 10, 20, 30, 9 } }
  local t = image_of(1, 3, 4, function(_, x, ch) return colours[x][ch] end)

  it("makes Pillow's L: (19595 R + 38470 G + 7471 B + 32768) >> 16", function()
    local l = image.convert(t, "L")
    assert.are.same({ 1, 3, 1 }, l.shape)
    assert.are.same({ 76, 150, 18 }, { l:get(1, 1, 1), l:get(1, 2, 1), l:get(1, 3, 1) })
  end)

  it("makes RGB by dropping alpha or replicating grey", function()
    assert.are.same({ 10, 20, 30 }, pixel(image.convert(t, "RGB"), 1, 3))
    local grey = image.convert(image.convert(t, "L"), "RGB")
    assert.are.same({ 150, 150, 150 }, pixel(grey, 1, 2))
    assert.has_error(function() image.convert(t, "CMYK") end,
      "bad argument #2 to 'convert' (expected \"L\" or \"RGB\", got \"CMYK\")")
  end)
end)

describe("triton.image.preprocess", function()
  local red = image_of(6, 8, 3, function(_, _, ch) return ch == 1 and 255 or 0 end)

  it("lays out NCHW or NHWC with INCEPTION or VGG scaling", function()
    local x = image.preprocess(red, { size = { 3, 4 }, scaling = "INCEPTION" })
    assert.are.equal("FP32", x.dtype)
    assert.are.same({ 3, 3, 4 }, x.shape)
    assert.are.same({ 1.0, -1.0, -1.0 }, { x:get(1, 2, 2), x:get(2, 2, 2), x:get(3, 2, 2) })
    local y = image.preprocess(red, { size = { 3, 4 }, format = "FORMAT_NHWC", scaling = "VGG" })
    assert.are.same({ 3, 4, 3 }, y.shape)
    assert.are.same({ 132.0, -117.0, -104.0 }, { y:get(2, 2, 1), y:get(2, 2, 2), y:get(2, 2, 3) })
  end)

  it("makes one grey channel with channels = 1, in any numeric dtype", function()
    local x = image.preprocess(red, { size = { 2, 2 }, channels = 1, dtype = "UINT8" })
    assert.are.same({ 1, 2, 2 }, x.shape)
    assert.are.equal("UINT8", x.dtype)
    assert.are.equal(76, x:get(1, 1, 1))
  end)

  it("is strict about its options", function()
    assert.has_error(function() image.preprocess(red, { size = { 2, 2 }, scale = "VGG" }) end,
      "unknown option 'scale' in preprocess options")
    assert.has_error(function() image.preprocess(red, { size = { 2, 2 }, scaling = "vgg" }) end,
      "bad argument #2 to 'preprocess' (scaling must be \"NONE\", \"INCEPTION\" or \"VGG\", got vgg)")
    assert.has_error(function() image.preprocess(red, { scaling = "VGG" }) end,
      "bad argument #2 to 'preprocess' (expected size = {height, width}, 2 integers)")
    check_error(function()
      image.preprocess(red, { size = { 2, 2 }, scaling = "INCEPTION", dtype = "INT32" })
    end, "invalid_argument", "image: INCEPTION scaling needs a float dtype, not INT32")
  end)
end)

describe("triton.image.encode", function()
  it("refuses what a PNG cannot hold", function()
    check_error(function() image.encode(triton.zeros({ 2, 2, 5 }, "UINT8"), "png") end,
      "invalid_argument", "image: PNG holds up to 65535 x 65535 pixels of 1 to 4 channels, not 2x2x5")
    assert.has_error(function() image.encode(triton.zeros({ 2, 2, 3 }, "UINT8"), "gif") end,
      "bad argument #2 to 'encode' (expected \"png\", got \"gif\")")
  end)
end)

describe("triton.image.threads", function()
  -- Photo-like frames big enough for the threaded paths (over 2^18 pixels; odd
  -- sizes), in each kind of JPEG; Pillow writes them with a fixed seed.
  local function frame(w, hgt, mode, extra)
    return pil(([[
rng = np.random.default_rng(5)
y, x = np.mgrid[0:%d, 0:%d]
px = np.stack([x * 255 // %d, y * 255 // %d, ((x // 23 + y // 17) %% 2) * 160 + 40], -1)
px = np.clip(px + rng.integers(-20, 21, px.shape), 0, 255).astype(np.uint8)
Image.fromarray(px).convert(%q).save(out, 'JPEG', quality=90%s)]]):format(hgt, w, w, hgt, mode,
      extra or ""))
  end
  local default = image.threads
  after_each(function() image.threads = default end)

  local function with_threads(n, fn, ...)
    image.threads = n
    return fn(...)
  end

  it("defaults to the online CPUs, at most 4", function()
    assert.are.equal(math.floor(default), default)
    assert.is_true(default >= 1 and default <= 4)
  end)

  it("gives the same tensors on one thread as on several, for every kind of JPEG", function()
    local kinds = {
      { "RGB", "" },                     -- 4:2:0
      { "RGB", ", subsampling=0" },      -- 4:4:4
      { "L", "" },                       -- grey
      { "CMYK", "" },                    -- converted to RGB after decoding
      { "RGB", ", progressive=True" },   -- decodes on the calling thread
      { "RGB", ", restart_marker_blocks=7" },
    }
    local opts = { size = { 224, 224 }, scaling = "INCEPTION" }
    for _, kind in ipairs(kinds) do
      local data = frame(1001, 601, kind[1], kind[2])
      local one = with_threads(1, image.decode, data)
      assert.are.same({ 601, 1001, kind[1] == "L" and 1 or 3 }, one.shape)
      for _, n in ipairs({ 2, 3, 8 }) do
        local many = with_threads(n, image.decode, data)
        assert.are.equal(one:bytes(), many:bytes(), kind[1] .. kind[2] .. " on " .. n .. " threads")
        assert.are.equal(with_threads(1, image.resize, one, { 100, 333 }):bytes(),
          with_threads(n, image.resize, one, { 100, 333 }):bytes())
        assert.are.equal(with_threads(1, image.preprocess, one, opts):bytes(),
          with_threads(n, image.preprocess, one, opts):bytes())
      end
    end
  end)

  it("reports damage in any band as one clear error, whatever the thread count", function()
    local data = frame(1001, 601, "RGB")
    -- cut at 80%: the data ends inside the bottom band
    local cut = data:sub(1, math.floor(#data * 0.8))
    -- a second frame header 90% of the way in: the scan ends there, and the
    -- marker that follows is an error, met by the band that reaches the end
    local at = math.floor(#data * 0.9)
    local sof = data:sub(data:find("\xFF\xC0", 1, true), data:find("\xFF\xC0", 1, true) + 18)
    local twice = data:sub(1, at) .. sof .. data:sub(at + 1)
    for _, n in ipairs({ 1, 2, 4 }) do
      image.threads = n
      check_error(function() image.decode(cut) end, "invalid_argument",
        "image: truncated JPEG: the data ends before the image does")
      check_error(function() image.decode(twice) end, "invalid_argument",
        "image: corrupt JPEG: Invalid JPEG file structure: two SOF markers")
    end
  end)

  it("is checked at the next call that uses it", function()
    local t = triton.zeros({ 4, 4, 3 }, "UINT8")
    for _, bad in ipairs({ 0, 9, 2.5, "two" }) do
      image.threads = bad
      assert.has_error(function() image.resize(t, { 2, 2 }) end,
        ("triton.image.threads must be an integer from 1 to 8, got %s"):format(bad))
    end
    image.threads = 1
    assert.are.same({ 2, 2, 3 }, image.resize(t, { 2, 2 }).shape)
  end)
end)

-- End to end: an image preprocessed here and classified by the reference server's
-- image models (docs/reference-server.md says how they score).
h.transports(function(_, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function() c:close() end)

  it("classifies drawn images with densenet_onnx and inception_graphdef", function()
    local red = image_of(40, 60, 3, function(_, _, ch) return ch == 1 and 255 or 0 end)
    local stripes = image_of(40, 64, 3, function(_, x)
      return math.floor((x - 1) / 8) % 2 == 0 and 255 or 0
    end)
    local x = image.preprocess(red, { size = { 224, 224 }, scaling = "INCEPTION" })
    local r = c:infer("densenet_onnx", { triton.InferInput("data_0", x.shape, "FP32"):set_data(x) },
      { outputs = { triton.InferRequestedOutput("fc6_1", { class_count = 1 }) } })
    local top = r:classification("fc6_1")[1] -- an unbatched output: one list of classes
    assert.are.equal("STRAWBERRY", top.label)
    assert.are.equal(950, top.index) -- 1-based
    assert.are.equal(10, top.score)
    local batch = {}
    for i, img in ipairs({ stripes, red }) do
      batch[i] = image.preprocess(img, { size = { 299, 299 }, format = "NHWC", scaling = "VGG" }):bytes()
    end
    r = c:infer("inception_graphdef",
      { triton.InferInput("input", { 2, 299, 299, 3 }, "FP32"):set_data(table.concat(batch)) },
      { outputs = { triton.InferRequestedOutput("InceptionV3/Predictions/Softmax", { class_count = 2 }) } })
    local rows = r:classification("InceptionV3/Predictions/Softmax")
    assert.are.same({ "ZEBRA", "STRAWBERRY" }, { rows[1][1].label, rows[2][1].label })
    assert.are.equal("STONE WALL", rows[1][2].label)
  end)
end)
