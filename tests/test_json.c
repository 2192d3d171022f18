/*
 * test_json.c: the JSON reader and writer (src/wire/json.h) at their limits
 * and one past them, with the exact messages a user sees: numbers at the edges
 * of int64, uint64 and double, -0, nesting depth, \u0000, lone surrogates,
 * truncated input; the tree's exact numbers and NUL-safe strings; the printer.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire/json.h"

/* The first token of text (one value, the whole document). */
static enum wire_json_token first_token(const char *text, struct wire_json_reader *r)
{
    wire_json_reader_init(r, text, strlen(text));
    return wire_json_next(r);
}

/* The reader's message for a document that is not JSON, "" if it is. */
static const char *reader_error(const char *text, size_t len, char *out, size_t cap)
{
    struct wire_json_reader r;
    wire_json_reader_init(&r, text, len);
    enum wire_json_token t = wire_json_next(&r);
    if (t != WIRE_JSON_ERROR)
        t = wire_json_skip(&r, t);
    if (t != WIRE_JSON_ERROR)
        t = wire_json_next(&r);
    snprintf(out, cap, "%s", t == WIRE_JSON_ERROR ? wire_json_error(&r) : "");
    wire_json_reader_free(&r);
    return out;
}

#define CHECK_READ_ERROR(text, message)                                                            \
    do {                                                                                           \
        char got_[200];                                                                            \
        CHECK_STR(reader_error(text, sizeof text - 1, got_, sizeof got_), message);                \
    } while (0)

static void test_integers(void)
{
    struct wire_json_reader r;
    CHECK(first_token("9223372036854775807", &r) == WIRE_JSON_INT && r.num.i == INT64_MAX);
    CHECK(first_token("-9223372036854775808", &r) == WIRE_JSON_INT && r.num.i == INT64_MIN);
    /* one past int64's top: uint64; one below its bottom: a double */
    CHECK(first_token("9223372036854775808", &r) == WIRE_JSON_UINT &&
          r.num.u == (uint64_t)INT64_MAX + 1);
    CHECK(first_token("-9223372036854775809", &r) == WIRE_JSON_DOUBLE &&
          r.num.d == -9223372036854775808.0);
    CHECK(first_token("18446744073709551615", &r) == WIRE_JSON_UINT && r.num.u == UINT64_MAX);
    /* one past uint64's top: a double, the nearest */
    CHECK(first_token("18446744073709551616", &r) == WIRE_JSON_DOUBLE &&
          r.num.d == 18446744073709551616.0);
    CHECK(first_token("9007199254740993", &r) == WIRE_JSON_INT && r.num.i == 9007199254740993);
    /* -0 is the integer 0, -0.0 the double */
    CHECK(first_token("-0", &r) == WIRE_JSON_INT && r.num.i == 0);
    CHECK(first_token("-0.0", &r) == WIRE_JSON_DOUBLE && r.num.d == 0 && signbit(r.num.d));
    /* the literal's text is kept */
    CHECK(first_token(" 12e3 ", &r) == WIRE_JSON_DOUBLE && r.num.d == 12000 && r.len == 4 &&
          memcmp(r.str, "12e3", 4) == 0);
}

