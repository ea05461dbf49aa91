"""Per-connection message rate limit: a token bucket, and a flood verdict. No I/O.

    limit = RateLimit(rate=20, burst=40, flood=100)
    verdict = limit.take(now)     # "ok" | "limited" (reply rate_limited) | "flood" (close 1008)

A client may send `burst` messages at once and `rate` per second on average. Past that
each message is dropped with an error; a client that keeps sending while limited
(`flood` messages dropped within `window` seconds) is closed with 1008.
"""

from __future__ import annotations

import collections


class RateLimit:
    def __init__(self, rate: float = 20.0, burst: int = 40, flood: int = 100,
                 window: float = 10.0) -> None:
        if rate <= 0 or burst < 1 or flood < 1:
            raise ValueError(f"need rate > 0, burst >= 1, flood >= 1; got {rate}, {burst}, "
                             f"{flood}")
        self.rate, self.burst, self.flood, self.window = rate, burst, flood, window
        self.tokens = float(burst)
        self.last: float | None = None
        self.dropped: collections.deque[float] = collections.deque()

    def take(self, now: float) -> str:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return "ok"
        self.dropped.append(now)
        while self.dropped and now - self.dropped[0] > self.window:
            self.dropped.popleft()
        return "flood" if len(self.dropped) >= self.flood else "limited"
