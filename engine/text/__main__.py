"""Command line for the text encoder.

    HF_HUB_OFFLINE=1 python -m engine.text export --out models/text
    python -m engine.text embed --model models/text "a slow chorale" "folk fiddle"
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.text", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    e = commands.add_parser("export", help="write text_encoder.onnx, tokenizer.json, manifest")
    e.add_argument("--out", type=Path, required=True)
    m = commands.add_parser("embed", help="print embedding norms and timing for prompts")
    m.add_argument("--model", type=Path, required=True)
    m.add_argument("prompts", nargs="+")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.command == "export":
        from engine.text.export import export_text_encoder

        t0 = time.perf_counter()
        out = export_text_encoder(args.out)
        print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
        return 0
    from engine.text.encoder import TextEncoder

    enc = TextEncoder(args.model)
    t0 = time.perf_counter()
    emb = enc.embed(args.prompts)
    ms = (time.perf_counter() - t0) * 1e3
    for prompt, row in zip(args.prompts, emb, strict=True):
        print(f"{prompt!r}: norm {float((row**2).sum()) ** 0.5:.4f}, first {row[:4].round(4)}")
    print(f"{ms:.1f} ms for {len(args.prompts)} prompts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
