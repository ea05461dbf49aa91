"""Presto-L benchmark: base vs Presto-L (reroute or ranked) vs ASE-style early exit, by budget.

    python -m engine.bench presto-l --base /root/presto-data/runs/base \
        --presto-l /root/presto-data/runs/presto-l --ase /root/presto-data/runs/ase \
        [--budgets 1.0 0.75 0.5 0.35] [--steps 16] [--clips 16] [--out reports/presto_l]

For every budget, the three models generate the same clips (same prompts, same
seeds, same sampler, steps and CFG weight) with the block count of each network
evaluation set by one layer schedule k(sigma, b) (the Presto-L run's). The base
model, never fine-tuned for it, drops blocks with the reroute and keeps its budget
input at 1 (the only value it was trained on): the naive baseline.
Per method and budget the table gives:

- wall time per clip: sampling only (network + sampler), the codec decode is the
  same for all and left out; onnxruntime per-block graphs (engine.model.runner,
  2 threads) by default, or PyTorch eager with --engine torch; all three alike;
- blocks run: mean k per network evaluation, as a fraction of the depth, and a
  FLOPs estimate per clip (matmuls and attention; CFG doubles the batch);
- FD: Frechet distance to held-out real audio (the valid split, which no model
  trained on) on a log-mel statistics embedding, and on codec latent statistics
  (engine.bench.fd explains both yardsticks and their limits);
- tempo adherence against the prompts' BPM (engine.bench.adherence).

Writes OUT/presto_l.json, OUT/presto_l.md and OUT/presto_l.png (speed vs FD).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.bench.adherence import estimate_tempo, tempo_adherence
from engine.bench.fd import (
    HIGH_BANDS,
    LOGMEL_BANDS,
    frechet_distance_of,
    latent_embedding,
    level_offsets,
    logmel_embedding,
)
from engine.bench.quality.embed import Classifier
from engine.edm import SAMPLERS, classifier_free_guidance, karras_sigmas
from engine.edm.precond import EDMPrecond
from engine.latent_codec import load_latent_codec, read_audio
from engine.model.config import DiTConfig
from engine.model.dit import DiT
from engine.model.layer_schedule import LayerSchedule, evaluated_sigmas
from engine.train.base_config import BaseTrainConfig
from engine.train.latent_cache import open_latent_cache

METHODS = ("base", "presto-l", "ase")
LABELS = {"base": "base (no fine-tune)", "presto-l": "Presto-L", "ase": "ASE (early exit)"}
SAMPLER_NAMES = {"heun": "heun", "euler": "euler", "dpmpp2m": "dpmpp_2m", "dpmpp_2m": "dpmpp_2m"}


@dataclass(frozen=True)
class PrestoLBench:
    base: Path  # base training run
    presto_l: Path  # engine.train presto-l run
    ase: Path  # engine.train presto-l --baseline ase run
    budgets: tuple[float, ...] = (1.0, 0.75, 0.5, 0.35)
    steps: int = 16  # sampler steps
    clips: int = 16  # held-out clips (and as many generated per method and budget)
    seconds: float = 32.0  # clip length (capped at one training window)
    sampler: str = "heun"  # heun | euler | dpmpp2m
    guidance: float = 3.0  # CFG weight (1: no guidance, batch of 1)
    engine: str = "onnx"  # onnx (per-block graphs) | torch (eager)
    out: Path = Path("reports/presto_l")
    threads: int = 2
    seed: int = 0
    codec: Path | None = None  # default: the base run's codec
    # The quality yardstick's attribute classifier (engine.bench.quality): FD on its
    # features and instrument-family adherence as extra columns; None leaves them out.
    classifier: Path | None = Path("reports/quality/classifier")
    cache: Path | None = None  # latent cache of the held-out clips (default: a run's)
    data: Path | None = None  # corpus of the held-out clips (default: a run's)


@dataclass
class Model:
    denoiser: EDMPrecond  # EMA weights, eval
    cfg: BaseTrainConfig
    meta: dict  # the checkpoint's other entries (cache, codec, data, schedule, step...)


def load_model(run_dir: Path) -> Model:
    state = torch.load(Path(run_dir) / "checkpoint.pt", map_location="cpu", weights_only=False)
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    model = EDMPrecond(DiT(cfg.dit), state["sigma_data"])
    model.net.load_state_dict(state["ema"])
    meta = {k: v for k, v in state.items() if k not in ("model", "ema", "optimizer", "torch_rng")}
    st = (Path(run_dir) / "checkpoint.pt").stat()
    meta["source"] = [str(Path(run_dir).resolve()), st.st_size, st.st_mtime_ns]
    return Model(model.eval(), cfg, meta)


def dit_flops(cfg: DiTConfig, tokens: int, n_blocks: int, batch: int = 1) -> float:
    """Forward FLOPs (2 per multiply-add) of the DiT at n_blocks over `tokens` tokens.

    Per block and token: qkv 6 D^2, projection 2 D^2, MLP 4 D H, attention scores and
    mixing 4 L D; per block and item: adaLN 12 D^2. Plus the patch embedding and the
    final layer; the small conditioning MLPs are left out.
    """
    d, n = cfg.width, tokens
    hidden = int(cfg.width * cfg.mlp_ratio)
    block = n * (8 * d * d + 4 * d * hidden + 4 * n * d) + 12 * d * d
    embed = n * 2 * cfg.in_channels * cfg.patch * d
    final = n * 2 * d * cfg.patch * cfg.latent_channels + 4 * d * d
    return float(batch * (embed + n_blocks * block + final))


@dataclass
class HeldOut:
    text: np.ndarray  # (N, 384) caption embeddings
    latents: list[np.ndarray]  # N x (C, T) real normalised latents
    audio: list[np.ndarray]  # N x (channels, samples) real audio, `frames` latents long
    bpm: list[float]  # N asked tempi (0 where unknown)
    captions: list[str]
    rows: list[dict] = field(default_factory=list)  # N metadata rows (families for adherence)
    features: np.ndarray | None = None  # (N, F) classifier features of the real audio


def held_out(model: Model, codec, frames: int, clips: int,  # noqa: ANN001
             cache_dir: Path | None = None, data_dir: Path | None = None) -> HeldOut:
    """The first `clips` valid clips with at least `frames` frames (else the longest ones).

    The latent cache and corpus are cache_dir / data_dir, else those the run recorded."""
    cache_dir = cache_dir or model.meta.get("cache")
    data_dir = data_dir or model.meta.get("data")
    if cache_dir is None or data_dir is None:
        raise SystemExit("the base run records no latent cache or corpus (a run rebuilt by "
                         "import-base?): pass --cache LATENTS --data CORPUS")
    if not (Path(cache_dir) / "index.json").exists():  # e.g. a run trained on a lent machine
        raise SystemExit(f"no latent cache at {cache_dir} (the one the run records?): pass "
                         "--cache LATENTS --data CORPUS with the held-out clips")
    cache = open_latent_cache(Path(cache_dir))
    data = Path(data_dir)
    rows = {}
    meta_path = data / "metadata.jsonl"
    if meta_path.exists():
        for line in meta_path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["path"]] = row
    ids = cache.splits["valid"] if len(cache.splits["valid"]) else cache.splits["train"]
    ids = sorted(ids, key=lambda i: (cache.frames[i] < frames, i))[:clips]
    out = HeldOut(cache.text[ids], [], [], [], [])
    for i in ids:
        clip = cache.index["clips"][i]
        t = int(min(frames, cache.frames[i]))
        out.latents.append(cache.window(i, 0, t))
        audio = read_audio(data / clip["path"], codec.sample_rate, codec.channels)
        out.audio.append(audio[:, : t * codec.samples_per_latent])
        row = rows.get(clip["path"], {})
        out.bpm.append(float(row.get("tempo_bpm") or 0.0))
        out.captions.append(clip["caption"])
        out.rows.append(row)
    return out


def torch_network(model: Model) -> Callable[..., np.ndarray]:
    """net(x, sigma, text, budget, k) over numpy arrays with PyTorch eager."""

    @torch.inference_mode()
    def net(x: np.ndarray, sigma: float, text: np.ndarray, budget: float, k: int) -> np.ndarray:
        b = x.shape[0]
        return model.denoiser(torch.from_numpy(x), torch.full((b,), sigma),
                              text_emb=torch.from_numpy(text), budget=torch.full((b,), budget),
                              n_blocks=k).numpy()

    return net


def onnx_network(model: Model, out_dir: Path, threads: int) -> Callable[..., np.ndarray]:
    """net(x, sigma, text, budget, k) over the per-block ONNX graphs (exported once)."""
    from engine.model.export import export_split
    from engine.model.runner import SplitDenoiser

    stamp = out_dir / "source.json"  # which checkpoint the graphs hold: re-export if it changed
    source = json.dumps(model.meta["source"])
    if not (out_dir / "final.onnx").exists() or not stamp.exists() or stamp.read_text() != source:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's axis-rename and deprecation chatter
            export_split(model.denoiser, out_dir)
        stamp.write_text(source)
    runner = SplitDenoiser(out_dir, threads, exit_mode=model.cfg.dit.exit_mode)

    def net(x: np.ndarray, sigma: float, text: np.ndarray, budget: float, k: int) -> np.ndarray:
        b, c, t = x.shape
        zeros = np.zeros((b, c, t), np.float32)
        return runner(x, np.full((b,), sigma, np.float32), text, np.full((b,), budget, np.float32),
                      zeros, zeros[:, :1], n_blocks=k)

    return net


def generate_clip(net: Callable[..., np.ndarray], null: np.ndarray, text: np.ndarray,
                  schedule: LayerSchedule, budget: float, sigmas: np.ndarray, sampler: str,
                  guidance: float, shape: tuple[int, int], seed: int,
                  budget_input: float | None = None,
                  budget_at: Callable[[float], float] | None = None) -> tuple[np.ndarray, list]:
    """One clip (C, T) from noise; also the k of every network evaluation.

    k follows `budget`; the network's budget input is `budget_input` (default: budget).
    budget_at(sigma), when given, replaces both at each noise level (a budget that changes
    along the trajectory: scripts/presto_l_budget_curves.py).
    """
    fed = budget if budget_input is None else budget_input
    ks: list[int] = []
    both = np.stack([text, null]).astype(np.float32)  # (2, 384): conditional, null prompt
    cache: dict = {}

    def pair(x: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        if cache.get("x") is not x or cache.get("sigma") != sigma:
            b = budget if budget_at is None else budget_at(sigma)
            given = fed if budget_at is None else b
            k = schedule.n_blocks(sigma, b)
            ks.append(k)
            if guidance == 1.0:
                d = net(x, sigma, both[:1], given, k)  # (1, C, T)
                cache.update(x=x, sigma=sigma, value=(d, d))
            else:
                d = net(np.concatenate([x, x]), sigma, both, given, k)  # (2, C, T)
                cache.update(x=x, sigma=sigma, value=(d[:1], d[1:]))
        return cache["value"]

    denoise = classifier_free_guidance(lambda x, s: pair(x, s)[0], lambda x, s: pair(x, s)[1],
                                       guidance)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((1, *shape)) * sigmas[0]).astype(np.float32)  # (1, C, T)
    x = SAMPLERS[SAMPLER_NAMES[sampler]](denoise, x, sigmas)
    return np.asarray(x[0], dtype=np.float32), ks


def score(latents: list[np.ndarray], audio: list[np.ndarray], real: HeldOut,
          sample_rate: int, classifier: Classifier | None = None) -> dict[str, float]:
    """FD (log-mel and latent) of generated clips against the held-out set, and tempo;
    with the yardstick's classifier also FD on its features and family adherence."""
    mel = np.stack([logmel_embedding(a, sample_rate) for a in audio])  # (N, 128)
    real_mel = np.stack([logmel_embedding(a, sample_rate) for a in real.audio])  # (N, 128)
    fd_mel = frechet_distance_of(mel, real_mel)
    fd_lat = frechet_distance_of(np.stack([latent_embedding(z) for z in latents]),
                                 np.stack([latent_embedding(z) for z in real.latents]))
    tempo = tempo_adherence([estimate_tempo(a, sample_rate) for a in audio], real.bpm)
    out = {"fd_logmel": fd_mel, "fd_latent": fd_lat, **tempo, **level_offsets(mel, real_mel)}
    if classifier is not None:
        got = classifier.measure(audio, sample_rate)
        if real.features is None:
            real.features = classifier.measure(real.audio, sample_rate).features
        asked = [classifier.attributes.family_ids(row) for row in real.rows]
        picked = got.probs["family"].argmax(axis=1)
        hits = [int(p in ids) for p, ids in zip(picked, asked, strict=True) if ids]
        out["fd_classifier"] = frechet_distance_of(got.features, real.features)
        out["family_acc"] = float(np.mean(hits)) if hits else float("nan")
    return out


