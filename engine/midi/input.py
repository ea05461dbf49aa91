"""MIDI input for the live engine: rtmidi callback -> queue -> drain thread -> control sink.

    midi = MidiInput(MidiConfig(virtual="presto"), sink=engine, notify=broadcast)
    midi.start()                    # opens ports (PortError / MappingError if it cannot)
    engine.on_state(midi.on_state)  # feedback and pick-up follow the engine's state
    midi.arm("budget")              # MIDI learn: the next knob moved drives budget
    midi.stop()

Threads. rtmidi calls `_callback` on its own thread (JACK's process thread, ALSA's reader).
The callback does one thing: put (time, bytes) on a queue.SimpleQueue, so it never waits on a
lock the engine holds and a storm cannot slow it. One drain thread of ours takes everything
queued, feeds the I/O-free MidiRouter (engine.midi.router), and hands the coalesced result
to the sink: at most one submit per `min_interval_s` (the first after a quiet spell goes at
once, the last value always goes), so 10,000 messages a second become at most 1/min_interval_s
control messages, last value winning. State messages, MIDI learn requests and stop travel
through the same queue, so the router is only ever touched by the drain thread; the drain
thread also sends controller feedback (one thread owns the output port), saves learned
bindings, and every `watch_s` checks that the ports are still there: a port that disappears
is logged and the engine keeps streaming; when it comes back it is reopened.

We chose a dedicated thread over draining between hops: a hop is seconds long, and a CC must
reach the engine's control queue within milliseconds (the engine then applies it at the next
hop boundary and acknowledges it with applied_at_sample).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rtmidi

from engine.midi.learn import check_target, write_mapping
from engine.midi.mapping import DEFAULT_MAPPING, load_mapping
from engine.midi.ports import (
    API_NAMES,
    PortOpen,
    choose_api,
    open_input,
    open_output,
    open_virtual_input,
    open_virtual_output,
    reconnect,
)
from engine.midi.router import MidiRouter
from engine.midi.sink import ControlSink

log = logging.getLogger("engine.midi")


@dataclass(frozen=True)
class MidiConfig:
    port: str | None = None  # --midi-in: an existing port, matched by name
    virtual: str | None = None  # --midi-virtual: create a port others connect to
    out: str | None = None  # --midi-out: the controller's input, for feedback
    mapping: Path | None = None  # --midi-map: None = the default mapping (learn is not saved)
    api: str = "auto"  # auto | jack | alsa | ...
    virtual_out: bool = True  # with `virtual`: also create an output port of the same name
    tick_s: float = 0.05  # drain wake-up when idle (learn settling)
    watch_s: float = 1.0  # how often to check that the ports still exist
    min_interval_s: float = 0.01  # at most one submit per interval; the first goes at once

    def __post_init__(self) -> None:
        if (self.port is None) == (self.virtual is None):
            raise ValueError("give exactly one of port (--midi-in) or virtual (--midi-virtual)")


@dataclass
class DrainStats:
    batches: int = 0  # drain wake-ups that found work
    queued_max: int = 0  # largest batch taken at once
    submit_errors: int = 0  # sink.submit raised (logged; MIDI carries on)
    lag_last_ms: float = 0.0  # callback -> submit for the latest submit
    lag_max_ms: float = 0.0
    disconnects: int = 0
    reconnects: int = 0


def enqueue_callback(q: queue.SimpleQueue) -> Callable[[tuple[list[int], float], object], None]:
    """The rtmidi callback: puts (time.perf_counter(), message bytes) on `q`, nothing else."""
    put, clock = q.put, time.perf_counter

    def callback(event: tuple[list[int], float], _data: object = None) -> None:
        put((clock(), event[0]))  # no locks, no parsing: a storm costs one put per message

    return callback


class MidiInput:
    def __init__(self, cfg: MidiConfig, sink: ControlSink,
                 notify: Callable[[dict], None] | None = None) -> None:
        self.cfg = cfg
        self.sink = sink
        self.notify = notify or (lambda event: None)
        self.stats = DrainStats()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._in: PortOpen | None = None
        self._out: PortOpen | None = None
        self._status: dict = {}
        path = cfg.mapping
        if path is not None and Path(path).exists():
            mapping = load_mapping(path)
        else:  # the default; a --midi-map that does not exist yet is where learning saves
            mapping = dataclasses.replace(load_mapping(DEFAULT_MAPPING),
                                          path=None if path is None else Path(path))
        self.router = MidiRouter(mapping)

    # ---- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Open the ports and start draining; PortError / MappingError say what is wrong."""
        cfg = self.cfg
        self.api = choose_api(cfg.api)
        if cfg.virtual is not None:
            self._in = open_virtual_input(self.api, cfg.virtual)
        else:
            self._in = open_input(self.api, cfg.port)
        try:
            if cfg.out is not None:
                self._out = open_output(self.api, cfg.out)
            elif cfg.virtual is not None and cfg.virtual_out:
                self._out = open_virtual_output(self.api, cfg.virtual)
        except BaseException:
            self._in.close()
            raise
        self._in.listen(enqueue_callback(self._queue))
        self.router.feedback = self._out is not None
        self.router.show_all()
        self._thread = threading.Thread(target=self._drain, name="midi-drain", daemon=True)
        self._thread.start()
        log.info("MIDI in: %s%s (%s); feedback: %s; mapping: %s (%d bindings)",
                 self._in.port, " (virtual)" if cfg.virtual else "",
                 API_NAMES.get(self.api, self.api), self._out.port if self._out else "none",
                 self.router.mapping.path or DEFAULT_MAPPING, len(self.router.mapping.bindings))

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            self._queue.put((time.perf_counter(), ("stop", None)))
            self._thread.join(timeout)
            self._thread = None
        for port in (self._in, self._out):
            if port is not None:
                port.close()
        self._in = self._out = None

    # ---- from other threads ------------------------------------------------------------------

    def on_state(self, state: dict) -> None:
        """StateObserver: the engine's state (any thread; only enqueued)."""
        self._queue.put((time.perf_counter(), ("state", state)))

    def arm(self, control: str, index: int | None = None) -> None:
        """MIDI learn: bind the next control moved to `control` (ValueError if not valid)."""
        check_target(control, index, len(self.router.mapping.presets))
        self._queue.put((time.perf_counter(), ("arm", (control, index))))

    def cancel_learn(self) -> None:
        self._queue.put((time.perf_counter(), ("cancel", None)))

    def status(self) -> dict:
        """Counts and port state (as of the last drain), for /status and state messages."""
        return dict(self._status)

    # ---- the drain thread --------------------------------------------------------------------

    def _drain(self) -> None:
        router, cfg = self.router, self.cfg
        next_submit = 0.0  # perf_counter time before which nothing is submitted
        next_watch = time.perf_counter() + cfg.watch_s
        oldest: float | None = None  # callback time of the oldest change not yet submitted
        running = True
        while running:
            now = time.perf_counter()
            if now < next_submit:
                # nothing may be submitted yet: let messages gather instead of waking for each
                # (a storm is then drained in ~1/min_interval_s batches)
                time.sleep(next_submit - now)
                timeout = 0.0
            else:
                timeout = cfg.tick_s
            try:
                batch = [self._queue.get(timeout=timeout)] if timeout else [
                    self._queue.get_nowait()]
            except queue.Empty:
                batch = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            midi: list[tuple[float, list[int]]] = []
            for t, item in batch:
                if isinstance(item, list):
                    midi.append((t, item))
                    oldest = t if oldest is None else oldest
                    continue
                router.handle_batch(midi)  # in order: MIDI before this command, then it
                midi = []
                running = self._command(item) and running
            router.handle_batch(midi)
            now = time.perf_counter()
            router.poll(now)
            if batch:
                self.stats.batches += 1
                self.stats.queued_max = max(self.stats.queued_max, len(batch))
            if now >= next_submit:
                messages = router.take()
                if messages:
                    for m in messages:
                        self._submit(m)
                    next_submit = now + cfg.min_interval_s
                    if oldest is not None:
                        lag = (time.perf_counter() - oldest) * 1e3
                        self.stats.lag_last_ms = lag
                        self.stats.lag_max_ms = max(self.stats.lag_max_ms, lag)
                    oldest = None
            self._send_feedback()
            self._save_learned()
            if now >= next_watch:
                self._watch()
                next_watch = now + cfg.watch_s
            self._status = self._snapshot()

    def _command(self, item: tuple[str, object]) -> bool:
        kind, payload = item
        if kind == "state":
            self.router.observe(payload)
        elif kind == "arm":
            control, index = payload
            self.router.arm(control, index)
            log.info("MIDI learn armed for %s%s: move a control", control,
                     f" {index}" if index is not None else "")
            self.notify({"type": "midi_learn", "status": "armed", "control": control,
                         "index": index})
        elif kind == "cancel":
            self.router.learner.cancel()
            self.notify({"type": "midi_learn", "status": "cancelled"})
        elif kind == "stop":
            return False
        return True

    def _submit(self, message: dict) -> None:
        try:
            self.sink.submit(message)
        except ValueError as error:  # refused (a value out of the engine's range, busy, ...)
            self.stats.submit_errors += 1
            log.warning("MIDI: the engine refused %s: %s", message, error)
        except Exception:  # the engine's problem must not stop MIDI (nor the stream)
            self.stats.submit_errors += 1
            log.exception("MIDI: could not hand %s to the engine", message)

    def _send_feedback(self) -> None:
        messages = self.router.take_feedback()
        if not messages or self._out is None or not self._out.connected:
            return
        for m in messages:
            try:
                self._out.midi.send_message(m)
            except (rtmidi.RtMidiError, ValueError) as error:
                log.warning("MIDI feedback to %s failed: %s", self._out.port, error)
                return

    def _save_learned(self) -> None:
        for binding in self.router.take_learned():
            path = self.router.mapping.path
            saved = None
            if path is not None and Path(path).resolve() != DEFAULT_MAPPING:
                try:
                    write_mapping(self.router.mapping, path)
                    saved = str(path)
                except OSError as error:
                    log.error("MIDI learn: could not save %s: %s", path, error)
            log.info("MIDI learn: %s%s", binding.describe(),
                     f", saved to {saved}" if saved else
                     " (not saved: start with --midi-map FILE to keep learned bindings)")
            self.notify({"type": "midi_learn", "status": "learned",
                         "binding": binding.describe(), "saved_to": saved})

    def _watch(self) -> None:
        for port, kind in ((self._in, "input"), (self._out, "output")):
            if port is None or port.pattern is None:
                continue
            try:
                midi = port.midi
                ports = midi.get_ports()
            except rtmidi.RtMidiError as error:
                log.warning("MIDI: cannot list %s ports: %s", kind, error)
                continue
            if port.connected and port.port not in ports:
                port.connected = False
                self.stats.disconnects += 1
                log.warning("MIDI %s port %r disappeared; the stream goes on, waiting for it "
                            "to return", kind, port.port)
                self.notify({"type": "midi_port", "status": "disconnected", "port": port.port})
            elif not port.connected and reconnect(port, ports, kind):
                self.stats.reconnects += 1
                log.info("MIDI %s port %r is back: reconnected", kind, port.port)
                self.notify({"type": "midi_port", "status": "reconnected", "port": port.port})
                if kind == "output":
                    self.router.show_all()

    def _snapshot(self) -> dict:
        def port_state(port: PortOpen | None) -> dict | None:
            return None if port is None else {"port": port.port, "connected": port.connected,
                                              "virtual": port.pattern is None}
        return {"input": port_state(self._in), "output": port_state(self._out),
                **self.router.status(), "drain": dict(self.stats.__dict__)}
