-- luv_test.lua: examples/hosts/triton_luv.lua drives tritonlua from a luv loop
-- (tests/hosts/scenario.lua says what is asserted). Run under
-- scripts/with-testserver with the module and both folders on the Lua paths;
-- exits 0 when everything held.
local uv = require "luv"
local triton = require "triton"
local drive = require "triton_luv"
local scenario = require "scenario"

local s = scenario.new(triton, scenario.urls())
local errors = {}
local handle = drive(uv, triton, { on_error = function(e) errors[#errors + 1] = tostring(e) end })

local timer = uv.new_timer()
timer:start(10, 10, function()
  s.tick()
  if s.done() or #errors > 0 then
    timer:close()
    handle:close()
  end
end)
-- The calls start from inside the loop, as a host's would.
local starter = uv.new_timer()
starter:start(0, 0, function()
  starter:close()
  s.start()
end)

uv.run()
for _, e in ipairs(errors) do print("FAIL: triton.poll raised: " .. e) end
local status = s.finish()
os.exit(#errors == 0 and status or 1)
