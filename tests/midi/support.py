"""A software MIDI controller on real JACK ports, for the tests: it sends through a MidiOut
and listens for feedback through a MidiIn."""

from __future__ import annotations

import threading
import time

import rtmidi

from engine.bench.stream import ServerProcess
from tests.server.support import ServerThread


class Controller:
    """A test controller. `virtual`: create ports named NAME others connect to; otherwise
    connect to the engine's ports (matched by substring)."""

    def __init__(self, client: str = "test-ctl") -> None:
        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
        self.inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{client}-fb")
        self.heard: list[list[int]] = []
        self._lock = threading.Lock()
        self.inp.set_callback(self._on_message)

    def _on_message(self, event, _data=None) -> None:
        with self._lock:
            self.heard.append(event[0])

    def connect(self, engine_in: str, engine_out: str | None = None) -> None:
        self.out.open_port(_find(self.out.get_ports(), engine_in))
        if engine_out is not None:
            self.inp.open_port(_find(self.inp.get_ports(), engine_out))
        time.sleep(0.05)  # connections settle within a JACK cycle or two

    def open_virtual(self, name: str) -> None:
        self.out.open_virtual_port(name)

    def send(self, *messages: list[int]) -> None:
        for m in messages:
            self.out.send_message(m)

    def cc(self, number: int, value: int, channel: int = 0) -> None:
        self.send([0xB0 | channel, number, value])

    def note(self, note: int, velocity: int = 100, channel: int = 0) -> None:
        self.send([0x90 | channel, note, velocity], [0x80 | channel, note, 0])

    def feedback(self) -> list[list[int]]:
        with self._lock:
            return list(self.heard)

    def wait_heard(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.feedback()):
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.out.close_port()
        self.inp.close_port()
        self.out.delete()
        self.inp.delete()


def _find(ports: list[str], name: str) -> int:
    for i, p in enumerate(ports):
        if name in p:
            return i
    raise AssertionError(f"no port {name!r} in {ports}")


class EngineThread(ServerThread):
    """A real StreamEngine + EngineServer with MIDI linked, served from a thread of this
    process on a free loopback port (tests/server/support.ServerThread plus a MidiLink)."""

    def __init__(self, model, server_cfg, midi_cfg) -> None:
        from engine.midi.link import MidiLink

        super().__init__(model, server_cfg)
        self.link = MidiLink(self.engine, midi_cfg)
        self.link.attach()

    def __enter__(self) -> EngineThread:
        self.link.start()
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.link.stop()


class EngineProcess(ServerProcess):
    """`python run_engine.py ARGS --port 0 --threads 1` in a subprocess (the JACK server and
    other settings come from this process's environment); its port is read from its log."""

    def __init__(self, args: list[str]) -> None:
        super().__init__([*args, "--threads", "1"])
