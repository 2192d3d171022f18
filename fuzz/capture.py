#!/usr/bin/python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ from real replies of the
reference server (scripts/testserver), in the input format each fuzz target
reads (see the comment at the top of fuzz/fuzz_<target>.c).

    /usr/bin/python3 fuzz/capture.py [--proto-dir build/refserver-proto]

Starts the server on free ports, sends requests over HTTP (urllib) and gRPC
(the generated modules, with replies kept as raw bytes), and rewrites every
corpus directory. A few gRPC seeds marked synth- are replies built here with
typed `contents`, which the server never sends but Triton may.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")

DTYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
          "FP16", "BF16", "FP32", "FP64", "BYTES"]

# fuzz_pb_json.c's table of replies, in its order
PB_REPLIES = ["ServerLiveResponse", "ServerReadyResponse", "ModelReadyResponse",
              "ServerMetadataResponse", "ModelMetadataResponse", "ModelInferResponse",
              "ModelStreamInferResponse", "ModelConfigResponse", "ModelStatisticsResponse",
              "RepositoryIndexResponse", "RepositoryModelLoadResponse",
              "RepositoryModelUnloadResponse", "SystemSharedMemoryStatusResponse",
              "SystemSharedMemoryRegisterResponse", "SystemSharedMemoryUnregisterResponse",
              "CudaSharedMemoryStatusResponse", "CudaSharedMemoryRegisterResponse",
              "CudaSharedMemoryUnregisterResponse", "TraceSettingResponse",
              "LogSettingsResponse"]


