"""A model step that raises, on the real micro model served over real loopback: the failed
hop becomes one hop of faded silence in an unbroken timeline, the next hop brings the
music back, and the failure is logged and counted. A text encoder that raises fails the
control that needed it, not the stream."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.reliability.support import ErrorLog, longest_silence
from tests.server.support import ServerThread, status


class InjectedFault(RuntimeError):
    pass


class FaultyModel:
    """The real ServedModel with faults injected on demand (test-only, off until armed):
    while a counter is above 0, each call of that part raises and counts it down."""

    def __init__(self, model) -> None:
        self._model = model
        self.fail = {"denoiser": 0, "decoder": 0, "text": 0}
        self.codec = _Part(model.codec, self, "decoder", ("decode_step",))
        self.text = _Part(model.text, self, "text", ("embed", "blend"))

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def check(self, part: str) -> None:
        if self.fail[part] > 0:
            self.fail[part] -= 1
            raise InjectedFault(f"injected fault in the {part}")

    def denoiser(self, *args, **kwargs):
        self.check("denoiser")
        return self._model.denoiser(*args, **kwargs)


class _Part:
    """One part of the model (codec, text encoder) whose named methods check for a fault."""

    def __init__(self, inner, owner: FaultyModel, part: str, methods: tuple[str, ...]) -> None:
        self._inner, self._owner, self._part, self._methods = inner, owner, part, methods

    def __getattr__(self, name: str):
        value = getattr(self._inner, name)
        if name not in self._methods:
            return value

        def checked(*args, **kwargs):
            self._owner.check(self._part)
            return value(*args, **kwargs)

        return checked


HOP = 8192  # samples: 4 latent frames of 2048 at hop_seconds=0.2
FADE = 1323  # 30 ms crossfade at 44.1 kHz


@pytest.fixture(scope="module")
def live(served):
    model = FaultyModel(served)
    cfg = ServerConfig(port=0, block_frames=2048,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    with ServerThread(model, cfg) as srv:
        yield srv, model


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def wait_status(srv, key: str, at_least: int) -> None:
    for _ in range(400):
        if status(srv.http)[key] >= at_least:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"/status {key} did not reach {at_least}")


@pytest.mark.parametrize("part", ["denoiser", "decoder"])
def test_a_failed_hop_is_one_hop_of_silence_and_the_next_hop_recovers(live, part) -> None:
    srv, model = live

    async def go() -> None:
        client = await Listener.connect(srv.url)
        before = status(srv.http)
        await client.wait_audio(seconds=0.5)
        if status(srv.http)["underruns"] == before["underruns"]:  # (a stalled machine's
            assert longest_silence(client.pcm()) < FADE          # silence is not the music)
        failures, hops = status(srv.http)["failures"], status(srv.http)["hops"]
        model.fail[part] = 1
        await wait_status(srv, "failures", failures + 1)
        await wait_status(srv, "hops", hops + 4)
        await client.wait_audio(seconds=0.5)
        c = client.continuity
        assert c.violations == [] and c.skips == 0 and client.closed is None
        pcm = client.pcm()  # (1, n): the whole timeline this listener heard
        silent = longest_silence(pcm)
        # one hop of silence, faded from the old audio (plus any underrun a stall added)
        stalled = round((status(srv.http)["underrun_seconds"] - before["underrun_seconds"])
                        * 44100)
        assert HOP - 2 * FADE <= silent <= HOP + stalled, (silent, stalled)
        tail = pcm[:, -HOP:]
        assert longest_silence(tail) < FADE and np.abs(tail).max() > 1e-5  # the music is back
        assert client.state["failures"] >= failures + 1
        await client.close()

    with ErrorLog() as errors:
        run(go())
    assert model.fail[part] == 0
    assert any(f"InjectedFault: injected fault in the {part}" in line and "failed" in line
               for line in errors.lines()), errors.lines()


def test_a_model_that_keeps_failing_streams_silence_without_a_gap_then_recovers(live) -> None:
    srv, model = live

    async def go() -> None:
        client = await Listener.connect(srv.url, keep_audio=False)
        await client.wait_audio(seconds=0.3)
        failures = status(srv.http)["failures"]
        model.fail["denoiser"] = 6
        await wait_status(srv, "failures", failures + 6)
        hops = status(srv.http)["hops"]
        await wait_status(srv, "hops", hops + 3)  # healthy hops again
        await client.wait_audio(seconds=0.3)
        c = client.continuity
        assert c.violations == [] and c.skips == 0 and client.closed is None
        await client.close()

    with ErrorLog():
        run(go())


def test_a_text_encoder_that_raises_fails_the_control_not_the_stream(live) -> None:
    srv, model = live

    async def go() -> None:
        client = await Listener.connect(srv.url, keep_audio=False)
        await client.wait_audio(seconds=0.2)
        prompts = client.state["prompts"]
        model.fail["text"] = 1
        err = await client.request({"type": "control", "set": {"prompt": "a harp, alone"}})
        assert err["type"] == "error" and err["code"] == "failed", err
        assert "injected fault in the text" in err["message"]
        await client.wait_audio(seconds=0.3)
        assert client.state["prompts"] == prompts  # nothing half-applied
        ack = await client.request({"type": "control", "set": {"prompt": "a harp, alone"}})
        assert ack["type"] == "ack"
        c = client.continuity
        assert c.violations == [] and c.skips == 0 and client.closed is None
        await client.close()

    run(go())
