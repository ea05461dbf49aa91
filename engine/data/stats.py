"""Corpus statistics: hours, works, clips per instrument family, render speed, disk size."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.data.build import WorkResult


def read_metadata(corpus: Path) -> list[dict]:
    """All clip records of a built corpus (DIR/metadata.jsonl)."""
    path = Path(corpus) / "metadata.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: build the corpus first (python -m engine.data build --out DIR)"
        )
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file())


def corpus_stats(
    corpus: Path,
    results: list[WorkResult] | None = None,
    wall_seconds: float | None = None,
    workers: int | None = None,
) -> dict:
    """Summarise a corpus from its metadata (and, right after a build, its per-work results)."""
    records = read_metadata(corpus)
    seconds = Counter()
    for r in records:
        seconds[r["split"]] += r["duration_s"]
    families = Counter(f for r in records for f in r["families"])
    sources = Counter(r["source"] for r in records)
    works = {r["work"] for r in records}
    stats: dict = {
        "clips": len(records),
        "works": len(works),
        "hours": round(sum(seconds.values()) / 3600, 3),
        "hours_by_split": {k: round(v / 3600, 3) for k, v in sorted(seconds.items())},
        "works_by_split": dict(
            Counter(r["split"] for r in {r["work"]: r for r in records}.values())
        ),
        "clips_by_family": dict(families.most_common()),
        "clips_by_source": dict(sources.most_common()),
        "disk_mb": round(disk_bytes(corpus) / 2**20, 1),
    }
    if results is not None:
        failed = [r for r in results if r.failure]
        busy = sum(r.render_seconds for r in results)
        audio = sum(r.audio_seconds for r in results)
        stats["works_attempted"] = len(results)
        stats["works_failed"] = len(failed)
        stats["failure_kinds"] = dict(Counter(r.failure.split(":")[0] for r in failed))
        stats["realtime_factor_per_worker"] = round(audio / busy, 1) if busy else None
        if wall_seconds:
            stats["wall_seconds"] = round(wall_seconds, 1)
            stats["workers"] = workers
    return stats


def format_stats(stats: dict) -> str:
    """A short human-readable table."""
    lines = [
        f"{'clips':>24}: {stats['clips']}",
        f"{'works':>24}: {stats['works']}",
        f"{'hours':>24}: {stats['hours']}  {stats['hours_by_split']}",
        f"{'disk':>24}: {stats['disk_mb']} MB",
    ]
    for key in (
        "works_attempted",
        "works_failed",
        "failure_kinds",
        "realtime_factor_per_worker",
        "wall_seconds",
    ):
        if key in stats:
            lines.append(f"{key:>24}: {stats[key]}")
    lines.append(f"{'clips by family':>24}:")
    lines += [f"{name:>24}  {count}" for name, count in stats["clips_by_family"].items()]
    return "\n".join(lines)


def plot_stats(stats: dict, path: Path) -> None:
    """Bar charts of clips per instrument family and per source, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, key, title in (
        (axes[0], "clips_by_family", "clips per instrument family"),
        (axes[1], "clips_by_source", "clips per source"),
    ):
        items = list(stats[key].items())
        ax.barh([k for k, _ in items][::-1], [v for _, v in items][::-1], color="#4c72b0")
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(
        f"{stats['hours']} h, {stats['works']} works, {stats['clips']} clips, {stats['disk_mb']} MB"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
