/*
 * http.c: the HTTP/REST transport (see http.h and client/client.h).
 *
 * A call becomes a task: URL, body pieces and header chain are prepared at
 * submit; the task then runs on its easy handle in the loop's multi handle.
 * The loop calls task_done when curl finishes it, and the call's done runs
 * from there (on the loop's thread). generate_stream events are delivered from
 * the write callback as they are parsed. A task and its easy handle stay
 * together: once its call is done the pair waits in the client's pool for the
 * next call, so the options that point at the task are set once per handle.
 *
 * The call layer (src/client) queues calls behind the concurrency limit, keeps
 * their deadlines and inactivity limits and completes the ones it ends; this
 * transport starts a call when asked, reports bytes as they arrive
 * (triton_call_activity) and hands the outcome to triton_call_finish. Cancelling
 * takes the transfer out of the multi handle and forgets the call.
 */
#include "http/http.h"

#include "common/secret.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <zlib.h>

#include "client/client.h"
#include "http/http_kinds.h"
#include "wire/reply_block.h"
#include "wire/http_infer.h"
#include "wire/json.h"
#include "wire/sse.h"

/* Bodies up to this size are sent as one buffer with the request headers (one
 * write instead of two); larger ones are streamed from their pieces. */
#define SMALL_BODY_MAX (64 * 1024)
/* curl sends "Expect: 100-continue" (a round trip before the body) only for
 * bodies above a threshold (1 MiB in curl 7.88, 1 KiB in old releases, never
 * less): hc->headers' empty "Expect:" turns it off, and bodies up to this size
 * go without it (each header in the list costs curl a scan per header it looks
 * for). */
#define EXPECT_MIN_BODY 1024
/* Binary outputs are placed at this alignment in the received body, so that
 * output tensors can be views over it (malloc guarantees 16). */
#define BODY_ALIGN           16
#define DEFAULT_MAX_RESPONSE ((size_t)INT32_MAX)
/* A task keeps its URL buffer for the next call up to this size. */
#define URL_KEEP_MAX 4096
/* The header giving the length of a binary infer body's JSON part. */
#define IHCL "Inference-Header-Content-Length"

/* Depth of curl callbacks we are inside on this thread: curl refuses multi
 * calls from inside its callbacks, so submit refuses and cancel leaves the
 * transfer to abort itself while it is nonzero (a generate_stream event's done
 * may call them). */
static _Thread_local int in_curl_callback;

enum body_encoding { ENCODING_NONE, ENCODING_GZIP, ENCODING_DEFLATE };

struct http_task;

struct http_client {
    struct triton_client *client; /* its verbose log */
    struct triton_loop *loop;
    char *base; /* scheme://host:port, no trailing '/' */
    size_t base_len;
    char *log_base;             /* base for the verbose log: user:password@ redacted */
    struct curl_slist *headers; /* "Expect:"; the rest come with each call */
    long connect_timeout_ms;
    double connect_timeout;
    char *ca_file, *cert_file, *key_file;
    bool insecure;
    enum body_encoding compression;
    char *accept_encoding;
    size_t max_response_size;
    bool verbose;

    struct http_task **idle; /* tasks (and their easy handles) not in use */
    size_t n_idle, cap_idle;
    struct http_task *tasks;         /* every task not yet completed */
    size_t n_handles;                /* easy handles its tasks hold, in use or idle */
    struct http_client *next_client; /* every HTTP client (clients_mu) */
};

struct http_task {
    /* kept from call to call: curl's options point at them */
    struct triton_loop_curl_task base; /* CURLOPT_PRIVATE points here */
    struct http_client *hc;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    /* The URL set on easy, parsed once: curl parses a URL given as text anew
     * for every transfer; a parsed one (CURLOPT_CURLU) it only copies. */
    CURLU *parsed;
    char *parsed_text;         /* the text it was parsed from; NULL: none set */
    struct wire_jbuf url_text; /* the call's URL is written here (http_encode) */
    /* An infer call's body, built where the last one was: its buffers, and its
     * header when the next request reads alike, serve again. */
    struct wire_http_request infer;
    /* The last infer reply's header and what it said: the next reply mostly
     * says the same. */
    struct wire_http_reply_memo reply_memo;

    /* the call's: zeroed when the task is taken for a call (TASK_CALL_PART) */
    struct triton_call *call;      /* NULL once cancelled: the call layer has it back */
    struct http_task *prev, *next; /* hc->tasks */
    bool cancelled;
    bool in_multi; /* started: its handle is in the loop's multi handle */
    /* What a call made or cancelled from inside a curl callback (curl refuses
     * multi calls there) leaves to the step, once out of curl's callbacks:
     * starting the transfer, or taking it out of the multi handle. */
    struct triton_loop_deferred later;

    const char *url; /* in url_text */
    bool post;
    /* request body */
    char *json_body;
    struct wire_piece one;
    const struct wire_piece *pieces;
    size_t n_pieces, total;
    size_t piece, piece_off; /* read position */
    void *packed;            /* small or compressed body in one block */
    /* request headers: our nodes in front of the call's send_headers, then hc->headers */
    struct curl_slist nodes[3];
    char ihcl_line[sizeof IHCL ": " + WIRE_JSON_NUM_MAX];
    struct curl_slist *call_nodes; /* one block: nodes and their text */
    struct curl_slist *header_list;

