"""The MIDI controller is unplugged mid-set (its real JACK ports vanish) and plugged in
again, while the engine streams to a real WebSocket listener: the stream never breaks,
the state says the port is gone, feedback to the missing output is not an error, and the
controller steers again when it is back."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import traceback

import pytest

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.reliability.support import ErrorLog

rtmidi = pytest.importorskip("rtmidi")


@pytest.fixture(scope="module")
def jack():
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2): MIDI port tests need a "
                    "JACK server with the dummy backend")
    from engine.midi.jack import dummy_jack

    with dummy_jack(256) as name:
        yield name


class Device:
    """A USB controller stand-in: a real JACK output port (knobs) and input port (LEDs)."""

    def __init__(self) -> None:
        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="vanishing")
        self.out.open_virtual_port("Knobs 8")
        self.inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="vanishing-leds")
        self.inp.open_virtual_port("LEDs 8")

    def cc(self, number: int, value: int) -> None:
        self.out.send_message([0xB0, number, value])

    def unplug(self) -> None:
        self.out.delete()
        self.inp.delete()


async def until(client: Listener, predicate, what: str, timeout: float = 20.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if client.state is not None and predicate(client.state):
            return client.state
        await asyncio.sleep(0.02)
    raise AssertionError(f"no state where {what}; last: {client.state}")


def connected(state: dict, kind: str) -> bool | None:
    return ((state.get("midi") or {}).get(kind) or {}).get("connected")


def test_the_midi_port_vanishing_leaves_the_stream_playing(served, jack) -> None:
    from engine.midi.input import MidiConfig
    from tests.midi.support import EngineThread

    device = Device()
    cfg = ServerConfig(port=0, block_frames=2048,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    midi = MidiConfig(port="Knobs 8", out="LEDs 8", watch_s=0.05)

    async def go(srv) -> None:
        client = await Listener.connect(srv.url, keep_audio=False)
        await client.wait_audio(seconds=0.2)
        device.cc(28, 5)  # the default mapping: CC 28 = seed
        await until(client, lambda s: s["seed"] == 5, "seed 5 from MIDI")
        device.unplug()
        await until(client, lambda s: connected(s, "input") is False
                    and connected(s, "output") is False, "both ports disconnected")
        # a change from the page: its feedback has no port to go to
        ack = await client.request({"type": "control", "set": {"budget": 0.5}})
        assert ack["type"] == "ack"
        await client.wait_audio(seconds=0.5)
        replugged = Device()
        try:
            await until(client, lambda s: connected(s, "input") and connected(s, "output"),
                        "both ports reconnected")
            await asyncio.sleep(0.05)
            replugged.cc(28, 9)
            await until(client, lambda s: s["seed"] == 9, "seed 9 from MIDI again")
        finally:
            replugged.unplug()
        await client.wait_audio(seconds=0.2)
        c = client.continuity
        assert c.violations == [] and c.skips == 0 and client.closed is None
        await client.close()

    def body() -> None:
        with ErrorLog() as errors, EngineThread(served, cfg, midi) as srv:
            asyncio.run(asyncio.wait_for(go(srv), 90))
        assert errors.lines() == []

    bounded(body, 150)


def bounded(body, seconds: float) -> None:
    """Run body in a thread: JACK calls block in C, where no asyncio timeout reaches; a hang
    fails the test with the thread's stack instead of stopping the whole run."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            body()
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        frame = sys._current_frames().get(thread.ident)
        stack = "".join(traceback.format_stack(frame)) if frame else "?"
        pytest.fail(f"the test hung for {seconds:.0f} s (JACK?); its stack:\n{stack}")
    if outcome[0] is not None:
        raise outcome[0]
