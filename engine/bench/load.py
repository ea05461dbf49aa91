"""Load run: many real WebSocket listeners and a few controllers against the real server.

    python -m engine.bench load [--listeners 200] [--seconds 300] [--controllers 2] \
        [--model DIR] [--hop 2.0] [--threads 0] [--settle 15] [--no-faults] [--out reports/load]

Runs `python run_engine.py` as a subprocess (engine.bench.stream.ServerProcess: RSS and CPU
are the server's own) with a control token, then from this process:

1. baseline: the pre-rolled engine with nobody listening, /status sampled for a few seconds
   (server RSS before any listener);
2. N protocol-1 listeners (clients.listen) connect in batches on loopback; each records the
   time from its connect to its first audio block, then every block: sequence and sample
   contiguity (gaps without a `skip` are violations, announced skips are counted apart) and
   the longest wall-clock wait between two blocks;
3. for `seconds`, K controllers (also listening) send a change every few seconds (prompt,
   blend, budget, guidance, seed, variation) and time each acknowledgement (wall ms from
   send to ack, and applied_at_sample - live sample in seconds of audio); every 30 s a fresh
   listener measures time to first audio under load; the server's CPU (all threads and the
   event loop alone), RSS, ring fill, listeners and underruns are sampled every second, and
   every hop's governor report gives the generation headroom (hop seconds / wall seconds);
4. fault storm (unless --no-faults), everyone still listening: peers that vanish part-way
   through an audio frame or through a frame of their own, peers that never read (the
   server skips and then closes them), a listener reconnecting in a loop; then the
   server's RSS after `settle` seconds against before the storm, and each listener's
   gaps and longest wait between blocks during the storm;
5. everyone disconnects; after `settle` seconds the server's RSS is compared with the
   baseline; the server is stopped with SIGTERM and its exit status recorded.

A listener "kept up" when it was never skipped nor closed: the issue's target is zero
gaps for those, a headroom of at least 1.5x and the memory back at its baseline; through
the fault storm, no gap and no wait longer than one hop for the listeners. The
bench process's own event-loop lag is reported too: when it is large, the clients (not
the server) were the bottleneck. Writes results.json, results.md and load.png to --out.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from clients.listen import Listener
from engine.bench.raw_peer import OP_TEXT, RawPeer
from engine.bench.stream import PROMPTS, ServerProcess

MEMORY_BOUND_MB = 30.0  # "back at its baseline": within this of the pre-listener RSS
HEADROOM_TARGET = 1.5


@dataclass(frozen=True)
class LoadBench:
    listeners: int = 200
    seconds: float = 300.0
    controllers: int = 2
    control_every: float = 5.0  # mean seconds between one controller's changes
    model: Path | None = None  # None: the engine's default model
    hop: float = 2.0
    threads: int = 0  # server onnxruntime threads (0: all cores)
    settle: float = 15.0  # seconds after everyone left before the memory is compared
    baseline: float = 5.0  # seconds of /status before anyone listens
    connect_batch: int = 20  # listeners connecting at once
    probe_every: float = 30.0  # a fresh listener's time to first audio, under load
    faults: bool = True  # the fault storm after the loaded phase
    out: Path = Path("reports/load")
    seed: int = 0


class CountingListener(Listener):
    """A listener that keeps no audio and no JSON beyond what a summary needs, and records
    the longest wall-clock wait between two audio blocks."""

    def __init__(self, ws, hello: dict, keep_audio: bool = False) -> None:
        super().__init__(ws, hello, keep_audio=False)
        self.keep_messages = False  # controllers keep theirs (acks, governor reports)
        self.max_wait = 0.0  # longest wait between two blocks since connect or restart_wait
        self._last_block: float | None = None

    def restart_wait(self) -> None:
        self.max_wait = 0.0

    def _handle(self, data: bytes | str) -> None:
        if isinstance(data, bytes):
            now = time.monotonic()
            if self._last_block is not None:
                self.max_wait = max(self.max_wait, now - self._last_block)
            self._last_block = now
        super()._handle(data)
        if not self.keep_messages and isinstance(data, str):
            self.messages.clear()
            self.states.clear()

    def summary(self, index: int, connect_t: float, rate: int) -> dict:
        c = self.continuity
        return {"listener": index,
                "first_audio_s": None if self.first_audio_at is None
                else round(self.first_audio_at - connect_t, 4),
                "seconds": round(c.frames / rate, 2), "blocks": c.blocks, "skips": c.skips,
                "skipped_seconds": round(c.skipped_frames / rate, 2),
                "violations": len(c.violations),  # gaps without a skip, and malformed frames:
                "sample_gaps": sum("(no skip announced)" in v for v in c.violations),
                "sequence_gaps": sum("with contiguous samples" in v for v in c.violations),
                "first_violation": (c.violations or [None])[0],
                "closed": None if self.closed is None else self.closed[0],
                "max_block_wait_s": round(self.max_wait, 4),
                "kept_up": c.skips == 0 and self.closed is None}


@dataclass
class Run:
    """What the bench gathers while it runs."""

    t0: float = field(default_factory=time.monotonic)
    samples: list[dict] = field(default_factory=list)  # /status every second
    listeners: list[dict] = field(default_factory=list)
    controls: list[dict] = field(default_factory=list)
    control_errors: list[dict] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)  # fresh listeners' first audio (s)
    hops: dict[int, dict] = field(default_factory=dict)  # governor reports by hop
    loop_lag: list[float] = field(default_factory=list)  # this process's event-loop lag (s)
    marks: dict[str, float] = field(default_factory=dict)  # phase start times (bench s)
    status: dict[str, dict] = field(default_factory=dict)  # /status at phase boundaries
    storm: dict = field(default_factory=dict)  # what the fault storm did
    storm_listeners: list[dict] = field(default_factory=list)  # summaries after the storm

    def now(self) -> float:
        return time.monotonic() - self.t0


async def _status(server: ServerProcess) -> dict:
    return await asyncio.get_running_loop().run_in_executor(None, server.status)


async def _poll(server: ServerProcess, run: Run, stop: asyncio.Event) -> None:
    previous: dict | None = None
    while not stop.is_set():
        try:
            st = await _status(server)
        except OSError:
            st = None
        if st is not None:
            t = run.now()
            sample = {"t": round(t, 2), "rss_mb": round(st["rss_bytes"] / 1e6, 2),
                      "fill_s": st["ring_fill_seconds"], "listeners": st["listeners"],
                      "underruns": st["underruns"], "skips": st["skips"], "hops": st["hops"],
                      "failures": st["failures"], "cpu_s": st["cpu_seconds"],
                      "loop_cpu_s": st["loop_cpu_seconds"], "busy_s": st["busy_seconds"]}
            if previous is not None and t > previous["t"]:
                dt = t - previous["t"]
                sample["cpu"] = round((sample["cpu_s"] - previous["cpu_s"]) / dt, 3)
                sample["loop_cpu"] = round((sample["loop_cpu_s"] - previous["loop_cpu_s"]) / dt,
                                           4)
            run.samples.append(sample)
            previous = sample
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def _lag(run: Run, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.05)
        run.loop_lag.append(loop.time() - t - 0.05)


async def _connect(url: str) -> tuple[CountingListener, float]:
    t = time.monotonic()
    client = await CountingListener.connect(url, keep_audio=False, open_timeout=30)
    await client.wait_audio(seconds=0.001, timeout=60)
    return client, t


def _change(rng: random.Random) -> tuple[str, dict]:
    kind = rng.choice(["prompt", "blend", "budget", "guidance", "seed", "variation"])
    return kind, {"prompt": {"prompt": rng.choice(PROMPTS)},
                  "blend": {"prompts": [[rng.choice(PROMPTS), 2], [rng.choice(PROMPTS), 1]]},
                  "budget": {"budget": rng.choice([1.0, 0.8, 0.6])},
                  "guidance": {"guidance": rng.choice([1.5, 2.0, 3.0])},
                  "seed": {"seed": rng.randrange(1 << 20)},
                  "variation": {"variation": rng.choice([0.0, 0.2, 0.5])}}[kind]


async def _steer(client: CountingListener, run: Run, b: LoadBench, until: float,
                 rng: random.Random, rate: int) -> None:
    while True:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * b.control_every)
        if time.monotonic() >= until - 1:
            return
        kind, setting = _change(rng)
        sent = time.monotonic()
        try:
            reply = await client.request({"type": "control", "set": setting}, timeout=60)
        except (TimeoutError, ConnectionError) as error:
            run.control_errors.append({"t": round(run.now(), 2), "kind": kind,
                                       "error": f"{type(error).__name__}: {error}"})
            continue
        if reply["type"] != "ack":
            run.control_errors.append({"t": round(run.now(), 2), "kind": kind, "reply": reply})
            continue
        run.controls.append({"t": round(run.now(), 2), "kind": kind,
                             "ack_ms": round(1e3 * (time.monotonic() - sent), 1),
                             "applies_in_s": round((reply["applied_at_sample"]
                                                    - reply["live_sample"]) / rate, 3),
                             "restarted": reply["restarted"]})


async def _probe(url: str, run: Run, b: LoadBench, until: float) -> None:
    while time.monotonic() + b.probe_every < until:
        await asyncio.sleep(b.probe_every)
        client, t = await _connect(url)
        run.probes.append(round(client.first_audio_at - t, 4))
        await client.close()


async def _run(server: ServerProcess, b: LoadBench, token: str, run: Run) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_poll(server, run, stop)),
             asyncio.create_task(_lag(run, stop))]
    deadline = time.monotonic() + 180
    while (await _status(server))["hops"] < 1:  # pre-rolled
        if time.monotonic() > deadline:
            raise RuntimeError("the engine produced no hop in 180 s")
        await asyncio.sleep(0.2)
    run.marks["baseline"] = run.now()
    await asyncio.sleep(b.baseline)
    run.status["baseline"] = await _status(server)

    run.marks["connect"] = run.now()
    listeners: list[tuple[CountingListener, float]] = []
    for i in range(0, b.listeners, b.connect_batch):
        n = min(b.connect_batch, b.listeners - i)
        listeners += await asyncio.gather(*(_connect(server.url) for _ in range(n)))
    controllers = [c for c, _ in await asyncio.gather(*(_connect(server.url)
                                                        for _ in range(b.controllers)))]
    rate = listeners[0][0].hello["sample_rate"] if listeners else 44100
    for c in controllers:
        c.keep_messages = True
        reply = await c.request({"type": "auth", "token": token})
        if not reply.get("ok"):
            raise RuntimeError(f"the controller could not authenticate: {reply}")
    print(f"load bench: {len(listeners)} listeners and {len(controllers)} controllers "
          f"connected in {run.now() - run.marks['connect']:.1f} s; running {b.seconds:g} s",
          flush=True)

    run.marks["load"] = run.now()
    run.status["load_start"] = await _status(server)
    until = time.monotonic() + b.seconds
    rng = random.Random(b.seed)
    work = [_steer(c, run, b, until, random.Random(rng.random()), rate) for c in controllers]
    work.append(_probe(server.url, run, b, until))
    steering = asyncio.gather(*work)
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    await steering
    run.status["load_end"] = await _status(server)

    for c in controllers:
        for m in c.messages:
            g = m.get("governor") if m.get("type") == "state" else None
            if g and not g.get("fresh"):
                run.hops[g["hop"]] = g
    run.listeners = [c.summary(i, t, rate) for i, (c, t) in enumerate(listeners)]
    if b.faults:
        for c, _ in listeners:
            c.restart_wait()
        await _storm(server, run, b)
        run.storm_listeners = [c.summary(i, t, rate) for i, (c, t) in enumerate(listeners)]
    run.marks["leave"] = run.now()
    await asyncio.gather(*(c.close() for c, _ in listeners), *(c.close() for c in controllers))
    await asyncio.sleep(b.settle)
    run.marks["end"] = run.now()
    run.status["after"] = await _status(server)
    stop.set()
    await asyncio.gather(*tasks)


def _vanish(port: int, i: int) -> None:
    """A peer that goes away part-way through a frame: the server's (audio) or its own."""
    peer = RawPeer(port)
    if i % 3:
        peer.read_into_audio(part=1 + 397 * i)
    else:
        peer.read_text()
        peer.send_frame(OP_TEXT, json.dumps({"type": "ping", "id": "x" * 60}).encode(),
                        upto=3 + 7 * i % 80)
    peer.reset() if i % 2 else peer.close()


