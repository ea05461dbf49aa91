from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.train.__main__ import main as cli
from engine.train.audio_cache import load_audio, open_cache, to_int16


def test_packed_excerpts_unpack_to_the_exact_source_samples(
    codec_corpus: Path, tmp_path: Path
) -> None:
    bundle, cache_dir = tmp_path / "bundle", tmp_path / "cache"
    cli(["pack-audio", "--data", str(codec_corpus), "--out", str(bundle),
         "--megabytes", "10", "--excerpt", "1.5"])
    cli(["unpack-audio", "--bundle", str(bundle), "--out", str(cache_dir)])
    index = json.loads((bundle / "index.json").read_text())
    cache = open_cache(cache_dir)
    assert len(index["sources"]) == 3  # every train clip: the size bound was not reached
    assert list(cache.lengths) == [int(1.5 * 44100)] * 3
    for (path, offset), start, n in zip(index["sources"], cache.starts, cache.lengths,
                                        strict=True):
        source = to_int16(load_audio(codec_corpus / path, 44100, 1))
        np.testing.assert_array_equal(cache.audio[:, start : start + n],
                                      source[:, offset : offset + n])
    assert cache.sample(np.random.default_rng(0), 2, 4096).shape == (2, 1, 4096)


def test_the_size_bound_stops_packing(codec_corpus: Path, tmp_path: Path) -> None:
    cli(["pack-audio", "--data", str(codec_corpus), "--out", str(tmp_path / "b"),
         "--megabytes", "0.001", "--excerpt", "1"])
    index = json.loads((tmp_path / "b" / "index.json").read_text())
    assert len(index["sources"]) == 1


def test_unpack_refuses_a_missing_truncated_or_foreign_bundle(
    codec_corpus: Path, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match="no index.json"):
        cli(["unpack-audio", "--bundle", str(tmp_path / "none"), "--out", str(tmp_path / "c")])
    bundle = tmp_path / "bundle"
    cli(["pack-audio", "--data", str(codec_corpus), "--out", str(bundle),
         "--megabytes", "10", "--excerpt", "1"])
    flac = bundle / "audio.flac"
    flac.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    with pytest.raises(SystemExit, match="copy it again|unreadable"):
        cli(["unpack-audio", "--bundle", str(bundle), "--out", str(tmp_path / "c")])
    index = json.loads((bundle / "index.json").read_text()) | {"format": "mp3"}
    (bundle / "index.json").write_text(json.dumps(index))
    with pytest.raises(SystemExit, match="format"):
        cli(["unpack-audio", "--bundle", str(bundle), "--out", str(tmp_path / "c")])
