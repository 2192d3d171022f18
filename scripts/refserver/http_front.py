"""HTTP/REST front of the reference server: KServe v2 plus Triton's extensions.

Decodes the wire (JSON, the binary tensor data extension, compression) into the
neutral requests of core.Server and encodes its answers the way Triton's
http_server.cc does: same paths, status codes and `{"error": "..."}` bodies.
Built on http.server so it needs nothing beyond the standard library and numpy.

Every reply carries Content-Length (keep-alive works on one connection);
generate_stream answers with chunked server-sent events, each flushed as soon
as the model produces it. The request header `x-fault` makes one request
misbehave on purpose (docs/reference-server-http.md lists the modes).
"""

import base64
import gzip
import json
import re
import socket
import ssl
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import numpy as np

from . import core as _core
from . import tensors
from .core import ServerError

# Triton's --http-max-input-size default: caps the JSON header, JSON-encoded
# inputs, raw binary requests and decompressed bodies.
MAX_INPUT_SIZE = 1 << 26
# Triton parses Content-Length with std::stoi: larger bodies are refused.
MAX_BODY_SIZE = (1 << 31) - 1
# Nesting limit of JSON tensor data, as Triton's HTTP_MAX_JSON_NESTING_DEPTH.
MAX_JSON_DEPTH = 100
# What the `huge` fault claims an output (or a body) holds.
HUGE_SIZE = 1 << 40

_MODEL_RE = re.compile(
    r"/v2/models/([^/]+)(?:/versions/([0-9]+))?"
    r"(?:/(infer|generate|generate_stream|ready|config|stats|trace/setting))?"
)
_REPO_RE = re.compile(r"/v2/repository(?:/([^/]+))?/(index|models/([^/]+)/(load|unload))")
_SHM_RE = re.compile(
    r"/v2/(systemsharedmemory|cudasharedmemory)(?:/region/([^/]+))?/(status|register|unregister)"
)
_HEALTH_RE = re.compile(r"/v2/health/(live|ready)")

_SIGNED = {"INT8", "INT16", "INT32", "INT64"}
_UNSIGNED = {"UINT8", "UINT16", "UINT32", "UINT64"}
_FLOATS = {"FP32", "FP64"}
_SHM_KEYS = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")
_FAULT_KINDS = _core.FAULT_KINDS + ("delay", "status")


# Triton's HttpCodeFromError folds these error kinds into 400 (core.HTTP_STATUS
# has 409/500/499 for three of them, so the front decides here).
_BAD_REQUEST_KINDS = {"INVALID_ARGUMENT", "ALREADY_EXISTS", "UNKNOWN", "CANCELLED"}


def _status_of(err):
    return 400 if err.grpc_code in _BAD_REQUEST_KINDS else err.http_status


class HttpError(Exception):
    """An error answered as `{"error": message}` with an HTTP status."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class _Reply:
    """A complete (non-streamed) answer: status, headers and body bytes."""

    def __init__(self, status=200, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if content_type:
            self.headers.append(("Content-Type", content_type))
        # Length of the uncompressed body, for the bad-length fault.
        self.plain_length = len(body)
        # Faults the handler already acted out in the body (infer's huge and
        # bad-binary-size live in the JSON header, not in the framing).
        self.consumed = ()


def _json_bytes(value):
    # Compact like Triton's writer; BYTES elements come in as surrogate-escaped
    # str so that non-UTF-8 bytes go back on the wire unchanged.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", errors="surrogateescape"
    )


def _json_reply(value, status=200):
    return _Reply(status, _json_bytes(value), "application/json")


def _error_reply(status, message, headers=None):
    return _Reply(status, _json_bytes({"error": message}), "application/json", headers)


def _parse_json(data, kind="request"):
    """Parses a JSON body the way TritonJson reports failures."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise HttpError(400, "failed to parse the %s JSON buffer: invalid UTF-8 at %d" % (kind, e.start))
    except json.JSONDecodeError as e:
        raise HttpError(400, "failed to parse the %s JSON buffer: %s at %d" % (kind, e.msg, e.pos))


def _body_object(body, kind):
    """An optional JSON object body; empty means {}."""
    if not body.strip():
        return {}
    doc = _parse_json(body, kind)
    if not isinstance(doc, dict):
        raise HttpError(400, "failed to parse the %s JSON buffer: expected a JSON object" % kind)
    return doc


def _local_fault_of(headers):
    """x-fault syntax: close | truncate | bad-length | bad-binary-size | garbage | huge
    | bad-dtype | delay=MS | status=CODE. Returns (kind, arg) or (None, None)."""
    value = headers.get("x-fault")
    if value is None or value.strip() == "":
        return (None, None)
    value = value.strip().lower()
    kind, _, arg = value.partition("=")
    if kind not in _FAULT_KINDS:
        raise ValueError("unknown x-fault '%s'" % value)
    if kind in ("delay", "status"):
        try:
            num = int(arg)
        except ValueError:
            raise ValueError("x-fault '%s' needs an integer argument" % kind)
        if num < 0:
            raise ValueError("x-fault '%s' needs a non-negative argument" % kind)
        return (kind, num)
    if arg:
        raise ValueError("x-fault '%s' takes no argument" % kind)
    return (kind, None)


