"""End to end: a real MIDI port sends CCs and notes, the real engine (micro model) applies
them at hop boundaries, and a real WebSocket client sees the state change with the acks."""

from __future__ import annotations

import asyncio

import pytest

from clients.listen import Listener
from engine.midi.input import MidiConfig
from engine.midi.mapping import load_mapping
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.midi.support import Controller, EngineThread


@pytest.fixture(scope="module")
def live(served, jack, tmp_path_factory):
    cfg = ServerConfig(port=0, block_frames=2048,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1, glide_hops=2))
    midi = MidiConfig(virtual="e2e", mapping=tmp_path_factory.mktemp("map") / "mine.toml",
                      watch_s=0.2)
    with EngineThread(served, cfg, midi) as srv:
        ctl = Controller("e2e-ctl")
        ctl.connect("presto-live:e2e", "presto-live-out:e2e")
        yield srv, ctl
        ctl.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def until(client: Listener, predicate, timeout: float = 20.0) -> dict:
    """Wait for a state message that satisfies predicate; return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = 0
    while loop.time() < deadline:
        for state in client.states[seen:]:
            if predicate(state):
                return state
        seen = len(client.states)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no such state in {len(client.states)} state messages")


def acks_of(client: Listener) -> list[dict]:
    return [a for s in client.states for a in (s.get("midi") or {}).get("acks", [])]


def test_ccs_and_notes_change_the_engine_state_with_acks(live):
    srv, ctl = live

    async def go():
        client = await Listener.connect(srv.url)
        await client.wait_audio(seconds=0.3)
        budget = client.state["budget"]  # pick-up: move the knob to the value first
        ctl.cc(1, round(budget * 127))
        ctl.cc(1, 40)
        await until(client, lambda s: s["budget"] == round(40 / 127, 6))
        ctl.note(38)  # preset 3
        preset = [list(p) for p in load_mapping().presets[2].prompts]
        state = await until(client, lambda s: s["prompts"] == preset)
        ctl.note(45)  # pause
        await until(client, lambda s: s["playing"] is False)
        ctl.cc(115, 127)  # play (a CC button)
        ctl.cc(115, 0)
        await until(client, lambda s: s["playing"] is True)
        acks = acks_of(client)
        applied = {k for a in acks for k in a.get("applied", {})}
        assert {"budget", "prompts", "playback"} <= applied
        assert all(a["id"].startswith("midi-") and a["applied_at_sample"] >= 0 for a in acks)
        prompt_ack = next(a for a in acks if "prompts" in a["applied"])
        assert prompt_ack["applied"]["prompts"] == preset
        assert state["midi"]["input"]["connected"] is True
        await client.close()

    run(go())


def test_a_change_from_the_page_goes_back_to_the_controller(live):
    srv, ctl = live

    async def go():
        client = await Listener.connect(srv.url)
        ack = await client.request({"type": "control", "set": {"budget": 0.25}})
        assert ack["type"] == "ack"
        await until(client, lambda s: s["budget"] == 0.25)
        await client.close()

    run(go())
    assert ctl.wait_heard(lambda h: [0xB0, 1, round(0.25 * 127)] in h)


def test_midi_learn_from_a_client_message_binds_and_saves(live):
    srv, ctl = live
    reply = srv.link.client_message({"type": "midi_learn", "id": 5, "control": "guidance"})
    assert reply == {"type": "ack", "id": 5, "midi_learn": {"status": "armed",
                                                         "control": "guidance", "index": None}}
    bad = srv.link.client_message({"type": "midi_learn", "control": "weight", "index": 12})
    assert bad["type"] == "error" and bad["code"] == "bad_value" and "1..8" in bad["message"]

    async def go():
        client = await Listener.connect(srv.url)
        await until(client, lambda s: (s["midi"]["learn"] or {}).get("control") == "guidance")
        for v in (60, 61, 62, 63):
            ctl.cc(13, v)
        state = await until(client, lambda s: s["midi"]["learned"] is not None)
        assert state["midi"]["learned"]["binding"].startswith("cc 13 (omni) -> guidance")
        saved = load_mapping(state["midi"]["learned"]["saved_to"])
        assert ("cc", 13) in {b.source_key for b in saved.bindings}
        guidance = client.state["guidance"]
        ctl.cc(13, round((guidance - 1.0) / 6.0 * 127))  # at the value: picks it up
        ctl.cc(13, 127)
        await until(client, lambda s: s["guidance"] == 7.0)
        await client.close()

    run(go())
