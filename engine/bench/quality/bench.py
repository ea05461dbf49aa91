"""The quality yardstick: `python -m engine.bench quality --model DIR --data DIR [--n N]`.

    python -m engine.bench quality --model exported/base --data /root/presto-data/corpus \
        [--n 32] [--seconds 10] [--steps 8 16 32 64] [--quick] [--out reports/quality] [--docs]
        [--continuation-only]

Prompts are the captions of N test-split clips (a seeded draw among those at least
--seconds long), so every prompt has ground truth: its metadata and its real audio.
The other test clips are the reference set every FD is measured against. Rows:

- real test clips: the prompts' own audio (the floor: what a perfect generator scores);
- real train clips: N train clips (the floor as "train vs test");
- codec reconstruction: the prompts' audio encoded and decoded by the model's codec
  (the ceiling the codec sets for anything generated);
- untrained network: the same model with its weights permuted (engine.bench.
  quality.untrained), at the default steps;
- shuffled captions: the model prompted with another prompt clip's caption and
  scored against the caption of the clip whose slot it fills (a text-blind model);
- the model at each of --steps (8, 16, 32, 64; 1, 2, 4, 8 for a distilled model).

Every generated clip i uses seed `seed * 1000 + i` and `engine.generate.generate`
(the product's offline path, sliding windows and all). Continuation: for each prompt
clip, the first --context seconds are given (`generate --continue`) and the rest is
generated; compared with the model's unconditional clip of the same caption and seed
spliced after the same context (engine.bench.quality.seam), against the real rest of
the clip: plain FD (is the rest music like the real rests?), FD joint with the context
(is it the rest of *this* clip? the pairing of each rest with its own context, as FD
joint pairs clips with their captions) and the seam ratio. A listening pack renders
PACK_PROMPTS. Writes OUT/results.json, results.md, listening/; --docs refreshes the
table in docs/benchmarks.md.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.bench.fd import frechet_distance_of
from engine.bench.quality import report
from engine.bench.quality.embed import Classifier
from engine.bench.quality.measure import Asked, Meter, score_row
from engine.bench.quality.mel_cache import read_metadata
from engine.bench.quality.scores import joint_fd
from engine.bench.quality.seam import seam_jump, splice
from engine.bench.quality.untrained import untrained_copy
from engine.generate import GenerateConfig, generate
from engine.latent_codec import read_audio
from engine.runtime.model import ServedModel

PACK_PROMPTS = (  # one per instrument family, worded as the corpus captions are
    "Solo piano, German folk song, moderato, 112 BPM, in G major, 3/4 time",
    "String ensemble playing a Bach chorale, slow and broad, 66 BPM, in D minor",
    "Church organ, Renaissance sacred polyphony, andante tempo around 88 bpm, in F major",
    "Trumpet and trombone, Irish folk dance, lively, 150 BPM, in D major, 6/8 time",
    "Clarinet, Scottish air, slow tempo around 72 bpm, in A minor, quiet",
    "Flute, Chinese folk song, moderate tempo, 104 BPM, in C major",
    "Nylon string guitar playing a British country dance, allegro, 132 BPM, in E minor",
    "Marimba, Luxembourgish folk song, upbeat tempo around 140 bpm, in Bb major, 2/4",
)
DIFFUSION_STEPS = (8, 16, 32, 64)
DISTILLED_STEPS = (1, 2, 4, 8)


@dataclass(frozen=True)
class QualityBench:
    model: Path  # exported model dir (engine.export model)
    data: Path  # corpus dir (metadata.jsonl, audio/)
    n: int = 32  # prompts (clips per row)
    seconds: float = 10.0  # clip length
    steps: tuple[int, ...] | None = None  # None: DIFFUSION_STEPS or DISTILLED_STEPS
    default_steps: int | None = None  # untrained/shuffled/continuation/pack rows; None: model's
    context: float = 5.0  # seconds given to the continuation rows
    classifier: Path = Path("reports/quality/classifier")  # classifier.onnx + .json
    out: Path = Path("reports/quality")
    docs: Path | None = None  # markdown file whose quality table to refresh (--docs)
    quick: bool = False  # 8 prompts, the default steps only, 4 pack prompts
    seed: int = 0
    threads: int = 2  # onnxruntime threads for generation
    guidance: float | None = None  # None: the model's default
    pack: bool = True  # render the listening pack
    # Only what the continuation rows need (the real rows and the model at the default steps,
    # whose clips are the unconditional splice): a larger --n for the continuation verdict.
    continuation_only: bool = False
    context_guidance: float = 0.0  # the continuation row's (engine.runtime.window)
    context_min_sigma: float = 0.0  # the continuation row's (engine.runtime.window)


def pick(rows: list[dict], split: str, n: int, seconds: float, seed: int) -> list[dict]:
    """A seeded draw of n clips of `split` at least `seconds` long (with a caption)."""
    pool = sorted((r for r in rows if r.get("split") == split and r.get("caption")
                   and float(r.get("duration_s") or 0) >= seconds), key=lambda r: r["path"])
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order[:n]]


def real_audio(model: ServedModel, data: Path, rows: list[dict], seconds: float
               ) -> list[np.ndarray]:
    """The first `seconds` of each clip, (C, N) at the model's rate."""
    n = int(round(seconds * model.sample_rate))
    return [read_audio(data / r["path"], model.sample_rate, model.channels)[:, :n] for r in rows]


