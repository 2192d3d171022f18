/*
 * test_loop.c: the event loop on its own: timers (order, never early, stop,
 * bounding an unlimited wait), deferred work, wakeups, and the descriptor a host
 * watches, which must turn readable for deferred work, a due timer, a curl
 * transfer's data (from a tiny server in a thread of this test) and a gRPC
 * event (from the reference server), and be quiet again once step(0) has run
 * everything. Assertions are about order and completion, never about speed;
 * every wait has a generous limit so that a bug fails the test instead of
 * hanging it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "check.h"
#include "loop/loop.h"
#include "testserver.h"

/* How long a wait for something that must happen may last before the test
 * calls it a failure (a hang guard, not a speed check). */
#define PATIENCE_MS 30000

static struct triton_loop *new_loop(void)
{
    struct triton_error err = {0};
    struct triton_loop *loop = triton_loop_new(&err);
    if (!loop) {
        fprintf(stderr, "triton_loop_new: %s\n", err.message);
        exit(1);
    }
    return loop;
}

static int step(struct triton_loop *loop, double timeout)
{
    struct triton_error err = {0};
    int ran = triton_loop_step(loop, timeout, &err);
    if (ran < 0) {
        fprintf(stderr, "triton_loop_step: %s\n", err.message);
        check_failures++;
    }
    return ran;
}

/* Whether fd is readable within ms milliseconds. */
static bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* ---- timers ------------------------------------------------------------------ */

struct probe_timer {
    struct triton_loop_timer t;
    int *log, *n_log; /* fired timers append their id */
    int id;
    bool early; /* fired before its time */
};

static void probe_fire(struct triton_loop_timer *t)
{
    struct probe_timer *p = (struct probe_timer *)t;
    if (triton_loop_now() < t->when)
        p->early = true;
    p->log[(*p->n_log)++] = p->id;
}

static void test_timers_fire_in_order(void)
{
    struct triton_loop *loop = new_loop();
    int log[8], n = 0;
    struct probe_timer p[5];
    for (int i = 0; i < 5; i++)
        p[i] = (struct probe_timer){.t.fn = probe_fire, .log = log, .n_log = &n, .id = i};
    double now = triton_loop_now();
    triton_loop_timer_start(loop, &p[0].t, now + 0.06);
    triton_loop_timer_start(loop, &p[1].t, now + 0.02);
    triton_loop_timer_start(loop, &p[2].t, now + 0.04);
    triton_loop_timer_start(loop, &p[3].t, now + 0.02); /* same time as 1: after it */
    triton_loop_timer_start(loop, &p[4].t, now + 0.03);
    triton_loop_timer_stop(loop, &p[4].t);
    triton_loop_timer_stop(loop, &p[4].t); /* twice is harmless */
    CHECK(!p[4].t.armed);
    CHECK(p[0].t.armed);
    CHECK_INT(triton_loop_pending(loop), 0); /* timers are not work in flight */

    /* An unlimited step waits for the next timer instead of returning at once. */
    int ran = step(loop, -1);
    CHECK(ran >= 1);
    CHECK(n >= 1);
    for (int guard = 0; n < 4 && guard < 1000; guard++)
        step(loop, -1);
    CHECK_INT(n, 4);
    CHECK_INT(log[0], 1);
    CHECK_INT(log[1], 3);
    CHECK_INT(log[2], 2);
    CHECK_INT(log[3], 0);
    for (int i = 0; i < 5; i++)
        CHECK(!p[i].early);
    /* Nothing armed and nothing in flight: an unlimited step returns at once. */
    CHECK_INT(step(loop, -1), 0);
    CHECK_INT(n, 4);
    triton_loop_free(loop);
}

