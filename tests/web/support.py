"""The page's tests drive a real engine process and headless Chromium (engine.bench.web_page,
shared with `python -m engine.bench browser`)."""

from engine.bench.web_page import (  # noqa: F401 - re-exported for the tests
    CHROMIUM,
    ROOT,
    EngineProcess,
    free_port,
    launch_chromium,
)