    /* response */
    long status;
    bool headers_ended;    /* the blank line after the reply's headers arrived */
    size_t content_length; /* hint from Content-Length, 0 if none */
    bool has_ihcl;
    size_t ihcl;
    bool event_stream;
    char *body; /* malloc'd; data starts at body + pad */
    size_t pad, len, cap;
    bool too_large;
    struct wire_sse sse;
    bool sse_started;
    struct triton_error stream_err; /* first failure while streaming */
};

#define TASK_CALL_PART offsetof(struct http_task, call)

/* ---- small helpers ---------------------------------------------------------------- */

static void logf_(struct http_client *hc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(struct http_client *hc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    triton_client_vlogf(hc->client, fmt, ap);
    va_end(ap);
}

/* Logs one header line ("Name: value", no CRLF) with credentials redacted. */
static void log_header(struct http_client *hc, char dir, const char *line, size_t n)
{
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n == 0)
        return;
    const char *colon = memchr(line, ':', n);
    if (colon && triton_header_is_secret(line, (size_t)(colon - line)))
        logf_(hc, "%c %.*s: [redacted]", dir, (int)(colon - line), line);
    else
        logf_(hc, "%c %.*s", dir, (int)n, line);
}

enum triton_code triton_http_status_code(long status)
{
    switch (status) {
    case 400:
        return TRITON_INVALID_ARGUMENT;
    case 401:
        return TRITON_UNAUTHENTICATED;
    case 403:
        return TRITON_PERMISSION_DENIED;
    case 404:
        return TRITON_NOT_FOUND;
    case 405:
    case 501:
        return TRITON_UNIMPLEMENTED;
    case 408:
    case 504:
        return TRITON_DEADLINE_EXCEEDED;
    case 409:
        return TRITON_ALREADY_EXISTS;
    case 413:
    case 429:
        return TRITON_NO_MEMORY;
    case 499:
        return TRITON_CANCELLED;
    case 500:
        return TRITON_INTERNAL;
    case 502:
    case 503:
        return TRITON_UNAVAILABLE;
    }
    if (status >= 400 && status < 500)
        return TRITON_INVALID_ARGUMENT;
    if (status >= 500 && status < 600)
        return TRITON_INTERNAL;
    return TRITON_UNKNOWN;
}

static bool header_text_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

static int check_header(const struct triton_kv *kv, struct triton_error *err)
{
    if (!kv->key || !*kv->key || !kv->value || strchr(kv->key, ':') || strchr(kv->key, ' ') ||
        !header_text_ok(kv->key) || !header_text_ok(kv->value))
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "bad HTTP header '%s': names need no ':' or blanks and values no "
                           "line breaks",
                           kv->key ? kv->key : "");
    return 0;
}

/* ---- request ------------------------------------------------------------------------ */

/* The URL, method and JSON or infer body of the call (http_kinds.c). */
static int prepare_request(struct http_task *t, struct triton_error *err)
{
    t->post = http_kinds[t->call->kind].method == HTTP_POST;
    if (http_encode(t->call, t->hc->base, &t->url_text, &t->json_body, &t->infer, err) < 0)
        return -1;
    t->url = t->url_text.data;
    return 0;
}

/* Whether the call's reply is a stream of events (generate_stream). */
static bool wants_events(const struct triton_call *call)
{
    return triton_call_info(call->kind)->reply == TRITON_REPLY_EVENTS;
}

/* Compresses the pieces into one block (gzip or zlib-wrapped deflate, as HTTP's
 * "deflate" means). */
static int compress_body(struct http_task *t, struct triton_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int bits = t->hc->compression == ENCODING_GZIP ? 15 + 16 : 15;
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return triton_fail(err, TRITON_NO_MEMORY, "zlib could not start compressing");
    size_t cap = deflateBound(&z, t->total) + 64;
    unsigned char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory compressing a request");
    }
    size_t done = 0;
    int zr = Z_OK;
    for (size_t i = 0; i < t->n_pieces && zr == Z_OK; i++) {
        const unsigned char *p = t->pieces[i].ptr;
        size_t left = t->pieces[i].len;
        do { /* avail_in is 32-bit */
            size_t chunk = left > (1u << 30) ? (1u << 30) : left;
            z.next_in = (unsigned char *)p;
            z.avail_in = (uInt)chunk;
            while (z.avail_in > 0 && zr == Z_OK) {
                size_t room = cap - done > (1u << 30) ? (1u << 30) : cap - done;
                z.next_out = out + done;
                z.avail_out = (uInt)room;
                zr = deflate(&z, Z_NO_FLUSH);
                done += room - z.avail_out;
                if (zr == Z_BUF_ERROR)
                    zr = Z_OK;
                if (z.avail_out == 0 && done == cap)
                    zr = Z_STREAM_ERROR;
            }
            p += chunk;
            left -= chunk;
        } while (left > 0 && zr == Z_OK);
    }
    while (zr == Z_OK) {
        size_t room = cap - done > (1u << 30) ? (1u << 30) : cap - done;
        z.next_out = out + done;
        z.avail_out = (uInt)room;
        zr = deflate(&z, Z_FINISH);
        done += room - z.avail_out;
        if (zr == Z_OK && done == cap)
            zr = Z_STREAM_ERROR;
    }
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(out);
        return triton_fail(err, TRITON_INTERNAL, "zlib failed compressing a request (%d)", zr);
    }
    t->packed = out;
    t->one = (struct wire_piece){out, done};
    t->pieces = &t->one;
    t->n_pieces = 1;
    t->total = done;
    return 0;
}

