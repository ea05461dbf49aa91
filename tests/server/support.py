"""A real engine server for tests: in a thread of this process, or as `run_engine.py`.

    with ServerThread(model, ServerConfig(port=0, ...)) as srv:
        asyncio.run(talk_to(srv.url))               # ws://127.0.0.1:PORT/ws
    with ServerProcess(["--model", dir, "--hop", "0.2"]) as proc:
        proc.url, proc.process                      # a subprocess, port read from its log
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

from engine.bench.stream import ROOT
from engine.bench.stream import ServerProcess as BenchServerProcess
from engine.server.app import EngineServer
from engine.server.config import ServerConfig
from engine.stream.engine import StreamEngine

__all__ = ["ROOT", "ServerProcess", "ServerThread", "http_get", "status"]


class ServerThread:
    def __init__(self, model, cfg: ServerConfig) -> None:
        self.engine = StreamEngine(model, cfg.stream)
        self.server = EngineServer(self.engine, cfg)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.server.run(self._stop)

        try:
            asyncio.run(main())
        except BaseException as e:  # noqa: BLE001 - reported by the test that waits
            self.error = e

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.server.port is None or not self.engine.ready.is_set():
            if self.error is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.error}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


def http_get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def status(http: str) -> dict:
    code, _, body = http_get(http + "/status")
    assert code == 200
    return json.loads(body)


class ServerProcess(BenchServerProcess):
    """`python run_engine.py ARGS --port 0 --threads 1` (or `python -c CODE ARGS ...`)."""

    def __init__(self, args: list[str], code: str | None = None) -> None:
        super().__init__([*args, "--threads", "1"], code)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"
