"""A software MIDI controller on real JACK ports, for the tests: it sends through a MidiOut
and listens for feedback through a MidiIn."""

from __future__ import annotations

import threading
import time

import rtmidi

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


class EngineProcess:
    """`python run_engine.py ARGS --port 0 --threads 1` in a subprocess (the JACK server and
    other settings come from this process's environment); its port is read from its log."""

    def __init__(self, args: list[str]) -> None:
        import re
        import subprocess
        import sys
        from pathlib import Path

        self._re = re.compile(r"serving http://127\.0\.0\.1:(\d+)/")
        self.process = subprocess.Popen(
            [sys.executable, "run_engine.py", *args, "--port", "0", "--threads", "1"],
            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            m = self._re.search(line)
            if m:
                self.port = int(m.group(1))

    def __enter__(self) -> EngineProcess:
        deadline = time.monotonic() + 90
        while self.port is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the engine did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(20)
        except Exception:  # noqa: BLE001 - a stuck engine is killed
            self.process.kill()
            self.process.wait()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"
