"""Tests of the reference server's HTTP/REST front, over real sockets with http.client.

The server runs as a subprocess (tests/refserver/harness.py), so what is tested
is exactly what clients see: status codes, headers, bodies, streaming timing,
TLS, and every x-fault mode. Tensors are encoded here by hand (not with the
server's codecs) so the wire format itself is checked.

Run: /usr/bin/python3 -m unittest -v tests/refserver/test_http.py
"""

import base64
import gzip
import http.client
import json
import mmap
import os
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import unittest
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (tests/refserver/harness.py, next to this file)

SERVER = None  # the shared plain-HTTP server of this module


def setUpModule():
    global SERVER
    # HTTP only: the gRPC front has its own tests (test_grpc.py).
    SERVER = harness.RefServer("--no-grpc").start()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


# --------------------------------------------------------------------- helpers

# Sample data per datatype; numpy dtype used to build/compare values on the wire.
DTYPES = {
    "BOOL": (np.bool_, [True, False, True, True]),
    "UINT8": (np.uint8, [0, 255, 7, 128]),
    "UINT16": (np.uint16, [0, 65535, 7, 300]),
    "UINT32": (np.uint32, [0, 2**32 - 1, 7, 70000]),
    "UINT64": (np.uint64, [0, 2**64 - 1, 7, 2**53 + 1]),
    "INT8": (np.int8, [-128, 127, 0, -1]),
    "INT16": (np.int16, [-32768, 32767, 0, -1]),
    "INT32": (np.int32, [-(2**31), 2**31 - 1, 0, -1]),
    "INT64": (np.int64, [-(2**63), 2**63 - 1, 0, 2**53 + 1]),
    "FP16": (np.float16, [1.5, -2.25, 65504.0, 0.0]),
    "FP32": (np.float32, [0.1, -1e30, 3.5, 0.0]),
    "FP64": (np.float64, [0.1, -1e300, 3.5, 2.0**-1074]),
    "BF16": (np.uint16, [0x3F80, 0xC000, 0x0000, 0x7F7F]),  # bit patterns
    "BYTES": (object, [b"", b"abc", b"\xff\x00binary", "h\u00e9llo".encode()]),
}


def raw_bytes(datatype, values):
    """Triton's binary layout, written independently of the server's codecs."""
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in values)
    dt = np.dtype(DTYPES[datatype][0]).newbyteorder("<")
    return np.array(values, dtype=dt).tobytes()


def from_raw(datatype, data):
    if datatype == "BYTES":
        out, pos = [], 0
        while pos < len(data):
            (n,) = struct.unpack_from("<I", data, pos)
            out.append(data[pos + 4 : pos + 4 + n])
            pos += 4 + n
        return out
    dt = np.dtype(DTYPES[datatype][0]).newbyteorder("<")
    return np.frombuffer(data, dtype=dt).tolist()


def connect(server=None, timeout=30):
    s = server or SERVER
    if getattr(s, "tls_context", None) is not None:
        return http.client.HTTPSConnection("127.0.0.1", s.http_port, timeout=timeout, context=s.tls_context)
    return http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=timeout)


def call(method, path, body=None, headers=None, conn=None, server=None):
    """One request; returns (status, headers with lower-case names, body bytes)."""
    own = conn is None
    c = conn or connect(server)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            c.close()


def get_json(path, **kw):
    status, headers, body = call("GET", path, **kw)
    return status, (json.loads(body) if body else None)


def post_json(path, doc=None, **kw):
    status, headers, body = call("POST", path, body=doc if doc is not None else b"", **kw)
    return status, (json.loads(body) if body else None)


def infer_request(inputs, outputs=None, params=None, binary_inputs=True, request_id=None):
    """inputs: [(name, datatype, shape, values)]. Returns (body, headers)."""
    doc = {"inputs": []}
    tail = []
    for name, datatype, shape, values in inputs:
        entry = {"name": name, "datatype": datatype, "shape": shape}
        if binary_inputs:
            data = raw_bytes(datatype, values)
            entry["parameters"] = {"binary_data_size": len(data)}
            tail.append(data)
        else:
            entry["data"] = [v.decode() if isinstance(v, bytes) else v for v in values]
        doc["inputs"].append(entry)
    if outputs is not None:
        doc["outputs"] = outputs
    if params is not None:
        doc["parameters"] = params
    if request_id is not None:
        doc["id"] = request_id
    header = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json"}
    if tail:
        headers = {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": str(len(header)),
        }
    return header + b"".join(tail), headers


def parse_infer(headers, body):
    """Response -> (json header, {output name: list of values})."""
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    elif headers.get("content-encoding") == "deflate":
        body = zlib.decompress(body)
    hlen = int(headers.get("inference-header-content-length", len(body)))
    doc = json.loads(body[:hlen])
    tail = body[hlen:]
    values, pos = {}, 0
    for out in doc.get("outputs", []):
        params = out.get("parameters", {})
        if "binary_data_size" in params:
            n = params["binary_data_size"]
            values[out["name"]] = from_raw(out["datatype"], tail[pos : pos + n])
            pos += n
        elif "data" in out:
            values[out["name"]] = out["data"]
    assert pos == len(tail), "binary section holds %d bytes, outputs claim %d" % (len(tail), pos)
    return doc, values


def infer(model, inputs, outputs=None, params=None, binary_inputs=True, headers=None, conn=None, server=None,
          request_id=None):
    body, h = infer_request(inputs, outputs, params, binary_inputs, request_id)
    h.update(headers or {})
    status, rh, data = call("POST", "/v2/models/%s/infer" % model, body, h, conn=conn, server=server)
    return status, rh, data


SIMPLE_IN0 = list(range(16))
SIMPLE_IN1 = [1] * 16


def simple_inputs():
    return [
        ("INPUT0", "INT32", [1, 16], SIMPLE_IN0),
        ("INPUT1", "INT32", [1, 16], SIMPLE_IN1),
    ]


def simple_expected():
    return [a + b for a, b in zip(SIMPLE_IN0, SIMPLE_IN1)], [a - b for a, b in zip(SIMPLE_IN0, SIMPLE_IN1)]


# ------------------------------------------------------------------- endpoints


