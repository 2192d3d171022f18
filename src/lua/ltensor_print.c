/*
 * ltensor_print.c: tostring(t), as numpy prints arrays (numpy 1.24's
 * arrayprint.py with its defaults: precision 8, floatmode "maxprec", more than
 * 1000 items abbreviated to 3 at each end of every dim).
 *
 * Floats follow numpy's FloatingFormat. Over the elements shown, if the largest
 * finite |x| is >= 1e8, or the smallest nonzero one is < 1e-4, or their ratio
 * is > 1000, every element is written in scientific notation, else positional.
 * Each value is written with the fewest digits that read back as the same value
 * of its own dtype (an FP32 0.1 is 0.1), at most 8 after the point, trailing
 * zeros dropped but the point kept ("10."). Then all are aligned on the point:
 * positional integer parts padded left and fractions right with spaces
 * ("[ 10.,  20., 100.]", "[0.1, 1.5, 2. ]"); scientific fractions padded with
 * zeros to the longest and exponents to the widest ("[1.5e-05, 1.0e+00]"). nan,
 * inf and -inf are right-aligned in the same width.
 * Integers are right-aligned; booleans print as Lua's true/false.
 * Rows wrap as numpy's do: an element that would pass column 74 (less one per
 * level of nesting) goes on a new line under the first; ", dtype=..." goes on a
 * line of its own when it would pass column 75.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/ltensor.h"
#include "tensor/ops.h"

#define PRINT_THRESHOLD  1000 /* numpy's: more items than this are abbreviated */
#define PRINT_EDGE       3    /* items shown at each end of an abbreviated dim */
#define PRINT_MAX_STRING 64   /* bytes of a BYTES element shown before "..." */
#define PRINT_PRECISION  8    /* numpy's: digits after the point, at most */
#define PRINT_LINEWIDTH  75   /* numpy's */
#define PRINT_PREFIX     "tensor("

/* The passes over the elements shown: the range of the floats (to choose
 * scientific or positional), the widths of their parts, then the printing. */
enum pass { PASS_RANGE, PASS_WIDTH, PASS_PRINT };

struct printer {
    const struct tensor *t;
    bool summarize;
    enum pass pass;
    luaL_Buffer *b; /* PASS_PRINT only */
    int col;        /* PASS_PRINT: length of the line being written */
    int width;      /* non-floats: the widest element, for right alignment */
    /* floats */
    double max_abs, min_abs; /* over finite nonzero elements */
    bool finite, nonfinite, neginf;
    bool sci;
    int pad_left;  /* widest integer part (sign included) */
    int pad_right; /* positional: widest fraction; scientific: digits after the point */
    int exp_digits;
};

/* A float split for printing: sign, the digits before and after the point and,
 * in scientific notation, the exponent. */
struct parts {
    bool neg;
    char ipart[32], fpart[32];
    int exp;
};

/* Whether text reads back as the value d of dtype dt. */
static bool reads_back(enum tensor_dtype dt, const char *text, double d)
{
    double back = strtod(text, NULL);
    switch (dt) {
    case TENSOR_FP64:
        return back == d;
    case TENSOR_FP32:
        return tensor_f64_to_f32(back) == (float)d;
    case TENSOR_FP16:
        return tensor_f64_to_f16(back) == tensor_f64_to_f16(d);
    default:
        return tensor_f64_to_bf16(back) == tensor_f64_to_bf16(d);
    }
}

/* Splits "123.4500" at the point into ipart and fpart, trailing zeros dropped. */
static void split_point(const char *s, struct parts *p)
{
    const char *dot = strchr(s, '.');
    size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
    snprintf(p->ipart, sizeof p->ipart, "%.*s", (int)ilen, s);
    snprintf(p->fpart, sizeof p->fpart, "%s", dot ? dot + 1 : "");
    size_t n = strlen(p->fpart);
    while (n > 0 && p->fpart[n - 1] == '0')
        p->fpart[--n] = '\0';
}

/* Positional: the integer part exact, the fraction the shortest that reads back,
 * at most PRINT_PRECISION digits (rounded). */
