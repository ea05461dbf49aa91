"""MIDI control benchmark: CC-to-control-queue latency and a 10,000-message storm.

    python -m engine.bench midi [--period 128] [--messages 200] [--storm 10000] [--reps 3] \
        [--model exported/base] [--out reports/midi]

Everything runs over real JACK MIDI ports (a dummy-backend jackd started for the run,
engine.midi.jack). Two measurements, each beside its yardstick:

1. Latency: a controller process sends CCs (spaced 12-20 ms, so none is coalesced); the time
   from send to arrival is measured for a bare rtmidi callback (JACK transport alone) and for
   MidiInput -> RecordingSink.submit (what the engine's control queue would see), in
   alternating rounds. The difference is the MIDI layer's own cost.
2. Storm: a separate controller process sends `--storm` CCs within `--seconds`, while a
   generation workload runs in a worker thread (a served model's sample_window with --model,
   else a float32 matmul loop that, like onnxruntime, releases the GIL). Windows with and
   without a storm alternate; reported: workload throughput and its longest stall in each,
   messages received and submitted, whether the last value won, and the time the rtmidi
   callback spends per message (timed directly on the callback function).

Writes results.json and results.md to --out.
"""

from __future__ import annotations

import json
import queue
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.midi.input import MidiConfig, MidiInput, enqueue_callback
from engine.midi.jack import RATE, dummy_jack
from engine.midi.sink import RecordingSink

PORT = "bench"  # the virtual input MidiInput opens: presto-live:bench

# The controller: a separate process, as a real one would be. argv: mode, port, n, seconds.
SENDER = r"""
import json, random, sys, time
import rtmidi
mode, port, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="bench-ctl")
out.open_port(next(i for i, p in enumerate(out.get_ports()) if p.endswith(port)))
time.sleep(0.2)
sent = []
if mode == "latency":
    rnd = random.Random(0)
    for k in range(n):
        sent.append(time.perf_counter())
        out.send_message([0xB0, 28, k % 128])
        time.sleep(rnd.uniform(0.012, 0.020))
else:
    t0, burst = time.perf_counter(), 10
    for k in range(0, n, burst):
        for j in range(k, min(n, k + burst)):  # a sawtooth, then a plateau at 42
            out.send_message([0xB0, 1, j % 128 if j < n - 200 else 42])
        wait = t0 + seconds * (k + burst) / n - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    sent = [t0, time.perf_counter()]
time.sleep(0.3)
out.close_port()
print(json.dumps(sent))
"""


@dataclass(frozen=True)
class MidiBench:
    out: Path = Path("reports/midi")
    period: int = 128  # latency: JACK frames per cycle at 48 kHz
    storm_period: int = 1024  # storm: a longer cycle rides out scheduling delays (see docs)
    messages: int = 200  # latency: CCs per round
    rounds: int = 2  # latency: rounds per side
    storm: int = 10_000  # storm: messages per storm
    seconds: float = 1.0  # storm: its length
    reps: int = 3  # storm: quiet/storm window pairs
    model: Path | None = None  # workload: a served model dir; None = matmul proxy


def _send(mode: str, port: str, n: int, seconds: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SENDER, mode, port, str(n), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def _sent(proc: subprocess.Popen) -> list[float]:
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("the controller process hung (is the JACK server overloaded?)") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the controller process failed ({proc.returncode})")
    return json.loads(out)


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3), "max_ms": round(ms[-1], 3)}


def _bare_round(n: int) -> list[float]:
    """JACK transport alone: a bare rtmidi callback that records its arrival time."""
    import rtmidi

    arrivals: list[float] = []
    midi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="presto-live")
    midi.open_virtual_port(PORT)
    midi.set_callback(lambda event, data: arrivals.append(time.perf_counter()))
    try:
        sent = _sent(_send("latency", f":{PORT}", n))
    finally:
        midi.delete()
    return [(a - s) * 1e3 for s, a in zip(sent, arrivals, strict=False)]


