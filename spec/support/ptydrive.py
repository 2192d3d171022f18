#!/usr/bin/python3
"""Drive a program on a pseudo-terminal, step by step, for the REPL specs.

    ptydrive.py STEPS -- PROGRAM [ARGS...]

STEPS is a file of lines, each `type TEXT`, `send TEXT` or `expect TEXT`,
where TEXT takes Python string escapes (\\n, \\t, \\x03 for Ctrl-C, \\x04 for
Ctrl-D). `type` waits until the line editor has the terminal (canonical mode
off), then writes TEXT; `send` writes it at once (a Ctrl-C for a running
chunk); `expect` waits until the program's output since the previous match
contains TEXT. Waiting for the program instead of sleeping is the point: a key
typed before the line editor has put the terminal in raw mode is taken by the
kernel's line discipline (a TAB stays a TAB, a Ctrl-D at the start of a line
is swallowed), and a prompt on the screen does not mean the editor is reading
yet, so a fixed delay fails on a slow machine.

The program's whole output goes to standard output. The exit status is the
program's own, or 124 when an `expect` is not met within --timeout seconds
(default 20), with the step that failed on standard error. Exits 125 when no
pseudo-terminal can be had.
"""
import codecs
import os
import pty
import select
import signal
import sys
import termios
import time


def parse_steps(path):
    steps = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            verb, _, text = line.partition(" ")
            if verb not in ("type", "send", "expect"):
                sys.exit(f"ptydrive: {path}:{n}: unknown step {verb!r}")
            steps.append((verb, codecs.decode(text, "unicode_escape")))
    return steps


def main():
    args = sys.argv[1:]
    timeout = 20.0
    if len(args) >= 2 and args[0] == "--timeout":
        timeout = float(args[1])
        args = args[2:]
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: ptydrive.py [--timeout S] STEPS -- PROGRAM [ARGS...]")
    steps = parse_steps(args[0])
    program = args[2:]

    try:
        pid, fd = pty.fork()
    except OSError as e:
        print(f"ptydrive: no pseudo-terminal: {e}", file=sys.stderr)
        sys.exit(125)
    if pid == 0:
        try:
            os.execvp(program[0], program)
        finally:
            os._exit(127)

    seen = b""  # output not yet consumed by an `expect`
    out = sys.stdout.buffer

    def read_some(deadline):
        nonlocal seen
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program closed the terminal
            chunk = b""
        if not chunk:
            return None
        out.write(chunk)
        out.flush()
        seen += chunk
        return True

    def fail(why):
        print(f"\nptydrive: {why}", file=sys.stderr)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.exit(124)

    def wait_for_editor():
        # On Linux the master side reads the terminal's shared termios.
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                fail(f"the terminal stayed in canonical mode for {timeout:g} s")
            if read_some(min(deadline, time.monotonic() + 0.01)) is None:
                fail("the program ended")

    for verb, text in steps:
        if verb in ("type", "send"):
            if verb == "type":
                wait_for_editor()
            os.write(fd, text.encode("utf-8"))
            continue
        want = text.encode("utf-8")
        deadline = time.monotonic() + timeout
        while want not in seen:
            got = read_some(deadline)
            if not got:
                why = "the program ended" if got is None else f"{timeout:g} s passed"
                fail(f"expected {text!r}, but {why}")
        seen = seen[seen.index(want) + len(want):]

    # Drain what is left until the program closes the terminal, then reap it.
    deadline = time.monotonic() + timeout
    while True:
        got = read_some(deadline)
        if got is None:
            break
        if got is False:
            fail(f"the program did not end within {timeout:g} s")
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
