-- cqueues_test.lua: examples/hosts/triton_cqueues.lua drives tritonlua from a
-- cqueues controller (tests/hosts/scenario.lua says what is asserted). Run under
-- scripts/with-testserver with the module and both folders on the Lua paths;
-- exits 0 when everything held.
local cqueues = require "cqueues"
local triton = require "triton"
local drive = require "triton_cqueues"
local scenario = require "scenario"

local s = scenario.new(triton, scenario.urls())
local errors = {}
local cq = cqueues.new()
local stop = drive(cq, triton, function(e) errors[#errors + 1] = tostring(e) end)

-- The host's own 10 ms timer; the calls start from inside the controller, as a host's would.
cq:wrap(function()
  s.start()
  repeat
    cqueues.sleep(0.01)
    s.tick()
  until s.done() or #errors > 0
  stop()
end)

local ok, err = cq:loop()
if not ok then print("FAIL: the controller stopped: " .. tostring(err)) end
for _, e in ipairs(errors) do print("FAIL: triton.poll raised: " .. e) end
local status = s.finish()
os.exit((ok and #errors == 0) and status or 1)
