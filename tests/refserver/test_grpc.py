"""The reference server over gRPC, with stubs generated from the project's proto/.

Run: PYTHONPATH=scripts:tests/refserver /usr/bin/python3 -m unittest -v test_grpc
"""

import json
import mmap
import os
import queue
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

import grpc
import numpy as np
from google.protobuf import json_format

from harness import TESTSERVER, RefServer, make_cert
from refserver import protos, tensors

pb, pb_grpc, mc = protos.load()


def stub_for(srv):
    opts = [("grpc.max_receive_message_length", 2 ** 31 - 1), ("grpc.max_send_message_length", 2 ** 31 - 1)]
    channel = grpc.insecure_channel(srv.grpc_address, options=opts)
    return channel, pb_grpc.GRPCInferenceServiceStub(channel)


def add_input(req, name, datatype, arr, raw=True):
    t = req.inputs.add(name=name, datatype=datatype, shape=list(arr.shape))
    if raw:
        req.raw_input_contents.append(tensors.encode_raw(arr, datatype))
    else:
        field = {"INT32": "int_contents", "INT8": "int_contents", "BYTES": "bytes_contents",
                 "FP32": "fp32_contents", "UINT32": "uint_contents", "BOOL": "bool_contents"}[datatype]
        getattr(t.contents, field).extend(arr.ravel().tolist())
    return t


def output(resp, name):
    for i, o in enumerate(resp.outputs):
        if o.name == name:
            return tensors.decode_raw(o.datatype, list(o.shape), resp.raw_output_contents[i])
    raise KeyError(name)


def simple_request(model="simple", datatype="INT32", a=None, b=None, raw=True, rid=""):
    a = np.arange(16, dtype=np.int32).reshape(1, 16) if a is None else a
    b = np.ones((1, 16), dtype=np.int32) if b is None else b
    req = pb.ModelInferRequest(model_name=model, id=rid)
    add_input(req, "INPUT0", datatype, a.astype(tensors.NUMPY_DTYPE[datatype]), raw)
    add_input(req, "INPUT1", datatype, b.astype(tensors.NUMPY_DTYPE[datatype]), raw)
    return req


def seq_request(model, value, sid, start, end, rid=""):
    req = pb.ModelInferRequest(model_name=model, id=rid)
    add_input(req, "INPUT", "INT32", np.full((1, 1), value, dtype=np.int32))
    if isinstance(sid, str):
        req.parameters["sequence_id"].string_param = sid
    else:
        req.parameters["sequence_id"].int64_param = sid
    req.parameters["sequence_start"].bool_param = start
    req.parameters["sequence_end"].bool_param = end
    return req


def repeat_request(values, delay_ms=0, wait_ms=0, empty_final=True, rid=""):
    req = pb.ModelInferRequest(model_name="repeat_int32", id=rid)
    add_input(req, "IN", "INT32", np.array(values, dtype=np.int32))
    add_input(req, "DELAY", "UINT32", np.full(len(values), delay_ms, dtype=np.uint32))
    add_input(req, "WAIT", "UINT32", np.array([wait_ms], dtype=np.uint32))
    if empty_final:
        req.parameters["triton_enable_empty_final_response"].bool_param = True
    return req


VALUES = [11, 7, 5, 3, 2, 0, 1]


def expected_sequences(dyna, sid0, sid1, ssid, string_results):
    """What Triton's simple_grpc_sequence_*_infer_client.py examples assert."""
    out = []
    for i in range(len(VALUES) + 1):
        e0 = 1 if i == 0 else VALUES[i - 1]
        e1 = 101 if i == 0 else -VALUES[i - 1]
        if i == 0:
            es = 20 if dyna else 21
        elif dyna:
            es = -VALUES[i - 1] + string_results[i - 1]
        else:
            es = -VALUES[i - 1]
        if dyna and i != 0 and VALUES[i - 1] == 1:
            e0 += sid0
            e1 += sid1
            es += int(ssid)
        out.append((e0, e1, es))
    return out


class GrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = RefServer().start()
        cls.channel, cls.stub = stub_for(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.rc = cls.srv.stop()

    def assertRpcError(self, code, fn, *args, contains=None, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        if contains:
            self.assertIn(contains, cm.exception.details())
        return cm.exception

    # ---- health, metadata, config ----------------------------------------------------
    def test_health(self):
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest()).live)
        self.assertTrue(self.stub.ServerReady(pb.ServerReadyRequest()).ready)
        self.assertTrue(self.stub.ModelReady(pb.ModelReadyRequest(name="simple")).ready)
        self.assertTrue(self.stub.ModelReady(pb.ModelReadyRequest(name="simple", version="1")).ready)
        self.assertFalse(self.stub.ModelReady(pb.ModelReadyRequest(name="simple", version="2")).ready)
        self.assertFalse(self.stub.ModelReady(pb.ModelReadyRequest(name="no_such_model")).ready)

    def test_model_version_strings(self):
        # Triton reads the version with std::stol before any lookup: grpc_explicit_int8_content_client.py
        # sends "wrong_specification" and expects this wording.
        req = simple_request()
        req.model_version = "wrong_specification"
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, req,
                            contains="failed to get model version from specified version string "
                                     "'wrong_specification' (details: stol), version should be an "
                                     "integral value > 0")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelMetadata,
                            pb.ModelMetadataRequest(name="no_such_model", version="x"),
                            contains="failed to get model version from specified version string 'x'")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelReady,
                            pb.ModelReadyRequest(name="simple", version="x"))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelConfig,
                            pb.ModelConfigRequest(name="simple", version="99999999999999999999"),
                            contains="(details: stol)")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelStatistics,
                            pb.ModelStatisticsRequest(name="simple", version="-1"),
                            contains="invalid model version specified '-1' , version should be an "
                                     "integral value > 0")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.ModelMetadata,
                            pb.ModelMetadataRequest(name="simple", version="02"),
                            contains="Request for unknown model: 'simple' version 2 is not found")
        for same in ("01", " 1", "+1", "1x"):
            req.model_version = same
            self.assertEqual(self.stub.ModelInfer(req).model_version, "1", same)
            self.assertTrue(self.stub.ModelReady(pb.ModelReadyRequest(name="simple", version=same)).ready)

    def test_server_metadata(self):
        md = self.stub.ServerMetadata(pb.ServerMetadataRequest())
        self.assertEqual(md.name, "triton")
        for ext in ("classification", "sequence", "model_repository", "system_shared_memory",
                    "cuda_shared_memory", "binary_tensor_data", "statistics", "trace", "logging"):
            self.assertIn(ext, md.extensions)

    def test_model_metadata(self):
        md = self.stub.ModelMetadata(pb.ModelMetadataRequest(name="simple"))
        self.assertEqual(md.name, "simple")
        self.assertEqual(list(md.versions), ["1"])
        self.assertEqual([(t.name, t.datatype, list(t.shape)) for t in md.inputs],
                         [("INPUT0", "INT32", [-1, 16]), ("INPUT1", "INT32", [-1, 16])])
        self.assertEqual([t.name for t in md.outputs], ["OUTPUT0", "OUTPUT1"])
        md = self.stub.ModelMetadata(pb.ModelMetadataRequest(name="identity_fp32"))
        self.assertEqual(list(md.inputs[0].shape), [-1])
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.ModelMetadata,
                            pb.ModelMetadataRequest(name="wrong_model"),
                            contains="Request for unknown model: 'wrong_model' is not found")

    def test_model_config_matches_http(self):
        cfg = self.stub.ModelConfig(pb.ModelConfigRequest(name="simple")).config
        self.assertEqual(cfg.name, "simple")
        self.assertEqual(cfg.max_batch_size, 8)
        self.assertEqual(cfg.input[0].data_type, mc.TYPE_INT32)
        self.assertEqual(list(cfg.input[0].dims), [16])
        with urllib.request.urlopen(self.srv.http_base + "/v2/models/simple/config", timeout=10) as r:
            http_cfg = json.loads(r.read())
        from_http = json_format.ParseDict(http_cfg, mc.ModelConfig())
        self.assertEqual(from_http, cfg)
        seq = self.stub.ModelConfig(pb.ModelConfigRequest(name="simple_sequence")).config
        self.assertTrue(seq.HasField("sequence_batching"))
        rep = self.stub.ModelConfig(pb.ModelConfigRequest(name="repeat_int32")).config
        self.assertTrue(rep.model_transaction_policy.decoupled)
        cls = self.stub.ModelConfig(pb.ModelConfigRequest(name="classifier")).config
        self.assertEqual(cls.output[0].label_filename, "labels.txt")

    # ---- inference ---------------------------------------------------------------
    def test_simple_raw_and_typed(self):
        for raw in (True, False):
            resp = self.stub.ModelInfer(simple_request(raw=raw, rid="req-1"))
            self.assertEqual(resp.id, "req-1")
            self.assertEqual(resp.model_name, "simple")
            self.assertEqual(resp.model_version, "1")
            np.testing.assert_array_equal(output(resp, "OUTPUT0"), np.arange(16).reshape(1, 16) + 1)
            np.testing.assert_array_equal(output(resp, "OUTPUT1"), np.arange(16).reshape(1, 16) - 1)

    def test_simple_batch_and_requested_outputs(self):
        a = np.arange(48, dtype=np.int32).reshape(3, 16)
        req = simple_request(a=a, b=a)
        req.outputs.add(name="OUTPUT1")
        resp = self.stub.ModelInfer(req)
        self.assertEqual([o.name for o in resp.outputs], ["OUTPUT1"])
        self.assertEqual(list(resp.outputs[0].shape), [3, 16])
        np.testing.assert_array_equal(output(resp, "OUTPUT1"), np.zeros((3, 16)))

    def test_simple_int8_wraps(self):
        a = np.full((1, 16), 127, dtype=np.int8)
        b = np.full((1, 16), -128, dtype=np.int8)
        resp = self.stub.ModelInfer(simple_request("simple_int8", "INT8", a, b, raw=False))
        np.testing.assert_array_equal(output(resp, "OUTPUT0"), np.full((1, 16), -1, np.int8))
        np.testing.assert_array_equal(output(resp, "OUTPUT1"), np.full((1, 16), -1, np.int8))

    def test_simple_string(self):
        a = np.array([str(i).encode() for i in range(16)], dtype=object).reshape(1, 16)
        b = np.array([b"1"] * 16, dtype=object).reshape(1, 16)
        for raw in (True, False):
            resp = self.stub.ModelInfer(simple_request("simple_string", "BYTES", a, b, raw=raw))
            self.assertEqual(output(resp, "OUTPUT0").ravel().tolist(), [str(i + 1).encode() for i in range(16)])
            self.assertEqual(output(resp, "OUTPUT1").ravel().tolist(), [str(i - 1).encode() for i in range(16)])

    def test_simple_identity_bytes(self):
        data = np.array([[b"hello", b"\x00\xffbinary", b""]], dtype=object)
        req = pb.ModelInferRequest(model_name="simple_identity")
        add_input(req, "INPUT0", "BYTES", data)
        resp = self.stub.ModelInfer(req)
        self.assertEqual(list(resp.outputs[0].shape), [1, 3])
        self.assertEqual(output(resp, "OUTPUT0").tolist(), data.tolist())

    def test_identity_every_dtype(self):
        rng = np.random.default_rng(1)
        for dt in tensors.DATATYPES:
            with self.subTest(datatype=dt):
                if dt == "BYTES":
                    arr = np.array([b"a", b"bc", b""], dtype=object)
                elif dt == "BOOL":
                    arr = np.array([True, False, True])
                elif dt.startswith("FP"):
                    arr = rng.standard_normal(7).astype(tensors.NUMPY_DTYPE[dt])
                else:
                    info = np.iinfo(tensors.NUMPY_DTYPE[dt])
                    arr = np.array([info.min, 0, info.max], dtype=tensors.NUMPY_DTYPE[dt])
                req = pb.ModelInferRequest(model_name="identity_" + dt.lower())
                add_input(req, "INPUT0", dt, arr)
                resp = self.stub.ModelInfer(req)
                self.assertEqual(resp.outputs[0].datatype, dt)
                self.assertEqual(resp.raw_output_contents[0], req.raw_input_contents[0])

    def test_fp16_typed_contents_refused(self):
        req = pb.ModelInferRequest(model_name="identity_fp16")
        req.inputs.add(name="INPUT0", datatype="FP16", shape=[1]).contents.fp32_contents.append(1.0)
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, req,
                            contains="raw_input_contents")

    def test_identity_fp32_64mib(self):
        arr = np.arange(16 * 1024 * 1024, dtype=np.float32)
        req = pb.ModelInferRequest(model_name="identity_fp32")
        add_input(req, "INPUT0", "FP32", arr)
        resp = self.stub.ModelInfer(req, timeout=120)
        self.assertEqual(len(resp.raw_output_contents[0]), 64 * 1024 * 1024)
        self.assertEqual(resp.raw_output_contents[0], req.raw_input_contents[0])

    def test_custom_identity_int32(self):
        req = pb.ModelInferRequest(model_name="custom_identity_int32")
        add_input(req, "INPUT0", "INT32", np.arange(10, dtype=np.int32).reshape(2, 5))
        resp = self.stub.ModelInfer(req)
        np.testing.assert_array_equal(output(resp, "OUTPUT0"), np.arange(10).reshape(2, 5))

    def test_classifier(self):
        scores = np.array([[0.1, 0.9, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]], dtype=np.float32)
        req = pb.ModelInferRequest(model_name="classifier")
        add_input(req, "INPUT0", "FP32", scores)
        req.outputs.add(name="OUTPUT0").parameters["classification"].int64_param = 3
        resp = self.stub.ModelInfer(req)
        self.assertEqual(resp.outputs[0].datatype, "BYTES")
        self.assertEqual(list(resp.outputs[0].shape), [1, 3])
        self.assertEqual(output(resp, "OUTPUT0").ravel().tolist(),
                         [b"0.900000:1:one", b"0.500000:9:nine", b"0.300000:2:two"])

    def test_echo_llm(self):
        # Decoupled, as LLM backends are: ModelInfer refuses it; over a stream it sends
        # the whole text in one response, or one response per word with `stream` true.
        def request(stream=None):
            req = pb.ModelInferRequest(model_name="echo_llm")
            add_input(req, "text_input", "BYTES", np.array([b"the quick brown fox"], dtype=object))
            add_input(req, "max_tokens", "INT32", np.array([3], dtype=np.int32))
            if stream is not None:
                add_input(req, "stream", "BOOL", np.array([stream], dtype=bool))
            return req

        self.assertRpcError(grpc.StatusCode.UNIMPLEMENTED, self.stub.ModelInfer, request(),
                            contains="ModelInfer RPC doesn't support models with decoupled")
        for stream, pieces in ((None, [b"the quick brown"]), (False, [b"the quick brown"]),
                               (True, [b"the", b" quick", b" brown"])):
            msgs = list(self.stub.ModelStreamInfer(iter([request(stream)]), timeout=10))
            self.assertEqual([m.error_message for m in msgs], [""] * len(msgs))
            texts = [output(m.infer_response, "text_output").tolist()[0]
                     for m in msgs if m.infer_response.outputs]
            self.assertEqual(texts, pieces)

    def test_slow_does_not_block_others(self):
        # Order, not speed: a request made while slow sleeps a minute completes
        # before it; cancelling slow then wakes it.
        req = pb.ModelInferRequest(model_name="slow")
        add_input(req, "INPUT0", "INT32", np.array([60000], dtype=np.int32))
        fut = self.stub.ModelInfer.future(req)
        time.sleep(0.1)  # lets slow start first; later only weakens the test
        self.stub.ModelInfer(simple_request())
        self.assertFalse(fut.done())
        fut.cancel()
        with self.assertRaises(grpc.FutureCancelledError):
            fut.result(timeout=10)

    def test_slow_deadline(self):
        req = pb.ModelInferRequest(model_name="slow")
        add_input(req, "INPUT0", "INT32", np.array([600000], dtype=np.int32))
        before = self.stub.ModelStatistics(pb.ModelStatisticsRequest(name="slow")).model_stats[0]
        t0 = time.monotonic()
        self.assertRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, self.stub.ModelInfer, req, timeout=0.2)
        # the model wakes when the call is cancelled: it would sleep ten minutes
        # otherwise (the bound only keeps a broken server from hanging the test)
        while time.monotonic() - t0 < 60:
            after = self.stub.ModelStatistics(pb.ModelStatisticsRequest(name="slow")).model_stats[0]
            if after.execution_count > before.execution_count:
                break
            time.sleep(0.05)
        self.assertGreater(after.execution_count, before.execution_count)

    def test_infer_errors(self):
        bad = simple_request()
        bad.inputs[0].name = "INPUTX"
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="unexpected inference input 'INPUTX' for model 'simple'")
        bad = simple_request()
        bad.inputs[1].datatype = "FP32"
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="inference input 'INPUT1' data-type is 'FP32', but model 'simple' "
                                     "expects 'INT32'")
        bad = simple_request(a=np.zeros((2, 8), np.int32), b=np.zeros((2, 8), np.int32))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="unexpected shape for input 'INPUT0' for model 'simple'. "
                                     "Expected [-1,16], got [2,8]")
        bad = simple_request()
        del bad.inputs[1]
        del bad.raw_input_contents[1]
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) "
                                     "['INPUT0'], but missing required input(s) ['INPUT1']")
        big = np.zeros((9, 16), np.int32)
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer,
                            simple_request(a=big, b=big), contains="batch-size must be <= 8")
        bad = simple_request()
        bad.outputs.add(name="OUTPUT9")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="unexpected inference output 'OUTPUT9' for model 'simple'")
        bad = simple_request()
        bad.raw_input_contents[0] = bad.raw_input_contents[0][:-4]
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, bad,
                            contains="unexpected total byte size 60 for input 'INPUT0', expecting 64")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.ModelInfer,
                            simple_request(model="nope"), contains="Request for unknown model: 'nope'")
        self.assertRpcError(grpc.StatusCode.UNIMPLEMENTED, self.stub.ModelInfer, repeat_request([1]),
                            contains="doesn't support models with decoupled transaction policy")

    # ---- sequences -------------------------------------------------------------------
    def _sequence_sync(self, dyna, offset):
        model = "simple_dyna_sequence" if dyna else "simple_sequence"
        smodel = "simple_string_dyna_sequence" if dyna else "simple_sequence"
        sid0, sid1 = 1000 + offset, 1001 + offset
        ssid = str(1002 + offset) if dyna else str(uuid.uuid4())
        results = []
        for model_name, sid, values in ((model, sid0, [0] + VALUES), (model, sid1, [100] + [-v for v in VALUES]),
                                        (smodel, ssid, [20] + [-v for v in VALUES])):
            got = []
            for i, v in enumerate(values):
                rid = "%s_%d" % (sid, i)
                resp = self.stub.ModelInfer(seq_request(model_name, v, sid, i == 0, i == len(values) - 1, rid))
                self.assertEqual(resp.id, rid)
                got.append(int(output(resp, "OUTPUT")[0][0]))
            results.append(got)
        expected = expected_sequences(dyna, sid0, sid1, ssid, results[2])
        self.assertEqual(list(zip(*results)), expected)

    def test_sequence_examples_sync(self):
        self._sequence_sync(False, 0)
        self._sequence_sync(True, 10)

    def test_sequence_examples_stream(self):
        for dyna, offset in ((False, 20), (True, 30)):
            model = "simple_dyna_sequence" if dyna else "simple_sequence"
            smodel = "simple_string_dyna_sequence" if dyna else "simple_sequence"
            sid0, sid1 = 1000 + offset, 1001 + offset
            ssid = str(1002 + offset) if dyna else str(uuid.uuid4())
            reqs = []
            for model_name, sid, values in ((model, sid0, [0] + VALUES),
                                            (model, sid1, [100] + [-v for v in VALUES]),
                                            (smodel, ssid, [20] + [-v for v in VALUES])):
                for i, v in enumerate(values):
                    reqs.append(seq_request(model_name, v, sid, i == 0, i == len(values) - 1,
                                            "%s_%d" % (sid, i)))
            results = {str(sid0): [], str(sid1): [], ssid: []}
            for msg in self.stub.ModelStreamInfer(iter(reqs), timeout=30):
                self.assertEqual(msg.error_message, "")
                this_id = msg.infer_response.id.rsplit("_", 1)[0]
                results[this_id].append(int(output(msg.infer_response, "OUTPUT")[0][0]))
            expected = expected_sequences(dyna, sid0, sid1, ssid, results[ssid])
            self.assertEqual(list(zip(results[str(sid0)], results[str(sid1)], results[ssid])), expected)

    def test_sequence_errors(self):
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer,
                            seq_request("simple_sequence", 1, 4242, False, False),
                            contains="must specify the START flag on the first request of the sequence")
        req = pb.ModelInferRequest(model_name="simple_sequence")
        add_input(req, "INPUT", "INT32", np.ones((1, 1), np.int32))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, req,
                            contains="correlation ID")
        # an ended sequence needs a new START
        self.stub.ModelInfer(seq_request("simple_sequence", 1, 4343, True, True))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer,
                            seq_request("simple_sequence", 1, 4343, False, False))

    # ---- streaming -----------------------------------------------------------------
    def test_repeat_decoupled(self):
        msgs = list(self.stub.ModelStreamInfer(iter([repeat_request([100, 101, 102], 10, 10, rid="r")]),
                                               timeout=10))
        self.assertEqual(len(msgs), 4)
        for i, m in enumerate(msgs[:3]):
            self.assertEqual(m.error_message, "")
            self.assertEqual(m.infer_response.id, "r")
            self.assertEqual(output(m.infer_response, "OUT").tolist(), [100 + i])
            self.assertEqual(output(m.infer_response, "IDX").tolist(), [i])
            self.assertFalse(m.infer_response.parameters["triton_final_response"].bool_param)
        final = msgs[3].infer_response
        self.assertTrue(final.parameters["triton_final_response"].bool_param)
        self.assertEqual(len(final.outputs), 0)
        self.assertEqual(final.id, "r")
        # without triton_enable_empty_final_response: the responses only, no flags
        msgs = list(self.stub.ModelStreamInfer(iter([repeat_request([5, 6], empty_final=False)]), timeout=10))
        self.assertEqual([output(m.infer_response, "OUT").tolist() for m in msgs], [[5], [6]])
        self.assertNotIn("triton_final_response", msgs[0].infer_response.parameters)
        # an empty IN gives just the final flag
        msgs = list(self.stub.ModelStreamInfer(iter([repeat_request([])]), timeout=10))
        self.assertEqual(len(msgs), 1)
        self.assertTrue(msgs[0].infer_response.parameters["triton_final_response"].bool_param)

    def test_stream_error_keeps_stream_open(self):
        bad = simple_request()
        bad.inputs[0].name = "INPUTX"
        bad.id = "bad"
        good = simple_request(rid="good")
        msgs = list(self.stub.ModelStreamInfer(iter([bad, good]), timeout=10))
        self.assertEqual(len(msgs), 2)
        errors = [m for m in msgs if m.error_message]
        self.assertEqual(len(errors), 1)
        self.assertIn("unexpected inference input 'INPUTX'", errors[0].error_message)
        ok = [m for m in msgs if not m.error_message][0]
        self.assertEqual(ok.infer_response.id, "good")

    def test_stream_interleaves_slow_requests(self):
        slow = pb.ModelInferRequest(model_name="slow", id="slow")
        add_input(slow, "INPUT0", "INT32", np.array([800], dtype=np.int32))
        fast = simple_request(rid="fast")
        ids = [m.infer_response.id for m in self.stub.ModelStreamInfer(iter([slow, fast]), timeout=10)]
        self.assertEqual(ids, ["fast", "slow"])

    def test_stream_cancel(self):
        q = queue.Queue()
        call = self.stub.ModelStreamInfer(iter(q.get, None), timeout=10)
        q.put(repeat_request(list(range(50)), delay_ms=50))
        first = next(call)
        self.assertEqual(output(first.infer_response, "OUT").tolist(), [0])
        call.cancel()
        q.put(None)
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in call:
                pass
        self.assertEqual(cm.exception.code(), grpc.StatusCode.CANCELLED)
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest()).live)

    # ---- statistics, settings ----------------------------------------------------------
    def test_statistics(self):
        def stats():
            return self.stub.ModelStatistics(pb.ModelStatisticsRequest(name="simple_int8")).model_stats[0]
        before = stats()
        a = np.zeros((2, 16), np.int8)
        self.stub.ModelInfer(simple_request("simple_int8", "INT8", a, a))
        bad = simple_request("simple_int8", "INT8")
        bad.inputs[0].name = "X"
        with self.assertRaises(grpc.RpcError):
            self.stub.ModelInfer(bad)
        after = stats()
        self.assertEqual(after.name, "simple_int8")
        self.assertEqual(after.version, "1")
        self.assertEqual(after.inference_count - before.inference_count, 2)
        self.assertEqual(after.execution_count - before.execution_count, 1)
        self.assertEqual(after.inference_stats.success.count - before.inference_stats.success.count, 1)
        self.assertEqual(after.inference_stats.fail.count - before.inference_stats.fail.count, 1)
        self.assertGreater(after.inference_stats.success.ns, before.inference_stats.success.ns)
        self.assertGreater(after.last_inference, 0)
        self.assertIn(2, [b.batch_size for b in after.batch_stats])
        everything = self.stub.ModelStatistics(pb.ModelStatisticsRequest())
        self.assertIn("simple", [s.name for s in everything.model_stats])
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.ModelStatistics,
                            pb.ModelStatisticsRequest(name="nope"))

    def test_decoupled_response_statistics(self):
        list(self.stub.ModelStreamInfer(iter([repeat_request([1, 2])]), timeout=10))
        s = self.stub.ModelStatistics(pb.ModelStatisticsRequest(name="repeat_int32")).model_stats[0]
        self.assertGreaterEqual(s.response_stats["0"].success.count, 1)
        self.assertGreaterEqual(s.response_stats["1"].success.count, 1)

    def test_trace_settings(self):
        current = self.stub.TraceSetting(pb.TraceSettingRequest())
        self.assertEqual(list(current.settings["trace_level"].value), ["OFF"])
        self.assertEqual(list(current.settings["trace_rate"].value), ["1000"])
        req = pb.TraceSettingRequest(model_name="simple")
        req.settings["trace_level"].value.extend(["TIMESTAMPS", "TENSORS"])
        req.settings["trace_rate"].value.append("5")
        updated = self.stub.TraceSetting(req)
        self.assertEqual(list(updated.settings["trace_level"].value), ["TIMESTAMPS", "TENSORS"])
        self.assertEqual(list(updated.settings["trace_rate"].value), ["5"])
        self.assertEqual(list(self.stub.TraceSetting(pb.TraceSettingRequest()).settings["trace_rate"].value),
                         ["1000"])
        clear = pb.TraceSettingRequest(model_name="simple")
        clear.settings["trace_rate"].SetInParent()
        self.assertEqual(list(self.stub.TraceSetting(clear).settings["trace_rate"].value), ["1000"])
        bad = pb.TraceSettingRequest()
        bad.settings["no_such_setting"].value.append("1")
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.TraceSetting, bad)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.TraceSetting,
                            pb.TraceSettingRequest(model_name="nope"))

    def test_log_settings(self):
        current = self.stub.LogSettings(pb.LogSettingsRequest())
        self.assertTrue(current.settings["log_info"].bool_param)
        self.assertEqual(current.settings["log_format"].string_param, "default")
        req = pb.LogSettingsRequest()
        req.settings["log_verbose_level"].uint32_param = 2
        req.settings["log_info"].bool_param = False
        updated = self.stub.LogSettings(req)
        self.assertEqual(updated.settings["log_verbose_level"].uint32_param, 2)
        self.assertFalse(updated.settings["log_info"].bool_param)
        bad = pb.LogSettingsRequest()
        bad.settings["log_info"].string_param = "yes"
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.LogSettings, bad)

    # ---- shared memory -------------------------------------------------------------
    def test_system_shared_memory(self):
        key = "/refserver_test_%d" % os.getpid()
        path = "/dev/shm" + key
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, 256)
            mem = mmap.mmap(fd, 256)
            a = np.arange(16, dtype=np.int32)
            mem[0:64] = a.tobytes()
            mem[64:128] = np.full(16, 2, np.int32).tobytes()
            self.stub.SystemSharedMemoryRegister(pb.SystemSharedMemoryRegisterRequest(
                name="in", key=key, offset=0, byte_size=128))
            self.stub.SystemSharedMemoryRegister(pb.SystemSharedMemoryRegisterRequest(
                name="out", key=key, offset=128, byte_size=128))
            self.assertRpcError(grpc.StatusCode.ALREADY_EXISTS, self.stub.SystemSharedMemoryRegister,
                                pb.SystemSharedMemoryRegisterRequest(name="in", key=key, byte_size=8),
                                contains="already in use")
            status = self.stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest())
            self.assertEqual(status.regions["out"].offset, 128)
            self.assertEqual(status.regions["out"].key, key)
            one = self.stub.SystemSharedMemoryStatus(pb.SystemSharedMemoryStatusRequest(name="in"))
            self.assertEqual(list(one.regions), ["in"])

            req = pb.ModelInferRequest(model_name="simple")
            for i, n in enumerate(("INPUT0", "INPUT1")):
                t = req.inputs.add(name=n, datatype="INT32", shape=[1, 16])
                t.parameters["shared_memory_region"].string_param = "in"
                t.parameters["shared_memory_byte_size"].int64_param = 64
                t.parameters["shared_memory_offset"].int64_param = 64 * i
            for i, n in enumerate(("OUTPUT0", "OUTPUT1")):
                o = req.outputs.add(name=n)
                o.parameters["shared_memory_region"].string_param = "out"
                o.parameters["shared_memory_byte_size"].int64_param = 64
                o.parameters["shared_memory_offset"].int64_param = 64 * i
            resp = self.stub.ModelInfer(req)
            self.assertEqual(resp.outputs[0].parameters["shared_memory_region"].string_param, "out")
            self.assertEqual(resp.outputs[0].parameters["shared_memory_byte_size"].int64_param, 64)
            np.testing.assert_array_equal(np.frombuffer(mem[128:192], np.int32), a + 2)
            np.testing.assert_array_equal(np.frombuffer(mem[192:256], np.int32), a - 2)

            small = pb.ModelInferRequest()
            small.CopyFrom(req)
            small.outputs[0].parameters["shared_memory_byte_size"].int64_param = 4
            self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, small,
                                contains="should be at least 64 bytes")

            self.stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest(name="in"))
            self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.stub.SystemSharedMemoryStatus,
                                pb.SystemSharedMemoryStatusRequest(name="in"))
            self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, req,
                                contains="Unable to find shared memory region: 'in'")
            self.stub.SystemSharedMemoryUnregister(pb.SystemSharedMemoryUnregisterRequest())
            self.assertEqual(len(self.stub.SystemSharedMemoryStatus(
                pb.SystemSharedMemoryStatusRequest()).regions), 0)
            self.assertRpcError(grpc.StatusCode.INTERNAL, self.stub.SystemSharedMemoryRegister,
                                pb.SystemSharedMemoryRegisterRequest(name="x", key="/no_such_shm_xyz",
                                                                     byte_size=8),
                                contains="Unable to open shared memory region: '/no_such_shm_xyz'")
            mem.close()
        finally:
            os.close(fd)
            os.unlink(path)

    def test_cuda_shared_memory(self):
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.CudaSharedMemoryRegister,
                            pb.CudaSharedMemoryRegisterRequest(name="c", raw_handle=b"x", byte_size=8),
                            contains="GPUs not supported")
        self.assertEqual(len(self.stub.CudaSharedMemoryStatus(pb.CudaSharedMemoryStatusRequest()).regions), 0)
        self.stub.CudaSharedMemoryUnregister(pb.CudaSharedMemoryUnregisterRequest())

    # ---- faults -----------------------------------------------------------------
    def test_fault_delay_and_status(self):
        t0 = time.monotonic()
        self.stub.ModelInfer(simple_request(), metadata=[("x-fault", "delay=300")])
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, self.stub.ModelInfer, simple_request(),
                            metadata=[("x-fault", "status=14")], contains="x-fault status=14")
        self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, self.stub.ServerLive, pb.ServerLiveRequest(),
                            metadata=[("x-fault", "status=8")])
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.stub.ModelInfer, simple_request(),
                            metadata=[("x-fault", "explode")], contains="unknown x-fault")

    def test_fault_close_garbage_truncate(self):
        self.assertRpcError(grpc.StatusCode.CANCELLED, self.stub.ModelInfer, simple_request(),
                            metadata=[("x-fault", "close")])
        for fault in ("garbage", "truncate"):
            with self.subTest(fault=fault):
                err = self.assertRpcError(grpc.StatusCode.INTERNAL, self.stub.ModelInfer, simple_request(),
                                          metadata=[("x-fault", fault)])
                self.assertIn("deserializ", err.details().lower())
        self.assertRpcError(grpc.StatusCode.INTERNAL, self.stub.ServerMetadata, pb.ServerMetadataRequest(),
                            metadata=[("x-fault", "garbage")])

    def test_fault_output_sizes(self):
        huge = self.stub.ModelInfer(simple_request(), metadata=[("x-fault", "huge")])
        self.assertEqual(huge.outputs[0].shape[0] * 4, 1 << 40)
        self.assertEqual(len(huge.raw_output_contents[0]), 64)
        bad = self.stub.ModelInfer(simple_request(), metadata=[("x-fault", "bad-binary-size")])
        self.assertEqual(len(bad.raw_output_contents[0]), 63)
        short = self.stub.ModelInfer(simple_request(), metadata=[("x-fault", "bad-length")])
        self.assertEqual(len(short.outputs), 2)
        self.assertEqual(len(short.raw_output_contents), 1)

    def test_fault_in_stream(self):
        call = self.stub.ModelStreamInfer(iter([simple_request()]), metadata=[("x-fault", "garbage")], timeout=10)
        with self.assertRaises(grpc.RpcError) as cm:
            list(call)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INTERNAL)
        call = self.stub.ModelStreamInfer(iter([simple_request()]), metadata=[("x-fault", "status=13")])
        with self.assertRaises(grpc.RpcError) as cm:
            list(call)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INTERNAL)
        msgs = list(self.stub.ModelStreamInfer(iter([simple_request()]), metadata=[("x-fault", "huge")]))
        self.assertEqual(msgs[0].infer_response.outputs[0].shape[0] * 4, 1 << 40)


