"""A real engine process and a headless Chromium: what the page's tests, its bench and its
screenshot drive.

    with EngineProcess(model_dir, port=free_port(), args=["--hop", "0.2"]) as engine:
        page.goto(engine.http + "/")                 # clients/web, served by the engine
    browser = launch_chromium(playwright)            # Debian's /usr/bin/chromium, headless

The engine is `python run_engine.py` in a subprocess on a port chosen here, so a caller can
stop it and start another on the same port (the page's reconnection). Chromium is Debian's
package (`apt-get install chromium`): `playwright install` cannot download browsers on
these machines; PRESTO_CHROMIUM names another binary.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (run_engine.py)
CHROMIUM = Path(os.environ.get("PRESTO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--autoplay-policy=no-user-gesture-required", "--no-sandbox",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright, **kwargs):
    """Headless Chromium that may play audio before any click (as a browser does for a site
    the user plays often; otherwise the page's Listen button starts the sound)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      **kwargs)


class EngineProcess:
    """`python run_engine.py --model DIR --port PORT --threads 1 ARGS`; ready once serving."""

    def __init__(self, model: Path, port: int, args: list[str] | None = None,
                 threads: int = 1) -> None:
        self.port = port
        self.cmd = [sys.executable, "run_engine.py", "--model", str(model), "--port", str(port),
                    "--threads", str(threads), *(args or [])]
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._serving = threading.Event()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            if re.search(r"serving http://\S+:(\d+)/", line):
                self._serving.set()

    def start(self, timeout: float = 90.0) -> EngineProcess:
        self._serving.clear()
        self.process = subprocess.Popen(self.cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._serving.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the engine did not start:\n" + "".join(self.lines))
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a clean shutdown: listeners get close code 1001), SIGKILL if it hangs."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> EngineProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "".join(self.lines)
