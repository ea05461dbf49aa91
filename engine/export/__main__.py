"""Export dispatcher: ``python -m engine.export <model> [options]``.

    python -m engine.export codec --run /root/presto-data/runs/codec --out exported/codec

Adding a model = one function below that adds its subparser and sets ``func``;
then list it in COMMANDS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import dispatch


def codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codec", help="latent audio codec -> encoder.onnx + decoder.onnx")
    p.add_argument("--run", type=Path, required=True, help="training run dir")
    p.add_argument("--out", type=Path, required=True, help="model dir to write")

    def run(a: argparse.Namespace) -> None:
        from engine.export.codec import main

        main(a.run, a.out)

    p.set_defaults(func=run)


COMMANDS = (codec,)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.export", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