static void test_timer_restart(void)
{
    struct triton_loop *loop = new_loop();
    int log[4], n = 0;
    struct probe_timer a = {.t.fn = probe_fire, .log = log, .n_log = &n, .id = 1};
    struct probe_timer b = {.t.fn = probe_fire, .log = log, .n_log = &n, .id = 2};
    double now = triton_loop_now();
    triton_loop_timer_start(loop, &a.t, now + 0.01);
    triton_loop_timer_start(loop, &b.t, now + 0.03);
    triton_loop_timer_start(loop, &a.t, now + 0.05); /* re-arming moves it after b */
    for (int guard = 0; n < 2 && guard < 1000; guard++)
        step(loop, -1);
    CHECK_INT(n, 2);
    CHECK_INT(log[0], 2);
    CHECK_INT(log[1], 1);
    CHECK(!a.early && !b.early);
    triton_loop_free(loop);
}

/* A timer that re-arms itself for a time already past. */
struct again_timer {
    struct triton_loop_timer t;
    struct triton_loop *loop;
    int fired;
};

static void again_fire(struct triton_loop_timer *t)
{
    struct again_timer *a = (struct again_timer *)t;
    if (++a->fired < 5)
        triton_loop_timer_start(a->loop, t, triton_loop_now() - 1);
}

static void test_timer_rearmed_for_the_past(void)
{
    struct triton_loop *loop = new_loop();
    struct again_timer a = {.t.fn = again_fire, .loop = loop};
    triton_loop_timer_start(loop, &a.t, triton_loop_now() - 1);
    /* Each step ends although the timer is due again at once, and it fires. */
    int steps = 0;
    while (a.fired < 5 && steps < 10) {
        int before = a.fired;
        step(loop, 0);
        CHECK(a.fired > before);
        steps++;
    }
    CHECK_INT(a.fired, 5);
    CHECK(steps > 1);
    CHECK(!a.t.armed);
    triton_loop_free(loop);
}

struct reentry_timer {
    struct triton_loop_timer t;
    struct triton_loop *loop;
    struct triton_error err;
    int rc;
};

static void reentry_fire(struct triton_loop_timer *t)
{
    struct reentry_timer *r = (struct reentry_timer *)t;
    r->rc = triton_loop_step(r->loop, 0, &r->err);
}

static void test_step_refuses_reentry(void)
{
    struct triton_loop *loop = new_loop();
    struct reentry_timer r = {.t.fn = reentry_fire, .loop = loop};
    triton_loop_timer_start(loop, &r.t, triton_loop_now());
    CHECK_INT(step(loop, -1), 1);
    CHECK_INT(r.rc, -1);
    CHECK_ERR(r.err, TRITON_INTERNAL, "re-entered");
    triton_loop_free(loop);
}

/* ---- deferred work ----------------------------------------------------------- */

struct probe_deferred {
    struct triton_loop_deferred d;
    struct triton_loop *loop;
    int *log, *n_log;
    int id;
    struct triton_loop_deferred *then_defer, *then_undefer; /* what running it does */
};

static void probe_run(struct triton_loop_deferred *d)
{
    struct probe_deferred *p = (struct probe_deferred *)d;
    p->log[(*p->n_log)++] = p->id;
    if (p->then_defer)
        triton_loop_defer(p->loop, p->then_defer);
    if (p->then_undefer)
        triton_loop_undefer(p->loop, p->then_undefer);
}

