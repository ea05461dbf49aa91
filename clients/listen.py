"""Listen to a presto-live engine from Python: the reference client of protocol 1.

    python -m clients.listen ws://127.0.0.1:8765/ws --out live.wav --seconds 30
    python -m clients.listen ws://127.0.0.1:8765/ws --seconds 10 \
        --set budget=0.5 --set "prompt=a slow chorale for strings" [--token T]
    python -m clients.listen ws://127.0.0.1:8765/ws --playback pause --seconds 1

It prints the hello, state changes, acks, errors and skips; writes the audio it receives
to a WAV file (received blocks only: a skipped stretch is missing, and reported); checks
that sample indices and sequence numbers are contiguous except where a `skip` message
announced the gap; and exits 0 (all contiguous), 1 (a protocol violation: printed) or 2
(could not connect, bad arguments). `--set key=value` values are JSON where they parse
(numbers, lists), strings otherwise; all of them go in one control message.

As a library (the tests and `python -m engine.bench stream` use it):

    client = await Listener.connect("ws://127.0.0.1:8765/ws")
    reply = await client.request({"type": "control", "set": {"budget": 0.5}})  # ack or error
    await client.wait_audio(seconds=2.0)
    client.continuity.violations          # [] when every gap was announced
    await client.close()

This module decodes the wire format on its own, written from docs/protocol.md, and
imports nothing from the engine: it checks the server against the document.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

HEADER = struct.Struct("<4sBBBBIQI")  # magic, version, channels, format, reserved, seq, sample, n
MAGIC = b"PRST"
FORMAT_DTYPES = {1: ("<f4", 1.0), 2: ("<i2", 32767.0)}


class ProtocolViolation(Exception):
    """The server sent something protocol 1 does not allow."""


@dataclass(frozen=True)
class AudioFrame:
    seq: int
    sample: int  # index of the first sample since the stream started
    frames: int
    channels: int
    fmt: int  # 1 f32le, 2 s16le
    pcm: np.ndarray  # (channels, frames) float32
    received: float  # time.monotonic() on arrival


def decode_frame(data: bytes, received: float = 0.0, samples: bool = True) -> AudioFrame:
    """One binary message -> AudioFrame; samples=False checks the header and length only
    (pcm is then an empty array: a listener that only counts saves the conversion)."""
    if len(data) < HEADER.size:
        raise ProtocolViolation(f"binary message of {len(data)} bytes: shorter than the header")
    magic, version, channels, fmt, reserved, seq, sample, frames = HEADER.unpack_from(data)
    if magic != MAGIC or version != 1:
        raise ProtocolViolation(f"bad audio header: magic {magic!r}, version {version}")
    if fmt not in FORMAT_DTYPES or channels < 1 or reserved != 0:
        raise ProtocolViolation(f"bad audio header: format {fmt}, channels {channels}, "
                                f"reserved {reserved}")
    dtype, scale = FORMAT_DTYPES[fmt]
    width = np.dtype(dtype).itemsize
    if len(data) != HEADER.size + frames * channels * width:
        raise ProtocolViolation(f"audio message of {len(data)} bytes for {frames} frames of "
                                f"{channels} x {width} bytes")
    if not samples:
        return AudioFrame(seq, sample, frames, channels, fmt, _NO_PCM, received)
    x = np.frombuffer(data, dtype=dtype, offset=HEADER.size).reshape(frames, channels)
    return AudioFrame(seq, sample, frames, channels, fmt, x.T.astype(np.float32) / scale,
                      received)


_NO_PCM = np.zeros((0, 0), dtype=np.float32)


@dataclass
class Continuity:
    """Audio must continue where it stopped, unless a skip message said where it resumes."""

    next_sample: int | None = None
    next_seq: int | None = None
    announced: int | None = None  # to_sample of the last skip, not yet reached
    blocks: int = 0
    frames: int = 0
    skips: int = 0
    skipped_frames: int = 0
    violations: list[str] = field(default_factory=list)

    def audio(self, f: AudioFrame) -> None:
        if self.next_sample is not None and f.sample != self.next_sample:
            if self.announced == f.sample:
                self.skipped_frames += f.sample - self.next_sample
            else:
                self.violations.append(f"block seq {f.seq} starts at sample {f.sample}, expected "
                                       f"{self.next_sample} (no skip announced)")
        elif (self.next_seq is not None and f.seq != self.next_seq
              and self.announced is None):
            self.violations.append(f"block seq {f.seq} after {self.next_seq - 1} with contiguous "
                                   "samples")
        self.announced = None
        self.next_sample = f.sample + f.frames
        self.next_seq = (f.seq + 1) & 0xFFFFFFFF
        self.blocks += 1
        self.frames += f.frames

    def skip(self, msg: dict) -> None:
        self.skips += 1
        if self.next_sample is not None and msg.get("from_sample") != self.next_sample:
            self.violations.append(f"skip from sample {msg.get('from_sample')} but the audio "
                                   f"stopped at {self.next_sample}")
        self.announced = msg.get("to_sample")


class Listener:
    """One protocol-1 connection; a reader task keeps up with the stream in the background."""

    def __init__(self, ws, hello: dict, keep_audio: bool = True) -> None:
        self.ws = ws
        self.hello = hello
        self.keep_audio = keep_audio
        self.state: dict | None = hello.get("state")
        self.states: list[dict] = []
        self.messages: list[dict] = []  # every JSON message after hello, in order
        self.audio: list[AudioFrame] = []  # when keep_audio
        self.continuity = Continuity()
        self.first_audio_at: float | None = None
        self.connected_at = time.monotonic()
        self.closed: tuple[int | None, str] | None = None
        self.on_audio = None  # optional callable(AudioFrame)
        self._ids = itertools.count(1)
        self._waiting: dict[object, asyncio.Future] = {}
        self._progress = asyncio.Event()
        self._reading = asyncio.Event()
        self._reading.set()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, fmt: str | None = None, keep_audio: bool = True,
                      recv_buffer: int | None = None, origin: str | None = None,
                      open_timeout: float = 10.0) -> Listener:
        from websockets.asyncio.client import connect

        if fmt is not None:
            url += ("&" if "?" in url else "?") + f"format={fmt}"
        kwargs = {}
        if recv_buffer is not None:  # a small receive buffer makes a stalled reader felt soon
            parts = urlsplit(url)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
            sock.connect((parts.hostname, parts.port or 80))
            kwargs["sock"] = sock
        if origin is not None:
            kwargs["origin"] = origin
        ws = await connect(url, compression=None, max_size=2**22, open_timeout=open_timeout,
                           max_queue=4 if recv_buffer else 16, **kwargs)
        first = await ws.recv()
        if not isinstance(first, str):
            raise ProtocolViolation("the first message must be the JSON hello")
        hello = json.loads(first)
        if hello.get("type") != "hello" or hello.get("protocol") != 1:
            raise ProtocolViolation(f"the first message must be a protocol-1 hello, got {hello}")
        return cls(ws, hello, keep_audio)

    # --- receiving --------------------------------------------------------------------------
    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await self._reading.wait()
                data = await self.ws.recv()
                self._handle(data)
        except ConnectionClosed as e:
            rcvd = e.rcvd
            self.closed = (rcvd.code if rcvd else None, rcvd.reason if rcvd else "")
        except ProtocolViolation as e:
            self.continuity.violations.append(str(e))
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"connection closed: {self.closed}"))
            self._progress.set()

    def _handle(self, data: bytes | str) -> None:
        now = time.monotonic()
        if isinstance(data, bytes):
            frame = decode_frame(data, now, self.keep_audio or self.on_audio is not None)
            if self.first_audio_at is None:
                self.first_audio_at = now
            self.continuity.audio(frame)
            if self.keep_audio:
                self.audio.append(frame)
            if self.on_audio is not None:
                self.on_audio(frame)
        else:
            msg = json.loads(data)
            kind = msg.get("type")
            if kind not in ("state", "ack", "error", "skip", "pong", "auth"):
                raise ProtocolViolation(f"unknown message type from the server: {kind!r}")
            self.messages.append(msg)
            if kind == "state":
                self.state = msg
                self.states.append(msg)
            elif kind == "skip":
                self.continuity.skip(msg)
            msg_id = msg.get("id")
            if kind in ("ack", "error", "pong", "auth") and msg_id in self._waiting:
                fut = self._waiting.pop(msg_id)
                if not fut.done():
                    fut.set_result(msg)
        self._progress.set()

    def stall(self) -> None:
        """Stop reading (a slow listener); the server's queue for it fills up."""
        self._reading.clear()

    def resume(self) -> None:
        self._reading.set()

    # --- sending ----------------------------------------------------------------------------
    async def send(self, msg: dict | str | bytes) -> None:
        await self.ws.send(msg if isinstance(msg, str | bytes) else json.dumps(msg))

    async def request(self, msg: dict, timeout: float = 10.0) -> dict:
        """Send msg with a fresh id (unless it has one) and wait for the reply to that id."""
        msg = dict(msg)
        msg.setdefault("id", f"c{next(self._ids)}")
        fut = asyncio.get_running_loop().create_future()
        self._waiting[msg["id"]] = fut
        await self.send(msg)
        return await asyncio.wait_for(fut, timeout)

    async def next_message(self, kind: str, after: int = 0, timeout: float = 10.0) -> dict:
        """The first JSON message of `kind` at index >= after in self.messages."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.messages[after:]:
                if msg.get("type") == kind:
                    return msg
            await self._wait_progress(deadline)

    async def wait_audio(self, seconds: float | None = None, until_sample: int | None = None,
                         timeout: float = 30.0) -> None:
        """Until `seconds` more audio arrived, or the stream reached `until_sample`."""
        rate = self.hello["sample_rate"]
        target = None if seconds is None else self.continuity.frames + int(seconds * rate)
        deadline = time.monotonic() + timeout
        while True:
            c = self.continuity
            if target is not None and c.frames >= target:
                return
            if until_sample is not None and c.next_sample is not None \
                    and c.next_sample >= until_sample:
                return
            await self._wait_progress(deadline)

    async def _wait_progress(self, deadline: float) -> None:
        if self._task.done():
            raise ConnectionError(f"the connection closed: {self.closed}")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing arrived in time")
        self._progress.clear()
        try:
            await asyncio.wait_for(self._progress.wait(), left)
        except TimeoutError:
            raise TimeoutError("nothing arrived in time") from None

    def pcm(self) -> np.ndarray:
        """(channels, n) all kept audio, in order (gaps not filled)."""
        if not self.audio:
            return np.zeros((self.hello["channels"], 0), dtype=np.float32)
        return np.concatenate([f.pcm for f in self.audio], axis=1)

    async def close(self) -> None:
        await self.ws.close()
        try:
            await asyncio.wait_for(self._task, 5)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()


# --- command line -------------------------------------------------------------------------
def parse_set(items: list[str]) -> dict:
    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set wants key=value, got {item!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


async def listen(args: argparse.Namespace) -> int:
    try:
        client = await Listener.connect(args.url, fmt=args.format)
    except (OSError, TimeoutError, ProtocolViolation, ValueError) as e:
        print(f"listen: cannot connect to {args.url}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - websockets' handshake errors: one line, no trace
        print(f"listen: cannot connect to {args.url}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    h = client.hello
    st = h.get("state") or {}
    print(f"hello: protocol {h['protocol']}, {h['sample_rate']} Hz x {h['channels']} "
          f"{h['format']}, model {h.get('model')} on {h.get('provider')}, control "
          f"{h.get('control')}, live sample {h.get('live_sample')}; prompt "
          f"{st.get('prompts')}, hop {st.get('hop_seconds', 0):.3f} s")
    writer = None
    if args.out is not None:
        import soundfile as sf

        writer = sf.SoundFile(args.out, "w", h["sample_rate"], h["channels"],
                              subtype="PCM_16" if args.format == "s16le" else "FLOAT")
        client.on_audio = lambda f: writer.write(f.pcm.T)
    client.keep_audio = False
    if args.token:
        print("auth:", await client.request({"type": "auth", "token": args.token}))
    for msg in build_messages(args):
        reply = await client.request(msg)
        print(f"{reply['type']}: {json.dumps({k: v for k, v in reply.items() if k != 'type'})}")
    printed = len(client.messages)
    t_end = time.monotonic() + args.seconds
    try:
        while time.monotonic() < t_end and not client._task.done():
            await asyncio.sleep(0.2)
            for msg in client.messages[printed:]:
                if msg["type"] == "state" and not args.quiet:
                    g = msg.get("governor") or {}
                    print(f"state: playing {msg.get('playing')}, hop {g.get('hop')}: "
                          f"{g.get('steps')} steps, budget {g.get('budget')}, "
                          f"{g.get('realtime')}x real time; underruns {msg.get('underruns')}")
                elif msg["type"] != "state":
                    print(f"{msg['type']}: {json.dumps(msg)}")
            printed = len(client.messages)
    finally:
        await client.close()
        if writer is not None:
            writer.close()
    c = client.continuity
    rate = h["sample_rate"]
    print(f"received {c.frames / rate:.2f} s in {c.blocks} blocks; skips {c.skips} "
          f"({c.skipped_frames / rate:.2f} s missed); first audio after "
          f"{(client.first_audio_at or float('nan')) - client.connected_at:.3f} s"
          + (f"; wrote {args.out}" if args.out else ""))
    if client.closed and client.closed[0] not in (1000, 1001, None):
        print(f"closed by the server: {client.closed}", file=sys.stderr)
    for v in c.violations:
        print(f"VIOLATION: {v}", file=sys.stderr)
    return 1 if c.violations else 0


def build_messages(args: argparse.Namespace) -> list[dict]:
    msgs = []
    if args.set:
        msg = {"type": "control", "set": parse_set(args.set)}
        if args.token:
            msg["token"] = args.token
        msgs.append(msg)
    if args.playback:
        msgs.append({"type": "playback", "action": args.playback})
    return msgs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.listen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", help="the engine's WebSocket, e.g. ws://127.0.0.1:8765/ws")
    p.add_argument("--out", default=None, help="WAV file for the received audio")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to listen")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a control setting (repeatable): prompt, prompts, budget, guidance, "
                        "seed, variation")
    p.add_argument("--playback", choices=["play", "pause", "reset"], default=None)
    p.add_argument("--token", default=None, help="control token, if the engine needs one")
    p.add_argument("--format", choices=["f32le", "s16le"], default="f32le")
    p.add_argument("--quiet", action="store_true", help="do not print state messages")
    args = p.parse_args(argv)
    try:
        build_messages(args)
    except ValueError as e:
        print(f"listen: {e}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(listen(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
