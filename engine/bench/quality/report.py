"""The yardstick's outputs: target verdicts, markdown tables, JSON, spectrograms, docs block.

    write(result, Path("reports/quality"), docs=Path("docs/benchmarks.md"))

OUT/results.json holds everything measured (per row, per head, per prompt); OUT/results.md
the tables; with `docs`, the block between DOCS_BEGIN and DOCS_END in that markdown
file is replaced by the same tables (links rewritten relative to it), the rest of the
file is left as written by hand.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from engine.bench.quality.attributes import HEADS

DOCS_BEGIN = "<!-- quality-table:begin (python -m engine.bench quality --docs) -->"
DOCS_END = "<!-- quality-table:end -->"
FD_MARGIN = 0.8  # "clear margin": an FD at most 0.8 x the baseline's
ADHERENCE_MARGIN = 0.10  # "clear margin": adherence at least 10 points above the baseline's
ABOVE_CHANCE = 2.0  # "well above chance": at least twice the majority-class share


def _find(rows: list[dict], kind: str, steps: int | None = None) -> dict | None:
    for r in rows:
        if r["kind"] == kind and (steps is None or r.get("steps") == steps):
            return r
    return None


def targets(result: dict) -> list[dict]:
    """The issue's targets as pass/fail lines with the figures they compare."""
    rows, steps = result["rows"], result["model"]["default_steps"]
    model = _find(rows, "model", steps)
    out: list[dict] = []

    def check(name: str, value: float, baseline: float, ok: bool) -> None:
        out.append({"target": name, "value": value, "baseline": baseline, "pass": bool(ok)})

    for kind, label in (("untrained", "untrained network"), ("shuffled", "shuffled captions")):
        base = _find(rows, kind)
        if model is None or base is None:
            continue
        if kind == "untrained":
            for key in ("fd_classifier", "fd_joint"):
                check(f"{key} at {steps} steps <= {FD_MARGIN:g} x {label}", model[key],
                      base[key], model[key] <= FD_MARGIN * base[key])
        else:  # same output distribution: plain FD cannot tell; the pairing part of joint FD can
            a, b = (r["fd_joint"] - r["fd_classifier"] for r in (model, base))
            check(f"fd_joint - fd_classifier at {steps} steps <= {FD_MARGIN:g} x {label}", a, b,
                  a <= FD_MARGIN * b)
        pairs = [(f"{h} adherence", model["adherence"][h]["acc"], base["adherence"][h]["acc"])
                 for h in HEADS]
        if "tempo_librosa" in model and "tempo_librosa" in base:
            pairs.append(("tempo (librosa) adherence", model["tempo_librosa"]["tempo_acc"],
                          base["tempo_librosa"]["tempo_acc"]))
        for name, a, b in pairs:
            check(f"{name} at {steps} steps >= {label} + {ADHERENCE_MARGIN:g}", a, b,
                  a >= b + ADHERENCE_MARGIN)
    if model is not None:
        fam = model["adherence"]["family"]
        check(f"family adherence at {steps} steps >= {ABOVE_CHANCE:g} x chance (majority)",
              fam["acc"], fam["chance"], fam["acc"] >= ABOVE_CHANCE * fam["chance"])
    cont = result.get("continuation")
    if cont and len(cont["rows"]) == 2:
        given, blind = cont["rows"]
        for key in ("fd_classifier", "fd_joint_context", "seam_ratio"):
            if key in given and key in blind:  # fd_joint_context: since session 8
                check(f"continuation {key} < unconditional", given[key], blind[key],
                      given[key] < blind[key])
    return out


def _f(x: object, fmt: str = ".2f") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return format(x, fmt)


