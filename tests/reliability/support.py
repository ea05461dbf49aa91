"""Tools for the reliability tests: misbehaving peers on raw sockets, an engine process with
other limits, an event loop in a thread, a log of errors, silence in received audio.

    peer = RawPeer(port, rcvbuf=4096)        # a WebSocket handshake by hand, then anything
    peer.read_into_audio(100); peer.reset()  # stop 100 bytes into an audio frame, TCP reset
    with engine_process(["--model", d, "--hop", "0.2"], listener_queue_blocks=4) as proc: ...
    loop = LoopThread(); client = loop.run(Listener.connect(url))
    client = await TextClient(url).open(); replies = await client.exchange(text)
    with ErrorLog() as errors: ...; assert errors.lines() == []
    longest_silence(pcm)                     # (C, n) -> frames of the longest silent run
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from engine.bench.raw_peer import OP_BINARY, OP_CLOSE, OP_TEXT, RawPeer
from tests.server.support import ServerProcess, status

__all__ = ["OP_BINARY", "OP_CLOSE", "OP_TEXT", "ErrorLog", "LoopThread", "RawPeer",
           "TextClient", "engine_process", "longest_silence", "rss_mb", "wait_for"]

# `run_engine.py` with other ServerConfig defaults (the limits have no command-line flags,
# so the tests that need tight ones start the same entry point with the defaults replaced)
# and optionally a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: write() fails with EFBIG).
_WITH_LIMITS = """
import json, resource, signal, sys
import engine.server.config as config
limits, fsize = json.loads({limits!r}), {fsize!r}
if fsize is not None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
Base = config.ServerConfig
config.ServerConfig = lambda **kw: Base(**{{**limits, **kw}})
import run_engine
sys.exit(run_engine.main(sys.argv[1:]))
"""


def engine_process(args: list[str], file_size_limit: int | None = None,
                   **limits) -> ServerProcess:
    """`python run_engine.py ARGS --port 0 --threads 1` whose ServerConfig has `limits`, and
    whose files cannot grow beyond `file_size_limit` bytes."""
    if not limits and file_size_limit is None:
        return ServerProcess(args)
    return ServerProcess(args, code=_WITH_LIMITS.format(limits=json.dumps(limits),
                                                        fsize=file_size_limit))


class TextClient:
    """A protocol-1 connection that reads everything (audio too) in the background and
    pairs what the server answered with a ping sent after each message. Unlike
    clients.listen it accepts every message type (midi, midi_out) and any payload."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.replies: list[dict] = []  # every JSON message, in order
        self.closed: int | None = None
        self.ids = itertools.count()
        self.sent = 0

    async def open(self) -> TextClient:
        self.ws = await connect(self.url, compression=None, max_size=2**22)
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, str):
                    self.replies.append(json.loads(message))
        except ConnectionClosed:
            pass
        finally:
            self.closed = self.ws.close_code

    async def exchange(self, payload: str | bytes) -> list[dict]:
        """Send payload, then a ping; the replies up to that ping's pong. A connection the
        server closed fails this call and is opened again for the next one."""
        if self.task.done():
            await self.open()
        mark, tag = len(self.replies), f"ping-{next(self.ids)}"
        await self.ws.send(payload)
        await self.ws.send(json.dumps({"type": "ping", "id": tag}))
        self.sent += 1
        for _ in range(4000):
            for i, reply in enumerate(self.replies[mark:], mark):
                if reply.get("type") == "pong" and reply.get("id") == tag:
                    return self.replies[mark:i]
            if self.task.done():
                raise AssertionError(f"the server closed the connection ({self.closed}) after "
                                     f"{payload[:200]!r}")
            await asyncio.sleep(0.005)
        raise AssertionError(f"no pong after {payload[:200]!r}")

    async def until(self, predicate, timeout: float = 10.0) -> dict:
        """The first reply (from now on, or already here) that satisfies predicate."""
        for _ in range(int(timeout / 0.005)):
            for reply in self.replies:
                if predicate(reply):
                    return reply
            await asyncio.sleep(0.005)
        raise AssertionError("no such reply")

    async def close(self) -> None:
        await self.ws.close()
        await self.task


class LoopThread:
    """An asyncio loop in a thread, so synchronous code (hypothesis tests) can drive
    protocol-1 clients that keep reading in the background between examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class ErrorLog(logging.Handler):
    """While entered: every log record at ERROR or above, and every one with a traceback,
    from any logger of this process (the server's, the engine's, websockets')."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def lines(self) -> list[str]:
        return [f"{r.name} {r.levelname}: {r.getMessage()}" for r in self.records]

    def __enter__(self) -> ErrorLog:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)


def longest_silence(pcm: np.ndarray, floor: float = 1e-6) -> int:
    """(C, n) audio -> frames in its longest run where every channel stays within +-floor
    (decoded music is never that quiet for long; the engine's silence is exact zeros)."""
    quiet = np.all(np.abs(pcm) <= floor, axis=0).astype(np.int8)  # (n,)
    if not quiet.any():
        return 0
    edges = np.diff(np.concatenate([[0], quiet, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def rss_mb(http: str) -> float:
    return status(http)["rss_bytes"] / 1e6


def wait_for(predicate, timeout: float = 20.0, every: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(every)
