"""Web MIDI pass-through in the page against a real engine. Headless Chromium cannot start
Web MIDI without ALSA, so navigator.requestMIDIAccess is replaced by a controller whose
messages the test plays; the page, the WebSocket, the engine's mapping and the engine are
real."""

from __future__ import annotations

from tests.web.test_page import WAIT, presto, wait

FAKE_MIDI = """
(() => {
  const sent = [];
  const input = { id: "in-1", name: "Test Knobs", manufacturer: "tests", state: "connected",
                  type: "input", onmidimessage: null };
  const output = { id: "out-1", name: "Test Knobs", manufacturer: "tests", state: "connected",
                   type: "output", send: (m) => sent.push(Array.from(m)) };
  const access = { inputs: new Map([[input.id, input]]), outputs: new Map([[output.id, output]]),
                   onstatechange: null, sysexEnabled: false };
  Object.defineProperty(Navigator.prototype, "requestMIDIAccess",
    { configurable: true, value: async () => access });
  window.testMidi = {
    sent,
    play(messages) {
      for (const m of messages) input.onmidimessage({ data: new Uint8Array(m) });
    },
  };
})();
"""


def test_a_controller_on_the_page_steers_the_engine_through_its_midi_mapping(engine,
                                                                               page) -> None:
    page.add_init_script(FAKE_MIDI)
    page.goto(engine.http + "/")
    wait(page, "presto.status === 'live' && presto.authorized && presto.state")
    page.locator("#midi-enable").click()
    wait(page, "presto.midi && presto.midi.inputs.length === 1")
    assert "Test Knobs" in page.locator("#midi-text").inner_text()
    budget = presto(page, "presto.state.budget")
    # the default mapping: CC 1 drives budget 0..1 with pick-up; a sweep from 0 up crosses
    # the engine's value (picked up), then the knob settles at 64 -> 64 / 127
    sweep = [[0xB0, 1, v] for v in range(0, 128, 8)] + [[0xB0, 1, 127], [0xB0, 1, 64]]
    page.evaluate("(m) => testMidi.play(m)", sweep)
    wait(page, "Math.abs(presto.state.budget - 64 / 127) < 1e-3")
    assert budget != presto(page, "presto.state.budget")
    # pad 36 recalls preset 1 of the mapping file (a note-on), MIDI clock is not forwarded
    page.evaluate("(m) => testMidi.play(m)", [[0xF8], [0x90, 36, 100], [0x80, 36, 0]])
    wait(page, "presto.state.prompt === 'a slow chorale for strings'")
    page.locator("#change-list li", has_text="MIDI: blend a slow chorale for strings").wait_for(
        timeout=WAIT)
    items = page.locator("#change-list li").all_inner_texts()
    assert any(t.startswith("MIDI: budget 0.50") for t in items), items
    midi = presto(page, "presto.midi")
    assert midi["ignored"] == 1 and midi["forwarded"] == len(sweep) + 2
    assert midi["controls"] >= 2
    # the engine answers with controller feedback (LEDs, motor faders) for the page's output
    wait(page, "testMidi.sent.length > 0")
    assert all(len(m) == 3 and 0x90 <= m[0] <= 0xBF for m in presto(page, "testMidi.sent"))
    assert page.errors == []


def test_midi_without_the_control_token_is_held_back(exported_root, browser) -> None:
    from tests.web.conftest import HOP
    from tests.web.support import EngineProcess, free_port

    with EngineProcess(exported_root / "base", free_port(),
                       [*HOP, "--control-token", "t0ken"]) as engine:
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(FAKE_MIDI)
        page.goto(engine.http + "/")
        wait(page, "presto.status === 'live' && presto.state")
        page.locator("#midi-enable").click()
        wait(page, "presto.midi && presto.midi.inputs.length === 1")
        page.evaluate("(m) => testMidi.play(m)", [[0xB0, 1, 127], [0xB0, 1, 0]])
        wait(page, "presto.midi.held === 2", timeout=WAIT)
        assert presto(page, "presto.midi.forwarded") == 0
        assert "needs the control token" in page.locator("#midi-text").inner_text()
        context.close()


def test_changes_from_the_engines_own_midi_input_show_on_the_page(exported_root,
                                                                   browser) -> None:
    """A controller on the engine's machine (a real JACK MIDI port): every page shows what
    it changed, with when it is heard, like its own changes."""
    import shutil

    import pytest

    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from engine.midi.jack import dummy_jack
    from tests.midi.support import Controller
    from tests.web.conftest import HOP
    from tests.web.support import EngineProcess, free_port

    with dummy_jack(256), EngineProcess(exported_root / "base", free_port(),
                                        [*HOP, "--midi-virtual", "web"]) as engine:
        ctl = Controller("web-ctl")
        ctl.connect("presto-live:web")
        context = browser.new_context()
        page = context.new_page()
        page.goto(engine.http + "/")
        wait(page, "presto.report && presto.report.playing !== null")
        for _ in range(15):  # seed: no pick-up in the default mapping. JACK's dummy driver on
            ctl.cc(28, 77)   # a loaded machine can drop an event: move the knob again
            try:
                wait(page, "presto.state.seed === 77", timeout=2000)
                break
            except PlaywrightTimeout:
                continue
        assert presto(page, "presto.state.seed") == 77
        item = page.locator("#change-list li", has_text="MIDI (engine): seed 77")
        item.wait_for(timeout=WAIT)
        page.wait_for_function("() => document.querySelector("
                               "'#change-list li[data-status=heard]') !== null", timeout=WAIT)
        assert "heard" in item.inner_text()
        ctl.close()
        context.close()
