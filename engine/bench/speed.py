"""Speed bench: text to waveform for each served model, onnxruntime vs PyTorch, side by side.

    python -m engine.bench speed --models exported/base exported/presto-ls \
        [--seconds 32] [--repeats 3] [--threads 2] [--steps N | --distilled-steps N] \
        [--budgets 1.0 0.6] [--decoders float int8] [--torch] [--out reports/speed]

For every model directory, in one run on one machine: wall time and real-time factor
of one `--seconds` clip (one window: text embedding, the model's default steps and
budget or those given, one row per --budgets value, decode with the codec decoder
graph serving picks, or one row per --decoders value), time per stage (text,
each network evaluation, decode), network evaluations and blocks run, and peak
resident memory. Each measurement runs in its own fresh process so that peak memory
belongs to that model and backend alone.
With --torch the same plan (sigmas, guidance, per-evaluation layer counts) also runs
through the PyTorch checkpoint the model was exported from (its manifest names the
run), so onnxruntime and PyTorch eager are compared on identical work; the codec
decode is onnxruntime in both (it is not part of the DiT comparison).

Results: OUT/results.json and OUT/results.md (a table; docs/benchmarks.md links it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROMPT = "a lively folk tune on fiddle, allegro, in D major"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _onnx_worker(model_dir: Path, seconds: float, repeats: int, threads: int,
                 steps: int | None, budget: float | None, decoder: str = "auto") -> dict:
    from engine.runtime.model import ServedModel
    from engine.runtime.window import plan_window, sample_window

    t0 = time.perf_counter()
    model = ServedModel.load(model_dir, threads=threads, decoder=decoder)
    load = time.perf_counter() - t0
    plan = plan_window(model, steps=steps, budget=budget)
    frames = int(np.ceil(seconds * model.latent_rate))
    known = np.zeros((model.latent_channels, frames), dtype=np.float32)
    runs = []
    for r in range(repeats + 1):  # the first run warms up and is not counted
        t_start = time.perf_counter()
        emb = model.text.embed([PROMPT])[0]
        t_text = time.perf_counter() - t_start
        result = sample_window(model, plan, emb, known, 0, seed=r)
        t_dec = time.perf_counter()
        audio = model.codec.decode(model.codec.denormalize(result.latent[None]))
        t_decode = time.perf_counter() - t_dec
        total = time.perf_counter() - t_start
        if r:
            runs.append({"total": total, "text": t_text, "decode": t_decode,
                         "evaluations": [s for _, _, s in result.evaluations],
                         "blocks": [k for _, k, _ in result.evaluations]})
    audio_s = audio.shape[-1] / model.sample_rate
    return _summary(runs, audio_s, load, plan, model.provider, model.codec.decoder_precision)


def _torch_worker(model_dir: Path, seconds: float, repeats: int, threads: int,
                  steps: int | None, budget: float | None, decoder: str = "auto") -> dict:
    import torch

    from engine.edm.samplers import SAMPLERS
    from engine.export.model import load_run
    from engine.prompt import shared_prompt_encoder
    from engine.runtime.model import ServedModel
    from engine.runtime.window import plan_window

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    served = ServedModel.load(model_dir, threads=threads, decoder=decoder)  # plan, codec
    run = Path(served.manifest["training"]["run"])
    denoiser, _, _ = load_run(run)
    encoder = shared_prompt_encoder()
    load = time.perf_counter() - t0
    plan = plan_window(served, steps=steps, budget=budget)
    frames = int(np.ceil(seconds * served.latent_rate))
    c = served.latent_channels
    known = torch.zeros(1, c, frames)
    mask = torch.zeros(1, 1, frames)
    batch = plan.batch()
    null = torch.from_numpy(served.text.null_embedding(1))
    runs = []
    with torch.inference_mode():
        for r in range(repeats + 1):
            t_start = time.perf_counter()
            text = torch.from_numpy(encoder.embed([PROMPT]))  # (1, 384)
            t_text = time.perf_counter() - t_start
            emb = torch.cat([text, null]) if batch == 2 else text
            evals: list[float] = []
            blocks: list[int] = []

            def denoise(x: torch.Tensor, sigma: float, emb: torch.Tensor = emb,
                        evals: list[float] = evals, blocks: list[int] = blocks) -> torch.Tensor:
                k = served.schedule.n_blocks(sigma, plan.budget)
                t_eval = time.perf_counter()
                out = denoiser(x.repeat(batch, 1, 1), torch.full((batch,), sigma), text_emb=emb,
                               budget=torch.full((batch,), plan.budget),
                               known=known.repeat(batch, 1, 1), mask=mask.repeat(batch, 1, 1),
                               n_blocks=k)
                if batch == 2:
                    out = out[1:] + (out[:1] - out[1:]) * plan.guidance
                evals.append(time.perf_counter() - t_eval)
                blocks.append(k)
                return out

            gen = torch.Generator().manual_seed(r)
            s = plan.sigmas
            x = torch.randn(1, c, frames, generator=gen) * s[0]
            if plan.mode == "distilled":
                for i in range(plan.steps):
                    x = denoise(x, s[i])
                    if s[i + 1] > 0:
                        x = x + s[i + 1] * torch.randn(x.shape, generator=gen)
            else:
                x = SAMPLERS[plan.sampler](denoise, x, s)
            t_dec = time.perf_counter()
            audio = served.codec.decode(served.codec.denormalize(x.numpy().astype(np.float32)))
            t_decode = time.perf_counter() - t_dec
            total = time.perf_counter() - t_start
            if r:
                runs.append({"total": total, "text": t_text, "decode": t_decode,
                             "evaluations": evals, "blocks": blocks})
    audio_s = audio.shape[-1] / served.sample_rate
    return _summary(runs, audio_s, load, plan, "torch-cpu", served.codec.decoder_precision)


def _summary(runs: list[dict], audio_s: float, load: float, plan, provider: str,  # noqa: ANN001
             decoder: str) -> dict:
    total = float(np.median([r["total"] for r in runs]))
    evals = np.array([r["evaluations"] for r in runs])  # (repeats, evaluations)
    return {
        "provider": provider,
        "decoder": decoder,
        "mode": plan.mode,
        "steps": plan.steps,
        "budget": plan.budget,
        "guidance": plan.guidance,
        "sampler": plan.sampler if plan.mode == "diffusion" else "presto-s",
        "audio_seconds": round(audio_s, 3),
        "load_seconds": round(load, 3),
        "total_seconds": round(total, 4),
        "realtime_factor": round(audio_s / total, 2),
        "text_seconds": round(float(np.median([r["text"] for r in runs])), 4),
        "decode_seconds": round(float(np.median([r["decode"] for r in runs])), 4),
        "evaluations": int(evals.shape[1]),
        "batch_per_evaluation": plan.batch(),
        "evaluation_ms": [round(1e3 * float(v), 2) for v in np.median(evals, axis=0)],
        "blocks": runs[0]["blocks"],
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "repeats": len(runs),
    }


def measure(model_dir: Path, backend: str, seconds: float, repeats: int, threads: int,
            steps: int | None, budget: float | None = None, decoder: str = "auto") -> dict:
    """Run one measurement in a fresh interpreter; returns its summary (or an `error`).
    steps / budget: None keeps the model's defaults; decoder: the codec decoder graph."""
    args = {"model": str(model_dir), "backend": backend, "seconds": seconds,
            "repeats": repeats, "threads": threads, "steps": steps, "budget": budget,
            "decoder": decoder}
    cmd = [sys.executable, "-m", "engine.bench.speed", "--worker", json.dumps(args)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_report(rows: list[dict], out: Path, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    firsts = {}  # decoder -> the first onnxruntime row decoding with it
    for r in rows:
        if r.get("backend") == "onnxruntime" and "error" not in r:
            firsts.setdefault(r["decoder"], r)
    lines = [
        "# Speed: text to waveform, one clip per run (median of repeats)",
        "",
        f"{meta['machine']}; {meta['threads']} threads; {meta['seconds']} s clips; "
        f"`{meta['command']}`",
        "",
        "| model | backend | decoder | mode | steps | budget | evals (batch) | mean blocks | "
        "text ms | per eval ms | decode ms | total s | x real time | speed-up vs first "
        "(same decoder) | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['backend']} | {r.get('decoder', '?')} | "
                         f"error: {r['error']} |" + " |" * 11)
            continue
        first = firsts.get(r["decoder"])
        speedup = first["total_seconds"] / r["total_seconds"] if first else float("nan")
        lines.append(
            f"| {r['model']} | {r['backend']} | {r['decoder']} | {r['mode']} | {r['steps']} | "
            f"{r['budget']} | "
            f"{r['evaluations']} ({r['batch_per_evaluation']}) | "
            f"{np.mean(r['blocks']):.1f} | {1e3 * r['text_seconds']:.1f} | "
            f"{np.mean(r['evaluation_ms']):.1f} | {1e3 * r['decode_seconds']:.1f} | "
            f"{r['total_seconds']:.3f} | {r['realtime_factor']} | {speedup:.1f}x | "
            f"{r['peak_rss_mb']:.0f} |")
    lines += ["", "Peak RSS is the whole process (Python, onnxruntime or torch, the text encoder, "
              "codec and DiT), measured in a fresh process per row."]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def _is_distilled(model_dir: Path) -> bool:
    """Whether a model directory's manifest samples it the Presto-S way (an unreadable
    manifest is left to the worker to report)."""
    try:
        manifest = json.loads((Path(model_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("sampling", {}).get("mode") == "distilled"


def _cli_args(argv: list[str] | None) -> list[str]:
    args = list(sys.argv[1:] if argv is None else argv)
    return args[1:] if args[:1] == ["speed"] else args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", type=Path, nargs="+", default=None)
    parser.add_argument("--seconds", type=float, default=32.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="override every model's steps")
    parser.add_argument("--distilled-steps", type=int, default=None,
                        help="override the steps of distilled (Presto-S/LS) models only, so "
                        "the base keeps its own (e.g. 32 guided) in the same run")
    parser.add_argument("--decoders", nargs="+", choices=["auto", "float", "int8"],
                        default=["auto"], help="codec decoder graphs to time, one row each "
                        "(auto: what serving picks)")
    parser.add_argument("--budgets", type=float, nargs="+", default=None,
                        help="layer budgets to time every model at, one row each (default: "
                        "each model's own)")
    parser.add_argument("--torch", action="store_true", help="also time the PyTorch checkpoints")
    parser.add_argument("--out", type=Path, default=Path("reports/speed"))
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args, argv)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    if args.worker:
        w = json.loads(args.worker)
        fn = _onnx_worker if w["backend"] == "onnxruntime" else _torch_worker
        print(json.dumps(fn(Path(w["model"]), w["seconds"], w["repeats"], w["threads"],
                            w["steps"], w["budget"], w.get("decoder", "auto"))))
        return 0
    if not args.models:
        raise SystemExit("python -m engine.bench speed: --models DIR [DIR ...] is required")
    if args.steps is not None and args.distilled_steps is not None:
        raise SystemExit("python -m engine.bench speed: give --steps or --distilled-steps, "
                         "not both")
    from tqdm import tqdm

    backends = ["onnxruntime", "torch"] if args.torch else ["onnxruntime"]
    budgets = args.budgets or [None]
    jobs = [(m, budget, d, b) for m in args.models for budget in budgets
            for d in args.decoders for b in backends]
    rows = []
    for model_dir, budget, decoder, backend in tqdm(jobs, desc="speed", unit="run"):
        steps = args.steps
        if args.distilled_steps is not None and _is_distilled(model_dir):
            steps = args.distilled_steps
        row = measure(model_dir, backend, args.seconds, args.repeats, args.threads, steps,
                      budget, decoder)
        rows.append({"model": model_dir.name, "backend": backend, **row})
    meta = {"machine": f"{platform.processor() or platform.machine()}, "
                       f"{len(os.sched_getaffinity(0))} cores",
            "threads": args.threads, "seconds": args.seconds,
            "command": "python -m engine.bench speed " + " ".join(_cli_args(argv))}
    write_report(rows, args.out, meta)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