static void test_deferred(void)
{
    struct triton_loop *loop = new_loop();
    int log[8], n = 0;
    struct probe_deferred p[6];
    for (int i = 0; i < 6; i++)
        p[i] = (struct probe_deferred){
            .d.fn = probe_run, .loop = loop, .log = log, .n_log = &n, .id = i};
    p[0].then_defer = &p[2].d;   /* deferred from inside a step: runs in that step */
    p[1].then_undefer = &p[3].d; /* taken back before its turn: never runs */

    triton_loop_defer(loop, &p[0].d);
    triton_loop_defer(loop, &p[1].d);
    triton_loop_defer(loop, &p[3].d);
    triton_loop_defer(loop, &p[0].d); /* already queued: stays where it is */
    triton_loop_defer(loop, &p[4].d);
    triton_loop_undefer(loop, &p[4].d);
    triton_loop_undefer(loop, &p[4].d); /* not queued: harmless */
    CHECK_INT(triton_loop_pending(loop), 3);
    CHECK_INT(n, 0); /* nothing runs before a step */

    /* A timer far away does not hold up a step that has deferred work. */
    int tlog[1], tn = 0;
    struct probe_timer far = {.t.fn = probe_fire, .log = tlog, .n_log = &tn, .id = 9};
    triton_loop_timer_start(loop, &far.t, triton_loop_now() + 3600);
    CHECK_INT(step(loop, -1), 3);
    CHECK_INT(n, 3);
    CHECK_INT(log[0], 0);
    CHECK_INT(log[1], 1);
    CHECK_INT(log[2], 2);
    CHECK_INT(tn, 0);
    CHECK_INT(triton_loop_pending(loop), 0);
    CHECK(!p[3].d.queued);

    /* A deferred function that defers itself runs again at a later step, not in
     * an endless pass. */
    p[5].then_defer = &p[5].d;
    triton_loop_defer(loop, &p[5].d);
    int ran = step(loop, 0);
    CHECK(ran >= 1 && ran <= 2);
    CHECK_INT(triton_loop_pending(loop), 1);
    p[5].then_defer = NULL;
    step(loop, 0);
    CHECK_INT(triton_loop_pending(loop), 0);
    triton_loop_timer_stop(loop, &far.t);
    triton_loop_free(loop);
}

/* ---- a tiny HTTP server in a thread ---------------------------------------------- */

struct tiny_server {
    int listen_fd, port;
    int replies;    /* answered on one connection; more than one: kept alive */
    int release[2]; /* each byte written here lets the server answer once */
    atomic_int requests;
    pthread_t thread;
};

/* Reads one request's head; false when the client went away. */
static bool read_request(int c)
{
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
        buf[got] = 0;
        if (strstr(buf, "\r\n\r\n"))
            return true;
    }
    return false;
}

static void *tiny_server_main(void *arg)
{
    struct tiny_server *s = arg;
    int c = accept(s->listen_fd, NULL, NULL);
    if (c < 0)
        return NULL;
    static const char last[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    static const char more[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    bool keep_alive = s->replies > 1;
    char b;
    for (int i = 0; i < s->replies && read_request(c); i++) {
        atomic_fetch_add(&s->requests, 1);
        if (read(s->release[0], &b, 1) != 1)
            break;
        const char *reply = keep_alive ? more : last;
        ssize_t w = write(c, reply, strlen(reply));
        (void)w;
    }
    /* A kept-alive connection is closed when the test stops the server. */
    while (keep_alive && read(s->release[0], &b, 1) == 1)
        ;
    close(c);
    return NULL;
}

static int tiny_server_start(struct tiny_server *s, int replies)
{
    memset(s, 0, sizeof *s);
    s->replies = replies;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s->listen_fd, 4) < 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &len) < 0 ||
        pipe(s->release) < 0) {
        perror("tiny server");
        check_failures++;
        return -1;
    }
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, tiny_server_main, s) == 0 ? 0 : -1;
}

static void tiny_server_answer(struct tiny_server *s)
{
    ssize_t w = write(s->release[1], "x", 1);
    (void)w;
}

/* Ends the server, closing its connection; it has closed when this returns. */
static void tiny_server_stop(struct tiny_server *s)
{
    close(s->release[1]);
    pthread_join(s->thread, NULL);
    close(s->release[0]);
    close(s->listen_fd);
}

/* One GET through the loop. */
struct transfer {
    struct triton_loop_curl_task task;
    CURL *easy;
    bool done;
    CURLcode result;
    char body[64];
    size_t n_body;
};

static void transfer_done(struct triton_loop_curl_task *task, CURLcode result)
{
    struct transfer *t = (struct transfer *)task;
    t->done = true;
    t->result = result;
}

static size_t transfer_write(char *data, size_t size, size_t n, void *user)
{
    struct transfer *t = user;
    size_t len = size * n;
    if (len > sizeof t->body - 1 - t->n_body)
        return 0;
    memcpy(t->body + t->n_body, data, len);
    t->n_body += len;
    t->body[t->n_body] = 0;
    return len;
}

