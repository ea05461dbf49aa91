"""Export dispatcher: ``python -m engine.export <model> [options]``.

    python -m engine.export codec --run /root/presto-data/runs/codec --out exported/codec
    python -m engine.export text --out exported/text
    python -m engine.export model --run /root/presto-data/runs/base --out exported/base
    python -m engine.export decoder-int8 --codec exported/codec --cache LATENTS

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


def text(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="all-MiniLM-L6-v2 -> text_encoder.onnx + tokenizer.json")
    p.add_argument("--out", type=Path, required=True, help="model dir to write")

    def run(a: argparse.Namespace) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from engine.text.export import export_text_encoder

        print(f"wrote {export_text_encoder(a.out)}")

    p.set_defaults(func=run)


def model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="DiT run (base / Presto) -> served model directory")
    p.add_argument("--run", type=Path, required=True, help="training run dir (checkpoint.pt)")
    p.add_argument("--out", type=Path, required=True, help="model dir to write")
    p.add_argument("--text", type=Path, default=Path("exported/text"), help="text encoder dir")
    p.add_argument("--codec", type=Path, default=Path("exported/codec"), help="codec dir")
    p.add_argument("--name", default=None, help="model name (default: the out dir's name)")
    p.add_argument("--kind", default="base", choices=["base", "presto-l", "presto-s",
                                                       "presto-ls"], help="how it was trained")
    p.add_argument("--mode", default="diffusion", choices=["diffusion", "distilled"],
                   help="how it is sampled: EDM ODE + guidance, or Presto-S few-step")
    p.add_argument("--steps", type=int, default=32, help="default step count")
    p.add_argument("--guidance", type=float, default=3.0, help="default CFG weight")
    p.add_argument("--sampler", default="heun", choices=["heun", "euler", "dpmpp_2m"])
    p.add_argument("--budget", type=float, default=1.0, help="default layer budget")
    p.add_argument("--budgets", type=float, nargs="+", default=None,
                   help="budgets the model was trained for (the live governor steps down "
                        "through them); default: the default budget and 1.0")

    def run(a: argparse.Namespace) -> None:
        from engine.export.model import main

        main(a.run, a.out, a.text, a.codec, a.name, a.mode, a.steps, a.guidance, a.sampler,
             a.budget, a.kind, a.budgets)

    p.set_defaults(func=run)


def decoder_int8(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decoder-int8", help="codec dir -> decoder_int8.onnx (static int8, "
                                            "calibrated on a latent cache) for the CPU")
    p.add_argument("--codec", type=Path, default=Path("exported/codec"), help="codec dir")
    p.add_argument("--cache", type=Path, required=True,
                   help="latent cache (engine.train base --cache) of the codec's latents")
    p.add_argument("--crops", type=int, default=32, help="calibration windows (train split)")
    p.add_argument("--frames", type=int, default=344, help="latent frames per window")
    p.add_argument("--seed", type=int, default=0)

    def run(a: argparse.Namespace) -> None:
        from engine.export.decoder_int8 import main
        from engine.manifest import ManifestError

        try:
            main(a.codec, a.cache, a.crops, a.frames, a.seed)
        except (ValueError, ManifestError, FileNotFoundError) as error:
            raise SystemExit(f"decoder-int8: {error}") from None

    p.set_defaults(func=run)


COMMANDS = (codec, text, model, decoder_int8)


def main(argv: list[str] | None = None) -> None:
    dispatch("python -m engine.export", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    main()
