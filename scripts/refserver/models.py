"""The models the reference server serves.

Names, tensor names, shapes and values follow Triton's example repository and
the official client examples, so their expectations hold here. Every model is
plain numpy code; `backend` is "python" in every config because that is what
runs them.
"""

import threading

import numpy as np

from .tensors import CONFIG_TYPE, DATATYPES


class ModelError(Exception):
    """An error raised by a model while executing; the core reports it as INVALID_ARG/400."""


def io(name, datatype, dims, **extra):
    d = {"name": name, "data_type": CONFIG_TYPE[datatype], "dims": list(dims)}
    d.update(extra)
    return d


def config(name, inputs, outputs, max_batch_size=0, **extra):
    c = {
        "name": name,
        "platform": "",
        "backend": "python",
        "version_policy": {"latest": {"num_versions": 1}},
        "max_batch_size": max_batch_size,
        "input": inputs,
        "output": outputs,
        "instance_group": [{"name": name + "_0", "kind": "KIND_CPU", "count": 1}],
        "default_model_filename": "model.py",
    }
    c.update(extra)
    return c


class Model:
    """A model: its config (Triton's JSON form) and how it executes.

    execute(inputs, ctx) gets a dict name -> ndarray (batch dimension included
    when max_batch_size > 0) and returns a dict name -> ndarray. Decoupled
    models implement responses(inputs, ctx) yielding such dicts instead.
    """

    decoupled = False
    labels = None  # output name -> list of labels, for classification

    def __init__(self, cfg):
        self.config = cfg

    @property
    def name(self):
        return self.config["name"]

    def execute(self, inputs, ctx):
        raise NotImplementedError

    def responses(self, inputs, ctx):
        yield self.execute(inputs, ctx)


class AddSub(Model):
    """simple / simple_int8: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1 (wrapping)."""

    def __init__(self, name, datatype):
        t = [io("INPUT0", datatype, [16]), io("INPUT1", datatype, [16])]
        o = [io("OUTPUT0", datatype, [16]), io("OUTPUT1", datatype, [16])]
        super().__init__(config(name, t, o, max_batch_size=8))

    def execute(self, inputs, ctx):
        a, b = inputs["INPUT0"], inputs["INPUT1"]
        with np.errstate(over="ignore"):
            return {"OUTPUT0": (a + b).astype(a.dtype), "OUTPUT1": (a - b).astype(a.dtype)}


class AddSubString(Model):
    """simple_string: add/sub on BYTES tensors holding decimal integers."""

    def __init__(self):
        t = [io("INPUT0", "BYTES", [16]), io("INPUT1", "BYTES", [16])]
        o = [io("OUTPUT0", "BYTES", [16]), io("OUTPUT1", "BYTES", [16])]
        super().__init__(config("simple_string", t, o, max_batch_size=8))

    @staticmethod
    def _ints(arr, name):
        try:
            return np.array([int(bytes(e).decode()) for e in arr.ravel()], dtype=np.int64).reshape(arr.shape)
        except (ValueError, UnicodeDecodeError):
            raise ModelError("input '%s' of model 'simple_string' must hold decimal integers" % name)

    def execute(self, inputs, ctx):
        a = self._ints(inputs["INPUT0"], "INPUT0")
        b = self._ints(inputs["INPUT1"], "INPUT1")

        def strs(x):
            out = np.empty(x.shape, dtype=object)
            out.ravel()[:] = [str(int(v)).encode() for v in x.ravel()]
            return out
        return {"OUTPUT0": strs(a + b), "OUTPUT1": strs(a - b)}


class Identity(Model):
    """OUTPUT0 = INPUT0 (any datatype); optional delay from config parameter execute_delay_ms."""

    def __init__(self, name, datatype, dims, max_batch_size, out_dims=None, params=None):
        extra = {}
        if params:
            extra["parameters"] = {k: {"string_value": v} for k, v in params.items()}
        super().__init__(config(name, [io("INPUT0", datatype, dims)],
                                [io("OUTPUT0", datatype, out_dims or dims)],
                                max_batch_size=max_batch_size, **extra))

    def execute(self, inputs, ctx):
        param = self.config.get("parameters", {}).get("execute_delay_ms")
        if param:
            try:
                delay = int(param.get("string_value", "0"))
            except ValueError:
                delay = 0
            if delay > 0:
                ctx.sleep(delay / 1000.0)
        return {"OUTPUT0": inputs["INPUT0"]}


