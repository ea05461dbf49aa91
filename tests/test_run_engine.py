"""run_engine.py status: reports the shipped models, verified, with no torch; the live engine
refuses a missing model with a clear message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import run_engine

ROOT = Path(__file__).resolve().parents[1]


def test_status_lists_the_shipped_codec_as_verified():
    lines = "\n".join(run_engine.describe_exported())
    assert "codec: codec" in lines and "files verified" in lines


def test_an_altered_model_file_is_reported_as_refused(tmp_path):
    shutil.copytree(ROOT / "exported" / "codec", tmp_path / "codec")
    with (tmp_path / "codec" / "decoder.onnx").open("ab") as f:
        f.write(b"\0")
    lines = "\n".join(run_engine.describe_exported(tmp_path))
    assert "REFUSED" in lines and "decoder.onnx" in lines


def test_status_runs_without_importing_torch():
    code = (
        "import sys, run_engine; run_engine.main(['status']);"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "exported/" in result.stdout


def test_the_live_engine_without_a_model_exits_2_and_says_how_to_get_one(tmp_path):
    result = subprocess.run(
        [sys.executable, "run_engine.py", "--model", str(tmp_path / "nothing"), "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "no exported model at" in result.stderr and "--model" in result.stderr
    assert "Traceback" not in result.stderr
