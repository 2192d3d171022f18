/*
 * json.h: the project's one JSON reader and one JSON writer.
 *
 * cJSON keeps numbers as doubles (INT64/UINT64 values beyond 2^53 lose digits,
 * 1.0 prints as 1) and strings as C strings (an escaped \u0000 cuts them
 * short), so reading and printing are ours; cJSON's node type and building API
 * stay the tree that the layers pass around (replies, settings, parameters).
 *
 * The reader (json_read.c) is a pull tokenizer: every JSON text of the
 * project goes through it, whether it becomes a cJSON tree (wire_json_parse),
 * Lua values (triton.json.decode) or an infer result read straight from the
 * tokens (http_infer.c). It is strict RFC 8259: the four blanks only, no
 * trailing characters, nesting limited to WIRE_JSON_MAX_DEPTH. Numbers come
 * classified: an integer literal that fits int64, one that fits uint64, or a
 * double (any other number; one beyond a double's range is an error). Strings
 * come decoded with their byte length, zero bytes included; bytes that are not
 * UTF-8 pass through unchanged. Errors say what was expected, what was found
 * and where: "expected ':' at byte 6 (found '1')".
 *
 * The tree conventions (json_tree.c), which keep exactness inside cJSON nodes:
 *   - A number node holds the nearest double in valuedouble, as cJSON does, and
 *     when it is an integer beyond +-2^53 (where doubles stop counting exactly)
 *     also its exact decimal text in valuestring. wire_json_get_int64 /
 *     wire_json_get_uint64 read it back exactly.
 *   - A string node whose bytes include a zero byte records its length in
 *     valuedouble (cJSON leaves 0 there); wire_json_string gives the length.
 *   cJSON_Delete frees valuestring whatever the node's type. cJSON_Duplicate
 *   would copy such a string only up to its first zero byte: it is not used.
 *   Object keys are C strings: a key holding a zero byte is refused.
 *
 * The writer (json_write.c): integers from int64/uint64 exactly, doubles in the
 * fewest digits that read back the same, strings from (pointer, length) with one
 * escape table, all into one bounded buffer (struct wire_jbuf); the tree printer
 * and triton.json.encode use the same pieces. One base64 lives here too.
 */
#ifndef TRITON_WIRE_JSON_H
#define TRITON_WIRE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/error.h"

/* Deepest nesting of arrays and objects read or written, everywhere. */
#define WIRE_JSON_MAX_DEPTH 1000

/* ---- reading ------------------------------------------------------------------- */

enum wire_json_token {
    WIRE_JSON_EOF,   /* the document's one value is complete and only blanks follow */
    WIRE_JSON_ERROR, /* wire_json_error() says what and where; every later call repeats it */
    WIRE_JSON_NULL,
    WIRE_JSON_FALSE,
    WIRE_JSON_TRUE,
    WIRE_JSON_INT,    /* an integer literal in int64's range: num.i */
    WIRE_JSON_UINT,   /* an integer literal above INT64_MAX within uint64's: num.u */
    WIRE_JSON_DOUBLE, /* any other number: num.d (the nearest double) */
    WIRE_JSON_STRING, /* str, len: the decoded bytes */
    WIRE_JSON_KEY,    /* an object member's name, as STRING; its value comes next */
    WIRE_JSON_ARRAY,
    WIRE_JSON_ARRAY_END,
    WIRE_JSON_OBJECT,
    WIRE_JSON_OBJECT_END,
};

union wire_json_num {
    int64_t i;
    uint64_t u;
    double d;
};

struct wire_json_reader {
    /* The token just read. For numbers str/len is the literal's text in the
     * input; for strings and keys, the decoded bytes, valid until the next call. */
    const char *tok; /* where the token starts in the input */
    const char *str;
    size_t len;
    union wire_json_num num;
    int depth;      /* arrays and objects open around the reader's position */
    bool no_memory; /* the error is running out of memory, not the text */
    /* private */
    const char *start, *p, *end;
    unsigned char state;
    uint64_t in_object[(WIRE_JSON_MAX_DEPTH + 64) / 64]; /* a bit per open level */
    char *scratch;                                       /* decoded strings that held escapes */
    size_t scratch_cap;
    char error[160];
};

/* Reads the len bytes at text (which need no NUL). */
void wire_json_reader_init(struct wire_json_reader *r, const char *text, size_t len);
/* Frees the scratch buffer; the reader can be freed at any point. */
void wire_json_reader_free(struct wire_json_reader *r);
enum wire_json_token wire_json_next(struct wire_json_reader *r);
/* Reads past the rest of the value whose first token (`first`) was just read:
 * nothing more for a scalar, up to the matching end for an array or object. */
