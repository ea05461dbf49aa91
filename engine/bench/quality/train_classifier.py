"""Train the yardstick's classifier on the corpus's train split; validate on valid, score test.

    python -m engine.train classifier --data /root/presto-data/corpus \
        --out /root/presto-data/runs/classifier [--minutes 6] [--steps 4000] [--resume]

1. Log-mel of every clip of train, valid and test, cached once under RUN/mels
   (engine.bench.quality.mel_cache; about 4 min for the 35 h corpus on one core).
2. Training: batches of random 5 s crops of train clips (with a random frequency
   mask, time mask and band limit), cross-entropy per head with inverse-frequency
   class weights (mode is 83% major: unweighted, "always major" would be a local
   optimum), AdamW, a
   cosine learning rate over min(--steps, --minutes of wall time): the schedule's
   progress is whichever is further along. One torch thread by default.
3. Every --eval-every steps and at the end: clip-level accuracy on the valid split
   (the first 10 s of each clip, crop probabilities averaged, as the bench measures
   clips). Checkpoint RUN/checkpoint.pt (resume with --resume), log RUN/log.jsonl,
   curves RUN/curves.png.
4. At the end: test-split accuracy per head against chance (majority class), the
   network exported to RUN/classifier.onnx (checked against PyTorch) and described in
   RUN/classifier.json, which is what `python -m engine.bench quality --classifier`
   reads.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.bench.quality import frontend
from engine.bench.quality.attributes import HEADS, Attributes
from engine.bench.quality.classifier import AttributeNet, ClassifierConfig
from engine.bench.quality.mel_cache import (
    MelSplit,
    build_cache,
    frontend_settings,
    open_split,
)
from engine.bench.quality.scores import head_accuracy
from engine.train.checkpoint import read_log, save_atomic, truncate_log, write_json_atomic

EVAL_SECONDS = 10.0  # clip prefix scored in evaluation (the bench's default clip length)
WARMUP = 0.03  # share of the schedule with a linear learning-rate warm-up
ONNX_TOLERANCE = 1e-3  # max abs logit/feature difference ONNX vs PyTorch


@dataclass(frozen=True)
class ClassifierRun:
    data: Path  # corpus dir with metadata.jsonl
    out: Path  # run dir
    minutes: float = 6.0  # training wall-clock budget (the cache build is not counted)
    steps: int = 4000  # at most this many steps
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    eval_every: int = 150
    seed: int = 0
    threads: int = 1  # torch threads (1 leaves the other core to a training run)
    resume: bool = False
    cache: Path | None = None  # log-mel cache (default RUN/mels)


@dataclass
class Targets:
    family: np.ndarray  # (n, n_family) float32: 1/k on each of a clip's k families
    tempo: np.ndarray  # (n,) int64, -1 unknown
    mode: np.ndarray  # (n,) int64, -1 unknown
    labels: list[dict]  # Attributes.labels of each clip


def targets(split: MelSplit, attrs: Attributes) -> Targets:
    labels = [attrs.labels(r) for r in split.rows]
    fam = np.zeros((len(labels), len(attrs.families)), np.float32)
    for i, lab in enumerate(labels):
        if lab["family"]:
            fam[i, lab["family"]] = 1.0 / len(lab["family"])
    return Targets(fam, np.array([lab["tempo"] for lab in labels], np.int64),
                   np.array([lab["mode"] for lab in labels], np.int64), labels)


def class_weights(t: Targets) -> dict[str, torch.Tensor]:
    """Inverse class frequency over the labelled train clips, mean 1 over present classes."""
    out = {}
    counts = {"family": t.family.sum(axis=0),
              "tempo": np.bincount(t.tempo[t.tempo >= 0], minlength=3).astype(np.float64),
              "mode": np.bincount(t.mode[t.mode >= 0], minlength=2).astype(np.float64)}
    for head, c in counts.items():
        w = np.where(c > 0, 1.0 / np.maximum(c, 1e-9), 0.0)
        w = w / max(w[c > 0].mean(), 1e-12) if np.any(c > 0) else np.ones_like(c)
        out[head] = torch.tensor(w, dtype=torch.float32)
    return out


def measure_scale(split: MelSplit, clips: int = 200) -> float:
    """Std of crop-mean-removed log-mel values over (up to) the first `clips` clips."""
    values = []
    for i in range(min(clips, len(split))):
        mel = split.clip(i, frontend.CROP_FRAMES)
        values.append((mel - mel.mean()).ravel())
    return float(np.concatenate(values).std()) if values else 1.0


def make_batch(split: MelSplit, t: Targets, rng: np.random.Generator, size: int, scale: float
               ) -> tuple[torch.Tensor, ...]:
    """Random 5 s crops of random clips, masked: x (B, 1, M, L) and the three targets."""
    ids = rng.integers(0, len(split), size)
    crops = []
    for i in ids:
        start = int(rng.integers(0, max(1, int(split.lengths[i]) - frontend.CROP_FRAMES + 1)))
        crops.append(split.segment(int(i), start, frontend.CROP_FRAMES))
    x = frontend.normalise(np.stack(crops), scale)  # (B, 1, M, L)
    m, length = x.shape[2], x.shape[3]
    for b in range(size):  # SpecAugment-style masks (0 = the crop's mean level)
        if rng.random() < 0.3:  # a band limit, as a lossy codec or a dull synth makes
            cut = int(rng.integers(m // 2, m))
            x[b, 0, cut:] = x[b, 0, :cut].min()
        if rng.random() < 0.5:
            w = int(rng.integers(1, 9))
            f0 = int(rng.integers(0, m - w))
            x[b, 0, f0:f0 + w] = 0.0
        if rng.random() < 0.5:
            w = int(rng.integers(1, 21))
            s0 = int(rng.integers(0, length - w))
            x[b, 0, :, s0:s0 + w] = 0.0
    return (torch.from_numpy(x), torch.from_numpy(t.family[ids]),
            torch.from_numpy(t.tempo[ids]), torch.from_numpy(t.mode[ids]))


def loss_terms(outputs: tuple[torch.Tensor, ...], family: torch.Tensor, tempo: torch.Tensor,
               mode: torch.Tensor, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weighted cross-entropy per head (soft family targets; -1 labels ignored)."""
    _, fam_logits, tempo_logits, mode_logits = outputs
    wf = (family * weights["family"]).sum(dim=1)  # (B,) weight of each clip's family mix
    fam = -(family * F.log_softmax(fam_logits, dim=1)).sum(dim=1)
    has = family.sum(dim=1) > 0
    terms = {"family": (fam * wf)[has].sum() / wf[has].sum().clamp_min(1e-8)}
    for head, logits, y in (("tempo", tempo_logits, tempo), ("mode", mode_logits, mode)):
        if bool((y >= 0).any()):
            terms[head] = F.cross_entropy(logits, y, weight=weights[head], ignore_index=-1)
        else:
            terms[head] = logits.sum() * 0.0
    return terms


