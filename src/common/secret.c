/*
 * secret.c: see secret.h.
 */
#include "common/secret.h"

#include <string.h>
#include <strings.h>

static bool contains_ci(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(s + i, word, w) == 0)
            return true;
    return false;
}

bool triton_header_is_secret(const char *name, size_t len)
{
    static const char *const words[] = {"authorization", "cookie",   "token",     "key",
                                        "secret",        "password", "credential"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (contains_ci(name, len, words[i]))
            return true;
    return false;
}
