/*
 * fuzz_classification.c: the classification-string parser
 * (wire/classification.h) over elements a hostile server could send. The bytes
 * are used as one element (no NUL; ASan catches a read past the end), and a
 * parse that succeeds must point its label inside the element and agree with
 * the element's text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "wire/classification.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private block of exactly size bytes, so a read past the end is a report */
    char *s = calloc(1, size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    struct wire_classification c;
    struct triton_error err = {0};
    if (wire_classification_parse(s, size, &c, &err) < 0) {
        if (err.code != TRITON_PROTOCOL || !strstr(err.message, "classification result"))
            fuzz_fail("unexpected failure: %s", err.message);
        free(s);
        return 0;
    }
    const char *colon = memchr(s, ':', size);
    if (!colon || colon == s)
        fuzz_fail("parsed an element whose score is empty");
    if (c.label) {
        if (c.label <= colon || c.label > s + size || c.label_len != (size_t)(s + size - c.label) ||
            c.label[-1] != ':')
            fuzz_fail("label outside its element");
        volatile char last = c.label_len ? c.label[c.label_len - 1] : 0;
        (void)last;
    } else if (c.label_len != 0) {
        fuzz_fail("label_len %zu without a label", c.label_len);
    }
    /* the index is the decimal text between the first two colons */
    const char *p = colon + 1, *end = c.label ? c.label - 1 : s + size;
    int64_t index = 0;
    bool neg = p < end && *p == '-';
    for (p += neg; p < end; p++)
        index = index * 10 + (*p - '0');
    if ((neg ? -index : index) != c.index)
        fuzz_fail("index %lld does not match the text", (long long)c.index);
    free(s);
    return 0;
}
