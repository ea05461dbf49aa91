"""The PCM ring: generated audio waiting to be sent, between the engine and the clock.

    ring = PcmRing(channels=1, capacity=352800, fade=1323)
    start = ring.write(pcm)                       # engine thread: (C, n) after each hop
    start, block = ring.read(4096)                # clock: (C, 4096), silence-padded if short
    ring.underruns, ring.overruns                 # counted, never raised

Positions are absolute sample indices since the stream started (per channel):
`read_pos` is the live edge (next sample to send), `write_pos` the next sample the engine
writes. An underrun (the clock needs audio the engine has not written) returns what there
is plus silence, fades the edges, and moves `write_pos` past the silence, so sample
indices stay the stream's timeline. An overrun (more written than fits) drops the oldest
unsent audio. A read with `short_ok` (paused, draining) returns only what there is.
Thread-safe: one lock around every position change.
"""

from __future__ import annotations

import threading

import numpy as np

from engine.stream.crossfade import fade_in, fade_out


class PcmRing:
    def __init__(self, channels: int, capacity: int, fade: int = 0) -> None:
        if channels < 1 or capacity < 1:
            raise ValueError(f"a PCM ring needs channels, capacity >= 1, got {channels}, "
                             f"{capacity}")
        self.buf = np.zeros((channels, capacity), dtype=np.float32)  # (C, N)
        self.fade = fade  # samples faded at underrun edges
        self.read_pos = 0
        self.write_pos = 0
        self.underruns = 0  # reads that came up short while the stream was running
        self.underrun_samples = 0  # silence inserted by them
        self.overruns = 0  # writes that did not fit
        self.overrun_samples = 0  # unsent audio dropped by them
        self._fade_in_next = False  # the next audio read follows an underrun's silence
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self.buf.shape[1]

    @property
    def channels(self) -> int:
        return self.buf.shape[0]

    @property
    def fill(self) -> int:
        """Samples written and not yet read."""
        return self.write_pos - self.read_pos

    def free(self) -> int:
        return self.capacity - self.fill

    def _copy_in(self, pos: int, pcm: np.ndarray) -> None:
        n, cap = pcm.shape[1], self.capacity
        i = pos % cap
        first = min(n, cap - i)
        self.buf[:, i:i + first] = pcm[:, :first]
        self.buf[:, : n - first] = pcm[:, first:]

    def _copy_out(self, pos: int, n: int, out: np.ndarray) -> None:
        cap = self.capacity
        i = pos % cap
        first = min(n, cap - i)
        out[:, :first] = self.buf[:, i:i + first]
        out[:, first:n] = self.buf[:, : n - first]

    def write(self, pcm: np.ndarray) -> int:
        """Append (C, n) float32 audio; returns its first sample index. Counts an overrun
        (dropping the oldest unsent audio) when it does not fit."""
        c, n = pcm.shape
        if c != self.channels:
            raise ValueError(f"expected ({self.channels}, n) audio, got {pcm.shape}")
        if n > self.capacity:  # keep only what fits: the newest audio
            pcm, n = pcm[:, n - self.capacity:], self.capacity
        with self._lock:
            excess = self.fill + n - self.capacity
            if excess > 0:
                self.overruns += 1
                self.overrun_samples += excess
                self.read_pos += excess
            start = self.write_pos
            self._copy_in(start, pcm)
            self.write_pos += n
            return start

    def read(self, n: int, short_ok: bool = False) -> tuple[int, np.ndarray]:
        """(first sample index, (C, m) audio) for the next n samples; advances the live edge.

        m = n, silence-padded on an underrun (counted); with short_ok, m = min(n, fill)
        and nothing is counted.
        """
        with self._lock:
            start, have = self.read_pos, min(n, self.fill)
            m = have if short_ok else n
            out = np.zeros((self.channels, m), dtype=np.float32)
            self._copy_out(start, have, out)
            if have and self._fade_in_next:
                fade_in(out[:, :have], self.fade)
                self._fade_in_next = False
            if have < m:  # underrun: the engine fell behind the clock
                fade_out(out[:, :have], self.fade)
                self.underruns += 1
                self.underrun_samples += m - have
                self.write_pos = start + m  # the silence is part of the timeline
                self._fade_in_next = True
            self.read_pos = start + m
            return start, out

    def truncate(self, keep: int) -> int:
        """Drop unsent audio beyond the next `keep` samples, fading those out (pause).
        Returns the new write position: the first sample index of the silence."""
        with self._lock:
            keep = min(keep, self.fill)
            self.write_pos = self.read_pos + keep
            if keep:
                tail = np.zeros((self.channels, keep), dtype=np.float32)
                self._copy_out(self.read_pos, keep, tail)
                fade_out(tail, keep)
                self._copy_in(self.read_pos, tail)
            return self.write_pos

    def rewind(self, pos: int) -> int:
        """Drop unsent audio from sample index `pos` on (never before the live edge), with
        no fade: the caller writes the continuation. Returns the new write position."""
        with self._lock:
            self.write_pos = max(self.read_pos, min(self.write_pos, pos))
            return self.write_pos

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {"underruns": self.underruns, "underrun_samples": self.underrun_samples,
                    "overruns": self.overruns, "overrun_samples": self.overrun_samples,
                    "read_pos": self.read_pos, "write_pos": self.write_pos}
