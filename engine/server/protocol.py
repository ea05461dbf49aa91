"""Wire protocol 1 (docs/protocol.md): audio frame header, JSON messages, error and close codes.

    data = encode_audio(seq=7, start=88064, pcm=block, fmt=F32LE)    # bytes: header + PCM
    header = decode_header(data)                                     # AudioHeader
    msg = parse_client_text(text)              # dict with a known type, or ProtocolError
    text = dump({"type": "ack", ...})

No I/O: the server (engine.server.app) and the tests use these; the Python client
(clients/listen.py) decodes independently, from the document, as a check on both.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np

PROTOCOL = 1
MAGIC = b"PRST"
HEADER = struct.Struct("<4sBBBBIQI")  # magic, version, channels, format, 0, seq, sample, frames
F32LE, S16LE = 1, 2
FORMATS = {"f32le": F32LE, "s16le": S16LE}

# Close codes (RFC 6455 and the 4000-4999 private range)
CLOSE_GOING_AWAY = 1001  # the server is shutting down
CLOSE_POLICY = 1008  # flooding, too many failed auth attempts, not reading its replies
CLOSE_TOO_BIG = 1009  # a message over the size limit (sent by the websockets library)
CLOSE_INTERNAL = 1011
CLOSE_TOO_SLOW = 4001  # the listener kept falling behind the live edge (skipped too often)

# Error codes of {"type": "error", "code": ...}
ERROR_CODES = (
    "bad_json",  # not JSON
    "bad_message",  # JSON, but not an object with a string "type"
    "unknown_type",  # a type the server does not know
    "unknown_field",  # a key the message type does not have
    "bad_value",  # a value of the wrong type, out of range or too long
    "unauthorized",  # control needs the token (auth message or "token" field)
    "binary_not_accepted",  # clients send JSON text only
    "rate_limited",  # over the message rate: this message was dropped
    "busy",  # too many controls waiting for the next hop
    "failed",  # the engine could not apply it (the stream goes on)
    "stopping",  # the server is shutting down
    "no_midi",  # midi_learn, but the engine runs without MIDI input
)

CLIENT_TYPES = {  # type -> allowed keys
    "control": {"type", "id", "set", "token"},
    "playback": {"type", "id", "action", "token"},
    "auth": {"type", "id", "token"},
    "ping": {"type", "id"},
    "midi": {"type", "id", "messages", "token"},  # Web MIDI pass-through (engine.server.web_midi)
    "midi_learn": {"type", "id", "control", "index", "cancel", "token"},  # docs/midi.md
}
MAX_ID_CHARS = 64
MAX_TOKEN_CHARS = 256


class ProtocolError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None,
                 msg_id: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.msg_id = msg_id


@dataclass(frozen=True)
class AudioHeader:
    magic: bytes
    version: int
    channels: int
    fmt: int
    reserved: int
    seq: int
    sample: int  # index of the block's first sample since the stream started
    frames: int


def encode_audio(seq: int, start: int, pcm: np.ndarray, fmt: int = F32LE) -> bytes:
    """(C, n) float32 PCM -> one binary message: the 24-byte header then interleaved samples."""
    channels, n = pcm.shape
    header = HEADER.pack(MAGIC, PROTOCOL, channels, fmt, 0, seq & 0xFFFFFFFF, start, n)
    interleaved = pcm.T  # (n, C)
    if fmt == F32LE:
        body = np.ascontiguousarray(interleaved, dtype="<f4").tobytes()
    elif fmt == S16LE:
        body = np.round(np.clip(interleaved, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    else:
        raise ValueError(f"unknown sample format {fmt}")
    return header + body


def decode_header(data: bytes) -> AudioHeader:
    if len(data) < HEADER.size:
        raise ValueError(f"an audio message has a {HEADER.size}-byte header, got {len(data)} "
                         "bytes")
    return AudioHeader(*HEADER.unpack_from(data))


def decode_audio(data: bytes) -> tuple[AudioHeader, np.ndarray]:
    """One binary message -> (header, (C, n) float32 PCM)."""
    h = decode_header(data)
    body = data[HEADER.size:]
    dtype = {F32LE: "<f4", S16LE: "<i2"}[h.fmt]
    x = np.frombuffer(body, dtype=dtype).reshape(h.frames, h.channels).T
    pcm = x.astype(np.float32) / (32767.0 if h.fmt == S16LE else 1.0)
    return h, pcm


def dump(msg: dict) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)


def error_message(code: str, message: str, field: str | None = None,
                  msg_id: object = None) -> dict:
    out = {"type": "error", "code": code, "message": message}
    if field is not None:
        out["field"] = field
    if msg_id is not None:
        out["id"] = msg_id
    return out


def _check_id(msg: dict) -> object:
    msg_id = msg.get("id")
    if msg_id is None:
        return None
    if isinstance(msg_id, bool) or not isinstance(msg_id, int | str):
        raise ProtocolError("bad_value", "id must be a string or an integer", "id")
    if isinstance(msg_id, str) and len(msg_id) > MAX_ID_CHARS:
        raise ProtocolError("bad_value", f"id is longer than {MAX_ID_CHARS} characters", "id")
    if isinstance(msg_id, int) and abs(msg_id) > 2**53:
        raise ProtocolError("bad_value", "id must be an integer within +-2**53", "id")
    return msg_id


def _reject_constants(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_client_text(text: str) -> dict:
    """A client's text message -> its JSON object, checked for type, keys and id.

    Raises ProtocolError(code, message) for anything malformed; the values of `set` and
    `action` are checked by engine.stream.controls.
    """
    try:
        msg = json.loads(text, parse_constant=_reject_constants)
    except (ValueError, RecursionError) as error:
        raise ProtocolError("bad_json", f"the message is not valid JSON ({error}); send one "
                            "JSON object per text message") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", "send a JSON object with a string \"type\", e.g. "
                            "{\"type\": \"control\", \"set\": {\"budget\": 0.5}}")
    kind = msg["type"]
    if kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}; known: "
                            f"{', '.join(CLIENT_TYPES)}", "type")
    msg_id = _check_id(msg)
    extra = sorted(set(msg) - CLIENT_TYPES[kind])
    if extra:
        raise ProtocolError("unknown_field", f"{kind} messages have no field {extra[0][:40]!r}; "
                            f"allowed: {', '.join(sorted(CLIENT_TYPES[kind]))}", extra[0][:40],
                            msg_id)
    token = msg.get("token")
    if token is not None and (not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS):
        raise ProtocolError("bad_value", f"token must be a string of at most {MAX_TOKEN_CHARS} "
                            "characters", "token", msg_id)
    if kind == "auth" and token is None:
        raise ProtocolError("bad_value", "auth needs a \"token\"", "token", msg_id)
    return msg


def finite_json(value: object) -> object:
    """Replace non-finite floats (not representable in JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
