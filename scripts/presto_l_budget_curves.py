"""Presto-L at one cost, the budget spent differently along the sampling trajectory.

    python scripts/presto_l_budget_curves.py --run RUNS/presto-l --cache LATENTS \
        --data CORPUS --clips 64 --curve const 0.7 --curve quiet-start 1.0:0.55:1.0 ...

A curve is either a constant budget B, or SIGMA:NOISY:CLEAN: budget NOISY at noise levels
sigma >= SIGMA and CLEAN below. At every network evaluation the curve's budget sets both
the block count k(sigma, b) and the network's budget input, so each evaluation is one the
fine-tune trained on (it draws sigma and b independently); what changes is only whether a
trajectory may switch budgets. Heun 16, CFG 3, the presto-l bench's clips, seeds, FD and
classifier (engine.bench.presto_l). Prints one line per curve and writes OUT/curves.json.
Session 12's reading: docs/presto_l.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.bench.presto_l import generate_clip, held_out, load_model, onnx_network, score
from engine.bench.quality.embed import Classifier
from engine.edm import karras_sigmas
from engine.latent_codec import load_latent_codec
from engine.model.layer_schedule import LayerSchedule, evaluated_sigmas


def parse_curve(spec: str) -> Callable[[float], float]:
    """'B' -> a constant budget; 'SIGMA:NOISY:CLEAN' -> NOISY where sigma >= SIGMA, else CLEAN."""
    try:
        parts = [float(v) for v in spec.split(":")]
    except ValueError:
        raise SystemExit(f"curve {spec!r}: give B or SIGMA:NOISY:CLEAN (numbers)") from None
    if len(parts) == 1:
        return lambda sigma: parts[0]
    if len(parts) == 3:
        edge, noisy, clean = parts
        return lambda sigma: noisy if sigma >= edge else clean
    raise SystemExit(f"curve {spec!r}: give B or SIGMA:NOISY:CLEAN")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="engine.train presto-l run")
    p.add_argument("--cache", type=Path, required=True, help="latent cache of the held-out clips")
    p.add_argument("--data", type=Path, required=True, help="corpus of the held-out clips")
    p.add_argument("--codec", type=Path, default=Path("exported/codec"))
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="clip i starts from seed * 100003 + i")
    p.add_argument("--curve", nargs=2, action="append", metavar=("NAME", "SPEC"), required=True)
    p.add_argument("--out", type=Path,
                   default=Path(tempfile.gettempdir()) / "presto_l_budget_curves",
                   help="where curves.json and the exported graphs go")
    a = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(a.run)
    schedule = (LayerSchedule(**model.meta["schedule"]) if model.meta.get("schedule")
                else LayerSchedule.for_depth(model.cfg.dit.depth))
    codec = load_latent_codec(a.codec)
    real = held_out(model, codec, model.cfg.window_frames + 4, a.clips, a.cache, a.data)
    frames = min(z.shape[1] for z in real.latents)
    sigmas = karras_sigmas(16)
    a.out.mkdir(parents=True, exist_ok=True)
    net = onnx_network(model, a.out / "onnx", threads=1)
    null = model.denoiser.net.null_text.detach().numpy()
    classifier = Classifier(Path("reports/quality/classifier"))
    shape = (model.cfg.dit.latent_channels, frames)
    net(np.zeros((2, *shape), np.float32), 1.0, np.zeros((2, 384), np.float32), 1.0,
        schedule.depth)  # first call allocates: not timed
    results = {}
    for name, spec in a.curve:
        curve = parse_curve(spec)
        latents, audio, walls, ks = [], [], [], []
        for i, text in enumerate(real.text):
            t0 = time.perf_counter()
            z, k = generate_clip(net, null, text, schedule, 1.0, sigmas, "heun", 3.0, shape,
                                 a.seed * 100_003 + i, budget_at=curve)
            walls.append(time.perf_counter() - t0)
            ks += k
            latents.append(z)
            audio.append(codec.decode(z)[:, : frames * codec.samples_per_latent])
        expected = np.mean([schedule.n_blocks(s, curve(s))
                            for s in evaluated_sigmas(sigmas, "heun")]) / schedule.depth
        row = {"spec": spec, "block_fraction": float(np.mean(ks)) / schedule.depth,
               "expected_fraction": float(expected), "ms_per_clip": 1e3 * float(np.median(walls)),
               **score(latents, audio, real, codec.sample_rate, classifier)}
        results[name] = row
        print(f"{name:>14} ({spec}): blocks {row['block_fraction']:.3f}, "
              f"{row['ms_per_clip']:.0f} ms/clip, FD classifier {row['fd_classifier']:.1f}, "
              f"FD log-mel {row['fd_logmel']:.1f}, family {row['family_acc']:.2f}, "
              f"level {row['lmean']:+.2f}", flush=True)
        (a.out / "curves.json").write_text(json.dumps(
            {"run": str(a.run), "clips": len(real.text),
             "seconds": frames * codec.samples_per_latent / codec.sample_rate, "seed": a.seed,
             "curves": results}, indent=1))


if __name__ == "__main__":
    main()
