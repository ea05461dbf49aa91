"""Build the training corpus: parallel, deterministic for a seed, resumable after a crash.

Layout of a corpus directory:
    build.json          the settings it was built with (a resume must use the same ones)
    works/<stem>.json   one file per finished work: its clip records or why it failed
    audio/<split>/*.flac, midi/*.mid
    metadata.jsonl      one JSON object per clip, in build order (rewritten at the end)
    failures.jsonl, stats.json

A work counts as done only when its works/<stem>.json exists; that file is written last and
atomically, so an interrupted build resumes by redoing the works that have none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.data.captions import CaptionFacts, make_caption
from engine.data.instruments import family_of
from engine.data.midi import build_midi, choose_plan
from engine.data.render import (
    DEFAULT_SOUNDFONT,
    SAMPLE_RATE,
    FluidSynthRenderer,
    check_renderer,
)
from engine.data.score import read_score, transpose_tonic
from engine.data.works import Work, list_works, parse_work

log = logging.getLogger(__name__)

SILENCE_DBFS = -55.0  # clips quieter than this are dropped
LOOKAHEAD = 8  # works in flight per worker while results are consumed in build order


@dataclass(frozen=True)
class BuildConfig:
    """Settings of one corpus build. Fields marked (*) must match when a build is resumed."""

    out: Path
    seed: int = 0  # (*) decides work order, orchestration, tempo, transposition, captions
    limit: int | None = None  # at most this many works (first in seeded order)
    hours: float | None = None  # stop once the included works reach this much audio
    splits: tuple[str, ...] | None = None  # render only works of these splits (None: all)
    workers: int = 2
    renders_per_work: int = 2  # (*) distinct renders of each work
    clip_seconds: float = 32.0  # (*) clips are at most this long
    min_clip_seconds: float = 8.0  # (*) a shorter last piece of a render is dropped
    max_clips_per_render: int = 3  # (*) long works contribute their opening minutes only
    channels: int = 1  # (*) 1 = mono, 2 = stereo
    sample_rate: int = SAMPLE_RATE  # (*)
    soundfont: Path = DEFAULT_SOUNDFONT

    def fingerprint(self) -> dict:
        keys = (
            "seed",
            "renders_per_work",
            "clip_seconds",
            "min_clip_seconds",
            "max_clips_per_render",
            "channels",
            "sample_rate",
        )
        return {k: getattr(self, k) for k in keys}


@dataclass
class WorkResult:
    """What rendering one work produced."""

    work_id: str
    records: list[dict] = field(default_factory=list)
    failure: str | None = None
    render_seconds: float = 0.0  # wall time spent on this work

    @property
    def audio_seconds(self) -> float:
        return sum(r["duration_s"] for r in self.records)


class BuildError(RuntimeError):
    """The build cannot start; the message says what to change."""


def _work_rng(seed: int, work_id: str, *salt: int) -> np.random.Generator:
    digest = int(hashlib.sha1(work_id.encode()).hexdigest()[:12], 16)
    return np.random.default_rng([seed, digest, *salt])


def _rms_dbfs(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-12))


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """audio: (channels, samples) float32 -> 16-bit FLAC, written atomically."""
    import soundfile

    tmp = path.with_name(path.name + ".tmp")
    soundfile.write(tmp, audio.T, sample_rate, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)


# One renderer per worker process: loading the soundfont takes a while.
_renderer: FluidSynthRenderer | None = None


def _worker_renderer(cfg: BuildConfig) -> FluidSynthRenderer:
    global _renderer
    if _renderer is None:
        _renderer = FluidSynthRenderer(cfg.soundfont, cfg.sample_rate)
    return _renderer


def render_work(work: Work, cfg: BuildConfig) -> WorkResult:
    """Parse, orchestrate, render and clip one work. Never raises: failures are returned."""
    started = time.perf_counter()
    result = WorkResult(work.work_id)
    try:
        facts = read_score(parse_work(work))
    except Exception as error:  # noqa: BLE001 - any parse failure skips the work
        result.failure = f"parse: {type(error).__name__}: {error}"[:300]
        result.render_seconds = time.perf_counter() - started
        return result
    try:
        renderer = _worker_renderer(cfg)
        max_seconds = cfg.clip_seconds * cfg.max_clips_per_render
        for render_index in range(cfg.renders_per_work):
            plan = choose_plan(
                facts, work.source, _work_rng(cfg.seed, work.work_id, render_index), max_seconds
            )
            midi = build_midi(facts, plan)
            midi_path = cfg.out / "midi" / f"{work.file_stem}_r{render_index}.mid"
            midi.save(str(midi_path.with_name(midi_path.name + ".tmp")))
            os.replace(midi_path.with_name(midi_path.name + ".tmp"), midi_path)
            audio = renderer.render(midi, cfg.channels)  # (channels, samples)
            audio = audio[:, : int(max_seconds * cfg.sample_rate)]
            peak = float(np.abs(audio).max())
            if peak > 0.98:  # keep headroom; the synth's own int16 output is already clipped
                audio *= 0.98 / peak
            clip_len = int(cfg.clip_seconds * cfg.sample_rate)
            for clip_index, start in enumerate(range(0, audio.shape[1], clip_len)):
                clip = audio[:, start : start + clip_len]
                duration = clip.shape[1] / cfg.sample_rate
                if duration < cfg.min_clip_seconds:
                    continue
                rms = _rms_dbfs(clip)
                if rms < SILENCE_DBFS:
                    continue
                result.records.append(
                    _clip_record(work, cfg, facts, plan, render_index, clip_index, start, clip, rms)
                )
    except Exception as error:  # noqa: BLE001 - one bad work never stops the build
        result.failure = f"render: {type(error).__name__}: {error}"[:300]
        result.records.clear()
    if not result.records and result.failure is None:
        result.failure = "render: no clip was long enough and audible"
    result.render_seconds = time.perf_counter() - started
    return result


def _clip_record(
    work: Work,
    cfg: BuildConfig,
    facts,
    plan,
    render_index: int,
    clip_index: int,
    start: int,
    clip: np.ndarray,
    rms: float,
) -> dict:
    clip_id = f"{work.file_stem}_r{render_index}_c{clip_index}"
    rel_path = Path("audio") / work.split / f"{clip_id}.flac"
    _write_flac(cfg.out / rel_path, clip, cfg.sample_rate)
    tonic = transpose_tonic(facts.tonic, plan.transpose)
    caption = make_caption(
        CaptionFacts(work.source, plan.programs, plan.bpm, tonic, facts.mode, facts.meter, rms),
        _work_rng(cfg.seed, work.work_id, render_index, clip_index, 1),
    )
    return {
        "id": clip_id,
        "work": work.work_id,
        "source": work.source,
        "split": work.split,
        "caption": caption,
        "programs": list(plan.programs),
        "families": sorted({family_of(p).name for p in plan.programs}),
        "tempo_bpm": plan.bpm,
        "key": tonic,
        "mode": facts.mode,
        "meter": facts.meter,
        "duration_s": round(clip.shape[1] / cfg.sample_rate, 4),
        "path": rel_path.as_posix(),
        "offset_s": round(start / cfg.sample_rate, 4),
        "render": render_index,
        "transpose": plan.transpose,
        "dynamic": plan.dynamic,
        "rms_dbfs": round(rms, 2),
        "n_parts": len(facts.parts),
        "sample_rate": cfg.sample_rate,
        "channels": cfg.channels,
        "title": facts.title,
        "composer": facts.composer,
    }


def prepare_out(cfg: BuildConfig) -> None:
    """Create the directory tree, check it is writable and matches an earlier build's settings."""
    try:
        for sub in ("works", "midi", "audio/train", "audio/valid", "audio/test"):
            (cfg.out / sub).mkdir(parents=True, exist_ok=True)
        probe = cfg.out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise BuildError(
            f"cannot write to --out {cfg.out}: {error.strerror or error}. "
            "Choose a directory you can write to, or fix its permissions."
        ) from error
    settings = cfg.out / "build.json"
    wanted = cfg.fingerprint()
    if settings.exists():
        earlier = json.loads(settings.read_text())
        if earlier != wanted:
            changed = {k: (earlier.get(k), v) for k, v in wanted.items() if earlier.get(k) != v}
            raise BuildError(
                f"{cfg.out} holds a build made with other settings {changed} (earlier, now). "
                "Resume with the same settings or build into a new --out."
            )
    else:
        _atomic_write_bytes(settings, json.dumps(wanted, indent=1).encode())
    for leftover in cfg.out.rglob("*.tmp"):  # half-written files of an interrupted build
        leftover.unlink()


