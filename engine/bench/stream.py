"""Live-engine benchmark: the real server on loopback with real clients, phase by phase.

    python -m engine.bench stream [--model DIR] [--minutes 1] [--listeners 100] [--hop 2.0] \
        [--low-latency-hop 0.5] [--threads 0] [--out reports/stream]

Runs `python run_engine.py` as a subprocess (its own process: RSS and CPU are the
server's) and connects protocol-1 clients (clients.listen) from this process:

1. one listener, a control every 4-8 s (prompt, blend, budget, seed): real-time headroom
   (hop seconds / wall seconds per hop), underruns, control latency (applied_at_sample -
   the live sample when the server received the control, in seconds of audio), time
   from connect to first audio for a new listener;
2. N listeners (default 100) for as long: every one must receive contiguous audio (no
   skips, no violations); generation throughput against phase 1, side by side (seconds
   of generation work per network evaluation-block, and audio seconds per busy second);
3. the low-latency setting (a short hop, smaller margin) with one listener: control latency.

Each phase takes minutes/3, phase 3 at most 1 minute (`--minutes 30`: 10 minutes each of
phases 1 and 2, the targets' length). Server memory (RSS from /status) and ring fill are
sampled every second throughout. Writes results.json, results.md and stream.png to --out.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ("a slow chorale for strings", "a lively folk tune on fiddle", "solo piano in a "
           "minor key", "brass quartet, moderate tempo", "a gentle waltz for flute and harp")


@dataclass(frozen=True)
class StreamBench:
    model: Path | None = None  # None: the engine's default model
    minutes: float = 1.0
    listeners: int = 100
    hop: float = 2.0
    low_latency_hop: float = 0.5
    low_latency_margin: float = 0.15
    threads: int = 0
    out: Path = Path("reports/stream")
    seed: int = 0


class ServerProcess:
    """`python run_engine.py ARGS --port 0` as a subprocess; the port is read from its log."""

    def __init__(self, args: list[str], code: str | None = None) -> None:
        cmd = [sys.executable, "-c", code] if code else [sys.executable, "run_engine.py"]
        self.process = subprocess.Popen([*cmd, *args, "--port", "0"], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: list[str] = []
        self.port: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))

    def __enter__(self) -> ServerProcess:
        deadline = time.monotonic() + 120
        while self.port is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + "".join(self.lines[-20:]))
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(20)
        self._reader.join(20)  # the log's last lines (after the exit) are read by now

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=10) as r:
            return json.loads(r.read())


@dataclass
class Phase:
    name: str
    hop_seconds: float
    listeners: int
    seconds: float = 0.0
    hops: list[dict] = field(default_factory=list)  # governor reports (state messages)
    controls: list[dict] = field(default_factory=list)
    first_audio: list[float] = field(default_factory=list)  # s from connect
    listeners_ok: int = 0
    listener_skips: int = 0
    violations: list[str] = field(default_factory=list)
    status_start: dict = field(default_factory=dict)
    status_end: dict = field(default_factory=dict)

    def summary(self) -> dict:
        hops = [h for h in self.hops if not h.get("fresh")]
        secs = np.array([h["seconds"] for h in hops]) if hops else np.zeros(1)
        work = [(h["seconds"] - h["decode_seconds"]) / max(1, h["evaluations"]
                                                           * h["blocks_per_evaluation"])
                for h in hops]
        lat = np.array([c["latency_s"] for c in self.controls]) if self.controls else None
        a, b = self.status_start, self.status_end
        busy = b.get("busy_seconds", 0) - a.get("busy_seconds", 0)
        produced = (b.get("hops", 0) - a.get("hops", 0)) * self.hop_seconds
        return {
            "phase": self.name, "listeners": self.listeners, "seconds": round(self.seconds, 1),
            "hop_seconds": round(self.hop_seconds, 4), "hops": len(hops),
            "steps_median": float(np.median([h["steps"] for h in hops])) if hops else None,
            "steps_range": [min(h["steps"] for h in hops), max(h["steps"] for h in hops)]
            if hops else None,
            "hop_wall_median_s": round(float(np.median(secs)), 4),
            "hop_wall_p95_s": round(float(np.percentile(secs, 95)), 4),
            "headroom_median": round(self.hop_seconds / max(float(np.median(secs)), 1e-9), 2),
            "headroom_worst": round(self.hop_seconds / max(float(secs.max()), 1e-9), 2),
            "audio_per_busy_second": round(produced / busy, 2) if busy > 0 else None,
            "ms_per_evaluation_block": round(1e3 * float(np.median(work)), 3) if work else None,
            "server_cpu_per_second": round((b.get("cpu_seconds", 0) - a.get("cpu_seconds", 0))
                                           / max(self.seconds, 1e-9), 3),
            "loop_cpu_per_second": round((b.get("loop_cpu_seconds", 0)
                                          - a.get("loop_cpu_seconds", 0))
                                         / max(self.seconds, 1e-9), 4),
            "underruns": b.get("underruns", 0) - a.get("underruns", 0),
            "server_skips": b.get("skips", 0) - a.get("skips", 0),
            "listeners_contiguous": self.listeners_ok, "listener_skips": self.listener_skips,
            "violations": self.violations[:10],
            "controls": len(self.controls),
            "control_latency_median_s": round(float(np.median(lat)), 3) if lat is not None
            else None,
            "control_latency_max_s": round(float(lat.max()), 3) if lat is not None else None,
            "controls_redone": sum(c["restarted"] for c in self.controls),
            "rewinds": b.get("rewinds", 0) - a.get("rewinds", 0),
            "first_audio_max_s": round(max(self.first_audio), 3) if self.first_audio else None,
        }


async def _poll_status(server: ServerProcess, samples: list[dict], t0: float,
                       stop: asyncio.Event, label: str) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            st = await loop.run_in_executor(None, server.status)
            samples.append({"server": label, "t": round(time.monotonic() - t0, 2),
                            "rss_mb": st["rss_bytes"] / 1e6,
                            "fill_s": st["ring_fill_seconds"], "underruns": st["underruns"],
                            "listeners": st["listeners"], "hops": st["hops"],
                            "live_sample": st["live_sample"]})
        except OSError:
            pass
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def _controls(client, phase: Phase, rate: int, until: float, rng: random.Random) -> None:
    while time.monotonic() < until - 2:
        await asyncio.sleep(rng.uniform(4.0, 8.0) * min(1.0, phase.hop_seconds / 1.0))
        if time.monotonic() >= until - 1:
            return
        kind = rng.choice(["prompt", "blend", "budget", "seed"])
        setting = {"prompt": {"prompt": rng.choice(PROMPTS)},
                   "blend": {"prompts": [[rng.choice(PROMPTS), 2], [rng.choice(PROMPTS), 1]]},
                   "budget": {"budget": rng.choice([1.0, 0.8, 0.6])},
                   "seed": {"seed": rng.randrange(1 << 20)}}[kind]
        reply = await client.request({"type": "control", "set": setting}, timeout=30)
        if reply["type"] != "ack":
            phase.violations.append(f"control refused: {reply}")
            continue
        phase.controls.append({
            "kind": kind, "restarted": reply["restarted"],
            "latency_s": (reply["applied_at_sample"] - reply["live_sample"]) / rate,
            "settled_s": (reply["settled_at_sample"] - reply["live_sample"]) / rate,
        })


async def _phase(server: ServerProcess, phase: Phase, seconds: float, seed: int) -> None:
    from clients.listen import Listener

    loop = asyncio.get_running_loop()
    phase.status_start = await loop.run_in_executor(None, server.status)
    for _ in range(3):  # a new listener starts at the live edge: time to first audio
        t = time.monotonic()
        probe = await Listener.connect(server.url, keep_audio=False)
        await probe.wait_audio(seconds=0.01)
        phase.first_audio.append(probe.first_audio_at - t)
        await probe.close()
    clients = [await Listener.connect(server.url, keep_audio=False)
               for _ in range(phase.listeners)]
    lead = clients[0]
    rate = lead.hello["sample_rate"]
    t0 = time.monotonic()
    until = t0 + seconds
    mark = len(lead.messages)
    await _controls(lead, phase, rate, until, random.Random(seed))
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    phase.seconds = time.monotonic() - t0
    phase.hops = [m["governor"] for m in lead.messages[mark:]
                  if m["type"] == "state" and m.get("governor")]
    phase.hops = list({h["hop"]: h for h in phase.hops}.values())
    for c in clients:
        cont = c.continuity
        phase.listener_skips += cont.skips
        phase.violations += cont.violations
        if not cont.violations and cont.skips == 0 and c.closed is None \
                and cont.frames >= 0.8 * phase.seconds * rate:
            phase.listeners_ok += 1
    await asyncio.gather(*(c.close() for c in clients))
    phase.status_end = await loop.run_in_executor(None, server.status)


async def _run(server: ServerProcess, phases: list[tuple[Phase, float]], samples: list[dict],
               t0: float, seed: int, label: str) -> None:
    stop = asyncio.Event()
    poller = asyncio.create_task(_poll_status(server, samples, t0, stop, label))
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 120
    while (await loop.run_in_executor(None, server.status))["hops"] < 1:  # pre-rolled
        if time.monotonic() > deadline:
            raise RuntimeError("the engine produced no hop in 120 s")
        await asyncio.sleep(0.2)
    for phase, seconds in phases:
        await _phase(server, phase, seconds, seed)
    stop.set()
    await poller


def _server_args(b: StreamBench, hop: float, margin: float | None = None) -> list[str]:
    args = ["--hop", str(hop), "--log-level", "info"]
    if b.model is not None:
        args += ["--model", str(b.model)]
    if b.threads:
        args += ["--threads", str(b.threads)]
    if margin is not None:
        args += ["--margin", str(margin)]
    return args


def main(b: StreamBench) -> dict:
    b.out.mkdir(parents=True, exist_ok=True)
    each = b.minutes * 60 / 3
    load_start = os.getloadavg()[0]
    samples: list[dict] = []
    t0 = time.monotonic()
    one = Phase("1 listener", 0.0, 1)
    many = Phase(f"{b.listeners} listeners", 0.0, b.listeners)
    low = Phase(f"low latency (hop {b.low_latency_hop:g} s)", 0.0, 1)
    with ServerProcess(_server_args(b, b.hop)) as server:
        hello_hop = server.status()["hop_seconds"]
        one.hop_seconds = many.hop_seconds = hello_hop
        print(f"stream bench: server on port {server.port}, hop {hello_hop:.3f} s; "
              f"{each:.0f} s per phase", flush=True)
        asyncio.run(_run(server, [(one, each), (many, each)], samples, t0, b.seed, "main"))
        log_main = server.lines[:]
        model = server.status()
    with ServerProcess(_server_args(b, b.low_latency_hop, b.low_latency_margin)) as server:
        low.hop_seconds = server.status()["hop_seconds"]
        asyncio.run(_run(server, [(low, min(each, 60.0))], samples, t0, b.seed + 1, "low"))
    phases = [p.summary() for p in (one, many, low)]
    mem = _memory([s for s in samples if s["server"] == "main"])
    result = {
        "bench": asdict(b) | {"out": str(b.out), "model": str(b.model)},
        "server": {k: model.get(k) for k in ("model", "provider", "mode", "sample_rate",
                                              "calibration")},
        "phases": phases,
        "throughput_ratio_many_vs_one": _ratio(phases[1], phases[0]),
        "memory": mem,
        "machine": {"cpus": os.cpu_count(), "load_1min_start": round(load_start, 2),
                    "load_1min_end": round(os.getloadavg()[0], 2)},
        "samples": samples,
        "log_excerpt": [line.rstrip() for line in log_main if "governor" in line
                        or "engine:" in line][:40],
    }
    (b.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (b.out / "results.md").write_text(_markdown(result))
    _plot(samples, one, many, low, b.out / "stream.png")
    print((b.out / "results.md").read_text())
    return result


def _ratio(many: dict, one: dict) -> dict:
    out = {}
    for key in ("ms_per_evaluation_block", "audio_per_busy_second"):
        if many.get(key) and one.get(key):
            out[key] = round(many[key] / one[key], 3)
    return out


def _memory(samples: list[dict]) -> dict:
    if len(samples) < 4:
        return {}
    t = np.array([s["t"] for s in samples])
    rss = np.array([s["rss_mb"] for s in samples])
    half = len(rss) // 4  # after start-up settles
    slope = float(np.polyfit(t[half:], rss[half:], 1)[0]) * 60 if len(rss) - half > 2 else 0.0
    return {"rss_start_mb": round(float(rss[half]), 1), "rss_end_mb": round(float(rss[-1]), 1),
            "rss_max_mb": round(float(rss.max()), 1), "slope_mb_per_minute": round(slope, 3)}


def _markdown(r: dict) -> str:
    rows = ["| phase | listeners | hop s | hops | steps (median, range) | wall s per hop (median / "
            "p95) | headroom (median / worst) | ms per eval-block | underruns | skips | "
            "contiguous listeners | control latency s (median / max) | redone | first audio "
            "max s | server CPU s/s (all / event loop) |", "|" + "---|" * 15]
    for p in r["phases"]:
        rows.append(
            f"| {p['phase']} | {p['listeners']} | {p['hop_seconds']:.3f} | {p['hops']} | "
            f"{p['steps_median']} {p['steps_range']} | {p['hop_wall_median_s']} / "
            f"{p['hop_wall_p95_s']} | {p['headroom_median']}x / {p['headroom_worst']}x | "
            f"{p['ms_per_evaluation_block']} | {p['underruns']} | {p['listener_skips']} | "
            f"{p['listeners_contiguous']}/{p['listeners']} | {p['control_latency_median_s']} / "
            f"{p['control_latency_max_s']} | {p['controls_redone']}/{p['controls']} | "
            f"{p['first_audio_max_s']} | {p['server_cpu_per_second']} / "
            f"{p['loop_cpu_per_second']} |")
    m = r["memory"]
    b = r["bench"]
    return "\n".join([
        "# Live engine: stream benchmark", "",
        f"`python -m engine.bench stream --minutes {b['minutes']} --listeners {b['listeners']} "
        f"--hop {b['hop']}" + (f" --model {b['model']}" if b["model"] != "None" else "") + "`",
        "", f"Machine: {r['machine']['cpus']} CPUs, 1-minute load average "
        f"{r['machine']['load_1min_start']} at the start and {r['machine']['load_1min_end']} at "
        "the end (other work included: figures on a shared machine move with it).", "",
        f"Server: model {r['server']['model']} ({r['server']['mode']}) on "
        f"{r['server']['provider']}. Headroom = hop seconds / wall seconds of the hop; control "
        "latency = applied_at_sample - live sample at receipt, in seconds of audio.", "",
        *rows, "",
        f"Throughput with {r['phases'][1]['listeners']} listeners vs 1 (ratios, 1.0 = same): "
        f"{r['throughput_ratio_many_vs_one']}", "",
        f"Server memory (RSS): {m.get('rss_start_mb')} MB after start-up, "
        f"{m.get('rss_end_mb')} MB at the end, max {m.get('rss_max_mb')} MB, slope "
        f"{m.get('slope_mb_per_minute')} MB/min.", ""])


def _plot(samples: list[dict], one: Phase, many: Phase, low: Phase, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=False)
    for label in ("main", "low"):
        part = [s for s in samples if s["server"] == label]
        t = [s["t"] for s in part]
        axes[0].plot(t, [s["fill_s"] for s in part], label=f"{label} server")
        axes[1].plot(t, [s["rss_mb"] for s in part], label=f"{label} server")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("server RSS (MB)")
    axes[1].set_xlabel("bench time (s)")
    for phase in (one, many, low):
        hops = [h for h in phase.hops if not h.get("fresh")]
        axes[2].plot([h["seconds"] / phase.hop_seconds for h in hops], ".", label=phase.name)
    axes[2].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[2].set_ylabel("hop wall time / hop audio time")
    axes[2].set_xlabel("hop")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