static void test_doubles(void)
{
    struct wire_json_reader r;
    CHECK(first_token("1.7976931348623157e308", &r) == WIRE_JSON_DOUBLE && r.num.d == DBL_MAX);
    CHECK(first_token("-1.7976931348623157e308", &r) == WIRE_JSON_DOUBLE && r.num.d == -DBL_MAX);
    CHECK(first_token("4.9e-324", &r) == WIRE_JSON_DOUBLE && r.num.d > 0);
    CHECK(first_token("1e-400", &r) == WIRE_JSON_DOUBLE && r.num.d == 0); /* underflow: 0 */
    CHECK(first_token("0.1", &r) == WIRE_JSON_DOUBLE && r.num.d == 0.1);
    /* past a double's range */
    CHECK_READ_ERROR("1.7976931348623159e308", "number out of range at byte 1 (found '1')");
    CHECK_READ_ERROR("1e400", "number out of range at byte 1 (found '1')");
    CHECK_READ_ERROR("[0,-1e400]", "number out of range at byte 4 (found '-')");
    /* a literal longer than the reader's small buffer */
    char longnum[300];
    memset(longnum, '1', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = '\0';
    longnum[1] = '.';
    CHECK(first_token(longnum, &r) == WIRE_JSON_DOUBLE &&
          fabs(r.num.d - 1.1111111111111112) < 1e-15);
}

static void test_strings(void)
{
    struct wire_json_reader r;
    CHECK(first_token("\"a\\u0000b\"", &r) == WIRE_JSON_STRING && r.len == 3 &&
          memcmp(r.str, "a\0b", 3) == 0);
    wire_json_reader_free(&r);
    CHECK(first_token("\"\\ud83d\\ude00\\u00e9\\/\\b\\f\"", &r) == WIRE_JSON_STRING && r.len == 9 &&
          memcmp(r.str, "\xf0\x9f\x98\x80\xc3\xa9/\b\f", 9) == 0);
    wire_json_reader_free(&r);
    /* bytes that are not UTF-8 pass through */
    CHECK(first_token("\"\xff\xfe\"", &r) == WIRE_JSON_STRING && r.len == 2);
    /* lone surrogates, and their halves in the wrong order */
    CHECK_READ_ERROR("\"\\ud800\"",
                     "high surrogate not followed by a low surrogate at byte 8 (found '\"')");
    CHECK_READ_ERROR("\"\\ud800\\u0041\"",
                     "high surrogate not followed by a low surrogate at byte 8 (found '\\')");
    CHECK_READ_ERROR("\"\\udc00\\ud800\"",
                     "low surrogate without a high surrogate at byte 2 (found '\\')");
    CHECK_READ_ERROR("\"\\udbff", "high surrogate not followed by a low surrogate at byte 8 "
                                  "(end of input)");
}

static void test_messages(void)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"", "value expected at byte 1 (end of input)"},
        {"  ", "value expected at byte 3 (end of input)"},
        {"[1,", "value expected at byte 4 (end of input)"},
        {"[1,]", "unexpected character at byte 4 (found ']')"},
        {"{\"a\" 1}", "expected ':' at byte 6 (found '1')"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}' at byte 8 (found '\"')"},
        {"{\"a\":1,}", "expected a string key at byte 8 (found '}')"},
        {"[1 2]", "expected ',' or ']' at byte 4 (found '2')"},
        {"{1:2}", "expected a string key at byte 2 (found '1')"},
        {"{", "expected a string key at byte 2 (end of input)"},
        {"01", "trailing characters after the value at byte 2 (found '1')"},
        {"1.", "bad number (digit expected after '.') at byte 3 (end of input)"},
        {"1e", "bad number (digit expected in exponent) at byte 3 (end of input)"},
        {"1e+x", "bad number (digit expected in exponent) at byte 4 (found 'x')"},
        {"-", "bad number at byte 2 (end of input)"},
        {"+1", "unexpected character at byte 1 (found '+')"},
        {".5", "unexpected character at byte 1 (found '.')"},
        {"tru", "unexpected character at byte 1 (found 't')"},
        {"nul", "unexpected character at byte 1 (found 'n')"},
        {"NaN", "unexpected character at byte 1 (found 'N')"},
        {"\"abc", "unterminated string at byte 5 (end of input)"},
        {"\"a\\", "unterminated string at byte 4 (end of input)"},
        {"\"a\nb\"", "control character in string at byte 3 (found byte 0x0A)"},
        {"\"\\x\"", "bad escape in string at byte 2 (found '\\')"},
        {"\"\\u12\"", "bad \\u escape (expected 4 hex digits) at byte 4 (found '1')"},
        {"[1] x", "trailing characters after the value at byte 5 (found 'x')"},
        {"\f1", "unexpected character at byte 1 (found byte 0x0C)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char got[200];
        CHECK_STR(reader_error(cases[i].text, strlen(cases[i].text), got, sizeof got),
                  cases[i].message);
    }
    /* a raw zero byte is a control character */
    CHECK_READ_ERROR("\"a\0\"", "control character in string at byte 3 (found byte 0x00)");
}

/* n levels of arrays, or of objects {"a": ...}, around 0. */
static char *nested(int n, bool objects)
{
    size_t open = objects ? 5 : 1;
    char *s = malloc((size_t)n * (open + 1) + 2);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(s + k, objects ? "{\"a\":" : "[", open);
        k += open;
    }
    s[k++] = '0';
    for (int i = 0; i < n; i++)
        s[k++] = objects ? '}' : ']';
    s[k] = '\0';
    return s;
}

