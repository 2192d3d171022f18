"""The protocol-neutral server: model repository, inference, statistics, settings.

Both fronts (http_front, grpc_front) decode the wire into the plain dicts
described in notes/refserver-interface.md, call this Server, and encode what it
returns. Values are in the shape of Triton's HTTP/REST JSON with
model_config.proto / grpc_service.proto snake_case names.
"""

import copy
import json
import os
import re
import threading
import time

import numpy as np

from . import models as models_mod
from . import tensors
from .shm import ShmError, SystemShm

SERVER_NAME = "triton"
SERVER_VERSION = "2.41.0"
EXTENSIONS = [
    "classification", "sequence", "model_repository", "model_repository(unload_dependents)",
    "schedule_policy", "model_configuration", "system_shared_memory", "cuda_shared_memory",
    "binary_tensor_data", "parameters", "statistics", "trace", "logging", "generate",
]

# gRPC status code name -> HTTP status, as Triton maps its error codes.
# As Triton's HttpCodeFromError: ALREADY_EXISTS, UNKNOWN and CANCELLED all answer 400.
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "ALREADY_EXISTS": 400, "UNAVAILABLE": 503,
    "INTERNAL": 500, "UNIMPLEMENTED": 501, "UNKNOWN": 400, "CANCELLED": 400,
    "DEADLINE_EXCEEDED": 504, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
}

FAULT_KINDS = ("close", "truncate", "bad-length", "bad-binary-size", "garbage", "huge", "bad-dtype")
# The datatype the bad-dtype fault gives an infer reply's first output: one no
# client knows, so that it must refuse the reply rather than drop the output.
BAD_DTYPE = "FP128"


_INT64_TYPES = None


def _full_config(cfg):
    """The config as Triton's HTTP front prints it: every scalar, repeated and map field
    with its default (Triton prints primitives always), snake_case names, and 64-bit
    integers as JSON numbers (protobuf's JSON form writes them as strings; Triton turns
    them back into numbers). Both fronts then carry exactly the same config."""
    global _INT64_TYPES
    from google.protobuf import descriptor, json_format

    from . import protos

    _pb, _pb_grpc, mc = protos.load()
    fd = descriptor.FieldDescriptor
    if _INT64_TYPES is None:
        _INT64_TYPES = {fd.TYPE_INT64, fd.TYPE_UINT64, fd.TYPE_SINT64, fd.TYPE_FIXED64,
                        fd.TYPE_SFIXED64}

    def fix(desc, value):
        for field in desc.fields:
            if field.name not in value:
                continue
            v = value[field.name]
            if field.type == fd.TYPE_MESSAGE:
                mt = field.message_type
                if mt.GetOptions().map_entry:
                    vf = mt.fields_by_name["value"]
                    for k in v:
                        v[k] = fix(vf.message_type, v[k]) if vf.type == fd.TYPE_MESSAGE else (
                            int(v[k]) if vf.type in _INT64_TYPES else v[k])
                elif field.label == fd.LABEL_REPEATED:
                    value[field.name] = [fix(mt, x) for x in v]
                else:
                    value[field.name] = fix(mt, v)
            elif field.type in _INT64_TYPES:
                value[field.name] = [int(x) for x in v] if field.label == fd.LABEL_REPEATED else int(v)
        return value

    msg = json_format.ParseDict(cfg, mc.ModelConfig())
    out = json_format.MessageToDict(msg, including_default_value_fields=True,
                                    preserving_proto_field_name=True)
    return fix(msg.DESCRIPTOR, out)


class ServerError(Exception):
    """An error to report to the client: message worded as Triton words it."""

    def __init__(self, message, grpc_code="INVALID_ARGUMENT", http_status=None):
        super().__init__(message)
        self.message = message
        self.grpc_code = grpc_code
        self.http_status = http_status if http_status is not None else HTTP_STATUS.get(grpc_code, 500)


_INT64_MAX = 2 ** 63 - 1