/* Only bodies Triton decompresses are compressed (http_kinds.h), as
 * tritonclient compresses only infer. */
static bool compresses(const struct http_task *t)
{
    return http_kinds[t->call->kind].compressible && t->total > 0 &&
           t->hc->compression != ENCODING_NONE;
}

/* Puts a small body in one block (one write and one packet per request): the
 * infer header's own, grown to take the binary inputs after the JSON (its
 * buffer has room for a small request's), else a new one. */
static int pack_small_body(struct http_task *t)
{
    char *p;
    size_t off = 0, i = 0;
    if (t->pieces == t->infer.pieces && t->pieces[0].ptr == t->infer.json) {
        if (t->total > t->infer.json_cap) {
            if (!(p = realloc(t->infer.json, t->total)))
                return -1;
            t->infer.json = p;
            t->infer.json_cap = t->total;
        }
        p = t->infer.json;
        off = t->infer.json_len;
        i = 1;
    } else {
        if (!(p = malloc(t->total ? t->total : 1)))
            return -1;
        t->packed = p;
    }
    for (; i < t->n_pieces; i++) {
        memcpy(p + off, t->pieces[i].ptr, t->pieces[i].len);
        off += t->pieces[i].len;
    }
    t->one = (struct wire_piece){p, t->total};
    t->pieces = &t->one;
    t->n_pieces = 1;
    return 0;
}

/* Sets up pieces and the header chain. */
static int prepare_body_and_headers(struct http_task *t, struct triton_error *err)
{
    struct http_client *hc = t->hc;
    const struct triton_call *call = t->call;
    if (t->infer.n_pieces) {
        t->pieces = t->infer.pieces;
        t->n_pieces = t->infer.n_pieces;
        t->total = t->infer.total;
    } else if (t->json_body) {
        t->one = (struct wire_piece){t->json_body, strlen(t->json_body)};
        t->pieces = &t->one;
        t->n_pieces = 1;
        t->total = t->one.len;
    }
    if (compresses(t) && compress_body(t, err) < 0)
        return -1;
    if (t->n_pieces > 1 && t->total <= SMALL_BODY_MAX && pack_small_body(t) < 0)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory");

    /* the call's headers (the client's merged with its own by the call layer):
     * one block of nodes and text, ending in hc->headers when the body is large
     * enough for curl to ask for 100-continue */
    struct curl_slist *tail = t->post && t->total > EXPECT_MIN_BODY ? hc->headers : NULL;
    const struct triton_kv *h = call->send_headers;
    size_t nh = call->n_send_headers;
    if (nh) {
        size_t text = 0;
        for (size_t i = 0; i < nh; i++) {
            if (check_header(&h[i], err) < 0)
                return -1;
            text += strlen(h[i].key) + strlen(h[i].value) + 3;
        }
        size_t nodes = nh * sizeof(struct curl_slist);
        t->call_nodes = malloc(nodes + text);
        if (!t->call_nodes)
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory");
        char *p = (char *)t->call_nodes + nodes;
        for (size_t i = nh; i-- > 0;) {
            struct curl_slist *n = &t->call_nodes[i];
            n->data = p;
            p += sprintf(p, "%s: %s", h[i].key, h[i].value) + 1;
            n->next = tail;
            tail = n;
        }
    }
    int k = 0;
    if (t->post) {
        const char *ct = t->infer.binary ? "Content-Type: application/octet-stream"
                                         : "Content-Type: application/json";
        t->nodes[k++].data = (char *)ct;
    }
    if (t->infer.binary) {
        /* by hand: snprintf costs more than the rest of the headers together */
        static const char name[] = IHCL ": ";
        memcpy(t->ihcl_line, name, sizeof name - 1);
        wire_json_fmt_uint64(t->ihcl_line + sizeof name - 1, t->infer.json_len);
        t->nodes[k++].data = t->ihcl_line;
    }
    if (compresses(t))
        t->nodes[k++].data = hc->compression == ENCODING_GZIP ? (char *)"Content-Encoding: gzip"
                                                              : (char *)"Content-Encoding: deflate";
    for (int i = k - 1; i >= 0; i--) {
        t->nodes[i].next = tail;
        tail = &t->nodes[i];
    }
    t->header_list = tail;
    return 0;
}

/* ---- curl callbacks ------------------------------------------------------------------ */

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct http_task *t = ud;
    if (t->cancelled)
        return CURL_READFUNC_ABORT;
    size_t room = size * nitems, n = 0;
    while (n < room && t->piece < t->n_pieces) {
        const struct wire_piece *p = &t->pieces[t->piece];
        size_t k = p->len - t->piece_off;
        if (k > room - n)
            k = room - n;
        memcpy(buf + n, (const char *)p->ptr + t->piece_off, k);
        n += k;
        t->piece_off += k;
        if (t->piece_off == p->len) {
            t->piece++;
            t->piece_off = 0;
        }
    }
    return n;
}

/* curl rewinds the body when it resends on a fresh connection (a kept-alive
 * one the server had closed). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct http_task *t = ud;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    size_t left = (size_t)offset;
    t->piece = 0;
    t->piece_off = 0;
    while (t->piece < t->n_pieces && left >= t->pieces[t->piece].len) {
        left -= t->pieces[t->piece].len;
        t->piece++;
    }
    if (t->piece == t->n_pieces && left > 0)
        return CURL_SEEKFUNC_FAIL;
    t->piece_off = left;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct http_task *t = ud;
    return t->cancelled ? 1 : 0;
}

/* Whether line (n bytes) is the header name (k bytes, any case); *value and
 * *vlen get its value without the blanks around it. */