static void test_depth(void)
{
    char got[200];
    char *s = nested(WIRE_JSON_MAX_DEPTH, false);
    CHECK_STR(reader_error(s, strlen(s), got, sizeof got), "");
    struct triton_error err = {0};
    cJSON *tree = wire_json_parse(s, strlen(s), &err);
    CHECK(tree != NULL);
    char *printed = wire_json_print(tree, NULL);
    CHECK_STR(printed, s);
    free(printed);
    /* one more level than the printer writes */
    cJSON *outer = cJSON_CreateArray();
    cJSON_AddItemToArray(outer, tree);
    CHECK(wire_json_print(outer, NULL) == NULL);
    cJSON_Delete(outer);
    free(s);

    s = nested(WIRE_JSON_MAX_DEPTH + 1, false);
    CHECK_STR(reader_error(s, strlen(s), got, sizeof got),
              "nesting deeper than 1000 levels at byte 1001 (found '[')");
    CHECK(wire_json_parse(s, strlen(s), &err) == NULL);
    CHECK_ERR(err, TRITON_PROTOCOL, "nesting deeper than 1000 levels at byte 1001 (found '[')");
    free(s);
    s = nested(WIRE_JSON_MAX_DEPTH + 1, true);
    CHECK_STR(reader_error(s, strlen(s), got, sizeof got),
              "nesting deeper than 1000 levels at byte 5001 (found '{')");
    free(s);
}

/* Every proper prefix of a document fails, at or before its end. */
static void test_truncated(void)
{
    static const char doc[] =
        "{\"a\":[1,-2.5e3,\"x\\u00e9\\n\",true,false,null],\"b\":{\"c\":18446744073709551615}}";
    for (size_t n = 0; n + 1 < sizeof doc; n++) {
        char got[200];
        reader_error(doc, n, got, sizeof got);
        unsigned long byte = 0;
        const char *p = strstr(got, " at byte ");
        if (!p || sscanf(p, " at byte %lu", &byte) != 1 || byte > n + 1) {
            fprintf(stderr, "prefix of %zu bytes: '%s'\n", n, got);
            check_failures++;
        }
        struct triton_error err = {0};
        CHECK(wire_json_parse(doc, n, &err) == NULL && err.code == TRITON_PROTOCOL);
    }
    static const struct {
        size_t n;
        const char *message;
    } cut[] = {
        {1, "expected a string key at byte 2 (end of input)"},
        {3, "unterminated string at byte 4 (end of input)"},
        {5, "value expected at byte 6 (end of input)"},
        {9, "bad number at byte 10 (end of input)"},
        {11, "bad number (digit expected after '.') at byte 12 (end of input)"},
        {13, "bad number (digit expected in exponent) at byte 14 (end of input)"},
        {20, "bad \\u escape (expected 4 hex digits) at byte 20 (found '0')"},
        {28, "unexpected character at byte 28 (found 't')"},
        {42, "expected ',' or ']' at byte 43 (end of input)"},
    };
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        char got[200];
        CHECK_STR(reader_error(doc, cut[i].n, got, sizeof got), cut[i].message);
    }
    struct triton_error err = {0};
    cJSON *tree = wire_json_parse(doc, sizeof doc - 1, &err);
    CHECK(tree != NULL);
    cJSON_Delete(tree);
}

