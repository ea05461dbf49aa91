"""Continuation seams: splicing generated audio after given audio, and how abrupt the seam is.

    audio = splice(context, generated)                 # context verbatim, then the generation
    jump = seam_jump(audio, 44100, seam_seconds=5.0)   # log-mel change across the seam

`splice` is what `run_engine.py generate --continue` does to its output: the given
audio verbatim up to the seam, with the last CROSSFADE samples before it faded
linearly into the generated audio. Applying it to an unconditional generation gives
the baseline a continuation must beat: the same prompt, spliced on blindly.

Seam jump (our definition): with the yardstick's log-mel front end (64 bands, 23 ms
hop), the mean over bands of |mean log-mel of the WINDOW seconds after the seam -
mean log-mel of the WINDOW seconds before it|, in nats. Music changes across any
instant (a new note is a jump too), so a jump means something only against the real
clip's own jump at the same instant: the bench reports the mean jump of a set of
continuations over the mean jump of the real clips at the same seams (seam ratio:
1 = as smooth as the real music there; larger = an audible seam).
"""

from __future__ import annotations

import numpy as np

from engine.bench.quality.frontend import FRAME_RATE, log_mel
from engine.generate import CROSSFADE

WINDOW = 0.1  # seconds on each side of the seam


def splice(context: np.ndarray, generated: np.ndarray, fade: int = CROSSFADE) -> np.ndarray:
    """context (C, n) then generated (C, N >= n) from sample n on -> (C, N); the last `fade`
    samples of the context crossfade linearly into the generation."""
    n = context.shape[1]
    if generated.shape[1] < n:
        raise ValueError(f"the generation ({generated.shape[1]} samples) is shorter than "
                         f"the context ({n})")
    out = np.array(generated, dtype=np.float32, copy=True)
    fade = min(fade, n)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)  # 0 = all context
    out[:, n - fade:n] = context[:, n - fade:] * (1 - ramp) + out[:, n - fade:n] * ramp
    out[:, :n - fade] = context[:, :n - fade]
    return out


def seam_jump(audio: np.ndarray, sample_rate: int, seam_seconds: float,
              window: float = WINDOW) -> float:
    """audio (C, N) -> mean |log-mel after - log-mel before| across the seam (nats)."""
    mel = log_mel(audio, sample_rate)  # (M, T)
    seam = int(round(seam_seconds * FRAME_RATE))
    w = max(1, int(round(window * FRAME_RATE)))
    if seam - w < 0 or seam + w > mel.shape[1]:
        raise ValueError(f"the seam at {seam_seconds:.2f} s needs {window:.2f} s of audio on "
                         f"each side; the clip has {mel.shape[1] / FRAME_RATE:.2f} s")
    before = mel[:, seam - w:seam].mean(axis=1)
    after = mel[:, seam:seam + w].mean(axis=1)
    return float(np.abs(after - before).mean())
