/*
 * http_infer.h: the HTTP/REST infer request and response (KServe v2 JSON plus
 * Triton's binary tensor data extension).
 *
 * A request is a JSON header followed by the binary inputs, in input order. It
 * is built as a list of pieces: the header text, then for each binary input
 * either a pointer straight into the tensor's memory (contiguous fixed-size
 * tensors: no copy) or into one scratch block holding the wire form of the
 * inputs that need converting (BYTES, strided views). The transport sends the
 * pieces with a read callback.
 *
 * A response is a JSON header of Inference-Header-Content-Length bytes (the
 * whole body when that header is absent) followed by the binary outputs in
 * output order, each binary_data_size bytes (that parameter frames the body:
 * it is read, not kept among the output's parameters, which are NULL when it
 * was their only member). Outputs become tensors that are
 * views over the body (kept alive through `owner`) when aligned, copies
 * otherwise. The header is read with wire/json.h's reader, so INT64 and UINT64
 * data sent as JSON keep every digit and BYTES elements every byte. Everything
 * taken from the wire is checked before use and a bad reply (an output of a
 * datatype this client does not know included) fails with TRITON_PROTOCOL and
 * a message naming what was wrong.
 */
#ifndef TRITON_WIRE_HTTP_INFER_H
#define TRITON_WIRE_HTTP_INFER_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/infer.h"
#include "common/error.h"
#include "tensor/tensor.h"

struct wire_piece {
    const void *ptr;
    size_t len;
};

struct wire_http_request {
    char *json; /* the JSON header, NUL-terminated; pieces[0] */
    size_t json_len;
    size_t json_cap;           /* bytes allocated at json: a transport may append there */
    struct wire_piece *pieces; /* header, then the binary inputs (empty ones left out) */
    size_t n_pieces, cap_pieces;
    size_t total;  /* bytes in all pieces: the body's Content-Length */
    bool binary;   /* binary data follows the header: send Inference-Header-Content-Length */
    void *scratch; /* wire form of the inputs that could not be sent in place */
    /* private: what the header's writer read of the request it was written
     * for, in order (http_infer.c): a request that reads alike keeps it */
    char *trace;
    size_t trace_len, trace_cap;
    bool trace_valid;
};

/* Builds the request body for req into out, which is zeroed before its first
 * build and may then be built into again and again: it keeps its buffers, and
 * the header it holds is kept, not written again, for a request that reads
 * alike (the same inputs' names, datatypes, shapes and sizes, the same
 * outputs, parameters and options; JSON data never does). Input
 * tensors are referenced, not copied: they must stay alive and unchanged until
 * the request was sent. On failure out is freed (and zeroed). */
int wire_http_infer_request_build(const struct triton_infer_request *req,
                                  struct wire_http_request *out, struct triton_error *err);
/* Once the body was sent: drops what only that request needed (the converted
 * inputs, and buffers a large request grew) and forgets its pieces, so that
 * out describes no body until the next build. */
void wire_http_request_end(struct wire_http_request *r);
void wire_http_request_free(struct wire_http_request *r);

/* No Inference-Header-Content-Length: the whole body is JSON. */
#define WIRE_NO_HEADER_LENGTH SIZE_MAX

/* Parses an Inference-Header-Content-Length value (n bytes, surrounding
 * blanks allowed) and checks it against the body length. */
int wire_http_header_length(const char *value, size_t n, size_t body_len, size_t *out,
                            struct triton_error *err);

/* What a reply's JSON header said, kept for the next reply read with it: a
 * client gets the same header again and again (same model, outputs, shapes and
 * sizes), and a header that is byte for byte the one kept is not read again.
 * Only a header that read without a problem, with no "parameters" beyond
 * binary_data_size and no JSON "data", and only when all it keeps takes at most
 * WIRE_REPLY_MEMO_MAX bytes. Zeroed before first use; wire_http_reply_memo_free
 * frees it. */
struct wire_http_reply_memo {
    char *mem; /* private (http_infer.c): the result as read, its outputs' framing, the header */
    size_t cap, block_len, header_len;
};
#define WIRE_REPLY_MEMO_MAX (64 * 1024)
void wire_http_reply_memo_free(struct wire_http_reply_memo *m);

/* Parses an infer reply of body_len bytes whose JSON header is header_len bytes
 * (WIRE_NO_HEADER_LENGTH: all of it). With owner (a buffer holding the body)
 * outputs are views where alignment allows; with NULL they are copies. memo
 * (may be NULL) holds the last header read through it (see above): the outcome
 * is the same with or without it. */
int wire_http_infer_parse(const char *body, size_t body_len, size_t header_len,
                          struct tensor_buffer *owner, struct wire_http_reply_memo *memo,
                          struct triton_infer_result **out, struct triton_error *err);

/* The "error" text of an HTTP error body ({"error": "..."}), or the body itself
 * (cut, control characters replaced) when it is not that JSON; "" for an empty
 * body. Writes at most cap bytes including the NUL. */
void wire_http_error_text(const char *body, size_t len, char *out, size_t cap);

#endif
