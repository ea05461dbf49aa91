"""engine.bench speed end to end on the exported micro model: onnxruntime and PyTorch rows."""

from __future__ import annotations

import json

from engine.bench.speed import main
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
