"""Start the live engine: load the model, start the worker, serve until SIGINT/SIGTERM.

    python run_engine.py [--host H] [--port P] [--model DIR] [--hop S] [--record FILE.flac]
                         [--control-token T] [--allow-origin O] [--device auto|cpu|cuda]
                         [--threads N] [--log-level info]

`serve(cfg)` returns the process exit status: 0 after a clean shutdown, 2 when the model
is missing or refused, a setting does not fit the model, or the port cannot be bound
(one clear line on stderr each, never a traceback).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from engine.server.config import ServerConfig

log = logging.getLogger("presto.server")


def _fail(message: str) -> int:
    print(f"presto-live: {message}", file=sys.stderr)
    return 2


def _missing_model(model_dir: Path) -> str:
    return (f"no exported model at {model_dir}: export one with `python -m engine.export model "
            "--run RUN --out exported/base ...` (see README.md), or pass --model DIR; "
            "`python run_engine.py status` lists what is shipped in exported/")


def serve(cfg: ServerConfig, midi=None) -> int:
    """`midi`: an engine.midi.input.MidiConfig to steer the engine from MIDI, or None."""
    from engine.generate import default_model
    from engine.manifest import ManifestError
    from engine.runtime.model import ServedModel
    from engine.server.app import EngineServer
    from engine.server.recorder import FlacRecorder
    from engine.stream.engine import StreamEngine

    model_dir = Path(cfg.model) if cfg.model is not None else default_model()
    if not (model_dir / "manifest.json").is_file():
        return _fail(_missing_model(model_dir))
    threads = cfg.threads or len(os.sched_getaffinity(0))
    try:
        model = ServedModel.load(model_dir, device=cfg.device, threads=threads,
                                 decoder=cfg.decoder)
    except (ManifestError, FileNotFoundError, ValueError) as error:
        return _fail(f"the model in {model_dir} was refused: {error}")
    log.info("presto-live: model %s (%s, %s) from %s, loaded in %.2f s on %s with %d threads, "
             "%s codec decoder", model.name, model.defaults.mode,
             model.manifest.get("training_kind", "?"), model_dir, model.load_seconds,
             model.provider, threads, model.codec.decoder_precision)
    try:
        engine = StreamEngine(model, cfg.stream)
        recorder = (FlacRecorder(cfg.record, model.sample_rate, model.channels)
                    if cfg.record is not None else None)
    except (ValueError, OSError) as error:
        return _fail(str(error))
    link = None
    if midi is not None:
        from engine.midi.link import MidiLink
        from engine.midi.mapping import MappingError
        from engine.midi.ports import PortError

        try:
            link = MidiLink(engine, midi)
            server = EngineServer(engine, cfg, recorder, midi=link)
            link.attach()
            link.start()
        except (PortError, MappingError) as error:
            if recorder is not None:
                recorder.close()
            return _fail(str(error))
    else:
        server = EngineServer(engine, cfg, recorder)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop)

    try:
        asyncio.run(main())
    except OSError as error:  # the port is taken, the host does not exist, ...
        engine.stop()
        if recorder is not None:
            recorder.close()
        return _fail(f"cannot serve on {cfg.host}:{cfg.port}: {error.strerror or error}")
    finally:
        if link is not None:
            link.stop()
    return 0