def main(bench: PrestoLBench) -> dict:
    if bench.engine not in ("onnx", "torch"):
        raise ValueError(f"engine must be 'onnx' or 'torch', got {bench.engine!r}")
    if bench.sampler not in SAMPLER_NAMES:
        raise ValueError(f"unknown sampler {bench.sampler!r}; choose heun, euler or dpmpp2m")
    torch.set_num_threads(bench.threads)
    models = {"base": load_model(bench.base), "presto-l": load_model(bench.presto_l),
              "ase": load_model(bench.ase)}
    sched_dict = models["presto-l"].meta.get("schedule")
    depth = models["base"].cfg.dit.depth
    schedule = LayerSchedule(**sched_dict) if sched_dict else LayerSchedule.for_depth(depth)
    if models["ase"].meta.get("schedule") not in (None, sched_dict):
        print(f"warning: the ASE run was trained with schedule {models['ase'].meta['schedule']}; "
              f"benchmarking all methods with Presto-L's {sched_dict}")
    for name, m in models.items():
        if m.cfg.dit.depth != depth:
            raise ValueError(f"{name} has depth {m.cfg.dit.depth}, the base {depth}")
    codec = load_latent_codec(bench.codec or models["base"].meta["codec"])
    rate = codec.sample_rate / codec.samples_per_latent
    frames = min(math.ceil(bench.seconds * rate), models["base"].cfg.window_frames + 4)
    # A teacher rebuilt by `engine.train import-base` records no cache: the students do.
    with_cache = next((m for m in models.values() if m.meta.get("cache")), models["base"])
    real = held_out(with_cache, codec, frames, bench.clips, bench.cache, bench.data)
    frames = min(z.shape[1] for z in real.latents)
    seconds = frames / rate
    tokens = math.ceil(frames / models["base"].cfg.dit.patch)
    sigmas = karras_sigmas(bench.steps)
    bench.out.mkdir(parents=True, exist_ok=True)
    channels = models["base"].cfg.dit.latent_channels

    recon = [codec.decode(z)[:, : frames * codec.samples_per_latent] for z in real.latents]
    classifier = Classifier(bench.classifier) if bench.classifier is not None else None
    reference = {"method": "codec reconstruction of the real clips", **score(
        [z[:, :frames] for z in real.latents], recon, real, codec.sample_rate, classifier)}
    nets, nulls = {}, {}
    for name, m in models.items():
        if bench.engine == "onnx":
            nets[name] = onnx_network(m, bench.out / "onnx" / name, bench.threads)
        else:
            nets[name] = torch_network(m)
        nulls[name] = m.denoiser.net.null_text.detach().numpy()
        warm = np.zeros((2, channels, frames), np.float32)  # first calls allocate: not timed
        for k in sorted({schedule.min_blocks, depth}):
            nets[name](warm, 1.0, np.zeros((2, len(nulls[name])), np.float32), 1.0, k)
    # A fine-tuned model sees its budget; the base model was trained at budget 1 only, so
    # it keeps that input (an unseen budget value would be noise) while blocks are dropped.
    fed = {name: (lambda b: b) if "presto_l" in m.meta else (lambda b: 1.0)
           for name, m in models.items()}
    rows = []
    cfg_batch = 1 if bench.guidance == 1.0 else 2
    for budget in bench.budgets:
        runs = {name: {"latents": [], "audio": [], "walls": [], "ks": []} for name in models}
        for i, text in enumerate(real.text):
            for name in models:  # round-robin: a change in machine load hits all methods alike
                r = runs[name]
                t0 = time.perf_counter()
                z, k = generate_clip(nets[name], nulls[name], text, schedule, budget, sigmas,
                                     bench.sampler, bench.guidance, (channels, frames),
                                     bench.seed * 100_003 + i, fed[name](budget))
                r["walls"].append(time.perf_counter() - t0)
                r["ks"] += k
                r["latents"].append(z)
                r["audio"].append(codec.decode(z)[:, : frames * codec.samples_per_latent])
        for name, r in runs.items():
            ks, wall = r["ks"], float(np.median(r["walls"]))
            cfg = models[name].cfg.dit
            flops = sum(dit_flops(cfg, tokens, k, cfg_batch) for k in ks) / len(real.text)
            row = {"method": name, "budget": budget, "ms_per_clip": 1e3 * wall,
                   "x_realtime": seconds / wall, "blocks_mean": float(np.mean(ks)),
                   "block_fraction": float(np.mean(ks)) / depth,
                   "gflops_per_clip": flops / 1e9, "evals_per_clip": len(ks) / len(real.text),
                   **score(r["latents"], r["audio"], real, codec.sample_rate, classifier)}
            rows.append(row)
            print(f"{name:>9} b={budget:<5g} {row['ms_per_clip']:9.1f} ms/clip "
                  f"k/depth={row['block_fraction']:.3f} FD={row['fd_logmel']:.3f}")
    result = {"config": {**{k: (str(v) if isinstance(v, Path) else v)
                            for k, v in asdict(bench).items()},
                         "clip_seconds": seconds, "frames": frames, "tokens": tokens,
                         "depth": depth, "schedule": schedule.to_dict(),
                         "evaluated_sigmas": evaluated_sigmas(sigmas, SAMPLER_NAMES[bench.sampler]),
                         "held_out": len(real.text),
                         "train_steps": {name: m.meta.get("step") for name, m in models.items()},
                         "exit_modes": {name: m.cfg.dit.exit_mode for name, m in models.items()}},
              "reference": reference, "rows": rows}
    result["targets"] = targets(rows)
    (bench.out / "presto_l.json").write_text(json.dumps(result, indent=2) + "\n")
    (bench.out / "presto_l.md").write_text(markdown(result))
    plot(result, bench.out / "presto_l.png")
    return result