static void positional(enum tensor_dtype dt, double a, struct parts *p)
{
    char s[512];
    int digits = 0;
    for (; digits < PRINT_PRECISION; digits++) {
        snprintf(s, sizeof s, "%.*f", digits, a);
        if (reads_back(dt, s, a))
            break;
    }
    snprintf(s, sizeof s, "%.*f", digits, a);
    split_point(s, p);
}

/* Scientific: the fewest significant digits that read back, at most
 * PRINT_PRECISION + 1. */
static void scientific(enum tensor_dtype dt, double a, struct parts *p)
{
    char s[64];
    int digits = 1;
    for (; digits <= PRINT_PRECISION; digits++) {
        snprintf(s, sizeof s, "%.*e", digits - 1, a);
        if (reads_back(dt, s, a))
            break;
    }
    snprintf(s, sizeof s, "%.*e", digits - 1, a);
    char *e = strchr(s, 'e');
    p->exp = atoi(e + 1);
    *e = '\0';
    split_point(s, p);
}

static void float_parts(const struct printer *pr, double d, struct parts *p)
{
    p->neg = signbit(d);
    if (pr->sci)
        scientific(pr->t->dtype, fabs(d), p);
    else
        positional(pr->t->dtype, fabs(d), p);
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Formats one float as the passes have measured them. */
static int format_float(char *out, size_t cap, const struct printer *pr, double d)
{
    int total = pr->pad_left + 1 + pr->pad_right;
    if (!isfinite(d)) {
        const char *s = isnan(d) ? "nan" : d < 0 ? "-inf" : "inf";
        return snprintf(out, cap, "%*s", total, s);
    }
    struct parts p;
    float_parts(pr, d, &p);
    char ip[40];
    snprintf(ip, sizeof ip, "%s%s", p.neg ? "-" : "", p.ipart);
    if (!pr->sci)
        return snprintf(out, cap, "%*s.%-*s", pr->pad_left, ip, pr->pad_right, p.fpart);
    int frac = pr->pad_right - pr->exp_digits - 2; /* the digits after the point */
    return snprintf(out, cap, "%*s.%s%.*se%c%0*d", pr->pad_left, ip, p.fpart,
                    imax(0, frac - (int)strlen(p.fpart)), "00000000", p.exp < 0 ? '-' : '+',
                    pr->exp_digits, abs(p.exp));
}

/* Takes one float into the measures of the current pass. */
static void measure_float(struct printer *pr, double d)
{
    if (!isfinite(d)) {
        pr->nonfinite = true;
        pr->neginf = pr->neginf || (isinf(d) && d < 0);
        return;
    }
    if (pr->pass == PASS_RANGE) {
        double a = fabs(d);
        if (a != 0) {
            pr->max_abs = fmax(pr->max_abs, a);
            pr->min_abs = pr->finite && pr->min_abs != 0 ? fmin(pr->min_abs, a) : a;
        }
        pr->finite = true;
        return;
    }
    struct parts p;
    float_parts(pr, d, &p);
    pr->pad_left = imax(pr->pad_left, (int)strlen(p.ipart) + p.neg);
    pr->pad_right = imax(pr->pad_right, (int)strlen(p.fpart));
    if (pr->sci) {
        char e[16];
        pr->exp_digits = imax(pr->exp_digits, snprintf(e, sizeof e, "%d", abs(p.exp)));
    }
}

/* After PASS_RANGE: numpy's choice of notation. */
static void choose_notation(struct printer *pr)
{
    pr->sci = pr->max_abs >= 1e8 ||
              (pr->min_abs != 0 && (pr->min_abs < 1e-4 || pr->max_abs / pr->min_abs > 1e3));
    pr->exp_digits = pr->sci ? 2 : 0;
}

/* After PASS_WIDTH: the widths every float is printed in. */
static void settle_widths(struct printer *pr)
{
    if (pr->sci)
        pr->pad_right += pr->exp_digits + 2; /* "e+05": numpy counts it in for nan */
    if (pr->nonfinite) {
        int room = pr->pad_right + 1;
        pr->pad_left = imax(pr->pad_left, imax(3 - room, 3 + pr->neginf - room));
    }
    if (!pr->finite && !pr->nonfinite)
        pr->pad_left = 1;
}

static int format_bytes(char *out, size_t cap, const struct tensor_str *s)
{
    size_t shown = s->len < PRINT_MAX_STRING ? s->len : PRINT_MAX_STRING;
    int n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        if (c == '"' || c == '\\')
            n += snprintf(out + n, cap - (size_t)n, "\\%c", c);
        else if (c == '\n')
            n += snprintf(out + n, cap - (size_t)n, "\\n");
        else if (c < 32 || c >= 127)
            n += snprintf(out + n, cap - (size_t)n, "\\x%02x", c);
        else
            out[n++] = (char)c;
    }
    return n + snprintf(out + n, cap - (size_t)n, "%s\"", shown < s->len ? "..." : "");
}

