"""EngineServer: the asyncio side. It moves bytes; the engine thread makes them.

    server = EngineServer(engine, ServerConfig(port=8765), recorder=None)
    await server.run(stop_event)      # starts the engine thread, serves until stop is set

One port, three things (websockets answers plain HTTP through process_request):
    GET /          clients/web (static files)
    GET /status    JSON: listeners, underruns, skips, hop, governor choice, live sample, ...
    WS  /ws        protocol 1 (docs/protocol.md): hello, audio blocks, state, controls

The clock task reads one block from the engine's PCM ring each block period while
someone listens (or records) and fans it out: each listener has a bounded queue
(engine.server.listener_queue) drained by its own sender task, so a slow socket only
ever delays itself and is skipped forward to the live edge when it falls too far
behind. With nobody listening the clock stops and the engine idles once pre-rolled.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
import time
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from engine import __version__
from engine.server import protocol as P
from engine.server.config import ServerConfig
from engine.server.http import (
    is_loopback,
    json_response,
    origin_allowed,
    static_response,
    text_response,
)
from engine.server.limits import RateLimit
from engine.server.listener_queue import AudioBlock, ListenerQueue
from engine.server.recorder import FlacRecorder
from engine.server.web_midi import WebMidi, WebMidiError
from engine.stream.clock import StreamClock
from engine.stream.controls import ControlError, parse_playback, parse_settings
from engine.stream.engine import StreamEngine

log = logging.getLogger("presto.server")


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Listener:
    """One WebSocket connection: its queue, sender task, rate limit and authorisation."""

    def __init__(self, ws: ServerConnection, queue: ListenerQueue, limit: RateLimit,
                 authorized: bool) -> None:
        self.ws = ws
        self.queue = queue
        self.limit = limit
        self.authorized = authorized
        self.wake = asyncio.Event()
        self.auth_failures = 0
        self.pending = 0  # controls waiting for their ack
        self.closing = False
        self.name = "{}:{}".format(*(ws.remote_address or ("?", 0))[:2])


class EngineServer:
    def __init__(self, engine: StreamEngine, cfg: ServerConfig,
                 recorder: FlacRecorder | None = None, midi=None) -> None:
        self.engine = engine
        self.cfg = cfg
        self.recorder = recorder
        self.midi = midi  # engine.midi.link.MidiLink: MIDI input; answers midi_learn
        self.listeners: set[Listener] = set()
        self.clock = StreamClock(engine.geo.sample_rate, cfg.block_frames)
        self.seq = 0  # audio blocks sent
        self.live_sample = 0  # one past the newest sample sent
        self.skips = 0  # listener skips, all listeners so far
        self.closed = {"slow": 0, "policy": 0}
        self.connections = 0
        self.started = time.time()
        self.port: int | None = None
        self.loop_cpu = 0.0  # CPU seconds of the event-loop thread (moving bytes)
        self._underruns_logged, self._underrun_log_at = 0, 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()
        # pages that forward a MIDI controller (Web MIDI), mapped as the MIDI input is
        self.web_midi = WebMidi(midi.mapping if midi is not None else None)
        engine.on_state = self._state_from_engine
        engine.read_block = cfg.block_frames

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self.engine.start()
        if self.recorder is not None:
            self.recorder.start()
        cfg = self.cfg
        server = await serve(self._handler, cfg.host, cfg.port, process_request=self._http,
                             compression=None, max_size=cfg.max_message_bytes, max_queue=16,
                             ping_interval=20, ping_timeout=20, close_timeout=2,
                             server_header=f"presto-live/{__version__}")
        try:
            self.port = server.sockets[0].getsockname()[1]
            host = cfg.host if ":" not in cfg.host else f"[{cfg.host}]"
            log.info("presto-live: serving http://%s:%d/ (WebSocket ws://%s:%d/ws), model %s "
                     "on %s, hop %.3f s, control %s%s", host, self.port, host, self.port,
                     self.engine.model.name, self.engine.model.provider,
                     self.engine.geo.hop_seconds,
                     "needs the token" if cfg.control_token else "open to every listener",
                     f", recording to {self.recorder.path}" if self.recorder else "")
            if not is_loopback(cfg.host) and not cfg.control_token:
                log.warning("presto-live: bound to %s without --control-token: anyone who can "
                            "reach this port can steer the music; pass --control-token T "
                            "(listening stays open to all) or bind 127.0.0.1", cfg.host)
            pacer = asyncio.create_task(self._pace())
            await stop.wait()
            log.info("presto-live: shutting down (%d listeners)", len(self.listeners))
            pacer.cancel()
        finally:
            server.close(close_connections=True)
            try:  # a peer that reads nothing cannot take the close frame: do not wait on it
                await asyncio.wait_for(asyncio.shield(server.wait_closed()), 3.0)
            except TimeoutError:
                for connection in server.connections:
                    connection.transport.abort()
                await server.wait_closed()
            self.engine.stop()
            if self.recorder is not None:
                self.recorder.close()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- HTTP -----------------------------------------------------------------------------
    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == "/ws":
            if not origin_allowed(request.headers, self.cfg.origins,
                                  loopback_only=is_loopback(self.cfg.host)):
                log.warning("server: refused a WebSocket from origin %s",
                            request.headers.get("Origin"))
                return text_response(403, "this origin may not connect: open the page served "
                                     "by the engine, or start it with --allow-origin ORIGIN")
            fmt = parse_qs(url.query).get("format", ["f32le"])[0]
            if fmt not in P.FORMATS:
                return text_response(400, f"unknown format {fmt[:20]!r}: use f32le or s16le")
            return None
        if url.path == "/status":
            return json_response(200, P.finite_json(self.status()))
        return static_response(self.cfg.web_root, request.path)

    def status(self) -> dict:
        st = self.engine.state()
        model = self.engine.model
        rec = self.recorder
        return {
            "listeners": len(self.listeners), "underruns": st["underruns"], "skips": self.skips,
            "hop_seconds": st["hop_seconds"], "steps": st["steps"], "budget": st["budget"],
            "layer_budget": st["layer_budget"], "provider": model.provider,
            "live_sample": self.live_sample, "uptime_seconds": round(time.time() - self.started,
                                                                     1),
            "model": model.name, "mode": st["mode"], "sample_rate": self.engine.geo.sample_rate,
            "channels": self.engine.geo.channels, "block_frames": self.cfg.block_frames,
            "playing": st["playing"], "clock_running": self.clock.running,
            "ring_fill_seconds": st["ring_fill_seconds"], "overruns": st["overruns"],
            "underrun_seconds": st["underrun_seconds"], "clock_slips": self.clock.slips,
            "hops": st["hops"], "restarts": st["restarts"], "failures": st["failures"],
            "realtime_factor": st["realtime_factor"], "prompts": st["prompts"],
            "busy_seconds": round(self.engine.busy_seconds, 3),
            "cpu_seconds": round(time.process_time(), 3), "rewinds": st["rewinds"],
            "loop_cpu_seconds": round(self.loop_cpu, 3),
            "guidance": st["guidance"], "seed": st["seed"],
            "connections_total": self.connections, "closed_slow": self.closed["slow"],
            "closed_policy": self.closed["policy"],
            "control": "token" if self.cfg.control_token else "open",
            "rss_bytes": rss_bytes(), "governor": st["governor"],
            "calibration": {str(k): v for k, v in self.engine.calibration.items()},
            "recording": None if rec is None else {"path": str(rec.path),
                                                   "seconds": round(rec.seconds, 2),
                                                   "dropped_blocks": rec.dropped,
                                                   "error": rec.error},
        }

    # --- the clock --------------------------------------------------------------------------
    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        engine, ring, clock = self.engine, self.engine.ring, self.clock
        block = self.cfg.block_frames
        while True:
            now = loop.time()
            self.loop_cpu = time.thread_time()  # the event loop's own CPU: the fan-out cost
            audience = bool(self.listeners) or self.recorder is not None
            if clock.running:
                if not audience or (not engine.playing and ring.fill == 0):
                    clock.stop()
                    engine.clock_running = False
                    log.info("server: stream clock stopped at sample %d (%s)", self.live_sample,
                             "paused" if audience else "nobody listening")
                    continue
                for _ in range(clock.due(now)):
                    start, pcm = ring.read(block, short_ok=not engine.playing)
                    clock.sent += 1
                    if pcm.shape[1] == 0:
                        break
                    self._broadcast_audio(start, pcm, now)
                if ring.underruns > self._underruns_logged and now - self._underrun_log_at >= 1:
                    log.warning("server: underrun: the engine fell behind the clock; %d so far "
                                "(%.2f s of silence in all), live sample %d", ring.underruns,
                                ring.underrun_samples / engine.geo.sample_rate, self.live_sample)
                    self._underruns_logged, self._underrun_log_at = ring.underruns, now
                await asyncio.sleep(max(0.001, clock.next_in(loop.time())))
            elif (audience and engine.playing and engine.ready.is_set()
                  and ring.fill >= max(1, engine.preroll_samples())):
                clock.start(now)
                engine.clock_running = True
                engine.controls.wake.set()  # the engine's deadlines change
                log.info("server: stream clock started at sample %d with %.2f s queued",
                         ring.read_pos, ring.fill / engine.geo.sample_rate)
            else:
                await asyncio.sleep(0.005)

    def _broadcast_audio(self, start: int, pcm, now: float) -> None:
        self.seq += 1
        block = AudioBlock(self.seq, start, pcm)
        for listener in list(self.listeners):
            if listener.closing:
                continue
            verdict = listener.queue.put_audio(block, now)
            if verdict != "ok":
                self.skips += 1
                log.info("server: %s fell behind: skipped to the live edge (skip %d)",
                         listener.name, listener.queue.skips)
                if verdict == "close":
                    self.closed["slow"] += 1
                    self._close(listener, P.CLOSE_TOO_SLOW, "listener too slow: it kept "
                                "falling behind the live edge")
                    continue
            listener.wake.set()
        if self.recorder is not None:
            self.recorder.put(pcm)
        self.live_sample = start + pcm.shape[1]

    def _state_from_engine(self, state: dict) -> None:
        """Called on the engine thread: hand the state to the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._broadcast_state, state)

    def _broadcast_state(self, state: dict) -> None:
        text = P.dump(P.finite_json({"type": "state", **state,
                                     "listeners": len(self.listeners)}))
        for listener in list(self.listeners):
            self._send_text(listener, text)
        for listener, feedback in self.web_midi.observe(state):
            self._reply(listener, {"type": "midi_out", "messages": feedback})

    # --- one connection ----------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        cfg = self.cfg
        fmt_name = parse_qs(urlsplit(ws.request.path).query).get("format", ["f32le"])[0]
        fmt = P.FORMATS.get(fmt_name, P.F32LE)
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and cfg.send_buffer_bytes:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cfg.send_buffer_bytes)
        queue = ListenerQueue(cfg.listener_queue_blocks, cfg.listener_queue_texts,
                              cfg.max_skips, cfg.skip_window, fmt)
        limit = RateLimit(cfg.messages_per_second, cfg.message_burst, cfg.flood_messages)
        listener = Listener(ws, queue, limit, authorized=cfg.control_token is None)
        self._send_text(listener, P.dump(P.finite_json(self._hello(fmt_name))))
        self.listeners.add(listener)
        self.connections += 1
        log.info("server: listener %s joined at sample %d (%d listening)", listener.name,
                 self.live_sample, len(self.listeners))
        sender = asyncio.create_task(self._send_loop(listener))
        try:
            async for message in ws:
                if listener.closing:
                    break
                self._on_message(listener, message)
            if listener.closing:  # let the close code chosen in _close go out, not 1000
                await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            self.listeners.discard(listener)
            self.web_midi.forget(listener)
            sender.cancel()
            log.info("server: listener %s left (%s; %d listening)", listener.name,
                     ws.close_code if ws.close_code is not None else "dropped",
                     len(self.listeners))

    def _hello(self, fmt_name: str) -> dict:
        geo = self.engine.geo
        cfg = self.cfg
        return {
            "type": "hello", "protocol": P.PROTOCOL, "sample_rate": geo.sample_rate,
            "channels": geo.channels, "format": fmt_name, "block_frames": cfg.block_frames,
            "header": P.HEADER.format, "live_sample": self.live_sample,
            "control": "token" if cfg.control_token else "open",
            "server": f"presto-live/{__version__}", "model": self.engine.model.name,
            "provider": self.engine.model.provider,
            "limits": {"max_message_bytes": cfg.max_message_bytes,
                       "messages_per_second": cfg.messages_per_second,
                       "message_burst": cfg.message_burst},
            "state": self.engine.state(),
        }

    async def _send_loop(self, listener: Listener) -> None:
        queue, ws = listener.queue, listener.ws
        try:
            while True:
                item = queue.pop()
                if item is None:
                    listener.wake.clear()
                    await listener.wake.wait()
                    continue
                await ws.send(item)
        except ConnectionClosed:
            pass

    def _send_text(self, listener: Listener, text: str) -> None:
        if listener.closing:
            return
        if not listener.queue.put_text(text):
            self.closed["policy"] += 1
            self._close(listener, P.CLOSE_POLICY, "too many unread messages: read what the "
                        "server sends")
            return
        listener.wake.set()

    def _reply(self, listener: Listener, msg: dict) -> None:
        self._send_text(listener, P.dump(P.finite_json(msg)))

    def _error(self, listener: Listener, code: str, message: str, field: str | None = None,
               msg_id: object = None) -> None:
        self._reply(listener, P.error_message(code, message, field, msg_id))

    def _close(self, listener: Listener, code: int, reason: str) -> None:
        if listener.closing:
            return
        listener.closing = True
        self.listeners.discard(listener)
        log.warning("server: closing %s with %d (%s)", listener.name, code, reason)
        self._spawn(listener.ws.close(code, reason[:120]))

    # --- client messages ---------------------------------------------------------------------
    def _on_message(self, listener: Listener, message: str | bytes) -> None:
        verdict = listener.limit.take(time.monotonic())
        if verdict == "flood":
            self.closed["policy"] += 1
            self._close(listener, P.CLOSE_POLICY, "message flood: at most "
                        f"{self.cfg.messages_per_second:g} messages per second")
            return
        if verdict == "limited":
            self._error(listener, "rate_limited", "too many messages: at most "
                        f"{self.cfg.messages_per_second:g} per second (bursts of "
                        f"{self.cfg.message_burst}); this one was dropped")
            return
        if isinstance(message, bytes):
            self._error(listener, "binary_not_accepted", "clients send JSON text messages "
                        "only; binary frames are ignored")
            return
        try:
            msg = P.parse_client_text(message)
        except P.ProtocolError as e:
            self._error(listener, e.code, str(e), e.field, e.msg_id)
            return
        kind, msg_id = msg["type"], msg.get("id")
        if kind == "ping":
            self._reply(listener, {"type": "pong", "id": msg_id, "live_sample": self.live_sample,
                                   "server_time": time.time()})
        elif kind == "auth":
            self._auth(listener, msg["token"], msg_id)
        elif kind == "midi":
            self._midi(listener, msg, msg_id)
        elif kind == "midi_learn":
            self._midi_learn(listener, msg, msg_id)
        else:
            self._control(listener, msg, msg_id)

    def _token_ok(self, token: str | None) -> bool:
        want = self.cfg.control_token
        return want is None or (token is not None
                                and hmac.compare_digest(token.encode(), want.encode()))

    def _auth(self, listener: Listener, token: str, msg_id: object) -> None:
        if self._token_ok(token):
            listener.authorized = True
            self._reply(listener, {"type": "auth", "id": msg_id, "ok": True})
            return
        listener.auth_failures += 1
        if listener.auth_failures >= self.cfg.max_auth_failures:
            self.closed["policy"] += 1
            self._close(listener, P.CLOSE_POLICY, "too many wrong control tokens")
            return
        self._error(listener, "unauthorized", "wrong control token; listening goes on",
                    "token", msg_id)

    def _may_steer(self, listener: Listener, token: object, msg_id: object,
                   refusal: str) -> bool:
        """Whether this connection may steer (authorized, or the message's token is right);
        if not, answers `unauthorized`. Every wrong token counts, whatever the message:
        max_auth_failures of them close the connection."""
        if listener.authorized or self._token_ok(token):
            return True
        if token is not None:
            listener.auth_failures += 1
            if listener.auth_failures >= self.cfg.max_auth_failures:
                self.closed["policy"] += 1
                self._close(listener, P.CLOSE_POLICY, "too many wrong control tokens")
                return False
        self._error(listener, "unauthorized", refusal, "token", msg_id)
        return False

    def _midi_learn(self, listener: Listener, msg: dict, msg_id: object) -> None:
        if not self._may_steer(listener, msg.get("token"), msg_id,
                               "MIDI learn needs the control token"):
            return
        if self.midi is None:
            self._error(listener, "no_midi", "this engine runs without MIDI input: start it "
                        "with --midi-in NAME or --midi-virtual NAME", None, msg_id)
        else:
            self._reply(listener, self.midi.client_message(msg))

    def _control(self, listener: Listener, msg: dict, msg_id: object) -> None:
        if not self._may_steer(listener, msg.get("token"), msg_id, "this server needs the "
                               "control token: send {\"type\": \"auth\", \"token\": ...} "
                               "first, or a \"token\" field; listening needs none"):
            return
        try:
            if msg["type"] == "control":
                change = parse_settings(msg.get("set"))
            else:
                change = parse_playback(msg.get("action"))
            if listener.pending >= self.cfg.max_pending_controls:
                raise ControlError("busy", f"{listener.pending} of your controls are waiting "
                                   "for the next hop; wait for their acks")
            live = self.live_sample
            future = self.engine.submit(change)
        except ControlError as e:
            self._error(listener, e.code, str(e), e.field, msg_id)
            return
        listener.pending += 1
        self._spawn(self._ack(listener, msg_id, change, future, live))

    def _midi(self, listener: Listener, msg: dict, msg_id: object) -> None:
        """Web MIDI pass-through: the page's controller, mapped by engine.midi here; what it
        changes goes through _control like a control the page sent itself."""
        token = msg.get("token")
        if not self._may_steer(listener, token, msg_id, "MIDI steers the engine, which needs "
                               "the control token: send {\"type\": \"auth\", \"token\": ...} "
                               "first; listening needs none"):
            return
        try:
            controls, feedback = self.web_midi.handle(listener, msg.get("messages"),
                                                      self.engine.state())
        except WebMidiError as e:
            self._error(listener, "bad_value", str(e), "messages", msg_id)
            return
        counts = self.web_midi.status(listener) or {}
        self._reply(listener, {"type": "midi", "id": msg_id,
                               "controls": [c["id"] for c in controls],
                               "waiting": counts.get("waiting", 0),
                               "unmapped": counts.get("unmapped", 0)})
        if feedback:
            self._reply(listener, {"type": "midi_out", "messages": feedback})
        for control in controls:  # with the batch's token: it was checked above
            self._control(listener, {**control, "token": token}, control["id"])

    async def _ack(self, listener: Listener, msg_id: object, change, future, live: int) -> None:
        try:
            applied = await asyncio.wrap_future(future)
        except ControlError as e:
            self._error(listener, e.code, str(e), e.field, msg_id)
        except Exception as e:  # noqa: BLE001 - reported, the stream goes on
            self._error(listener, "failed", f"the engine could not apply it: {e}", None, msg_id)
        else:
            self._reply(listener, {
                "type": "ack", "id": msg_id, "applied_at_sample": applied.applied_at_sample,
                "settled_at_sample": applied.settled_at_sample, "live_sample": live,
                "restarted": applied.restarted, "applied": change.as_dict(),
            })
        finally:
            listener.pending -= 1
