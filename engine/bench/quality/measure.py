"""Everything the yardstick measures about a set of clips, and one table row from it.

    meter = Meter(classifier, sample_rate=44100)
    ref = meter.measure(reference_audio, checks=False)      # features + log-mel stats only
    got = meter.measure(generated_audio)                      # + librosa tempo, note density
    row = score_row("model, 32 steps", got, ref, asked)       # FDs, adherence, checks

Per clip: the classifier's features and class probabilities (engine.bench.quality.
embed), the log-mel statistics embedding of engine.bench.fd, and, as checks that do
not depend on our classifier, librosa's tempo estimate and the note density
(engine.bench.quality.notes). A row scores a set against the reference set (FDs)
and against what was asked for each clip (`Asked`: labels, tempo, and the real clip
whose note density the caption stands for).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.bench.adherence import estimate_tempo, tempo_adherence
from engine.bench.fd import frechet_distance_of, logmel_embedding
from engine.bench.quality.attributes import HEADS
from engine.bench.quality.embed import Classifier
from engine.bench.quality.notes import NoteDensity
from engine.bench.quality.scores import condition_vectors, head_accuracy, joint_fd

DENSITY_FLOOR = 0.25  # notes/s added before the log ratio, so near-silent clips stay finite


@dataclass
class Measures:
    features: np.ndarray  # (n, F) classifier features
    probs: dict[str, np.ndarray]  # head -> (n, K)
    logmel: np.ndarray  # (n, 128) log-mel statistics (engine.bench.fd)
    tempo: list[float] = field(default_factory=list)  # librosa BPM per clip (checks only)
    notes: list[float] = field(default_factory=list)  # notes per second (checks only)

    @property
    def pred(self) -> dict[str, np.ndarray]:
        return {h: p.argmax(axis=1) for h, p in self.probs.items()}


@dataclass
class Asked:
    labels: list[dict]  # Attributes.labels of the caption each clip was meant to follow
    bpm: list[float]  # the tempo those captions state (0: none)
    notes: list[float] | None = None  # note density of the real clips of those captions


class Meter:
    def __init__(self, classifier: Classifier, sample_rate: int, threads: int = 1) -> None:
        self.classifier = classifier
        self.sample_rate = sample_rate
        self.density = NoteDensity(threads)

    def measure(self, audio: Sequence[np.ndarray], checks: bool = True) -> Measures:
        """audio: clips (C, N) at the meter's rate. checks: also librosa tempo and notes."""
        m = self.classifier.measure(audio, self.sample_rate)
        out = Measures(m.features, m.probs,
                       np.stack([logmel_embedding(a, self.sample_rate) for a in audio]))
        if checks:
            out.tempo = [estimate_tempo(a, self.sample_rate) for a in audio]
            out.notes = [self.density(a, self.sample_rate) for a in audio]
        return out


def density_error(got: Sequence[float], real: Sequence[float]) -> float:
    """Median |log2((d + 0.25) / (d_real + 0.25))| over clip pairs (notes per second)."""
    return float(np.median([abs(math.log2((g + DENSITY_FLOOR) / (r + DENSITY_FLOOR)))
                            for g, r in zip(got, real, strict=True)]))


def score_row(name: str, kind: str, got: Measures, ref: Measures, asked: Asked | None,
              ref_labels: list[dict], n_classes: dict[str, int],
              walls: Sequence[float] = (), clip_seconds: float = 0.0, **extra: object) -> dict:
    """One table row: FDs against the reference set; adherence and checks against `asked`
    (None: FDs only)."""
    row: dict = {"row": name, "kind": kind, "n": int(got.features.shape[0]), **extra,
                 "fd_classifier": frechet_distance_of(got.features, ref.features),
                 "fd_logmel": frechet_distance_of(got.logmel, ref.logmel)}
    row["fd_joint"] = None
    if asked is not None:
        row["fd_joint"] = joint_fd(got.features, condition_vectors(asked.labels, n_classes),
                                   ref.features, condition_vectors(ref_labels, n_classes))
        row["adherence"] = {h: head_accuracy(got.pred[h], [lab[h] for lab in asked.labels])
                            for h in HEADS}
        if got.tempo:
            row["tempo_librosa"] = tempo_adherence(got.tempo, asked.bpm)
        if got.notes:
            row["notes_per_s"] = float(np.mean(got.notes))
            if asked.notes is not None:
                row["note_density_err"] = density_error(got.notes, asked.notes)
    if walls:
        wall = float(np.median(walls))
        row["seconds_per_clip"] = wall
        row["x_realtime"] = clip_seconds / wall if wall > 0 else None
    return row
