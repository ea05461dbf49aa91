"""Training dispatcher: ``python -m engine.train <model> [options]``.

    python -m engine.train codec --data /root/presto-data/corpus \
        --out /root/presto-data/runs/codec --preset cpu [--resume] [--steps N] [--minutes M]
    python -m engine.train base --data /root/presto-data/corpus \
        --codec /root/presto-data/runs/codec --out /root/presto-data/runs/base --preset tiny
    python -m engine.train presto-l --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/presto-l [--baseline ase] [--resume] [--steps N]

Adding a model = one function below that adds its subparser and sets ``func``;
then list it in COMMANDS. Imports stay inside ``run`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli import dispatch


def codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codec", help="latent audio codec (autoencoder)")
    p.add_argument("--data", type=Path, required=True, help="corpus dir with metadata.jsonl")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="cpu", help="codec preset (engine.codec.config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")

    def run(a: argparse.Namespace) -> None:
        from engine.train.codec import CodecRun, main

        main(CodecRun(a.data, a.out, a.preset, a.resume, a.steps, a.minutes))

    p.set_defaults(func=run)


def base(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("base", help="base DiT under EDM on cached codec latents")
    p.add_argument("--data", type=Path, required=True, help="corpus dir with metadata.jsonl")
    p.add_argument(
        "--codec",
        type=Path,
        required=True,
        help="codec run dir (checkpoint.pt, latent_stats.json) or exported codec dir",
    )
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="tiny", help="base preset (engine.train.base_config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--cache", type=Path, default=None, help="latent cache dir (RUN/latents)")
    p.add_argument("--cache-only", action="store_true", help="build the latent cache and stop")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: all cores; 1 leaves a core for other work)")

    def run(a: argparse.Namespace) -> None:
        from engine.train.base import BaseRun, main

        main(
            BaseRun(
                a.data,
                a.codec,
                a.out,
                a.preset,
                a.resume,
                a.steps,
                a.cache,
                a.cache_only,
                a.minutes,
                a.threads,
            )
        )

    p.set_defaults(func=run)


def presto_l(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presto-l", help="Presto-L layer-dropping fine-tune of a base run")
    p.add_argument("--teacher", type=Path, required=True, help="base run dir (checkpoint.pt)")
    p.add_argument("--out", type=Path, required=True, help="run dir")
    p.add_argument("--preset", default="tiny", help="preset (engine.train.presto_l_config)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    p.add_argument("--steps", type=int, default=None, help="total steps (overrides preset)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (LR follows)")
    p.add_argument("--baseline", choices=["ase"], default=None,
                   help="ase: fine-tune the plain early-exit baseline instead of the reroute")
    p.add_argument("--cache", type=Path, default=None, help="latent cache (the teacher's)")

    def run(a: argparse.Namespace) -> None:
        from engine.train.presto_l import PrestoLRun, main

        main(PrestoLRun(a.teacher, a.out, a.preset, a.resume, a.steps, a.baseline, a.cache,
                        a.minutes))

    p.set_defaults(func=run)


COMMANDS = (codec, base, presto_l)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.train", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
