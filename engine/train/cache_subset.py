"""A smaller latent cache: every valid and test clip, a seeded share of the train clips.

    python -m engine.train subset-cache --cache /root/presto-data/latents --out SMALL --fraction 0.6

Distillation (Presto-S) draws a few windows per update, so a lent machine with a bounded
upload (64 MiB, which the teacher shares) needs far less than the whole corpus. The
subset is an ordinary complete cache (engine.train.latent_cache) with the full cache's
statistics (sigma_data and latent mean/std stay those of the whole corpus) and a
"subset" record in its index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.train.cache_transport import complete_index
from engine.train.checkpoint import write_json_atomic


def subset_cache(cache_dir: Path, out_dir: Path, fraction: float, seed: int = 0) -> dict:
    """Write the subset cache to out_dir; returns its "subset" record."""
    if not 0.0 < fraction <= 1.0:
        raise SystemExit(f"--fraction {fraction}: choose a share in (0, 1]")
    index = complete_index(cache_dir)
    clips = index["clips"]
    train = [i for i, c in enumerate(clips) if c["split"] == "train"]
    n_keep = max(1, round(fraction * len(train)))
    kept_train = set(np.random.default_rng(seed).permutation(train)[:n_keep].tolist())
    keep = [i for i, c in enumerate(clips) if c["split"] != "train" or i in kept_train]
    latents = np.load(cache_dir / "latents.npy", mmap_mode="r")  # (frames, D) float16
    text = np.load(cache_dir / "text.npy")  # (clips, 384)
    total = sum(clips[i]["frames"] for i in keep)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "latents.npy.part"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=latents.dtype,
                                    shape=(total, latents.shape[1]))
    new_clips, offset = [], 0
    for i in keep:
        c = clips[i]
        out[offset : offset + c["frames"]] = latents[c["offset"] : c["offset"] + c["frames"]]
        new_clips.append({**c, "offset": offset})
        offset += c["frames"]
    out.flush()
    del out
    tmp.replace(out_dir / "latents.npy")
    np.save(out_dir / "text.npy", text[keep])
    record = {"from": str(cache_dir.resolve()), "fraction": fraction, "seed": seed,
              "train_clips": f"{n_keep} of {len(train)}", "clips": len(keep), "frames": total}
    write_json_atomic({**index, "clips": new_clips, "done": len(keep), "subset": record},
                      out_dir / "index.json")
    return record
