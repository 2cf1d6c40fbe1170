"""Minimal safetensors reader/writer (numpy), written from the format description:
8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
then the raw little-endian tensor bytes. No dependency on the safetensors package."""
import json
import struct

import numpy as np

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def _bf16_to_f32(raw):
    u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
    return (u16 << 16).view(np.float32)


def _f32_to_bf16_bytes(a):
    # round-to-nearest-even, as torch's float->bfloat16 conversion does
    u32 = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounding = ((u32 >> 16) & 1) + 0x7FFF
    return ((u32 + rounding) >> 16).astype("<u2").tobytes()


def read_safetensors(path):
    """Returns (dict name -> numpy array (bf16 widened to float32), metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    meta = header.pop("__metadata__", {}) or {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = data[base + begin : base + end]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            arr = _bf16_to_f32(raw).reshape(shape)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")).reshape(shape)
        out[name] = arr
    return out, meta


def write_safetensors(path, tensors, metadata=None, bf16=False):
    """tensors: dict name -> numpy array. Names are written sorted, data contiguous in that
    order, the header padded with spaces to a multiple of 8 (what the reference library does),
    so the bytes depend only on the inputs."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if bf16 and a.dtype in (np.float32, np.float64):
            raw = _f32_to_bf16_bytes(a.astype(np.float32))
            dt = "BF16"
        else:
            a = np.ascontiguousarray(a)
            dt = _NAMES[a.dtype]
            raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
