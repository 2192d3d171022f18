/*
 * client.c: the transport-neutral part of a client (see client.h).
 */
#include "client/client.h"

#include <stdlib.h>
#include <string.h>

static const struct triton_call_info call_table[] = {
#define X(e, name, reply, idem, route, tr, needs)                                                  \
    {name, TRITON_REPLY_##reply, idem, TRITON_ROUTE_##route, tr, needs},
    TRITON_CALL_KINDS(X)
#undef X
};

const struct triton_call_info *triton_call_info(enum triton_call_kind kind)
{
    if ((int)kind < 0 || kind >= TRITON_CALL_NKINDS)
        return NULL;
    return &call_table[kind];
}

const char *triton_call_kind_name(enum triton_call_kind kind)
{
    const struct triton_call_info *info = triton_call_info(kind);
    return info ? info->name : "unknown";
}

struct triton_client *triton_client_new(struct triton_loop *loop,
                                        const struct triton_client_options *opts,
                                        struct triton_error *err)
{
    if (!opts->url || !*opts->url) {
        triton_fail(err, TRITON_INVALID_ARGUMENT, "a client needs a server URL");
        return NULL;
    }
    struct triton_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->url = strdup(opts->url))) {
        free(c);
        triton_fail(err, TRITON_NO_MEMORY, "out of memory creating a client");
        return NULL;
    }
    c->loop = loop;
    c->protocol = opts->protocol;
    c->verbose = opts->verbose;
    int rc = opts->protocol == TRITON_PROTOCOL_GRPC ? triton_grpc_init(c, opts, err)
                                                    : triton_http_init(c, opts, err);
    if (rc != 0) {
        free(c->url);
        free(c);
        return NULL;
    }
    return c;
}

void triton_client_free(struct triton_client *c)
{
    if (!c)
        return;
    if (c->transport)
        c->transport->destroy(c);
    free(c->url);
    free(c);
}

static bool has(const char *s)
{
    return s && *s;
}

int triton_call_check(const struct triton_call *call, struct triton_error *err)
{
    const struct triton_call_info *info = triton_call_info(call->kind);
    if (!info || !call->done)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "malformed call");
    const char *name = info->name;
    unsigned needs = info->needs;
    if ((needs & TRITON_NEEDS_MODEL) && !has(call->model))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a model name", name);
    if ((needs & TRITON_NEEDS_REGION) && !has(call->region))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a region name", name);
    if ((needs & TRITON_NEEDS_KEY) && !call->key)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a key", name);
    if ((needs & TRITON_NEEDS_HANDLE) && !call->raw_handle)
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a raw handle", name);
    if ((needs & TRITON_NEEDS_SETTINGS) && !cJSON_IsObject(call->settings))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs %s object", name,
                           call->kind == TRITON_CALL_GENERATE ||
                                   call->kind == TRITON_CALL_GENERATE_STREAM
                               ? "a body"
                               : "a settings");
    if ((needs & TRITON_NEEDS_INFER) && (!call->infer || !has(call->infer->model)))
        return triton_fail(err, TRITON_INVALID_ARGUMENT, "%s needs a model name", name);
    return 0;
}

int triton_client_submit(struct triton_client *c, struct triton_call *call,
                         struct triton_error *err)
{
    if (triton_call_check(call, err) < 0)
        return -1;
    call->finished = false;
    return c->transport->submit(c, call, err);
}

int triton_call_wait(struct triton_client *c, struct triton_call *call, struct triton_error *err)
{
    while (!call->finished) {
        int ran = triton_loop_step(c->loop, -1, err);
        if (ran < 0)
            return -1;
        /* Nothing ran and nothing is in flight: the transport dropped the call
         * without completing it. Fail instead of spinning forever. */
        if (ran == 0 && !call->finished && triton_loop_pending(c->loop) == 0)
            return triton_fail(err, TRITON_INTERNAL, "%s: the call was lost by its transport",
                               triton_call_kind_name(call->kind));
    }
    return 0;
}

void triton_client_cancel(struct triton_client *c, struct triton_call *call)
{
    if (!call->finished)
        c->transport->cancel(c, call);
}

int triton_client_stream_open(struct triton_client *c, struct triton_stream *s,
                              struct triton_error *err)
{
    s->finished = false;
    return c->transport->stream_open(c, s, err);
}

int triton_client_stream_send(struct triton_client *c, struct triton_stream *s,
                              const struct triton_infer_request *req, struct triton_error *err)
{
    return c->transport->stream_send(c, s, req, err);
}

void triton_client_stream_close(struct triton_client *c, struct triton_stream *s)
{
    c->transport->stream_close(c, s);
}

void triton_client_stream_cancel(struct triton_client *c, struct triton_stream *s)
{
    c->transport->stream_cancel(c, s);
}
