"""StreamEngine: music that never stops. One worker thread turns hops into PCM.

    engine = StreamEngine(model, StreamConfig(hop_seconds=2.0), on_state=print)
    engine.start()                                 # thread: calibrate, pre-roll, then hops
    future = engine.submit(parse_settings({"prompt": "a slow chorale"}))
    future.result().applied_at_sample              # resolved at the next hop boundary
    start, block = engine.ring.read(4096)          # the clock's side (see engine.stream.clock)
    engine.stop()

Each hop (engine.stream.config for sizes):
1. controls waiting in the queue are applied at the boundary = the ring's write position;
2. the governor picks steps, sigmas and layer budget for the time left;
3. the window is W latent frames: the first W - H are the latent ring's newest frames
   (known context), the last H are generated (sample_window); the very first window of a
   stream (and after reset) is generated from scratch and only its last H frames are
   played: the rest is context the listener never hears, so the music starts mid-phrase
   and no 32 s block of audio has to be queued up front;
4. the H new frames are decoded with the streaming decoder (look-back frames and the
   overlap-add tail carried in its state): consecutive hops join without a seam. A
   fresh decoder is primed on the preceding context frames and their audio discarded;
5. where the content changes abruptly (reset, resume after pause, a failed hop), an
   equal-power crossfade or fade joins the pieces; the PCM goes into the ring.

Hops run just in time: a hop starts when the ring holds less than the lead (margin +
reserve + the governor's predicted hop cost). A control that changes the music (prompt,
guidance, seed, variation, reset) does not wait for the queued audio to play out:
- arriving while a hop is being generated, it redoes that hop (applied at its start);
- arriving while the newest hop waits in the ring (or is partly sent), it rewinds: the
  unsent part of that hop from the earliest latent frame that still leaves time to
  generate a hop is dropped from the PCM ring, the latent ring, decoder state, prompt
  glide and noise counter go back to that frame, and the next hop starts there;
each only when the time left still allows restart_min_fraction of the usual steps.
So a control applies about the lead ahead of the live edge, whatever the hop; without
the time, it applies at the next boundary.
With the stream clock halted (nobody listening) the engine fills the ring up to the lead
and idles: pre-roll for the first listener, no CPU spent on music nobody hears.

Pause: the queued audio beyond a crossfade is dropped and faded out; listeners get no
audio (and no underruns are counted) until play, which fades the next hop in.
Reset: the latent ring and hop counter are cleared; the next hop starts a fresh stream
(the same seed and prompts reproduce the same music), crossfaded from the old one.
A hop that fails (an exception from the runtime) is logged, counted and replaced by
silence faded from the old audio; the stream continues.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from engine.runtime.window import sample_window
from engine.stream.config import StreamConfig
from engine.stream.controls import Applied, ControlChange, ControlError, ControlQueue
from engine.stream.crossfade import crossfade, fade_in, fade_out
from engine.stream.governor import Choice, Governor
from engine.stream.latent_ring import LatentRing
from engine.stream.noise import hop_rng
from engine.stream.pcm_ring import PcmRing
from engine.stream.prompt_glide import PromptGlide

log = logging.getLogger("presto.engine")


class _Redo(Exception):
    """A control arrived during a hop and there is time to redo the hop with it."""


class _Stopped(Exception):
    """The engine is stopping: abandon the hop."""


class _Interruptible:
    """A view of a ServedModel whose denoiser first asks the engine whether to go on.

    sample_window calls model.denoiser once per network evaluation; raising from the
    check abandons the window between evaluations without touching the runtime.
    """

    def __init__(self, model, check: Callable[[], None]) -> None:
        self._model = model
        self._check = check

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def denoiser(self, *args, **kwargs):
        self._check()
        return self._model.denoiser(*args, **kwargs)


@dataclass(frozen=True)
class _Undo:
    """What the newest hop changed, to rewind into it for a control."""

    start: int  # its first sample index
    appended: np.ndarray  # (C, n) frames it appended to the latent ring (n = W if fresh, else H)
    latents: tuple  # the latent ring before it (LatentRing.snapshot)
    decoder: object  # decoder state before it (None: a fresh decoder)
    seam: tuple | None  # the seam that was pending before it
    glide: tuple  # PromptGlide.snapshot before it
    hop_index: int


@dataclass(frozen=True)
class HopRecord:
    index: int  # hops since the engine started
    start_sample: int  # first sample index of its audio
    latent: np.ndarray  # (C, H) new normalised latent frames
    pcm: np.ndarray  # (channels, hop_samples) the audio written (after any seam)
    fresh: bool  # the first hop of a stream (start or reset)
    report: dict  # governor choice and timings (as in state messages)
    # A later record starting at or before this one's end replaces the rest of this one:
    # a control rewound into it (report["rewound_from"] of the later record says so).


class StreamEngine:
    def __init__(self, model, cfg: StreamConfig | None = None,
                 on_state: Callable[[dict], None] | None = None,
                 on_hop: Callable[[HopRecord], None] | None = None) -> None:
        self.model = model
        self.cfg = cfg = cfg or StreamConfig()
        self.geo = geo = cfg.geometry(model)
        self.on_state = on_state
        self.on_hop = on_hop
        self.ring = PcmRing(geo.channels, geo.ring_samples, fade=geo.crossfade_samples)
        self.latents = LatentRing(model.latent_channels, geo.window_frames)
        self.controls = ControlQueue()
        self.governor = Governor(model, cfg, geo)
        d = model.defaults
        self.prompts: tuple[tuple[str, float], ...] = ((cfg.prompt, 1.0),)
        self.ceiling = d.budget if cfg.budget is None else cfg.budget
        self.guidance = d.guidance if cfg.guidance is None else cfg.guidance
        self.seed, self.variation = cfg.seed, cfg.variation
        self.playing = True
        self.clock_running = False  # set by whoever drains the ring in real time
        self.read_block = 0  # samples that reader takes at once (set by it)
        self.glide: PromptGlide | None = None
        self._decoder = None  # codec DecoderState of the current stream
        self._seam: tuple[str, np.ndarray | None] | None = ("fade_in", None)
        self._known = np.zeros((model.latent_channels, geo.window_frames), dtype=np.float32)
        self._redo = False  # the next hop redoes one interrupted by a control
        self._undo: _Undo | None = None  # how to take the newest hop back
        self._rewound_from: int | None = None  # start of the hop the next hop rewound into
        self.hop_index = 0  # hops since the last reset (noise stream position)
        self.counts = collections.Counter()  # hops, restarts, failures, resets
        self.busy_seconds = 0.0  # wall time spent generating hops
        self.history: collections.deque[dict] = collections.deque(maxlen=64)
        self.calibration: dict = {}
        self.started_at = time.time()
        self.ready = threading.Event()  # calibrated and the first prompt embedded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._last_logged: tuple | None = None
        self._last_summary = time.monotonic()

    # --- lifecycle ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Calibrate the governor and embed the first prompt (the worker does this first)."""
        if self.ready.is_set():
            return
        self.calibration = self.governor.calibrate()
        self.glide = PromptGlide(self._embed(self.prompts), self.cfg.glide_hops)
        per_eval = ", ".join(f"batch {b}: {c['a'] * 1e3:.1f} ms + {c['b'] * 1e3:.1f} ms/block"
                             for b, c in self.calibration.items() if isinstance(b, int))
        log.info("engine: window %d frames (%.2f s), hop %d frames (%.3f s), %s sampling, "
                 "steps %d..%d; calibrated %s; decode %.1f ms/hop",
                 self.geo.window_frames, self.geo.window_frames * self.geo.samples_per_latent
                 / self.geo.sample_rate, self.geo.hop_frames, self.geo.hop_seconds,
                 self.governor.mode, self.governor.min_steps, self.governor.max_steps,
                 per_eval, self.calibration["decode"] * 1e3)
        self.ready.set()
        self._publish()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the engine is already running")
        self._thread = threading.Thread(target=self._run, name="presto-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.controls.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for _, future in self.controls.take_all():
            future.set_exception(ControlError("stopping", "the engine is shutting down"))

    def _run(self) -> None:
        try:
            self.prepare()
        except Exception:  # noqa: BLE001 - a dead worker must say why, loudly
            log.exception("engine: start-up failed; no audio will be generated")
            raise
        while not self._stop.is_set():
            try:
                wait = self.tick()
            except Exception as error:  # noqa: BLE001 - the stream must go on
                self.counts["errors"] += 1
                log.exception("engine: unexpected error (%s); carrying on", error)
                if self.ring.fill < self.geo.hop_samples and self.playing:
                    self._fail(error)
                wait = 0.1
            if wait > 0:
                self.controls.wake.wait(wait)

    # --- the performer's side -------------------------------------------------------------
    def submit(self, change: ControlChange) -> Future:
        """Queue a change for the next hop boundary; the Future resolves to Applied."""
        if self._stop.is_set():
            raise ControlError("stopping", "the engine is shutting down")
        return self.controls.submit(change)

    # --- one iteration ---------------------------------------------------------------------
    def tick(self) -> float:
        """Apply waiting controls, then generate one hop if one is due. Returns how long the
        caller may wait before the next tick (0 right after a hop)."""
        self.prepare()
        if self.playing and self.cfg.restart_on_control and self.controls.wants_rewind():
            boundary = self._rewind()
            if boundary is not None:
                self._apply_controls(boundary, restarted=True)
                if self.playing:
                    self._hop()
                return 0.0
        self._apply_controls(self.ring.write_pos)
        if not self.playing:
            return 0.1
        if self._hop_due():
            self._hop()
            return 0.0
        if self.clock_running:
            ahead = self.ring.fill / self.geo.sample_rate - self._lead()
            return min(0.1, max(0.002, ahead))
        return 0.1

    def _reserve(self) -> float:
        return self.read_block / self.geo.sample_rate

    def _lead(self) -> float:
        return self.governor.lead_seconds(self.ceiling, self.guidance, self._reserve())

    def preroll_samples(self) -> int:
        """Audio the clock should find queued before it starts (or resumes) sending."""
        return min(self.geo.hop_samples, int(self._lead() * self.geo.sample_rate))

    def _hop_due(self) -> bool:
        if self.ring.free() < self.geo.hop_samples:
            return False
        if len(self.latents) == 0:
            return True
        return self.ring.fill / self.geo.sample_rate < self._lead()

    def _rewind(self) -> int | None:
        """Take back the unsent part of the newest hop, from the earliest latent frame that
        leaves time for a hop; returns that frame's first sample index, or None."""
        u = self._undo
        geo = self.geo
        if u is None:
            return None
        h, spl, sr = geo.hop_frames, geo.samples_per_latent, geo.sample_rate
        decode = self.governor.cost.decode.cautious
        keep = None
        first = max(0, -(-(self.ring.read_pos - u.start) // spl))  # frames already (being) sent
        for k in range(first, h):
            ahead = (u.start + k * spl - self.ring.read_pos) / sr - decode * k / h
            if self.governor.can_redo(ahead, self.clock_running, self.ceiling, self.guidance,
                                      self._reserve()):
                keep = k
                break
        if keep is None:
            return None
        self._undo = None
        boundary = self.ring.rewind(u.start + keep * spl)
        self.latents.restore(u.latents)
        self._decoder, self._seam = u.decoder, (u.seam if keep == 0 else None)
        self.glide.restore(u.glide)
        self.hop_index = u.hop_index
        if keep:  # the kept frames stay as they are in the ring: rebuild the state after them
            context = u.appended[:, : u.appended.shape[1] - h]  # the unheard start of a fresh one
            if context.shape[1]:
                self.latents.append(context)
            kept = u.appended[:, context.shape[1]: context.shape[1] + keep]
            self._decode(kept, self.latents.last(len(self.latents)))  # its audio is in the ring
            self.latents.append(kept)
        self.counts["rewinds"] += 1
        self._rewound_from = u.start
        self._redo = True
        return boundary

    def _embed(self, prompts: tuple[tuple[str, float], ...]) -> np.ndarray:
        text = self.model.text
        if len(prompts) == 1:
            return text.embed([prompts[0][0]])[0]
        return text.blend(list(prompts))

    # --- controls --------------------------------------------------------------------------
    def _apply_controls(self, boundary: int, restarted: bool = False) -> None:
        items = self.controls.take_all()
        if not items:
            return
        for change, future in items:
            try:
                applied = self._apply(change, boundary, restarted)
            except Exception as error:  # noqa: BLE001 - reported to the sender, stream goes on
                log.warning("engine: control %s failed: %s", change.as_dict(), error)
                future.set_exception(error if isinstance(error, ControlError) else
                                     ControlError("failed", f"the engine could not apply it: "
                                                  f"{error}"))
                continue
            future.set_result(applied)
            log.info("engine: control %s applies at sample %d%s", change.as_dict(),
                     applied.applied_at_sample, " (hop redone)" if restarted else "")
        self._publish()

    def _apply(self, change: ControlChange, boundary: int, restarted: bool) -> Applied:
        at = settled = boundary
        if change.playback == "pause" and self.playing:
            self.playing = False
            self._undo = None
            at = settled = self.ring.truncate(self.geo.crossfade_samples)
            self._seam = ("fade_in", None)
        elif change.playback == "play" and not self.playing:
            self.playing = True
            self._seam = ("fade_in", None)
        elif change.playback == "reset":
            self.counts["resets"] += 1
            if self._decoder is not None and self.playing and self.ring.fill > 0:
                tail = self.model.codec.flush(self._decoder)[0]  # (channels, n_fft - hop)
                self._seam = ("crossfade", tail)
            else:
                self._seam = ("fade_in", None)
            self._decoder = None
            self._undo = None
            self.latents.clear()
            self.hop_index = 0
        if change.prompts is not None:
            embedding = self._embed(change.prompts)
            self.prompts = change.prompts
            cut = len(self.latents) == 0  # nothing to glide from: a fresh stream
            self.glide.retarget(embedding, cut=cut)
            settled = at + (self.glide.hops_left - 1) * self.geo.hop_samples
        if change.budget is not None:
            self.ceiling = change.budget
        if change.guidance is not None:
            self.guidance = change.guidance
        if change.seed is not None:
            self.seed = change.seed
        if change.variation is not None:
            self.variation = change.variation
        return Applied(applied_at_sample=at, settled_at_sample=settled, restarted=restarted)

    def _check_interrupt(self) -> None:
        if self._stop.is_set():
            raise _Stopped
        if not (self.cfg.restart_on_control and self.controls.wants_restart()):
            return
        fill = self.ring.fill / self.geo.sample_rate
        if self.governor.can_redo(fill, self.clock_running, self.ceiling, self.guidance,
                                  self._reserve()):
            raise _Redo

    # --- a hop -----------------------------------------------------------------------------
    def _hop(self) -> None:
        geo, model = self.geo, self.model
        t0 = time.perf_counter()
        fill_s = self.ring.fill / geo.sample_rate
        fresh = len(self.latents) == 0
        w, h = geo.window_frames, geo.hop_frames
        n_known = 0 if fresh else w - h
        self._known[:] = 0.0
        if not fresh:
            self._known[:, :n_known] = self.latents.last(n_known)
        before = (self.latents.snapshot(), self._decoder, self._seam, self.glide.snapshot(),
                  self.hop_index)
        try:
            choice = self.governor.choose(fill_s, self.clock_running, self.ceiling,
                                          self.guidance, self._reserve(), hard_only=self._redo)
            rng = hop_rng(self.seed, self.hop_index, self.variation)
            result = sample_window(_Interruptible(model, self._check_interrupt), choice.plan,
                                   self.glide.peek(), self._known, n_known, rng)
            t_decode = time.perf_counter()
            new = result.latent[:, w - h:]  # (C, H)
            pcm = self._decode(new, result.latent[:, : w - h])
            decode_s = time.perf_counter() - t_decode
        except _Redo:
            self.counts["restarts"] += 1
            self._redo = True
            self._apply_controls(self.ring.write_pos, restarted=True)
            return
        except _Stopped:
            return
        except Exception as error:  # noqa: BLE001 - the stream must go on
            self._fail(error)
            return
        pcm = self._join(pcm)
        start = self.ring.write(pcm)
        appended = result.latent if fresh else new
        self._undo = _Undo(start, appended.copy(), before[0], before[1], before[2], before[3],
                           before[4])
        self.latents.append(appended)
        self.glide.advance()
        self.hop_index += 1
        self.counts["hops"] += 1
        total = time.perf_counter() - t0
        self.busy_seconds += total
        self.governor.observe(choice, result.evaluations, decode_s, total)
        report = self._report(choice, start, total, decode_s, fresh)
        self._redo, self._rewound_from = False, None
        with self._state_lock:
            self.history.append(report)
        self._log_hop(choice, report)
        if self.on_hop is not None:
            self.on_hop(HopRecord(self.counts["hops"] - 1, start, new.copy(), pcm, fresh,
                                  report))
        self._publish()

    def _decode(self, new: np.ndarray, context: np.ndarray) -> np.ndarray:
        """(C, H) new frames -> (channels, H * samples_per_latent) audio, seam-exact with the
        previous hop; a fresh decoder is primed on the context frames before them."""
        codec = self.model.codec
        if self._decoder is None:
            state = codec.init_state(1)
            prime = context[:, max(0, context.shape[1] - codec.lookback - 1):]
            if prime.shape[1]:
                _, state = codec.decode_step(codec.denormalize(prime[None]), state)
            self._decoder = state
        pcm, self._decoder = codec.decode_step(codec.denormalize(new[None]), self._decoder)
        return pcm[0]

    def _join(self, pcm: np.ndarray) -> np.ndarray:
        """Apply a pending seam (fade in, or crossfade from the old stream's tail)."""
        if self._seam is None:
            return pcm
        kind, tail = self._seam
        self._seam = None
        n = self.geo.crossfade_samples
        if kind == "crossfade" and tail is not None:
            m = min(n, tail.shape[1], pcm.shape[1])
            pcm[:, :m] = crossfade(tail[:, :m], pcm[:, :m])
        else:
            fade_in(pcm, n)
        return pcm

    def _fail(self, error: Exception) -> None:
        """Replace the hop with silence faded from the old audio; the next hop fades in."""
        self.counts["failures"] += 1
        log.error("engine: hop %d failed (%s: %s); %.2f s of silence instead",
                  self.counts["hops"] + self.counts["failures"], type(error).__name__, error,
                  self.geo.hop_seconds, exc_info=log.isEnabledFor(logging.DEBUG))
        silence = np.zeros((self.geo.channels, self.geo.hop_samples), dtype=np.float32)
        if self._decoder is not None:
            try:
                tail = self.model.codec.flush(self._decoder)[0]
                m = min(self.geo.crossfade_samples, tail.shape[1])
                silence[:, :m] = tail[:, :m]
                fade_out(silence[:, :m], m)
            except Exception:  # noqa: BLE001 - silence alone will do
                pass
        self._decoder = None
        self._undo = None
        self._seam = ("fade_in", None)
        self._redo = False
        self.hop_index += 1  # other noise next time
        self.ring.write(silence)
        self._publish()

    # --- reporting -------------------------------------------------------------------------
    def _report(self, choice: Choice, start: int, total: float, decode_s: float,
                fresh: bool) -> dict:
        return {
            "hop": self.counts["hops"] - 1, "start_sample": start,
            "prompts": [list(p) for p in self.prompts], "gliding": self.glide.gliding,
            **choice.report(),
            "seconds": round(total, 4), "decode_seconds": round(decode_s, 4),
            "realtime": round(self.geo.hop_seconds / max(total, 1e-9), 2),
            "redone": self._redo, "rewound_from": self._rewound_from, "fresh": fresh,
        }

    def _log_hop(self, choice: Choice, report: dict) -> None:
        key = (choice.steps, round(choice.budget, 3), choice.reason, report["redone"])
        now = time.monotonic()
        line = (f"engine: hop {report['hop']} @ sample {report['start_sample']}: "
                f"{choice.describe()}; took {report['seconds']:.3f} s "
                f"({report['realtime']}x real time), ring {report['fill_seconds']:.2f} s"
                + (" [redone for a control]" if report["redone"] else ""))
        if key != self._last_logged:
            log.info(line)
            self._last_logged = key
        else:
            log.debug(line)
        if now - self._last_summary >= 30.0:
            self._last_summary = now
            c = self.ring.counters()
            log.info("engine: %d hops, %d redone, %d failed; %.1fx real time on average; "
                     "underruns %d, overruns %d; live sample %d",
                     self.counts["hops"], self.counts["restarts"], self.counts["failures"],
                     self.counts["hops"] * self.geo.hop_seconds / max(self.busy_seconds, 1e-9),
                     c["underruns"], c["overruns"], c["read_pos"])

    def state(self) -> dict:
        """The engine's state as sent in `state` messages (thread-safe snapshot)."""
        c = self.ring.counters()
        sr = self.geo.sample_rate
        with self._state_lock:
            last = self.history[-1] if self.history else None
        gov = self.governor.last
        prompts = [list(p) for p in self.prompts]
        return {
            "playing": self.playing,
            "prompt": prompts[0][0] if len(prompts) == 1 else None,
            "prompts": prompts,
            "budget": self.ceiling, "guidance": self.guidance, "seed": self.seed,
            "variation": self.variation,
            "gliding": bool(self.glide and self.glide.gliding),
            "hop_seconds": self.geo.hop_seconds, "hop_frames": self.geo.hop_frames,
            "window_seconds": self.geo.window_frames * self.geo.samples_per_latent / sr,
            "mode": self.governor.mode,
            "steps": gov.steps if gov else None,
            "layer_budget": gov.budget if gov else None,
            "governor": last,
            "live_sample": c["read_pos"], "write_sample": c["write_pos"],
            "ring_fill_seconds": round((c["write_pos"] - c["read_pos"]) / sr, 3),
            "underruns": c["underruns"], "underrun_seconds": round(c["underrun_samples"] / sr, 3),
            "overruns": c["overruns"],
            "hops": self.counts["hops"], "restarts": self.counts["restarts"],
            "rewinds": self.counts["rewinds"],
            "failures": self.counts["failures"], "resets": self.counts["resets"],
            "realtime_factor": round(self.counts["hops"] * self.geo.hop_seconds
                                     / max(self.busy_seconds, 1e-9), 2),
        }

    def _publish(self) -> None:
        if self.on_state is not None:
            try:
                self.on_state(self.state())
            except Exception:  # noqa: BLE001 - a broken listener must not stop the music
                log.exception("engine: on_state callback failed")
