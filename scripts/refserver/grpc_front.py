"""The gRPC front: inference.GRPCInferenceService over grpcio, served from core.Server.

Handlers are registered generically (not through the generated servicer) so
that the response serializer can be bypassed for the garbage/truncate faults.
Output tensors always travel in raw_output_contents, as Triton sends them;
inputs are accepted typed (contents) or raw (raw_input_contents).
"""

import collections
import threading
import time
from concurrent import futures

import grpc
import numpy as np
from google.protobuf import json_format

from . import protos, tensors
from .core import BAD_DTYPE, ServerError, fault_of

SERVICE = "inference.GRPCInferenceService"
# Triton raises both limits to INT32_MAX so that large tensors fit in one message.
MAX_MESSAGE = 2 ** 31 - 1
WORKERS = 64

# datatype -> InferTensorContents field
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
    "FP64": "fp64_contents", "BYTES": "bytes_contents",
}

pb, _pb_grpc, mc = protos.load()


class _Fault(Exception):
    """A fault that replaces the answer of an RPC."""


def _param_value(p):
    which = p.WhichOneof("parameter_choice")
    return None if which is None else getattr(p, which)


def _params_to_dict(params):
    return {k: _param_value(v) for k, v in params.items()}


def _set_params(target, params):
    for k, v in (params or {}).items():
        if isinstance(v, bool):
            target[k].bool_param = v
        elif isinstance(v, int):
            target[k].int64_param = v
        elif isinstance(v, float):
            target[k].double_param = v
        elif v is not None:
            target[k].string_param = str(v)


