"""StreamEngine on the real micro model, ticked by hand: hops, seams, controls, pause, reset."""

from __future__ import annotations

import numpy as np
import pytest

from engine.stream.config import StreamConfig
from engine.stream.controls import ControlChange, parse_playback, parse_settings
from engine.stream.engine import StreamEngine

HOP = 0.2  # 4 latent frames of the micro model's 24-frame window


def make(served, **kw) -> tuple[StreamEngine, list]:
    records: list = []
    engine = StreamEngine(served, StreamConfig(hop_seconds=HOP, **kw), on_hop=records.append)
    engine.prepare()
    return engine, records


def run_hops(engine: StreamEngine, n: int) -> None:
    """n hops, the clock draining each one (as a listener would)."""
    for _ in range(n):
        before = engine.counts["hops"]
        while engine.counts["hops"] == before:
            engine.tick()
        engine.ring.read(engine.geo.hop_samples, short_ok=True)


def test_each_hop_adds_hop_samples_and_the_hops_join_without_a_seam(served) -> None:
    engine, records = make(served)
    run_hops(engine, 6)
    hs = engine.geo.hop_samples
    assert [r.start_sample for r in records] == [i * hs for i in range(6)]
    assert all(r.pcm.shape == (1, hs) and r.latent.shape == (32, 4) for r in records)
    assert records[0].fresh and not any(r.fresh for r in records[1:])
    # The stream equals one whole-clip decode of the same latents (from hop 2 on, where the
    # whole-clip decode has all its look-back), delayed by the STFT's n_fft - hop samples.
    latent = np.concatenate([r.latent for r in records], axis=1)
    whole = served.codec.decode(served.codec.denormalize(latent[None]))[0]
    stream = np.concatenate([r.pcm for r in records], axis=1)
    delay = served.codec.cfg.n_fft - served.codec.cfg.hop
    scale = np.abs(whole).max()
    np.testing.assert_allclose(stream[:, 2 * hs:], whole[:, 2 * hs - delay:6 * hs - delay],
                               atol=1e-4 * scale)


def test_the_same_seed_gives_the_same_stream_and_another_seed_another(served) -> None:
    a, ra = make(served, seed=3, adaptive=False)  # fixed steps: timing cannot change them
    b, rb = make(served, seed=3, adaptive=False)
    c, rc = make(served, seed=4, adaptive=False)
    for engine in (a, b, c):
        run_hops(engine, 3)
    for x, y in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(x.latent, y.latent)
    assert not np.allclose(ra[2].latent, rc[2].latent)


def test_a_control_applies_at_the_next_hop_boundary_and_reports_that_sample(served) -> None:
    engine, records = make(served, glide_hops=2)
    run_hops(engine, 2)
    boundary = engine.ring.write_pos
    future = engine.submit(parse_settings({"prompt": "solo piano in a minor key",
                                           "budget": 0.5, "seed": 9}))
    run_hops(engine, 3)
    applied = future.result(timeout=1)
    assert applied.applied_at_sample == boundary and not applied.restarted
    assert applied.settled_at_sample == boundary + engine.geo.hop_samples  # 2-hop glide
    first = next(r for r in records if r.start_sample == boundary)
    assert first.report["prompts"] == [["solo piano in a minor key", 1.0]]
    assert first.report["budget"] <= 0.5 and first.report["gliding"]
    assert not records[-1].report["gliding"]
    state = engine.state()
    assert state["prompt"] == "solo piano in a minor key" and state["seed"] == 9
    assert state["budget"] == 0.5 and state["governor"]["hop"] == records[-1].index


def test_a_weighted_blend_glides_to_the_blended_embedding(served) -> None:
    engine, _ = make(served, glide_hops=1)
    run_hops(engine, 1)
    engine.submit(parse_settings({"prompts": [["folk fiddle", 3], ["brass quartet", 1]]}))
    run_hops(engine, 1)
    want = served.text.blend([("folk fiddle", 3.0), ("brass quartet", 1.0)])
    np.testing.assert_allclose(engine.glide.current, want, atol=1e-6)
    assert engine.state()["prompt"] is None and len(engine.state()["prompts"]) == 2


def test_a_control_during_a_hop_redoes_that_hop_when_there_is_time(served) -> None:
    engine, records = make(served)
    run_hops(engine, 2)
    boundary = engine.ring.write_pos
    future = engine.submit(ControlChange(seed=5))  # arrives after the boundary's controls ...
    engine._hop()  # ... so the hop in flight sees it at its first network evaluation
    applied = future.result(timeout=1)
    assert applied.restarted and applied.applied_at_sample == boundary
    assert engine.counts["restarts"] == 1 and len(records) == 2  # nothing written yet
    run_hops(engine, 1)
    assert records[-1].start_sample == boundary and records[-1].report["redone"]
    play = engine.submit(ControlChange(playback="play"))  # changes nothing that is generated
    engine._hop()  # so the hop in flight goes on
    assert engine.counts["restarts"] == 1 and not play.done()
    after = engine.ring.write_pos
    engine.tick()
    assert play.result(timeout=1).applied_at_sample == after


def test_pause_drops_queued_audio_behind_a_fade_and_play_fades_back_in(served) -> None:
    engine, records = make(served)
    run_hops(engine, 2)
    engine.tick()  # one hop queued, unread
    live = engine.ring.read_pos
    pause = engine.submit(parse_playback("pause"))
    engine.tick()
    at = pause.result(timeout=1).applied_at_sample
    assert at == live + engine.geo.crossfade_samples and engine.ring.write_pos == at
    assert not engine.playing and engine.state()["playing"] is False
    hops = engine.counts["hops"]
    for _ in range(3):
        engine.tick()
    assert engine.counts["hops"] == hops  # nothing generated while paused
    _, tail = engine.ring.read(10**6, short_ok=True)
    assert abs(tail[0, -1]) <= abs(tail).max() * 0.05 + 1e-9  # faded out to silence
    assert engine.ring.underruns == 0
    play = engine.submit(parse_playback("play"))
    run_hops(engine, 1)
    assert play.result(timeout=1).applied_at_sample == at == records[-1].start_sample
    head = records[-1].pcm[0, :64]
    assert abs(head[0]) < 0.05 * np.abs(records[-1].pcm).max() + 1e-12  # faded in


