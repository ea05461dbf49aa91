"""Web MIDI pass-through: raw MIDI from a browser page, mapped by the engine's own MIDI code.

    bridge = WebMidi()                            # engine/midi/default_mapping.toml, or a path
    controls, feedback = bridge.handle(conn, [[0xB0, 1, 127], [0xB0, 1, 64]], engine_state)
    # controls: [{"type": "control", "id": "midi-1", "set": {"budget": 0.504}}], handled by
    # the server exactly like a control the page typed; feedback: MIDI for the controller
    for conn, feedback in bridge.observe(state): ...   # after every engine state change
    bridge.forget(conn)                                 # the connection closed

The page forwards the controller's bytes (`{"type": "midi", "messages": [[176, 1, 64]]}`,
docs/protocol.md) instead of interpreting them, so a knob plugged into the performer's
laptop does what it does plugged into the engine's machine: the same mapping file, curves,
pick-up, 14-bit pairs, encoders and presets (engine.midi.router). Each connection gets its
own router: a controller's knob positions (pick-up) and 14-bit MSBs are its own. No I/O
here; engine.server.app does the sending.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from pathlib import Path

from engine.midi.mapping import DEFAULT_MAPPING, Mapping, load_mapping
from engine.midi.router import MidiRouter

MAX_MESSAGES = 512  # per WebSocket message; a page batches every 100 ms or so
MAX_ROUTERS = 64  # connections with a controller at once


class WebMidiError(ValueError):
    """A `midi` message the server cannot use; the text says what to send instead."""


def check_messages(value: object) -> list[list[int]]:
    """The `messages` field -> a list of MIDI messages (each 1 to 3 bytes 0..255)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_MESSAGES:
        raise WebMidiError(f"messages must be a list of 1 to {MAX_MESSAGES} MIDI messages, each "
                           "a list of 1 to 3 bytes, e.g. [[176, 1, 64]]")
    out = []
    for i, m in enumerate(value):
        if (not isinstance(m, list) or not 1 <= len(m) <= 3
                or any(isinstance(b, bool) or not isinstance(b, int) or not 0 <= b <= 255
                       for b in m)):
            raise WebMidiError(f"messages[{i}] must be a MIDI message of 1 to 3 bytes 0..255 "
                               "(status first, e.g. [176, 1, 64]); SysEx is not forwarded")
        out.append(list(m))
    return out


def engine_view(state: dict) -> dict:
    """An engine state message as the router reads it (it knows play state as `paused`)."""
    if "playing" in state and "paused" not in state:
        return {**state, "paused": not state["playing"]}
    return state


class WebMidi:
    def __init__(self, mapping: Path | Mapping | None = None) -> None:
        if isinstance(mapping, Mapping):
            self.mapping = mapping
        else:
            self.mapping = load_mapping(mapping if mapping is not None else DEFAULT_MAPPING)
        self.routers: dict[Hashable, MidiRouter] = {}

    def handle(self, conn: Hashable, messages: object, state: dict,
               now: float | None = None) -> tuple[list[dict], list[list[int]]]:
        """One batch from `conn`'s page -> (control messages, feedback MIDI messages).

        Raises WebMidiError for a malformed batch. `state` is the engine's current state,
        used when the connection's router is new (pick-up starts from the engine's values).
        """
        batch = check_messages(messages)
        router = self.routers.get(conn)
        if router is None:
            if len(self.routers) >= MAX_ROUTERS:
                raise WebMidiError(f"{MAX_ROUTERS} pages already forward MIDI to this engine; "
                                   "try again when one has closed")
            router = MidiRouter(self.mapping, feedback=True)
            router.observe(engine_view(state))
            router.take_feedback()  # the page's controller gets the current values below
            router.show_all()
            self.routers[conn] = router
        t = time.monotonic() if now is None else now
        for m in batch:  # one by one, not handle_batch: a knob swept past the engine's value
            router.handle(m, t)  # within one batch must still pick it up (take() coalesces)
        return router.take(), router.take_feedback()

    def observe(self, state: dict) -> Iterator[tuple[Hashable, list[list[int]]]]:
        """The engine's state changed: (connection, feedback) for each router with some."""
        view = engine_view(state)
        for conn, router in list(self.routers.items()):
            router.observe(view)
            feedback = router.take_feedback()
            if feedback:
                yield conn, feedback

    def status(self, conn: Hashable) -> dict | None:
        router = self.routers.get(conn)
        return None if router is None else router.status()

    def forget(self, conn: Hashable) -> None:
        self.routers.pop(conn, None)