static bool header_is(const char *line, size_t n, const char *name, size_t k, const char **value,
                      size_t *vlen)
{
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return false;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}

/* A Content-Length value (n bytes at v, blanks trimmed), as strtoull reads it:
 * an optional '+', then decimal digits up to the first other byte (0 for
 * none), SIZE_MAX when larger. curl refuses a negative or unreadable one in a
 * reply with a body before it hands the header over. */
static size_t content_length(const char *v, size_t n)
{
    size_t i = n > 0 && v[0] == '+', c = 0;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
        unsigned digit = (unsigned)(v[i] - '0');
        if (c > (SIZE_MAX - digit) / 10)
            return SIZE_MAX;
        c = c * 10 + digit;
    }
    return c;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct http_task *t = ud;
    size_t n = size * nitems;
    if (t->cancelled)
        return 0;
    triton_call_activity(t->call);
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue or a redirect): forget the last */
        const char *sp = memchr(line, ' ', n);
        t->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        t->headers_ended = false;
        t->content_length = 0;
        t->has_ihcl = false;
        t->event_stream = false;
        if (t->hc->verbose)
            log_header(t->hc, '<', line, n);
        return n;
    }
    if ((n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n')) {
        t->headers_ended = true;
        return n;
    }
#define HEADER_IS(lit) header_is(line, n, lit, sizeof lit - 1, &v, &vn)
    const char *v;
    size_t vn;
    char first = n ? (char)(line[0] | 0x20) : 0; /* lower case, for the letters looked for */
    if (first == 'c' && HEADER_IS("Content-Length")) {
        if (vn < 32)
            t->content_length = content_length(v, vn);
        /* refuse a reply announced larger than allowed before receiving any of it
         * (a compressed body is checked again as it is decoded) */
        if (t->content_length > t->hc->max_response_size) {
            t->too_large = true;
            return 0;
        }
    } else if (first == 'i' && HEADER_IS(IHCL)) {
        /* checked against the real body length when the body is complete */
        if (wire_http_header_length(v, vn, SIZE_MAX, &t->ihcl, &t->stream_err) == 0)
            t->has_ihcl = true;
    } else if (first == 'c' && HEADER_IS("Content-Type")) {
        t->event_stream = vn >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
    }
#undef HEADER_IS
    if (t->hc->verbose)
        log_header(t->hc, '<', line, n);
    return n;
}

static int deliver_event(void *ctx, const char *event, const char *data, size_t len,
                         struct triton_error *err)
{
    struct http_task *t = ctx;
    if (t->cancelled)
        return triton_fail(err, TRITON_CANCELLED, "cancelled");
    cJSON *j = wire_json_parse(data, len, NULL);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return triton_fail(err, TRITON_PROTOCOL,
                           "generate_stream: an event's data is not a JSON object: '%.60s'", data);
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(e)) {
        triton_fail(err, TRITON_INTERNAL, "%s", e->valuestring);
        cJSON_Delete(j);
        return -1;
    }
    struct triton_reply reply = {.json = j};
    triton_call_finish(t->call, &reply, NULL, false);
    cJSON_Delete(reply.json);
    return 0;
}

static bool grow_body(struct http_task *t, size_t need)
{
    size_t max = t->hc->max_response_size;
    if (need > max) {
        t->too_large = true;
        return false;
    }
    if (t->pad + need <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 16384;
    if (!t->body && t->content_length > 0)
        cap = t->pad + (t->content_length < max ? t->content_length : max);
    while (cap < t->pad + need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > t->pad + max)
        cap = t->pad + max;
    size_t grown_cap;
    char *grown = reply_block_grow(t->body, t->cap, t->pad + t->len, cap, &grown_cap);
    if (!grown) {
        t->too_large = true;
        return false;
    }
    t->body = grown;
    t->cap = grown_cap;
    return true;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct http_task *t = ud;
    size_t n = size * nmemb;
    if (t->cancelled)
        return 0;
    triton_call_activity(t->call);
    if (wants_events(t->call) && t->status == 200 && t->event_stream) {
        if (!t->sse_started) {
            wire_sse_init(&t->sse, t->hc->max_response_size, deliver_event, t);
            t->sse_started = true;
        }
        in_curl_callback++;
        int rc = wire_sse_feed(&t->sse, data, n, &t->stream_err);
        in_curl_callback--;
        t->len += n;
        return rc < 0 ? 0 : n;
    }
    if (!t->body && t->has_ihcl)
        t->pad = (BODY_ALIGN - t->ihcl % BODY_ALIGN) % BODY_ALIGN;
    if (n > SIZE_MAX - t->len || !grow_body(t, t->len + n)) {
        t->too_large = true;
        return 0;
    }
    memcpy(t->body + t->pad + t->len, data, n);
    t->len += n;
    return n;
}

/* ---- easy handles ----------------------------------------------------------------------- */

/* The loop's multi handle keeps the connections of ended transfers for later
 * ones, up to 4 x the easy handles currently added to it (curl's default).
 * Easy handles are added only while their transfer runs: when a batch of
 * transfers ends before the next starts (as async callers do), that limit
 * falls as they end and curl closes connections that the next calls then
 * open again. A client's easy handles stay in its pool, so the limit is
 * 4 x the easy handles that the loop's HTTP clients hold. */
static pthread_mutex_t clients_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_client *clients;

static void size_connection_cache(struct triton_loop *loop)
{
    size_t handles = 0;
    pthread_mutex_lock(&clients_mu);
    for (struct http_client *c = clients; c; c = c->next_client)
        if (c->loop == loop)
            handles += c->n_handles;
    pthread_mutex_unlock(&clients_mu);
    if (handles > 0 && handles <= LONG_MAX / 4)
        curl_multi_setopt(triton_loop_curl_multi(loop), CURLMOPT_MAXCONNECTS, (long)handles * 4);
}

static void clients_add(struct http_client *hc)
{
    pthread_mutex_lock(&clients_mu);
    hc->next_client = clients;
    clients = hc;
    pthread_mutex_unlock(&clients_mu);
}

static void clients_remove(struct http_client *hc)
{
    pthread_mutex_lock(&clients_mu);
    struct http_client **p = &clients;
    while (*p && *p != hc)
        p = &(*p)->next_client;
    if (*p)
        *p = hc->next_client;
    pthread_mutex_unlock(&clients_mu);
}

/* Connections are opened close-on-exec, as gRPC's are: a child process that a
 * script starts (io.popen, os.execute) must not inherit them and keep a
 * connection open after the client closed it. */
static curl_socket_t open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)userp;
    (void)purpose;
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static void task_done(struct triton_loop_curl_task *base, CURLcode rc);