def fault_of(headers):
    """Prefers the core's parser so the HTTP and gRPC fronts read x-fault alike."""
    parser = getattr(_core, "fault_of", None) or _local_fault_of
    kind, arg = parser(headers)
    if kind is not None and kind not in _FAULT_KINDS:
        raise ValueError("unknown x-fault '%s'" % kind)
    return kind, arg


def _accept_encoding(value):
    """Picks gzip/deflate/identity by q-weight; first wins on ties (as Triton)."""
    best, weight = "identity", 0.0
    for item in value.split(","):
        item = item.strip()
        name, _, q = item.partition(";q=")
        name = name.strip()
        if not name:
            continue
        try:
            w = float(q) if q else 1.0
        except ValueError:
            continue
        if name in ("identity", "deflate", "gzip") and w > weight:
            best, weight = name, w
    return best


def _compress(data, encoding):
    if encoding == "gzip":
        return gzip.compress(data, mtime=0)
    # Triton's "deflate" is the zlib format (deflateInit), as Python's zlib.
    return zlib.compress(data)


def _decompress(data, limit):
    """gzip or zlib-wrapped deflate, auto-detected as Triton's inflateInit2(15|32)."""
    if not data:
        raise HttpError(400, "nothing to be decompressed")
    d = zlib.decompressobj(15 | 32)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise HttpError(400, "failed to decompress the request body: %s" % e)
    if len(out) > limit:
        raise HttpError(
            400,
            "Decompressed data size exceeds the maximum allowed value of %d bytes. "
            "Use --http-max-input-size to increase the limit." % limit,
        )
    return out


def _element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _flatten_json(data):
    """Row-major leaves of (possibly nested) JSON tensor data."""
    out = []
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= MAX_JSON_DEPTH:
            raise HttpError(400, "JSON nesting depth exceeds maximum allowed limit (%d)" % MAX_JSON_DEPTH)
        if isinstance(node, list):
            stack.extend((e, depth + 1) for e in reversed(node))
        else:
            out.append(node)
    return out


def _json_leaf_error(datatype):
    if datatype == "BOOL":
        return "attempt to access JSON non-boolean as boolean"
    if datatype in _SIGNED:
        return "attempt to access JSON non-signed-integer as signed-integer"
    if datatype in _UNSIGNED:
        return "attempt to access JSON non-unsigned-integer as unsigned-integer"
    if datatype in _FLOATS:
        return "attempt to access JSON non-number as double"
    return "attempt to access JSON non-string as string"


def _decode_json_tensor(name, datatype, shape, data):
    """JSON `data` -> ndarray, with Triton's checks and wording."""
    if datatype == "FP16" or datatype == "BF16":
        raise HttpError(
            400,
            "receiving %s data via JSON is not supported. Please use the binary data "
            "format for input %s" % (datatype, name),
        )
    if datatype not in tensors.NUMPY_DTYPE:
        raise HttpError(400, "invalid datatype for input %s" % name)
    if not isinstance(data, list):
        raise HttpError(400, "Unable to parse 'data': attempt to access JSON non-array as array")
    count = _element_count(shape)
    leaves = _flatten_json(data)
    if len(leaves) > count:
        raise HttpError(500, "Unable to parse 'data': Shape does not match true shape of 'data' field")
    for v in leaves:
        if datatype == "BOOL":
            ok = isinstance(v, bool)
        elif datatype in _SIGNED:
            ok = isinstance(v, int) and not isinstance(v, bool) and -(1 << 63) <= v < (1 << 63)
        elif datatype in _UNSIGNED:
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v < (1 << 64)
        elif datatype in _FLOATS:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        else:
            ok = isinstance(v, str)
        if not ok:
            raise HttpError(400, "Unable to parse 'data': " + _json_leaf_error(datatype))
    if len(leaves) < count:
        raise HttpError(500, "Failed to parse 'data' field: shape does not match true shape")
    target = tensors.NUMPY_DTYPE[datatype]
    if datatype == "BYTES":
        arr = np.empty(count, dtype=object)
        arr[:] = [v.encode("utf-8", errors="surrogateescape") for v in leaves]
    elif datatype in _SIGNED:
        # Triton stores the int64 value cast to the element type (wrapping).
        arr = np.array(leaves, dtype=np.int64).astype(target)
    elif datatype in _UNSIGNED:
        arr = np.array(leaves, dtype=np.uint64).astype(target)
    else:
        arr = np.array(leaves, dtype=np.float64 if datatype != "BOOL" else np.bool_).astype(target)
    return arr.reshape(shape)


