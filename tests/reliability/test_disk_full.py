"""The recording's disk fills up mid-set (a real 64 KiB filesystem; where mounting is not
allowed, a real 64 KiB file-size limit on the engine process): recording stops with one
logged error saying why, the stream goes on without a gap, the server keeps nothing more
for the recorder, and SIGTERM still ends the engine cleanly with a readable file."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import numpy as np
import pytest
import soundfile as sf

from clients.listen import Listener
from tests.reliability.support import engine_process
from tests.server.support import status

DISK_BYTES = 64 * 1024


@pytest.fixture
def small_disk(tmp_path):
    """(directory, file-size limit): a 64 KiB tmpfs, or a plain directory and a limit."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs",
                            str(disk)], capture_output=True, text=True)
    if mount.returncode != 0:
        yield disk, DISK_BYTES
        return
    try:
        yield disk, None
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_stops_the_recording_and_the_stream_goes_on(exported_root,
                                                                 small_disk) -> None:
    disk, limit = small_disk
    record = disk / "live.flac"
    args = ["--model", str(exported_root / "base"), "--hop", "0.2", "--record", str(record)]

    def stopped(proc) -> list[str]:
        return [line for line in proc.lines if "recording stopped" in line]

    async def go(proc) -> None:
        client = await Listener.connect(proc.url, keep_audio=False)
        deadline = time.monotonic() + 60
        while not stopped(proc):
            assert time.monotonic() < deadline, "the recording never hit the full disk"
            await asyncio.sleep(0.05)
        rec = status(proc.http)["recording"]
        assert rec["error"] and "recording stopped" not in rec["error"]
        await client.wait_audio(seconds=1.5)  # the stream goes on
        after = status(proc.http)["recording"]
        assert after["seconds"] == rec["seconds"] and after["dropped_blocks"] == 0
        c = client.continuity
        assert c.violations == [] and c.skips == 0 and client.closed is None
        proc.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(client._task, 15)
        assert client.closed[0] == 1001

    with engine_process(args, file_size_limit=limit) as proc:
        asyncio.run(asyncio.wait_for(go(proc), 90))
        assert proc.process.wait(15) == 0
    log = "".join(proc.lines)
    assert len(stopped(proc)) == 1 and "Traceback" not in log, log
    assert "cannot keep up" not in log
    line = stopped(proc)[0]
    assert str(record) in line and "stream goes on" in line
    audio, rate = sf.read(str(record), dtype="float32")  # what did fit is readable
    assert rate == 44100 and len(audio) > 0 and np.all(np.isfinite(audio))
