"""Tensor codecs: numpy arrays <-> Triton raw bytes and JSON element lists.

Datatypes are Triton's 14 protocol names. Conventions shared with the fronts:
BYTES tensors are numpy object arrays holding bytes; FP16 is numpy float16;
BF16 has no numpy type and travels as uint16 bit patterns (the upper half of
the float32 bits).
"""

import struct

import numpy as np

# protocol datatype -> numpy dtype (object for BYTES)
NUMPY_DTYPE = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BF16": np.dtype(np.uint16),
    "BYTES": np.dtype(object),
}

DATATYPES = tuple(NUMPY_DTYPE)

# protocol datatype <-> model_config.proto DataType enum name
CONFIG_TYPE = {dt: "TYPE_" + dt for dt in DATATYPES}
CONFIG_TYPE["BYTES"] = "TYPE_STRING"
PROTOCOL_TYPE = {v: k for k, v in CONFIG_TYPE.items()}


class TensorError(ValueError):
    """Malformed tensor data; the message is worded as Triton words it."""


def element_size(datatype):
    """Bytes per element, or None for BYTES (variable size)."""
    if datatype == "BYTES":
        return None
    return NUMPY_DTYPE[datatype].itemsize


def element_count(shape):
    n = 1
    for d in shape:
        if d < 0:
            raise TensorError("invalid shape %s: dimensions must be >= 0" % list(shape))
        n *= d
    return n


def check_datatype(datatype):
    if datatype not in NUMPY_DTYPE:
        raise TensorError("invalid datatype '%s'" % datatype)


def decode_raw(datatype, shape, data, name="", model=""):
    """Bytes as sent in raw_input_contents / binary tensor data -> ndarray of `shape`."""
    check_datatype(datatype)
    count = element_count(shape)
    data = bytes(data)
    if datatype == "BYTES":
        elems = []
        pos = 0
        while pos < len(data):
            if len(data) - pos < 4:
                raise TensorError(
                    "element byte size indicator exceeds the end of the buffer for input '%s'" % name)
            (n,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if len(data) - pos < n:
                raise TensorError(
                    "element byte size indicator exceeds the end of the buffer for input '%s'" % name)
            elems.append(data[pos:pos + n])
            pos += n
        if len(elems) != count:
            raise TensorError(
                "expected %d string elements for inference input '%s', got %d"
                % (count, name, len(elems)))
        arr = np.empty(count, dtype=object)
        arr[:] = elems
        return arr.reshape(shape)
    size = NUMPY_DTYPE[datatype].itemsize
    if len(data) != count * size:
        raise TensorError(
            "unexpected total byte size %d for input '%s', expecting %d"
            % (len(data), name, count * size))
    dt = NUMPY_DTYPE[datatype].newbyteorder("<")
    return np.frombuffer(data, dtype=dt).astype(NUMPY_DTYPE[datatype]).reshape(shape)


def encode_raw(arr, datatype):
    """ndarray -> bytes in Triton's raw layout (little-endian, row-major)."""
    check_datatype(datatype)
    if datatype == "BYTES":
        parts = []
        for e in np.asarray(arr, dtype=object).ravel():
            b = to_bytes(e)
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    a = np.ascontiguousarray(arr, dtype=NUMPY_DTYPE[datatype].newbyteorder("<"))
    return a.tobytes()


def raw_byte_size(arr, datatype):
    if datatype == "BYTES":
        return sum(4 + len(to_bytes(e)) for e in np.asarray(arr, dtype=object).ravel())
    return int(np.asarray(arr).size) * NUMPY_DTYPE[datatype].itemsize


def to_bytes(e):
    if isinstance(e, bytes):
        return e
    if isinstance(e, (bytearray, memoryview)):
        return bytes(e)
    if isinstance(e, str):
        return e.encode("utf-8")
    return str(e).encode("utf-8")


def bf16_to_float32(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def float32_to_bf16(values):
    """Round-to-nearest-even float32 -> bf16 bit patterns (uint16)."""
    b = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def decode_json(datatype, shape, flat, name=""):
    """JSON element list (may be nested; flattened row-major) -> ndarray of `shape`."""
    check_datatype(datatype)
    values = list(_flatten(flat))
    count = element_count(shape)
    if len(values) != count:
        raise TensorError(
            "unexpected number of elements for input '%s': shape %s needs %d, got %d"
            % (name, list(shape), count, len(values)))
    try:
        if datatype == "BYTES":
            arr = np.empty(count, dtype=object)
            arr[:] = [to_bytes(v) for v in values]
        elif datatype == "BOOL":
            if not all(isinstance(v, bool) for v in values):
                raise TensorError("unable to parse 'data': expected boolean values for input '%s'" % name)
            arr = np.array(values, dtype=np.bool_)
        elif datatype == "BF16":
            arr = float32_to_bf16(np.array(values, dtype=np.float32))
        elif datatype in ("FP16", "FP32", "FP64"):
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise TensorError("unable to parse 'data': expected numbers for input '%s'" % name)
            arr = np.array(values, dtype=NUMPY_DTYPE[datatype])
        else:
            info = np.iinfo(NUMPY_DTYPE[datatype])
            for v in values:
                if not isinstance(v, int) or isinstance(v, bool) or v < info.min or v > info.max:
                    raise TensorError(
                        "unable to parse 'data': value %r is not a valid %s for input '%s'"
                        % (v, datatype, name))
            arr = np.array(values, dtype=NUMPY_DTYPE[datatype])
    except (TypeError, OverflowError) as e:
        raise TensorError("unable to parse 'data' for input '%s': %s" % (name, e))
    return arr.reshape(shape)


def encode_json(arr, datatype):
    """ndarray -> flat JSON-ready list (BYTES as text, replaced if not UTF-8)."""
    a = np.asarray(arr).ravel()
    if datatype == "BYTES":
        return [to_bytes(e).decode("utf-8", errors="replace") for e in a]
    if datatype == "BF16":
        return [float(v) for v in bf16_to_float32(a)]
    if datatype == "BOOL":
        return [bool(v) for v in a]
    if datatype in ("FP16", "FP32", "FP64"):
        return [float(v) for v in a]
    return [int(v) for v in a]


def _flatten(x):
    if isinstance(x, (list, tuple)):
        for e in x:
            yield from _flatten(e)
    else:
        yield x
