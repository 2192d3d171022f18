#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

int triton_fail(struct triton_error *err, enum triton_code code, const char *fmt, ...)
{
    if (!err || err->code != TRITON_OK)
        return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

void triton_error_clear(struct triton_error *err)
{
    err->code = TRITON_OK;
    err->status = 0;
    err->message[0] = '\0';
}

const char *triton_code_word(enum triton_code code)
{
    switch (code) {
#define X(name, word)                                                                              \
    case TRITON_##name:                                                                            \
        return word;
        TRITON_ERROR_CODES(X)
#undef X
    }
    return "unknown";
}

const char *triton_grpc_status_name(int status)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof *names)
        return NULL;
    return names[status];
}
