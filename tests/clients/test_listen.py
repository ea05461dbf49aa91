"""The Python client: its own decoding of protocol 1, its contiguity check, and the CLI
against a real server on loopback."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from clients.listen import (
    AudioFrame,
    Continuity,
    ProtocolViolation,
    decode_frame,
    parse_set,
)
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.server.support import ROOT, ServerThread


def frame(seq: int, sample: int, n: int = 4) -> AudioFrame:
    return AudioFrame(seq, sample, n, 1, 1, np.zeros((1, n), np.float32), 0.0)


def test_frames_are_decoded_from_the_documented_layout() -> None:
    body = np.array([[0.5, -0.5], [0.25, 1.0], [0.0, 0.0]], "<f4")  # 3 frames x 2 channels
    data = struct.pack("<4sBBBBIQI", b"PRST", 1, 2, 1, 0, 9, 123, 3) + body.tobytes()
    f = decode_frame(data)
    assert (f.seq, f.sample, f.frames, f.channels) == (9, 123, 3, 2)
    np.testing.assert_array_equal(f.pcm, body.T)
    light = decode_frame(data, samples=False)
    assert (light.sample, light.frames) == (123, 3) and light.pcm.size == 0
    s16 = struct.pack("<4sBBBBIQI", b"PRST", 1, 1, 2, 0, 1, 0, 2) + \
        np.array([16384, -32767], "<i2").tobytes()
    assert decode_frame(s16).pcm[0].tolist() == pytest.approx([0.5, -1.0], abs=1e-4)
    for bad in (b"PRST", data[:-4], b"XXXX" + data[4:],
                struct.pack("<4sBBBBIQI", b"PRST", 2, 1, 1, 0, 1, 0, 0)):
        with pytest.raises(ProtocolViolation):
            decode_frame(bad)


def test_continuity_accepts_announced_gaps_only() -> None:
    c = Continuity()
    for f in (frame(1, 0), frame(2, 4), frame(3, 8)):
        c.audio(f)
    assert c.violations == [] and c.frames == 12
    c.skip({"type": "skip", "from_sample": 12, "to_sample": 40})
    c.audio(frame(10, 40))
    assert c.violations == [] and c.skipped_frames == 28
    c.audio(frame(11, 50))  # a silent gap
    assert len(c.violations) == 1 and "no skip announced" in c.violations[0]
    c.audio(frame(20, 54))  # samples contiguous, sequence jumped
    assert len(c.violations) == 2


def test_set_values_are_json_where_they_parse() -> None:
    assert parse_set(["budget=0.5", "prompt=a slow chorale", 'prompts=[["a", 1]]']) == \
        {"budget": 0.5, "prompt": "a slow chorale", "prompts": [["a", 1]]}
    with pytest.raises(ValueError, match="key=value"):
        parse_set(["budget"])


def test_the_cli_listens_sends_controls_and_writes_a_wav(served, tmp_path) -> None:
    cfg = ServerConfig(port=0, block_frames=2048,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    out = tmp_path / "heard.wav"
    with ServerThread(served, cfg) as srv:
        result = subprocess.run(
            [sys.executable, "-m", "clients.listen", srv.url, "--seconds", "1.5", "--out",
             str(out), "--set", "budget=0.5", "--set", "prompt=brass quartet", "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        bad = subprocess.run(
            [sys.executable, "-m", "clients.listen", srv.url, "--seconds", "0.2", "--set",
             "budget=9"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "hello: protocol 1, 44100 Hz x 1 f32le" in result.stdout
    assert '"applied_at_sample"' in result.stdout and "skips 0" in result.stdout
    audio, rate = sf.read(str(out), dtype="float32")
    assert rate == 44100 and 1.2 * rate < len(audio) < 2.0 * rate
    assert bad.returncode == 0 and '"code": "bad_value"' in bad.stdout
    down = subprocess.run([sys.executable, "-m", "clients.listen", "ws://127.0.0.1:9/ws",
                           "--seconds", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 2 and "cannot connect" in down.stderr
    assert "Traceback" not in down.stderr
