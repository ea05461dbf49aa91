"""Try a MIDI controller without the engine: list ports, print what the engine would receive.

    python -m engine.midi list [--api auto|jack|alsa]
    python -m engine.midi monitor --in "nanoKONTROL" [--map FILE] [--seconds N]
    python -m engine.midi monitor --virtual presto      # then connect a controller to it
    python -m engine.midi check FILE                     # check a mapping file, list bindings

`monitor` prints each control message as one JSON line, exactly what `run_engine.py
--midi-in ...` would hand the engine, and the message counts when it stops (Ctrl-C or
--seconds). With no engine there is no state, so pick-up engages at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from engine.midi.mapping import DEFAULT_MAPPING, MappingError, load_mapping
from engine.midi.ports import PortError, choose_api, describe_ports


class _PrintSink:
    def submit(self, message: dict) -> None:
        print(json.dumps(message), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.midi", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list MIDI ports")
    p.add_argument("--api", default="auto")
    p = sub.add_parser("monitor", help="print the control messages MIDI input produces")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--in", dest="port", help="an existing port (part of its name)")
    src.add_argument("--virtual", help="create a port with this name")
    p.add_argument("--map", type=Path, default=None, help=f"mapping file ({DEFAULT_MAPPING})")
    p.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    p.add_argument("--api", default="auto")
    p = sub.add_parser("check", help="check a mapping file and list its bindings")
    p.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print(describe_ports(choose_api(args.api)))
        elif args.command == "check":
            m = load_mapping(args.file)
            print(f"{args.file}: {len(m.presets)} presets, {len(m.bindings)} bindings")
            for b in m.bindings:
                print(f"  line {b.line}: {b.describe()}")
        else:
            return _monitor(args)
    except (PortError, MappingError) as error:
        print(f"engine.midi: {error}", file=sys.stderr)
        return 2
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from engine.midi.input import MidiConfig, MidiInput

    midi = MidiInput(MidiConfig(port=args.port, virtual=args.virtual, mapping=args.map,
                                api=args.api), _PrintSink(),
                     notify=lambda e: print(json.dumps(e), file=sys.stderr, flush=True))
    midi.start()
    print(f"listening on {midi.status().get('input') or args.port or args.virtual}; "
          "Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        midi.stop()
    print(json.dumps({"status": midi.router.status()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
