/*
 * check.h: the few assertions the C unit tests need. A failed check prints where
 * and what, and the test carries on so one run shows every failure;
 * check_report() gives the exit status.
 */
#ifndef TRITON_TEST_CHECK_H
#define TRITON_TEST_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static int check_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b,  \
                    check_a_, check_b_);                                                           \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define CHECK_HEX(a, b)                                                                            \
    do {                                                                                           \
        unsigned long long check_a_ = (unsigned long long)(a), check_b_ = (unsigned long long)(b); \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "%s:%d: %s == %s failed: 0x%llx != 0x%llx\n", __FILE__, __LINE__, #a,  \
                    #b, check_a_, check_b_);                                                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* s contains sub (for error messages). */
#define CHECK_CONTAINS(s, sub)                                                                     \
    do {                                                                                           \
        if (!strstr((s), (sub))) {                                                                 \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, (s),    \
                    (sub));                                                                        \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* Two strings are equal (a may be NULL, which fails). */
#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || strcmp(check_a_, check_b_) != 0) {                                        \
            fprintf(stderr, "%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__,                    \
                    check_a_ ? check_a_ : "(null)", check_b_);                                     \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* Two doubles agree within tol. */
#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check_a_ = (a), check_b_ = (b);                                                     \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                               \
            fprintf(stderr, "%s:%d: %s ~= %s failed: %.17g != %.17g\n", __FILE__, __LINE__, #a,    \
                    #b, check_a_, check_b_);                                                       \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* A struct triton_error holds want_code and its message contains part (a success
 * leaves code TRITON_OK, so it fails this check). */
#define CHECK_ERR(err, want_code, part)                                                            \
    do {                                                                                           \
        const struct triton_error *check_e_ = &(err);                                              \
        if (check_e_->code != (want_code) || !strstr(check_e_->message, (part))) {                 \
            fprintf(stderr, "%s:%d: error %s '%s', want %s containing '%s'\n", __FILE__, __LINE__, \
                    triton_code_word(check_e_->code), check_e_->message,                           \
                    triton_code_word(want_code), (part));                                          \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

static inline int check_report(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