def render(model: ServedModel, prompts: list[str], bench: QualityBench, steps: int, tmp: Path,
           label: str, contexts: list[np.ndarray] | None = None,
           context_guidance: float = 0.0) -> tuple[list[np.ndarray], list[float], int]:
    """Generate one clip per prompt (seed * 1000 + i): audio (C, N), wall times, and how many
    clips diverged (non-finite latents; scored as silence)."""
    from tqdm import tqdm

    audio, walls, failed = [], [], 0
    n = int(round(bench.seconds * model.sample_rate))
    for i, prompt in enumerate(tqdm(prompts, desc=label, unit="clip", dynamic_ncols=True)):
        cont = None
        if contexts is not None:
            cont = tmp / f"context_{i}.wav"
            sf.write(cont, contexts[i].T, model.sample_rate, subtype="FLOAT")
        out = tmp / "clip.wav"
        try:
            info = generate(GenerateConfig(prompt=prompt, out=out, seconds=bench.seconds,
                                           steps=steps, guidance=bench.guidance,
                                           seed=bench.seed * 1000 + i, continue_from=cont,
                                           context_guidance=context_guidance,
                                           # no effect on a window with no context
                                           context_min_sigma=bench.context_min_sigma),
                            model)
        except FloatingPointError:  # a broken network (the untrained row) may diverge
            failed += 1
            audio.append(np.zeros((model.channels, n), np.float32))
            continue
        x, _ = sf.read(out, dtype="float32", always_2d=True)
        audio.append(np.ascontiguousarray(x.T))
        walls.append(float(info["generate_seconds"]))
    if failed:
        print(f"warning: {label}: {failed} of {len(prompts)} clips diverged (non-finite "
              "latents); scored as silence")
    return audio, walls, failed


def derangement(n: int, seed: int) -> list[int]:
    """A seeded permutation with no fixed point (n >= 2): slot i gets prompt perm[i]."""
    rng = np.random.default_rng(seed + 7)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(p) for p in perm]


def resolve(bench: QualityBench, model: ServedModel) -> QualityBench:
    """Fill in the steps from the model's mode and shrink a --quick run."""
    default = bench.default_steps or model.defaults.steps
    steps = bench.steps or (DISTILLED_STEPS if model.defaults.mode == "distilled"
                            else DIFFUSION_STEPS)
    if bench.quick:
        steps, n = (default,), min(bench.n, 8)
    else:
        n = bench.n
    if bench.continuation_only:
        steps = (default,)
    steps = tuple(sorted(set(steps) | {default}))
    for s in steps:
        if not 1 <= s <= model.defaults.max_steps:
            raise ValueError(f"--steps {s} is outside [1, {model.defaults.max_steps}]")
    if not 0 < bench.context < bench.seconds:
        raise ValueError(f"--context must be in (0, --seconds {bench.seconds:g}), got "
                         f"{bench.context:g}")
    return replace(bench, steps=steps, default_steps=default, n=n)


