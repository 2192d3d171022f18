/*
 * http.h: the HTTP/REST transport (libcurl) behind client.h's operations table.
 * Entry point: triton_http_init, declared in client/client.h.
 *
 * Each client keeps a pool of curl easy handles that are reused call after call
 * (their connections stay in the loop's multi handle cache, so keep-alive
 * works across handles; that cache holds 4 connections per easy handle the
 * loop's HTTP clients keep). The call layer decides how many run at once. Paths,
 * bodies and status codes follow Triton's HTTP server (docs/PROTOCOL.md).
 */
#ifndef TRITON_HTTP_HTTP_H
#define TRITON_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Maps an HTTP error status to the transport-neutral code. */
enum triton_code triton_http_status_code(long status);

#endif