def parse_version(version):
    """A request's model version string as Triton reads it (std::stol): "" means the
    latest (-1); leading whitespace, a sign and trailing non-digits are accepted
    ("01", " 1", "1x" all mean 1). No digits or a value beyond int64 is Triton's
    INVALID_ARG "failed to get model version ...", a negative value its "invalid model
    version specified ..."."""
    if not version:
        return -1
    m = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", version)
    number = int(m.group(1)) if m else None
    if number is None or not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        raise ServerError("failed to get model version from specified version string '%s' "
                          "(details: stol), version should be an integral value > 0" % version,
                          "INVALID_ARGUMENT")
    if number < 0:
        raise ServerError("invalid model version specified '%s' , version should be an integral "
                          "value > 0" % version, "INVALID_ARGUMENT")
    return number


def fault_of(headers):
    """The x-fault of a request: (kind, arg) or (None, None).

    headers: a dict or a sequence of (key, value) pairs, keys in any case.
    Kinds: delay (arg: milliseconds), status (arg: int code), status-once
    (arg: (int code, key); the gRPC front fails only the first request with
    that key), and the front-specific ones in FAULT_KINDS (arg None).
    """
    value = None
    items = headers.items() if hasattr(headers, "items") else headers
    for k, v in items or ():
        if str(k).lower() == "x-fault":
            value = v.decode() if isinstance(v, bytes) else str(v)
            break
    if value is None:
        return (None, None)
    value = value.strip()
    m = re.fullmatch(r"(delay|status)=(\d+)", value)
    if m:
        return (m.group(1), int(m.group(2)))
    m = re.fullmatch(r"status-once=(\d+):([A-Za-z0-9_.-]+)", value)
    if m:
        return ("status-once", (int(m.group(1)), m.group(2)))
    if value in FAULT_KINDS:
        return (value, None)
    raise ServerError("unknown x-fault '%s'" % value, "INVALID_ARGUMENT")


def _dims_str(dims):
    return "[" + ",".join(str(int(d)) for d in dims) + "]"


def _dims_match(expected, actual):
    if len(expected) != len(actual):
        return False
    return all(e == -1 or e == a for e, a in zip(expected, actual))


class _Stats:
    """Inference statistics of one model version, in Triton's HTTP JSON shape."""

    PHASES = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output",
              "cache_hit", "cache_miss")

    def __init__(self):
        self.lock = threading.Lock()
        self.last_inference = 0
        self.inference_count = 0
        self.execution_count = 0
        self.phases = {p: [0, 0] for p in self.PHASES}
        self.batches = {}
        self.responses = {}

    def add(self, phase, ns, count=1):
        self.phases[phase][0] += count
        self.phases[phase][1] += ns

    def as_dict(self, name, version):
        with self.lock:
            d = {
                "name": name, "version": version,
                "last_inference": self.last_inference,
                "inference_count": self.inference_count,
                "execution_count": self.execution_count,
                "inference_stats": {p: {"count": c, "ns": n} for p, (c, n) in self.phases.items()},
                "response_stats": {k: {p: {"count": c, "ns": n} for p, (c, n) in v.items()}
                                   for k, v in self.responses.items()},
                "batch_stats": [
                    {"batch_size": bs, "compute_input": {"count": v[0], "ns": v[1]},
                     "compute_infer": {"count": v[0], "ns": v[2]},
                     "compute_output": {"count": v[0], "ns": v[3]}}
                    for bs, v in sorted(self.batches.items())],
                "memory_usage": [],
            }
        return d


class _Entry:
    """A model of the repository and its state."""

    def __init__(self, model):
        self.model = model
        self.ready = True
        self.reason = ""
        self.stats = _Stats()
        self.files = {}


TRACE_DEFAULTS = {
    "trace_level": ["OFF"], "trace_rate": "1000", "trace_count": "-1", "log_frequency": "0",
    "trace_file": "", "trace_mode": "triton",
}
LOG_DEFAULTS = {
    "log_file": "", "log_info": True, "log_warning": True, "log_error": True,
    "log_verbose_level": 0, "log_format": "default",
}


