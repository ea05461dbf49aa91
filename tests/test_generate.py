from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import run_engine
from engine.generate import GenerateConfig, generate
from tests.train import base_support

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def base_run(tmp_path_factory) -> Path:
    return base_support.base_run(tmp_path_factory)


def render(base_run: Path, out: Path, **kw) -> dict:
    settings = dict(
        prompt="a slow chorale for strings",
        out=out,
        seconds=1.5,
        model=base_run,
        steps=2,
        guidance=2.0,
        seed=1,
    )
    return generate(GenerateConfig(**(settings | kw)))


def test_generate_writes_a_finite_44k_wav_of_the_requested_length(base_run, tmp_path) -> None:
    info = render(base_run, tmp_path / "a.wav", seconds=1.5)
    audio, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 44100 and audio.shape == (round(1.5 * 44100),)
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
    assert info["windows"] == 2  # 33 frames > the micro window of 24: a second, sliding window


def test_the_same_seed_gives_the_same_audio_and_samplers_all_run(base_run, tmp_path) -> None:
    render(base_run, tmp_path / "a.wav", sampler="euler")
    render(base_run, tmp_path / "b.wav", sampler="euler")
    render(base_run, tmp_path / "c.wav", sampler="dpmpp2m", guidance=1.0)
    a, b = sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0]
    np.testing.assert_array_equal(a, b)


def test_continuation_starts_with_the_given_audio(base_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    given = (
        0.3 * np.sin(np.arange(44100) * 2 * np.pi * 330 / 44100) + 0.01 * rng.standard_normal(44100)
    ).astype(np.float32)
    sf.write(tmp_path / "in.wav", given, 44100, subtype="PCM_16")
    info = render(base_run, tmp_path / "out.wav", seconds=2.0, continue_from=tmp_path / "in.wav")
    out, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    given16, _ = sf.read(tmp_path / "in.wav", dtype="float32")
    assert out.shape == (2 * 44100,) and info["continued_s"] == pytest.approx(1.0)
    keep = 44100 - 2048  # everything before the crossfade is the given audio, bit for bit
    np.testing.assert_array_equal(out[:keep], given16[:keep])


def test_continuation_resamples_other_rates_and_rejects_non_audio(base_run, tmp_path) -> None:
    sf.write(tmp_path / "in22k.wav", np.zeros(22050, dtype=np.float32) + 0.1, 22050)
    info = render(base_run, tmp_path / "o.wav", seconds=1.5, continue_from=tmp_path / "in22k.wav")
    assert info["continued_s"] == pytest.approx(1.0, abs=1e-3)
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(ValueError, match="not an audio file"):
        render(base_run, tmp_path / "x.wav", continue_from=tmp_path / "notes.wav")
    with pytest.raises(ValueError, match="must exceed"):
        render(base_run, tmp_path / "x.wav", seconds=0.5, continue_from=tmp_path / "in22k.wav")


def test_cli_generate_and_a_clear_error_for_a_missing_model(base_run, tmp_path, capsys) -> None:
    out = tmp_path / "cli.wav"
    argv = [
        "generate",
        "--prompt",
        "folk fiddle",
        "--seconds",
        "1",
        "--out",
        str(out),
        "--model",
        str(base_run),
        "--steps",
        "2",
        "--sampler",
        "heun",
    ]
    assert run_engine.main(argv) == 0 and sf.info(out).samplerate == 44100
    missing = ["generate", "--prompt", "x", "--out", str(out), "--model", str(tmp_path / "no")]
    assert run_engine.main(missing) == 2
    assert "checkpoint.pt not found" in capsys.readouterr().err


def test_run_engine_without_arguments_prints_status_and_does_not_import_torch() -> None:
    code = "import sys, run_engine; run_engine.main([]); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "presto-live" in result.stdout and result.stdout.strip().endswith("False")
