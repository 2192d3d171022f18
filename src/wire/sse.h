/*
 * sse.h: an incremental parser for server-sent events (text/event-stream), as
 * Triton's generate_stream answers. Bytes are fed as the transport receives
 * them (any split, even inside a line or a CRLF); each event is delivered as
 * soon as its terminating blank line arrives, not when the body ends.
 *
 * Follows the HTML living standard's parsing rules: lines end in LF, CR or
 * CRLF; a line starting with ':' is a comment; "field: value" drops one space
 * after the colon; several data lines join with LF; an event without data
 * lines is not dispatched; a trailing event without its blank line is dropped
 * at the end of the stream. Only `event` and `data` are kept (`id` and `retry`
 * concern reconnecting browsers).
 */
#ifndef TRITON_WIRE_SSE_H
#define TRITON_WIRE_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Gets the event type ("message" when none was given) and its data, both
 * NUL-terminated. Returns 0 to go on, or -1 with err set to stop the parser
 * (wire_sse_feed then returns -1 too). */
typedef int (*wire_sse_event_fn)(void *ctx, const char *event, const char *data, size_t data_len,
                                 struct triton_error *err);

struct wire_sse {
    wire_sse_event_fn on_event;
    void *ctx;
    size_t max_event; /* bytes one event (its lines together) may take */
    char *line;       /* the current, incomplete line */
    size_t line_len, line_cap;
    char *data; /* data lines of the current event, joined with LF */
    size_t data_len, data_cap;
    bool has_data;
    char event[64]; /* event type of the current event; "" = message */
    bool skip_lf;   /* the last byte was a CR: a following LF belongs to it */
    bool failed;
};

/* max_event 0 = 16 MiB. */
void wire_sse_init(struct wire_sse *p, size_t max_event, wire_sse_event_fn on_event, void *ctx);
/* Parses n more bytes. -1 with err set when the callback failed or an event
 * grew past max_event; the parser then refuses further input. */
int wire_sse_feed(struct wire_sse *p, const char *buf, size_t n, struct triton_error *err);
/* True when bytes of an undispatched event are pending (a stream that ended
 * there was cut short). */
bool wire_sse_pending(const struct wire_sse *p);
void wire_sse_free(struct wire_sse *p);

#endif
