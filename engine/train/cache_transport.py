"""Carry a latent cache to another machine in a third of its size (`pack-cache` / `unpack-cache`).

    python -m engine.train pack-cache --cache /root/presto-data/latents --out .gpu/cache
    python -m engine.train unpack-cache --bundle .gpu/cache --out /tmp/latents   # there

An accelerator lent for a few minutes takes a bounded upload (64 MiB here), and the
float16 cache of the corpus is 163 MB. The bundle holds the cache's index.json and
text.npy as they are, and the latents quantised to int8 with one scale (max |x| / 127:
rounding error about 0.011 RMS on unit-variance latents, 40 dB below them), stored as
temporal differences (neighbouring frames are 0.93 correlated, so the differences have
a third of the spread) and xz-compressed: 0.59 of the int8 size, lossless from there.
The unpacked cache is an ordinary complete cache (engine.train.latent_cache) whose
index records the quantisation under "transport".
"""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.train.checkpoint import write_json_atomic

LATENTS_FILE = "latents.q8.xz"
FORMAT = "int8-time-delta-xz"
CHUNK_FRAMES = 1 << 18  # frames quantised and compressed at a time


def complete_index(cache_dir: Path) -> dict:
    """The index of a complete latent cache; SystemExit saying what is missing otherwise."""
    index_path = cache_dir / "index.json"
    if not index_path.exists() or not (cache_dir / "latents.npy").exists():
        raise SystemExit(f"--cache {cache_dir}: no index.json and latents.npy there "
                         "(build the cache with `python -m engine.train base --cache-only`)")
    index = json.loads(index_path.read_text())
    if not index.get("complete"):
        raise SystemExit(f"--cache {cache_dir} is incomplete: finish building it first")
    return index


def pack_cache(cache_dir: Path, out_dir: Path, preset: int = 6) -> dict:
    """Write the bundle of a complete cache to out_dir; returns its transport record."""
    index = complete_index(cache_dir)
    latents = np.load(cache_dir / "latents.npy", mmap_mode="r")  # (frames, D) float16
    frames, dim = latents.shape
    peak = max(float(np.abs(latents[i : i + CHUNK_FRAMES]).max())  # float16 abs is exact
               for i in range(0, frames, CHUNK_FRAMES))
    scale = max(peak, 1e-8) / 127.0
    out_dir.mkdir(parents=True, exist_ok=True)
    squared_error, previous = 0.0, np.zeros((1, dim), dtype=np.uint8)
    comp = lzma.LZMACompressor(preset=preset)
    with open(out_dir / LATENTS_FILE, "wb") as f:
        for i in tqdm(range(0, frames, CHUNK_FRAMES), desc="pack latents", unit="chunk"):
            x = latents[i : i + CHUNK_FRAMES].astype(np.float32)  # (n, D)
            q = np.clip(np.round(x / scale), -127, 127).astype(np.int8)
            squared_error += float(((q.astype(np.float32) * scale - x) ** 2).sum())
            u = q.view(np.uint8)
            delta = np.diff(u, axis=0, prepend=previous)  # uint8 arithmetic wraps: lossless
            previous = u[-1:]
            f.write(comp.compress(delta.tobytes()))
        f.write(comp.flush())
    record = {
        "format": FORMAT,
        "scale": scale,
        "shape": [int(frames), int(dim)],
        "error_rms": round((squared_error / max(1, frames * dim)) ** 0.5, 6),
        "from": str(cache_dir.resolve()),
    }
    write_json_atomic({**index, "transport": record}, out_dir / "index.json")
    shutil.copyfile(cache_dir / "text.npy", out_dir / "text.npy")
    return record


def unpack_cache(bundle_dir: Path, out_dir: Path) -> Path:
    """Rebuild a complete float16 cache in out_dir from a bundle; returns out_dir."""
    missing = [n for n in ("index.json", "text.npy", LATENTS_FILE) if not (bundle_dir / n).exists()]
    if missing:
        raise SystemExit(f"--bundle {bundle_dir}: missing {', '.join(missing)} "
                         "(make the bundle with `python -m engine.train pack-cache`)")
    index = json.loads((bundle_dir / "index.json").read_text())
    record = index.get("transport", {})
    if record.get("format") != FORMAT:
        raise SystemExit(f"--bundle {bundle_dir}: index.json has no {FORMAT} transport record")
    frames, dim = record["shape"]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "latents.npy.part"
    latents = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(frames, dim))
    decomp, pending, row = lzma.LZMADecompressor(), b"", 0
    previous = np.zeros((1, dim), dtype=np.uint8)
    with open(bundle_dir / LATENTS_FILE, "rb") as f, tqdm(total=frames, desc="unpack latents",
                                                          unit="frame") as bar:
        while chunk := f.read(1 << 22):
            try:
                pending += decomp.decompress(chunk)
            except lzma.LZMAError as error:
                raise SystemExit(f"--bundle {bundle_dir}: {LATENTS_FILE} is not a readable xz "
                                 f"stream ({error}); copy or pack it again") from None
            whole = len(pending) // dim * dim
            if not whole:
                continue
            delta = np.frombuffer(pending[:whole], dtype=np.uint8).reshape(-1, dim)
            pending = pending[whole:]
            u = np.cumsum(np.concatenate([previous, delta]), axis=0, dtype=np.uint8)[1:]
            previous = u[-1:]
            n = len(u)
            if row + n > frames:
                raise SystemExit(f"--bundle {bundle_dir}: {LATENTS_FILE} holds more than "
                                 f"the {frames} frames its index names; pack it again")
            latents[row : row + n] = u.view(np.int8).astype(np.float32) * record["scale"]
            row += n
            bar.update(n)
    if row != frames or pending or not decomp.eof:
        raise SystemExit(f"--bundle {bundle_dir}: {LATENTS_FILE} holds {row} of {frames} "
                         "frames (truncated upload?); copy or pack it again")
    latents.flush()
    del latents
    tmp.replace(out_dir / "latents.npy")
    shutil.copyfile(bundle_dir / "text.npy", out_dir / "text.npy")
    write_json_atomic(index, out_dir / "index.json")
    return out_dir
