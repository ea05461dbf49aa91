"""presto-live entry point.

python run_engine.py            # start the live engine on exported/ (not built yet: see README)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXPORTED = Path(__file__).resolve().parent / "exported"


def describe_exported(root: Path = EXPORTED) -> list[str]:
    """One line per model directory under exported/ (those holding a manifest.json)."""
    lines = []
    for manifest_path in sorted(root.glob("*/manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text())
            kind = manifest.get("kind", "unknown kind")
            lines.append(f"  {manifest_path.parent.name}: {kind}")
        except (OSError, ValueError) as error:
            lines.append(f"  {manifest_path.parent.name}: unreadable manifest ({error})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    models = describe_exported()
    print("presto-live: the live engine (streaming over WebSockets) is not built yet.")
    print("Model directories shipped in exported/:")
    print("\n".join(models) if models else "  none yet")
    print("What exists today: the training corpus builder (python -m engine.data build --help).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
