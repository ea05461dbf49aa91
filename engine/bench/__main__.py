"""Benchmark dispatcher: ``python -m engine.bench <model> [options]``.

    python -m engine.bench codec --model exported/codec --data /root/presto-data/corpus \
        --clips 8 --out reports/codec

Adding a benchmark = one function below that adds its subparser and sets ``func``;
then list it in COMMANDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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


COMMANDS = (codec,)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__)
    sub = parser.add_subparsers(dest="model", required=True)
    for add in COMMANDS:
        add(sub)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