def _encode_json_tensor(name, datatype, arr):
    """ndarray -> flat JSON list, as Triton's WriteDataToJson."""
    if datatype in ("FP16", "BF16"):
        raise HttpError(
            400, "sending %s data via JSON is not supported. Please use the binary data format for output" % datatype
        )
    flat = np.asarray(arr).reshape(-1)
    if datatype == "BYTES":
        return [tensors.to_bytes(e).decode("utf-8", errors="surrogateescape") for e in flat]
    if datatype == "BOOL":
        return [bool(v) for v in flat]
    if datatype in _FLOATS:
        return [float(v) for v in flat]
    return [int(v) for v in flat]


def _parse_uint(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise HttpError(400, "Unable to parse '%s': attempt to access JSON non-unsigned-integer as unsigned-integer" % what)
    return value


def _request_parameters(doc):
    """Request-level parameters, checked as Triton's ParseJsonTritonParams."""
    params = doc.get("parameters", {})
    if not isinstance(params, dict):
        raise HttpError(400, "failed to get request params.: attempt to access JSON non-object as object")
    out = {}
    binary_output = False
    for key, value in params.items():
        if key == "sequence_id":
            if not (isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)):
                raise HttpError(400, "Unable to parse 'sequence_id': attempt to access JSON non-string as string")
        elif key in ("sequence_start", "sequence_end"):
            if not isinstance(value, bool):
                raise HttpError(400, "Unable to parse '%s': attempt to access JSON non-boolean as boolean" % key)
        elif key in ("priority", "timeout"):
            _parse_uint(value, key)
        elif key == "binary_data_output":
            if not isinstance(value, bool):
                raise HttpError(
                    400, "Unable to parse 'binary_data_output': attempt to access JSON non-boolean as boolean"
                )
            binary_output = value
            continue
        elif key.startswith("triton_"):
            raise HttpError(
                400, "parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified."
            )
        elif not isinstance(value, (str, int, float)):
            raise HttpError(
                400, "parameter '%s' has invalid type. It should be either 'int', 'bool', or 'string'." % key
            )
        out[key] = value
    return out, binary_output


def _io_parameters(io, what):
    params = io.get("parameters", {})
    if not isinstance(params, dict):
        raise HttpError(400, "Unable to parse '%s' parameters: attempt to access JSON non-object as object" % what)
    return params


def _check_input_content(io, params):
    """Exactly one of data / binary_data_size / shared_memory_region."""
    has = [
        ("'data'", "data" in io),
        ("'binary_data_size'", "binary_data_size" in params),
        ("'shared_memory_region'", "shared_memory_region" in params),
    ]
    count = sum(1 for _, h in has if h)
    if count != 1:
        msg = (
            "Input must set only one of the following fields: 'data', 'binary_data_size' in "
            "'parameters', 'shared_memory_region' in 'parameters'. But"
        )
        if count == 0:
            msg += " no field is set"
        else:
            msg += " set" + "".join(" " + n for n, h in has if h)
        raise HttpError(400, msg)


def _shm_params(params):
    out = {}
    if "shared_memory_region" in params:
        if not isinstance(params["shared_memory_region"], str):
            raise HttpError(
                400, "Unable to parse 'shared_memory_region': attempt to access JSON non-string as string"
            )
        out["shared_memory_region"] = params["shared_memory_region"]
    for key in ("shared_memory_offset", "shared_memory_byte_size"):
        if key in params:
            out[key] = _parse_uint(params[key], key)
    return out


