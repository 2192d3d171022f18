/*
 * secret.h: which header (HTTP) or metadata (gRPC) names carry credentials.
 * Both transports' verbose logs print "[redacted]" for their values; one rule
 * here so that the two logs can never disagree about what is secret.
 */
#ifndef TRITON_SECRET_H
#define TRITON_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* True when the name (len bytes, any case) contains "authorization" (also
 * Proxy-Authorization), "cookie" (also Set-Cookie), "token", "key", "secret",
 * "password" or "credential". */
bool triton_header_is_secret(const char *name, size_t len);

#endif
