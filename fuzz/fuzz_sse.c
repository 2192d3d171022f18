/*
 * fuzz_sse.c: the incremental server-sent-events parser (wire/sse.h).
 *
 * The same stream is parsed twice: fed whole, and fed in chunks whose sizes come
 * from the input (each chunk a private heap block of exactly its size, so a read
 * past a chunk is an ASan report). How the transport splits the bytes must not
 * change the events, so when both runs succeed their event lists must be equal.
 *
 * Input: a max_event byte (0 = the default 16 MiB, else n * 16 bytes), a byte
 * saying after how many events the callback fails (0 = never), a byte count k,
 * k chunk-size bytes (0 means 1; used in turn, cycling), then the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "wire/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The events of one run, serialized as "type\0" + 8-byte length + data. */
struct record {
    char *buf;
    size_t len, cap;
    unsigned events, fail_at;
};

static void put(struct record *r, const void *p, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n)
            cap *= 2;
        char *grown = realloc(r->buf, cap);
        if (!grown)
            fuzz_fail("out of memory recording events");
        r->buf = grown;
        r->cap = cap;
    }
    if (n)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
}

static int on_event(void *ctx, const char *event, const char *data, size_t data_len,
                    struct triton_error *err)
{
    struct record *r = ctx;
    size_t elen = strlen(event);
    if (elen == 0 || elen >= 64)
        fuzz_fail("event type of %zu bytes", elen);
    if (data[data_len] != '\0')
        fuzz_fail("event data not NUL-terminated");
    put(r, event, elen + 1);
    uint64_t n = data_len;
    put(r, &n, sizeof n);
    put(r, data, data_len);
    if (++r->events == r->fail_at)
        return triton_fail(err, TRITON_CANCELLED, "stopped by the callback");
    return 0;
}

/* Returns 0 when the whole stream was parsed, -1 when the parser stopped. */
static int run(struct record *r, size_t max_event, const uint8_t *sizes, size_t n_sizes,
               const uint8_t *stream, size_t len, bool *pending)
{
    struct wire_sse p;
    struct triton_error err = {0};
    wire_sse_init(&p, max_event, on_event, r);
    int rc = 0;
    size_t pos = 0, k = 0;
    while (pos < len) {
        size_t chunk = len - pos;
        if (n_sizes) {
            size_t want = sizes[k++ % n_sizes];
            if (want == 0)
                want = 1;
            if (want < chunk)
                chunk = want;
        }
        char *copy = malloc(chunk);
        if (!copy)
            fuzz_fail("out of memory");
        memcpy(copy, stream + pos, chunk);
        rc = wire_sse_feed(&p, copy, chunk, &err);
        free(copy);
        if (rc < 0)
            break;
        pos += chunk;
    }
    if (rc < 0) {
        if (!err.message[0])
            fuzz_fail("wire_sse_feed failed without a message");
        /* a stopped parser must refuse more input */
        struct triton_error again = {0};
        if (wire_sse_feed(&p, "data: x\n\n", 9, &again) == 0)
            fuzz_fail("a failed parser took more input");
    }
    *pending = wire_sse_pending(&p);
    wire_sse_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size};
    uint8_t max_byte = fuzz_u8(&in);
    size_t max_event = (size_t)max_byte * 16;
    uint8_t fail_at = fuzz_u8(&in);
    size_t n_sizes;
    const uint8_t *sizes = fuzz_bytes(&in, 64, &n_sizes);

    struct record whole = {.fail_at = fail_at}, split = {.fail_at = fail_at};
    bool pending_whole, pending_split;
    int rc_whole = run(&whole, max_event, NULL, 0, in.p, in.n, &pending_whole);
    int rc_split = run(&split, max_event, sizes, n_sizes, in.p, in.n, &pending_split);
    if (rc_whole == 0 && rc_split == 0) {
        if (whole.len != split.len || (whole.len && memcmp(whole.buf, split.buf, whole.len)))
            fuzz_fail("chunking changed the events (%u whole, %u split)", whole.events,
                      split.events);
        if (pending_whole != pending_split)
            fuzz_fail("chunking changed whether an event is pending at the end");
    }
    free(whole.buf);
    free(split.buf);
    return 0;
}
