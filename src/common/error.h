/*
 * error.h: how the plain-C core reports failure.
 * Every fallible core function returns 0 on success or -1 on failure and fills a
 * caller-provided struct triton_error (which may be NULL when the caller does not
 * care). The first error set wins, as curl's Curl_failf keeps the first message:
 * later, vaguer failures on the way up do not overwrite the precise cause.
 * `code` is the transport-neutral word the Lua layer exposes as err.code.
 */
#ifndef TRITON_ERROR_H
#define TRITON_ERROR_H

#include <stddef.h>

#define TRITON_ERROR_CODES(X)                                                                      \
    X(OK, "ok")                                                                                    \
    X(INVALID_ARGUMENT, "invalid_argument")                                                        \
    X(OUT_OF_RANGE, "out_of_range")                                                                \
    X(NO_MEMORY, "resource_exhausted")                                                             \
    X(NOT_FOUND, "not_found")                                                                      \
    X(ALREADY_EXISTS, "already_exists")                                                            \
    X(UNAVAILABLE, "unavailable")                                                                  \
    X(DEADLINE_EXCEEDED, "deadline_exceeded")                                                      \
    X(UNAUTHENTICATED, "unauthenticated")                                                          \
    X(PERMISSION_DENIED, "permission_denied")                                                      \
    X(UNIMPLEMENTED, "unimplemented")                                                              \
    X(CANCELLED, "cancelled")                                                                      \
    X(INTERNAL, "internal")                                                                        \
    X(PROTOCOL, "protocol_error") /* the peer sent something malformed */                          \
    X(UNKNOWN, "unknown")

enum triton_code {
#define X(name, word) TRITON_##name,
    TRITON_ERROR_CODES(X)
#undef X
};

struct triton_error {
    enum triton_code code;
    int status;        /* HTTP status or gRPC status number; 0 when none */
    char message[512]; /* NUL-terminated, truncated if longer */
};

/* Sets err (unless NULL or already set) and returns -1, so `return triton_fail(...)`. */
int triton_fail(struct triton_error *err, enum triton_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* No error: code TRITON_OK, no status, an empty message. The message's other
 * bytes are left as they are (nothing reads past its NUL), so that clearing an
 * error per reply does not write 512 bytes. */
void triton_error_clear(struct triton_error *err);
/* The transport-neutral word for a code: "invalid_argument", ... */
const char *triton_code_word(enum triton_code code);
/* gRPC's name for a status number ("NOT_FOUND"), NULL outside 0..16. Kept here
 * so that the transport's logs and the Lua error values spell them alike. */
const char *triton_grpc_status_name(int status);

#endif
