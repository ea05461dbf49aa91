"""SIGTERM in the middle of a set, with listeners connected (one of them not reading) and a
recording running: every listener that reads gets close 1001 (going away), the recording
is finished (exact length in its header, readable to the end) and the engine exits 0
within a few seconds, even with a peer that never takes its close frame."""

from __future__ import annotations

import asyncio
import signal
import time

import numpy as np
import soundfile as sf

from clients.listen import Listener
from tests.reliability.support import RawPeer, engine_process
from tests.server.support import status


def test_sigterm_closes_every_listener_with_1001_and_finishes_the_recording(exported_root,
                                                                            tmp_path) -> None:
    record = tmp_path / "set.flac"
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--record", str(record)]

    async def go(proc) -> float:
        clients = [await Listener.connect(proc.url, keep_audio=False) for _ in range(3)]
        stalled = RawPeer(proc.port, rcvbuf=4096)  # handshake done, then it reads nothing
        await asyncio.gather(*(c.wait_audio(seconds=1.0) for c in clients))
        recorded = status(proc.http)["recording"]["seconds"]
        t = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*(c._task for c in clients)), 15)
        for c in clients:
            assert c.closed[0] == 1001, c.closed
            assert c.continuity.violations == [] and c.continuity.skips == 0
        rc = await asyncio.get_running_loop().run_in_executor(None, proc.process.wait, 15)
        assert rc == 0
        stalled.close()
        return recorded, time.monotonic() - t

    with engine_process(args) as proc:
        recorded, took = asyncio.run(asyncio.wait_for(go(proc), 90))
    log = "".join(proc.lines)
    assert took < 10, f"the engine took {took:.1f} s to stop"
    assert "Traceback" not in log and " ERROR " not in log, log
    assert "recorder: wrote" in log
    info = sf.info(str(record))  # finished: the header holds the exact length
    audio, rate = sf.read(str(record), dtype="float32")
    assert rate == 44100 and len(audio) == info.frames >= recorded * rate
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0