static int transfer_start(struct triton_loop *loop, struct transfer *t, int port)
{
    memset(t, 0, sizeof *t);
    t->task.done = transfer_done;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    t->easy = curl_easy_init();
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, &t->task);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, transfer_write);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    struct triton_error err = {0};
    if (triton_loop_add_curl(loop, t->easy, &err) < 0) {
        fprintf(stderr, "add_curl: %s\n", err.message);
        check_failures++;
        return -1;
    }
    return 0;
}

/* Steps without a descriptor: a timer bounds a wait on a transfer, a wakeup
 * ends one, and the transfer completes. */
static void test_curl_blocking(void)
{
    struct tiny_server srv;
    if (tiny_server_start(&srv, 1) < 0)
        return;
    struct triton_loop *loop = new_loop();
    struct transfer t = {0};
    if (transfer_start(loop, &t, srv.port) < 0)
        goto out;
    CHECK_INT(triton_loop_pending(loop), 1);
    for (int guard = 0; atomic_load(&srv.requests) < 1 && guard < PATIENCE_MS; guard++)
        step(loop, 0.001);
    CHECK_INT(atomic_load(&srv.requests), 1);

    /* The server holds its answer: an unlimited step ends at the timer. */
    int log[1], n = 0;
    struct probe_timer p = {.t.fn = probe_fire, .log = log, .n_log = &n, .id = 1};
    triton_loop_timer_start(loop, &p.t, triton_loop_now() + 0.05);
    CHECK(step(loop, -1) >= 1);
    CHECK_INT(n, 1);
    CHECK(!p.early);
    CHECK(!t.done);

    /* A wakeup ends the next unlimited wait, with nothing run. */
    triton_loop_wakeup(loop);
    CHECK_INT(step(loop, -1), 0);
    CHECK(!t.done);

    tiny_server_answer(&srv);
    while (!t.done && step(loop, -1) >= 0)
        ;
    CHECK(t.done);
    CHECK_INT(t.result, CURLE_OK);
    CHECK_STR(t.body, "hello");
    CHECK_INT(triton_loop_pending(loop), 0);
out:
    if (t.easy)
        curl_easy_cleanup(t.easy);
    triton_loop_free(loop);
    tiny_server_stop(&srv);
}

/* ---- the descriptor ---------------------------------------------------------------- */

static int loop_fd(struct triton_loop *loop)
{
    struct triton_error err = {0};
    int fd = triton_loop_fd(loop, &err);
    if (fd < 0) {
        fprintf(stderr, "triton_loop_fd: %s\n", err.message);
        check_failures++;
    }
    return fd;
}

/* Deferred work that arms a timer. */
struct arm_deferred {
    struct triton_loop_deferred d;
    struct triton_loop *loop;
    struct triton_loop_timer *timer;
    double delay;
};

static void arm_run(struct triton_loop_deferred *d)
{
    struct arm_deferred *a = (struct arm_deferred *)d;
    triton_loop_timer_start(a->loop, a->timer, triton_loop_now() + a->delay);
}

