"""MidiInput end to end over real JACK MIDI ports: a software controller sends, a recording
sink receives what the engine would, feedback comes back to the controller."""

from __future__ import annotations

import time

import pytest
import rtmidi

from engine.midi.input import MidiConfig, MidiInput
from engine.midi.mapping import load_mapping
from engine.midi.ports import PortError
from engine.midi.sink import RecordingSink
from tests.midi.support import Controller

STATE = {"budget": 0.5, "guidance": 3.0, "seed": 0, "paused": False,
         "prompts": [["a slow chorale", 1.0], ["a fiddle tune", 0.5]]}


@pytest.fixture
def virtual(jack, tmp_path):
    """An engine-side virtual port 'presto' with feedback, a controller connected to it."""
    sink, events = RecordingSink(), []
    midi = MidiInput(MidiConfig(virtual="presto", mapping=tmp_path / "map.toml",
                                watch_s=0.1), sink, notify=events.append)
    midi.start()
    midi.on_state(STATE)
    ctl = Controller()
    ctl.connect("presto-live:presto", "presto-live-out:presto")
    yield midi, sink, ctl, events
    midi.stop()
    ctl.close()


def test_ccs_and_notes_reach_the_sink_as_control_messages(virtual):
    midi, sink, ctl, _ = virtual
    ctl.cc(1, 64)
    ctl.note(37)
    ctl.send([0xC0, 3])
    ctl.note(45)
    preset4 = [list(p) for p in load_mapping().presets[3].prompts]
    assert sink.wait_for(lambda s: s.current().get("prompts") == preset4
                         and s.current().get("playback") == "pause")
    assert sink.current()["budget"] == round(64 / 127, 6)
    ids = [m["id"] for m in sink.messages()]
    assert all(i.startswith("midi-") for i in ids) and len(set(ids)) == len(ids)


def test_sysex_and_unknown_messages_are_ignored_and_counted(virtual):
    midi, sink, ctl, _ = virtual
    ctl.send([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], [0xE0, 0, 64], [0xA0, 60, 3],
             [0xB0, 90, 1])
    ctl.cc(1, 64)
    assert sink.wait_for(lambda s: "budget" in s.current())
    time.sleep(0.1)
    s = midi.status()
    assert s["messages"]["sysex"] == 1 and s["messages"]["unsupported"] == 2
    assert s["unmapped"] == 1 and len(sink.messages()) == 1


def test_a_storm_is_coalesced_and_the_last_value_wins(virtual):
    midi, sink, ctl, _ = virtual
    ctl.cc(1, 64)  # engage pick-up
    assert sink.wait_for(lambda s: "budget" in s.current())
    n = 10_000
    before = len(sink.messages())
    t0 = time.perf_counter()
    for k in range(n):
        # a sawtooth, then a plateau at 42: neither the first nor the largest value may win
        ctl.cc(1, k % 128 if k < n - 200 else 42)
        if k % 50 == 49:
            time.sleep(0.004)  # ~10,000 per second, as a busy controller would send them
    ctl.cc(28, 99)  # a marker after the storm (seed jumps: no pick-up)
    assert sink.wait_for(lambda s: s.current().get("seed") == 99, timeout=10)
    storm_s = time.perf_counter() - t0
    assert sink.current()["budget"] == round(42 / 127, 6)
    s = midi.status()
    # JACK may drop a few when a cycle runs late on a loaded machine; none are dropped by us
    assert s["messages"]["received"] >= 0.95 * n
    assert s["messages"]["received"] == s["messages"]["parsed"]
    # coalesced: at most one submit per min_interval_s (10 ms), plus the leading edge
    assert len(sink.messages()) - before <= storm_s / 0.01 + 5


def test_feedback_sends_values_changed_elsewhere_to_the_controller(virtual):
    midi, sink, ctl, _ = virtual
    ctl.cc(1, 64)
    assert sink.wait_for(lambda s: "budget" in s.current())
    midi.on_state({**STATE, "budget": 0.25})  # the page set it
    assert ctl.wait_heard(lambda h: [0xB0, 1, round(0.25 * 127)] in h)
    ctl.note(38)  # preset 3: its pad lights
    assert ctl.wait_heard(lambda h: [0x90, 38, 127] in h)


def test_learn_over_a_real_port_binds_and_saves(virtual, tmp_path):
    midi, sink, ctl, events = virtual
    midi.arm("guidance")
    time.sleep(0.05)
    for v in (30, 31, 32, 33):
        ctl.cc(9, v)
    deadline = time.monotonic() + 5
    while not any(e.get("status") == "learned" for e in events) and time.monotonic() < deadline:
        time.sleep(0.02)
    learned = [e for e in events if e.get("status") == "learned"]
    assert learned and learned[0]["saved_to"] == str(tmp_path / "map.toml")
    saved = load_mapping(tmp_path / "map.toml")
    assert {b.source_key: b.control for b in saved.bindings}[("cc", 9)] == "guidance"
    assert ("cc", 74) not in {b.source_key for b in saved.bindings}
    ctl.cc(9, 127)  # guidance 3.0 sits at 0.33 of 1..7 linear: pick-up first
    ctl.cc(9, 0)
    ctl.cc(9, 127)
    assert sink.wait_for(lambda s: s.current().get("guidance") == 7.0)
    with pytest.raises(ValueError, match="cannot learn 'volume'"):
        midi.arm("volume")


def test_a_named_port_that_disappears_is_reconnected_when_it_returns(jack):
    sink, events = RecordingSink(), []
    device = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="gone-soon")
    device.open_virtual_port("Knobs 8")
    midi = MidiInput(MidiConfig(port="Knobs 8", watch_s=0.05), sink, notify=events.append)
    midi.start()
    try:
        time.sleep(0.1)
        device.send_message([0xB0, 28, 5])
        assert sink.wait_for(lambda s: s.current().get("seed") == 5)
        device.delete()  # unplugged
        deadline = time.monotonic() + 5
        while midi.status().get("input", {}).get("connected") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert midi.status()["input"]["connected"] is False
        device = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="gone-soon")
        device.open_virtual_port("Knobs 8")  # plugged in again
        deadline = time.monotonic() + 5
        while not midi.status()["input"]["connected"] and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
        device.send_message([0xB0, 28, 9])
        assert sink.wait_for(lambda s: s.current().get("seed") == 9)
        assert [e["status"] for e in events if e["type"] == "midi_port"] == \
            ["disconnected", "reconnected"]
    finally:
        midi.stop()
        device.delete()


def test_a_port_that_does_not_exist_fails_start_with_the_list(jack):
    midi = MidiInput(MidiConfig(port="Nope 3000"), RecordingSink())
    with pytest.raises(PortError, match="no MIDI input port matches 'Nope 3000'"):
        midi.start()


def test_a_sink_that_raises_does_not_stop_midi(virtual):
    midi, sink, ctl, _ = virtual

    class Grumpy(RecordingSink):
        def submit(self, message):
            super().submit(message)
            if "budget" in message.get("set", {}):
                raise RuntimeError("engine said no")

    grumpy = Grumpy()
    midi.sink = grumpy
    ctl.cc(1, 64)
    assert grumpy.wait_for(lambda s: "budget" in s.current())
    deadline = time.monotonic() + 5
    while midi.status()["drain"]["submit_errors"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert midi.status()["drain"]["submit_errors"] == 1
    time.sleep(0.02)
    ctl.cc(28, 7)  # MIDI carries on
    assert grumpy.wait_for(lambda s: s.current().get("seed") == 7)
