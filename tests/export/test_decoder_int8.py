"""engine.export.decoder_int8 on the tiny trained codec: calibration, refusal, manifest, runtime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.codec.runtime import INT8_DECODER, CodecRuntime
from engine.export import decoder_int8
from engine.export.decoder_int8 import log_mag_error, quantize_decoder
from engine.manifest import ManifestError, load_manifest, sha256
from tests.codec.support import TINY_CODEC_MAX_ERROR
from tests.codec.support import tone_latents as _latents


@pytest.fixture(scope="module")
def int8_codec(codec_model: Path, tmp_path_factory) -> Path:
    model = tmp_path_factory.mktemp("int8") / "codec"
    shutil.copytree(codec_model, model)
    floats = CodecRuntime(model, device="cpu")
    quantize_decoder(model, _latents(floats, range(6)), _latents(floats, range(6, 8)),
                     max_error=TINY_CODEC_MAX_ERROR)
    return model


def test_quantized_decoder_is_recorded_in_the_manifest_with_its_hash(int8_codec: Path) -> None:
    m = load_manifest(int8_codec, kind="codec")
    assert m["files"][INT8_DECODER]["sha256"] == sha256(int8_codec / INT8_DECODER)
    entry = m["decoder_int8"]
    assert entry["calibration_windows"] == 6 and entry["held_out_windows"] == 2
    assert 0 <= entry["held_out_log_mag_error"] <= entry["log_mag_error_limit"]
    assert set(entry["decode_32s_ms_one_thread"]) == {"float", "int8"}
    assert (int8_codec / "decoder.onnx").is_file()  # the float decoder stays


def test_auto_picks_int8_on_the_cpu_and_float_on_request(int8_codec: Path) -> None:
    assert CodecRuntime(int8_codec, device="cpu").decoder_precision == "int8"
    assert CodecRuntime(int8_codec, device="cpu", decoder="float").decoder_precision == "float"


def test_int8_decode_stays_close_to_float_and_streams_exactly(int8_codec: Path) -> None:
    ints = CodecRuntime(int8_codec, device="cpu", decoder="int8")
    floats = CodecRuntime(int8_codec, device="cpu", decoder="float")
    raw = floats.denormalize(_latents(floats, range(8, 9), seconds=3.0)[0]).astype(np.float32)
    error = log_mag_error(floats.spectra(raw), ints.spectra(raw))
    assert error < TINY_CODEC_MAX_ERROR
    assert not np.array_equal(floats.decode(raw), ints.decode(raw))  # really another graph
    # Static scales: chunk-by-chunk decoding reproduces the whole-clip decode.
    whole = ints.decode(raw)
    state, parts = ints.init_state(), []
    for start in range(0, raw.shape[-1], 5):
        pcm, state = ints.decode_step(raw[..., start : start + 5], state)
        parts.append(pcm)
    parts.append(ints.flush(state))
    streamed = np.concatenate(parts, axis=-1)[..., : whole.shape[-1]]
    assert np.max(np.abs(streamed - whole)) < 1e-5


def test_log_mag_error_is_zero_for_equal_spectra_and_grows_with_gain() -> None:
    rng = np.random.default_rng(0)
    spec = (rng.standard_normal((1, 1, 4, 9)), rng.standard_normal((1, 1, 4, 9)))
    assert log_mag_error(spec, spec) == 0.0
    doubled = (2 * spec[0], 2 * spec[1])
    assert log_mag_error(spec, doubled) == pytest.approx(np.log(2), rel=1e-4)


def test_too_large_an_error_is_refused_and_nothing_is_written(
    codec_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "codec"
    shutil.copytree(codec_model, model)
    before = (model / "manifest.json").read_text()
    monkeypatch.setattr(decoder_int8, "MAX_LOG_MAG_ERROR", -1.0)
    floats = CodecRuntime(model, device="cpu")
    with pytest.raises(ValueError, match="log-magnitude error .* exceeds"):
        quantize_decoder(model, _latents(floats, range(2)), _latents(floats, range(2, 3)))
    assert not (model / INT8_DECODER).exists()
    assert (model / "manifest.json").read_text() == before


def test_asking_for_int8_without_one_names_the_command(codec_model: Path) -> None:
    with pytest.raises(ManifestError, match="engine.export decoder-int8"):
        CodecRuntime(codec_model, device="cpu", decoder="int8")
    with pytest.raises(ValueError, match="expected one of auto, float, int8"):
        CodecRuntime(codec_model, device="cpu", decoder="fp16")
    assert CodecRuntime(codec_model, device="cpu").decoder_precision == "float"


def test_an_altered_int8_decoder_is_refused_by_name(int8_codec: Path, tmp_path: Path) -> None:
    model = tmp_path / "codec"
    shutil.copytree(int8_codec, model)
    with open(model / INT8_DECODER, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ManifestError, match=f"{INT8_DECODER} does not match its sha256"):
        CodecRuntime(model, device="cpu")
    manifest = json.loads((model / "manifest.json").read_text())
    assert INT8_DECODER in manifest["files"]


def test_the_command_names_a_missing_cache_or_codec_without_a_traceback(
    codec_model: Path, tmp_path: Path
) -> None:
    from engine.export.__main__ import main as cli

    with pytest.raises(SystemExit, match=r"decoder-int8: .*not a latent cache"):
        cli(["decoder-int8", "--codec", str(codec_model), "--cache", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=r"decoder-int8: .*manifest\.json is missing"):
        cli(["decoder-int8", "--codec", str(tmp_path), "--cache", str(tmp_path)])