enum wire_json_token wire_json_skip(struct wire_json_reader *r, enum wire_json_token first);
/* Where the reader stands: the byte after the last token read. */
size_t wire_json_pos(const struct wire_json_reader *r);
/* "what at byte N (found X)", after WIRE_JSON_ERROR. */
const char *wire_json_error(const struct wire_json_reader *r);
/* Classifies a number literal of len bytes at s (JSON's grammar, already
 * checked) as the reader does: WIRE_JSON_INT, WIRE_JSON_UINT or WIRE_JSON_DOUBLE
 * with *num set; WIRE_JSON_ERROR with num->d 0 when it is beyond a double's
 * range, NaN when memory ran out (literals over 63 bytes are copied). */
enum wire_json_token wire_json_number(const char *s, size_t len, union wire_json_num *num);

/* ---- trees ----------------------------------------------------------------------- */

/* The JSON text as a tree; NULL with err set (TRITON_PROTOCOL and the reader's
 * message, or TRITON_NO_MEMORY). err may be NULL. */
cJSON *wire_json_parse(const char *text, size_t len, struct triton_error *err);
/* The value whose first token (`first`) the reader just read, as a tree; NULL
 * with err set as above. The reader then stands after the value. */
cJSON *wire_json_read_value(struct wire_json_reader *r, enum wire_json_token first,
                            struct triton_error *err);

/* After a WIRE_JSON_KEY token: reads the member's value and appends the member
 * to *object (created when NULL). 0, or -1 with err set as wire_json_read_value
 * sets it (a key holding a zero byte is TRITON_PROTOCOL). */
int wire_json_read_member(struct wire_json_reader *r, cJSON **object, struct triton_error *err);

/* Number nodes that keep every int64 / uint64 exactly; NULL when out of memory. */
cJSON *wire_json_new_int64(int64_t v);
cJSON *wire_json_new_uint64(uint64_t v);
/* A string node of len bytes at s, zero bytes included. */
cJSON *wire_json_new_strn(const char *s, size_t len);

/* True when n is a number holding an integer in the type's range, exactly (a
 * double with a fraction, or beyond the range, is false). */
bool wire_json_get_int64(const cJSON *n, int64_t *out);
bool wire_json_get_uint64(const cJSON *n, uint64_t *out);
/* The same rule for the number token t the reader read (false for any other token). */
bool wire_json_num_uint64(enum wire_json_token t, const union wire_json_num *num, uint64_t *out);
/* A string node's bytes and their length (zero bytes included); NULL when n is
 * not a string. */
const char *wire_json_string(const cJSON *n, size_t *len);

/* The tree as compact JSON text (malloc'd, NUL-terminated), *len its length
 * when len is not NULL. NULL when out of memory, nested deeper than
 * WIRE_JSON_MAX_DEPTH, or holding a NaN or infinity (which JSON cannot hold). */
char *wire_json_print(const cJSON *item, size_t *len);

/* ---- writing --------------------------------------------------------------------- */

/* Long enough for any int64, uint64 or %.17g double plus ".0" and a NUL. */
#define WIRE_JSON_NUM_MAX 32

/* Each writes NUL-terminated text into buf and returns its length. */
size_t wire_json_fmt_int64(char *buf, int64_t v);
size_t wire_json_fmt_uint64(char *buf, uint64_t v);
/* The shortest text that reads back as exactly v (%.17g at worst); with
 * force_fraction an integral value gets ".0" so that it reads as a double.
 * NaN and infinities have no JSON form: returns 0 and writes nothing. */
size_t wire_json_fmt_double(char *buf, double v, bool force_fraction);
/* As above for a float: 9 significant digits are enough to read it back. */
size_t wire_json_fmt_float(char *buf, float v);
/* The double whose text is the float's shortest: 0.1f gives 0.1, not
 * 0.100000001490116 (protobuf's JSON form of a float field). */
double wire_json_float_value(float v);
/* Text of a JSON number (len bytes at s, JSON's grammar) as a double, whatever
 * LC_NUMERIC says: 0, -1 when it is beyond a double's range, -2 when out of
 * memory (for a literal of more than 63 bytes). */
int wire_json_strtod(const char *s, size_t len, double *out);