class Generic(Model):
    """A model loaded at run time from a config the repository did not know:
    each output i copies input i when their datatypes agree, else zeros."""

    def execute(self, inputs, ctx):
        outs = {}
        ins = self.config.get("input", [])
        for i, o in enumerate(self.config.get("output", [])):
            if i < len(ins) and ins[i].get("name") in inputs and ins[i].get("data_type") == o.get("data_type"):
                outs[o["name"]] = inputs[ins[i]["name"]]
        return outs


SEQ_CONTROLS = [
    {"name": "START", "control": [{"kind": "CONTROL_SEQUENCE_START", "int32_false_true": [0, 1]}]},
    {"name": "READY", "control": [{"kind": "CONTROL_SEQUENCE_READY", "int32_false_true": [0, 1]}]},
]


class Sequence(Model):
    """The sequence models of the examples (one INT32 value per request and batch row).

    simple_sequence: the START request answers its value + 1, later ones echo
    their value (no running sum: this is what the examples assert).
    simple_dyna_sequence: the same, and the END request adds the correlation id.
    simple_string_dyna_sequence: a running sum started at the first value,
    the END request adds the (decimal string) correlation id.
    """

    def __init__(self, name, kind):
        self.kind = kind
        controls = list(SEQ_CONTROLS)
        if kind != "plain":
            controls = controls + [
                {"name": "END", "control": [{"kind": "CONTROL_SEQUENCE_END", "int32_false_true": [0, 1]}]},
                {"name": "CORRID", "control": [{"kind": "CONTROL_SEQUENCE_CORRID",
                                                "data_type": "TYPE_STRING" if kind == "string" else "TYPE_UINT64"}]},
            ]
        seq = {"max_sequence_idle_microseconds": 5000000, "control_input": controls,
               "oldest": {"max_candidate_sequences": 4}}
        super().__init__(config(name, [io("INPUT", "INT32", [1])], [io("OUTPUT", "INT32", [1])],
                                max_batch_size=8, sequence_batching=seq))

    def execute(self, inputs, ctx):
        value = inputs["INPUT"].astype(np.int64)
        state = ctx.sequence_state
        if self.kind == "string":
            acc = state.get("acc")
            if ctx.sequence_start or acc is None or acc.shape != value.shape:
                acc = value.copy()
            else:
                acc = acc + value
            state["acc"] = acc
            out = acc.copy()
        else:
            out = value + 1 if ctx.sequence_start else value.copy()
        if self.kind != "plain" and ctx.sequence_end:
            try:
                out = out + int(ctx.sequence_id)
            except ValueError:
                raise ModelError("sequence id '%s' of model '%s' must be decodable as an integer"
                                 % (ctx.sequence_id, self.name))
        return {"OUTPUT": out.astype(np.int32)}


class Repeat(Model):
    """repeat_int32 (decoupled): one response per element of IN, each after DELAY[i]
    milliseconds, carrying OUT = IN[i] and IDX = i; then WAIT milliseconds and the
    final flag."""

    decoupled = True

    def __init__(self):
        ins = [io("IN", "INT32", [-1]), io("DELAY", "UINT32", [-1]), io("WAIT", "UINT32", [1])]
        outs = [io("OUT", "INT32", [1]), io("IDX", "UINT32", [1])]
        super().__init__(config("repeat_int32", ins, outs,
                                model_transaction_policy={"decoupled": True}))

    def responses(self, inputs, ctx):
        values = inputs["IN"].ravel()
        delays = inputs["DELAY"].ravel()
        wait = inputs["WAIT"].ravel()
        if len(delays) != len(values):
            raise ModelError("expected 'DELAY' to have %d elements, got %d" % (len(values), len(delays)))
        for i, v in enumerate(values):
            ctx.sleep(int(delays[i]) / 1000.0)
            yield {"OUT": np.array([v], dtype=np.int32), "IDX": np.array([i], dtype=np.uint32)}
        if len(wait):
            ctx.sleep(int(wait[0]) / 1000.0)


