-- c_app.lua: the app examples/hosts/c_host.c runs in its own poll() loop
-- (tests/hosts/scenario.lua says what is asserted). The host calls tick() from
-- its 10 ms timer and triton_lua_poll(L, 0) when triton_lua_fd(L) is readable.
local triton = require "triton"
local scenario = require "scenario"

local s = scenario.new(triton, scenario.urls())
s.start()
return { tick = s.tick, done = s.done, finish = s.finish }
