"""Log-mel spectrograms of a corpus split, computed once and read as a memory map.

    build_cache(Path("/root/presto-data/corpus"), Path("RUN/mels"))   # train, valid, test
    split = open_split(Path("RUN/mels"), "train")
    mel = split.clip(7)                       # (64, T) float32 log-mel of clip 7
    split.rows[7]["caption"], split.rows[7]["families"]

Per split, RUN/mels/<split>.f16 holds every clip's frames one after another as
float16 (frames, 64) and <split>.json the index: the front-end settings, and per
clip its metadata row, first frame and frame count. A split whose index exists with
the same front end and clip list is not rebuilt, so an interrupted build resumes at
the split it was working on. 31 h of train audio make about 4.8 M frames (0.6 GB).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.bench.quality import frontend
from engine.data.works import SPLITS


def frontend_settings() -> dict:
    f = frontend
    return {"sample_rate": f.SAMPLE_RATE, "n_fft": f.N_FFT, "hop": f.HOP, "n_mels": f.N_MELS,
            "f_min": f.F_MIN, "f_max": f.F_MAX, "floor": f.FLOOR}


def read_metadata(data: Path) -> list[dict]:
    """The corpus's metadata.jsonl rows; ValueError with what to do if it is missing."""
    path = Path(data) / "metadata.jsonl"
    if not path.is_file():
        raise ValueError(f"{path} not found: --data must be a corpus built by "
                         "`python -m engine.data build`")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class MelSplit:
    mels: np.ndarray  # (frames, n_mels) float16 memory map, clips one after another
    starts: np.ndarray  # (clips,) first frame of each clip
    lengths: np.ndarray  # (clips,) frames of each clip
    rows: list[dict]  # metadata row of each clip

    def __len__(self) -> int:
        return len(self.rows)

    def clip(self, i: int, max_frames: int | None = None) -> np.ndarray:
        """Clip i's log-mel (n_mels, T) float32, at most max_frames from its start."""
        n = int(self.lengths[i]) if max_frames is None else min(int(self.lengths[i]), max_frames)
        s = int(self.starts[i])
        return np.asarray(self.mels[s:s + n], dtype=np.float32).T

    def segment(self, i: int, start: int, frames: int) -> np.ndarray:
        """frames of clip i from `start` (n_mels, frames) float32 (repeated if the clip is
        shorter)."""
        n = int(self.lengths[i])
        idx = (start + np.arange(frames)) % n + int(self.starts[i])
        return np.asarray(self.mels[idx], dtype=np.float32).T


def _paths(cache: Path, split: str) -> tuple[Path, Path]:
    return cache / f"{split}.f16", cache / f"{split}.json"


def _is_current(index: Path, rows: list[dict]) -> bool:
    if not index.is_file():
        return False
    idx = json.loads(index.read_text())
    return (idx.get("frontend") == frontend_settings()
            and [c["row"]["path"] for c in idx["clips"]] == [r["path"] for r in rows])


def build_cache(data: Path, cache: Path, splits: tuple[str, ...] = SPLITS,
                progress: bool = True) -> dict[str, int]:
    """Compute the log-mel of every clip of each split; returns clips per split."""
    import soundfile as sf
    from tqdm import tqdm

    data, cache = Path(data), Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows = read_metadata(data)
    counts = {}
    for split in splits:
        split_rows = sorted((r for r in rows if r.get("split") == split), key=lambda r: r["path"])
        counts[split] = len(split_rows)
        blob, index = _paths(cache, split)
        if _is_current(index, split_rows):
            continue
        clips, start = [], 0
        tmp = blob.with_suffix(".f16.tmp")
        with open(tmp, "wb") as f:
            for row in tqdm(split_rows, desc=f"log-mel {split}", unit="clip", disable=not progress,
                            dynamic_ncols=True):
                audio, sr = sf.read(data / row["path"], dtype="float32", always_2d=True)
                mel = frontend.log_mel(audio.T, sr)  # (M, T)
                f.write(np.ascontiguousarray(mel.T, dtype=np.float16).tobytes())
                clips.append({"row": row, "start": start, "frames": mel.shape[1]})
                start += mel.shape[1]
        os.replace(tmp, blob)
        tmp_index = index.with_suffix(".json.tmp")
        tmp_index.write_text(json.dumps({"frontend": frontend_settings(), "frames": start,
                                         "clips": clips}) + "\n")
        os.replace(tmp_index, index)
    return counts


def open_split(cache: Path, split: str) -> MelSplit:
    """The cached split as a memory map; ValueError if it was not built."""
    blob, index = _paths(Path(cache), split)
    if not index.is_file() or not blob.is_file():
        raise ValueError(f"no cached {split} split in {cache}: run build_cache first")
    idx = json.loads(index.read_text())
    n_mels = idx["frontend"]["n_mels"]
    frames = int(idx["frames"])
    mels = (np.memmap(blob, dtype=np.float16, mode="r", shape=(frames, n_mels)) if frames
            else np.zeros((0, n_mels), np.float16))
    clips = idx["clips"]
    return MelSplit(mels, np.array([c["start"] for c in clips], dtype=np.int64),
                    np.array([c["frames"] for c in clips], dtype=np.int64),
                    [c["row"] for c in clips])
