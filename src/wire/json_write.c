/*
 * json_write.c: the JSON writer of json.h: number text, the bounded text
 * buffer, string literals with one escape table, and base64.
 */
#include "wire/json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t wire_json_fmt_uint64(char *buf, uint64_t v)
{
    char tmp[WIRE_JSON_NUM_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

size_t wire_json_fmt_int64(char *buf, int64_t v)
{
    if (v >= 0)
        return wire_json_fmt_uint64(buf, (uint64_t)v);
    buf[0] = '-';
    /* -(v + 1) + 1 avoids negating INT64_MIN */
    return 1 + wire_json_fmt_uint64(buf + 1, (uint64_t)(-(v + 1)) + 1);
}

/* printf follows LC_NUMERIC; JSON always wants a '.', whatever the host set. */
static void fix_decimal_point(char *buf)
{
    char dp = localeconv()->decimal_point[0];
    if (dp == '.' || dp == '\0')
        return;
    for (char *p = buf; *p; p++)
        if (*p == dp)
            *p = '.';
}

static size_t finish_number(char *buf, int n, bool force_fraction)
{
    fix_decimal_point(buf);
    if (force_fraction && !strpbrk(buf, ".eE")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

size_t wire_json_fmt_double(char *buf, double v, bool force_fraction)
{
    if (!isfinite(v))
        return 0;
    int n = 0;
    /* Shortest of 15..17 significant digits that reads back as v. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, WIRE_JSON_NUM_MAX - 3, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    return finish_number(buf, n, force_fraction);
}

size_t wire_json_fmt_float(char *buf, float v)
{
    if (!isfinite(v))
        return 0;
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, WIRE_JSON_NUM_MAX - 3, "%.*g", prec, (double)v);
        if (prec == 9 || strtof(buf, NULL) == v)
            break;
    }
    return finish_number(buf, n, false);
}

double wire_json_float_value(float v)
{
    char buf[WIRE_JSON_NUM_MAX];
    size_t n = wire_json_fmt_float(buf, v);
    double d;
    if (!n || wire_json_strtod(buf, n, &d) < 0)
        return (double)v; /* NaN and infinities stand for themselves */
    return d;
}

int wire_json_strtod(const char *s, size_t len, double *out)
{
    char small[64];
    char *text = len < sizeof small ? small : malloc(len + 1);
    if (!text)
        return -2;
    memcpy(text, s, len);
    text[len] = '\0';
    /* strtod follows LC_NUMERIC; JSON's decimal point is always '.' */
    char dp = localeconv()->decimal_point[0];
    if (dp != '.' && dp != '\0') {
        char *point = memchr(text, '.', len);
        if (point)
            *point = dp;
    }
    double d = strtod(text, NULL);
    if (text != small)
        free(text);
    if (isinf(d))
        return -1;
    *out = d;
    return 0;
}

/* ---- the text buffer ------------------------------------------------------------- */

void wire_jbuf_init(struct wire_jbuf *b, size_t initial, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : SIZE_MAX;
    if (initial) {
        b->data = malloc(initial);
        if (b->data)
            b->cap = initial;
    }
}

void wire_jbuf_free(struct wire_jbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

bool wire_jbuf_failed(const struct wire_jbuf *b)
{
    return b->failed;
}

/* Makes room for n more bytes plus a NUL; false (and failed) if it cannot. */
static bool reserve(struct wire_jbuf *b, size_t n)
{
    if (b->failed)
        return false;
    /* len + n + 1 <= max, written so that nothing overflows (len < max always) */
    if (n >= b->max - b->len) {
        b->failed = true;
        return false;
    }
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->failed = true;
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

char *wire_jbuf_take(struct wire_jbuf *b, size_t *len)
{
    if (b->failed || !reserve(b, 0)) {
        wire_jbuf_free(b);
        return NULL;
    }
    b->data[b->len] = '\0';
    char *s = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void wire_jbuf_reset(struct wire_jbuf *b)
{
    b->len = 0;
    b->failed = false;
    if (!b->max)
        b->max = SIZE_MAX;
}

const char *wire_jbuf_text(struct wire_jbuf *b)
{
    if (!reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void wire_jbuf_put(struct wire_jbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void wire_jbuf_puts(struct wire_jbuf *b, const char *s)
{
    wire_jbuf_put(b, s, strlen(s));
}

void wire_jbuf_putc(struct wire_jbuf *b, char c)
{
    if (!reserve(b, 1))
        return;
    b->data[b->len++] = c;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t wire_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (;;) { /* ASCII runs a word, then a byte, at a time; the rest by sequence */
#if WIRE_JSON_WORDS
        while (n - i >= 8 && !(wire_json_word(s + i) & WIRE_JSON_HIGHS))
            i += 8;
#endif
        while (i < n && p[i] < 0x80)
            i++;
        if (i == n)
            return n;
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
}

/* The escape of each byte that needs one: its letter after '\', or 'u' for
 * \u00XX. The reader (json_read.c) decodes the same letters. */
static const char escapes[128] = {
    ['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
    ['\t'] = 't', [0x00] = 'u',  [0x01] = 'u', [0x02] = 'u', [0x03] = 'u', [0x04] = 'u',
    [0x05] = 'u', [0x06] = 'u',  [0x07] = 'u', [0x0B] = 'u', [0x0E] = 'u', [0x0F] = 'u',
    [0x10] = 'u', [0x11] = 'u',  [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',
    [0x16] = 'u', [0x17] = 'u',  [0x18] = 'u', [0x19] = 'u', [0x1A] = 'u', [0x1B] = 'u',
    [0x1C] = 'u', [0x1D] = 'u',  [0x1E] = 'u', [0x1F] = 'u',
};

static void put_escape(struct wire_jbuf *b, unsigned c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', escapes[c], '0', '0', hex[c >> 4], hex[c & 15]};
    wire_jbuf_put(b, esc, esc[1] == 'u' ? 6 : 2);
}

int wire_jbuf_string(struct wire_jbuf *b, const char *s, size_t n, bool check_utf8)
{
    const unsigned char *p = (const unsigned char *)s;
    wire_jbuf_putc(b, '"');
    size_t from = 0; /* bytes at p[from .. i) need no escaping */
    for (size_t i = 0; i < n;) {
        i += wire_json_plain_run(s + i, n - i, check_utf8);
        if (i == n)
            break;
        unsigned c = p[i];
        if (c >= 0x80) { /* only when checking */
            size_t k = utf8_seq(p + i, n - i);
            if (!k)
                return -1;
            i += k;
            continue;
        }
        wire_jbuf_put(b, s + from, i - from);
        put_escape(b, c);
        from = ++i;
    }
    wire_jbuf_put(b, s + from, n - from);
    wire_jbuf_putc(b, '"');
    return 0;
}

void wire_jbuf_int64(struct wire_jbuf *b, int64_t v)
{
    char buf[WIRE_JSON_NUM_MAX];
    wire_jbuf_put(b, buf, wire_json_fmt_int64(buf, v));
}

void wire_jbuf_uint64(struct wire_jbuf *b, uint64_t v)
{
    char buf[WIRE_JSON_NUM_MAX];
    wire_jbuf_put(b, buf, wire_json_fmt_uint64(buf, v));
}

int wire_jbuf_double(struct wire_jbuf *b, double v, bool force_fraction)
{
    char buf[WIRE_JSON_NUM_MAX];
    size_t n = wire_json_fmt_double(buf, v, force_fraction);
    if (!n)
        return -1;
    wire_jbuf_put(b, buf, n);
    return 0;
}

int wire_jbuf_float(struct wire_jbuf *b, float v)
{
    char buf[WIRE_JSON_NUM_MAX];
    size_t n = wire_json_fmt_float(buf, v);
    if (!n)
        return -1;
    wire_jbuf_put(b, buf, n);
    return 0;
}

static const char base64_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *wire_base64(const void *data, size_t n, size_t *out_len)
{
    const char *tab = base64_tab;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t len = (n + 2) / 3 * 4;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    const unsigned char *p = data;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

/* The 6-bit value of base64 character c; -1 for '=' and anything else. */
static int base64_value(unsigned char c)
{
    const char *p = c ? memchr(base64_tab, c, sizeof base64_tab - 1) : NULL;
    return p ? (int)(p - base64_tab) : -1;
}

static bool base64_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Decodes one group of 4 characters (q) into out; the bytes written, or -1
 * with *bad the index in q of the character at fault and *why what is wrong. */
static int base64_group(const unsigned char q[4], unsigned char *out, int *bad, const char **why)
{
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
        v[k] = base64_value(q[k]);
        if (q[k] == '=' && k >= 2) {
            pad++;
            v[k] = 0;
            continue;
        }
        if (v[k] >= 0 && pad == 0)
            continue;
        *bad = v[k] >= 0 ? k - 1 : k;
        *why = v[k] >= 0 || q[k] == '=' ? "'=' padding before the end of a group of 4"
                                        : "not a base64 character";
        return -1;
    }
    uint32_t bits =
        (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    out[0] = (unsigned char)(bits >> 16);
    out[1] = (unsigned char)(bits >> 8);
    out[2] = (unsigned char)bits;
    return 3 - pad;
}

long long wire_unbase64(const char *text, size_t n, void *out, const char **why, size_t *at)
{
    unsigned char q[4], *dst = out;
    size_t pos[4], o = 0;
    int k = 0;
    bool ended = false; /* a group with padding was the last one */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (base64_space(c))
            continue;
        if (ended) {
            *why = "text after the final '=' padding";
            *at = i + 1;
            return -1;
        }
        q[k] = c;
        pos[k++] = i + 1;
        if (k < 4)
            continue;
        int bad = 0, got = base64_group(q, dst + o, &bad, why);
        if (got < 0) {
            *at = pos[bad];
            return -1;
        }
        o += (size_t)got;
        ended = got < 3;
        k = 0;
    }
    if (k != 0) {
        *why = "the text ends inside a group of 4 characters";
        *at = n;
        return -1;
    }
    return (long long)o;
}
