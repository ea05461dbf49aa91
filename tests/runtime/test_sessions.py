from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from engine.runtime.sessions import CPU, _probe_model, cuda_works, select_device


def test_the_hand_written_probe_graph_runs_on_the_cpu_provider() -> None:
    session = ort.InferenceSession(_probe_model(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.array([1.25], dtype=np.float32)})
    np.testing.assert_array_equal(y, [2.5])


def test_auto_picks_cuda_only_when_it_really_works(monkeypatch) -> None:
    monkeypatch.delenv("PRESTO_DEVICE", raising=False)
    device = select_device("auto")
    assert device.name == ("cuda" if cuda_works() else "cpu")
    assert select_device("cpu") == CPU


def test_environment_override_and_bad_names(monkeypatch) -> None:
    monkeypatch.setenv("PRESTO_DEVICE", "cpu")
    assert select_device("auto") == CPU
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        select_device("tpu")
    if not cuda_works():
        with pytest.raises(ValueError, match="no CUDA session works"):
            select_device("cuda")
