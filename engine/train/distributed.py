"""torchrun detection for the trainers: one process, or DistributedDataParallel over gloo.

    env = init_distributed()      # reads WORLD_SIZE / RANK / LOCAL_WORLD_SIZE set by torchrun
    if env.main: write checkpoints and logs

CPU training uses the gloo backend; every rank holds the full model and its own
slice of the batch, and DistributedDataParallel averages the gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """gloo process group when launched by torchrun (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        # Long timeout: rank 0 may build the latent cache while the others wait.
        dist.init_process_group("gloo", timeout=timedelta(hours=6))
    return Dist(dist.get_rank(), world, int(os.environ.get("LOCAL_WORLD_SIZE", world)))
