"""Pick-up (takeover) for absolute knobs: no jump when a knob and the value disagree.

    p = Pickup()
    p.move(0.9, target=0.3)    # False: the knob is far from the value; nothing changes
    p.move(0.4, target=0.3)    # False: closer, still not there
    p.move(0.25, target=0.3)   # True: it crossed the value, so from now on it drives it
    p.release()                # the value changed elsewhere (page, preset): wait again

Positions and targets are knob positions in [0, 1] (the target is the current value mapped
back through the binding's curve and range). A knob engages when it comes within `tolerance`
of the target or crosses it between two messages; with no known value it engages at once.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1.5 / 127  # within about one 7-bit step counts as "there"


@dataclass
class Pickup:
    tolerance: float = TOLERANCE
    engaged: bool = False
    last: float | None = None  # the knob position seen last, 0..1

    def move(self, position: float, target: float | None) -> bool:
        """The knob moved to `position`; True when it now drives the value."""
        if not self.engaged:
            crossed = self.last is not None and target is not None and (
                (self.last - target) * (position - target) < 0)
            if target is None or abs(position - target) <= self.tolerance or crossed:
                self.engaged = True
        self.last = position
        return self.engaged

    def release(self) -> None:
        """The value changed by other means: the knob must reach it again."""
        self.engaged = False