def _engine_round(n: int) -> tuple[list[float], dict]:
    """MidiInput: rtmidi callback -> queue -> drain -> sink.submit."""
    sink = RecordingSink()
    midi = MidiInput(MidiConfig(virtual=PORT, virtual_out=False), sink)
    midi.start()
    try:
        sent = _sent(_send("latency", f":{PORT}", n))
        sink.wait_for(lambda s: len(s.received) >= n, timeout=5)
    finally:
        midi.stop()
    got = [(t, m["set"].get("seed")) for t, m in sink.received]
    ok = all(v == k % 128 for k, (_, v) in enumerate(got))
    return [(t - s) * 1e3 for s, (t, _) in zip(sent, got, strict=False)], {
        "received": len(got), "in_order": ok}


def latency(cfg: MidiBench) -> dict:
    bare: list[float] = []
    engine: list[float] = []
    checks = []
    for _ in range(cfg.rounds):
        bare += _bare_round(cfg.messages)
        ms, check = _engine_round(cfg.messages)
        engine += ms
        checks.append(check)
    b, e = _stats(bare), _stats(engine)
    return {"jack_transport": b, "midi_to_sink": e,
            "overhead_median_ms": round(e["median_ms"] - b["median_ms"], 3),
            "checks": checks, "jack_cycle_ms": round(cfg.period / RATE * 1e3, 3)}


