/*
 * fuzz_json.c: the JSON reader and writer (src/wire/json.h) and triton.json
 * (src/lua/lutil.c), over any bytes as JSON text.
 *
 * Input: the text itself. Checks, besides the sanitizers:
 *   - the reader's token walk, the tree builder and triton.json.decode accept
 *     exactly the same texts (the tree refuses only object keys holding a zero
 *     byte), and every refusal has a message;
 *   - a tree prints, and what it prints reads back into a tree that prints the
 *     same text (printing is a fixed point), with every exact integer readable
 *     through wire_json_get_int64 or wire_json_get_uint64;
 *   - triton.json.encode(decode(text)) succeeds, and decoding and encoding that
 *     again gives the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_driver.h"
#include "support.h"
#include "triton_lua.h"
#include "wire/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Called with the text and whether the reader accepted it. */
static const char driver_source[] =
    "local json, fail = ...\n"
    "return function(text, accepted)\n"
    "  local ok, v = pcall(json.decode, text)\n"
    "  if ok ~= accepted then\n"
    "    fail('triton.json.decode and the reader disagree: ' .. tostring(v))\n"
    "  end\n"
    "  if not ok then\n"
    "    if type(v) ~= 'string' or not v:find('^triton%.json%.decode: .* at byte %d+ %(')\n"
    "        and not v:find('memory') then\n"
    "      fail('triton.json.decode raised an odd error: ' .. tostring(v))\n"
    "    end\n"
    "    return\n"
    "  end\n"
    "  local ok2, e = pcall(json.encode, v)\n"
    "  if not ok2 then fail('a decoded value does not encode: ' .. tostring(e)) end\n"
    "  local ok3, v2 = pcall(json.decode, e)\n"
    "  if not ok3 then fail('encoded text does not decode: ' .. tostring(v2)) end\n"
    "  if json.encode(v2) ~= e then fail('encode(decode(text)) is not a fixed point') end\n"
    "end\n";

static lua_State *L;
static int driver_ref = LUA_NOREF;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    driver_ref = fuzz_lua_driver(&L, driver_source, sizeof driver_source - 1, "json");
    return 0;
}

/* Whether the reader takes text as one JSON document; *nul_key: an object key
 * held a zero byte. */
static bool reader_accepts(const char *text, size_t len, bool *nul_key)
{
    struct wire_json_reader r;
    wire_json_reader_init(&r, text, len);
    enum wire_json_token t;
    *nul_key = false;
    while ((t = wire_json_next(&r)) != WIRE_JSON_EOF && t != WIRE_JSON_ERROR) {
        if (t == WIRE_JSON_KEY && memchr(r.str, '\0', r.len))
            *nul_key = true;
        if (r.depth > WIRE_JSON_MAX_DEPTH)
            fuzz_fail("reader went %d levels deep", r.depth);
    }
    if (t == WIRE_JSON_ERROR && !wire_json_error(&r)[0])
        fuzz_fail("reader failed without a message");
    wire_json_reader_free(&r);
    return t == WIRE_JSON_EOF;
}

/* Every number node with exact text reads back as an integer. */
static void check_numbers(const cJSON *n)
{
    for (; n; n = n->next) {
        int64_t i;
        uint64_t u;
        if (cJSON_IsNumber(n) && n->valuestring && !wire_json_get_int64(n, &i) &&
            !wire_json_get_uint64(n, &u))
            fuzz_fail("number text '%s' is not an integer", n->valuestring);
        check_numbers(n->child);
    }
}

static void check_tree(const char *text, size_t len, bool accepted, bool nul_key)
{
    struct triton_error err = {0};
    cJSON *tree = wire_json_parse(text, len, &err);
    if (!tree) {
        if (!err.message[0])
            fuzz_fail("wire_json_parse failed without a message");
        if (accepted && !nul_key && err.code != TRITON_NO_MEMORY)
            fuzz_fail("the reader took what the tree refused: %s", err.message);
        return;
    }
    if (!accepted || nul_key)
        fuzz_fail("the tree took what the reader refused");
    check_numbers(tree);
    size_t n1, n2;
    char *printed = wire_json_print(tree, &n1);
    if (!printed)
        fuzz_fail("a tree read from text does not print");
    cJSON *again = wire_json_parse(printed, n1, &err);
    if (!again)
        fuzz_fail("printed text does not read back (%s): %.200s", err.message, printed);
    char *reprinted = wire_json_print(again, &n2);
    if (!reprinted || n1 != n2 || memcmp(printed, reprinted, n1) != 0)
        fuzz_fail("printing is not a fixed point: %.200s", printed);
    free(printed);
    free(reprinted);
    cJSON_Delete(again);
    cJSON_Delete(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    bool nul_key;
    bool accepted = reader_accepts(text, size, &nul_key);
    check_tree(text, size, accepted, nul_key);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
    lua_pushlstring(L, text, size);
    lua_pushboolean(L, accepted);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (!msg || !strstr(msg, "not enough memory"))
            fuzz_fail("driver: %s", msg ? msg : "(no message)");
    }
    lua_settop(L, 0);
    return 0;
}
