#!/usr/bin/python3
"""A TCP server that accepts connections and never answers, for timeout specs.

    blackhole.py [--watch PID]

Listens on 127.0.0.1 on a free port, prints `ready port=<port>` and flushes,
then accepts every connection and holds it open without reading or writing
until the peer goes away. The client under test must give up on its own
timeout: nothing from this side ever ends the exchange. With --watch PID it
exits once process PID is gone, so that it never outlives the spec run that
started it; SIGTERM stops it at once.
"""
import os
import selectors
import signal
import socket
import sys


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main():
    watch = None
    if len(sys.argv) == 3 and sys.argv[1] == "--watch":
        watch = int(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: blackhole.py [--watch PID]")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print("ready port=%d" % listener.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    held = []  # accepted sockets, kept referenced so they stay open
    while watch is None or alive(watch):
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                held.append(conn)


if __name__ == "__main__":
    main()