def test_reset_starts_a_fresh_stream_that_the_same_seed_reproduces(served) -> None:
    engine, records = make(served, seed=11, adaptive=False)
    run_hops(engine, 3)
    engine.tick()  # a hop queued, unsent: the reset rewinds into it (the clock is halted)
    queued = records[-1].start_sample
    future = engine.submit(parse_playback("reset"))
    run_hops(engine, 2)
    applied = future.result(timeout=1)
    assert applied.applied_at_sample == queued and applied.restarted
    fresh = [r for r in records if r.start_sample == queued][-1]
    assert fresh.fresh and engine.state()["resets"] == 1
    np.testing.assert_array_equal(fresh.latent, records[0].latent)  # hop 0 of the same seed


@pytest.mark.parametrize("sent, keep", [(0, 2), (3072, 3)])
def test_a_control_rewinds_into_queued_audio_from_the_first_frame_there_is_time_for(
        served, sent, keep) -> None:
    engine, records = make(served, margin_seconds=0.0)
    run_hops(engine, 3)
    engine.clock_running = True  # deadlines count: the queued hop starts playing now
    engine._hop()  # queued, unsent
    cost = engine.governor.cost
    cost.per_eval = {1: (0.01, 0.01), 2: (0.02, 0.02)}  # a guided evaluation: 60 ms
    cost.scale.mean, cost.scale.dev = 1.0, 0.0
    cost.scale.last.clear()
    for ema in (cost.decode, cost.overhead):
        ema.mean, ema.dev = 0.0, 0.0
        ema.last.clear()
    queued, spl = records[-1], served.samples_per_latent
    assert engine.ring.read_pos == queued.start_sample
    _, head = engine.ring.read(sent) if sent else (0, np.zeros((1, 0), np.float32))
    future = engine.submit(ControlChange(seed=77))
    engine.tick()
    applied = future.result(timeout=1)
    # 60 ms are needed: from the live edge, keep the first frame boundary that far ahead
    # (unsent: frame 2 is 93 ms ahead; 3072 samples sent: frame 3 is 70 ms ahead)
    assert applied.restarted and applied.applied_at_sample == queued.start_sample + keep * spl
    new = records[-1]
    assert new.start_sample == applied.applied_at_sample and new.report["redone"]
    assert new.report["rewound_from"] == queued.start_sample and engine.state()["rewinds"] == 1
    _, rest = engine.ring.read(10**6, short_ok=True)
    audio = np.concatenate([head, rest], axis=1)
    np.testing.assert_array_equal(audio[:, : keep * spl], queued.pcm[:, : keep * spl])
    np.testing.assert_array_equal(audio[:, keep * spl:], new.pcm)
    # seam-exact: the stream is the decode of the latents it kept
    latent = np.concatenate([r.latent for r in records[:3]]
                            + [queued.latent[:, :keep], new.latent], axis=1)
    stream = np.concatenate([r.pcm for r in records[:3]] + [audio], axis=1)
    whole = served.codec.decode(served.codec.denormalize(latent[None]))[0]
    hs, delay = engine.geo.hop_samples, served.codec.cfg.n_fft - served.codec.cfg.hop
    end = stream.shape[1] - delay
    np.testing.assert_allclose(stream[:, 2 * hs:], whole[:, 2 * hs - delay:end],
                               atol=1e-4 * np.abs(whole).max())


def test_a_failed_hop_becomes_faded_silence_and_the_stream_goes_on(served) -> None:
    engine, records = make(served)
    run_hops(engine, 2)
    good = engine.guidance
    engine.guidance = 1e9  # what no control can set: the plan (and so the hop) fails
    start = engine.ring.write_pos
    engine._hop()
    assert engine.counts["failures"] == 1 and engine.ring.write_pos == start + \
        engine.geo.hop_samples
    _, silence = engine.ring.read(engine.geo.hop_samples)
    assert np.all(silence[:, engine.geo.crossfade_samples:] == 0)
    engine.guidance = good
    run_hops(engine, 1)
    assert records[-1].start_sample == start + engine.geo.hop_samples
    assert engine.state()["failures"] == 1


def test_in_its_thread_the_engine_pre_rolls_and_then_idles(served) -> None:
    engine = StreamEngine(served, StreamConfig(hop_seconds=HOP, margin_seconds=0.1))
    engine.start()
    try:
        assert engine.ready.wait(30)
        future = engine.submit(parse_settings({"guidance": 1.5}))
        assert future.result(timeout=10).applied_at_sample >= 0
        import time

        deadline = time.monotonic() + 10  # until the pre-roll is over: hops stop for 0.3 s
        hops, since = engine.counts["hops"], time.monotonic()
        while time.monotonic() < deadline and (hops < 1 or time.monotonic() - since < 0.3):
            time.sleep(0.01)
            if engine.counts["hops"] != hops:
                hops, since = engine.counts["hops"], time.monotonic()
        time.sleep(0.5)  # nobody drains the ring: no more hops than the lead asks for
        assert engine.counts["hops"] == hops >= 1
        assert engine.ring.fill >= engine.geo.hop_samples
    finally:
        engine.stop()
    with pytest.raises(Exception, match="shutting down"):
        engine.submit(parse_settings({"budget": 0.5}))