def main(bench: QualityBench) -> dict:
    t_start = time.perf_counter()
    if bench.n < 2:
        raise ValueError(f"--n must be at least 2 (a Frechet distance needs a spread), got "
                         f"{bench.n}")
    clf = Classifier(bench.classifier)
    rows = read_metadata(bench.data)
    model = ServedModel.load(bench.model, threads=bench.threads)
    bench = resolve(bench, model)
    sr, attrs = model.sample_rate, clf.attributes
    n_classes = attrs.n_classes()
    prompts = pick(rows, "test", bench.n, bench.seconds, bench.seed)
    if len(prompts) < 2:
        raise ValueError(f"{bench.data}: fewer than 2 test clips of at least {bench.seconds:g} "
                         "s with captions; lower --seconds or use the full corpus")
    if len(prompts) < bench.n:
        print(f"warning: only {len(prompts)} test clips of at least {bench.seconds:g} s; "
              f"using n = {len(prompts)}")
    taken = {r["path"] for r in prompts}
    reference = [r for r in rows if r.get("split") == "test" and r["path"] not in taken]
    if len(reference) < 2:
        raise ValueError(f"{bench.data}: the test split needs at least {len(prompts) + 2} clips "
                         f"(n prompts + 2 reference clips), it has {len(taken) + len(reference)}")
    n = len(prompts)
    captions = [r["caption"] for r in prompts]
    meter = Meter(clf, sr)
    print(f"quality: {n} prompts, {len(reference)} reference clips, {bench.seconds:g} s, "
          f"steps {bench.steps}, note density by {meter.density.method}")
    ref_audio = real_audio(model, bench.data, reference, bench.seconds)
    ref = meter.measure(ref_audio, checks=False)
    ref_labels = [attrs.labels(r) for r in reference]
    del ref_audio
    real = real_audio(model, bench.data, prompts, bench.seconds)
    real_m = meter.measure(real)
    asked = Asked([attrs.labels(r) for r in prompts],
                  [float(r.get("tempo_bpm") or 0.0) for r in prompts], real_m.notes)

    def row(name: str, kind: str, audio: list[np.ndarray], walls: list[float] = (),
            scored: Asked | None = asked, **extra: object) -> dict:
        r = score_row(name, kind, meter.measure(audio), ref, scored, ref_labels, n_classes,
                      walls, bench.seconds, **extra)
        print(f"  {name}: FD classifier {r['fd_classifier']:.2f}, FD log-mel "
              f"{r['fd_logmel']:.2f}")
        return r

    table = [score_row("real test clips (the prompts' own audio)", "real", real_m, ref,
                       Asked(asked.labels, asked.bpm, None), ref_labels, n_classes)]
    train = pick(rows, "train", n, bench.seconds, bench.seed)
    if len(train) >= 2:
        table.append(row("real train clips", "real", real_audio(model, bench.data, train,
                                                                 bench.seconds), scored=None))
    else:  # an evaluation corpus (python -m engine.data build --splits test)
        print(f"note: {bench.data} has no train clips of {bench.seconds:g} s; the real train "
              "row is left out")
    recon, walls = [], []
    for a in real:
        t0 = time.perf_counter()
        z = model.codec.encode(a[None].astype(np.float32))
        recon.append(np.clip(model.codec.decode(z)[0][:, :a.shape[1]], -1.0, 1.0))
        walls.append(time.perf_counter() - t0)
    table.append(row("codec reconstruction", "codec", recon, walls))
    default = bench.default_steps
    result: dict = {"config": {k: (str(v) if isinstance(v, Path) else v)
                               for k, v in asdict(bench).items()}}
    with tempfile.TemporaryDirectory(prefix="quality_") as tmp_name:
        tmp = Path(tmp_name)
        generated: dict[int, list[np.ndarray]] = {}
        for steps in bench.steps:
            audio, walls, failed = render(model, captions, bench, steps, tmp, f"{steps} steps")
            generated[steps] = audio
            table.append(row(f"model, {steps} steps", "model", audio, walls, steps=steps,
                             failed=failed))
        if not bench.continuation_only:
            table += baselines(model, bench, captions, tmp, row)
        result["continuation"] = continuation(model, bench, captions, real,
                                              generated[default], meter, tmp)
        pack = bench.pack and not bench.continuation_only
        result["listening"] = listening_pack(model, bench, tmp) if pack else []
    result.update({
        "model": {"dir": str(bench.model), "name": model.name, "mode": model.defaults.mode,
                  "default_steps": default, "training": model.manifest.get("training", {})},
        "classifier": {"dir": str(bench.classifier), "sha256": clf.sha256,
                       "families": list(attrs.families), "test": clf.info.get("test"),
                       "valid": clf.info.get("valid"), "trained": clf.info.get("trained")},
        "note_density_method": meter.density.method,
        "prompts": [{"caption": r["caption"], "path": r["path"], "labels": lab}
                    for r, lab in zip(prompts, asked.labels, strict=True)],
        "reference_clips": len(reference),
        "rows": table,
    })
    result["targets"] = report.targets(result)
    result["wall_seconds"] = time.perf_counter() - t_start
    report.write(result, bench.out, bench.docs)
    return result