def tables(result: dict, link_root: str = "") -> list[str]:
    """Markdown lines: main table, continuation, targets, listening pack."""
    lines = [
        "| row | FD classifier | FD joint | FD log-mel | family | tempo band | mode "
        "| tempo (librosa) | note density err | s per clip | x realtime |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        adh = r.get("adherence", {})
        tempo = r.get("tempo_librosa", {})
        lines.append(
            f"| {r['row']} | {_f(r['fd_classifier'])} | {_f(r['fd_joint'])} | "
            f"{_f(r['fd_logmel'])} | "
            + " | ".join(_f(adh.get(h, {}).get("acc")) for h in HEADS)
            + f" | {_f(tempo.get('tempo_acc'))} | {_f(r.get('note_density_err'), '.3f')} | "
            f"{_f(r.get('seconds_per_clip'))} | {_f(r.get('x_realtime'), '.1f')} |")
    chance = result["rows"][0].get("adherence", {})
    lines += ["", "Adherence chance (majority class among the prompts): " + ", ".join(
        f"{h} {_f(chance.get(h, {}).get('chance'))}" for h in HEADS) + "."]
    cont = result.get("continuation")
    if cont:
        lines += ["", f"Continuation: {cont['context_seconds']:g} s of each prompt clip given, "
                  f"{cont['continued_seconds']:g} s generated; real seam jump "
                  f"{cont['real_seam_jump']:.3f} nats.", "",
                  "| row | FD classifier vs real rest | FD joint with the context | FD log-mel "
                  "| seam jump | seam ratio |",
                  "|---|---|---|---|---|---|"]
        for r in cont["rows"]:
            lines.append(f"| {r['row']} | {_f(r['fd_classifier'])} | "
                         f"{_f(r.get('fd_joint_context'))} | {_f(r['fd_logmel'])} | "
                         f"{_f(r['seam_jump'], '.3f')} | {_f(r['seam_ratio'])} |")
    if result.get("targets"):
        lines += ["", "| target | value | baseline | pass |", "|---|---|---|---|"]
        for t in result["targets"]:
            lines.append(f"| {t['target']} | {_f(t['value'], '.3g')} | "
                         f"{_f(t['baseline'], '.3g')} | {'yes' if t['pass'] else '**no**'} |")
    if result.get("listening"):
        lines += ["", "Listening pack (default steps):", ""]
        for item in result["listening"]:
            lines.append(f"- {item['prompt']}: [wav]({link_root}{item['wav']}), "
                         f"[spectrogram]({link_root}{item['png']})")
    return lines


def markdown(result: dict, link_root: str = "") -> str:
    m, c = result["model"], result["classifier"]
    test = c.get("test") or {}
    acc = ", ".join(f"{h} {_f(test.get(h, {}).get('acc'))} (chance "
                    f"{_f(test.get(h, {}).get('chance'))})" for h in HEADS)
    cfg = result["config"]
    head = [
        f"# Quality yardstick: {m['name']} ({m['mode']}, default {m['default_steps']} steps)",
        "",
        f"{len(result['prompts'])} prompts (test-split captions) of {cfg['seconds']:g} s, "
        f"reference set {result['reference_clips']} other test clips; seed {cfg['seed']}. "
        f"Classifier {c['sha256'][:12]} (test-split accuracy {acc}); note density by "
        f"{result['note_density_method']}. Bench wall time {result['wall_seconds'] / 60:.1f} "
        "min. Definitions: docs/benchmarks.md.",
        "",
    ]
    return "\n".join(head + tables(result, link_root)) + "\n"


def _jsonable(x: object) -> object:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | float):
        return float(x) if math.isfinite(float(x)) else None
    return x


def write(result: dict, out: Path, docs: Path | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(_jsonable(result), indent=2) + "\n")
    (out / "results.md").write_text(markdown(result))
    if docs is not None:
        update_docs(result, out, docs)


def update_docs(result: dict, out: Path, docs: Path) -> None:
    """Replace the quality block of `docs` (appending one if it has none)."""
    rel = os.path.relpath(out.resolve(), docs.resolve().parent).replace(os.sep, "/") + "/"
    m = result["model"]
    block = [DOCS_BEGIN, "",
             f"Latest run: {m['name']} ({m['mode']}), {len(result['prompts'])} prompts of "
             f"{result['config']['seconds']:g} s; full report [{rel}results.md]"
             f"({rel}results.md).", "", *tables(result, rel), "", DOCS_END]
    text = docs.read_text() if docs.is_file() else "# Benchmarks\n"
    if DOCS_BEGIN in text and DOCS_END in text:
        before, rest = text.split(DOCS_BEGIN, 1)
        after = rest.split(DOCS_END, 1)[1]
        text = before + "\n".join(block) + after
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text)


def spectrogram_png(audio: np.ndarray, sample_rate: int, path: Path, title: str) -> None:
    """audio (C, N) -> a log-mel spectrogram image (the classifier's front end)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engine.bench.quality.frontend import FRAME_RATE, log_mel

    mel = log_mel(audio, sample_rate)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma",
              extent=(0, mel.shape[1] / FRAME_RATE, 0, mel.shape[0]))
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel band")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
