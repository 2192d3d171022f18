-- System shared memory: regions (triton.shm), registration, and inputs and
-- outputs placed in regions.
local h = require "support.harness"
local triton = h.triton()

describe("triton.shm", function()
  it("writes and reads tensors and strings with bounds checks", function()
    local r = h.closing(triton.shm.create("r", h.shm_key("rw"), 64))
    assert.equal(64, r.byte_size)
    assert.equal(12, r:write(triton.tensor({ 1, 2, 3 }, "INT32")))
    assert.same({ 1, 2, 3 }, r:read("INT32", { 3 }):totable())
    r:write("\1\0\0\0", 12)
    assert.same({ 1, 2, 3, 1 }, r:read("INT32", { 4 }):totable())
    assert.has_error(function() r:write(string.rep("x", 65)) end)
    assert.has_error(function() r:read("INT32", { 17 }) end)
    assert.has_error(function() r:read("INT32", { 1 }, 64) end)
  end)
  it("round-trips BYTES", function()
    local r = h.closing(triton.shm.create("b", h.shm_key("b"), 64))
    r:write(triton.tensor({ "ab", "\0" }, "BYTES"))
    assert.same({ "ab", "\0" }, r:read("BYTES", { 2 }):totable())
  end)
  it("checks keys", function()
    assert.has_error(function() triton.shm.create("x", "nokey", 8) end)
    assert.has_error(function() triton.shm.create("x", "/a/b", 8) end)
    assert.has_error(function() triton.shm.create("x", "/" .. string.rep("k", 300), 8) end)
  end)
  it("refuses use after destroy", function()
    local r = triton.shm.create("d", h.shm_key("d"), 8)
    r:destroy()
    r:destroy()
    assert.has_error(function() r:read("INT32", { 1 }) end,
      "attempt to use a destroyed shared memory region")
  end)
end)

h.transports(function(_, url)
  local c
  setup(function() c = triton.connect(url) end)
  teardown(function()
    c:unregister_system_shared_memory()
    c:close()
  end)

  it("registers, reports and unregisters regions", function()
    local key = h.shm_key("reg")
    local region = h.closing(triton.shm.create("reg_region", key, 128))
    c:register_system_shared_memory(region.name, region.key, region.byte_size)
    local st = c:system_shared_memory_status("reg_region")
    assert.equal(1, #st)
    assert.equal("reg_region", st[1].name)
    assert.equal(key, st[1].key)
    assert.equal(128, st[1].byte_size)
    c:unregister_system_shared_memory("reg_region")
    assert.equal(0, #c:system_shared_memory_status())
  end)

  it("runs simple with inputs and outputs in regions", function()
    local ikey, okey = h.shm_key("in"), h.shm_key("out")
    local ireg = h.closing(triton.shm.create("in_region", ikey, 128))
    local oreg = h.closing(triton.shm.create("out_region", okey, 128))
    local a, b = {}, {}
    for i = 1, 16 do a[i], b[i] = i, 1 end
    ireg:write(triton.tensor(a, "INT32"))
    ireg:write(triton.tensor(b, "INT32"), 64)
    c:register_system_shared_memory("in_region", ikey, 128)
    c:register_system_shared_memory("out_region", okey, 128)
    local inputs = {
      triton.InferInput("INPUT0", { 1, 16 }, "INT32"):set_shared_memory(ireg, 64),
      triton.InferInput("INPUT1", { 1, 16 }, "INT32"):set_shared_memory("in_region", 64, 64),
    }
    local outputs = {
      triton.InferRequestedOutput("OUTPUT0"):set_shared_memory(oreg, 64),
      triton.InferRequestedOutput("OUTPUT1"):set_shared_memory("out_region", 64, 64),
    }
    local r = c:infer("simple", inputs, { outputs = outputs })
    assert.is_nil(r:as_tensor("OUTPUT0"))
    assert.equal("INT32", r:output("OUTPUT0").datatype)
    local sum = oreg:read("INT32", { 1, 16 })
    local diff = oreg:read("INT32", { 1, 16 }, 64)
    for i = 1, 16 do
      assert.equal(i + 1, sum:get(1, i))
      assert.equal(i - 1, diff:get(1, i))
    end
    c:unregister_system_shared_memory("in_region")
    c:unregister_system_shared_memory("out_region")
  end)

  it("cuda shared memory reports a server without GPUs", function()
    assert.same({}, c:cuda_shared_memory_status())
    local err = h.error_of(c.register_cuda_shared_memory, c, "cuda", "handle", 0, 64)
    assert.is_string(err.message)
  end)
end)
