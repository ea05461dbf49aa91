"""Prompt adherence we can measure offline: tempo (DESIGN section 16).

The corpus captions state a tempo ("..., 96 BPM") and metadata.jsonl stores it as
`tempo_bpm`; librosa's beat tracker estimates the tempo of the generated audio.
Beat trackers often lock onto half or double the written tempo, and a caption's
BPM counts quarter notes whatever the metre, so a clip counts as on tempo when
its estimate, its double or its half is within `tolerance` of the asked BPM
(the usual "accuracy 2" of tempo estimation, Gouyon et al. 2006).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

OCTAVES = (0.5, 1.0, 2.0)


def estimate_tempo(audio: np.ndarray, sample_rate: int) -> float:
    """audio (C, N) -> beats per minute by librosa's beat tracker (0.0 if it finds none)."""
    import librosa

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    tempo, _ = librosa.beat.beat_track(y=mono, sr=sample_rate)
    return float(np.atleast_1d(tempo)[0])


def tempo_error(estimated: float, asked: float) -> float:
    """|log2(estimate / asked)| after the best of halving, keeping or doubling the estimate."""
    if estimated <= 0 or asked <= 0:
        return math.inf
    return min(abs(math.log2(estimated * f / asked)) for f in OCTAVES)


def tempo_adherence(estimated: Sequence[float], asked: Sequence[float],
                    tolerance: float = 0.08) -> dict[str, float]:
    """{"tempo_acc": fraction within tolerance (octave errors forgiven),
    "tempo_err": median octave-forgiven |log2 ratio|} over clips with an asked tempo."""
    pairs = [(e, a) for e, a in zip(estimated, asked, strict=True) if a and a > 0]
    if not pairs:
        return {"tempo_acc": float("nan"), "tempo_err": float("nan")}
    errs = np.array([tempo_error(e, a) for e, a in pairs])
    return {"tempo_acc": float(np.mean(errs <= math.log2(1.0 + tolerance))),
            "tempo_err": float(np.median(errs))}
