"""MIDI for the live engine: controls into the StreamEngine's control queue, acks and MIDI
status out in its state messages, engine state back to the controller.

    link = MidiLink(engine, MidiConfig(virtual="presto"))   # engine: engine.stream StreamEngine
    server = EngineServer(engine, cfg)                      # sets engine.on_state
    link.attach()                                           # after that: wraps engine.on_state
    link.start()                                            # PortError / MappingError if not
    reply = link.client_message({"type": "midi_learn", "control": "budget"})
    link.stop()

The path is the WebSocket controls' own: each MIDI message is checked by
engine.stream.controls (parse_settings / parse_playback, the server's validation) and put on
the engine's ControlQueue with StreamEngine.submit, so it applies at the next hop boundary.
When the engine resolves it, the ack (id "midi-N", applied_at_sample, settled_at_sample,
what was applied) goes into the next state message, under "midi":

    {"type": "state", ..., "budget": 0.5,
     "midi": {"acks": [{"id": "midi-7", "applied_at_sample": 441000, ...}],
              "last_ack": {...}, "learn": null, "learned": null, "input": {...}, ...}}

`acks` holds the MIDI controls resolved since the previous state message (each appears
once); `last_ack` the latest ever. MIDI learn progress (armed, learned, cancelled) and port
changes publish a state message at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from engine.midi.input import MidiConfig, MidiInput
from engine.midi.learn import check_target
from engine.stream.controls import ControlChange, ControlError, parse_playback, parse_settings

log = logging.getLogger("engine.midi")

LEARN_KEYS = {"type", "id", "control", "index", "token", "cancel"}


class EngineSink:
    """A ControlSink onto a StreamEngine: validated like a WebSocket control, then queued."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._acks: list[dict] = []
        self.last_ack: dict | None = None
        self.refused = 0

    def submit(self, message: dict) -> None:
        """Raises ControlError (a ValueError) when the engine refuses the message."""
        if message["type"] == "control":
            change = parse_settings(message.get("set"))
        else:
            change = parse_playback(message.get("action"))
        try:
            future = self.engine.submit(change)
        except ControlError:
            self.refused += 1
            raise
        future.add_done_callback(lambda f: self._resolved(message["id"], change, f))

    def _resolved(self, msg_id: str, change: ControlChange, future: Future) -> None:
        error = future.exception()
        if error is not None:
            ack = {"id": msg_id, "error": getattr(error, "code", "failed"),
                   "message": str(error)}
            log.warning("MIDI control %s failed: %s", msg_id, error)
        else:
            applied = future.result()
            ack = {"id": msg_id, "applied_at_sample": applied.applied_at_sample,
                   "settled_at_sample": applied.settled_at_sample,
                   "restarted": applied.restarted, "applied": change.as_dict()}
        with self._lock:
            self._acks.append(ack)
            del self._acks[:-64]  # a state message takes them; bounded if none is sent
            self.last_ack = ack

    def take_acks(self) -> list[dict]:
        with self._lock:
            acks, self._acks = self._acks, []
            return acks


class MidiLink:
    def __init__(self, engine, cfg: MidiConfig) -> None:
        self.engine = engine
        self.sink = EngineSink(engine)
        self.midi = MidiInput(cfg, self.sink, notify=self._notify)
        self._learn: dict | None = None  # the armed target, as sent in state
        self._learned: dict | None = None  # the last binding learned
        self._downstream: Callable[[dict], None] | None = None

    @property
    def mapping(self):
        """The mapping in use (engine.midi.mapping.Mapping), e.g. for Web MIDI pass-through."""
        return self.midi.router.mapping

    def attach(self) -> None:
        """Wrap engine.on_state: MIDI sees every state, the state gains the "midi" section.
        Call after whoever broadcasts states (the server) has set engine.on_state."""
        self._downstream = self.engine.on_state

        def on_state(state: dict) -> None:
            self.midi.on_state(state)
            if self._downstream is not None:
                self._downstream({**state, "midi": self.state()})

        self.engine.on_state = on_state

    def start(self) -> None:
        """Open the MIDI ports (PortError, MappingError) and start from the engine's state."""
        self.midi.start()
        self.midi.on_state(self.engine.state())  # pick-up and feedback know the values now

    def stop(self) -> None:
        self.midi.stop()

    def state(self) -> dict:
        s = self.midi.status()
        return {"acks": self.sink.take_acks(), "last_ack": self.sink.last_ack,
                "learn": self._learn, "learned": self._learned,
                "input": s.get("input"), "output": s.get("output"),
                "messages": s.get("messages"), "unmapped": s.get("unmapped"),
                "waiting": s.get("waiting"), "refused": self.sink.refused,
                "mapping": str(self.midi.router.mapping.path or "default")}

    def publish(self) -> None:
        """Send a state message now (learn progress, ports) through the engine's callback."""
        if self.engine.on_state is not None:
            self.engine.on_state(self.engine.state())

    def _notify(self, event: dict) -> None:
        if event["type"] == "midi_learn":
            if event["status"] == "armed":
                self._learn = {"control": event["control"], "index": event["index"]}
            else:
                self._learn = None
            if event["status"] == "learned":
                self._learned = {"binding": event["binding"], "saved_to": event["saved_to"]}
        self.publish()

    def client_message(self, msg: dict) -> dict:
        """A client's {"type": "midi_learn", "control": ..., "index": ...} (or "cancel": true)
        -> the reply to send it: an ack, {"type": "ack", "id": ..., "midi_learn": {"status":
        "armed", "control": ..., "index": ...}}, or an error message (unknown_field,
        bad_value). What is learned then arrives in state messages (midi.learned)."""
        msg_id = msg.get("id")
        extra = sorted(set(msg) - LEARN_KEYS)
        if extra:
            return _error("unknown_field", f"midi_learn has no field {extra[0][:40]!r}; "
                          f"allowed: {', '.join(sorted(LEARN_KEYS))}", extra[0][:40], msg_id)
        if msg.get("cancel") is True:
            self.midi.cancel_learn()
            return {"type": "ack", "id": msg_id, "midi_learn": {"status": "cancelled"}}
        control, index = msg.get("control"), msg.get("index")
        try:
            check_target(control, index, len(self.midi.router.mapping.presets))
        except ValueError as error:
            return _error("bad_value", str(error), "control" if index is None else "index",
                          msg_id)
        self.midi.arm(control, index)
        return {"type": "ack", "id": msg_id,
                "midi_learn": {"status": "armed", "control": control, "index": index}}


def _error(code: str, message: str, field: str, msg_id: object) -> dict:
    out = {"type": "error", "code": code, "message": message, "field": field}
    if msg_id is not None:
        out["id"] = msg_id
    return out