/* A growable text buffer with a ceiling. The first failure sticks: later
 * appends do nothing and wire_jbuf_failed reports it, so builders check once at
 * the end (as curl's dynbuf does). */
struct wire_jbuf {
    char *data;
    size_t len, cap;
    size_t max; /* ceiling in bytes; 0 = SIZE_MAX */
    bool failed;
};

void wire_jbuf_init(struct wire_jbuf *b, size_t initial, size_t max);
void wire_jbuf_free(struct wire_jbuf *b);
/* Hands the text over (NUL-terminated) and resets b; NULL if b failed. */
char *wire_jbuf_take(struct wire_jbuf *b, size_t *len);
/* Empties b (a zeroed one too) for new text, keeping its buffer: a builder
 * kept from call to call allocates nothing once it is large enough. */
void wire_jbuf_reset(struct wire_jbuf *b);
/* b's text, NUL-terminated, still b's; NULL if b failed. */
const char *wire_jbuf_text(struct wire_jbuf *b);
void wire_jbuf_put(struct wire_jbuf *b, const char *s, size_t n);
void wire_jbuf_puts(struct wire_jbuf *b, const char *s);
void wire_jbuf_putc(struct wire_jbuf *b, char c);
/* A JSON string literal of n bytes at s. '"', '\' and control characters (zero
 * bytes included) are escaped; with check_utf8 invalid UTF-8 returns -1 (the
 * buffer is then in an unspecified state but not failed), else other bytes are
 * passed through. */
int wire_jbuf_string(struct wire_jbuf *b, const char *s, size_t n, bool check_utf8);
/* Word-at-a-time byte tests (below) need the first byte in memory to be the
 * word's lowest. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_JSON_WORDS 1
#else
#define WIRE_JSON_WORDS 0
#endif
#define WIRE_JSON_ONES  0x0101010101010101u
#define WIRE_JSON_HIGHS 0x8080808080808080u

static inline uint64_t wire_json_word(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The length of the run of bytes at s (n bytes) that a JSON string holds as
 * they are: none below 0x20, no '"' and no '\\', and with stop_high none from
 * 0x80 up (the writer checks those as UTF-8). Read a word at a time, since most
 * strings (names, keys) are such a run whole; inline, as it runs per string. */
static inline size_t wire_json_plain_run(const char *s, size_t n, bool stop_high)
{
    size_t i = 0;
#if WIRE_JSON_WORDS
    /* Each term marks the high bit of its first matching byte exactly (a
     * borrow only runs upward from a match, so a false mark never comes
     * first): bytes below 0x20, '"', '\\', and (stop_high) from 0x80 up. */
    const uint64_t ones = WIRE_JSON_ONES, high = stop_high ? WIRE_JSON_HIGHS : 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w = wire_json_word(s + i), q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t hit =
            (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & WIRE_JSON_HIGHS;
        hit |= w & high;
        if (hit)
            return i + (size_t)__builtin_ctzll(hit) / 8;
    }
#endif
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || (stop_high && c >= 0x80))
            break;
    }
    return i;
}
/* The offset of the first byte of s (n bytes) that does not begin a valid
 * UTF-8 sequence (overlong forms and surrogates are invalid), or n when all of
 * it is valid: JSON strings and protobuf string fields must be UTF-8. */
size_t wire_utf8_invalid_at(const char *s, size_t n);
void wire_jbuf_int64(struct wire_jbuf *b, int64_t v);
void wire_jbuf_uint64(struct wire_jbuf *b, uint64_t v);
/* -1 for NaN and infinities (nothing written). */
int wire_jbuf_double(struct wire_jbuf *b, double v, bool force_fraction);
int wire_jbuf_float(struct wire_jbuf *b, float v);
/* Prints a tree into the buffer (see wire_json_print); -1 when it cannot be
 * printed (the buffer is then failed). */
int wire_jbuf_cjson(struct wire_jbuf *b, const cJSON *item);
bool wire_jbuf_failed(const struct wire_jbuf *b);

/* Standard base64 (with padding) of n bytes, NUL-terminated; NULL when out of
 * memory. *out_len (when not NULL) gets its length. */
char *wire_base64(const void *data, size_t n, size_t *out_len);
/* Decodes standard base64 text of n characters (padding required, ASCII
 * whitespace skipped) into out, which holds at least n / 4 * 3 bytes. Returns
 * the bytes written, or -1 on bad text with *why saying what is wrong and *at
 * the 1-based character it is about. */
long long wire_unbase64(const char *text, size_t n, void *out, const char **why, size_t *at);

#endif
