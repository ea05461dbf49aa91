"""onnxruntime sessions for serving: provider choice and thread settings in one place.

    device = select_device("auto")              # Device("cuda", [...]) or Device("cpu", [...])
    opts = session_options(threads=2)           # what every serving session is opened with

onnxruntime-gpu lists CUDAExecutionProvider on every machine, GPU or not, and
falls back to the CPU provider (with error logs) when CUDA cannot start. So
"auto" opens a real session on CUDA once, runs it, and keeps CUDA only if the
session both kept the provider and produced the right answer. The probe result
is cached per process. No torch import.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Device:
    name: str  # "cpu" or "cuda"
    providers: tuple[str, ...]  # what sessions are opened with, in priority order


CPU = Device("cpu", ("CPUExecutionProvider",))
CUDA = Device("cuda", ("CUDAExecutionProvider", "CPUExecutionProvider"))


def _probe_model() -> bytes:
    """A one-node ONNX graph (y = x + x, float32 (1,)) as protobuf bytes, built by hand.

    The serving install has no `onnx` package, so the bytes are written directly:
    ModelProto{ir_version 7, opset 13, graph{Add node, input x, output y}}.
    """

    def key(field: int, wire: int) -> bytes:
        return _varint(field << 3 | wire)

    def ld(field: int, payload: bytes) -> bytes:  # length-delimited field
        return key(field, 2) + _varint(len(payload)) + payload

    def value_info(name: str) -> bytes:
        dim = ld(1, key(1, 0) + _varint(1))  # TensorShapeProto.Dimension{dim_value: 1}
        tensor = key(1, 0) + _varint(1) + ld(2, dim)  # Tensor{elem_type FLOAT, shape}
        return ld(1, name.encode()) + ld(2, ld(1, tensor))  # ValueInfo{name, type}

    node = ld(1, b"x") + ld(1, b"x") + ld(2, b"y") + ld(4, b"Add")
    graph = ld(1, node) + ld(2, b"probe") + ld(11, value_info("x")) + ld(12, value_info("y"))
    opset = key(2, 0) + _varint(13)
    return key(1, 0) + _varint(7) + ld(7, graph) + ld(8, opset)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@functools.cache
def cuda_works() -> bool:
    """True only if a CUDA session really opens here and computes x + x correctly."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    # A failed CUDA start logs errors through the default logger: silence it while probing.
    ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(_probe_model(), opts, providers=list(CUDA.providers))
        if session.get_providers()[0] != "CUDAExecutionProvider":
            return False
        (y,) = session.run(None, {"x": np.array([1.5], dtype=np.float32)})
        return bool(np.allclose(y, 3.0))
    except Exception:  # noqa: BLE001 - any failure means "no working GPU"
        return False
    finally:
        ort.set_default_logger_severity(2)


def select_device(device: str = "auto") -> Device:
    """"auto": CUDA where it really works, else CPU; "cpu"; "cuda" (ValueError if it cannot).

    The environment variable PRESTO_DEVICE overrides "auto" (e.g. PRESTO_DEVICE=cpu).
    """
    if device == "auto":
        device = os.environ.get("PRESTO_DEVICE", "auto")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return CPU
    if cuda_works():
        return CUDA
    if device == "cuda":
        raise ValueError("device 'cuda' was asked for, but no CUDA session works on this "
                         "machine (is onnxruntime-gpu installed and a GPU visible?); "
                         "use --device cpu")
    return CPU


def session_options(threads: int = 2, spin: bool = False) -> ort.SessionOptions:
    """All graph optimisations; `threads` intra-op threads; worker spinning off by default.

    Each session owns its own thread pool, so with one session per DiT block the idle
    pools would busy-wait against the working one and against the rest of the machine.
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts
