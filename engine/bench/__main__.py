"""Benchmark dispatcher: ``python -m engine.bench <model> [options]``.

    python -m engine.bench codec --model exported/codec --data /root/presto-data/corpus \
        --clips 8 --out reports/codec
    python -m engine.bench presto-l --base RUN --presto-l RUN --ase RUN \
        [--budgets 1.0 0.75 0.5 0.35] [--steps 16] [--clips 16] [--out reports/presto_l]

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

    def run(a: argparse.Namespace) -> None:
        from engine.bench.presto_l import PrestoLBench, main

        main(PrestoLBench(a.base, a.presto_l, a.ase, tuple(a.budgets), a.steps, a.clips,
                          a.seconds, a.sampler, a.guidance, a.engine, a.out, a.threads, a.seed,
                          a.codec))

    p.set_defaults(func=run)


COMMANDS = (codec, presto_l)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.bench", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
