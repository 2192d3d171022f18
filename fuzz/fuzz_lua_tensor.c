/*
 * fuzz_lua_tensor.c: tensors made from Lua values (src/lua/ltensor*.c) in a Lua
 * 5.4 state that has the triton module (luaopen_triton, the tritonlua library).
 *
 * The input is decoded into Lua values: the first argument of
 * triton.tensor(value, dtype, shape) (nested tables of numbers, strings,
 * booleans, special floats, ragged or holed tables; or a raw string), a dtype
 * and a shape, then a list of steps: a method or operator from a fixed menu
 * (reshape, slice, transpose, permute, indexing, set, astype, arithmetic,
 * reductions, cat, ...) with up to three decoded arguments. Everything runs
 * under pcall: Lua errors are expected; crashes, leaks and UB are findings.
 * Every tensor made must also survive t:bytes() -> triton.tensor(bytes, dtype,
 * shape) unchanged, and t:totable() -> triton.tensor() where that is defined.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_driver.h"
#include "support.h"
#include "triton_lua.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The driver: called with the value, dtype, shape and the list of steps
 * ({op, keep, a, b, c, n = number of args}). */
static const char driver_source[] =
    "local triton, fail = ...\n"
    "local is_tensor = triton.is_tensor\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return a == b or (a ~= a and b ~= b) end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if #a ~= #b then return false end\n"
    "  for i = 1, #a do if not same(a[i], b[i]) then return false end end\n"
    "  return true\n"
    "end\n"
    "local function check(t)\n"
    "  local s = t:bytes()\n"
    "  local ok, u = pcall(triton.tensor, s, t.dtype, t.shape)\n"
    "  if not ok then fail('bytes() does not read back: ' .. tostring(u)) end\n"
    "  if u:bytes() ~= s then fail('bytes() round trip changed the data') end\n"
    "  local shape, plain = t.shape, t.dtype ~= 'UINT64' and #t.shape > 0\n"
    "  for i = 1, #shape do plain = plain and shape[i] > 0 end\n"
    "  if plain then\n"
    "    local tbl = t:totable()\n"
    "    local ok2, v = pcall(triton.tensor, tbl, t.dtype)\n"
    "    if not ok2 then fail('totable() does not read back: ' .. tostring(v)) end\n"
    "    if not same(v:totable(), tbl) then fail('totable() round trip changed values') end\n"
    "  end\n"
    "end\n"
    "-- A reduction over an empty dimension yields a result as large as the other\n"
    "-- dimensions say ({2^31-1, 0}:sum(2) is 2^31-1 zeros): big but correct, which\n"
    "-- libFuzzer would report as out-of-memory. Skip those; everything else runs.\n"
    "local function big(t)\n"
    "  local n = 1\n"
    "  for _, d in ipairs(t.shape) do if d > 0 then n = n * d end end\n"
    "  return n > (1 << 22)\n"
    "end\n"
    "local ops = {\n"
    "  function(t, a, b, c) return t:reshape(a) end,\n"
    "  function(t, a, b, c) return t:slice(a, b, c) end,\n"
    "  function(t, a, b, c) return t:transpose(a, b) end,\n"
    "  function(t, a, b, c) return t:squeeze(a) end,\n"
    "  function(t, a, b, c) return t:unsqueeze(a) end,\n"
    "  function(t, a, b, c) return t:permute(a) end,\n"
    "  function(t, a, b, c) return t[a] end,\n"
    "  function(t, a, b, c) t[a] = b; return t end,\n"
    "  function(t, a, b, c) return t:get(a, b, c) end,\n"
    "  function(t, a, b, c) t:set(a, b, c); return t end,\n"
    "  function(t, a, b, c) return t:totable() end,\n"
    "  function(t, a, b, c) return tostring(t) end,\n"
    "  function(t, a, b, c) return t:astype(a) end,\n"
    "  function(t, a, b, c) return t:clone() end,\n"
    "  function(t, a, b, c) return t:contiguous() end,\n"
    "  function(t, a, b, c) return t:flatten() end,\n"
    "  function(t, a, b, c) return #t, t:numel(), t:dim(), t.shape, t.dtype end,\n"
    "  function(t, a, b, c) return t + a end,\n"
    "  function(t, a, b, c) return a * t end,\n"
    "  function(t, a, b, c) return t / a end,\n"
    "  function(t, a, b, c) return -t end,\n"
    "  function(t, a, b, c) if not big(t) then return t:sum(a) end end,\n"
    "  function(t, a, b, c) if not big(t) then return t:mean(a) end end,\n"
    "  function(t, a, b, c) if not big(t) then return t:max(a) end end,\n"
    "  function(t, a, b, c) if not big(t) then return t:argmin(a) end end,\n"
    "  function(t, a, b, c) return t:softmax(a) end,\n"
    "  function(t, a, b, c) return t:topk(a, b) end,\n"
    "  function(t, a, b, c) return t:clamp(a, b) end,\n"
    "  function(t, a, b, c) return t:sqrt() end,\n"
    "  function(t, a, b, c) return triton.cat({t, t}, a) end,\n"
    "  function(t, a, b, c) return triton.stack({t, a}, b) end,\n"
    "  function(t, a, b, c) return triton.tensor(t, a) end,\n"
    "  function(t, a, b, c) return t:reshape(a, b, c) end,\n"
    "  function(t, a, b, c) return t:permute(a, b, c) end,\n"
    "  function(t, a, b, c) return triton.allclose(t, a, b, c) end,\n"
    "  function(t, a, b, c) return t:bytes() end,\n"
    "}\n"
    "return function(value, dtype, shape, steps)\n"
    "  local ok, t = pcall(triton.tensor, value, dtype, shape)\n"
    "  if not ok then return end\n"
    "  check(t)\n"
    "  for _, s in ipairs(steps) do\n"
    "    local ok2, r = pcall(ops[s.op % #ops + 1], t, s.a, s.b, s.c)\n"
    "    if ok2 and is_tensor(r) then\n"
    "      check(r)\n"
    "      if s.keep then t = r end\n"
    "    end\n"
    "  end\n"
    "end\n";

