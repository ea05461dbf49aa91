"""Which torch device a trainer runs on: `--device auto|cpu|cuda`.

    device = pick_device("auto")                  # cuda where a kernel really runs, else cpu
    with autocast(device): loss = ...             # bf16 on cuda, a no-op on cpu

"auto" tries a small kernel on the GPU rather than trusting torch.cuda.is_available(),
which can say yes where the driver is unusable. Checkpoints stay device-neutral:
`cpu_state` brings a state dict to host memory before it is saved.
"""

from __future__ import annotations

import contextlib

import torch

from engine.train.base_config import DEVICE_CHOICES


def cuda_works() -> bool:
    """True where a small matrix product runs on the first CUDA device."""
    if not torch.cuda.is_available():
        return False
    try:
        x = torch.ones(8, 8, device="cuda")
        return float((x @ x).sum().item()) == 512.0
    except RuntimeError:
        return False


def pick_device(name: str) -> torch.device:
    """torch.device for "auto", "cpu" or "cuda"; SystemExit saying why for an unusable one."""
    if name not in DEVICE_CHOICES:
        raise SystemExit(f"--device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "cpu":
        return torch.device("cpu")
    if cuda_works():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda")
    if name == "cuda":
        raise SystemExit("--device cuda: no working CUDA device here (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (fp32 master weights, fp32 reductions); nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state dict in host memory (GPU tensors copied; CPU ones as they are)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