class Classifier(Model):
    """classifier: OUTPUT0 = INPUT0 (the scores), labelled for the classification extension."""

    LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

    def __init__(self):
        super().__init__(config("classifier", [io("INPUT0", "FP32", [10])],
                                [io("OUTPUT0", "FP32", [10], label_filename="labels.txt")],
                                max_batch_size=8))
        self.labels = {"OUTPUT0": self.LABELS}

    def execute(self, inputs, ctx):
        return {"OUTPUT0": inputs["INPUT0"]}


class EchoLLM(Model):
    """echo_llm (decoupled, as LLM backends such as vLLM's are): text_output = text_input,
    cut to max_tokens words when given (as an input or a request parameter). With
    `stream` true (an input or a request parameter, as vLLM's backend takes it) it sends
    one response per word, the first bare and the others with a leading space, so that
    the responses joined give the text; otherwise one response with the whole text.
    `delay_ms` (a request parameter) waits that long before each response."""

    decoupled = True

    def __init__(self):
        ins = [io("text_input", "BYTES", [1]), io("max_tokens", "INT32", [1], optional=True),
               io("stream", "BOOL", [1], optional=True)]
        super().__init__(config("echo_llm", ins, [io("text_output", "BYTES", [-1])],
                                model_transaction_policy={"decoupled": True}))

    @staticmethod
    def _int_parameter(ctx, name):
        try:
            return int(ctx.parameters[name])
        except (TypeError, ValueError):
            raise ModelError("parameter '%s' must be an integer" % name)

    def words(self, inputs, ctx):
        text = b" ".join(bytes(e) for e in inputs["text_input"].ravel()).decode("utf-8", "replace")
        words = text.split()
        limit = None
        if "max_tokens" in inputs and inputs["max_tokens"].size:
            limit = int(inputs["max_tokens"].ravel()[0])
        elif "max_tokens" in ctx.parameters:
            limit = self._int_parameter(ctx, "max_tokens")
        if limit is not None:
            words = words[:max(limit, 0)]
        return words

    def responses(self, inputs, ctx):
        words = self.words(inputs, ctx)
        if "stream" in inputs and inputs["stream"].size:
            stream = bool(inputs["stream"].ravel()[0])
        else:
            stream = ctx.parameters.get("stream") is True
        delay = self._int_parameter(ctx, "delay_ms") / 1000.0 if "delay_ms" in ctx.parameters else 0
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)] if stream else [" ".join(words)]
        for piece in pieces:
            if delay:
                ctx.sleep(delay)
            yield {"text_output": np.array([piece.encode()], dtype=object)}


class Slow(Model):
    """slow: sleeps INPUT0 milliseconds (only this request's thread waits), returns it."""

    def __init__(self):
        super().__init__(config("slow", [io("INPUT0", "INT32", [1])], [io("OUTPUT0", "INT32", [1])]))

    def execute(self, inputs, ctx):
        ms = int(inputs["INPUT0"].ravel()[0])
        ctx.sleep(max(ms, 0) / 1000.0)
        return {"OUTPUT0": inputs["INPUT0"]}


class Context:
    """What a model sees of its request besides the tensors."""

    def __init__(self, parameters, cancelled=None):
        self.parameters = parameters
        self.sequence_id = None
        self.sequence_start = False
        self.sequence_end = False
        self.sequence_state = {}
        self._cancelled = cancelled or threading.Event()

    def sleep(self, seconds):
        """Sleeps without holding any lock; wakes early when the request is cancelled."""
        if seconds > 0:
            self._cancelled.wait(seconds)


def builtin_models():
    from .image_models import image_models  # it builds on this module

    models = [
        AddSub("simple", "INT32"),
        AddSub("simple_int8", "INT8"),
        AddSubString(),
        Identity("simple_identity", "BYTES", [-1], 8, out_dims=[-1]),
        Identity("custom_identity_int32", "INT32", [-1], 8, params={"execute_delay_ms": "0"}),
        Sequence("simple_sequence", "plain"),
        Sequence("simple_dyna_sequence", "dyna"),
        Sequence("simple_string_dyna_sequence", "string"),
        Repeat(),
        Classifier(),
        EchoLLM(),
        Slow(),
        *image_models(),
    ]
    for dt in DATATYPES:
        models.append(Identity("identity_" + dt.lower(), dt, [-1], 0))
    return {m.name: m for m in models}