class HealthAndMetadata(unittest.TestCase):
    def test_live_and_ready(self):
        for path in ("/v2/health/live", "/v2/health/ready"):
            status, headers, body = call("GET", path)
            self.assertEqual(status, 200, path)
            self.assertEqual(body, b"")
            self.assertEqual(headers["content-length"], "0")

    def test_health_wrong_method(self):
        status, _, body = call("POST", "/v2/health/live", b"")
        self.assertEqual(status, 405)
        self.assertEqual(json.loads(body), {"error": "Method Not Allowed"})

    def test_server_metadata(self):
        status, doc = get_json("/v2")
        self.assertEqual(status, 200)
        self.assertIn("name", doc)
        self.assertIn("version", doc)
        for ext in ("binary_tensor_data", "classification", "model_repository", "statistics",
                    "system_shared_memory", "cuda_shared_memory", "trace", "logging"):
            self.assertTrue(any(e.startswith(ext) for e in doc["extensions"]), ext)

    def test_unknown_path_is_404(self):
        for path in ("/v2/nothing", "/v3", "/v2/models/simple/versions/x", "/v2/models/simple/versions/1/trace/setting"):
            status, _, body = call("GET", path)
            self.assertEqual(status, 404, path)
            self.assertEqual(json.loads(body), {"error": "Not Found"})

    def test_model_version_numbers(self):
        # The path takes digits only; Triton reads them with std::stol, so "01" is version 1
        # and a number beyond int64 is its INVALID_ARG.
        self.assertEqual(call("GET", "/v2/models/simple/versions/01/ready")[0], 200)
        status, doc = get_json("/v2/models/simple/versions/002")
        self.assertEqual(status, 404)
        self.assertEqual(doc, {"error": "Request for unknown model: 'simple' version 2 is not found"})
        status, _, body = call("GET", "/v2/models/simple/versions/99999999999999999999/ready")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"error": "failed to get model version from specified version string "
                                                     "'99999999999999999999' (details: stol), version should be "
                                                     "an integral value > 0"})

    def test_every_model_metadata_config_ready(self):
        status, index = post_json("/v2/repository/index")
        self.assertEqual(status, 200)
        names = sorted(m["name"] for m in index)
        for required in ["simple", "simple_int8", "simple_string", "simple_identity", "custom_identity_int32",
                         "simple_sequence", "simple_dyna_sequence", "simple_string_dyna_sequence",
                         "repeat_int32", "classifier", "echo_llm", "slow"] + [
                             "identity_" + d.lower() for d in DTYPES]:
            self.assertIn(required, names)
        for name in names:
            with self.subTest(model=name):
                status, meta = get_json("/v2/models/%s" % name)
                self.assertEqual(status, 200)
                self.assertEqual(meta["name"], name)
                self.assertTrue(meta["inputs"])
                status, meta1 = get_json("/v2/models/%s/versions/1" % name)
                self.assertEqual((status, meta1), (200, meta))
                status, cfg = get_json("/v2/models/%s/config" % name)
                self.assertEqual(status, 200)
                self.assertEqual(cfg["name"], name)
                self.assertEqual(call("GET", "/v2/models/%s/ready" % name)[0], 200)
                self.assertEqual(call("GET", "/v2/models/%s/versions/1/ready" % name)[0], 200)

    def test_simple_metadata_and_config(self):
        status, meta = get_json("/v2/models/simple")
        self.assertEqual(meta["inputs"][0], {"name": "INPUT0", "datatype": "INT32", "shape": [-1, 16]})
        status, cfg = get_json("/v2/models/simple/config")
        self.assertEqual(cfg["max_batch_size"], 8)
        self.assertEqual(cfg["input"][0]["data_type"], "TYPE_INT32")

    def test_unknown_model(self):
        for path in ("/v2/models/nope", "/v2/models/nope/config", "/v2/models/nope/ready"):
            status, _, body = call("GET", path)
            self.assertIn(status, (400, 404), path)
            self.assertIn("error", json.loads(body))

    def test_model_name_is_url_decoded(self):
        status, meta = get_json("/v2/models/%73imple")
        self.assertEqual((status, meta["name"]), (200, "simple"))


class Repository(unittest.TestCase):
    def test_index_ready_filter(self):
        status, index = post_json("/v2/repository/index", {"ready": True})
        self.assertEqual(status, 200)
        entry = next(m for m in index if m["name"] == "simple")
        self.assertEqual(entry["state"], "READY")
        status, doc = post_json("/v2/repository/index", {"ready": "yes"})
        self.assertEqual(status, 400)
        self.assertEqual(doc["error"], "Invalid value for 'ready': expected a boolean")

    def test_index_needs_post(self):
        self.assertEqual(call("GET", "/v2/repository/index")[0], 405)

    def test_unload_and_load(self):
        status, _ = post_json("/v2/repository/models/simple_int8/unload", {"parameters": {"unload_dependents": True}})
        self.assertEqual(status, 200)
        try:
            status, _, body = call("GET", "/v2/models/simple_int8/ready")
            self.assertEqual(status, 400)
            status, index = post_json("/v2/repository/index")
            entry = next(m for m in index if m["name"] == "simple_int8")
            self.assertNotEqual(entry["state"], "READY")
            status, rh, body = infer("simple_int8", [("INPUT0", "INT8", [1, 16], [1] * 16),
                                                     ("INPUT1", "INT8", [1, 16], [1] * 16)])
            self.assertGreaterEqual(status, 400)
            self.assertIn("error", json.loads(body))
        finally:
            status, _ = post_json("/v2/repository/models/simple_int8/load")
            self.assertEqual(status, 200)
        self.assertEqual(call("GET", "/v2/models/simple_int8/ready")[0], 200)

    def test_unload_dependents_must_be_bool(self):
        status, doc = post_json("/v2/repository/models/simple/unload", {"parameters": {"unload_dependents": 3}})
        self.assertEqual(status, 400)
        self.assertIn("unload_dependents", doc["error"])
        self.assertEqual(call("GET", "/v2/models/simple/ready")[0], 200)

    def test_load_with_config_and_files(self):
        cfg = {
            "name": "http_loaded",
            "backend": "python",
            "max_batch_size": 0,
            "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [-1]}],
            "output": [{"name": "OUTPUT0", "data_type": "TYPE_INT32", "dims": [-1]}],
        }
        params = {"config": json.dumps(cfg), "file:1/model.py": base64.b64encode(b"# model\n").decode()}
        status, doc = post_json("/v2/repository/models/http_loaded/load", {"parameters": params})
        self.assertEqual(status, 200, doc)
        try:
            self.assertEqual(call("GET", "/v2/models/http_loaded/ready")[0], 200)
            status, got = get_json("/v2/models/http_loaded/config")
            self.assertEqual(got["input"][0]["name"], "INPUT0")
            status, rh, body = infer("http_loaded", [("INPUT0", "INT32", [3], [4, 5, 6])],
                                     params={"binary_data_output": True})
            self.assertEqual(status, 200, body)
            self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], [4, 5, 6])
        finally:
            post_json("/v2/repository/models/http_loaded/unload")

    def test_load_rejects_bad_base64(self):
        params = {"config": "{}", "file:1/model.py": "***"}
        status, doc = post_json("/v2/repository/models/http_bad/load", {"parameters": params})
        self.assertEqual(status, 400)
        self.assertIn("base64", doc["error"])

    def test_repository_name_unsupported(self):
        status, doc = post_json("/v2/repository/myrepo/models/simple/load")
        self.assertEqual(status, 501)
        self.assertEqual(doc["error"], "'repository_name' specification is not supported")

    def test_invalid_json_body(self):
        status, _, body = call("POST", "/v2/repository/index", b"{nope")
        self.assertEqual(status, 400)
        self.assertIn("failed to parse the registry index JSON buffer", json.loads(body)["error"])


