"""Web MIDI pass-through (engine.server.web_midi): raw MIDI from a page, mapped by the
engine's MIDI code, through a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from engine.server.config import ServerConfig
from engine.server.web_midi import MAX_MESSAGES, WebMidi, WebMidiError, check_messages
from engine.stream.config import StreamConfig
from tests.server.support import ServerThread

STATE = {"budget": 1.0, "guidance": 2.0, "seed": 0, "variation": 0.0, "playing": True,
         "prompts": [["a lively folk tune", 1.0]]}


def test_each_connection_maps_its_own_controller_with_the_default_mapping() -> None:
    bridge = WebMidi()
    # CC 1 = budget with pick-up: 0 is far from the engine's 1.0, so nothing happens ...
    controls, _ = bridge.handle("a", [[0xB0, 1, 0]], STATE, now=0.0)
    assert controls == []
    assert bridge.status("a")["waiting"] == 1
    # ... until the knob reaches the value; a sweep within one batch picks it up
    controls, feedback = bridge.handle("a", [[0xB0, 1, v] for v in range(0, 128, 16)]
                                       + [[0xB0, 1, 127], [0xB0, 1, 32]], STATE, now=0.1)
    assert controls == [{"type": "control", "id": "midi-1", "set": {"budget": 0.251969}}]
    # another page's controller has its own pick-up state
    assert bridge.handle("b", [[0xB0, 1, 32]], STATE, now=0.2)[0] == []
    # pads: note 46 = reset; note 36 = preset 1 of the mapping file
    controls, _ = bridge.handle("b", [[0x90, 46, 100], [0x90, 36, 90]], STATE, now=0.3)
    assert controls == [
        {"type": "control", "id": "midi-1",
         "set": {"prompts": [["a slow chorale for strings", 1.0]]}},
        {"type": "playback", "id": "midi-2", "action": "reset"}]
    bridge.forget("a")
    assert bridge.status("a") is None and bridge.status("b") is not None


def test_state_changes_made_elsewhere_go_back_to_the_controller_as_feedback() -> None:
    bridge = WebMidi()
    bridge.handle("a", [[0xB0, 74, 0]], STATE, now=0.0)
    moved = dict(STATE, budget=0.5)  # the page's slider, or another client
    out = dict(bridge.observe(moved))
    assert [0xB0, 1, 64] in out["a"]  # CC 1 at the position of 0.5 (LED ring, motor fader)
    assert dict(bridge.observe(moved)) == {}  # nothing new: nothing sent


@pytest.mark.parametrize("bad", [None, [], [[]], [[0xB0, 1, 64, 0]], [[0xB0, 1, 300]],
                                 [[0xB0, 1, True]], [0xB0, 1, 64], [[0.5]],
                                 [[0xB0, 1, 1]] * (MAX_MESSAGES + 1)])
def test_malformed_batches_are_refused_with_what_to_send(bad) -> None:
    with pytest.raises(WebMidiError, match=r"\[176, 1, 64\]"):
        check_messages(bad)


@pytest.fixture(scope="module")
def srv(served):
    cfg = ServerConfig(port=0, control_token="knobs",
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    with ServerThread(served, cfg) as s:
        yield s


async def replies(ws, want: set[str], n: int, timeout: float = 20.0) -> list[dict]:
    """The next n JSON messages whose type is in `want` (audio and the rest skipped)."""
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            data = await ws.recv()
            if isinstance(data, str) and json.loads(data)["type"] in want:
                out.append(json.loads(data))
    return out


def test_a_page_forwards_midi_and_the_engine_applies_it_like_its_own_controls(srv) -> None:
    async def go():
        async with connect(srv.url) as ws:
            await ws.recv()  # hello
            # without the token MIDI is refused like any control; listening goes on
            await ws.send(json.dumps({"type": "midi", "id": 1, "messages": [[0xB0, 1, 127]]}))
            (err,) = await replies(ws, {"error"}, 1)
            assert err["code"] == "unauthorized" and err["id"] == 1
            await ws.send(json.dumps({"type": "auth", "token": "knobs"}))
            await ws.send(json.dumps({"type": "midi", "id": 2, "messages": "cc1"}))
            (err,) = await replies(ws, {"error"}, 1)
            assert err["code"] == "bad_value" and err["field"] == "messages" and err["id"] == 2
            await ws.send(json.dumps({"type": "midi", "id": 3,
                                      "messages": [[0xB0, 1, 127], [0xB0, 1, 64]]}))
            midi, out = await replies(ws, {"midi", "midi_out"}, 2)
            assert midi == {"type": "midi", "id": 3, "controls": ["midi-1"], "waiting": 0,
                            "unmapped": 0}
            assert out["type"] == "midi_out" and all(len(m) == 3 for m in out["messages"])
            (ack,) = await replies(ws, {"ack"}, 1)
            assert ack["id"] == "midi-1" and ack["applied"] == {"budget": 0.503937}
            assert isinstance(ack["applied_at_sample"], int)
            state = (await replies(ws, {"state"}, 1))[0]
            while state["budget"] != 0.503937:
                state = (await replies(ws, {"state"}, 1))[0]

    asyncio.run(go())
    deadline = time.monotonic() + 10
    while srv.server.web_midi.routers and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.server.web_midi.routers == {}  # forgotten when the page left
