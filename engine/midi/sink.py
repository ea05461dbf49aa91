"""Where MIDI controls go, and where engine state comes back from: the MIDI layer's interface.

    class Engine:                                   # anything with these methods will do
        def submit(self, message: dict) -> None: ...     # ControlSink
    midi = MidiInput(cfg, sink=engine)              # engine.midi.input
    engine.add_state_listener(midi.on_state)        # StateObserver: feedback and pick-up

`submit` receives exactly what a WebSocket client would send (docs/protocol.md), with ids
"midi-1", "midi-2", ...:

    {"type": "control", "id": "midi-7", "set": {"budget": 0.5, "prompts": [["...", 1.0]]}}
    {"type": "playback", "id": "midi-8", "action": "play" | "pause" | "reset"}

It is called from the MIDI drain thread and must be thread-safe and must not block (put the
message on the engine's control queue and return). `on_state` receives the engine's state
messages (the dict of a {"type": "state", ...} broadcast) from any thread; the MIDI side only
enqueues it.

RecordingSink is a complete sink that keeps what it receives, with the time it arrived:
`python -m engine.midi monitor` prints through one, and the tests and the bench measure with
one.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class ControlSink(Protocol):
    def submit(self, message: dict) -> None:
        """Take one control or playback message; thread-safe, never blocks."""


class StateObserver(Protocol):
    def on_state(self, state: dict) -> None:
        """The engine's current values (after a change); thread-safe, never blocks."""


class RecordingSink:
    """A ControlSink that records (arrival time, message) and can wait for a condition."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []  # (time.perf_counter(), message)
        self._cond = threading.Condition()

    def submit(self, message: dict) -> None:
        now = time.perf_counter()
        with self._cond:
            self.received.append((now, message))
            self._cond.notify_all()

    def messages(self) -> list[dict]:
        with self._cond:
            return [m for _, m in self.received]

    def current(self) -> dict:
        """Every `set` key with its last value, and the last playback action (as "playback")."""
        out: dict = {}
        for m in self.messages():
            if m["type"] == "control":
                out.update(m["set"])
            else:
                out["playback"] = m["action"]
        return out

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Wait until predicate(self) holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True
