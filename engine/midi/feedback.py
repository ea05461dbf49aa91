"""Controller feedback: what to send back so LEDs, rings and motorised faders follow.

    fb = Feedback()
    fb.heard(binding_id, channel=0, raw=64)            # the controller sent this itself
    fb.value(binding_id, binding, 0.25)                  # -> [[0xB0, 1, 32]] (or [] if already so)
    fb.lamp(binding_id, binding, on=True)                # -> [[0x90, 36, 127]]

A knob's value goes back as the CC position that gives it (through the binding's curve and
range, 7 or 14 bits); buttons and pads get a lamp: note-on velocity 127 / 0, or CC 127 / 0.
Nothing is sent that the controller already shows (the last value it sent us, or the last value
we sent it). An omni binding answers on the channel the controller used last (channel 1
until it has spoken); a channel-filtered one on its lowest channel. Program-change bindings
have nothing to show. The messages are returned, not sent: the MIDI input's drain thread sends
them, so one thread owns the output port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.midi.curves import invert_curve
from engine.midi.mapping import Binding
from engine.midi.messages import encode_cc


def knob_position(b: Binding, value: float) -> float:
    """The knob position in [0, 1] at which binding `b` gives `value`."""
    lo, hi = b.range
    return invert_curve(b.curve, (value - lo) / (hi - lo), b.shape)


@dataclass
class Feedback:
    _shown: dict[int, int] = field(default_factory=dict)  # binding id -> raw value it shows
    _channel: dict[int, int] = field(default_factory=dict)  # binding id -> channel last used

    def heard(self, bid: int, channel: int, raw: int | None = None) -> None:
        """The controller spoke on binding `bid`; a knob's `raw` (7 or 14 bit) is what it shows."""
        if raw is not None:
            self._shown[bid] = raw
        self._channel[bid] = channel

    def forget(self) -> None:
        """The output port (re)connected: the controller shows nothing we know of."""
        self._shown.clear()

    def channel(self, bid: int, b: Binding) -> int:
        if b.channels is not None:
            return min(b.channels)
        return self._channel.get(bid, 0)

    def value(self, bid: int, b: Binding, value: float) -> list[list[int]]:
        """Messages that show a knob binding's `value`; [] when already shown."""
        if b.source != "cc":
            return []
        full = (1 << b.bits) - 1
        raw = round(knob_position(b, value) * full)
        if self._shown.get(bid) == raw:
            return []
        self._shown[bid] = raw
        return encode_cc(self.channel(bid, b), b.number, raw, b.bits)

    def lamp(self, bid: int, b: Binding, on: bool) -> list[list[int]]:
        """Messages that light (or darken) a button or pad; [] when already so."""
        raw = 127 if on else 0
        if b.source == "program" or self._shown.get(bid) == raw:
            return []
        self._shown[bid] = raw
        ch = self.channel(bid, b)
        if b.source == "note":
            return [[0x90 | ch, b.number, raw]]
        return [[0xB0 | ch, b.number, raw]]