class StatisticsTraceLogging(unittest.TestCase):
    def stats_of(self, path):
        status, doc = get_json(path)
        self.assertEqual(status, 200)
        return doc["model_stats"]

    def test_statistics_count_real_requests(self):
        before = self.stats_of("/v2/models/identity_int16/stats")[0]
        for _ in range(3):
            status, _, body = infer("identity_int16", [("INPUT0", "INT16", [2], [1, 2])])
            self.assertEqual(status, 200, body)
        after = self.stats_of("/v2/models/identity_int16/versions/1/stats")[0]
        self.assertEqual(after["name"], "identity_int16")
        self.assertEqual(int(after["inference_count"]) - int(before["inference_count"]), 3)
        self.assertEqual(int(after["inference_stats"]["success"]["count"]) -
                         int(before["inference_stats"]["success"]["count"]), 3)
        self.assertGreater(int(after["inference_stats"]["success"]["ns"]), 0)
        names = [m["name"] for m in self.stats_of("/v2/models/stats")]
        self.assertIn("identity_int16", names)
        self.assertIn("simple", names)

    def test_trace_settings(self):
        status, doc = get_json("/v2/trace/setting")
        self.assertEqual(status, 200)
        self.assertIn("trace_level", doc)
        status, doc = post_json("/v2/models/simple/trace/setting", {"trace_rate": "7"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["trace_rate"], "7")
        status, doc = get_json("/v2/models/simple/trace/setting")
        self.assertEqual(doc["trace_rate"], "7")
        # back to the global value
        status, doc = post_json("/v2/models/simple/trace/setting", {"trace_rate": None})
        self.assertEqual(status, 200, doc)
        self.assertEqual(call("PUT", "/v2/trace/setting", b"")[0], 405)

    def test_log_settings(self):
        status, doc = get_json("/v2/logging")
        self.assertEqual(status, 200)
        old = doc["log_verbose_level"]
        status, doc = post_json("/v2/logging", {"log_verbose_level": 2})
        self.assertEqual((status, doc["log_verbose_level"]), (200, 2))
        status, doc = get_json("/v2/logging")
        self.assertEqual(doc["log_verbose_level"], 2)
        post_json("/v2/logging", {"log_verbose_level": old})


class SharedMemory(unittest.TestCase):
    def setUp(self):
        self.key = "/refserver_http_test_%d" % os.getpid()
        self.path = "/dev/shm" + self.key
        with open(self.path, "wb") as f:
            f.truncate(256)
        self.file = open(self.path, "r+b")
        self.mem = mmap.mmap(self.file.fileno(), 256)

    def tearDown(self):
        post_json("/v2/systemsharedmemory/unregister")
        self.mem.close()
        self.file.close()
        os.unlink(self.path)

    def test_register_status_unregister(self):
        status, _ = post_json("/v2/systemsharedmemory/region/in/register",
                              {"key": self.key, "offset": 0, "byte_size": 128})
        self.assertEqual(status, 200)
        status, _ = post_json("/v2/systemsharedmemory/region/out/register",
                              {"key": self.key, "offset": 128, "byte_size": 128})
        self.assertEqual(status, 200)
        status, doc = get_json("/v2/systemsharedmemory/region/out/status")
        self.assertEqual(doc, [{"name": "out", "key": self.key, "offset": 128, "byte_size": 128}])
        status, doc = get_json("/v2/systemsharedmemory/status")
        self.assertEqual(sorted(r["name"] for r in doc), ["in", "out"])
        status, doc = post_json("/v2/systemsharedmemory/region/out/register",
                                {"key": self.key, "offset": 0, "byte_size": 8})
        self.assertEqual((status, doc["error"]), (400, "shared memory region 'out' already in use"))
        self.assertEqual(post_json("/v2/systemsharedmemory/region/in/unregister")[0], 200)
        status, doc = get_json("/v2/systemsharedmemory/status")
        self.assertEqual([r["name"] for r in doc], ["out"])

    def test_register_errors(self):
        status, doc = post_json("/v2/systemsharedmemory/region/x/register", {"byte_size": 8})
        self.assertEqual((status, doc["error"]), (400, "Shared memory register request has no 'key' field"))
        status, doc = post_json("/v2/systemsharedmemory/region/x/register", {"key": self.key})
        self.assertEqual((status, doc["error"]), (400, "Shared memory register request has no 'byte_size' field"))
        status, doc = post_json("/v2/systemsharedmemory/register", {"key": self.key, "byte_size": 8})
        self.assertEqual(status, 400)
        self.assertIn("'region name' is necessary", doc["error"])
        status, doc = post_json("/v2/systemsharedmemory/region/x/register",
                                {"key": "/refserver_http_missing", "byte_size": 8})
        # Triton answers INTERNAL (500) when shm_open fails.
        self.assertEqual(status, 500)
        self.assertIn("Unable to open shared memory region", doc["error"])
        self.assertEqual(call("GET", "/v2/systemsharedmemory/region/x/register")[0], 405)

    def test_infer_through_shared_memory(self):
        in0 = np.arange(16, dtype=np.int32)
        in1 = np.full(16, 3, dtype=np.int32)
        self.mem[0:64] = in0.tobytes()
        self.mem[64:128] = in1.tobytes()
        self.mem[128:256] = b"\0" * 128
        post_json("/v2/systemsharedmemory/region/in/register", {"key": self.key, "offset": 0, "byte_size": 128})
        post_json("/v2/systemsharedmemory/region/out/register", {"key": self.key, "offset": 128, "byte_size": 128})
        doc = {
            "inputs": [
                {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16],
                 "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": 64}},
                {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16],
                 "parameters": {"shared_memory_region": "in", "shared_memory_byte_size": 64,
                                "shared_memory_offset": 64}},
            ],
            "outputs": [
                {"name": "OUTPUT0", "parameters": {"shared_memory_region": "out", "shared_memory_byte_size": 64}},
                {"name": "OUTPUT1", "parameters": {"shared_memory_region": "out", "shared_memory_byte_size": 64,
                                                   "shared_memory_offset": 64}},
            ],
        }
        status, headers, body = call("POST", "/v2/models/simple/infer", doc)
        self.assertEqual(status, 200, body)
        resp = json.loads(body)
        self.assertNotIn("inference-header-content-length", headers)
        for out in resp["outputs"]:
            self.assertNotIn("data", out)
            self.assertEqual(out["shape"], [1, 16])
        np.testing.assert_array_equal(np.frombuffer(self.mem[128:192], dtype=np.int32), in0 + in1)
        np.testing.assert_array_equal(np.frombuffer(self.mem[192:256], dtype=np.int32), in0 - in1)

    def test_infer_with_unknown_region(self):
        doc = {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1],
                           "parameters": {"shared_memory_region": "nope", "shared_memory_byte_size": 4}}]}
        status, _, body = call("POST", "/v2/models/slow/infer", doc)
        self.assertGreaterEqual(status, 400)
        self.assertIn("nope", json.loads(body)["error"])

    def test_cuda_shared_memory(self):
        status, doc = get_json("/v2/cudasharedmemory/status")
        self.assertEqual((status, doc), (200, []))
        status, doc = get_json("/v2/cudasharedmemory/region/r/status")
        self.assertGreaterEqual(status, 200)
        handle = base64.b64encode(b"\0" * 64).decode()
        status, doc = post_json("/v2/cudasharedmemory/region/r/register",
                                {"raw_handle": {"b64": handle}, "device_id": 0, "byte_size": 64})
        self.assertEqual(status, 400)
        self.assertIn("GPUs not supported", doc["error"])
        self.assertEqual(post_json("/v2/cudasharedmemory/unregister")[0], 200)