static lua_State *L;
static int driver_ref = LUA_NOREF;
static int node_budget;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    driver_ref = fuzz_lua_driver(&L, driver_source, sizeof driver_source - 1, NULL);
    return 0;
}

static void push_special_number(lua_State *Ls, uint8_t which)
{
    static const double floats[] = {NAN,
                                    INFINITY,
                                    -INFINITY,
                                    -0.0,
                                    0.5,
                                    -1.5,
                                    9007199254740992.0,
                                    9223372036854775808.0,
                                    18446744073709551616.0,
                                    -9223372036854775808.0,
                                    1e300,
                                    65504.0,
                                    65520.0,
                                    3.4028235e38,
                                    1e-45,
                                    255.5};
    static const lua_Integer ints[] = {LUA_MININTEGER,
                                       LUA_MAXINTEGER,
                                       -1,
                                       0,
                                       1,
                                       127,
                                       128,
                                       -129,
                                       255,
                                       256,
                                       65535,
                                       65536,
                                       2147483647,
                                       2147483648,
                                       4294967295,
                                       4294967296};
    if (which & 16)
        lua_pushnumber(Ls, floats[which % 16]);
    else
        lua_pushinteger(Ls, ints[which % 16]);
}

static void push_value(lua_State *Ls, struct fuzz_input *in, int depth);

/* A table of n decoded values, with holes or extra keys when asked. */
static void push_table(lua_State *Ls, struct fuzz_input *in, int depth, uint8_t kind)
{
    int n = fuzz_u8(in) % 9;
    lua_createtable(Ls, n, 0);
    for (int i = 1; i <= n; i++) {
        push_value(Ls, in, depth + 1);
        lua_rawseti(Ls, -2, i);
    }
    if (kind & 1) { /* a key that makes it not a plain sequence */
        static const char *const keys[] = {"x", "0", "n", "shape"};
        uint8_t k = fuzz_u8(in);
        if (k & 4) {
            lua_pushinteger(Ls, (k & 8) ? n + 2 : 0);
        } else {
            lua_pushstring(Ls, keys[k % 4]);
        }
        push_value(Ls, in, depth + 1);
        lua_rawset(Ls, -3);
    }
}