class Server:
    def __init__(self, models=None):
        """models: names of the built-in models the repository holds (None: all of them),
        as Triton serves only what its --model-repository holds; a model left out is
        unknown, and loading it fails as loading a model absent from the repository does."""
        self._lock = threading.RLock()
        self._builtin = models_mod.builtin_models()
        if models is not None:
            unknown = sorted(set(models) - set(self._builtin))
            if unknown:
                raise ValueError("no built-in model named %s" % ", ".join(repr(n) for n in unknown))
            self._builtin = {n: m for n, m in self._builtin.items() if n in set(models)}
        self._entries = {name: _Entry(copy.deepcopy(m)) for name, m in self._builtin.items()}
        self._sequences = {}  # (model, sequence id) -> state dict
        self._seq_lock = threading.Lock()
        self.shm = SystemShm()
        self._trace = dict(TRACE_DEFAULTS)
        self._trace_models = {}
        self._log = dict(LOG_DEFAULTS)

    # ---- health and metadata ------------------------------------------------------
    def live(self):
        return True

    def ready(self):
        return True

    def _entry(self, name, version=""):
        """The ready entry of a model, or Triton's error for an unknown/unavailable one.
        The version string is read first, as Triton's fronts do before any lookup."""
        number = parse_version(version)
        with self._lock:
            e = self._entries.get(name)
        if e is None:
            raise ServerError("Request for unknown model: '%s' is not found" % name, "NOT_FOUND")
        if not e.ready:
            raise ServerError("Request for unknown model: '%s' has no available versions" % name,
                              "UNAVAILABLE")
        if number not in (-1, 1):
            raise ServerError("Request for unknown model: '%s' version %d is not found" % (name, number),
                              "NOT_FOUND")
        return e

    def model_ready(self, name, version=""):
        """Not ready (no error) for an unknown model or version, as Triton answers; a version
        string that is not a number is an error, as in Triton."""
        parse_version(version)
        try:
            self._entry(name, version)
            return True
        except ServerError:
            return False

    def server_metadata(self):
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": list(EXTENSIONS)}

    def model_metadata(self, name, version=""):
        e = self._entry(name, version)
        cfg = e.model.config
        batch = cfg.get("max_batch_size", 0) > 0

        def meta(t):
            dims = [int(d) for d in t.get("dims", [])]
            return {"name": t["name"], "datatype": tensors.PROTOCOL_TYPE.get(t.get("data_type"), "INVALID"),
                    "shape": ([-1] if batch else []) + dims}
        return {"name": name, "versions": ["1"], "platform": cfg.get("platform") or cfg.get("backend", ""),
                "inputs": [meta(t) for t in cfg.get("input", [])],
                "outputs": [meta(t) for t in cfg.get("output", [])]}

    def model_config(self, name, version=""):
        return _full_config(self._entry(name, version).model.config)

    # ---- repository -------------------------------------------------------------
    def repository_index(self, ready=False):
        with self._lock:
            out = []
            for name in sorted(self._entries):
                e = self._entries[name]
                if ready and not e.ready:
                    continue
                out.append({"name": name, "version": "1", "state": "READY" if e.ready else "UNAVAILABLE",
                            "reason": e.reason})
            return out

    def load_model(self, name, config=None, files=None):
        """Explicit model control load: (re)loads name, optionally overriding its config
        (a JSON string) and with model files (keys "file:<relative path>")."""
        files = files or {}
        for key, data in files.items():
            if not key.startswith("file:"):
                raise ServerError("failed to load '%s', unexpected parameter '%s'" % (name, key),
                                  "INVALID_ARGUMENT")
            path = key[len("file:"):]
            parts = path.split("/")
            if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ServerError("failed to load '%s', invalid file path '%s'" % (name, path),
                                  "INVALID_ARGUMENT")
            if any(len(p.encode()) > 255 for p in parts):
                # Triton fails while writing the files to its temporary repository.
                raise ServerError("failed to load '%s', failed to poll from model repository" % name,
                                  "INTERNAL")
        if files and config is None:
            raise ServerError("failed to load '%s', failed to poll from model repository: "
                              "model files were given without a config" % name, "INVALID_ARGUMENT")
        with self._lock:
            base = self._builtin.get(name)
            current = self._entries.get(name)
        if config is None:
            if base is None and current is None:
                raise ServerError("failed to load '%s', failed to poll from model repository" % name,
                                  "INVALID_ARGUMENT")
            model = copy.deepcopy(current.model if current is not None and base is None else base)
        else:
            model = self._model_from_config(name, config, base)
        entry = _Entry(model)
        entry.files = {k: len(v) for k, v in files.items()}
        with self._lock:
            self._entries[name] = entry
        self._drop_sequences(name)

    def _model_from_config(self, name, config, base):
        try:
            override = json.loads(config)
        except (TypeError, ValueError) as e:
            raise ServerError("failed to load '%s', failed to parse the config override: %s" % (name, e),
                              "INVALID_ARGUMENT")
        if not isinstance(override, dict):
            raise ServerError("failed to load '%s', the config override must be a JSON object" % name,
                              "INVALID_ARGUMENT")
        self._validate_config(name, override)
        if base is not None:
            model = copy.deepcopy(base)
            model.config.update(override)
        else:
            if not override.get("input") or not override.get("output"):
                raise ServerError("failed to load '%s', model configuration must specify inputs and outputs"
                                  % name, "INVALID_ARGUMENT")
            cfg = models_mod.config(name, override["input"], override["output"])
            cfg.update(override)
            model = models_mod.Generic(cfg)
        cfg = model.config
        cfg["name"] = name
        try:
            cfg["max_batch_size"] = int(cfg.get("max_batch_size", 0))
            for t in cfg.get("input", []) + cfg.get("output", []):
                t["dims"] = [int(d) for d in t.get("dims", [])]
                if t.get("data_type") not in tensors.PROTOCOL_TYPE:
                    raise ValueError("unsupported data_type %r for '%s'" % (t.get("data_type"), t.get("name")))
        except (TypeError, ValueError) as e:
            raise ServerError("failed to load '%s', invalid model configuration: %s" % (name, e),
                              "INVALID_ARGUMENT")
        return model

    @staticmethod
    def _validate_config(name, override):
        """Checks field names and types against ModelConfig (the JSON mapping protobuf uses)."""
        from google.protobuf import json_format

        from . import protos
        _, _, mc = protos.load()
        try:
            json_format.ParseDict(override, mc.ModelConfig())
        except json_format.ParseError as e:
            raise ServerError("failed to load '%s', invalid model configuration: %s" % (name, e),
                              "INVALID_ARGUMENT")

    def unload_model(self, name, unload_dependents=False):
        """Marks the model unavailable. There are no ensembles, so unload_dependents
        has nothing more to unload. Unknown names are not an error (as a repeated
        unload is not)."""
        with self._lock:
            e = self._entries.get(name)
            if e is not None:
                e.ready = False
                e.reason = "unloaded"
        self._drop_sequences(name)

    def _drop_sequences(self, name):
        with self._seq_lock:
            for k in [k for k in self._sequences if k[0] == name]:
                del self._sequences[k]

    # ---- statistics ---------------------------------------------------------------
    def statistics(self, name="", version=""):
        if name:
            e = self._entry(name, version)
            return {"model_stats": [e.stats.as_dict(name, "1")]}
        with self._lock:
            items = sorted((n, e) for n, e in self._entries.items() if e.ready)
        return {"model_stats": [e.stats.as_dict(n, "1") for n, e in items]}

    # ---- trace and log settings ---------------------------------------------------------
    def trace_settings(self, model=None):
        with self._lock:
            s = copy.deepcopy(self._trace)
            if model:
                self._entry(model)
                s.update(copy.deepcopy(self._trace_models.get(model, {})))
            return s

    def update_trace_settings(self, settings, model=None):
        """settings: key -> list of strings, a string, or None (None clears a per-model
        value back to the global one; globally it restores the default)."""
        if not isinstance(settings, dict):
            raise ServerError("trace settings must be an object", "INVALID_ARGUMENT")
        if model:
            self._entry(model)
        for key, value in settings.items():
            if key not in TRACE_DEFAULTS:
                raise ServerError("Unsupported trace setting: '%s'" % key, "INVALID_ARGUMENT")
            if value is not None and not isinstance(value, (str, list)):
                raise ServerError("expect string or array of strings for trace setting '%s'" % key,
                                  "INVALID_ARGUMENT")
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise ServerError("expect string or array of strings for trace setting '%s'" % key,
                                  "INVALID_ARGUMENT")
        with self._lock:
            target = self._trace_models.setdefault(model, {}) if model else self._trace
            for key, value in settings.items():
                if value is None or value == []:
                    if model:
                        target.pop(key, None)
                    else:
                        target[key] = copy.deepcopy(TRACE_DEFAULTS[key])
                elif key == "trace_level":
                    target[key] = [value] if isinstance(value, str) else list(value)
                else:
                    target[key] = value if isinstance(value, str) else (value[0] if value else "")
        return self.trace_settings(model)

    def log_settings(self):
        with self._lock:
            return dict(self._log)

    def update_log_settings(self, settings):
        if not isinstance(settings, dict):
            raise ServerError("log settings must be an object", "INVALID_ARGUMENT")
        for key, value in settings.items():
            if key not in LOG_DEFAULTS:
                raise ServerError("Unsupported log setting: '%s'" % key, "INVALID_ARGUMENT")
            want = type(LOG_DEFAULTS[key])
            ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
            if want is int and ok and value < 0:
                ok = False
            if not ok:
                raise ServerError("expect %s for log setting '%s'"
                                  % ({bool: "boolean", int: "unsigned integer", str: "string"}[want], key),
                                  "INVALID_ARGUMENT")
            if key == "log_format" and value not in ("default", "ISO8601"):
                raise ServerError("invalid log format '%s'" % value, "INVALID_ARGUMENT")
        with self._lock:
            self._log.update(settings)
            return dict(self._log)

    # ---- shared memory ------------------------------------------------------------
    @staticmethod
    def _shm_error(e):
        return ServerError(e.message, e.code)

    def shm_register(self, name, key, byte_size, offset=0):
        try:
            self.shm.register(name, key, int(byte_size), int(offset))
        except ShmError as e:
            raise self._shm_error(e)

    def shm_unregister(self, name=""):
        self.shm.unregister(name)

    def shm_status(self, name=""):
        try:
            return self.shm.status(name)
        except ShmError as e:
            raise self._shm_error(e)

    def cuda_shm_register(self, name, raw_handle=b"", device_id=0, byte_size=0):
        raise ServerError("failed to register CUDA shared memory region '%s': GPUs not supported" % name,
                          "INVALID_ARGUMENT")

    def cuda_shm_unregister(self, name=""):
        return None

    def cuda_shm_status(self, name=""):
        if name:
            raise ServerError("Unable to find cuda shared memory region: '%s'" % name, "NOT_FOUND")
        return []

    # ---- inference ------------------------------------------------------------------
    def infer(self, req, front="http", cancelled=None):
        """One request, one response. Decoupled models are refused as Triton refuses them
        outside a stream. cancelled: an optional threading.Event set when the client gives
        up (wakes a model that sleeps)."""
        entry = self._entry(req.get("model_name", ""), req.get("model_version", ""))
        if entry.model.decoupled:
            if front == "grpc":
                msg = "ModelInfer RPC doesn't support models with decoupled transaction policy"
            else:
                msg = "HTTP end point doesn't support models with decoupled transaction policy"
            # Triton's UNSUPPORTED: UNIMPLEMENTED over gRPC, 501 over HTTP.
            raise ServerError(msg, "UNIMPLEMENTED")
        resps = [resp for resp, _ in self._run(entry, req, cancelled)]
        if len(resps) != 1:
            raise ServerError("model '%s' sent %d responses" % (entry.model.name, len(resps)), "INTERNAL")
        return resps[0]

    def stream_infer(self, req, cancelled=None):
        """Responses for one streamed request as (resp or None, final) pairs: decoupled
        models give each response with final False and then (None, True)."""
        entry = self._entry(req.get("model_name", ""), req.get("model_version", ""))
        if not entry.model.decoupled:
            for resp, _ in self._run(entry, req, cancelled):
                yield resp, True
            return
        for resp, _ in self._run(entry, req, cancelled):
            yield resp, False
        yield None, True

    def _run(self, entry, req, cancelled=None):
        model = entry.model
        stats = entry.stats
        t0 = time.monotonic_ns()
        try:
            inputs, batch, ctx = self._prepare(entry, req, cancelled)
            t_input = time.monotonic_ns() - t0
            t_infer = t_output = 0
            mark = time.monotonic_ns()
            for index, outs in enumerate(model.responses(inputs, ctx)):
                t_model = time.monotonic_ns()
                resp = self._respond(model, req, outs)
                t_done = time.monotonic_ns()
                t_infer += t_model - mark
                t_output += t_done - t_model
                if model.decoupled:
                    with stats.lock:
                        r = stats.responses.setdefault(str(index), {
                            p: [0, 0] for p in ("compute_infer", "compute_output", "success", "fail",
                                                "empty_response", "cancel")})
                        for phase, ns in (("compute_infer", t_model - mark), ("compute_output", t_done - t_model),
                                          ("success", t_done - mark)):
                            r[phase][0] += 1
                            r[phase][1] += ns
                yield resp, False
                mark = time.monotonic_ns()
            t_infer += time.monotonic_ns() - mark
            with stats.lock:
                stats.last_inference = int(time.time() * 1000)
                stats.inference_count += batch
                stats.execution_count += 1
                stats.add("success", time.monotonic_ns() - t0)
                stats.add("queue", 0)
                stats.add("compute_input", t_input)
                stats.add("compute_infer", t_infer)
                stats.add("compute_output", t_output)
                b = stats.batches.setdefault(batch, [0, 0, 0, 0])
                b[0] += 1
                b[1] += t_input
                b[2] += t_infer
                b[3] += t_output
        except ServerError:
            self._fail(stats, t0)
            raise
        except (models_mod.ModelError, tensors.TensorError) as e:
            self._fail(stats, t0)
            raise ServerError(str(e), "INVALID_ARGUMENT")

    @staticmethod
    def _fail(stats, t0):
        with stats.lock:
            stats.add("fail", time.monotonic_ns() - t0)

    def _prepare(self, entry, req, cancelled):
        model = entry.model
        cfg = model.config
        name = model.name
        mbs = int(cfg.get("max_batch_size", 0))
        declared = {t["name"]: t for t in cfg.get("input", [])}
        inputs = {}
        batch = 1
        for inp in req.get("inputs", []):
            iname = inp.get("name", "")
            spec = declared.get(iname)
            if spec is None:
                raise ServerError("unexpected inference input '%s' for model '%s'" % (iname, name))
            if iname in inputs:
                raise ServerError("input '%s' already exists in request" % iname)
            want = tensors.PROTOCOL_TYPE[spec["data_type"]]
            dt = inp.get("datatype", "")
            if dt != want:
                raise ServerError("inference input '%s' data-type is '%s', but model '%s' expects '%s'"
                                  % (iname, dt, name, want))
            shape = [int(d) for d in inp.get("shape", [])]
            dims = [int(d) for d in spec.get("dims", [])]
            full = ([-1] + dims) if mbs > 0 else dims
            if not _dims_match(full, shape):
                msg = ("unexpected shape for input '%s' for model '%s'. Expected %s, got %s"
                       % (iname, name, _dims_str(full), _dims_str(shape)))
                if mbs > 0 and _dims_match(dims, shape):
                    msg += (". NOTE: Setting a non-zero max_batch_size in the model config requires a "
                            "batch dimension to be prepended to each input shape. If you want to specify "
                            "the full shape including the batch dim in your input dims config, try "
                            "setting max_batch_size to zero. See the model configuration docs for more "
                            "info on max_batch_size.")
                raise ServerError(msg)
            if mbs > 0:
                if shape[0] > mbs:
                    raise ServerError("inference request batch-size must be <= %d for '%s'" % (mbs, name))
                if inputs and shape[0] != batch:
                    raise ServerError("input '%s' batch size does not match other inputs for '%s'"
                                      % (iname, name))
                batch = shape[0]
            inputs[iname] = self._input_data(inp, dt, shape, name)
        missing = [n for n, t in declared.items() if n not in inputs and not t.get("optional")]
        if missing:
            required = [n for n, t in declared.items() if not t.get("optional")]
            raise ServerError(
                "expected %d inputs but got %d inputs for model '%s'. Got input(s) [%s], but missing "
                "required input(s) [%s]. Please provide all required input(s)."
                % (len(required), len(inputs), name, ",".join("'%s'" % n for n in inputs),
                   ",".join("'%s'" % n for n in missing)))
        outs = {t["name"] for t in cfg.get("output", [])}
        for o in req.get("outputs", []):
            if o.get("name") not in outs:
                raise ServerError("unexpected inference output '%s' for model '%s'" % (o.get("name"), name))
        params = dict(req.get("parameters") or {})
        ctx = models_mod.Context(params, cancelled)
        if "sequence_batching" in cfg:
            self._sequence(ctx, name, params)
        return inputs, (batch if mbs > 0 else 1), ctx

    def _input_data(self, inp, datatype, shape, model_name):
        p = inp.get("parameters") or {}
        region = p.get("shared_memory_region")
        if region is not None:
            size = int(p.get("shared_memory_byte_size", 0))
            offset = int(p.get("shared_memory_offset", 0))
            try:
                raw = self.shm.read(region, offset, size)
            except ShmError as e:
                raise self._shm_error(e)
            return tensors.decode_raw(datatype, shape, raw, inp.get("name", ""), model_name)
        data = inp.get("data")
        if data is None:
            raise ServerError("input '%s' has no data" % inp.get("name", ""))
        arr = np.asarray(data)
        if list(arr.shape) != list(shape):
            if arr.size != tensors.element_count(shape):
                raise ServerError("unexpected number of elements for input '%s', expecting %d, got %d"
                                  % (inp.get("name", ""), tensors.element_count(shape), arr.size))
            arr = arr.reshape(shape)
        want = tensors.NUMPY_DTYPE[datatype]
        if arr.dtype != want:
            arr = arr.astype(want)
        return arr

    def _sequence(self, ctx, model_name, params):
        sid = params.get("sequence_id", 0)
        start = bool(params.get("sequence_start", False))
        end = bool(params.get("sequence_end", False))
        if sid in (0, "", None):
            raise ServerError("inference request to model '%s' must specify a non-zero or non-empty "
                              "correlation ID" % model_name)
        key = (model_name, str(sid))
        with self._seq_lock:
            if start:
                self._sequences[key] = {}
            state = self._sequences.get(key)
            if state is None:
                raise ServerError("inference request for sequence %s to model '%s' must specify the START "
                                  "flag on the first request of the sequence" % (sid, model_name))
            if end:
                del self._sequences[key]
        ctx.sequence_id = str(sid)
        ctx.sequence_start = start
        ctx.sequence_end = end
        ctx.sequence_state = state

    def _respond(self, model, req, outs):
        cfg = model.config
        declared = [t["name"] for t in cfg.get("output", [])]
        types = {t["name"]: tensors.PROTOCOL_TYPE[t["data_type"]] for t in cfg.get("output", [])}
        mbs = int(cfg.get("max_batch_size", 0))
        requested = req.get("outputs") or [{"name": n, "parameters": {}} for n in declared if n in outs]
        result = []
        for o in requested:
            oname = o["name"]
            if oname not in outs:
                continue
            params = dict(o.get("parameters") or {})
            arr = np.asarray(outs[oname])
            datatype = types[oname]
            if arr.dtype != tensors.NUMPY_DTYPE[datatype]:
                arr = arr.astype(tensors.NUMPY_DTYPE[datatype])
            class_count = params.get("classification")
            if class_count is not None:
                arr = self._classify(model, oname, arr, datatype, int(class_count), mbs > 0)
                datatype = "BYTES"
            out = {"name": oname, "datatype": datatype, "shape": [int(d) for d in arr.shape],
                   "parameters": {}, "data": arr}
            region = params.get("shared_memory_region")
            if region is not None:
                raw = tensors.encode_raw(arr, datatype)
                cap = int(params.get("shared_memory_byte_size", 0))
                offset = int(params.get("shared_memory_offset", 0))
                if len(raw) > cap:
                    raise ServerError(
                        "shared memory size specified with the request for output '%s' (%d bytes) should "
                        "be at least %d bytes to hold the results" % (oname, cap, len(raw)))
                try:
                    self.shm.write(region, offset, raw, cap)
                except ShmError as e:
                    raise self._shm_error(e)
                out["parameters"] = {"shared_memory_region": region, "shared_memory_byte_size": len(raw)}
                if offset:
                    out["parameters"]["shared_memory_offset"] = offset
                out["data"] = None
            elif "binary_data" in params:
                out["parameters"]["binary_data"] = params["binary_data"]
            result.append(out)
        return {"model_name": model.name, "model_version": "1", "id": req.get("id", ""),
                "parameters": {}, "outputs": result}

    @staticmethod
    def _classify(model, oname, arr, datatype, class_count, batched):
        """Top class_count entries per batch row as "value:index[:label]" (value as %f)."""
        if class_count <= 0:
            raise ServerError("class count must be positive for output '%s'" % oname)
        if datatype in ("BYTES", "BOOL"):
            raise ServerError("class result not available for output '%s' due to unsupported type '%s'"
                              % (oname, datatype))
        labels = (model.labels or {}).get(oname)
        values = tensors.bf16_to_float32(arr) if datatype == "BF16" else arr
        rows = values.reshape(values.shape[0], -1) if batched else values.reshape(1, -1)
        k = min(class_count, rows.shape[1])
        out_rows = []
        for row in rows:
            order = sorted(range(len(row)), key=lambda i: (-float(row[i]), i))[:k]
            cells = []
            for i in order:
                s = "%f:%d" % (float(row[i]), i)
                if labels is not None and i < len(labels):
                    s += ":" + labels[i]
                cells.append(s.encode())
            out_rows.append(cells)
        res = np.empty((len(out_rows), k), dtype=object)
        for r, cells in enumerate(out_rows):
            res[r, :] = cells
        return res if batched else res.reshape(k)

    # ---- generate extension ---------------------------------------------------------
    def _generate_request(self, name, body):
        entry = self._entry(name)
        if not isinstance(body, dict):
            raise ServerError("generate request body must be a JSON object")
        cfg = entry.model.config
        declared = {t["name"]: t for t in cfg.get("input", [])}
        params = dict(body.get("parameters") or {})
        inputs = []
        for key, value in body.items():
            if key == "parameters":
                continue
            spec = declared.get(key)
            if spec is None:
                params.setdefault(key, value)
                continue
            dt = tensors.PROTOCOL_TYPE[spec["data_type"]]
            flat = value if isinstance(value, list) else [value]
            shape = [len(flat)]
            if int(cfg.get("max_batch_size", 0)) > 0:
                shape = [1] + shape
            try:
                arr = tensors.decode_json(dt, shape, flat, key)
            except tensors.TensorError as e:
                raise ServerError(str(e))
            inputs.append({"name": key, "datatype": dt, "shape": shape, "parameters": {}, "data": arr})
        return entry, {"model_name": name, "model_version": "", "id": str(body.get("id", "")),
                       "parameters": params, "inputs": inputs, "outputs": []}

    @staticmethod
    def _generate_output(resp):
        d = {"model_name": resp["model_name"], "model_version": resp["model_version"]}
        if resp.get("id"):
            d["id"] = resp["id"]
        for o in resp["outputs"]:
            vals = tensors.encode_json(o["data"], o["datatype"])
            d[o["name"]] = vals[0] if len(vals) == 1 else vals
        return d

    def generate(self, name, body):
        entry, req = self._generate_request(name, body)
        if entry.model.decoupled:
            parts = [self._generate_output(r) for r, _ in self.stream_infer(req) if r is not None]
            if len(parts) != 1:
                raise ServerError("generate expects model to produce exactly 1 response, got %d from "
                                  "model '%s'; use generate_stream" % (len(parts), name))
            return parts[0]
        return self._generate_output(self.infer(req))

    def generate_stream(self, name, body):
        """One dict per server-sent event: one per response of the model."""
        _, req = self._generate_request(name, body)
        return (self._generate_output(r) for r, _ in self.stream_infer(req) if r is not None)


def default_repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