/* A task with its easy handle, the options that never change set. */
static struct http_task *new_task(struct http_client *hc, struct triton_error *err)
{
    struct http_task *t = calloc(1, sizeof(*t));
    CURL *e = t ? curl_easy_init() : NULL;
    if (!e) {
        free(t);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a curl handle");
        return NULL;
    }
    t->hc = hc;
    t->easy = e;
    hc->n_handles++;
    size_connection_cache(hc->loop);
    t->base.done = task_done;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t->base);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_READDATA, t);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, t);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    if (hc->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, hc->connect_timeout_ms);
    if (hc->accept_encoding)
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, hc->accept_encoding);
    if (hc->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, hc->ca_file);
    if (hc->cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, hc->cert_file);
    if (hc->key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, hc->key_file);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, hc->insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, hc->insecure ? 0L : 2L);
    return t;
}

/* ---- tasks ---------------------------------------------------------------------------- */

/* Frees what the task's call allocated and zeroes the call's part. */
static void task_clear(struct http_task *t)
{
    wire_http_request_end(&t->infer);
    free(t->json_body);
    free(t->packed);
    free(t->call_nodes);
    if (t->url_text.cap > URL_KEEP_MAX)
        wire_jbuf_free(&t->url_text);
    reply_block_free(t->body, t->cap);
    if (t->sse_started)
        wire_sse_free(&t->sse);
    memset((char *)t + TASK_CALL_PART, 0, sizeof(*t) - TASK_CALL_PART);
}

static void task_destroy(struct http_task *t)
{
    task_clear(t);
    wire_http_request_free(&t->infer);
    wire_http_reply_memo_free(&t->reply_memo);
    wire_jbuf_free(&t->url_text);
    curl_easy_cleanup(t->easy);
    t->hc->n_handles--;
    curl_url_cleanup(t->parsed);
    free(t->parsed_text);
    free(t);
}

/* A task for call, from the pool (cleared) or new. */
static struct http_task *take_task(struct http_client *hc, struct triton_call *call,
                                   struct triton_error *err)
{
    struct http_task *t = hc->n_idle ? hc->idle[--hc->n_idle] : new_task(hc, err);
    if (!t)
        return NULL;
    t->errbuf[0] = '\0';
    t->call = call;
    return t;
}

/* Back to the pool once its call is over (its transfer out of the multi handle). */
static void release_task(struct http_client *hc, struct http_task *t)
{
    task_clear(t);
    if (hc->n_idle == hc->cap_idle) {
        size_t cap = hc->cap_idle ? hc->cap_idle * 2 : 8;
        struct http_task **grown = realloc(hc->idle, cap * sizeof(*grown));
        if (!grown) {
            task_destroy(t);
            return;
        }
        hc->idle = grown;
        hc->cap_idle = cap;
    }
    hc->idle[hc->n_idle++] = t;
}

static void unlink_task(struct http_client *hc, struct http_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        hc->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* Sets the call's URL on the task's handle, unless it is the one set last. A
 * URL curl's parser refuses is set as text, for curl to report as usual. */
static void set_url(struct http_task *t)
{
    if (t->parsed_text && strcmp(t->parsed_text, t->url) == 0)
        return;
    free(t->parsed_text);
    t->parsed_text = NULL;
    if (!t->parsed)
        t->parsed = curl_url();
    /* the flags curl itself parses CURLOPT_URL with */
    char *text = strdup(t->url);
    if (t->parsed && text &&
        curl_url_set(t->parsed, CURLUPART_URL, t->url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        curl_easy_setopt(t->easy, CURLOPT_CURLU, t->parsed);
        t->parsed_text = text;
        return;
    }
    free(text);
    curl_easy_setopt(t->easy, CURLOPT_CURLU, NULL);
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
}

static int start_task(struct http_task *t, struct triton_error *err)
{
    struct http_client *hc = t->hc;
    CURL *e = t->easy;
    set_url(t);
    if (t->post) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->n_pieces == 1 ? t->one.ptr : NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->total);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->header_list);
    if (hc->verbose) {
        logf_(hc, "> %s %s%s (%zu bytes)", t->post ? "POST" : "GET", hc->log_base,
              t->url + hc->base_len, t->total);
        for (struct curl_slist *h = t->header_list; h; h = h->next)
            log_header(hc, '>', h->data, strlen(h->data));
    }
    if (triton_loop_add_curl(hc->loop, e, err) < 0)
        return -1;
    t->in_multi = true;
    return 0;
}