@torch.no_grad()
def predict_split(net: AttributeNet, split: MelSplit, scale: float, max_frames: int
                  ) -> dict[str, np.ndarray]:
    """Clip-level class probabilities per head (crop probabilities averaged): head -> (n, K)."""
    net.eval()
    probs: dict[str, list[np.ndarray]] = {h: [] for h in HEADS}
    for i in range(len(split)):
        x = torch.from_numpy(frontend.normalise(
            frontend.clip_crops(split.clip(i, max_frames)), scale))  # (K, 1, M, L)
        _, *logits = net(x)
        for head, lg in zip(HEADS, logits, strict=True):
            probs[head].append(F.softmax(lg, dim=1).mean(dim=0).numpy())
    return {h: np.stack(p) if p else np.zeros((0, 1)) for h, p in probs.items()}


def evaluate(net: AttributeNet, split: MelSplit, t: Targets, scale: float) -> dict:
    """Accuracy, balanced accuracy and majority-class chance per head, on clip prefixes."""
    probs = predict_split(net, split, scale, int(EVAL_SECONDS * frontend.FRAME_RATE))
    return {h: head_accuracy(probs[h].argmax(axis=1), [lab[h] for lab in t.labels])
            for h in HEADS}


def learning_rate(run: ClassifierRun, progress: float) -> float:
    warm = min(1.0, progress / WARMUP)
    return run.lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def export_onnx(net: AttributeNet, path: Path) -> float:
    """RUN/classifier.onnx (dynamic batch and length); returns the max abs error vs torch."""
    import onnxruntime as ort

    net = net.eval()
    x = torch.randn(2, 1, net.cfg.n_mels, frontend.CROP_FRAMES)
    batch = torch.export.Dim("batch", min=1, max=4096)
    frames = torch.export.Dim("frames", min=frontend.MIN_FRAMES)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and axis-name chatter
        program = torch.onnx.export(net, (x,), dynamo=True, input_names=["log_mel"],
                                    output_names=["features", "family", "tempo", "mode"],
                                    dynamic_shapes={"x": {0: batch, 3: frames}},
                                    optimize=False, verbose=False)
    program.save(str(path), external_data=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    err = 0.0
    g = torch.Generator().manual_seed(0)
    for b, n in ((1, frontend.CROP_FRAMES), (3, frontend.MIN_FRAMES), (2, 431)):
        xb = torch.randn(b, 1, net.cfg.n_mels, n, generator=g)
        with torch.no_grad():
            ref = net(xb)
        got = sess.run(None, {"log_mel": xb.numpy()})
        err = max(err, *(float(np.abs(a - r.numpy()).max()) for a, r in zip(got, ref,
                                                                          strict=True)))
    if err > ONNX_TOLERANCE:
        raise RuntimeError(f"classifier ONNX export differs from PyTorch by {err:.2e}")
    return err


def plot_curves(log: list[dict], chance: dict, path: Path) -> None:
    """Train/valid loss and valid accuracy per head (chance dashed) against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    tr = [r for r in log if "loss" in r]
    ev = [r for r in log if "valid" in r]
    a.plot([r["step"] for r in tr], [r["loss"] for r in tr], lw=1, label="train loss")
    a.set_xlabel("step")
    a.set_title("loss (sum of the three heads)")
    a.grid(alpha=0.3)
    a.legend()
    for i, h in enumerate(HEADS):
        color = f"C{i}"
        b.plot([r["step"] for r in ev], [r["valid"][h]["acc"] for r in ev], marker="o", ms=3,
               color=color, label=f"{h} (valid)")
        if h in chance:
            b.axhline(chance[h], color=color, ls="--", lw=0.8)
    b.set_xlabel("step")
    b.set_title("clip accuracy on valid (dashed: majority class)")
    b.set_ylim(0, 1)
    b.grid(alpha=0.3)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(run: ClassifierRun) -> Path:
    from tqdm import tqdm

    torch.set_num_threads(run.threads)
    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(run.cache) if run.cache else out / "mels"
    counts = build_cache(Path(run.data), cache)
    if counts.get("train", 0) == 0 or counts.get("valid", 0) == 0:
        raise ValueError(f"{run.data}: the classifier needs train and valid clips, found "
                         f"{counts}")
    train, valid = open_split(cache, "train"), open_split(cache, "valid")
    attrs = Attributes.from_rows(train.rows)
    t_train, t_valid = targets(train, attrs), targets(valid, attrs)
    weights = class_weights(t_train)
    cfg = ClassifierConfig(n_family=len(attrs.families))
    net = AttributeNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=run.lr, weight_decay=run.weight_decay)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.jsonl"
    step, seconds, scale = 0, 0.0, None
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state["attributes"] != attrs.to_dict():
            raise ValueError(f"{ckpt_path} was trained on other classes; use a new --out")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, seconds, scale = state["step"], state["seconds"], state["scale"]
        truncate_log(log_path, step)
    elif log_path.exists():
        log_path.unlink()
    if scale is None:
        scale = measure_scale(train)
    budget = run.minutes * 60.0

    def progress() -> float:
        return max(step / run.steps, seconds / budget if budget > 0 else 0.0)

    def save() -> None:
        save_atomic({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                     "seconds": seconds, "scale": scale, "attributes": attrs.to_dict(),
                     "config": cfg.to_dict()}, ckpt_path)

    def log(row: dict) -> None:
        with open(log_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    bar = tqdm(total=run.steps, initial=step, desc="classifier", unit="step", dynamic_ncols=True)
    running = []
    while progress() < 1.0:
        t0 = time.perf_counter()
        net.train()
        lr = learning_rate(run, progress())
        for group in opt.param_groups:
            group["lr"] = lr
        rng = np.random.default_rng([run.seed, step])
        torch.manual_seed(run.seed * 1_000_003 + step)
        x, fam, tempo, mode = make_batch(train, t_train, rng, run.batch, scale)
        terms = loss_terms(net(x), fam, tempo, mode, weights)
        loss = sum(terms.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        seconds += time.perf_counter() - t0
        running.append({k: v.item() for k, v in terms.items()})
        bar.update(1)
        if step % 25 == 0:
            mean = {k: float(np.mean([r[k] for r in running])) for k in running[0]}
            log({"step": step, "seconds": round(seconds, 1), "lr": lr,
                 "loss": sum(mean.values()), **{f"loss_{k}": v for k, v in mean.items()}})
            bar.set_postfix(loss=f"{sum(mean.values()):.3f}")
            running = []
        if step % run.eval_every == 0 and progress() < 1.0:
            metrics = evaluate(net, valid, t_valid, scale)
            log({"step": step, "valid": metrics})
            save()
            bar.write(f"step {step}: valid acc " + ", ".join(
                f"{h} {metrics[h]['acc']:.3f}" for h in HEADS))
    bar.close()
    valid_metrics = evaluate(net, valid, t_valid, scale)
    log({"step": step, "valid": valid_metrics})
    save()
    test_metrics = None
    try:
        test = open_split(cache, "test")
        if len(test):
            test_metrics = evaluate(net, test, targets(test, attrs), scale)
    except ValueError:
        pass
    parity = export_onnx(net, out / "classifier.onnx")
    from engine.manifest import sha256

    info = {
        "format_version": 1,
        "attributes": attrs.to_dict(),
        "config": cfg.to_dict(),
        "frontend": frontend_settings(),
        "scale": scale,
        "crop_frames": frontend.CROP_FRAMES,
        "onnx_sha256": sha256(out / "classifier.onnx"),
        "onnx_max_abs_error": parity,
        "trained": {"data": str(Path(run.data).resolve()), "steps": step,
                    "train_seconds": round(seconds, 1), "batch": run.batch, "lr": run.lr,
                    "train_clips": len(train), "valid_clips": len(valid),
                    "eval_seconds": EVAL_SECONDS},
        "valid": valid_metrics,
        "test": test_metrics,
    }
    write_json_atomic(info, out / "classifier.json")
    plot_curves(read_log(log_path), {h: valid_metrics[h]["chance"] for h in HEADS},
                out / "curves.png")
    summary = test_metrics or valid_metrics
    print(f"classifier: {step} steps in {seconds / 60:.1f} min; "
          f"{'test' if test_metrics else 'valid'} accuracy " + ", ".join(
              f"{h} {summary[h]['acc']:.3f} (chance {summary[h]['chance']:.3f})" for h in HEADS))
    return out
