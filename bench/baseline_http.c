/*
 * baseline_http.c: the plain-C HTTP baseline of scripts/bench. It sends one
 * request body built once (KServe v2 JSON header plus Triton's binary tensor
 * extension, as our client sends it) again and again with libcurl's multi
 * interface: one easy handle per request in flight, re-added when it completes,
 * so connections are kept alive in the multi's pool exactly as our transport
 * keeps them. Each reply body is copied into a buffer reused across requests:
 * the least a client can do that still hands the output to its caller.
 *
 * Usage: baseline_http URL CASE CONCURRENCY REQUESTS [WARMUP]
 *   URL   http://host:port
 *   CASE  simple (2 x 16 INT32 to `simple`) or big (64 MiB FP32 to `identity_fp32`)
 * Prints one JSON line: {"requests":,"errors":,"seconds":,"cpu":,"maxrss":,"minflt":},
 * cpu being getrusage user + system seconds of the measured requests, maxrss the
 * process's peak resident set in bytes, minflt the minor page faults of the
 * measured requests.
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_CONCURRENCY 256
#define BIG_ELEMS       (16u << 20) /* FP32 elements: 64 MiB */

struct slot {
    CURL *easy;
    char *reply;
    size_t len, cap;
};

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct slot *s = ud;
    size_t k = size * n;
    if (s->len + k > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + k)
            cap *= 2;
        char *grown = realloc(s->reply, cap);
        if (!grown)
            return 0;
        s->reply = grown;
        s->cap = cap;
    }
    memcpy(s->reply + s->len, data, k);
    s->len += k;
    return k;
}

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

/* Builds the request body: JSON header, then the raw tensor bytes. */
static char *build_body(int big, size_t *body_len, size_t *json_len, const char **model)
{
    char json[512];
    size_t data_len;
    if (big) {
        data_len = (size_t)BIG_ELEMS * 4;
        snprintf(json, sizeof json,
                 "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[%u],\"datatype\":\"FP32\","
                 "\"parameters\":{\"binary_data_size\":%zu}}],"
                 "\"parameters\":{\"binary_data_output\":true}}",
                 BIG_ELEMS, data_len);
        *model = "identity_fp32";
    } else {
        data_len = 2 * 16 * 4;
        snprintf(json, sizeof json,
                 "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,16],\"datatype\":\"INT32\","
                 "\"parameters\":{\"binary_data_size\":64}},"
                 "{\"name\":\"INPUT1\",\"shape\":[1,16],\"datatype\":\"INT32\","
                 "\"parameters\":{\"binary_data_size\":64}}],"
                 "\"parameters\":{\"binary_data_output\":true}}");
        *model = "simple";
    }
    *json_len = strlen(json);
    *body_len = *json_len + data_len;
    char *body = malloc(*body_len);
    if (!body)
        return NULL;
    memcpy(body, json, *json_len);
    if (big) {
        float *f = (float *)(body + *json_len);
        for (size_t i = 0; i < BIG_ELEMS; i++)
            f[i] = (float)(i % 1000);
    } else {
        int32_t *v = (int32_t *)(body + *json_len);
        for (int i = 0; i < 16; i++) {
            v[i] = i + 1;
            v[16 + i] = 2 * (i + 1);
        }
    }
    return body;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL simple|big CONCURRENCY REQUESTS [WARMUP]\n", argv[0]);
        return 2;
    }
    int big = strcmp(argv[2], "big") == 0;
    int conc = atoi(argv[3]);
    long total = atol(argv[4]);
    long warmup = argc > 5 ? atol(argv[5]) : 0;
    if (conc < 1 || conc > MAX_CONCURRENCY || total < 1 || warmup < 0) {
        fprintf(stderr, "bad concurrency or request count\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t body_len, json_len;
    const char *model;
    char *body = build_body(big, &body_len, &json_len, &model);
    if (!body) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char url[1024], ihcl[128];
    snprintf(url, sizeof url, "%s/v2/models/%s/infer", argv[1], model);
    snprintf(ihcl, sizeof ihcl, "Inference-Header-Content-Length: %zu", json_len);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, ihcl);

    CURLM *multi = curl_multi_init();
    static struct slot slots[MAX_CONCURRENCY];
    for (int i = 0; i < conc; i++) {
        CURL *e = curl_easy_init();
        slots[i].easy = e;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    }

    long started = 0, completed = 0, errors = 0, goal = warmup + total;
    double t0 = 0, cpu0 = 0;
    long flt0 = 0, flt1;
    if (warmup == 0) {
        t0 = now();
        cpu0 = cpu_seconds(&flt0, NULL);
    }
    for (int i = 0; i < conc && started < goal; i++, started++)
        curl_multi_add_handle(multi, slots[i].easy);
    while (completed < goal) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code != 200)
                errors++;
            curl_multi_remove_handle(multi, s->easy);
            s->len = 0;
            completed++;
            if (completed == warmup && warmup > 0) {
                t0 = now();
                cpu0 = cpu_seconds(&flt0, NULL);
            }
            if (started < goal) {
                curl_multi_add_handle(multi, s->easy);
                started++;
            }
        }
        if (completed < goal)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double seconds = now() - t0;
    long maxrss;
    double cpu = cpu_seconds(&flt1, &maxrss) - cpu0;
    printf("{\"requests\":%ld,\"errors\":%ld,\"seconds\":%.6f,\"cpu\":%.6f,\"maxrss\":%ld,"
           "\"minflt\":%ld}\n",
           total, errors, seconds, cpu, maxrss * 1024, flt1 - flt0);

    for (int i = 0; i < conc; i++) {
        curl_easy_cleanup(slots[i].easy);
        free(slots[i].reply);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    free(body);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
