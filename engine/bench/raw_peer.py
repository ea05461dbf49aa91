"""A WebSocket client written by hand on a plain socket, for fault tests and the load bench.

    peer = RawPeer(port, rcvbuf=4096)        # the handshake, then nothing: a peer that never reads
    peer.read_into_audio(100); peer.reset()  # stop 100 bytes into an audio frame, TCP reset
    peer.send_frame(OP_TEXT, b"{...}", upto=5)   # half a frame of its own

It does what a real client library never does: stop reading, stop in the middle of a
frame, vanish without a close frame. Blocking I/O (run it in a thread beside asyncio).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct

import numpy as np

OP_TEXT, OP_BINARY, OP_CLOSE = 0x1, 0x2, 0x8


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
