"""The page in headless Chromium against a real engine on loopback: first sound, underruns.

    python -m engine.bench browser [--seconds 300] [--model DIR] [--hop S] [--loads 3]
        [--query "?format=f32le"] [--out reports/browser] [--screenshot docs/browser.png]

1. Starts `python run_engine.py` on a free port and waits until it is warm (model loaded,
   governor calibrated, audio pre-rolled).
2. Time to first sound: opens the page `--loads` times, each in a fresh browser context
   (nothing cached), and reads when its worklet first played a non-silent sample, on the
   page's clock (performance.now(), 0 = navigation start) mapped to the speaker with
   AudioContext.getOutputTimestamp(): page load -> first audible sample.
3. Soak: keeps the last page playing for `--seconds` at default settings and samples it
   once a second: underruns (the worklet's), buffered and target milliseconds, measured
   jitter, end-to-end latency (server live edge -> speaker), and the server's /status.
4. With --screenshot, steers the page like a performer (a two-prompt blend, the budget,
   a seed) and saves a screenshot once the changes are heard.

Writes OUT/browser.json (every sample) and OUT/results.md, and prints the summary.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.bench.web_page import CHROMIUM, EngineProcess, free_port, launch_chromium

SAMPLE = """() => { const r = presto.report || {}; return {
  t: performance.now(), status: presto.status, connections: presto.connections,
  underruns: r.underruns, underrunMs: r.underrunFrames / r.rate * 1000,
  bufferedMs: r.buffered / r.rate * 1000, targetMs: presto.targetMs, jitterMs: presto.jitterMs,
  latencyMs: presto.latencyMs, trims: r.trims, gaps: r.gaps, late: r.late, state: r.state,
  skips: presto.audio.skips, rms: r.rms, audibleFrames: r.audibleFrames,
  contextRate: r.contextRate, rate: r.rate, errors: presto.errors.length }; }"""


@dataclass(frozen=True)
class BrowserBench:
    model: Path | None = None  # exported model dir; None = the engine's default
    seconds: float = 300.0  # soak length
    hop: float | None = None  # --hop for the engine; None = its default
    loads: int = 3  # page loads timed for the first sound
    query: str = ""  # appended to the page URL, e.g. "?format=f32le&rate=48000"
    out: Path = Path("reports/browser")
    screenshot: Path | None = None
    threads: int = 0  # engine onnxruntime threads (0 = the machine's cores)


def _status(http: str) -> dict:
    with urllib.request.urlopen(http + "/status", timeout=10) as r:
        return json.loads(r.read())


def _wait_warm(http: str, timeout: float = 300.0) -> dict:
    """Until the engine has calibrated and pre-rolled (audio queued for the first listener)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = _status(http)
        if st["hops"] > 0 and st["ring_fill_seconds"] > 0:
            return st
        time.sleep(0.2)
    raise RuntimeError("the engine did not pre-roll within the timeout")


