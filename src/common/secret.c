/*
 * secret.c: see secret.h.
 */
#include "common/secret.h"

#include <stdio.h>
#include <stdlib.h>
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

char *triton_url_redacted(const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    /* Redact up to the last '@' before the path, so that a password with a
     * raw '@' in it is hidden whole, however a parser would split it. */
    size_t authority = strcspn(host, "/?#");
    const char *at = memrchr(host, '@', authority);
    if (!at)
        return strdup(url);
    size_t n = (size_t)(host - url) + strlen("[redacted]") + strlen(at) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%.*s[redacted]%s", (int)(host - url), url, at);
    return s;
}