def baselines(model: ServedModel, bench: QualityBench, captions: list[str], tmp: Path,
              row: Callable[..., dict]) -> list[dict]:
    """The shuffled-caption and untrained-network rows at the default steps."""
    default, n = bench.default_steps, len(captions)
    perm = derangement(n, bench.seed)
    audio, walls, failed = render(model, [captions[p] for p in perm], bench, default, tmp,
                                  "shuffled captions")
    rows = [row(f"shuffled captions, {default} steps", "shuffled", audio, walls,
                steps=default, failed=failed)]
    untrained_dir = untrained_copy(Path(bench.model), tmp / "untrained", bench.seed)
    beside = {k: (Path(bench.model) / model.manifest[k]["dir"]).resolve()
              for k in ("text", "codec")}  # the copy sits elsewhere: point at the originals
    blind = ServedModel.load(untrained_dir, threads=bench.threads, text_dir=beside["text"],
                             codec_dir=beside["codec"])
    audio, walls, failed = render(blind, captions, bench, default, tmp, "untrained network")
    rows.append(row(f"untrained network (weights permuted), {default} steps", "untrained",
                    audio, walls, steps=default, failed=failed))
    return rows


def continuation(model: ServedModel, bench: QualityBench, captions: list[str],
                 real: list[np.ndarray], unconditional: list[np.ndarray], meter: Meter,
                 tmp: Path) -> dict:
    """Continuations of the prompt clips from their first `context` seconds vs the same
    captions generated blind and spliced on: FD to the real rests, FD joint with the
    given contexts (rest features paired with their context's features), seam ratio."""
    cut = int(round(bench.context * model.sample_rate))
    contexts = [a[:, :cut] for a in real]
    continued, walls, failed = render(model, captions, bench, bench.default_steps, tmp,
                                      "continuation", contexts, bench.context_guidance)
    spliced = [splice(c, u) for c, u in zip(contexts, unconditional, strict=True)]
    real_rest = meter.measure([a[:, cut:] for a in real], checks=False)
    given = meter.measure(contexts, checks=False).features  # (N, F) the contexts' features
    real_jumps = [seam_jump(a, model.sample_rate, bench.context) for a in real]
    rows = []
    for name, audio in (("continuation (context given)", continued),
                        ("unconditional, spliced after the context", spliced)):
        rest = meter.measure([a[:, cut:] for a in audio], checks=False)
        jumps = [seam_jump(a, model.sample_rate, bench.context) for a in audio]
        rows.append({"row": name, "n": len(audio),
                     "fd_classifier": frechet_distance_of(rest.features, real_rest.features),
                     "fd_logmel": frechet_distance_of(rest.logmel, real_rest.logmel),
                     "fd_joint_context": joint_fd(rest.features, given, real_rest.features,
                                                  given),
                     "seam_jump": float(np.mean(jumps)),
                     "seam_ratio": float(np.mean(jumps) / max(np.mean(real_jumps), 1e-9))})
    rows[0]["seconds_per_clip"] = float(np.median(walls)) if walls else None
    rows[0]["failed"] = failed
    return {"context_seconds": bench.context, "continued_seconds": bench.seconds - bench.context,
            "context_guidance": bench.context_guidance,
            "context_min_sigma": bench.context_min_sigma,
            "real_seam_jump": float(np.mean(real_jumps)), "rows": rows}


def listening_pack(model: ServedModel, bench: QualityBench, tmp: Path) -> list[dict]:
    """PACK_PROMPTS (4 with --quick) at the default steps: OUT/listening/NN.wav and NN.png."""
    prompts = list(PACK_PROMPTS[:4] if bench.quick else PACK_PROMPTS)
    audio, _, _ = render(model, prompts, bench, bench.default_steps, tmp, "listening pack")
    folder = bench.out / "listening"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i, (prompt, a) in enumerate(zip(prompts, audio, strict=True)):
        wav, png = f"listening/{i:02d}.wav", f"listening/{i:02d}.png"
        sf.write(bench.out / wav, a.T, model.sample_rate, subtype="PCM_16")
        report.spectrogram_png(a, model.sample_rate, bench.out / png, prompt)
        items.append({"prompt": prompt, "wav": wav, "png": png})
    return items
