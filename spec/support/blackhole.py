#!/usr/bin/python3
"""A TCP server that accepts connections and never answers, for timeout specs.

    blackhole.py [--full] [--watch PID]

Listens on 127.0.0.1 on a free port, prints `ready port=<port>` and flushes,
then accepts every connection and holds it open without reading or writing
until the peer goes away. The client under test must give up on its own
timeout: nothing from this side ever ends the exchange. With --full it never
accepts: its backlog of one is filled by its own connections, so that Linux
drops every further SYN and a client's connect never completes (what a
firewall that drops packets does; loopback has no other way). With --watch PID it
exits once process PID is gone, so that it never outlives the spec run that
started it; SIGTERM stops it at once.
"""
import os
import selectors
import signal
import socket
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fill_backlog(port, held):
    """Connects to port until a connect no longer completes: the accept queue
    is full from then on, and the kernel drops new SYNs."""
    while True:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.2)
        try:
            probe.connect(("127.0.0.1", port))
        except (socket.timeout, BlockingIOError):
            probe.close()
            return
        held.append(probe)
        if len(held) > 16:
            sys.exit("blackhole.py --full: the backlog never filled")


def main():
    args = sys.argv[1:]
    full = bool(args) and args[0] == "--full"
    if full:
        args = args[1:]
    watch = None
    if len(args) == 2 and args[0] == "--watch":
        watch = int(args[1])
    elif args:
        sys.exit("usage: blackhole.py [--full] [--watch PID]")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0 if full else 64)
    port = listener.getsockname()[1]
    held = []  # sockets kept referenced so that they stay open
    if full:
        fill_backlog(port, held)
    print("ready port=%d" % port, flush=True)
    sel = selectors.DefaultSelector()
    if not full:
        sel.register(listener, selectors.EVENT_READ)
    while watch is None or alive(watch):
        if full:
            time.sleep(1.0)
            continue
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                held.append(conn)


if __name__ == "__main__":
    main()
