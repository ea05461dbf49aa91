"""Judge a Presto-S / Presto-LS run's EMA snapshots on held-out audio and pick one to export.

    python -m engine.train presto-s-snapshots --run /root/presto-data/runs/presto-s \
        [--clips 32] [--threads 1]

Distillation can pass its best point and drift (docs/presto_s.md), so the trainer keeps
the EMA generator every `snapshot_every` updates (RUN/snapshots/step-N/checkpoint.pt).
Each snapshot is sampled exactly as the FD probe along training samples (the valid
split's fixed windows, fixed prompts and noise, 1/2/4/8 steps, every trained budget),
decoded with the teacher's codec and measured three ways: FD on codec-latent statistics,
on the quality classifier's features ("cfd") and on log-mel statistics ("lfd"; the
classifier ignores level, log-mel does not). The teacher's DPM-Solver++(2M) guided
sampler is measured the same way once (cached in RUN/snapshots_reference.json).

The pick is the snapshot whose samples at the served step count (`--serve-steps`, 4) are
closest to the teacher's on both audio yardsticks: the lowest cfd/cfd_teacher +
lfd/lfd_teacher at budget 1. Valid split only: the test split stays for the quality bench.
Writes RUN/snapshots.jsonl (one row per snapshot) and RUN/snapshots.png.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from engine.model.layer_schedule import LayerSchedule
from engine.train.checkpoint import write_json_atomic
from engine.train.latent_cache import open_latent_cache
from engine.train.presto_l import load_teacher
from engine.train.presto_s import DEFAULT_CLASSIFIER
from engine.train.presto_s_config import PrestoSConfig
from engine.train.presto_s_eval import AudioFD, FDProbe, plot_fd, reference_lines


@dataclass(frozen=True)
class SnapshotJudge:
    run: Path  # engine.train presto-s / presto-ls run with RUN/snapshots
    clips: int | None = None  # valid windows (default: the run's fd_clips)
    serve_steps: int = 4  # the step count the pick is judged at
    classifier: Path = DEFAULT_CLASSIFIER
    codec: Path | None = None  # exported codec (default: the teacher's)
    threads: int = 1


def snapshot_dirs(run: Path) -> list[Path]:
    """RUN/snapshots/step-N directories holding a checkpoint, in update order."""
    root = Path(run) / "snapshots"
    found = sorted(p for p in root.glob("step-*") if (p / "checkpoint.pt").is_file())
    if not found:
        raise SystemExit(f"no snapshots in {root}: train with --snapshot-every N "
                         "(engine.train presto-s / presto-ls)")
    return found


def pick(rows: list[dict], reference: dict[str, float], steps: int) -> dict:
    """The row with the lowest cfd_n / cfd_teacher + lfd_n / lfd_teacher at n = steps."""
    def score(row: dict) -> float:
        return (row[f"cfd_{steps}"] / reference["cfd"]) + (row[f"lfd_{steps}"] / reference["lfd"])

    return min(rows, key=score)


def main(judge: SnapshotJudge) -> dict:
    torch.set_num_threads(judge.threads)
    dirs = snapshot_dirs(judge.run)
    first = torch.load(dirs[0] / "checkpoint.pt", map_location="cpu", weights_only=False)
    cfg = PrestoSConfig.from_dict(first["presto_s"])
    clips = judge.clips or cfg.fd_clips
    audio, why = AudioFD.open(judge.codec or first.get("codec"), judge.classifier)
    if audio is None:
        raise SystemExit(f"cannot decode and classify samples: {why}")
    cache = open_latent_cache(Path(first["cache"]))
    patch = first["train_config"]["dit"]["patch"]
    probe = FDProbe.build(cache, clips, cfg.probe_frames, patch, audio=audio)
    ref_path = Path(judge.run) / "snapshots_reference.json"
    key = {"clips": clips, "frames": cfg.probe_frames, "teacher": first["teacher"],
           "guidance": cfg.guidance, "steps": cfg.reference_steps}
    cached = json.loads(ref_path.read_text()) if ref_path.is_file() else {}
    if cached.get("key") == key:
        reference = cached["reference"]
    else:
        teacher, _ = load_teacher(Path(first["teacher"]))
        reference = probe.teacher_fd(teacher, cfg.guidance, cfg.reference_steps)
        write_json_atomic({"key": key, "reference": reference}, ref_path)
    layered = "schedule" in first
    budgets = (1.0, cfg.b_min) if layered else (1.0,)
    rows = []
    for d in tqdm(dirs, desc="snapshots", unit="snapshot"):
        model, state = load_teacher(d)
        depth = model.net.cfg.depth
        schedule = (LayerSchedule(**state["schedule"]) if layered
                    else LayerSchedule.for_depth(depth))
        rows.append({"step": int(state["step"]), "wall_s": float(state["wall_s"]),
                     **probe.generator_row(model, cfg.fd_steps, budgets, schedule,
                                           cfg.noise_gen)})
    out = Path(judge.run)
    with open(out / "snapshots.jsonl.tmp", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(out / "snapshots.jsonl.tmp", out / "snapshots.jsonl")
    plot_fd(out / "snapshots.jsonl", out / "snapshots.png", reference)
    best = pick(rows, reference_lines(reference), judge.serve_steps)
    n = judge.serve_steps
    print(f"teacher (DPM-Solver++(2M) {cfg.reference_steps} steps, CFG {cfg.guidance:g}): "
          f"cfd {reference['cfd']:.1f}, lfd {reference['lfd']:.1f}")
    for r in rows:
        marks = " <- pick" if r is best else ""
        cells = " ".join(f"{s}: cfd {r[f'cfd_{s}']:.1f} lfd {r[f'lfd_{s}']:.1f} |"
                         for s in cfg.fd_steps)
        level = (f" level {r[f'lmean_{n}']:+.2f} high {r[f'lhigh_{n}']:+.2f} at {n}"
                 if f"lmean_{n}" in r else "")
        print(f"step {r['step']:>5} | {cells}{level}{marks}")
    chosen = out / "snapshots" / f"step-{best['step']:06d}"
    print(f"pick: {chosen} (lowest cfd/teacher + lfd/teacher at {n} steps)")
    return {"reference": reference, "rows": rows, "pick": best["step"]}