/* Turns curl's result for a finished transfer into the call's outcome. */
static void transfer_error(struct http_task *t, CURLcode rc, struct triton_error *err)
{
    const char *detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        triton_fail(err, TRITON_CANCELLED, "%s: cancelled", triton_call_kind_name(t->call->kind));
        return;
    }
    if (t->too_large) {
        triton_fail(err, TRITON_NO_MEMORY,
                    "%s: the reply is larger than max_response_size (%zu bytes)",
                    triton_call_kind_name(t->call->kind), t->hc->max_response_size);
        return;
    }
    if (t->stream_err.code != TRITON_OK && rc == CURLE_WRITE_ERROR) {
        *err = t->stream_err;
        err->status = (int)t->status;
        return;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        /* deadlines and inactivity are the call layer's: curl only bounds connecting */
        triton_fail(err, TRITON_UNAVAILABLE,
                    "could not connect within %g s (connection_timeout): %s",
                    t->hc->connect_timeout, detail);
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        triton_fail(err, TRITON_UNAVAILABLE, "%s", detail);
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        triton_fail(err, TRITON_UNAVAILABLE, "TLS failure: %s", detail);
        return;
    case CURLE_BAD_CONTENT_ENCODING:
        triton_fail(err, TRITON_PROTOCOL, "bad compressed reply: %s", detail);
        return;
    case CURLE_OUT_OF_MEMORY:
        triton_fail(err, TRITON_NO_MEMORY, "%s", detail);
        return;
    default:
        triton_fail(err, TRITON_UNKNOWN, "%s", detail);
    }
}

/* ctx carries the body's capacity, which reply_block_recycle needs */
static void free_body_ctx(void *ctx, void *data)
{
    reply_block_recycle(data, (size_t)(uintptr_t)ctx);
}

/* An infer reply: the body becomes the buffer that output tensors view. */
static void infer_reply(struct http_task *t, struct triton_reply *reply, struct triton_error *err)
{
    const char *data = t->body ? t->body + t->pad : "";
    size_t hl = WIRE_NO_HEADER_LENGTH;
    if (t->stream_err.code != TRITON_OK) {
        *err = t->stream_err;
        return;
    }
    if (t->has_ihcl)
        hl = t->ihcl; /* wire_http_infer_parse checks it against the body */
    struct tensor_buffer *owner = NULL;
    if (t->body) {
        owner = tensor_buffer_wrap(t->body, t->pad + t->len, free_body_ctx,
                                   (void *)(uintptr_t)t->cap, err);
        if (!owner)
            return;
        t->body = NULL; /* the owner frees it once no output needs it */
    }
    wire_http_infer_parse(data, t->len, hl, owner, &t->reply_memo, &reply->result, err);
    if (owner)
        tensor_buffer_unref(owner);
}

/* Builds the reply of a transfer that ended with an HTTP response, as the
 * kind's reply shape says. */
static void http_reply(struct http_task *t, struct triton_reply *reply, struct triton_error *err)
{
    struct triton_call *call = t->call;
    enum triton_reply_shape shape = triton_call_info(call->kind)->reply;
    const char *what = triton_call_kind_name(call->kind);
    const char *data = t->body ? t->body + t->pad : "";
    if (shape == TRITON_REPLY_BOOLEAN && (t->status == 200 || t->status == 400)) {
        /* Triton answers "not ready" with 400; any other status is a failure, as
         * the same status is over gRPC (a proxy's 503 is "unavailable", not "false") */
        reply->boolean = t->status == 200;
        return;
    }
    if (t->status < 200 || t->status > 299) {
        char text[400];
        wire_http_error_text(data, t->len, text, sizeof(text));
        if (text[0])
            triton_fail(err, triton_http_status_code(t->status), "%s", text);
        else
            triton_fail(err, triton_http_status_code(t->status), "%s: HTTP status %ld", what,
                        t->status);
        err->status = (int)t->status;
        return;
    }
    if (shape == TRITON_REPLY_EMPTY)
        return;
    if (shape == TRITON_REPLY_RESULT) {
        infer_reply(t, reply, err);
        return;
    }
    if (shape == TRITON_REPLY_EVENTS && (t->sse_started || t->event_stream))
        return; /* the events went out as they came; a plain JSON reply is the one event */
    if (t->len == 0) {
        triton_fail(err, TRITON_PROTOCOL, "%s: the server sent an empty reply", what);
        return;
    }
    reply->json = wire_json_parse(data, t->len, NULL);
    if (!reply->json)
        triton_fail(err, TRITON_PROTOCOL, "%s: the reply is not valid JSON: '%.60s'", what, data);
}

