/*
 * sse.c: see sse.h.
 */
#include "wire/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_EVENT (16u << 20)

void wire_sse_init(struct wire_sse *p, size_t max_event, wire_sse_event_fn on_event, void *ctx)
{
    memset(p, 0, sizeof(*p));
    p->max_event = max_event ? max_event : DEFAULT_MAX_EVENT;
    p->on_event = on_event;
    p->ctx = ctx;
}

void wire_sse_free(struct wire_sse *p)
{
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
    p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

bool wire_sse_pending(const struct wire_sse *p)
{
    return p->line_len > 0 || p->has_data || p->event[0];
}

/* Appends n bytes (plus room for a NUL) to a growable array. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *grown = realloc(*buf, c);
        if (!grown)
            return -1;
        *buf = grown;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int too_big(struct wire_sse *p, struct triton_error *err)
{
    p->failed = true;
    return triton_fail(err, TRITON_NO_MEMORY,
                       "a server-sent event is larger than the %zu bytes allowed", p->max_event);
}

static int dispatch(struct wire_sse *p, struct triton_error *err)
{
    int rc = 0;
    if (p->has_data) {
        static const char empty[] = "";
        rc = p->on_event(p->ctx, p->event[0] ? p->event : "message", p->data ? p->data : empty,
                         p->data_len, err);
    }
    p->has_data = false;
    p->data_len = 0;
    p->event[0] = '\0';
    if (rc < 0)
        p->failed = true;
    return rc;
}

/* Handles one complete line (without its end-of-line). */
static int process_line(struct wire_sse *p, const char *line, size_t n, struct triton_error *err)
{
    if (n == 0)
        return dispatch(p, err);
    if (line[0] == ':')
        return 0; /* comment, e.g. a keep-alive */
    const char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *value = colon ? colon + 1 : line + n;
    size_t value_len = (size_t)(line + n - value);
    if (value_len > 0 && value[0] == ' ')
        value++, value_len--;
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        /* the joining LF counts toward the event's size as well */
        if (p->data_len + value_len + 1 > p->max_event)
            return too_big(p, err);
        if ((p->has_data && append(&p->data, &p->data_len, &p->data_cap, "\n", 1) < 0) ||
            append(&p->data, &p->data_len, &p->data_cap, value, value_len) < 0) {
            p->failed = true;
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory reading a server-sent event");
        }
        p->has_data = true;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        size_t k = value_len < sizeof(p->event) - 1 ? value_len : sizeof(p->event) - 1;
        memcpy(p->event, value, k);
        p->event[k] = '\0';
    }
    /* id, retry and unknown fields are ignored, as the standard says */
    return 0;
}

int wire_sse_feed(struct wire_sse *p, const char *buf, size_t n, struct triton_error *err)
{
    if (p->failed)
        return triton_fail(err, TRITON_INTERNAL, "the event-stream parser already failed");
    size_t i = 0;
    if (p->skip_lf && n > 0) {
        p->skip_lf = false;
        if (buf[0] == '\n')
            i = 1;
    }
    while (i < n) {
        /* find the end of the line in what we have */
        size_t j = i;
        while (j < n && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (j == n) { /* incomplete: keep it for the next feed */
            if (p->line_len + (n - i) + p->data_len > p->max_event)
                return too_big(p, err);
            if (append(&p->line, &p->line_len, &p->line_cap, buf + i, n - i) < 0) {
                p->failed = true;
                return triton_fail(err, TRITON_NO_MEMORY,
                                   "out of memory reading a server-sent event");
            }
            return 0;
        }
        int rc;
        if (p->line_len > 0) {
            if (p->line_len + (j - i) > p->max_event)
                return too_big(p, err);
            if (append(&p->line, &p->line_len, &p->line_cap, buf + i, j - i) < 0) {
                p->failed = true;
                return triton_fail(err, TRITON_NO_MEMORY,
                                   "out of memory reading a server-sent event");
            }
            size_t whole = p->line_len;
            p->line_len = 0; /* the bytes stay valid until the next append */
            rc = process_line(p, p->line, whole, err);
        } else {
            rc = process_line(p, buf + i, j - i, err);
        }
        if (rc < 0)
            return -1;
        if (buf[j] == '\r') {
            if (j + 1 < n) {
                if (buf[j + 1] == '\n')
                    j++;
            } else {
                p->skip_lf = true;
            }
        }
        i = j + 1;
    }
    return 0;
}
