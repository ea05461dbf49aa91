"""Command line: python -m engine.data build --out DIR [...] | stats DIR.

python -m engine.data build --out data/corpus --hours 20 --workers 2
python -m engine.data build --out data/corpus --hours 20 --workers 2   # resumes
python -m engine.data build --out data/eval --limit 3400 --splits test   # test works only
python -m engine.data stats data/corpus
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from engine.data.build import BuildConfig, BuildError, build
from engine.data.render import DEFAULT_SOUNDFONT, RendererUnavailable
from engine.data.stats import corpus_stats, format_stats, plot_stats
from engine.data.works import SPLITS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="render music21's corpus to a captioned audio corpus")
    b.add_argument("--out", type=Path, required=True, help="corpus directory (created/resumed)")
    b.add_argument("--limit", type=int, default=None, help="at most this many works")
    b.add_argument("--hours", type=float, default=None, help="stop at this many hours of audio")
    b.add_argument("--splits", nargs="+", choices=SPLITS, default=None,
                   help="render only works of these splits (after --limit), e.g. test for an "
                   "evaluation machine; a later build without it into the same DIR adds the rest")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    b.add_argument("--renders-per-work", type=int, default=2)
    b.add_argument("--channels", type=int, default=1, choices=(1, 2))
    b.add_argument("--soundfont", type=Path, default=DEFAULT_SOUNDFONT)
    b.add_argument("-v", "--verbose", action="store_true", help="log each skipped work")
    s = commands.add_parser("stats", help="summarise a built corpus")
    s.add_argument("corpus", type=Path)
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--plot", type=Path, default=None, help="also save bar charts to this PNG")
    args = parser.parse_args(argv)

    if args.command == "stats":
        try:
            stats = corpus_stats(args.corpus)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(json.dumps(stats, indent=1) if args.json else format_stats(stats))
        if args.plot:
            plot_stats(stats, args.plot)
        return 0

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    logging.getLogger("music21").setLevel(logging.ERROR)
    cfg = BuildConfig(
        out=args.out,
        seed=args.seed,
        limit=args.limit,
        hours=args.hours,
        splits=tuple(args.splits) if args.splits else None,
        workers=args.workers,
        renders_per_work=args.renders_per_work,
        channels=args.channels,
        soundfont=args.soundfont,
    )
    try:
        stats = build(cfg)
    except (BuildError, RendererUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_stats(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
