/*
 * fuzz_http_infer.c: the HTTP/REST infer reply parser (wire/http_infer.h) and
 * the error-body reader, over bytes a hostile server could send.
 *
 * Input: one flags byte, then (when flags & 2) the Inference-Header-Content-Length
 * value up to a '\n', then the body.
 *   flags & 1   parse with an owner buffer (outputs may be views over the body)
 *   flags & 2   an Inference-Header-Content-Length header is present
 *   flags >> 2  misalignment (0..7) of the body in its owner buffer
 * The owner's last reference is dropped before the outputs are read, so a view
 * that does not keep its reply alive is a use-after-free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "wire/http_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    const char *header = NULL;
    size_t header_n = 0;
    if (flags & 2) {
        const uint8_t *nl = memchr(in.p, '\n', in.n);
        if (!nl)
            return 0;
        header = (const char *)in.p;
        header_n = (size_t)(nl - in.p);
        in.n -= header_n + 1;
        in.p = nl + 1;
    }
    const char *body = (const char *)in.p;
    size_t body_len = in.n;

    char text[256];
    wire_http_error_text(body, body_len, text, sizeof text);
    if (strlen(text) >= sizeof text)
        fuzz_fail("error text overran its buffer");

    struct triton_error err = {0};
    size_t header_len = WIRE_NO_HEADER_LENGTH;
    if (header && wire_http_header_length(header, header_n, body_len, &header_len, &err) < 0)
        return 0;

    struct tensor_buffer *owner = NULL;
    if (flags & 1) {
        owner = fuzz_owner_copy(body, body_len, flags >> 2);
        body = owner->data;
    }
    struct triton_infer_result *r = NULL;
    int rc = wire_http_infer_parse(body, body_len, header_len, owner, &r, &err);
    tensor_buffer_unref(owner);
    if (rc < 0) {
        if (r)
            fuzz_fail("failed parse left a result behind");
        if (!err.message[0] || err.code == TRITON_OK)
            fuzz_fail("failed parse without an error message");
        return 0;
    }
    fuzz_check_result(r);
    triton_infer_result_free(r);
    return 0;
}