def decode_request(request):
    """ModelInferRequest -> the core's neutral request dict."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) > len(request.inputs):
        raise ServerError("raw_input_contents has %d entries but the request has only %d inputs"
                          % (len(raw), len(request.inputs)))
    inputs = []
    for index, t in enumerate(request.inputs):
        params = _params_to_dict(t.parameters)
        shape = [int(d) for d in t.shape]
        entry = {"name": t.name, "datatype": t.datatype, "shape": shape, "parameters": params, "data": None}
        if t.datatype not in tensors.NUMPY_DTYPE:
            raise ServerError("invalid datatype '%s' for input '%s'" % (t.datatype, t.name))
        if any(d < 0 for d in shape):
            raise ServerError("invalid shape %s for input '%s'" % (shape, t.name))
        has_contents = t.HasField("contents")
        if "shared_memory_region" in params:
            if has_contents or (index < len(raw) and raw[index]):
                raise ServerError("input '%s' has data both in the request and in shared memory" % t.name)
        elif raw:
            if has_contents:
                raise ServerError("contents field must not be specified when using raw_input_contents for "
                                  "'%s' for model '%s'" % (t.name, request.model_name))
            if index >= len(raw):
                raise ServerError("expected %d raw_input_contents entries, got %d"
                                  % (len(request.inputs), len(raw)))
            try:
                entry["data"] = tensors.decode_raw(t.datatype, shape, raw[index], t.name, request.model_name)
            except tensors.TensorError as e:
                raise ServerError(str(e))
        else:
            field = CONTENTS_FIELD.get(t.datatype)
            if field is None:
                raise ServerError("%s input '%s' must be sent in raw_input_contents: InferTensorContents has "
                                  "no field for it" % (t.datatype, t.name))
            values = list(getattr(t.contents, field))
            count = tensors.element_count(shape)
            if len(values) != count:
                raise ServerError("unexpected number of elements %d in contents for input '%s', expecting %d"
                                  % (len(values), t.name, count))
            dtype = tensors.NUMPY_DTYPE[t.datatype]
            if t.datatype == "BYTES":
                arr = np.empty(count, dtype=object)
                arr[:] = values
            else:
                src = np.array(values, dtype=np.float64 if t.datatype.startswith("FP") else
                               (np.bool_ if t.datatype == "BOOL" else np.int64 if t.datatype != "UINT64" else np.uint64))
                arr = src.astype(dtype)
                if t.datatype not in ("BOOL", "FP32", "FP64") and not np.array_equal(arr.astype(src.dtype), src):
                    raise ServerError("contents of input '%s' do not fit %s" % (t.name, t.datatype))
            entry["data"] = arr.reshape(shape)
        inputs.append(entry)
    outputs = [{"name": o.name, "parameters": _params_to_dict(o.parameters)} for o in request.outputs]
    return {"model_name": request.model_name, "model_version": request.model_version, "id": request.id,
            "parameters": _params_to_dict(request.parameters), "inputs": inputs, "outputs": outputs}


def encode_response(resp, fault=None, final=None):
    """The core's response dict -> ModelInferResponse (data in raw_output_contents)."""
    msg = pb.ModelInferResponse(model_name=resp["model_name"], model_version=resp["model_version"],
                                id=resp.get("id", ""))
    params = dict(resp.get("parameters") or {})
    if final is not None:
        params["triton_final_response"] = final
    _set_params(msg.parameters, params)
    for o in resp.get("outputs", []):
        bad = fault == "bad-dtype" and not msg.outputs
        t = msg.outputs.add(name=o["name"], datatype=BAD_DTYPE if bad else o["datatype"],
                            shape=o["shape"])
        oparams = {k: v for k, v in (o.get("parameters") or {}).items() if k != "binary_data"}
        _set_params(t.parameters, oparams)
        raw = b"" if o.get("data") is None else tensors.encode_raw(o["data"], o["datatype"])
        if fault == "huge" and raw:
            # Declares 2^40 bytes of output: shape grows, the data stays small.
            size = tensors.element_size(o["datatype"]) or 1
            del t.shape[:]
            t.shape.extend([(1 << 40) // size])
        elif fault == "bad-binary-size" and raw:
            raw = raw[:-1]
        msg.raw_output_contents.append(raw)
    if fault == "bad-length" and len(msg.raw_output_contents) > 0:
        msg.raw_output_contents.pop()
    return msg


def _empty_final(req):
    msg = pb.ModelInferResponse(model_name=req.model_name, model_version=req.model_version or "1", id=req.id)
    msg.parameters["triton_final_response"].bool_param = True
    return msg


def _cancel_event(ctx):
    """An Event set when the RPC ends early. add_callback refuses an RPC that is
    already over (the client gone before this handler ran): that one is set now."""
    cancelled = threading.Event()
    if not ctx.add_callback(cancelled.set):
        cancelled.set()
    return cancelled


def _serialize(msg):
    if isinstance(msg, bytes):
        return msg
    return msg.SerializeToString()


GARBAGE = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0f\x07garbage"


class GrpcFront:
    def __init__(self, server):
        self.core = server
        self._once_keys = set()  # the status-once fault's keys seen so far
        self._once_lock = threading.Lock()

    # ---- plumbing -------------------------------------------------------------
    def _abort(self, context, err):
        context.abort(getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.UNKNOWN), err.message)

    def _fault(self, context):
        try:
            return fault_of(context.invocation_metadata())
        except ServerError as e:
            self._abort(context, e)

    def _unary(self, fn, infer=False):
        """Wraps fn(request, context, fault) with error mapping and the common faults."""
        def handler(request, context):
            kind, arg = self._fault(context)
            if kind == "status-once":
                # Only the first request with this key fails: a client (or gRPC's
                # own retry layer) that tries again gets an answer.
                with self._once_lock:
                    first = arg[1] not in self._once_keys
                    self._once_keys.add(arg[1])
                kind, arg = ("status", arg[0]) if first else (None, None)
            if kind == "delay":
                time.sleep(arg / 1000.0)
            elif kind == "status":
                code = next((c for c in grpc.StatusCode if c.value[0] == arg), None)
                if code is None or code == grpc.StatusCode.OK:
                    code = grpc.StatusCode.UNKNOWN
                context.abort(code, "x-fault status=%d" % arg)
            elif kind == "close":
                # gRPC has no way to drop one call's connection: the stream is reset instead
                # (the client sees CANCELLED).
                context.cancel()
                return b""
            try:
                result = fn(request, context, kind if infer else None)
            except ServerError as e:
                self._abort(context, e)
            if kind == "garbage":
                return GARBAGE
            if kind == "truncate":
                data = result.SerializeToString()
                return data[: len(data) // 2]
            return result
        return handler

    # ---- health and metadata ------------------------------------------------------
    def server_live(self, req, ctx, _):
        return pb.ServerLiveResponse(live=self.core.live())

    def server_ready(self, req, ctx, _):
        return pb.ServerReadyResponse(ready=self.core.ready())

    def model_ready(self, req, ctx, _):
        return pb.ModelReadyResponse(ready=self.core.model_ready(req.name, req.version))

    def server_metadata(self, req, ctx, _):
        return json_format.ParseDict(self.core.server_metadata(), pb.ServerMetadataResponse())

    def model_metadata(self, req, ctx, _):
        return json_format.ParseDict(self.core.model_metadata(req.name, req.version), pb.ModelMetadataResponse())

    def model_config(self, req, ctx, _):
        cfg = self.core.model_config(req.name, req.version)
        return pb.ModelConfigResponse(config=json_format.ParseDict(cfg, mc.ModelConfig()))

    def model_statistics(self, req, ctx, _):
        return json_format.ParseDict(self.core.statistics(req.name, req.version), pb.ModelStatisticsResponse())

    # ---- repository -------------------------------------------------------------
    def repository_index(self, req, ctx, _):
        return json_format.ParseDict({"models": self.core.repository_index(req.ready)},
                                     pb.RepositoryIndexResponse())

    def repository_load(self, req, ctx, _):
        config = None
        files = {}
        for k, v in req.parameters.items():
            value = v.WhichOneof("parameter_choice")
            if k == "config":
                if value != "string_param":
                    raise ServerError("failed to load '%s', parameter 'config' must be a string" % req.model_name)
                config = v.string_param
            elif k.startswith("file:"):
                if value != "bytes_param":
                    raise ServerError("failed to load '%s', file parameter '%s' must be bytes"
                                      % (req.model_name, k))
                files[k] = v.bytes_param
            else:
                raise ServerError("failed to load '%s', unexpected parameter '%s'" % (req.model_name, k))
        self.core.load_model(req.model_name, config, files)
        return pb.RepositoryModelLoadResponse()

    def repository_unload(self, req, ctx, _):
        dependents = False
        if "unload_dependents" in req.parameters:
            dependents = bool(_param_value(req.parameters["unload_dependents"]))
        self.core.unload_model(req.model_name, dependents)
        return pb.RepositoryModelUnloadResponse()

    # ---- shared memory ------------------------------------------------------------
    def shm_status(self, req, ctx, _):
        resp = pb.SystemSharedMemoryStatusResponse()
        for r in self.core.shm_status(req.name):
            resp.regions[r["name"]].CopyFrom(pb.SystemSharedMemoryStatusResponse.RegionStatus(**r))
        return resp

    def shm_register(self, req, ctx, _):
        self.core.shm_register(req.name, req.key, req.byte_size, req.offset)
        return pb.SystemSharedMemoryRegisterResponse()

    def shm_unregister(self, req, ctx, _):
        self.core.shm_unregister(req.name)
        return pb.SystemSharedMemoryUnregisterResponse()

    def cuda_status(self, req, ctx, _):
        resp = pb.CudaSharedMemoryStatusResponse()
        for r in self.core.cuda_shm_status(req.name):
            resp.regions[r["name"]].CopyFrom(pb.CudaSharedMemoryStatusResponse.RegionStatus(**r))
        return resp

    def cuda_register(self, req, ctx, _):
        self.core.cuda_shm_register(req.name, req.raw_handle, req.device_id, req.byte_size)
        return pb.CudaSharedMemoryRegisterResponse()

    def cuda_unregister(self, req, ctx, _):
        self.core.cuda_shm_unregister(req.name)
        return pb.CudaSharedMemoryUnregisterResponse()

    # ---- settings -------------------------------------------------------------------
    def trace_setting(self, req, ctx, _):
        model = req.model_name or None
        if req.settings:
            update = {k: (list(v.value) if len(v.value) else None) for k, v in req.settings.items()}
            for k, v in update.items():
                if v is not None and k != "trace_level":
                    if len(v) != 1:
                        raise ServerError("expect only 1 value for trace setting '%s'" % k)
                    update[k] = v[0]
            current = self.core.update_trace_settings(update, model)
        else:
            current = self.core.trace_settings(model)
        resp = pb.TraceSettingResponse()
        for k, v in current.items():
            resp.settings[k].value.extend(v if isinstance(v, list) else [str(v)])
        return resp

    def log_settings(self, req, ctx, _):
        if req.settings:
            current = self.core.update_log_settings(
                {k: _param_value(v) for k, v in req.settings.items()})
        else:
            current = self.core.log_settings()
        resp = pb.LogSettingsResponse()
        for k, v in current.items():
            if isinstance(v, bool):
                resp.settings[k].bool_param = v
            elif isinstance(v, int):
                resp.settings[k].uint32_param = v
            else:
                resp.settings[k].string_param = str(v)
        return resp

    # ---- inference ------------------------------------------------------------------
    def model_infer(self, req, ctx, fault):
        cancelled = _cancel_event(ctx)
        resp = self.core.infer(decode_request(req), front="grpc", cancelled=cancelled)
        return encode_response(resp, fault)

    def model_stream_infer(self, request_iterator, context):
        """Requests are read as they come; each runs in its own lane (requests of one
        sequence share a lane so they run in order); responses go out as they are ready."""
        kind, arg = self._fault(context)
        if kind == "status":
            code = next((c for c in grpc.StatusCode if c.value[0] == arg), grpc.StatusCode.UNKNOWN)
            context.abort(code if code != grpc.StatusCode.OK else grpc.StatusCode.UNKNOWN,
                          "x-fault status=%d" % arg)
        if kind == "close":
            context.cancel()
            return
        # Triton's triton_grpc_error metadata: the first error ends the stream with
        # its real status instead of travelling in-band.
        grpc_error = any(k == "triton_grpc_error" and str(v).lower() == "true"
                         for k, v in context.invocation_metadata())
        out = collections.deque()
        cond = threading.Condition()
        lanes = {}
        state = {"reading": True, "active": 0, "error": None}
        cancelled = _cancel_event(context)

        def emit(item):
            with cond:
                out.append(item)
                cond.notify()

        def run_one(req):
            try:
                params = _params_to_dict(req.parameters)
                empty_final = bool(params.get("triton_enable_empty_final_response", False))
                core_req = decode_request(req)
                for resp, final in self.core.stream_infer(core_req, cancelled):
                    if cancelled.is_set():
                        return
                    if resp is None:
                        if empty_final:
                            emit(pb.ModelStreamInferResponse(infer_response=_empty_final(req)))
                        continue
                    msg = encode_response(resp, kind, final if empty_final else None)
                    emit(pb.ModelStreamInferResponse(infer_response=msg))
            except Exception as e:  # reported in the stream, which stays open (or ends it)
                message = e.message if isinstance(e, ServerError) else "internal error: %s" % e
                if grpc_error:
                    code = e.grpc_code if isinstance(e, ServerError) else "INTERNAL"
                    with cond:
                        if state["error"] is None:
                            state["error"] = (getattr(grpc.StatusCode, code, grpc.StatusCode.INTERNAL), message)
                        cond.notify()
                    return
                emit(pb.ModelStreamInferResponse(
                    error_message=message,
                    infer_response=pb.ModelInferResponse(model_name=req.model_name,
                                                         model_version=req.model_version, id=req.id)))

        def lane_worker(key):
            while True:
                with cond:
                    queue = lanes[key]
                    if not queue:
                        del lanes[key]
                        state["active"] -= 1
                        cond.notify()
                        return
                    req = queue.popleft()
                run_one(req)

        def reader():
            n = 0
            try:
                for req in request_iterator:
                    n += 1
                    sid = _param_value(req.parameters["sequence_id"]) if "sequence_id" in req.parameters else None
                    key = ("seq", req.model_name, str(sid)) if sid not in (None, 0, "") else ("req", n)
                    with cond:
                        if key in lanes:
                            lanes[key].append(req)
                            continue
                        lanes[key] = collections.deque([req])
                        state["active"] += 1
                    threading.Thread(target=lane_worker, args=(key,), daemon=True).start()
            except Exception:  # the client went away: nothing more to read
                cancelled.set()
            finally:
                with cond:
                    state["reading"] = False
                    cond.notify()

        threading.Thread(target=reader, daemon=True).start()
        first = True
        while True:
            with cond:
                while (not out and (state["reading"] or state["active"]) and not cancelled.is_set()
                       and state["error"] is None):
                    cond.wait(0.5)
                if cancelled.is_set():
                    return
                if state["error"] is not None and not out:
                    context.abort(*state["error"])
                if not out:
                    return
                item = out.popleft()
            if kind == "delay":
                time.sleep(arg / 1000.0)
            if kind == "garbage" and first:
                yield GARBAGE
            elif kind == "truncate" and first:
                data = item.SerializeToString()
                yield data[: len(data) // 2]
            else:
                yield item
            first = False

    # ---- registration -------------------------------------------------------------
    def handler(self):
        u = grpc.unary_unary_rpc_method_handler
        table = {
            "ServerLive": (self.server_live, pb.ServerLiveRequest),
            "ServerReady": (self.server_ready, pb.ServerReadyRequest),
            "ModelReady": (self.model_ready, pb.ModelReadyRequest),
            "ServerMetadata": (self.server_metadata, pb.ServerMetadataRequest),
            "ModelMetadata": (self.model_metadata, pb.ModelMetadataRequest),
            "ModelConfig": (self.model_config, pb.ModelConfigRequest),
            "ModelStatistics": (self.model_statistics, pb.ModelStatisticsRequest),
            "RepositoryIndex": (self.repository_index, pb.RepositoryIndexRequest),
            "RepositoryModelLoad": (self.repository_load, pb.RepositoryModelLoadRequest),
            "RepositoryModelUnload": (self.repository_unload, pb.RepositoryModelUnloadRequest),
            "SystemSharedMemoryStatus": (self.shm_status, pb.SystemSharedMemoryStatusRequest),
            "SystemSharedMemoryRegister": (self.shm_register, pb.SystemSharedMemoryRegisterRequest),
            "SystemSharedMemoryUnregister": (self.shm_unregister, pb.SystemSharedMemoryUnregisterRequest),
            "CudaSharedMemoryStatus": (self.cuda_status, pb.CudaSharedMemoryStatusRequest),
            "CudaSharedMemoryRegister": (self.cuda_register, pb.CudaSharedMemoryRegisterRequest),
            "CudaSharedMemoryUnregister": (self.cuda_unregister, pb.CudaSharedMemoryUnregisterRequest),
            "TraceSetting": (self.trace_setting, pb.TraceSettingRequest),
            "LogSettings": (self.log_settings, pb.LogSettingsRequest),
        }
        handlers = {name: u(self._unary(fn), request_deserializer=cls.FromString, response_serializer=_serialize)
                    for name, (fn, cls) in table.items()}
        handlers["ModelInfer"] = u(self._unary(self.model_infer, infer=True),
                                   request_deserializer=pb.ModelInferRequest.FromString,
                                   response_serializer=_serialize)
        handlers["ModelStreamInfer"] = grpc.stream_stream_rpc_method_handler(
            self.model_stream_infer, request_deserializer=pb.ModelInferRequest.FromString,
            response_serializer=_serialize)
        return grpc.method_handlers_generic_handler(SERVICE, handlers)


def serve_grpc(server, host, port, tls=None):
    """Starts the gRPC front; returns (grpc_server, bound_port). tls: (cert_pem, key_pem,
    cert_file, key_file, client_ca_pem or None, ...); with a client CA, a client certificate
    signed by it is required."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE),
               ("grpc.max_send_message_length", MAX_MESSAGE),
               ("grpc.so_reuseport", 0)]
    gs = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="refserver-grpc"),
                     options=options)
    gs.add_generic_rpc_handlers((GrpcFront(server).handler(),))
    address = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    if tls is not None:
        client_ca = tls[4] if len(tls) > 4 else None
        creds = grpc.ssl_server_credentials([(tls[1], tls[0])], root_certificates=client_ca,
                                            require_client_auth=client_ca is not None)
        bound = gs.add_secure_port(address, creds)
    else:
        bound = gs.add_insecure_port(address)
    if not bound:
        raise RuntimeError("cannot bind gRPC to %s" % address)
    gs.start()
    return gs, bound
