"""Presto-S benchmark: the base model's guided 32-step sampling vs Presto-S at 1/2/4/8 steps.

    python -m engine.bench presto-s --base /root/presto-data/runs/base \
        --presto-s /root/presto-data/runs/presto-s [RUN ...] [--budgets 1.0 0.8 0.6] \
        [--clips 32] [--seconds 32] [--out reports/presto_s]

Every run is exported (engine.export model; once, again only when its checkpoint
changes) to OUT/models/NAME beside the given text encoder and codec, and sampled
through engine.runtime: the onnxruntime per-block graphs and the sampling loops that
serve. The base model runs DPM-Solver++(2M) over a Karras schedule with classifier-
free guidance (the conditional and empty-prompt passes batched); each Presto-S run
(several: ablations, Presto-LS) runs the distilled loop at each step count from one
set of weights, a Presto-LS run also at each layer budget. Per method, side by side in
one process, round-robin over clips so that machine load hits all alike:

- wall time per clip (sampling only; the codec decode is the same for all and left
  out), x realtime, network evaluations and evaluated items (CFG doubles the batch),
  blocks run per evaluation;
- FD to held-out real audio (the base run's valid split) on the quality yardstick's
  classifier features, on log-mel statistics and on codec-latent statistics
  (engine.bench.fd); instrument-family adherence (the classifier) and tempo adherence
  (engine.bench.adherence);
- diversity: one prompt, `diversity_seeds` seeds: the mean pairwise distance of the
  clips' log-mel embeddings (larger = more varied; compare with the base model's).

The targets of issue 6 are checked and written out: Presto-S at 4 steps >= 10x faster
than the base, FD <= 1.15x the base's, adherence >= the base's (classifier FD and family
adherence with the classifier, else log-mel FD and tempo); more steps not clearly worse
(FD at 8 steps within 10% of the best). Writes OUT/presto_s.json, .md, .png.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.bench.fd import logmel_embedding
from engine.bench.presto_l import HeldOut, held_out, load_model, optional_cell, score
from engine.bench.quality.embed import Classifier
from engine.latent_codec import load_latent_codec
from engine.runtime.model import ServedModel
from engine.runtime.window import plan_window, sample_window


@dataclass(frozen=True)
class PrestoSBench:
    base: Path  # base training run
    presto_s: tuple[Path, ...]  # engine.train presto-s / presto-ls runs
    text: Path = Path("exported/text")  # exported text encoder the models pair with
    codec: Path = Path("exported/codec")  # exported codec the runs were trained with
    steps: tuple[int, ...] = (1, 2, 4, 8)  # Presto-S step counts
    budgets: tuple[float, ...] = (1.0,)  # layer budgets for Presto-LS runs (Presto-S: 1)
    base_steps: int = 32
    base_sampler: str = "dpmpp_2m"
    guidance: float = 3.0  # the base model's CFG weight
    # held-out clips, and as many generated per method. 16 flatter the distilled models: the
    # base's FD falls more with more clips (130 -> 112 from 16 to 32; docs/presto_s.md)
    clips: int = 32
    seconds: float = 32.0  # clip length (capped at the models' window)
    diversity_seeds: int = 8  # clips from one prompt for the diversity measure
    out: Path = Path("reports/presto_s")
    threads: int = 2
    seed: int = 0
    models: Path | None = None  # where the exports live (default OUT/models): reusable
    # The quality yardstick's attribute classifier (engine.bench.quality): FD on its
    # features is the FD the targets use, family adherence the adherence; None: log-mel FD
    # and tempo adherence decide instead.
    classifier: Path | None = Path("reports/quality/classifier")
    # The held-out latents and corpus (default: those the base run records; a run rebuilt
    # by import-base records neither)
    cache: Path | None = None
    data: Path | None = None


def export_run(run: Path, out: Path, text: Path, codec: Path, mode: str, kind: str,
               steps: int = 4, guidance: float = 3.0, sampler: str = "dpmpp_2m") -> Path:
    """Export a training run to `out` unless the export there is of the same checkpoint."""
    from engine.export.model import main as export

    st = (Path(run) / "checkpoint.pt").stat()
    source = json.dumps([str(Path(run).resolve()), st.st_size, st.st_mtime_ns])
    stamp = out / "source.json"
    if not (out / "manifest.json").exists() or not stamp.exists() or stamp.read_text() != source:
        export(run, out, text, codec, out.name, mode, steps, guidance, sampler, 1.0, kind)
        stamp.write_text(source)
    return out


def methods(bench: PrestoSBench, models: dict[str, ServedModel]) -> list[dict]:
    """Every (model, plan) compared: the base, then each Presto run x budget x step count."""
    rows = [{"method": "base", "model": "base", "budget": 1.0, "steps": bench.base_steps,
             "plan": plan_window(models["base"], steps=bench.base_steps, budget=1.0,
                                 guidance=bench.guidance, mode="diffusion",
                                 sampler=bench.base_sampler)}]
    for name, model in models.items():
        if name == "base":
            continue
        layered = model.manifest.get("training_kind") == "presto-ls"
        for budget, n in itertools.product(bench.budgets if layered else (1.0,), bench.steps):
            rows.append({"method": name, "model": name, "budget": budget, "steps": n,
                         "plan": plan_window(model, steps=n, budget=budget, mode="distilled")})
    return rows


def mean_pairwise(emb: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of emb (N, E)."""
    d = [np.linalg.norm(a - b) for a, b in itertools.combinations(emb, 2)]
    return float(np.mean(d)) if d else float("nan")


