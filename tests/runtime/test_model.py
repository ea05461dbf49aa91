"""ServedModel.load on a really exported model directory, and every way it refuses one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.manifest import ManifestError
from engine.runtime.model import ServedModel


def copy_root(exported_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "exported"
    shutil.copytree(exported_root, root)
    return root


def test_load_reads_the_manifest_and_pairs_text_codec_and_dit(served) -> None:
    assert served.name == "base" and served.provider == "CPUExecutionProvider"
    assert served.sample_rate == 44100 and served.channels == 1
    assert served.denoiser.depth == served.dit.depth == 2
    assert served.window_frames == 24 and served.defaults.steps == 4
    assert served.text.null_embedding(1).shape == (1, 384)
    assert served.load_seconds > 0


def test_a_missing_or_altered_block_graph_is_refused_by_name(exported_root, tmp_path) -> None:
    root = copy_root(exported_root, tmp_path)
    with (root / "base" / "block_1.onnx").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ManifestError, match="block_1.onnx does not match"):
        ServedModel.load(root / "base")
    (root / "base" / "block_1.onnx").unlink()
    with pytest.raises(ManifestError, match="block_1.onnx is listed .* but missing"):
        ServedModel.load(root / "base")


def test_an_unknown_format_version_or_a_non_directory_is_refused(exported_root, tmp_path) -> None:
    root = copy_root(exported_root, tmp_path)
    path = root / "base" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"format_version": 99}))
    with pytest.raises(ManifestError, match="format_version 99"):
        ServedModel.load(root / "base")
    with pytest.raises(ManifestError, match="not a directory"):
        ServedModel.load(tmp_path / "nowhere")
    with pytest.raises(ManifestError, match="kind 'codec', expected 'model'"):
        ServedModel.load(root / "codec")


def test_a_codec_with_another_latent_space_is_refused(exported_root, tmp_path) -> None:
    root = copy_root(exported_root, tmp_path)
    path = root / "codec" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["latent_stats"]["mean"][0] += 1.0
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="other latent statistics"):
        ServedModel.load(root / "base")


def test_an_unexpected_sample_rate_or_channel_count_is_refused(exported_root) -> None:
    with pytest.raises(ManifestError, match="makes 44100 Hz audio, 48000 Hz was expected"):
        ServedModel.load(exported_root / "base", sample_rate=48000)
    with pytest.raises(ManifestError, match="makes 1-channel audio, 2 was expected"):
        ServedModel.load(exported_root / "base", channels=2)


def test_a_missing_text_encoder_is_named(exported_root, tmp_path) -> None:
    root = copy_root(exported_root, tmp_path)
    shutil.rmtree(root / "text")
    with pytest.raises(ManifestError, match="text"):
        ServedModel.load(root / "base")


def test_the_budgets_a_model_was_trained_for_reach_the_served_defaults(exported_root, tmp_path,
                                                                       tmp_path_factory) -> None:
    from engine.export.model import main
    from tests.train import base_support

    out = tmp_path / "presto"
    main(base_support.base_run(tmp_path_factory), out, exported_root / "text",
         exported_root / "codec", name="presto", mode="distilled", steps=4, guidance=1.0,
         sampler="euler", budget=0.8, kind="presto-ls", budgets=[0.6, 0.7])
    served = ServedModel.load(out, threads=1)
    assert served.defaults.budgets == (0.6, 0.7, 0.8, 1.0) and served.defaults.budget == 0.8
    with pytest.raises(SystemExit, match="budgets must be in"):
        main(base_support.base_run(tmp_path_factory), tmp_path / "bad", exported_root / "text",
             exported_root / "codec", name="bad", mode="distilled", steps=4, guidance=1.0,
             sampler="euler", budget=0.8, kind="presto-ls", budgets=[1.5])
