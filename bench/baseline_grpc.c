/*
 * baseline_grpc.c: the plain-C gRPC baseline of scripts/bench. A ModelInferRequest
 * is serialized once, by hand (the few protobuf fields it needs), into one slice;
 * every call sends that slice as its message (a byte buffer over the slice, no
 * copy) in one six-op batch on a completion queue that this thread drains itself
 * with grpc_completion_queue_next: no second thread, no hand-over, the cheapest
 * shape the C core allows. Each reply is copied into a buffer reused across calls
 * (the least a client can do that still hands the output to its caller).
 * gRPC is set up as tritonlua sets it up (docs/GRPC_CORE.md): abseil's debug-only
 * deadlock detector off, gRPC's retry layer and channelz off, so that the two
 * differ only in what tritonlua itself does per call.
 *
 * Usage: baseline_grpc HOST:PORT CASE CONCURRENCY REQUESTS [WARMUP]
 *   CASE  simple (2 x 16 INT32 to `simple`) or big (64 MiB FP32 to `identity_fp32`)
 * Prints one JSON line like bench/baseline_http.c.
 */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "grpc/grpc_absl.h"

#define MAX_CONCURRENCY 256
#define BIG_ELEMS       (16u << 20) /* FP32 elements: 64 MiB */
#define METHOD          "/inference.GRPCInferenceService/ModelInfer"

