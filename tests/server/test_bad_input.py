"""Bad input over real loopback connections: each case gets its documented error or close
code, and a bystander keeps receiving contiguous audio throughout."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from clients.listen import Listener
from engine.server.config import ServerConfig
from engine.stream.config import StreamConfig
from tests.server.support import ServerThread, status

TOKEN = "sesame"


@pytest.fixture(scope="module")
def srv(served):
    cfg = ServerConfig(port=0, control_token=TOKEN, block_frames=2048,
                       messages_per_second=20, message_burst=40, flood_messages=60,
                       max_message_bytes=65536,
                       stream=StreamConfig(hop_seconds=0.2, margin_seconds=0.1))
    with ServerThread(served, cfg) as s:
        yield s


async def with_bystander(srv, attack) -> Listener:
    """Run attack(client) while a second listener listens; check the bystander after."""
    bystander = await Listener.connect(srv.url, keep_audio=False)
    await bystander.wait_audio(seconds=0.1)
    client = await Listener.connect(srv.url)
    await attack(client)
    await bystander.wait_audio(seconds=0.25)  # the stream went on for everyone else
    assert bystander.continuity.violations == [] and bystander.continuity.skips == 0
    assert bystander.closed is None
    await bystander.close()
    await client.close()
    return client


async def error_after(client: Listener, payload) -> dict:
    mark = len(client.messages)
    await client.send(payload)
    return await client.next_message("error", after=mark)


@pytest.mark.parametrize("payload, code, field", [
    ("{this is not json", "bad_json", None),
    ('"just a string"', "bad_message", None),
    ('{"type": "dance"}', "unknown_type", "type"),
    ('{"type": "control", "set": {"budget": 0.5}, "colour": "red", "token": "sesame"}',
     "unknown_field", "colour"),
    ('{"type": "control", "set": {"budget": 7}, "token": "sesame"}', "bad_value", "budget"),
    ('{"type": "control", "set": {"guidance": "loud"}, "token": "sesame"}', "bad_value",
     "guidance"),
    ('{"type": "control", "set": {"prompt": "' + "la " * 400 + '"}, "token": "sesame"}',
     "bad_value", "prompt"),
    ('{"type": "control", "set": {"tempo": 120}, "token": "sesame"}', "unknown_field", "tempo"),
    ('{"type": "playback", "action": "rewind", "token": "sesame"}', "bad_value", "action"),
    ('{"type": "control", "set": {"budget": 0.5}}', "unauthorized", "token"),
    (b"\x00\x01binary", "binary_not_accepted", None),
])
def test_a_bad_message_gets_an_error_and_the_connection_stays_open(srv, payload, code,
                                                                    field) -> None:
    async def attack(client: Listener) -> None:
        err = await error_after(client, payload)
        assert err["code"] == code and err.get("field") == field and err["message"]
        pong = await client.request({"type": "ping"})  # still served
        assert pong["type"] == "pong"
        await client.wait_audio(seconds=0.1)
        assert client.closed is None and client.continuity.violations == []

    asyncio.run(asyncio.wait_for(with_bystander(srv, attack), 60))


def test_an_oversized_message_closes_with_1009(srv) -> None:
    async def attack(client: Listener) -> None:
        await client.send('{"type": "ping", "pad": "' + "x" * 70000 + '"}')
        await asyncio.wait_for(client._task, 10)
        assert client.closed[0] == 1009

    asyncio.run(asyncio.wait_for(with_bystander(srv, attack), 60))


def test_a_flood_is_rate_limited_then_closed_with_1008(srv) -> None:
    async def attack(client: Listener) -> None:
        for i in range(200):
            try:
                await client.send({"type": "ping", "id": i})
            except Exception:  # noqa: BLE001 - the server closed us mid-flood
                break
        await asyncio.wait_for(client._task, 10)
        assert client.closed[0] == 1008
        codes = [m.get("code") for m in client.messages if m["type"] == "error"]
        assert "rate_limited" in codes
        pongs = [m for m in client.messages if m["type"] == "pong"]
        assert 30 <= len(pongs) <= 60  # the burst was served

    asyncio.run(asyncio.wait_for(with_bystander(srv, attack), 60))
    assert status(srv.http)["closed_policy"] >= 1


def test_a_foreign_origin_is_refused_and_the_own_host_accepted(srv) -> None:
    async def go() -> None:
        with pytest.raises(InvalidStatus) as info:
            await ws_connect(srv.url, origin="https://evil.example")
        assert info.value.response.status_code == 403
        own = f"http://127.0.0.1:{srv.server.port}"
        client = await Listener.connect(srv.url, origin=own)
        assert client.hello["type"] == "hello"
        await client.close()
        with pytest.raises(InvalidStatus) as info:
            await ws_connect(srv.url + "?format=mp3")
        assert info.value.response.status_code == 400

    asyncio.run(asyncio.wait_for(go(), 60))
