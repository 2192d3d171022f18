/*
 * classification.c: see classification.h.
 */
#include "wire/classification.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Quotes at most 40 bytes of a hostile element in messages. */
#define QUOTE_MAX 40

static int bad(struct triton_error *err, const char *s, size_t n, const char *why)
{
    int shown = n > QUOTE_MAX ? QUOTE_MAX : (int)n;
    return triton_fail(err, TRITON_PROTOCOL,
                       "classification result '%.*s%s' is not 'score:index[:label]': %s", shown, s,
                       n > QUOTE_MAX ? "..." : "", why);
}

int wire_classification_parse(const char *s, size_t n, struct wire_classification *out,
                              struct triton_error *err)
{
    const char *c1 = memchr(s, ':', n);
    if (!c1)
        return bad(err, s, n, "no ':'");
    size_t score_len = (size_t)(c1 - s);
    /* strtod needs a NUL; any real score fits (std::to_string of a huge float is
     * about 40 digits), so a longer one is malformed anyway. */
    char num[64];
    if (score_len == 0 || score_len >= sizeof(num))
        return bad(err, s, n, "bad score");
    memcpy(num, s, score_len);
    num[score_len] = '\0';
    char *end;
    double score = strtod(num, &end);
    if (*end != '\0' || isspace((unsigned char)num[0]))
        return bad(err, s, n, "bad score");

    const char *p = c1 + 1, *stop = s + n;
    const char *c2 = memchr(p, ':', (size_t)(stop - p));
    const char *index_end = c2 ? c2 : stop;
    if (p == index_end)
        return bad(err, s, n, "missing index");
    bool negative = *p == '-';
    if (negative && ++p == index_end)
        return bad(err, s, n, "bad index");
    uint64_t index = 0;
    for (; p < index_end; p++) {
        if (*p < '0' || *p > '9')
            return bad(err, s, n, "bad index");
        unsigned digit = (unsigned)(*p - '0');
        if (index > ((uint64_t)INT64_MAX - digit) / 10)
            return bad(err, s, n, "index out of range");
        index = index * 10 + digit;
    }
    out->score = score;
    out->index = negative ? -(int64_t)index : (int64_t)index;
    if (c2) {
        out->label = c2 + 1;
        out->label_len = (size_t)(stop - (c2 + 1));
    } else {
        out->label = NULL;
        out->label_len = 0;
    }
    return 0;
}