def _workload(model_dir: Path | None) -> tuple[Callable[[], None], str]:
    """One unit of generation work (releases the GIL), and what it is."""
    if model_dir is not None:
        from engine.runtime.model import ServedModel
        from engine.runtime.window import plan_window, sample_window

        model = ServedModel.load(model_dir, threads=1)
        plan = plan_window(model, steps=2)
        emb = model.text.embed(["a slow chorale for strings"])[0]
        t = model.window_frames
        known = np.zeros((model.latent_channels, t), dtype=np.float32)
        return (lambda: sample_window(model, plan, emb, known, n_known=t - max(1, t // 16)),
                f"sample_window, {model_dir}, 2 steps, 1 thread")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    a = np.random.default_rng(0).standard_normal((384, 384), dtype=np.float32)
    return (lambda: a @ a), "float32 384x384 matmul (1 BLAS thread), a GIL-releasing proxy"


def _run_window(work: Callable[[], None], seconds: float) -> dict:
    """Run `work` back to back for `seconds`: its rate, its slowest unit, and the CPU time the
    rest of this process (MIDI threads, JACK callbacks) used meanwhile."""
    count, longest = 0, 0.0
    cpu0, own0 = time.process_time(), time.thread_time()
    t0 = last = time.perf_counter()
    while last - t0 < seconds:
        work()
        now = time.perf_counter()
        count, longest, last = count + 1, max(longest, now - last), now
    others = (time.process_time() - cpu0) - (time.thread_time() - own0)
    return {"units_per_s": count / (last - t0), "longest_unit_ms": longest * 1e3,
            "other_threads_cpu_ms": others * 1e3}


def storm(cfg: MidiBench) -> dict:
    work, what = _workload(cfg.model)
    work()  # warm up
    sink = RecordingSink()
    midi = MidiInput(MidiConfig(virtual=PORT, virtual_out=False), sink)
    midi.start()
    quiet, loud, runs = [], [], []
    try:
        _run_window(work, cfg.seconds)  # settle (clocks, caches), not counted
        for rep in range(cfg.reps):
            if rep % 2 == 0:  # alternate the order: drift in the machine's load cancels
                quiet.append(_run_window(work, cfg.seconds))
            before = len(sink.received)
            received_before = midi.status().get("messages", {}).get("received", 0)
            sender = _send("storm", f":{PORT}", cfg.storm, cfg.seconds)
            time.sleep(0.25)  # the sender connects
            loud.append(_run_window(work, cfg.seconds))
            t0, t1 = _sent(sender)
            time.sleep(0.2)
            if rep % 2 == 1:
                quiet.append(_run_window(work, cfg.seconds))
            status = midi.status()
            last = sink.current().get("budget")
            want = round(42 / 127, 6)
            runs.append({"sent": cfg.storm, "send_seconds": round(t1 - t0, 3),
                         "received": status["messages"]["received"] - received_before,
                         "submitted": len(sink.received) - before,
                         "last_value": last, "last_value_wins": last == want})
        drain = midi.status()["drain"]
    finally:
        midi.stop()
    q: queue.SimpleQueue = queue.SimpleQueue()
    callback = enqueue_callback(q)
    message = ([0xB0, 1, 64], 0.0)
    n = 100_000
    t0 = time.perf_counter()
    for _ in range(n):
        callback(message, None)
    per_call_us = (time.perf_counter() - t0) / n * 1e6
    q_rate = statistics.median(r["units_per_s"] for r in quiet)
    l_rate = statistics.median(r["units_per_s"] for r in loud)
    q_cpu = statistics.median(r["other_threads_cpu_ms"] for r in quiet)
    l_cpu = statistics.median(r["other_threads_cpu_ms"] for r in loud)
    return {"workload": what, "quiet": quiet, "storm": loud, "runs": runs,
            "throughput_ratio_storm_over_quiet": round(l_rate / q_rate, 3),
            "midi_cpu_ms_per_storm": round(l_cpu - q_cpu, 1),
            "callback_us_per_message": round(per_call_us, 3),
            "callback_ms_per_storm": round(per_call_us * cfg.storm / 1e3, 2),
            "drain": drain}


def _markdown(r: dict) -> str:
    lat, st = r["latency"], r["storm"]
    lines = [
        "# MIDI control benchmark", "",
        f"`python -m engine.bench midi` on {r['machine']}; JACK dummy backend, period "
        f"{r['config']['period']} frames = {lat['jack_cycle_ms']} ms per cycle.", "",
        "## CC to control queue", "",
        "| path | n | median ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    for name, key in (("bare rtmidi callback (JACK transport)", "jack_transport"),
                      ("MidiInput -> sink.submit", "midi_to_sink")):
        s = lat[key]
        lines.append(f"| {name} | {s['n']} | {s['median_ms']} | {s['p95_ms']} | {s['max_ms']} |")
    lines += ["", f"MIDI layer's own cost (median difference): {lat['overhead_median_ms']} ms. "
              f"Target: a CC reaches the control queue in under 5 ms.", "",
              f"## Storm: {r['config']['storm']:,} messages in {r['config']['seconds']} s", "",
              f"Workload: {st['workload']}.", "",
              "| window | units/s | longest unit ms | CPU ms of the other threads |",
              "|---|---|---|---|"]
    for i, (q, s) in enumerate(zip(st["quiet"], st["storm"], strict=True)):
        for name, w in ((f"quiet {i + 1}", q), (f"storm {i + 1}", s)):
            lines.append(f"| {name} | {w['units_per_s']:.1f} | {w['longest_unit_ms']:.1f} | "
                         f"{w['other_threads_cpu_ms']:.1f} |")
    lines += ["", f"Throughput with a storm / without (medians): "
              f"{st['throughput_ratio_storm_over_quiet']}. CPU time the MIDI path took per "
              f"storm (other threads, storm minus quiet, medians): "
              f"{st['midi_cpu_ms_per_storm']} ms of {r['config']['seconds']} s. JACK cycle "
              f"for the storm: {r['config']['storm_period']} frames.", "",
              "| storm | sent | received | submitted to the engine | last value wins |",
              "|---|---|---|---|---|"]
    for i, run in enumerate(st["runs"]):
        lines.append(f"| {i + 1} | {run['sent']} | {run['received']} | {run['submitted']} | "
                     f"{run['last_value_wins']} |")
    lines += ["", f"rtmidi callback: {st['callback_us_per_message']} us per message "
              f"({st['callback_ms_per_storm']} ms per storm). Largest batch the drain took "
              f"at once: {st['drain']['queued_max']} messages.", ""]
    return "\n".join(lines)


def main(cfg: MidiBench) -> dict:
    import os
    import platform

    result = {"config": {k: str(v) if isinstance(v, Path) else v
                         for k, v in asdict(cfg).items()},
              "machine": f"{os.cpu_count()} CPUs ({platform.machine()}), "
                         f"Python {platform.python_version()}, load average "
                         f"{os.getloadavg()[0]:.1f} at start"}
    with dummy_jack(cfg.period):
        print(f"latency: {cfg.rounds} x {cfg.messages} CCs per side ...", flush=True)
        result["latency"] = latency(cfg)
    with dummy_jack(cfg.storm_period):
        print(f"storm: {cfg.reps} x {cfg.storm} messages in {cfg.seconds} s ...", flush=True)
        result["storm"] = storm(cfg)
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    md = _markdown(result)
    (cfg.out / "results.md").write_text(md)
    print(md)
    return result