# ------------------------------------------------------------------- inference


class Infer(unittest.TestCase):
    def test_simple_json(self):
        status, rh, body = infer("simple", simple_inputs(), binary_inputs=False, params=None)
        self.assertEqual(status, 200, body)
        self.assertEqual(rh["content-type"], "application/json")
        doc, values = parse_infer(rh, body)
        s, d = simple_expected()
        self.assertEqual(doc["model_name"], "simple")
        self.assertEqual(doc["model_version"], "1")
        self.assertEqual(values, {"OUTPUT0": s, "OUTPUT1": d})
        self.assertEqual(doc["outputs"][0]["shape"], [1, 16])
        self.assertEqual(doc["outputs"][0]["datatype"], "INT32")

    def test_simple_binary_both_ways(self):
        status, rh, body = infer("simple", simple_inputs(), params={"binary_data_output": True}, request_id="abc")
        self.assertEqual(status, 200, body)
        self.assertEqual(rh["content-type"], "application/octet-stream")
        doc, values = parse_infer(rh, body)
        self.assertEqual(doc["id"], "abc")
        s, d = simple_expected()
        self.assertEqual(values, {"OUTPUT0": s, "OUTPUT1": d})
        self.assertEqual(doc["outputs"][0]["parameters"], {"binary_data_size": 64})

    def test_per_output_binary_flag(self):
        outputs = [{"name": "OUTPUT0", "parameters": {"binary_data": True}},
                   {"name": "OUTPUT1", "parameters": {"binary_data": False}}]
        status, rh, body = infer("simple", simple_inputs(), outputs=outputs, params={"binary_data_output": True})
        self.assertEqual(status, 200, body)
        doc, values = parse_infer(rh, body)
        self.assertIn("binary_data_size", doc["outputs"][0]["parameters"])
        self.assertIn("data", doc["outputs"][1])
        s, d = simple_expected()
        self.assertEqual(values, {"OUTPUT0": s, "OUTPUT1": d})

    def test_requested_output_subset(self):
        status, rh, body = infer("simple", simple_inputs(), outputs=[{"name": "OUTPUT1"}])
        doc, values = parse_infer(rh, body)
        self.assertEqual(list(values), ["OUTPUT1"])

    def test_every_dtype_binary(self):
        for datatype, (_, values) in DTYPES.items():
            with self.subTest(datatype=datatype):
                model = "identity_" + datatype.lower()
                status, rh, body = infer(model, [("INPUT0", datatype, [len(values)], values)],
                                         params={"binary_data_output": True})
                self.assertEqual(status, 200, body)
                doc, got = parse_infer(rh, body)
                out = doc["outputs"][0]
                self.assertEqual((out["datatype"], out["shape"]), (datatype, [len(values)]))
                self.assertEqual(got["OUTPUT0"], from_raw(datatype, raw_bytes(datatype, values)))

    def test_every_dtype_json(self):
        for datatype, (_, values) in DTYPES.items():
            if datatype in ("FP16", "BF16"):
                continue
            if datatype == "BYTES":
                values = [b"", b"abc", "h\u00e9llo".encode()]
            with self.subTest(datatype=datatype):
                model = "identity_" + datatype.lower()
                status, rh, body = infer(model, [("INPUT0", datatype, [len(values)], values)], binary_inputs=False)
                self.assertEqual(status, 200, body)
                self.assertEqual(rh["content-type"], "application/json")
                doc, got = parse_infer(rh, body)
                expect = [v.decode() for v in values] if datatype == "BYTES" else values
                if datatype == "FP32":
                    expect = [float(np.float32(v)) for v in values]
                self.assertEqual(got["OUTPUT0"], expect)

    def test_nested_json_data(self):
        doc = {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]}
        status, rh, body = call("POST", "/v2/models/custom_identity_int32/infer", doc)
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], [1, 2, 3, 4])

    def test_fp16_bf16_not_in_json(self):
        for datatype in ("FP16", "BF16"):
            with self.subTest(datatype=datatype):
                doc = {"inputs": [{"name": "INPUT0", "datatype": datatype, "shape": [1], "data": [1.0]}]}
                status, _, body = call("POST", "/v2/models/identity_%s/infer" % datatype.lower(), doc)
                self.assertEqual(status, 400)
                self.assertIn("receiving %s data via JSON is not supported" % datatype, json.loads(body)["error"])
                # binary in, JSON out is refused the same way
                status, _, body = infer("identity_" + datatype.lower(), [("INPUT0", datatype, [1], [0x3F80])],
                                        outputs=[{"name": "OUTPUT0"}])
                self.assertEqual(status, 400)
                self.assertIn("sending %s data via JSON is not supported" % datatype, json.loads(body)["error"])

    def test_bytes_models(self):
        a = [str(i).encode() for i in range(16)]
        b = [b"2"] * 16
        status, rh, body = infer("simple_string", [("INPUT0", "BYTES", [1, 16], a), ("INPUT1", "BYTES", [1, 16], b)],
                                 params={"binary_data_output": True})
        self.assertEqual(status, 200, body)
        got = parse_infer(rh, body)[1]
        self.assertEqual(got["OUTPUT0"], [str(i + 2).encode() for i in range(16)])
        self.assertEqual(got["OUTPUT1"], [str(i - 2).encode() for i in range(16)])
        status, rh, body = infer("simple_identity", [("INPUT0", "BYTES", [1, 2], [b"x", b"\x00\xff"])],
                                 params={"binary_data_output": True})
        self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], [b"x", b"\x00\xff"])

    def test_simple_int8_wraps(self):
        status, rh, body = infer("simple_int8", [("INPUT0", "INT8", [1, 16], [127] * 16),
                                                 ("INPUT1", "INT8", [1, 16], [1] * 16)], binary_inputs=False)
        self.assertEqual(status, 200, body)
        got = parse_infer(rh, body)[1]
        self.assertEqual(got["OUTPUT0"], [-128] * 16)
        self.assertEqual(got["OUTPUT1"], [126] * 16)

    def test_custom_identity_and_batch(self):
        status, rh, body = infer("custom_identity_int32", [("INPUT0", "INT32", [2, 3], [1, 2, 3, 4, 5, 6])])
        self.assertEqual(status, 200, body)
        doc, got = parse_infer(rh, body)
        self.assertEqual((doc["outputs"][0]["shape"], got["OUTPUT0"]), ([2, 3], [1, 2, 3, 4, 5, 6]))

    def test_classification(self):
        scores = [0.1, 0.9, 0.3, 0.0, 0.5, 0.2, 0.0, 0.0, 0.0, 0.8]
        outputs = [{"name": "OUTPUT0", "parameters": {"classification": 3}}]
        status, rh, body = infer("classifier", [("INPUT0", "FP32", [1, 10], scores)], outputs=outputs)
        self.assertEqual(status, 200, body)
        doc, got = parse_infer(rh, body)
        out = doc["outputs"][0]
        self.assertEqual((out["datatype"], out["shape"]), ("BYTES", [1, 3]))
        self.assertEqual(got["OUTPUT0"], ["0.900000:1:one", "0.800000:9:nine", "0.500000:4:four"])
        outputs = [{"name": "OUTPUT0", "parameters": {"classification": 2, "binary_data": True}}]
        status, rh, body = infer("classifier", [("INPUT0", "FP32", [1, 10], scores)], outputs=outputs)
        self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], [b"0.900000:1:one", b"0.800000:9:nine"])

    def test_sequence_over_http(self):
        results = []
        for i, (start, end) in enumerate([(True, False), (False, False), (False, True)]):
            params = {"sequence_id": 1001, "sequence_start": start, "sequence_end": end}
            status, rh, body = infer("simple_sequence", [("INPUT", "INT32", [1, 1], [i + 10])],
                                     params=params, binary_inputs=False)
            self.assertEqual(status, 200, body)
            results.append(parse_infer(rh, body)[1]["OUTPUT"][0])
        self.assertEqual(results, [11, 11, 12])
        status, rh, body = infer("simple_string_dyna_sequence", [("INPUT", "INT32", [1, 1], [5])],
                                 params={"sequence_id": "seq-a", "sequence_start": True})
        self.assertEqual(status, 200, body)
        status, _, body = infer("simple_sequence", [("INPUT", "INT32", [1, 1], [1])],
                                params={"sequence_id": 987654, "sequence_start": False})
        self.assertEqual(status, 400)
        self.assertIn("error", json.loads(body))

    def test_raw_binary_request(self):
        data = raw_bytes("FP32", [1.0, 2.0, 3.0])
        status, rh, body = call("POST", "/v2/models/identity_fp32/infer", data,
                                {"Inference-Header-Content-Length": "0"})
        self.assertEqual(status, 200, body)
        doc, got = parse_infer(rh, body)
        self.assertEqual((doc["outputs"][0]["shape"], got["OUTPUT0"]), ([3], [1.0, 2.0, 3.0]))

    def test_raw_binary_request_bytes(self):
        data = raw_bytes("BYTES", [b"a", b"", b"xyz"])
        status, rh, body = call("POST", "/v2/models/identity_bytes/infer", data,
                                {"Inference-Header-Content-Length": "0"})
        self.assertEqual(status, 200, body)
        doc, got = parse_infer(rh, body)
        self.assertEqual((doc["outputs"][0]["shape"], got["OUTPUT0"]), ([3], [b"a", b"", b"xyz"]))

    def test_json_integers_wrap_like_triton(self):
        doc = {"inputs": [{"name": "INPUT0", "datatype": "UINT8", "shape": [2], "data": [300, 5]}]}
        status, rh, body = call("POST", "/v2/models/identity_uint8/infer", doc)
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], [44, 5])
        doc = {"inputs": [{"name": "INPUT0", "datatype": "UINT8", "shape": [1], "data": [-1]}]}
        status, _, body = call("POST", "/v2/models/identity_uint8/infer", doc)
        self.assertEqual(status, 400)
        self.assertIn("non-unsigned-integer", json.loads(body)["error"])

    def test_chunked_upload(self):
        body, headers = infer_request(simple_inputs())
        c = connect()
        try:
            c.request("POST", "/v2/models/simple/infer", body=iter([body[:10], body[10:]]),
                      headers=headers, encode_chunked=True)
            r = c.getresponse()
            data = r.read()
            self.assertEqual(r.status, 200, data)
            self.assertEqual(parse_infer({k.lower(): v for k, v in r.getheaders()}, data)[1]["OUTPUT0"],
                             simple_expected()[0])
        finally:
            c.close()

    def test_errors(self):
        cases = [
            ([("INPUT0", "INT32", [1, 16], SIMPLE_IN0), ("WRONG", "INT32", [1, 16], SIMPLE_IN1)], "WRONG"),
            ([("INPUT0", "INT32", [1, 16], SIMPLE_IN0)], "INPUT1"),
            ([("INPUT0", "INT32", [1, 8], SIMPLE_IN0[:8]), ("INPUT1", "INT32", [1, 8], SIMPLE_IN1[:8])], "shape"),
            ([("INPUT0", "FP32", [1, 16], SIMPLE_IN0), ("INPUT1", "INT32", [1, 16], SIMPLE_IN1)], "FP32"),
        ]
        for inputs, word in cases:
            with self.subTest(word=word):
                status, _, body = infer("simple", inputs)
                self.assertEqual(status, 400, body)
                self.assertIn(word, json.loads(body)["error"])

    def test_wire_errors(self):
        status, _, body = call("POST", "/v2/models/simple/infer", b"{bad json")
        self.assertEqual(status, 400)
        self.assertIn("failed to parse the request JSON buffer", json.loads(body)["error"])
        doc = {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1], "data": [1],
                           "parameters": {"binary_data_size": 4}}]}
        status, _, body = call("POST", "/v2/models/slow/infer", doc)
        self.assertEqual(status, 400)
        self.assertIn("Input must set only one of the following fields", json.loads(body)["error"])
        body, headers = infer_request([("INPUT0", "INT32", [1], [5])])
        status, _, data = call("POST", "/v2/models/slow/infer", body + b"xx", headers)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data)["error"], "unexpected additional input data for model 'slow'")
        status, _, data = call("POST", "/v2/models/slow/infer", body[:-2], headers)
        self.assertEqual(status, 400)
        self.assertIn("unexpected size for input 'INPUT0'", json.loads(data)["error"])
        headers["Inference-Header-Content-Length"] = str(len(body) + 5)
        status, _, data = call("POST", "/v2/models/slow/infer", body, headers)
        self.assertEqual(status, 400)
        self.assertIn("inference header size should be in range", json.loads(data)["error"])
        doc = {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [2], "data": [1]}]}
        status, _, data = call("POST", "/v2/models/identity_int32/infer", doc)
        self.assertEqual(status, 500)
        self.assertIn("shape does not match", json.loads(data)["error"])
        doc = {"inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1], "data": ["x"]}]}
        status, _, data = call("POST", "/v2/models/identity_int32/infer", doc)
        self.assertEqual(status, 400)
        doc = {"inputs": [], "parameters": {"triton_x": 1}}
        status, _, data = call("POST", "/v2/models/identity_int32/infer", doc)
        self.assertEqual(status, 400)
        self.assertIn("reserved for Triton usage", json.loads(data)["error"])

    def test_decoupled_model_refused(self):
        status, _, body = infer("repeat_int32", [("IN", "INT32", [1], [1]), ("DELAY", "UINT32", [1], [0]),
                                                 ("WAIT", "UINT32", [1], [0])])
        self.assertEqual(status, 501)
        self.assertEqual(json.loads(body)["error"],
                         "HTTP end point doesn't support models with decoupled transaction policy")

    def test_infer_needs_post(self):
        self.assertEqual(call("GET", "/v2/models/simple/infer")[0], 405)


class Compression(unittest.TestCase):
    def test_request_compression(self):
        for name, fn in (("gzip", gzip.compress), ("deflate", zlib.compress)):
            with self.subTest(encoding=name):
                body, headers = infer_request(simple_inputs())
                headers["Content-Encoding"] = name
                status, rh, data = call("POST", "/v2/models/simple/infer", fn(body), headers)
                self.assertEqual(status, 200, data)
                self.assertEqual(parse_infer(rh, data)[1]["OUTPUT0"], simple_expected()[0])

    def test_response_compression(self):
        for accept, expect in (("gzip", "gzip"), ("deflate", "deflate"), ("deflate;q=0.5, gzip;q=0.8", "gzip"),
                               ("identity", None)):
            with self.subTest(accept=accept):
                status, rh, data = infer("simple", simple_inputs(), params={"binary_data_output": True},
                                         headers={"Accept-Encoding": accept})
                self.assertEqual(status, 200, data)
                self.assertEqual(rh.get("content-encoding"), expect)
                self.assertEqual(int(rh["content-length"]), len(data))
                doc, got = parse_infer(rh, data)
                self.assertEqual(got["OUTPUT1"], simple_expected()[1])

    def test_unknown_request_encoding(self):
        body, headers = infer_request(simple_inputs())
        headers["Content-Encoding"] = "br"
        status, rh, data = call("POST", "/v2/models/simple/infer", body, headers)
        self.assertEqual(status, 501)
        self.assertEqual(rh["accept-encoding"], "gzip, deflate")
        self.assertEqual(json.loads(data)["error"], "Unsupported compression type")

    def test_corrupt_compressed_body(self):
        status, _, data = call("POST", "/v2/models/simple/infer", b"not gzip", {"Content-Encoding": "gzip"})
        self.assertEqual(status, 400)
        self.assertIn("error", json.loads(data))


class Generate(unittest.TestCase):
    def test_generate(self):
        status, doc = post_json("/v2/models/echo_llm/generate", {"text_input": "one two three", "max_tokens": 2})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["model_name"], "echo_llm")
        self.assertEqual(doc["text_output"], "one two")
        # echo_llm is decoupled: generate takes its single response, and refuses
        # several (stream: true sends one per word) as Triton does.
        status, doc = post_json("/v2/models/echo_llm/generate", {"text_input": "one two", "stream": True})
        self.assertEqual(status, 400, doc)
        self.assertIn("generate expects model to produce exactly 1 response", doc["error"])
        # and the HTTP infer endpoint refuses a decoupled model
        status, doc = post_json("/v2/models/echo_llm/infer", {"inputs": [
            {"name": "text_input", "datatype": "BYTES", "shape": [1], "data": ["x"]}]})
        self.assertEqual(status, 501, doc)

    def test_generate_errors(self):
        status, _, body = call("POST", "/v2/models/echo_llm/generate", b"[1")
        self.assertEqual(status, 400)
        self.assertIn("error", json.loads(body))
        status, _, body = call("POST", "/v2/models/nope/generate_stream", b'{"text_input": "x"}')
        self.assertGreaterEqual(status, 400)
        self.assertIn("error", json.loads(body))
        self.assertEqual(call("GET", "/v2/models/echo_llm/generate")[0], 405)
        # a model failing before its first event: an ordinary JSON error, not an event stream
        body = json.dumps({"IN": [1, 2], "DELAY": [0], "WAIT": [0]}).encode()
        status, rh, data = call("POST", "/v2/models/repeat_int32/generate_stream", body)
        self.assertEqual(status, 400)
        self.assertEqual(rh["content-type"], "application/json")
        self.assertIn("DELAY", json.loads(data)["error"])

    def read_events(self, resp):
        """Yields (arrival time, event dict) as each SSE event arrives."""
        buf = b""
        while True:
            chunk = resp.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                self.assertTrue(event.startswith(b"data: "), event)
                yield time.monotonic(), json.loads(event[len(b"data: "):])
        self.assertEqual(buf, b"")

    def test_generate_stream_words(self):
        c = connect()
        try:
            c.request("POST", "/v2/models/echo_llm/generate_stream",
                      body=json.dumps({"text_input": "alpha beta gamma", "stream": True}).encode(),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "text/event-stream; charset=utf-8")
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
            events = [e for _, e in self.read_events(r)]
            self.assertEqual(len(events), 3, events)
            self.assertEqual("".join(e["text_output"] for e in events).split(), ["alpha", "beta", "gamma"])
            # the connection stays usable after the stream ended
            status, _, _ = call("GET", "/v2/health/live", conn=c)
            self.assertEqual(status, 200)
        finally:
            c.close()

    def test_generate_stream_is_incremental(self):
        # repeat_int32 (decoupled) sends one response per IN element after DELAY ms.
        # Order, not speed: the first event arrives while the model still sleeps a
        # minute before the second, so it cannot have waited for the end.
        c = connect()
        try:
            body = {"IN": [7, 8], "DELAY": [0, 60000], "WAIT": [0]}
            c.request("POST", "/v2/models/repeat_int32/generate_stream", body=json.dumps(body).encode())
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            _, first = next(self.read_events(r))
            self.assertEqual(first["OUT"], 7)
        finally:
            c.close()
        # and every event comes, in order
        body = {"IN": [7, 8, 9], "DELAY": [0, 0, 0], "WAIT": [0]}
        status, _, data = call("POST", "/v2/models/repeat_int32/generate_stream",
                               json.dumps(body).encode())
        self.assertEqual(status, 200)
        events = [json.loads(e[len(b"data: "):]) for e in data.split(b"\n\n") if e]
        self.assertEqual([e["OUT"] for e in events], [7, 8, 9])