static void task_done(struct triton_loop_curl_task *base, CURLcode rc)
{
    struct http_task *t = (struct http_task *)base;
    struct http_client *hc = t->hc;
    struct triton_call *call = t->call;
    struct triton_error err = {0};
    struct triton_reply reply = {0};
    if (!call) {
        /* cancelled from inside a curl callback: the transfer aborted itself
         * before the step took it out */
        triton_loop_undefer(hc->loop, &t->later);
        unlink_task(hc, t);
        release_task(hc, t);
        return;
    }

    if (rc == CURLE_OK && !t->headers_ended)
        /* curl takes a connection closed in the middle of the header block as the
         * end of a reply without body; it is a cut-off reply */
        triton_fail(&err, TRITON_UNAVAILABLE,
                    "%s: the connection closed before the reply's headers were complete",
                    triton_call_kind_name(call->kind));
    else if (rc == CURLE_OK)
        http_reply(t, &reply, &err);
    else
        transfer_error(t, rc, &err);
    if (hc->verbose) {
        curl_off_t us = 0;
        curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &us);
        logf_(hc, "< %s %s%s: HTTP %ld, %zu bytes, %.3f ms%s%s", t->post ? "POST" : "GET",
              hc->log_base, t->url + hc->base_len, t->status, t->len, (double)us / 1000.0,
              err.code ? ", error: " : "", err.code ? err.message : "");
    }
    if (wants_events(call) && !err.code && reply.json) {
        /* a 200 reply that was not an event stream: deliver it as the one event */
        triton_call_finish(call, &reply, NULL, false);
        cJSON_Delete(reply.json);
        reply.json = NULL;
    }

    unlink_task(hc, t);
    release_task(hc, t);

    triton_call_finish(call, &reply, err.code ? &err : NULL, true);
    cJSON_Delete(reply.json);
    triton_infer_result_free(reply.result);
}

/* ---- the operations table ---------------------------------------------------------------- */

static struct http_task *task_of_later(struct triton_loop_deferred *d)
{
    return (struct http_task *)((char *)d - offsetof(struct http_task, later));
}

static void start_later_run(struct triton_loop_deferred *d)
{
    struct http_task *t = task_of_later(d);
    struct triton_error err = {0};
    if (start_task(t, &err) == 0)
        return;
    struct triton_call *call = t->call;
    unlink_task(t->hc, t);
    release_task(t->hc, t);
    call->transport_state = NULL;
    triton_call_finish(call, NULL, &err, true);
}

static int http_submit(struct triton_client *c, struct triton_call *call, struct triton_error *err)
{
    struct http_client *hc = c->transport_state;
    struct http_task *t = take_task(hc, call, err);
    if (!t)
        return -1;
    if (prepare_request(t, err) < 0 || prepare_body_and_headers(t, err) < 0) {
        release_task(hc, t);
        return -1;
    }
    t->next = hc->tasks;
    if (hc->tasks)
        hc->tasks->prev = t;
    hc->tasks = t;
    call->transport_state = t;
    if (in_curl_callback) {
        t->later.fn = start_later_run;
        triton_loop_defer(hc->loop, &t->later);
        return 0;
    }
    if (start_task(t, err) < 0) {
        unlink_task(hc, t);
        release_task(hc, t);
        call->transport_state = NULL;
        return -1;
    }
    return 0;
}

/* A transfer cancelled from inside a curl callback leaves the multi handle. */
static void remove_later_run(struct triton_loop_deferred *d)
{
    struct http_task *t = task_of_later(d);
    triton_loop_remove_curl(t->hc->loop, t->easy);
    unlink_task(t->hc, t);
    release_task(t->hc, t);
}

static void http_cancel(struct triton_client *c, struct triton_call *call)
{
    struct http_client *hc = c->transport_state;
    struct http_task *t = call->transport_state;
    if (!t || t->cancelled)
        return;
    t->cancelled = true;
    t->call = NULL;
    call->transport_state = NULL;
    if (!t->in_multi) { /* not started yet (start_later_run) */
        triton_loop_undefer(hc->loop, &t->later);
        unlink_task(hc, t);
        release_task(hc, t);
        return;
    }
    if (in_curl_callback) {
        /* curl forbids removing handles here: the step does it once out of
         * curl's callbacks (which until then see the flag and abort; if the
         * transfer ends so first, task_done frees the task) */
        t->later.fn = remove_later_run;
        triton_loop_defer(hc->loop, &t->later);
        return;
    }
    triton_loop_remove_curl(hc->loop, t->easy);
    unlink_task(hc, t);
    release_task(hc, t);
}

static int streams_need_grpc(struct triton_error *err)
{
    return triton_fail(err, TRITON_UNIMPLEMENTED,
                       "streams need a gRPC client (HTTP has no ModelStreamInfer; use "
                       "generate_stream or connect with grpc://)");
}

static int http_stream_open(struct triton_client *c, struct triton_stream *s,
                            struct triton_error *err)
{
    return streams_need_grpc(err);
}

static int http_stream_send(struct triton_client *c, struct triton_stream *s,
                            const struct triton_infer_request *req, struct triton_error *err)
{
    return streams_need_grpc(err);
}

static void http_stream_close(struct triton_client *c, struct triton_stream *s)
{
}

static void http_stream_cancel(struct triton_client *c, struct triton_stream *s)
{
}

