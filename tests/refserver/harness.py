"""Test harness: start the reference server as a subprocess and make TLS certificates.

    with RefServer() as srv:          # ports picked by the OS
        srv.http_port, srv.grpc_port
    cert, key = make_cert(tmpdir)     # self-signed for 127.0.0.1/localhost
"""

import os
import select
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTSERVER = os.path.join(REPO, "scripts", "testserver")


class RefServer:
    def __init__(self, *extra_args, tls=None, timeout=10.0):
        self.args = list(extra_args)
        self.tls = tls
        self.timeout = timeout
        self.proc = None
        self.http_port = self.grpc_port = None

    def start(self):
        cmd = [TESTSERVER, "--http-port", "0", "--grpc-port", "0"] + self.args
        if self.tls:
            cmd += ["--tls", self.tls[0], self.tls[1]]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                self.stop()
                raise RuntimeError("reference server did not become ready in %.1fs" % self.timeout)
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")
                self.stop()
                raise RuntimeError("reference server exited before ready: " + err)
            line += chunk
        fields = dict(f.split("=", 1) for f in line.decode().split()[1:])
        if not line.startswith(b"ready "):
            self.stop()
            raise RuntimeError("unexpected first line from reference server: %r" % line)
        self.http_port = int(fields["http"])
        self.grpc_port = int(fields["grpc"])
        return self

    def stop(self):
        """SIGTERM, then the exit status (killed after 5 s if it does not stop)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        rc = self.proc.returncode
        self.proc = None
        return rc

    @property
    def grpc_address(self):
        return "127.0.0.1:%d" % self.grpc_port

    @property
    def http_base(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.http_port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def make_cert(directory, cn="localhost"):
    """A self-signed certificate valid for localhost and 127.0.0.1; returns (cert, key) paths."""
    cert = os.path.join(directory, "server.crt")
    key = os.path.join(directory, "server.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert, key
