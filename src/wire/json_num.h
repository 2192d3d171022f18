/*
 * json_num.h: writing JSON text ourselves where cJSON would lose information.
 *
 * cJSON keeps numbers as doubles and prints a double that happens to be integral
 * as an integer, so 1.0 goes out as `1` (which Triton reads as an int64
 * parameter, not a double) and INT64/UINT64 values beyond 2^53 are rounded. The
 * infer request therefore is written with this small builder, which emits
 * integers from int64/uint64 exactly and doubles with a decimal point, and
 * writes strings from (pointer, length) so that they may hold any byte the JSON
 * escapes allow. wire_json_raw_* make cJSON nodes that print the same text, for
 * bodies that are otherwise built as cJSON trees.
 */
#ifndef TRITON_WIRE_JSON_NUM_H
#define TRITON_WIRE_JSON_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/error.h"

/* Long enough for any int64, uint64 or %.17g double plus ".0" and a NUL. */
#define WIRE_JSON_NUM_MAX 32

/* Each writes NUL-terminated text into buf and returns its length. */
size_t wire_json_fmt_int64(char *buf, int64_t v);
size_t wire_json_fmt_uint64(char *buf, uint64_t v);
/* The shortest text that reads back as exactly v (%.17g at worst); with
 * force_fraction an integral value gets ".0" so that it parses as a double.
 * NaN and infinities have no JSON form: returns 0 and writes nothing. */
size_t wire_json_fmt_double(char *buf, double v, bool force_fraction);
/* As above for a float: 9 significant digits are enough to read it back. */
size_t wire_json_fmt_float(char *buf, float v);

/* cJSON nodes that print exactly (cJSON_CreateRaw); NULL when out of memory or
 * (for doubles) not finite. */
cJSON *wire_json_raw_int64(int64_t v);
cJSON *wire_json_raw_uint64(uint64_t v);
cJSON *wire_json_raw_double(double v);

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
void wire_jbuf_put(struct wire_jbuf *b, const char *s, size_t n);
void wire_jbuf_puts(struct wire_jbuf *b, const char *s);
void wire_jbuf_putc(struct wire_jbuf *b, char c);
/* A JSON string literal of n bytes at s. Control characters and zero bytes are
 * escaped; with check_utf8 invalid UTF-8 returns -1 (the buffer is then in an
 * unspecified state but not failed), else bytes are passed through. */
int wire_jbuf_string(struct wire_jbuf *b, const char *s, size_t n, bool check_utf8);
void wire_jbuf_int64(struct wire_jbuf *b, int64_t v);
void wire_jbuf_uint64(struct wire_jbuf *b, uint64_t v);
/* -1 for NaN and infinities (nothing written). */
int wire_jbuf_double(struct wire_jbuf *b, double v, bool force_fraction);
int wire_jbuf_float(struct wire_jbuf *b, float v);
/* Prints a cJSON tree into the buffer. */
void wire_jbuf_cjson(struct wire_jbuf *b, const cJSON *item);
bool wire_jbuf_failed(const struct wire_jbuf *b);

/* Reading JSON string escapes, for the two places that decode strings
 * themselves (triton.json.decode, and NUL-bearing strings of infer replies). */
/* The value of the 4 hex digits at p (avail bytes there), -1 if they are not. */
int wire_json_hex4(const char *p, size_t avail);
/* The offset of the first byte of s (n bytes) that does not begin a valid
 * UTF-8 sequence (overlong forms and surrogates are invalid), or n when all of
 * it is valid: JSON strings and protobuf string fields must be UTF-8. */
size_t wire_utf8_invalid_at(const char *s, size_t n);
/* Writes code point cp (at most 0x10FFFF) as UTF-8 into out; returns its length. */
size_t wire_utf8_encode(unsigned long cp, char out[4]);

/* Standard base64 (with padding) of n bytes; NULL when out of memory. */
char *wire_base64(const void *data, size_t n, size_t *out_len);

#endif