async def _storm(server: ServerProcess, run: Run, b: LoadBench, vanish: int = 30,
                 never_read: int = 10, reconnects: int = 60) -> None:
    loop = asyncio.get_running_loop()
    before = await _status(server)
    run.marks["faults"] = run.now()
    t0 = time.monotonic()
    peers = [await loop.run_in_executor(None, lambda: RawPeer(server.port, rcvbuf=4096))
             for _ in range(never_read)]  # handshake, then they read nothing
    await asyncio.gather(*(loop.run_in_executor(None, _vanish, server.port, i)
                           for i in range(vanish)))
    for i in range(reconnects):
        client = await CountingListener.connect(server.url, keep_audio=False, open_timeout=30)
        if i % 3 == 0:
            await client.wait_audio(seconds=0.001, timeout=30)
        await client.close()
    deadline = time.monotonic() + 60  # the server skips the silent peers, then closes them
    while (await _status(server))["closed_slow"] < before["closed_slow"] + never_read \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    for peer in peers:
        peer.close()
    seconds = time.monotonic() - t0
    await asyncio.sleep(b.settle)
    after = await _status(server)
    run.marks["faults_end"] = run.now()
    run.status["before_faults"], run.status["after_faults"] = before, after
    run.storm = {"vanished_mid_frame": vanish, "never_read": never_read,
                 "reconnects": reconnects, "seconds": round(seconds, 1),
                 "never_read_closed": after["closed_slow"] - before["closed_slow"],
                 "server_skips": after["skips"] - before["skips"],
                 "connections": after["connections_total"] - before["connections_total"]}


