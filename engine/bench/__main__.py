"""Benchmark dispatcher: ``python -m engine.bench <model> [options]``.

    python -m engine.bench codec --model exported/codec --data /root/presto-data/corpus \
        --clips 8 --out reports/codec
    python -m engine.bench presto-l --base RUN --presto-l RUN --ase RUN \
        [--budgets 1.0 0.75 0.5 0.35] [--steps 16] [--clips 16] [--out reports/presto_l]
    python -m engine.bench presto-s --base RUN --presto-s RUN [RUN ...] [--budgets 1.0 0.8] \
        [--clips 32] [--seconds 32] [--out reports/presto_s]
    python -m engine.bench quality --model exported/base --data /root/presto-data/corpus \
        [--n 32] [--seconds 10] [--steps 8 16 32 64] [--quick] [--out reports/quality] [--docs]
    python -m engine.bench midi [--period 128] [--storm 10000] [--out reports/midi]
    python -m engine.bench browser [--seconds 300] [--model DIR] [--hop S] \
        [--screenshot docs/browser.png] [--out reports/browser]
    python -m engine.bench stream [--model DIR] [--minutes 1] [--listeners 100] [--hop 2.0] \
        [--out reports/stream]
    python -m engine.bench load [--listeners 200] [--seconds 300] [--controllers 2] \
        [--model DIR] [--hop 2.0] [--no-faults] [--out reports/load]

Adding a benchmark = one function below that adds its subparser and sets ``func``;
then list it in COMMANDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import dispatch


def codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codec", help="codec vs Griffin-Lim distances, decode speed, listening pack")
    p.add_argument("--model", type=Path, required=True, help="exported codec model dir")
    p.add_argument("--data", type=Path, required=True, help="corpus dir (uses its test split)")
    p.add_argument("--clips", type=int, default=8, help="test clips to compare")
    p.add_argument("--seconds", type=float, default=8.0, help="max seconds per clip")
    p.add_argument("--out", type=Path, default=Path("reports/codec"), help="report dir")
    p.add_argument("--runs", type=int, default=7, help="timed decode runs (median)")
    p.add_argument("--split", default="test", help="corpus split to score")
    p.add_argument("--record", action="store_true", help="store the figures in the manifest")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.codec import CodecBench, main

        main(CodecBench(a.model, a.data, a.clips, a.seconds, a.out, a.runs, a.record, a.split))

    p.set_defaults(func=run)


def presto_l(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-l", help="base vs Presto-L vs ASE early exit: speed, FD, tempo")
    p.add_argument("--base", type=Path, required=True, help="base training run")
    p.add_argument("--presto-l", type=Path, required=True, help="engine.train presto-l run")
    p.add_argument("--ase", type=Path, required=True, help="presto-l --baseline ase run")
    p.add_argument("--budgets", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.35])
    p.add_argument("--steps", type=int, default=16, help="sampler steps")
    p.add_argument("--clips", type=int, default=16, help="held-out clips (valid split)")
    p.add_argument("--seconds", type=float, default=32.0, help="clip length")
    p.add_argument("--sampler", default="heun", help="heun | euler | dpmpp2m")
    p.add_argument("--guidance", type=float, default=3.0, help="CFG weight")
    p.add_argument("--engine", choices=["onnx", "torch"], default="onnx")
    p.add_argument("--out", type=Path, default=Path("reports/presto_l"), help="report dir")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--codec", type=Path, default=None, help="codec (default: the base run's)")
    p.add_argument("--classifier", type=Path, default=Path("reports/quality/classifier"),
                   help="the quality yardstick's classifier dir (FD classifier, family acc)")
    p.add_argument("--cache", type=Path, default=None,
                   help="latent cache of the held-out clips (default: the runs')")
    p.add_argument("--data", type=Path, default=None,
                   help="corpus of the held-out clips (default: the runs')")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.presto_l import PrestoLBench, main

        main(PrestoLBench(a.base, a.presto_l, a.ase, tuple(a.budgets), a.steps, a.clips,
                          a.seconds, a.sampler, a.guidance, a.engine, a.out, a.threads, a.seed,
                          a.codec, a.classifier, a.cache, a.data))

    p.set_defaults(func=run)


def presto_s(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-s", help="base (32 steps, CFG) vs Presto-S at 1/2/4/8 steps")
    p.add_argument("--base", type=Path, required=True, help="base training run")
    p.add_argument("--presto-s", type=Path, nargs="+", required=True,
                   help="engine.train presto-s / presto-ls runs (ablations welcome)")
    p.add_argument("--text", type=Path, default=Path("exported/text"), help="text encoder dir")
    p.add_argument("--codec", type=Path, default=Path("exported/codec"), help="codec dir")
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8], help="Presto-S steps")
    p.add_argument("--budgets", type=float, nargs="+", default=[1.0],
                   help="layer budgets for Presto-LS runs")
    p.add_argument("--base-steps", type=int, default=32, help="base model sampler steps")
    p.add_argument("--guidance", type=float, default=3.0, help="base model CFG weight")
    p.add_argument("--clips", type=int, default=32,
                   help="held-out clips (valid split); 16 flatter the distilled models' FD ratio")
    p.add_argument("--seconds", type=float, default=32.0, help="clip length")
    p.add_argument("--diversity-seeds", type=int, default=8, help="seeds for one prompt")
    p.add_argument("--out", type=Path, default=Path("reports/presto_s"), help="report dir")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", type=Path, default=None,
                   help="where the exported models live (default OUT/models; reused if current)")
    p.add_argument("--classifier", type=Path, default=Path("reports/quality/classifier"),
                   help="the quality yardstick's classifier dir (FD classifier, family acc)")
    p.add_argument("--cache", type=Path, default=None,
                   help="latent cache of the held-out clips (default: the base run's)")
    p.add_argument("--data", type=Path, default=None,
                   help="corpus of the held-out clips (default: the base run's)")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.presto_s import PrestoSBench, main

        main(PrestoSBench(a.base, tuple(a.presto_s), a.text, a.codec, tuple(a.steps),
                          tuple(a.budgets), a.base_steps, "dpmpp_2m", a.guidance, a.clips,
                          a.seconds, a.diversity_seeds, a.out, a.threads, a.seed, a.models,
                          a.classifier, a.cache, a.data))

    p.set_defaults(func=run)


def speed(sub: argparse._SubParsersAction) -> None:
    from engine.bench.speed import add_arguments

    p = sub.add_parser("speed", help="text to waveform per model: onnxruntime vs PyTorch, memory")
    add_arguments(p)

    def run(a: argparse.Namespace) -> None:
        from engine.bench.speed import run

        raise SystemExit(run(a))

    p.set_defaults(func=run)


def quality(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quality", help="quality yardstick: FD, prompt adherence, continuation")
    p.add_argument("--model", type=Path, required=True, help="exported model dir")
    p.add_argument("--data", type=Path, required=True, help="corpus dir (test split prompts)")
    p.add_argument("--n", type=int, default=32, help="prompts = clips per row")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length")
    p.add_argument("--steps", type=int, nargs="+", default=None,
                   help="step counts (default 8 16 32 64; 1 2 4 8 for a distilled model)")
    p.add_argument("--default-steps", type=int, default=None,
                   help="steps of the baseline, continuation and pack rows (model default)")
    p.add_argument("--context", type=float, default=5.0, help="continuation: seconds given")
    p.add_argument("--classifier", type=Path, default=Path("reports/quality/classifier"),
                   help="dir with classifier.onnx + classifier.json (engine.train classifier)")
    p.add_argument("--out", type=Path, default=Path("reports/quality"), help="report dir")
    p.add_argument("--docs", nargs="?", type=Path, const=Path("docs/benchmarks.md"),
                   default=None, help="refresh the quality table in this markdown file")
    p.add_argument("--quick", action="store_true", help="8 prompts, default steps only")
    p.add_argument("--no-pack", action="store_true", help="skip the listening pack")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (generation)")
    p.add_argument("--guidance", type=float, default=None, help="CFG weight (model default)")
    p.add_argument("--continuation-only", action="store_true",
                   help="only the rows the continuation verdict needs (real, default steps, "
                        "continuation): for a larger --n")
    p.add_argument("--context-guidance", type=float, default=0.0,
                   help="the continuation row's context guidance weight (0: off)")
    p.add_argument("--context-min-sigma", type=float, default=0.0,
                   help="the continuation row gives the network its context inputs only at "
                        "noise levels >= this (below, the pasted frames of x alone; 0: always)")

    def run(a: argparse.Namespace) -> None:
        import sys

        from engine.bench.quality.bench import QualityBench, main

        try:
            main(QualityBench(a.model, a.data, a.n, a.seconds,
                              tuple(a.steps) if a.steps else None, a.default_steps, a.context,
                              a.classifier, a.out, a.docs, a.quick, a.seed, a.threads,
                              a.guidance, not a.no_pack, a.continuation_only,
                              a.context_guidance, a.context_min_sigma))
        except ValueError as error:  # bad arguments or inputs (ManifestError included)
            print(f"quality: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    p.set_defaults(func=run)


def midi(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("midi", help="MIDI: CC-to-control-queue latency, 10,000-message storm")
    p.add_argument("--period", type=int, default=128, help="JACK frames per cycle (48 kHz)")
    p.add_argument("--storm-period", type=int, default=1024, help="JACK cycle for the storm")
    p.add_argument("--messages", type=int, default=200, help="latency: CCs per round")
    p.add_argument("--storm", type=int, default=10_000, help="messages per storm")
    p.add_argument("--seconds", type=float, default=1.0, help="storm length")
    p.add_argument("--reps", type=int, default=3, help="quiet/storm window pairs")
    p.add_argument("--model", type=Path, default=None,
                   help="served model dir as the workload (default: a matmul proxy)")
    p.add_argument("--out", type=Path, default=Path("reports/midi"), help="report dir")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.midi import MidiBench, main

        main(MidiBench(a.out, a.period, a.storm_period, a.messages, 2, a.storm, a.seconds,
                       a.reps, a.model))

    p.set_defaults(func=run)


def browser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("browser", help="the page in headless Chromium: first sound, underruns")
    p.add_argument("--seconds", type=float, default=300.0, help="soak length at default settings")
    p.add_argument("--model", type=Path, default=None, help="exported model (engine default)")
    p.add_argument("--hop", type=float, default=None, help="engine hop (s); 0.2 for micro models")
    p.add_argument("--loads", type=int, default=3, help="page loads timed for the first sound")
    p.add_argument("--query", default="", help="page URL options, e.g. ?format=f32le&rate=48000")
    p.add_argument("--threads", type=int, default=0, help="engine threads (0: all cores)")
    p.add_argument("--out", type=Path, default=Path("reports/browser"), help="report dir")
    p.add_argument("--screenshot", type=Path, default=None, help="steer, then save a PNG")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.browser import BrowserBench, main

        main(BrowserBench(a.model, a.seconds, a.hop, a.loads, a.query, a.out, a.screenshot,
                          a.threads))

    p.set_defaults(func=run)


def stream(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stream", help="live engine: headroom, underruns, control latency, "
                       "100 listeners, memory")
    p.add_argument("--model", type=Path, default=None, help="exported model (engine default)")
    p.add_argument("--minutes", type=float, default=1.0, help="total length of the 3 phases")
    p.add_argument("--listeners", type=int, default=100, help="listeners in the fan-out phase")
    p.add_argument("--hop", type=float, default=2.0, help="hop (s) of phases 1 and 2")
    p.add_argument("--low-latency-hop", type=float, default=0.5, help="hop (s) of phase 3")
    p.add_argument("--low-latency-margin", type=float, default=0.15, help="margin (s), phase 3")
    p.add_argument("--threads", type=int, default=0, help="server threads (0: all cores)")
    p.add_argument("--out", type=Path, default=Path("reports/stream"), help="report dir")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.stream import StreamBench, main

        main(StreamBench(a.model, a.minutes, a.listeners, a.hop, a.low_latency_hop,
                         a.low_latency_margin, a.threads, a.out))

    p.set_defaults(func=run)


def load(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("load", help="N listeners + controllers on loopback: contiguity, first "
                       "audio, ack latency, headroom, server CPU and memory")
    p.add_argument("--listeners", type=int, default=200, help="WebSocket listeners")
    p.add_argument("--seconds", type=float, default=300.0, help="length of the loaded phase")
    p.add_argument("--controllers", type=int, default=2, help="connections sending changes")
    p.add_argument("--control-every", type=float, default=5.0,
                   help="mean seconds between one controller's changes")
    p.add_argument("--model", type=Path, default=None, help="exported model (engine default)")
    p.add_argument("--hop", type=float, default=2.0, help="engine hop (s)")
    p.add_argument("--threads", type=int, default=0, help="server threads (0: all cores)")
    p.add_argument("--settle", type=float, default=15.0,
                   help="seconds after everyone left before memory is compared")
    p.add_argument("--no-faults", action="store_true",
                   help="skip the fault storm (vanishing, silent, reconnecting peers)")
    p.add_argument("--out", type=Path, default=Path("reports/load"), help="report dir")

    def run(a: argparse.Namespace) -> None:
        from engine.bench.load import LoadBench, main

        main(LoadBench(listeners=a.listeners, seconds=a.seconds, controllers=a.controllers,
                       control_every=a.control_every, model=a.model, hop=a.hop,
                       threads=a.threads, settle=a.settle, faults=not a.no_faults, out=a.out))

    p.set_defaults(func=run)


COMMANDS = (codec, presto_l, speed, presto_s, quality, midi, browser, stream, load)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.bench", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
