/*
 * json_read.c: the JSON reader of json.h, a pull tokenizer.
 *
 * A small state machine says what may come next (a value, a key, a ':', a ','
 * or a closing bracket); a bit per open level says whether it is an object.
 * Strings without escapes are handed out where they lie in the input; the
 * others are decoded into a scratch buffer owned by the reader.
 */
#include "wire/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

enum {
    S_TOP,          /* the document's value */
    S_VALUE,        /* a value, after '[' ',' or ':' */
    S_ARRAY_FIRST,  /* a value or ']' */
    S_OBJECT_FIRST, /* a key or '}' */
    S_KEY,          /* a key, after ',' */
    S_COLON,        /* ':' then a value, after a key */
    S_AFTER,        /* ',' or the closing bracket, after a value */
    S_DONE,         /* nothing but blanks */
    S_FAILED,
};

void wire_json_reader_init(struct wire_json_reader *r, const char *text, size_t len)
{
    memset(r, 0, offsetof(struct wire_json_reader, in_object));
    r->start = r->p = r->tok = text;
    r->end = text + len;
    r->state = S_TOP;
    r->scratch = NULL;
    r->scratch_cap = 0;
    r->error[0] = '\0';
}

void wire_json_reader_free(struct wire_json_reader *r)
{
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
}

size_t wire_json_pos(const struct wire_json_reader *r)
{
    return (size_t)(r->p - r->start);
}

const char *wire_json_error(const struct wire_json_reader *r)
{
    return r->error;
}

/* Records "what at byte N (found X)" for the byte at `at`. */
static enum wire_json_token fail_at(struct wire_json_reader *r, const char *at, const char *what)
{
    size_t byte = (size_t)(at - r->start) + 1;
    if (at >= r->end) {
        snprintf(r->error, sizeof r->error, "%s at byte %zu (end of input)", what, byte);
    } else {
        unsigned char c = (unsigned char)*at;
        if (c >= 0x20 && c < 0x7f)
            snprintf(r->error, sizeof r->error, "%s at byte %zu (found '%c')", what, byte, c);
        else
            snprintf(r->error, sizeof r->error, "%s at byte %zu (found byte 0x%02X)", what, byte,
                     (unsigned)c);
    }
    r->state = S_FAILED;
    return WIRE_JSON_ERROR;
}

static enum wire_json_token no_memory(struct wire_json_reader *r)
{
    r->no_memory = true;
    return fail_at(r, r->p, "out of memory");
}

/* Every blank is below '!', and compact JSON (what servers send) has none:
 * one comparison settles the common case. */
static void skip_blanks(struct wire_json_reader *r)
{
    const char *p = r->p, *end = r->end;
    if (p == end || (unsigned char)*p > ' ')
        return;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    r->p = p;
}

static bool top_is_object(const struct wire_json_reader *r)
{
    unsigned level = (unsigned)r->depth - 1;
    return (r->in_object[level / 64] >> (level % 64)) & 1;
}

/* After a complete value: more of the container, or the end of the document. */
static void value_done(struct wire_json_reader *r)
{
    r->state = r->depth ? S_AFTER : S_DONE;
}

static enum wire_json_token open_container(struct wire_json_reader *r, bool object)
{
    if (r->depth >= WIRE_JSON_MAX_DEPTH)
        return fail_at(r, r->p, "nesting deeper than " STRINGIFY(WIRE_JSON_MAX_DEPTH) " levels");
    unsigned level = (unsigned)r->depth;
    uint64_t bit = (uint64_t)1 << (level % 64);
    if (object)
        r->in_object[level / 64] |= bit;
    else
        r->in_object[level / 64] &= ~bit;
    r->depth++;
    r->p++;
    r->state = object ? S_OBJECT_FIRST : S_ARRAY_FIRST;
    return object ? WIRE_JSON_OBJECT : WIRE_JSON_ARRAY;
}

static enum wire_json_token close_container(struct wire_json_reader *r)
{
    bool object = top_is_object(r);
    r->p++;
    r->depth--;
    value_done(r);
    return object ? WIRE_JSON_OBJECT_END : WIRE_JSON_ARRAY_END;
}

/* ---- strings ---------------------------------------------------------------------- */

static int hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | ((cp >> 18) & 0x07));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A \uXXXX escape (or a surrogate pair of them) at r->p, the backslash; writes
 * its UTF-8 at out and returns the length, 0 after an error. */
static size_t unicode_escape(struct wire_json_reader *r, char *out)
{
    const char *backslash = r->p;
    r->p += 2;
    int u = hex4(r->p, r->end);
    if (u < 0) {
        fail_at(r, r->p, "bad \\u escape (expected 4 hex digits)");
        return 0;
    }
    r->p += 4;
    unsigned long cp = (unsigned long)u;
    if (u >= 0xD800 && u <= 0xDBFF) {
        int lo =
            r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2, r->end) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            fail_at(r, r->p, "high surrogate not followed by a low surrogate");
            return 0;
        }
        r->p += 6;
        cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
        fail_at(r, backslash, "low surrogate without a high surrogate");
        return 0;
    }
    return utf8_encode(cp, out);
}

