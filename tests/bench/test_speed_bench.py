"""engine.bench speed end to end on the exported micro model: onnxruntime and PyTorch rows."""

from __future__ import annotations

import json
import shutil

import pytest

from engine.bench.speed import main
from engine.codec.runtime import CodecRuntime
from engine.export.decoder_int8 import quantize_decoder
from tests.codec.support import TINY_CODEC_MAX_ERROR, tone_latents
from tests.runtime import support


def test_speed_bench_times_both_backends_on_the_same_plan(tmp_path_factory, tmp_path) -> None:
    model = support.exported_root(tmp_path_factory) / "base"
    out = tmp_path / "speed"
    assert main(["--models", str(model), "--seconds", "1", "--repeats", "1", "--threads", "1",
                 "--torch", "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["backend"] for r in rows] == ["onnxruntime", "torch"]
    onnx, torch_row = rows
    assert "error" not in onnx and "error" not in torch_row, rows
    for key in ("evaluations", "steps", "blocks", "budget"):
        assert onnx[key] == torch_row[key]  # identical work on both backends
    assert onnx["evaluations"] == 7 and onnx["batch_per_evaluation"] == 2  # 4 Heun steps, CFG
    assert onnx["peak_rss_mb"] > 0 and onnx["audio_seconds"] > 1.0
    assert "| base | onnxruntime |" in (out / "results.md").read_text()


def test_speed_bench_times_each_budget_given_in_its_own_row(tmp_path_factory, tmp_path) -> None:
    model = support.exported_root(tmp_path_factory) / "base"
    out = tmp_path / "speed"
    assert main(["--models", str(model), "--seconds", "1", "--repeats", "1", "--threads", "1",
                 "--budgets", "1.0", "0.25", "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["budget"] for r in rows] == [1.0, 0.25], rows
    full, low = rows
    # (the micro model's 2 blocks are also its floor: the budget shows in the plan only)
    assert sum(low["blocks"]) <= sum(full["blocks"])
    assert full["evaluations"] == low["evaluations"]  # the same steps
    assert "command" in json.loads((out / "results.json").read_text())["meta"]


def test_speed_bench_rows_per_decoder_and_distilled_steps_only_for_distilled_models(
    tmp_path_factory, tmp_path
) -> None:
    root = tmp_path / "exported"
    shutil.copytree(support.exported_root(tmp_path_factory), root)
    floats = CodecRuntime(root / "codec", device="cpu")
    quantize_decoder(root / "codec", tone_latents(floats, range(4)),
                     tone_latents(floats, range(4, 5)), max_error=TINY_CODEC_MAX_ERROR)
    fast = root / "fast"  # the micro network sampled the Presto-S way
    shutil.copytree(root / "base", fast)
    manifest = json.loads((fast / "manifest.json").read_text())
    manifest["sampling"]["mode"] = "distilled"
    (fast / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "speed"
    assert main(["--models", str(root / "base"), str(fast), "--seconds", "1", "--repeats", "1",
                 "--threads", "1", "--decoders", "float", "int8", "--distilled-steps", "2",
                 "--out", str(out)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [(r["model"], r["decoder"]) for r in rows] == [
        ("base", "float"), ("base", "int8"), ("fast", "float"), ("fast", "int8")], rows
    assert [r["steps"] for r in rows] == [4, 4, 2, 2]  # the base keeps its own steps
    assert [r["evaluations"] for r in rows] == [7, 7, 2, 2]
    table = (out / "results.md").read_text()
    assert "| base | onnxruntime | int8 |" in table and "(same decoder)" in table


def test_speed_bench_reports_a_missing_int8_decoder_in_its_row(tmp_path_factory,
                                                               tmp_path) -> None:
    model = support.exported_root(tmp_path_factory) / "base"
    out = tmp_path / "speed"
    assert main(["--models", str(model), "--seconds", "1", "--repeats", "1", "--threads", "1",
                 "--decoders", "int8", "--out", str(out)]) == 0
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    assert "decoder-int8" in row["error"]
    with pytest.raises(SystemExit, match="not both"):
        main(["--models", str(model), "--steps", "2", "--distilled-steps", "2"])
