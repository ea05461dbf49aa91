"""The MIDI core: raw messages in, control messages and controller feedback out. No I/O.

    router = MidiRouter(load_mapping(), feedback=True)
    router.observe(engine_state)                     # what the engine holds now
    router.handle([0xB0, 1, 100], now)               # CC 1 moved
    router.take()        # [{"type": "control", "id": "midi-1", "set": {"budget": 0.787}}]
    router.take_feedback()                           # MIDI messages for the controller

One thread owns a router (engine.midi.input's drain thread); nothing here blocks or locks.
Everything a batch of messages changes is coalesced: take() returns at most one `control`
message (the last value of each key wins) and the playback actions in order (consecutive play
and pause collapse to the last). Messages have the shape of the WebSocket control messages
(docs/protocol.md) with ids "midi-1", "midi-2", ...

Mirror of the engine. The router keeps what it believes the engine holds (budget, guidance,
seed, variation, the prompt blend, playing) from its own changes and from `observe(state)`. A
state value that changed and is not one the router sent recently was changed elsewhere (the
page, another client): knobs on that control need pick-up again and the controller is told
(feedback). Weight faders edit the current blend: fader i sets the weight of prompt i; with
fewer prompts it does nothing (counted as no_target).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.midi.curves import apply_curve
from engine.midi.feedback import Feedback, knob_position
from engine.midi.learn import Learner, learn_into
from engine.midi.mapping import SCALARS, Binding, Mapping
from engine.midi.messages import (
    ControlChange,
    MessageParser,
    MidiEvent,
    NoteOff,
    NoteOn,
    relative_delta,
)
from engine.midi.pickup import Pickup

STATE_KEYS = ("budget", "guidance", "seed", "variation")
HISTORY = 64  # recent values per key recognised as the router's own when the engine echoes them

Prompts = list[list]  # [[text, weight], ...]


@dataclass
class RouterCounts:
    events: int = 0  # parsed MIDI events handled
    changes: int = 0  # control changes made (before coalescing)
    unmapped: int = 0  # events no binding listens to
    waiting: int = 0  # absolute knob moves held back until the knob picks the value up
    no_target: int = 0  # a weight for a prompt the blend lacks, a program with no preset
    learned: int = 0  # bindings made by MIDI learn
    coalesced: int = 0  # knob messages skipped because a later one in the same batch wins
    submitted: int = 0  # messages handed out by take()
    external: int = 0  # state changes made elsewhere (page, other clients)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def prompts_of(state: dict) -> Prompts | None:
    """The blend a state message reports, as [[text, weight], ...] (None if it says nothing)."""
    raw = state.get("prompts")
    if isinstance(raw, list) and raw:
        out = []
        for p in raw:
            if isinstance(p, dict):
                out.append([p.get("text", ""), float(p.get("weight", 1.0))])
            elif isinstance(p, list | tuple) and len(p) == 2:
                out.append([p[0], float(p[1])])
        return out
    if isinstance(state.get("prompt"), str):
        return [[state["prompt"], 1.0]]
    return None


def playing_of(state: dict) -> bool | None:
    if isinstance(state.get("playing"), bool):
        return state["playing"]
    if "paused" in state:
        return not state["paused"]
    playback = state.get("playback")
    if playback in ("play", "playing"):
        return True
    if playback in ("pause", "paused"):
        return False
    return None


class MidiRouter:
    def __init__(self, mapping: Mapping, feedback: bool = False) -> None:
        self.parser = MessageParser()
        self.counts = RouterCounts()
        self.learner = Learner()
        self.feedback = feedback  # compute controller feedback (an output port exists)
        self.values: dict[str, Any] = {}  # what the engine is believed to hold
        self.active_preset: int | None = None
        self._set: dict[str, Any] = {}
        self._actions: list[str] = []
        self._out: list[list[int]] = []
        self._dirty: dict[tuple, int | None] = {}  # target -> binding that moved it (or None)
        self._learned: list[Binding] = []
        self._seen: dict[str, Any] = {}  # the last state value per key
        self._mine: dict[str, deque] = defaultdict(lambda: deque(maxlen=HISTORY))
        self._next_id = 0
        self.mapping = Mapping((), ())
        self._pickup: dict[int, Pickup] = {}
        self.use(mapping)

    # ---- setup -------------------------------------------------------------------------------

    def use(self, mapping: Mapping) -> None:
        """Switch to `mapping` (at start and after MIDI learn); values are kept."""
        self.parser.set_fourteen_bit(mapping.fourteen_bit())
        self._by_source: dict[tuple, list[int]] = defaultdict(list)
        self._by_target: dict[tuple, list[int]] = defaultdict(list)
        for i, b in enumerate(mapping.bindings):
            self._by_source[b.source_key].append(i)
            self._by_target[b.target].append(i)
        # a binding that survives (MIDI learn only comments out lines) keeps its pick-up state
        before = {self.mapping.bindings[i]: p for i, p in self._pickup.items()}
        self._pickup = {i: before.get(b) or Pickup() for i, b in enumerate(mapping.bindings)
                        if b.control in SCALARS and not b.relative and b.takeover == "pickup"}
        self.mapping = mapping
        self._edge: dict[tuple[int, int], int] = {}  # (binding, channel) -> last CC value
        # CCs whose every binding is an absolute 7-bit knob and the only source of its
        # control: within one batch only the last message per channel matters (buttons,
        # encoders, 14-bit pairs and controls shared with other sources need every message)
        def plain(number: int, ids: list[int]) -> bool:
            return number not in pairs and all(
                b.control in SCALARS and not b.relative and all(
                    mapping.bindings[j].source_key == ("cc", number)
                    for j in self._by_target[b.target])
                for b in (mapping.bindings[i] for i in ids))

        pairs = mapping.fourteen_bit() | {n + 32 for n in mapping.fourteen_bit()}
        self._plain_knobs = frozenset(number for (source, number), ids in self._by_source.items()
                                      if source == "cc" and plain(number, ids))
        self._fb = Feedback()
        self.show_all()

    def show_all(self) -> None:
        """Queue feedback for every binding (after the output port (re)connects)."""
        self._fb.forget()
        for target in list(self._by_target):
            self._show(target, origin=None)

    # ---- MIDI in -----------------------------------------------------------------------------

    def handle(self, message: Sequence[int], now: float) -> None:
        """One raw MIDI message (from the rtmidi callback's queue)."""
        event = self.parser.parse(message)
        if event is None:
            return
        self.counts.events += 1
        if self.learner.armed:
            learned = self.learner.offer(event, now)
            if learned is not None:
                self._learn(learned)
            return
        self._dispatch(event)

    def handle_batch(self, items: list[tuple[float, Sequence[int]]]) -> None:
        """Messages queued together, in order: (time, message) pairs. The same as handle()
        on each, except that a knob message is skipped (counted) when a later message from
        the same knob follows with nothing but other such knobs in between, and the knob
        drives its value already (no pick-up pending): a storm costs what its last value does.
        """
        skip: set[int] = set()
        if len(items) > 1 and not self.learner.armed:
            plain = {n for n in self._plain_knobs if all(
                self._pickup[i].engaged for i in self._by_source[("cc", n)] if i in self._pickup)}
            seen: set[tuple[int, int]] = set()
            for k in range(len(items) - 1, -1, -1):
                m = items[k][1]
                if not (len(m) == 3 and 0xB0 <= m[0] <= 0xBF and m[1] in plain and m[2] < 0x80):
                    seen.clear()  # a button, a pad, another control: order matters across it
                elif (m[0], m[1]) in seen:
                    skip.add(k)
                else:
                    seen.add((m[0], m[1]))
        for k, (t, m) in enumerate(items):
            if k in skip:
                self.parser.counts.received += 1
                self.parser.counts.parsed += 1
                self.counts.events += 1
                self.counts.coalesced += 1
            else:
                self.handle(m, t)

    def poll(self, now: float) -> None:
        """Time passes (every drain tick): a knob being learned may have settled."""
        learned = self.learner.poll(now)
        if learned is not None:
            self._learn(learned)

    def _dispatch(self, event: MidiEvent) -> None:
        if isinstance(event, ControlChange):
            keys = [("cc", event.number)]
        elif isinstance(event, NoteOn | NoteOff):
            keys = [("note", event.note)]
        else:
            keys = [("program", event.program), ("program", None)]
        bindings = self.mapping.bindings
        hits = [i for key in keys for i in self._by_source.get(key, ())
                if bindings[i].listens(event.channel)]
        if not hits:
            self.counts.unmapped += 1
        for i in hits:
            b = bindings[i]
            if b.control in SCALARS:
                self._knob(i, b, event)
            else:
                self._button(i, b, event)

    def _knob(self, i: int, b: Binding, event: ControlChange) -> None:
        current = self._current(b.target)
        if b.relative:
            delta = relative_delta(event.value, b.mode.removeprefix("relative-"))
            position = knob_position(b, current) if current is not None else 0.5
            value = self._value_at(b, position + delta * b.step)
            if b.is_integer and current is not None and value == current and delta:
                lo, hi = sorted(b.range)
                value = int(min(hi, max(lo, current + (1 if delta > 0 else -1))))
            self._fb.heard(i, event.channel)
        else:
            position = event.value / ((1 << b.bits) - 1)
            self._fb.heard(i, event.channel, event.value)
            pickup = self._pickup.get(i)
            target = knob_position(b, current) if current is not None else None
            if pickup is not None and not pickup.move(position, target):
                self.counts.waiting += 1
                return
            value = self._value_at(b, position)
        self._change(b.target, value, origin=i)

    def _button(self, i: int, b: Binding, event: MidiEvent) -> None:
        self._fb.heard(i, event.channel)
        if isinstance(event, NoteOff):
            return
        if isinstance(event, ControlChange):
            before = self._edge.get((i, event.channel), 0)
            self._edge[(i, event.channel)] = event.value
            if not before <= 63 < event.value:  # fire on the press, not the release
                return
        if b.control == "preset":
            index = b.index if b.index is not None else event.program + 1
            self._preset(index)
        else:
            self._action(b.control)

    # ---- changes -----------------------------------------------------------------------------

    @staticmethod
    def _value_at(b: Binding, position: float) -> float | int:
        lo, hi = b.range
        value = lo + apply_curve(b.curve, position, b.shape) * (hi - lo)
        return int(round(value)) if b.is_integer else round(value, 6)

    def _current(self, target: tuple[str, int | None]) -> Any:
        control, index = target
        if control == "weight":
            prompts = self.values.get("prompts")
            return prompts[index - 1][1] if prompts and len(prompts) >= index else None
        return self.values.get(control)

    def _commit(self, key: str, value: Any) -> None:
        self._set[key] = value
        self.values[key] = value
        self._mine[key].append(value)
        self.counts.changes += 1

    def _change(self, target: tuple[str, int | None], value: Any, origin: int) -> None:
        control, index = target
        if control == "weight":
            prompts = self.values.get("prompts")
            if not prompts or len(prompts) < index:
                self.counts.no_target += 1
                return
            prompts = [list(p) for p in prompts]
            prompts[index - 1][1] = value
            self._commit("prompts", prompts)
        else:
            self._commit(control, value)
        self._moved(target, origin)

    def _preset(self, index: int) -> None:
        presets = self.mapping.presets
        if not 1 <= index <= len(presets):
            self.counts.no_target += 1
            return
        self._commit("prompts", [[text, weight] for text, weight in presets[index - 1].prompts])
        self.active_preset = index
        self._prompts_moved(origin=None)

    def _action(self, action: str) -> None:
        if action in ("play", "pause"):
            if self._actions and self._actions[-1] in ("play", "pause"):
                self._actions.pop()
            self.values["playing"] = action == "play"
            self._show(("play", None), None)
            self._show(("pause", None), None)
        elif self._actions and self._actions[-1] == action:
            return
        self._actions.append(action)
        self.counts.changes += 1

    def _moved(self, target: tuple[str, int | None], origin: int | None) -> None:
        """`target` changed by binding `origin` (None: elsewhere): others pick up again."""
        for j in self._by_target.get(target, ()):
            if j != origin and j in self._pickup:
                self._pickup[j].release()
        self._show(target, origin)

    def _prompts_moved(self, origin: int | None) -> None:
        for target in [t for t in self._by_target if t[0] == "weight"]:
            self._moved(target, origin)
        for target in [t for t in self._by_target if t[0] == "preset"]:
            self._show(target, origin)

    def _show(self, target: tuple[str, int | None], origin: int | None) -> None:
        """Mark `target` for feedback to its bindings other than `origin` (computed once per
        batch in take_feedback, so only the final value goes out)."""
        if not self.feedback:
            return
        if target in self._dirty and self._dirty[target] != origin:
            origin = None  # changed by two sources in one batch: show it everywhere
        self._dirty[target] = origin

    def _feedback_for(self, target: tuple[str, int | None], origin: int | None) -> None:
        control = target[0]
        for j in self._by_target.get(target, ()):
            if j == origin:
                continue
            b = self.mapping.bindings[j]
            if not b.feedback:
                continue
            if control in SCALARS:
                value = self._current(target)
                if value is not None:
                    self._out += self._fb.value(j, b, value)
            elif control == "preset" and b.index is not None:
                self._out += self._fb.lamp(j, b, self.active_preset == b.index)
            elif control in ("play", "pause") and "playing" in self.values:
                self._out += self._fb.lamp(j, b, self.values["playing"] == (control == "play"))

    # ---- engine state in ---------------------------------------------------------------------

    def observe(self, state: dict) -> None:
        """A state message from the engine: learn what changed elsewhere."""
        for key in STATE_KEYS:
            if key in state and self._external(key, state[key]):
                self._moved((key, None), origin=None)
        prompts = prompts_of(state)
        if prompts is not None and self._external("prompts", prompts):
            self.active_preset = next(
                (n for n, p in enumerate(self.mapping.presets, start=1)
                 if _same([list(x) for x in p.prompts], prompts)), None)
            self._prompts_moved(origin=None)
        playing = playing_of(state)
        if playing is not None and playing != self.values.get("playing"):
            self.values["playing"] = playing
            self._show(("play", None), None)
            self._show(("pause", None), None)

    def _external(self, key: str, value: Any) -> bool:
        """Record a state value; True when it changed and the change is not the router's."""
        if key in self._seen and _same(self._seen[key], value):
            return False
        self._seen[key] = value
        mine = self._mine[key]
        if mine and _same(mine[-1], value):
            self.values[key] = value  # the latest value sent: the engine has it now
            return False
        if any(_same(m, value) for m in mine):
            return False  # an older value of ours on its way through the engine
        self.values[key] = value
        self.counts.external += 1
        return True

    # ---- learn -------------------------------------------------------------------------------

    def arm(self, control: str, index: int | None = None) -> None:
        """MIDI learn: the next control moved binds to `control` (ValueError if not valid)."""
        self.learner.arm(control, index, presets=len(self.mapping.presets))

    def _learn(self, binding: Binding) -> None:
        self.use(learn_into(self.mapping, binding))
        self._learned.append(self.mapping.bindings[-1])
        self.counts.learned += 1

    # ---- out ---------------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Changes wait for take()."""
        return bool(self._set or self._actions)

    def take(self) -> list[dict]:
        """The coalesced control and playback messages since the last take()."""
        out: list[dict] = []
        if self._set:
            out.append({"type": "control", "id": self._id(), "set": self._set})
            self._set = {}
        for action in self._actions:
            out.append({"type": "playback", "id": self._id(), "action": action})
        self._actions = []
        self.counts.submitted += len(out)
        return out

    def take_feedback(self) -> list[list[int]]:
        """MIDI messages that bring the controller up to date (empty without feedback)."""
        for target, origin in self._dirty.items():
            self._feedback_for(target, origin)
        self._dirty.clear()
        out, self._out = self._out, []
        return out

    def take_learned(self) -> list[Binding]:
        out, self._learned = self._learned, []
        return out

    def _id(self) -> str:
        self._next_id += 1
        return f"midi-{self._next_id}"

    def status(self) -> dict:
        return {"messages": self.parser.counts.as_dict(), **self.counts.as_dict(),
                "bindings": len(self.mapping.bindings),
                "learn": list(self.learner.target) if self.learner.armed else None}
