-- Child processes that a script starts (io.popen, os.execute) inherit none of a
-- client's connections: a TCP socket left in a child would keep the connection
-- to the server open after the client closed it. (libcurl's multi handle makes
-- one local socket pair for its own wake-ups without close-on-exec, and offers
-- no option to change that; no connection depends on it, so it is not counted.)
local h = require "support.harness"
local triton = h.triton()

-- The TCP sockets a child started now inherits, as "fd -> socket:[inode]" lines:
-- its descriptors above 2 whose inode /proc/net/tcp or tcp6 lists.
local function inherited_tcp()
  local out = assert(h.command([[
for f in /proc/$$/fd/*; do
  n=${f##*/}; t=$(readlink "$f") || continue
  [ "$n" -gt 2 ] || continue
  case $t in socket:*) ;; *) continue ;; esac
  inode=${t#socket:[}; inode=${inode%]}
  if awk -v i="$inode" '$10 == i { found = 1 } END { exit !found }' /proc/net/tcp /proc/net/tcp6; then
    printf '%s -> %s\n' "$n" "$t"
  fi
done]]))
  local found = {}
  for line in out:gmatch("[^\n]+") do found[#found + 1] = line end
  return found
end

h.transports(function(proto, url)
  describe("a child process started while a client is open", function()
    it("inherits none of its connections", function()
      local c = triton.connect(url)
      local a = triton.tensor({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, "INT32", { 1, 16 })
      local r = c:infer("simple", { INPUT0 = a, INPUT1 = a })
      assert.equal(272, r:as_tensor("OUTPUT0"):sum())
      -- the connection is open now (kept alive for the next call)
      local leaked = inherited_tcp()
      c:close()
      assert.same({}, leaked, proto .. ": connections a child inherited")
    end)
  end)
end)
