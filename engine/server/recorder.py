"""--record: the stream as FLAC, written block by block, readable after a crash.

    rec = FlacRecorder("live.flac", sample_rate=44100, channels=1)
    rec.start()                      # writer thread
    rec.put(pcm)                     # (C, n) float32, from the event loop: never blocks
    rec.close()                      # finishes the file (header with length and MD5)

libsndfile (soundfile) writes FLAC frames as they fill and leaves the length in the
STREAMINFO header at 0 ("unknown") until the file is closed, and soundfile cannot read
such a file. So after each flush the recorder patches STREAMINFO's total-samples field
in place with the samples that are in complete FLAC frames on disk: libFLAC holds back
one block (blocksize + 1 samples before a frame goes out), so that is
floor((written - 1) / blocksize) * blocksize. A file cut short by SIGKILL or a power
cut is then readable by any FLAC decoder, soundfile included, up to its last complete
frame (under 0.1 s before the last block written). A clean close rewrites the header.

When writing fails (the disk is full, a file-size limit, an I/O error) the recording
stops with one logged error saying why (`error`, also in /status); from then on put()
keeps nothing and the stream goes on. What reached the disk stays readable.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger("presto.recorder")

STREAMINFO_AT = 8  # "fLaC" + 4-byte metadata block header
TOTAL_AT = STREAMINFO_AT + 13  # the byte holding the top 4 bits of the 36-bit total


def patch_total_samples(fd: int, total: int) -> None:
    """Write a 36-bit total-samples count into an open FLAC file's STREAMINFO."""
    head = bytearray(os.pread(fd, 5, TOTAL_AT))
    head[0] = (head[0] & 0xF0) | ((total >> 32) & 0x0F)  # keep bits-per-sample's low bits
    head[1:5] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    os.pwrite(fd, bytes(head), TOTAL_AT)


def streaminfo_blocksize(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(STREAMINFO_AT + 4)
    if head[:4] != b"fLaC":
        raise ValueError(f"{path} is not a FLAC file")
    return int.from_bytes(head[STREAMINFO_AT + 2:STREAMINFO_AT + 4], "big")  # max blocksize


class FlacRecorder:
    def __init__(self, path: Path | str, sample_rate: int, channels: int,
                 max_queue: int = 512) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".flac":
            raise ValueError(f"--record needs a .flac file name, got {self.path}")
        if not self.path.parent.is_dir():
            raise ValueError(f"--record {self.path}: the directory {self.path.parent} does not "
                             "exist")
        self.sample_rate, self.channels = sample_rate, channels
        self.file = sf.SoundFile(self.path, "w", sample_rate, channels, format="FLAC",
                                 subtype="PCM_16")
        self.blocksize = 0  # FLAC block size, read from STREAMINFO after the first write
        self._fd = os.open(self.path, os.O_RDWR)
        self.written = 0  # samples handed to libsndfile
        self.dropped = 0  # blocks dropped because the disk could not keep up
        self.error: str | None = None  # why recording stopped early (the stream goes on)
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="presto-recorder", daemon=True)
        self._closed = False

    @property
    def seconds(self) -> float:
        return self.written / self.sample_rate

    def start(self) -> None:
        self._thread.start()

    def put(self, pcm: np.ndarray) -> None:
        """Queue (C, n) audio for writing; never blocks (drops and counts if full)."""
        if self.error is not None:  # recording stopped: keep nothing
            return
        try:
            self._queue.put_nowait(pcm)
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("recorder: %d blocks dropped: %s cannot keep up", self.dropped,
                            self.path)

    def write(self, pcm: np.ndarray) -> None:
        """Write (C, n) audio now and make it readable on disk."""
        self.file.write(np.clip(pcm.T, -1.0, 1.0))
        self.file.flush()
        self.written += pcm.shape[1]
        if not self.blocksize:
            self.blocksize = streaminfo_blocksize(self.path) or 4096
        on_disk = max(0, (self.written - 1) // self.blocksize * self.blocksize)
        patch_total_samples(self._fd, on_disk)

    def _run(self) -> None:
        while True:
            pcm = self._queue.get()
            if pcm is None:
                return
            try:
                self.write(pcm)
            except Exception as error:  # noqa: BLE001 - recording must not take the stream down
                self._failed(error)
                return

    def _failed(self, error: Exception) -> None:
        """Stop recording: say why in one line, and let go of the queued audio."""
        try:
            st = os.statvfs(self.path.parent)
            free = st.f_bavail * st.f_frsize
            where = (f"its disk is full ({free} bytes free)" if free < 1 << 20
                     else f"{free / 1e6:.0f} MB free on its disk")
        except OSError:
            where = "free space unknown"
        self.error = f"{type(error).__name__}: {error} ({where})"
        log.error("recorder: writing %s failed after %.1f s of audio: %s; recording stopped, "
                  "the stream goes on", self.path, self.seconds, self.error,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)
        os.close(self._fd)
        try:
            self.file.close()  # libFLAC rewrites STREAMINFO: exact length and MD5
        except Exception as error:  # noqa: BLE001 - shutdown goes on; the frames on disk stay
            log.error("recorder: could not finish %s (%s: %s); it is readable up to its last "
                      "complete frame", self.path, type(error).__name__, error)
            return
        log.info("recorder: wrote %s (%.1f s)%s", self.path, self.seconds,
                 f"; it stopped early: {self.error}" if self.error else "")
