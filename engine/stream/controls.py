"""Performer controls: validated changes and the thread-safe queue they wait in.

    change = parse_settings({"prompt": "a slow chorale", "budget": 0.5})   # ControlError if bad
    change = parse_playback("pause")
    future = queue.submit(change)        # any thread; the engine resolves it at a hop boundary
    future.result().applied_at_sample    # first sample produced with the change

Every value is checked for type, range and length here, before it can reach the engine,
and a bad one raises ControlError with a code, the field and a message that says what
to send instead. No I/O: the server turns ControlError into an `error` message.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, fields

MAX_PROMPT_CHARS = 1000
MAX_PROMPTS = 8
MAX_WEIGHT = 100.0
MAX_SEED = 2**31 - 1
GUIDANCE_RANGE = (0.0, 20.0)
PLAYBACK_ACTIONS = ("play", "pause", "reset")
SETTINGS = ("prompt", "prompts", "budget", "guidance", "seed", "variation")


class ControlError(ValueError):
    """A control that cannot be applied; `code` is the protocol's error code."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class ControlChange:
    """One performer action; None = unchanged. Applied as a whole at one hop boundary."""

    prompts: tuple[tuple[str, float], ...] | None = None  # a single prompt has weight 1
    budget: float | None = None  # layer-budget ceiling in [0, 1]
    guidance: float | None = None  # classifier-free guidance (diffusion models)
    seed: int | None = None
    variation: float | None = None  # 0..1, see engine.stream.noise
    playback: str | None = None  # play | pause | reset

    def restarts(self) -> bool:
        """Whether it changes what is generated (worth redoing the hop in flight)."""
        return (self.prompts is not None or self.guidance is not None or self.seed is not None
                or self.variation is not None or self.budget is not None
                or self.playback in ("pause", "reset"))

    def regenerates(self) -> bool:
        """Whether audio already queued but unsent is worth regenerating for it."""
        return self.restarts() and self.playback != "pause"

    def as_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = [list(p) for p in value] if f.name == "prompts" else value
        return out


@dataclass(frozen=True)
class Applied:
    applied_at_sample: int  # first sample index produced with the change
    settled_at_sample: int  # first sample with a prompt glide complete (= applied otherwise)
    restarted: bool  # the hop in flight was redone to apply it sooner


def _number(d: dict, key: str, lo: float, hi: float) -> float:
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError("bad_value", f"{key} must be a number in [{lo:g}, {hi:g}], "
                           f"got {type(value).__name__}", key)
    try:
        value = float(value)
    except OverflowError:  # an integer of hundreds of digits (JSON allows them)
        value = math.inf if value > 0 else -math.inf
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ControlError("bad_value", f"{key} must be in [{lo:g}, {hi:g}], got {value:g}", key)
    return value


def _text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ControlError("bad_value", f"{key} must be a string, got {type(value).__name__}",
                           key)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # JSON allows "\ud800"; no text encoder takes it
        raise ControlError("bad_value", f"{key} holds a lone surrogate (not Unicode text); "
                           "send UTF-8 text", key) from None
    text = value.strip()
    if not text:
        raise ControlError("bad_value", f"{key} is empty: describe the music, e.g. "
                           "\"a slow chorale for strings\"", key)
    if len(text) > MAX_PROMPT_CHARS:
        raise ControlError("bad_value", f"{key} is {len(text)} characters; at most "
                           f"{MAX_PROMPT_CHARS} are accepted", key)
    return text


def _prompts(value: object) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PROMPTS:
        raise ControlError("bad_value", f"prompts must be a list of 1 to {MAX_PROMPTS} "
                           "[text, weight] pairs or {\"text\": ..., \"weight\": ...} objects",
                           "prompts")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict) and set(item) <= {"text", "weight"} and "text" in item:
            text, weight = item["text"], item.get("weight", 1.0)
        elif isinstance(item, list) and len(item) == 2:
            text, weight = item
        else:
            raise ControlError("bad_value", f"prompts[{i}] must be [text, weight] or "
                               "{\"text\": ..., \"weight\": ...}", "prompts")
        text = _text(text, f"prompts[{i}].text")
        w = _number({"weight": weight}, "weight", 0.0, MAX_WEIGHT)
        out.append((text, w))
    if sum(w for _, w in out) <= 0:
        raise ControlError("bad_value", "prompts weights must not all be zero", "prompts")
    return tuple(out)


def parse_settings(settings: object) -> ControlChange:
    """The `set` object of a control message -> ControlChange; ControlError if any is bad."""
    if not isinstance(settings, dict) or not settings:
        raise ControlError("bad_value", "set must be a non-empty object, e.g. "
                           "{\"budget\": 0.5}", "set")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ControlError("unknown_field", f"unknown setting {unknown[0]!r}; known: "
                           f"{', '.join(SETTINGS)}", unknown[0])
    if "prompt" in settings and "prompts" in settings:
        raise ControlError("bad_value", "send either prompt or prompts, not both", "prompts")
    kw: dict = {}
    if "prompt" in settings:
        kw["prompts"] = ((_text(settings["prompt"], "prompt"), 1.0),)
    if "prompts" in settings:
        kw["prompts"] = _prompts(settings["prompts"])
    if "budget" in settings:
        kw["budget"] = _number(settings, "budget", 0.0, 1.0)
    if "guidance" in settings:
        kw["guidance"] = _number(settings, "guidance", *GUIDANCE_RANGE)
    if "variation" in settings:
        kw["variation"] = _number(settings, "variation", 0.0, 1.0)
    if "seed" in settings:
        seed = settings["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ControlError("bad_value", f"seed must be an integer in [0, {MAX_SEED}], "
                               f"got {seed!r}"[:200], "seed")
        kw["seed"] = seed
    return ControlChange(**kw)


def parse_playback(action: object) -> ControlChange:
    if action not in PLAYBACK_ACTIONS:
        raise ControlError("bad_value", f"action must be one of {', '.join(PLAYBACK_ACTIONS)}, "
                           f"got {action!r}"[:200], "action")
    return ControlChange(playback=action)


class ControlQueue:
    """Changes waiting for the next hop boundary, each with the Future it resolves.

    Bounded: submit raises ControlError("busy") when `limit` changes are waiting. The
    engine waits on `wake` when idle, so a control ends its wait at once.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self.wake = threading.Event()
        self._items: deque[tuple[ControlChange, Future]] = deque()
        self._lock = threading.Lock()

    def submit(self, change: ControlChange) -> Future:
        future: Future = Future()
        with self._lock:
            if len(self._items) >= self.limit:
                raise ControlError("busy", f"{self.limit} controls are already waiting for "
                                   "the next hop; send fewer, or wait for the acks")
            self._items.append((change, future))
        self.wake.set()
        return future

    def take_all(self) -> list[tuple[ControlChange, Future]]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self.wake.clear()
            return items

    def wants_restart(self) -> bool:
        with self._lock:
            return any(change.restarts() for change, _ in self._items)

    def wants_rewind(self) -> bool:
        with self._lock:
            return any(change.regenerates() for change, _ in self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
