from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine.codec.decoder import DecoderForExport
from engine.codec.runtime import CodecRuntime
from engine.export.codec import load_run
from engine.manifest import ManifestError, load_manifest, sha256


def test_manifest_records_hashes_stats_and_provenance(codec_model: Path) -> None:
    m = load_manifest(codec_model, kind="codec")
    assert m["kind"] == "codec" and m["format_version"] == 1
    assert set(m["files"]) == {"encoder.onnx", "decoder.onnx"}
    for name, entry in m["files"].items():
        assert entry["sha256"] == sha256(codec_model / name)
    assert len(m["latent_stats"]["mean"]) == len(m["latent_stats"]["std"]) == 32
    assert m["sample_rate"] == 44100 and m["channels"] == 1
    assert m["n_fft"] == 2048 and m["hop"] == 512
    assert m["training"]["steps"] > 0 and "mel_l1" in m["training"]["final_losses"]
    assert m["parity"]["max_abs_error"] < m["parity"]["tolerance"]


def test_decoder_graph_matches_pytorch_at_unseen_batch_and_length(
    codec_model: Path, codec_run: Path
) -> None:
    model, _ = load_run(codec_run)
    sess = ort.InferenceSession(str(codec_model / "decoder.onnx"))
    z = torch.randn(5, 32, 29)
    with torch.no_grad():
        ref = DecoderForExport(model.decoder)(z)
    out = sess.run(None, {"latent": z.numpy()})
    for a, b in zip(out, ref, strict=True):
        assert a.shape == (5, 1, 29 * 4, 1025)
        np.testing.assert_allclose(a, b.numpy(), atol=1e-4)


def test_encoder_graph_runs_at_another_length(codec_model: Path) -> None:
    sess = ort.InferenceSession(str(codec_model / "encoder.onnx"))
    (z,) = sess.run(None, {"log_mel": np.zeros((3, 128, 4 * 11), np.float32)})
    assert z.shape == (3, 32, 11)


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_model_dir_with_a_missing_file_is_refused_naming_it(codec_model, tmp_path) -> None:
    d = copy_model(codec_model, tmp_path / "m")
    (d / "decoder.onnx").unlink()
    with pytest.raises(ManifestError, match="decoder.onnx"):
        CodecRuntime(d)


def test_model_dir_with_an_altered_file_is_refused_naming_it(codec_model, tmp_path) -> None:
    d = copy_model(codec_model, tmp_path / "m")
    with open(d / "encoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ManifestError, match="encoder.onnx"):
        CodecRuntime(d)


def test_manifest_of_another_kind_or_version_is_refused(codec_model, tmp_path) -> None:
    d = copy_model(codec_model, tmp_path / "m")
    m = json.loads((d / "manifest.json").read_text())
    (d / "manifest.json").write_text(json.dumps({**m, "kind": "dit"}))
    with pytest.raises(ManifestError, match="kind"):
        CodecRuntime(d)
    (d / "manifest.json").write_text(json.dumps({**m, "format_version": 99}))
    with pytest.raises(ManifestError, match="format_version"):
        CodecRuntime(d)
    (d / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="manifest.json"):
        CodecRuntime(d)
