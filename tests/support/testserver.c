/*
 * testserver.c: see testserver.h.
 */
#include "testserver.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int test_server_start(struct test_server *s, const char *const *extra_args)
{
    memset(s, 0, sizeof(*s));
    const char *src = getenv("TRITON_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "testserver: TRITON_SOURCE_DIR is not set (run through ctest)\n");
        return -1;
    }
    char script[4096];
    snprintf(script, sizeof(script), "%s/scripts/testserver", src);

    const char *argv[64] = {script, "--http-port", "0", "--grpc-port", "0", "--host", "127.0.0.1"};
    int argc = 7;
    for (int i = 0; extra_args && extra_args[i] && argc < 62; i++)
        argv[argc++] = extra_args[i];
    argv[argc] = NULL;

    int out[2];
    if (pipe(out) != 0) {
        perror("testserver: pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("testserver: fork");
        close(out[0]);
        close(out[1]);
        return -1;
    }
    if (pid == 0) {
        /* If the test dies (crash, ctest timeout), the server goes too. The
         * script execs python, and the death signal survives exec. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(script, (char *const *)argv);
        perror("testserver: exec");
        _exit(127);
    }
    close(out[1]);
    s->pid = pid;

    FILE *f = fdopen(out[0], "r");
    char line[256];
    int ok = f && fgets(line, sizeof(line), f) &&
             sscanf(line, "ready http=%d grpc=%d", &s->http_port, &s->grpc_port) == 2;
    if (f)
        fclose(f); /* the server prints nothing else on stdout */
    else
        close(out[0]);
    if (!ok) {
        fprintf(stderr, "testserver: no ready line from %s\n", script);
        test_server_stop(s);
        return -1;
    }
    snprintf(s->http_url, sizeof(s->http_url), "127.0.0.1:%d", s->http_port);
    snprintf(s->grpc_url, sizeof(s->grpc_url), "127.0.0.1:%d", s->grpc_port);
    return 0;
}

/* A server that has not exited this long after SIGTERM is stuck: it is
 * killed, and the test says so instead of hanging in its teardown until
 * ctest's limit (an idle server exits within about 2 s, more under load). */
#define STOP_GRACE_S 60

void test_server_stop(struct test_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int status;
    pid_t got = 0;
    for (int waited_ms = 0; waited_ms < STOP_GRACE_S * 1000; waited_ms += 50) {
        got = waitpid(s->pid, &status, WNOHANG);
        if (got != 0)
            break;
        usleep(50 * 1000);
    }
    if (got == 0) {
        fprintf(stderr, "testserver: pid %d did not exit %d s after SIGTERM; killing it\n",
                (int)s->pid, STOP_GRACE_S);
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    s->pid = 0;
}