/* Formats one non-float element into out (NUL-terminated), returns its length. */
static int format_other(char *out, size_t cap, enum tensor_dtype dt, const void *p)
{
    switch (dt) {
    case TENSOR_BOOL:
        return snprintf(out, cap, "%s", *(const uint8_t *)p ? "true" : "false");
    case TENSOR_UINT64:
        return snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)p);
    case TENSOR_BYTES:
        return format_bytes(out, cap, p);
    default:
        return snprintf(out, cap, "%lld", (long long)tensor_get_i64(dt, p));
    }
}

/* Measures the element at p (the passes before PASS_PRINT). */
static void measure_elem(struct printer *pr, const void *p)
{
    enum tensor_dtype dt = pr->t->dtype;
    char buf[PRINT_MAX_STRING * 4 + 16];
    if (tensor_dtype_is_float(dt))
        measure_float(pr, tensor_get_f64(dt, p));
    else
        pr->width = imax(pr->width, format_other(buf, sizeof buf, dt, p));
}

/* Formats the element at p as printed, padded to the common width. */
static int format_elem(const struct printer *pr, const void *p, char *out, size_t cap)
{
    enum tensor_dtype dt = pr->t->dtype;
    if (tensor_dtype_is_float(dt))
        return format_float(out, cap, pr, tensor_get_f64(dt, p));
    char buf[PRINT_MAX_STRING * 4 + 16];
    int n = format_other(buf, sizeof buf, dt, p);
    return snprintf(out, cap, "%*s", imax(n, pr->width), buf);
}

/* Appends n bytes of s, keeping the column. */
static void emit(struct printer *pr, const char *s, size_t n)
{
    luaL_addlstring(pr->b, s, n);
    for (size_t i = 0; i < n; i++)
        pr->col = s[i] == '\n' ? 0 : pr->col + 1;
}

static void emit_spaces(struct printer *pr, int n)
{
    for (int i = 0; i < n; i++)
        emit(pr, " ", 1);
}

/* Places an item of the last dim (at depth): ", " before all but the first, and
 * a new line when it would pass the row's width, as numpy's _extendLine does. */
static void place_item(struct printer *pr, int depth, bool first, const char *word, int n)
{
    int hang = (int)sizeof PRINT_PREFIX - 1 + depth + 1; /* under the first item */
    int width = PRINT_LINEWIDTH - 1 - depth - 1;         /* less "," after, one "]" per level */
    if (!first) {
        emit(pr, ",", 1);
        if (pr->col + 1 + n > width && pr->col + 1 > hang) {
            emit(pr, "\n", 1);
            emit_spaces(pr, hang);
        } else {
            emit(pr, " ", 1);
        }
    }
    emit(pr, word, (size_t)n);
}

/* Between rows of a dim above the last: a comma, a newline (one more per level
 * below, as numpy separates blocks) and the indentation of the next row. */
static void row_separator(struct printer *pr, int depth)
{
    emit(pr, ",", 1);
    for (int k = depth; k < pr->t->ndim - 1; k++)
        emit(pr, "\n", 1);
    emit_spaces(pr, (int)sizeof PRINT_PREFIX - 1 + depth + 1);
}