def run_method(model: ServedModel, plan, texts: np.ndarray, frames: int, seeds: list[int]  # noqa: ANN001
               ) -> dict:
    """Generate one clip per (text, seed): latents, audio, walls, evaluations, blocks."""
    out = {"latents": [], "audio": [], "walls": [], "evals": [], "blocks": []}
    zeros = np.zeros((model.latent_channels, frames), np.float32)
    for text, seed in zip(texts, seeds, strict=True):
        r = sample_window(model, plan, text, zeros, 0, seed)
        audio = model.codec.decode(model.codec.denormalize(r.latent[None]))[0]
        out["latents"].append(r.latent)
        out["audio"].append(audio[:, : frames * model.samples_per_latent])
        out["walls"].append(r.seconds)
        out["evals"].append(len(r.evaluations))
        out["blocks"].append(r.blocks_run / max(1, len(r.evaluations)))
    return out


def main(bench: PrestoSBench) -> dict:
    if not bench.presto_s:
        raise ValueError("give at least one Presto-S run (--presto-s RUN)")
    kinds = {}
    for run in (bench.base, *bench.presto_s):
        if not (Path(run) / "checkpoint.pt").is_file():
            raise SystemExit(f"{run} has no checkpoint.pt: pass training run directories")
    for run in bench.presto_s:
        state = torch.load(Path(run) / "checkpoint.pt", map_location="cpu", weights_only=False)
        if "presto_s" not in state:
            raise SystemExit(f"{run} is not a Presto-S run (engine.train presto-s/presto-ls)")
        kinds[run] = (state.get("kind", "presto-s"), state["presto_s"].get("ablation"))
    torch.set_num_threads(bench.threads)
    bench.out.mkdir(parents=True, exist_ok=True)
    exports = bench.models or bench.out / "models"
    base_dir = export_run(bench.base, exports / "base", bench.text, bench.codec, "diffusion",
                          "base", bench.base_steps, bench.guidance, bench.base_sampler)
    models = {"base": ServedModel.load(base_dir, threads=bench.threads)}
    for run in bench.presto_s:
        kind, ablation = kinds[run]
        name = Path(run).name if Path(run).name not in models else f"{Path(run).name}-{kind}"
        model_dir = export_run(run, exports / name, bench.text, bench.codec, "distilled", kind)
        models[name] = ServedModel.load(model_dir, threads=bench.threads)
        models[name].info["ablation"] = ablation
    base = load_model(bench.base)
    codec = load_latent_codec(bench.codec)
    # Whole frames only: "32 s" is 689.06 frames and the corpus's 32 s clips hold 689, so
    # rounding up would ask for clips that do not exist (held_out then takes shorter ones).
    frames = min(int(bench.seconds * models["base"].latent_rate),
                 models["base"].window_frames + 4)
    real: HeldOut = held_out(base, codec, frames, bench.clips, bench.cache, bench.data)
    frames = min(z.shape[1] for z in real.latents)
    seconds = frames / models["base"].latent_rate
    classifier = Classifier(bench.classifier) if bench.classifier is not None else None
    rows = methods(bench, models)
    n = len(real.text)
    seeds = [bench.seed * 100_003 + i for i in range(n)]
    div_seeds = [bench.seed * 100_003 + 7919 * (i + 1) for i in range(bench.diversity_seeds)]
    div_text = np.repeat(real.text[:1], bench.diversity_seeds, axis=0)
    results = {i: {"latents": [], "audio": [], "walls": [], "evals": [], "blocks": []}
               for i in range(len(rows))}
    for i in range(n):  # round-robin: each clip by every method before the next clip
        for j, row in enumerate(rows):
            one = run_method(models[row["model"]], row["plan"], real.text[i : i + 1], frames,
                             seeds[i : i + 1])
            for key, values in one.items():
                results[j][key] += values
    table = []
    for j, row in enumerate(rows):
        r = results[j]
        div = run_method(models[row["model"]], row["plan"], div_text, frames, div_seeds)
        wall = float(np.median(r["walls"]))
        entry = {k: v for k, v in row.items() if k != "plan"}
        entry.update({"ms_per_clip": 1e3 * wall, "x_realtime": seconds / wall,
                      "evals_per_clip": float(np.mean(r["evals"])),
                      "items_per_clip": float(np.mean(r["evals"])) * row["plan"].batch(),
                      "blocks_per_eval": float(np.mean(r["blocks"])),
                      "diversity_logmel": mean_pairwise(np.stack(
                          [logmel_embedding(a, codec.sample_rate) for a in div["audio"]])),
                      **score(r["latents"], r["audio"], real, codec.sample_rate, classifier)})
        entry["ablation"] = models[row["model"]].info.get("ablation")
        table.append(entry)
        print(f"{entry['method']:>14} b={entry['budget']:<4g} {entry['steps']:>2} steps "
              f"{entry['ms_per_clip']:9.1f} ms/clip FD log-mel={entry['fd_logmel']:.3f}"
              + (f" FD classifier={entry['fd_classifier']:.1f} family="
                 f"{entry['family_acc']:.2f}" if "fd_classifier" in entry else ""))
    result = {"config": {**{k: ([str(p) for p in v] if isinstance(v, tuple) and v
                                and isinstance(v[0], Path) else str(v) if isinstance(v, Path)
                                else v) for k, v in asdict(bench).items()},
                         "clip_seconds": seconds, "frames": frames, "held_out": n,
                         "prompt": real.captions[0] if real.captions else "",
                         "engine": f"onnxruntime ({models['base'].provider})"},
              "rows": table, "targets": targets(table)}
    (bench.out / "presto_s.json").write_text(json.dumps(result, indent=2) + "\n")
    (bench.out / "presto_s.md").write_text(markdown(result))
    plot(result, bench.out / "presto_s.png")
    return result