def targets(rows: list[dict], speedup: float = 1.3) -> dict | None:
    """Issue 5's targets at the highest budget below 1 whose Presto-L rows run at least
    `speedup` times faster than the base at budget 1: Presto-L's FD no worse than the base's
    and below ASE's there. FD on the classifier's features when measured, else log-mel."""
    key = "fd_classifier" if all("fd_classifier" in r for r in rows) else "fd_logmel"
    by = {(r["method"], r["budget"]): r for r in rows}
    if ("base", 1.0) not in by:
        return None
    base = by[("base", 1.0)]
    fast = sorted((r for r in rows if r["method"] == "presto-l" and r["budget"] < 1.0
                   and base["ms_per_clip"] / r["ms_per_clip"] >= speedup),
                  key=lambda r: -r["budget"])
    if not fast or ("ase", fast[0]["budget"]) not in by:
        return None
    pl, ase = fast[0], by[("ase", fast[0]["budget"])]
    return {"fd": key, "budget": pl["budget"], "speedup": base["ms_per_clip"] / pl["ms_per_clip"],
            "base": base[key], "presto_l": pl[key], "ase": ase[key],
            "no_worse_than_base": pl[key] <= base[key], "better_than_ase": pl[key] < ase[key]}


def markdown(result: dict) -> str:
    c = result["config"]
    lines = [
        f"# Presto-L benchmark ({c['held_out']} held-out clips of {c['clip_seconds']:.1f} s, "
        f"{c['tokens']} tokens; {c['sampler']} {c['steps']} steps, CFG {c['guidance']}, "
        f"{c['engine']}, {c['threads']} threads)",
        "",
        "| budget | method | ms per clip | x realtime | blocks run (of depth) | GFLOPs per clip "
        "| FD log-mel | level offset, all / top bands | FD latent | tempo acc | tempo err (oct) "
        "| FD classifier | family acc |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(result["rows"], key=lambda r: (-r["budget"], METHODS.index(r["method"]))):
        lines.append(
            f"| {r['budget']:g} | {LABELS[r['method']]} | {r['ms_per_clip']:.0f} | "
            f"{r['x_realtime']:.2f} | {r['block_fraction'] * c['depth']:.2f} "
            f"({r['block_fraction']:.0%}) | {r['gflops_per_clip']:.3g} | {r['fd_logmel']:.3f} | "
            f"{optional_cell(r, 'lmean', '+.2f')} / {optional_cell(r, 'lhigh', '+.2f')} | "
            f"{r['fd_latent']:.3f} | {r['tempo_acc']:.2f} | {r['tempo_err']:.3f} | "
            f"{optional_cell(r, 'fd_classifier', '.1f')} | "
            f"{optional_cell(r, 'family_acc', '.2f')} |")
    ref = result["reference"]
    lines += ["", f"Reference, {ref['method']}: FD log-mel {ref['fd_logmel']:.3f}, FD latent "
              f"{ref['fd_latent']:.3f} (0 by construction), tempo acc {ref['tempo_acc']:.2f}.", "",
              "FD: Frechet distance between Gaussian fits of per-clip embeddings (mean and std "
              "over time of 64 log-mel bands; of the codec latent channels) of generated vs "
              "held-out real clips; lower is better; comparable only at equal clip counts. "
              "Level offset: mean log-mel level (nats) of the generated clips minus the "
              f"held-out clips', over all {LOGMEL_BANDS} bands and over the top {HIGH_BANDS} "
              "(< 0: quieter, duller). "
              "Tempo: librosa beat tracking vs the prompt's BPM, octave errors forgiven, 8% "
              "tolerance. Wall time: sampling only (no decode), median per clip. FD classifier "
              "and family acc: the quality yardstick's attribute classifier (its penultimate "
              "features; the share of clips whose predicted family is one the prompt's clip "
              f"has); codec reconstruction: {optional_cell(ref, 'fd_classifier', '.1f')} / "
              f"{optional_cell(ref, 'family_acc', '.2f')}.", ""]
    steps = c.get("train_steps") or {}
    if steps:
        lines += ["Training steps: " + ", ".join(f"{LABELS[n]} {steps[n]}" for n in METHODS
                                                if steps.get(n) is not None) + ".", ""]
    modes = c.get("exit_modes") or {}
    if modes:
        lines += ["Routes (exit modes): " + ", ".join(f"{LABELS[n]} {modes[n]}" for n in METHODS
                                                     if n in modes) + ".", ""]
    t = result.get("targets")
    if t:
        def verdict(ok: bool) -> str:
            return "met" if ok else "NOT met"

        lines += [f"Targets at budget {t['budget']:g} ({t['speedup']:.2f}x the base's speed), "
                  f"{t['fd'].replace('_', ' ')}: Presto-L {t['presto_l']:.1f} vs base "
                  f"{t['base']:.1f} (no worse: {verdict(t['no_worse_than_base'])}), vs ASE "
                  f"{t['ase']:.1f} (better: {verdict(t['better_than_ase'])}).", ""]
    return "\n".join(lines)


def optional_cell(row: dict, key: str, spec: str) -> str:
    """row[key] formatted, or an en dash where the bench ran without the classifier."""
    return format(row[key], spec) if key in row else "\u2013"


def plot(result: dict, path: Path) -> None:
    """Speed (ms per clip) against FD log-mel, one line per method through its budgets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        rows = sorted((r for r in result["rows"] if r["method"] == method),
                      key=lambda r: r["budget"])
        if not rows:
            continue
        xs, ys = [r["ms_per_clip"] for r in rows], [r["fd_logmel"] for r in rows]
        ax.plot(xs, ys, marker="o", label=LABELS[method])
        for r, x, y in zip(rows, xs, ys, strict=True):
            ax.annotate(f"{r['budget']:g}", (x, y), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.axhline(result["reference"]["fd_logmel"], color="grey", ls=":", label="codec recon.")
    ax.set_xlabel("ms per clip (sampling)")
    ax.set_ylabel("FD, log-mel statistics (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
