"""The stream clock: which audio blocks are due at a given time. No I/O, no sleeping.

    clock = StreamClock(sample_rate=44100, block=4096)
    clock.start(now)                    # anchor: block 0 is due at once
    for _ in range(clock.due(now)):     # blocks due by `now` (catch-up after a stall included)
        send(ring.read(4096)); clock.sent += 1
    sleep(clock.next_in(now))

Block j after start is due at t0 + j * block / sample_rate: the stream leaves the server
in real time. After a stall longer than `max_lag` (the process was stopped, the machine
swapped), the clock re-anchors instead of bursting seconds of audio out, and counts a slip.
"""

from __future__ import annotations

import math


class StreamClock:
    def __init__(self, sample_rate: int, block: int, max_lag: float = 1.0) -> None:
        if sample_rate <= 0 or block <= 0:
            raise ValueError(f"need sample_rate, block > 0, got {sample_rate}, {block}")
        self.period = block / sample_rate  # seconds per block
        self.max_lag_blocks = max(1, math.ceil(max_lag / self.period))
        self.running = False
        self.t0 = 0.0
        self.sent = 0  # blocks sent since start
        self.slips = 0

    def start(self, now: float) -> None:
        self.running, self.t0, self.sent = True, now, 0

    def stop(self) -> None:
        self.running = False

    def due(self, now: float) -> int:
        """Blocks due by `now` and not yet sent (0 when stopped)."""
        if not self.running:
            return 0
        n = math.floor((now - self.t0) / self.period + 1e-9) + 1 - self.sent
        if n > self.max_lag_blocks:  # stalled: re-anchor rather than burst
            self.slips += 1
            self.t0 = now - self.sent * self.period
            n = 1
        return max(0, n)

    def next_in(self, now: float) -> float:
        """Seconds until the next block is due (0 if it already is)."""
        return max(0.0, self.t0 + self.sent * self.period - now)
