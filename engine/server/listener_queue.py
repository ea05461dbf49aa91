"""One listener's outgoing queue: bounded, skips a slow listener forward. No I/O.

    q = ListenerQueue(max_audio=32, max_text=256)
    verdict = q.put_audio(block)          # "ok" | "skipped" | "close"
    q.put_text('{"type": "state", ...}')  # False: the listener is not reading at all
    item = q.pop()                        # AudioBlock or str, in order; None when empty

Broadcast has no back-pressure (one slow socket must not hold back the others), so each
listener gets its own bounded queue and the broadcaster never waits. When a listener's
queued audio reaches max_audio blocks, the queued audio is dropped, a `skip` message
says which samples it misses, and the new block follows: the listener is back at the
live edge. Text messages (acks, state, errors) are never dropped; a listener with
max_text of them unsent is not reading and gets closed (1008), as does one that needed
max_skips skips within skip_window seconds (4001).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from engine.server.protocol import F32LE, S16LE, dump, encode_audio


@dataclass
class AudioBlock:
    """One block of the stream, encoded at most once per format for all listeners."""

    seq: int
    start: int  # first sample index
    pcm: np.ndarray  # (C, n) float32
    _encoded: dict[int, bytes] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return self.pcm.shape[1]

    def data(self, fmt: int = F32LE) -> bytes:
        if fmt not in self._encoded:
            self._encoded[fmt] = encode_audio(self.seq, self.start, self.pcm, fmt)
        return self._encoded[fmt]


class ListenerQueue:
    def __init__(self, max_audio: int = 32, max_text: int = 256, max_skips: int = 3,
                 skip_window: float = 30.0, fmt: int = F32LE) -> None:
        if max_audio < 1:
            raise ValueError(f"max_audio must be >= 1, got {max_audio}")
        self.max_audio, self.max_text = max_audio, max_text
        self.max_skips, self.skip_window = max_skips, skip_window
        self.fmt = fmt if fmt in (F32LE, S16LE) else F32LE
        self.items: collections.deque[AudioBlock | str] = collections.deque()
        self.audio = 0  # audio blocks queued
        self.text = 0  # text messages queued
        self.skips = 0  # skips so far
        self.skipped_frames = 0
        self._skip_times: collections.deque[float] = collections.deque()

    def __len__(self) -> int:
        return len(self.items)

    def put_audio(self, block: AudioBlock, now: float = 0.0) -> str:
        verdict = "ok"
        if self.audio >= self.max_audio:
            dropped = [b for b in self.items if isinstance(b, AudioBlock)]
            self.items = collections.deque(b for b in self.items if not isinstance(b, AudioBlock))
            self.audio = 0
            frames = block.start - dropped[0].start
            self.skips += 1
            self.skipped_frames += frames
            self.items.append(dump({"type": "skip", "from_sample": dropped[0].start,
                                    "to_sample": block.start, "frames": frames,
                                    "skips": self.skips,
                                    "reason": "this listener fell behind the live edge"}))
            self.text += 1
            self._skip_times.append(now)
            while self._skip_times and now - self._skip_times[0] > self.skip_window:
                self._skip_times.popleft()
            verdict = "close" if len(self._skip_times) >= self.max_skips else "skipped"
        self.items.append(block)
        self.audio += 1
        return verdict

    def put_text(self, text: str) -> bool:
        """Queue a JSON message; False if max_text are already waiting (close the listener)."""
        if self.text >= self.max_text:
            return False
        self.items.append(text)
        self.text += 1
        return True

    def pop(self) -> bytes | str | None:
        """The next message to send: bytes (audio in this listener's format) or str."""
        if not self.items:
            return None
        item = self.items.popleft()
        if isinstance(item, AudioBlock):
            self.audio -= 1
            return item.data(self.fmt)
        self.text -= 1
        return item
