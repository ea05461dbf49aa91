"""presto-live entry point.

python run_engine.py            # start the live engine on exported/ (not built yet: see README)
python run_engine.py generate --prompt "a slow chorale for strings" --seconds 32 --out a.wav \
    [--model RUN] [--steps 32] [--guidance 3] [--seed 0] [--sampler heun|euler|dpmpp2m] \
    [--continue intro.wav]          # render a clip offline with a PyTorch base-model run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXPORTED = Path(__file__).resolve().parent / "exported"


def describe_exported(root: Path = EXPORTED) -> list[str]:
    """One line per model directory under exported/, each checked against its manifest."""
    from engine.manifest import ManifestError, load_manifest

    lines = []
    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        try:
            manifest = load_manifest(model_dir)
        except ManifestError as error:
            lines.append(f"  {model_dir.name}: REFUSED - {error}")
            continue
        size_mb = sum(f["bytes"] for f in manifest["files"].values()) / 1e6
        status = manifest.get("status", "")
        lines.append(
            f"  {model_dir.name}: {manifest['kind']}, {size_mb:.1f} MB, files verified"
            + (f"\n      {status}" if status else "")
        )
    return lines


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="render a clip offline (PyTorch base model)")
    p.add_argument("--prompt", required=True, help="text prompt")
    p.add_argument("--seconds", type=float, default=32.0, help="output length (s)")
    p.add_argument("--out", type=Path, required=True, help="WAV file to write (44.1 kHz)")
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="base training run dir (default /root/presto-data/runs/base)",
    )
    p.add_argument(
        "--codec",
        type=Path,
        default=None,
        help="codec run or exported dir (default: the one the model trained with)",
    )
    p.add_argument("--steps", type=int, default=32, help="sampler steps")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=["heun", "euler", "dpmpp2m"], default="heun")
    p.add_argument(
        "--continue",
        dest="continue_from",
        type=Path,
        default=None,
        help="audio file to continue: the output starts with it",
    )


def generate(args: argparse.Namespace) -> int:
    from engine.generate import DEFAULT_MODEL, GenerateConfig
    from engine.generate import generate as run

    cfg = GenerateConfig(
        prompt=args.prompt,
        out=args.out,
        seconds=args.seconds,
        model=args.model or DEFAULT_MODEL,
        codec=args.codec,
        steps=args.steps,
        guidance=args.guidance,
        seed=args.seed,
        sampler=args.sampler,
        continue_from=args.continue_from,
    )
    try:
        info = run(cfg)
    except (ValueError, FileNotFoundError) as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    print(json.dumps(info))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    add_generate(sub)
    args = parser.parse_args(argv)
    if args.command == "generate":
        return generate(args)
    models = describe_exported()
    print("presto-live: the live engine (streaming over WebSockets) is not built yet.")
    print("Model directories shipped in exported/:")
    print("\n".join(models) if models else "  none yet")
    print("What exists today: the corpus builder (python -m engine.data), the codec, base and")
    print("Presto-L trainers (python -m engine.train), exports and benchmarks; see README.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