struct slot {
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array initial, trailing;
    grpc_status_code status;
    grpc_slice details;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds so far; *minflt gets the minor page faults so far, *maxrss (if
 * not NULL) the peak resident set in KiB. */
static double cpu_seconds(long *minflt, long *maxrss)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *minflt = ru.ru_minflt;
    if (maxrss)
        *maxrss = ru.ru_maxrss;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* ---- hand-written protobuf encoding ----------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t varint_len(uint64_t v)
{
    uint8_t tmp[10];
    return put_varint(tmp, v);
}

/* A length-delimited field: tag, length, bytes. */
static size_t put_bytes(uint8_t *p, int field, const void *data, size_t len)
{
    size_t n = put_varint(p, ((uint64_t)field << 3) | 2);
    n += put_varint(p + n, len);
    memcpy(p + n, data, len);
    return n + len;
}

/* InferInputTensor{1 name, 2 datatype, 3 shape (packed)} */
static size_t put_input(uint8_t *p, const char *name, const char *dtype, const int64_t *shape,
                        int ndim)
{
    uint8_t shp[64], tensor[256];
    size_t ns = 0;
    for (int i = 0; i < ndim; i++)
        ns += put_varint(shp + ns, (uint64_t)shape[i]);
    size_t nt = put_bytes(tensor, 1, name, strlen(name));
    nt += put_bytes(tensor + nt, 2, dtype, strlen(dtype));
    nt += put_bytes(tensor + nt, 3, shp, ns);
    return put_bytes(p, 5, tensor, nt); /* ModelInferRequest.inputs */
}

/* The whole ModelInferRequest in one slice. */
static grpc_slice build_request(int big)
{
    uint8_t head[1024];
    size_t n;
    size_t data_len = big ? (size_t)BIG_ELEMS * 4 : 64;
    int n_raw = big ? 1 : 2;
    if (big) {
        int64_t shape[1] = {BIG_ELEMS};
        n = put_bytes(head, 1, "identity_fp32", 13);
        n += put_input(head + n, "INPUT0", "FP32", shape, 1);
    } else {
        int64_t shape[2] = {1, 16};
        n = put_bytes(head, 1, "simple", 6);
        n += put_input(head + n, "INPUT0", "INT32", shape, 2);
        n += put_input(head + n, "INPUT1", "INT32", shape, 2);
    }
    size_t total = n + (size_t)n_raw * (1 + varint_len(data_len) + data_len);
    grpc_slice s = grpc_slice_malloc(total);
    uint8_t *p = GRPC_SLICE_START_PTR(s);
    memcpy(p, head, n);
    p += n;
    for (int r = 0; r < n_raw; r++) {
        *p++ = 0x3A; /* raw_input_contents, field 7 */
        p += put_varint(p, data_len);
        if (big) {
            float *f = (float *)p;
            for (size_t i = 0; i < BIG_ELEMS; i++)
                f[i] = (float)(i % 1000);
        } else {
            int32_t v[16];
            for (int i = 0; i < 16; i++)
                v[i] = r == 0 ? i + 1 : 2 * (i + 1);
            memcpy(p, v, sizeof v);
        }
        p += data_len;
    }
    return s;
}

/* ---- calls -------------------------------------------------------------------------- */

static grpc_channel *channel;
static grpc_completion_queue *cq;
static grpc_slice request;
static char *reply_buf;
static size_t reply_cap;

static int start(struct slot *s)
{
    s->call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                       grpc_slice_from_static_string(METHOD), NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    s->send = grpc_raw_byte_buffer_create(&request, 1);
    s->recv = NULL;
    grpc_metadata_array_init(&s->initial);
    grpc_metadata_array_init(&s->trailing);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    grpc_call_error rc = grpc_call_start_batch(s->call, ops, 6, s, NULL);
    grpc_byte_buffer_destroy(s->send);
    return rc == GRPC_CALL_OK ? 0 : -1;
}

/* Copies the reply into the reused buffer; returns whether the call succeeded. */
static int finish(struct slot *s)
{
    int ok = s->status == GRPC_STATUS_OK && s->recv;
    if (s->recv) {
        size_t len = grpc_byte_buffer_length(s->recv);
        if (len > reply_cap) {
            free(reply_buf);
            reply_buf = malloc(len);
            reply_cap = reply_buf ? len : 0;
        }
        grpc_byte_buffer_reader r;
        if (reply_buf && grpc_byte_buffer_reader_init(&r, s->recv)) {
            grpc_slice *piece;
            size_t off = 0;
            while (grpc_byte_buffer_reader_peek(&r, &piece)) {
                memcpy(reply_buf + off, GRPC_SLICE_START_PTR(*piece), GRPC_SLICE_LENGTH(*piece));
                off += GRPC_SLICE_LENGTH(*piece);
            }
            grpc_byte_buffer_reader_destroy(&r);
        }
        grpc_byte_buffer_destroy(s->recv);
    }
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->initial);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_call_unref(s->call);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s HOST:PORT simple|big CONCURRENCY REQUESTS [WARMUP]\n", argv[0]);
        return 2;
    }
    const char *target = argv[1];
    if (strncmp(target, "grpc://", 7) == 0)
        target += 7;
    int big = strcmp(argv[2], "big") == 0;
    int conc = atoi(argv[3]);
    long total = atol(argv[4]);
    long warmup = argc > 5 ? atol(argv[5]) : 0;
    if (conc < 1 || conc > MAX_CONCURRENCY || total < 1 || warmup < 0) {
        fprintf(stderr, "bad concurrency or request count\n");
        return 2;
    }
    grpc_absl_no_deadlock_detection();
    grpc_init();
    grpc_arg args[4];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = -1;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = -1;
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_ENABLE_RETRIES;
    args[2].value.integer = 0;
    args[3].type = GRPC_ARG_INTEGER;
    args[3].key = GRPC_ARG_ENABLE_CHANNELZ;
    args[3].value.integer = 0;
    grpc_channel_args chargs = {4, args};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    channel = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    cq = grpc_completion_queue_create_for_next(NULL);
    request = build_request(big);

    static struct slot slots[MAX_CONCURRENCY];
    long started = 0, completed = 0, errors = 0, goal = warmup + total;
    double t0 = 0, cpu0 = 0;
    long flt0 = 0, flt1;
    if (warmup == 0) {
        t0 = now();
        cpu0 = cpu_seconds(&flt0, NULL);
    }
    for (int i = 0; i < conc && started < goal; i++, started++)
        if (start(&slots[i]) != 0)
            return 1;
    while (completed < goal) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct slot *s = ev.tag;
        if (!finish(s) || !ev.success)
            errors++;
        completed++;
        if (completed == warmup && warmup > 0) {
            t0 = now();
            cpu0 = cpu_seconds(&flt0, NULL);
        }
        if (started < goal) {
            if (start(s) != 0)
                return 1;
            started++;
        }
    }
    double seconds = now() - t0;
    long maxrss;
    double cpu = cpu_seconds(&flt1, &maxrss) - cpu0;
    printf("{\"requests\":%ld,\"errors\":%ld,\"seconds\":%.6f,\"cpu\":%.6f,\"maxrss\":%ld,"
           "\"minflt\":%ld}\n",
           total, errors, seconds, cpu, maxrss * 1024, flt1 - flt0);
    fflush(stdout);

    grpc_slice_unref(request);
    free(reply_buf);
    grpc_channel_destroy(channel);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    return errors ? 1 : 0;
}