def yardstick(rows: list[dict]) -> tuple[str, str]:
    """(FD key, adherence key) the targets use: the classifier's when every row has them."""
    if all("fd_classifier" in r for r in rows):
        return "fd_classifier", "family_acc"
    return "fd_logmel", "tempo_acc"


def targets(rows: list[dict]) -> dict[str, dict]:
    """Issue 6's targets for every Presto run at budget 1 (at 4 steps, and across steps)."""
    base = next(r for r in rows if r["method"] == "base")
    fd_key, adh_key = yardstick(rows)
    out = {}
    for name in sorted({r["method"] for r in rows} - {"base"}):
        mine = {r["steps"]: r for r in rows if r["method"] == name and r["budget"] == 1.0}
        check = {}
        if 4 in mine:
            r = mine[4]
            check["speedup_4"] = base["ms_per_clip"] / r["ms_per_clip"]
            check["fd_ratio_4"] = r[fd_key] / max(base[fd_key], 1e-12)
            check["speed_ok"] = check["speedup_4"] >= 10.0
            check["fd_ok"] = check["fd_ratio_4"] <= 1.15
            check["adherence_ok"] = bool(r[adh_key] >= base[adh_key]) if not (
                math.isnan(r[adh_key]) or math.isnan(base[adh_key])) else None
        fds = [mine[s][fd_key] for s in sorted(mine)]
        if len(fds) > 1:
            check["more_steps_not_worse"] = bool(fds[-1] <= 1.1 * min(fds))
        out[name] = check
    return out