static void push_value(lua_State *Ls, struct fuzz_input *in, int depth)
{
    uint8_t op = fuzz_u8(in);
    if (--node_budget < 0 || depth > 40 || in->n == 0) {
        lua_pushinteger(Ls, (int8_t)op);
        return;
    }
    luaL_checkstack(Ls, 4, "fuzz value too deep");
    switch (op % 12) {
    case 0:
    case 1:
        lua_pushinteger(Ls, (int8_t)fuzz_u8(in));
        break;
    case 2: {
        uint64_t bits = fuzz_u64(in);
        if (op & 0x80) {
            double d;
            memcpy(&d, &bits, sizeof d);
            lua_pushnumber(Ls, d);
        } else {
            lua_pushinteger(Ls, (lua_Integer)bits);
        }
        break;
    }
    case 3:
        push_special_number(Ls, fuzz_u8(in));
        break;
    case 4: {
        size_t len;
        const uint8_t *s = fuzz_bytes(in, 255, &len);
        lua_pushlstring(Ls, (const char *)s, len);
        break;
    }
    case 5:
        lua_pushboolean(Ls, op & 0x80);
        break;
    case 6:
        lua_pushnil(Ls);
        break;
    case 7:
    case 8:
    case 9:
        push_table(Ls, in, depth, op >> 4);
        break;
    case 10: { /* a longer flat run of one value, for reductions and printing */
        int n = fuzz_u8(in) * 8;
        uint8_t v = fuzz_u8(in);
        lua_createtable(Ls, n, 0);
        for (int i = 1; i <= n; i++) {
            if (op & 0x80)
                lua_pushnumber(Ls, (double)(int8_t)(v + i) / 4);
            else
                lua_pushinteger(Ls, (int8_t)(v + i));
            lua_rawseti(Ls, -2, i);
        }
        break;
    }
    default: { /* a shape-like list of small extents */
        int n = fuzz_u8(in) % 6;
        lua_createtable(Ls, n, 0);
        for (int i = 1; i <= n; i++) {
            lua_pushinteger(Ls, (int8_t)fuzz_u8(in) % 5);
            lua_rawseti(Ls, -2, i);
        }
        break;
    }
    }
}

/* A shape: mostly lists of small extents, with the odd hostile entry. */
static void push_shape(lua_State *Ls, struct fuzz_input *in)
{
    uint8_t kind = fuzz_u8(in);
    if (kind % 4 == 0) {
        lua_pushnil(Ls);
        return;
    }
    if (kind % 4 == 1) {
        push_value(Ls, in, 0);
        return;
    }
    int n = (kind >> 2) % 7;
    if (kind == 0xfe)
        n = TENSOR_MAX_DIMS + 1;
    lua_createtable(Ls, n, 0);
    for (int i = 1; i <= n; i++) {
        uint8_t b = fuzz_u8(in);
        switch (b >> 5) {
        case 0:
            lua_pushinteger(Ls, -1);
            break;
        case 1:
            push_special_number(Ls, b);
            break;
        case 2:
            lua_pushnumber(Ls, (double)(b % 4)); /* integral floats are fine extents */
            break;
        default:
            lua_pushinteger(Ls, b % 5);
            break;
        }
        lua_rawseti(Ls, -2, i);
    }
}

static void push_dtype(lua_State *Ls, struct fuzz_input *in)
{
    static const char *const names[] = {"BOOL",  "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
                                        "INT16", "INT32", "INT64",  "FP16",   "BF16",   "FP32",
                                        "FP64",  "BYTES", "fp32",   "FP3"};
    uint8_t b = fuzz_u8(in);
    if (b >= 0xf0)
        lua_pushnil(Ls);
    else if (b >= 0xe0)
        push_value(Ls, in, 0);
    else
        lua_pushstring(Ls, names[b % 16]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    node_budget = 2048;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
    push_value(L, &in, 0); /* value */
    push_dtype(L, &in);
    push_shape(L, &in);
    int n_steps = fuzz_u8(&in) % 16;
    lua_createtable(L, n_steps, 0);
    for (int i = 1; i <= n_steps && in.n > 0; i++) {
        uint8_t op = fuzz_u8(&in);
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, op);
        lua_setfield(L, -2, "op");
        lua_pushboolean(L, fuzz_u8(&in) & 1);
        lua_setfield(L, -2, "keep");
        static const char *const args[] = {"a", "b", "c"};
        int nargs = fuzz_u8(&in) % 4;
        for (int k = 0; k < nargs; k++) {
            if (k == 0 && (op & 0x80))
                push_dtype(L, &in); /* dtype-taking steps need a plausible name */
            else
                push_value(L, &in, 0);
            lua_setfield(L, -2, args[k]);
        }
        lua_rawseti(L, -2, i);
    }
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        /* only errors outside the driver's pcalls get here (e.g. out of memory) */
        lua_settop(L, 0);
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
