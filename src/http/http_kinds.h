/*
 * http_kinds.h: how each call kind (client.h's call table) travels over
 * HTTP/REST: its method, whether Triton decompresses its body, and the
 * function that writes its path and body. Paths and bodies follow Triton's
 * HTTP server (docs/PROTOCOL.md).
 *
 * This table, indexed by enum triton_call_kind, is the one place in the HTTP
 * transport that tells call kinds apart. Replies need no per-kind code: http.c
 * decodes them by the kind's reply shape (a boolean from the status, nothing,
 * a JSON body, an infer result, or server-sent events).
 */
#ifndef TRITON_HTTP_HTTP_KINDS_H
#define TRITON_HTTP_HTTP_KINDS_H

#include <stdbool.h>

#include "client/client.h"
#include "wire/http_infer.h"
#include "wire/json.h"

enum http_method { HTTP_GET, HTTP_POST };

/* What an encoder writes: the path after the base URL, and a JSON body or (for
 * infer) the infer body. */
struct http_message {
    struct wire_jbuf *url;
    char *json;                      /* malloc'd; NULL = none */
    struct wire_http_request *infer; /* built in place by infer's encoder */
};

typedef int (*http_encode_fn)(const struct triton_call *call, struct http_message *m,
                              struct triton_error *err);

struct http_kind {
    enum http_method method;
    /* Triton decompresses only infer bodies: its other endpoints read JSON as
     * it comes, and generate refuses any Content-Encoding but identity. */
    bool compressible;
    http_encode_fn encode;
};

extern const struct http_kind http_kinds[TRITON_CALL_NKINDS];

/* The URL (base, the kind's path, the call's query parameters) and body of a
 * call. The URL is written into url, emptied first (wire_jbuf_reset: a task
 * keeps it, and its buffer, from call to call); an infer body is built into
 * *infer (wire_http_infer_request_build), which keeps its buffers for the next
 * call; on failure no body is left allocated. */
int http_encode(const struct triton_call *call, const char *base, struct wire_jbuf *url,
                char **json, struct wire_http_request *infer, struct triton_error *err);

#endif