class RepositoryTest(unittest.TestCase):
    """Model control changes server state: a server of its own."""

    def setUp(self):
        self.srv = RefServer().start()
        self.channel, self.stub = stub_for(self.srv)

    def tearDown(self):
        self.channel.close()
        self.assertEqual(self.srv.stop(), 0)

    def index(self, ready=False):
        return {m.name: m for m in self.stub.RepositoryIndex(pb.RepositoryIndexRequest(ready=ready)).models}

    def load(self, name, config=None, files=None):
        req = pb.RepositoryModelLoadRequest(model_name=name)
        if config is not None:
            req.parameters["config"].string_param = config
        for k, v in (files or {}).items():
            req.parameters[k].bytes_param = v
        return self.stub.RepositoryModelLoad(req)

    def test_index_lists_every_model(self):
        index = self.index()
        for name in ["simple", "simple_int8", "simple_string", "simple_identity", "custom_identity_int32",
                     "simple_sequence", "simple_dyna_sequence", "simple_string_dyna_sequence", "repeat_int32",
                     "classifier", "echo_llm", "slow"] + ["identity_" + d.lower() for d in tensors.DATATYPES]:
            self.assertIn(name, index)
            self.assertEqual(index[name].state, "READY")
            self.assertEqual(index[name].version, "1")

    def test_unload_and_load(self):
        self.stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="simple"))
        self.assertFalse(self.stub.ModelReady(pb.ModelReadyRequest(name="simple")).ready)
        self.assertEqual(self.index()["simple"].state, "UNAVAILABLE")
        self.assertNotIn("simple", self.index(ready=True))
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.ModelInfer(simple_request())
        self.assertIn("Request for unknown model: 'simple' has no available versions", cm.exception.details())
        self.load("simple")
        self.assertTrue(self.stub.ModelReady(pb.ModelReadyRequest(name="simple")).ready)
        self.stub.ModelInfer(simple_request())
        req = pb.RepositoryModelUnloadRequest(model_name="simple")
        req.parameters["unload_dependents"].bool_param = True
        self.stub.RepositoryModelUnload(req)
        self.assertFalse(self.stub.ModelReady(pb.ModelReadyRequest(name="simple")).ready)

    def test_load_with_config_override(self):
        # the sequence of simple_grpc_model_control.py
        with self.assertRaises(grpc.RpcError) as cm:
            self.load("simple", '"parameters": {"config": {{"max_batch_size": "16"}}}')
        self.assertIn("failed to load", cm.exception.details())
        self.load("simple", '{"max_batch_size":"16"}')
        self.assertEqual(self.stub.ModelConfig(pb.ModelConfigRequest(name="simple")).config.max_batch_size, 16)
        big = np.zeros((12, 16), np.int32)
        self.stub.ModelInfer(simple_request(a=big, b=big))
        with self.assertRaises(grpc.RpcError) as cm:
            self.load("simple", '{"max_batch_size": 8, "no_such_field": 1}')
        self.assertIn("failed to load", cm.exception.details())
        with self.assertRaises(grpc.RpcError) as cm:
            self.load("simple", "{}", {"file:" + "A" * 256: b"a"})
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INTERNAL)
        self.assertIn("failed to poll from model repository", cm.exception.details())
        self.assertTrue(self.stub.ServerLive(pb.ServerLiveRequest()).live)
        with self.assertRaises(grpc.RpcError) as cm:
            self.load("wrong_model_name")
        self.assertIn("failed to load", cm.exception.details())

    def test_load_new_model_with_files(self):
        cfg = {"backend": "python", "max_batch_size": 0,
               "input": [{"name": "X", "data_type": "TYPE_FP32", "dims": [-1]}],
               "output": [{"name": "Y", "data_type": "TYPE_FP32", "dims": [-1]}]}
        self.load("my_identity", json.dumps(cfg), {"file:1/model.py": b"# model"})
        self.assertEqual(self.index()["my_identity"].state, "READY")
        req = pb.ModelInferRequest(model_name="my_identity")
        add_input(req, "X", "FP32", np.array([1.5, 2.5], np.float32))
        self.assertEqual(output(self.stub.ModelInfer(req), "Y").tolist(), [1.5, 2.5])
        with self.assertRaises(grpc.RpcError):
            self.load("other", "{}", {"file:../escape": b"x"})

    def test_statistics_reset_on_reload(self):
        self.stub.ModelInfer(simple_request())
        self.load("simple")
        s = self.stub.ModelStatistics(pb.ModelStatisticsRequest(name="simple")).model_stats[0]
        self.assertEqual(s.inference_count, 0)