def _init_worker(cfg: BuildConfig) -> None:
    logging.getLogger("music21").setLevel(logging.ERROR)
    _worker_renderer(cfg)


def _done_path(cfg: BuildConfig, work: Work) -> Path:
    return cfg.out / "works" / f"{work.file_stem}.json"


def _load_done(path: Path) -> WorkResult | None:
    try:
        raw = json.loads(path.read_text())
        return WorkResult(raw["work_id"], raw["records"], raw["failure"], raw["render_seconds"])
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: the work is redone


def _save_done(cfg: BuildConfig, work: Work, result: WorkResult) -> None:
    _atomic_write_bytes(_done_path(cfg, work), json.dumps(asdict(result)).encode())


def ordered_works(cfg: BuildConfig) -> list[Work]:
    """All works in the seeded build order, cut to --limit, then to --splits.

    The split filter comes after the limit, so `--limit N --splits test` renders exactly the test
    works of the full `--limit N` build (same clips, same captions): an evaluation machine needs
    only those, 5 % of the rendering.
    """
    works = list_works()
    order = np.random.default_rng(cfg.seed).permutation(len(works))
    chosen = [works[i] for i in order]
    chosen = chosen[: cfg.limit] if cfg.limit is not None else chosen
    if cfg.splits is not None:
        chosen = [work for work in chosen if work.split in cfg.splits]
    return chosen