/* The escape at r->p (the backslash) decoded at out: its length, 0 after an error. */
static size_t escape(struct wire_json_reader *r, char *out)
{
    if (r->end - r->p < 2) {
        fail_at(r, r->end, "unterminated string");
        return 0;
    }
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = r->p[1];
    if (c == 'u')
        return unicode_escape(r, out);
    const char *k = c ? strchr(from, c) : NULL;
    if (!k) {
        fail_at(r, r->p, "bad escape in string");
        return 0;
    }
    out[0] = to[k - from];
    r->p += 2;
    return 1;
}

/* The rest of a string holding escapes, from r->p; its first `have` bytes
 * (without escapes) start at `from`. The decoded text is never longer than
 * the text it comes from. */
static enum wire_json_token slow_string(struct wire_json_reader *r, const char *from, size_t have,
                                        enum wire_json_token kind)
{
    const char *close = r->p;
    while (close < r->end && *close != '"')
        close += *close == '\\' && close + 1 < r->end ? 2 : 1;
    size_t need = (size_t)(close - from) + 1;
    if (need > r->scratch_cap) {
        char *grown = realloc(r->scratch, need);
        if (!grown)
            return no_memory(r);
        r->scratch = grown;
        r->scratch_cap = need;
    }
    memcpy(r->scratch, from, have);
    size_t n = have;
    for (;;) {
        if (r->p >= r->end)
            return fail_at(r, r->p, "unterminated string");
        unsigned char c = (unsigned char)*r->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail_at(r, r->p, "control character in string");
        if (c != '\\') {
            r->scratch[n++] = (char)c;
            r->p++;
            continue;
        }
        size_t k = escape(r, r->scratch + n);
        if (!k)
            return WIRE_JSON_ERROR;
        n += k;
    }
    r->p++;
    r->scratch[n] = '\0';
    r->str = r->scratch;
    r->len = n;
    return kind;
}

/* A string at r->p (the opening quote), as a STRING or KEY token. */
static enum wire_json_token string(struct wire_json_reader *r, enum wire_json_token kind)
{
    const char *s = ++r->p;
    r->p += wire_json_plain_run(r->p, (size_t)(r->end - r->p), false);
    if (r->p < r->end && *r->p == '"') {
        r->str = s;
        r->len = (size_t)(r->p - s);
        r->p++;
        return kind;
    }
    return slow_string(r, s, (size_t)(r->p - s), kind);
}

/* ---- numbers ---------------------------------------------------------------------- */

static bool is_digit(const struct wire_json_reader *r)
{
    return r->p < r->end && *r->p >= '0' && *r->p <= '9';
}

/* An integer literal whose magnitude v fits uint64: an INT, a UINT, or (a
 * negative one below int64) ERROR, left to the double path. */
static enum wire_json_token integer(bool negative, uint64_t v, union wire_json_num *num)
{
    if (!negative && v <= INT64_MAX) {
        num->i = (int64_t)v;
        return WIRE_JSON_INT;
    }
    if (!negative) {
        num->u = v;
        return WIRE_JSON_UINT;
    }
    if (v <= (uint64_t)INT64_MAX + 1) {
        num->i = v ? -(int64_t)(v - 1) - 1 : 0; /* -2^63 without overflow */
        return WIRE_JSON_INT;
    }
    return WIRE_JSON_ERROR;
}

/* Adds a digit to v; false when v would pass uint64. */
static bool add_digit(uint64_t *v, char c)
{
    unsigned digit = (unsigned)(c - '0');
    if (*v > (UINT64_MAX - digit) / 10)
        return false;
    *v = *v * 10 + digit;
    return true;
}

enum wire_json_token wire_json_number(const char *s, size_t len, union wire_json_num *num)
{
    bool negative = len > 0 && s[0] == '-';
    size_t i = negative;
    uint64_t v = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && add_digit(&v, s[i]))
        i++;
    enum wire_json_token t;
    if (i == len && i > (size_t)negative && (t = integer(negative, v, num)) != WIRE_JSON_ERROR)
        return t;
    int rc = wire_json_strtod(s, len, &num->d);
    if (rc == 0)
        return WIRE_JSON_DOUBLE;
    num->d = rc == -2 ? NAN : 0;
    return WIRE_JSON_ERROR;
}

/* A number at r->p: JSON's grammar checked, then classified. Integers are
 * counted while their digits are checked; the rest goes to wire_json_number. */
