"""Training audio cache: decode a subset of a corpus split once into an int16 memmap.

Decoding FLAC every step would starve a 2-core trainer, so training samples random
segments from ``<cache>/audio.npy`` (int16, (channels, samples)) with file boundaries in
``<cache>/index.json``. Building is deterministic (seeded file order) and idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm


def read_metadata(data_dir: Path, split: str) -> list[dict]:
    """Corpus metadata rows of one split (``metadata.jsonl``, paths relative to data_dir)."""
    rows = []
    with open(data_dir / "metadata.jsonl") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if row.get("split") == split:
                    rows.append(row)
    if not rows:
        raise ValueError(f"no {split!r} rows in {data_dir / 'metadata.jsonl'}")
    return rows


def to_int16(x: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] -> int16, as the cache stores audio."""
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def load_audio(path: Path, sample_rate: int, channels: int) -> np.ndarray:
    """Read a file as float32 (channels, samples), mixing down or duplicating channels."""
    import soundfile as sf  # here, not at import: a machine given a ready cache needs none

    x, sr = sf.read(path, dtype="float32", always_2d=True)  # (N, C_file)
    if sr != sample_rate:
        raise ValueError(f"{path}: sample rate {sr}, expected {sample_rate}")
    x = x.T  # (C_file, N)
    if x.shape[0] != channels:
        x = np.repeat(x.mean(axis=0, keepdims=True), channels, axis=0)
    return np.ascontiguousarray(x)


@dataclass
class AudioCache:
    audio: np.ndarray  # int16 memmap (channels, total samples)
    starts: np.ndarray  # (files,) first sample of each file
    lengths: np.ndarray  # (files,) samples per file

    def sample(self, rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
        """Random segments (batch, channels, length) float32 in [-1, 1]."""
        ok = np.flatnonzero(self.lengths >= length)
        files = rng.choice(ok, size=batch)
        out = np.empty((batch, self.audio.shape[0], length), dtype=np.float32)
        for i, f in enumerate(files):
            off = self.starts[f] + rng.integers(0, self.lengths[f] - length + 1)
            out[i] = self.audio[:, off : off + length]
        return out / 32768.0


def build_cache(
    data_dir: Path, cache_dir: Path, hours: float, sample_rate: int, channels: int, seed: int
) -> AudioCache:
    """Decode about ``hours`` of the train split into cache_dir (reused when present)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    index_path, audio_path = cache_dir / "index.json", cache_dir / "audio.npy"
    want = {"data": str(data_dir.resolve()), "hours": hours, "seed": seed, "channels": channels}
    if index_path.exists() and audio_path.exists():
        index = json.loads(index_path.read_text())
        if index["key"] == want:
            return _open(audio_path, index)
    rows = read_metadata(data_dir, "train")
    order = np.random.default_rng(seed).permutation(len(rows))
    budget = int(hours * 3600 * sample_rate)
    chosen, total = [], 0
    for i in order:
        if total >= budget:
            break
        n = int(round(rows[i]["duration_s"] * sample_rate))
        chosen.append(rows[i])
        total += n
    total += sample_rate * len(chosen)  # slack: durations in metadata are rounded
    tmp = cache_dir / "audio.tmp.npy"
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=(channels, total))
    starts, lengths, names, pos = [], [], [], 0
    for row in tqdm(chosen, desc="caching train audio", unit="file"):
        x = load_audio(data_dir / row["path"], sample_rate, channels)
        n = min(x.shape[1], total - pos)
        mm[:, pos : pos + n] = to_int16(x[:, :n])
        starts.append(pos)
        lengths.append(n)
        names.append(row["path"])
        pos += n
    mm.flush()
    del mm
    tmp.replace(audio_path)
    index = {"key": want, "starts": starts, "lengths": lengths, "files": names, "used": pos}
    index_path.write_text(json.dumps(index))
    return _open(audio_path, index)


def open_cache(cache_dir: Path) -> AudioCache:
    """An existing cache (as written by build_cache)."""
    return _open(cache_dir / "audio.npy", json.loads((cache_dir / "index.json").read_text()))


def _open(audio_path: Path, index: dict) -> AudioCache:
    audio = np.load(audio_path, mmap_mode="r")
    return AudioCache(
        audio=audio,
        starts=np.asarray(index["starts"], dtype=np.int64),
        lengths=np.asarray(index["lengths"], dtype=np.int64),
    )
