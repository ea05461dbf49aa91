"""The jitter-buffer worklet (clients/web/player-worklet.js) rendered offline in Chromium:
resampling, underruns, gaps in the stream's numbering."""

from __future__ import annotations

import numpy as np

RENDER = """
async ({rate, ctxRate, seconds, freq, target, gap, blocks}) => {
  const ctx = new OfflineAudioContext(2, Math.round(ctxRate * seconds), ctxRate);
  await ctx.audioWorklet.addModule("/player-worklet.js");
  const audio = blocks.map(([sample, n]) => {
    const pcm = new Float32Array(n);
    for (let i = 0; i < n; i++) pcm[i] = 0.5 * Math.sin(2 * Math.PI * freq * (sample + i) / rate);
    return { sample, pcm };
  });
  const node = new AudioWorkletNode(ctx, "presto-player", { numberOfInputs: 0,
    outputChannelCount: [2],
    processorOptions: { rate, channels: 1, target, drift: 0, gap, audio } });
  const reports = [];
  node.port.onmessage = (e) => e.data.type === "report" && reports.push(e.data);
  node.connect(ctx.destination);
  const buf = await ctx.startRendering();
  await new Promise((r) => setTimeout(r, 200));
  return { left: Array.from(buf.getChannelData(0)), right: Array.from(buf.getChannelData(1)),
           reports };
}
"""


def render(page, blocks, seconds, rate=44100, ctx_rate=48000, freq=1000.0, target=4410,
           gap=None):
    out = page.evaluate(RENDER, {"rate": rate, "ctxRate": ctx_rate, "seconds": seconds,
                                 "freq": freq, "target": target, "gap": gap, "blocks": blocks})
    return np.array(out["left"]), np.array(out["right"]), out["reports"]


def test_44k1_audio_plays_on_a_48k_context_at_its_own_pitch(blank) -> None:
    rate, ctx_rate, freq = 44100, 48000, 1000.0
    left, right, reports = render(blank, [[0, rate]], 0.9, rate, ctx_rate, freq, target=22050)
    np.testing.assert_array_equal(left, right)  # mono to both speakers
    # output frame j is engine frame 1 + j * rate / ctx_rate (one frame of history first)
    j = np.arange(len(left))
    expected = 0.5 * np.sin(2 * np.pi * freq * (1 + j * rate / ctx_rate) / rate)
    fade = int(0.004 * ctx_rate)
    assert np.max(np.abs(left[fade:] - expected[fade:])) < 1e-3
    # the pitch is right (played 1:1 it would be 1088 Hz)
    crossings = np.count_nonzero(np.diff(np.signbit(left[fade:])))
    assert abs(crossings / 2 / ((len(left) - fade) / ctx_rate) - freq) < 3
    last = reports[-1]
    assert last["underruns"] == 0 and last["contextRate"] == ctx_rate and last["rate"] == rate


def test_running_dry_is_an_underrun_unless_a_gap_is_expected(blank) -> None:
    for gap, underruns, state in ((None, 1, "buffering"), ("paused", 0, "idle")):
        left, _, reports = render(blank, [[0, 8820]], 0.5, gap=gap)  # 0.2 s of audio
        last = reports[-1]
        assert last["underruns"] == underruns and last["state"] == state, (gap, last)
        played = np.flatnonzero(np.abs(left) > 1e-6)
        assert 0.18 < played[-1] / 48000 < 0.21  # the audio, then silence
        assert np.all(left[played[-1] + 1:] == 0)
    assert last["underrunFrames"] == 0


def test_a_skip_forward_keeps_the_stream_numbering_and_late_blocks_are_dropped(blank) -> None:
    blocks = [[0, 4096], [4096, 4096], [20000, 4096], [100, 50]]
    _, _, reports = render(blank, blocks, 0.5, target=441)
    last = reports[-1]
    assert last["gaps"] == 1 and last["gapFrames"] == 20000 - 8192
    assert last["late"] == 1 and last["received"] == 3 * 4096 + 50
    # while playing the third block, the position is reported in the stream's numbering
    playing = [r["playing"] for r in reports if r["playing"] is not None]
    assert any(p >= 20000 for p in playing) and all(p < 24096 for p in playing)
    assert not any(8192 <= p < 20000 for p in playing)
