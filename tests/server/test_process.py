"""`python run_engine.py` as a process: no torch, a clean SIGTERM, FLAC that survives SIGKILL,
and one-line refusals for a hop the model cannot take."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

from clients.listen import Listener
from tests.server.support import ROOT, ServerProcess, status

NO_TORCH = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'torch' or name.startswith('torch.'):\n"
    "            raise ImportError('torch is not installed in a serving environment')\n"
    "sys.meta_path.insert(0, Block())\n"
    "import run_engine\n"
    "rc = run_engine.main(sys.argv[1:])\n"
    "print('torch imported' if 'torch' in sys.modules else 'no torch')\n"
    "sys.exit(rc)\n"
)


def test_the_server_never_imports_torch_and_stops_cleanly_on_sigterm(exported_root,
                                                                     tmp_path) -> None:
    record = tmp_path / "live.flac"
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--record", str(record)]

    async def listen(url: str) -> None:
        client = await Listener.connect(url)
        ack = await client.request({"type": "control", "set": {"prompt": "brass quartet"}})
        assert ack["type"] == "ack"
        await client.wait_audio(seconds=0.5)
        assert client.continuity.violations == []
        await client.close()

    with ServerProcess(args, code=NO_TORCH) as proc:
        asyncio.run(asyncio.wait_for(listen(proc.url), 60))
        proc.process.send_signal(signal.SIGTERM)
        proc.process.wait(timeout=30)  # not communicate(): that would race the stderr reader
        out = proc.process.stdout.read()
    log = "".join(proc.lines)
    assert proc.process.returncode == 0, log
    assert "no torch" in out, out
    for words in ("model base", "hop 0.186", "listener", "engine: hop 0 @ sample 0",
                  "steps dpmpp_2m", "recorder: wrote"):
        assert words in log, f"{words!r} not in the log:\n{log}"
    info = sf.info(str(record))  # closed cleanly: the header has the exact length
    audio, rate = sf.read(str(record), dtype="float32")
    assert rate == 44100 and len(audio) == info.frames > 44100 // 2, (len(audio), info.frames)


def test_a_recording_cut_short_by_sigkill_is_readable_up_to_its_last_block(exported_root,
                                                                           tmp_path) -> None:
    record = tmp_path / "crash.flac"
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--record", str(record)]
    with ServerProcess(args) as proc:
        deadline = time.monotonic() + 60
        while (status(proc.http)["recording"] or {}).get("seconds", 0) < 1.5:
            assert time.monotonic() < deadline, "the recording did not grow"
            time.sleep(0.1)
        recorded = status(proc.http)["recording"]["seconds"]
        proc.process.kill()  # SIGKILL: no chance to finish the file
        proc.process.wait(10)
    audio, rate = sf.read(str(record), dtype="float32")
    assert rate == 44100 and np.all(np.isfinite(audio))
    assert len(audio) >= (recorded - 0.2) * rate  # all but the last FLAC frame or so


def test_a_hop_longer_than_the_model_window_allows_is_refused_in_one_line(exported_root) -> None:
    result = subprocess.run(
        [sys.executable, "run_engine.py", "--model", str(exported_root / "base"), "--hop", "2",
         "--port", "0", "--threads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "hop 2 s is 43 latent frames" in result.stderr and "Traceback" not in result.stderr