def _first_sound(browser, url: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => presto.firstAudibleMs !== null", timeout=30_000)
    out = page.evaluate("() => ({first: presto.firstAudibleMs, hello: performance.now(), "
                        "nav: performance.getEntriesByType('navigation')[0].loadEventEnd})")
    context.close()
    return out


def _steer(page) -> None:
    """What a performer does: a blend of two prompts, the budget, a new seed."""
    page.locator("#blend-add").click()
    rows = page.locator("#blend-list li")
    rows.nth(0).locator("input[type=text]").fill("a slow chorale for strings")
    rows.nth(1).locator("input[type=text]").fill("a gentle piano piece")
    rows.nth(1).locator("input[type=range]").fill("0.4")
    page.locator("#blend-send").click()
    page.locator("#budget").fill("0.75")
    page.locator("#seed").fill("1234")
    page.locator("#seed-send").click()
    try:
        page.wait_for_function("() => presto.acks.length >= 2 && Array.from(document."
                               "querySelectorAll('#change-list li')).every("
                               "(li) => li.dataset.status === 'heard')", timeout=60_000)
    except Exception as error:  # say what the page shows
        raise RuntimeError(f"the changes were not heard: {error}\nchanges:\n"
                           f"{page.locator('#change-list').inner_text()}\nmessages:\n"
                           f"{page.locator('#errors').inner_text()}") from None
    page.wait_for_timeout(2000)  # a few seconds of spectrogram after the change


def summarize(samples: list[dict], firsts: list[float], server: dict,
              cfg: BrowserBench) -> dict:
    playing = [s for s in samples if s["state"] == "playing"]
    last = samples[-1]

    def spread(key: str) -> dict:
        values = [s[key] for s in playing if s[key] is not None]
        if not values:
            return {}
        return {"min": round(min(values), 1), "mean": round(statistics.fmean(values), 1),
                "max": round(max(values), 1)}

    return {
        "seconds": cfg.seconds, "model": str(cfg.model) if cfg.model else "default",
        "hop": cfg.hop, "query": cfg.query,
        "first_sound_ms": {"loads": [round(f) for f in firsts],
                           "median": round(statistics.median(firsts)),
                           "max": round(max(firsts))},
        "underruns": last["underruns"], "underrun_ms": round(last["underrunMs"], 1),
        "buffered_ms": spread("bufferedMs"), "target_ms": spread("targetMs"),
        "jitter_ms": spread("jitterMs"), "latency_ms": spread("latencyMs"),
        "trims": last["trims"], "gaps": last["gaps"], "skips": last["skips"],
        "reconnections": last["connections"] - 1, "page_errors": last["errors"],
        "context_rate": last["contextRate"], "engine_rate": last["rate"],
        "server": {k: server.get(k) for k in ("underruns", "skips", "realtime_factor",
                                              "clock_slips", "hop_seconds", "steps",
                                              "layer_budget", "model", "provider")},
    }


def report_md(s: dict) -> str:
    f = s["first_sound_ms"]
    rows = [
        ("page load -> first audible sample", f"median {f['median']} ms, max {f['max']} ms "
         f"({', '.join(map(str, f['loads']))})"),
        ("underruns (worklet)", f"{s['underruns']} ({s['underrun_ms']} ms)"),
        ("buffered", _mm(s["buffered_ms"])), ("buffer target", _mm(s["target_ms"])),
        ("jitter (peak to peak, 10 s window)", _mm(s["jitter_ms"])),
        ("latency (server live edge -> speaker)", _mm(s["latency_ms"])),
        ("trims / gaps / skips / reconnections",
         f"{s['trims']} / {s['gaps']} / {s['skips']} / {s['reconnections']}"),
        ("server underruns / clock slips", f"{s['server']['underruns']} / "
         f"{s['server']['clock_slips']}"),
        ("rates", f"engine {s['engine_rate']} Hz -> context {s['context_rate']} Hz"),
    ]
    lines = [f"# Browser soak: {s['seconds']:g} s, model {s['model']}, hop {s['hop']}, "
             f"query {s['query'] or '(defaults)'}", "", "| figure | value |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n"


def _mm(d: dict) -> str:
    return f"{d['min']} / {d['mean']} / {d['max']} ms (min / mean / max)" if d else "-"


def main(cfg: BrowserBench) -> dict:
    if not CHROMIUM.exists():
        raise SystemExit(f"browser: no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    from engine.generate import default_model

    model = cfg.model or default_model()
    if not (model / "manifest.json").is_file():
        raise SystemExit(f"browser: no exported model at {model}: pass --model DIR")
    args = ["--hop", str(cfg.hop)] if cfg.hop else []
    cfg.out.mkdir(parents=True, exist_ok=True)
    with EngineProcess(model, free_port(), args, threads=cfg.threads) as engine, \
            sync_playwright() as p:
        _wait_warm(engine.http)
        time.sleep(1.0)
        browser = launch_chromium(p)
        url = engine.http + "/" + cfg.query
        firsts = []
        for i in range(cfg.loads):
            first = _first_sound(browser, url)["first"]
            firsts.append(first)
            print(f"browser: load {i + 1}: first audible sample {first:.0f} ms after "
                  "navigation start", file=sys.stderr)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => presto.report && presto.report.state === 'playing'",
                               timeout=30_000)
        samples = []
        start = time.monotonic()
        while time.monotonic() - start < cfg.seconds:
            time.sleep(1.0)
            samples.append(page.evaluate(SAMPLE))
            if len(samples) % 30 == 0:
                s = samples[-1]
                print(f"browser: {len(samples)} s: underruns {s['underruns']}, buffered "
                      f"{s['bufferedMs']:.0f} ms (target {s['targetMs']:.0f}), jitter "
                      f"{s['jitterMs']:.1f} ms, latency {s['latencyMs'] or 0:.0f} ms",
                      file=sys.stderr)
        server = _status(engine.http)
        if cfg.screenshot is not None:
            _steer(page)
            cfg.screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(cfg.screenshot), full_page=True)
            print(f"browser: wrote {cfg.screenshot}", file=sys.stderr)
        context.close()
        browser.close()
    summary = summarize(samples, firsts, server, cfg)
    (cfg.out / "browser.json").write_text(json.dumps(
        {"config": {k: str(v) for k, v in asdict(cfg).items()}, "summary": summary,
         "samples": samples}, indent=1) + "\n")
    (cfg.out / "results.md").write_text(report_md(summary))
    print(report_md(summary))
    return summary