static void test_fd_deferred_and_timers(void)
{
    struct triton_loop *loop = new_loop();
    int fd = loop_fd(loop);
    if (fd < 0)
        goto out;
    CHECK_INT(loop_fd(loop), fd); /* the same descriptor for the loop's life */
    CHECK(!readable(fd, 0));
    CHECK(triton_loop_next_timeout(loop) < 0);

    int log[4], n = 0;
    struct probe_deferred d = {.d.fn = probe_run, .loop = loop, .log = log, .n_log = &n, .id = 7};
    triton_loop_defer(loop, &d.d);
    CHECK(readable(fd, 0));
    CHECK(triton_loop_next_timeout(loop) == 0);
    CHECK_INT(step(loop, 0), 1);
    CHECK_INT(n, 1);
    CHECK(!readable(fd, 0));

    /* Work deferred during a step's last pass keeps the descriptor readable. */
    d.then_defer = &d.d;
    triton_loop_defer(loop, &d.d);
    CHECK(step(loop, 0) >= 1);
    CHECK(d.d.queued);
    CHECK(readable(fd, 0));
    d.then_defer = NULL;
    CHECK_INT(step(loop, 0), 1);
    CHECK(!readable(fd, 0));

    int tlog[4], tn = 0;
    struct probe_timer p = {.t.fn = probe_fire, .log = tlog, .n_log = &tn, .id = 1};
    struct probe_timer far = {.t.fn = probe_fire, .log = tlog, .n_log = &tn, .id = 2};
    triton_loop_timer_start(loop, &far.t, triton_loop_now() + 3600);
    double left = triton_loop_next_timeout(loop);
    CHECK(left > 0 && left <= 3600);
    triton_loop_timer_start(loop, &p.t, triton_loop_now() + 0.05);
    CHECK(triton_loop_next_timeout(loop) <= 0.05);
    CHECK(readable(fd, PATIENCE_MS));
    CHECK(triton_loop_now() >= p.t.when); /* readable once due, not before */
    CHECK_INT(step(loop, 0), 1);
    CHECK_INT(tn, 1);
    CHECK(!readable(fd, 0));
    triton_loop_timer_stop(loop, &far.t);
    CHECK(triton_loop_next_timeout(loop) < 0);

    /* A timer armed from inside a step shows on the descriptor too. */
    struct arm_deferred arm = {.d.fn = arm_run, .loop = loop, .timer = &p.t, .delay = 0.02};
    triton_loop_defer(loop, &arm.d);
    CHECK_INT(step(loop, 0), 1);
    CHECK(p.t.armed);
    CHECK(readable(fd, PATIENCE_MS));
    CHECK_INT(step(loop, 0), 1);
    CHECK_INT(tn, 2);
    CHECK(!p.early);
    CHECK(!readable(fd, 0));
out:
    triton_loop_free(loop);
}

/* Drives the loop as a host does until *done: poll the descriptor, then step(0). */
static void host_drive(struct triton_loop *loop, int fd, const bool *done)
{
    for (int guard = 0; !*done && guard < 10000; guard++) {
        if (!readable(fd, PATIENCE_MS)) {
            fprintf(stderr, "the loop's descriptor stayed quiet with work in flight\n");
            check_failures++;
            return;
        }
        step(loop, 0);
    }
}

/* Drives the loop as a host does until the server has received n requests. */
static void host_drive_until_sent(struct triton_loop *loop, int fd, struct tiny_server *srv, int n)
{
    for (int guard = 0; atomic_load(&srv->requests) < n && guard < PATIENCE_MS / 10; guard++)
        if (readable(fd, 10))
            step(loop, 0);
    CHECK_INT(atomic_load(&srv->requests), n);
}

static void test_fd_curl(void)
{
    struct tiny_server srv;
    if (tiny_server_start(&srv, 1) < 0)
        return;
    struct triton_loop *loop = new_loop();
    int fd = loop_fd(loop);
    struct transfer t = {0};
    if (fd < 0 || transfer_start(loop, &t, srv.port) < 0)
        goto out;
    /* curl's first step (connect and send) shows on the descriptor. */
    CHECK(readable(fd, PATIENCE_MS));
    host_drive_until_sent(loop, fd, &srv, 1);
    /* Sent, and the server holds its answer: nothing to do, nothing readable. */
    step(loop, 0);
    CHECK(!readable(fd, 0));
    CHECK(!t.done);

    tiny_server_answer(&srv);
    CHECK(readable(fd, PATIENCE_MS));
    host_drive(loop, fd, &t.done);
    CHECK(t.done);
    CHECK_INT(t.result, CURLE_OK);
    CHECK_STR(t.body, "hello");
    step(loop, 0);
    CHECK(!readable(fd, 0));
    CHECK_INT(triton_loop_pending(loop), 0);
out:
    if (t.easy)
        curl_easy_cleanup(t.easy);
    triton_loop_free(loop);
    tiny_server_stop(&srv);
}

/* Two transfers on one kept-alive connection: the idle connection between them
 * keeps the descriptor quiet, the second reuses it, and once the server closes
 * the idle connection a step(0) quiets the descriptor again. */