/* Visits the shown elements (first and last PRINT_EDGE of each dim when
 * summarizing), measuring or printing as pr->pass says. */
static void print_dim(struct printer *pr, int depth, int64_t off)
{
    const struct tensor *t = pr->t;
    size_t esize = tensor_dtype_elem_size(t->dtype);
    char word[PRINT_MAX_STRING * 4 + 600];
    bool printing = pr->pass == PASS_PRINT;
    if (depth == t->ndim) { /* a 0-d tensor, or an element while measuring */
        const void *p = (char *)t->buf->data + off * (int64_t)esize;
        if (printing)
            emit(pr, word, (size_t)format_elem(pr, p, word, sizeof word));
        else
            measure_elem(pr, p);
        return;
    }
    bool last = depth == t->ndim - 1;
    int64_t n = t->shape[depth];
    bool cut = pr->summarize && n > 2 * PRINT_EDGE;
    if (printing)
        emit(pr, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == PRINT_EDGE) {
            if (printing && last) {
                place_item(pr, depth, false, "...", 3);
            } else if (printing) {
                row_separator(pr, depth);
                emit(pr, "...", 3);
            }
            i = n - PRINT_EDGE;
        }
        int64_t at = off + i * t->strides[depth];
        if (!printing || !last) {
            if (printing && i > 0)
                row_separator(pr, depth);
            print_dim(pr, depth + 1, at);
            continue;
        }
        const void *p = (char *)t->buf->data + at * (int64_t)esize;
        place_item(pr, depth, i == 0, word, format_elem(pr, p, word, sizeof word));
    }
    if (printing)
        emit(pr, "]", 1);
}

/* The items printing t in full would show: its elements, or for an empty
 * tensor its innermost empty rows, each a "[]". Counting elements alone, a
 * shape such as {1e8, 0} (which a server can send) would print 1e8 rows in full. */
static int64_t print_items(const struct tensor *t)
{
    int64_t items = 1;
    for (int d = 0; d < t->ndim && t->shape[d] != 0; d++) {
        if (t->shape[d] > INT64_MAX / items)
            return INT64_MAX;
        items *= t->shape[d];
    }
    return items;
}

int ltensor_tostring(lua_State *L)
{
    if (!ltensor_is_open(L, 1)) {
        lua_pushliteral(L, "tensor(closed)");
        return 1;
    }
    struct tensor *t = ltensor_check(L, 1);
    luaL_Buffer b;
    struct printer pr = {.t = t, .summarize = print_items(t) > PRINT_THRESHOLD};
    luaL_checkstack(L, 8, NULL);
    if (tensor_dtype_is_float(t->dtype)) {
        print_dim(&pr, 0, t->offset);
        choose_notation(&pr);
    }
    pr.pass = PASS_WIDTH;
    print_dim(&pr, 0, t->offset);
    settle_widths(&pr);
    pr.pass = PASS_PRINT;
    pr.b = &b;
    luaL_buffinit(L, &b);
    emit(&pr, PRINT_PREFIX, sizeof PRINT_PREFIX - 1);
    print_dim(&pr, 0, t->offset);
    if (tensor_numel(t) == 0 && t->ndim != 1) {
        emit(&pr, ", shape=", 8);
        ltensor_push_shape_string(L, t);
        size_t len;
        lua_tolstring(L, -1, &len);
        pr.col += (int)len;
        luaL_addvalue(&b);
    }
    char dtype[32];
    int n = snprintf(dtype, sizeof dtype, "dtype=%s)", tensor_dtype_name(t->dtype));
    emit(&pr, ",", 1);
    if (pr.col + 1 + n > PRINT_LINEWIDTH) { /* numpy puts the dtype on a line of its own */
        emit(&pr, "\n", 1);
        emit_spaces(&pr, (int)sizeof PRINT_PREFIX - 1);
    } else {
        emit(&pr, " ", 1);
    }
    emit(&pr, dtype, (size_t)n);
    luaL_pushresult(&b);
    return 1;
}
