/*
 * secret.h: which header (HTTP) or metadata (gRPC) names carry credentials, and
 * how a URL with a password in it is shown. Both transports' verbose logs
 * print "[redacted]" for these; one rule here so that the two logs (and the
 * Lua side's tostring) can never disagree about what is secret.
 */
#ifndef TRITON_SECRET_H
#define TRITON_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* True when the name (len bytes, any case) contains "authorization" (also
 * Proxy-Authorization), "cookie" (also Set-Cookie), "token", "key", "secret",
 * "password" or "credential". */
bool triton_header_is_secret(const char *name, size_t len);

/* A malloc'd copy of url to show to people (verbose logs, tostring, errors):
 * userinfo ("user:password@", which curl turns into Basic authentication)
 * becomes "[redacted]@". NULL when out of memory. */
char *triton_url_redacted(const char *url);

#endif
