"""Note density (notes per second), measured independently of our own classifier.

    density = NoteDensity(threads=1)
    density.method                      # "basic-pitch" or "librosa onsets" (the fallback)
    density(audio, 44100)               # audio (C, N) -> notes per second

basic-pitch (Bittner et al. 2022, Spotify) ships its note-transcription network as
ONNX inside its wheel; installing it with `pip install --no-deps basic-pitch` brings
the file without TensorFlow, and we run it with onnxruntime ourselves: mono 22.05 kHz
audio in windows of 43,844 samples (2 s less one hop) that overlap by 30 output
frames; each window gives onset and note activations, (172 frames at 86.1 Hz) x 88
piano keys; the overlapping 15 frames at each end are dropped and the rest joined.

A note is counted where a key's onset activation is a local maximum in time of at
least 0.5 and the key's note activation reaches 0.3 within the next two frames
(basic-pitch's default onset and frame thresholds; its own note tracking, which
also merges and splits notes, is not reproduced). Without basic-pitch the count is
librosa's onset detector (one onset per attack, however many notes sound in it):
a coarser measure, labelled as such wherever it is reported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from engine.bench.quality.frontend import SAMPLE_RATE, to_mono

WINDOW = 43844  # samples per model input at 22.05 kHz
HOP_OUT = 256  # samples per output frame (86.13 Hz)
OVERLAP_FRAMES = 30
ONSET_THRESHOLD, NOTE_THRESHOLD = 0.5, 0.3
INPUT = "serving_default_input_2:0"
NOTE_OUT, ONSET_OUT = "StatefulPartitionedCall:1", "StatefulPartitionedCall:2"


def basic_pitch_model() -> Path | None:
    """The ONNX file inside the installed basic-pitch package, or None (without importing it:
    its __init__ probes for TensorFlow and logs warnings)."""
    spec = importlib.util.find_spec("basic_pitch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "saved_models" / "icassp_2022" / "nmp.onnx"
        if path.is_file():
            return path
    return None


class NoteDensity:
    def __init__(self, threads: int = 1) -> None:
        path = basic_pitch_model()
        self.session = None
        self.method = "librosa onsets"
        if path is not None:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            self.session = ort.InferenceSession(str(path), so,
                                                providers=["CPUExecutionProvider"])
            self.method = "basic-pitch"

    def activations(self, mono: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """mono (N,) at 22.05 kHz -> onset, note activations, each (frames, 88)."""
        overlap = OVERLAP_FRAMES * HOP_OUT
        hop = WINDOW - overlap
        x = np.concatenate([np.zeros(overlap // 2, np.float32), mono.astype(np.float32)])
        starts = range(0, max(1, x.size), hop)
        windows = np.zeros((len(starts), WINDOW, 1), np.float32)
        for i, s in enumerate(starts):
            chunk = x[s:s + WINDOW]
            windows[i, :chunk.size, 0] = chunk
        note, onset = self.session.run([NOTE_OUT, ONSET_OUT], {INPUT: windows})
        keep = slice(OVERLAP_FRAMES // 2, -(OVERLAP_FRAMES // 2))
        frames = mono.size // HOP_OUT
        onset = onset[:, keep].reshape(-1, onset.shape[-1])[:frames]
        note = note[:, keep].reshape(-1, note.shape[-1])[:frames]
        return onset, note

    def count(self, mono: np.ndarray) -> int:
        """Notes in mono (N,) at 22.05 kHz."""
        if self.session is None:
            import librosa

            return len(librosa.onset.onset_detect(y=mono, sr=SAMPLE_RATE, units="frames"))
        onset, note = self.activations(mono)
        if onset.shape[0] < 3:
            return 0
        mid = onset[1:-1]
        peak = (mid >= ONSET_THRESHOLD) & (mid > onset[:-2]) & (mid >= onset[2:])  # (T-2, 88)
        ahead = np.maximum.reduce([note[1:-1], note[2:], np.vstack([note[3:], note[-1:]])])
        return int(np.sum(peak & (ahead >= NOTE_THRESHOLD)))

    def __call__(self, audio: np.ndarray, sample_rate: int) -> float:
        """audio (C, N) or (N,) -> notes per second."""
        mono = to_mono(audio, sample_rate)
        return self.count(mono) / max(mono.size / SAMPLE_RATE, 1e-9)