static enum wire_json_token number(struct wire_json_reader *r)
{
    const char *s = r->p;
    bool negative = *r->p == '-', fits = true;
    uint64_t v = 0;
    if (negative)
        r->p++;
    if (r->p < r->end && *r->p == '0') {
        r->p++;
    } else if (is_digit(r)) {
        for (; is_digit(r); r->p++)
            fits = fits && add_digit(&v, *r->p);
    } else {
        return fail_at(r, r->p, "bad number");
    }
    bool plain = true;
    if (r->p < r->end && *r->p == '.') {
        plain = false;
        r->p++;
        if (!is_digit(r))
            return fail_at(r, r->p, "bad number (digit expected after '.')");
        while (is_digit(r))
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        plain = false;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!is_digit(r))
            return fail_at(r, r->p, "bad number (digit expected in exponent)");
        while (is_digit(r))
            r->p++;
    }
    r->str = s;
    r->len = (size_t)(r->p - s);
    enum wire_json_token t = plain && fits ? integer(negative, v, &r->num) : WIRE_JSON_ERROR;
    if (t == WIRE_JSON_ERROR)
        t = wire_json_number(s, r->len, &r->num);
    if (t == WIRE_JSON_ERROR) {
        if (isnan(r->num.d))
            return no_memory(r);
        return fail_at(r, s, "number out of range");
    }
    value_done(r);
    return t;
}

/* ---- values ----------------------------------------------------------------------- */

static enum wire_json_token literal(struct wire_json_reader *r, const char *word, size_t n,
                                    enum wire_json_token t)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail_at(r, r->p, "unexpected character");
    r->p += n;
    value_done(r);
    return t;
}

static enum wire_json_token value(struct wire_json_reader *r)
{
    skip_blanks(r);
    r->tok = r->p;
    if (r->p >= r->end)
        return fail_at(r, r->p, "value expected");
    switch (*r->p) {
    case '{':
        return open_container(r, true);
    case '[':
        return open_container(r, false);
    case '"': {
        enum wire_json_token t = string(r, WIRE_JSON_STRING);
        if (t == WIRE_JSON_STRING)
            value_done(r);
        return t;
    }
    case 't':
        return literal(r, "true", 4, WIRE_JSON_TRUE);
    case 'f':
        return literal(r, "false", 5, WIRE_JSON_FALSE);
    case 'n':
        return literal(r, "null", 4, WIRE_JSON_NULL);
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return number(r);
        return fail_at(r, r->p, "unexpected character");
    }
}

static enum wire_json_token key(struct wire_json_reader *r)
{
    skip_blanks(r);
    r->tok = r->p;
    if (r->p >= r->end || *r->p != '"')
        return fail_at(r, r->p, "expected a string key");
    enum wire_json_token t = string(r, WIRE_JSON_KEY);
    if (t == WIRE_JSON_KEY)
        r->state = S_COLON;
    return t;
}

enum wire_json_token wire_json_next(struct wire_json_reader *r)
{
    switch (r->state) {
    case S_TOP:
    case S_VALUE:
        return value(r);
    case S_ARRAY_FIRST:
    case S_OBJECT_FIRST:
        skip_blanks(r);
        r->tok = r->p;
        if (r->p < r->end && *r->p == (r->state == S_ARRAY_FIRST ? ']' : '}'))
            return close_container(r);
        return r->state == S_ARRAY_FIRST ? value(r) : key(r);
    case S_KEY:
        return key(r);
    case S_COLON:
        skip_blanks(r);
        if (r->p >= r->end || *r->p != ':')
            return fail_at(r, r->p, "expected ':'");
        r->p++;
        return value(r);
    case S_AFTER: {
        skip_blanks(r);
        r->tok = r->p;
        bool object = top_is_object(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            r->state = object ? S_KEY : S_VALUE;
            return object ? key(r) : value(r);
        }
        if (r->p < r->end && *r->p == (object ? '}' : ']'))
            return close_container(r);
        return fail_at(r, r->p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    case S_DONE:
        skip_blanks(r);
        r->tok = r->p;
        if (r->p == r->end)
            return WIRE_JSON_EOF;
        return fail_at(r, r->p, "trailing characters after the value");
    default:
        return WIRE_JSON_ERROR;
    }
}

enum wire_json_token wire_json_skip(struct wire_json_reader *r, enum wire_json_token first)
{
    if (first != WIRE_JSON_ARRAY && first != WIRE_JSON_OBJECT)
        return first;
    int depth = r->depth - 1;
    for (;;) {
        enum wire_json_token t = wire_json_next(r);
        if (t == WIRE_JSON_ERROR)
            return t;
        if ((t == WIRE_JSON_ARRAY_END || t == WIRE_JSON_OBJECT_END) && r->depth == depth)
            return t;
    }
}
