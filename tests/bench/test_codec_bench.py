from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.bench.__main__ import main as cli
from engine.bench.metrics import log_mel_l1, mrstft_distance
from engine.manifest import load_manifest


def test_distances_are_zero_for_identical_audio_and_positive_otherwise() -> None:
    x = (0.1 * np.random.default_rng(0).standard_normal((1, 8192))).astype(np.float32)
    assert log_mel_l1(x, x, 44100, 2048, 512, 128) == 0.0
    assert mrstft_distance(x, x)["total"] == 0.0
    assert mrstft_distance(0.5 * x, x)["total"] > 0.1


def test_bench_writes_table_listening_pack_and_records_figures(
    codec_model: Path, codec_corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    cli(
        [
            "codec",
            "--model",
            str(codec_model),
            "--data",
            str(codec_corpus),
            "--clips",
            "1",
            "--seconds",
            "1",
            "--runs",
            "1",
            "--out",
            str(out),
            "--record",
        ]
    )
    r = json.loads((out / "results.json").read_text())
    for key in (
        "codec_mel_l1",
        "griffin_lim_mel_l1",
        "codec_mrstft",
        "griffin_lim_mrstft",
        "decode_32s_ms",
        "compression_ratio",
        "stream_vs_whole_max_abs",
    ):
        assert np.isfinite(r[key]), key
    assert r["compression_ratio"] == 64 and r["stream_vs_whole_max_abs"] < 1e-4
    for name in (
        "00_original.wav",
        "00_codec.wav",
        "00_griffin_lim.wav",
        "00_spectrogram.png",
        "results.md",
    ):
        assert (out / name).exists(), name
    # Recording figures leaves the manifest loadable (hashes cover the ONNX files only).
    assert load_manifest(codec_model, kind="codec")["benchmark"]["decode_32s_ms"] > 0