class ModelSubsetTest(unittest.TestCase):
    """--models: a repository of only the listed models, as Triton's QA starts Triton on a
    small repository (simple_grpc_model_control.py counts 8 models)."""

    def test_only_listed_models(self):
        names = ["simple", "simple_int8", "simple_string", "simple_identity", "simple_sequence",
                 "simple_dyna_sequence", "simple_string_dyna_sequence", "repeat_int32"]
        with RefServer("--models", ",".join(names)) as srv:
            channel, stub = stub_for(srv)
            try:
                index = stub.RepositoryIndex(pb.RepositoryIndexRequest()).models
                self.assertEqual(sorted(m.name for m in index), sorted(names))
                self.assertFalse(stub.ModelReady(pb.ModelReadyRequest(name="classifier")).ready)
                req = pb.RepositoryModelLoadRequest(model_name="classifier")
                with self.assertRaises(grpc.RpcError) as cm:
                    stub.RepositoryModelLoad(req)
                self.assertIn("failed to load 'classifier'", cm.exception.details())
                stub.ModelInfer(simple_request())
            finally:
                channel.close()

    def test_unknown_name_refused(self):
        proc = subprocess.run([TESTSERVER, "--http-port", "0", "--grpc-port", "0", "--models", "simple,nope"],
                              capture_output=True, timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, b"")
        self.assertIn(b"no built-in model named 'nope'", proc.stderr)


