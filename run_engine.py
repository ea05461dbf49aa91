"""presto-live entry point.

python run_engine.py [--host 127.0.0.1] [--port 8765] [--model DIR] [--hop 2.0] \
    [--record live.flac] [--control-token T] [--allow-origin ORIGIN] \
    [--device auto|cpu|cuda] [--decoder auto|float|int8] [--threads N] [--log-level info] \
    [--midi-in NAME | --midi-virtual NAME] [--midi-out NAME] [--midi-map FILE] [--midi-list]
                                    # the live engine: http://127.0.0.1:8765/, ws://.../ws
python run_engine.py status         # the model directories shipped in exported/, verified
python run_engine.py generate --prompt "a slow chorale for strings" --seconds 32 --out a.wav \
    [--model exported/base] [--steps N] [--guidance G] [--budget B] [--seed 0] \
    [--sampler heun|euler|dpmpp_2m] [--continue intro.wav [--context-guidance W] \
    [--context-min-sigma S]] \
    [--device auto|cpu|cuda] [--decoder auto|float|int8] [--json]
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
                   help="exported model dir (default: exported/presto-ls, else presto-s, else "
                   "base)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (model default)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance (diffusion models; model default)")
    p.add_argument("--budget", type=float, default=None, help="layer budget 0..1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", choices=["heun", "euler", "dpmpp_2m"], default=None)
    p.add_argument("--continue", dest="continue_from", type=Path, default=None,
                   help="audio file to continue: the output starts with it")
    p.add_argument("--context-guidance", type=float, default=0.0,
                   help="weight of a pass without the context to extrapolate away from "
                   "(continued windows; 0: off, costs one more item per evaluation)")
    p.add_argument("--context-min-sigma", type=float, default=0.0,
                   help="give the network the context inputs only at noise levels >= S; "
                   "below, the context reaches it only as the pasted frames (0: always; "
                   "1000: never, plain replacement)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--decoder", choices=["auto", "float", "int8"], default="auto",
                   help="codec decoder graph (auto: int8 on the CPU when the codec has one)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def generate(args: argparse.Namespace) -> int:
    import warnings

    from engine.generate import GenerateConfig
    from engine.generate import generate as run
    from engine.manifest import ManifestError

    cfg = GenerateConfig(prompt=args.prompt, out=args.out, seconds=args.seconds,
                         model=args.model, steps=args.steps, guidance=args.guidance,
                         budget=args.budget, seed=args.seed, sampler=args.sampler,
                         continue_from=args.continue_from, device=args.device,
                         decoder=args.decoder, context_guidance=args.context_guidance,
                         context_min_sigma=args.context_min_sigma)
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


def status() -> int:
    models = describe_exported()
    print("Model directories shipped in exported/:")
    print("\n".join(models) if models else "  none yet")
    print("Start the live engine with `python run_engine.py` (--help for its options); render")
    print("offline with `python run_engine.py generate`; see README.md.")
    return 0


def add_live(parser: argparse.ArgumentParser) -> None:
    """The live engine's options (the command with no subcommand)."""
    from engine.stream.config import DEFAULT_PROMPT

    p = parser
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default loopback; 0.0.0.0 serves the network)")
    p.add_argument("--port", type=int, default=8765, help="HTTP and WebSocket port (0: any)")
    p.add_argument("--model", type=Path, default=None,
                   help="exported model dir (default: exported/presto-ls, else presto-s, else "
                   "base)")
    p.add_argument("--hop", type=float, default=2.0,
                   help="seconds of new audio per hop (controls apply at hop boundaries)")
    p.add_argument("--record", type=Path, default=None, help="record the stream to FILE.flac")
    p.add_argument("--control-token", default=None,
                   help="require this token for control and playback (listening stays open)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="browser origin allowed besides the engine's own page (repeatable)")
    p.add_argument("--prompt", default=DEFAULT_PROMPT, help="prompt at start")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None,
                   help="most sampler steps per hop (default: the model's)")
    p.add_argument("--margin", type=float, default=0.3,
                   help="seconds of audio kept queued beyond a hop's predicted cost")
    p.add_argument("--load", type=float, default=0.5,
                   help="share of a hop's audio time generation may take (0.5 = 2x headroom)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--decoder", choices=["auto", "float", "int8"], default="auto",
                   help="codec decoder graph (auto: int8 on the CPU when the codec has one)")
    p.add_argument("--threads", type=int, default=0,
                   help="onnxruntime threads (0: this machine's cores)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])
    midi = p.add_mutually_exclusive_group()  # MIDI control: docs/midi.md
    midi.add_argument("--midi-in", metavar="NAME", help="steer from this MIDI port (by name)")
    midi.add_argument("--midi-virtual", metavar="NAME", help="create a MIDI port NAME to steer")
    p.add_argument("--midi-out", metavar="NAME", help="MIDI port for controller feedback")
    p.add_argument("--midi-map", type=Path, metavar="FILE", help="MIDI mapping (TOML)")
    p.add_argument("--midi-api", default="auto", help="auto | jack | alsa")
    p.add_argument("--midi-list", action="store_true", help="list MIDI ports and exit")


def live(args: argparse.Namespace) -> int:
    import logging

    from engine.server.config import ServerConfig
    from engine.server.main import serve
    from engine.stream.config import StreamConfig

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))
    midi = None
    if (args.midi_out or args.midi_map) and not (args.midi_in or args.midi_virtual):
        print("presto-live: --midi-out and --midi-map need --midi-in NAME or --midi-virtual "
              "NAME", file=sys.stderr)
        return 2
    if args.midi_list or args.midi_in or args.midi_virtual:
        from engine.midi.input import MidiConfig
        from engine.midi.ports import PortError, choose_api, describe_ports

        try:
            if args.midi_list:
                print(describe_ports(choose_api(args.midi_api)))
                return 0
            midi = MidiConfig(port=args.midi_in, virtual=args.midi_virtual, out=args.midi_out,
                              mapping=args.midi_map, api=args.midi_api)
        except PortError as error:
            print(f"presto-live: {error}", file=sys.stderr)
            return 2
    try:
        stream = StreamConfig(hop_seconds=args.hop, prompt=args.prompt, seed=args.seed,
                              max_steps=args.max_steps, margin_seconds=args.margin,
                              target_load=args.load)
        cfg = ServerConfig(host=args.host, port=args.port, model=args.model,
                           device=args.device, decoder=args.decoder, threads=args.threads,
                           record=args.record,
                           control_token=args.control_token,
                           origins=tuple(args.allow_origin), stream=stream)
    except ValueError as error:
        print(f"presto-live: {error}", file=sys.stderr)
        return 2
    return serve(cfg, midi=midi)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_live(parser)
    sub = parser.add_subparsers(dest="command")
    add_generate(sub)
    sub.add_parser("status", help="list the model directories in exported/, verified")
    args = parser.parse_args(argv)
    if args.command == "generate":
        return generate(args)
    if args.command == "status":
        return status()
    return live(args)


if __name__ == "__main__":
    sys.exit(main())
