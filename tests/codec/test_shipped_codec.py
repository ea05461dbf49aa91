"""The shipped codec (exported/codec, real trained weights) through the torch-free runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.codec.runtime import CodecRuntime

SHIPPED = Path(__file__).resolve().parents[2] / "exported" / "codec"


@pytest.fixture(scope="module")
def codec() -> CodecRuntime:
    return CodecRuntime(SHIPPED, device="cpu")


def _tone(seconds: float = 3.0, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.2 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, t * 20)
    return wave.astype(np.float32)[None, None, :]  # (1, 1, N)


def test_shipped_codec_reconstructs_a_tone_at_its_pitch(codec):
    audio = _tone()
    decoded = codec.decode(codec.encode(audio))[..., : audio.shape[-1]]
    assert decoded.shape == audio.shape and np.isfinite(decoded).all()
    segment = decoded[0, 0, 22050:88200]
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(segment.size)))
    peak_hz = np.argmax(spectrum) * 44100 / segment.size
    # Within a semitone (466 Hz). The provisional codec puts a 440 Hz tone on the 452 Hz STFT
    # bin (47 cents sharp): its phase does not yet advance between bins. Tighten when fixed.
    assert abs(peak_hz - 440) < 25
    # Level: the provisional codec loses 13 dB on a pure sine (incoherent phase between frames
    # cancels in the overlap-add); corpus music loses much less. Tighten when fixed.
    assert 0.1 < np.std(segment) / np.std(audio[0, 0, 22050:88200]) < 3


def test_shipped_codec_streams_chunks_identical_to_the_whole_clip(codec):
    latent = codec.encode(_tone(4.0))
    whole = codec.decode(latent)
    state, pieces = codec.init_state(), []
    for start in range(0, latent.shape[-1], 7):
        pcm, state = codec.decode_step(latent[..., start : start + 7], state)
        pieces.append(pcm)
    streamed = np.concatenate(pieces, axis=-1)
    n = streamed.shape[-1]
    assert np.max(np.abs(streamed - whole[..., :n])) < 1e-4


def test_shipped_codec_names_the_expected_shape_for_wrong_input(codec):
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\)"):
        codec.encode(np.zeros((1, 2, 4096), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, 32, frames\)"):
        codec.decode(np.zeros((1, 16, 10), np.float32))


def test_shipped_int8_decoder_is_served_on_the_cpu_and_sounds_like_the_float_one(codec):
    from engine.export.decoder_int8 import MAX_LOG_MAG_ERROR, log_mag_error

    assert codec.decoder_precision == "int8"  # the shipped codec has decoder_int8.onnx
    floats = CodecRuntime(SHIPPED, device="cpu", decoder="float")
    latent = codec.encode(_tone(4.0))
    error = log_mag_error(floats.spectra(latent), codec.spectra(latent))
    assert error < MAX_LOG_MAG_ERROR
    recorded = codec.manifest["decoder_int8"]
    assert recorded["held_out_log_mag_error"] < recorded["log_mag_error_limit"]
