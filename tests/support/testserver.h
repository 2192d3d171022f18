/*
 * testserver.h: starts the reference server (scripts/testserver) for C tests
 * that talk to it over real sockets, on free ports, and stops it again.
 */
#ifndef TRITON_TEST_TESTSERVER_H
#define TRITON_TEST_TESTSERVER_H

#include <sys/types.h>

struct test_server {
    pid_t pid;
    int http_port, grpc_port;
    char http_url[64]; /* "127.0.0.1:<port>" */
    char grpc_url[64];
};

/* Starts scripts/testserver --http-port 0 --grpc-port 0 plus extra_args (a
 * NULL-terminated list, may be NULL) and waits for its ready line. The source
 * tree is found through $TRITON_SOURCE_DIR (set by ctest). Returns 0, or -1
 * after printing why. */
int test_server_start(struct test_server *s, const char *const *extra_args);
/* SIGTERM, then waits for the process. */
void test_server_stop(struct test_server *s);

#endif
