"""The page (clients/web) in real headless Chromium against a real engine on loopback: it
connects, plays non-silent audio through its worklet, steers, shows errors, reconnects."""

from __future__ import annotations

import math

import pytest

from tests.web.conftest import HOP
from tests.web.support import EngineProcess, free_port

WAIT = 30_000  # ms: generous, the machine is shared


def presto(page, expr: str = "presto"):
    return page.evaluate(f"() => {expr}")


def wait(page, condition: str, timeout: int = WAIT) -> None:
    page.wait_for_function(f"() => {condition}", timeout=timeout)


def audible_seconds(page) -> float:
    r = presto(page, "presto.report")
    return r["audibleFrames"] / r["contextRate"] if r else 0.0


@pytest.mark.parametrize("query, context_rate, output", [
    ("?format=f32le&rate=48000", 48000, "worklet"), ("", None, "worklet"),
    ("?output=script&rate=48000", 48000, "script")],
    ids=["f32le-resampled-to-48k", "s16le-device-rate", "script-processor-fallback"])
def test_the_page_connects_and_its_worklet_plays_what_the_engine_sends(engine, page, query,
                                                                      context_rate,
                                                                      output) -> None:
    page.goto(engine.http + "/" + query)
    wait(page, "presto.report && presto.report.producedFrames > presto.report.contextRate")
    p = presto(page)
    hello, report = p["hello"], p["report"]
    assert p["status"] == "live" and p["connections"] == 1 and p["output"] == output
    assert hello["protocol"] == 1 and hello["sample_rate"] == report["rate"] == 44100
    if context_rate:
        assert report["contextRate"] == context_rate
        assert page.locator("#st-rates").inner_text() == "44100 -> 48000 Hz (resampled)"
    assert p["audio"]["blocks"] > 0 and report["blocks"] > 0
    # what the worklet played has the energy of what arrived: the same stream, resampled
    received_rms = math.sqrt(p["audio"]["energy"] / p["audio"]["values"])
    played_rms = math.sqrt(report["energy"] / report["producedFrames"])
    assert received_rms > 1e-6, "the engine sent silence"
    assert 0.5 < played_rms / received_rms < 2.0, (played_rms, received_rms)
    assert report["audibleFrames"] > 0 and p["firstAudibleMs"] is not None
    assert p["listening"] and page.locator("#listen").inner_text() == "Stop"
    # the pictures and numbers move
    wait(page, "presto.spectrogram && presto.spectrogram.columns > 5")
    assert page.locator("#st-buffered").inner_text().endswith("ms")
    assert page.locator("#en-steps").inner_text() not in ("", "-")
    assert page.locator("#conn").inner_text() == "live"
    assert page.errors == []


def test_a_prompt_and_a_budget_change_are_acknowledged_and_then_heard(engine, page) -> None:
    page.goto(engine.http + "/")
    wait(page, "presto.report && presto.report.playing !== null")
    page.locator("#prompt").fill("a slow chorale for strings")
    page.locator("#prompt-send").click()
    page.locator("#budget").fill("0.4")  # a range input: sets the value, fires input
    wait(page, "presto.acks.length >= 2")
    items = page.locator("#change-list li")
    wait(page, "document.querySelectorAll('#change-list li[data-status=heard]').length >= 2")
    texts = items.all_inner_texts()
    assert any('prompt "a slow chorale for strings"' in t and "heard" in t for t in texts), texts
    assert any("budget 0.40" in t and "heard" in t for t in texts), texts
    acks = presto(page, "presto.acks")
    assert all(isinstance(a["applied_at_sample"], int) for a in acks)
    wait(page, "presto.state.budget === 0.4 && presto.state.prompt === "
               "'a slow chorale for strings'")
    assert page.locator("#en-prompt").inner_text() == "a slow chorale for strings"
    assert page.locator("#budget-out").inner_text() == "0.40"
    assert page.errors == []


def test_pause_stops_the_audio_without_underruns_and_play_resumes_it(engine, page) -> None:
    page.goto(engine.http + "/")
    wait(page, "presto.report && presto.report.state === 'playing'")
    page.locator("#pause").click()
    wait(page, "presto.state.playing === false && presto.report.state === 'idle'")
    underruns = presto(page, "presto.report.underruns")
    page.wait_for_timeout(500)
    assert presto(page, "presto.report.underruns") == underruns  # a pause is no underrun
    assert page.locator("#en-playing").inner_text() == "paused"
    before = audible_seconds(page)
    page.locator("#play").click()
    wait(page, f"presto.state.playing && presto.report.audibleFrames / "
               f"presto.report.contextRate > {before + 0.3}")


