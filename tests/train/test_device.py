from __future__ import annotations

import pytest
import torch

from engine.train.device import autocast, cpu_state, cuda_works, pick_device


def test_cpu_is_cpu_and_auto_follows_a_working_gpu() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if cuda_works() else "cpu")


def test_asking_for_cuda_without_a_working_gpu_says_what_to_use() -> None:
    if cuda_works():
        pytest.skip("this machine has a working GPU")
    with pytest.raises(SystemExit, match="no working CUDA device.*--device cpu"):
        pick_device("cuda")


def test_an_unknown_device_name_lists_the_choices() -> None:
    with pytest.raises(SystemExit, match="auto, cpu, cuda"):
        pick_device("tpu")


def test_autocast_is_a_no_op_on_cpu_and_states_come_to_host_memory() -> None:
    lin = torch.nn.Linear(4, 4)
    with autocast(torch.device("cpu")):
        y = lin(torch.ones(1, 4))
    assert y.dtype == torch.float32
    state = cpu_state(lin)
    assert set(state) == {"weight", "bias"} and all(v.device.type == "cpu" for v in state.values())