static void test_tree_numbers(void)
{
    static const char doc[] = "[9223372036854775807,-9223372036854775808,18446744073709551615,"
                              "9007199254740993,-9007199254740993,9007199254740992,2.0,2.5,"
                              "18446744073709551616,-0,1e18]";
    struct triton_error err = {0};
    cJSON *a = wire_json_parse(doc, sizeof doc - 1, &err);
    CHECK(a != NULL);
    if (!a)
        return;
    int64_t i;
    uint64_t u;
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 0), &i) && i == INT64_MAX);
    CHECK(!wire_json_get_uint64(cJSON_GetArrayItem(a, 1), &u));
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 1), &i) && i == INT64_MIN);
    CHECK(wire_json_get_uint64(cJSON_GetArrayItem(a, 2), &u) && u == UINT64_MAX);
    CHECK(!wire_json_get_int64(cJSON_GetArrayItem(a, 2), &i));
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 3), &i) && i == 9007199254740993);
    CHECK(wire_json_get_uint64(cJSON_GetArrayItem(a, 3), &u) && u == 9007199254740993u);
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 4), &i) && i == -9007199254740993);
    /* within 2^53 a double counts exactly and no text is kept */
    CHECK(cJSON_GetArrayItem(a, 5)->valuestring == NULL);
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 6), &i) && i == 2);
    CHECK(!wire_json_get_int64(cJSON_GetArrayItem(a, 7), &i));
    CHECK(!wire_json_get_uint64(cJSON_GetArrayItem(a, 8), &u)); /* past uint64: a double */
    CHECK(cJSON_GetArrayItem(a, 8)->valuedouble == 18446744073709551616.0);
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 9), &i) && i == 0);
    CHECK(wire_json_get_int64(cJSON_GetArrayItem(a, 10), &i) && i == 1000000000000000000);
    /* cJSON's own reading still gives the nearest double */
    CHECK(cJSON_GetArrayItem(a, 0)->valuedouble == 9223372036854775808.0);
    char *s = wire_json_print(a, NULL);
    CHECK_STR(s, "[9223372036854775807,-9223372036854775808,18446744073709551615,"
                 "9007199254740993,-9007199254740993,9007199254740992,2,2.5,"
                 "1.8446744073709552e+19,0,1e+18]");
    free(s);
    cJSON_Delete(a);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "i", wire_json_new_int64(INT64_MIN));
    cJSON_AddItemToObject(o, "u", wire_json_new_uint64(UINT64_MAX));
    cJSON_AddItemToObject(o, "small", wire_json_new_int64(-7));
    CHECK(cJSON_GetObjectItem(o, "small")->valuestring == NULL);
    CHECK(wire_json_get_uint64(cJSON_GetObjectItem(o, "u"), &u) && u == UINT64_MAX);
    s = wire_json_print(o, NULL);
    CHECK_STR(s, "{\"i\":-9223372036854775808,\"u\":18446744073709551615,\"small\":-7}");
    free(s);
    /* NaN and infinities have no JSON form */
    cJSON_AddItemToObject(o, "nan", cJSON_CreateNumber(NAN));
    CHECK(wire_json_print(o, NULL) == NULL);
    cJSON_Delete(o);
    CHECK(!wire_json_get_int64(NULL, &i) && !wire_json_get_uint64(NULL, &u));
}

/* The token rule for uint64 (read straight from the reader) agrees with the
 * tree's on every value; a member read into an object lands as in a tree. */
static void test_tokens_and_members(void)
{
    static const char doc[] = "[9223372036854775807,-9223372036854775808,18446744073709551615,"
                              "9007199254740993,-1,2.0,2.5,18446744073709551616,-0,1e18,"
                              "\"8\",true,null,[1],{\"a\":1}]";
    struct wire_json_reader r;
    wire_json_reader_init(&r, doc, sizeof doc - 1);
    cJSON *tree = wire_json_parse(doc, sizeof doc - 1, NULL);
    CHECK(tree != NULL && wire_json_next(&r) == WIRE_JSON_ARRAY);
    for (int i = 0; tree && i < cJSON_GetArraySize(tree); i++) {
        enum wire_json_token t = wire_json_next(&r);
        uint64_t a = 0, b = 0;
        bool ta = wire_json_num_uint64(t, &r.num, &a);
        bool tb = wire_json_get_uint64(cJSON_GetArrayItem(tree, i), &b);
        CHECK(ta == tb && a == b);
        wire_json_skip(&r, t);
    }
    wire_json_reader_free(&r);
    cJSON_Delete(tree);

    static const char obj[] = "{\"k\":[1,{\"x\":\"y\"}],\"n\":18446744073709551615,\"z\\u0000\":1}";
    wire_json_reader_init(&r, obj, sizeof obj - 1);
    cJSON *o = NULL;
    struct triton_error err = {0};
    CHECK(wire_json_next(&r) == WIRE_JSON_OBJECT);
    CHECK(wire_json_next(&r) == WIRE_JSON_KEY && wire_json_read_member(&r, &o, &err) == 0);
    CHECK(wire_json_next(&r) == WIRE_JSON_KEY && wire_json_read_member(&r, &o, &err) == 0);
    char *printed = wire_json_print(o, NULL);
    CHECK_STR(printed, "{\"k\":[1,{\"x\":\"y\"}],\"n\":18446744073709551615}");
    free(printed);
    CHECK(wire_json_next(&r) == WIRE_JSON_KEY && wire_json_read_member(&r, &o, &err) < 0);
    CHECK_ERR(err, TRITON_PROTOCOL, "object key with a zero byte (not supported) at byte 45");
    cJSON_Delete(o);
    wire_json_reader_free(&r);
}

static void test_tree_strings(void)
{
    static const char doc[] = "{\"s\":\"a\\u0000b\",\"e\":\"\",\"k\\\"\":\"\\b\\f\\u001f\\u007f\"}";
    struct triton_error err = {0};
    cJSON *o = wire_json_parse(doc, sizeof doc - 1, &err);
    CHECK(o != NULL);
    size_t len;
    const char *s = wire_json_string(cJSON_GetObjectItem(o, "s"), &len);
    CHECK(s && len == 3 && memcmp(s, "a\0b", 3) == 0);
    s = wire_json_string(cJSON_GetObjectItem(o, "e"), &len);
    CHECK(s && len == 0);
    CHECK(wire_json_string(o, &len) == NULL);
    char *text = wire_json_print(o, NULL);
    CHECK_STR(text, "{\"s\":\"a\\u0000b\",\"e\":\"\",\"k\\\"\":\"\\b\\f\\u001f\x7f\"}");
    free(text);
    cJSON_Delete(o);

    cJSON *n = wire_json_new_strn("x\0y", 3);
    s = wire_json_string(n, &len);
    CHECK(s && len == 3 && memcmp(s, "x\0y", 3) == 0);
    cJSON_Delete(n);

    /* object keys are C strings: one with a zero byte is refused, not cut */
    static const char bad[] = "{\"ok\":1,\"a\\u0000b\":1}";
    CHECK(wire_json_parse(bad, sizeof bad - 1, &err) == NULL);
    CHECK_ERR(err, TRITON_PROTOCOL, "object key with a zero byte (not supported) at byte 9");
}

static void test_skip_and_pos(void)
{
    static const char doc[] = "{\"a\":[1,{\"b\":[]}],\"c\":2}";
    struct wire_json_reader r;
    wire_json_reader_init(&r, doc, sizeof doc - 1);
    CHECK(wire_json_next(&r) == WIRE_JSON_OBJECT);
    CHECK(wire_json_next(&r) == WIRE_JSON_KEY && r.len == 1 && r.str[0] == 'a');
    CHECK(wire_json_skip(&r, wire_json_next(&r)) == WIRE_JSON_ARRAY_END);
    CHECK(wire_json_pos(&r) == 17 && r.depth == 1);
    CHECK(wire_json_next(&r) == WIRE_JSON_KEY);
    CHECK(wire_json_next(&r) == WIRE_JSON_INT && r.num.i == 2);
    CHECK(wire_json_next(&r) == WIRE_JSON_OBJECT_END && r.depth == 0);
    CHECK(wire_json_next(&r) == WIRE_JSON_EOF);
    CHECK(wire_json_next(&r) == WIRE_JSON_EOF);
    wire_json_reader_free(&r);
}

/* ---- JSON text ----------------------------------------------------------------- */

static void test_numbers(void)
{
    char b[WIRE_JSON_NUM_MAX];
    wire_json_fmt_int64(b, INT64_MIN);
    CHECK_STR(b, "-9223372036854775808");
    wire_json_fmt_int64(b, INT64_MAX);
    CHECK_STR(b, "9223372036854775807");
    wire_json_fmt_uint64(b, UINT64_MAX);
    CHECK_STR(b, "18446744073709551615");
    wire_json_fmt_int64(b, 0);
    CHECK_STR(b, "0");
    wire_json_fmt_double(b, 1.0, true);
    CHECK_STR(b, "1.0");
    wire_json_fmt_double(b, 1.0, false);
    CHECK_STR(b, "1");
    wire_json_fmt_double(b, 0.1, true);
    CHECK_STR(b, "0.1");
    wire_json_fmt_double(b, 1e300, true);
    CHECK_STR(b, "1e+300");
    wire_json_fmt_double(b, -2.5, true);
    CHECK_STR(b, "-2.5");
    CHECK(wire_json_fmt_double(b, NAN, true) == 0);
    CHECK(wire_json_fmt_double(b, INFINITY, false) == 0);
    wire_json_fmt_float(b, 0.1f);
    CHECK_STR(b, "0.1");
    wire_json_fmt_double(b, 0.1 + 0.2, false);
    CHECK(strtod(b, NULL) == 0.1 + 0.2);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "d", cJSON_CreateNumber(2.5));
    cJSON_AddItemToObject(o, "i", wire_json_new_int64(INT64_MAX));
    cJSON_AddItemToObject(o, "u", wire_json_new_uint64(UINT64_MAX));
    char *s = wire_json_print(o, NULL);
    CHECK_STR(s, "{\"d\":2.5,\"i\":9223372036854775807,\"u\":18446744073709551615}");
    free(s);
    cJSON_Delete(o);
}