class LifecycleTest(unittest.TestCase):
    def test_tls(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = make_cert(tmp)
            with RefServer(tls=(cert, key)) as srv:
                with open(cert, "rb") as f:
                    creds = grpc.ssl_channel_credentials(root_certificates=f.read())
                with grpc.secure_channel("localhost:%d" % srv.grpc_port, creds) as ch:
                    stub = pb_grpc.GRPCInferenceServiceStub(ch)
                    self.assertTrue(stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live)
                    resp = stub.ModelInfer(simple_request(), timeout=10)
                    np.testing.assert_array_equal(output(resp, "OUTPUT0"), np.arange(16).reshape(1, 16) + 1)
                with grpc.insecure_channel("127.0.0.1:%d" % srv.grpc_port) as ch:
                    stub = pb_grpc.GRPCInferenceServiceStub(ch)
                    with self.assertRaises(grpc.RpcError) as cm:
                        stub.ServerLive(pb.ServerLiveRequest(), timeout=3)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_many_instances_and_clean_stop(self):
        servers = [RefServer() for _ in range(4)]
        threads = [threading.Thread(target=s.start) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ports = {s.grpc_port for s in servers} | {s.http_port for s in servers}
        self.assertEqual(len(ports), 8)
        for s in servers:
            self.assertEqual(s.stop(), 0)

    def test_busy_port_fails(self):
        with RefServer() as first:
            res = subprocess.run([TESTSERVER, "--http-port", "0", "--grpc-port", str(first.grpc_port)],
                                 capture_output=True, timeout=20)
            self.assertNotEqual(res.returncode, 0)
            self.assertNotIn(b"ready", res.stdout)


if __name__ == "__main__":
    unittest.main()