def _server_args(b: LoadBench, token: str) -> list[str]:
    args = ["--hop", str(b.hop), "--log-level", "info", "--control-token", token]
    if b.model is not None:
        args += ["--model", str(b.model)]
    if b.threads:
        args += ["--threads", str(b.threads)]
    return args


def main(b: LoadBench) -> dict:
    if b.listeners < 1 or b.seconds <= 0 or b.controllers < 0:
        raise SystemExit("load: need --listeners >= 1, --seconds > 0, --controllers >= 0")
    b.out.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16)
    load_start = os.getloadavg()[0]
    cpu_start = time.process_time()
    run = Run()
    with ServerProcess(_server_args(b, token)) as server:
        asyncio.run(_run(server, b, token, run))
        server.process.terminate()
        try:
            exit_code = server.process.wait(30)
        except Exception:  # noqa: BLE001 - ServerProcess.__exit__ kills it
            exit_code = None
        log = server.lines[:]
    result = summarize(b, run, exit_code, log)
    result["machine"] = {"cpus": os.cpu_count(), "load_1min_start": round(load_start, 2),
                         "load_1min_end": round(os.getloadavg()[0], 2),
                         "bench_cpu_s": round(time.process_time() - cpu_start, 1)}
    (b.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (b.out / "results.md").write_text(markdown(result))
    plot(result, b.out / "load.png")
    print((b.out / "results.md").read_text())
    return result


def _stats(values: list[float], digits: int = 3) -> dict | None:
    if not values:
        return None
    x = np.asarray(values, dtype=float)
    return {"n": len(x), "median": round(float(np.median(x)), digits),
            "p95": round(float(np.percentile(x, 95)), digits),
            "max": round(float(x.max()), digits)}


def _rss(samples: list[dict], start: float, end: float) -> float | None:
    part = [s["rss_mb"] for s in samples if start <= s["t"] <= end]
    return round(float(np.median(part)), 1) if part else None


def summarize(b: LoadBench, run: Run, exit_code: int | None, log: list[str]) -> dict:
    listeners = run.listeners
    kept = [x for x in listeners if x["kept_up"]]
    hops = [run.hops[k] for k in sorted(run.hops)]
    hop_s = run.status["baseline"]["hop_seconds"]
    headroom = [hop_s / max(h["seconds"], 1e-9) for h in hops]
    a, z = run.status["load_start"], run.status["load_end"]
    busy = z["busy_seconds"] - a["busy_seconds"]
    produced = (z["hops"] - a["hops"]) * hop_s
    m = run.marks
    s = run.samples
    rss_base = _rss(s, m["baseline"], m["connect"])
    rss_after = _rss(s, m["end"] - min(5.0, b.settle), m["end"] + 1)
    load_samples = [x for x in s if m["load"] <= x["t"] <= m["leave"] and "cpu" in x]
    gaps = sum(x["violations"] for x in listeners)
    aggregate = round(produced / busy, 2) if busy > 0 else None
    result = {
        "bench": asdict(b) | {"out": str(b.out), "model": str(b.model)},
        "server": {"model": a["model"], "mode": a["mode"], "provider": a["provider"],
                   "hop_seconds": hop_s, "block_frames": a["block_frames"],
                   "exit_code": exit_code},
        "listeners": {
            "connected": len(listeners), "kept_up": len(kept),
            "skipped_or_closed": len(listeners) - len(kept),
            "unannounced_gaps": gaps,
            "sample_gaps": sum(x["sample_gaps"] for x in listeners),
            "sequence_gaps": sum(x["sequence_gaps"] for x in listeners),
            "gaps_in_kept_up": sum(x["violations"] for x in kept),
            "seconds_received": _stats([x["seconds"] for x in listeners], 1),
            "first_audio_s": _stats([x["first_audio_s"] for x in listeners
                                     if x["first_audio_s"] is not None]),
            "first_audio_probe_s": _stats(run.probes),
            "max_block_wait_s": _stats([x["max_block_wait_s"] for x in listeners]),
        },
        "controls": {"sent": len(run.controls) + len(run.control_errors),
                     "acked": len(run.controls), "errors": run.control_errors[:10],
                     "ack_ms": _stats([c["ack_ms"] for c in run.controls], 1),
                     "applies_in_s": _stats([c["applies_in_s"] for c in run.controls]),
                     "redone": sum(c["restarted"] for c in run.controls)},
        "generation": {"hops": len(hops), "headroom_per_hop": _stats(headroom, 2),
                       "headroom_worst": round(min(headroom), 2) if headroom else None,
                       "audio_per_busy_second": aggregate,
                       "steps": _stats([h["steps"] for h in hops], 1),
                       "underruns": z["underruns"] - a["underruns"],
                       "failures": z["failures"] - a["failures"],
                       "server_skips": z["skips"] - a["skips"]},
        "server_cpu": {"all_threads_per_s": _stats([x["cpu"] for x in load_samples], 3),
                       "event_loop_per_s": _stats([x["loop_cpu"] for x in load_samples], 4)},
        "memory": {"baseline_mb": rss_base,
                   "max_mb": round(max(x["rss_mb"] for x in s), 1) if s else None,
                   "end_of_load_mb": round(z["rss_bytes"] / 1e6, 1),
                   "after_settle_mb": rss_after,
                   "returned_within_mb": None if rss_base is None or rss_after is None
                   else round(rss_after - rss_base, 1)},
        "bench_loop_lag_s": _stats(run.loop_lag, 3),
        "marks": {k: round(v, 2) for k, v in m.items()},
        "per_listener": listeners,
        "control_log": run.controls,
        "hop_log": [{k: h.get(k) for k in ("hop", "start_sample", "steps", "budget", "seconds",
                                            "realtime", "redone", "reason")} for h in hops],
        "samples": s,
        "log_warnings": [line.rstrip() for line in log if " WARNING " in line
                         or " ERROR " in line][:40],
    }
    result["faults"] = _faults(b, run, hop_s) if run.storm else None
    mem = result["memory"]["returned_within_mb"]
    result["targets"] = {
        "zero_gaps_for_listeners_that_kept_up": bool(kept)
        and result["listeners"]["gaps_in_kept_up"] == 0,
        "every_listener_kept_up": len(kept) == len(listeners),
        "headroom_at_least_1.5x": aggregate is not None and aggregate >= HEADROOM_TARGET,
        "memory_back_at_baseline": mem is not None and mem <= MEMORY_BOUND_MB,
        "clean_shutdown": exit_code == 0,
    }
    f = result["faults"]
    if f is not None:
        result["targets"]["faults_no_gap_or_wait_longer_than_one_hop"] = (
            f["listener_gaps"] == 0 and f["listeners_skipped_or_closed"] == 0
            and f["max_block_wait_s"] is not None and f["max_block_wait_s"]["max"] <= hop_s)
        result["targets"]["faults_memory_back_at_baseline"] = (
            f["rss_delta_mb"] is not None and f["rss_delta_mb"] <= MEMORY_BOUND_MB)
    return result


def _faults(b: LoadBench, run: Run, hop_s: float) -> dict:
    m, s = run.marks, run.samples
    fb, fa = run.status["before_faults"], run.status["after_faults"]
    before = {x["listener"]: x for x in run.listeners}
    after = run.storm_listeners
    rss_before = _rss(s, m["faults"] - 5, m["faults"])
    rss_after = _rss(s, m["faults_end"] - min(5.0, b.settle), m["faults_end"])
    return {**run.storm,
            "listener_gaps": sum(x["violations"] - before[x["listener"]]["violations"]
                                 for x in after),
            "listeners_skipped_or_closed": sum(
                x["skips"] > before[x["listener"]]["skips"] or x["closed"] is not None
                for x in after),
            "max_block_wait_s": _stats([x["max_block_wait_s"] for x in after]),
            "underruns": fa["underruns"] - fb["underruns"],
            "failures": fa["failures"] - fb["failures"],
            "rss_before_mb": rss_before, "rss_after_mb": rss_after,
            "rss_delta_mb": None if rss_before is None or rss_after is None
            else round(rss_after - rss_before, 1)}


def markdown(r: dict) -> str:
    b, srv, li, c, g = r["bench"], r["server"], r["listeners"], r["controls"], r["generation"]
    mem, cpu, mach = r["memory"], r["server_cpu"], r["machine"]

    def st(x: dict | None, unit: str = "") -> str:
        return "-" if not x else f"{x['median']}{unit} / {x['p95']}{unit} / {x['max']}{unit}"

    cmd = (f"python -m engine.bench load --listeners {b['listeners']} --seconds {b['seconds']:g}"
           f" --controllers {b['controllers']} --hop {b['hop']:g}"
           + (f" --model {b['model']}" if b["model"] != "None" else "")
           + (f" --threads {b['threads']}" if b["threads"] else "")
           + ("" if b["faults"] else " --no-faults"))
    rows = [
        ("listeners connected / kept up (never skipped or closed)",
         f"{li['connected']} / {li['kept_up']}"),
        ("protocol violations, all listeners (sample gaps / sequence gaps without a skip)",
         f"{li['unannounced_gaps']} ({li['sample_gaps']} / {li['sequence_gaps']})"),
        ("listener skips (announced gaps), all listeners",
         str(sum(x["skips"] for x in r["per_listener"]))),
        ("audio received per listener, s (median / p95 / max)", st(li["seconds_received"])),
        ("time to first audio at connect, s (median / p95 / max)", st(li["first_audio_s"])),
        ("time to first audio, fresh listener under load, s", st(li["first_audio_probe_s"])),
        ("longest wait between two blocks per listener, s", st(li["max_block_wait_s"])),
        ("controls sent / acked", f"{c['sent']} / {c['acked']}"),
        ("control ack latency, wall ms (median / p95 / max)", st(c["ack_ms"])),
        ("control applies ahead of the live edge, s of audio", st(c["applies_in_s"])),
        ("hops / steps (median / p95 / max)", f"{g['hops']} / {st(g['steps'])}"),
        ("generation headroom per hop (median / p95 / max), worst",
         f"{st(g['headroom_per_hop'], 'x')}, worst {g['headroom_worst']}x"),
        ("generation headroom over the run (audio s per busy s)",
         f"{g['audio_per_busy_second']}x"),
        ("underruns / failed hops / server skips",
         f"{g['underruns']} / {g['failures']} / {g['server_skips']}"),
        ("server CPU, all threads, s per s (median / p95 / max)",
         st(cpu["all_threads_per_s"])),
        ("server CPU, event loop (fan-out), s per s", st(cpu["event_loop_per_s"])),
        ("server RSS: baseline / max / end of load / after settling, MB",
         f"{mem['baseline_mb']} / {mem['max_mb']} / {mem['end_of_load_mb']} / "
         f"{mem['after_settle_mb']} ({mem['returned_within_mb']:+} MB)"
         if mem["returned_within_mb"] is not None else "-"),
        ("bench process event-loop lag, s (median / p95 / max)", st(r["bench_loop_lag_s"])),
        ("server exit status after SIGTERM", str(srv["exit_code"])),
    ]
    f = r["faults"]
    if f is not None:
        rows += [
            ("fault storm: peers vanished mid-frame / never reading (closed by the server) / "
             "reconnections", f"{f['vanished_mid_frame']} / {f['never_read']} "
             f"({f['never_read_closed']}) / {f['reconnects']} in {f['seconds']} s"),
            ("fault storm: listener gaps / listeners skipped or closed",
             f"{f['listener_gaps']} / {f['listeners_skipped_or_closed']}"),
            ("fault storm: longest wait between two blocks per listener, s",
             st(f["max_block_wait_s"])),
            ("fault storm: underruns / failed hops", f"{f['underruns']} / {f['failures']}"),
            ("fault storm: server RSS before / after settling, MB",
             f"{f['rss_before_mb']} / {f['rss_after_mb']} ({f['rss_delta_mb']:+} MB)"
             if f["rss_delta_mb"] is not None else "-"),
        ]
    targets = "\n".join(f"- {k.replace('_', ' ')}: {'PASS' if v else 'FAIL'}"
                        for k, v in r["targets"].items())
    return "\n".join([
        "# Load run", "", f"`{cmd}`", "",
        f"Server: model {srv['model']} ({srv['mode']}) on {srv['provider']}, hop "
        f"{srv['hop_seconds']:.3f} s, blocks of {srv['block_frames']} frames, control token. "
        f"Machine: {mach['cpus']} CPUs, 1-minute load average {mach['load_1min_start']} at the "
        f"start and {mach['load_1min_end']} at the end (other work included); the bench's "
        f"clients took {mach['bench_cpu_s']} CPU s in all.", "",
        "| measure | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), "",
        "Targets (issue 11):", targets, "",
        "Headroom = hop seconds / wall seconds of the hop: how much faster than real time "
        "the hops were made (the governor takes more steps when there is time, up to the "
        "model's maximum, and fewer when behind); control ack latency = wall time "
        "from sending a control to its ack (the ack comes when the hop boundary it applies at "
        "is decided). A listener that kept up received every block in order; a skipped one "
        "was announced. load.png: server CPU and RSS over time, headroom per hop, listeners "
        "and ring fill.", ""])


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, m = r["samples"], r["marks"]
    t = [x["t"] for x in s]
    fig, ax = plt.subplots(4, 1, figsize=(9, 10))
    ax[0].plot([x["t"] for x in s if "cpu" in x], [x["cpu"] for x in s if "cpu" in x],
               label="all threads")
    ax[0].plot([x["t"] for x in s if "cpu" in x], [x["loop_cpu"] for x in s if "cpu" in x],
               label="event loop (fan-out)")
    ax[0].set_ylabel("server CPU (s per s)")
    ax[1].plot(t, [x["rss_mb"] for x in s], color="C2")
    ax[1].set_ylabel("server RSS (MB)")
    for a in ax[:2]:
        for name in ("load", "faults", "leave", "end"):
            if name in m:
                a.axvline(m[name], color="grey", lw=0.8, ls=":")
                a.text(m[name], a.get_ylim()[1], name, fontsize=7, va="top")
        a.set_xlabel("bench time (s)")
    ax[0].legend(fontsize=8)
    hops = r["hop_log"]
    hop_s = r["server"]["hop_seconds"]
    ax[2].plot([h["hop"] for h in hops], [hop_s / max(h["seconds"], 1e-9) for h in hops], ".")
    ax[2].axhline(HEADROOM_TARGET, color="C3", lw=0.8, ls="--", label="target 1.5x")
    ax[2].set_ylabel("headroom (hop s / wall s)")
    ax[2].set_xlabel("hop")
    ax[2].legend(fontsize=8)
    ax[3].plot(t, [x["listeners"] for x in s], label="listeners")
    ax3 = ax[3].twinx()
    ax3.plot(t, [x["fill_s"] for x in s], color="C1", lw=0.8, label="ring fill (s)")
    ax[3].set_ylabel("listeners")
    ax3.set_ylabel("ring fill (s)")
    ax[3].set_xlabel("bench time (s)")
    fig.suptitle(f"load run: {r['listeners']['connected']} listeners, "
                 f"{r['bench']['seconds']:g} s, model {r['server']['model']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