def markdown(result: dict) -> str:
    c = result["config"]
    lines = [
        f"# Presto-S benchmark ({c['held_out']} held-out clips of {c['clip_seconds']:.1f} s; "
        f"{c['engine']}, {c['threads']} threads)", "",
        f"Base: {c['base_sampler']} {c['base_steps']} steps, CFG {c['guidance']}. Presto-S: "
        "the distilled loop (x0 = G(x, sigma_i); renoise) on Karras rho-7 sigmas.", "",
        "| method | budget | steps | ms per clip | x realtime | speed-up vs base | net evals "
        "(items) | blocks/eval | FD classifier | family acc | FD log-mel | FD latent | "
        "tempo acc | tempo err (oct) | diversity |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = next(r for r in result["rows"] if r["method"] == "base")
    for r in result["rows"]:
        label = r["method"] + (f" ({r['ablation']})" if r.get("ablation") else "")
        lines.append(
            f"| {label} | {r['budget']:g} | {r['steps']} | {r['ms_per_clip']:.0f} | "
            f"{r['x_realtime']:.1f} | {base['ms_per_clip'] / r['ms_per_clip']:.1f}x | "
            f"{r['evals_per_clip']:.0f} ({r['items_per_clip']:.0f}) | {r['blocks_per_eval']:.2f} "
            f"| {optional_cell(r, 'fd_classifier', '.1f')} "
            f"| {optional_cell(r, 'family_acc', '.2f')} "
            f"| {r['fd_logmel']:.3f} | {r['fd_latent']:.3f} | {r['tempo_acc']:.2f} | "
            f"{r['tempo_err']:.3f} | {r['diversity_logmel']:.3f} |")
    lines += ["", "Targets (issue 6):", ""]
    for name, check in result["targets"].items():
        lines.append(f"- {name}: " + ", ".join(
            f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}" for k, v in check.items()))
    fd_key, adh_key = yardstick(result["rows"])
    lines += ["", f"Targets use {fd_key} and {adh_key}. "
              "FD: Frechet distance between Gaussian fits of per-clip embeddings (the quality "
              "yardstick's classifier features; log-mel band statistics; codec-latent "
              "statistics) of generated vs held-out real clips; family acc: the share of clips "
              "whose predicted instrument family is one the prompt's clip has; "
              "lower is better, comparable only at equal clip counts. Tempo: librosa beat "
              "tracking vs the prompt's BPM, octave errors forgiven. Diversity: mean pairwise "
              f"distance of log-mel embeddings of {c['diversity_seeds']} seeds for the prompt "
              f"\"{c['prompt']}\". Wall time: sampling only (no decode), median per clip.", ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    """FD (the targets' yardstick) and ms per clip against step count, one line per Presto
    run and budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_fd, ax_t) = plt.subplots(1, 2, figsize=(10, 3.8))
    base = next(r for r in result["rows"] if r["method"] == "base")
    fd_key, _ = yardstick(result["rows"])
    keys = sorted({(r["method"], r["budget"]) for r in result["rows"] if r["method"] != "base"})
    for method, budget in keys:
        rows = sorted((r for r in result["rows"] if (r["method"], r["budget"]) == (method, budget)),
                      key=lambda r: r["steps"])
        label = method if budget == 1.0 else f"{method} b={budget:g}"
        steps = [r["steps"] for r in rows]
        ax_fd.plot(steps, [r[fd_key] for r in rows], marker="o", label=label)
        ax_t.plot(steps, [r["ms_per_clip"] for r in rows], marker="o", label=label)
    for ax, key in ((ax_fd, fd_key), (ax_t, "ms_per_clip")):
        ax.axhline(base[key], color="k", ls="--", label=f"base ({base['steps']} steps, CFG)")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("Presto-S steps")
        ax.grid(alpha=0.3)
    ax_fd.set_ylabel(("FD, classifier features" if fd_key == "fd_classifier" else
                      "FD, log-mel statistics") + " (lower is better)")
    ax_t.set_ylabel("ms per clip (sampling)")
    ax_t.set_yscale("log")
    ax_fd.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