def _decode_infer_request(model, version, doc, binary):
    """JSON header (+ binary tail) -> (core request, output kinds, default kind)."""
    if not isinstance(doc, dict):
        raise HttpError(400, "failed to parse the request JSON buffer: expected a JSON object")
    req = {"model_name": model, "model_version": version, "id": "", "parameters": {}, "inputs": [], "outputs": []}
    if "id" in doc:
        if not isinstance(doc["id"], str):
            raise HttpError(400, "Unable to parse 'id': attempt to access JSON non-string as string")
        req["id"] = doc["id"]
    req["parameters"], binary_default = _request_parameters(doc)

    inputs = doc.get("inputs")
    if not isinstance(inputs, list):
        raise HttpError(400, "Unable to parse 'inputs': attempt to access JSON non-array as array")
    pos = 0
    for io in inputs:
        if not isinstance(io, dict):
            raise HttpError(400, "Unable to parse 'inputs': attempt to access JSON non-object as object")
        params = _io_parameters(io, "input")
        _check_input_content(io, params)
        name = io.get("name")
        if not isinstance(name, str):
            raise HttpError(400, "Unable to parse 'name': attempt to access JSON non-string as string")
        datatype = io.get("datatype")
        if not isinstance(datatype, str):
            raise HttpError(400, "Unable to parse 'datatype': attempt to access JSON non-string as string")
        shape = io.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise HttpError(400, "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer")
        entry = {"name": name, "datatype": datatype, "shape": list(shape), "parameters": {}, "data": None}
        if "binary_data_size" in params:
            size = _parse_uint(params["binary_data_size"], "binary_data_size")
            if size > 0 and binary is None:
                raise HttpError(
                    400,
                    "must specify valid 'Infer-Header-Content-Length' in request header and "
                    "'binary_data_size' when passing inputs in binary data format",
                )
            tail = binary or b""
            if pos + size > len(tail):
                raise HttpError(
                    400,
                    "unexpected size for input '%s', expecting %d additional bytes for model '%s'"
                    % (name, pos + size - len(tail), model),
                )
            chunk = tail[pos : pos + size]
            pos += size
            if datatype not in tensors.NUMPY_DTYPE:
                raise HttpError(400, "invalid datatype for input %s" % name)
            try:
                entry["data"] = tensors.decode_raw(datatype, shape, chunk, name=name, model=model)
            except tensors.TensorError as e:
                raise HttpError(400, str(e))
        elif "shared_memory_region" in params:
            entry["parameters"].update(_shm_params(params))
        else:
            entry["data"] = _decode_json_tensor(name, datatype, shape, io["data"])
        # Other input parameters travel to the core unchanged.
        for key, value in params.items():
            if key not in _SHM_KEYS and key != "binary_data_size":
                entry["parameters"][key] = value
        req["inputs"].append(entry)
    if binary is not None and pos != len(binary):
        raise HttpError(400, "unexpected additional input data for model '%s'" % model)

    kinds = {}
    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            raise HttpError(400, "Unable to parse 'outputs': attempt to access JSON non-array as array")
        for io in outputs:
            if not isinstance(io, dict):
                raise HttpError(400, "Unable to parse 'outputs': attempt to access JSON non-object as object")
            params = _io_parameters(io, "output")
            name = io.get("name")
            if not isinstance(name, str):
                raise HttpError(400, "Unable to parse 'name': attempt to access JSON non-string as string")
            entry = {"name": name, "parameters": {}}
            use_shm = "shared_memory_region" in params
            if use_shm and "classification" in params:
                raise HttpError(400, "Output can't set both 'shared_memory_region' and 'classification'")
            use_binary = binary_default
            if "binary_data" in params:
                if not isinstance(params["binary_data"], bool):
                    raise HttpError(
                        400, "Unable to parse 'binary_data': attempt to access JSON non-boolean as boolean"
                    )
                use_binary = params["binary_data"]
                if use_shm and use_binary:
                    raise HttpError(400, "Output can't set both 'shared_memory_region' and 'binary_data'")
            if "classification" in params:
                entry["parameters"]["classification"] = _parse_uint(params["classification"], "classification")
            if use_shm:
                entry["parameters"].update(_shm_params(params))
            for key, value in params.items():
                if key not in _SHM_KEYS and key not in ("binary_data", "classification"):
                    entry["parameters"][key] = value
            kinds[name] = "shm" if use_shm else ("binary" if use_binary else "json")
            req["outputs"].append(entry)
    return req, kinds, ("binary" if binary_default else "json")


def _raw_byte_elements(data):
    """Number of length-prefixed BYTES elements in a raw buffer (None if malformed)."""
    count, pos = 0, 0
    while pos < len(data):
        if len(data) - pos < 4:
            return None
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4 + n
        if pos > len(data):
            return None
        count += 1
    return count


def _decode_raw_request(server, model, version, body):
    """Inference-Header-Content-Length: 0: the whole body is the only input's data."""
    if len(body) > MAX_INPUT_SIZE:
        raise HttpError(
            400,
            "Raw input has a byte_size (%d bytes) that exceeds the maximum allowed value of %d bytes. "
            "Use --http-max-input-size to increase the limit." % (len(body), MAX_INPUT_SIZE),
        )
    meta = server.model_metadata(model, version)
    config = server.model_config(model, version)
    inputs = meta.get("inputs", [])
    if len(inputs) != 1:
        raise HttpError(
            400,
            "Raw request must only have 1 input (found 1) to be deduced but got %d inputs in '%s' model configuration"
            % (len(inputs), model),
        )
    name, datatype = inputs[0]["name"], inputs[0]["datatype"]
    shape = list(inputs[0]["shape"])
    if config.get("max_batch_size", 0) > 0 and shape:
        shape[0] = 1
    variable = [i for i, d in enumerate(shape) if d < 0]
    if len(variable) > 1:
        raise HttpError(400, "Raw input '%s' of model '%s' has more than one variable-size dimension" % (name, model))
    if variable:
        fixed = _element_count([d for d in shape if d >= 0])
        if datatype == "BYTES":
            total = _raw_byte_elements(body)
            if total is None:
                raise HttpError(400, "element byte size indicator exceeds the end of the buffer for input '%s'" % name)
        else:
            total = len(body) // tensors.element_size(datatype)
        shape[variable[0]] = total // fixed if fixed else 0
    try:
        data = tensors.decode_raw(datatype, shape, body, name=name, model=model)
    except tensors.TensorError as e:
        raise HttpError(400, str(e))
    req = {
        "model_name": model,
        "model_version": version,
        "id": "",
        "parameters": {},
        "inputs": [{"name": name, "datatype": datatype, "shape": shape, "parameters": {}, "data": data}],
        "outputs": [],
    }
    return req, {}, "binary"