static void http_destroy(struct triton_client *c)
{
    struct http_client *hc = c->transport_state;
    if (!hc)
        return;
    /* The call layer has ended every call; only transfers it cancelled from
     * inside a curl callback can be left. */
    while (hc->tasks) {
        struct http_task *t = hc->tasks;
        triton_loop_undefer(hc->loop, &t->later);
        if (t->in_multi)
            triton_loop_remove_curl(hc->loop, t->easy);
        unlink_task(hc, t);
        task_destroy(t);
    }
    for (size_t i = 0; i < hc->n_idle; i++)
        task_destroy(hc->idle[i]);
    clients_remove(hc);
    size_connection_cache(hc->loop);
    free(hc->idle);
    curl_slist_free_all(hc->headers);
    free(hc->base);
    free(hc->log_base);
    free(hc->ca_file);
    free(hc->cert_file);
    free(hc->key_file);
    free(hc->accept_encoding);
    free(hc);
    reply_block_unhold();
    c->transport_state = NULL;
}

static const struct triton_transport http_transport = {
    .name = "http",
    .submit = http_submit,
    .cancel = http_cancel,
    .stream_open = http_stream_open,
    .stream_send = http_stream_send,
    .stream_close = http_stream_close,
    .stream_cancel = http_stream_cancel,
    .destroy = http_destroy,
};

static int dup_opt(char **dst, const char *src, struct triton_error *err)
{
    if (!src || !*src)
        return 0;
    if (!(*dst = strdup(src)))
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
    return 0;
}

/* A TLS file that cannot be read fails the connect, as over gRPC (which reads
 * them when it makes the channel), rather than every later call. */
static int check_readable(const char *path, const char *what, struct triton_error *err)
{
    if (!path || !*path)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s: cannot open '%s': %s", what, path,
                           strerror(errno));
    fclose(f);
    return 0;
}

static int parse_encoding(const char *s, enum body_encoding *out, const char *what,
                          struct triton_error *err)
{
    if (!s || !*s || strcasecmp(s, "none") == 0 || strcasecmp(s, "identity") == 0)
        *out = ENCODING_NONE;
    else if (strcasecmp(s, "gzip") == 0)
        *out = ENCODING_GZIP;
    else if (strcasecmp(s, "deflate") == 0)
        *out = ENCODING_DEFLATE;
    else
        return triton_fail(err, TRITON_INVALID_ARGUMENT,
                           "%s must be \"gzip\" or \"deflate\", not \"%s\"", what, s);
    return 0;
}

int triton_http_init(struct triton_client *c, const struct triton_client_options *opts,
                     struct triton_error *err)
{
    struct http_client *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
    hc->loop = c->loop;
    hc->client = c;
    clients_add(hc);
    hc->verbose = opts->verbose;
    hc->insecure = opts->insecure;
    hc->max_response_size =
        opts->max_response_size ? opts->max_response_size : DEFAULT_MAX_RESPONSE;
    /* c->connection_timeout is resolved by the call layer; INFINITY: curl's 0 */
    hc->connect_timeout = c->connection_timeout;
    /* INFINITY and anything beyond a year are curl's 0 (no limit) */
    double ms = c->connection_timeout * 1000.0;
    hc->connect_timeout_ms = !(ms < 3.2e10) ? 0 : (long)(ms + 0.5);
    if (ms < 3.2e10 && hc->connect_timeout_ms == 0)
        hc->connect_timeout_ms = 1; /* under half a millisecond: not none */
    enum body_encoding accept;
    const char *url = opts->url;
    size_t ulen = strlen(url);
    while (ulen > 0 && url[ulen - 1] == '/')
        ulen--;
    struct wire_jbuf b;
    wire_jbuf_init(&b, 64, 0);
    wire_jbuf_puts(&b, opts->use_tls ? "https://" : "http://");
    wire_jbuf_put(&b, url, ulen);
    hc->base = wire_jbuf_take(&b, NULL);
    hc->log_base = hc->base ? triton_url_redacted(hc->base) : NULL;
    if (!hc->base || !hc->log_base) {
        clients_remove(hc);
        free(hc->base);
        free(hc->log_base);
        free(hc);
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
    }
    hc->base_len = strlen(hc->base);
    reply_block_hold(); /* released by http_destroy */
    c->transport = &http_transport;
    c->transport_state = hc;
    if (parse_encoding(opts->compression, &hc->compression, "compression", err) < 0 ||
        parse_encoding(opts->response_compression, &accept, "response_compression", err) < 0 ||
        dup_opt(&hc->accept_encoding, accept == ENCODING_NONE ? NULL : opts->response_compression,
                err) < 0 ||
        dup_opt(&hc->ca_file, opts->ca_file, err) < 0 ||
        dup_opt(&hc->cert_file, opts->cert_file, err) < 0 ||
        dup_opt(&hc->key_file, opts->key_file, err) < 0)
        goto fail;
    if (opts->use_tls && (check_readable(hc->ca_file, "ssl.ca_file", err) < 0 ||
                          check_readable(hc->cert_file, "ssl.cert_file", err) < 0 ||
                          check_readable(hc->key_file, "ssl.key_file", err) < 0))
        goto fail;
    /* no 100-continue round trip before large bodies */
    hc->headers = curl_slist_append(NULL, "Expect:");
    if (!hc->headers) {
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
        goto fail;
    }
    /* the client's headers go with every call (call->send_headers): a bad one
     * fails here, at connect, not at every call */
    for (size_t i = 0; i < opts->n_headers; i++)
        if (check_header(&opts->headers[i], err) < 0)
            goto fail;
    return 0;
fail:
    http_destroy(c);
    c->transport = NULL;
    return -1;
}
