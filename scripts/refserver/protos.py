"""Generate and import the Python gRPC modules from the project's proto/ files.

The generated files go to the build tree only (TRITON_REFSERVER_PROTO_DIR,
default <repo>/build/refserver-proto) and are regenerated when a .proto is
newer than its output, so the source tree never holds generated code.
"""

import fcntl
import importlib
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_SRC = os.path.join(REPO, "proto")
PROTOC = "/usr/bin/protoc"
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"
PROTOS = ("model_config", "grpc_service")


def proto_dir():
    return os.environ.get("TRITON_REFSERVER_PROTO_DIR") or os.path.join(REPO, "build", "refserver-proto")


def _stale(out_dir):
    for name in PROTOS:
        src = os.path.join(PROTO_SRC, name + ".proto")
        outs = [os.path.join(out_dir, name + "_pb2.py")]
        if name == "grpc_service":
            outs.append(os.path.join(out_dir, name + "_pb2_grpc.py"))
        for out in outs:
            if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
                return True
    return False


def generate(out_dir=None):
    """Run protoc if needed; returns the directory holding the modules."""
    out_dir = out_dir or proto_dir()
    os.makedirs(out_dir, exist_ok=True)
    if not _stale(out_dir):
        return out_dir
    # Many test servers start at once: one generates, the others wait for it.
    with open(os.path.join(out_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stale(out_dir):
            cmd = [PROTOC, "-I" + PROTO_SRC, "--python_out=" + out_dir,
                   "--grpc_out=" + out_dir, "--plugin=protoc-gen-grpc=" + GRPC_PLUGIN]
            cmd += [os.path.join(PROTO_SRC, n + ".proto") for n in PROTOS]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError("protoc failed: " + res.stderr.strip())
    return out_dir


def load():
    """Returns (grpc_service_pb2, grpc_service_pb2_grpc, model_config_pb2)."""
    out_dir = generate()
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    return (importlib.import_module("grpc_service_pb2"),
            importlib.import_module("grpc_service_pb2_grpc"),
            importlib.import_module("model_config_pb2"))
