"""One subcommand dispatcher for the `python -m engine.<tool> <model>` command lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

AddCommand = Callable[[argparse._SubParsersAction], None]  # adds a subparser, sets `func`


def dispatch(
    prog: str,
    description: str | None,
    commands: Sequence[AddCommand],
    argv: list[str] | None = None,
) -> None:
    """Build the parser from each command's adder, parse argv and run the chosen `func`."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="model", required=True)
    for add in commands:
        add(sub)
    args = parser.parse_args(argv)
    args.func(args)
