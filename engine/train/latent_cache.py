"""Latent cache for diffusion training: every clip encoded once by the trained codec.

    cache = build_latent_cache(data_dir, codec_dir, cache_dir)   # resumable, with progress
    x0, text = cache.sample(rng, "train", batch=8, max_frames=689, patch=2)

Layout of cache_dir:
  latents.npy   float16 memmap (total frames, D): normalised latents, clips back to back,
                frame-major so that a window of a clip is one contiguous slice
  text.npy      float32 (clips, 384): the MiniLM embedding of each clip's caption
  index.json    key (data + codec fingerprint), per-clip path/split/caption/offset/frames,
                progress (`done`), latent statistics of the train split (sigma_data)

Encoding a large corpus takes a while on a CPU, so progress is saved every
`save_every_s` seconds (memmap flushed first) and a rerun continues where it
stopped; a different corpus or codec starts afresh. float16 is ample for
unit-variance latents (3 significant digits) and halves the page-cache footprint.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.latent_codec import LatentCodec, load_latent_codec, read_audio
from engine.manifest import latent_stats_digest as stats_digest
from engine.train.checkpoint import write_json_atomic

SPLITS = ("train", "valid")  # the test split stays unseen until evaluation
MIN_FRAMES = 8  # shorter clips (< 0.37 s) are left out: too short to window or continue


def codec_fingerprint(codec_dir: Path) -> str:
    """sha256 over the files that decide the latents (weights and normalisation stats)."""
    h = hashlib.sha256()
    for name in ("latent_stats.json", "manifest.json", "checkpoint.pt"):
        path = codec_dir / name
        if path.exists():
            st = path.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
            if path.suffix == ".json":
                h.update(path.read_bytes())
    return h.hexdigest()


def latent_stats_digest(codec_dir: Path) -> str:
    """sha256 of the codec's latent mean/std, the same for a run and its export.

    A different codec (or a retrained one) has different statistics, so this tells
    whether two latent caches speak the same latent language; unlike file times it
    survives copying the codec to another machine.
    """
    if (codec_dir / "latent_stats.json").exists():
        stats = json.loads((codec_dir / "latent_stats.json").read_text())
    else:
        stats = json.loads((codec_dir / "manifest.json").read_text())["latent_stats"]
    return stats_digest(stats)


def plan_clips(data_dir: Path, samples_per_latent: int) -> list[dict]:
    """Train and valid rows of metadata.jsonl with their whole-frame counts (file headers)."""
    import soundfile as sf  # here: opening a complete cache needs no audio I/O

    clips = []
    with open(data_dir / "metadata.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:
        if row.get("split") not in SPLITS:
            continue
        frames = sf.info(data_dir / row["path"]).frames // samples_per_latent
        if frames < MIN_FRAMES:
            continue
        clips.append(
            {
                "path": row["path"],
                "split": row["split"],
                "caption": row.get("caption", ""),
                "frames": int(frames),
            }
        )
    if not any(c["split"] == "train" for c in clips):
        raise ValueError(f"no usable train clips in {data_dir / 'metadata.jsonl'}")
    offset = 0
    for clip in clips:
        clip["offset"] = offset
        offset += clip["frames"]
    return clips


@dataclass
class LatentCache:
    latents: np.ndarray  # float16 (total frames, D) memmap
    text: np.ndarray  # float32 (clips, 384)
    offsets: np.ndarray  # (clips,) int64 first frame of each clip
    frames: np.ndarray  # (clips,) int64 frames per clip
    splits: dict[str, np.ndarray]  # split -> clip indices
    index: dict  # the parsed index.json

    @property
    def sigma_data(self) -> float:
        return float(self.index["stats"]["std"])

    def window(self, clip: int, start: int, length: int) -> np.ndarray:
        """(D, length) float32 latent frames of one clip."""
        o = self.offsets[clip] + start
        return np.asarray(self.latents[o : o + length], dtype=np.float32).T  # (D, T)

    def sample(
        self,
        rng: np.random.Generator,
        split: str,
        batch: int,
        max_frames: int,
        patch: int = 1,
        bucket_frames: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random windows of similar-length clips: x0 (B, D, T) and text (B, 384).

        An anchor clip is drawn uniformly; the batch is drawn from clips whose
        usable length (capped at max_frames) falls in the anchor's length bucket,
        and T is the shortest of them (rounded down to a multiple of patch). So no
        window is padded, no attention mask is needed, and the network sees the
        window lengths of the corpus.
        """
        ids = self.splits[split]
        usable = np.minimum(self.frames[ids], max_frames)  # (n,)
        bucket = usable // bucket_frames
        anchor = rng.integers(len(ids))
        pool = np.flatnonzero(bucket == bucket[anchor])
        chosen = ids[rng.choice(pool, size=batch)]  # with replacement: small buckets are fine
        t = int(min(max_frames, self.frames[chosen].min()))
        t = max(patch, t // patch * patch)
        x0 = np.stack(
            [self.window(c, int(rng.integers(0, self.frames[c] - t + 1)), t) for c in chosen]
        )  # (B, D, T)
        return x0, self.text[chosen]

    def fixed_windows(
        self, split: str, count: int, max_frames: int, patch: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic windows for validation: the `count` longest clips, from their start."""
        ids = self.splits[split]
        order = ids[np.argsort(-np.minimum(self.frames[ids], max_frames), kind="stable")]
        chosen = order[:count]
        t = int(min(max_frames, self.frames[chosen].min()))
        t = max(patch, t // patch * patch)
        return np.stack([self.window(c, 0, t) for c in chosen]), self.text[chosen]


def open_latent_cache(cache_dir: Path) -> LatentCache:
    index = json.loads((cache_dir / "index.json").read_text())
    if not index.get("complete"):
        raise ValueError(f"{cache_dir} is incomplete: build it with build_latent_cache")
    clips = index["clips"]
    split_names = np.array([c["split"] for c in clips])
    return LatentCache(
        latents=np.load(cache_dir / "latents.npy", mmap_mode="r"),
        text=np.load(cache_dir / "text.npy"),
        offsets=np.array([c["offset"] for c in clips], dtype=np.int64),
        frames=np.array([c["frames"] for c in clips], dtype=np.int64),
        splits={s: np.flatnonzero(split_names == s) for s in SPLITS},
        index=index,
    )


def build_latent_cache(
    data_dir: Path,
    codec_dir: Path,
    cache_dir: Path,
    save_every_s: float = 30.0,
    codec: LatentCodec | None = None,
) -> LatentCache:
    """Encode the train and valid clips (resuming a partial build) and embed their captions."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    index_path, lat_path = cache_dir / "index.json", cache_dir / "latents.npy"
    meta = (data_dir / "metadata.jsonl").stat()
    key = {
        "data": str(data_dir.resolve()),
        "metadata": f"{meta.st_size}:{meta.st_mtime_ns}",  # a grown corpus starts afresh
        "codec": str(codec_dir.resolve()),
        "codec_fingerprint": codec_fingerprint(codec_dir),
    }
    index = json.loads(index_path.read_text()) if index_path.exists() else None
    if index is not None and index["key"] == key and lat_path.exists():
        if index.get("complete"):
            return open_latent_cache(cache_dir)
    else:
        index = None
    codec = codec or load_latent_codec(codec_dir)
    if index is None:
        clips = plan_clips(data_dir, codec.samples_per_latent)
        index = {
            "key": key,
            "latent_dim": codec.latent_dim,
            "sample_rate": codec.sample_rate,
            "latent_rate_hz": codec.sample_rate / codec.samples_per_latent,
            "clips": clips,
            "done": 0,
            "sums": [0.0, 0.0, 0],
            "complete": False,
        }
        total = clips[-1]["offset"] + clips[-1]["frames"]
        np.lib.format.open_memmap(
            lat_path, mode="w+", dtype=np.float16, shape=(total, codec.latent_dim)
        ).flush()
        write_json_atomic(index, index_path)
    mm = np.load(lat_path, mmap_mode="r+")
    clips = index["clips"]
    s1, s2, n = index["sums"]  # running sum, sum of squares, count over train latents
    last_save = time.monotonic()
    t0, frames_done = time.monotonic(), 0
    bar = tqdm(
        total=len(clips),
        initial=index["done"],
        desc="encoding latents",
        unit="clip",
        dynamic_ncols=True,
    )
    for i in range(index["done"], len(clips)):
        clip = clips[i]
        audio = read_audio(data_dir / clip["path"], codec.sample_rate, codec.channels)
        z = codec.encode(audio)[:, : clip["frames"]]  # (D, frames)
        mm[clip["offset"] : clip["offset"] + clip["frames"]] = z.T.astype(np.float16)
        if clip["split"] == "train":
            z64 = z.astype(np.float64)
            s1, s2, n = s1 + float(z64.sum()), s2 + float((z64**2).sum()), n + z64.size
        frames_done += clip["frames"]
        bar.update(1)
        if time.monotonic() - last_save > save_every_s or i == len(clips) - 1:
            mm.flush()
            index["done"], index["sums"] = i + 1, [s1, s2, n]
            write_json_atomic(index, index_path)
            last_save = time.monotonic()
    bar.close()
    del mm
    elapsed = time.monotonic() - t0
    if not (cache_dir / "text.npy").exists() or index.get("text_done") is not True:
        from engine.prompt import TorchPromptEncoder

        captions = [c["caption"] for c in clips]
        encoder = TorchPromptEncoder()
        text = np.concatenate(
            [
                encoder.embed(captions[i : i + 256])
                for i in tqdm(range(0, len(captions), 256), desc="embedding captions", unit="batch")
            ]
        )
        np.save(cache_dir / "text.npy", text)
        index["text_done"] = True
    mean = s1 / max(n, 1)
    index["stats"] = {
        "mean": mean,
        "std": float(np.sqrt(max(s2 / max(n, 1) - mean**2, 0.0))),
        "train_values": n,
    }
    if frames_done:
        index["encode_speed"] = {
            "frames_per_s": frames_done / elapsed,
            "audio_x_realtime": frames_done / elapsed / index["latent_rate_hz"],
        }
    index["complete"] = True
    write_json_atomic(index, index_path)
    return open_latent_cache(cache_dir)