def test_an_error_from_the_engine_is_shown_to_the_user(engine, page) -> None:
    page.goto(engine.http + "/")
    wait(page, "presto.status === 'live' && presto.hello")
    page.locator("#prompt").fill("a very long prompt " * 70)  # 1330 characters: too long
    page.locator("#prompt-send").click()
    banner = page.locator("#banner")
    banner.wait_for(state="visible", timeout=WAIT)
    assert "at most 1000" in banner.inner_text()
    error = presto(page, "presto.errors[0]")
    assert error["code"] == "bad_value" and error["field"] == "prompt"
    assert "at most 1000" in page.locator("#errors li").first.inner_text()
    refused = page.locator("#change-list li[data-status=error]")
    assert "refused" in refused.first.inner_text()
    assert presto(page, "presto.status") == "live"  # the connection stays open


def test_without_the_token_the_page_listens_and_with_it_steers(exported_root, browser) -> None:
    with EngineProcess(exported_root / "base", free_port(),
                       [*HOP, "--control-token", "s3cret"]) as engine:
        context = browser.new_context()
        page = context.new_page()
        page.goto(engine.http + "/")
        wait(page, "presto.report && presto.report.audibleFrames > 0")  # listening is open
        assert presto(page, "presto.control") == "token"
        assert page.locator("#budget").is_disabled()
        assert "Listening only" in page.locator("#access-text").inner_text()
        page.locator("#token").fill("wrong")
        page.locator("#token-form button[type=submit]").click()
        page.locator("#banner").wait_for(state="visible", timeout=WAIT)
        assert "wrong control token" in page.locator("#banner").inner_text()
        assert page.locator("#budget").is_disabled()
        page.locator("#token").fill("s3cret")
        page.locator("#token-form button[type=submit]").click()
        wait(page, "presto.authorized")
        assert not page.locator("#budget").is_disabled()
        page.locator("#budget").fill("0.3")
        wait(page, "presto.acks.length >= 1 && presto.state.budget === 0.3")
        # kept for the session: a reload steers without asking again
        page.reload()
        wait(page, "presto.hello && presto.authorized")
        assert not page.locator("#budget").is_disabled()
        context.close()


def test_the_page_reconnects_at_the_live_edge_after_the_engine_restarts(exported_root,
                                                                       page) -> None:
    port = free_port()
    first = EngineProcess(exported_root / "base", port, HOP).start()
    try:
        page.goto(first.http + "/")
        wait(page, "presto.report && presto.report.audibleFrames > 0")
        assert first.stop() == 0
        wait(page, "presto.status === 'reconnecting'")
        assert "retrying" in page.locator("#conn-detail").inner_text()
        heard = audible_seconds(page)
    finally:
        first.stop()
    with EngineProcess(exported_root / "base", port, HOP):
        wait(page, "presto.status === 'live' && presto.connections === 2")
        wait(page, f"presto.report.audibleFrames / presto.report.contextRate > {heard + 0.5}")
        assert "rejoined the stream at the live edge" in page.locator("#errors").inner_text()
        # the new connection's first block is the live edge the hello announced, no backlog
        joined = presto(page, "presto.joined")
        block = presto(page, "presto.hello.block_frames")
        assert 0 <= joined["firstBlock"] - joined["liveSample"] <= block, joined
    assert page.errors == []


def test_the_listen_button_stops_the_sound_and_starts_it_again_at_the_live_edge(engine,
                                                                                page) -> None:
    # (a browser that blocks autoplay waits for this button; headless Chromium under
    # playwright grants the page user activation, so the blocked case cannot be staged)
    page.goto(engine.http + "/")
    wait(page, "presto.listening && presto.report && presto.report.audibleFrames > 0")
    page.locator("#listen").click()
    wait(page, "!presto.listening")
    assert page.locator("#listen-hint").is_visible()
    assert page.locator("#listen").inner_text() == "Listen"
    played = presto(page, "presto.report.producedFrames")
    page.wait_for_timeout(300)
    assert presto(page, "presto.report.producedFrames") == played  # suspended: nothing plays
    page.locator("#listen").click()
    wait(page, f"presto.listening && presto.report.producedFrames > {played}")
    assert not page.locator("#listen-hint").is_visible()
