from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import CodecConfig
from engine.train.__main__ import main as cli


def test_imported_codec_has_the_exported_weights_and_statistics(
    codec_model: Path, codec_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "imported"
    cli(["import-codec", "--model", str(codec_model), "--out", str(out)])
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    trained = torch.load(codec_run / "checkpoint.pt", weights_only=False)["model"]
    assert state["model"].keys() == trained.keys()
    for key, value in trained.items():
        torch.testing.assert_close(state["model"][key], value, rtol=0, atol=0, msg=key)
    manifest = json.loads((codec_model / "manifest.json").read_text())
    stats = json.loads((out / "latent_stats.json").read_text())
    assert stats["mean"] == manifest["latent_stats"]["mean"]
    assert stats["std"] == manifest["latent_stats"]["std"]
    assert state["optimizer"] is None and state["step"] == 0
    Autoencoder(CodecConfig.from_dict(state["config"])).load_state_dict(state["model"])


def test_import_refuses_an_altered_graph_and_an_existing_run(
    codec_model: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(codec_model, broken)
    data = bytearray((broken / "decoder.onnx").read_bytes())
    data[-100] ^= 0xFF
    (broken / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(SystemExit, match="decoder.onnx"):
        cli(["import-codec", "--model", str(broken), "--out", str(tmp_path / "a")])
    out = tmp_path / "b"
    cli(["import-codec", "--model", str(codec_model), "--out", str(out)])
    with pytest.raises(SystemExit, match="exists"):
        cli(["import-codec", "--model", str(codec_model), "--out", str(out)])


def test_graph_weights_name_every_linear_layer(codec_model: Path) -> None:
    from engine.train.import_codec import graph_weights

    names = graph_weights(codec_model / "decoder.onnx", "")
    assert not any(k.split(".")[-1].startswith("val_") for k in names)
    assert names["decoder.mag_head.weight"].shape[1] == np.asarray(
        names["decoder.norm.weight"]).shape[0]
