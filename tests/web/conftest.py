"""Fixtures for the page's tests: the micro exported model, one headless Chromium, engines.

PRESTO_TEST_EXPORTED=DIR reuses a model root built earlier (ROOT/{text,codec,base}) instead
of the ~40 s build (tests/runtime/support.py). Without Debian's chromium
(`apt-get install chromium`, in scripts/setup.sh dev) these tests are skipped, saying so.
"""

from __future__ import annotations

import pytest

from tests.web.support import CHROMIUM, EngineProcess, free_port, launch_chromium

HOP = ["--hop", "0.2"]  # the micro model's window is 1.1 s: the hop must be short


@pytest.fixture(scope="module")  # not session: playwright's sync API holds an event loop,
def playwright():                # and tests after these (asyncio.run) need none running
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/setup.sh dev)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    """Chromium that lets the page play at once (autoplay allowed)."""
    b = launch_chromium(playwright)
    yield b
    b.close()


@pytest.fixture(scope="module")
def engine(exported_root):
    """An engine anyone may steer, shared by a test module."""
    with EngineProcess(exported_root / "base", free_port(), HOP) as proc:
        yield proc


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


@pytest.fixture(scope="session")
def static_site():
    """clients/web over plain HTTP on loopback, for the modules' own tests (no engine)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from tests.web.support import ROOT

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(ROOT / "clients" / "web"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def blank(static_site, page):
    """A page on static_site's origin with an empty document (the modules import from it)."""
    page.route("**/blank.html", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>tests</title>"))
    page.goto(static_site + "/blank.html")
    return page
