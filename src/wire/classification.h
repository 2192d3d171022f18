/*
 * classification.h: Triton's classification extension answers a requested
 * output with `class_count` set by a BYTES tensor whose elements read
 * "<score>:<index>[:<label>]" (score printed by std::to_string, e.g.
 * "3.300000:1:label"). Both transports deliver those strings the same way, so
 * the binding turns them into values with this one parser.
 */
#ifndef TRITON_WIRE_CLASSIFICATION_H
#define TRITON_WIRE_CLASSIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct wire_classification {
    double score;
    int64_t index;     /* as the server sent it (0-based class index) */
    const char *label; /* points into the parsed string; NULL when there is none */
    size_t label_len;  /* the label may itself contain ':' */
};

/* Parses the n bytes at s (no NUL needed). Fails with TRITON_PROTOCOL and a
 * message quoting the element when it is not of that form. */
int wire_classification_parse(const char *s, size_t n, struct wire_classification *out,
                              struct triton_error *err);

#endif
