"""Offline generation through the served-model runtime (onnxruntime), on a really exported
micro base model with the real text encoder and a trained test codec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import run_engine
from engine.generate import GenerateConfig, generate
from tests.runtime import support

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return support.exported_root(tmp_path_factory) / "base"


def render(model_dir: Path, out: Path, **kw) -> dict:
    settings = dict(prompt="a slow chorale for strings", out=out, seconds=1.5, model=model_dir,
                    steps=2, guidance=2.0, seed=1)
    return generate(GenerateConfig(**(settings | kw)))


def test_generate_writes_a_finite_44k_wav_of_the_requested_length(model_dir, tmp_path) -> None:
    info = render(model_dir, tmp_path / "a.wav", seconds=1.5)
    audio, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 44100 and audio.shape == (round(1.5 * 44100),)
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
    assert info["windows"] == 2  # 33 frames > the micro window of 24 (+4): a second window
    assert info["provider"] == "CPUExecutionProvider" and info["steps"] == 2


def test_the_same_seed_gives_the_same_audio_and_samplers_all_run(model_dir, tmp_path) -> None:
    render(model_dir, tmp_path / "a.wav", sampler="euler")
    render(model_dir, tmp_path / "b.wav", sampler="euler")
    render(model_dir, tmp_path / "c.wav", sampler="dpmpp_2m", guidance=1.0)
    render(model_dir, tmp_path / "d.wav", sampler="euler", seed=2)
    a, b = sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sf.read(tmp_path / "d.wav")[0])


def test_a_lower_budget_runs_fewer_blocks(model_dir, tmp_path) -> None:
    full = render(model_dir, tmp_path / "a.wav", budget=1.0)
    low = render(model_dir, tmp_path / "b.wav", budget=0.0)
    assert low["blocks_per_evaluation"] <= full["blocks_per_evaluation"]


def test_continuation_starts_with_the_given_audio(model_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    given = (0.3 * np.sin(np.arange(44100) * 2 * np.pi * 330 / 44100)
             + 0.01 * rng.standard_normal(44100)).astype(np.float32)
    sf.write(tmp_path / "in.wav", given, 44100, subtype="PCM_16")
    info = render(model_dir, tmp_path / "out.wav", seconds=2.0, continue_from=tmp_path / "in.wav")
    out, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    given16, _ = sf.read(tmp_path / "in.wav", dtype="float32")
    assert out.shape == (2 * 44100,) and info["continued_seconds"] == pytest.approx(1.0)
    keep = 44100 - 2048  # everything before the crossfade is the given audio, bit for bit
    np.testing.assert_array_equal(out[:keep], given16[:keep])


def test_continuation_resamples_other_rates_and_rejects_non_audio(model_dir, tmp_path) -> None:
    sf.write(tmp_path / "in22k.wav", np.zeros(22050, dtype=np.float32) + 0.1, 22050)
    info = render(model_dir, tmp_path / "o.wav", seconds=1.5,
                  continue_from=tmp_path / "in22k.wav")
    assert info["continued_seconds"] == pytest.approx(1.0, abs=1e-3)
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(ValueError, match="not an audio file"):
        render(model_dir, tmp_path / "x.wav", continue_from=tmp_path / "notes.wav")
    with pytest.raises(ValueError, match="must exceed"):
        render(model_dir, tmp_path / "x.wav", seconds=0.5, continue_from=tmp_path / "in22k.wav")


@pytest.mark.parametrize(("kw", "message"), [
    ({"prompt": "   "}, "prompt is empty"),
    ({"seconds": 0.0}, "--seconds must be in"),
    ({"seconds": 10_000.0}, "--seconds must be in"),
    ({"steps": 0}, "steps must be in"),
    ({"budget": 1.5}, "budget must be in"),
])
def test_bad_settings_get_clear_errors(model_dir, tmp_path, kw, message) -> None:
    with pytest.raises(ValueError, match=message):
        render(model_dir, tmp_path / "x.wav", **kw)


def test_a_prompt_longer_than_the_encoder_takes_is_truncated_with_a_warning(model_dir,
                                                                            tmp_path) -> None:
    with pytest.warns(UserWarning, match="truncated|only its beginning"):
        render(model_dir, tmp_path / "x.wav", prompt="strings and brass " * 200)


def test_cli_json_and_clear_errors_without_tracebacks(model_dir, tmp_path, capsys) -> None:
    out = tmp_path / "cli.wav"
    argv = ["generate", "--prompt", "folk fiddle", "--seconds", "1", "--out", str(out),
            "--model", str(model_dir), "--steps", "2", "--json"]
    assert run_engine.main(argv) == 0 and sf.info(out).samplerate == 44100
    info = json.loads(capsys.readouterr().out)
    for key in ("audio_seconds", "load_seconds", "generate_seconds", "steps", "budget",
                "provider"):
        assert key in info
    missing = ["generate", "--prompt", "x", "--out", str(out), "--model", str(tmp_path / "no")]
    assert run_engine.main(missing) == 2
    assert "not a directory" in capsys.readouterr().err
    empty = ["generate", "--prompt", "", "--out", str(out), "--model", str(model_dir)]
    assert run_engine.main(empty) == 2
    assert "prompt is empty" in capsys.readouterr().err
    sf.write(tmp_path / "in.wav", np.full(22050, 0.1, np.float32), 44100)
    continued = argv + ["--continue", str(tmp_path / "in.wav"), "--context-guidance", "1.5"]
    assert run_engine.main(continued) == 0
    assert json.loads(capsys.readouterr().out)["context_guidance"] == 1.5
    assert run_engine.main(continued + ["--context-min-sigma", "1000"]) == 0
    assert json.loads(capsys.readouterr().out)["context_min_sigma"] == 1000.0
    assert run_engine.main(continued[:-1] + ["11"]) == 2
    assert "context guidance must be in [0, 10]" in capsys.readouterr().err


def test_generate_runs_where_torch_cannot_be_imported(model_dir, tmp_path) -> None:
    """The serving path never imports torch: a meta-path hook makes `import torch` fail."""
    out = tmp_path / "nt.wav"
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is not installed in a serving environment')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import run_engine\n"
        f"raise SystemExit(run_engine.main(['generate', '--prompt', 'piano', '--seconds', '1',"
        f" '--out', {str(out)!r}, '--model', {str(model_dir)!r}, '--steps', '2', '--json']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["audio_seconds"] == pytest.approx(1.0, abs=0.05)


def test_the_default_model_is_the_best_shipped_one(tmp_path) -> None:
    from engine.generate import default_model

    assert default_model(tmp_path) == tmp_path / "presto-ls"  # nothing shipped: the intended
    for name in ("base", "presto-s", "presto-ls"):  # each better kind, once shipped, wins
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
        assert default_model(tmp_path) == tmp_path / name
    (tmp_path / "presto-ls" / "manifest.json").unlink()  # a directory without a manifest
    assert default_model(tmp_path) == tmp_path / "presto-s"
