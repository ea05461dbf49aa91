from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.codec.runtime import CodecRuntime
from engine.export.codec import load_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def codec(codec_model: Path) -> CodecRuntime:
    return CodecRuntime(codec_model, device="cpu")


def latent(codec: CodecRuntime, batch: int, frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, codec.cfg.latent_dim, frames)).astype(np.float32)
    return codec.denormalize(z).astype(np.float32)


def test_serving_runtime_never_imports_torch() -> None:
    code = "import sys, engine.codec.runtime; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_encode_then_decode_shapes(codec: CodecRuntime) -> None:
    audio = 0.1 * np.random.default_rng(0).standard_normal((2, 1, 3 * 2048 + 5))
    z = codec.encode(audio.astype(np.float32))
    assert z.shape == (2, 32, 4)  # padded up to whole latent frames
    assert codec.decode(z).shape == (2, 1, 4 * 2048)


def test_runtime_matches_the_pytorch_model(codec: CodecRuntime, codec_run: Path) -> None:
    model, _ = load_run(codec_run)
    audio = (0.1 * np.random.default_rng(1).standard_normal((1, 1, 6 * 2048))).astype(np.float32)
    with torch.no_grad():
        z_ref = model.encode(torch.from_numpy(audio))
        y_ref = model.decode(z_ref).numpy()
    z = codec.encode(audio)
    np.testing.assert_allclose(z, z_ref.numpy(), atol=1e-3)
    np.testing.assert_allclose(codec.decode(z_ref.numpy()), y_ref, atol=1e-4)


@pytest.mark.parametrize("chunks", [(1, 1, 1, 40), (43, 43, 14), (7, 30, 1, 62)])
def test_chunked_decoding_matches_whole_clip_decoding(codec: CodecRuntime, chunks) -> None:
    z = latent(codec, 2, sum(chunks))
    whole = codec.decode(z)
    state, parts, start = codec.init_state(2), [], 0
    for n in chunks:
        pcm, state = codec.decode_step(z[..., start : start + n], state)
        parts.append(pcm)
        start += n
    parts.append(codec.flush(state))
    lengths = [p.shape[-1] for p in parts]
    assert lengths[0] == chunks[0] * 2048 - 1536 and lengths[-1] == 1536
    streamed = np.concatenate(parts, axis=-1)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() < 1e-4  # no seams: same samples as the whole clip


def test_bad_latents_are_refused_with_the_expected_shape(codec: CodecRuntime) -> None:
    z = latent(codec, 1, 4)
    with pytest.raises(ValueError, match=r"\(batch, 32, frames\)"):
        codec.decode(z[0])  # rank 2
    with pytest.raises(ValueError, match=r"\(batch, 32, frames\)"):
        codec.decode(z[:, :16])  # channels
    with pytest.raises(ValueError, match="float32"):
        codec.decode(z.astype(np.float64))
    with pytest.raises(ValueError, match="batch"):
        codec.decode_step(z, codec.init_state(2))


def test_bad_audio_is_refused_with_the_expected_shape(codec: CodecRuntime) -> None:
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\)"):
        codec.encode(np.zeros((1, 2, 4096), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\)"):
        codec.encode(np.zeros(4096, np.float32))
    with pytest.raises(ValueError, match="float32"):
        codec.encode(np.zeros((1, 1, 4096), np.int16))


def test_latent_normalisation_round_trips(codec: CodecRuntime) -> None:
    z = latent(codec, 1, 5)
    np.testing.assert_allclose(codec.denormalize(codec.normalize(z)), z, atol=1e-5)