def _encode_infer_response(resp, kinds, default_kind, fault):
    """Core response -> (JSON header bytes, binary tail bytes)."""
    doc = {}
    if resp.get("id"):
        doc["id"] = resp["id"]
    doc["model_name"] = resp["model_name"]
    doc["model_version"] = str(resp.get("model_version", "") or "1")
    if resp.get("parameters"):
        doc["parameters"] = resp["parameters"]
    outputs = []
    blobs = []
    first_binary = None
    for out in resp.get("outputs", []):
        name, datatype = out["name"], out["datatype"]
        shape = [int(d) for d in out["shape"]]
        entry = {"name": name, "datatype": datatype, "shape": shape}
        if fault == "bad-dtype" and not outputs:
            entry["datatype"] = _core.BAD_DTYPE
        # The wire's own framing keys are rebuilt here, not echoed from the request.
        params = {
            k: v
            for k, v in (out.get("parameters") or {}).items()
            if k not in _SHM_KEYS and k not in ("binary_data", "binary_data_size")
        }
        data = out.get("data")
        kind = kinds.get(name, default_kind)
        if data is None or kind == "shm":
            # Written to shared memory: Triton sends neither data nor size.
            if params:
                entry["parameters"] = params
            outputs.append(entry)
            continue
        if fault in ("bad-binary-size", "huge"):
            kind = "binary"
        if kind == "binary":
            raw = tensors.encode_raw(data, datatype)
            params["binary_data_size"] = len(raw)
            if first_binary is None:
                first_binary = entry
            if raw:
                blobs.append(raw)
        else:
            entry["data"] = _encode_json_tensor(name, datatype, data)
        if params:
            entry["parameters"] = params
        outputs.append(entry)
    doc["outputs"] = outputs
    if first_binary is not None:
        size = first_binary["parameters"]["binary_data_size"]
        if fault == "bad-binary-size":
            first_binary["parameters"]["binary_data_size"] = size + 1
        elif fault == "huge":
            first_binary["parameters"]["binary_data_size"] = HUGE_SIZE
            elsize = tensors.element_size(first_binary["datatype"])
            if elsize:
                first_binary["shape"] = [HUGE_SIZE // elsize]
    return _json_bytes(doc), b"".join(blobs)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tritonlua-refserver"
    # The core of the reference server, set on the subclass made per front.
    core = None

    # ------------------------------------------------------------ plumbing

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        # Quiet by default: tests start many servers; errors reach clients as JSON.
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    def _read_body(self):
        """The whole request body (Content-Length or chunked); None if unreadable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return None
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise HttpError(400, "invalid chunk size in chunked request body")
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > MAX_BODY_SIZE:
                    raise HttpError(400, "chunked request body exceeds %d bytes" % MAX_BODY_SIZE)
                chunk = self.rfile.read(size)
                if len(chunk) != size or self.rfile.readline(16) not in (b"\r\n", b"\n"):
                    return None
                parts.append(chunk)
        text = self.headers.get("Content-Length")
        if text is None:
            return b""
        try:
            length = int(text)
        except ValueError:
            raise HttpError(400, "Unable to parse Content-Length, got: %s" % text)
        if length < 0 or length > MAX_BODY_SIZE:
            raise HttpError(
                400,
                "Unable to parse Content-Length, value is out of range [ -2147483648, 2147483647 ], got: %s" % text,
            )
        data = self.rfile.read(length)
        if len(data) != length:
            return None
        return data

    def _send(self, reply, fault=None):
        """Writes a whole reply in one send (no Nagle stall between head and body)."""
        body = reply.body
        headers = list(reply.headers)
        declared = len(body)
        if fault == "bad-length":
            headers = [(k, v) for k, v in headers if k.lower() != "inference-header-content-length"]
            headers.append(("Inference-Header-Content-Length", str(reply.plain_length + 1024)))
        elif fault == "huge" and fault not in reply.consumed:
            declared = HUGE_SIZE
        if fault == "garbage":
            body = b'{"model_name": "garbage", "outputs": [{"name": \x00'
            declared = len(body)
            headers = [("Content-Type", "application/json")]
            reply = _Reply(200)
        if self.close_connection:
            headers.append(("Connection", "close"))
        head = ["HTTP/1.1 %d %s\r\n" % (reply.status, self.responses.get(reply.status, ("Unknown",))[0])]
        head.append("Server: %s\r\n" % self.version_string())
        head.append("Date: %s\r\n" % self.date_time_string())
        for k, v in headers:
            head.append("%s: %s\r\n" % (k, v))
        head.append("Content-Length: %d\r\n\r\n" % declared)
        data = "".join(head).encode("latin-1")
        if fault == "truncate":
            # Half the body; a reply without a body loses half its header block instead.
            data = data + body[: len(body) // 2] if body else data[: len(data) // 2]
        elif self.command != "HEAD":
            data += body
        self.wfile.write(data)
        if fault == "truncate" or declared != len(body):
            self._drop()

    def _drop(self):
        """Closes the connection abruptly (the client sees EOF mid-answer)."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, method):
        try:
            body = self._read_body()
        except HttpError as e:
            self.close_connection = True
            self._send(_error_reply(e.status, e.message))
            return
        if body is None:
            self.close_connection = True
            return
        try:
            kind, arg = fault_of({k.lower(): v for k, v in self.headers.items()})
        except (ValueError, ServerError) as e:
            self._send(_error_reply(400, getattr(e, "message", None) or str(e)))
            return
        if kind == "delay":
            time.sleep(arg / 1000.0)
            kind = None
        if kind == "close":
            self._drop()
            return
        if kind == "status":
            status = arg
            if not 200 <= status <= 599:
                self._send(_error_reply(400, "x-fault status=%d is not an HTTP status (200-599)" % arg))
                return
            if status in (204, 304):
                self._send(_Reply(status))
            else:
                self._send(_error_reply(status, "x-fault: status=%d" % arg))
            return
        path = urlsplit(self.path).path
        try:
            reply = self._route(method, path, body, kind)
        except HttpError as e:
            reply = _error_reply(e.status, e.message, e.headers)
        except ServerError as e:
            reply = _error_reply(_status_of(e), e.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        except Exception as e:  # a bug in a model or here: answer, keep serving
            reply = _error_reply(500, "internal error: %s: %s" % (type(e).__name__, e))
        if reply is not None:
            try:
                self._send(reply, kind)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    # ------------------------------------------------------------- routing

    def _route(self, method, path, body, fault):
        """Returns a _Reply, or None when the answer was already streamed."""
        srv = self.core
        if path == "/v2/models/stats":
            self._allow(method, "GET")
            return _json_reply(srv.statistics())
        if path == "/v2/logging":
            self._allow(method, "GET", "POST")
            if method == "POST":
                return _json_reply(srv.update_log_settings(_body_object(body, "dynamic logging")))
            return _json_reply(srv.log_settings())
        m = _MODEL_RE.fullmatch(path)
        if m:
            name, version, kind = unquote(m.group(1)), m.group(2) or "", m.group(3) or ""
            if kind == "ready":
                self._allow(method, "GET")
                if not srv.model_ready(name, version):
                    raise HttpError(400, "Model version not ready")
                return _Reply(200)
            if kind == "infer":
                self._allow(method, "POST")
                return self._infer(name, version, body, fault)
            if kind in ("generate", "generate_stream"):
                self._allow(method, "POST")
                return self._generate(name, version, body, kind == "generate_stream", fault)
            if kind == "config":
                self._allow(method, "GET")
                return _json_reply(srv.model_config(name, version))
            if kind == "stats":
                self._allow(method, "GET")
                return _json_reply(srv.statistics(name, version))
            if kind == "trace/setting" and not version:
                self._allow(method, "GET", "POST")
                if method == "POST":
                    return _json_reply(srv.update_trace_settings(_body_object(body, "trace"), model=name))
                return _json_reply(srv.trace_settings(model=name))
            if kind == "":
                self._allow(method, "GET")
                return _json_reply(srv.model_metadata(name, version))
        if path == "/v2":
            self._allow(method, "GET")
            return _json_reply(srv.server_metadata())
        m = _HEALTH_RE.fullmatch(path)
        if m:
            self._allow(method, "GET")
            ok = srv.live() if m.group(1) == "live" else srv.ready()
            return _Reply(200 if ok else 400)
        m = _SHM_RE.fullmatch(path)
        if m:
            region = unquote(m.group(2) or "")
            return self._shared_memory(method, m.group(1) == "cudasharedmemory", region, m.group(3), body)
        m = _REPO_RE.fullmatch(path)
        if m:
            self._allow(method, "POST")
            if m.group(2) == "index":
                return self._repository_index(body)
            if m.group(1):
                raise HttpError(501, "'repository_name' specification is not supported")
            return self._repository_control(unquote(m.group(3)), m.group(4), body)
        if path == "/v2/trace/setting":
            self._allow(method, "GET", "POST")
            if method == "POST":
                return _json_reply(srv.update_trace_settings(_body_object(body, "trace")))
            return _json_reply(srv.trace_settings())
        raise HttpError(404, "Not Found")

    @staticmethod
    def _allow(method, *allowed):
        if method not in allowed:
            raise HttpError(405, "Method Not Allowed")

    # ---------------------------------------------------------- repository

    def _repository_index(self, body):
        doc = _body_object(body, "registry index")
        ready = doc.get("ready", False)
        if not isinstance(ready, bool):
            raise HttpError(400, "Invalid value for 'ready': expected a boolean")
        return _json_reply(self.core.repository_index(ready=ready))

    def _repository_control(self, model, action, body):
        doc = _body_object(body, "%s model" % action)
        params = doc.get("parameters", {})
        if not isinstance(params, dict):
            raise HttpError(400, "failed to parse the %s model JSON buffer: 'parameters' must be an object" % action)
        if action == "load":
            config, files = None, {}
            for key, value in params.items():
                if not isinstance(value, str):
                    raise HttpError(400, "attempt to access JSON non-string as string")
                if key == "config":
                    config = value
                elif key.startswith("file:"):
                    try:
                        files[key] = base64.b64decode(value, validate=True)
                    except (ValueError, TypeError):
                        raise HttpError(400, "'%s' is not a valid base64 encoded string" % key)
                else:
                    raise HttpError(500, "unexpected error on creating Triton parameter")
            self.core.load_model(model, config=config, files=files or None)
        else:
            dependents = params.get("unload_dependents", False)
            if not isinstance(dependents, bool):
                raise HttpError(
                    400, "Unable to parse 'unload_dependents': attempt to access JSON non-boolean as boolean"
                )
            self.core.unload_model(model, unload_dependents=dependents)
        return _Reply(200, b"", "application/json")

    # ------------------------------------------------------- shared memory

    def _shared_memory(self, method, cuda, region, action, body):
        self._allow(method, "GET" if action == "status" else "POST")
        srv = self.core
        kind = "cuda" if cuda else "system"
        if action == "status":
            status = srv.cuda_shm_status(region) if cuda else srv.shm_status(region)
            return _json_reply(status)
        if action == "unregister":
            if cuda:
                srv.cuda_shm_unregister(region)
            else:
                srv.shm_unregister(region)
            return _Reply(200, b"", "application/json")
        if not region:
            raise HttpError(400, "'region name' is necessary to register %s shared memory region" % kind)
        doc = _body_object(body, "register")
        if cuda:
            handle = doc.get("raw_handle")
            if not isinstance(handle, dict) or not isinstance(handle.get("b64"), str):
                raise HttpError(400, "Shared memory register request has no 'raw_handle' field")
            try:
                raw = base64.b64decode(handle["b64"], validate=True)
            except (ValueError, TypeError):
                raise HttpError(400, "'raw_handle' is not a valid base64 encoded string")
            byte_size = _parse_uint(doc.get("byte_size"), "byte_size")
            device_id = _parse_uint(doc.get("device_id", 0), "device_id")
            srv.cuda_shm_register(region, raw, device_id, byte_size)
            return _Reply(200, b"", "application/json")
        if "key" not in doc:
            raise HttpError(400, "Shared memory register request has no 'key' field")
        if not isinstance(doc["key"], str):
            raise HttpError(400, "attempt to access JSON non-string as string")
        offset = _parse_uint(doc.get("offset", 0), "offset")
        if "byte_size" not in doc:
            raise HttpError(400, "Shared memory register request has no 'byte_size' field")
        byte_size = _parse_uint(doc["byte_size"], "byte_size")
        srv.shm_register(region, doc["key"], byte_size, offset)
        return _Reply(200, b"", "application/json")

    # ----------------------------------------------------------- inference

    def _infer(self, model, version, body, fault):
        srv = self.core
        config = srv.model_config(model, version)
        if (config.get("model_transaction_policy") or {}).get("decoupled"):
            raise HttpError(501, "HTTP end point doesn't support models with decoupled transaction policy")

        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "deflate"):
            body = _decompress(body, MAX_INPUT_SIZE)
        elif encoding not in ("", "identity"):
            raise HttpError(501, "Unsupported compression type", [("Accept-Encoding", "gzip, deflate")])

        header_text = self.headers.get("Inference-Header-Content-Length")
        header_length = len(body)
        if header_text is not None:
            try:
                header_length = int(header_text)
            except ValueError:
                raise HttpError(400, "Unable to parse Inference-Header-Content-Length, got: %s" % header_text)
            if header_length < 0 or header_length > len(body):
                raise HttpError(
                    400,
                    "inference header size should be in range (0, %d), got: %s" % (len(body), header_text),
                )
        if header_length == 0:
            req, kinds, default_kind = _decode_raw_request(srv, model, version, body)
        else:
            if header_length > MAX_INPUT_SIZE:
                raise HttpError(
                    400,
                    "request JSON size of %d bytes exceeds the maximum allowed input size of %d bytes. "
                    "Use --http-max-input-size to increase the limit." % (header_length, MAX_INPUT_SIZE),
                )
            doc = _parse_json(body[:header_length])
            tail = body[header_length:] if header_text is not None else None
            req, kinds, default_kind = _decode_infer_request(model, version, doc, tail)

        resp = srv.infer(req)
        header, tail = _encode_infer_response(resp, kinds, default_kind, fault)
        payload = header + tail
        headers = []
        if tail or fault in ("bad-binary-size", "huge"):
            content_type = "application/octet-stream"
            headers.append(("Inference-Header-Content-Length", str(len(header))))
        else:
            content_type = "application/json"
        accept = _accept_encoding(self.headers.get("Accept-Encoding", ""))
        plain_length = len(payload)
        if accept != "identity":
            payload = _compress(payload, accept)
            headers.append(("Content-Encoding", accept))
        reply = _Reply(200, payload, content_type, headers)
        reply.plain_length = plain_length
        reply.consumed = ("huge", "bad-binary-size")
        return reply

    # ------------------------------------------------------------ generate

    def _generate(self, model, version, body, streaming, fault):
        srv = self.core
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise HttpError(400, "Unsupported content-encoding, only 'identity' is supported.")
        if version and not srv.model_ready(model, version):
            raise HttpError(400, "Request for unknown model: '%s' version %s is not ready" % (model, version))
        doc = _parse_json(body)
        if not isinstance(doc, dict):
            raise HttpError(400, "failed to parse the request JSON buffer: expected a JSON object")
        if not streaming:
            return _json_reply(srv.generate(model, doc))
        events = iter(srv.generate_stream(model, doc))
        try:
            # Errors before the first event are ordinary JSON error replies.
            first = next(events, None)
            self._stream_events(first, events, fault)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return None

    def _write_chunk(self, data, declared=None):
        size = len(data) if declared is None else declared
        self.wfile.write(b"%x\r\n%s\r\n" % (size, data))

    def _stream_events(self, first, events, fault):
        """Server-sent events over chunked transfer, one flushed chunk per event."""
        head = (
            "HTTP/1.1 200 OK\r\nServer: %s\r\nDate: %s\r\n"
            "Content-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
            % (self.version_string(), self.date_time_string())
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write((head + "\r\n").encode("latin-1"))

        def frame(event):
            return b"data: " + _json_bytes(event) + b"\n\n"

        try:
            if fault == "garbage":
                self._write_chunk(b'data: {"text_output": \x00\n\n')
            pending, error = first, None
            while pending is not None:
                if fault == "truncate":
                    # Needs to know which event is the last: look one ahead.
                    following, error = self._next_event(events)
                    if following is None and error is None:
                        data = frame(pending)
                        # Announce the whole event, send half, then hang up.
                        self.wfile.write(b"%x\r\n%s" % (len(data), data[: len(data) // 2]))
                        self._drop()
                        return
                    self._write_chunk(frame(pending))
                    pending = following
                    continue
                if fault == "huge":
                    self._write_chunk(frame(pending), declared=HUGE_SIZE)
                    self._drop()
                    return
                # Sent as soon as produced: the client sees each event before the next exists.
                self._write_chunk(frame(pending))
                pending, error = self._next_event(events)
            if error is not None:
                self._write_chunk(b"data: " + _json_bytes({"error": error}) + b"\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            # The client went away; stop producing events.
            self.close_connection = True

    @staticmethod
    def _next_event(events):
        """(event, None), (None, None) at the end, or (None, message) when the model fails."""
        try:
            return next(events, None), None
        except ServerError as e:
            return None, e.message
        except Exception as e:  # a model failing mid-stream is reported in-band
            return None, "%s: %s" % (type(e).__name__, e)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Slow requests must not hold up shutdown.
    block_on_close = False
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # Clients dropping connections (faults, timeouts) are routine here.
        pass

    def shutdown(self):
        super().shutdown()
        self.server_close()


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve_http(server, host, port, tls=None):
    """Starts the HTTP front in a background thread; returns (httpd, bound_port).

    `tls` is (cert_file, key_file, client_ca_file or None) for HTTPS; with a client CA,
    a client certificate signed by it is required. Stop with httpd.shutdown()."""
    handler = type("Handler", (_Handler,), {"core": server})
    cls = _Server6 if ":" in host else _Server
    httpd = cls((host, port), handler)
    if tls is not None:
        cert, key, client_ca = tls
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        # The handshake happens on first read in the request's own thread, so a
        # silent client cannot stall the accept loop.
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    bound_port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="refserver-http", daemon=True)
    thread.start()
    return httpd, bound_port
