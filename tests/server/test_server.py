"""The server over real loopback WebSockets on the micro model: hello, audio, controls, state."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.server.support import ServerThread, http_get, status

TOKEN = "sesame"


@pytest.fixture(scope="module")
def srv(served):
    cfg = ServerConfig(port=0, control_token=TOKEN, block_frames=2048,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1, glide_hops=2))
    with ServerThread(served, cfg) as s:
        yield s


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def connect(srv, **kw) -> Listener:
    return await Listener.connect(srv.url, **kw)


async def authed(srv) -> Listener:
    client = await connect(srv)
    assert (await client.request({"type": "auth", "token": TOKEN}))["ok"] is True
    return client


def test_hello_describes_the_stream_and_audio_follows_at_the_live_edge(srv) -> None:
    async def go():
        client = await connect(srv)
        h = client.hello
        assert (h["protocol"], h["sample_rate"], h["channels"], h["format"]) == \
            (1, 44100, 1, "f32le")
        assert h["header"] == "<4sBBBBIQI" and h["control"] == "token"
        assert h["state"]["hop_frames"] == 4 and "governor" in h["state"]
        await client.wait_audio(seconds=1.0)
        first = client.audio[0]
        assert 0 <= first.sample - h["live_sample"] <= 2 * h["block_frames"]
        assert all(f.frames == 2048 and f.channels == 1 and f.fmt == 1 for f in client.audio)
        assert client.continuity.violations == [] and client.continuity.skips == 0
        assert np.all(np.isfinite(client.pcm()))
        await client.close()

    run(go())


def test_two_listeners_hear_the_same_samples_and_s16_matches_f32(srv) -> None:
    async def go():
        a, b = await connect(srv), await connect(srv, fmt="s16le")
        await asyncio.gather(a.wait_audio(seconds=1.0), b.wait_audio(seconds=1.0))
        fa = {f.sample: f for f in a.audio}
        common = [f for f in b.audio if f.sample in fa]
        assert len(common) >= 10
        for f in common:
            assert f.seq == fa[f.sample].seq and f.fmt == 2
            np.testing.assert_allclose(f.pcm, np.clip(fa[f.sample].pcm, -1, 1), atol=1 / 32767)
        await a.close()
        await b.close()

    run(go())


def test_a_control_is_acked_with_its_sample_and_the_hop_there_carries_it(srv) -> None:
    async def go():
        client = await authed(srv)
        await client.wait_audio(seconds=0.3)
        ack = await client.request({"type": "control", "set": {
            "prompts": [["solo piano in a minor key", 2], {"text": "brass quartet", "weight": 1}],
            "budget": 0.5, "guidance": 1.5, "seed": 42, "variation": 0.2}})
        assert ack["type"] == "ack" and ack["applied"]["seed"] == 42
        at = ack["applied_at_sample"]
        assert at >= ack["live_sample"] and ack["settled_at_sample"] == at + 8192
        await client.wait_audio(until_sample=at + 2048)
        for _ in range(50):
            hop = next((s["governor"] for s in client.states
                        if (s.get("governor") or {}).get("start_sample") == at), None)
            if hop:
                break
            await asyncio.sleep(0.05)
        assert hop["prompts"] == [["solo piano in a minor key", 2.0], ["brass quartet", 1.0]]
        assert hop["budget"] <= 0.5 and hop["guidance"] == 1.5 and hop["gliding"]  # ceiling
        assert client.state["seed"] == 42 and client.state["variation"] == 0.2
        assert client.continuity.violations == []
        await client.close()

    run(go())


def test_pause_stops_the_audio_at_its_sample_and_play_continues_from_there(srv) -> None:
    async def go():
        client = await authed(srv)
        await client.wait_audio(seconds=0.3)
        under = status(srv.http)["underruns"]
        pause = await client.request({"type": "playback", "action": "pause"})
        at = pause["applied_at_sample"]
        await client.wait_audio(until_sample=at)
        await asyncio.sleep(0.6)
        assert client.continuity.next_sample == at  # nothing after the pause point
        assert client.state["playing"] is False and status(srv.http)["underruns"] == under
        play = await client.request({"type": "playback", "action": "play"})
        assert play["applied_at_sample"] == at
        await client.wait_audio(seconds=0.5)
        assert client.continuity.violations == [] and client.continuity.next_sample > at
        reset = await client.request({"type": "playback", "action": "reset"})
        await client.wait_audio(until_sample=reset["applied_at_sample"] + 4096)
        assert client.state["resets"] >= 1 and client.continuity.violations == []
        await client.close()

    run(go())


def test_the_control_token_guards_control_but_not_listening(srv) -> None:
    async def go():
        client = await connect(srv)
        err = await client.request({"type": "control", "set": {"budget": 0.3}})
        assert err["type"] == "error" and err["code"] == "unauthorized"
        assert err["field"] == "token"
        ok = await client.request({"type": "control", "set": {"budget": 0.3}, "token": TOKEN})
        assert ok["type"] == "ack"
        wrong = await client.request({"type": "auth", "token": "guess"})
        assert wrong["code"] == "unauthorized"
        await client.wait_audio(seconds=0.3)  # still listening
        for _ in range(4):
            await client.send({"type": "auth", "token": "guess"})
        await asyncio.wait_for(client._task, 10)
        assert client.closed[0] == 1008
        assert client.continuity.violations == []

    run(go())


def test_status_and_the_page_are_served_over_http(srv) -> None:
    async def go():
        client = await connect(srv)
        await client.wait_audio(seconds=0.2)
        st = status(srv.http)
        for key in ("listeners", "underruns", "skips", "hop_seconds", "steps", "budget",
                    "provider", "live_sample", "uptime_seconds"):
            assert key in st
        assert st["listeners"] >= 1 and st["provider"] == "CPUExecutionProvider"
        assert st["live_sample"] >= client.continuity.next_sample - 2048
        assert st["hop_seconds"] == pytest.approx(8192 / 44100)
        await client.close()

    run(go())
    code, headers, body = http_get(srv.http + "/")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert b"presto-live" in body
    assert http_get(srv.http + "/nothing-here.js")[0] == 404
    assert http_get(srv.http + "/..%2f..%2fpyproject.toml")[0] == 404
    assert json.loads(http_get(srv.http + "/status")[2])["control"] == "token"
