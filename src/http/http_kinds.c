/*
 * http_kinds.c: the path and body of each call kind over HTTP/REST (see
 * http_kinds.h). The call layer has checked each call's required arguments
 * (triton_call_check) before an encoder sees it.
 */
#include "http/http_kinds.h"

#include <stdlib.h>
#include <string.h>

#include "wire/trace_setting.h"

static bool has(const char *s)
{
    return s && *s;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Percent-encodes a path segment or query component: runs of unreserved
 * characters (most names are one) go in whole. */
static void put_escaped(struct wire_jbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    while (*s) {
        size_t run = 0;
        while (unreserved((unsigned char)s[run]))
            run++;
        if (run)
            wire_jbuf_put(b, s, run);
        s += run;
        if (!*s)
            break;
        unsigned char c = (unsigned char)*s++;
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        wire_jbuf_put(b, e, 3);
    }
}

/* /v2/models/NAME[/versions/V] */
static void put_model_path(struct wire_jbuf *b, const char *model, const char *version)
{
    wire_jbuf_puts(b, "/v2/models/");
    put_escaped(b, model);
    if (has(version)) {
        wire_jbuf_puts(b, "/versions/");
        put_escaped(b, version);
    }
}

/* Hands a finished body builder over as m->json. */
static int take_json(struct wire_jbuf *b, struct http_message *m, struct triton_error *err)
{
    if (!(m->json = wire_jbuf_take(b, NULL)))
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory writing a request body");
    return 0;
}

static int put_json(const char *text, struct http_message *m, struct triton_error *err)
{
    struct wire_jbuf b;
    wire_jbuf_init(&b, strlen(text) + 1, 0);
    wire_jbuf_puts(&b, text);
    return take_json(&b, m, err);
}

static int print_json(const cJSON *j, struct http_message *m, struct triton_error *err)
{
    struct wire_jbuf b;
    wire_jbuf_init(&b, 256, 0);
    wire_jbuf_cjson(&b, j);
    return take_json(&b, m, err);
}

/* ---- health and metadata ------------------------------------------------------------------ */

static int encode_live(const struct triton_call *call, struct http_message *m,
                       struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2/health/live");
    return 0;
}

static int encode_ready(const struct triton_call *call, struct http_message *m,
                        struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2/health/ready");
    return 0;
}

static int encode_server_metadata(const struct triton_call *call, struct http_message *m,
                                  struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2");
    return 0;
}

static int encode_model_ready(const struct triton_call *call, struct http_message *m,
                              struct triton_error *err)
{
    put_model_path(m->url, call->model, call->version);
    wire_jbuf_puts(m->url, "/ready");
    return 0;
}

static int encode_model_metadata(const struct triton_call *call, struct http_message *m,
                                 struct triton_error *err)
{
    put_model_path(m->url, call->model, call->version);
    return 0;
}

static int encode_model_config(const struct triton_call *call, struct http_message *m,
                               struct triton_error *err)
{
    put_model_path(m->url, call->model, call->version);
    wire_jbuf_puts(m->url, "/config");
    return 0;
}

static int encode_statistics(const struct triton_call *call, struct http_message *m,
                             struct triton_error *err)
{
    if (has(call->model))
        put_model_path(m->url, call->model, call->version);
    else
        wire_jbuf_puts(m->url, "/v2/models");
    wire_jbuf_puts(m->url, "/stats");
    return 0;
}

/* ---- the model repository ------------------------------------------------------------------- */

static int encode_index(const struct triton_call *call, struct http_message *m,
                        struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2/repository/index");
    return call->flag ? put_json("{\"ready\":true}", m, err) : 0;
}

static void put_repository_path(struct wire_jbuf *url, const char *model, const char *action)
{
    wire_jbuf_puts(url, "/v2/repository/models/");
    put_escaped(url, model);
    wire_jbuf_puts(url, action);
}

/* {"parameters": {"config": "...", "file:...": "<base64>"}}; no body without a config. */
static int encode_load(const struct triton_call *call, struct http_message *m,
                       struct triton_error *err)
{
    put_repository_path(m->url, call->model, "/load");
    if (!call->config_json) /* files come only with a config (triton_call_check) */
        return 0;
    struct wire_jbuf b;
    wire_jbuf_init(&b, 256, 0);
    wire_jbuf_puts(&b, "{\"parameters\":{\"config\":");
    wire_jbuf_string(&b, call->config_json, strlen(call->config_json), false);
    for (size_t i = 0; i < call->n_files; i++) {
        const struct triton_bytes *f = &call->files[i];
        if (!has(f->key) || strncmp(f->key, "file:", 5) != 0) {
            wire_jbuf_free(&b);
            return triton_fail(err, TRITON_INVALID_ARGUMENT,
                               "load_model: file names must read \"file:<version>/<name>\", got "
                               "'%s'",
                               f->key ? f->key : "");
        }
        size_t n;
        char *b64 = wire_base64(f->data, f->len, &n);
        if (!b64) {
            wire_jbuf_free(&b);
            return triton_fail(err, TRITON_NO_MEMORY, "out of memory encoding model file '%s'",
                               f->key);
        }
        wire_jbuf_putc(&b, ',');
        wire_jbuf_string(&b, f->key, strlen(f->key), false);
        wire_jbuf_puts(&b, ":\"");
        wire_jbuf_put(&b, b64, n);
        wire_jbuf_putc(&b, '"');
        free(b64);
    }
    wire_jbuf_puts(&b, "}}");
    return take_json(&b, m, err);
}

static int encode_unload(const struct triton_call *call, struct http_message *m,
                         struct triton_error *err)
{
    put_repository_path(m->url, call->model, "/unload");
    return put_json(call->flag ? "{\"parameters\":{\"unload_dependents\":true}}"
                               : "{\"parameters\":{\"unload_dependents\":false}}",
                    m, err);
}

/* ---- trace and log settings -------------------------------------------------------------------
 */

/* v2[/models/NAME]/trace/setting: a version is not part of it. */
static int encode_trace(const struct triton_call *call, struct http_message *m,
                        struct triton_error *err)
{
    if (has(call->model)) {
        wire_jbuf_puts(m->url, "/v2/models/");
        put_escaped(m->url, call->model);
        wire_jbuf_puts(m->url, "/trace/setting");
    } else {
        wire_jbuf_puts(m->url, "/v2/trace/setting");
    }
    return 0;
}

static void put_trace_text(struct wire_jbuf *b, const cJSON *v)
{
    char buf[WIRE_JSON_NUM_MAX];
    const char *text = wire_trace_setting_text(v, buf);
    wire_jbuf_string(b, text, strlen(text), false);
}

/* The body carries every value as text, as Triton's HTTP trace API takes it:
 * {"trace_rate": "5", "trace_level": ["TIMESTAMPS"], "log_frequency": null}. */
static int encode_update_trace(const struct triton_call *call, struct http_message *m,
                               struct triton_error *err)
{
    encode_trace(call, m, err);
    if (wire_trace_settings_check(call->settings, err) < 0)
        return -1;
    struct wire_jbuf b;
    wire_jbuf_init(&b, 128, 0);
    wire_jbuf_putc(&b, '{');
    const cJSON *item;
    cJSON_ArrayForEach(item, call->settings)
    {
        if (item != call->settings->child)
            wire_jbuf_putc(&b, ',');
        wire_jbuf_string(&b, item->string, strlen(item->string), false);
        wire_jbuf_putc(&b, ':');
        if (cJSON_IsNull(item)) {
            wire_jbuf_puts(&b, "null");
        } else if (cJSON_IsArray(item)) {
            wire_jbuf_putc(&b, '[');
            const cJSON *e;
            cJSON_ArrayForEach(e, item)
            {
                if (e != item->child)
                    wire_jbuf_putc(&b, ',');
                put_trace_text(&b, e);
            }
            wire_jbuf_putc(&b, ']');
        } else {
            put_trace_text(&b, item);
        }
    }
    wire_jbuf_putc(&b, '}');
    return take_json(&b, m, err);
}

static int encode_log(const struct triton_call *call, struct http_message *m,
                      struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2/logging");
    return 0;
}

static int encode_update_log(const struct triton_call *call, struct http_message *m,
                             struct triton_error *err)
{
    wire_jbuf_puts(m->url, "/v2/logging");
    return print_json(call->settings, m, err);
}

/* ---- shared memory ------------------------------------------------------------------------------
 */

/* /v2/{system,cuda}sharedmemory[/region/NAME]/ACTION: no region = every region. */
static void put_shm_path(struct wire_jbuf *url, const char *kind, const char *region,
                         const char *action)
{
    wire_jbuf_puts(url, "/v2/");
    wire_jbuf_puts(url, kind);
    if (has(region)) {
        wire_jbuf_puts(url, "/region/");
        put_escaped(url, region);
    }
    wire_jbuf_puts(url, action);
}

static int encode_system_status(const struct triton_call *call, struct http_message *m,
                                struct triton_error *err)
{
    put_shm_path(m->url, "systemsharedmemory", call->region, "/status");
    return 0;
}

static int encode_system_unregister(const struct triton_call *call, struct http_message *m,
                                    struct triton_error *err)
{
    put_shm_path(m->url, "systemsharedmemory", call->region, "/unregister");
    return 0;
}

static int encode_system_register(const struct triton_call *call, struct http_message *m,
                                  struct triton_error *err)
{
    put_shm_path(m->url, "systemsharedmemory", call->region, "/register");
    struct wire_jbuf b;
    wire_jbuf_init(&b, 128, 0);
    wire_jbuf_puts(&b, "{\"key\":");
    wire_jbuf_string(&b, call->key, strlen(call->key), false);
    wire_jbuf_puts(&b, ",\"offset\":");
    wire_jbuf_uint64(&b, call->offset);
    wire_jbuf_puts(&b, ",\"byte_size\":");
    wire_jbuf_uint64(&b, call->byte_size);
    wire_jbuf_putc(&b, '}');
    return take_json(&b, m, err);
}

static int encode_cuda_status(const struct triton_call *call, struct http_message *m,
                              struct triton_error *err)
{
    put_shm_path(m->url, "cudasharedmemory", call->region, "/status");
    return 0;
}

static int encode_cuda_unregister(const struct triton_call *call, struct http_message *m,
                                  struct triton_error *err)
{
    put_shm_path(m->url, "cudasharedmemory", call->region, "/unregister");
    return 0;
}

static int encode_cuda_register(const struct triton_call *call, struct http_message *m,
                                struct triton_error *err)
{
    put_shm_path(m->url, "cudasharedmemory", call->region, "/register");
    size_t n;
    char *b64 = wire_base64(call->raw_handle, call->raw_handle_len, &n);
    if (!b64)
        return triton_fail(err, TRITON_NO_MEMORY, "out of memory encoding a raw handle");
    struct wire_jbuf b;
    wire_jbuf_init(&b, n + 96, 0);
    wire_jbuf_puts(&b, "{\"raw_handle\":{\"b64\":\"");
    wire_jbuf_put(&b, b64, n);
    free(b64);
    wire_jbuf_puts(&b, "\"},\"device_id\":");
    wire_jbuf_int64(&b, call->device_id);
    wire_jbuf_puts(&b, ",\"byte_size\":");
    wire_jbuf_uint64(&b, call->byte_size);
    wire_jbuf_putc(&b, '}');
    return take_json(&b, m, err);
}

/* ---- inference
 * ------------------------------------------------------------------------------------ */

static int encode_infer(const struct triton_call *call, struct http_message *m,
                        struct triton_error *err)
{
    put_model_path(m->url, call->infer->model, call->infer->version);
    wire_jbuf_puts(m->url, "/infer");
    return wire_http_infer_request_build(call->infer, m->infer, err);
}

static int encode_generate(const struct triton_call *call, struct http_message *m,
                           struct triton_error *err)
{
    put_model_path(m->url, call->model, call->version);
    wire_jbuf_puts(m->url, "/generate");
    return print_json(call->settings, m, err);
}

static int encode_generate_stream(const struct triton_call *call, struct http_message *m,
                                  struct triton_error *err)
{
    put_model_path(m->url, call->model, call->version);
    wire_jbuf_puts(m->url, "/generate_stream");
    return print_json(call->settings, m, err);
}

/* ---- the table
 * ------------------------------------------------------------------------------------- */

#define GET(fn)                                                                                    \
    {                                                                                              \
        HTTP_GET, false, fn                                                                        \
    }
#define POST(fn)                                                                                   \
    {                                                                                              \
        HTTP_POST, false, fn                                                                       \
    }

const struct http_kind http_kinds[TRITON_CALL_NKINDS] = {
    [TRITON_CALL_SERVER_LIVE] = GET(encode_live),
    [TRITON_CALL_SERVER_READY] = GET(encode_ready),
    [TRITON_CALL_MODEL_READY] = GET(encode_model_ready),
    [TRITON_CALL_SERVER_METADATA] = GET(encode_server_metadata),
    [TRITON_CALL_MODEL_METADATA] = GET(encode_model_metadata),
    [TRITON_CALL_MODEL_CONFIG] = GET(encode_model_config),
    [TRITON_CALL_REPOSITORY_INDEX] = POST(encode_index),
    [TRITON_CALL_LOAD_MODEL] = POST(encode_load),
    [TRITON_CALL_UNLOAD_MODEL] = POST(encode_unload),
    [TRITON_CALL_STATISTICS] = GET(encode_statistics),
    [TRITON_CALL_TRACE_SETTINGS] = GET(encode_trace),
    [TRITON_CALL_UPDATE_TRACE_SETTINGS] = POST(encode_update_trace),
    [TRITON_CALL_LOG_SETTINGS] = GET(encode_log),
    [TRITON_CALL_UPDATE_LOG_SETTINGS] = POST(encode_update_log),
    [TRITON_CALL_SYSTEM_SHM_STATUS] = GET(encode_system_status),
    [TRITON_CALL_SYSTEM_SHM_REGISTER] = POST(encode_system_register),
    [TRITON_CALL_SYSTEM_SHM_UNREGISTER] = POST(encode_system_unregister),
    [TRITON_CALL_CUDA_SHM_STATUS] = GET(encode_cuda_status),
    [TRITON_CALL_CUDA_SHM_REGISTER] = POST(encode_cuda_register),
    [TRITON_CALL_CUDA_SHM_UNREGISTER] = POST(encode_cuda_unregister),
    [TRITON_CALL_INFER] = {HTTP_POST, true, encode_infer},
    [TRITON_CALL_GENERATE] = POST(encode_generate),
    [TRITON_CALL_GENERATE_STREAM] = POST(encode_generate_stream),
};

static void put_query(struct wire_jbuf *url, const struct triton_kv *q, size_t i)
{
    wire_jbuf_putc(url, i == 0 ? '?' : '&');
    put_escaped(url, q->key);
    wire_jbuf_putc(url, '=');
    put_escaped(url, q->value ? q->value : "");
}

int http_encode(const struct triton_call *call, const char *base, struct wire_jbuf *url,
                char **json, struct wire_http_request *infer, struct triton_error *err)
{
    const struct http_kind *k = &http_kinds[call->kind];
    wire_jbuf_reset(url);
    wire_jbuf_puts(url, base);
    struct http_message m = {.url = url, .infer = infer};
    int rc = k->encode(call, &m, err);
    for (size_t i = 0; rc == 0 && i < call->n_query; i++) {
        if (!has(call->query[i].key))
            rc =
                triton_fail(err, TRITON_INVALID_ARGUMENT, "query parameter %zu has no name", i + 1);
        else
            put_query(url, &call->query[i], i);
    }
    if (rc == 0 && !wire_jbuf_text(url))
        rc = triton_fail(err, TRITON_NO_MEMORY, "out of memory building a URL");
    if (rc < 0) {
        free(m.json);
        return -1;
    }
    *json = m.json;
    return 0;
}
