"""presto-live entry point.

python run_engine.py            # start the live engine on exported/ (not built yet: see README)
python run_engine.py generate --prompt "a slow chorale for strings" --seconds 32 --out a.wav \
    [--model exported/base] [--steps N] [--guidance G] [--budget B] [--seed 0] \
    [--sampler heun|euler|dpmpp_2m] [--continue intro.wav] [--device auto|cpu|cuda] [--json]
                                    # render a clip offline (onnxruntime, no torch)
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
    p = sub.add_parser("generate", help="render a clip offline with an exported model")
    p.add_argument("--prompt", required=True, help="text prompt")
    p.add_argument("--seconds", type=float, default=32.0, help="output length (s)")
    p.add_argument("--out", type=Path, required=True, help="WAV file to write (44.1 kHz)")
    p.add_argument("--model", type=Path, default=None,
                   help="exported model dir (default exported/presto-ls, else exported/base)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (model default)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance (diffusion models; model default)")
    p.add_argument("--budget", type=float, default=None, help="layer budget 0..1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=["heun", "euler", "dpmpp_2m"], default=None)
    p.add_argument("--continue", dest="continue_from", type=Path, default=None,
                   help="audio file to continue: the output starts with it")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def generate(args: argparse.Namespace) -> int:
    import warnings

    from engine.generate import GenerateConfig
    from engine.generate import generate as run
    from engine.manifest import ManifestError

    cfg = GenerateConfig(prompt=args.prompt, out=args.out, seconds=args.seconds,
                         model=args.model, steps=args.steps, guidance=args.guidance,
                         budget=args.budget, seed=args.seed, sampler=args.sampler,
                         continue_from=args.continue_from, device=args.device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            info = run(cfg)
        except (ValueError, FileNotFoundError, ManifestError) as error:
            print(f"generate: {error}", file=sys.stderr)
            return 2
    for w in caught:
        print(f"generate: warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(info))
    else:
        print(f"wrote {info['out']}: {info['audio_seconds']:.1f} s of audio in "
              f"{info['generate_seconds']:.2f} s ({info['x_realtime']}x real time; model "
              f"{info['model']}, {info['steps']} steps, budget {info['budget']}, "
              f"{info['provider']}; load {info['load_seconds']:.2f} s)")
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
