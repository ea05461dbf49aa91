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
import base64
import itertools
import json
import logging
import os
import socket
import struct
import threading
import time

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.server.support import ServerProcess, status

__all__ = ["ErrorLog", "LoopThread", "RawPeer", "TextClient", "engine_process",
           "longest_silence", "rss_mb", "wait_for"]

OP_TEXT, OP_BINARY, OP_CLOSE = 0x1, 0x2, 0x8

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


class RawPeer:
    """A WebSocket client written by hand on a plain socket, so that it can do what a real
    client library never does: stop reading, stop in the middle of a frame, vanish without
    a close frame (TCP reset)."""

    def __init__(self, port: int, rcvbuf: int | None = None, path: str = "/ws",
                 origin: str | None = None, host: str | None = None,
                 timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}",
                 "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.head = self._read_until(b"\r\n\r\n")
        self.status = int(self.head.split(b" ", 2)[1])

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._recv()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            self._recv()

    def _header(self) -> tuple[int, int]:
        """Consume one frame header -> (opcode, payload length)."""
        self._need(2)
        n, at = self.buf[1] & 0x7F, 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        opcode = self.buf[0] & 0x0F
        self.buf = self.buf[at:]
        return opcode, n

    def read_frame(self) -> tuple[int, bytes]:
        opcode, n = self._header()
        self._need(n)
        payload, self.buf = self.buf[:n], self.buf[n:]
        return opcode, payload

    def read_text(self) -> dict:
        while True:
            opcode, payload = self.read_frame()
            if opcode == OP_TEXT:
                return json.loads(payload)

    def read_into_audio(self, part: int) -> None:
        """Read whole frames up to the next audio frame, then only `part` bytes of it."""
        while True:
            opcode, n = self._header()
            if opcode == OP_BINARY:
                self._need(min(part, n))
                return
            self._need(n)
            self.buf = self.buf[n:]

    def send_frame(self, opcode: int, payload: bytes, upto: int | None = None) -> None:
        """A masked client frame; with `upto`, only its first `upto` bytes go out."""
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = (np.frombuffer(payload, np.uint8)
                ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        data = head + mask + body
        self.sock.sendall(data if upto is None else data[:upto])

    def reset(self) -> None:
        """Vanish: close with SO_LINGER 0, so the server gets a TCP reset, no close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


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
