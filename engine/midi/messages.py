"""Raw MIDI bytes -> typed events, with everything we do not use counted, never raised.

    parser = MessageParser(fourteen_bit={1})   # CC 1 (MSB) + CC 33 (LSB) form one 14-bit CC
    parser.parse([0xB0, 1, 64])     # ControlChange(channel=0, number=1, value=8192, bits=14)
    parser.parse([0xF0, 0x7E, 0xF7])           # None; parser.counts.sysex == 1

rtmidi hands over one complete message per call (running status already expanded), so a
message is a short list of ints. Channels are 0-based here (0..15); the mapping file and the
docs speak 1..16 as musicians do.

14-bit CC pairs (MIDI 1.0): CC n (0..31) carries the 7 most significant bits, CC n + 32 the 7
least significant. Receiving the MSB resets the LSB to 0 (as the specification says), so an
MSB alone yields msb << 7 and the following LSB refines it; the drain coalesces the two.

Relative encoders send a signed step instead of a position. Three encodings are in use:
`twos` (two's complement: 1..63 up, 127..64 = -1..-64), `offset` (binary offset: 64 is zero,
65 = +1, 63 = -1) and `sign` (sign and magnitude: 1..63 up, 65..127 = -1..-63).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

RELATIVE_MODES = ("twos", "offset", "sign")


@dataclass(frozen=True, slots=True)
class ControlChange:
    channel: int  # 0..15
    number: int  # 0..127 (for a 14-bit pair: the MSB number, 0..31)
    value: int  # 0..127, or 0..16383 when bits == 14
    bits: int = 7


@dataclass(frozen=True, slots=True)
class NoteOn:
    channel: int
    note: int
    velocity: int  # 1..127 (a note-on with velocity 0 is parsed as NoteOff)


@dataclass(frozen=True, slots=True)
class NoteOff:
    channel: int
    note: int
    velocity: int


@dataclass(frozen=True, slots=True)
class ProgramChange:
    channel: int
    program: int  # 0..127


MidiEvent = ControlChange | NoteOn | NoteOff | ProgramChange


@dataclass
class MessageCounts:
    """What arrived, by fate. Every field only grows."""

    received: int = 0  # every message handed to parse()
    parsed: int = 0  # turned into an event
    sysex: int = 0  # 0xF0 ... 0xF7: ignored
    system: int = 0  # other system common / real-time messages (clock, start, ...): ignored
    unsupported: int = 0  # channel messages we do not map (aftertouch, pitch bend): ignored
    malformed: int = 0  # empty, wrong length, data byte where a status byte belongs: ignored

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class MessageParser:
    """Parses rtmidi messages; `fourteen_bit` holds the MSB numbers (0..31) read as pairs.

    Not thread-safe: one parser per drain thread (it keeps the pairs' MSB state).
    """

    fourteen_bit: frozenset[int] = frozenset()
    counts: MessageCounts = field(default_factory=MessageCounts)
    _msb: dict[tuple[int, int], int] = field(default_factory=dict)  # (channel, n) -> MSB

    def __post_init__(self) -> None:
        self.set_fourteen_bit(self.fourteen_bit)

    def set_fourteen_bit(self, numbers: Iterable[int]) -> None:
        numbers = frozenset(numbers)
        bad = sorted(n for n in numbers if not 0 <= n <= 31)
        if bad:
            raise ValueError(f"14-bit CC pairs need an MSB number in 0..31, got {bad}")
        self.fourteen_bit = numbers
        self._msb = {key: v for key, v in self._msb.items() if key[1] in numbers}

    def parse(self, message: Sequence[int]) -> MidiEvent | None:
        """One complete MIDI message -> an event, or None (counted) for anything else."""
        self.counts.received += 1
        if not message or not 0x80 <= message[0] <= 0xFF:
            self.counts.malformed += 1
            return None
        status = message[0]
        if status >= 0xF0:
            if status == 0xF0:
                self.counts.sysex += 1
            else:
                self.counts.system += 1
            return None
        kind, channel = status & 0xF0, status & 0x0F
        size = 2 if kind in (0xC0, 0xD0) else 3
        if len(message) != size or any(not 0 <= b <= 0x7F for b in message[1:]):
            self.counts.malformed += 1
            return None
        event = self._channel_event(kind, channel, message)
        if event is None:
            self.counts.unsupported += 1
        else:
            self.counts.parsed += 1
        return event

    def _channel_event(self, kind: int, channel: int, m: Sequence[int]) -> MidiEvent | None:
        if kind == 0x90:
            return NoteOn(channel, m[1], m[2]) if m[2] else NoteOff(channel, m[1], 0)
        if kind == 0x80:
            return NoteOff(channel, m[1], m[2])
        if kind == 0xC0:
            return ProgramChange(channel, m[1])
        if kind == 0xB0:
            return self._control_change(channel, m[1], m[2])
        return None  # 0xA0 poly aftertouch, 0xD0 channel pressure, 0xE0 pitch bend

    def _control_change(self, channel: int, number: int, value: int) -> ControlChange:
        if number in self.fourteen_bit:
            self._msb[(channel, number)] = value
            return ControlChange(channel, number, value << 7, bits=14)
        msb_number = number - 32
        if msb_number in self.fourteen_bit:
            msb = self._msb.get((channel, msb_number), 0)
            return ControlChange(channel, msb_number, (msb << 7) | value, bits=14)
        return ControlChange(channel, number, value)


def relative_delta(value: int, mode: str) -> int:
    """A relative encoder's 7-bit value -> signed step (see the module docstring)."""
    if mode == "twos":
        return value - 128 if value >= 64 else value
    if mode == "offset":
        return value - 64
    if mode == "sign":
        return -(value & 0x3F) if value & 0x40 else value
    raise ValueError(f"relative mode must be one of {', '.join(RELATIVE_MODES)}, got {mode!r}")


def encode_cc(channel: int, number: int, value: int, bits: int = 7) -> list[list[int]]:
    """The message(s) that send `value` on CC `number`: one, or MSB then LSB for 14 bits."""
    if bits == 14:
        return [[0xB0 | channel, number, value >> 7], [0xB0 | channel, number + 32, value & 0x7F]]
    return [[0xB0 | channel, number, value]]