static void test_fd_curl_keep_alive(void)
{
    struct tiny_server srv;
    if (tiny_server_start(&srv, 2) < 0)
        return;
    struct triton_loop *loop = new_loop();
    int fd = loop_fd(loop);
    struct transfer t[2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 2 && fd >= 0; i++) {
        if (transfer_start(loop, &t[i], srv.port) < 0)
            break;
        host_drive_until_sent(loop, fd, &srv, i + 1);
        step(loop, 0);
        CHECK(!readable(fd, 0));
        tiny_server_answer(&srv);
        host_drive(loop, fd, &t[i].done);
        CHECK(t[i].done);
        CHECK_INT(t[i].result, CURLE_OK);
        CHECK_STR(t[i].body, "hello");
        step(loop, 0);
        CHECK(!readable(fd, 0));
    }
    long connects = -1;
    if (t[1].easy)
        curl_easy_getinfo(t[1].easy, CURLINFO_NUM_CONNECTS, &connects);
    CHECK_INT(connects, 0); /* the second transfer reused the connection */
    tiny_server_stop(&srv);
    step(loop, 0);
    CHECK(!readable(fd, 0));
    for (int i = 0; i < 2; i++)
        if (t[i].easy)
            curl_easy_cleanup(t[i].easy);
    triton_loop_free(loop);
}

/* ---- gRPC --------------------------------------------------------------------------- */

struct probe_tag {
    struct triton_loop_grpc_tag tag;
    bool done, ok;
};

static void probe_tag_done(struct triton_loop_grpc_tag *tag, bool ok)
{
    struct probe_tag *p = (struct probe_tag *)tag;
    p->done = true;
    p->ok = ok;
}

/* One gRPC call of the reference server's service, with what its batches fill. */
struct probe_call {
    grpc_channel *channel;
    grpc_call *call;
    grpc_metadata_array initial, trailing;
    grpc_byte_buffer *reply;
    grpc_status_code status;
    grpc_slice details;
};

static int probe_call_open(struct triton_loop *loop, struct probe_call *pc, const char *url,
                           const char *method)
{
    memset(pc, 0, sizeof *pc);
    struct triton_error err = {0};
    grpc_completion_queue *cq = triton_loop_cq(loop, &err); /* also grpc_init */
    if (!cq) {
        fprintf(stderr, "triton_loop_cq: %s\n", err.message);
        check_failures++;
        return -1;
    }
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    pc->channel = grpc_channel_create(url, creds, NULL);
    grpc_channel_credentials_release(creds);
    pc->call = grpc_channel_create_call(pc->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                        grpc_slice_from_static_string(method), NULL,
                                        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&pc->initial);
    grpc_metadata_array_init(&pc->trailing);
    return 0;
}

static void probe_call_close(struct probe_call *pc)
{
    if (pc->reply)
        grpc_byte_buffer_destroy(pc->reply);
    grpc_slice_unref(pc->details);
    grpc_metadata_array_destroy(&pc->initial);
    grpc_metadata_array_destroy(&pc->trailing);
    if (pc->call)
        grpc_call_unref(pc->call);
    if (pc->channel)
        grpc_channel_destroy(pc->channel);
}

static void start_batch(struct triton_loop *loop, struct probe_call *pc, const grpc_op *ops,
                        size_t n, struct probe_tag *tag)
{
    tag->tag.done = probe_tag_done;
    grpc_call_error rc = grpc_call_start_batch(pc->call, ops, n, &tag->tag, NULL);
    CHECK_INT(rc, GRPC_CALL_OK);
    if (rc == GRPC_CALL_OK)
        triton_loop_grpc_started(loop);
}

/* A unary ServerLive: one batch of all six ops. */
static void start_server_live(struct triton_loop *loop, struct probe_call *pc,
                              struct probe_tag *tag)
{
    grpc_slice empty = grpc_empty_slice();
    grpc_byte_buffer *request = grpc_raw_byte_buffer_create(&empty, 1);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = request;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &pc->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &pc->reply;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &pc->trailing;
    ops[5].data.recv_status_on_client.status = &pc->status;
    ops[5].data.recv_status_on_client.status_details = &pc->details;
    start_batch(loop, pc, ops, 6, tag);
    grpc_byte_buffer_destroy(request);
}