static void test_jbuf(void)
{
    struct wire_jbuf b;
    wire_jbuf_init(&b, 0, 0);
    CHECK(wire_jbuf_string(&b, "a\"b\\c\n\0\x01\xc3\xa9", 10, true) == 0);
    char *s = wire_jbuf_take(&b, NULL);
    CHECK_STR(s, "\"a\\\"b\\\\c\\n\\u0000\\u0001\xc3\xa9\"");
    free(s);

    wire_jbuf_init(&b, 0, 0);
    CHECK(wire_jbuf_string(&b, "\xff", 1, true) < 0);         /* not UTF-8 */
    CHECK(wire_jbuf_string(&b, "\xc3", 1, true) < 0);         /* truncated sequence */
    CHECK(wire_jbuf_string(&b, "\xed\xa0\x80", 3, true) < 0); /* surrogate */
    CHECK(wire_jbuf_string(&b, "\xc0\xaf", 2, true) < 0);     /* overlong */
    CHECK(wire_jbuf_string(&b, "\xf0\x9f\x98\x80", 4, true) == 0);
    wire_jbuf_free(&b);

    /* the ceiling: one byte of text and its NUL fit in 2, two bytes do not */
    wire_jbuf_init(&b, 0, 2);
    wire_jbuf_putc(&b, 'x');
    CHECK(!wire_jbuf_failed(&b));
    wire_jbuf_putc(&b, 'y');
    CHECK(wire_jbuf_failed(&b));
    CHECK(wire_jbuf_take(&b, NULL) == NULL);

    size_t n;
    char *e = wire_base64("foobar", 6, &n);
    CHECK_STR(e, "Zm9vYmFy");
    free(e);
    e = wire_base64("fooba", 5, &n);
    CHECK_STR(e, "Zm9vYmE=");
    free(e);
    e = wire_base64("f", 1, &n);
    CHECK_STR(e, "Zg==");
    free(e);
    e = wire_base64("", 0, &n);
    CHECK_STR(e, "");
    CHECK(n == 0);
    free(e);
}

/* wire_unbase64 reads back what wire_base64 wrote (every byte value, every
 * padding), skips whitespace, and names the character of bad text. */
static void test_unbase64(void)
{
    unsigned char raw[256], back[256 / 3 * 3 + 3];
    for (int i = 0; i < 256; i++)
        raw[i] = (unsigned char)(255 - i);
    const char *why = NULL;
    size_t at = 0;
    for (size_t n = 0; n <= 256; n += 85) { /* 0, 85, 170, 255: both paddings and none */
        size_t len;
        char *e = wire_base64(raw, n, &len);
        CHECK(wire_unbase64(e, len, back, &why, &at) == (long long)n);
        CHECK(memcmp(back, raw, n) == 0);
        free(e);
    }
    CHECK(wire_unbase64(" Zm9v\nYmE=\n", 11, back, &why, &at) == 5);
    CHECK(memcmp(back, "fooba", 5) == 0);
    static const struct {
        const char *text;
        size_t at;
        const char *why;
    } bad[] = {{"Zm9v*mE=", 5, "not a base64"},
               {"Zm=vYmE=", 3, "'=' padding before"},
               {"Zg==Zg==", 5, "after the final"},
               {"Zm9vYmE", 7, "ends inside"},
               {"=Zg=", 1, "'=' padding before"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(wire_unbase64(bad[i].text, strlen(bad[i].text), back, &why, &at) == -1);
        CHECK_INT(at, bad[i].at);
        CHECK_CONTAINS(why, bad[i].why);
    }
}

static void test_float_value(void)
{
    CHECK(wire_json_float_value(0.1f) == 0.1);
    CHECK(wire_json_float_value(16777216.0f) == 16777216.0);
    CHECK((float)wire_json_float_value(FLT_MAX) == FLT_MAX);
    double d;
    CHECK(wire_json_strtod("2.5e-3", 6, &d) == 0 && d == 0.0025);
    CHECK(wire_json_strtod("1e309", 5, &d) == -1);
}

int main(void)
{
    test_integers();
    test_doubles();
    test_strings();
    test_messages();
    test_depth();
    test_truncated();
    test_tree_numbers();
    test_tree_strings();
    test_tokens_and_members();
    test_skip_and_pos();
    test_numbers();
    test_jbuf();
    test_unbase64();
    test_float_value();
    return check_report("test_json");
}