def _results_in_order(cfg: BuildConfig, works: list[Work]) -> Iterator[tuple[Work, WorkResult]]:
    """Yield each work's result in build order; finished works are read, others rendered.

    At most LOOKAHEAD x workers works are in flight: enough that one slow work (a long quartet)
    does not leave the other workers idle, few enough that stopping early (--hours) wastes little.
    """
    if cfg.workers <= 1:
        for work in works:
            done = _load_done(_done_path(cfg, work))
            yield work, done if done is not None else render_work(work, cfg)
        return
    # spawn, not fork: a forked child inherits FluidSynth's and music21's threads and locks.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        cfg.workers, mp_context=context, initializer=_init_worker, initargs=(cfg,)
    ) as pool:
        window: deque[tuple[Work, WorkResult | Future]] = deque()
        upcoming = iter(works)
        try:
            while True:
                while len(window) < LOOKAHEAD * cfg.workers:
                    work = next(upcoming, None)
                    if work is None:
                        break
                    done = _load_done(_done_path(cfg, work))
                    window.append(
                        (work, done if done is not None else pool.submit(render_work, work, cfg))
                    )
                if not window:
                    return
                work, pending = window.popleft()
                yield work, pending.result() if isinstance(pending, Future) else pending
        finally:
            for _, pending in window:
                if isinstance(pending, Future):
                    pending.cancel()


def build(cfg: BuildConfig) -> dict:
    """Run (or resume) a build and return its statistics (also written to stats.json)."""
    from tqdm import tqdm

    from engine.data.stats import corpus_stats, plot_stats

    prepare_out(cfg)
    check_renderer(cfg.soundfont)  # fail early and clearly if FluidSynth is missing
    works = ordered_works(cfg)
    target = cfg.hours * 3600 if cfg.hours else None
    included: list[WorkResult] = []
    audio_total = 0.0
    started = time.perf_counter()
    bar = tqdm(
        total=target / 3600 if target else len(works),
        unit="h" if target else "work",
        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} {unit} [{elapsed}<{remaining}]"
        if target
        else None,
        desc="corpus",
        dynamic_ncols=True,
    )
    for work, result in _results_in_order(cfg, works):
        if not _done_path(cfg, work).exists():
            _save_done(cfg, work, result)
        if result.failure:
            log.info("skipped %s: %s", work.work_id, result.failure)
        included.append(result)
        audio_total += result.audio_seconds
        bar.update(result.audio_seconds / 3600 if target else 1)
        bar.set_postfix(works=len(included), failed=sum(r.failure is not None for r in included))
        if target is not None and audio_total >= target:
            break
    bar.close()
    _write_outputs(cfg, included)
    _remove_orphans(cfg)
    stats = corpus_stats(
        cfg.out, included, wall_seconds=time.perf_counter() - started, workers=cfg.workers
    )
    _atomic_write_bytes(cfg.out / "stats.json", json.dumps(stats, indent=1).encode())
    plot_stats(stats, cfg.out / "stats.png")
    return stats


def _write_outputs(cfg: BuildConfig, included: list[WorkResult]) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for res in included for r in res.records]
    _atomic_write_bytes(cfg.out / "metadata.jsonl", ("\n".join(lines) + "\n").encode())
    failures = [json.dumps({"work": r.work_id, "reason": r.failure}) for r in included if r.failure]
    _atomic_write_bytes(
        cfg.out / "failures.jsonl", ("\n".join(failures) + "\n" if failures else "").encode()
    )


def _remove_orphans(cfg: BuildConfig) -> None:
    """Delete audio rendered by workers past the --hours stop that no finished work claims."""
    claimed = set()
    for path in (cfg.out / "works").glob("*.json"):
        done = _load_done(path)
        if done is not None:
            claimed.update(r["path"] for r in done.records)
    for path in (cfg.out / "audio").rglob("*.flac"):
        if path.relative_to(cfg.out).as_posix() not in claimed:
            path.unlink()