/* The loop's own thread in the completion queue: a timer still ends an
 * unlimited wait while a stream stays open, and its cancellation arrives. */
static void test_grpc_blocking(const char *url)
{
    struct triton_loop *loop = new_loop();
    struct probe_call pc;
    if (probe_call_open(loop, &pc, url, "/inference.GRPCInferenceService/ModelStreamInfer") < 0)
        goto out;
    grpc_op send[1], recv[1];
    memset(send, 0, sizeof send);
    memset(recv, 0, sizeof recv);
    send[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    recv[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    recv[0].data.recv_status_on_client.trailing_metadata = &pc.trailing;
    recv[0].data.recv_status_on_client.status = &pc.status;
    recv[0].data.recv_status_on_client.status_details = &pc.details;
    struct probe_tag sent = {0}, ended = {0};
    start_batch(loop, &pc, send, 1, &sent);
    start_batch(loop, &pc, recv, 1, &ended);
    CHECK_INT(triton_loop_pending(loop), 2);
    for (int guard = 0; !sent.done && guard < 1000; guard++)
        step(loop, -1);
    CHECK(sent.done && sent.ok);

    int log[1], n = 0;
    struct probe_timer p = {.t.fn = probe_fire, .log = log, .n_log = &n, .id = 1};
    triton_loop_timer_start(loop, &p.t, triton_loop_now() + 0.05);
    CHECK(step(loop, -1) >= 1);
    CHECK_INT(n, 1);
    CHECK(!p.early);
    CHECK(!ended.done);

    grpc_call_cancel(pc.call, NULL);
    for (int guard = 0; !ended.done && guard < 1000; guard++)
        step(loop, -1);
    CHECK(ended.done);
    CHECK_INT(pc.status, GRPC_STATUS_CANCELLED);
    CHECK_INT(triton_loop_pending(loop), 0);
out:
    probe_call_close(&pc);
    triton_loop_free(loop);
}

/* A host's loop: the descriptor turns readable for the call's event, and is
 * quiet once step(0) delivered it. The queue exists before the descriptor in
 * one case and after it in the other. */
static void test_fd_grpc(const char *url, bool cq_first)
{
    struct triton_loop *loop = new_loop();
    struct probe_call pc;
    int fd = -1;
    if (!cq_first)
        fd = loop_fd(loop);
    if (probe_call_open(loop, &pc, url, "/inference.GRPCInferenceService/ServerLive") < 0)
        goto out;
    if (cq_first)
        fd = loop_fd(loop);
    if (fd < 0)
        goto out;
    struct probe_tag tag = {0};
    start_server_live(loop, &pc, &tag);
    CHECK(readable(fd, PATIENCE_MS));
    host_drive(loop, fd, &tag.done);
    CHECK(tag.done && tag.ok);
    CHECK_INT(pc.status, GRPC_STATUS_OK);
    CHECK(pc.reply != NULL);
    CHECK_INT(triton_loop_pending(loop), 0);
    step(loop, 0);
    CHECK(!readable(fd, 0));
out:
    probe_call_close(&pc);
    triton_loop_free(loop);
}

int main(void)
{
    alarm(300); /* a hang guard: a loop that never returns fails the test */
    test_timers_fire_in_order();
    test_timer_restart();
    test_timer_rearmed_for_the_past();
    test_step_refuses_reentry();
    test_deferred();
    test_curl_blocking();
    test_fd_deferred_and_timers();
    test_fd_curl();
    test_fd_curl_keep_alive();

    struct test_server server;
    if (test_server_start(&server, NULL) < 0)
        return 1;
    test_grpc_blocking(server.grpc_url);
    test_fd_grpc(server.grpc_url, true);
    test_fd_grpc(server.grpc_url, false);
    test_server_stop(&server);
    return check_report("test_loop");
}
