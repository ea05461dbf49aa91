"""The trained classifier at measurement time: features and class probabilities per clip.

    clf = Classifier(Path("reports/quality/classifier"))   # classifier.onnx + classifier.json
    m = clf.measure([audio_a, audio_b], 44100)             # audio (C, N) each
    m.features                                             # (2, 64) penultimate activations
    m.probs["family"], m.pred["tempo"]                     # (2, K) and (2,)

A clip is cut into 5 s crops that cover it (engine.bench.quality.frontend), the
crops run as one batch, and the clip's features and class probabilities are the
means over its crops. Runs on onnxruntime (no torch) with one thread by default.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.bench.quality import frontend
from engine.bench.quality.attributes import HEADS, Attributes
from engine.bench.quality.mel_cache import frontend_settings

TRAIN_HINT = ("train one with `python -m engine.train classifier --data CORPUS --out RUN` "
              "and pass --classifier RUN")


@dataclass
class Measured:
    features: np.ndarray  # (n, F) float64
    probs: dict[str, np.ndarray]  # head -> (n, K) mean crop probabilities

    @property
    def pred(self) -> dict[str, np.ndarray]:
        return {h: p.argmax(axis=1) for h, p in self.probs.items()}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Classifier:
    def __init__(self, run_dir: Path | str, threads: int = 1) -> None:
        import onnxruntime as ort

        from engine.manifest import sha256

        self.dir = Path(run_dir)
        info_path, onnx_path = self.dir / "classifier.json", self.dir / "classifier.onnx"
        if not info_path.is_file() or not onnx_path.is_file():
            raise ValueError(f"no classifier in {self.dir} (classifier.json and classifier.onnx "
                             f"expected): {TRAIN_HINT}")
        self.info = json.loads(info_path.read_text())
        if self.info.get("onnx_sha256") != sha256(onnx_path):
            raise ValueError(f"{onnx_path} does not match the sha256 in {info_path}: altered? "
                             "Copy both files from the same training run.")
        if self.info.get("frontend") != frontend_settings():
            raise ValueError(f"{info_path} was trained on another log-mel front end than "
                             f"engine.bench.quality.frontend: {TRAIN_HINT}")
        self.attributes = Attributes.from_dict(self.info["attributes"])
        self.scale = float(self.info["scale"])
        self.sha256 = self.info["onnx_sha256"]
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), so,
                                            providers=["CPUExecutionProvider"])

    def measure_one(self, audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list]:
        """audio (C, N) -> features (F,), [probabilities (K,) per head]."""
        x = frontend.normalise(frontend.clip_crops(frontend.log_mel(audio, sample_rate)),
                               self.scale)  # (crops, 1, M, L)
        feats, *logits = self.session.run(None, {"log_mel": x})
        return feats.mean(axis=0), [_softmax(lg).mean(axis=0) for lg in logits]

    def measure(self, audios: Sequence[np.ndarray], sample_rate: int) -> Measured:
        """Each clip (C, N) at sample_rate -> features (n, F) and probabilities per head."""
        feats, probs = [], {h: [] for h in HEADS}
        for audio in audios:
            f, ps = self.measure_one(audio, sample_rate)
            feats.append(f)
            for h, p in zip(HEADS, ps, strict=True):
                probs[h].append(p)
        if not feats:
            raise ValueError("no clips to measure")
        return Measured(np.stack(feats).astype(np.float64),
                        {h: np.stack(p) for h, p in probs.items()})