class Concurrency(unittest.TestCase):
    def test_slow_requests_run_in_parallel(self):
        results = {}

        def run(i):
            status, rh, body = infer("slow", [("INPUT0", "INT32", [1], [600])], binary_inputs=False)
            results[i] = (status, parse_infer(rh, body)[1]["OUTPUT0"] if status == 200 else body)

        start = time.monotonic()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        status, _, _ = call("GET", "/v2/health/ready")
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - t0, 0.3, "a fast request waited for the slow ones")
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        self.assertEqual(results, {i: (200, [600]) for i in range(8)})
        self.assertLess(elapsed, 1.5, "8 x 600 ms took %.2fs: not concurrent" % elapsed)

    def test_keep_alive(self):
        c = connect()
        try:
            status, _, _ = call("GET", "/v2/health/live", conn=c)
            sock = c.sock
            self.assertIsNotNone(sock)
            status2, rh, body = infer("simple", simple_inputs(), conn=c)
            status3, _, _ = call("GET", "/v2/models/simple/config", conn=c)
            self.assertEqual((status, status2, status3), (200, 200, 200))
            self.assertIs(c.sock, sock, "the connection was reopened")
            # errors keep the connection open too
            self.assertEqual(call("GET", "/v2/nothing", conn=c)[0], 404)
            self.assertEqual(call("GET", "/v2", conn=c)[0], 200)
            self.assertIs(c.sock, sock)
        finally:
            c.close()


