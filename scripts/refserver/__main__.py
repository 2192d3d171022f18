"""Entry point: python3 -m refserver [--http-port N] [--grpc-port N] [--tls CERT KEY]
[--tls-client-ca CA] [--host H] [--models NAME,...].

Starts both fronts on one Server, prints exactly one line
`ready http=<port> grpc=<port>` on stdout once both accept connections, and
stops cleanly on SIGTERM/SIGINT.
"""

import argparse
import signal
import sys
import threading

from . import protos
from .core import Server


def parse_args(argv):
    p = argparse.ArgumentParser(prog="testserver", description="tritonlua reference server (a Triton stand-in)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--http-port", type=int, default=8000, help="HTTP/REST port, 0 picks a free one (default 8000)")
    p.add_argument("--grpc-port", type=int, default=8001, help="gRPC port, 0 picks a free one (default 8001)")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                   help="serve HTTPS and gRPC over TLS with this PEM certificate and key")
    p.add_argument("--tls-client-ca", metavar="CA",
                   help="with --tls: require a client certificate signed by this PEM CA (mutual TLS)")
    p.add_argument("--no-http", action="store_true", help="serve gRPC only (http=0 in the ready line)")
    p.add_argument("--no-grpc", action="store_true", help="serve HTTP only (grpc=0 in the ready line)")
    p.add_argument("--models", metavar="NAME[,NAME...]",
                   help="the repository holds only these built-in models (default: all), as a "
                        "Triton started on a smaller --model-repository")
    args = p.parse_args(argv)
    for port in (args.http_port, args.grpc_port):
        if not 0 <= port <= 65535:
            p.error("port %d out of range" % port)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tls = None
    if args.tls_client_ca and not args.tls:
        print("testserver: --tls-client-ca needs --tls", file=sys.stderr)
        return 2
    if args.tls:
        try:
            with open(args.tls[0], "rb") as f:
                cert = f.read()
            with open(args.tls[1], "rb") as f:
                key = f.read()
            client_ca = None
            if args.tls_client_ca:
                with open(args.tls_client_ca, "rb") as f:
                    client_ca = f.read()
        except OSError as e:
            print("testserver: cannot read TLS files: %s" % e, file=sys.stderr)
            return 2
        tls = (cert, key, args.tls[0], args.tls[1], client_ca, args.tls_client_ca)
    protos.load()  # generate before serving so the first request does not pay for it
    models = None
    if args.models is not None:
        models = [n.strip() for n in args.models.split(",") if n.strip()]
    try:
        server = Server(models)
    except ValueError as e:
        print("testserver: --models: %s" % e, file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    grpc_server = httpd = None
    http_port = grpc_port = 0
    try:
        if not args.no_grpc:
            from .grpc_front import serve_grpc
            grpc_server, grpc_port = serve_grpc(server, args.host, args.grpc_port, tls)
        if not args.no_http:
            from .http_front import serve_http
            httpd, http_port = serve_http(server, args.host, args.http_port, _http_tls(tls))
    except (OSError, RuntimeError) as e:
        print("testserver: cannot listen: %s" % e, file=sys.stderr)
        if grpc_server is not None:
            grpc_server.stop(0)
        return 1
    sys.stdout.write("ready http=%d grpc=%d\n" % (http_port, grpc_port))
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    if httpd is not None:
        httpd.shutdown()
        httpd.server_close()
    if grpc_server is not None:
        grpc_server.stop(0.5).wait()
    server.shm_unregister()
    return 0


def _http_tls(tls):
    # The HTTP front takes (certfile, keyfile, client CA file or None) paths for ssl.SSLContext.
    return None if tls is None else (tls[2], tls[3], tls[5])


if __name__ == "__main__":
    sys.exit(main())
