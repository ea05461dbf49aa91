"""Presto-L speed without trained models: ms per forward at each layer count, priced per budget.

    python -m engine.bench.presto_l_speed --preset tiny --frames 688 \
        --budgets 1.0 0.75 0.5 0.35 --steps 16 --sampler heun --out /tmp/presto_l_speed

Exports a random-weight DiT of the preset as per-block ONNX graphs (the cost of a
graph does not depend on its weights), times one forward at every k with
onnxruntime (engine.model.runner, round-robin medians), then for each budget
takes the layer schedule over the sampler's evaluated noise levels: mean blocks
run, and ms per forward and per clip as the mean and sum of the measured t(k).
The same t(k) table is what a deadline governor needs.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.edm.precond import EDMPrecond
from engine.edm.schedule import karras_sigmas
from engine.model.config import preset
from engine.model.dit import DiT
from engine.model.export import example_inputs, export_split
from engine.model.layer_schedule import LayerSchedule, evaluated_sigmas
from engine.model.runner import SplitDenoiser
from engine.model.timing import median_ms


def measure(preset_name: str, out: Path, frames: int, budgets: list[float], steps: int,
            sampler: str, threads: int, repeats: int, batch: int) -> dict:
    torch.manual_seed(0)
    net = DiT(preset(preset_name))
    with torch.no_grad():  # non-zero adaLN-Zero weights: every block does real work
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    denoiser = EDMPrecond(net).eval()
    if not (out / "split" / "final.onnx").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_split(denoiser, out / "split")
    runner = SplitDenoiser(out / "split", threads)
    arrays = [a.numpy() for a in example_inputs(denoiser, batch=batch, frames=frames)]
    depth = net.cfg.depth
    fns = {str(k): (lambda k=k: runner(*arrays, n_blocks=k)) for k in range(1, depth + 1)}
    ms = {int(k): v for k, v in median_ms(fns, repeats).items()}
    schedule = LayerSchedule.for_depth(depth)
    evals = evaluated_sigmas(karras_sigmas(steps), sampler)
    rows = []
    for b in budgets:
        ks = schedule.blocks(np.array(evals), b)
        per = [ms[int(k)] for k in ks]
        rows.append({"budget": b, "blocks_mean": float(ks.mean()),
                     "block_fraction": float(ks.mean() / depth),
                     "ms_per_forward": float(np.mean(per)), "ms_per_clip": float(np.sum(per)),
                     "k_by_eval": ks.tolist()})
    tokens = -(-frames // net.cfg.patch)
    return {"preset": preset_name, "frames": frames, "tokens": tokens, "batch": batch,
            "steps": steps, "sampler": sampler, "evals": len(evals), "threads": threads,
            "ms_by_k": ms, "schedule": schedule.to_dict(), "rows": rows}


def table(result: dict) -> str:
    lines = [f"{result['preset']}, {result['tokens']} tokens, batch {result['batch']}, "
             f"{result['sampler']} {result['steps']} steps ({result['evals']} evaluations), "
             f"onnxruntime {result['threads']} threads, random weights", "",
             "| budget | blocks run (mean) | fraction | ms per forward | network ms per clip |",
             "|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['budget']:g} | {r['blocks_mean']:.2f} | {r['block_fraction']:.0%} | "
                     f"{r['ms_per_forward']:.1f} | {r['ms_per_clip']:.0f} |")
    lines += ["", "ms per forward by k: " + ", ".join(
        f"{k}: {v:.1f}" for k, v in sorted(result["ms_by_k"].items()))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m engine.bench.presto_l_speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--frames", type=int, default=688, help="688 frames = 344 tokens (32 s)")
    p.add_argument("--budgets", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.35])
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--sampler", default="heun")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--batch", type=int, default=1, help="2 = a CFG pair")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    result = measure(a.preset, a.out, a.frames, a.budgets, a.steps, a.sampler, a.threads,
                     a.repeats, a.batch)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "presto_l_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    (a.out / "presto_l_speed.md").write_text(table(result))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