class Corpus:
    """Writes the seeds of one target, replacing what was there."""

    def __init__(self, name):
        self.dir = os.path.join(CORPUS, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.count = 0

    def add(self, label, data):
        self.count += 1
        with open(os.path.join(self.dir, "%03d-%s" % (self.count, label)), "wb") as f:
            f.write(data)


class Server:
    def __init__(self):
        cmd = [os.path.join(REPO, "scripts", "testserver"), "--http-port", "0", "--grpc-port", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            raise SystemExit("reference server did not start: %r" % line)
        ports = dict(f.split("=", 1) for f in line.split()[1:])
        self.http = "http://127.0.0.1:%s" % ports["http"]
        self.grpc = "127.0.0.1:%s" % ports["grpc"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


# ---- HTTP -------------------------------------------------------------------------

def http(srv, method, path, body=None, headers=None):
    """(status, headers, body) of one request; error statuses are replies too."""
    req = urllib.request.Request(srv.http + path, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wire_bytes(strings):
    return b"".join(struct.pack("<I", len(s)) + s for s in strings)


def infer_body(inputs, outputs=None, binary_in=True, extra=None):
    """An infer request: inputs are (name, datatype, shape, wire bytes or JSON data)."""
    doc = {"inputs": []}
    blobs = []
    for name, dt, shape, data in inputs:
        entry = {"name": name, "datatype": dt, "shape": shape}
        if binary_in:
            entry["parameters"] = {"binary_data_size": len(data)}
            blobs.append(data)
        else:
            entry["data"] = data
        doc["inputs"].append(entry)
    if outputs is not None:
        doc["outputs"] = outputs
    doc.update(extra or {})
    header = json.dumps(doc).encode()
    headers = {"Content-Type": "application/octet-stream"}
    if binary_in:
        headers["Inference-Header-Content-Length"] = str(len(header))
    return header + b"".join(blobs), headers


def int32s(values):
    return struct.pack("<%di" % len(values), *values)


def http_infer_replies(srv):
    """(label, header length or None, body) of a range of real infer replies."""
    out = []
    simple_in = [("INPUT0", "INT32", [1, 16], int32s(range(16))),
                 ("INPUT1", "INT32", [1, 16], int32s([1] * 16))]
    simple_json = [("INPUT0", "INT32", [1, 16], list(range(16))),
                   ("INPUT1", "INT32", [1, 16], [1] * 16)]
    bin_out = [{"name": "OUTPUT0", "parameters": {"binary_data": True}},
               {"name": "OUTPUT1", "parameters": {"binary_data": True}}]
    strings = [str(i).encode() for i in range(16)]
    cases = [
        ("simple-binary", "simple", infer_body(simple_in, bin_out)),
        ("simple-json", "simple", infer_body(simple_json, binary_in=False, extra={"id": "req-7"})),
        ("simple-mixed", "simple",
         infer_body(simple_in, [bin_out[0], {"name": "OUTPUT1",
                                             "parameters": {"binary_data": False}}])),
        ("string-binary", "simple_string",
         infer_body([("INPUT0", "BYTES", [1, 16], wire_bytes(strings)),
                     ("INPUT1", "BYTES", [1, 16], wire_bytes([b"1"] * 16))], bin_out)),
        ("string-json", "simple_string",
         infer_body([("INPUT0", "BYTES", [1, 16], [s.decode() for s in strings]),
                     ("INPUT1", "BYTES", [1, 16], ["1"] * 16)], binary_in=False)),
        ("classification-binary", "classifier",
         infer_body([("INPUT0", "FP32", [2, 10],
                      struct.pack("<20f", *[i * 0.37 % 3 for i in range(20)]))],
                    [{"name": "OUTPUT0", "parameters": {"classification": 3,
                                                        "binary_data": True}}])),
        ("classification-json", "classifier",
         infer_body([("INPUT0", "FP32", [1, 10], [i * 1.5 for i in range(10)])],
                    [{"name": "OUTPUT0", "parameters": {"classification": 10}}], binary_in=False)),
        ("sequence-params", "simple_sequence",
         infer_body([("INPUT", "INT32", [1, 1], int32s([5]))], None,
                    extra={"id": "seq", "parameters": {"sequence_id": 42, "sequence_start": True,
                                                       "sequence_end": True}})),
    ]
    identity = {
        "BOOL": b"\x01\x00\x01", "UINT8": bytes([0, 7, 255]), "UINT16": struct.pack("<3H", 0, 1, 65535),
        "UINT32": struct.pack("<2I", 1, 2**32 - 1), "UINT64": struct.pack("<2Q", 1, 2**64 - 1),
        "INT8": struct.pack("<3b", -128, 0, 127), "INT16": struct.pack("<2h", -1, 300),
        "INT32": int32s([-7, 2**31 - 1]), "INT64": struct.pack("<2q", -2**63, 5),
        "FP16": struct.pack("<3H", 0x3c00, 0x7e00, 0xfc00), "BF16": struct.pack("<2H", 0x3f80, 0xc000),
        "FP32": struct.pack("<3f", 1.5, float("inf"), -0.0), "FP64": struct.pack("<2d", 0.1, -1e300),
        "BYTES": wire_bytes([b"", b"a\x00b", b"\xff" * 5]),
    }
    for dt, data in identity.items():
        n = len(data) // (1 if dt in ("BOOL", "UINT8", "INT8") else
                          {"UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2, "UINT32": 4, "INT32": 4,
                           "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8}.get(dt, 1))
        if dt == "BYTES":
            n = 3
        cases.append(("identity-" + dt.lower(), "identity_" + dt.lower(),
                      infer_body([("INPUT0", dt, [n], data)],
                                 [{"name": "OUTPUT0", "parameters": {"binary_data": True}}])))
    for label, model, (body, headers) in cases:
        status, rh, reply = http(srv, "POST", "/v2/models/%s/infer" % model, body, headers)
        if status != 200:
            raise SystemExit("%s: HTTP %d %r" % (label, status, reply[:200]))
        hl = rh.get("Inference-Header-Content-Length")
        out.append((label, int(hl) if hl else None, reply))
    # replies the fault modes bend, and error bodies
    body, headers = cases[0][2]
    for fault in ("huge", "bad-binary-size", "bad-length", "garbage"):
        status, rh, reply = http(srv, "POST", "/v2/models/simple/infer", body,
                                 dict(headers, **{"x-fault": fault}))
        hl = rh.get("Inference-Header-Content-Length")
        out.append(("fault-" + fault, int(hl) if hl is not None and hl.isdigit() else None, reply))
    status, rh, reply = http(srv, "POST", "/v2/models/nope/infer", body, headers)
    out.append(("error-unknown-model", None, reply))
    # BYTES as JSON with NUL bytes, which the reply escapes as \u0000 (last, so
    # that the seeds above keep their numbers)
    body, headers = infer_body([("INPUT0", "BYTES", [3], ["a\0b", "\0", "\u00e9\0\U0001f600"])],
                               [{"name": "OUTPUT0", "parameters": {"binary_data": False}}],
                               binary_in=False)
    status, rh, reply = http(srv, "POST", "/v2/models/identity_bytes/infer", body, headers)
    if status != 200:
        raise SystemExit("bytes-json-nul: HTTP %d %r" % (status, reply[:200]))
    out.append(("bytes-json-nul", None, reply))
    # an output of a datatype no client knows, binary and JSON (last again)
    for label, binary in (("fault-bad-dtype", True), ("fault-bad-dtype-json", False)):
        body, headers = infer_body(simple_in,
                                   [{"name": "OUTPUT0", "parameters": {"binary_data": binary}}])
        status, rh, reply = http(srv, "POST", "/v2/models/simple/infer", body,
                                 dict(headers, **{"x-fault": "bad-dtype"}))
        hl = rh.get("Inference-Header-Content-Length")
        out.append((label, int(hl) if hl else None, reply))
    return out


def http_seed(flags, header_len, body):
    if header_len is None:
        return bytes([flags & ~2]) + body
    return bytes([flags | 2]) + str(header_len).encode() + b"\n" + body


def binary_outputs(header_len, body):
    """(datatype, shape, bytes) of each binary output of an HTTP reply."""
    doc = json.loads(body[:header_len])
    pos = header_len
    for o in doc.get("outputs", []):
        size = o.get("parameters", {}).get("binary_data_size")
        if size is None:
            continue
        yield o["datatype"], o["shape"], body[pos:pos + size]
        pos += size


def bytes_elements(data):
    pos = 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        yield data[pos + 4:pos + 4 + n]
        pos += 4 + n


def sse_seeds(srv, corpus):
    streams = []
    for label, doc, fault in [
            ("echo", {"text_input": "the quick brown fox jumps", "max_tokens": 4}, None),
            ("echo-long", {"text_input": " ".join(["w%d" % i for i in range(12)])}, None),
            ("garbage", {"text_input": "a b"}, "garbage")]:
        headers = {"Content-Type": "application/json"}
        if fault:
            headers["x-fault"] = fault
        # stream: echo_llm (decoupled) then answers word by word, one event each
        status, _, body = http(srv, "POST", "/v2/models/echo_llm/generate_stream",
                               json.dumps(dict(doc, stream=True)).encode(), headers)
        streams.append((label, body))
    status, _, body = http(srv, "POST", "/v2/models/nope/generate_stream",
                           b'{"text_input": "x"}', {"Content-Type": "application/json"})
    streams.append(("error", body))
    for label, body in streams:
        # whole; in 1..7-byte chunks; with CRLF and CR line ends; a small max_event
        corpus.add(label, bytes([0, 0, 0]) + body)
        corpus.add(label + "-chunked", bytes([0, 0, 4, 1, 3, 7, 2]) + body)
        corpus.add(label + "-crlf", bytes([0, 0, 2, 5, 1]) + body.replace(b"\n", b"\r\n"))
        corpus.add(label + "-cr", bytes([0, 2, 1, 9]) + body.replace(b"\n", b"\r"))
        corpus.add(label + "-small", bytes([2, 0, 1, 16]) + b": keep-alive\nevent: x\n" + body)


# ---- JSON text ---------------------------------------------------------------------

# A config override whose 64-bit fields a double cannot hold.
BIG_CONFIG = {
    "input": [{"name": "INPUT0", "data_type": "TYPE_INT8", "dims": [2**53 + 1, 2**63 - 1]}],
    "dynamic_batching": {"max_queue_delay_microseconds": 2**64 - 1,
                         "priority_queue_policy": {str(2**64 - 1): {"default_timeout_microseconds": 2**53 + 1}}},
}

# Texts at the reader's edges, valid and not.
JSON_EDGES = [
    ("number-edges", b"[9223372036854775807,9223372036854775808,-9223372036854775808,"
     b"-9223372036854775809,18446744073709551615,18446744073709551616,1.7976931348623157e308,"
     b"4.9e-324,1e-400,-0,-0.0,0.1,1E+2,12e-3]"),
    ("strings", b'["\\u0000","\\ud83d\\ude00","\\u00e9","\\/","\\b\\f\\n\\r\\t","\\u001f",'
     b'"\\uffff","","\xff raw"]'),
    ("deep-1000", b"[" * 1000 + b"]" * 1000),
    ("literals", b' {"a":null,"b":true,"c":false,"d":{},"e":[],"f":[{}],"":{"":""}} '),
    ("nul-key", b'{"a\\u0000b":1}'),
    ("lone-surrogate", b'["\\ud800"]'),
    ("too-deep", b'{"a":' * 1001),
    ("out-of-range", b"1e400"),
]


def json_seeds(srv, corpus):
    """Real JSON replies of the server (control plane, JSON tensors) and edge texts."""
    gets = [("server-metadata", "/v2"), ("model-metadata", "/v2/models/simple"),
            ("model-config", "/v2/models/simple_sequence/config"),
            ("statistics", "/v2/models/simple/stats"), ("trace-settings", "/v2/trace/setting"),
            ("log-settings", "/v2/logging"), ("error", "/v2/models/nope/config")]
    for label, path in gets:
        corpus.add(label, http(srv, "GET", path)[2])
    corpus.add("repository-index", http(srv, "POST", "/v2/repository/index")[2])
    echoes = [("int64", "INT64", [2**63 - 1, -2**63, 2**53 + 1, 0]),
              ("uint64", "UINT64", [2**64 - 1, 2**53 + 1]),
              ("bytes", "BYTES", ["a\0b", "\U0001f600 \u00e9", "\"\\/\b\f\n\r\t"])]
    for label, dt, data in echoes:
        body, headers = infer_body([("INPUT0", dt, [len(data)], data)],
                                   [{"name": "OUTPUT0", "parameters": {"binary_data": False}}],
                                   binary_in=False)
        corpus.add("infer-" + label,
                   http(srv, "POST", "/v2/models/identity_%s/infer" % dt.lower(), body, headers)[2])
    for label, text in JSON_EDGES:
        corpus.add(label, text)


# ---- gRPC -------------------------------------------------------------------------

def grpc_seeds(srv, proto_dir, grpc_corpus, pb_corpus, class_corpus):
    sys.path.insert(0, proto_dir)
    import grpc
    import grpc_service_pb2 as pb

    channel = grpc.insecure_channel(srv.grpc)

    def call(method, request, metadata=None):
        fn = channel.unary_unary("/inference.GRPCInferenceService/" + method,
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=lambda b: b)
        return fn(request, metadata=metadata, timeout=10)

    def pb_add(label, reply_name, data):
        pb_corpus.add(label, bytes([PB_REPLIES.index(reply_name)]) + data)

    def infer_request(model, inputs, outputs=(), rid="", params=None):
        req = pb.ModelInferRequest(model_name=model, id=rid)
        for name, dt, shape, data in inputs:
            req.inputs.add(name=name, datatype=dt, shape=shape)
            req.raw_input_contents.append(data)
        for name, p in outputs:
            o = req.outputs.add(name=name)
            for k, v in p.items():
                o.parameters[k].int64_param = v
        for k, v in (params or {}).items():
            if isinstance(v, bool):
                req.parameters[k].bool_param = v
            elif isinstance(v, int):
                req.parameters[k].int64_param = v
            else:
                req.parameters[k].string_param = v
        return req

    simple = infer_request("simple", [("INPUT0", "INT32", [1, 16], int32s(range(16))),
                                      ("INPUT1", "INT32", [1, 16], int32s([2] * 16))], rid="g1")
    infers = [
        ("simple", simple, None),
        ("string", infer_request("simple_string",
                                 [("INPUT0", "BYTES", [1, 16], wire_bytes([b"4", b"5"] * 8)),
                                  ("INPUT1", "BYTES", [1, 16], wire_bytes([b"1", b"-9"] * 8))]),
         None),
        ("classification", infer_request(
            "classifier", [("INPUT0", "FP32", [1, 10], struct.pack("<10f", *range(10)))],
            [("OUTPUT0", {"classification": 4})]), None),
        ("identity-fp16", infer_request(
            "identity_fp16", [("INPUT0", "FP16", [3], struct.pack("<3H", 0x3c00, 1, 0x7c00))]), None),
        ("identity-bool", infer_request("identity_bool", [("INPUT0", "BOOL", [2], b"\x01\x00")]),
         None),
        ("sequence", infer_request("simple_sequence", [("INPUT", "INT32", [1, 1], int32s([3]))],
                                   params={"sequence_id": 9, "sequence_start": True,
                                           "sequence_end": True}), None),
    ]
    for fault in ("huge", "bad-binary-size", "bad-length"):
        infers.append(("fault-" + fault, simple, (("x-fault", fault),)))
    for label, req, md in infers:
        reply = call("ModelInfer", req, md)
        for misalign in (0, 3):
            grpc_corpus.add(label + "-%d" % misalign, bytes([misalign << 1]) + reply)
        if not label.startswith("fault"):
            pb_add("infer-" + label, "ModelInferResponse", reply)
        if label == "classification":
            msg = pb.ModelInferResponse.FromString(reply)
            for s in bytes_elements(msg.raw_output_contents[0]):
                class_corpus.add("grpc", s)

    # a stream: decoupled responses with an empty final one, then an error
    stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=lambda b: b)
    reqs = [infer_request("repeat_int32", [("IN", "INT32", [2], int32s([4, 5])),
                                           ("DELAY", "UINT32", [2], int32s([0, 0])),
                                           ("WAIT", "UINT32", [1], int32s([0]))],
                          rid="r1", params={"triton_enable_empty_final_response": True}),
            infer_request("simple", [("NOPE", "INT32", [1, 16], int32s(range(16)))], rid="bad")]
    for i, reply in enumerate(stream(iter(reqs), timeout=10)):
        grpc_corpus.add("stream-%d" % i, bytes([1]) + reply)
        pb_add("stream-%d" % i, "ModelStreamInferResponse", reply)
        if i >= 5:
            break

    # typed contents, which Triton may send and the server never does
    synth = pb.ModelInferResponse(model_name="synth", model_version="1", id="s")
    typed = [("BOOL", "bool_contents", [True, False]), ("INT8", "int_contents", [-3, 4]),
             ("UINT16", "uint_contents", [7, 65535]), ("INT64", "int64_contents", [-(2**63), 1]),
             ("UINT64", "uint64_contents", [2**64 - 1, 0]), ("FP32", "fp32_contents", [0.5, -2]),
             ("FP64", "fp64_contents", [1e-300, 2]), ("BYTES", "bytes_contents", [b"x", b""])]
    for name, field, values in typed:
        o = synth.outputs.add(name=name, datatype=name, shape=[2])
        getattr(o.contents, field).extend(values)
    grpc_corpus.add("synth-contents", bytes([0]) + synth.SerializeToString())
    shm = pb.ModelInferResponse(model_name="synth", model_version="1")
    o = shm.outputs.add(name="OUT", datatype="INT32", shape=[4])
    o.parameters["shared_memory_region"].string_param = "r"
    o.parameters["shared_memory_byte_size"].int64_param = 16
    shm.raw_output_contents.append(b"")
    grpc_corpus.add("synth-shm", bytes([0]) + shm.SerializeToString())
    reply = call("ModelInfer", simple, (("x-fault", "bad-dtype"),))
    for misalign in (0, 3):
        grpc_corpus.add("fault-bad-dtype-%d" % misalign, bytes([misalign << 1]) + reply)

    # control-plane replies for pb_json
    region_key = "/tritonlua_fuzz_capture"
    path = "/dev/shm" + region_key
    with open(path, "wb") as f:
        f.write(b"\0" * 64)
    try:
        call("SystemSharedMemoryRegister",
             pb.SystemSharedMemoryRegisterRequest(name="b_region", key=region_key, byte_size=64))
        call("SystemSharedMemoryRegister",
             pb.SystemSharedMemoryRegisterRequest(name="a_region", key=region_key, offset=8,
                                                  byte_size=32))
        pb_add("shm-status", "SystemSharedMemoryStatusResponse",
               call("SystemSharedMemoryStatus", pb.SystemSharedMemoryStatusRequest()))
        pb_add("shm-unregister", "SystemSharedMemoryUnregisterResponse",
               call("SystemSharedMemoryUnregister", pb.SystemSharedMemoryUnregisterRequest()))
    finally:
        os.unlink(path)
    controls = [
        ("live", "ServerLive", pb.ServerLiveRequest(), "ServerLiveResponse"),
        ("ready", "ServerReady", pb.ServerReadyRequest(), "ServerReadyResponse"),
        ("model-ready", "ModelReady", pb.ModelReadyRequest(name="simple"), "ModelReadyResponse"),
        ("server-metadata", "ServerMetadata", pb.ServerMetadataRequest(),
         "ServerMetadataResponse"),
        ("model-metadata", "ModelMetadata", pb.ModelMetadataRequest(name="simple"),
         "ModelMetadataResponse"),
        ("repository-index", "RepositoryIndex", pb.RepositoryIndexRequest(),
         "RepositoryIndexResponse"),
        ("cuda-status", "CudaSharedMemoryStatus", pb.CudaSharedMemoryStatusRequest(),
         "CudaSharedMemoryStatusResponse"),
        ("trace", "TraceSetting", pb.TraceSettingRequest(), "TraceSettingResponse"),
        ("log", "LogSettings", pb.LogSettingsRequest(), "LogSettingsResponse"),
        ("statistics-simple", "ModelStatistics", pb.ModelStatisticsRequest(name="simple"),
         "ModelStatisticsResponse"),
        ("statistics-repeat", "ModelStatistics", pb.ModelStatisticsRequest(name="repeat_int32"),
         "ModelStatisticsResponse"),
        ("unload", "RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name="slow"),
         "RepositoryModelUnloadResponse"),
        ("index-after-unload", "RepositoryIndex", pb.RepositoryIndexRequest(),
         "RepositoryIndexResponse"),
        ("load", "RepositoryModelLoad", pb.RepositoryModelLoadRequest(model_name="slow"),
         "RepositoryModelLoadResponse"),
    ]
    for model in ("simple", "classifier", "simple_sequence", "simple_dyna_sequence",
                  "repeat_int32", "echo_llm"):
        controls.append(("config-" + model, "ModelConfig", pb.ModelConfigRequest(name=model),
                         "ModelConfigResponse"))
    for label, method, req, reply_name in controls:
        pb_add(label, reply_name, call(method, req))
    # 64-bit config fields beyond a double's exact range, and a uint64 map key
    call("RepositoryModelLoad", pb.RepositoryModelLoadRequest(
        model_name="identity_int8", parameters={"config": pb.ModelRepositoryParameter(
            string_param=json.dumps(BIG_CONFIG))}))
    pb_add("config-big-ints", "ModelConfigResponse",
           call("ModelConfig", pb.ModelConfigRequest(name="identity_int8")))
    channel.close()


# ---- tensor_wire and lua_tensor seeds from the HTTP binary outputs ------------------

def tensor_wire_seed(dt, shape, data, flags):
    if len(shape) > 5 or any(d >= 240 for d in shape):
        return None
    return bytes([DTYPES.index(dt), len(shape)] + list(shape) + [flags]) + data


def lua_value_raw(data):
    """fuzz_lua_tensor's encoding of a raw string value (op 4: length byte + bytes)."""
    return bytes([4, len(data)]) + data


def lua_int(v):
    return bytes([0, v & 0xff])


def lua_table(items):
    return bytes([7, len(items)]) + b"".join(items)


def lua_shape(dims):
    # kind % 4 == 2 with (kind >> 2) % 7 dims; each dim byte >= 0x60 gives (b % 5)
    return bytes([2 | (len(dims) << 2)]) + bytes(0x64 + d if d < 5 else 0x60 for d in dims)


def lua_steps(steps):
    out = bytes([len(steps)])
    for op, keep, args in steps:
        out += bytes([op, keep, len(args)]) + b"".join(args)
    return out


def lua_seeds(corpus, binary):
    # triton.tensor(raw reply bytes, dtype, shape) with a few views and ops
    for dt, shape, data in binary:
        if len(data) > 255 or len(shape) > 5 or any(d > 4 for d in shape):
            shape = None
        value = lua_value_raw(data[:255])
        shape_bytes = lua_shape(shape) if shape else bytes([0])
        steps = lua_steps([(0, 1, [lua_int(-1)]), (11, 0, []), (1, 0, [lua_int(1), lua_int(1)]),
                           (21, 0, []), (11, 0, [])])
        corpus.add("raw-" + dt.lower(), value + bytes([DTYPES.index(dt)]) + shape_bytes + steps)
    # nested tables: {{1, 2, 3}, {4, 5, 6}} as each dtype, then transposes and reductions
    nested = lua_table([lua_table([lua_int(1), lua_int(2), lua_int(3)]),
                        lua_table([lua_int(4), lua_int(5), lua_int(6)])])
    steps = lua_steps([(2, 1, []), (14, 0, []), (21, 0, [lua_int(1)]), (26, 0, [lua_int(2)]),
                       (6, 0, [lua_table([lua_int(2), lua_int(1)])]), (29, 0, [lua_int(1)])])
    for i, dt in enumerate(DTYPES[:-1]):
        corpus.add("nested-" + dt.lower(), nested + bytes([i]) + bytes([0]) + steps)
    strings = lua_table([lua_value_raw(b"ab"), lua_value_raw(b"\x00c"), lua_value_raw(b"")])
    corpus.add("strings", strings + bytes([13]) + bytes([0]) +
               lua_steps([(11, 0, []), (35, 0, []), (0, 1, [lua_int(3)])]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proto-dir", default=os.environ.get(
        "TRITON_REFSERVER_PROTO_DIR", os.path.join(REPO, "build", "refserver-proto")))
    args = ap.parse_args()
    os.environ["TRITON_REFSERVER_PROTO_DIR"] = args.proto_dir

    srv = Server()
    try:
        http_corpus = Corpus("http_infer")
        wire_corpus = Corpus("tensor_wire")
        class_corpus = Corpus("classification")
        binary = []
        for i, (label, hl, body) in enumerate(http_infer_replies(srv)):
            # alternate with and without an owner buffer, and the misalignment
            flags = (i & 1) | ((i % 8) << 2)
            http_corpus.add(label, http_seed(flags, hl, body))
            if hl is None or label.startswith(("fault", "error")):
                continue
            for dt, shape, data in binary_outputs(hl, body):
                binary.append((dt, shape, data))
                seed = tensor_wire_seed(dt, shape, data, 1 | ((i % 8) << 1))
                if seed is not None:
                    wire_corpus.add(label + "-" + dt.lower(), seed)
                if label.startswith("classification"):
                    for s in bytes_elements(data):
                        class_corpus.add("http", s)
        # a BYTES tensor over a malformed length, and zero-element shapes
        wire_corpus.add("bytes-short", bytes([13, 1, 2, 1]) + wire_bytes([b"ab"]) + b"\x05\0")
        wire_corpus.add("empty", bytes([11, 2, 0, 7, 0]))
        sse_seeds(srv, Corpus("sse"))
        grpc_seeds(srv, args.proto_dir, Corpus("grpc_infer"), Corpus("pb_json"), class_corpus)
        lua_seeds(Corpus("lua_tensor"), binary)
        json_seeds(srv, Corpus("json"))
    finally:
        srv.stop()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print("corpus: %d bytes in %s" % (total, CORPUS))


if __name__ == "__main__":
    main()