# ---------------------------------------------------------------------- faults


class Faults(unittest.TestCase):
    def raw_exchange(self, request_bytes, timeout=10):
        """Sends bytes on a fresh socket; returns everything read until EOF."""
        s = socket.create_connection(("127.0.0.1", SERVER.http_port), timeout=timeout)
        try:
            s.sendall(request_bytes)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        finally:
            s.close()

    def infer_bytes(self, fault, model="simple", params=None):
        body, headers = infer_request(simple_inputs() if model == "simple" else
                                      [("INPUT0", "INT32", [1], [1])], params=params)
        head = "POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nx-fault: %s\r\n" % (model, fault)
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\n\r\n" % len(body)
        return head.encode() + body

    def split(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(lines[0].split()[1]), headers, body

    def test_close(self):
        self.assertEqual(self.raw_exchange(self.infer_bytes("close")), b"")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            call("GET", "/v2/health/live", headers={"x-fault": "close"})

    def test_truncate(self):
        status, headers, body = self.split(self.raw_exchange(self.infer_bytes("truncate")))
        self.assertEqual(status, 200)
        declared = int(headers["content-length"])
        self.assertGreater(declared, 0)
        self.assertEqual(len(body), declared // 2)
        with self.assertRaises(http.client.IncompleteRead):
            call("GET", "/v2/models/simple/config", headers={"x-fault": "truncate"})
        # no body to cut: the header block is cut instead
        data = self.raw_exchange(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nx-fault: truncate\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertNotIn(b"\r\n\r\n", data)

    def test_bad_length(self):
        status, rh, body = infer("simple", simple_inputs(), params={"binary_data_output": True},
                                 headers={"x-fault": "bad-length"})
        self.assertEqual(status, 200)
        self.assertGreater(int(rh["inference-header-content-length"]), len(body))

    def test_bad_binary_size(self):
        status, rh, body = infer("simple", simple_inputs(), headers={"x-fault": "bad-binary-size"})
        self.assertEqual(status, 200)
        hlen = int(rh["inference-header-content-length"])
        doc = json.loads(body[:hlen])
        claimed = sum(o["parameters"]["binary_data_size"] for o in doc["outputs"])
        self.assertNotEqual(claimed, len(body) - hlen)

    def test_garbage(self):
        for path, method in (("/v2/models/simple/infer", "POST"), ("/v2/models/simple/config", "GET")):
            with self.subTest(path=path):
                if method == "POST":
                    status, rh, body = infer("simple", simple_inputs(), headers={"x-fault": "garbage"})
                else:
                    status, rh, body = call(method, path, headers={"x-fault": "garbage"})
                self.assertEqual(status, 200)
                with self.assertRaises(ValueError):
                    json.loads(body)

    def test_huge(self):
        status, rh, body = infer("simple", simple_inputs(), headers={"x-fault": "huge"})
        self.assertEqual(status, 200)
        hlen = int(rh["inference-header-content-length"])
        doc = json.loads(body[:hlen])
        self.assertEqual(doc["outputs"][0]["parameters"]["binary_data_size"], 2**40)
        self.assertEqual(doc["outputs"][0]["shape"], [2**40 // 4])
        data = self.raw_exchange(b"GET /v2/models/simple/config HTTP/1.1\r\nHost: x\r\nx-fault: huge\r\n\r\n")
        status, headers, body = self.split(data)
        self.assertEqual(int(headers["content-length"]), 2**40)
        self.assertLess(len(body), 2**20)

    def test_delay(self):
        start = time.monotonic()
        status, _, _ = call("GET", "/v2/health/live", headers={"x-fault": "delay=400"})
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.4)

    def test_status(self):
        for code in (400, 404, 500, 503):
            with self.subTest(code=code):
                status, rh, body = infer("simple", simple_inputs(), headers={"x-fault": "status=%d" % code})
                self.assertEqual(status, code)
                self.assertIn("error", json.loads(body))

    def test_unknown_fault(self):
        for value in ("explode", "status=99", "delay=x"):
            with self.subTest(value=value):
                status, _, body = call("GET", "/v2/health/live", headers={"x-fault": value})
                self.assertEqual(status, 400)
                self.assertIn("error", json.loads(body))

    def test_stream_faults(self):
        req = json.dumps({"text_input": "a b c d"}).encode()
        head = ("POST /v2/models/echo_llm/generate_stream HTTP/1.1\r\nHost: x\r\nx-fault: %s\r\n"
                "Content-Length: %d\r\n\r\n")
        status, headers, body = self.split(self.raw_exchange((head % ("truncate", len(req))).encode() + req))
        self.assertEqual(status, 200)
        self.assertFalse(body.endswith(b"0\r\n\r\n"), body)
        status, headers, body = self.split(self.raw_exchange((head % ("huge", len(req))).encode() + req))
        self.assertTrue(body.startswith(b"10000000000\r\n"), body)

    def test_fault_only_affects_its_request(self):
        c = connect()
        try:
            self.assertEqual(call("GET", "/v2/health/live", headers={"x-fault": "status=503"}, conn=c)[0], 503)
            self.assertEqual(call("GET", "/v2/health/live", conn=c)[0], 200)
        finally:
            c.close()


# ------------------------------------------------------------------------- TLS


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, cls.key = harness.make_cert(cls.tmp.name)
        cls.server = harness.RefServer("--no-grpc", tls=(cls.cert, cls.key)).start()
        ctx = ssl.create_default_context(cafile=cls.cert)
        cls.server.tls_context = ctx

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def test_https_endpoints(self):
        c = connect(self.server)
        try:
            status, _, _ = call("GET", "/v2/health/ready", conn=c)
            self.assertEqual(status, 200)
            status, rh, body = infer("simple", simple_inputs(), params={"binary_data_output": True}, conn=c)
            self.assertEqual(status, 200, body)
            self.assertEqual(parse_infer(rh, body)[1]["OUTPUT0"], simple_expected()[0])
        finally:
            c.close()

    def test_plain_http_to_tls_port_fails(self):
        c = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=5)
        try:
            with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
                c.request("GET", "/v2/health/live")
                c.getresponse().read()
        finally:
            c.close()

    def test_untrusted_certificate_refused(self):
        c = http.client.HTTPSConnection("127.0.0.1", self.server.http_port, timeout=5,
                                        context=ssl.create_default_context())
        try:
            with self.assertRaises(ssl.SSLError):
                c.request("GET", "/v2/health/live")
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
