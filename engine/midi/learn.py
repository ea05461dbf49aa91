"""MIDI learn: arm a control, move a knob (or hit a pad), and the binding is made and saved.

    learner = Learner()
    learner.arm("weight", index=2, presets=8)       # ValueError for an unknown control/index
    learner.offer(ControlChange(0, 21, 60), now)      # None: collecting (was it a 14-bit pair?)
    binding = learner.poll(now + 0.3)                 # Binding(control="weight", cc=21, ...)
    mapping = learn_into(mapping, binding)            # text edited, checked again, comments kept
    write_mapping(mapping, path)                      # atomic

Knob targets (budget, guidance, weight, seed, variation) take the first CC that moves and
settle after SETTLE_MESSAGES messages from it or SETTLE_SECONDS: if CC n + 32 came along with
CC n (n < 32) the binding is 14-bit; a knob that sends one value over and over (1 or 127, 63 or
65) is a relative encoder (two's complement or binary offset). Button targets (preset, play,
pause, reset) take the first note-on, CC press (value > 63) or, for presets, program change.
A learned binding listens on every channel; its range and curve are the control's defaults.

In the file, the new [[binding]] is appended and every binding it replaces (same target, or
the same source) is commented out line by line, so the rest of the file stays as written.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.midi.mapping import (
    CONTROLS,
    LIMITS,
    MAX_PROMPTS,
    SCALARS,
    Binding,
    Mapping,
    binding_to_toml,
    parse_mapping,
)
from engine.midi.messages import ControlChange, MidiEvent, NoteOn, ProgramChange

SETTLE_MESSAGES = 4
SETTLE_SECONDS = 0.3
REPLACED = "# [replaced by MIDI learn] "


@dataclass
class _Take:
    channel: int
    number: int
    values: list[int] = field(default_factory=list)
    lsb_seen: bool = False
    since: float = 0.0


def check_target(control: object, index: object, presets: int) -> tuple[str, int | None]:
    """A learnable target (control, index), or ValueError saying what would be valid."""
    if control not in CONTROLS:
        raise ValueError(f"cannot learn {control!r}: use one of {', '.join(CONTROLS)}")
    valid_int = isinstance(index, int) and not isinstance(index, bool)
    if control == "weight" and not (valid_int and 1 <= index <= MAX_PROMPTS):
        raise ValueError(f"learning a weight needs index 1..{MAX_PROMPTS}, got {index!r}")
    if control == "preset" and not (valid_int and 1 <= index <= presets):
        raise ValueError(f"learning a preset needs index 1..{presets} (the mapping's "
                         f"presets), got {index!r}")
    return (control, index if control in ("weight", "preset") else None)


class Learner:
    """Waits for the control to bind while armed; one target at a time."""

    def __init__(self) -> None:
        self.target: tuple[str, int | None] | None = None
        self._take: _Take | None = None

    @property
    def armed(self) -> bool:
        return self.target is not None

    def arm(self, control: str, index: int | None = None, presets: int = 0) -> None:
        """Wait for the next control moved; ValueError says what a valid target is."""
        self.target = check_target(control, index, presets)
        self._take = None

    def cancel(self) -> None:
        self.target, self._take = None, None

    def offer(self, event: MidiEvent, now: float) -> Binding | None:
        """Feed an event while armed; a Binding once learned (then disarmed)."""
        if self.target is None:
            return None
        control, index = self.target
        if control not in SCALARS:
            return self._button(event)
        if not isinstance(event, ControlChange):
            return None
        take = self._take
        if take is None:
            self._take = _Take(event.channel, event.number, [event.value], since=now)
        elif event.channel == take.channel and event.number == take.number + 32:
            take.lsb_seen = True
        elif event.channel == take.channel and event.number == take.number:
            take.values.append(event.value)
        return self.poll(now)

    def poll(self, now: float) -> Binding | None:
        """Finish a knob take once it has settled (call on every drain tick)."""
        take = self._take
        if take is None or self.target is None:
            return None
        if len(take.values) < SETTLE_MESSAGES and now - take.since < SETTLE_SECONDS:
            return None
        control, index = self.target
        self.cancel()
        kw: dict = {"control": control, "source": "cc", "number": take.number,
                    "index": index, "range": LIMITS[control][2]}
        mode = _encoder_mode(take.values)
        if mode is not None:
            kw["mode"] = mode
        elif take.lsb_seen and take.number < 32:
            kw["bits"] = 14
        if control == "seed":
            kw["takeover"] = "jump"
        return Binding(**kw)

    def _button(self, event: MidiEvent) -> Binding | None:
        control, index = self.target
        if isinstance(event, NoteOn):
            source, number = "note", event.note
        elif isinstance(event, ControlChange) and event.bits == 7 and event.value > 63:
            source, number = "cc", event.number
        elif isinstance(event, ProgramChange) and control == "preset":
            source, number = "program", event.program
        else:
            return None
        self.cancel()
        return Binding(control=control, source=source, number=number, index=index)


def _encoder_mode(values: list[int]) -> str | None:
    """A knob repeating one small step is an encoder: which encoding, if it is one."""
    if len(values) < 2 or len(set(values)) != 1:
        return None
    v = values[0]
    if v in (1, 2, 3, 125, 126, 127):
        return "relative-twos"
    if v in (61, 62, 63, 65, 66, 67):
        return "relative-offset"
    return None


def _block(mapping: Mapping, i: int, lines: list[str]) -> range:
    """Lines (0-based) of the i-th [[binding]] table, without trailing blanks and comments."""
    start = mapping.lines[("binding", i)]
    end = next((h for h in mapping.headers if h > start), len(lines) + 1) - 1
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return range(start - 1, end)


def _replaces(new: Binding, old: Binding) -> bool:
    if old.target == new.target:
        return True
    def numbers(b: Binding) -> set:
        return {b.number} | ({b.number + 32} if b.bits == 14 else set())
    same_source = old.source == new.source and (bool(numbers(old) & numbers(new)) or (
        new.source == "program" and None in (old.number, new.number)))
    return same_source and (old.channels is None or new.channels is None
                            or bool(old.channels & new.channels))


def learn_into(mapping: Mapping, binding: Binding) -> Mapping:
    """The mapping with `binding` appended and the bindings it replaces commented out."""
    lines = mapping.text.splitlines()
    for i, old in enumerate(mapping.bindings):
        if _replaces(binding, old):
            block = _block(mapping, i, lines)
            for n in block:
                lines[n] = (REPLACED if n == block.start else "# ") + lines[n]
    text = "\n".join(lines).rstrip("\n") + "\n\n# learned\n" + binding_to_toml(binding)
    return parse_mapping(text, mapping.path)


def write_mapping(mapping: Mapping, path: Path) -> None:
    """Write the mapping's text to `path` atomically (a crash leaves the old file or the new)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(mapping.text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
